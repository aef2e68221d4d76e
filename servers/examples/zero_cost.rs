//! The zero-cost check: the generated greeting and daytime servers next to
//! hand-written tokio servers that send the same bytes, under the same
//! loopback load (conversations per second: connect, converse, close),
//! alternating in one run.
//!
//!     cargo run --release -p protospec-servers --example zero_cost [ROUNDS] [SECONDS]
//!
//! Each server runs on a one-thread runtime of its own; the load runs on
//! another one-thread runtime with 32 conversations in flight.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol_runtime::server::{ServerConfig, ServerStats};
use protocol_runtime::transport::Listener;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const IN_FLIGHT: usize = 32;

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    Greeting,
    Daytime,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    println!("| server | hand-written conv/s | generated conv/s | ratio |");
    println!("|---|---|---|---|");
    for protocol in [Protocol::Greeting, Protocol::Daytime] {
        let hand = start(protocol, false);
        let generated = start(protocol, true);
        let (mut h, mut g) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Each goes first every other round, so that what one run leaves
            // behind (sockets in TIME_WAIT) does not always fall on the same one.
            if round % 2 == 0 {
                h.push(load(protocol, &hand, seconds));
                g.push(load(protocol, &generated, seconds));
            } else {
                g.push(load(protocol, &generated, seconds));
                h.push(load(protocol, &hand, seconds));
            }
        }
        let (h, g) = (median(h), median(g));
        let name = if protocol == Protocol::Greeting {
            "greeting"
        } else {
            "daytime"
        };
        println!("| {name} | {h:.0} | {g:.0} | {:.2}× |", g / h);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Starts a server on its own thread and runtime; returns its address.
fn start(protocol: Protocol, generated: bool) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            if generated {
                let listener = Listener::bind(&"127.0.0.1:0".parse().expect("address"))
                    .await
                    .expect("bind");
                tx.send(listener.local_addr().expect("address").to_string())
                    .expect("send");
                let stats = Arc::new(ServerStats::default());
                let config = ServerConfig {
                    max_connections: 4096,
                    ..ServerConfig::default()
                };
                let pending = std::future::pending();
                let _ = match protocol {
                    Protocol::Greeting => servers::greeting::serve(listener, config, stats, pending).await,
                    Protocol::Daytime => servers::daytime::serve(listener, config, stats, pending).await,
                };
            } else {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("address").to_string())
                    .expect("send");
                loop {
                    let Ok((s, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = s.set_nodelay(true);
                    tokio::spawn(async move {
                        let _ = match protocol {
                            Protocol::Greeting => hand_greeting(s).await,
                            Protocol::Daytime => hand_daytime(s).await,
                        };
                    });
                }
            }
        });
    });
    rx.recv().expect("the server's address")
}

/// The greeting by hand: the prompt, a CRLF line of at most 248 bytes, the
/// welcome, close. Reads into a small buffer of its own (no `BufReader`,
/// whose 8 KiB buffer a connection this short does not need).
async fn hand_greeting(mut s: TcpStream) -> std::io::Result<()> {
    s.write_all(b"HELLO?").await?;
    let mut buf = [0u8; 250];
    let mut len = 0;
    let name_len = loop {
        let n = s.read(&mut buf[len..]).await?;
        if n == 0 {
            return Ok(());
        }
        let scan_from = len.saturating_sub(1);
        len += n;
        if let Some(i) = buf[scan_from..len].windows(2).position(|w| w == b"\r\n") {
            break scan_from + i;
        }
        if len == buf.len() {
            return Ok(());
        }
    };
    let mut reply = Vec::with_capacity(name_len + 10);
    reply.extend_from_slice(b"Hello, ");
    reply.extend_from_slice(&buf[..name_len]);
    reply.extend_from_slice(b"!\r\n");
    s.write_all(&reply).await?;
    s.shutdown().await
}

/// Daytime by hand: the time line, close.
async fn hand_daytime(mut s: TcpStream) -> std::io::Result<()> {
    let line = format!("{}\r\n", servers::clock::now());
    s.write_all(line.as_bytes()).await?;
    s.shutdown().await
}

/// Conversations per second against `addr` for `seconds`.
fn load(protocol: Protocol, addr: &str, seconds: u64) -> f64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..IN_FLIGHT {
            let (addr, done) = (addr.to_string(), Arc::clone(&done));
            tasks.spawn(async move {
                while Instant::now() < end {
                    if converse(protocol, &addr).await.is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
    done.load(Ordering::Relaxed) as f64 / seconds as f64
}

async fn converse(protocol: Protocol, addr: &str) -> std::io::Result<()> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut got = Vec::with_capacity(64);
    if protocol == Protocol::Greeting {
        let mut prompt = [0u8; 6];
        s.read_exact(&mut prompt).await?;
        s.write_all(b"Ann\r\n").await?;
    }
    s.read_to_end(&mut got).await?;
    let ok = match protocol {
        Protocol::Greeting => got == b"Hello, Ann!\r\n",
        Protocol::Daytime => got.ends_with(b"\r\n"),
    };
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::other("unexpected answer"))
    }
}
