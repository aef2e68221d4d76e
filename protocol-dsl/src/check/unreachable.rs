//! Why: a state no conversation can reach is dead code in a protocol; it is
//! almost always a misspelt or forgotten transition.

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::{self, RuleKind, Target};

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    // A dropped transition would make states look unreachable.
    if p.states.is_empty() || p.states.iter().any(|s| s.incomplete) {
        return;
    }
    let mut reached = vec![false; p.states.len()];
    let mut stack = vec![p.initial];
    reached[p.initial] = true;
    while let Some(s) = stack.pop() {
        for rule in &p.states[s].rules {
            let target = match &rule.kind {
                RuleKind::Send { target, .. } | RuleKind::HalfClose { target, .. } => target,
                _ => continue,
            };
            if let Target::State(t) = target {
                if !reached[*t] {
                    reached[*t] = true;
                    stack.push(*t);
                }
            }
        }
    }
    for (id, state) in p.states.iter().enumerate() {
        if !reached[id] {
            diags.push(
                Diagnostic::new(
                    Code::UnreachableState,
                    state.span,
                    format!("state `{}` is unreachable", state.name),
                )
                .label("no transition leads here")
                .with_secondary(p.states[p.initial].span, "the conversation starts here")
                .help(format!(
                    "add a transition `-> {}` to a reachable state, or remove the state",
                    state.name
                )),
            );
        }
    }
}
