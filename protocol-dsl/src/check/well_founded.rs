//! Why: a type every value of which holds another value of a type on the
//! same cycle has no value at all: no peer can send one, the decoder could
//! only stop at the depth limit, and the generated type's `Default` would
//! never end.

use protocol_runtime::layout::FieldType;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    // Types that have a finite value, found by iterating to a fixpoint: a
    // struct when each value of a named type it holds has one (a repetition
    // may be empty), a choice when one of its branches has one.
    let mut finite = vec![false; p.types.len()];
    let mut changed = true;
    while changed {
        changed = false;
        for (t, def) in p.types.iter().enumerate() {
            if finite[t] {
                continue;
            }
            let ok = match &def.kind {
                ir::TypeKind::Struct(l) => l.fields.iter().all(|f| match f.ty {
                    FieldType::Type(u) => finite.get(u).copied().unwrap_or(true),
                    _ => true,
                }),
                ir::TypeKind::Choice(bs) => bs.iter().any(|b| finite.get(*b).copied().unwrap_or(true)),
            };
            if ok {
                finite[t] = true;
                changed = true;
            }
        }
    }
    for (t, def) in p.types.iter().enumerate() {
        if !finite[t] {
            diags.push(
                Diagnostic::new(
                    Code::IllFounded,
                    def.span,
                    format!("every value of `{}` holds another value of a type that holds it again", def.name),
                )
                .label("no value of this type ends")
                .help("give it a way to end: a branch of a choice that holds no such value, or a repetition that may be empty, as in `items: Value[n]`"),
            );
        }
    }
}
