//! The server loop: connection limit with and without an overload reply,
//! graceful shutdown, and accept errors. Connections come from an in-memory
//! acceptor so tokio's paused clock makes "nothing happens for a second"
//! deterministic.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Mutex};

use protocol_runtime::server::{serve, Accept, ServerConfig, ServerStats};
use protocol_runtime::session::Event;
use protocol_runtime::transport::Stream;
use protocol_runtime::{Error, Message};

/// Hands the server the streams a test pushes, and fails `failures` accepts first.
struct MemoryAcceptor {
    incoming: Mutex<mpsc::UnboundedReceiver<Stream>>,
    failures: std::sync::atomic::AtomicU32,
}

impl Accept for MemoryAcceptor {
    async fn accept(&self) -> io::Result<(Stream, String)> {
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(io::Error::from_raw_os_error(24)); // EMFILE: too many open files
        }
        match self.incoming.lock().await.recv().await {
            Some(s) => Ok((s, "memory".into())),
            None => std::future::pending().await,
        }
    }
}

struct Harness {
    connect: mpsc::UnboundedSender<Stream>,
    stats: Arc<ServerStats>,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<io::Result<()>>,
}

impl Harness {
    fn connect(&self) -> Stream {
        let (client, server) = Stream::memory_pair(64 * 1024);
        self.connect.send(server).expect("server running");
        client
    }
    async fn shutdown(mut self) -> Arc<ServerStats> {
        let _ = self.stop.take().expect("running").send(());
        self.server.await.expect("server task").expect("server result");
        self.stats
    }
}

/// A greeting server: prompt, read the name, greet, close.
fn start(config: ServerConfig, accept_failures: u32) -> Harness {
    let spec = crate::spec("greeting");
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stats = Arc::new(ServerStats::default());
    let acceptor = MemoryAcceptor {
        incoming: Mutex::new(rx),
        failures: std::sync::atomic::AtomicU32::new(accept_failures),
    };
    let handler_spec = spec.clone();
    let server = tokio::spawn(serve(
        acceptor,
        spec,
        config,
        stats.clone(),
        move |mut conn| {
            let spec = handler_spec.clone();
            async move {
                let prompt = spec.message("Prompt").expect("Prompt");
                let welcome = spec.message("Welcome").expect("Welcome");
                conn.send(&Message::new(prompt, vec![])).await?;
                let name = match conn.recv().await? {
                    Event::Message(m) => m.fields[0].clone(),
                    other => return Err(Error::Misuse(format!("unexpected {other:?}"))),
                };
                conn.send(&Message::new(welcome, vec![name])).await?;
                conn.close().await
            }
        },
        async {
            let _ = stop_rx.await;
        },
    ));
    Harness {
        connect: tx,
        stats,
        stop: Some(stop_tx),
        server,
    }
}

async fn read_exact_n(s: &mut Stream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).await.expect("bytes from the server");
    buf
}

/// Reads until the server closes, within the time the test allows.
async fn read_to_close(s: &mut Stream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .expect("server closes")
        .expect("read");
    out
}

async fn greet(s: &mut Stream, name: &str) -> Vec<u8> {
    assert_eq!(read_exact_n(s, 6).await, b"HELLO?");
    s.write_all(format!("{name}\r\n").as_bytes())
        .await
        .expect("write name");
    read_to_close(s).await
}

#[tokio::test(start_paused = true)]
async fn over_the_limit_without_overload_reply_waits_for_a_slot() {
    let h = start(
        ServerConfig {
            max_connections: 1,
            ..ServerConfig::default()
        },
        0,
    );
    let mut first = h.connect();
    assert_eq!(read_exact_n(&mut first, 6).await, b"HELLO?");
    let mut second = h.connect();
    // The second is not served while the first holds the only slot.
    let mut byte = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_secs(5), second.read(&mut byte)).await;
    assert!(waited.is_err(), "second connection was served over the limit");
    first.write_all(b"Ann\r\n").await.unwrap();
    assert_eq!(read_to_close(&mut first).await, b"Hello, Ann!\r\n");
    // The slot is free: the second is served now.
    assert_eq!(greet(&mut second, "Bo").await, b"Hello, Bo!\r\n");
    let stats = h.shutdown().await;
    assert_eq!(stats.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(stats.rejected.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn over_the_limit_with_overload_reply_answers_and_closes() {
    let config = ServerConfig {
        max_connections: 2,
        overload_reply: Some(Bytes::from_static(b"ERROR Too many open connections\r\n")),
        ..ServerConfig::default()
    };
    let h = start(config, 0);
    let mut a = h.connect();
    let mut b = h.connect();
    assert_eq!(read_exact_n(&mut a, 6).await, b"HELLO?");
    assert_eq!(read_exact_n(&mut b, 6).await, b"HELLO?");
    let mut c = h.connect();
    assert_eq!(
        read_to_close(&mut c).await,
        b"ERROR Too many open connections\r\n"
    );
    a.write_all(b"A\r\n").await.unwrap();
    assert_eq!(read_to_close(&mut a).await, b"Hello, A!\r\n");
    // A slot freed: a new connection is served, not rejected.
    let mut d = h.connect();
    assert_eq!(greet(&mut d, "D").await, b"Hello, D!\r\n");
    b.write_all(b"B\r\n").await.unwrap();
    assert_eq!(read_to_close(&mut b).await, b"Hello, B!\r\n");
    let stats = h.shutdown().await;
    assert_eq!(stats.rejected.load(Ordering::SeqCst), 1);
    assert_eq!(stats.accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn accept_errors_slow_the_loop_down_instead_of_killing_it() {
    let h = start(ServerConfig::default(), 5);
    let mut s = h.connect();
    assert_eq!(greet(&mut s, "Eve").await, b"Hello, Eve!\r\n");
    let stats = h.shutdown().await;
    assert_eq!(stats.accept_errors.load(Ordering::SeqCst), 5);
    assert_eq!(stats.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_a_live_conversation_finish() {
    let h = start(
        ServerConfig {
            shutdown_grace: Duration::from_secs(5),
            ..ServerConfig::default()
        },
        0,
    );
    let mut s = h.connect();
    assert_eq!(read_exact_n(&mut s, 6).await, b"HELLO?");
    // Shutdown begins while the server waits for a name: the name is
    // mid-conversation, so the handler's recv is between messages and ends.
    // Send half a name first: a message in flight is not cut off.
    s.write_all(b"Zo").await.unwrap();
    tokio::task::yield_now().await;
    let Harness {
        connect,
        stats,
        mut stop,
        server,
    } = h;
    let _ = stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(b"e\r\n").await.unwrap();
    assert_eq!(read_to_close(&mut s).await, b"Hello, Zoe!\r\n");
    server.await.unwrap().unwrap();
    drop(connect);
    assert_eq!(stats.aborted.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_aborts_connections_that_outlive_the_grace() {
    let h = start(
        ServerConfig {
            shutdown_grace: Duration::from_secs(2),
            timeout: Some(Duration::from_secs(3600)),
            ..ServerConfig::default()
        },
        0,
    );
    let mut s = h.connect();
    assert_eq!(read_exact_n(&mut s, 6).await, b"HELLO?");
    s.write_all(b"Stall").await.unwrap(); // half a line, never finished
    tokio::task::yield_now().await;
    let stats = h.shutdown().await;
    assert_eq!(stats.aborted.load(Ordering::SeqCst), 1);
    // The aborted connection is closed: the client sees end of stream.
    assert_eq!(read_to_close(&mut s).await, b"");
}

#[tokio::test(start_paused = true)]
async fn idle_connection_ends_at_shutdown_between_messages() {
    let spec = crate::spec("memcached_get");
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stats = Arc::new(ServerStats::default());
    let acceptor = MemoryAcceptor {
        incoming: Mutex::new(rx),
        failures: Default::default(),
    };
    let end = spec.message("End").unwrap();
    let server = tokio::spawn(serve(
        acceptor,
        spec.clone(),
        ServerConfig::default(),
        stats.clone(),
        move |mut conn| async move {
            loop {
                match conn.recv().await? {
                    Event::Message(_) => conn.send(&Message::new(end, vec![])).await?,
                    Event::Closed => return Ok(()),
                    other => return Err(Error::Misuse(format!("unexpected {other:?}"))),
                }
            }
        },
        async {
            let _ = stop_rx.await;
        },
    ));
    let (mut client, server_side) = Stream::memory_pair(4096);
    tx.send(server_side).unwrap();
    client.write_all(b"get a\r\n").await.unwrap();
    assert_eq!(read_exact_n(&mut client, 5).await, b"END\r\n");
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    assert_eq!(read_to_close(&mut client).await, b"");
    assert_eq!(stats.aborted.load(Ordering::SeqCst), 0);
    assert_eq!(stats.handler_errors.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn the_specs_overload_reply_is_sent_over_the_limit() {
    let spec = crate::spec("memcached");
    assert!(
        spec.overload.is_some(),
        "memcached.proto declares its overload reply"
    );
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let stats = Arc::new(ServerStats::default());
    let acceptor = MemoryAcceptor {
        incoming: Mutex::new(rx),
        failures: Default::default(),
    };
    let server = tokio::spawn(serve(
        acceptor,
        spec,
        // No overload reply configured: the spec's is used.
        ServerConfig {
            max_connections: 1,
            ..ServerConfig::default()
        },
        stats.clone(),
        |mut conn| async move {
            loop {
                if let Event::Closed = conn.recv().await? {
                    return Ok(());
                }
            }
        },
        async {
            let _ = stop_rx.await;
        },
    ));
    let (_held, server_side) = Stream::memory_pair(4096);
    tx.send(server_side).unwrap();
    tokio::task::yield_now().await;
    let (mut second, server_side) = Stream::memory_pair(4096);
    tx.send(server_side).unwrap();
    assert_eq!(
        read_to_close(&mut second).await,
        b"ERROR Too many open connections\r\n"
    );
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    assert_eq!(stats.rejected.load(Ordering::SeqCst), 1);
}
