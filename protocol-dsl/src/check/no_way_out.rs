//! Why: a state from which no path ever closes the connection traps both
//! peers; every conversation must be able to end cleanly.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::{self, Reply, RuleKind, Target};

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    let n = p.states.len();
    // `ends[s]`: some path from `s` closes the connection.
    let mut ends: Vec<bool> = p
        .states
        .iter()
        .map(|s| {
            matches!(s.otherwise, Some(Reply::Close { .. }))
                || s.rules.iter().any(|r| match &r.kind {
                    RuleKind::Close { .. } => true,
                    RuleKind::Send { target, .. } | RuleKind::HalfClose { target, .. } => {
                        matches!(target, Target::Close | Target::HalfClose)
                    }
                    RuleKind::Exchange { reply, .. } => matches!(reply, Reply::Close { .. }),
                })
        })
        .collect();
    let mut changed = true;
    while changed {
        changed = false;
        for s in 0..n {
            if ends[s] {
                continue;
            }
            let leads_out = p.states[s].rules.iter().any(|r| match &r.kind {
                RuleKind::Send {
                    target: Target::State(t),
                    ..
                }
                | RuleKind::HalfClose {
                    target: Target::State(t),
                    ..
                } => ends[*t],
                _ => false,
            });
            if leads_out {
                ends[s] = true;
                changed = true;
            }
        }
    }
    for (s, state) in p.states.iter().enumerate() {
        if !ends[s] && !p.states.iter().any(|s| s.incomplete) {
            let d = Diagnostic::new(
                Code::NoWayOut,
                state.span,
                format!("state `{}` has no way out", state.name),
            );
            let d = if state.rules.is_empty() {
                d.label("nothing can happen here")
            } else {
                d.label("no path from here closes the connection")
            };
            diags.push(d.help(
                "add a transition to another state, a `-> close` target, or a rule such as `client closes;`",
            ));
        }
    }
}
