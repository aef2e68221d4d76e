//! A protocol spec, resolved: the IR the compiler (`protocol-dsl`) produces
//! and every back end consumes — generated code and the conformance runner
//! alike drive the engine with it. Names are resolved to indices, every
//! message is a [`MessageLayout`], and every node keeps the span of the
//! `.proto` source it came from.

use std::sync::OnceLock;
use std::time::Duration;

pub use crate::layout::{MessageLayout, Role, Span, TypeId};

/// Index into [`Protocol::messages`].
pub type MessageId = usize;
/// Index into [`Protocol::states`].
pub type StateId = usize;

/// The timeout of a state that declares none, in a protocol that declares none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Protocol {
    pub name: String,
    pub span: Span,
    pub port: Option<u16>,
    /// Clients may send further requests before earlier replies arrive;
    /// replies come back in request order.
    pub pipelined: bool,
    /// Bytes a server over its connection limit sends before closing
    /// (memcached's `ERROR Too many open connections`).
    pub overload: Option<Overload>,
    pub messages: Vec<Message>,
    /// The named types (`struct`, `choice`) fields may have.
    pub types: Vec<TypeDef>,
    /// How deeply values of named types may nest in one message
    /// (`limits { depth = N; }`): a peer's nesting past it is an error.
    pub max_depth: usize,
    pub states: Vec<State>,
    pub initial: StateId,
    /// What sessions look up on every message and that follows from the
    /// fields above alone, worked out on first use. Build a protocol with
    /// `Derived::default()` here, and do not change it once a session has
    /// used it.
    pub derived: Derived,
}

/// A named type.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeDef {
    pub name: String,
    pub span: Span,
    pub kind: TypeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// `struct NAME = ...;`: parts and fields, as a message has.
    Struct(MessageLayout),
    /// `choice NAME = A | B;`: one of these structs, told apart by the
    /// first frame each begins with.
    Choice(Vec<TypeId>),
}

/// A message's or a struct's name and layout (see [`Protocol::bodies`]).
pub struct NamedBody<'a> {
    pub name: &'a str,
    pub layout: &'a MessageLayout,
}

impl Protocol {
    /// Every layout of the protocol: the messages', then the structs'.
    pub fn bodies(&self) -> Vec<NamedBody<'_>> {
        let messages = self.messages.iter().map(|m| NamedBody {
            name: &m.name,
            layout: &m.layout,
        });
        let structs = self.types.iter().filter_map(|t| {
            t.layout().map(|layout| NamedBody {
                name: &t.name,
                layout,
            })
        });
        messages.chain(structs).collect()
    }
}

impl TypeDef {
    /// The layout of a struct (`None` for a choice).
    pub fn layout(&self) -> Option<&MessageLayout> {
        match &self.kind {
            TypeKind::Struct(l) => Some(l),
            TypeKind::Choice(_) => None,
        }
    }
}

/// Lookups a session makes per message, computed once per protocol (see
/// [`Protocol::derived`]).
#[derive(Clone, Default)]
pub struct Derived(OnceLock<Lookups>);

#[derive(Clone)]
struct Lookups {
    /// Per state, per receiving role: the messages the peer may start
    /// there by a rule, each once, in rule order.
    starts: Vec<[Vec<MessageId>; 2]>,
    /// Per state: the start of each rule's reply (index = rule), then that
    /// of the `otherwise` reply.
    reply_starts: Vec<Vec<ReplyPoint>>,
    /// Per state, per receiving role: the peer owes a message there (it
    /// may send, may not close, and the receiver may not send), so waiting
    /// for it counts against the message timeout, not the idle one.
    owed: Vec<[bool; 2]>,
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Derived(computed)"
        } else {
            "Derived"
        })
    }
}

impl Protocol {
    fn lookups(&self) -> &Lookups {
        self.derived.0.get_or_init(|| {
            let starts = self
                .states
                .iter()
                .map(|st| {
                    [Role::Client, Role::Server].map(|receiver| {
                        let peer = receiver.peer();
                        let mut out = Vec::new();
                        // Fallback requests last, in the order written: the
                        // decoder takes the first candidate that matches.
                        let ordered = st.rules.iter().filter(|r| !r.fallback).chain(st.rules.iter().filter(|r| r.fallback));
                        for rule in ordered {
                            let m = match &rule.kind {
                                RuleKind::Send { role, message, .. } if *role == peer => *message,
                                RuleKind::Exchange { request, .. } if peer == Role::Client => *request,
                                _ => continue,
                            };
                            if !out.contains(&m) {
                                out.push(m);
                            }
                        }
                        out
                    })
                })
                .collect();
            let seqs = |reply: Option<&Reply>| match reply {
                Some(Reply::Sequences(s)) => ReplyPoint::start(s),
                _ => ReplyPoint::start(&[]),
            };
            let reply_starts = self
                .states
                .iter()
                .map(|st| {
                    st.rules
                        .iter()
                        .map(|r| match &r.kind {
                            RuleKind::Exchange { reply, .. } => seqs(Some(reply)),
                            _ => seqs(None),
                        })
                        .chain([seqs(st.otherwise.as_ref())])
                        .collect()
                })
                .collect();
            let owed = self
                .states
                .iter()
                .map(|st| {
                    [Role::Client, Role::Server].map(|receiver| {
                        let peer = receiver.peer();
                        let may = |role: Role| {
                            st.rules.iter().any(|r| match &r.kind {
                                RuleKind::Send { role: s, .. } => *s == role,
                                RuleKind::Exchange { .. } => role == Role::Client,
                                _ => false,
                            })
                        };
                        let peer_may_close = st.rules.iter().any(|r| {
                            matches!(&r.kind, RuleKind::Close { role } | RuleKind::HalfClose { role, .. } if *role == peer)
                        });
                        may(peer) && !may(receiver) && !peer_may_close && st.ignore != Some(peer)
                    })
                })
                .collect();
            Lookups {
                starts,
                reply_starts,
                owed,
            }
        })
    }

    /// Whether the peer of `receiver` owes a message in `state`: its only
    /// ways on are messages, and the receiver has nothing to say.
    pub fn peer_owes(&self, state: StateId, receiver: Role) -> bool {
        self.lookups().owed[state][receiver as usize]
    }

    /// The messages the peer of `receiver` may start in `state` by a rule
    /// (replies owed aside), each once, in rule order.
    pub fn rule_starts(&self, state: StateId, receiver: Role) -> &[MessageId] {
        &self.lookups().starts[state][receiver as usize]
    }

    /// The start of the reply to rule `rule` of `state` (`None`: the
    /// state's `otherwise` reply).
    pub fn reply_start(&self, state: StateId, rule: Option<usize>) -> &ReplyPoint {
        let starts = &self.lookups().reply_starts[state];
        &starts[rule.unwrap_or(starts.len() - 1)]
    }

    pub fn message(&self, name: &str) -> Option<MessageId> {
        self.messages.iter().position(|m| m.name == name)
    }
    pub fn state(&self, name: &str) -> Option<StateId> {
        self.states.iter().position(|s| s.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub name: String,
    pub span: Span,
    pub role: Role,
    pub layout: MessageLayout,
}

#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub span: Span,
    /// How long a message may take: from its first byte, or from when it
    /// was due (a reply owed, a message the peer has no other way out
    /// than to send), to its end. Not from the last byte: a peer dripping
    /// bytes cannot hold the connection.
    pub timeout: Duration,
    /// How long to wait for the peer to begin a message it does not owe
    /// (a client's next request); `None` waits as long as it takes.
    pub idle_timeout: Option<Duration>,
    pub rules: Vec<Rule>,
    /// Replies that may stand in for any exchange's reply, and that answer
    /// input matching no request; the state holds.
    pub otherwise: Option<Reply>,
    /// Where the `otherwise` rule is written.
    pub otherwise_span: Span,
    /// Input from this role is read and discarded (counted, never buffered).
    pub ignore: Option<Role>,
    /// Both roles may send at once (a two-way stream).
    pub duplex: bool,
    /// Lowering dropped a rule of this state (an error was reported); graph
    /// checks skip the state rather than report errors that follow from it.
    pub incomplete: bool,
}

impl State {
    /// The roles that may start a message in this state.
    pub fn senders(&self) -> Vec<Role> {
        let mut roles = Vec::new();
        for rule in &self.rules {
            if let Some(role) = rule.sender() {
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
        }
        roles
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub kind: RuleKind,
    pub span: Span,
    /// `otherwise MESSAGE -> ...`: an exchange whose request is tried only
    /// when no other request of the state matches, in the order written.
    pub fallback: bool,
}

impl Rule {
    /// The role that starts this rule by sending a message.
    pub fn sender(&self) -> Option<Role> {
        match &self.kind {
            RuleKind::Send { role, .. } => Some(*role),
            RuleKind::Exchange { .. } => Some(Role::Client),
            RuleKind::Close { .. } | RuleKind::HalfClose { .. } => None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    /// `role sends Message [where flag] -> target;`
    Send {
        role: Role,
        message: MessageId,
        condition: Option<Condition>,
        target: Target,
    },
    /// `exchange Request [where flag] -> reply;` (the state holds afterwards)
    Exchange {
        request: MessageId,
        condition: Option<Condition>,
        reply: Reply,
    },
    /// `role closes;`: the role may end the conversation here.
    Close { role: Role },
    /// `role half-closes [-> target];`
    HalfClose { role: Role, target: Target },
}

/// A rule that applies only when an optional part of the message is present.
#[derive(Debug, Clone)]
pub struct Condition {
    pub field: crate::layout::FieldId,
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    State(StateId),
    /// The sender closes the connection after the message.
    Close,
    /// The sender shuts down its writing side after the message.
    HalfClose,
}

/// What may answer a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// No reply comes (memcached's `noreply`).
    None { span: Span },
    /// The server closes the connection instead of replying.
    Close { span: Span },
    /// One of several sequences of server messages.
    Sequences(Vec<ReplySeq>),
}

#[derive(Debug, Clone)]
pub struct ReplySeq {
    pub items: Vec<ReplyItem>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ReplyItem {
    pub message: MessageId,
    pub repeat: Repeat,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    One,
    Optional,
    ZeroOrMore,
    OneOrMore,
}

/// What a server over its connection limit sends before closing.
#[derive(Debug, Clone)]
pub struct Overload {
    pub bytes: Vec<u8>,
    pub span: Span,
}

/// A point in a reply grammar (`Value* End | Error`): the (sequence, item)
/// pairs still possible. The session, the compiler's checks and the code
/// generator all walk replies with it, so they agree on what may come next.
///
/// Held inline: a session makes one per request and one per reply message,
/// and real replies have a handful of positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyPoint(Positions);

type Positions = smallvec::SmallVec<[(usize, usize); 4]>;

impl ReplyPoint {
    /// Before the first message of the reply.
    pub fn start(seqs: &[ReplySeq]) -> Self {
        Self::closed(seqs, (0..seqs.len()).map(|a| (a, 0)).collect())
    }

    /// Adds the positions reachable by skipping optional items.
    fn closed(seqs: &[ReplySeq], mut set: Positions) -> Self {
        let mut i = 0;
        while i < set.len() {
            let (a, idx) = set[i];
            if let Some(item) = seqs[a].items.get(idx) {
                if matches!(item.repeat, Repeat::Optional | Repeat::ZeroOrMore)
                    && !set.contains(&(a, idx + 1))
                {
                    set.push((a, idx + 1));
                }
            }
            i += 1;
        }
        set.sort_unstable();
        set.dedup();
        ReplyPoint(set)
    }

    /// The messages that may come here, in grammar order.
    pub fn messages(&self, seqs: &[ReplySeq]) -> Vec<MessageId> {
        let mut out = Vec::new();
        self.each_message(seqs, |m| {
            if !out.contains(&m) {
                out.push(m);
            }
        });
        out
    }

    /// Calls `f` with each message that may come here, in grammar order
    /// (a message may come more than once): [`messages`](Self::messages)
    /// without a list, for the session, which asks on every message.
    pub fn each_message(&self, seqs: &[ReplySeq], mut f: impl FnMut(MessageId)) {
        for &(a, idx) in &self.0 {
            if let Some(item) = seqs[a].items.get(idx) {
                f(item.message);
            }
        }
    }

    /// Whether `m` may come here.
    pub fn accepts(&self, seqs: &[ReplySeq], m: MessageId) -> bool {
        self.0
            .iter()
            .any(|&(a, idx)| seqs[a].items.get(idx).is_some_and(|item| item.message == m))
    }

    /// The point after `m`, or `None` if `m` cannot come here.
    pub fn advance(&self, seqs: &[ReplySeq], m: MessageId) -> Option<Self> {
        let mut next = Positions::new();
        for &(a, idx) in &self.0 {
            if let Some(item) = seqs[a].items.get(idx) {
                if item.message == m {
                    match item.repeat {
                        Repeat::ZeroOrMore | Repeat::OneOrMore => {
                            next.push((a, idx));
                            next.push((a, idx + 1));
                        }
                        Repeat::One | Repeat::Optional => next.push((a, idx + 1)),
                    }
                }
            }
        }
        (!next.is_empty()).then(|| Self::closed(seqs, next))
    }

    /// The reply may be over here, though more may follow (`A B?` after `A`).
    pub fn may_end(&self, seqs: &[ReplySeq]) -> bool {
        self.0.iter().any(|&(a, idx)| idx >= seqs[a].items.len())
    }

    /// The reply is over: it reached its end and nothing more may follow.
    pub fn complete(&self, seqs: &[ReplySeq]) -> bool {
        self.may_end(seqs) && !self.0.iter().any(|&(a, idx)| idx < seqs[a].items.len())
    }
}
