//! Encoding a message from its layout. Length fields that a `raw(n)` part
//! uses are derived here from the data, never taken from the caller.

use bytes::{BufMut, BytesMut};
use smallvec::SmallVec;

use super::pattern::{encode_pattern, EncodeError, EncodeValues};
use crate::codec::{ends_cleanly, ends_cleanly_any, put_length};
use crate::layout::{FieldId, FieldType, Framing, MessageLayout, RawLen};
use crate::value::Value;

/// Appends the bytes of a message with `values` (indexed like
/// `layout.fields`) to `out`. On error `out` is left as it was.
pub fn encode(layout: &MessageLayout, values: &[Value], out: &mut BytesMut) -> Result<(), EncodeError> {
    if values.len() != layout.fields.len() {
        return Err(EncodeError {
            field: String::new(),
            problem: format!("{} values given for {} fields", values.len(), layout.fields.len()),
        });
    }
    let derived = derive_lengths(layout, values);
    let values = EncodeValues {
        given: values,
        derived: &derived,
    };
    let start = out.len();
    let r = encode_segments(layout, values, out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// The length fields used by `raw(field)` parts, from their data.
fn derive_lengths(layout: &MessageLayout, values: &[Value]) -> SmallVec<[(FieldId, Value); 2]> {
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
    out
}

fn encode_segments(
    layout: &MessageLayout,
    values: EncodeValues<'_>,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    for seg in &layout.segments {
        match &seg.framing {
            Framing::Exact(lit) => out.put_slice(lit),
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
