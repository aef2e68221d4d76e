//! Stage 3: static checks on the lowered IR, one file per check. Each check
//! reports every problem it finds; none stops the others.

mod both_send;
mod bounds;
mod choices;
mod indistinguishable;
pub mod lang;
mod length_range;
mod mixed_framing;
mod no_way_out;
mod overload;
mod raw_length;
mod segmentation;
mod text_position;
mod unreachable;
mod well_founded;

use protocol_runtime::layout::{Framing, MessageLayout, Role, Segment};

use crate::diagnostic::Diagnostics;
use crate::ir::{self, MessageId, ReplyPoint, ReplySeq, RuleKind, Span};

type Check = fn(&ir::Protocol, &mut Diagnostics);

/// Every check, in the order their diagnostics are most useful.
const CHECKS: &[Check] = &[
    bounds::check,
    raw_length::check,
    length_range::check,
    text_position::check,
    choices::check,
    well_founded::check,
    segmentation::check,
    unreachable::check,
    no_way_out::check,
    both_send::check,
    mixed_framing::check,
    indistinguishable::check,
    overload::check,
];

/// The frames a body may begin with: its own first part when that is a
/// frame; when it begins with a value of a named type, the first part of
/// each struct that value may begin as (structs begin with a frame of
/// their own: `choices` checks).
pub(crate) fn first_frames<'p>(
    p: &'p ir::Protocol,
    layout: &'p MessageLayout,
) -> Vec<(&'p MessageLayout, &'p Segment)> {
    let Some(first) = layout.segments.first() else {
        return Vec::new();
    };
    let Framing::Nested { field } = first.framing else {
        return vec![(layout, first)];
    };
    let ty = match &layout.fields[field as usize].ty {
        protocol_runtime::layout::FieldType::Type(t) => *t,
        _ => return Vec::new(),
    };
    let structs = match p.types.get(ty).map(|t| &t.kind) {
        Some(ir::TypeKind::Struct(_)) => vec![ty],
        Some(ir::TypeKind::Choice(bs)) => bs.clone(),
        None => Vec::new(),
    };
    structs
        .into_iter()
        .filter_map(|t| p.types.get(t)?.layout())
        .filter_map(|l| {
            l.segments
                .first()
                .filter(|s| !matches!(s.framing, Framing::Nested { .. }))
                .map(|s| (l, s))
        })
        .collect()
}

pub fn run_all(protocol: &ir::Protocol, diags: &mut Diagnostics) {
    for check in CHECKS {
        check(protocol, diags);
    }
}

/// A place where one role waits for the other's next message, and the
/// messages that may come there.
pub(crate) struct ReceiveSet {
    /// What the receiver is waiting for, for messages ("a reply to `Get`").
    pub context: String,
    /// Each possible message and the span of the rule that allows it.
    pub messages: Vec<(MessageId, Span)>,
    /// The messages from this index on are fallback requests (`otherwise
    /// MESSAGE`), tried in order after the others: they need not be told
    /// apart from the messages before them.
    pub ordered_from: usize,
}

/// All the receive sets of a protocol: in each state, what each side may
/// receive next; and in each exchange, what may come at each point of the reply.
pub(crate) fn receive_sets(p: &ir::Protocol) -> Vec<ReceiveSet> {
    let mut out = Vec::new();
    for state in &p.states {
        for sender in [Role::Client, Role::Server] {
            let mut messages: Vec<(MessageId, Span)> = Vec::new();
            let mut ordered_from = 0;
            for fallback in [false, true] {
                if fallback {
                    ordered_from = messages.len();
                }
                for rule in state.rules.iter().filter(|r| r.fallback == fallback) {
                    let m = match &rule.kind {
                        RuleKind::Send { role, message, .. } if *role == sender => *message,
                        RuleKind::Exchange { request, .. } if sender == Role::Client => *request,
                        _ => continue,
                    };
                    if !messages.iter().any(|(x, _)| *x == m) {
                        messages.push((m, rule.span));
                    }
                }
            }
            if !messages.is_empty() {
                out.push(ReceiveSet {
                    context: format!("in state `{}`", state.name),
                    ordered_from,
                    messages,
                });
            }
        }
        let otherwise: Vec<(MessageId, Span)> = match &state.otherwise {
            Some(ir::Reply::Sequences(seqs)) => seqs
                .iter()
                .flat_map(|s| s.items.first())
                .map(|i| (i.message, i.span))
                .collect(),
            _ => Vec::new(),
        };
        for rule in &state.rules {
            let RuleKind::Exchange { request, reply, .. } = &rule.kind else {
                continue;
            };
            let seqs: &[ReplySeq] = match reply {
                ir::Reply::Sequences(s) => s,
                _ => &[],
            };
            for (i, set) in reply_positions(seqs).into_iter().enumerate() {
                let mut messages = set;
                if i == 0 {
                    for o in &otherwise {
                        if !messages.iter().any(|(m, _)| *m == o.0) {
                            messages.push(*o);
                        }
                    }
                }
                if !messages.is_empty() {
                    out.push(ReceiveSet {
                        context: format!(
                            "in a reply to `{}` in state `{}`",
                            p.messages[*request].name, state.name
                        ),
                        ordered_from: messages.len(),
                        messages,
                    });
                }
            }
        }
    }
    out
}

/// For a reply grammar, the set of messages that may come at each point the
/// client can be at (the first set first), each with the span of an item
/// that allows it.
fn reply_positions(seqs: &[ReplySeq]) -> Vec<Vec<(MessageId, Span)>> {
    let span_of = |m: MessageId| {
        seqs.iter()
            .flat_map(|s| s.items.iter())
            .find(|i| i.message == m)
            .map_or(Span::default(), |i| i.span)
    };
    let mut points = vec![ReplyPoint::start(seqs)];
    let mut out = Vec::new();
    let mut i = 0;
    while i < points.len() && i < 256 {
        let messages = points[i].messages(seqs);
        for &m in &messages {
            if let Some(next) = points[i].advance(seqs, m) {
                if !points.contains(&next) {
                    points.push(next);
                }
            }
        }
        out.push(messages.into_iter().map(|m| (m, span_of(m))).collect());
        i += 1;
    }
    out
}
