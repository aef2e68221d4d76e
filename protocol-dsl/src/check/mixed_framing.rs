//! Why: the receiver must know how to read the next bytes before it knows which
//! message they are, so every message it may receive in one place must start
//! with the same framing.

use protocol_runtime::layout::{Framing, LengthPrefix};

use super::receive_sets;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

#[derive(PartialEq, Eq)]
enum Class<'a> {
    /// The line ends a receiver accepts, as a set (the one written first
    /// matters only to the sender).
    Line(Vec<&'a [u8]>),
    Length(LengthPrefix),
    Fixed(usize),
    Exact,
    Raw,
}

fn describe(c: &Class<'_>) -> String {
    match c {
        Class::Line(ends) => {
            let ends: Vec<String> = ends.iter().map(|e| format!("`{}`", e.escape_ascii())).collect();
            format!("a line ending in {}", ends.join(" or "))
        }
        Class::Length(p) => format!("a `{}` length prefix", p.name()),
        Class::Fixed(w) => format!("a fixed frame of {w} bytes"),
        Class::Exact => "exact bytes".to_string(),
        Class::Raw => "raw bytes".to_string(),
    }
}

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    for set in receive_sets(p) {
        let mut first: Option<(Class<'_>, usize, ir::Span)> = None;
        for &(m, rule_span) in &set.messages {
            for (_, seg) in super::first_frames(p, &p.messages[m].layout) {
                let class = match &seg.framing {
                    Framing::Line {
                        delimiter, also_ends, ..
                    } => Class::Line(line_ends(delimiter, also_ends)),
                    Framing::Length { prefix, .. } => Class::Length(*prefix),
                    Framing::Fixed { width, .. } => Class::Fixed(*width),
                    Framing::Exact(_) => Class::Exact,
                    Framing::Raw { .. }
                    | Framing::UntilClose { .. }
                    | Framing::Available { .. }
                    | Framing::Nested { .. }
                    | Framing::Inline { .. } => Class::Raw,
                };
                match &first {
                    None => first = Some((class, m, rule_span)),
                    // A message's own first frames (the branches of a choice
                    // it begins with) are the choice's check.
                    Some((c, fm, fspan)) if *c != class && *fm != m => {
                        diags.push(
                        Diagnostic::new(
                            Code::MixedFraming,
                            rule_span,
                            format!(
                                "messages `{}` and `{}` start with different framings {}",
                                p.messages[*fm].name, p.messages[m].name, set.context
                            ),
                        )
                        .label(format!("`{}` starts with {}", p.messages[m].name, describe(&class)))
                        .with_secondary(*fspan, format!("`{}` starts with {}", p.messages[*fm].name, describe(c)))
                        .help("the receiver must know how to read before it knows which message comes: give both the same first framing"),
                    );
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

/// A line's ends as a sorted set.
pub(super) fn line_ends<'a>(delimiter: &'a [u8], also: &'a [Vec<u8>]) -> Vec<&'a [u8]> {
    let mut ends: Vec<&[u8]> = also.iter().map(Vec::as_slice).chain([delimiter]).collect();
    ends.sort_unstable();
    ends.dedup();
    ends
}
