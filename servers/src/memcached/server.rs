//! The connection handler, on the generated dynamic API: requests are
//! carried out against the shared [`Store`] in order, replies are queued and
//! written together once no further request is buffered (so a pipelined
//! batch is answered with one write), `noreply` requests get no reply, and
//! `quit` closes.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use protocol_runtime::bytes::Bytes;
use protocol_runtime::server::{Accept, ServerStats};
use protocol_runtime::Error as RtError;

use crate::specs::memcached::dynamic::{Received, Server};
use crate::specs::memcached::{self as mc, ClientMessage, ServerMessage};

use super::store::{Delta, DeltaResult, Hit, Mode, Store, StoreConfig, Stored};
use super::unrecognized::{self, Answer};
use super::{Clock, MemcachedConfig, SystemClock, SPEC_MAX_DATA, VERSION};

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
    started: u64,
    threads: usize,
    max_connections: usize,
    server_stats: Option<Arc<ServerStats>>,
    curr_connections: AtomicU64,
    total_connections: AtomicU64,
    /// `rejected` of the server's stats at the last `stats reset`.
    rejected_base: AtomicU64,
    bytes_read: AtomicU64,
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
            curr_connections: AtomicU64::new(0),
            total_connections: AtomicU64::new(0),
            rejected_base: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
        }
    }

    /// The store, locked (never across an await).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic elsewhere cannot leave the store half-changed in a way
        // that matters more than serving on: take it back.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Carries out one request, pushing its replies (none for `noreply`).
    pub fn execute(&self, msg: ClientMessage, out: &mut Vec<ServerMessage>) -> Flow {
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
            ClientMessage::Stats(m) => self.stats(m.args.as_deref(), now, out),
            ClientMessage::Version(_) => out.push(
                mc::VersionReply {
                    version: VERSION.into(),
                }
                .into(),
            ),
            ClientMessage::Verbosity(m) => {
                if !m.noreply {
                    out.push(mc::Ok.into());
                }
            }
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

    fn stats(&self, args: Option<&str>, now: u64, out: &mut Vec<ServerMessage>) {
        let mut stat = |name: &str, value: String| {
            out.push(
                mc::Stat {
                    name: name.into(),
                    value,
                }
                .into(),
            )
        };
        match args.map(str::trim).filter(|a| !a.is_empty()) {
            None => {
                for (name, value) in self.general_stats(now) {
                    stat(name, value);
                }
            }
            Some("settings") => {
                let config = self.store().config();
                stat("maxbytes", config.memory_limit.to_string());
                stat("maxconns", self.max_connections.to_string());
                stat("evictions", "on".into());
                stat("num_threads", self.threads.to_string());
                stat("cas_enabled", "yes".into());
                stat("item_size_max", config.max_item_size.to_string());
                stat("flush_enabled", "yes".into());
            }
            Some("reset") => {
                self.store().reset_counters();
                self.total_connections.store(0, Ordering::Relaxed);
                self.bytes_read.store(0, Ordering::Relaxed);
                self.rejected_base.store(self.rejected_total(), Ordering::Relaxed);
                out.push(mc::Reset.into());
                return;
            }
            // Size tracking is off, as in memcached without `-o track_sizes`.
            Some("sizes") => stat("sizes_status", "disabled".into()),
            // Per-prefix statistics are not kept; the switch is accepted.
            Some("detail on" | "detail off") => {
                out.push(mc::Ok.into());
                return;
            }
            Some(_) => {
                out.push(mc::Error { why: None }.into());
                return;
            }
        }
        out.push(mc::End.into());
    }

    /// `stats` without arguments: memcached's general statistics that this
    /// server keeps, in memcached's order.
    pub fn general_stats(&self, now: u64) -> Vec<(&'static str, String)> {
        let store = self.store();
        let c = store.counters().clone();
        let (curr_items, bytes, limit) = (store.len(), store.bytes(), store.config().memory_limit);
        drop(store);
        let rejected = self
            .rejected_total()
            .saturating_sub(self.rejected_base.load(Ordering::Relaxed));
        vec![
            ("pid", std::process::id().to_string()),
            ("uptime", now.saturating_sub(self.started).to_string()),
            ("time", now.to_string()),
            ("version", VERSION.to_string()),
            ("pointer_size", (usize::BITS).to_string()),
            ("max_connections", self.max_connections.to_string()),
            (
                "curr_connections",
                self.curr_connections.load(Ordering::Relaxed).to_string(),
            ),
            (
                "total_connections",
                self.total_connections.load(Ordering::Relaxed).to_string(),
            ),
            ("rejected_connections", rejected.to_string()),
            ("cmd_get", c.cmd_get.to_string()),
            ("cmd_set", c.cmd_set.to_string()),
            ("cmd_flush", c.cmd_flush.to_string()),
            ("cmd_touch", c.cmd_touch.to_string()),
            ("get_hits", c.get_hits.to_string()),
            ("get_misses", c.get_misses.to_string()),
            ("get_expired", c.get_expired.to_string()),
            ("delete_misses", c.delete_misses.to_string()),
            ("delete_hits", c.delete_hits.to_string()),
            ("incr_misses", c.incr_misses.to_string()),
            ("incr_hits", c.incr_hits.to_string()),
            ("decr_misses", c.decr_misses.to_string()),
            ("decr_hits", c.decr_hits.to_string()),
            ("cas_misses", c.cas_misses.to_string()),
            ("cas_hits", c.cas_hits.to_string()),
            ("cas_badval", c.cas_badval.to_string()),
            ("touch_hits", c.touch_hits.to_string()),
            ("touch_misses", c.touch_misses.to_string()),
            ("store_too_large", c.store_too_large.to_string()),
            ("store_no_memory", c.store_no_memory.to_string()),
            ("bytes_read", self.bytes_read.load(Ordering::Relaxed).to_string()),
            ("limit_maxbytes", limit.to_string()),
            ("threads", self.threads.to_string()),
            ("bytes", bytes.to_string()),
            ("curr_items", curr_items.to_string()),
            ("total_items", c.total_items.to_string()),
            ("evictions", c.evictions.to_string()),
            ("reclaimed", c.reclaimed.to_string()),
        ]
    }

    fn rejected_total(&self) -> u64 {
        self.server_stats
            .as_ref()
            .map_or(0, |s| s.rejected.load(Ordering::Relaxed))
    }

    fn opened(&self) -> OpenConnection<'_> {
        self.curr_connections.fetch_add(1, Ordering::Relaxed);
        self.total_connections.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self)
    }
}

/// Counts a connection in `curr_connections` while it lives.
struct OpenConnection<'a>(&'a Shared);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.curr_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Serves one connection until the client quits or closes.
pub async fn handle(shared: Arc<Shared>, mut conn: Server) -> Result<(), RtError> {
    let _open = shared.opened();
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
        let flow = match received {
            Received::Message(msg) => shared.execute(msg, &mut replies),
            Received::Discarded(msg, _) => {
                shared.discarded(msg, &mut replies);
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
        for reply in replies.drain(..) {
            unflushed += match &reply {
                ServerMessage::Value(v) => v.key.len() + v.data.len() + 64,
                _ => 32,
            };
            conn.queue(reply)?;
        }
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

fn value(key: String, hit: Hit, with_cas: bool) -> ServerMessage {
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
