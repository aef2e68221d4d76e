//! The server loop: bind, accept, one task per connection, a connection
//! limit, graceful shutdown, and accept errors that slow the loop down instead
//! of killing it (the shape of Erlang's Ranch: acceptors and max_connections).

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::connection::Connection;
use crate::error::Error;
use crate::layout::Role;
use crate::spec::Protocol;
use crate::transport::{Listener, Stream, TlsServer};

/// How a server behaves at its limits.
#[derive(Clone)]
pub struct ServerConfig {
    /// Connections served at once. Over the limit the server sends
    /// `overload_reply` and closes, or, without one, stops accepting until a
    /// connection ends.
    pub max_connections: usize,
    /// Bytes sent to a connection over the limit before closing it (memcached
    /// sends `ERROR Too many open connections\r\n`). By default the spec's
    /// `overload` declaration, if it has one.
    pub overload_reply: Option<Bytes>,
    /// How long live connections may take to finish after shutdown begins;
    /// connections still open then are aborted.
    pub shutdown_grace: Duration,
    /// Overrides every state's timeout from the spec.
    pub timeout: Option<Duration>,
    /// Serve TLS.
    pub tls: Option<TlsServer>,
    /// How long a TLS handshake may take.
    pub handshake_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 1024,
            overload_reply: None,
            shutdown_grace: Duration::from_secs(10),
            timeout: None,
            tls: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Counts of what a server did, readable while it runs.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub accepted: AtomicU64,
    /// Connections turned away with the overload reply.
    pub rejected: AtomicU64,
    /// Accept calls that failed (e.g. too many open files) and were retried.
    pub accept_errors: AtomicU64,
    /// Handlers that ended with an error.
    pub handler_errors: AtomicU64,
    /// Connections aborted because they outlived the shutdown grace.
    pub aborted: AtomicU64,
}

/// Something connections can be accepted from: a [`Listener`], or in tests a
/// source that injects failures.
pub trait Accept: Send {
    fn accept(&self) -> impl Future<Output = io::Result<(Stream, String)>> + Send;
}

impl Accept for Listener {
    fn accept(&self) -> impl Future<Output = io::Result<(Stream, String)>> + Send {
        Listener::accept(self)
    }
}

/// Serves `spec` on connections from `acceptor`, calling `handler` with each
/// connection in the spec's initial state, until `shutdown` completes. Then it
/// stops accepting, lets live connections finish (their `recv` returns
/// [`Error::ShuttingDown`] between messages, so no reply is cut in half) for
/// up to the grace period, and aborts the rest.
pub async fn serve<A, H, F>(
    acceptor: A,
    spec: Arc<Protocol>,
    config: ServerConfig,
    stats: Arc<ServerStats>,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    A: Accept,
    H: Fn(Connection<Stream>) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), Error>> + Send + 'static,
{
    let handler = Arc::new(handler);
    // The spec's own overload reply, unless the caller chose one.
    let mut config = config;
    if config.overload_reply.is_none() {
        config.overload_reply = spec.overload.as_ref().map(|o| Bytes::from(o.bytes.clone()));
    }
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut backoff = Duration::ZERO;
    tokio::pin!(shutdown);

    loop {
        // Without an overload reply, a full server stops accepting: the
        // kernel's backlog holds new connections until a slot frees.
        let permit = if config.overload_reply.is_none() {
            tokio::select! {
                p = slots.clone().acquire_owned() => Some(p.expect("the semaphore is never closed")),
                _ = &mut shutdown => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    note_finished(done, &stats);
                    continue;
                }
            }
        } else {
            None
        };
        let accepted = tokio::select! {
            r = acceptor.accept() => r,
            _ = &mut shutdown => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                note_finished(done, &stats);
                continue;
            }
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::ZERO;
                a
            }
            Err(e) => {
                // Too many open files and the like pass: wait, then retry.
                stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                tracing::warn!(error = %e, retry_in = ?backoff, "accept failed");
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        let permit = match permit {
            Some(p) => p,
            None => match slots.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    stats.rejected.fetch_add(1, Ordering::Relaxed);
                    let reply = config.overload_reply.clone().unwrap_or_default();
                    tasks.spawn(async move {
                        let mut stream = stream;
                        let _ = tokio::time::timeout(Duration::from_secs(1), async {
                            stream.write_all(&reply).await?;
                            stream.shutdown().await
                        })
                        .await;
                        Ok(())
                    });
                    continue;
                }
            },
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let handler = Arc::clone(&handler);
        let spec = Arc::clone(&spec);
        let stop = stop_rx.clone();
        let tls = config.tls.clone();
        let (timeout, handshake_timeout) = (config.timeout, config.handshake_timeout);
        tasks.spawn(async move {
            let _permit = permit;
            let stream = match tls {
                Some(tls) => match tokio::time::timeout(handshake_timeout, tls.accept(stream)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return Err(Error::Io(e)),
                    Err(_) => {
                        return Err(Error::Io(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "TLS handshake timed out",
                        )))
                    }
                },
                None => stream,
            };
            let mut conn = Connection::new(stream, spec, Role::Server).with_shutdown(stop);
            conn.set_timeout(timeout);
            let r = handler(conn).await;
            if let Err(e) = &r {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            r
        });
    }

    // Shutdown: no more accepts, ask live connections to finish, wait.
    drop(acceptor);
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + config.shutdown_grace;
    while !tasks.is_empty() {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(done)) => note_finished(done, &stats),
            Ok(None) => break,
            Err(_) => {
                stats.aborted.fetch_add(tasks.len() as u64, Ordering::Relaxed);
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                break;
            }
        }
    }
    Ok(())
}

fn note_finished(done: Result<Result<(), Error>, tokio::task::JoinError>, stats: &ServerStats) {
    match done {
        Ok(Ok(())) | Ok(Err(Error::ShuttingDown)) => {}
        Ok(Err(e)) if e.is_clean_close() => {}
        Ok(Err(_)) => {
            stats.handler_errors.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) if e.is_panic() => {
            // One bad connection never hurts another: a panicking handler
            // ends its own task only.
            tracing::error!("connection handler panicked");
            stats.handler_errors.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {}
    }
}
