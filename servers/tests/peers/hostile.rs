//! Hostile peers against the generated servers and clients: drippers held
//! off by per-state timeouts while a normal client is served (tokio's paused
//! clock, in-memory streams), garbage, resets and closes in the middle of a
//! message next to well-behaved connections (real TCP), and generated clients
//! facing servers that send garbage, stall or close early.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::{Failed, Trial};
use protocol_runtime::server::{Accept, ServerConfig, ServerStats};
use protocol_runtime::transport::{Listener, Stream};
use protocol_runtime::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::harness::{self, ensure, Outcome};

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial("hostile::drippers_are_timed_out_and_others_served", &[], drippers),
        harness::trial(
            "hostile::garbage_resets_and_closes_hurt_only_their_connection",
            &[],
            garbage_resets_closes,
        ),
        harness::trial(
            "hostile::greeting_client_facing_bad_servers",
            &[],
            greeting_client,
        ),
        harness::trial(
            "hostile::memcached_client_facing_bad_servers",
            &[],
            memcached_client,
        ),
    ]
}

/// Connections handed to a server from the test, over in-memory streams.
pub(crate) struct Memory(pub(crate) Mutex<mpsc::Receiver<Stream>>);

impl Accept for Memory {
    async fn accept(&self) -> io::Result<(Stream, String)> {
        match self.0.lock().await.recv().await {
            Some(s) => Ok((s, "memory".to_string())),
            None => std::future::pending().await,
        }
    }
}

pub(crate) fn paused_runtime() -> Result<tokio::runtime::Runtime, Failed> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?)
}

const DRIPPERS: usize = 300;

/// 300 clients take the greeting's prompt and then send one byte of a name
/// a second, never its end; the state's 10 s timeout closes each of them
/// (in virtual time), and a client that comes meanwhile is greeted.
fn drippers() -> Outcome {
    paused_runtime()?.block_on(async {
        let (tx, rx) = mpsc::channel(DRIPPERS + 1);
        let stats = Arc::new(ServerStats::default());
        tokio::spawn(servers::greeting::serve(
            Memory(Mutex::new(rx)),
            ServerConfig::default(),
            Arc::clone(&stats),
            std::future::pending(),
        ));
        let start = Instant::now();
        let mut drips = JoinSet::new();
        for _ in 0..DRIPPERS {
            let (mut client, server) = Stream::memory_pair(4096);
            tx.send(server)
                .await
                .map_err(|_| "the server stopped accepting")?;
            drips.spawn(async move {
                let mut prompt = [0u8; 6];
                client.read_exact(&mut prompt).await?;
                let mut sent = 0usize;
                // A write fails once the server has dropped its end.
                while client.write_all(b"A").await.is_ok() {
                    sent += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                io::Result::Ok((start.elapsed(), sent))
            });
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (client, server) = Stream::memory_pair(4096);
        tx.send(server)
            .await
            .map_err(|_| "the server stopped accepting")?;
        let asked = Instant::now();
        let answer = servers::greeting::greet_on(client, "Ann").await?;
        ensure!(answer == "Hello, Ann!", "the normal client got {answer:?}");
        let served_in = asked.elapsed();
        ensure!(
            served_in < Duration::from_secs(1),
            "the normal client waited {served_in:?} (virtual) behind the drippers"
        );
        let mut closed_at = Vec::new();
        while let Some(r) = drips.join_next().await {
            let (at, sent) = r??;
            ensure!(sent <= 12, "a dripper sent {sent} bytes before being closed");
            closed_at.push(at);
        }
        let latest = closed_at.iter().max().copied().unwrap_or_default();
        ensure!(
            closed_at.len() == DRIPPERS && latest <= Duration::from_secs(12),
            "{} drippers closed, the last after {latest:?} (virtual; the state timeout is 10 s)",
            closed_at.len()
        );
        // A connection's handler ends in the same (virtual) instant as the
        // dripper notices; the server loop counts it when it next runs.
        let counted = Instant::now() + Duration::from_secs(1);
        let mut errors = stats.handler_errors.load(Ordering::Relaxed);
        while errors < DRIPPERS as u64 && Instant::now() < counted {
            tokio::time::sleep(Duration::from_millis(10)).await;
            errors = stats.handler_errors.load(Ordering::Relaxed);
        }
        ensure!(
            errors == DRIPPERS as u64,
            "{errors} connections ended with an error, not {DRIPPERS}"
        );
        Ok(())
    })
}

const EACH: usize = 40;

/// The memcached server over real TCP: for each kind of bad behaviour, 40
/// connections of it run at once next to 40 well-behaved ones; every good
/// connection is answered correctly, garbage is answered with `ERROR` and the
/// connection goes on, a half-close after a request still gets the reply, and
/// only the connections cut in the middle of a message end in an error.
fn garbage_resets_closes() -> Outcome {
    harness::block_on(Duration::from_secs(120), async {
        let listener = Listener::bind(&"127.0.0.1:0".parse()?).await?;
        let addr = listener.local_addr()?.to_string();
        let stats = Arc::new(ServerStats::default());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(servers::memcached::serve(
            listener,
            servers::memcached::MemcachedConfig::default(),
            Arc::clone(&stats),
            async move {
                let _ = stop_rx.await;
            },
        ));
        let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
        for i in 0..EACH {
            let a = addr.clone();
            tasks.spawn(async move { good(&a, i).await.map_err(|e| format!("good {i}: {}", why(e))) });
            let a = addr.clone();
            tasks.spawn(async move {
                garbage(&a, i)
                    .await
                    .map_err(|e| format!("garbage {i}: {}", why(e)))
            });
            let a = addr.clone();
            tasks.spawn(async move {
                close_mid_message(&a, b"set cut 0 0 10\r\nabc")
                    .await
                    .map_err(|e| format!("close {i}: {}", why(e)))
            });
            let a = addr.clone();
            tasks.spawn(async move {
                reset_mid_message(&a, b"get a b c")
                    .await
                    .map_err(|e| format!("reset {i}: {}", why(e)))
            });
            let a = addr.clone();
            tasks.spawn(async move {
                half_close(&a, i)
                    .await
                    .map_err(|e| format!("half-close {i}: {}", why(e)))
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
        let _ = stop_tx.send(());
        server.await??;
        // Closes and resets mid-message are errors of their own connections;
        // garbage and half-closes are not errors at all.
        let errors = stats.handler_errors.load(Ordering::Relaxed);
        ensure!(
            errors == 2 * EACH as u64,
            "{errors} connections ended in an error; expected {} (the cut ones)",
            2 * EACH
        );
        Ok(())
    })
}

fn why(e: Failed) -> String {
    e.message().unwrap_or("failed").to_string()
}

async fn exchange(s: &mut tokio::net::TcpStream, request: &[u8], end: &[u8]) -> Result<Vec<u8>, Failed> {
    s.write_all(request).await?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(end) {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await??;
        ensure!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    Ok(got)
}

async fn good(addr: &str, i: usize) -> Outcome {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let value = format!("value-{i}");
    let set = format!("set good-{i} 0 0 {}\r\n{value}\r\n", value.len());
    ensure!(
        exchange(&mut s, set.as_bytes(), b"\r\n").await? == b"STORED\r\n",
        "set"
    );
    let got = exchange(&mut s, format!("get good-{i}\r\n").as_bytes(), b"END\r\n").await?;
    let want = format!("VALUE good-{i} 0 {}\r\n{value}\r\nEND\r\n", value.len());
    ensure!(
        got == want.as_bytes(),
        "get answered {:?}",
        String::from_utf8_lossy(&got)
    );
    Ok(())
}

async fn garbage(addr: &str, i: usize) -> Outcome {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let got = exchange(&mut s, b"\x00\xff\x13 nonsense \xc3\x28\r\n", b"\r\n").await?;
    ensure!(
        got == b"ERROR\r\n",
        "garbage answered {:?}",
        String::from_utf8_lossy(&got)
    );
    let got = exchange(&mut s, format!("get garbage-{i}\r\n").as_bytes(), b"END\r\n").await?;
    ensure!(
        got == b"END\r\n",
        "then get answered {:?}",
        String::from_utf8_lossy(&got)
    );
    Ok(())
}

/// Sends `bytes`, the start of a message, then half-closes: the server
/// must answer nothing and close.
pub(crate) async fn close_mid_message(addr: &str, bytes: &[u8]) -> Outcome {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(bytes).await?;
    s.shutdown().await?;
    let mut rest = Vec::new();
    match tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await? {
        Ok(_) => {}
        // A server that closes with bytes of ours unread resets instead.
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Err(e) => return Err(e.into()),
    }
    ensure!(
        rest.is_empty(),
        "a cut message was answered {}",
        harness::abbreviate(&rest)
    );
    Ok(())
}

/// Sends `bytes`, the start of a message, then resets the connection.
pub(crate) async fn reset_mid_message(addr: &str, bytes: &[u8]) -> Outcome {
    let socket = tokio::net::TcpSocket::new_v4()?;
    // A zero linger makes the close a reset (and never blocks, which is why
    // tokio deprecates other lingers).
    #[allow(deprecated)]
    socket.set_linger(Some(Duration::ZERO))?;
    let mut s = socket.connect(addr.parse()?).await?;
    s.write_all(bytes).await?;
    drop(s);
    Ok(())
}

async fn half_close(addr: &str, i: usize) -> Outcome {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("get half-{i}\r\n").as_bytes()).await?;
    s.shutdown().await?;
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await??;
    ensure!(
        got == b"END\r\n",
        "a half-closed get was answered {:?}",
        String::from_utf8_lossy(&got)
    );
    Ok(())
}

/// The greeting client: a wrong prompt is a violation at once, a silent
/// server is a timeout at the spec's 10 s, a close after the prompt is a
/// close: each a typed error, within the timeout.
fn greeting_client() -> Outcome {
    paused_runtime()?.block_on(async {
        let ten = Duration::from_secs(10);
        let cases: [(&str, &'static [u8], bool); 3] = [
            ("garbage", b"HELLX?", false),
            ("stall", b"", true),
            ("early close", b"HELLO?", false),
        ];
        for (what, sends, stall) in cases {
            let (c, mut s) = Stream::memory_pair(4096);
            let peer = tokio::spawn(async move {
                let _ = s.write_all(sends).await;
                if stall {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                let mut buf = [0u8; 64];
                let _ = tokio::time::timeout(Duration::from_millis(10), s.read(&mut buf)).await;
            });
            let start = Instant::now();
            let r = servers::greeting::greet_on(c, "Ann").await;
            let took = start.elapsed();
            peer.abort();
            ensure!(took <= ten, "{what}: the client took {took:?} (virtual)");
            match (what, &r) {
                ("garbage", Err(Error::Peer(v))) => {
                    ensure!(format!("{v}").contains("HELLX"), "{what}: {r:?}")
                }
                ("stall", Err(Error::Timeout { after, .. })) => ensure!(*after == ten, "{what}: {r:?}"),
                ("early close", Err(Error::Closed { .. })) => {}
                _ => return Err(format!("{what}: unexpected result {r:?}").into()),
            }
        }
        Ok(())
    })
}

/// The memcached_get client: a reply cut in the middle of a data block is a
/// close mid-message, garbage is a violation, silence is a timeout at the
/// spec's 5 min.
fn memcached_client() -> Outcome {
    use servers::specs::memcached_get::{client, Cmd, Get};
    paused_runtime()?.block_on(async {
        let five_min = Duration::from_secs(300);
        let cases: [(&str, &'static [u8], bool); 3] = [
            ("cut data block", b"VALUE k 0 10\r\nabc", false),
            ("garbage", b"VALUES k 0 10\r\n", true),
            ("stall", b"", true),
        ];
        for (what, sends, stall) in cases {
            let (c, mut s) = Stream::memory_pair(4096);
            let peer = tokio::spawn(async move {
                let mut buf = [0u8; 64];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(sends).await;
                if stall {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            });
            let start = Instant::now();
            let r = async {
                let reply = client::from_stream(c)
                    .get(Get {
                        cmd: Cmd::Get,
                        keys: vec!["k".into()],
                    })
                    .await?;
                reply.recv().await.map(|_| ())
            }
            .await;
            let took = start.elapsed();
            peer.abort();
            ensure!(took <= five_min, "{what}: the client took {took:?} (virtual)");
            match (what, &r) {
                (
                    "cut data block",
                    Err(Error::Closed {
                        mid_message: true, ..
                    }),
                ) => {}
                ("garbage", Err(Error::Peer(_))) => {}
                ("stall", Err(Error::Timeout { after, .. })) => ensure!(*after == five_min, "{what}: {r:?}"),
                _ => return Err(format!("{what}: unexpected result {r:?}").into()),
            }
        }
        Ok(())
    })
}
