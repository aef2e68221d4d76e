//! Bytes written by hand, kept in step with the session: read as the peer
//! will read them, before they are written.

use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::Session;
use crate::engine::{Context, Decoded, Decoder};
use crate::error::Error;
use crate::layout::Role;
use crate::spec::{MessageId, RuleKind};
use crate::value::Message;

/// What bytes sent by hand were read as ([`Session::send_bytes`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// A message of the spec, taken as sent.
    Message(Message),
    /// Input that matches no request (or a request whose later part does not
    /// match), which the server answers with its `otherwise` reply.
    Unrecognized(Bytes),
}

impl Session {
    /// For a fallback request of the state (`otherwise MESSAGE`), the request
    /// its encoded bytes would be read as instead, if any.
    pub(super) fn read_as_request(&self, id: MessageId, bytes: &[u8]) -> Option<MessageId> {
        let rules = &self.spec.states[self.state].rules;
        let fallback = rules
            .iter()
            .any(|r| r.fallback && matches!(r.kind, RuleKind::Exchange { request, .. } if request == id));
        if !fallback {
            return None;
        }
        let requests: Vec<MessageId> = rules
            .iter()
            .filter(|r| !r.fallback)
            .filter_map(|r| match r.kind {
                RuleKind::Exchange { request, .. } => Some(request),
                _ => None,
            })
            .collect();
        let cx = Context {
            state: &self.spec.states[self.state].name,
        };
        let mut decoder = Decoder::new();
        match decoder.decode(&self.spec, &requests, &mut BytesMut::from(bytes), &cx) {
            Ok(Some(Decoded::Message(m))) => Some(m.id),
            Ok(Some(Decoded::Discarded { message, .. })) => Some(message),
            // A request's first part matched; the rest (its data) is not here.
            Ok(None) => decoder.current_message(),
            _ => None,
        }
    }

    /// Takes bytes written by hand as sent, keeping the session in step: they
    /// are read as the peer will read them, and each whole message is taken
    /// as sent (the state moves, a reply becomes owed); on a client, a line
    /// that matches no request (or a malformed one) where the state has an
    /// `otherwise` rule makes that reply owed. Returns what the bytes were
    /// read as. Bytes that end mid-message, or that the spec does not allow
    /// here, change nothing and are misuse.
    pub fn send_bytes(&mut self, bytes: &[u8], now: Instant) -> Result<Vec<Sent>, Error> {
        let mut ahead = self.clone();
        let mut buf = BytesMut::from(bytes);
        let mut decoder = Decoder::new();
        let mut sent = Vec::new();
        let misuse = |why: String| Error::Misuse(format!("raw bytes: {why}"));
        while !buf.is_empty() {
            let candidates = ahead.candidates_from(ahead.role);
            let cx = Context {
                state: &ahead.spec.states[ahead.state].name,
            };
            let decoded = decoder
                .decode(&ahead.spec, &candidates, &mut buf, &cx)
                .map_err(|e| misuse(e.to_string()))?;
            match decoded {
                None => {
                    return Err(misuse(format!(
                        "they end in the middle of a message ({} bytes left)",
                        buf.len()
                    )))
                }
                Some(Decoded::Message(m)) => {
                    ahead.observe(ahead.role, &m, now)?;
                    sent.push(Sent::Message(m));
                }
                Some(Decoded::Discarded { message, fields, .. }) => {
                    let m = Message::new(message, fields);
                    ahead.observe(ahead.role, &m, now)?;
                    sent.push(Sent::Message(m));
                }
                Some(Decoded::Unrecognized { frame, .. }) if ahead.role == Role::Client => {
                    ahead.observe_unrecognized(now)?;
                    sent.push(Sent::Unrecognized(frame));
                }
                Some(Decoded::Malformed { found, .. }) if ahead.role == Role::Client => {
                    ahead.observe_unrecognized(now)?;
                    sent.push(Sent::Unrecognized(found));
                }
                Some(Decoded::Unrecognized { mismatch, .. }) => return Err(misuse(mismatch)),
                Some(Decoded::Malformed { error, .. }) => return Err(misuse(error.to_string())),
            }
        }
        if !decoder.between_messages() {
            return Err(misuse("they end in the middle of a message".into()));
        }
        *self = ahead;
        Ok(sent)
    }
}
