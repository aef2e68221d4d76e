//! Why: a value of a named type is found by its first frame. The decoder
//! reads that frame before it knows which struct came, so every struct
//! must begin with a frame of its own, the branches of a choice with the
//! same framing, and no frame may fit two branches. (A struct read in
//! place, `struct T = { ... }`, is found where its holder says.)

use protocol_runtime::layout::Framing;

use super::lang::{overlap, segment_lang};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

const BUDGET: usize = 20_000;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    for t in &p.types {
        let Some(layout) = t.layout() else { continue };
        let framed = matches!(
            layout.segments.first().map(|s| &s.framing),
            Some(
                Framing::Line { .. }
                    | Framing::Length { .. }
                    | Framing::Fixed { .. }
                    | Framing::Inline { .. }
            )
        );
        if !framed {
            let span = layout.segments.first().map_or(t.span, |s| s.span);
            diags.push(
                Diagnostic::new(Code::BadConstruct, span, format!("struct `{}` must begin with a frame of its own", t.name))
                    .label("not a line, length-prefixed or fixed frame")
                    .help("begin it with the bytes that say what it is, as in `struct Array = \"*\" n: u32 then items: Value[n];`"),
            );
        }
    }
    for t in &p.types {
        let ir::TypeKind::Choice(branches) = &t.kind else {
            continue;
        };
        let firsts: Vec<(usize, &ir::MessageLayout)> = branches
            .iter()
            .filter_map(|b| p.types.get(*b)?.layout().map(|l| (*b, l)))
            .filter(|(_, l)| !l.segments.is_empty())
            .collect();
        for (i, (a, la)) in firsts.iter().enumerate() {
            for (b, lb) in &firsts[i + 1..] {
                let (sa, sb) = (&la.segments[0], &lb.segments[0]);
                let (na, nb) = (&p.types[*a].name, &p.types[*b].name);
                if !same_framing(&sa.framing, &sb.framing) {
                    diags.push(
                        Diagnostic::new(
                            Code::MixedFraming,
                            sb.span,
                            format!("branches `{na}` and `{nb}` of `{}` begin with different framings", t.name),
                        )
                        .label(format!("`{nb}` begins here"))
                        .with_secondary(sa.span, format!("`{na}` begins here"))
                        .help("the decoder reads the first frame before it knows the branch: give every branch the same first framing"),
                    );
                    continue;
                }
                let (Some(x), Some(y)) = (segment_lang(la, 0), segment_lang(lb, 0)) else {
                    continue;
                };
                if let Some((_, witness)) = overlap(&x, &y, true, BUDGET) {
                    diags.push(
                        Diagnostic::new(
                            Code::Indistinguishable,
                            sb.span,
                            format!("branches `{na}` and `{nb}` of `{}` cannot be told apart", t.name),
                        )
                        .label(format!("\"{}\" begins both", witness.escape_ascii()))
                        .with_secondary(sa.span, format!("`{na}` may begin the same way"))
                        .help("make the first frames of the branches differ, as RESP's type bytes do (`+`, `-`, `:`, `$`, `*`)"),
                    );
                }
            }
        }
    }
}

fn same_framing(a: &Framing, b: &Framing) -> bool {
    match (a, b) {
        (
            Framing::Line {
                delimiter: x,
                also_ends: xs,
                ..
            },
            Framing::Line {
                delimiter: y,
                also_ends: ys,
                ..
            },
        ) => super::mixed_framing::line_ends(x, xs) == super::mixed_framing::line_ends(y, ys),
        (Framing::Length { prefix: x, .. }, Framing::Length { prefix: y, .. }) => x == y,
        (Framing::Fixed { width: x, .. }, Framing::Fixed { width: y, .. }) => x == y,
        _ => false,
    }
}
