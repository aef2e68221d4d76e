//! Why: if both roles may start a message in one state, each may wait for the
//! other or both may write at once; the spec must say it means that (`duplex`).

use protocol_runtime::layout::Role;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir::{self, Rule};

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    for state in &p.states {
        if state.duplex {
            continue;
        }
        let first = |role: Role| state.rules.iter().find(|r: &&Rule| r.sender() == Some(role));
        if let (Some(c), Some(s)) = (first(Role::Client), first(Role::Server)) {
            diags.push(
                Diagnostic::new(Code::BothSend, s.span, format!("both roles may send in state `{}`", state.name))
                    .label("the server may send here")
                    .with_secondary(c.span, "and the client may send here")
                    .help("declare `duplex;` in the state if both may send at once, or split it into one state per sender"),
            );
        }
    }
}
