//! Why: when two messages may arrive in one place and some bytes fit both, the
//! receiver cannot know which one came (or whether one has ended), and decoding
//! would depend on the order rules were written in.

use super::lang::{first_segment, overlap, Overlap};
use super::receive_sets;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

/// Product states explored per pair before the check gives up on proving a
/// collision (only pathological patterns get near it).
const BUDGET: usize = 20_000;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    let langs: Vec<_> = p
        .messages
        .iter()
        .map(|m| first_segment(&m.layout))
        .collect();
    let mut reported: Vec<(usize, usize)> = Vec::new();
    for set in receive_sets(p) {
        for (i, &(a, a_span)) in set.messages.iter().enumerate() {
            for &(b, b_span) in &set.messages[i + 1..] {
                let key = (a.min(b), a.max(b));
                if a == b || reported.contains(&key) {
                    continue;
                }
                if !comparable(&p.messages[a], &p.messages[b]) {
                    continue; // different framings: the mixed-framing check reports them
                }
                let (Some(la), Some(lb)) = (&langs[a], &langs[b]) else {
                    continue;
                };
                let Some((kind, witness)) = overlap(la, lb, BUDGET) else {
                    continue;
                };
                reported.push(key);
                let (ma, mb) = (&p.messages[a].name, &p.messages[b].name);
                let shown = format!("\"{}\"", witness.escape_ascii());
                let message = format!(
                    "messages `{ma}` and `{mb}` cannot be told apart {}",
                    set.context
                );
                let label = match kind {
                    Overlap::Same => format!("{shown} is both a `{ma}` and a `{mb}`"),
                    Overlap::Prefix => {
                        format!("after {shown} one message may be complete and the other not")
                    }
                };
                diags.push(
                    Diagnostic::new(Code::Indistinguishable, b_span, message)
                        .label(label)
                        .with_secondary(a_span, format!("`{ma}` may arrive here too"))
                        .help(
                            "make their first bytes differ, or merge them into one message with an optional part, as in `\"ERROR\" (\" \" why: text)?`",
                        ),
                );
            }
        }
    }
}

/// Whether two messages' first segments are read the same way, so that their
/// bytes can be compared: the same framing, or exact bytes against a line
/// (a fixed literal that is also the start of a line).
fn comparable(a: &ir::Message, b: &ir::Message) -> bool {
    use protocol_runtime::layout::Framing::*;
    let (Some(fa), Some(fb)) = (a.layout.segments.first(), b.layout.segments.first()) else {
        return false;
    };
    match (&fa.framing, &fb.framing) {
        (Line { delimiter: x, .. }, Line { delimiter: y, .. }) => x == y,
        (Length { prefix: x, .. }, Length { prefix: y, .. }) => x == y,
        (Exact(_), Exact(_) | Line { .. }) | (Line { .. }, Exact(_)) => true,
        (
            Raw { .. } | UntilClose { .. } | Available { .. },
            Raw { .. } | UntilClose { .. } | Available { .. },
        ) => true,
        _ => false,
    }
}
