//! [`BrokenProxy`]: a deliberately broken peer for the suites to catch. It
//! sits between a client and a real server on loopback, passes every byte
//! on in both directions, and breaks the server's side of each connection in
//! one place: the first (or N-th) occurrence of a byte string is replaced by
//! another (or dropped). A suite that still passes through it does not look
//! at what was broken: a length, a count, a tag, a whole message.
//!
//! ```text
//! let proxy = BrokenProxy::start(&peer.addr(), Rewrite::first(b"$5\r\n", b"$6\r\n"))?;
//! // run the suite against proxy.addr(): it must fail
//! ```

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use libtest_mimic::{Failed, Trial};

use crate::harness::{self, ensure, ensure_eq, Outcome, Peer, Program};

/// What a [`BrokenProxy`] changes in what the server sends on each
/// connection: the `nth` occurrence (from 1, counted left to right without
/// overlaps) of `needle` becomes `replacement`.
#[derive(Debug, Clone)]
pub struct Rewrite {
    pub needle: Vec<u8>,
    /// Empty: the occurrence is dropped.
    pub replacement: Vec<u8>,
    pub nth: usize,
    /// Bytes held back because a match may start in them are sent on anyway
    /// when the server sends nothing more for this long: a reply ending in
    /// the start of the needle must not wait for the next one (the client
    /// would be waiting for it). A match split across two reads further
    /// apart than this is not found.
    pub hold: Duration,
}

impl Rewrite {
    /// The first occurrence of `needle` becomes `replacement`.
    pub fn first(needle: &[u8], replacement: &[u8]) -> Rewrite {
        Rewrite::nth(1, needle, replacement)
    }

    /// The `nth` occurrence (from 1) of `needle` becomes `replacement`.
    pub fn nth(nth: usize, needle: &[u8], replacement: &[u8]) -> Rewrite {
        Rewrite {
            needle: needle.to_vec(),
            replacement: replacement.to_vec(),
            nth,
            hold: Duration::from_millis(100),
        }
    }
}

/// The rewrite applied to one stream, fed as its bytes arrive.
pub struct Rewriter {
    rewrite: Rewrite,
    /// Occurrences passed so far.
    seen: usize,
    /// Bytes not yet passed on: the end of the stream so far, where the
    /// needle may start (a proper prefix of it).
    held: Vec<u8>,
    done: bool,
}

impl Rewriter {
    pub fn new(rewrite: Rewrite) -> Result<Rewriter, String> {
        if rewrite.needle.is_empty() || rewrite.nth == 0 {
            return Err(format!(
                "a rewrite needs a needle and an occurrence from 1: {rewrite:?}"
            ));
        }
        Ok(Rewriter {
            rewrite,
            seen: 0,
            held: Vec::new(),
            done: false,
        })
    }

    /// Whether the rewrite has been made.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Takes the next bytes of the stream; returns what can be passed on.
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        if self.done {
            return data.to_vec();
        }
        self.held.extend_from_slice(data);
        let needle = &self.rewrite.needle;
        let mut out = Vec::with_capacity(self.held.len());
        let mut from = 0;
        while let Some(at) = find(&self.held[from..], needle) {
            let start = from + at;
            let end = start + needle.len();
            out.extend_from_slice(&self.held[from..start]);
            self.seen += 1;
            from = end;
            if self.seen == self.rewrite.nth {
                out.extend_from_slice(&self.rewrite.replacement);
                out.extend_from_slice(&self.held[end..]);
                self.held.clear();
                self.done = true;
                return out;
            }
            out.extend_from_slice(needle);
        }
        // Keep the longest end that could begin a match (at most
        // needle.len() - 1 bytes); the rest goes on.
        let rest = &self.held[from..];
        let keep = (1..needle.len().min(rest.len() + 1))
            .rev()
            .find(|&k| rest.ends_with(&needle[..k]))
            .unwrap_or(0);
        out.extend_from_slice(&rest[..rest.len() - keep]);
        self.held.drain(..self.held.len() - keep);
        out
    }

    /// The bytes held back, given up on: at the end of the stream, or after
    /// [`Rewrite::hold`] without more.
    pub fn flush(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A proxy on a free loopback port to `upstream`, applying a [`Rewrite`] to
/// what the server sends on each connection. Stops accepting when dropped
/// (connections under way run until either side closes).
pub struct BrokenProxy {
    pub port: u16,
    /// Connections whose rewrite was made.
    rewritten: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accepter: Option<thread::JoinHandle<()>>,
}

impl BrokenProxy {
    pub fn start(upstream: &str, rewrite: Rewrite) -> Result<BrokenProxy, Failed> {
        Rewriter::new(rewrite.clone())?;
        let upstream: SocketAddr = upstream
            .parse()
            .map_err(|e| format!("upstream `{upstream}` is not an IP address and port: {e}"))?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        // Polled, so that dropping the proxy stops the thread.
        listener.set_nonblocking(true)?;
        let rewritten = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopping) = (Arc::clone(&rewritten), Arc::clone(&stop));
        let accepter = thread::Builder::new()
            .name(format!("broken proxy {port}"))
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let (rewrite, count) = (rewrite.clone(), Arc::clone(&count));
                            thread::spawn(move || {
                                // A connection that fails only closes.
                                let _ = relay(client, upstream, rewrite, &count);
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })?;
        Ok(BrokenProxy {
            port,
            rewritten,
            stop,
            accepter: Some(accepter),
        })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many connections so far had their rewrite made: a suite that
    /// passes through the proxy where this is 0 was never tested by it.
    pub fn rewritten(&self) -> usize {
        self.rewritten.load(Ordering::SeqCst)
    }
}

impl Drop for BrokenProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accepter.take() {
            let _ = t.join();
        }
    }
}

/// One connection: the client's bytes go up unchanged, the server's come
/// down through a [`Rewriter`]; a half-close is passed on each way.
fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    rewrite: Rewrite,
    rewritten: &AtomicUsize,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    for s in [&client, &server] {
        s.set_nodelay(true)?;
    }
    let (mut up_from, mut up_to) = (client.try_clone()?, server.try_clone()?);
    let upward = thread::spawn(move || {
        let _ = io::copy(&mut up_from, &mut up_to);
        let _ = up_to.shutdown(Shutdown::Write);
    });
    let hold = rewrite.hold;
    let mut rewriter = Rewriter::new(rewrite).map_err(io::Error::other)?;
    let (mut from, mut to) = (server, client);
    let mut buf = vec![0u8; 16 * 1024];
    let result = loop {
        // Waiting with bytes held back is bounded by `hold`.
        let holding = !rewriter.done() && !rewriter.held.is_empty();
        from.set_read_timeout(if holding { Some(hold) } else { None })?;
        match from.read(&mut buf) {
            Ok(0) => break to.write_all(&rewriter.flush()),
            Ok(n) => {
                let was_done = rewriter.done();
                let out = rewriter.push(&buf[..n]);
                // Counted before the client can see it.
                if rewriter.done() && !was_done {
                    rewritten.fetch_add(1, Ordering::SeqCst);
                }
                to.write_all(&out)?;
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                to.write_all(&rewriter.flush())?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    let _ = to.shutdown(Shutdown::Write);
    let _ = upward.join();
    result
}

// ---------------------------------------------------------------------------
// Its own tests

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial(
            "broken_proxy::a_needle_split_across_reads_is_replaced",
            &[],
            split_needle,
        ),
        harness::trial(
            "broken_proxy::only_the_nth_occurrence_changes",
            &[],
            nth_occurrence,
        ),
        harness::trial(
            "broken_proxy::any_cut_of_the_stream_gives_the_same_bytes",
            &[],
            any_cut,
        ),
        harness::trial(
            "broken_proxy::over_tcp_a_split_needle_is_replaced_and_the_rest_passes",
            &[],
            over_tcp,
        ),
        harness::trial(
            "broken_proxy::held_bytes_go_on_after_a_pause_and_at_the_close",
            &[],
            held_bytes,
        ),
        harness::trial(
            "broken_proxy::in_front_of_the_redis_peer",
            &[Program::RedisServer],
            in_front_of_redis,
        ),
    ]
}

/// Feeds `chunks` through a rewriter (flushing at the end) and returns all.
fn through(rewrite: &Rewrite, chunks: &[&[u8]]) -> Result<Vec<u8>, Failed> {
    let mut r = Rewriter::new(rewrite.clone())?;
    let mut out = Vec::new();
    for c in chunks {
        out.extend(r.push(c));
    }
    out.extend(r.flush());
    Ok(out)
}

/// The rewrite applied to a whole stream at once: the reference.
fn reference(rewrite: &Rewrite, stream: &[u8]) -> Vec<u8> {
    let mut seen = 0;
    let mut i = 0;
    while let Some(at) = find(&stream[i..], &rewrite.needle) {
        seen += 1;
        let start = i + at;
        if seen == rewrite.nth {
            let mut out = stream[..start].to_vec();
            out.extend_from_slice(&rewrite.replacement);
            out.extend_from_slice(&stream[start + rewrite.needle.len()..]);
            return out;
        }
        i = start + rewrite.needle.len();
    }
    stream.to_vec()
}

fn split_needle() -> Outcome {
    let length = Rewrite::first(b"$5\r\n", b"$6\r\n");
    let got = through(&length, &[b"*1\r\n$", b"5\r\nhello\r\n"])?;
    harness::same_bytes("a length split after `$`", &got, b"*1\r\n$6\r\nhello\r\n")?;
    // Cut inside the CRLF, and one byte at a time.
    let got = through(&length, &[b"*1\r\n$5\r", b"\nhello\r\n"])?;
    harness::same_bytes("a length split inside CRLF", &got, b"*1\r\n$6\r\nhello\r\n")?;
    let stream = b"*1\r\n$5\r\nhello\r\n";
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    harness::same_bytes(
        "byte by byte",
        &through(&length, &bytes)?,
        b"*1\r\n$6\r\nhello\r\n",
    )?;
    // Dropped: an empty replacement.
    let drop_end = Rewrite::first(b"END\r\n", b"");
    let got = through(&drop_end, &[b"VALUE k 0 1\r\nx\r\nE", b"ND\r\n"])?;
    harness::same_bytes("a dropped END", &got, b"VALUE k 0 1\r\nx\r\n")
}

fn nth_occurrence() -> Outcome {
    let second = Rewrite::nth(2, b"+OK\r\n", b"-ERR\r\n");
    let got = through(&second, &[b"+OK\r\n+O", b"K\r\n+OK\r\n"])?;
    harness::same_bytes("the second +OK", &got, b"+OK\r\n-ERR\r\n+OK\r\n")?;
    // Occurrences do not overlap: `aaa` holds one `aa`, then `aa` again.
    let third = Rewrite::nth(2, b"aa", b"X");
    harness::same_bytes("non-overlapping", &through(&third, &[b"aaa", b"a"])?, b"aaX")?;
    let never = Rewrite::nth(5, b"+OK\r\n", b"");
    let stream = b"+OK\r\n+OK\r\n";
    harness::same_bytes("fewer occurrences than N", &through(&never, &[stream])?, stream)
}

/// Streams of a small alphabet (so needles recur and half-match), cut at
/// seeded random points: what comes out never depends on the cuts.
fn any_cut() -> Outcome {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let alphabet = b"ab\r\n$";
    for round in 0..2000 {
        let needle: Vec<u8> = (0..1 + next(4)).map(|_| alphabet[next(alphabet.len())]).collect();
        let replacement: Vec<u8> = (0..next(4)).map(|_| b'Z').collect();
        let rewrite = Rewrite::nth(1 + next(3), &needle, &replacement);
        let stream: Vec<u8> = (0..next(60)).map(|_| alphabet[next(alphabet.len())]).collect();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let n = 1 + next(rest.len());
            chunks.push(&rest[..n]);
            rest = &rest[n..];
        }
        let got = through(&rewrite, &chunks)?;
        let want = reference(&rewrite, &stream);
        ensure!(
            got == want,
            "round {round}: {rewrite:?} on {:?} cut as {:?}: got {:?}, want {:?}",
            harness::abbreviate(&stream),
            chunks.iter().map(|c| harness::abbreviate(c)).collect::<Vec<_>>(),
            harness::abbreviate(&got),
            harness::abbreviate(&want)
        );
    }
    Ok(())
}

/// What the test upstream does, in order, on its one connection.
enum Step {
    Read(usize),
    Write(&'static [u8]),
    Pause,
}

/// The test upstream's thread: everything it read, once it has closed.
type Upstream = thread::JoinHandle<io::Result<Vec<u8>>>;

/// An upstream that accepts one connection, runs `steps` and closes.
fn upstream(steps: Vec<Step>) -> Result<(u16, Upstream), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept()?;
        s.set_read_timeout(Some(harness::IO_TIMEOUT))?;
        s.set_nodelay(true)?;
        let mut got = Vec::new();
        for step in steps {
            match step {
                Step::Read(n) => {
                    let mut buf = vec![0u8; n];
                    s.read_exact(&mut buf)?;
                    got.extend(buf);
                }
                Step::Write(bytes) => s.write_all(bytes)?,
                Step::Pause => thread::sleep(Duration::from_millis(100)),
            }
        }
        Ok(got)
    });
    Ok((port, server))
}

fn over_tcp() -> Outcome {
    static REQUEST: OnceLock<Vec<u8>> = OnceLock::new();
    static TAIL: OnceLock<Vec<u8>> = OnceLock::new();
    let request = REQUEST.get_or_init(|| harness::pattern(300_000, 3));
    let tail = TAIL.get_or_init(|| harness::pattern(200_000, 9));
    // The needle comes in three writes 100 ms apart: well within `hold`.
    let (port, server) = upstream(vec![
        Step::Read(request.len()),
        Step::Write(b"*1\r\n$"),
        Step::Pause,
        Step::Write(b"5"),
        Step::Pause,
        Step::Write(b"\r\nhello\r\n"),
        Step::Write(tail),
    ])?;
    let rewrite = Rewrite {
        hold: Duration::from_secs(5),
        ..Rewrite::first(b"$5\r\n", b"$6\r\n")
    };
    let proxy = BrokenProxy::start(&format!("127.0.0.1:{port}"), rewrite)?;
    let mut c = harness::connect(proxy.port)?;
    c.write_all(request)?;
    let got = harness::read_to_close(&mut c)?;
    let mut want = b"*1\r\n$6\r\nhello\r\n".to_vec();
    want.extend_from_slice(tail);
    harness::same_bytes("what the client got", &got, &want)?;
    let seen = server.join().map_err(|_| "the upstream panicked")??;
    harness::same_bytes("what the server got", &seen, request)?;
    ensure_eq!(proxy.rewritten(), 1);
    Ok(())
}

fn held_bytes() -> Outcome {
    // The reply ends in `+O`, the start of the needle, and the server sends
    // nothing more until the client has had all of it: the held `+O` must
    // go on after `hold`, not wait for more. Then the held end of the last
    // write goes on at the close.
    let (port, server) = upstream(vec![
        Step::Read(1),
        Step::Write(b"+PONG\r\n+O"),
        Step::Read(1),
        Step::Write(b"K\r\n+O"),
    ])?;
    let proxy = BrokenProxy::start(&format!("127.0.0.1:{port}"), Rewrite::nth(2, b"+OK\r\n", b""))?;
    let mut c = harness::connect(proxy.port)?;
    c.write_all(b"1")?;
    let mut first = [0u8; 9];
    c.read_exact(&mut first)?;
    harness::same_bytes("the reply with its held end", &first, b"+PONG\r\n+O")?;
    c.write_all(b"2")?;
    let rest = harness::read_to_close(&mut c)?;
    harness::same_bytes("the rest, up to the close", &rest, b"K\r\n+O")?;
    let seen = server.join().map_err(|_| "the upstream panicked")??;
    harness::same_bytes("what the server got", &seen, b"12")?;
    // The `+OK` cut by the wait is not found, so no second one either.
    ensure_eq!(proxy.rewritten(), 0);
    Ok(())
}

/// The intended use: a real peer behind the proxy. On each connection the
/// first of two `+PONG`s loses a letter.
fn in_front_of_redis() -> Outcome {
    let redis = Peer::start("redis")?;
    let proxy = BrokenProxy::start(&redis.addr(), Rewrite::first(b"+PONG\r\n", b"+PON\r\n"))?;
    for _ in 0..2 {
        let mut c = TcpStream::connect(proxy.addr())?;
        c.set_read_timeout(Some(harness::IO_TIMEOUT))?;
        c.write_all(b"PING\r\nPING\r\n")?;
        let got = harness::read_until(&mut c, b"+PONG\r\n")?;
        harness::same_bytes("two PINGs through the proxy", &got, b"+PON\r\n+PONG\r\n")?;
    }
    ensure_eq!(proxy.rewritten(), 2);
    Ok(())
}
