//! The sans-IO half of recording: the bytes each side of one connection
//! sent, in the order the proxy saw them, decoded with the spec into the
//! steps of a transcript case.
//!
//! Two sessions follow the conversation: one in the server's seat decodes the
//! client's bytes, one in the client's seat decodes the server's, and each
//! is told what the other decoded so both stay in the spec's state. Whatever
//! the spec cannot name is kept as raw bytes, so nothing either side sent is
//! dropped from the recording.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use protocol_runtime::layout::Role;
use protocol_runtime::session::{Event, Session};
use protocol_runtime::spec::{MessageId, Protocol};
use protocol_runtime::Value;

/// One step of a recorded case.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Message {
        role: Role,
        message: MessageId,
        fields: Vec<Value>,
    },
    /// Bytes the spec has no message for here, exactly as sent.
    Raw {
        role: Role,
        bytes: Vec<u8>,
    },
    Closes {
        role: Role,
    },
    HalfCloses {
        role: Role,
    },
    Resets {
        role: Role,
    },
    /// A comment in the transcript (where a side deviated from the spec).
    Note(String),
}

/// A side deviated from the spec; from there on the connection is recorded
/// as raw bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    pub role: Role,
    pub message: String,
}

/// The bytes one side sent: `buf` is what the session has yet to decode and
/// `tape` mirrors it from the first byte not yet given to a step, so each
/// event's exact bytes are known even when a message took several reads.
#[derive(Debug, Default)]
struct Side {
    buf: BytesMut,
    tape: BytesMut,
}

impl Side {
    fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
        self.tape.extend_from_slice(chunk);
    }
    /// The bytes the session consumed since the last step.
    fn consumed(&mut self) -> Bytes {
        let n = self.tape.len() - self.buf.len();
        self.tape.split_to(n).freeze()
    }
    /// Everything not yet given to a step (decoded or not).
    fn rest(&mut self) -> Bytes {
        self.buf.clear();
        self.tape.split().freeze()
    }
}

/// Records one connection.
#[derive(Debug)]
pub struct Tap {
    /// In the server's seat: decodes what the client sends.
    of_client: Session,
    /// In the client's seat: decodes what the server sends.
    of_server: Session,
    client: Side,
    server: Side,
    steps: Vec<Step>,
    deviations: Vec<Deviation>,
    /// After a deviation nothing is decoded any more.
    raw: bool,
    /// The client closed while replies were still coming: its close is written
    /// after them, as a replay must read them before it closes.
    close_deferred: bool,
    /// The server's last message ended the conversation (`-> close`): its
    /// close is what comes next by the spec.
    server_closes_next: bool,
    /// The client closed first anyway (its close and the server's cross on
    /// the way): written only if the server's close never comes.
    client_closed_after_end: bool,
    /// A side's close or reset has been recorded; the case is over.
    ended: bool,
}

impl Tap {
    pub fn new(spec: Arc<Protocol>, now: Instant) -> Self {
        Tap {
            of_client: Session::new(Arc::clone(&spec), Role::Server, now),
            of_server: Session::new(spec, Role::Client, now),
            client: Side::default(),
            server: Side::default(),
            steps: Vec::new(),
            deviations: Vec::new(),
            raw: false,
            close_deferred: false,
            server_closes_next: false,
            client_closed_after_end: false,
            ended: false,
        }
    }

    /// Ends the recording: a close still deferred is written.
    pub fn finish(mut self) -> (Vec<Step>, Vec<Deviation>) {
        if self.client_closed_after_end && !self.ended {
            self.end_with(Role::Client);
        }
        self.flush_deferred_close(true);
        (self.steps, self.deviations)
    }

    /// Bytes the client sent. Returns the deviation this chunk caused, if any.
    pub fn client_bytes(&mut self, chunk: &[u8], now: Instant) -> Option<Deviation> {
        self.bytes(Role::Client, chunk, now)
    }

    /// Bytes the server sent. Returns the deviation this chunk caused, if any.
    pub fn server_bytes(&mut self, chunk: &[u8], now: Instant) -> Option<Deviation> {
        self.bytes(Role::Server, chunk, now)
    }

    fn bytes(&mut self, from: Role, chunk: &[u8], now: Instant) -> Option<Deviation> {
        if self.ended || chunk.is_empty() {
            return None;
        }
        if self.raw {
            self.push_raw(from, chunk);
            return None;
        }
        self.side(from).push(chunk);
        loop {
            // Known before decoding: the message that comes next answers input
            // the spec has no request for, so it is kept as raw bytes too.
            let otherwise = from == Role::Server && self.of_server.answering_otherwise();
            let (session, side) = match from {
                Role::Client => (&mut self.of_client, &mut self.client),
                Role::Server => (&mut self.of_server, &mut self.server),
            };
            match session.receive(&mut side.buf, now) {
                Ok(None) => return None,
                Ok(Some(event)) => {
                    let bytes = side.consumed();
                    if let Err(e) = self.on_event(from, event, bytes, otherwise, now) {
                        return Some(self.deviate(from, e));
                    }
                }
                Err(e) => return Some(self.deviate(from, e.to_string())),
            }
        }
    }

    /// `from` closed its side (or half-closed: a proxy cannot tell).
    pub fn eof(&mut self, from: Role, now: Instant) -> Option<Deviation> {
        if self.ended {
            return None;
        }
        if from == Role::Server && self.close_deferred {
            self.flush_deferred_close(true);
            return None;
        }
        if self.raw {
            match from {
                Role::Client => self.close_deferred = true,
                Role::Server => self.end_with(Role::Server),
            }
            return None;
        }
        loop {
            let (session, side) = match from {
                Role::Client => (&mut self.of_client, &mut self.client),
                Role::Server => (&mut self.of_server, &mut self.server),
            };
            match session.receive_eof(&mut side.buf, now) {
                Ok(Event::Closed) => break,
                // A message that runs until close, or the last of several.
                Ok(event) => {
                    let bytes = side.consumed();
                    if let Err(e) = self.on_event(from, event, bytes, false, now) {
                        let d = self.deviate(from, e);
                        self.end_with(from);
                        return Some(d);
                    }
                }
                Err(e) => {
                    let d = self.deviate(from, e.to_string());
                    self.end_with(from);
                    return Some(d);
                }
            }
        }
        match from {
            Role::Client if self.server_closes_next => self.client_closed_after_end = true,
            Role::Client if self.of_client.is_finished() => {
                let _ = self.of_server.close();
                self.close_deferred = true;
                self.flush_deferred_close(false);
            }
            Role::Client => {
                let _ = self.of_server.shutdown_write(now);
                self.steps.push(Step::HalfCloses { role: Role::Client });
            }
            Role::Server => self.end_with(Role::Server),
        }
        None
    }

    /// `from` reset the connection.
    pub fn reset(&mut self, from: Role) {
        if self.ended {
            return;
        }
        let rest = self.side(from).rest();
        if !rest.is_empty() {
            self.push_raw(from, &rest);
        }
        if from == Role::Server && !self.close_deferred {
            self.steps.push(Step::Resets { role: Role::Server });
        } else {
            self.flush_deferred_close(true);
            if from == Role::Client {
                self.steps.push(Step::Closes { role: Role::Client });
            }
        }
        self.ended = true;
    }

    fn on_event(
        &mut self,
        from: Role,
        event: Event,
        bytes: Bytes,
        otherwise: bool,
        now: Instant,
    ) -> Result<(), String> {
        let other = match from {
            Role::Client => &mut self.of_server,
            Role::Server => &mut self.of_client,
        };
        match event {
            Event::Message(m) => {
                other.observe(from, &m, now).map_err(|e| e.to_string())?;
                if otherwise {
                    self.push_raw(from, &bytes);
                } else {
                    self.steps.push(Step::Message {
                        role: from,
                        message: m.id,
                        fields: m.fields,
                    });
                }
                if from == Role::Server && self.of_client.is_finished() {
                    self.server_closes_next = true;
                }
                self.flush_deferred_close(false);
            }
            Event::Unrecognized { .. } | Event::Malformed { .. } => {
                other.observe_unrecognized(now).map_err(|e| e.to_string())?;
                self.push_raw(from, &bytes);
            }
            Event::Ignored { .. } => self.push_raw(from, &bytes),
            Event::Discarded { message, .. } => {
                // The message is kept as the bytes it was; its reply cannot be
                // told apart from what follows without its data, so the rest
                // of the connection is recorded as bytes too.
                self.push_raw(from, &bytes);
                let name = &self.of_client.spec().messages[message].name;
                let note = format!("`{name}` was over its limit and its data discarded");
                self.steps
                    .push(Step::Note(format!("{note}; from here on, raw bytes")));
                self.raw = true;
            }
            Event::Closed => {}
        }
        Ok(())
    }

    fn deviate(&mut self, from: Role, message: String) -> Deviation {
        let deviation = Deviation { role: from, message };
        self.steps.push(Step::Note(format!(
            "the {from} deviated from the spec: {}",
            deviation.message
        )));
        let rest = self.side(from).rest();
        if !rest.is_empty() {
            self.push_raw(from, &rest);
        }
        // The other side's undecoded bytes stay in order before anything new.
        let other = from.peer();
        let pending = self.side(other).rest();
        if !pending.is_empty() {
            self.push_raw(other, &pending);
        }
        self.raw = true;
        self.deviations.push(deviation.clone());
        deviation
    }

    /// The client's deferred close is written once no reply is owed (or the
    /// connection is over: `force`).
    fn flush_deferred_close(&mut self, force: bool) {
        let replies_done = !self.raw && self.of_server.pending_replies() == 0;
        if self.close_deferred && (force || replies_done) {
            self.steps.push(Step::Closes { role: Role::Client });
            self.close_deferred = false;
            self.ended = true;
        }
    }

    fn end_with(&mut self, from: Role) {
        self.steps.push(Step::Closes { role: from });
        self.ended = true;
    }

    fn side(&mut self, role: Role) -> &mut Side {
        match role {
            Role::Client => &mut self.client,
            Role::Server => &mut self.server,
        }
    }

    /// Appends raw bytes, joined with the step before when it is raw bytes of
    /// the same side.
    fn push_raw(&mut self, role: Role, bytes: &[u8]) {
        if let Some(Step::Raw { role: r, bytes: b }) = self.steps.last_mut() {
            if *r == role {
                b.extend_from_slice(bytes);
                return;
            }
        }
        self.steps.push(Step::Raw {
            role,
            bytes: bytes.to_vec(),
        });
    }
}
