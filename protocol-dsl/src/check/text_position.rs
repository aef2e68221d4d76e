//! Why: free text and bytes run to the end of their frame; anything after them
//! but fixed literals would leave the receiver unable to tell where they end.

use protocol_runtime::layout::{FieldType, Framing, Item, ItemKind, MessageLayout, Pattern};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    for m in p.bodies() {
        for seg in &m.layout.segments {
            match &seg.framing {
                Framing::Line { pattern, .. } | Framing::Length { pattern, .. } => {
                    walk(m.name, m.layout, pattern, true, diags)
                }
                // Read in place, with more of the frame after it.
                Framing::Inline { pattern } => walk(m.name, m.layout, pattern, false, diags),
                _ => {}
            }
        }
    }
}

/// Literals, and repetitions of literals (`" "*`): what a free field's
/// decoder can leave to the end of the frame.
fn literal_only(items: &[Item]) -> bool {
    items.iter().all(|i| match &i.kind {
        ItemKind::Literal(_) => true,
        ItemKind::Repeat { pattern, .. } => literal_only(&pattern.items),
        ItemKind::Alternatives(alts) => alts.iter().all(|a| literal_only(&a.items)),
        _ => false,
    })
}

fn walk(message: &str, layout: &MessageLayout, pattern: &Pattern, tail_ok: bool, diags: &mut Diagnostics) {
    for (i, item) in pattern.items.iter().enumerate() {
        let mut rest = &pattern.items[i + 1..];
        if let ItemKind::If { field, set, .. } = &item.kind {
            // The arms of a `match`: when this part is present, the parts
            // after it on the same field with other values are not.
            let exclusive = rest
                .iter()
                .take_while(|r| {
                    matches!(&r.kind, ItemKind::If { field: f, set: s, .. }
                        if f == field && s.0.iter().all(|&(a, b)| set.0.iter().all(|&(c, d)| b < c || d < a)))
                })
                .count();
            rest = &rest[exclusive..];
        }
        let ok = tail_ok && literal_only(rest);
        match &item.kind {
            ItemKind::Field(id) => {
                let Some(f) = layout.fields.get(*id as usize) else {
                    continue;
                };
                if matches!(f.ty, FieldType::Text | FieldType::Bytes | FieldType::Rest { .. }) && !ok {
                    let after = rest
                        .iter()
                        .find(|r| !matches!(r.kind, ItemKind::Literal(_)))
                        .map(|r| r.span);
                    let mut d = Diagnostic::new(
                        Code::TextPosition,
                        item.span,
                        format!(
                            "free {} field `{}` of message `{message}` is followed by more than literals",
                            match f.ty {
                                FieldType::Text => "text",
                                FieldType::Bytes => "bytes",
                                _ => "`[..]`",
                            },
                            f.name
                        ),
                    )
                    .label("runs to the end of its frame")
                    .help("put `text` and `bytes` last in their frame (only fixed literals may follow), or use `token`");
                    if let Some(span) = after {
                        d = d.with_secondary(span, "this could never be read");
                    }
                    diags.push(d);
                }
            }
            ItemKind::Optional { pattern, .. } | ItemKind::If { pattern, .. } => {
                walk(message, layout, pattern, ok, diags)
            }
            // Its own bytes end where its size says.
            ItemKind::Sized { pattern, .. } => walk(message, layout, pattern, true, diags),
            ItemKind::Alternatives(alts) => {
                for alt in alts {
                    walk(message, layout, alt, ok, diags);
                }
            }
            ItemKind::Repeat { .. } | ItemKind::Literal(_) | ItemKind::Bits { .. } => {}
        }
    }
}
