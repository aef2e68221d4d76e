//! Why: when two messages may arrive in one place and some bytes fit both, the
//! receiver cannot know which one came (or whether one has ended), and decoding
//! would depend on the order rules were written in.
//!
//! Messages are compared frame by frame, as the decoder reads them: while
//! both read their next frame alike (the same line ends, length prefix or
//! fixed width) and some frame fits both, the decoder reads on with both
//! candidates, so the check goes on to the next frame. They are told apart
//! at the first frame no bytes fit both; they cannot be if they share
//! frames up to one that ends a message or that the two read differently.

use protocol_runtime::layout::Segment;

use super::lang::{overlap, segment_lang, Nfa, Overlap};
use super::receive_sets;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

/// Product states explored per pair before the check gives up on proving a
/// collision (only pathological patterns get near it).
const BUDGET: usize = 20_000;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    let mut langs: Vec<Vec<Option<Nfa>>> = p
        .messages
        .iter()
        .map(|m| (0..m.layout.segments.len()).map(|_| None).collect())
        .collect();
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
                let Some((kind, witness, frames)) = walk(p, a, b, &mut langs) else {
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
                let mut d = Diagnostic::new(Code::Indistinguishable, b_span, message)
                    .label(label)
                    .with_secondary(a_span, format!("`{ma}` may arrive here too"))
                    .help(
                        "make their first bytes differ, or merge them into one message with an optional part, as in `\"ERROR\" (\" \" why: text)?`",
                    );
                if frames > 1 {
                    d = d.note(format!(
                        "the two read their first {frames} frames alike and some bytes fit both in each (shown one after another); after that one message ends or the two read on differently, so nothing tells them apart"
                    ));
                }
                diags.push(d);
            }
        }
    }
}

/// Compares two messages frame by frame. `Some` when no frame tells them
/// apart: how they collide, the bytes (each shared frame's, one after
/// another) and how many frames were compared.
fn walk(
    p: &ir::Protocol,
    a: usize,
    b: usize,
    langs: &mut [Vec<Option<Nfa>>],
) -> Option<(Overlap, Vec<u8>, usize)> {
    let (sa, sb) = (&p.messages[a].layout.segments, &p.messages[b].layout.segments);
    let nested = |s: &[Segment]| {
        matches!(
            s.first().map(|s| &s.framing),
            Some(protocol_runtime::layout::Framing::Nested { .. })
        )
    };
    if nested(sa) || nested(sb) {
        // Told apart by their first frames alone (the structs a nested
        // value may begin as are each such a frame).
        for (la, fa) in super::first_frames(p, &p.messages[a].layout) {
            for (lb, fb) in super::first_frames(p, &p.messages[b].layout) {
                let framed = comparable(fa, fb)?;
                let x = segment_lang(la, la.segments.iter().position(|s| std::ptr::eq(s, fa))?)?;
                let y = segment_lang(lb, lb.segments.iter().position(|s| std::ptr::eq(s, fb))?)?;
                if let Some((kind, w)) = overlap(&x, &y, framed, BUDGET) {
                    return Some((kind, w, 1));
                }
            }
        }
        return None;
    }
    let mut witness = Vec::new();
    for i in 0..sa.len().min(sb.len()) {
        // Different framings at the first frame: the mixed-framing check
        // reports them; later, the walk stopped before (see below).
        let framed = comparable(&sa[i], &sb[i])?;
        for (m, layout) in [(a, &p.messages[a].layout), (b, &p.messages[b].layout)] {
            if langs[m][i].is_none() {
                langs[m][i] = segment_lang(layout, i);
            }
        }
        let (Some(la), Some(lb)) = (&langs[a][i], &langs[b][i]) else {
            return None;
        };
        let (kind, w) = overlap(la, lb, framed, BUDGET)?;
        witness.extend_from_slice(&w);
        let read_on = |s: &[Segment]| s.get(i + 1).is_some_and(|seg| frame_class(seg).is_some());
        let alike = match (sa.get(i + 1), sb.get(i + 1)) {
            (Some(x), Some(y)) => frame_class(x).is_some() && frame_class(x) == frame_class(y),
            _ => false,
        };
        if kind == Overlap::Same && framed && read_on(sa) && read_on(sb) && alike {
            continue;
        }
        return Some((kind, witness, i + 1));
    }
    None
}

/// How the decoder reads a frame whose content it matches before it knows
/// the message (`None` for exact bytes and raw data, which it does not).
fn frame_class(seg: &Segment) -> Option<String> {
    use protocol_runtime::layout::Framing::*;
    match &seg.framing {
        Line {
            delimiter, also_ends, ..
        } => Some(format!(
            "line {:?}",
            super::mixed_framing::line_ends(delimiter, also_ends)
        )),
        Length { prefix, .. } => Some(format!("length {}", prefix.name())),
        Fixed { width, .. } => Some(format!("fixed {width}")),
        _ => None,
    }
}

/// Whether two messages' first segments can be compared byte for byte:
/// `Some(true)` when one framing cuts both out as whole frames (only equal
/// frames collide), `Some(false)` when one may be a prefix of the other (exact
/// bytes against exact bytes or a line), `None` for different framings.
fn comparable(fa: &Segment, fb: &Segment) -> Option<bool> {
    use protocol_runtime::layout::Framing::*;
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
        (Fixed { width: x, .. }, Fixed { width: y, .. }) => (x == y).then_some(true),
        (Exact(_), Exact(_) | Line { .. }) | (Line { .. }, Exact(_)) => Some(false),
        (
            Raw { .. } | UntilClose { .. } | Available { .. },
            Raw { .. } | UntilClose { .. } | Available { .. },
        ) => Some(false),
        _ => None,
    }
}
