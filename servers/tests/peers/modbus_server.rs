//! `modbus-server` (the generated Modbus/TCP server) against real clients
//! and hostile peers: the modbus suite under every split, pymodbus's client
//! (the pinned venv of the suite's peer) and `mbpoll` reading and writing,
//! requests pipelined by transaction id, and peers that send oversize or
//! undersize MBAP lengths, garbage, drip, reset or sit idle.

use std::io;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use conformance::runner::Split;
use libtest_mimic::{Failed, Trial};
use protocol_runtime::server::{Accept, ServerConfig, ServerStats};
use protocol_runtime::transport::{Listener, Stream};
use servers::modbus::ModbusConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;

use crate::harness::{self, ensure, ensure_eq, Outcome, Process, Program};
use crate::suites::suites;

const LIMIT: Duration = Duration::from_secs(240);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial(
            "modbus_server::suite_every_split_twice",
            &[],
            suite_every_split_twice,
        ),
        harness::trial("modbus_server::suite_over_tls", &[], suite_over_tls),
        harness::trial(
            "modbus_server::pymodbus_client_reads_writes_and_gets_exceptions",
            &[Program::Pymodbus],
            pymodbus_client,
        ),
        harness::trial(
            "modbus_server::mbpoll_reads_and_writes_registers",
            &[Program::Mbpoll],
            mbpoll,
        ),
        harness::trial(
            "modbus_server::pipelined_requests_answered_in_order",
            &[],
            pipelined,
        ),
        harness::trial(
            "modbus_server::hostile_peers_hurt_only_their_connection",
            &[],
            hostile,
        ),
        harness::trial(
            "modbus_server::drippers_are_timed_out_and_others_served",
            &[],
            drippers,
        ),
        harness::trial(
            "modbus_server::idle_connections_stay_open_in_bounded_memory",
            &[],
            idle_connections,
        ),
    ]
}

/// A server in this test's runtime on 127.0.0.1:0, seeded as the suite's
/// peer; `stop` ends it.
struct InRuntime {
    addr: String,
    stats: Arc<ServerStats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl InRuntime {
    async fn start(config: ModbusConfig) -> Result<InRuntime, Failed> {
        let listener = Listener::bind(&"127.0.0.1:0".parse()?).await?;
        let addr = listener.local_addr()?.to_string();
        let stats = Arc::new(ServerStats::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(servers::modbus::serve(
            listener,
            config,
            Arc::clone(&stats),
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(InRuntime {
            addr,
            stats,
            stop: Some(stop),
            task,
        })
    }

    async fn stop(mut self) -> Result<Arc<ServerStats>, Failed> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), &mut self.task).await???;
        Ok(self.stats)
    }
}

/// The modbus suite against one server, under every split, twice.
fn suite_every_split_twice() -> Outcome {
    let all = suites("modbus")?;
    harness::block_on(LIMIT, async {
        let server = InRuntime::start(ModbusConfig::seeded()).await?;
        let splits = [
            Split::Whole,
            Split::Bytes,
            Split::Random(1),
            Split::Random(2),
            Split::Random(3),
            Split::Coalesce,
            Split::Sweep,
        ];
        for split in splits {
            for round in 0..2 {
                let prefix = format!("mbsrv{}-{split}-{round}-", std::process::id()).replace(':', "");
                let (failed, count) = crate::structured::failures(&all, &server.addr, split, &prefix).await;
                ensure!(count > 0, "no cases ran");
                ensure!(
                    failed.is_empty(),
                    "{} of {count} cases failed under {split} (run {}):\n{}",
                    failed.len(),
                    round + 1,
                    failed.join("\n")
                );
            }
        }
        let stats = server.stop().await?;
        let errors = stats.handler_errors.load(Ordering::Relaxed);
        ensure!(errors == 0, "{errors} connections ended in an error");
        Ok(())
    })
}

/// The binary with `--tls-cert/--tls-key`: the suite passes over TLS.
fn suite_over_tls() -> Outcome {
    use conformance::runner::{run_case, RunConfig};
    use protocol_runtime::transport::{Address, TlsClient};
    let dir = tempfile::tempdir()?;
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])?;
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem())?;
    std::fs::write(&key, ck.signing_key.serialize_pem())?;
    let (cert, key) = (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    );
    let server = start_binary(&["--seed", "--tls-cert", &cert, "--tls-key", &key])?;
    let trusted = TlsClient::from_ca_pem(ck.cert.pem().as_bytes())?.with_server_name("localhost");
    let all = suites("modbus")?;
    harness::block_on(LIMIT, async {
        let cfg = RunConfig {
            target: Address::Tcp(format!("127.0.0.1:{}", server.port)),
            tls: Some(trusted),
            split: Split::Bytes,
            prefix: String::new(),
            step_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        };
        let mut count = 0;
        for s in &all {
            for c in &s.cases {
                count += 1;
                let r = run_case(s, c, &cfg).await;
                ensure!(r.passed(), "{} over TLS: {:?}", c.name, r.outcome);
            }
        }
        ensure!(count > 20, "only {count} cases");
        Ok(())
    })
}

/// `modbus-server` as its own process on a free port.
struct Binary {
    _process: Process,
    port: u16,
    _dir: tempfile::TempDir,
}

fn start_binary(extra: &[&str]) -> Result<Binary, Failed> {
    let dir = tempfile::tempdir()?;
    let port = harness::free_port()?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modbus-server"));
    cmd.args(["--listen", &format!("127.0.0.1:{port}")]).args(extra);
    let mut process = Process::spawn(
        format!("modbus-server on port {port}"),
        cmd,
        dir.path().join("log"),
    )?;
    process.wait_ready(|| std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| ()))?;
    Ok(Binary {
        _process: process,
        port,
        _dir: dir,
    })
}

/// What `clients/pymodbus_client.py` prints against a seeded server: the
/// seeded values, writes read back, exception 3 for quantities out of range
/// (which pymodbus's client refuses to send, so the script sends them
/// unchecked), exception 2 past the end, exception 1 under the request's
/// function code for functions the server does not serve, 0x0B for another
/// unit.
const PYMODBUS_EXPECTED: &str = "\
read coils 0..=9: 1001001001000000
read discrete inputs 0..=7: 01010101
read holding registers 0..=2: [0, 10, 20]
read input registers 5..=7: [1005, 1006, 1007]
write coil 700 on: 1
read coil 700: 10000000
write coils 710..=719: ok
read coils 710..=719: 1010101010000000
write register 700: [4242]
write registers 701..=703: ok
read registers 700..=703: [4242, 1, 65535, 3]
read 126 registers: exception fc=0x83 code=3
read 0 registers: exception fc=0x83 code=3
read 2001 coils: exception fc=0x81 code=3
write 0 registers: exception fc=0x90 code=3
write 1969 coils: exception fc=0x8f code=3
read register 1000: exception fc=0x83 code=2
read exception status (fc 7): exception fc=0x87 code=1
report server id (fc 17): exception fc=0x91 code=1
function code 9: exception fc=0x89 code=1
read register 0 of unit 2: exception fc=0x83 code=11
read holding registers 0..=2 again: [0, 10, 20]
";

fn pymodbus_client() -> Outcome {
    let python = Program::Pymodbus.path()?;
    let server = start_binary(&["--seed"])?;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/clients/pymodbus_client.py");
    let mut cmd = Command::new(python);
    cmd.arg("-B").arg(script).arg(server.port.to_string());
    let ran = harness::run(cmd, Vec::new(), Duration::from_secs(60))?;
    ensure!(ran.status.success(), "the script failed: {}", ran.describe());
    let got = String::from_utf8_lossy(&ran.stdout);
    for (i, (g, w)) in got.lines().zip(PYMODBUS_EXPECTED.lines()).enumerate() {
        ensure_eq!(g, w, "line {} of the script's output", i + 1);
    }
    ensure_eq!(
        got.lines().count(),
        PYMODBUS_EXPECTED.lines().count(),
        "lines of output"
    );
    Ok(())
}

/// mbpoll counts references from 1: `-r 1` is address 0.
fn mbpoll() -> Outcome {
    let mbpoll = Program::Mbpoll.path()?;
    let server = start_binary(&["--seed"])?;
    let port = server.port.to_string();
    let run = |args: &[&str]| -> Result<String, Failed> {
        let mut cmd = Command::new(&mbpoll);
        cmd.args(["-m", "tcp", "-p", &port, "-a", "1"]).args(args);
        let ran = harness::run(cmd, Vec::new(), Duration::from_secs(30))?;
        ensure!(ran.status.success(), "mbpoll {args:?}: {}", ran.describe());
        Ok(String::from_utf8_lossy(&ran.stdout).into_owned())
    };
    let values = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with('['))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let read = run(&["-r", "1", "-c", "10", "-1", "127.0.0.1"])?;
    let want: Vec<String> = (0..10).map(|i| format!("[{}]: {}", i + 1, i * 10)).collect();
    ensure_eq!(values(&read), want, "holding registers 0..=9:\n{read}");
    let wrote = run(&["-r", "100", "127.0.0.1", "42", "43"])?;
    ensure!(wrote.contains("Written 2 references"), "the write:\n{wrote}");
    let back = run(&["-r", "100", "-c", "2", "-1", "127.0.0.1"])?;
    ensure_eq!(values(&back), ["[100]: 42", "[101]: 43"], "read back:\n{back}");
    let inputs = run(&["-t", "3", "-r", "1", "-c", "3", "-1", "127.0.0.1"])?;
    ensure_eq!(
        values(&inputs),
        ["[1]: 1000", "[2]: 1001", "[3]: 1002"],
        "input registers:\n{inputs}"
    );
    let coils = run(&["-0", "-t", "0", "-r", "0", "-c", "4", "-1", "127.0.0.1"])?;
    ensure_eq!(
        values(&coils),
        ["[0]: 1", "[1]: 0", "[2]: 0", "[3]: 1"],
        "coils:\n{coils}"
    );
    // Past the end of the seeded table (1000 registers): exception 2.
    let mut cmd = Command::new(&mbpoll);
    cmd.args([
        "-m",
        "tcp",
        "-p",
        &port,
        "-a",
        "1",
        "-r",
        "1000",
        "-c",
        "2",
        "-1",
        "127.0.0.1",
    ]);
    let past = harness::run(cmd, Vec::new(), Duration::from_secs(30))?;
    ensure!(
        !past.status.success() && String::from_utf8_lossy(&past.stderr).contains("Illegal data address"),
        "a read past the end: {}",
        past.describe()
    );
    Ok(())
}

fn frame(tid: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(7 + pdu.len());
    f.extend_from_slice(&tid.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&(pdu.len() as u16 + 1).to_be_bytes());
    f.push(unit);
    f.extend_from_slice(pdu);
    f
}

async fn read_exact_within(s: &mut TcpStream, n: usize) -> Result<Vec<u8>, Failed> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut buf)).await??;
    Ok(buf)
}

/// Reads until the server closes, within 10 s.
async fn read_to_close(s: &mut TcpStream) -> Result<Vec<u8>, Failed> {
    let mut rest = Vec::new();
    match tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await? {
        Ok(_) => Ok(rest),
        // A close with unread data of ours may come as a reset.
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(rest),
        Err(e) => Err(e.into()),
    }
}

/// 1,000 requests in one write, each its own transaction id, reads of
/// different registers and writes mixed: every reply comes, in order.
fn pipelined() -> Outcome {
    harness::block_on(LIMIT, async {
        let server = InRuntime::start(ModbusConfig::seeded()).await?;
        let mut s = TcpStream::connect(&server.addr).await?;
        let mut batch = Vec::new();
        let mut want = Vec::new();
        for i in 0..1000u16 {
            let tid = i.wrapping_mul(7919);
            match i % 3 {
                // Register 500 + i/3 written with i, then read back.
                0 => {
                    let (a, v) = (500 + i / 3, i);
                    let pdu = [6, (a >> 8) as u8, a as u8, (v >> 8) as u8, v as u8];
                    batch.extend(frame(tid, 1, &pdu));
                    want.extend(frame(tid, 1, &pdu));
                }
                1 => {
                    let (a, v) = (500 + i / 3, i - 1);
                    batch.extend(frame(tid, 1, &[3, (a >> 8) as u8, a as u8, 0, 1]));
                    want.extend(frame(tid, 1, &[3, 2, (v >> 8) as u8, v as u8]));
                }
                // A user-defined function code: exception 1.
                _ => {
                    batch.extend(frame(tid, 1, &[0x41, 1, 2]));
                    want.extend(frame(tid, 1, &[0xc1, 1]));
                }
            }
        }
        s.write_all(&batch).await?;
        let got = read_exact_within(&mut s, want.len()).await?;
        harness::same_bytes("the replies to 1,000 pipelined requests", &got, &want)?;
        drop(s);
        let stats = server.stop().await?;
        ensure_eq!(stats.handler_errors.load(Ordering::Relaxed), 0);
        Ok(())
    })
}

const EACH: usize = 30;

/// For each kind of bad behaviour, 30 connections of it run at once next to
/// 30 well-behaved ones: every good connection is answered correctly; an
/// MBAP length over the spec's 254 (0xffff, with 64 KiB after it), under 2
/// (0 or 1), a protocol id other than 0 and plain garbage are each closed at
/// once without a reply, and so end in a typed error, as do closes and
/// resets in the middle of a request.
fn hostile() -> Outcome {
    harness::block_on(LIMIT, async {
        let server = InRuntime::start(ModbusConfig::seeded()).await?;
        type Bad = (&'static str, Vec<u8>);
        let bads: Vec<Bad> = vec![
            ("length 0xffff", {
                let mut b = vec![0, 1, 0, 0, 0xff, 0xff, 1, 3];
                b.extend(vec![0u8; 64 * 1024]);
                b
            }),
            ("length 255", {
                let mut b = vec![0, 1, 0, 0, 0, 255, 1, 16];
                b.extend(vec![0u8; 254]);
                b
            }),
            ("length 0", vec![0, 1, 0, 0, 0, 0]),
            ("length 1", vec![0, 1, 0, 0, 0, 1, 1]),
            (
                "protocol id 7",
                frame(1, 1, &[3, 0, 0, 0, 1])
                    .into_iter()
                    .enumerate()
                    .map(|(i, b)| if i == 3 { 7 } else { b })
                    .collect(),
            ),
            ("garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ];
        let kinds = bads.len();
        let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
        for i in 0..EACH {
            let a = server.addr.clone();
            tasks.spawn(async move { good(&a, i).await.map_err(|e| format!("good {i}: {}", why(e))) });
            for (what, bytes) in &bads {
                let (a, what, bytes) = (server.addr.clone(), *what, bytes.clone());
                tasks.spawn(async move {
                    closed_unanswered(&a, &bytes)
                        .await
                        .map_err(|e| format!("{what} {i}: {}", why(e)))
                });
            }
            let a = server.addr.clone();
            tasks.spawn(async move {
                crate::hostile::close_mid_message(&a, &frame(9, 1, &[3, 0, 0, 0, 1])[..9])
                    .await
                    .map_err(|e| format!("close {i}: {}", why(e)))
            });
            let a = server.addr.clone();
            tasks.spawn(async move {
                crate::hostile::reset_mid_message(&a, &frame(9, 1, &[16, 0, 0, 0, 2, 4, 0, 1, 0, 2])[..14])
                    .await
                    .map_err(|e| format!("reset {i}: {}", why(e)))
            });
        }
        let mut failures = Vec::new();
        while let Some(r) = tasks.join_next().await {
            if let Err(e) = r? {
                failures.push(e);
            }
        }
        ensure!(
            failures.is_empty(),
            "{} failed: {}",
            failures.len(),
            failures.join("; ")
        );
        let stats = server.stop().await?;
        let errors = stats.handler_errors.load(Ordering::Relaxed);
        // A connection reset before the server accepted it is never seen:
        // every other one but the good ones ended in an error.
        let accepted = stats.accepted.load(Ordering::Relaxed);
        let bad = (EACH * (kinds + 2)) as u64;
        ensure!(
            accepted >= bad && errors == accepted - EACH as u64,
            "{errors} of {accepted} connections ended in an error; expected all but the {EACH} good \
             ones ({bad} bad ones started): {stats:?}"
        );
        Ok(())
    })
}

fn why(e: Failed) -> String {
    e.message().unwrap_or("failed").to_string()
}

/// Writes a register of its own (500 + i), reads it back and a seeded one.
async fn good(addr: &str, i: usize) -> Outcome {
    let mut s = TcpStream::connect(addr).await?;
    let a = 500 + i as u16;
    let v = 1000 + i as u16;
    let write = frame(1, 1, &[6, (a >> 8) as u8, a as u8, (v >> 8) as u8, v as u8]);
    s.write_all(&write).await?;
    ensure_eq!(read_exact_within(&mut s, 12).await?, write, "the write's echo");
    s.write_all(&frame(2, 1, &[3, (a >> 8) as u8, a as u8, 0, 1]))
        .await?;
    let mut want = vec![3, 2];
    want.extend_from_slice(&v.to_be_bytes());
    ensure_eq!(
        read_exact_within(&mut s, 11).await?,
        frame(2, 1, &want),
        "the read back"
    );
    s.write_all(&frame(3, 1, &[4, 0, 7, 0, 1])).await?;
    ensure_eq!(
        read_exact_within(&mut s, 11).await?,
        frame(3, 1, &[4, 2, 0x03, 0xef]),
        "input register 7"
    );
    Ok(())
}

async fn closed_unanswered(addr: &str, bytes: &[u8]) -> Outcome {
    let mut s = TcpStream::connect(addr).await?;
    // The server may close before all of it is written.
    let _ = s.write_all(bytes).await;
    let rest = read_to_close(&mut s).await?;
    ensure!(rest.is_empty(), "answered {}", harness::abbreviate(&rest));
    Ok(())
}

/// Connections handed to a server from the test, over in-memory streams.
struct Memory(Mutex<mpsc::Receiver<Stream>>);

impl Accept for Memory {
    async fn accept(&self) -> io::Result<(Stream, String)> {
        match self.0.lock().await.recv().await {
            Some(s) => Ok((s, "memory".to_string())),
            None => std::future::pending().await,
        }
    }
}

const DRIPPERS: usize = 300;

/// 300 clients send a request one byte a second; the spec's 5 s message
/// timeout closes each of them (in virtual time), and a client that comes
/// meanwhile is answered at once.
fn drippers() -> Outcome {
    use tokio::time::Instant;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?
        .block_on(async {
            let (tx, rx) = mpsc::channel(DRIPPERS + 1);
            let stats = Arc::new(ServerStats::default());
            tokio::spawn(servers::modbus::serve(
                Memory(Mutex::new(rx)),
                ModbusConfig {
                    server: ServerConfig::default(),
                    ..ModbusConfig::seeded()
                },
                Arc::clone(&stats),
                std::future::pending(),
            ));
            let start = Instant::now();
            let request = frame(1, 1, &[3, 0, 0, 0, 1]);
            let mut drips = JoinSet::new();
            for _ in 0..DRIPPERS {
                let (mut client, server) = Stream::memory_pair(4096);
                tx.send(server)
                    .await
                    .map_err(|_| "the server stopped accepting")?;
                let request = request.clone();
                drips.spawn(async move {
                    let mut sent = 0usize;
                    // A write fails once the server has dropped its end.
                    while client.write_all(&request[sent % 11..sent % 11 + 1]).await.is_ok() {
                        sent += 1;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    io::Result::Ok((start.elapsed(), sent))
                });
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            let (mut client, server) = Stream::memory_pair(4096);
            tx.send(server)
                .await
                .map_err(|_| "the server stopped accepting")?;
            let asked = Instant::now();
            client.write_all(&request).await?;
            let mut reply = [0u8; 11];
            client.read_exact(&mut reply).await?;
            ensure_eq!(
                reply.to_vec(),
                frame(1, 1, &[3, 2, 0, 0]),
                "the normal client's reply"
            );
            let served_in = asked.elapsed();
            ensure!(
                served_in < Duration::from_secs(1),
                "the normal client waited {served_in:?} (virtual) behind the drippers"
            );
            let mut closed_at = Vec::new();
            while let Some(r) = drips.join_next().await {
                let (at, sent) = r??;
                ensure!(sent <= 7, "a dripper sent {sent} bytes before being closed");
                closed_at.push(at);
            }
            let latest = closed_at.iter().max().copied().unwrap_or_default();
            ensure!(
                closed_at.len() == DRIPPERS && latest <= Duration::from_secs(7),
                "{} drippers closed, the last after {latest:?} (virtual; the message timeout is 5 s)",
                closed_at.len()
            );
            let counted = Instant::now() + Duration::from_secs(1);
            let mut errors = stats.handler_errors.load(Ordering::Relaxed);
            while errors < DRIPPERS as u64 && Instant::now() < counted {
                tokio::time::sleep(Duration::from_millis(10)).await;
                errors = stats.handler_errors.load(Ordering::Relaxed);
            }
            ensure_eq!(errors, DRIPPERS as u64, "connections ended in a timeout");
            Ok(())
        })
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
        .and_then(|v| v.parse().ok())
        .ok_or("bad VmRSS line")?)
}

/// Idle connections: the spec has no idle timeout (`idle = none`), so they
/// stay open; 1,000 of them (`PROTOSPEC_LOAD_CONNECTIONS`, 9,000 in the full
/// run) cost the server a bounded few KiB each, and a client that comes
/// after them is served. Each is left mid-way through nothing: connected,
/// then silent.
fn idle_connections() -> Outcome {
    let n: usize = match std::env::var("PROTOSPEC_LOAD_CONNECTIONS") {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("PROTOSPEC_LOAD_CONNECTIONS={v:?}"))?,
        Err(_) => 1000,
    };
    let server = start_binary(&["--seed", "--max-connections", &(n + 16).to_string()])?;
    let pid = server._process.pid();
    let addr = format!("127.0.0.1:{}", server.port);
    let before = rss_kib(pid)?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(async {
            let mut idle = Vec::with_capacity(n);
            for _ in 0..n {
                idle.push(TcpStream::connect(&addr).await?);
            }
            // Let the server accept them all, then ask on one more.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut s = TcpStream::connect(&addr).await?;
            s.write_all(&frame(5, 1, &[3, 0, 2, 0, 1])).await?;
            ensure_eq!(
                read_exact_within(&mut s, 11).await?,
                frame(5, 1, &[3, 2, 0, 20]),
                "the reply"
            );
            let after = rss_kib(pid)?;
            let per = after.saturating_sub(before) as f64 / n as f64;
            println!("{n} idle connections: {before} KiB -> {after} KiB ({per:.1} KiB each)");
            ensure!(
                after.saturating_sub(before) < 16 * n as u64,
                "{per:.1} KiB per idle connection ({before} -> {after} KiB)"
            );
            // The idle ones are still served.
            for (i, c) in idle.iter_mut().enumerate().step_by(n.max(10) / 10) {
                c.write_all(&frame(i as u16, 1, &[4, 0, 0, 0, 1])).await?;
                ensure_eq!(
                    read_exact_within(c, 11).await?,
                    frame(i as u16, 1, &[4, 2, 0x03, 0xe8]),
                    "idle {i}"
                );
            }
            Ok(())
        })
}
