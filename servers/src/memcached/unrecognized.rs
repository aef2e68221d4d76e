//! What memcached answers to a line it cannot carry out, for the lines the
//! spec does not parse. It follows memcached 1.6's text-protocol dispatch:
//! the line is split into space-separated tokens; a known command with the
//! wrong number of tokens draws `ERROR`, one with a bad argument draws the
//! `CLIENT_ERROR` memcached gives for that argument, and anything else draws
//! `ERROR`. A line ending in an `HTTP/` token closes the connection.
//!
//! memcached is more lenient than the spec in a few places (several spaces
//! between tokens, a trailing space, `delete <key> 0`, extra tokens after a
//! storage command, binary keys). It carries such lines out; here they can
//! only be answered with an error (the spec allows nothing else for a line
//! it does not parse), and `CLIENT_ERROR bad command line format` is the one
//! that says what happened.

use crate::specs::memcached::{ClientError, Error, ServerMessage};

use super::store::KEY_MAX;

/// How to answer a line that matches no request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Send this error; the connection carries on.
    Reply(ServerMessage),
    /// Close without a reply (memcached does so for an HTTP request line).
    Close,
}

/// `CLIENT_ERROR bad command line format`.
pub const BAD_FORMAT: &str = "bad command line format";
/// `delete` with a token other than `0` or `noreply` after the key.
pub const DELETE_USAGE: &str = "bad command line format.  Usage: delete <key> [noreply]";
pub const BAD_EXPTIME: &str = "invalid exptime argument";
pub const BAD_DELTA: &str = "invalid numeric delta argument";
/// A data block not followed by CRLF.
pub const BAD_DATA_CHUNK: &str = "bad data chunk";

/// The answer to `line` (without its CRLF).
pub fn answer(line: &[u8]) -> Answer {
    let tokens: Vec<&[u8]> = line.split(|b| *b == b' ').filter(|t| !t.is_empty()).collect();
    // memcached counts a terminating empty token.
    let n = tokens.len() + 1;
    let Some(&cmd) = tokens.first() else {
        return error();
    };
    if cmd.len() < 2 {
        return error();
    }
    let last = tokens[tokens.len() - 1];
    let key_too_long = || tokens.get(1).is_some_and(|k| k.len() > KEY_MAX);
    match cmd {
        b"get" | b"gets" | b"bget" if n >= 3 => client_error(BAD_FORMAT),
        b"gat" | b"gats" if n >= 3 => {
            if !is_i32(tokens[1]) {
                client_error(BAD_EXPTIME)
            } else {
                client_error(BAD_FORMAT)
            }
        }
        b"set" | b"add" | b"replace" | b"append" | b"prepend" if n == 6 || n == 7 => client_error(BAD_FORMAT),
        b"cas" if n == 7 || n == 8 => client_error(BAD_FORMAT),
        b"incr" | b"decr" if n == 4 || n == 5 => {
            if key_too_long() || is_u64(tokens[2]) {
                client_error(BAD_FORMAT)
            } else {
                client_error(BAD_DELTA)
            }
        }
        b"delete" if (3..=5).contains(&n) => {
            let hold_is_zero = n > 3 && tokens[2] == b"0";
            let noreply = last == b"noreply";
            let valid = n == 3 || n == 4 && (hold_is_zero || noreply) || n == 5 && hold_is_zero && noreply;
            if valid {
                client_error(BAD_FORMAT)
            } else {
                client_error(DELETE_USAGE)
            }
        }
        b"touch" if n == 4 || n == 5 => {
            if !key_too_long() && !is_i32(tokens[2]) {
                client_error(BAD_EXPTIME)
            } else {
                client_error(BAD_FORMAT)
            }
        }
        b"flush_all" if (2..=4).contains(&n) => {
            let noreply = last == b"noreply";
            if n != if noreply { 3 } else { 2 } && !is_i32(tokens[1]) {
                client_error(BAD_EXPTIME)
            } else {
                client_error(BAD_FORMAT)
            }
        }
        b"verbosity" if n == 3 || n == 4 => client_error(BAD_FORMAT),
        // memcached closes on `quit` whatever follows it.
        b"quit" => Answer::Close,
        b"version" | b"stats" => client_error(BAD_FORMAT),
        b"get" | b"gets" | b"bget" | b"gat" | b"gats" | b"set" | b"add" | b"replace" | b"append"
        | b"prepend" | b"cas" | b"incr" | b"decr" | b"delete" | b"touch" | b"flush_all" | b"verbosity" => {
            error()
        }
        _ if last.starts_with(b"HTTP/") => Answer::Close,
        _ => error(),
    }
}

fn error() -> Answer {
    Answer::Reply(Error { why: None }.into())
}

fn client_error(why: &str) -> Answer {
    Answer::Reply(ClientError { why: why.into() }.into())
}

/// memcached's `safe_strtol` on a whole token: a decimal `int32_t`.
fn is_i32(token: &[u8]) -> bool {
    std::str::from_utf8(token).is_ok_and(|s| s.parse::<i32>().is_ok())
}

/// memcached's `safe_strtoull` on a whole token: a decimal `uint64_t`.
fn is_u64(token: &[u8]) -> bool {
    std::str::from_utf8(token).is_ok_and(|s| s.parse::<u64>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(line: &str) -> String {
        match answer(line.as_bytes()) {
            Answer::Reply(ServerMessage::Error(e)) => match e.why {
                Some(why) => format!("ERROR {why}"),
                None => "ERROR".into(),
            },
            Answer::Reply(ServerMessage::ClientError(e)) => format!("CLIENT_ERROR {}", e.why),
            Answer::Reply(other) => format!("{other:?}"),
            Answer::Close => "close".into(),
        }
    }

    /// Each case was checked against memcached 1.6.18.
    #[test]
    fn answers_as_memcached_does() {
        let long_key = "k".repeat(251);
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "ERROR"),
            ("GET k".into(), "ERROR"),
            ("get".into(), "ERROR"),
            ("get ".into(), "ERROR"),
            ("foo".into(), "ERROR"),
            ("x".into(), "ERROR"),
            (format!("get {long_key}"), "CLIENT_ERROR bad command line format"),
            (
                format!("get a {long_key}"),
                "CLIENT_ERROR bad command line format",
            ),
            (
                format!("set {long_key} 0 0 1"),
                "CLIENT_ERROR bad command line format",
            ),
            ("set a 0 0".into(), "ERROR"),
            ("set a".into(), "ERROR"),
            ("set".into(), "ERROR"),
            ("set a x 0 1".into(), "CLIENT_ERROR bad command line format"),
            ("set a 0 x 1".into(), "CLIENT_ERROR bad command line format"),
            ("set a 0 0 x".into(), "CLIENT_ERROR bad command line format"),
            ("set a 0 0 -1".into(), "CLIENT_ERROR bad command line format"),
            ("set a -1 0 1".into(), "CLIENT_ERROR bad command line format"),
            ("set a 0 0 1 noreply extra".into(), "ERROR"),
            ("cas a 0 0 1".into(), "ERROR"),
            ("cas a 0 0 1 x".into(), "CLIENT_ERROR bad command line format"),
            ("delete".into(), "ERROR"),
            (
                "delete a b".into(),
                "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
            ),
            (
                "delete a 5".into(),
                "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
            ),
            (
                format!("delete {long_key}"),
                "CLIENT_ERROR bad command line format",
            ),
            ("incr".into(), "ERROR"),
            ("incr a".into(), "ERROR"),
            ("incr a abc".into(), "CLIENT_ERROR invalid numeric delta argument"),
            ("incr a -1".into(), "CLIENT_ERROR invalid numeric delta argument"),
            ("decr a 1 2 3".into(), "ERROR"),
            ("touch a".into(), "ERROR"),
            ("touch a x".into(), "CLIENT_ERROR invalid exptime argument"),
            ("flush_all x".into(), "CLIENT_ERROR invalid exptime argument"),
            ("flush_all 1 2 3".into(), "ERROR"),
            ("verbosity".into(), "ERROR"),
            ("verbosity x".into(), "CLIENT_ERROR bad command line format"),
            ("verbosity 1 2 3".into(), "ERROR"),
            ("gat".into(), "ERROR"),
            ("gat x k".into(), "CLIENT_ERROR invalid exptime argument"),
            ("quit x".into(), "close"),
            ("GET / HTTP/1.1".into(), "close"),
        ];
        for (line, want) in cases {
            assert_eq!(reply(&line), want, "line {line:?}");
        }
    }
}
