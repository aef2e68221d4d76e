//! `if FIELD [OP N | in SET] { PATTERN }`: a part present exactly when a
//! field read before holds one of some values (MQTT's packet id when the
//! QoS is not 0). The decoder decides by that value, never by trying the
//! bytes, and the encoder checks that the part is given exactly when the
//! condition holds.

use protocol_runtime::layout::{FieldType, ItemKind, ValueSet};

use super::MessageLowerer;
use crate::ast::{Element, Ident, Test};
use crate::diagnostic::{Code, Diagnostic};

impl MessageLowerer<'_, '_> {
    pub(super) fn condition(
        &mut self,
        field: &Ident,
        test: Option<&Test>,
        pattern: &[Element],
        frame_max: usize,
    ) -> Option<ItemKind> {
        let Some(&id) = self.names.get(&field.name) else {
            self.diags.push(
                Diagnostic::new(
                    Code::UnknownName,
                    field.span,
                    format!("unknown field `{}`, or one not read before this `if`", field.name),
                )
                .label("no such field before here")
                .help("an `if` tests a field read earlier in the message, as in `qos: byte if qos != 0 { id: u16be }`"),
            );
            return None;
        };
        let ty = self.fields[id as usize].ty.clone();
        let (lo, hi) = match ty {
            FieldType::Int(k) => (k.min_value(), k.max_value() as i128),
            FieldType::Bin(b) => (b.kind().min_value(), b.kind().max_value() as i128),
            FieldType::Bit { width } => (
                0,
                if width >= 64 {
                    u64::MAX as i128
                } else {
                    (1i128 << width) - 1
                },
            ),
            FieldType::Flag => (0, 1),
            _ => {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        field.span,
                        format!("`if` cannot test `{}`, which is no number or flag", field.name),
                    )
                    .label("not an integer or a flag")
                    .help("test an integer, a bit slice or a flag"),
                );
                return None;
            }
        };
        let set = match test {
            None if hi == 1 => ValueSet::new(vec![(1, 1)]),
            None => {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        field.span,
                        format!("`if {}` needs a comparison: it is a number", field.name),
                    )
                    .label("not a flag")
                    .help(format!("compare it, as in `if {} != 0 {{ ... }}`", field.name)),
                );
                return None;
            }
            Some(Test::Compare(op, n, _)) => {
                let n = *n;
                let ranges = match op.as_str() {
                    "==" => vec![(n, n)],
                    "!=" => vec![(lo, n - 1), (n + 1, hi)],
                    "<" => vec![(lo, n - 1)],
                    "<=" => vec![(lo, n)],
                    ">" => vec![(n + 1, hi)],
                    _ => vec![(n, hi)],
                };
                ValueSet::new(ranges.into_iter().map(|(a, b)| (a.max(lo), b.min(hi))).collect())
            }
            Some(Test::In(ranges, _)) => ValueSet::new(ranges.clone()),
        };
        if set.is_empty() || set == ValueSet::new(vec![(lo, hi)]) {
            let span = match test {
                Some(Test::Compare(_, _, s) | Test::In(_, s)) => *s,
                None => field.span,
            };
            self.diags.push(
                Diagnostic::new(
                    Code::BadConstruct,
                    span,
                    format!("this `if` on `{}` is always {}", field.name, !set.is_empty()),
                )
                .label(format!("`{}` holds {lo} to {hi}", field.name))
                .help("write the part plainly, or leave it out"),
            );
            return None;
        }
        let pattern = self.pattern(pattern, true, frame_max);
        Some(ItemKind::If {
            field: id,
            set,
            pattern,
        })
    }
}
