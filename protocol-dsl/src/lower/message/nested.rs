//! Parts that are values of named types: `then value: Value`, `then args:
//! Bulk[n]`. A bare pattern that is exactly one field whose type is a
//! `struct` or `choice` is such a part.

use protocol_runtime::layout::{FieldType, Framing, Segment};

use super::MessageLowerer;
use crate::ast::{Call, Element, Expr, FieldTy, Ident, Span};
use crate::diagnostic::{Code, Diagnostic};
use crate::lower::UNBOUNDED;

/// A part that is one field of a named type.
pub(super) struct NestedPart<'p> {
    name: &'p Ident,
    call: &'p Call,
    count: Option<&'p Expr>,
    volatile: bool,
}

impl MessageLowerer<'_, '_> {
    /// The field, its type and its count, when `pattern` is one field of a
    /// named type.
    pub(super) fn nested_part<'p>(&self, pattern: &'p [Element]) -> Option<NestedPart<'p>> {
        match pattern {
            [Element::Field {
                name,
                ty: FieldTy::Call(call),
                count,
                rest: false,
                constraint: None,
                volatile,
                ..
            }] if call.args.is_empty() && self.types.get(&call.name.name).is_some_and(|t| !t.2) => {
                Some(NestedPart {
                    name,
                    call,
                    count: count.as_ref(),
                    volatile: *volatile,
                })
            }
            _ => None,
        }
    }

    pub(super) fn nested(&mut self, part: NestedPart<'_>, span: Span) -> Option<Segment> {
        let NestedPart {
            name,
            call,
            count,
            volatile,
        } = part;
        if volatile {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    name.span,
                    format!("`volatile` on `{}`, a value of `{}`", name.name, call.name.name),
                )
                .label("a whole value cannot be volatile")
                .help(format!(
                    "mark the fields of `{}` that differ from run to run instead",
                    call.name.name
                )),
            );
            return None;
        }
        let (ty, _, _) = self.types[&call.name.name];
        let ty = match count {
            None => FieldType::Type(ty),
            Some(count) => {
                let count = self.size_expr(count, &name.name)?;
                FieldType::Array {
                    item: Box::new(FieldType::Type(ty)),
                    count,
                    max: self.defaults.repeat.unwrap_or(UNBOUNDED),
                }
            }
        };
        let field = self.add_field(name, ty, false);
        Some(Segment {
            framing: Framing::Nested { field },
            span,
        })
    }
}
