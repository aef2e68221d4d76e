//! Encoding a message from its layout. Length fields that a `raw(n)` part
//! uses are derived here from the data, never taken from the caller.

use std::cell::RefCell;

use bytes::{BufMut, BytesMut};
use smallvec::SmallVec;

use super::pattern::int_value;
use super::write::{encode_pattern, EncodeError, EncodeValues, Names, Types};
use crate::codec::{ends_cleanly, ends_cleanly_any, put_length};
use crate::layout::{FieldId, FieldType, Framing, ItemKind, MessageLayout, RawLen, TypeId};
use crate::spec::{TypeDef, TypeKind};
use crate::value::Value;

/// Appends the bytes of a message with `values` (indexed like
/// `layout.fields`) to `out`. On error `out` is left as it was. A message
/// with values of named types needs [`encode_in`].
pub fn encode(layout: &MessageLayout, values: &[Value], out: &mut BytesMut) -> Result<(), EncodeError> {
    encode_in(&[], usize::MAX, layout, values, out)
}

/// [`encode`] for a message of a protocol with named types (`types`, values
/// nested at most `max_depth` deep).
pub fn encode_in(
    types: &[TypeDef],
    max_depth: usize,
    layout: &MessageLayout,
    values: &[Value],
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let start = out.len();
    let r = encode_body(Types::new(types, max_depth), layout, values, out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn encode_body(
    types: Types<'_>,
    layout: &MessageLayout,
    values: &[Value],
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    if values.len() != layout.fields.len() {
        return Err(EncodeError {
            field: String::new(),
            problem: format!("{} values given for {} fields", values.len(), layout.fields.len()),
        });
    }
    let derived = derive_lengths(types, layout, values)?;
    let values = EncodeValues {
        given: values,
        derived: &derived,
    };
    encode_segments(types, layout, values, out)
}

/// One value of named type `ty`.
pub(super) fn encode_value(
    types: Types<'_>,
    ty: TypeId,
    v: &Value,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let def = types.defs.get(ty).ok_or_else(|| EncodeError {
        field: String::new(),
        problem: format!("type {ty} is not in the protocol given to the encoder"),
    })?;
    if types.depth >= types.max_depth {
        return Err(EncodeError {
            field: def.name.clone(),
            problem: format!("values nest more than {} deep", types.max_depth),
        });
    }
    match (&def.kind, v) {
        (TypeKind::Struct(layout), Value::Struct(fields)) => {
            let deeper = Types {
                depth: types.depth + 1,
                ..types
            };
            encode_body(deeper, layout, fields, out)
        }
        (TypeKind::Choice(branches), Value::Variant(b, inner)) => match branches.get(*b) {
            Some(t) => encode_value(types, *t, inner, out),
            None => Err(EncodeError {
                field: def.name.clone(),
                problem: format!("has no branch {b}"),
            }),
        },
        (_, other) => Err(EncodeError {
            field: def.name.clone(),
            problem: format!("{other:?} is not a value of `{}`", def.name),
        }),
    }
}

fn is_signed(ty: &FieldType) -> bool {
    matches!(ty, FieldType::Int(k) if k.signed) || matches!(ty, FieldType::Bin(b) if b.signed)
}

/// `values` with every derived field (a length, a count, an `= expr`
/// value) set as the encoder would write it: what decoding the encoded
/// message gives back.
pub fn derive(layout: &MessageLayout, values: &[Value]) -> Result<Vec<Value>, EncodeError> {
    derive_in(&[], layout, values)
}

/// [`derive`] for a message of a protocol with named types (whose values
/// a `size(...) { }` part may hold).
pub fn derive_in(
    types: &[TypeDef],
    layout: &MessageLayout,
    values: &[Value],
) -> Result<Vec<Value>, EncodeError> {
    if values.len() != layout.fields.len() {
        return Err(EncodeError {
            field: String::new(),
            problem: format!("{} values given for {} fields", values.len(), layout.fields.len()),
        });
    }
    let mut out = values.to_vec();
    let types = Types::new(types, usize::MAX);
    for (id, v) in derive_lengths(types, layout, values)? {
        out[id as usize] = v;
    }
    Ok(out)
}

/// The length and count fields that `raw(field)` parts, sized fields
/// (`bytes(n)`) and arrays (`u16be[n / 2]`) use, from their data.
fn derive_lengths(
    types: Types<'_>,
    layout: &MessageLayout,
    values: &[Value],
) -> Result<SmallVec<[(FieldId, Value); 2]>, EncodeError> {
    let mut out = SmallVec::new();
    for seg in &layout.segments {
        let Framing::Raw {
            len: RawLen::Field(len_id),
            field,
            ..
        } = &seg.framing
        else {
            continue;
        };
        let data = values[*field as usize].as_bytes().map(<[u8]>::len).unwrap_or(0);
        let def = &layout.fields[*len_id as usize];
        let len = match def.ty {
            FieldType::Int(k) if k.signed => Value::I64(data as i64),
            _ => Value::U64(data as u64),
        };
        out.push((*len_id, len));
    }
    for (id, def) in layout.fields.iter().enumerate() {
        let (linear, n) = match (&def.ty, &values[id]) {
            (FieldType::Sized { len, .. }, Value::Absent) => {
                // `if len != -1 { data: bytes(len) }` with `data` absent:
                // the one value of `len` the condition leaves out.
                if let Some(v) = sentinel(layout, len.field, id as FieldId) {
                    let from = &layout.fields[len.field as usize];
                    out.push((len.field, int_value(is_signed(&from.ty), v)));
                }
                continue;
            }
            (FieldType::Sized { len, .. }, v) => match v.as_bytes() {
                Some(b) => (*len, b.len()),
                None => continue,
            },
            (FieldType::Array { count, .. }, Value::List(items)) => (*count, items.len()),
            _ => continue,
        };
        let from = &layout.fields[linear.field as usize];
        let fits = |v: i128| match from.ty {
            FieldType::Int(k) => v >= k.min_value() && v <= k.max_value() as i128,
            FieldType::Bin(b) => v >= b.kind().min_value() && v <= b.kind().max_value() as i128,
            _ => false,
        };
        let Some(v) = linear.invert(n as u64).filter(|v| fits(*v)) else {
            return Err(EncodeError {
                field: def.name.clone(),
                problem: format!("its length {n} cannot be written in `{}`", from.name),
            });
        };
        let v = int_value(is_signed(&from.ty), v);
        if let Some((_, earlier)) = out.iter().find(|(f, _)| *f == linear.field) {
            if *earlier != v {
                return Err(EncodeError {
                    field: def.name.clone(),
                    problem: format!(
                        "its length gives `{}` = {v:?}, another part {earlier:?}",
                        from.name
                    ),
                });
            }
            continue;
        }
        out.push((linear.field, v));
    }
    for seg in &layout.segments {
        if let Some(pattern) = frame_pattern(&seg.framing) {
            group_lengths(types, layout, &pattern.items, values, &mut out)?;
        }
    }
    // `= expr` fields, from fields given or derived above.
    for (id, def) in layout.fields.iter().enumerate() {
        let Some(eq) = def.equals else { continue };
        let source = out
            .iter()
            .find(|(f, _)| *f == eq.field)
            .map(|(_, v)| v)
            .unwrap_or(&values[eq.field as usize]);
        let from = match source {
            Value::U64(n) => *n as i128,
            Value::I64(n) => *n as i128,
            other => {
                return Err(EncodeError {
                    field: layout.fields[eq.field as usize].name.clone(),
                    problem: format!("needs an integer, not {other:?}"),
                })
            }
        };
        let Some(v) = eq.eval_floor(from) else {
            return Err(EncodeError {
                field: def.name.clone(),
                problem: "cannot be computed".into(),
            });
        };
        let v = int_value(is_signed(&def.ty), v);
        let id = id as FieldId;
        match out.iter().find(|(f, _)| *f == id) {
            Some((_, earlier)) if *earlier != v => {
                return Err(EncodeError {
                    field: def.name.clone(),
                    problem: format!("is {earlier:?} by the data's length but {v:?} by its declaration"),
                })
            }
            Some(_) => {}
            None => out.push((id, v)),
        }
    }
    Ok(out)
}

/// The length fields of `size(len) { ... }` parts, from their content
/// encoded on its own (inner parts first).
fn group_lengths(
    types: Types<'_>,
    layout: &MessageLayout,
    items: &[crate::layout::Item],
    values: &[Value],
    out: &mut SmallVec<[(FieldId, Value); 2]>,
) -> Result<(), EncodeError> {
    for item in items {
        match &item.kind {
            ItemKind::Sized { len, max, pattern } => {
                group_lengths(types, layout, &pattern.items, values, out)?;
                let mut content = BytesMut::new();
                let given = EncodeValues {
                    given: values,
                    derived: out,
                };
                // Written whole and on their own, as `encode_pattern` writes
                // them inside a size part, and kept from the frame's names.
                let alone = Types {
                    names: None,
                    compress: false,
                    ..types
                };
                encode_pattern(alone, layout, pattern, given, &mut content)?;
                let from = &layout.fields[len.field as usize];
                if content.len() > *max {
                    return Err(EncodeError {
                        field: from.name.clone(),
                        problem: format!("sizes a part of {} bytes, over its max of {max}", content.len()),
                    });
                }
                let v = linear_value(layout, *len, content.len(), &from.name)?;
                out.push((len.field, v));
            }
            ItemKind::Optional { pattern, .. }
            | ItemKind::If { pattern, .. }
            | ItemKind::Repeat { pattern, .. } => group_lengths(types, layout, &pattern.items, values, out)?,
            ItemKind::Alternatives(alts) => {
                for a in alts {
                    group_lengths(types, layout, &a.items, values, out)?;
                }
            }
            ItemKind::Literal(_) | ItemKind::Field(_) | ItemKind::Bits { .. } => {}
        }
    }
    Ok(())
}

/// The value of `linear`'s field that gives `n`, if the field can hold it.
fn linear_value(
    layout: &MessageLayout,
    linear: crate::layout::Linear,
    n: usize,
    what: &str,
) -> Result<Value, EncodeError> {
    let from = &layout.fields[linear.field as usize];
    let fits = |v: i128| match from.ty {
        FieldType::Int(k) => v >= k.min_value() && v <= k.max_value() as i128,
        FieldType::Bin(b) => v >= b.kind().min_value() && v <= b.kind().max_value() as i128,
        _ => false,
    };
    match linear.invert(n as u64).filter(|v| fits(*v)) {
        Some(v) => Ok(int_value(is_signed(&from.ty), v)),
        None => Err(EncodeError {
            field: what.to_string(),
            problem: format!("its length {n} cannot be written in `{}`", from.name),
        }),
    }
}

/// For a sized field inside `if len_field ... { }` on its own length, the
/// one value the length field takes when the part is absent: its declared
/// set less the condition's: the first such value (here the only one,
/// as in `len: i32be in -1..=N if len != -1 { ... }`).
fn sentinel(layout: &MessageLayout, len_field: FieldId, sized: FieldId) -> Option<i128> {
    fn find(
        items: &[crate::layout::Item],
        len_field: FieldId,
        sized: FieldId,
    ) -> Option<&crate::layout::ValueSet> {
        items.iter().find_map(|i| match &i.kind {
            ItemKind::If { field, set, pattern } if *field == len_field && holds(&pattern.items, sized) => {
                Some(set)
            }
            ItemKind::If { pattern, .. }
            | ItemKind::Optional { pattern, .. }
            | ItemKind::Sized { pattern, .. }
            | ItemKind::Repeat { pattern, .. } => find(&pattern.items, len_field, sized),
            _ => None,
        })
    }
    fn holds(items: &[crate::layout::Item], id: FieldId) -> bool {
        items.iter().any(|i| match &i.kind {
            ItemKind::Field(f) => *f == id,
            ItemKind::If { pattern, .. }
            | ItemKind::Optional { pattern, .. }
            | ItemKind::Sized { pattern, .. } => holds(&pattern.items, id),
            _ => false,
        })
    }
    let set = layout
        .segments
        .iter()
        .filter_map(|s| frame_pattern(&s.framing))
        .find_map(|p| find(&p.items, len_field, sized))?;
    let declared = layout.fields[len_field as usize].constraint.as_ref()?;
    declared.0.iter().find_map(|&(lo, hi)| {
        let mut v = lo;
        while let Some(&(_, end)) = set.0.iter().find(|(a, b)| *a <= v && v <= *b) {
            v = end.checked_add(1)?;
        }
        (v <= hi).then_some(v)
    })
}

fn encode_segments(
    types: Types<'_>,
    layout: &MessageLayout,
    values: EncodeValues<'_>,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    for seg in &layout.segments {
        match &seg.framing {
            Framing::Nested { field } => {
                let def = &layout.fields[*field as usize];
                match (&def.ty, values.get(*field)) {
                    (FieldType::Type(t), v) => encode_value(types, *t, v, out)?,
                    (FieldType::Array { item, max, .. }, Value::List(items)) => {
                        let FieldType::Type(t) = **item else {
                            return Err(EncodeError {
                                field: def.name.clone(),
                                problem: "is not a list of a named type".into(),
                            });
                        };
                        if items.len() > *max {
                            return Err(EncodeError {
                                field: def.name.clone(),
                                problem: format!("has {} items, over its max of {max}", items.len()),
                            });
                        }
                        for v in items {
                            encode_value(types, t, v, out)?;
                        }
                    }
                    (_, v) => {
                        return Err(EncodeError {
                            field: def.name.clone(),
                            problem: format!("{v:?} does not fit this part"),
                        })
                    }
                }
            }
            Framing::Exact(lit) => out.put_slice(lit),
            Framing::Fixed { pattern, .. } => encode_pattern(types, layout, pattern, values, out)?,
            Framing::Line {
                delimiter,
                also_ends,
                max,
                pattern,
            } => {
                let start = out.len();
                encode_pattern(types, layout, pattern, values, out)?;
                let content = &out[start..];
                if content.len() > *max {
                    return Err(EncodeError {
                        field: String::new(),
                        problem: format!("line of {} bytes exceeds its max of {max}", content.len()),
                    });
                }
                let clean = if also_ends.is_empty() {
                    ends_cleanly(content, delimiter)
                } else {
                    ends_cleanly_any(content, delimiter, also_ends)
                };
                if !clean {
                    return Err(EncodeError {
                        field: String::new(),
                        problem: format!(
                            "a value contains the line delimiter \"{}\", or ends in its first bytes",
                            delimiter.escape_ascii()
                        ),
                    });
                }
                out.put_slice(delimiter);
            }
            Framing::Inline { pattern } => encode_pattern(types, layout, pattern, values, out)?,
            Framing::Length {
                prefix,
                max,
                pattern,
                includes_prefix,
            } => {
                let mut payload = BytesMut::new();
                // Names are compressed within the frame, by offsets from its
                // first byte after the length (where the decoder counts
                // from); not within a frame nested in another.
                let names = RefCell::new(Names::default());
                let framed = Types {
                    names: if types.names.is_none() { Some(&names) } else { None },
                    ..types
                };
                encode_pattern(framed, layout, pattern, values, &mut payload)?;
                if payload.len() > *max {
                    return Err(EncodeError {
                        field: String::new(),
                        problem: format!("frame of {} bytes exceeds its max of {max}", payload.len()),
                    });
                }
                let counted = if *includes_prefix {
                    payload.len() + prefix_width(*prefix, payload.len())
                } else {
                    payload.len()
                };
                put_length(*prefix, counted, out).map_err(|e| EncodeError {
                    field: String::new(),
                    problem: e.to_string(),
                })?;
                out.put_slice(&payload);
            }
            Framing::Raw { len, max, field, .. } => {
                let data = data_of(layout, values, *field)?;
                if let RawLen::Fixed(n) = len {
                    if data.len() != *n {
                        return Err(EncodeError {
                            field: layout.fields[*field as usize].name.clone(),
                            problem: format!("must be exactly {n} bytes, not {}", data.len()),
                        });
                    }
                }
                out.put_slice(within_max(layout, *field, data, *max)?);
            }
            Framing::UntilClose { max, field } | Framing::Available { max, field } => {
                let data = data_of(layout, values, *field)?;
                out.put_slice(within_max(layout, *field, data, *max)?);
            }
        }
    }
    Ok(())
}

/// The pattern of a part that has one.
fn frame_pattern(f: &Framing) -> Option<&crate::layout::Pattern> {
    match f {
        Framing::Inline { pattern } => Some(pattern),
        other => super::decode::frame_of(other).map(|(p, _)| p),
    }
}

/// The width of a length prefix that counts itself.
fn prefix_width(prefix: crate::layout::LengthPrefix, _len: usize) -> usize {
    prefix.width().unwrap_or(0)
}

/// The bytes of a data field (`raw`, until close, what is available).
fn data_of<'v>(
    layout: &MessageLayout,
    values: EncodeValues<'v>,
    field: FieldId,
) -> Result<&'v [u8], EncodeError> {
    values.given[field as usize]
        .as_bytes()
        .ok_or_else(|| EncodeError {
            field: layout.fields[field as usize].name.clone(),
            problem: "needs bytes".into(),
        })
}

/// `data`, if it is at most `max` bytes.
fn within_max<'d>(
    layout: &MessageLayout,
    field: FieldId,
    data: &'d [u8],
    max: usize,
) -> Result<&'d [u8], EncodeError> {
    if data.len() > max {
        return Err(EncodeError {
            field: layout.fields[field as usize].name.clone(),
            problem: format!("is {} bytes, over its max of {max}", data.len()),
        });
    }
    Ok(data)
}
