//! The DNS client generated from `specs/dns.proto` against dnsmasq (the dns
//! suite's peer, serving the suite's hosts file): names resolved, NXDOMAIN
//! for an unknown `.test` name, and 100 queries pipelined on one connection.

use std::collections::HashMap;
use std::time::Duration;

use libtest_mimic::Trial;
use servers::specs::dns::{self, dynamic, ClientMessage, ServerMessage};

use crate::harness::{self, ensure, ensure_eq, Outcome, Peer, Program};

const NEEDS: &[Program] = &[Program::Dnsmasq];
const LIMIT: Duration = Duration::from_secs(60);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial("dns::generated_client_resolves_the_hosts_file", NEEDS, resolves),
        harness::trial("dns::generated_client_pipelines_100_queries", NEEDS, pipelines),
    ]
}

const A: u16 = 1;
const AAAA: u16 = 28;

fn query(id: u16, name: &str, qtype: u16) -> dns::Query {
    dns::Query {
        id,
        opcode: 0,
        aa: false,
        tc: false,
        rd: true,
        ra: false,
        z: false,
        ad: false,
        cd: false,
        rcode: 0,
        questions: vec![dns::Question {
            name: name.into(),
            qtype,
            qclass: 1,
        }],
        answers: vec![],
        authority: vec![],
        additional: vec![],
    }
}

/// Asks one question and returns the answer.
async fn ask(
    client: &mut dynamic::Client,
    id: u16,
    name: &str,
    qtype: u16,
) -> Result<dns::Response, libtest_mimic::Failed> {
    client.send(query(id, name, qtype)).await?;
    match client.recv().await? {
        dynamic::Received::Message(ServerMessage::Response(r)) => Ok(r),
        other => Err(format!("{name}: {other:?}").into()),
    }
}

/// The addresses of an answer's A and AAAA records, as text.
fn addresses(r: &dns::Response) -> Vec<String> {
    r.answers
        .iter()
        .filter_map(|rr| {
            if let Some(a) = &rr.a {
                let b: [u8; 4] = a[..].try_into().ok()?;
                return Some(std::net::Ipv4Addr::from(b).to_string());
            }
            let b: [u8; 16] = rr.aaaa.as_ref()?[..].try_into().ok()?;
            Some(std::net::Ipv6Addr::from(b).to_string())
        })
        .collect()
}

fn resolves() -> Outcome {
    let peer = Peer::start("dns")?;
    harness::block_on(LIMIT, async {
        let mut client = dynamic::Client::connect(&peer.addr()).await?;
        let r = ask(&mut client, 1, "alpha.test.", A).await?;
        ensure_eq!((r.id, r.rcode), (1, 0));
        ensure_eq!(addresses(&r), vec!["192.0.2.1".to_string()]);
        let r = ask(&mut client, 2, "alpha.test.", AAAA).await?;
        ensure_eq!(addresses(&r), vec!["2001:db8::1".to_string()]);
        let r = ask(&mut client, 3, "a.very.deep.name.test.", A).await?;
        ensure_eq!(addresses(&r), vec!["192.0.2.20".to_string()]);
        // Names in answers come as compression pointers, read back whole.
        ensure_eq!(r.answers[0].name, "a.very.deep.name.test.");
        let mut multi = addresses(&ask(&mut client, 4, "multi.test.", A).await?);
        multi.sort();
        ensure_eq!(multi, vec!["192.0.2.11", "192.0.2.12", "192.0.2.13"]);
        // The CNAME, then the record it names.
        let r = ask(&mut client, 5, "www.test.", A).await?;
        ensure_eq!(r.answers[0].cname.as_deref(), Some("alpha.test."));
        ensure_eq!(addresses(&r), vec!["192.0.2.1".to_string()]);
        // NXDOMAIN, and a known name without the asked type.
        let r = ask(&mut client, 6, "nosuch.test.", A).await?;
        ensure_eq!((r.rcode, r.answers.len()), (3, 0));
        let r = ask(&mut client, 7, "beta.test.", AAAA).await?;
        ensure_eq!((r.rcode, r.answers.len()), (0, 0));
        client.close().await?;
        Ok(())
    })
}

/// host1.test .. host100.test, queued and written at once, their answers
/// matched to their queries by id.
fn pipelines() -> Outcome {
    let peer = Peer::start("dns")?;
    harness::block_on(LIMIT, async {
        let mut client = dynamic::Client::connect(&peer.addr()).await?;
        let mut asked = HashMap::new();
        for n in 1..=100u16 {
            let id = 1000 + n;
            client.queue(ClientMessage::Query(query(id, &format!("host{n}.test."), A)))?;
            asked.insert(id, format!("10.0.1.{n}"));
        }
        client.flush().await?;
        ensure_eq!(client.pending_replies(), 100);
        while client.pending_replies() > 0 {
            let r = match client.recv().await? {
                dynamic::Received::Message(ServerMessage::Response(r)) => r,
                other => return Err(format!("{other:?}").into()),
            };
            let Some(want) = asked.remove(&r.id) else {
                return Err(format!("an answer to no query: id {}", r.id).into());
            };
            ensure_eq!(addresses(&r), vec![want]);
        }
        ensure!(asked.is_empty(), "unanswered: {asked:?}");
        client.close().await?;
        Ok(())
    })
}
