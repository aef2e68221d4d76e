//! `if FIELD [OP N | in SET] { PATTERN }`: a part present exactly when a
//! field read before holds one of some values (MQTT's packet id when the
//! QoS is not 0). The decoder decides by that value, never by trying the
//! bytes, and the encoder checks that the part is given exactly when the
//! condition holds.

use protocol_runtime::layout::{FieldId, FieldType, Item, ItemKind, ValueSet};

use super::MessageLowerer;
use crate::ast::{Element, Ident, MatchArm, Test};
use crate::diagnostic::{Code, Diagnostic};

impl MessageLowerer<'_, '_> {
    pub(super) fn condition(
        &mut self,
        field: &Ident,
        test: Option<&Test>,
        pattern: &[Element],
        frame_max: usize,
    ) -> Option<ItemKind> {
        let (id, lo, hi) = self.tested(field, "if")?;
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

    /// The field a condition tests, and the range of its values.
    fn tested(&mut self, field: &Ident, what: &str) -> Option<(FieldId, i128, i128)> {
        let Some(&id) = self.names.get(&field.name) else {
            self.diags.push(
                Diagnostic::new(
                    Code::UnknownName,
                    field.span,
                    format!("unknown field `{}`, or one not read before this `{what}`", field.name),
                )
                .label("no such field before here")
                .help(format!("`{what}` tests a field read earlier in the message, as in `qos: byte if qos != 0 {{ id: u16be }}`")),
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
                        format!(
                            "`{what}` cannot test `{}`, which is no number or flag",
                            field.name
                        ),
                    )
                    .label("not an integer or a flag")
                    .help("test an integer, a bit slice or a flag"),
                );
                return None;
            }
        };
        Some((id, lo, hi))
    }

    /// `match rtype { 1 => { ... } 5 | 39 => { ... } _ => { ... } }`: one
    /// `if` per arm, their value sets disjoint; `_` takes every value no
    /// other arm takes. Without `_` the field may hold only the arms' values.
    pub(super) fn match_part(
        &mut self,
        field: &Ident,
        arms: &[MatchArm],
        frame_max: usize,
    ) -> Option<Vec<ItemKind>> {
        let (id, lo, hi) = self.tested(field, "match")?;
        let mut taken = ValueSet::default();
        let mut out = Vec::new();
        let mut wildcard = None;
        for (i, arm) in arms.iter().enumerate() {
            let Some(ranges) = &arm.values else {
                if i + 1 != arms.len() {
                    self.diags.push(
                        Diagnostic::new(
                            Code::BadConstruct,
                            arm.span,
                            "`_` must be the last arm of a `match`",
                        )
                        .label("arms after it could never be taken")
                        .help("move the `_` arm to the end"),
                    );
                    return None;
                }
                wildcard = Some(arm);
                continue;
            };
            let set = ValueSet::new(ranges.iter().map(|&(a, b)| (a.max(lo), b.min(hi))).collect());
            if set.is_empty() {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        arm.span,
                        format!("this arm takes no value `{}` can hold", field.name),
                    )
                    .label(format!("`{}` holds {lo} to {hi}", field.name))
                    .help("remove the arm"),
                );
                return None;
            }
            if !intersect(&set, &taken).is_empty() {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadConstruct,
                        arm.span,
                        format!("this arm takes values of `{}` an earlier arm takes", field.name),
                    )
                    .label(format!("{} is taken before", intersect(&set, &taken)))
                    .help("give each value to one arm"),
                );
                return None;
            }
            taken = ValueSet::new(taken.0.iter().chain(&set.0).copied().collect());
            let pattern = self.pattern(&arm.pattern, true, frame_max);
            out.push(ItemKind::If {
                field: id,
                set,
                pattern,
            });
        }
        let rest = complement(&taken, lo, hi);
        match wildcard {
            Some(arm) if rest.is_empty() => {
                self.diags.push(
                    Diagnostic::new(Code::BadConstruct, arm.span, "this `_` arm takes no value")
                        .label("the other arms take every value")
                        .help("remove it"),
                );
                return None;
            }
            Some(arm) => {
                let pattern = self.pattern(&arm.pattern, true, frame_max);
                out.push(ItemKind::If {
                    field: id,
                    set: rest,
                    pattern,
                });
            }
            None => {
                let f = &mut self.fields[id as usize];
                f.constraint = Some(match &f.constraint {
                    Some(c) => intersect(c, &taken),
                    None => taken,
                });
            }
        }
        Some(out)
    }
}

/// The values in both sets.
fn intersect(a: &ValueSet, b: &ValueSet) -> ValueSet {
    let mut out = Vec::new();
    for &(x, y) in &a.0 {
        for &(u, v) in &b.0 {
            if x.max(u) <= y.min(v) {
                out.push((x.max(u), y.min(v)));
            }
        }
    }
    ValueSet::new(out)
}

/// The values from `lo` to `hi` not in `set`.
fn complement(set: &ValueSet, lo: i128, hi: i128) -> ValueSet {
    let mut out = Vec::new();
    let mut next = lo;
    for &(a, b) in &set.0 {
        if a > next {
            out.push((next, a - 1));
        }
        next = next.max(b.saturating_add(1));
    }
    if next <= hi {
        out.push((next, hi));
    }
    ValueSet::new(out)
}

impl MessageLowerer<'_, '_> {
    /// `len: i32be in -1..=N if len != -1 { value: bytes(len) }`: when the
    /// part is absent, the encoder writes the one value of `len` the
    /// condition leaves out, and the decoder must read back an absent
    /// part: so exactly one value may be left.
    pub(super) fn check_sentinels(&mut self, items: &[Item]) {
        for item in items {
            match &item.kind {
                ItemKind::If { field, set, pattern } => {
                    for inner in &pattern.items {
                        let ItemKind::Field(id) = inner.kind else { continue };
                        let FieldType::Sized { len, .. } = self.fields[id as usize].ty else {
                            continue;
                        };
                        if len.field != *field {
                            continue;
                        }
                        self.check_sentinel(*field, set, id, inner.span);
                    }
                    self.check_sentinels(&pattern.items);
                }
                ItemKind::Optional { pattern, .. }
                | ItemKind::Sized { pattern, .. }
                | ItemKind::Repeat { pattern, .. } => self.check_sentinels(&pattern.items),
                _ => {}
            }
        }
    }

    fn check_sentinel(&mut self, len: FieldId, set: &ValueSet, sized: FieldId, span: crate::ast::Span) {
        let def = &self.fields[len as usize];
        let (lo, hi) = match def.ty {
            FieldType::Int(k) => (k.min_value(), k.max_value() as i128),
            FieldType::Bin(b) => (b.kind().min_value(), b.kind().max_value() as i128),
            _ => return,
        };
        let declared = def
            .constraint
            .clone()
            .unwrap_or_else(|| ValueSet::new(vec![(lo, hi)]));
        let left = intersect(&declared, &complement(set, lo, hi));
        let count: i128 = left.0.iter().map(|(a, b)| b - a + 1).sum();
        if count == 1 {
            return;
        }
        let (name, value) = (def.name.clone(), self.fields[sized as usize].name.clone());
        self.diags.push(
            Diagnostic::new(
                Code::BadConstruct,
                span,
                format!(
                    "`{value}` is sized by `{name}` and present only for some values of it, so `{name}` must have one value left for when `{value}` is absent; it has {}",
                    if left.is_empty() { "none".to_string() } else { left.to_string() }
                ),
            )
            .label("absent by its own length")
            .help(format!(
                "declare the values `{name}` may take, leaving one outside the condition, as in `{name}: i32be in -1..=0x3fffffff if {name} != -1 {{ ... }}`"
            )),
        );
    }
}
