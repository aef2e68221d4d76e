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
    let langs: Vec<_> = p.messages.iter().map(|m| first_segment(&m.layout)).collect();
    let mut reported: Vec<(usize, usize)> = Vec::new();
    for set in receive_sets(p) {
        for (i, &(a, a_span)) in set.messages.iter().enumerate() {
            // Fallback requests are tried in order after the others.
            let end = set.ordered_from.max(i + 1);
            for &(b, b_span) in &set.messages[i + 1..end] {
                let key = (a.min(b), a.max(b));
                if a == b || reported.contains(&key) {
                    continue;
                }
                let Some(framed) = comparable(&p.messages[a], &p.messages[b]) else {
                    continue; // different framings: the mixed-framing check reports them
                };
                let (Some(la), Some(lb)) = (&langs[a], &langs[b]) else {
                    continue;
                };
                let Some((kind, witness)) = overlap(la, lb, framed, BUDGET) else {
                    continue;
                };
                reported.push(key);
                let (ma, mb) = (&p.messages[a].name, &p.messages[b].name);
                let shown = format!("\"{}\"", witness.escape_ascii());
                let message = format!("messages `{ma}` and `{mb}` cannot be told apart {}", set.context);
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

/// Whether two messages' first segments can be compared byte for byte:
/// `Some(true)` when one framing cuts both out as whole frames (only equal
/// frames collide), `Some(false)` when one may be a prefix of the other (exact
/// bytes against exact bytes or a line), `None` for different framings.
fn comparable(a: &ir::Message, b: &ir::Message) -> Option<bool> {
    use protocol_runtime::layout::Framing::*;
    let (fa, fb) = (a.layout.segments.first()?, b.layout.segments.first()?);
    match (&fa.framing, &fb.framing) {
        (
            Line {
                delimiter: x,
                also_ends: xs,
                ..
            },
            Line {
                delimiter: y,
                also_ends: ys,
                ..
            },
        ) => {
            (super::mixed_framing::line_ends(x, xs) == super::mixed_framing::line_ends(y, ys)).then_some(true)
        }
        (Length { prefix: x, .. }, Length { prefix: y, .. }) => (x == y).then_some(true),
        (Exact(_), Exact(_) | Line { .. }) | (Line { .. }, Exact(_)) => Some(false),
        (
            Raw { .. } | UntilClose { .. } | Available { .. },
            Raw { .. } | UntilClose { .. } | Available { .. },
        ) => Some(false),
        _ => None,
    }
}
