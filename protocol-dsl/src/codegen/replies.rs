//! The points a reply can be at, as the typestate API sees them: each point
//! of an exchange's reply grammar becomes one type, whose moves are the
//! messages that may come there. The walk is the session's own
//! ([`ReplyPoint`]), so the types and the engine agree.

use protocol_runtime::spec::{MessageId, Protocol, Reply, ReplyPoint, ReplySeq, RuleKind, StateId};

/// Where a reply message leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Another point of the same reply.
    Point(usize),
    /// The reply is complete: back to the state.
    Done,
    /// Into point `n` of the state's `otherwise` reply.
    Otherwise(usize),
}

/// The reply grammar of one exchange (or of a state's `otherwise`).
#[derive(Debug, Clone)]
pub struct ReplyGraph {
    /// For each point: the messages that may come and where each leads.
    pub edges: Vec<Vec<(MessageId, Next)>>,
}

pub(crate) fn seqs_of(p: &Protocol, state: StateId, rule: Option<usize>) -> &[ReplySeq] {
    let st = &p.states[state];
    let reply = match rule {
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

/// Builds the graph of an exchange's reply (`rule = Some`) or of the state's
/// `otherwise` (`rule = None`).
pub fn build(
    p: &Protocol,
    state: StateId,
    rule: Option<usize>,
    otherwise: Option<&ReplyGraph>,
) -> ReplyGraph {
    let seqs = seqs_of(p, state, rule);
    let mut points = vec![ReplyPoint::start(seqs)];
    let mut edges = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let point = points[i].clone();
        let mut out: Vec<(MessageId, Next)> = Vec::new();
        for m in point.messages(seqs) {
            let Some(next) = point.advance(seqs, m) else {
                continue;
            };
            let target = if next.complete(seqs) {
                Next::Done
            } else {
                match points.iter().position(|q| *q == next) {
                    Some(k) => Next::Point(k),
                    None => {
                        points.push(next);
                        Next::Point(points.len() - 1)
                    }
                }
            };
            out.push((m, target));
        }
        // Before a reply starts, the state's `otherwise` replies may stand in.
        if i == 0 {
            if let Some(o) = otherwise {
                for &(m, next) in o.edges.first().map(Vec::as_slice).unwrap_or(&[]) {
                    if !out.iter().any(|(x, _)| *x == m) {
                        let next = match next {
                            Next::Point(k) => Next::Otherwise(k),
                            other => other,
                        };
                        out.push((m, next));
                    }
                }
            }
        }
        edges.push(out);
        i += 1;
    }
    ReplyGraph { edges }
}
