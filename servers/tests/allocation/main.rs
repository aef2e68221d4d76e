//! Hostile sizes against the generated servers and clients, with the whole
//! process's heap capped: an over-long line, a 4 GB length prefix on a
//! `length(u32be)` frame, `set k 0 0 4294967295` on memcached, a 4 GB `VALUE`
//! sent to the memcached client. Each peer streams tens of MiB after the
//! hostile header; the heap may grow by at most `BUDGET` meanwhile, so code
//! that buffered what it was sent would fail to allocate and abort the run.
//! Each case also checks the typed error or reply the spec calls for.
//!
//! A global allocator counts the whole process, so these cases have a test
//! binary of their own and run one after another on one thread.
//!
//! ```text
//! cargo test -p protospec-servers --test allocation
//! ```

use std::alloc::System;
use std::sync::Arc;
use std::time::Duration;

use cap::Cap;
use protocol_runtime::connection::Connection;
use protocol_runtime::layout::Role;
use protocol_runtime::server::{ServerConfig, ServerStats};
use protocol_runtime::transport::{Address, Listener};
use protocol_runtime::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, usize::MAX);

/// How much the heap may grow while a hostile peer streams its bytes: the
/// largest limit involved is memcached's 1 MiB item, plus socket and runtime
/// buffers.
const BUDGET: usize = 8 << 20;

/// What each hostile peer streams after its header.
const FLOOD: usize = 48 << 20;

type Outcome = Result<(), String>;
type Case = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome>>>;
/// A case: its name and how to start it.
type Named = (&'static str, fn() -> Case);

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cases: [Named; 5] = [
        ("memcached_set_of_4_gb_is_discarded", || {
            Box::pin(memcached_huge_set())
        }),
        ("memcached_over_long_line", || Box::pin(memcached_long_line())),
        ("greeting_name_without_end", || Box::pin(greeting_endless_name())),
        ("length_u32be_prefix_of_4_gb", || Box::pin(length_prefix_4gb())),
        ("memcached_client_facing_a_4_gb_value", || {
            Box::pin(client_huge_value())
        }),
    ];
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let mut failed = 0;
    for (name, case) in cases {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let before = HEAP.allocated();
        // Past the budget an allocation fails and the process aborts with
        // "memory allocation of N bytes failed": the case is named first.
        println!("test {name} (heap {before} bytes, budget {BUDGET})");
        HEAP.set_limit(before + BUDGET)
            .expect("limit above what is allocated");
        let r = rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), case()).await });
        HEAP.set_limit(usize::MAX).expect("lift the limit");
        match r {
            Ok(Ok(())) => println!(
                "test {name} ... ok (process heap peak so far {} bytes)",
                HEAP.max_allocated()
            ),
            Ok(Err(e)) => {
                failed += 1;
                println!("test {name} ... FAILED\n  {e}");
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED\n  timed out");
            }
        }
    }
    if failed > 0 {
        println!("{failed} failed");
        std::process::exit(101);
    }
}

fn any_port() -> Address {
    Address::Tcp("127.0.0.1:0".into())
}

/// Writes `n` bytes of `b'x'` in 64 KiB writes, stopping early (without
/// error) if the peer closes; returns how many were written.
async fn flood(s: &mut TcpStream, n: usize) -> usize {
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < n {
        match s.write_all(&chunk).await {
            Ok(()) => sent += chunk.len(),
            Err(_) => break,
        }
    }
    sent
}

async fn read_available(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

async fn memcached() -> Result<(String, tokio::sync::oneshot::Sender<()>), String> {
    let listener = Listener::bind(&any_port()).await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(servers::memcached::serve(
        listener,
        servers::memcached::MemcachedConfig::default(),
        Arc::new(ServerStats::default()),
        async move {
            let _ = rx.await;
        },
    ));
    Ok((addr, tx))
}

/// memcached's answer to a value over its item size, and the connection
/// carries on: the data is skipped as it arrives, never buffered.
async fn memcached_huge_set() -> Outcome {
    let (addr, _stop) = memcached().await?;
    let mut s = TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    s.write_all(b"set k 0 0 4294967295\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let sent = flood(&mut s, FLOOD).await;
    if sent < FLOOD {
        return Err(format!("the server stopped reading after {sent} bytes"));
    }
    // The server is still skipping the declared 4 GB; a fresh connection is
    // served meanwhile.
    let mut other = TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    other.write_all(b"version\r\n").await.map_err(|e| e.to_string())?;
    let got = read_available(&mut other).await;
    if !got.starts_with(b"VERSION ") {
        return Err(format!(
            "another connection got {:?}",
            String::from_utf8_lossy(&got)
        ));
    }
    Ok(())
}

/// A line past the `Get` line's 64 KiB max, never ended: the spec declares
/// no reply for it, so the server closes the connection rather than keep
/// reading the line.
async fn memcached_long_line() -> Outcome {
    let (addr, _stop) = memcached().await?;
    let mut s = TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    s.write_all(b"get ").await.map_err(|e| e.to_string())?;
    let sent = flood(&mut s, FLOOD).await;
    let got = read_available(&mut s).await;
    if sent >= FLOOD || !got.is_empty() {
        return Err(format!(
            "expected a close, got {:?} after {sent} bytes were taken",
            String::from_utf8_lossy(&got)
        ));
    }
    Ok(())
}

/// A greeting name that never ends: the session refuses it at its max (248
/// bytes) and the server closes.
async fn greeting_endless_name() -> Outcome {
    let listener = Listener::bind(&any_port()).await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?.to_string();
    let stats = Arc::new(ServerStats::default());
    tokio::spawn(servers::greeting::serve(
        listener,
        ServerConfig::default(),
        Arc::clone(&stats),
        std::future::pending(),
    ));
    let mut s = TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    let mut prompt = [0u8; 6];
    s.read_exact(&mut prompt).await.map_err(|e| e.to_string())?;
    let sent = flood(&mut s, FLOOD).await;
    if sent >= FLOOD {
        return Err("the server read 48 MiB of one name".into());
    }
    Ok(())
}

const LENGTH_SPEC: &str = r#"
protocol blobs {
    framing length(u32be, max = 64 KiB);
    client message Blob = data: bytes;
    server message Ack = data: bytes;
    state Open {
        exchange Blob -> Ack;
        client closes;
    }
}
"#;

/// A 4 GB length on a `length(u32be, max = 64 KiB)` frame: refused from its
/// four bytes with a typed error naming the length and the max.
async fn length_prefix_4gb() -> Outcome {
    let compiled = protocol_dsl::compile_str("blobs.proto", LENGTH_SPEC);
    let rendered = compiled.render(false);
    let spec = Arc::new(compiled.protocol.ok_or(rendered)?);
    let listener = Listener::bind(&any_port()).await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?.to_string();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut conn = Connection::new(stream, spec, Role::Server);
        match conn.recv().await {
            Ok(m) => Err(std::io::Error::other(format!("a message came: {m:?}"))),
            Err(e) => Ok(e),
        }
    });
    let mut s = TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    s.write_all(&[0xff, 0xff, 0xff, 0xff])
        .await
        .map_err(|e| e.to_string())?;
    let _ = flood(&mut s, 1 << 20).await;
    let e = server
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let text = e.to_string();
    match e {
        Error::TooLong {
            len: 4294967295,
            max: 65536,
            ..
        } => {}
        _ => {
            return Err(format!(
                "expected `TooLong` naming the length and the max, got {text}"
            ))
        }
    }
    Ok(())
}

/// The generated memcached_get client, answered with a 4 GB `VALUE`: a typed
/// error from the line alone (its raw max is 1 MiB).
async fn client_huge_value() -> Outcome {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?.to_string();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"VALUE k 0 4294967295\r\n").await;
            let _ = flood(&mut s, FLOOD).await;
        }
    });
    use servers::specs::memcached_get::{client, Cmd, Get};
    let ready = client::connect(&addr).await.map_err(|e| e.to_string())?;
    let reply = ready
        .get(Get {
            cmd: Cmd::Get,
            keys: vec!["k".into()],
        })
        .await
        .map_err(|e| e.to_string())?;
    match reply.recv().await {
        Err(Error::TooLong {
            len: 4294967295,
            max: 1048576,
            ..
        }) => Ok(()),
        Err(e) => Err(format!(
            "expected `TooLong` naming the length and the max, got {e}"
        )),
        Ok(_) => Err("a 4 GB value was accepted".into()),
    }
}
