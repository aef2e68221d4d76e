//! The async driver: a [`Session`] on a transport. Thin on purpose: all
//! protocol logic is in the session; this reads, writes and keeps time.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::Error;
use crate::layout::Role;
use crate::session::{Event, Session};
use crate::spec::Protocol;
use crate::value::Message;

/// Bytes asked of the transport per read.
const READ_CHUNK: usize = 4096;

/// Bytes asked per read while nothing is buffered (most requests fit).
const IDLE_READ_CHUNK: usize = 512;

/// How long a connection closed by a server's shutdown keeps reading (and
/// discarding) what its peer still sends, so its last replies are not lost
/// to a reset.
const SHUTDOWN_LINGER: Duration = Duration::from_secs(2);

/// Where a timer with no deadline is parked (it is not polled there).
const FAR_FUTURE: Duration = Duration::from_secs(365 * 24 * 3600);

/// One connection: a session driven over `S`.
///
/// [`recv`](Connection::recv) is cancel-safe: dropping its future (in
/// `select!`, or on a timeout of your own) loses no bytes and no half-read
/// message; the next call resumes where the last one stopped.
pub struct Connection<S> {
    io: S,
    session: Session,
    rbuf: BytesMut,
    wbuf: BytesMut,
    eof: bool,
    shutdown: Option<watch::Receiver<bool>>,
    /// Where this connection is in a server's shutdown.
    stopping: Stopping,
    /// The deadline `recv` waits against, kept from call to call: moving a
    /// registered timer later is cheap, registering a new one per wait is not.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopping {
    No,
    /// Shutdown came while a message was arriving: it is read to its end.
    FinishingOne,
    /// That message was received: the next boundary ends the connection.
    FinishedOne,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    pub fn new(io: S, spec: Arc<Protocol>, role: Role) -> Self {
        Connection {
            io,
            session: Session::new(spec, role, Instant::now().into_std()),
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            eof: false,
            shutdown: None,
            stopping: Stopping::No,
            timer: None,
        }
    }

    /// The server loop's shutdown signal: `recv` returns
    /// [`Error::ShuttingDown`] once it is raised, between messages only.
    pub fn with_shutdown(mut self, shutdown: watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Overrides the spec's per-state timeouts for this connection.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.session.set_timeout(timeout);
    }

    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Receives the next event, waiting at most until the state's deadline.
    pub async fn recv(&mut self) -> Result<Event, Error> {
        self.recv_until(None).await
    }

    /// Like [`recv`](Connection::recv) with a deadline of its own for this
    /// call (the earlier of it and the state's deadline applies).
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Result<Event, Error> {
        self.recv_until(Some(Instant::now() + timeout)).await
    }

    async fn recv_until(&mut self, call_deadline: Option<Instant>) -> Result<Event, Error> {
        let started = call_deadline.map(|_| Instant::now());
        loop {
            // Checked before decoding what is buffered: a pipelining peer
            // always has more requests queued, and shutdown must still come.
            // The message arriving when shutdown is first seen is finished
            // and answered; nothing after it is read.
            if self.stopping != Stopping::FinishingOne
                && self.shutdown_raised()
                && !self.session.mid_message()
                && self.session.pending_replies() == 0
            {
                if self.rbuf.is_empty() || self.stopping == Stopping::FinishedOne {
                    Box::pin(self.close_for_shutdown()).await;
                    return Err(Error::ShuttingDown);
                }
                self.stopping = Stopping::FinishingOne;
            }
            let now = Instant::now().into_std();
            if let Some(event) = self.session.receive(&mut self.rbuf, now)? {
                if self.stopping == Stopping::FinishingOne {
                    self.stopping = Stopping::FinishedOne;
                }
                return Ok(event);
            }
            if self.eof {
                return self.session.receive_eof(&mut self.rbuf, now);
            }
            let state_deadline = self.session.deadline().map(Instant::from_std);
            let deadline = match (call_deadline, state_deadline) {
                (Some(c), Some(s)) => Some(c.min(s)),
                (c, s) => c.or(s),
            };
            // Between messages a connection may wait a long time, and a
            // server holds thousands of them: it waits with a small buffer.
            let chunk = if self.rbuf.is_empty() {
                if self.rbuf.capacity() > IDLE_READ_CHUNK {
                    self.rbuf = BytesMut::new();
                }
                IDLE_READ_CHUNK
            } else {
                READ_CHUNK
            };
            if self.rbuf.capacity() - self.rbuf.len() < chunk / 4 {
                self.rbuf.reserve(chunk);
            }
            let between_messages = self.rbuf.is_empty() && !self.session.mid_message();
            let shutdown = self.shutdown.clone();
            // No deadline (an idle wait that may last): the timer is left
            // where it is and not polled.
            let timed = deadline.is_some();
            let timer = match (&mut self.timer, deadline) {
                (Some(t), Some(deadline)) => {
                    if t.deadline() != deadline {
                        t.as_mut().reset(deadline);
                    }
                    t
                }
                (Some(t), None) => t,
                (None, deadline) => self.timer.insert(Box::pin(tokio::time::sleep_until(
                    deadline.unwrap_or_else(|| Instant::now() + FAR_FUTURE),
                ))),
            };
            tokio::select! {
                // Bytes that have come win over a deadline that has passed.
                biased;
                read = self.io.read_buf(&mut self.rbuf) => match read {
                    Err(e) => return Err(Error::Io(e)),
                    Ok(0) => self.eof = true,
                    Ok(_) => {}
                },
                () = timer.as_mut(), if timed => {
                    let mut e = self.session.timeout_error();
                    // The call's own limit came first: report that one.
                    if let (Some(call), Some(started), Error::Timeout { after, .. }) =
                        (call_deadline, started, &mut e)
                    {
                        if state_deadline.is_none_or(|s| call < s) {
                            *after = call.saturating_duration_since(started);
                        }
                    }
                    return Err(e);
                }
                _ = wait_shutdown(shutdown), if between_messages => {
                    Box::pin(self.close_for_shutdown()).await;
                    return Err(Error::ShuttingDown);
                }
            }
        }
    }

    fn shutdown_raised(&self) -> bool {
        // A dropped sender means the server is gone: treat it as shutdown.
        self.shutdown
            .as_ref()
            .is_some_and(|rx| *rx.borrow() || rx.has_changed().is_err())
    }

    /// Ends the connection at shutdown without losing a reply already sent:
    /// requests read but not answered are dropped, the replies queued are
    /// written, our side is shut (the peer reads every reply, then the end),
    /// and what the peer still sends is read and discarded for a moment —
    /// closing with unread input would make the kernel reset the connection
    /// and throw away replies the peer has not read yet. (`recv` awaits it
    /// boxed: it happens once, and inline its state would enlarge every
    /// `recv` future, so every idle connection.)
    async fn close_for_shutdown(&mut self) {
        let drain = async {
            self.flush().await?;
            self.io.shutdown().await?;
            // On the heap: an array here would sit in every `recv` future,
            // and so in every idle connection, for a moment at shutdown.
            let mut scratch = vec![0u8; READ_CHUNK];
            while self.io.read(&mut scratch).await? > 0 {}
            Ok::<(), Error>(())
        };
        let _ = tokio::time::timeout(SHUTDOWN_LINGER, drain).await;
        self.rbuf.clear();
    }

    /// Encodes and sends one message, and flushes it.
    pub async fn send(&mut self, msg: &Message) -> Result<(), Error> {
        self.queue(msg)?;
        self.flush().await
    }

    /// Encodes a message into the write buffer without sending it, so that
    /// several (pipelined requests, a batch of replies) go out in one write.
    pub fn queue(&mut self, msg: &Message) -> Result<(), Error> {
        self.session.send(msg, &mut self.wbuf, Instant::now().into_std())
    }

    /// Writes everything queued, within the state's timeout.
    pub async fn flush(&mut self) -> Result<(), Error> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        // An idle wait has no deadline, but a write must end: the message
        // timeout, from now.
        let deadline = self
            .session
            .deadline()
            .map_or_else(|| Instant::now() + self.session.timeout(), Instant::from_std);
        let write = async {
            self.io.write_all(&self.wbuf).await?;
            self.io.flush().await
        };
        match tokio::time::timeout_at(deadline, write).await {
            Err(_) => Err(self.session.timeout_error()),
            Ok(Err(e)) => Err(Error::Io(e)),
            Ok(Ok(())) => {
                self.wbuf.clear();
                Ok(())
            }
        }
    }

    /// Sends bytes written by hand, keeping the session in step
    /// ([`Session::send_bytes`]): they must be whole messages of the spec, or
    /// (from a client) input the state's `otherwise` answers. Nothing is
    /// written if they are not.
    pub async fn send_bytes(&mut self, bytes: &[u8]) -> Result<Vec<crate::session::Sent>, Error> {
        let sent = self.session.send_bytes(bytes, Instant::now().into_std())?;
        self.flush().await?;
        self.io.write_all(bytes).await?;
        self.io.flush().await?;
        Ok(sent)
    }

    /// Sends raw bytes outside the spec (conformance setup, deliberate
    /// garbage); the session's state does not move, so what the peer answers
    /// is read against the state as it was.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.flush().await?;
        self.io.write_all(bytes).await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Shuts our writing side down (half-close), if the spec allows it.
    pub async fn shutdown_write(&mut self) -> Result<(), Error> {
        self.flush().await?;
        self.session.shutdown_write(Instant::now().into_std())?;
        self.io.shutdown().await?;
        Ok(())
    }

    /// Records in the session that we close here, checking the spec allows
    /// it, without closing the transport yet.
    pub fn note_close(&mut self) -> Result<(), Error> {
        self.session.close()
    }

    /// Flushes and closes the connection.
    pub async fn close(mut self) -> Result<(), Error> {
        self.flush().await?;
        self.io.shutdown().await?;
        Ok(())
    }

    /// Takes the bytes queued by [`queue`](Connection::queue) without
    /// writing them, so a caller can write them its own way (the conformance
    /// runner splits writes deliberately). The session has already moved.
    pub fn take_queued(&mut self) -> BytesMut {
        std::mem::take(&mut self.wbuf)
    }

    /// Reads exactly `n` bytes outside the spec (the session does not see
    /// them), waiting at most `timeout`. Returns fewer if the peer closes.
    pub async fn recv_raw(&mut self, n: usize, timeout: Duration) -> Result<bytes::Bytes, Error> {
        let deadline = Instant::now() + timeout;
        while self.rbuf.len() < n && !self.eof {
            self.rbuf
                .reserve(READ_CHUNK.max(n - self.rbuf.len()).min(1 << 20));
            match tokio::time::timeout_at(deadline, self.io.read_buf(&mut self.rbuf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(Error::Io(e)),
                Ok(Ok(0)) => self.eof = true,
                Ok(Ok(_)) => {}
            }
        }
        let take = n.min(self.rbuf.len());
        Ok(self.rbuf.split_to(take).freeze())
    }

    /// Waits up to `timeout` for the peer's next move at the byte level,
    /// without decoding: bytes, end of stream, a reset, or nothing.
    pub async fn peek_activity(&mut self, timeout: Duration) -> Activity {
        if !self.rbuf.is_empty() {
            return Activity::Bytes(self.rbuf.len());
        }
        if self.eof {
            return Activity::Closed;
        }
        self.rbuf.reserve(READ_CHUNK);
        match tokio::time::timeout(timeout, self.io.read_buf(&mut self.rbuf)).await {
            Err(_) => Activity::Silent,
            Ok(Ok(0)) => {
                self.eof = true;
                Activity::Closed
            }
            Ok(Ok(n)) => Activity::Bytes(n),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Activity::Reset,
            Ok(Err(e)) => Activity::Failed(e),
        }
    }

    /// Unread bytes buffered from the peer.
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf
    }

    pub fn into_parts(self) -> (S, Session) {
        (self.io, self.session)
    }
}

/// What the peer did, at the byte level (see [`Connection::peek_activity`]).
#[derive(Debug)]
pub enum Activity {
    /// Bytes arrived (and are buffered for the next `recv`).
    Bytes(usize),
    /// End of stream.
    Closed,
    /// The connection was reset.
    Reset,
    /// Nothing within the time.
    Silent,
    /// Another I/O error.
    Failed(std::io::Error),
}

async fn wait_shutdown(rx: Option<watch::Receiver<bool>>) {
    match rx {
        Some(mut rx) => {
            // A dropped sender means the server is gone: treat it as shutdown.
            let _ = rx.wait_for(|v| *v).await;
        }
        None => std::future::pending().await,
    }
}
