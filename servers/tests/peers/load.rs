//! Load on the generated memcached server, run as its own process (the
//! open-files limit is per process): many concurrent connections each doing
//! set+get of its own key, pipelined requests checked one by one for loss and
//! order, the connection limit, and a graceful shutdown under load that cuts
//! no reply in half.
//!
//! CI runs 1,000 connections and 100,000 pipelined requests; the full sizes
//! are a separate command (see RELIABILITY.md):
//!
//! ```text
//! PROTOSPEC_LOAD_CONNECTIONS=9000 PROTOSPEC_LOAD_PIPELINED=1000000 \
//!     cargo test --release -p protospec-servers --test peers load::
//! ```

use std::process::Command;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::harness::{self, ensure, Outcome, Process};

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial(
            "load::concurrent_connections_set_and_get",
            &[],
            concurrent_connections,
        ),
        harness::trial("load::pipelined_requests_none_lost_or_reordered", &[], pipelined),
        harness::trial("load::the_connection_limit_holds", &[], connection_limit),
        harness::trial(
            "load::shutdown_under_load_cuts_no_reply",
            &[],
            shutdown_under_load,
        ),
        latency_trial(),
        footprint_trial(),
    ]
}

fn env_count(name: &str, default: usize) -> Result<usize, Failed> {
    match std::env::var(name) {
        Ok(v) => Ok(v
            .trim()
            .parse()
            .map_err(|_| format!("{name}={v:?} is not a count"))?),
        Err(_) => Ok(default),
    }
}

/// `memcached-server` on a free port with `extra` arguments.
struct Server {
    process: Process,
    addr: String,
    _dir: tempfile::TempDir,
}

fn start(extra: &[&str]) -> Result<Server, Failed> {
    let dir = tempfile::tempdir()?;
    let port = harness::free_port()?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_memcached-server"));
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--threads", "2"])
        .args(extra);
    let mut process = Process::spawn(
        format!("memcached-server on port {port}"),
        cmd,
        dir.path().join("log"),
    )?;
    process.wait_ready(|| std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| ()))?;
    Ok(Server {
        process,
        addr: format!("127.0.0.1:{port}"),
        _dir: dir,
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Failed> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

async fn read_until(s: &mut TcpStream, got: &mut Vec<u8>, end: &[u8]) -> Result<(), Failed> {
    let mut buf = [0u8; 4096];
    while !got.ends_with(end) {
        let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await??;
        ensure!(n > 0, "closed after {:?}", harness::abbreviate(got));
        got.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

/// Every connection is opened before any request, so all are live at once.
fn concurrent_connections() -> Outcome {
    let n = env_count("PROTOSPEC_LOAD_CONNECTIONS", 1000)?;
    let server = start(&["--max-connections", &(n + 16).to_string()])?;
    let started = Instant::now();
    runtime()?.block_on(async {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            conns.push(TcpStream::connect(&server.addr).await?);
        }
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
        let mut tasks = JoinSet::new();
        for (i, mut s) in conns.into_iter().enumerate() {
            let barrier = barrier.clone();
            tasks.spawn(async move {
                let value = format!("v{i}");
                let req = format!("set load-{i} 0 0 {}\r\n{value}\r\nget load-{i}\r\n", value.len());
                s.write_all(req.as_bytes()).await?;
                let mut got = Vec::new();
                read_until(&mut s, &mut got, b"END\r\n").await?;
                let want = format!("STORED\r\nVALUE load-{i} 0 {}\r\n{value}\r\nEND\r\n", value.len());
                ensure!(
                    got == want.as_bytes(),
                    "connection {i} got {:?}",
                    harness::abbreviate(&got)
                );
                // Held open until every connection has its answer.
                barrier.wait().await;
                Ok(())
            });
        }
        let mut failures = Vec::new();
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r? {
                failures.push(e.message().unwrap_or("failed").to_string());
            }
        }
        ensure!(
            failures.is_empty(),
            "{} of {n} connections failed: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        Ok(())
    })?;
    println!(
        "{n} concurrent connections, set+get each: all correct in {:?}",
        started.elapsed()
    );
    Ok(())
}

const PIPE_CONNECTIONS: usize = 4;

/// Requests alternate `set p{c}-{j}` / `get p{c}-{j}` and are written in
/// batches while a reader checks every reply in order: a lost, duplicated or
/// reordered reply names the request it broke at.
fn pipelined() -> Outcome {
    let total = env_count("PROTOSPEC_LOAD_PIPELINED", 100_000)?;
    let server = start(&[])?;
    let started = Instant::now();
    runtime()?.block_on(async {
        let mut tasks = JoinSet::new();
        for c in 0..PIPE_CONNECTIONS {
            let addr = server.addr.clone();
            let pairs = total / PIPE_CONNECTIONS / 2;
            tasks.spawn(async move {
                let s = TcpStream::connect(&addr).await?;
                let (mut r, mut w) = s.into_split();
                let writer = tokio::spawn(async move {
                    let mut batch = Vec::with_capacity(64 * 1024);
                    for j in 0..pairs {
                        let v = format!("{c}:{j}");
                        batch.extend_from_slice(
                            format!("set p{c}-{j} 0 0 {}\r\n{v}\r\nget p{c}-{j}\r\n", v.len()).as_bytes(),
                        );
                        if batch.len() > 60 * 1024 {
                            w.write_all(&batch).await?;
                            batch.clear();
                        }
                    }
                    w.write_all(&batch).await?;
                    std::io::Result::Ok(w)
                });
                let mut buf = Vec::with_capacity(128 * 1024);
                let mut chunk = vec![0u8; 64 * 1024];
                let mut at = 0usize;
                for j in 0..pairs {
                    let v = format!("{c}:{j}");
                    let want = format!("STORED\r\nVALUE p{c}-{j} 0 {}\r\n{v}\r\nEND\r\n", v.len());
                    while buf.len() < at + want.len() {
                        let n = tokio::time::timeout(Duration::from_secs(30), r.read(&mut chunk)).await??;
                        ensure!(n > 0, "connection {c}: closed at request pair {j}");
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    ensure!(
                        &buf[at..at + want.len()] == want.as_bytes(),
                        "connection {c}, request pair {j}: expected {want:?}, got {:?}",
                        harness::abbreviate(&buf[at..(at + want.len()).min(buf.len())])
                    );
                    at += want.len();
                    if at > 64 * 1024 {
                        buf.drain(..at);
                        at = 0;
                    }
                }
                ensure!(buf.len() == at, "connection {c}: {} bytes more than asked for", buf.len() - at);
                drop(writer.await??);
                Ok(2 * pairs)
            });
        }
        let mut answered = 0;
        while let Some(r) = tasks.join_next().await {
            answered += r??;
        }
        ensure!(answered >= total - 2 * PIPE_CONNECTIONS, "{answered} of {total} answered");
        println!(
            "{answered} pipelined requests on {PIPE_CONNECTIONS} connections: none lost or reordered, in {:?}",
            started.elapsed()
        );
        Ok(())
    })
}

/// `--max-connections 20`: the 21st to 30th connections get memcached's
/// overload reply and are closed; the 20 first are served; once they close,
/// new connections are served again.
fn connection_limit() -> Outcome {
    let server = start(&["--max-connections", "20"])?;
    runtime()?.block_on(async {
        let mut held = Vec::new();
        for i in 0..20 {
            let mut s = TcpStream::connect(&server.addr).await?;
            s.write_all(b"version\r\n").await?;
            let mut got = Vec::new();
            read_until(&mut s, &mut got, b"\r\n").await?;
            ensure!(
                got.starts_with(b"VERSION "),
                "connection {i} got {:?}",
                harness::abbreviate(&got)
            );
            held.push(s);
        }
        for i in 20..30 {
            let mut s = TcpStream::connect(&server.addr).await?;
            let mut got = Vec::new();
            tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await??;
            ensure!(
                got == servers::memcached::server::OVERLOAD_REPLY,
                "connection {i} over the limit got {:?}",
                harness::abbreviate(&got)
            );
        }
        drop(held);
        // The slots free as the server sees the closes.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut s = TcpStream::connect(&server.addr).await?;
            s.write_all(b"version\r\n").await?;
            let mut got = Vec::new();
            read_until(&mut s, &mut got, b"\r\n").await?;
            if got.starts_with(b"VERSION ") {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "no slot freed after the first 20 closed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

const BIG: usize = 64 * 1024;

/// 16 connections pipeline `get big` (a 64 KiB value) as fast as they can;
/// SIGTERM arrives mid-stream. Each connection must end on a reply boundary,
/// and the server exits by itself within its grace.
fn shutdown_under_load() -> Outcome {
    let mut server = start(&["--shutdown-grace", "5"])?;
    let reply = {
        let mut r = format!("VALUE big 0 {BIG}\r\n").into_bytes();
        r.extend(std::iter::repeat_n(b'b', BIG));
        r.extend_from_slice(b"\r\nEND\r\n");
        r
    };
    let pid = server.process.pid();
    let received = runtime()?.block_on(async {
        let mut s = TcpStream::connect(&server.addr).await?;
        let mut set = format!("set big 0 0 {BIG}\r\n").into_bytes();
        set.extend(std::iter::repeat_n(b'b', BIG));
        set.extend_from_slice(b"\r\n");
        s.write_all(&set).await?;
        let mut got = Vec::new();
        read_until(&mut s, &mut got, b"STORED\r\n").await?;
        let mut tasks = JoinSet::new();
        for _ in 0..16 {
            let addr = server.addr.clone();
            tasks.spawn(async move {
                let s = TcpStream::connect(&addr).await?;
                let (mut r, mut w) = s.into_split();
                let writer = tokio::spawn(async move {
                    let gets = b"get big\r\n".repeat(64);
                    while w.write_all(&gets).await.is_ok() {}
                });
                let mut got = Vec::new();
                let mut chunk = vec![0u8; 64 * 1024];
                loop {
                    match tokio::time::timeout(Duration::from_secs(30), r.read(&mut chunk)).await? {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&chunk[..n]),
                    }
                }
                writer.abort();
                std::io::Result::Ok(got)
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let killed = Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
        ensure!(killed.success(), "kill -TERM {pid} failed");
        let mut received = Vec::new();
        while let Some(r) = tasks.join_next().await {
            received.push(r??);
        }
        Ok(received)
    })?;
    let status = server.process.wait_exit(Duration::from_secs(15))?;
    ensure!(
        status.success(),
        "memcached-server exited with {status} after SIGTERM"
    );
    let mut replies = 0;
    for (i, got) in received.iter().enumerate() {
        ensure!(
            got.len() % reply.len() == 0,
            "connection {i} ended {} bytes into a reply ({} bytes in all)",
            got.len() % reply.len(),
            got.len()
        );
        for (k, r) in got.chunks(reply.len()).enumerate() {
            ensure!(r == &reply[..], "connection {i}: reply {k} is not the value");
        }
        replies += got.len() / reply.len();
    }
    ensure!(replies > 0, "no reply arrived before the shutdown");
    println!("{replies} whole 64 KiB replies on 16 connections, none cut, server exited {status}");
    Ok(())
}

/// Not run by default (it measures, it does not check): a normal client's
/// round-trip latency on `memcached-server` with and without 300
/// connections dripping one byte a second, in real time. Numbers go to
/// RELIABILITY.md:
///
/// ```text
/// cargo test --release -p protospec-servers --test peers -- --ignored load::latency_with_drippers --nocapture
/// ```
pub fn latency_trial() -> Trial {
    harness::trial("load::latency_with_drippers", &[], latency_with_drippers).with_ignored_flag(true)
}

const DRIPPERS: usize = 300;
const ROUND_TRIPS: usize = 5000;

fn latency_with_drippers() -> Outcome {
    let server = start(&["--max-connections", "1024"])?;
    runtime()?.block_on(async {
        let quiet = round_trips(&server.addr).await?;
        let mut drippers = JoinSet::new();
        for _ in 0..DRIPPERS {
            let addr = server.addr.clone();
            drippers.spawn(async move {
                let Ok(mut s) = TcpStream::connect(&addr).await else {
                    return;
                };
                let _ = s.write_all(b"get ").await;
                while s.write_all(b"k").await.is_ok() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let dripped = round_trips(&server.addr).await?;
        drippers.abort_all();
        for (what, l) in [("alone", &quiet), ("with 300 drippers", &dripped)] {
            println!(
                "{what}: {ROUND_TRIPS} set+get round trips, p50 {:?}, p99 {:?}, max {:?}",
                l[l.len() / 2],
                l[l.len() * 99 / 100],
                l[l.len() - 1]
            );
        }
        Ok(())
    })
}

/// Sorted latencies of `ROUND_TRIPS` set+get round trips on one connection.
async fn round_trips(addr: &str) -> Result<Vec<Duration>, Failed> {
    let mut s = TcpStream::connect(addr).await?;
    let mut latencies = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS {
        let start = Instant::now();
        s.write_all(format!("set lat 0 0 4\r\n{:04}\r\nget lat\r\n", i % 10_000).as_bytes())
            .await?;
        let mut got = Vec::new();
        read_until(&mut s, &mut got, b"END\r\n").await?;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    Ok(latencies)
}

/// Not run by default (it measures): the resident memory of
/// `memcached-server` per idle connection, from `/proc/PID/status`, with
/// `PROTOSPEC_LOAD_CONNECTIONS` (default 9,000) idle connections open.
/// Numbers go to BENCHMARKS.md:
///
/// ```text
/// cargo test --release -p protospec-servers --test peers -- --ignored load::idle_connection_footprint --nocapture
/// ```
pub fn footprint_trial() -> Trial {
    harness::trial("load::idle_connection_footprint", &[], idle_footprint).with_ignored_flag(true)
}

fn rss_kib(pid: u32) -> Result<u64, Failed> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS in /proc/PID/status")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or("bad VmRSS line")?)
}

fn idle_footprint() -> Outcome {
    let n = env_count("PROTOSPEC_LOAD_CONNECTIONS", 9000)?;
    let server = start(&["--max-connections", &(n + 16).to_string()])?;
    let pid = server.process.pid();
    runtime()?.block_on(async {
        // One connection that has spoken, so the per-connection path is warm.
        let mut first = TcpStream::connect(&server.addr).await?;
        first.write_all(b"version\r\n").await?;
        read_until(&mut first, &mut Vec::new(), b"\r\n").await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = rss_kib(pid)?;
        let mut idle = Vec::with_capacity(n);
        for _ in 1..n {
            let mut s = TcpStream::connect(&server.addr).await?;
            s.write_all(b"version\r\n").await?;
            read_until(&mut s, &mut Vec::new(), b"\r\n").await?;
            idle.push(s);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib(pid)?;
        let per = (after.saturating_sub(before)) as f64 * 1024.0 / (n - 1) as f64;
        println!(
            "memcached-server: RSS {before} KiB with 1 connection, {after} KiB with {n}: {per:.0} bytes per idle connection beyond the first"
        );
        drop(idle);
        Ok(())
    })
}
