//! Fields with binary types, sizes, counts and constraints: `tid: u16be`,
//! `data: bytes(len)`, `regs: u16be[byte_count / 2]`, `proto: u16be = 0`,
//! `byte_count: byte = qty * 2`, `fc: byte in 0x81..=0x90`.

use protocol_runtime::layout::{BinInt, FieldId, FieldType, ItemKind, Linear, ValueSet};

use super::MessageLowerer;
use crate::ast::{Call, Constraint, Expr, Ident, Span, Value};
use crate::diagnostic::{Code, Diagnostic};
use crate::lower::expr::{affine, Affine};
use crate::lower::Args;

/// `byte`, `u16be`, `i32le`, ...: a binary integer type's name.
pub(super) fn bin_int(name: &str) -> Option<BinInt> {
    if name == "byte" {
        return Some(BinInt {
            signed: false,
            bits: 8,
            little_endian: false,
        });
    }
    let (body, little_endian) = if let Some(b) = name.strip_suffix("be") {
        (b, false)
    } else {
        (name.strip_suffix("le")?, true)
    };
    // The same widths and signs as the decimal types: `u16be` is `u16` in binary.
    let kind = super::int_kind(body)?;
    Some(BinInt {
        signed: kind.signed,
        bits: kind.bits,
        little_endian,
    })
}

/// The range of an integer type, for constants and value sets.
fn int_range(ty: &FieldType) -> Option<(i128, i128)> {
    let kind = match ty {
        FieldType::Int(k) => *k,
        FieldType::Bin(b) => b.kind(),
        _ => return None,
    };
    Some((kind.min_value(), kind.max_value() as i128))
}

impl MessageLowerer<'_, '_> {
    /// `bytes(n)` / `text(n)`: sized by an expression; `None` when the call
    /// has no size (a free `bytes` or `text`).
    pub(super) fn sized(&mut self, call: &Call, frame_max: usize) -> Option<Option<FieldType>> {
        let text = call.name.name == "text";
        let mut a = Args::new(call, &["len", "until", "max"], self.diags);
        let len = a.positional_or("len").cloned();
        let until = a.string("until");
        let max = a.size("max");
        a.finish();
        if let Some(terminator) = until {
            if terminator.is_empty() || len.is_some() {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        call.span,
                        format!(
                            "`{}(until = ...)` takes one non-empty terminator and no length",
                            call.name.name
                        ),
                    )
                    .label("a terminator ends the field")
                    .help("write `text(until = \"\\0\")` for a C string"),
                );
                return None;
            }
            return Some(Some(FieldType::Terminated {
                terminator,
                max: max.unwrap_or(frame_max).min(frame_max),
                text,
            }));
        }
        if max.is_some() {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    call.span,
                    format!("`max` of `{}` applies only with `until`", call.name.name),
                )
                .label("bounded already")
                .help("a sized or free field is bounded by its frame"),
            );
        }
        let expr = match len {
            None => return Some(None),
            Some(Value::Expr(e)) => e,
            Some(Value::Call(c)) if c.args.is_empty() => Expr {
                kind: crate::ast::ExprKind::Name(c.name.clone()),
                span: c.span,
            },
            Some(Value::Size(n)) => Expr {
                kind: crate::ast::ExprKind::Int(n as i128),
                span: call.span,
            },
            Some(other) => {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        call.span,
                        format!(
                            "the length of `{}` must be an expression, not {}",
                            call.name.name,
                            other.describe()
                        ),
                    )
                    .label("not a length")
                    .help("write `bytes(len)` or `bytes(len - 4)` with an integer field `len` read before"),
                );
                return None;
            }
        };
        let len = self.size_expr(&expr, &call.name.name)?;
        Some(Some(FieldType::Sized {
            len,
            max: frame_max,
            text,
        }))
    }

    /// `ITEM[count]` inside a frame: binary integers only.
    pub(super) fn array(
        &mut self,
        name: &Ident,
        item: FieldType,
        count: &Expr,
        frame_max: usize,
    ) -> Option<FieldType> {
        if let FieldType::Type(_) = item {
            let count = self.size_expr(count, &name.name)?;
            return Some(FieldType::Array {
                item: Box::new(item),
                count,
                max: self
                    .defaults
                    .repeat
                    .unwrap_or(crate::lower::UNBOUNDED)
                    .min(frame_max),
            });
        }
        let FieldType::Bin(b) = item else {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    count.span,
                    format!("`{}` repeats a field type that has no fixed width", name.name),
                )
                .label("items must be binary integers here")
                .help("inside a frame, repeat a binary integer, as in `regs: u16be[n]`; repeat a `struct` as a part of its own, as in `then items: Item[n]`"),
            );
            return None;
        };
        let count = self.size_expr(count, &name.name)?;
        Some(FieldType::Array {
            item: Box::new(FieldType::Bin(b)),
            count,
            max: frame_max / b.width(),
        })
    }

    /// `ITEM[..]` inside a frame: binary integers to the end of the frame.
    pub(super) fn rest(
        &mut self,
        name: &Ident,
        item: FieldType,
        span: Span,
        frame_max: usize,
    ) -> Option<FieldType> {
        if let FieldType::Type(_) = item {
            return Some(FieldType::Rest {
                item: Box::new(item),
                max: self
                    .defaults
                    .repeat
                    .unwrap_or(crate::lower::UNBOUNDED)
                    .min(frame_max),
            });
        }
        let FieldType::Bin(b) = item else {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    span,
                    format!("`{}[..]` repeats a field type that has no fixed width", name.name),
                )
                .label("items must be binary integers here")
                .help("repeat a binary integer to the end of the frame, as in `regs: u16be[..]`"),
            );
            return None;
        };
        Some(FieldType::Rest {
            item: Box::new(FieldType::Bin(b)),
            max: frame_max / b.width(),
        })
    }

    /// A size or count: linear in one integer field read before, which
    /// becomes derived (the encoder computes it from the data).
    pub(super) fn size_expr(&mut self, expr: &Expr, what: &str) -> Option<Linear> {
        let a = self.affine(expr)?;
        let Some(linear) = a.linear() else {
            self.diags.push(
                Diagnostic::new(Code::NotLinear, expr.span, format!("the size of `{what}` uses no field"))
                    .label("a constant size")
                    .help("for a fixed number of bytes write a literal or `raw(N)`; a size here is computed from a field read before, as in `bytes(len)`"),
            );
            return None;
        };
        let from = &mut self.fields[linear.field as usize];
        from.derived = true;
        if from.volatile {
            let span = from.span;
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    span,
                    format!("`volatile` on `{}`, a length derived from the data", from.name),
                )
                .label("lengths are computed, never recorded")
                .help("remove `volatile`; mark the field the length is taken from instead"),
            );
        }
        Some(linear)
    }

    fn affine(&mut self, expr: &Expr) -> Option<Affine> {
        let names = &self.names;
        let fields = &self.fields;
        let mut unknown: Vec<Diagnostic> = Vec::new();
        let mut resolve = |name: &Ident| -> Option<FieldId> {
            match names.get(&name.name) {
                Some(&id) if matches!(fields[id as usize].ty, FieldType::Int(_) | FieldType::Bin(_)) => {
                    if fields[id as usize].optional {
                        unknown.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                name.span,
                                format!("`{}` is in an optional part and may be absent", name.name),
                            )
                            .label("no value when absent")
                            .help("use a field that every message of this kind has"),
                        );
                        return None;
                    }
                    Some(id)
                }
                Some(&id) => {
                    unknown.push(
                        Diagnostic::new(
                            Code::BadConstruct,
                            name.span,
                            format!("`{}` is not an integer", name.name),
                        )
                        .label("sizes and counts are integers")
                        .with_secondary(fields[id as usize].span, "declared here")
                        .help("use an integer field such as `len: u32` or `n: u16be`"),
                    );
                    None
                }
                None => {
                    unknown.push(
                        Diagnostic::new(
                            Code::UnknownName,
                            name.span,
                            format!("unknown field `{}`, or one not read before this point", name.name),
                        )
                        .label("no such field before here")
                        .help("an expression uses integer fields read earlier in the same message, as in `len: u16be data: bytes(len)`"),
                    );
                    None
                }
            }
        };
        let result = affine(expr, &mut resolve);
        for d in unknown {
            self.diags.push(d);
        }
        match result {
            Ok(a) => Some(a),
            Err(Some(d)) => {
                self.diags.push(*d);
                None
            }
            Err(None) => None,
        }
    }

    /// Applies `= expr` or `in set` to a field of type `ty`. Returns the
    /// literal bytes that replace a constant field, or the constraint and
    /// computed value to store on the field.
    pub(super) fn constraint(
        &mut self,
        name: &Ident,
        ty: &FieldType,
        constraint: &Constraint,
    ) -> Option<Applied> {
        let Some((lo, hi)) = int_range(ty) else {
            let span = match constraint {
                Constraint::Equals(e) => e.span,
                Constraint::In(_, s) => *s,
            };
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    span,
                    format!("`{}` is not an integer field and cannot be constrained", name.name),
                )
                .label("only integers take `=` or `in`")
                .help("for fixed text write a literal, as in `\"OK\"`; for one of several, a choice, as in `(\"a\" | \"b\")`"),
            );
            return None;
        };
        match constraint {
            Constraint::Equals(expr) => {
                let a = self.affine(expr)?;
                if let Some(c) = a.value() {
                    if c < lo || c > hi {
                        self.out_of_range(name, expr.span, c, lo, hi);
                        return None;
                    }
                    let bytes = match ty {
                        FieldType::Bin(b) => {
                            let mut out = Vec::new();
                            b.write(c, &mut out);
                            out
                        }
                        _ => c.to_string().into_bytes(),
                    };
                    return Some(Applied::Constant(bytes));
                }
                let linear = a.linear()?;
                Some(Applied::Computed(linear))
            }
            Constraint::In(ranges, span) => {
                for &(a, b) in ranges {
                    for v in [a, b] {
                        if v < lo || v > hi {
                            self.out_of_range(name, *span, v, lo, hi);
                            return None;
                        }
                    }
                }
                let set = ValueSet::new(ranges.clone());
                if set.is_empty() {
                    self.diags.push(
                        Diagnostic::new(
                            Code::BadConstruct,
                            *span,
                            format!("no value is in the set of `{}`", name.name),
                        )
                        .label("every range is empty")
                        .help("write ranges low to high, as in `1..=125`"),
                    );
                    return None;
                }
                Some(Applied::Set(set))
            }
        }
    }

    fn out_of_range(&mut self, name: &Ident, span: Span, v: i128, lo: i128, hi: i128) {
        self.diags.push(
            Diagnostic::new(
                Code::BadConstruct,
                span,
                format!("{v} is out of range for `{}`", name.name),
            )
            .label(format!("the field holds {lo} to {hi}"))
            .help("use a value the field's type can hold, or a wider type"),
        );
    }

    /// The kind of item a constrained field becomes.
    pub(super) fn apply(&mut self, id: FieldId, applied: Applied) -> ItemKind {
        match applied {
            Applied::Constant(bytes) => ItemKind::Literal(bytes),
            Applied::Computed(linear) => {
                self.fields[id as usize].equals = Some(linear);
                self.fields[id as usize].derived = true;
                ItemKind::Field(id)
            }
            Applied::Set(set) => {
                self.fields[id as usize].constraint = Some(set);
                ItemKind::Field(id)
            }
        }
    }
}

pub(super) enum Applied {
    /// `= 0`: the field is these bytes, and no field at all.
    Constant(Vec<u8>),
    /// `= qty * 2`: computed from another field.
    Computed(Linear),
    /// `in 1..=125`.
    Set(ValueSet),
}
