//! The bundled conformance suites against the real peers: memcached's suites
//! against memcached 1.6, daytime's and echo's against xinetd, under every
//! split mode (the same suites pass against the reference servers in the
//! conformance crate's tests).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use conformance::runner::{run_case, Outcome as CaseOutcome, RunConfig, Split};
use conformance::transcript::{self, Suite};
use libtest_mimic::Trial;
use protocol_runtime::layout::Role;
use protocol_runtime::transport::{Address, TlsClient};

use crate::harness::{self, Memcached, Outcome, Process, Program, Xinetd};

const SPLITS: [Split; 5] = [
    Split::Whole,
    Split::Bytes,
    Split::Random(1),
    Split::Random(2),
    Split::Coalesce,
];

pub fn trials() -> Vec<Trial> {
    let mut out = Vec::new();
    for (i, split) in SPLITS.iter().enumerate() {
        let name = split.to_string().replace(':', "_");
        out.push(harness::trial(
            &format!("suites::memcached_on_memcached_{name}"),
            &[Program::Memcached],
            MEMCACHED[i],
        ));
        out.push(harness::trial(
            &format!("suites::inetd_on_xinetd_{name}"),
            &[Program::Xinetd],
            INETD[i],
        ));
    }
    out.push(harness::trial(
        "suites::memcached_over_tls_on_memcached_server_binary",
        &[],
        memcached_over_tls,
    ));
    out
}

// libtest-mimic takes plain `fn`s: one per split mode.
const MEMCACHED: [fn() -> Outcome; 5] = [
    || memcached(SPLITS[0]),
    || memcached(SPLITS[1]),
    || memcached(SPLITS[2]),
    || memcached(SPLITS[3]),
    || memcached(SPLITS[4]),
];
const INETD: [fn() -> Outcome; 5] = [
    || inetd(SPLITS[0]),
    || inetd(SPLITS[1]),
    || inetd(SPLITS[2]),
    || inetd(SPLITS[3]),
    || inetd(SPLITS[4]),
];

/// The transcripts of a bundled suite, loaded to play the client.
pub fn suites(spec: &str) -> Result<Vec<Arc<Suite>>, libtest_mimic::Failed> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/suites")
        .join(spec);
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "transcript"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            transcript::load(f, Role::Client)
                .map(Arc::new)
                .map_err(|e| e.to_string().into())
        })
        .collect()
}

/// Runs every case (exclusive ones included: one run at a time here) and
/// fails with the first failures' reports.
async fn run_all(suites: &[Arc<Suite>], target: Address, split: Split) -> Outcome {
    run_all_over(suites, target, None, split).await
}

async fn run_all_over(
    suites: &[Arc<Suite>],
    target: Address,
    tls: Option<TlsClient>,
    split: Split,
) -> Outcome {
    let cfg = RunConfig {
        target,
        tls,
        split,
        prefix: format!("peers{}-", std::process::id()),
        step_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
    };
    let mut failures = Vec::new();
    let mut count = 0;
    for s in suites {
        for c in &s.cases {
            count += 1;
            let r = run_case(s, c, &cfg).await;
            if let CaseOutcome::Failed(f) = &r.outcome {
                failures.push(format!(
                    "{}:{} {}: expected {}, got {}",
                    r.suite, f.line, r.case, f.expected, f.got
                ));
            } else if let CaseOutcome::Unreachable { error } = &r.outcome {
                failures.push(format!("{}: unreachable: {error}", r.case));
            }
        }
    }
    harness::ensure!(count > 0, "no cases ran");
    harness::ensure!(
        failures.is_empty(),
        "{} of {count} cases failed under {split}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

fn memcached(split: Split) -> Outcome {
    let mc = Memcached::start()?;
    let mut all = suites("memcached_get")?;
    all.extend(suites("memcached")?);
    harness::block_on(
        Duration::from_secs(240),
        run_all(&all, Address::Tcp(format!("127.0.0.1:{}", mc.port)), split),
    )
}

fn inetd(split: Split) -> Outcome {
    let x = Xinetd::start()?;
    harness::block_on(Duration::from_secs(120), async {
        run_all(
            &suites("daytime")?,
            Address::Tcp(format!("127.0.0.1:{}", x.daytime_port)),
            split,
        )
        .await?;
        run_all(
            &suites("echo")?,
            Address::Tcp(format!("127.0.0.1:{}", x.echo_port)),
            split,
        )
        .await
    })
}

/// The memcached suites over TLS against the `memcached-server` binary
/// started with `--tls-cert`/`--tls-key` (a self-signed certificate for
/// `localhost`), whole and one byte per write; a client trusting another CA
/// is refused with a certificate error.
fn memcached_over_tls() -> Outcome {
    let dir = tempfile::tempdir()?;
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem())?;
    std::fs::write(&key, ck.signing_key.serialize_pem())?;
    let port = harness::free_port()?;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_memcached-server"));
    cmd.args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key);
    let mut server = Process::spawn(
        format!("memcached-server over TLS on port {port}"),
        cmd,
        dir.path().join("log"),
    )?;
    server.wait_ready(|| std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| ()))?;
    let target = Address::Tcp(format!("127.0.0.1:{port}"));
    let trusted = TlsClient::from_ca_pem(ck.cert.pem().as_bytes())?.with_server_name("localhost");
    let mut all = suites("memcached_get")?;
    all.extend(suites("memcached")?);
    harness::block_on(Duration::from_secs(240), async {
        for split in [Split::Whole, Split::Bytes] {
            run_all_over(&all, target.clone(), Some(trusted.clone()), split).await?;
        }
        // Another CA: the handshake fails and the report says why.
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
        let untrusted = TlsClient::from_ca_pem(other.cert.pem().as_bytes())?.with_server_name("localhost");
        let cfg = RunConfig {
            target: target.clone(),
            tls: Some(untrusted),
            split: Split::Whole,
            prefix: String::new(),
            step_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        };
        let (suite, case) = (&all[0], &all[0].cases[0]);
        match run_case(suite, case, &cfg).await.outcome {
            CaseOutcome::Unreachable { error } => harness::ensure!(
                error.contains("certificate") || error.contains("UnknownIssuer"),
                "the refusal should name the certificate: {error}"
            ),
            _ => return Err("a client trusting another CA was served".into()),
        }
        Ok(())
    })
}
