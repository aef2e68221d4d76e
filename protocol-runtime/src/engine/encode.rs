//! Encoding a message from its layout. Length fields that a `raw(n)` part
//! uses are derived here from the data, never taken from the caller.

use bytes::{BufMut, BytesMut};
use smallvec::SmallVec;

use super::pattern::{encode_pattern, int_value, EncodeError, EncodeValues};
use crate::codec::{ends_cleanly, ends_cleanly_any, put_length};
use crate::layout::{FieldId, FieldType, Framing, MessageLayout, RawLen, TypeId};
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
    let r = encode_body(
        Types {
            defs: types,
            max_depth,
        },
        0,
        layout,
        values,
        out,
    );
    if r.is_err() {
        out.truncate(start);
    }
    r
}

#[derive(Clone, Copy)]
struct Types<'a> {
    defs: &'a [TypeDef],
    max_depth: usize,
}

fn encode_body(
    types: Types<'_>,
    depth: usize,
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
    let derived = derive_lengths(layout, values)?;
    let values = EncodeValues {
        given: values,
        derived: &derived,
    };
    encode_segments(types, depth, layout, values, out)
}

/// One value of named type `ty`.
fn encode_value(
    types: Types<'_>,
    depth: usize,
    ty: TypeId,
    v: &Value,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let def = types.defs.get(ty).ok_or_else(|| EncodeError {
        field: String::new(),
        problem: format!("type {ty} is not in the protocol given to the encoder"),
    })?;
    if depth >= types.max_depth {
        return Err(EncodeError {
            field: def.name.clone(),
            problem: format!("values nest more than {} deep", types.max_depth),
        });
    }
    match (&def.kind, v) {
        (TypeKind::Struct(layout), Value::Struct(fields)) => {
            encode_body(types, depth + 1, layout, fields, out)
        }
        (TypeKind::Choice(branches), Value::Variant(b, inner)) => match branches.get(*b) {
            Some(t) => encode_value(types, depth, *t, inner, out),
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
    if values.len() != layout.fields.len() {
        return Err(EncodeError {
            field: String::new(),
            problem: format!("{} values given for {} fields", values.len(), layout.fields.len()),
        });
    }
    let mut out = values.to_vec();
    for (id, v) in derive_lengths(layout, values)? {
        out[id as usize] = v;
    }
    Ok(out)
}

/// The length and count fields that `raw(field)` parts, sized fields
/// (`bytes(n)`) and arrays (`u16be[n / 2]`) use, from their data.
fn derive_lengths(
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

fn encode_segments(
    types: Types<'_>,
    depth: usize,
    layout: &MessageLayout,
    values: EncodeValues<'_>,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    for seg in &layout.segments {
        match &seg.framing {
            Framing::Nested { field } => {
                let def = &layout.fields[*field as usize];
                match (&def.ty, values.get(*field)) {
                    (FieldType::Type(t), v) => encode_value(types, depth, *t, v, out)?,
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
                            encode_value(types, depth, t, v, out)?;
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
            Framing::Fixed { pattern, .. } => encode_pattern(layout, pattern, values, out)?,
            Framing::Line {
                delimiter,
                also_ends,
                max,
                pattern,
            } => {
                let start = out.len();
                encode_pattern(layout, pattern, values, out)?;
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
            Framing::Length { prefix, max, pattern } => {
                let mut payload = BytesMut::new();
                encode_pattern(layout, pattern, values, &mut payload)?;
                if payload.len() > *max {
                    return Err(EncodeError {
                        field: String::new(),
                        problem: format!("frame of {} bytes exceeds its max of {max}", payload.len()),
                    });
                }
                put_length(*prefix, payload.len(), out).map_err(|e| EncodeError {
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
