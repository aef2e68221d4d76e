//! The sans-IO connection core: bytes in → events out, messages in → bytes
//! out, time passed in. It tracks the spec's state for one side of one
//! connection, the replies owed to pipelined requests, declared ignored input
//! and discards. Drivers (`connection`) put it on a transport.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::engine::{self, Context, Decoded, Decoder};
use crate::error::{Error, Excerpt, ProtocolViolation};
use crate::layout::Role;
use crate::spec::{MessageId, Protocol, Reply, ReplyPoint, ReplySeq, RuleKind, StateId, Target};
use crate::value::{Message, Value};

mod deadlines;
mod raw;

pub use raw::Sent;

/// The messages that may come next; states rarely have more.
type Candidates = smallvec::SmallVec<[MessageId; 16]>;

/// What came from the peer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A message, after which the session moved as the spec says.
    Message(Message),
    /// A message whose oversize `raw` part was skipped (`over = discard`).
    Discarded {
        message: MessageId,
        fields: Vec<Value>,
        bytes: u64,
    },
    /// Input that matches no request, in a state with an `otherwise` rule:
    /// the server owes one of the `otherwise` replies; the state holds.
    Unrecognized { frame: Bytes },
    /// A request whose first part matched but a later part did not (`found`
    /// holds the bytes read for that part, now consumed), in a state with an
    /// `otherwise` rule: answered as unrecognized input is; the state holds.
    Malformed { message: MessageId, found: Bytes },
    /// Input the spec declares ignored in this state, read and dropped.
    Ignored { bytes: usize },
    /// The peer closed its side where the spec allows it.
    Closed,
}

/// A part of the spec a connection exercised (for conformance coverage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Covered {
    /// Rule `rule` of state `state` was taken.
    Rule { state: StateId, rule: usize },
    /// The `otherwise` reply of `state` answered something.
    Otherwise { state: StateId },
}

/// Where a reply owed to one request has got to.
#[derive(Debug, Clone)]
struct ReplyCursor {
    state: StateId,
    /// The exchange rule, or `None` for the state's `otherwise` reply.
    rule: Option<usize>,
    point: ReplyPoint,
    started: bool,
    /// The reply is the server closing the connection.
    close: bool,
    /// A message that leaves `point` where it is (the `Value` of `Value*
    /// End`), found on its first advance: a long run of them then costs no
    /// walk of the grammar each.
    repeats: Option<MessageId>,
}

/// One side of one connection.
#[derive(Debug, Clone)]
pub struct Session {
    spec: Arc<Protocol>,
    role: Role,
    state: StateId,
    decoder: Decoder,
    pending: VecDeque<ReplyCursor>,
    entered: Instant,
    /// When the first bytes of a message not yet complete were seen: from
    /// then, the message timeout runs.
    began: Option<Instant>,
    timeout_override: Option<Duration>,
    /// We may not send any more (we closed or half-closed).
    write_closed: bool,
    /// The peer may not send any more.
    read_closed: bool,
    /// The conversation has ended (a `-> close` target was taken).
    finished: bool,
    ignored: u64,
    /// The rules this connection has taken, in first-taken order.
    covered: Vec<Covered>,
}

impl Session {
    pub fn new(spec: Arc<Protocol>, role: Role, now: Instant) -> Self {
        let state = spec.initial;
        Session {
            spec,
            role,
            state,
            decoder: Decoder::new(),
            pending: VecDeque::new(),
            entered: now,
            began: None,
            timeout_override: None,
            write_closed: false,
            read_closed: false,
            finished: false,
            ignored: 0,
            covered: Vec::new(),
        }
    }

    pub fn spec(&self) -> &Arc<Protocol> {
        &self.spec
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn state(&self) -> StateId {
        self.state
    }
    pub fn state_name(&self) -> &str {
        &self.spec.states[self.state].name
    }
    /// Replies still owed (to us as a client, by us as a server).
    pub fn pending_replies(&self) -> usize {
        self.pending.len()
    }
    /// Bytes of declared ignored input dropped so far.
    pub fn ignored_bytes(&self) -> u64 {
        self.ignored
    }
    pub fn is_finished(&self) -> bool {
        self.finished
    }
    /// Whether part of a message has been read and the rest is awaited.
    pub fn mid_message(&self) -> bool {
        self.decoder.mid_message()
    }

    /// The rules this connection has taken, each once, in first-taken order.
    pub fn coverage(&self) -> &[Covered] {
        &self.covered
    }

    /// Records a reply owed. Room for one at first: most connections never
    /// have more in flight, and a server holds thousands of them idle.
    fn owe(&mut self, cursor: ReplyCursor) {
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(1);
        }
        self.pending.push_back(cursor);
    }

    fn cover(&mut self, c: Covered) {
        if !self.covered.contains(&c) {
            self.covered.push(c);
        }
    }

    /// Bytes received and consumed so far (ignored input included).
    pub fn received_bytes(&self) -> u64 {
        self.decoder.offset()
    }

    /// Overrides the spec's per-state timeouts for this connection.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout_override = timeout;
    }

    /// Messages the peer may send next.
    pub fn expected(&self) -> Vec<MessageId> {
        self.candidates().to_vec()
    }

    /// [`expected`](Self::expected), held inline: it is asked for every
    /// message received.
    fn candidates(&self) -> Candidates {
        self.candidates_from(self.role.peer())
    }

    /// The messages `sender` may start next: replies it owes first.
    fn candidates_from(&self, sender: Role) -> Candidates {
        let mut out = Candidates::new();
        if sender == Role::Server {
            for cursor in &self.pending {
                cursor.each_message(&self.spec, |m| {
                    if !out.contains(&m) {
                        out.push(m);
                    }
                });
                // A reply that may be over (`A B?` after `A`) lets what
                // follows it start.
                if !cursor.may_end(&self.spec) {
                    return out;
                }
            }
        }
        let starts = self.spec.rule_starts(self.state, sender.peer());
        if out.is_empty() {
            out.extend_from_slice(starts);
        } else {
            for &m in starts {
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        out
    }

    fn describe_expected(&self) -> String {
        let names: Vec<String> = self
            .expected()
            .iter()
            .map(|m| format!("`{}`", self.spec.messages[*m].name))
            .collect();
        if names.is_empty() {
            "the peer to close".to_string()
        } else {
            names.join(" or ")
        }
    }

    /// Decodes the next event from the bytes received so far. `Ok(None)`:
    /// more bytes are needed (what was read stays buffered in the decoder's
    /// state, so calling again with more bytes resumes).
    pub fn receive(&mut self, buf: &mut BytesMut, now: Instant) -> Result<Option<Event>, Error> {
        if self.spec.states[self.state].ignore == Some(self.role.peer()) && !self.decoder.mid_message() {
            if buf.is_empty() {
                return Ok(None);
            }
            let n = buf.len();
            let _ = buf.split_to(n);
            self.ignored += n as u64;
            self.decoder.skipped(n as u64);
            return Ok(Some(Event::Ignored { bytes: n }));
        }
        // Between messages with nothing buffered there is nothing to decode
        // (no message is zero bytes long: the compiler rejects `raw(0)` and
        // empty literals), so the candidates need not be worked out.
        if buf.is_empty() && self.decoder.between_messages() {
            return Ok(None);
        }
        let candidates = self.candidates();
        let cx = Context {
            state: &self.spec.states[self.state].name,
        };
        let decoded = self.decoder.decode(&self.spec, &candidates, buf, &cx)?;
        match decoded {
            Some(d) => {
                self.began = None;
                self.on_decoded(d, now).map(Some)
            }
            None => {
                self.began.get_or_insert(now);
                Ok(None)
            }
        }
    }

    /// The peer closed (or half-closed) its side; `buf` holds what it sent
    /// last. Completes a message that runs until close, then says whether the
    /// close was allowed here.
    pub fn receive_eof(&mut self, buf: &mut BytesMut, now: Instant) -> Result<Event, Error> {
        let candidates = self.expected();
        let state_name = self.spec.states[self.state].name.clone();
        if let Some(d) =
            self.decoder
                .decode_eof(&self.spec, &candidates, buf, &Context { state: &state_name })?
        {
            return self.on_decoded(d, now);
        }
        if self.decoder.mid_message() || !buf.is_empty() {
            return Err(Error::Closed {
                state: state_name,
                mid_message: true,
                buffered: buf.len(),
            });
        }
        self.read_closed = true;
        if self.finished {
            return Ok(Event::Closed);
        }
        let peer = self.role.peer();
        if peer == Role::Server {
            while self.pending.front().is_some_and(|c| c.may_end(&self.spec)) {
                self.pending.pop_front();
            }
        }
        // A reply that is the server closing (memcached's `quit`).
        if peer == Role::Server && self.pending.front().is_some_and(|c| c.close) {
            self.pending.pop_front();
            self.finished = true;
            return Ok(Event::Closed);
        }
        let spec = Arc::clone(&self.spec);
        for (i, rule) in spec.states[self.state].rules.iter().enumerate() {
            match &rule.kind {
                RuleKind::Close { role } if *role == peer => {
                    self.finished = true;
                    self.cover(Covered::Rule {
                        state: self.state,
                        rule: i,
                    });
                    return Ok(Event::Closed);
                }
                RuleKind::HalfClose { role, target } if *role == peer => {
                    let (state, target) = (self.state, target.clone());
                    self.cover(Covered::Rule { state, rule: i });
                    self.enter_target(target, now);
                    return Ok(Event::Closed);
                }
                _ => {}
            }
        }
        Err(Error::Closed {
            state: state_name,
            mid_message: false,
            buffered: 0,
        })
    }

    fn on_decoded(&mut self, d: Decoded, now: Instant) -> Result<Event, Error> {
        match d {
            Decoded::Message(m) => {
                self.apply(self.role.peer(), &m, now)
                    .map_err(|e| self.violation(e, self.decoder.offset(), &[]))?;
                Ok(Event::Message(m))
            }
            Decoded::Discarded {
                message,
                fields,
                bytes,
            } => {
                // The request still draws a reply (memcached's "object too large").
                let m = Message::new(message, fields.clone());
                self.apply(self.role.peer(), &m, now)
                    .map_err(|e| self.violation(e, self.decoder.offset(), &[]))?;
                Ok(Event::Discarded {
                    message,
                    fields,
                    bytes,
                })
            }
            Decoded::Malformed {
                message,
                found,
                error,
            } => {
                if self.owe_otherwise(now) {
                    return Ok(Event::Malformed { message, found });
                }
                Err(Error::Peer(error))
            }
            Decoded::Unrecognized { frame, mismatch } => {
                if self.owe_otherwise(now) {
                    return Ok(Event::Unrecognized { frame });
                }
                Err(self.violation(mismatch, self.decoder.frame_start(), &frame))
            }
        }
    }

    fn violation(&self, expected: String, offset: u64, got: &[u8]) -> Error {
        Error::Peer(ProtocolViolation {
            state: self.state_name().to_string(),
            expected,
            offset,
            got: Excerpt::of(got),
        })
    }

    /// Encodes `msg` into `out` if the spec allows us to send it now, and
    /// moves the session as the spec says.
    pub fn send(&mut self, msg: &Message, out: &mut BytesMut, now: Instant) -> Result<(), Error> {
        if self.write_closed || self.finished {
            return Err(Error::Misuse(format!(
                "cannot send `{}`: this side has closed the conversation",
                self.message_name(msg.id)
            )));
        }
        let Some(def) = self.spec.messages.get(msg.id) else {
            return Err(Error::Misuse(format!(
                "no message #{} in `{}`",
                msg.id, self.spec.name
            )));
        };
        if def.role != self.role {
            return Err(Error::Misuse(format!(
                "`{}` is a {} message; this side is the {}",
                def.name, def.role, self.role
            )));
        }
        // Check before encoding, apply after: a failed encode changes nothing.
        self.allowed(self.role, msg).map_err(Error::Misuse)?;
        let start = out.len();
        engine::encode_in(
            &self.spec.types,
            self.spec.max_depth,
            &def.layout,
            &msg.fields,
            out,
        )
        .map_err(|e| Error::Misuse(format!("cannot encode `{}`: {e}", def.name)))?;
        if let Some(request) = self.read_as_request(msg.id, &out[start..]) {
            out.truncate(start);
            return Err(Error::Misuse(format!(
                "`{}` would be read as `{}`: a fallback (`otherwise {}`) is for input no request matches",
                def.name,
                self.message_name(request),
                def.name
            )));
        }
        self.apply(self.role, msg, now).map_err(Error::Misuse)
    }

    /// On a server whose state has an `otherwise` reply, takes input it
    /// cannot carry out as answered by that reply (now owed; the state
    /// holds). `false` elsewhere: the input is a violation.
    fn owe_otherwise(&mut self, now: Instant) -> bool {
        if self.role != Role::Server || self.spec.states[self.state].otherwise.is_none() {
            return false;
        }
        self.cover(Covered::Otherwise { state: self.state });
        let owed = ReplyCursor::new(&self.spec, self.state, None);
        self.owe(owed);
        self.entered = now;
        true
    }

    /// Moves the session as if `from` had sent `msg`, without encoding or
    /// decoding anything: for checking a script of messages against the spec
    /// (the conformance runner's transcripts) before any byte is sent.
    pub fn observe(&mut self, from: Role, msg: &Message, now: Instant) -> Result<(), Error> {
        self.allowed(from, msg).map_err(Error::Misuse)?;
        self.apply(from, msg, now).map_err(Error::Misuse)
    }

    /// Records that the client sent input matching no request in a state that
    /// answers such input with `otherwise`, as the server's session does on
    /// [`Event::Unrecognized`]: the server now owes that reply. For a session
    /// that watches the client's side without decoding it (a recording proxy).
    pub fn observe_unrecognized(&mut self, now: Instant) -> Result<(), Error> {
        if self.spec.states[self.state].otherwise.is_none() {
            return Err(Error::Misuse(format!(
                "state `{}` has no `otherwise` reply for input that matches no request",
                self.state_name()
            )));
        }
        self.cover(Covered::Otherwise { state: self.state });
        let owed = ReplyCursor::new(&self.spec, self.state, None);
        self.owe(owed);
        self.entered = now;
        Ok(())
    }

    /// Whether the next message from the server is (part of) an `otherwise`
    /// reply rather than the reply to a request the spec knows.
    pub fn answering_otherwise(&self) -> bool {
        self.pending.front().is_some_and(|c| c.rule.is_none())
    }

    /// Shuts our writing side down, if the spec allows it here.
    pub fn shutdown_write(&mut self, now: Instant) -> Result<(), Error> {
        let spec = Arc::clone(&self.spec);
        for (i, rule) in spec.states[self.state].rules.iter().enumerate() {
            if let RuleKind::HalfClose { role, target } = &rule.kind {
                if *role == self.role {
                    self.write_closed = true;
                    self.cover(Covered::Rule {
                        state: self.state,
                        rule: i,
                    });
                    self.enter_target(target.clone(), now);
                    return Ok(());
                }
            }
        }
        Err(Error::Misuse(format!(
            "the {} may not half-close in state `{}`",
            self.role,
            self.state_name()
        )))
    }

    /// Records that we close the connection here, if the spec allows it
    /// (`client closes;` in this state, or the conversation is over).
    pub fn close(&mut self) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        let spec = Arc::clone(&self.spec);
        let rule = spec.states[self.state]
            .rules
            .iter()
            .position(|r| matches!(&r.kind, RuleKind::Close { role } if *role == self.role));
        match rule {
            Some(i) => {
                self.cover(Covered::Rule {
                    state: self.state,
                    rule: i,
                });
                self.finished = true;
                self.write_closed = true;
                Ok(())
            }
            None => Err(Error::Misuse(format!(
                "the {} may not close in state `{}`",
                self.role,
                self.state_name()
            ))),
        }
    }

    /// Whether we may close the connection now without breaking the spec.
    pub fn may_close(&self) -> bool {
        self.finished
            || self.read_closed && self.pending.is_empty()
            || self.spec.states[self.state]
                .rules
                .iter()
                .any(|r| matches!(&r.kind, RuleKind::Close { role } if *role == self.role))
                && (self.role == Role::Client || !self.owes_reply())
    }

    /// Whether a reply is owed that cannot be over yet.
    fn owes_reply(&self) -> bool {
        self.pending.iter().any(|c| !c.may_end(&self.spec))
    }

    fn message_name(&self, id: MessageId) -> &str {
        self.spec.messages.get(id).map_or("?", |m| m.name.as_str())
    }

    /// Whether `from` may send `msg` now; `Err` says why not.
    fn allowed(&self, from: Role, msg: &Message) -> Result<(), String> {
        if from == Role::Server {
            for cursor in &self.pending {
                if cursor.accepts(&self.spec, msg.id) {
                    return Ok(());
                }
                if !cursor.may_end(&self.spec) {
                    return Err(format!(
                        "`{}` is not a reply the server may send now in state `{}` (expected {})",
                        self.message_name(msg.id),
                        self.state_name(),
                        self.cursor_messages(cursor)
                            .iter()
                            .map(|m| format!("`{}`", self.message_name(*m)))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ));
                }
            }
        }
        let found = self.spec.states[self.state].rules.iter().any(|r| match &r.kind {
            RuleKind::Send { role, message, .. } => *role == from && *message == msg.id,
            RuleKind::Exchange { request, .. } => from == Role::Client && *request == msg.id,
            _ => false,
        });
        if !found {
            return Err(format!(
                "the {from} may not send `{}` in state `{}`",
                self.message_name(msg.id),
                self.state_name()
            ));
        }
        if from == Role::Client && from == self.role && !self.spec.pipelined && self.owes_reply() {
            return Err(format!(
                "`{}` is not pipelined: wait for the reply to the previous request before sending `{}`",
                self.spec.name,
                self.message_name(msg.id)
            ));
        }
        Ok(())
    }

    /// Moves the session after `from` sent `msg`.
    fn apply(&mut self, from: Role, msg: &Message, now: Instant) -> Result<(), String> {
        self.entered = now;
        // A reply to an earlier request?
        if from == Role::Server {
            let spec = Arc::clone(&self.spec);
            while let Some(cursor) = self.pending.front_mut() {
                if cursor.advance(&spec, msg.id) {
                    let otherwise = cursor.rule.is_none().then_some(cursor.state);
                    if cursor.complete(&spec) {
                        self.pending.pop_front();
                    }
                    if let Some(state) = otherwise {
                        self.cover(Covered::Otherwise { state });
                    }
                    return Ok(());
                }
                if !cursor.may_end(&spec) {
                    return Err(format!(
                        "`{}` is not a reply expected here",
                        spec.messages[msg.id].name
                    ));
                }
                // That reply was over: this message is what follows it.
                self.pending.pop_front();
            }
        }
        let state = &self.spec.states[self.state];
        // Rules with a `where` condition take precedence over those without.
        let mut chosen = None;
        for conditional in [true, false] {
            for (i, rule) in state.rules.iter().enumerate() {
                let (role, message, condition) = match &rule.kind {
                    RuleKind::Send {
                        role,
                        message,
                        condition,
                        ..
                    } => (*role, *message, condition),
                    RuleKind::Exchange {
                        request, condition, ..
                    } => (Role::Client, *request, condition),
                    _ => continue,
                };
                if role != from || message != msg.id || condition.is_some() != conditional {
                    continue;
                }
                if let Some(c) = condition {
                    if !msg.fields.get(c.field as usize).is_some_and(Value::is_present) {
                        continue;
                    }
                }
                chosen = Some(i);
                break;
            }
            if chosen.is_some() {
                break;
            }
        }
        let Some(i) = chosen else {
            return Err(format!(
                "the {from} may not send `{}` in state `{}`",
                self.spec.messages[msg.id].name, state.name
            ));
        };
        // A handle of its own on the spec, so the rule is borrowed from it,
        // not cloned, while the session changes.
        let spec = Arc::clone(&self.spec);
        self.cover(Covered::Rule {
            state: self.state,
            rule: i,
        });
        match &spec.states[self.state].rules[i].kind {
            RuleKind::Send { target, .. } => {
                match target {
                    Target::Close | Target::HalfClose if from == self.role => self.write_closed = true,
                    Target::Close | Target::HalfClose => self.read_closed = true,
                    Target::State(_) => {}
                }
                self.enter_target(target.clone(), now);
            }
            RuleKind::Exchange { reply, .. } => match reply {
                Reply::None { .. } => {}
                Reply::Close { .. } => self.owe(ReplyCursor::closing(self.state, i)),
                Reply::Sequences(_) => {
                    let owed = ReplyCursor::new(&self.spec, self.state, Some(i));
                    self.owe(owed)
                }
            },
            _ => {}
        }
        Ok(())
    }

    fn enter_target(&mut self, target: Target, now: Instant) {
        self.entered = now;
        match target {
            Target::State(s) => self.state = s,
            Target::Close => self.finished = true,
            Target::HalfClose => {}
        }
    }

    fn cursor_messages(&self, cursor: &ReplyCursor) -> Vec<MessageId> {
        cursor.messages(&self.spec)
    }
}

impl ReplyCursor {
    fn new(spec: &Protocol, state: StateId, rule: Option<usize>) -> Self {
        ReplyCursor {
            state,
            rule,
            point: spec.reply_start(state, rule).clone(),
            started: false,
            close: false,
            repeats: None,
        }
    }

    fn closing(state: StateId, rule: usize) -> Self {
        ReplyCursor {
            state,
            rule: Some(rule),
            point: ReplyPoint::start(&[]),
            started: false,
            close: true,
            repeats: None,
        }
    }

    fn seqs<'a>(&self, spec: &'a Protocol) -> &'a [ReplySeq] {
        let st = &spec.states[self.state];
        let reply = match self.rule {
            Some(i) => match &st.rules[i].kind {
                RuleKind::Exchange { reply, .. } => Some(reply),
                _ => None,
            },
            None => st.otherwise.as_ref(),
        };
        match reply {
            Some(Reply::Sequences(s)) => s,
            _ => &[],
        }
    }

    fn messages(&self, spec: &Protocol) -> Vec<MessageId> {
        let mut out = Vec::new();
        self.each_message(spec, |m| {
            if !out.contains(&m) {
                out.push(m);
            }
        });
        out
    }

    /// Calls `f` with each message that may come next, in order (a message
    /// may come more than once).
    fn each_message(&self, spec: &Protocol, mut f: impl FnMut(MessageId)) {
        self.point.each_message(self.seqs(spec), &mut f);
        // Before a reply starts, the state's `otherwise` replies may stand in.
        if !self.started && self.rule.is_some() {
            if let Some(Reply::Sequences(seqs)) = &spec.states[self.state].otherwise {
                for s in seqs {
                    if let Some(first) = s.items.first() {
                        f(first.message);
                    }
                }
            }
        }
    }

    /// Whether `m` may come next in this reply ([`messages`](Self::messages)
    /// without building the list).
    fn accepts(&self, spec: &Protocol, m: MessageId) -> bool {
        if self.point.accepts(self.seqs(spec), m) {
            return true;
        }
        !self.started
            && self.rule.is_some()
            && matches!(&spec.states[self.state].otherwise, Some(Reply::Sequences(seqs))
                if seqs.iter().any(|s| s.items.first().is_some_and(|f| f.message == m)))
    }

    /// Consumes one reply message; false if it does not fit.
    fn advance(&mut self, spec: &Protocol, m: MessageId) -> bool {
        if self.repeats == Some(m) {
            return true;
        }
        let next = self.point.advance(self.seqs(spec), m);
        let Some(next) = next else {
            if !self.started && self.rule.is_some() {
                // An `otherwise` reply standing in for this one.
                let mut other = ReplyCursor::new(spec, self.state, None);
                if other.advance(spec, m) {
                    *self = other;
                    return true;
                }
            }
            return false;
        };
        self.started = true;
        self.repeats = (next == self.point).then_some(m);
        self.point = next;
        true
    }

    /// The reply may be over here, though more of it may follow (`A B?`
    /// after `A`): the next message tells.
    fn may_end(&self, spec: &Protocol) -> bool {
        self.point.may_end(self.seqs(spec))
    }

    /// The reply is over: it has reached its end and nothing more may follow.
    fn complete(&self, spec: &Protocol) -> bool {
        self.point.complete(self.seqs(spec))
    }
}
