//! `bits(CARRIER) { name: WIDTH, _: WIDTH = C, ... }`: a binary integer cut
//! into slices, from its most significant bit down. Each named slice is a
//! field (a flag when one bit wide); a slice with `= C` is a constant and
//! no field; `_` is reserved (read and ignored, written as 0, unless it has
//! a constant).

use protocol_runtime::layout::{BitSlice, FieldType, ItemKind, ValueSet};

use super::typed::bin_int;
use super::MessageLowerer;
use crate::ast::{BitSliceDecl, Constraint, ExprKind, Ident, Span};
use crate::diagnostic::{Code, Diagnostic};

impl MessageLowerer<'_, '_> {
    pub(super) fn bits(
        &mut self,
        carrier: &Ident,
        decls: &[BitSliceDecl],
        span: Span,
        optional: bool,
    ) -> Option<ItemKind> {
        let Some(carrier_ty) = bin_int(&carrier.name).filter(|b| !b.signed) else {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    carrier.span,
                    format!("`{}` cannot carry bits", carrier.name),
                )
                .label("not an unsigned binary integer")
                .help("cut an unsigned binary integer: `bits(byte) { ... }`, `bits(u16be) { ... }`"),
            );
            return None;
        };
        let total: u64 = decls.iter().map(|d| d.width).sum();
        if total != carrier_ty.bits as u64 {
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    span,
                    format!(
                        "the slices of `bits({})` add up to {total} bits, its carrier has {}",
                        carrier.name, carrier_ty.bits
                    ),
                )
                .label("widths do not add up")
                .help("give every bit of the carrier to a slice; name unused bits `_`, as in `_: 3 = 0`"),
            );
            return None;
        }
        let mut slices = Vec::new();
        for d in decls {
            if d.width == 0 {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        d.span,
                        format!("slice `{}` is 0 bits wide", d.name.name),
                    )
                    .label("holds nothing")
                    .help("remove it, or give it a width of at least 1"),
                );
                return None;
            }
            let width = d.width as u8;
            let mask = if width >= 64 {
                u64::MAX
            } else {
                (1u64 << width) - 1
            };
            let mut slice = BitSlice {
                width,
                field: None,
                constant: None,
            };
            let mut set = None;
            match &d.constraint {
                None => {}
                Some(Constraint::Equals(e)) => match e.kind {
                    ExprKind::Int(c) if c >= 0 && c as u128 <= mask as u128 => {
                        slice.constant = Some(c as u64)
                    }
                    ExprKind::Int(c) => {
                        self.diags.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                e.span,
                                format!("{c} does not fit in {width} bits"),
                            )
                            .label(format!("slice `{}` holds 0 to {mask}", d.name.name))
                            .help("use a value the slice can hold, or widen it"),
                        );
                        return None;
                    }
                    _ => {
                        self.diags.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                e.span,
                                "a slice is a constant or a value of its own",
                            )
                            .label("computed slices are not supported")
                            .help("write a number, as in `_: 4 = 0`, or leave the slice a field"),
                        );
                        return None;
                    }
                },
                Some(Constraint::In(ranges, sp)) => {
                    if d.name.name == "_" {
                        self.diags.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                *sp,
                                "a reserved slice `_` takes `= C`, not `in`",
                            )
                            .label("nothing to restrict")
                            .help("name the slice to restrict its values"),
                        );
                        return None;
                    }
                    if let Some((lo, hi)) = ranges
                        .iter()
                        .find(|(lo, hi)| *lo < 0 || *hi as u128 > mask as u128)
                    {
                        self.diags.push(
                            Diagnostic::new(
                                Code::BadConstruct,
                                *sp,
                                format!("{lo}..={hi} does not fit in {width} bits"),
                            )
                            .label(format!("slice `{}` holds 0 to {mask}", d.name.name))
                            .help("use values the slice can hold"),
                        );
                        return None;
                    }
                    set = Some(ValueSet::new(ranges.clone()));
                }
            }
            if d.name.name != "_" && slice.constant.is_none() {
                let id = self.add_field(&d.name, FieldType::Bit { width }, optional);
                self.fields[id as usize].constraint = set;
                slice.field = Some(id);
            }
            slices.push(slice);
        }
        Some(ItemKind::Bits {
            carrier: carrier_ty,
            slices,
        })
    }
}
