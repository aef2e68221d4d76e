//! Why: a peer controls lengths, lines and repetitions; without a bound a
//! hostile or broken peer makes the receiver buffer without limit.

use protocol_runtime::layout::{FieldType, Framing};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;
use crate::lower::UNBOUNDED;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    recursion(p, diags);
    for m in p.bodies() {
        for seg in &m.layout.segments {
            let (what, example, limit) = match &seg.framing {
                Framing::Line { max, .. } if *max == UNBOUNDED => {
                    ("line", "line(\"\\r\\n\", max = 2 KiB)", "line")
                }
                Framing::Length { max, .. } if *max == UNBOUNDED => {
                    ("length-prefixed frame", "length(u32be, max = 1 MiB)", "length")
                }
                Framing::Raw { max, .. } if *max == UNBOUNDED => {
                    ("`raw` length", "raw(len, max = 1 MiB)", "raw")
                }
                Framing::UntilClose { max, .. } if *max == UNBOUNDED => {
                    ("`raw(until_close)`", "raw(until_close, max = 1 MiB)", "raw")
                }
                Framing::Available { max, .. } if *max == UNBOUNDED => {
                    ("`raw(available)`", "raw(available, max = 64 KiB)", "raw")
                }
                _ => continue,
            };
            diags.push(
                Diagnostic::new(
                    Code::Unbounded,
                    seg.span,
                    format!("the {what} of message `{}` has no bound", m.name),
                )
                .label("a peer could make this arbitrarily long")
                .help(format!(
                    "write `{example}`, or declare a default: `limits {{ {limit} = 1 MiB; }}`"
                )),
            );
        }
        for f in &m.layout.fields {
            if let FieldType::Array { max, .. } = f.ty {
                if max == UNBOUNDED {
                    diags.push(
                        Diagnostic::new(
                            Code::Unbounded,
                            f.span,
                            format!("the count of `{}` in `{}` has no bound", f.name, m.name),
                        )
                        .label("a peer could claim any number of items")
                        .help("declare a default: `limits { repeat = 1024; }`"),
                    );
                }
            }
            if let FieldType::List { max, .. } = f.ty {
                if max == UNBOUNDED {
                    diags.push(
                        Diagnostic::new(Code::Unbounded, f.span, format!("list `{}` of message `{}` has no bound", f.name, m.name))
                            .label("a peer could send any number of items")
                            .help("write `list(token, sep = \" \", max = 64)`, or declare a default: `limits { repeat = 64; }`"),
                    );
                }
            }
        }
    }
}

/// A type that may contain itself needs a depth limit: a peer could nest
/// values without end.
fn recursion(p: &ir::Protocol, diags: &mut Diagnostics) {
    if p.max_depth != UNBOUNDED {
        return;
    }
    let contains = |t: usize| -> Vec<usize> {
        match &p.types[t].kind {
            ir::TypeKind::Choice(bs) => bs.clone(),
            ir::TypeKind::Struct(l) => l
                .fields
                .iter()
                .filter_map(|f| match &f.ty {
                    FieldType::Type(t) => Some(*t),
                    FieldType::Array { item, .. } => match **item {
                        FieldType::Type(t) => Some(t),
                        _ => None,
                    },
                    _ => None,
                })
                .collect(),
        }
    };
    for start in 0..p.types.len() {
        // Is `start` reachable from itself?
        let mut seen = vec![false; p.types.len()];
        let mut stack = contains(start);
        while let Some(t) = stack.pop() {
            if t == start {
                diags.push(
                    Diagnostic::new(
                        Code::Unbounded,
                        p.types[start].span,
                        format!(
                            "`{}` may contain itself, with no bound on the depth",
                            p.types[start].name
                        ),
                    )
                    .label("recursive type")
                    .help("declare how deep values may nest: `limits { depth = 32; }`"),
                );
                return;
            }
            if t < seen.len() && !seen[t] {
                seen[t] = true;
                stack.extend(contains(t));
            }
        }
    }
}
