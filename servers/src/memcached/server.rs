//! The connection handler, on the generated dynamic API: requests are
//! carried out against the shared [`Store`] in order, replies are queued and
//! written together once no further request is buffered (so a pipelined
//! batch is answered with one write), `noreply` requests get no reply, and
//! `quit` closes.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use protocol_runtime::bytes::Bytes;
use protocol_runtime::server::{Accept, ServerStats};
use protocol_runtime::transport::Stream;
use protocol_runtime::Error as RtError;

use crate::specs::memcached::dynamic::{Received, Server};
use crate::specs::memcached::{self as mc, ClientError, ClientMessage, ServerMessage};

use super::stats::{self, ConnInfo, Conns};
use super::store::{Delta, DeltaResult, Hit, Mode, Store, StoreConfig, Stored};
use super::unrecognized::{self, Answer, BAD_DATA_CHUNK};
use super::{Clock, MemcachedConfig, SystemClock, SPEC_MAX_DATA, VERSION};

/// The spec's timeout (`timeout 5min;`), which `idle_timeout` reports unless
/// the configuration overrides it.
fn mc_spec_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(5 * 60)
}

/// What memcached sends a connection over its limit before closing it.
pub const OVERLOAD_REPLY: &[u8] = b"ERROR Too many open connections\r\n";

/// Serves memcached on `listener` until `shutdown`, on the system clock.
pub async fn serve(
    listener: impl Accept,
    config: MemcachedConfig,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    serve_with_clock(listener, config, Arc::new(SystemClock), stats, shutdown).await
}

/// [`serve`] with a clock of the caller's.
pub async fn serve_with_clock(
    listener: impl Accept,
    config: MemcachedConfig,
    clock: Arc<dyn Clock>,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let shared = Arc::new(Shared::new(&config, clock, Some(Arc::clone(&stats))));
    let mut server_config = config.server;
    server_config.overload_reply = Some(Bytes::from_static(OVERLOAD_REPLY));
    mc::server::serve(
        listener,
        server_config,
        stats,
        move |start: mc::server::Commands| handle(Arc::clone(&shared), start.into_dynamic()),
        shutdown,
    )
    .await
}

/// What every connection shares: the store, the clock and the counters.
pub struct Shared {
    store: Mutex<Store>,
    clock: Arc<dyn Clock>,
    pub(super) started: u64,
    pub(super) threads: usize,
    pub(super) max_connections: usize,
    /// Seconds an idle connection is kept (`idle_timeout`).
    pub(super) idle_timeout: u64,
    /// Whether connections are served over TLS (`ssl_enabled`).
    pub(super) tls: bool,
    server_stats: Option<Arc<ServerStats>>,
    pub(super) curr_connections: AtomicU64,
    pub(super) total_connections: AtomicU64,
    /// `rejected` of the server's stats at the last `stats reset`.
    pub(super) rejected_base: AtomicU64,
    pub(super) bytes_read: AtomicU64,
    pub(super) bytes_written: AtomicU64,
    /// The last `verbosity` level set.
    pub(super) verbosity: AtomicU64,
    /// `stats detail on|off`.
    pub(super) detail: AtomicBool,
    conns: Mutex<Conns>,
}

/// Whether the connection goes on after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

impl Shared {
    /// `server_stats` supplies `rejected_connections`.
    pub fn new(
        config: &MemcachedConfig,
        clock: Arc<dyn Clock>,
        server_stats: Option<Arc<ServerStats>>,
    ) -> Self {
        let store = Store::new(StoreConfig {
            memory_limit: config.memory_limit,
            // Larger data never reaches the store: the runtime skips it.
            max_item_size: config.max_item_size.min(SPEC_MAX_DATA),
        });
        Shared {
            store: Mutex::new(store),
            started: clock.now(),
            clock,
            threads: config.threads,
            max_connections: config.server.max_connections,
            server_stats,
            idle_timeout: config.server.timeout.unwrap_or(mc_spec_timeout()).as_secs(),
            tls: config.server.tls.is_some(),
            curr_connections: AtomicU64::new(0),
            total_connections: AtomicU64::new(0),
            rejected_base: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            verbosity: AtomicU64::new(0),
            detail: AtomicBool::new(false),
            conns: Mutex::new(Conns::default()),
        }
    }

    /// The store, locked (never across an await).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic elsewhere cannot leave the store half-changed in a way
        // that matters more than serving on: take it back.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open connections, locked (never across an await).
    pub(super) fn conns(&self) -> MutexGuard<'_, Conns> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Carries out one request from connection `conn`, pushing its replies
    /// (none for `noreply`).
    pub fn execute(&self, conn: &ConnInfo, msg: ClientMessage, out: &mut Vec<ServerMessage>) -> Flow {
        let now = self.clock.now();
        match msg {
            ClientMessage::Set(m) => {
                let mode = match m.cmd {
                    mc::SetCmd::Set => Mode::Set,
                    mc::SetCmd::Add => Mode::Add,
                    mc::SetCmd::Replace => Mode::Replace,
                    mc::SetCmd::Append => Mode::Append,
                    mc::SetCmd::Prepend => Mode::Prepend,
                };
                let r = self.store().store(mode, &m.key, m.flags, m.exptime, &m.data, now);
                if !m.noreply {
                    out.push(stored_reply(r));
                }
            }
            ClientMessage::Cas(m) => {
                let r = self
                    .store()
                    .store(Mode::Cas(m.unique), &m.key, m.flags, m.exptime, &m.data, now);
                if !m.noreply {
                    out.push(stored_reply(r));
                }
            }
            ClientMessage::Get(m) => {
                let with_cas = m.cmd == mc::GetCmd::Gets;
                let mut store = self.store();
                for key in m.keys {
                    if let Some(hit) = store.get(&key, now) {
                        out.push(value(key, hit, with_cas));
                    }
                }
                out.push(mc::End.into());
            }
            ClientMessage::Gat(m) => {
                let with_cas = m.cmd == mc::GatCmd::Gats;
                let mut store = self.store();
                for key in m.keys {
                    if let Some(hit) = store.gat(&key, m.exptime, now) {
                        out.push(value(key, hit, with_cas));
                    }
                }
                out.push(mc::End.into());
            }
            ClientMessage::Delete(m) => {
                let found = self.store().delete(&m.key, now);
                if !m.noreply {
                    out.push(if found {
                        mc::Deleted.into()
                    } else {
                        mc::NotFound.into()
                    });
                }
            }
            ClientMessage::Arith(m) => {
                let delta = match m.cmd {
                    mc::ArithCmd::Incr => Delta::Incr,
                    mc::ArithCmd::Decr => Delta::Decr,
                };
                let r = self.store().delta(delta, &m.key, m.amount, now);
                if !m.noreply {
                    out.push(match r {
                        DeltaResult::Value(value) => mc::Number { value }.into(),
                        DeltaResult::NotFound => mc::NotFound.into(),
                        DeltaResult::NonNumeric => {
                            client_error("cannot increment or decrement non-numeric value")
                        }
                        DeltaResult::NoMemory => server_error("out of memory"),
                    });
                }
            }
            ClientMessage::Touch(m) => {
                let found = self.store().touch(&m.key, m.exptime, now);
                if !m.noreply {
                    out.push(if found {
                        mc::Touched.into()
                    } else {
                        mc::NotFound.into()
                    });
                }
            }
            ClientMessage::FlushAll(m) => {
                self.store().flush_all(m.delay.unwrap_or(0), now);
                if !m.noreply {
                    out.push(mc::Ok.into());
                }
            }
            ClientMessage::Stats(m) => self.stats(conn, m.args.as_deref(), now, out),
            ClientMessage::Version(_) => out.push(
                mc::VersionReply {
                    version: VERSION.into(),
                }
                .into(),
            ),
            ClientMessage::Verbosity(m) => {
                self.verbosity.store(m.level.into(), Ordering::Relaxed);
                if !m.noreply {
                    out.push(mc::Ok.into());
                }
            }
            ClientMessage::LruCrawler(m) => self.lru_crawler(&m.args, now, out),
            // A malformed command that asked for no reply: memcached answers
            // nothing.
            ClientMessage::Quiet(_) | ClientMessage::QuietVerbosity(_) => {}
            ClientMessage::Quit(_) => return Flow::Quit,
        }
        Flow::Continue
    }

    /// A storage request whose data was over the spec's limit and skipped
    /// by the runtime.
    pub fn discarded(&self, msg: ClientMessage, out: &mut Vec<ServerMessage>) {
        let (key, noreply) = match &msg {
            ClientMessage::Set(m) => (&m.key, m.noreply),
            ClientMessage::Cas(m) => (&m.key, m.noreply),
            // Only storage requests carry data the runtime may skip.
            _ => return,
        };
        let r = self.store().too_large(key, self.clock.now());
        if !noreply {
            out.push(stored_reply(r));
        }
    }

    pub(super) fn rejected_total(&self) -> u64 {
        self.server_stats
            .as_ref()
            .map_or(0, |s| s.rejected.load(Ordering::Relaxed))
    }

    fn opened(&self, stream: &Stream) -> OpenConnection<'_> {
        self.curr_connections.fetch_add(1, Ordering::Relaxed);
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        let (addr, listen_addr) = stats::addresses(stream);
        let info = self.conns().open(addr, listen_addr, self.clock.now());
        OpenConnection(self, info)
    }
}

/// Counts a connection in `curr_connections` and lists it in `stats conns`
/// while it lives.
struct OpenConnection<'a>(&'a Shared, Arc<ConnInfo>);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.curr_connections.fetch_sub(1, Ordering::Relaxed);
        self.0.conns().close(self.1.id);
    }
}

/// Serves one connection until the client quits or closes.
pub async fn handle(shared: Arc<Shared>, mut conn: Server) -> Result<(), RtError> {
    let open = shared.opened(conn.connection().get_ref());
    let mut replies = Vec::new();
    let mut counted = 0;
    // Roughly the bytes queued and not yet written.
    let mut unflushed = 0;
    loop {
        let received = match next_request(&mut conn, &mut unflushed).await {
            Ok(r) => r,
            Err(e) => {
                // What earlier requests are owed still goes out. (The last
                // moves of a connection are awaited boxed, so that their
                // state does not sit in every idle connection's future.)
                let _ = Box::pin(conn.flush()).await;
                return match e {
                    RtError::ShuttingDown => Ok(()),
                    e => Err(e),
                };
            }
        };
        let read = conn.connection().session().received_bytes();
        shared.bytes_read.fetch_add(read - counted, Ordering::Relaxed);
        counted = read;
        open.1.last_cmd.store(shared.clock.now(), Ordering::Relaxed);
        let flow = match received {
            Received::Message(msg) => shared.execute(&open.1, msg, &mut replies),
            Received::Discarded(msg, _) => {
                shared.discarded(msg, &mut replies);
                Flow::Continue
            }
            // A data block not followed by CRLF: memcached answers this,
            // reads on after the two bytes it found there.
            Received::Malformed(..) => {
                replies.push(
                    ClientError {
                        why: BAD_DATA_CHUNK.into(),
                    }
                    .into(),
                );
                Flow::Continue
            }
            Received::Unrecognized(line) => match unrecognized::answer(&line) {
                Answer::Reply(reply) => {
                    replies.push(reply);
                    Flow::Continue
                }
                Answer::Close => Flow::Quit,
            },
            Received::Closed => Flow::Quit,
        };
        let mut written = 0;
        for reply in replies.drain(..) {
            written += stats::wire_len(&reply);
            conn.queue(reply)?;
        }
        unflushed += written;
        shared.bytes_written.fetch_add(written as u64, Ordering::Relaxed);
        if flow == Flow::Quit {
            // The client is gone or going: a failed last write is no fault.
            let _ = Box::pin(conn.close()).await;
            return Ok(());
        }
    }
}

/// Replies queued past this many bytes are written before the next request
/// is read, so that a client pipelining without end cannot make them pile up.
const FLUSH_AT: usize = 64 * 1024;

/// The next request: one already buffered if it can be decoded without
/// waiting, else, after the queued replies are written, the next to come.
async fn next_request(conn: &mut Server, unflushed: &mut usize) -> Result<Received<ClientMessage>, RtError> {
    if *unflushed < FLUSH_AT && !conn.connection().buffered().is_empty() {
        // `recv` is cancel-safe: polled once, then dropped if the rest of a
        // request has yet to come, it loses nothing.
        let ready = {
            let mut recv = std::pin::pin!(conn.recv());
            std::future::poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await
        };
        if let Poll::Ready(r) = ready {
            return r;
        }
    }
    conn.flush().await?;
    *unflushed = 0;
    conn.recv().await
}

fn stored_reply(r: Stored) -> ServerMessage {
    match r {
        Stored::Stored => mc::Stored.into(),
        Stored::NotStored => mc::NotStored.into(),
        Stored::Exists => mc::Exists.into(),
        Stored::NotFound => mc::NotFound.into(),
        Stored::TooLarge => server_error("object too large for cache"),
        Stored::NoMemory => server_error("out of memory storing object"),
    }
}

fn value(key: Bytes, hit: Hit, with_cas: bool) -> ServerMessage {
    mc::Value {
        key,
        flags: hit.flags,
        cas: with_cas.then_some(hit.cas),
        data: hit.data,
    }
    .into()
}

fn client_error(why: &str) -> ServerMessage {
    mc::ClientError { why: why.into() }.into()
}

fn server_error(why: &str) -> ServerMessage {
    mc::ServerError { why: why.into() }.into()
}

#[cfg(test)]
mod tests;
