//! Errors, grouped by fault: the peer broke the protocol, the transport
//! failed, time ran out, the connection closed, or the caller misused the API.

use std::fmt;
use std::time::Duration;

/// Bytes a peer sent, shown as hex and text, for error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct Excerpt(pub Vec<u8>);

/// How many bytes an excerpt keeps.
pub const EXCERPT_LEN: usize = 48;

impl Excerpt {
    pub fn of(bytes: &[u8]) -> Self {
        Excerpt(bytes[..bytes.len().min(EXCERPT_LEN)].to_vec())
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(no bytes)");
        }
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        write!(f, "  \"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The peer sent bytes the spec does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("protocol violation in state `{state}` at byte {offset}: expected {expected}, got {got}")]
pub struct ProtocolViolation {
    /// The spec state the receiver was in.
    pub state: String,
    /// What the spec allowed there.
    pub expected: String,
    /// Offset of the offending bytes in the stream received so far.
    pub offset: u64,
    /// The bytes that came.
    pub got: Excerpt,
}

/// Every error of the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The peer broke the protocol.
    #[error(transparent)]
    Peer(#[from] ProtocolViolation),
    /// A frame or length over its limit (a declared length is rejected
    /// before anything is allocated).
    #[error("{what} of {len} bytes in state `{state}` exceeds the limit of {max} bytes")]
    TooLong {
        state: String,
        what: &'static str,
        len: u64,
        max: usize,
    },
    /// A count of items read from the peer over its limit (rejected before
    /// any item is read or allocated).
    #[error("{what} of {count} items in state `{state}` exceeds the limit of {max}")]
    TooMany {
        state: String,
        what: String,
        count: u64,
        max: usize,
    },
    /// Values nested deeper than the spec's `depth` limit.
    #[error("values nested more than {limit} deep in state `{state}`")]
    TooDeep { state: String, limit: usize },
    /// Reading or writing failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// No complete message came within the state's timeout.
    #[error("timed out after {after:?} in state `{state}` waiting for {waiting_for}")]
    Timeout {
        state: String,
        after: Duration,
        waiting_for: String,
    },
    /// The peer closed the connection.
    #[error("{}", closed_message(*.mid_message, state, *.buffered))]
    Closed {
        state: String,
        mid_message: bool,
        buffered: usize,
    },
    /// The server is shutting down; raised between messages only.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The caller did something the spec or the API does not allow.
    #[error("misuse: {0}")]
    Misuse(String),
}

fn closed_message(mid_message: bool, state: &str, buffered: usize) -> String {
    if mid_message {
        format!("peer closed the connection in the middle of a message in state `{state}` ({buffered} bytes unread)")
    } else {
        format!("peer closed the connection in state `{state}`")
    }
}

impl Error {
    /// True when the peer closed cleanly between messages.
    pub fn is_clean_close(&self) -> bool {
        matches!(
            self,
            Error::Closed {
                mid_message: false,
                ..
            }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
