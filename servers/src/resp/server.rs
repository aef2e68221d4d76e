//! The connection handler, on the code generated from `specs/redis.proto`:
//! commands (RESP arrays or inline lines) are carried out in order against
//! the shared [`Store`], replies are queued and written together once no
//! further command is buffered (a pipeline is answered with one write), and
//! input Redis calls a protocol error is answered as Redis answers it,
//! `-ERR Protocol error: ...`, before the connection is closed.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use protocol_runtime::bytes::Bytes;
use protocol_runtime::connection::{Activity, Connection};
use protocol_runtime::server::{Accept, ServerStats};
use protocol_runtime::session::Event;
use protocol_runtime::transport::Stream;
use protocol_runtime::Error as RtError;
use tokio::sync::Notify;

use crate::specs::redis::{self as r, ClientMessage, ServerMessage};

use super::commands::{self, About, Conn, Ctx, Step};
use super::store::Store;
use super::{Clock, RespConfig, SystemClock};

/// What Redis sends a connection over `maxclients` before closing it.
pub const OVERLOAD_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

/// Expired keys dropped per command, besides those looked up.
const REAP_PER_COMMAND: usize = 20;

/// Serves RESP on `listener` until `shutdown`, on the system clock.
pub async fn serve(
    listener: impl Accept,
    config: RespConfig,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    serve_with_clock(listener, config, Arc::new(SystemClock), stats, shutdown).await
}

/// [`serve`] with a clock of the caller's.
pub async fn serve_with_clock(
    listener: impl Accept,
    config: RespConfig,
    clock: Arc<dyn Clock>,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let shared = Arc::new(Shared::new(&config, clock, 0));
    serve_shared(listener, config, shared, stats, shutdown).await
}

/// [`serve`] with the state of the caller's (to look at the store in tests).
pub async fn serve_shared(
    listener: impl Accept,
    config: RespConfig,
    shared: Arc<Shared>,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut server_config = config.server;
    server_config.overload_reply = Some(Bytes::from_static(OVERLOAD_REPLY));
    protocol_runtime::server::serve(
        listener,
        r::spec(),
        server_config,
        stats,
        move |conn| handle(Arc::clone(&shared), conn),
        shutdown,
    )
    .await
}

/// What every connection shares.
pub struct Shared {
    store: Mutex<Store>,
    clock: Arc<dyn Clock>,
    about: Mutex<About>,
    /// Woken when a command pushed onto a list (for blocked pops).
    pushed: Notify,
    random: AtomicU64,
    next_id: AtomicU64,
    connected: AtomicU64,
    connections: AtomicU64,
    commands: AtomicU64,
}

impl Shared {
    /// `port` is what `INFO` and `CONFIG GET port` report.
    pub fn new(config: &RespConfig, clock: Arc<dyn Clock>, port: u16) -> Shared {
        let started = clock.now_ms();
        Shared {
            store: Mutex::new(Store::new()),
            about: Mutex::new(About {
                port,
                maxmemory: config.maxmemory,
                maxclients: config.server.max_connections,
                threads: config.threads,
                started,
                ..About::default()
            }),
            clock,
            pushed: Notify::new(),
            random: AtomicU64::new(started | 1),
            next_id: AtomicU64::new(1),
            connected: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            commands: AtomicU64::new(0),
        }
    }

    /// The store, locked (never across an await).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn about(&self) -> About {
        let mut about = self.about.lock().unwrap_or_else(|e| e.into_inner()).clone();
        about.connected_clients = self.connected.load(Ordering::Relaxed);
        about.total_connections = self.connections.load(Ordering::Relaxed);
        about.total_commands = self.commands.load(Ordering::Relaxed);
        about
    }

    fn learn_port(&self, stream: &Stream) {
        let mut about = self.about.lock().unwrap_or_else(|e| e.into_inner());
        if about.port == 0 {
            about.port = local_port(stream).unwrap_or(0);
        }
    }

    /// Carries out one command of connection `conn`.
    pub fn execute(&self, conn: &mut Conn, args: Vec<Bytes>) -> Step {
        self.commands.fetch_add(1, Ordering::Relaxed);
        // INFO reads counters the other commands do not need.
        let about = if args.first().is_some_and(|a| a.eq_ignore_ascii_case(b"info")) {
            self.about()
        } else {
            self.about_static()
        };
        let now = self.clock.now_ms();
        let mut random = self.random.load(Ordering::Relaxed);
        let mut store = self.store();
        store.reap(now, REAP_PER_COMMAND);
        let mut ctx = Ctx {
            store: &mut store,
            conn,
            about: &about,
            now,
            random: &mut random,
            pushed: false,
        };
        let step = commands::dispatch(&mut ctx, args);
        let pushed = ctx.pushed;
        drop(store);
        self.random.store(random, Ordering::Relaxed);
        if pushed {
            self.pushed.notify_waiters();
        }
        step
    }

    fn about_static(&self) -> About {
        // Config and the like, but no counters: cheap to copy.
        let a = self.about.lock().unwrap_or_else(|e| e.into_inner());
        About {
            port: a.port,
            maxmemory: a.maxmemory,
            maxclients: a.maxclients,
            threads: a.threads,
            started: a.started,
            ..About::default()
        }
    }

    /// Pops for a blocked `BLPOP`/`BRPOP`, if a list has an element now.
    fn try_pop(&self, conn: &mut Conn, keys: &[Bytes], left: bool) -> Option<r::Value> {
        let about = About::default();
        let mut random = 0;
        let mut store = self.store();
        let mut ctx = Ctx {
            store: &mut store,
            conn,
            about: &about,
            now: self.clock.now_ms(),
            random: &mut random,
            pushed: false,
        };
        match commands::pop_any(&mut ctx, keys, left) {
            Ok(found) => found,
            Err(commands::Fail(why)) => Some(commands::error(why)),
        }
    }
}

/// The port a connection came to.
fn local_port(stream: &Stream) -> Option<u16> {
    match stream {
        Stream::Tcp(s) => s.local_addr().ok().map(|a| a.port()),
        Stream::TlsServer(s) => local_port(s.get_ref().0),
        _ => None,
    }
}

/// Counts a connection in `connected_clients` while it lives.
struct Open<'a>(&'a Shared);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Replies queued past this many bytes are written before the next command
/// is read, so that a client pipelining without end cannot pile them up.
const FLUSH_AT: usize = 64 * 1024;

/// Serves one connection until the client quits or closes.
pub async fn handle(shared: Arc<Shared>, mut conn: Connection<Stream>) -> Result<(), RtError> {
    shared.connected.fetch_add(1, Ordering::Relaxed);
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let _open = Open(&shared);
    shared.learn_port(conn.get_ref());
    let mut state = Conn {
        id: shared.next_id.fetch_add(1, Ordering::Relaxed),
        ..Conn::default()
    };
    let mut unflushed = 0usize;
    loop {
        let event = match next_event(&mut conn, &mut unflushed).await {
            Ok(e) => e,
            Err(e) => return Box::pin(fail(conn, e)).await,
        };
        let args = match event {
            Event::Message(m) => match ClientMessage::from_message(m)? {
                ClientMessage::Command(c) => c.args.into_iter().map(|b| b.data).collect(),
                ClientMessage::Inline(i) => match inline_args(i.args.iter().map(|a| &a[..])) {
                    Ok(args) => args,
                    Err(why) => {
                        queue(&mut conn, commands::error(why), &mut unflushed)?;
                        let _ = Box::pin(conn.close()).await;
                        return Ok(());
                    }
                },
            },
            // A line the spec's inline command does not read (more words
            // than it takes): split as Redis splits it.
            Event::Unrecognized { frame } => {
                let line = frame.strip_suffix(b"\r\n").unwrap_or(&frame);
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                match inline_args(line.split(|&b| b == b' ').filter(|w| !w.is_empty())) {
                    Ok(args) => args,
                    Err(why) => {
                        queue(&mut conn, commands::error(why), &mut unflushed)?;
                        let _ = Box::pin(conn.close()).await;
                        return Ok(());
                    }
                }
            }
            // A bulk string not followed by CRLF.
            Event::Malformed { .. } | Event::Discarded { .. } => {
                let why = "ERR Protocol error: expected CRLF after bulk string".to_string();
                queue(&mut conn, commands::error(why), &mut unflushed)?;
                let _ = Box::pin(conn.close()).await;
                return Ok(());
            }
            Event::Ignored { .. } => continue,
            Event::Closed => {
                let _ = Box::pin(conn.close()).await;
                return Ok(());
            }
        };
        if args.is_empty() {
            // `*0`, `*-1` and an empty line: Redis answers nothing, and neither does this
            // server (the reply the spec counts as owed is never sent; the
            // replies are all of one message, so none is taken for another).
            continue;
        }
        let mut step = shared.execute(&mut state, args);
        if let Step::Block { keys, left, deadline } = step {
            step = Step::Reply(Box::pin(block(&shared, &mut conn, &mut state, keys, left, deadline)).await?);
            unflushed = 0;
        }
        match step {
            Step::Reply(reply) => queue(&mut conn, reply, &mut unflushed)?,
            Step::Close(reply) => {
                queue(&mut conn, reply, &mut unflushed)?;
                let _ = Box::pin(conn.close()).await;
                return Ok(());
            }
            Step::Block { .. } => unreachable!("blocking was resolved above"),
        }
    }
}

fn queue(conn: &mut Connection<Stream>, value: r::Value, unflushed: &mut usize) -> Result<(), RtError> {
    *unflushed += approximate_len(&value);
    conn.queue(&ServerMessage::Reply(r::Reply { value }).into_message())
}

/// Roughly the bytes a reply takes on the wire.
fn approximate_len(v: &r::Value) -> usize {
    match v {
        r::Value::Bulk(b) => b.data.len() + 16,
        r::Value::Array(a) => 16 + a.items.iter().map(approximate_len).sum::<usize>(),
        r::Value::Simple(s) => s.value.len() + 3,
        r::Value::Error(e) => e.value.len() + 3,
        _ => 24,
    }
}

/// The words of an inline command, or the protocol error they are.
fn inline_args<'a>(words: impl Iterator<Item = &'a [u8]>) -> Result<Vec<Bytes>, String> {
    let args: Vec<Bytes> = words.map(Bytes::copy_from_slice).collect();
    // A line starting with `*` that the spec did not read as an array: a
    // count Redis does not take.
    if let Some(first) = args.first().filter(|a| a.starts_with(b"*")) {
        return match commands::parse_int(&first[1..]) {
            // Redis skips `*0` and `*-1`.
            Some(n) if n <= 0 => Ok(Vec::new()),
            _ => Err("ERR Protocol error: invalid multibulk length".into()),
        };
    }
    if args.iter().any(|a| a.contains(&b'"') || a.contains(&b'\'')) {
        return split_quoted(&args);
    }
    Ok(args)
}

/// Redis's `sdssplitargs` on the words of a line that has quotes: `"..."`
/// with escapes (`\n`, `\xff`, ...), `'...'` taken as it is.
fn split_quoted(words: &[Bytes]) -> Result<Vec<Bytes>, String> {
    let line = words.join(&b' ');
    let unbalanced = || "ERR Protocol error: unbalanced quotes in request".to_string();
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        while i < line.len() && line[i] == b' ' {
            i += 1;
        }
        if i == line.len() {
            break;
        }
        let mut arg = Vec::new();
        let mut quote = None;
        loop {
            let Some(&c) = line.get(i) else {
                if quote.is_some() {
                    return Err(unbalanced());
                }
                break;
            };
            match quote {
                None if c == b' ' => break,
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None => arg.push(c),
                Some(q) if c == q => {
                    // A closing quote must end the word.
                    if line.get(i + 1).is_some_and(|&n| n != b' ') {
                        return Err(unbalanced());
                    }
                    i += 1;
                    break;
                }
                Some(b'"') if c == b'\\' && i + 1 < line.len() => {
                    i += 1;
                    let hex = |b: u8| (b as char).to_digit(16);
                    match line[i] {
                        b'x' if i + 2 < line.len()
                            && hex(line[i + 1]).is_some()
                            && hex(line[i + 2]).is_some() =>
                        {
                            arg.push(
                                (hex(line[i + 1]).unwrap_or(0) * 16 + hex(line[i + 2]).unwrap_or(0)) as u8,
                            );
                            i += 2;
                        }
                        b'n' => arg.push(b'\n'),
                        b'r' => arg.push(b'\r'),
                        b't' => arg.push(b'\t'),
                        b'b' => arg.push(8),
                        b'a' => arg.push(7),
                        other => arg.push(other),
                    }
                }
                Some(_) => arg.push(c),
            }
            i += 1;
        }
        out.push(Bytes::from(arg));
    }
    Ok(out)
}

/// The next event: one already buffered if it can be decoded without
/// waiting, else, after the queued replies are written, the next to come.
async fn next_event(conn: &mut Connection<Stream>, unflushed: &mut usize) -> Result<Event, RtError> {
    if *unflushed < FLUSH_AT && !conn.buffered().is_empty() {
        // `recv` is cancel-safe: polled once, then dropped if the rest of a
        // command has yet to come, it loses nothing.
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

/// Answers input Redis would call a protocol error as Redis does, then
/// closes; the error is the connection's.
async fn fail(mut conn: Connection<Stream>, e: RtError) -> Result<(), RtError> {
    let why = match &e {
        RtError::TooMany { .. } => Some("invalid multibulk length".to_string()),
        RtError::TooLong { what, .. } if what.contains("raw") || what.contains("Bulk") => {
            Some("invalid bulk length".to_string())
        }
        RtError::TooLong { .. } => Some("too big inline request".to_string()),
        RtError::TooDeep { .. } => Some("too deeply nested".to_string()),
        RtError::Peer(v) if v.expected.contains("\\r\\n") => Some("expected CRLF after a bulk string".into()),
        RtError::Peer(v) => Some(violation(&v.got.0)),
        _ => None,
    };
    if let Some(why) = why {
        let _ = conn
            .send_raw(format!("-ERR Protocol error: {why}\r\n").as_bytes())
            .await;
    } else {
        let _ = conn.flush().await;
    }
    match e {
        RtError::ShuttingDown => Ok(()),
        e => Err(e),
    }
}

/// Redis's words for bytes the spec does not read as a command, from the
/// start of what was read (the array's header, a bulk string's, or a line).
fn violation(got: &[u8]) -> String {
    let lines: Vec<&[u8]> = got.split(|&b| b == b'\n').collect();
    let what = match (lines.first(), lines.get(1)) {
        (Some(first), Some(second)) if first.starts_with(b"*") => match second.first() {
            Some(b'$') => return "invalid bulk length".into(),
            Some(&c) => c,
            None => return "invalid multibulk length".into(),
        },
        (Some(first), _) if first.starts_with(b"*") => return "invalid multibulk length".into(),
        (Some(first), _) if first.starts_with(b"$") => return "invalid bulk length".into(),
        (Some(first), _) => match first.first() {
            Some(&c) if c != b'\r' => c,
            _ => return "empty inline request".into(),
        },
        (None, _) => return "empty inline request".into(),
    };
    // Redis shows the byte as it is; an error's text is UTF-8.
    let shown = if what.is_ascii_graphic() {
        what as char
    } else {
        '?'
    };
    format!("expected '$', got '{shown}'")
}

/// Waits for a `BLPOP`/`BRPOP` until one of `keys` has an element or the
/// deadline passes (the null array); replies owed before it go out first.
async fn block(
    shared: &Shared,
    conn: &mut Connection<Stream>,
    state: &mut Conn,
    keys: Vec<Bytes>,
    left: bool,
    deadline: Option<u64>,
) -> Result<r::Value, RtError> {
    conn.flush().await?;
    loop {
        let pushed = shared.pushed.notified();
        tokio::pin!(pushed);
        pushed.as_mut().enable();
        if let Some(reply) = shared.try_pop(state, &keys, left) {
            return Ok(reply);
        }
        let now = shared.clock.now_ms();
        let wait = match deadline {
            Some(d) if d <= now => return Ok(r::Value::NullArray(r::NullArray)),
            Some(d) => Duration::from_millis(d - now),
            None => Duration::from_secs(3600),
        };
        if conn.buffered().is_empty() {
            tokio::select! {
                _ = &mut pushed => {}
                activity = conn.peek_activity(wait) => match activity {
                    Activity::Closed | Activity::Reset | Activity::Failed(_) => {
                        return Err(RtError::Closed { state: "Ready".into(), mid_message: false, buffered: 0 });
                    }
                    Activity::Bytes(_) | Activity::Silent => {}
                },
            }
        } else {
            let _ = tokio::time::timeout(wait, pushed).await;
        }
    }
}
