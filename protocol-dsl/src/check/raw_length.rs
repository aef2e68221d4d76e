//! Why: `raw(n)` reads as many bytes as `n` says, so `n` must be an integer the
//! receiver has already read in the same message (and is always present); and
//! a fixed `raw(0)` reads nothing, so a message starting with it would arrive
//! endlessly out of no bytes at all.

use protocol_runtime::layout::{FieldId, FieldType, Framing, RawLen};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    for m in p.bodies() {
        for seg in &m.layout.segments {
            if let Framing::Raw {
                len: RawLen::Fixed(0),
                ..
            } = &seg.framing
            {
                diags.push(
                    Diagnostic::new(
                        Code::RawLength,
                        seg.span,
                        format!("`raw(0)` in message `{}` reads no bytes", m.name),
                    )
                    .label("a part of zero bytes")
                    .help("give `raw` a length of at least 1, or remove the part"),
                );
                continue;
            }
            let Framing::Raw {
                len: RawLen::Field(id),
                field,
                ..
            } = &seg.framing
            else {
                continue;
            };
            if *id == FieldId::MAX {
                continue; // unknown name, reported when lowering
            }
            let len = &m.layout.fields[*id as usize];
            let problem = if !matches!(len.ty, FieldType::Int(_)) {
                Some(("is not an integer", "declare it as an integer, as in `len: u32`"))
            } else if id >= field {
                Some((
                    "is read after the `raw` part that uses it",
                    "move the length before the `raw` part",
                ))
            } else if len.optional {
                Some(("may be absent", "take the length out of the optional part"))
            } else {
                None
            };
            if let Some((why, help)) = problem {
                diags.push(
                    Diagnostic::new(
                        Code::RawLength,
                        seg.span,
                        format!(
                            "the length of `raw` in message `{}`, field `{}`, {why}",
                            m.name, len.name
                        ),
                    )
                    .label("the receiver cannot know how many bytes to read")
                    .with_secondary(len.span, format!("`{}` is declared here", len.name))
                    .help(help),
                );
            }
        }
    }
}
