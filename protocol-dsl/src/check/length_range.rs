//! Why: a length field or prefix narrower than its bound cannot describe the
//! data the spec allows, and a signed length field admits negative lengths.

use protocol_runtime::layout::{FieldId, FieldType, Framing, RawLen};

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::ir;
use crate::lower::UNBOUNDED;

pub fn check(p: &ir::Protocol, diags: &mut Diagnostics) {
    for m in p.bodies() {
        for seg in &m.layout.segments {
            if let Framing::Length { prefix, max, .. } = &seg.framing {
                if *max != UNBOUNDED && (*max as u64) > prefix.max_len() {
                    diags.push(
                        Diagnostic::new(
                            Code::LengthRange,
                            seg.span,
                            format!(
                                "a `{}` length prefix holds at most {} but the frame of message `{}` allows {} bytes",
                                prefix.name(),
                                prefix.max_len(),
                                m.name,
                                max
                            ),
                        )
                        .label("prefix too narrow for its `max`")
                        .help("use a wider prefix such as `u32be`, or lower `max`"),
                    );
                }
            }
            let Framing::Raw {
                len: RawLen::Field(id),
                max,
                ..
            } = &seg.framing
            else {
                continue;
            };
            if *id == FieldId::MAX {
                continue;
            }
            let f = &m.layout.fields[*id as usize];
            let FieldType::Int(kind) = f.ty else { continue };
            let problem = if kind.signed {
                Some(format!(
                    "`{}` is a signed `{}`: a length cannot be negative",
                    f.name,
                    kind.name()
                ))
            } else if *max != UNBOUNDED && kind.max_value() < *max as u128 {
                Some(format!(
                    "`{}` is a `{}` (at most {}) but the `raw` part allows up to {} bytes",
                    f.name,
                    kind.name(),
                    kind.max_value(),
                    max
                ))
            } else {
                None
            };
            if let Some(message) = problem {
                diags.push(
                    Diagnostic::new(Code::LengthRange, f.span, message)
                        .label("length field")
                        .with_secondary(seg.span, "used as a length here")
                        .help("use an unsigned type wide enough for the bound, such as `u32`, or lower the `raw` part's `max`"),
                );
            }
        }
    }
}
