//! A transport wrapper that records the bytes of a case in both directions,
//! for the per-case byte log of the reports.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes kept per case (the start of the conversation).
pub const LOG_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Sent,
    Received,
}

/// The recorded conversation: runs of bytes with their direction.
#[derive(Debug, Clone, Default)]
pub struct ByteLog {
    pub entries: Vec<(Direction, Vec<u8>)>,
    pub total: usize,
    pub truncated: bool,
}

impl ByteLog {
    fn push(&mut self, dir: Direction, bytes: &[u8]) {
        self.total += bytes.len();
        let used: usize = self.entries.iter().map(|(_, b)| b.len()).sum();
        let room = LOG_LIMIT.saturating_sub(used);
        if room < bytes.len() {
            self.truncated = true;
        }
        let bytes = &bytes[..bytes.len().min(room)];
        if bytes.is_empty() {
            return;
        }
        match self.entries.last_mut() {
            Some((d, b)) if *d == dir => b.extend_from_slice(bytes),
            _ => self.entries.push((dir, bytes.to_vec())),
        }
    }
}

/// `S` with its traffic recorded.
pub struct Tap<S> {
    inner: S,
    log: Arc<Mutex<ByteLog>>,
}

impl<S> Tap<S> {
    pub fn new(inner: S) -> (Self, Arc<Mutex<ByteLog>>) {
        let log = Arc::new(Mutex::new(ByteLog::default()));
        (
            Tap {
                inner,
                log: log.clone(),
            },
            log,
        )
    }
    fn record(&self, dir: Direction, bytes: &[u8]) {
        if let Ok(mut l) = self.log.lock() {
            l.push(dir, bytes);
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let new = buf.filled()[before..].to_vec();
            self.record(Direction::Received, &new);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.record(Direction::Sent, &buf[..n]);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
