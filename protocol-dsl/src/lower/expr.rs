//! Integer expressions (`len - 4`, `byte_count / 2`, `(qty + 7) / 8`) lowered
//! to the one form sizes, counts and computed fields take at run time:
//! `(field * mul + add) / div`, linear in one field read before.
//!
//! Linearity keeps both directions cheap and exact: the decoder evaluates,
//! the encoder inverts (a size gives back its length field), and the checks
//! can bound the result from the field's type.

use protocol_runtime::layout::{FieldId, Linear};

use crate::ast::{Expr, ExprKind, Ident, Op, Span};
use crate::diagnostic::{Code, Diagnostic};

/// `(field * mul + add) / div`, or a constant when `field` is `None`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Affine {
    pub field: Option<FieldId>,
    pub mul: i128,
    pub add: i128,
    pub div: i128,
}

impl Affine {
    fn constant(c: i128) -> Self {
        Affine {
            field: None,
            mul: 0,
            add: c,
            div: 1,
        }
    }

    /// The value of a constant expression, rounding down.
    pub fn value(self) -> Option<i128> {
        match self.field {
            None => Some(self.add.div_euclid(self.div)),
            Some(_) => None,
        }
    }

    /// The runtime form, when the coefficients fit it.
    pub fn linear(self) -> Option<Linear> {
        let g = gcd(gcd(self.mul, self.add), self.div).max(1);
        Some(Linear {
            field: self.field?,
            mul: i64::try_from(self.mul / g).ok()?,
            add: i64::try_from(self.add / g).ok()?,
            div: i64::try_from(self.div / g).ok()?,
        })
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Lowers `expr`, resolving names with `resolve` (which reports unknown
/// or unusable names itself and returns `None`).
pub(super) fn affine(
    expr: &Expr,
    resolve: &mut dyn FnMut(&Ident) -> Option<FieldId>,
) -> Result<Affine, Option<Box<Diagnostic>>> {
    match &expr.kind {
        ExprKind::Int(c) => Ok(Affine::constant(*c)),
        ExprKind::Name(name) => match resolve(name) {
            Some(id) => Ok(Affine {
                field: Some(id),
                mul: 1,
                add: 0,
                div: 1,
            }),
            None => Err(None),
        },
        ExprKind::Binary(op, lhs, rhs) => {
            let a = affine(lhs, resolve)?;
            let b = affine(rhs, resolve)?;
            let overflow = || Some(Box::new(not_linear(expr.span, "its numbers are too large")));
            match op {
                Op::Add | Op::Sub => {
                    if let (Some(x), Some(y)) = (a.field, b.field) {
                        let why = if x == y {
                            "write the field once, as in `2 * n`"
                        } else {
                            "it uses two fields"
                        };
                        return Err(Some(Box::new(not_linear(expr.span, why))));
                    }
                    let sign = if *op == Op::Sub { -1 } else { 1 };
                    let div = a.div.checked_mul(b.div).ok_or_else(overflow)?;
                    let mul = a
                        .mul
                        .checked_mul(b.div)
                        .zip(b.mul.checked_mul(a.div).and_then(|m| m.checked_mul(sign)))
                        .and_then(|(x, y)| x.checked_add(y))
                        .ok_or_else(overflow)?;
                    let add = a
                        .add
                        .checked_mul(b.div)
                        .zip(b.add.checked_mul(a.div).and_then(|m| m.checked_mul(sign)))
                        .and_then(|(x, y)| x.checked_add(y))
                        .ok_or_else(overflow)?;
                    Ok(Affine {
                        field: a.field.or(b.field),
                        mul,
                        add,
                        div,
                    })
                }
                Op::Mul => {
                    let (var, k) = match (a.field, b.field) {
                        (Some(_), Some(_)) => {
                            return Err(Some(Box::new(not_linear(expr.span, "it multiplies two fields"))))
                        }
                        (_, None) => (a, b),
                        (None, Some(_)) => (b, a),
                    };
                    if k.div != 1 {
                        return Err(Some(Box::new(not_linear(
                            expr.span,
                            "it multiplies by a fraction",
                        ))));
                    }
                    Ok(Affine {
                        field: var.field,
                        mul: var.mul.checked_mul(k.add).ok_or_else(overflow)?,
                        add: var.add.checked_mul(k.add).ok_or_else(overflow)?,
                        div: var.div,
                    })
                }
                Op::Div => {
                    if b.field.is_some() || b.div != 1 {
                        return Err(Some(Box::new(not_linear(expr.span, "it divides by a field"))));
                    }
                    if b.add <= 0 {
                        return Err(Some(Box::new(
                            Diagnostic::new(
                                Code::BadConstruct,
                                rhs.span,
                                "division by a number that is not positive",
                            )
                            .label("divides by zero or less")
                            .help("divide by a positive number, as in `byte_count / 2`"),
                        )));
                    }
                    Ok(Affine {
                        field: a.field,
                        mul: a.mul,
                        add: a.add,
                        div: a.div.checked_mul(b.add).ok_or_else(overflow)?,
                    })
                }
            }
        }
    }
}

fn not_linear(span: Span, why: &str) -> Diagnostic {
    Diagnostic::new(
        Code::NotLinear,
        span,
        format!("this expression is not linear in one field: {why}"),
    )
    .label("not `k * field + c` or `(k * field + c) / d`")
    .help("sizes, counts and computed fields are linear in one field read before them, as in `len - 4` or `byte_count / 2`, so that encoders can compute the field back and checks can bound it")
}
