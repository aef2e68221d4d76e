//! Parts that are values of named types: `then value: Value`, `then args:
//! Bulk[n]`. A bare pattern that is exactly one field whose type is a
//! `struct` or `choice` is such a part.

use protocol_runtime::layout::{FieldType, Framing, Segment};

use super::MessageLowerer;
use crate::ast::{Call, Element, Expr, FieldTy, Ident, Span};
use crate::lower::UNBOUNDED;

impl MessageLowerer<'_, '_> {
    /// The field, its type and its count, when `pattern` is one field of a
    /// named type.
    pub(super) fn nested_part<'p>(
        &self,
        pattern: &'p [Element],
    ) -> Option<(&'p Ident, &'p Call, Option<&'p Expr>)> {
        match pattern {
            [Element::Field {
                name,
                ty: FieldTy::Call(call),
                count,
                rest: false,
                constraint: None,
                volatile: false,
                ..
            }] if call.args.is_empty() && self.types.contains_key(&call.name.name) => {
                Some((name, call, count.as_ref()))
            }
            _ => None,
        }
    }

    pub(super) fn nested(
        &mut self,
        name: &Ident,
        call: &Call,
        count: Option<&Expr>,
        span: Span,
    ) -> Option<Segment> {
        let (ty, _) = self.types[&call.name.name];
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
