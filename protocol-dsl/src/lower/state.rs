//! Lowers `state` declarations: resolves message, state and field names and
//! checks that each message is sent by the role that owns it.

use std::collections::HashMap;

use protocol_runtime::layout::{FieldType, Role};

use super::Defaults;
use crate::ast::{self, Ident, StateItem};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::{self, Condition, MessageId, Repeat, ReplyItem, ReplySeq, Rule, RuleKind, StateId, Target};

pub(super) fn lower_all(
    protocol: &ast::Protocol,
    messages: &[ir::Message],
    defaults: &Defaults,
    diags: &mut Diagnostics,
) -> (Vec<ir::State>, StateId) {
    let decls: Vec<&ast::StateDecl> = protocol
        .decls
        .iter()
        .filter_map(|d| match d {
            ast::Decl::State(s) => Some(s),
            _ => None,
        })
        .collect();

    let mut state_ids: HashMap<&str, StateId> = HashMap::new();
    for (i, s) in decls.iter().enumerate() {
        if let Some(&first) = state_ids.get(s.name.name.as_str()) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    s.name.span,
                    format!("state `{}` is declared twice", s.name.name),
                )
                .label("second declaration")
                .with_secondary(decls[first].name.span, "first declared here")
                .help("rename one of the states"),
            );
        } else {
            state_ids.insert(&s.name.name, i);
        }
    }
    let message_ids: HashMap<&str, MessageId> = messages
        .iter()
        .enumerate()
        .rev()
        .map(|(i, m)| (m.name.as_str(), i))
        .collect();

    let initial = initial_state(protocol, &decls, diags);
    let r = Resolver {
        messages,
        message_ids,
        state_ids,
        state_decls: &decls,
    };
    let states = decls.iter().map(|s| r.state(s, defaults, diags)).collect();
    (states, initial)
}

/// Why: a conversation must start somewhere, and exactly one place.
fn initial_state(protocol: &ast::Protocol, decls: &[&ast::StateDecl], diags: &mut Diagnostics) -> StateId {
    if decls.is_empty() {
        diags.push(
            Diagnostic::new(
                Code::InitialState,
                protocol.name.span,
                format!("protocol `{}` has no states", protocol.name.name),
            )
            .label("no conversation")
            .help("declare at least one state, as in `state Start { server sends Banner -> close; }`"),
        );
        return 0;
    }
    let marked: Vec<usize> = decls
        .iter()
        .enumerate()
        .filter(|(_, s)| s.initial)
        .map(|(i, _)| i)
        .collect();
    if let [first, rest @ ..] = marked.as_slice() {
        for &other in rest {
            diags.push(
                Diagnostic::new(
                    Code::InitialState,
                    decls[other].name.span,
                    format!("state `{}` is marked `initial` too", decls[other].name.name),
                )
                .label("second initial state")
                .with_secondary(decls[*first].name.span, "first initial state")
                .help("mark only one state `initial`"),
            );
        }
        *first
    } else {
        // Without a mark, the first state declared is the initial one.
        0
    }
}

struct Resolver<'a> {
    messages: &'a [ir::Message],
    message_ids: HashMap<&'a str, MessageId>,
    state_ids: HashMap<&'a str, StateId>,
    state_decls: &'a [&'a ast::StateDecl],
}

impl Resolver<'_> {
    /// `exchange REQUEST [where FLAG] -> REPLY` (or its fallback form).
    fn exchange(
        &self,
        request: &Ident,
        condition: &Option<Ident>,
        reply: &ast::Reply,
        span: ir::Span,
        fallback: bool,
        diags: &mut Diagnostics,
    ) -> Option<Rule> {
        let id = self.message(request, Role::Client, diags)?;
        let condition = condition.as_ref().and_then(|c| self.condition(id, c, diags));
        let reply = self.reply(reply, diags)?;
        Some(Rule {
            kind: RuleKind::Exchange {
                request: id,
                condition,
                reply,
            },
            span,
            fallback,
        })
    }

    fn state(&self, s: &ast::StateDecl, defaults: &Defaults, diags: &mut Diagnostics) -> ir::State {
        let self_id = self.state_ids.get(s.name.name.as_str()).copied().unwrap_or(0);
        let mut state = ir::State {
            name: s.name.name.clone(),
            span: s.name.span,
            timeout: ir::DEFAULT_TIMEOUT,
            idle_timeout: None,
            rules: Vec::new(),
            otherwise: None,
            otherwise_span: ir::Span::default(),
            ignore: None,
            duplex: false,
            incomplete: false,
        };
        let mut timeout_seen = false;
        let mut timeouts = defaults.timeout.unwrap_or_default();
        for item in &s.items {
            match item {
                StateItem::Sends {
                    role,
                    message,
                    condition,
                    target,
                    span,
                } => {
                    let Some(id) = self.message(message, *role, diags) else {
                        state.incomplete = true;
                        continue;
                    };
                    let condition = condition.as_ref().and_then(|c| self.condition(id, c, diags));
                    let Some(target) = self.target(target, diags) else {
                        state.incomplete = true;
                        continue;
                    };
                    state.rules.push(Rule {
                        kind: RuleKind::Send {
                            role: *role,
                            message: id,
                            condition,
                            target,
                        },
                        span: *span,
                        fallback: false,
                    });
                }
                StateItem::Exchange {
                    request,
                    condition,
                    reply,
                    span,
                } => match self.exchange(request, condition, reply, *span, false, diags) {
                    Some(rule) => state.rules.push(rule),
                    None => state.incomplete = true,
                },
                // A fallback request: an exchange tried after the others.
                StateItem::Otherwise {
                    message: Some(request),
                    condition,
                    reply,
                    span,
                } => match self.exchange(request, condition, reply, *span, true, diags) {
                    Some(rule) => state.rules.push(rule),
                    None => state.incomplete = true,
                },
                StateItem::Otherwise {
                    message: None,
                    reply,
                    span,
                    ..
                } => {
                    state.otherwise_span = *span;
                    if state.otherwise.is_some() {
                        diags.push(
                            Diagnostic::new(
                                Code::DuplicateName,
                                *span,
                                format!("state `{}` has two `otherwise` rules", s.name.name),
                            )
                            .label("second `otherwise`")
                            .help("list every error reply in one rule: `otherwise -> Error | ClientError;`"),
                        );
                    }
                    state.otherwise = self.reply(reply, diags);
                }
                StateItem::Closes { role, span } => {
                    state.rules.push(Rule {
                        kind: RuleKind::Close { role: *role },
                        span: *span,
                        fallback: false,
                    });
                }
                StateItem::HalfCloses { role, target, span } => {
                    if let Some(ast::Target::Close(sp) | ast::Target::HalfClose(sp)) = target {
                        diags.push(
                            Diagnostic::new(Code::BadConstruct, *sp, "a half-close leads to a state")
                                .label("not a state")
                                .help("write `client half-closes -> Draining;`, or leave the target out to stay in this state"),
                        );
                        state.incomplete = true;
                        continue;
                    }
                    let target = match target {
                        Some(t) => match self.target(t, diags) {
                            Some(t) => t,
                            None => {
                                state.incomplete = true;
                                continue;
                            }
                        },
                        None => Target::State(self_id),
                    };
                    state.rules.push(Rule {
                        kind: RuleKind::HalfClose { role: *role, target },
                        span: *span,
                        fallback: false,
                    });
                }
                StateItem::Ignore { role, span } => {
                    if state.ignore.is_some() {
                        diags.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                *span,
                                "input is ignored twice in this state",
                            )
                            .label("second `ignore`")
                            .help("keep one `ignore` rule"),
                        );
                    }
                    state.ignore = Some(*role);
                }
                StateItem::Duplex { .. } => state.duplex = true,
                StateItem::Timeout { value, span } => {
                    if timeout_seen {
                        diags.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                *span,
                                format!("state `{}` has two timeouts", s.name.name),
                            )
                            .label("second `timeout`")
                            .help("keep one `timeout`"),
                        );
                    }
                    timeout_seen = true;
                    // A state's own parts override the protocol's.
                    timeouts.message = value.message.or(timeouts.message);
                    timeouts.idle = value.idle.or(timeouts.idle);
                }
            }
        }
        for f in state.rules.iter().filter(|r| r.fallback) {
            let RuleKind::Exchange { request, .. } = f.kind else {
                continue;
            };
            let primary = state.rules.iter().any(|r| {
                !r.fallback && matches!(r.kind, RuleKind::Exchange { request: m, .. } | RuleKind::Send { message: m, .. } if m == request)
            });
            if primary {
                let name = &self.messages[request].name;
                diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        f.span,
                        format!(
                            "`{name}` is both a request and an `otherwise` message in state `{}`",
                            s.name.name
                        ),
                    )
                    .label("a fallback is tried only when no request matches, so this one never would be")
                    .help("give the fallback a message of its own"),
                );
            }
        }
        state.timeout = timeouts.message.unwrap_or(ir::DEFAULT_TIMEOUT);
        state.idle_timeout = timeouts.idle.unwrap_or(Some(state.timeout));
        state
    }

    /// Why (wrong role): a message belongs to the role that sends it; using a
    /// server message as a request would make both sides disagree on framing.
    fn message(&self, name: &Ident, role: Role, diags: &mut Diagnostics) -> Option<MessageId> {
        let Some(&id) = self.message_ids.get(name.name.as_str()) else {
            let mut d = Diagnostic::new(
                Code::UnknownName,
                name.span,
                format!("unknown message `{}`", name.name),
            )
            .label("not declared");
            if let Some(similar) = closest(&name.name, self.messages.iter().map(|m| m.name.as_str())) {
                d = d.help(format!("a message with a similar name exists: `{similar}`"));
            } else {
                d = d.help(format!("declare it: `{} message {} = ...;`", role, name.name));
            }
            diags.push(d);
            return None;
        };
        let m = &self.messages[id];
        if m.role != role {
            diags.push(
                Diagnostic::new(
                    Code::WrongRole,
                    name.span,
                    format!(
                        "message `{}` is sent by the {}, not the {}",
                        name.name, m.role, role
                    ),
                )
                .label(format!("used as a {role} message"))
                .with_secondary(m.span, format!("declared as a {} message here", m.role))
                .help(format!(
                    "declare a {role} message, or let the {} send `{}`",
                    m.role, name.name
                )),
            );
            return None;
        }
        Some(id)
    }

    fn condition(&self, message: MessageId, name: &Ident, diags: &mut Diagnostics) -> Option<Condition> {
        let layout = &self.messages[message].layout;
        let Some(index) = layout.fields.iter().position(|f| f.name == name.name) else {
            diags.push(
                Diagnostic::new(Code::UnknownName, name.span, format!("message `{}` has no field `{}`", self.messages[message].name, name.name))
                    .label("no such field")
                    .help("a condition names a flag (`noreply: (\" noreply\")?`) or an optional field of the message"),
            );
            return None;
        };
        let field = &layout.fields[index];
        if !(field.optional || field.ty == FieldType::Flag) {
            diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    name.span,
                    format!(
                        "field `{}` is always present, so `where {}` always holds",
                        name.name, name.name
                    ),
                )
                .label("not optional")
                .help("a condition names a flag (`noreply: (\" noreply\")?`) or an optional field"),
            );
            return None;
        }
        Some(Condition {
            field: u16::try_from(index).unwrap_or(u16::MAX),
            name: name.name.clone(),
            span: name.span,
        })
    }

    fn target(&self, target: &ast::Target, diags: &mut Diagnostics) -> Option<Target> {
        match target {
            ast::Target::Close(_) => Some(Target::Close),
            ast::Target::HalfClose(_) => Some(Target::HalfClose),
            ast::Target::State(name) => match self.state_ids.get(name.name.as_str()) {
                Some(&id) => Some(Target::State(id)),
                None => {
                    let mut d = Diagnostic::new(
                        Code::UnknownName,
                        name.span,
                        format!("unknown state `{}`", name.name),
                    )
                    .label("not declared");
                    d = match closest(&name.name, self.state_decls.iter().map(|s| s.name.name.as_str())) {
                        Some(similar) => d.help(format!("a state with a similar name exists: `{similar}`")),
                        None => d.help(format!("declare it: `state {} {{ ... }}`", name.name)),
                    };
                    diags.push(d);
                    None
                }
            },
        }
    }

    fn reply(&self, reply: &ast::Reply, diags: &mut Diagnostics) -> Option<ir::Reply> {
        match reply {
            ast::Reply::None(span) => Some(ir::Reply::None { span: *span }),
            ast::Reply::Close(span) => Some(ir::Reply::Close { span: *span }),
            ast::Reply::Alternatives(seqs) => {
                let mut out = Vec::new();
                let mut ok = true;
                for seq in seqs {
                    let mut items = Vec::new();
                    for item in &seq.items {
                        match self.message(&item.message, Role::Server, diags) {
                            Some(message) => items.push(ReplyItem {
                                message,
                                repeat: repeat(item.quantifier),
                                span: item.span,
                            }),
                            None => ok = false,
                        }
                    }
                    out.push(ReplySeq {
                        items,
                        span: seq.span,
                    });
                }
                ok.then_some(ir::Reply::Sequences(out))
            }
        }
    }
}

fn repeat(q: ast::Quantifier) -> Repeat {
    match q {
        ast::Quantifier::One => Repeat::One,
        ast::Quantifier::Optional => Repeat::Optional,
        ast::Quantifier::ZeroOrMore => Repeat::ZeroOrMore,
        ast::Quantifier::OneOrMore => Repeat::OneOrMore,
    }
}

/// The candidate closest to `name` by edit distance, if it is close enough to
/// be a likely typo.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
