//! `dns-server` (the binary, serving the dns suite's hosts file as the
//! suite's peer serves it: TTL 3600, `www.test` CNAME `alpha.test`) against
//! real clients and hostile ones: dig +tcp gets records, NXDOMAIN and empty
//! answers, and sees what dnsmasq answers; dnsperf over TCP loses no query;
//! malformed queries (zero lengths, lengths past the content, counts past
//! the message, pointer loops, garbage), resets mid-message, drippers and
//! many idle connections cost their own connection only, with memory
//! bounded. The dns suite against it under every split mode is in
//! `structured`.
//!
//! ```text
//! PROTOSPEC_LOAD_CONNECTIONS=9000 cargo test -p protospec-servers --test peers dns_server::
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};

use crate::harness::{self, ensure, ensure_eq, Outcome, Peer, Process, Program};

const DIG: &[Program] = &[Program::Dig];
const DIG_AND_DNSMASQ: &[Program] = &[Program::Dig, Program::Dnsmasq];
const DNSPERF: &[Program] = &[Program::Dnsperf];
const LIMIT: Duration = Duration::from_secs(60);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial(
            "dns_server::dig_gets_records_nxdomain_and_empty_answers",
            DIG,
            dig_answers,
        ),
        harness::trial(
            "dns_server::dig_sees_what_dnsmasq_answers",
            DIG_AND_DNSMASQ,
            dig_like_dnsmasq,
        ),
        harness::trial(
            "dns_server::answers_are_dnsmasqs_bytes",
            &[Program::Dnsmasq],
            dnsmasqs_bytes,
        ),
        harness::trial("dns_server::dnsperf_over_tcp_loses_nothing", DNSPERF, dnsperf),
        harness::trial(
            "dns_server::hostile_queries_end_only_their_connection",
            &[],
            hostile,
        ),
        harness::trial(
            "dns_server::drippers_are_timed_out_and_others_served",
            &[],
            drippers,
        ),
        harness::trial(
            "dns_server::idle_connections_cost_bounded_memory",
            &[],
            idle_connections,
        ),
    ]
}

/// `dns-server` on a free port with the suite's data and `extra` arguments.
pub struct DnsServer {
    pub process: Process,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl DnsServer {
    pub fn start(extra: &[&str]) -> Result<DnsServer, Failed> {
        let dir = tempfile::tempdir()?;
        let port = harness::free_port()?;
        let hosts = harness::suites_dir().join("dns/hosts");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dns-server"));
        cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--hosts"])
            .arg(&hosts)
            .args(["--ttl", "3600", "--cname", "www.test,alpha.test"])
            .args(extra);
        let mut process = Process::spawn(format!("dns-server on port {port}"), cmd, dir.path().join("log"))?;
        process.wait_ready(|| std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| ()))?;
        Ok(DnsServer {
            process,
            port,
            _dir: dir,
        })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

// ---------------------------------------------------------------------------
// dig

/// What dig prints of an answer: the status, the flags and counts line, and
/// the answer section's records with blanks collapsed.
#[derive(Debug, PartialEq, Eq)]
struct Dug {
    status: String,
    flags: String,
    answers: Vec<String>,
}

fn dig(port: u16, args: &[&str]) -> Result<Dug, Failed> {
    let mut cmd = Command::new(Program::Dig.path()?);
    cmd.args([
        "+tcp",
        "+tries=1",
        "+time=5",
        "@127.0.0.1",
        "-p",
        &port.to_string(),
    ])
    .args(args);
    let ran = harness::run(cmd, Vec::new(), LIMIT)?;
    ensure!(ran.status.success(), "dig {args:?}: {}", ran.describe());
    let out = String::from_utf8_lossy(&ran.stdout).into_owned();
    let status = out
        .lines()
        .find_map(|l| {
            l.split_once("status: ")
                .map(|(_, s)| s.split(',').next().unwrap_or("").to_string())
        })
        .ok_or_else(|| format!("dig {args:?}: no status line in\n{out}"))?;
    let flags = out
        .lines()
        .find_map(|l| l.strip_prefix(";; flags: "))
        .ok_or_else(|| format!("dig {args:?}: no flags line in\n{out}"))?
        .to_string();
    let answers = out
        .lines()
        .skip_while(|l| !l.starts_with(";; ANSWER SECTION:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    Ok(Dug {
        status,
        flags,
        answers,
    })
}

/// The queries both trials ask, and what dns-server must answer.
const DIG_CASES: &[(&[&str], &str, &str, &[&str])] = &[
    (
        &["alpha.test", "A"],
        "NOERROR",
        "qr aa rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1",
        &["alpha.test. 3600 IN A 192.0.2.1"],
    ),
    (
        &["alpha.test", "AAAA"],
        "NOERROR",
        "qr aa rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1",
        &["alpha.test. 3600 IN AAAA 2001:db8::1"],
    ),
    (
        &["nosuch.test", "A"],
        "NXDOMAIN",
        "qr rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1",
        &[],
    ),
    (
        &["beta.test", "AAAA"],
        "NOERROR",
        "qr rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1",
        &[],
    ),
    (
        &["alpha.test", "TXT"],
        "NOERROR",
        "qr rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 0, ADDITIONAL: 1",
        &[],
    ),
    (
        &["www.test", "A"],
        "NOERROR",
        "qr aa rd ra; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1",
        &[
            "www.test. 3600 IN CNAME alpha.test.",
            "alpha.test. 3600 IN A 192.0.2.1",
        ],
    ),
    (
        &["multi.test", "A"],
        "NOERROR",
        "qr aa rd ra; QUERY: 1, ANSWER: 3, AUTHORITY: 0, ADDITIONAL: 1",
        &[
            "multi.test. 3600 IN A 192.0.2.12",
            "multi.test. 3600 IN A 192.0.2.11",
            "multi.test. 3600 IN A 192.0.2.13",
        ],
    ),
    (
        &["AlPhA.TeSt", "ANY"],
        "NOERROR",
        "qr aa rd ra; QUERY: 1, ANSWER: 2, AUTHORITY: 0, ADDITIONAL: 1",
        &[
            "AlPhA.TeSt. 3600 IN A 192.0.2.1",
            "AlPhA.TeSt. 3600 IN AAAA 2001:db8::1",
        ],
    ),
    (
        &["-x", "192.0.2.1"],
        "NOERROR",
        "qr aa rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1",
        &["1.2.0.192.in-addr.arpa. 3600 IN PTR alpha.test."],
    ),
    (
        &["+noedns", "+norecurse", "a.very.deep.name.test"],
        "NOERROR",
        "qr aa ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0",
        &["a.very.deep.name.test. 3600 IN A 192.0.2.20"],
    ),
];

fn dig_answers() -> Outcome {
    let server = DnsServer::start(&[])?;
    for (args, status, flags, answers) in DIG_CASES {
        let got = dig(server.port, args)?;
        let want = Dug {
            status: status.to_string(),
            flags: flags.to_string(),
            answers: answers.iter().map(|a| a.to_string()).collect(),
        };
        ensure_eq!(got, want, "dig {args:?}");
    }
    Ok(())
}

fn dig_like_dnsmasq() -> Outcome {
    let server = DnsServer::start(&[])?;
    let dnsmasq = Peer::start("dns")?;
    let dnsmasq_port: u16 = dnsmasq
        .addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("the peer's address has no port")?;
    for (args, ..) in DIG_CASES {
        let ours = dig(server.port, args)?;
        let theirs = dig(dnsmasq_port, args)?;
        ensure_eq!(ours, theirs, "dig {args:?}: dns-server (got) and dnsmasq (want)");
    }
    Ok(())
}

/// The same queries to dns-server and to dnsmasq, each on a fresh
/// connection, three times on it: byte for byte the same answers, names
/// compressed where dnsmasq compresses them.
fn dnsmasqs_bytes() -> Outcome {
    let server = DnsServer::start(&[])?;
    let dnsmasq = Peer::start("dns")?;
    let dnsmasq_port: u16 = dnsmasq
        .addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("the peer's address has no port")?;
    let queries: &[(&str, u16)] = &[
        ("alpha.test", 1),
        ("alpha.test", 28),
        ("AlPhA.tEsT", 1),
        ("nosuch.test", 1),
        ("beta.test", 28),
        ("alpha.test", 16),
        ("www.test", 1),
        ("www.test", 28),
        ("multi.test", 1),
        ("a.very.deep.name.test", 1),
        ("host42.test", 1),
        ("alpha.test", 255),
        ("1.2.0.192.in-addr.arpa", 12),
    ];
    for &(name, qtype) in queries {
        for edns in [false, true] {
            let q = query_bytes(0x4242, name, qtype, edns);
            let mut ours = harness::connect(server.port)?;
            let mut theirs = harness::connect(dnsmasq_port)?;
            for round in 0..3 {
                ours.write_all(&q)?;
                theirs.write_all(&q)?;
                let (a, b) = (read_answer(&mut ours)?, read_answer(&mut theirs)?);
                harness::same_bytes(
                    &format!("{name} type {qtype}, EDNS {edns}, answer {round}"),
                    &a,
                    &b,
                )?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// dnsperf

/// The queries dnsperf sends over and over: host1..host100 A, AAAA of
/// names with and without one, unknown names, a CNAME and several
/// addresses.
fn dnsperf_queries() -> String {
    let mut q = String::new();
    for n in 1..=100 {
        q.push_str(&format!("host{n}.test A\n"));
    }
    for name in ["alpha", "beta", "gamma"] {
        q.push_str(&format!("{name}.test AAAA\n"));
    }
    for n in 1..=5 {
        q.push_str(&format!("nosuch{n}.test A\n"));
    }
    q.push_str("www.test A\nmulti.test A\n");
    q
}

/// A number after `label` on a line of dnsperf's summary.
fn summary_number(out: &str, label: &str) -> Result<f64, Failed> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no `{label}` in dnsperf's output:\n{out}").into())
}

/// Runs dnsperf over TCP against `port` for `seconds`: its summary.
pub fn run_dnsperf(port: u16, seconds: u32, clients: u32) -> Result<String, Failed> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("queries");
    std::fs::write(&file, dnsperf_queries())?;
    let mut cmd = Command::new(Program::Dnsperf.path()?);
    cmd.args(["-s", "127.0.0.1", "-p", &port.to_string(), "-m", "tcp", "-d"])
        .arg(&file)
        .args(["-l", &seconds.to_string(), "-c", &clients.to_string()]);
    let ran = harness::run(cmd, Vec::new(), LIMIT)?;
    ensure!(ran.status.success(), "dnsperf: {}", ran.describe());
    Ok(String::from_utf8_lossy(&ran.stdout).into_owned())
}

fn dnsperf() -> Outcome {
    let server = DnsServer::start(&[])?;
    let out = run_dnsperf(server.port, 2, 4)?;
    let sent = summary_number(&out, "Queries sent:")?;
    let completed = summary_number(&out, "Queries completed:")?;
    let lost = summary_number(&out, "Queries lost:")?;
    ensure!((sent as u64) > 100, "dnsperf sent {sent} queries in 2 s:\n{out}");
    ensure_eq!(
        (completed, lost),
        (sent, 0.0),
        "completed and lost of {sent}:\n{out}"
    );
    let codes = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Response codes:"))
        .ok_or_else(|| format!("no response codes in\n{out}"))?;
    // Of the 110 queries of the file, 5 are of unknown names.
    let mut seen = Vec::new();
    for part in codes.split(',') {
        let mut words = part.split_whitespace();
        let (Some(code), Some(n)) = (words.next(), words.next()) else {
            return Err(format!("bad response codes `{codes}`").into());
        };
        let n: f64 = n.parse().map_err(|_| format!("bad response codes `{codes}`"))?;
        seen.push(code.to_string());
        if code == "NXDOMAIN" {
            let share = n / completed;
            ensure!(
                (0.03..0.07).contains(&share),
                "NXDOMAIN is {share:.3} of the answers, not about 5/110:\n{out}"
            );
        }
    }
    seen.sort();
    ensure_eq!(
        seen,
        vec!["NOERROR".to_string(), "NXDOMAIN".to_string()],
        "response codes: {codes}"
    );
    println!(
        "dnsperf -m tcp: {sent} queries in 2 s, {} q/s",
        summary_number(&out, "Queries per second:")?
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Hostile peers

/// A query's bytes on TCP: the length, the header (RD set), one question,
/// and an OPT record if `edns`.
fn query_bytes(id: u16, name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if edns {
        m.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    let mut out = (m.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&m);
    out
}

/// Reads one length-prefixed answer.
fn read_answer(s: &mut TcpStream) -> Result<Vec<u8>, Failed> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut m)?;
    Ok(m)
}

/// Asks `alpha.test A` on `s` and checks the answer's id, code and address.
fn ask_alpha(s: &mut TcpStream, id: u16) -> Outcome {
    s.write_all(&query_bytes(id, "alpha.test", 1, false))?;
    let m = read_answer(s)?;
    ensure!(m.len() >= 16, "a short answer: {}", harness::abbreviate(&m));
    ensure_eq!(
        (u16::from_be_bytes([m[0], m[1]]), m[3] & 0x0f),
        (id, 0),
        "id and rcode"
    );
    ensure!(
        m.ends_with(&[192, 0, 2, 1]),
        "not 192.0.2.1: {}",
        harness::abbreviate(&m)
    );
    Ok(())
}

/// A header with these flags and counts, and `rest` after it, with its
/// length before (or `len` as the length if given).
fn message(flags: u16, counts: [u16; 4], rest: &[u8], len: Option<u16>) -> Vec<u8> {
    let mut m = vec![0x12, 0x34];
    m.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        m.extend_from_slice(&c.to_be_bytes());
    }
    m.extend_from_slice(rest);
    let mut out = len.unwrap_or(m.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&m);
    out
}

/// The question `alpha.test. A IN`.
const ALPHA: &[u8] = b"\x05alpha\x04test\x00\x00\x01\x00\x01";

fn rss_kib(pid: u32) -> Result<u64, Failed> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/PID/status".into())
}

/// Malformed and hostile input, each on a connection of its own, while a
/// well-behaved connection opened first is answered after each; none gets
/// an answer it should not, each is closed, and the server's memory stays
/// bounded.
fn hostile() -> Outcome {
    let server = DnsServer::start(&[])?;
    let mut good = harness::connect(server.port)?;
    ask_alpha(&mut good, 1)?;
    let before = rss_kib(server.process.pid())?;
    let mut garbage = harness::pattern(4096, 7);
    garbage[..2].copy_from_slice(&[0x0f, 0xf0]);
    let closes: Vec<(&str, Vec<u8>)> = vec![
        ("a length of 0", vec![0, 0]),
        ("a message shorter than a header", b"\x00\x05hello".to_vec()),
        (
            "one question counted, none sent",
            message(0x0100, [1, 0, 0, 0], &[], None),
        ),
        (
            "five questions counted, one sent",
            message(0x0100, [5, 0, 0, 0], ALPHA, None),
        ),
        (
            "65535 answers counted, none sent",
            message(0x0100, [1, 65535, 0, 0], ALPHA, None),
        ),
        (
            "a name that points at itself",
            message(0x0100, [1, 0, 0, 0], b"\xc0\x0c\x00\x01\x00\x01", None),
        ),
        (
            "a name that points forward",
            message(0x0100, [1, 0, 0, 0], b"\xc0\x20\x00\x01\x00\x01", None),
        ),
        (
            "a label past the message",
            message(0x0100, [1, 0, 0, 0], b"\x3falpha", None),
        ),
        (
            "a frame of 65535 bytes, the rest after the question junk",
            message(
                0x0100,
                [1, 0, 0, 0],
                &[ALPHA, &vec![0xab; 65535 - 12 - ALPHA.len()]].concat(),
                None,
            ),
        ),
        ("garbage", garbage),
        (
            "a length over the content, then a half-close",
            message(0x0100, [1, 0, 0, 0], ALPHA, Some(65535)),
        ),
    ];
    for (i, (what, bytes)) in closes.iter().enumerate() {
        let mut s = harness::connect(server.port)?;
        s.write_all(bytes)?;
        let _ = s.shutdown(std::net::Shutdown::Write);
        let started = Instant::now();
        // The server closing with input unread makes its kernel reset.
        let got = match harness::read_to_close(&mut s) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Vec::new(),
            r => r.map_err(|e| format!("{what}: {e}"))?,
        };
        ensure!(got.is_empty(), "{what}: answered {}", harness::abbreviate(&got));
        ensure!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: closed only after {:?}",
            started.elapsed()
        );
        ask_alpha(&mut good, 100 + i as u16)
            .map_err(|e| format!("after {what}: {}", e.message().unwrap_or("")))?;
    }
    // Resets in the middle of a message: its length, part of its header.
    for cut in [1, 2, 9, 20] {
        let q = query_bytes(7, "alpha.test", 1, true);
        reset_after(server.port, &q[..cut])?;
        ask_alpha(&mut good, 200 + cut as u16)?;
    }
    // A header without a question is answered REFUSED, as dnsmasq answers,
    // and the connection goes on.
    let mut s = harness::connect(server.port)?;
    s.write_all(&message(0x0100, [0, 0, 0, 0], &[], None))?;
    let m = read_answer(&mut s)?;
    ensure_eq!(
        m,
        b"\x12\x34\x81\x85\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(),
        "a header alone"
    );
    // An opcode it does not serve: NOTIMP, the question echoed.
    s.write_all(&message(0x1100, [1, 0, 0, 0], ALPHA, None))?;
    let m = read_answer(&mut s)?;
    ensure_eq!(&m[..6], b"\x12\x34\x91\x84\x00\x01", "opcode 2");
    ensure_eq!(&m[12..], ALPHA, "opcode 2's question");
    ask_alpha(&mut s, 300)?;
    // Many malformed connections at once.
    let mut many = Vec::new();
    for i in 0..200u16 {
        let mut s = harness::connect(server.port)?;
        s.write_all(&message(0x0100, [1, 0, 0, 0], ALPHA, Some(65535 - i)))?;
        many.push(s);
    }
    ask_alpha(&mut good, 400)?;
    let during = rss_kib(server.process.pid())?;
    drop(many);
    ask_alpha(&mut good, 401)?;
    // 200 connections that each declared a frame of about 64 KiB: the
    // buffers those take, and no more.
    ensure!(
        during < before + 200 * 160,
        "RSS {before} KiB before, {during} KiB with 200 connections declaring 64 KiB frames"
    );
    println!("dns-server: RSS {before} KiB, {during} KiB with 200 connections each declaring a 64 KiB frame");
    Ok(())
}

/// Connects, writes `bytes` and closes with a reset (a zero linger), as a
/// crashed client's kernel does.
fn reset_after(port: u16, bytes: &[u8]) -> Outcome {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        use tokio::io::AsyncWriteExt;
        let socket = tokio::net::TcpSocket::new_v4()?;
        #[allow(deprecated)]
        socket.set_linger(Some(Duration::ZERO))?;
        let mut s = socket.connect(([127, 0, 0, 1], port).into()).await?;
        s.write_all(bytes).await?;
        drop(s);
        Ok(())
    })
}

/// 50 clients send a query one byte a second, never finishing in time:
/// the spec's 10 s message timeout closes each, while a client asking
/// meanwhile is answered at once every time.
fn drippers() -> Outcome {
    let server = DnsServer::start(&[])?;
    let addr = server.addr();
    harness::block_on(LIMIT, async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut drips = tokio::task::JoinSet::new();
        for i in 0..50u16 {
            let addr = addr.clone();
            drips.spawn(async move {
                let mut s = tokio::net::TcpStream::connect(&addr).await?;
                let q = query_bytes(i, "alpha.test", 1, false);
                let started = Instant::now();
                for b in q {
                    if s.write_all(&[b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    // Closed by the server: a read sees the end at once.
                    let mut buf = [0u8; 64];
                    if let Ok(r) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await {
                        match r {
                            Ok(0) | Err(_) => break,
                            Ok(n) => return Err(format!("a dripper got {n} bytes").into()),
                        }
                    }
                }
                Ok::<Duration, Failed>(started.elapsed())
            });
        }
        let mut good = tokio::net::TcpStream::connect(&addr).await?;
        for id in 0..20u16 {
            let asked = Instant::now();
            good.write_all(&query_bytes(id, "alpha.test", 1, false)).await?;
            let mut len = [0u8; 2];
            good.read_exact(&mut len).await?;
            let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
            good.read_exact(&mut m).await?;
            ensure!(
                asked.elapsed() < Duration::from_millis(500),
                "an answer took {:?} among drippers",
                asked.elapsed()
            );
            ensure_eq!(u16::from_be_bytes([m[0], m[1]]), id);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        while let Some(r) = drips.join_next().await {
            let took = r.map_err(|e| e.to_string())??;
            ensure!(
                took >= Duration::from_secs(9) && took < Duration::from_secs(14),
                "a dripper was closed after {took:?}, not at the 10 s message timeout"
            );
        }
        Ok(())
    })
}

/// Connections that asked once and sit idle (the spec sets no idle
/// timeout) cost little each, and a new client is still answered.
fn idle_connections() -> Outcome {
    let n: usize = std::env::var("PROTOSPEC_LOAD_CONNECTIONS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1000);
    let server = DnsServer::start(&["--max-connections", &(n + 16).to_string()])?;
    let pid = server.process.pid();
    let addr = server.addr();
    let (before, after) = harness::block_on(Duration::from_secs(300), async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        async fn once(s: &mut tokio::net::TcpStream, id: u16) -> Outcome {
            s.write_all(&query_bytes(id, "host1.test", 1, true)).await?;
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await?;
            let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut m).await?;
            ensure_eq!(u16::from_be_bytes([m[0], m[1]]), id);
            Ok(())
        }
        let mut first = tokio::net::TcpStream::connect(&addr).await?;
        once(&mut first, 0).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = rss_kib(pid)?;
        let mut idle = Vec::with_capacity(n);
        for i in 1..n {
            let mut s = tokio::net::TcpStream::connect(&addr).await?;
            once(&mut s, i as u16).await?;
            idle.push(s);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib(pid)?;
        let mut fresh = tokio::net::TcpStream::connect(&addr).await?;
        once(&mut fresh, 7).await?;
        once(&mut first, 8).await?;
        drop(idle);
        Ok((before, after))
    })?;
    let per = after.saturating_sub(before) as f64 * 1024.0 / (n - 1) as f64;
    println!("dns-server: RSS {before} KiB with 1 connection, {after} KiB with {n}: {per:.0} bytes per idle connection");
    ensure!((per as u64) < 16 * 1024, "{per:.0} bytes per idle connection");
    Ok(())
}
