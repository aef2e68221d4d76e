//! `conformance record`: a proxy between a real client and a real server
//! that decodes their conversation with the spec and writes it down as a
//! transcript case per connection.
//!
//! The proxy passes every byte on as soon as it reads it; recording never
//! changes what either side sees (a reset is passed on as a close, which is
//! all a proxy can do). Each chunk is handed to the recorder before it is
//! forwarded, so an answer is always recorded after what it answers.

pub mod tap;
pub mod write;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use protocol_runtime::layout::Role;
use protocol_runtime::spec::Protocol;
use protocol_runtime::transport::{Address, Listener, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

pub use tap::{Deviation, Step, Tap};
pub use write::RecordedCase;

/// What to record and where to send it.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    pub spec: Arc<Protocol>,
    /// The real server.
    pub upstream: Address,
    pub connect_timeout: Duration,
    /// Stop after this many connections have ended; `None`: until stopped.
    pub connections: Option<usize>,
}

/// What happens while recording, as it happens.
#[derive(Debug)]
pub enum Notice {
    Opened {
        connection: usize,
        peer: String,
    },
    /// A side deviated from the spec; the rest of its connection is recorded
    /// as raw bytes.
    Deviation {
        connection: usize,
        deviation: Deviation,
    },
    /// The upstream server could not be reached; the client was closed.
    UpstreamFailed {
        connection: usize,
        error: String,
    },
    /// A connection ended (or recording stopped): its case.
    Ended {
        connection: usize,
        case: RecordedCase,
        deviations: usize,
    },
}

/// Accepts clients on `listener` and records each connection until
/// `config.connections` have ended or `stop` turns true; connections still
/// open then end their case where they are.
pub async fn record(
    listener: Listener,
    config: RecordConfig,
    notices: mpsc::UnboundedSender<Notice>,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let config = Arc::new(config);
    let mut tasks = tokio::task::JoinSet::new();
    let mut accepted = 0usize;
    loop {
        if config.connections.is_some_and(|n| accepted >= n) {
            break;
        }
        let (client, peer) = tokio::select! {
            r = listener.accept() => r?,
            _ = stop_requested(&mut stop) => break,
        };
        accepted += 1;
        let _ = notices.send(Notice::Opened {
            connection: accepted,
            peer,
        });
        tasks.spawn(connection(
            accepted,
            client,
            Arc::clone(&config),
            notices.clone(),
            stop.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Resolves once `stop` turns true (never, if its sender is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What a pump saw on one side.
enum Seen {
    Bytes(Role, Bytes),
    Eof(Role),
    Reset(Role),
}

async fn connection(
    number: usize,
    client: Stream,
    config: Arc<RecordConfig>,
    notices: mpsc::UnboundedSender<Notice>,
    mut stop: watch::Receiver<bool>,
) {
    let upstream =
        match tokio::time::timeout(config.connect_timeout, Stream::connect(&config.upstream, None)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let error = format!("cannot connect to {}: {e}", config.upstream);
                let _ = notices.send(Notice::UpstreamFailed {
                    connection: number,
                    error,
                });
                return;
            }
            Err(_) => {
                let error = format!(
                    "cannot connect to {}: no answer within {:?}",
                    config.upstream, config.connect_timeout
                );
                let _ = notices.send(Notice::UpstreamFailed {
                    connection: number,
                    error,
                });
                return;
            }
        };
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let (client_read, client_write) = tokio::io::split(client);
    let (server_read, server_write) = tokio::io::split(upstream);
    let pumps = [
        tokio::spawn(pump(client_read, server_write, Role::Client, seen_tx.clone())),
        tokio::spawn(pump(server_read, client_write, Role::Server, seen_tx)),
    ];

    let mut tap = Tap::new(Arc::clone(&config.spec), Instant::now());
    let mut stopped = false;
    loop {
        let event = tokio::select! {
            e = seen.recv() => e,
            _ = stop_requested(&mut stop), if !stopped => {
                stopped = true;
                None
            }
        };
        let Some(event) = event else { break };
        let deviation = match event {
            Seen::Bytes(Role::Client, b) => tap.client_bytes(&b, Instant::now()),
            Seen::Bytes(Role::Server, b) => tap.server_bytes(&b, Instant::now()),
            Seen::Eof(role) => tap.eof(role, Instant::now()),
            Seen::Reset(role) => {
                tap.reset(role);
                None
            }
        };
        if let Some(deviation) = deviation {
            let _ = notices.send(Notice::Deviation {
                connection: number,
                deviation,
            });
        }
    }
    for p in &pumps {
        p.abort();
    }
    let (mut steps, deviations) = tap.finish();
    let deviations = deviations.len();
    if stopped {
        steps.push(Step::Note(
            "recording stopped here, with the connection still open".into(),
        ));
    }
    let _ = notices.send(Notice::Ended {
        connection: number,
        case: RecordedCase {
            name: format!("connection {number}"),
            steps,
        },
        deviations,
    });
}

/// Copies one direction, reporting each chunk before passing it on.
async fn pump<R, W>(mut from: R, mut to: W, role: Role, seen: mpsc::UnboundedSender<Seen>)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) => {
                let _ = seen.send(Seen::Eof(role));
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => {
                let _ = seen.send(Seen::Bytes(role, Bytes::copy_from_slice(&buf[..n])));
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                let _ = seen.send(Seen::Reset(role));
                let _ = to.shutdown().await;
                return;
            }
            Err(_) => {
                let _ = seen.send(Seen::Reset(role));
                return;
            }
        }
    }
}
