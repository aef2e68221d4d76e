//! The redis (RESP2), modbus, postgres and dns suites against redis-server,
//! pymodbus, PostgreSQL 15 and dnsmasq,
//! started by their `peer` scripts: every split mode (sweeps of at most 32
//! cut points per case), each run twice against
//! one peer process (so the suites hold up against state they left); then
//! the same suites against a `BrokenProxy` in front of the peer that
//! corrupts a length, a count or a tag, or drops a message: each must fail.

use std::sync::Arc;
use std::time::Duration;

use conformance::runner::sweep::{run_case_searching, Search};
use conformance::runner::{Outcome as CaseOutcome, RunConfig, Split};
use conformance::transcript::Suite;
use libtest_mimic::Trial;
use protocol_runtime::transport::Address;

use crate::broken_proxy::{BrokenProxy, Rewrite};
use crate::harness::{self, Outcome, Peer, Program};
use crate::suites::suites;

const REDIS: &[Program] = &[Program::RedisServer];
const MODBUS: &[Program] = &[Program::Pymodbus];
const POSTGRES: &[Program] = &[Program::Postgres];
const DNS: &[Program] = &[Program::Dnsmasq];
const LIMIT: Duration = Duration::from_secs(240);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial(
            "structured::redis_suite_on_redis_every_split_twice",
            REDIS,
            || every_split("redis"),
        ),
        harness::trial(
            "structured::modbus_suite_on_pymodbus_every_split_twice",
            MODBUS,
            || every_split("modbus"),
        ),
        harness::trial("structured::redis_suite_catches_a_broken_redis", REDIS, || {
            catches("redis", &redis_defects())
        }),
        harness::trial(
            "structured::modbus_suite_catches_a_broken_pymodbus",
            MODBUS,
            || catches("modbus", &modbus_defects()),
        ),
        harness::trial(
            "structured::postgres_suite_on_postgres_every_split_twice",
            POSTGRES,
            || every_split("postgres"),
        ),
        harness::trial("structured::dns_suite_on_dnsmasq_every_split_twice", DNS, || {
            every_split("dns")
        }),
        harness::trial(
            "structured::dns_suite_on_dns_server_every_split_twice",
            &[],
            || {
                let server = crate::dns_server::DnsServer::start(&[])?;
                every_split_at("dns", &server.addr(), || server.process.log())
            },
        ),
        harness::trial(
            "structured::postgres_suite_catches_a_broken_postgres",
            POSTGRES,
            || catches("postgres", &postgres_defects()),
        ),
        harness::trial("structured::dns_suite_catches_a_broken_dnsmasq", DNS, || {
            catches("dns", &dns_defects())
        }),
    ]
}

fn postgres_defects() -> Vec<(&'static str, Rewrite)> {
    vec![
        // ReadyForQuery's length one too large: it swallows the next tag.
        (
            "a length",
            Rewrite::first(b"Z\x00\x00\x00\x05I", b"Z\x00\x00\x00\x06I"),
        ),
        // A DataRow of three columns claiming four.
        (
            "a count",
            Rewrite::first(b"D\x00\x00\x00\x14\x00\x03", b"D\x00\x00\x00\x14\x00\x04"),
        ),
        // CommandComplete sent with an empty query's tag.
        (
            "a tag",
            Rewrite::first(b"C\x00\x00\x00\x0dSELECT 3\x00", b"I\x00\x00\x00\x0dSELECT 3\x00"),
        ),
        // A NULL sent as an empty value.
        (
            "a NULL",
            Rewrite::first(
                b"\x00\x00\x00\x011\xff\xff\xff\xff",
                b"\x00\x00\x00\x011\x00\x00\x00\x00",
            ),
        ),
    ]
}

fn dns_defects() -> Vec<(&'static str, Rewrite)> {
    vec![
        // The answer count of alpha.test's A answer one too large.
        (
            "a count",
            Rewrite::first(
                b"\x00\x01\x00\x01\x00\x00\x00\x01\x05alpha",
                b"\x00\x01\x00\x02\x00\x00\x00\x01\x05alpha",
            ),
        ),
        // The A record's owner name, a pointer to the question's, pointing
        // forward instead.
        (
            "a pointer",
            Rewrite::first(b"\xc0\x0c\x00\x01\x00\x01", b"\xc0\x2c\x00\x01\x00\x01"),
        ),
        // The rcode of NXDOMAIN turned into NOERROR.
        ("a flag", Rewrite::first(b"\x81\x83", b"\x81\x80")),
        // The TCP length of the first answer (alpha.test's A) one too small.
        ("a length", Rewrite::first(b"\x00\x37", b"\x00\x36")),
    ]
}

/// What each broken proxy does to the server's bytes.
fn redis_defects() -> Vec<(&'static str, Rewrite)> {
    vec![
        // A bulk string's length one too large: the reply swallows the next.
        ("a length", Rewrite::first(b"$5\r\nhello", b"$6\r\nhello")),
        // An array's count one too large.
        ("a count", Rewrite::first(b"*3\r\n$1\r\na", b"*4\r\n$1\r\na")),
        // A simple string sent as an error.
        ("a tag", Rewrite::first(b"+PONG", b"-PONG")),
        // The first OK dropped: every later reply answers the wrong command.
        ("a message", Rewrite::first(b"+OK\r\n", b"")),
    ]
}

fn modbus_defects() -> Vec<(&'static str, Rewrite)> {
    vec![
        // The MBAP length of a two-register reply one too large.
        (
            "a length",
            Rewrite::first(b"\x00\x07\x01\x03\x04", b"\x00\x08\x01\x03\x04"),
        ),
        // Its byte count odd: `byte_count / 2` registers is not whole.
        (
            "a count",
            Rewrite::first(b"\x01\x03\x04\x00\x00\x00\x0a", b"\x01\x03\x05\x00\x00\x00\x0a"),
        ),
        // Its function code that of another read.
        (
            "a tag",
            Rewrite::first(b"\x01\x03\x04\x00\x00\x00\x0a", b"\x01\x04\x04\x00\x00\x00\x0a"),
        ),
        // The whole reply to "read two holding registers" dropped.
        (
            "a message",
            Rewrite::first(b"\x00\x03\x00\x00\x00\x07\x01\x03\x04\x00\x00\x00\x0a", b""),
        ),
    ]
}

/// Runs every case once (under `sweep`, once per cut point, at most 32);
/// the failures' reports, and how many cases ran.
pub(crate) async fn failures(
    suites: &[Arc<Suite>],
    target: &str,
    split: Split,
    prefix: &str,
) -> (Vec<String>, usize) {
    let cfg = RunConfig {
        target: Address::Tcp(target.to_string()),
        tls: None,
        split,
        prefix: prefix.to_string(),
        step_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(5),
    };
    let mut failed = Vec::new();
    let mut count = 0;
    for s in suites {
        for c in &s.cases {
            count += 1;
            let search = Search {
                max_splits: 32,
                command_tail: String::new(),
            };
            let r = run_case_searching(s, c, &cfg, &search).await;
            match &r.outcome {
                CaseOutcome::Failed(f) => failed.push(format!(
                    "{}:{} {}: expected {}, got {}",
                    r.suite, f.line, r.case, f.expected, f.got
                )),
                CaseOutcome::Unreachable { error } => {
                    failed.push(format!("{}: unreachable: {error}", r.case))
                }
                _ => {}
            }
        }
    }
    (failed, count)
}

fn every_split(spec: &str) -> Outcome {
    let peer = Peer::start(spec)?;
    every_split_at(spec, &peer.addr(), || peer.log())
}

/// [`every_split`] against a server at `addr`, whose log `log` gives.
fn every_split_at(spec: &str, addr: &str, log: impl Fn() -> String) -> Outcome {
    let all = suites(spec)?;
    harness::block_on(LIMIT, async {
        let splits = [
            Split::Whole,
            Split::Bytes,
            Split::Random(1),
            Split::Random(2),
            Split::Coalesce,
            Split::Sweep,
        ];
        for split in splits {
            for round in 0..2 {
                // A prefix per run, as `conformance run` makes one.
                let prefix = format!("peers{}-{split}-{round}-", std::process::id()).replace(':', "");
                let (failed, count) = failures(&all, addr, split, &prefix).await;
                harness::ensure!(count > 0, "no cases ran");
                harness::ensure!(
                    failed.is_empty(),
                    "{} of {count} cases failed under {split} (run {}):\n{}\n{}",
                    failed.len(),
                    round + 1,
                    failed.join("\n"),
                    log()
                );
            }
        }
        Ok(())
    })
}

fn catches(spec: &str, defects: &[(&'static str, Rewrite)]) -> Outcome {
    let all = suites(spec)?;
    let peer = Peer::start(spec)?;
    harness::block_on(LIMIT, async {
        for (i, (what, rewrite)) in defects.iter().enumerate() {
            let proxy = BrokenProxy::start(&peer.addr(), rewrite.clone())?;
            // Fresh keys per run: the replies the defects look for are those
            // of a first run.
            let prefix = format!("broken{}-{i}-", std::process::id());
            let (failed, count) = failures(&all, &proxy.addr(), Split::Whole, &prefix).await;
            harness::ensure!(
                proxy.rewritten() > 0,
                "the proxy that breaks {what} found nothing to break in {count} cases"
            );
            harness::ensure!(
                !failed.is_empty(),
                "the {spec} suite passes against a server that breaks {what}"
            );
            eprintln!("{spec}: breaking {what} fails {} of {count} cases", failed.len());
        }
        Ok(())
    })
}
