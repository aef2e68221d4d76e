//! Writing a frame's content from a pattern and values: the inverse of
//! [`super::pattern`]'s matching.

use std::cell::RefCell;

use bytes::{BufMut, BytesMut};

use super::encode::encode_value;
use super::pattern::{condition_holds, int_of, is_token_byte};
use crate::domain;
use crate::layout::{FieldId, FieldType, Item, ItemKind, MessageLayout, Pattern};
use crate::spec::TypeDef;
use crate::value::Value;

/// The named types values are encoded with, how deep the value being
/// written is nested, and the domain names written so far in the frame.
#[derive(Clone, Copy)]
pub(crate) struct Types<'a> {
    pub defs: &'a [TypeDef],
    pub max_depth: usize,
    pub depth: usize,
    /// The names written so far in the length-prefixed frame being
    /// written, if in one: `domain(compress)` fields point to them.
    pub names: Option<&'a RefCell<Names>>,
    /// False inside a `size(...)` part, whose names are written whole.
    pub compress: bool,
}

impl<'a> Types<'a> {
    pub(crate) fn new(defs: &'a [TypeDef], max_depth: usize) -> Self {
        Types {
            defs,
            max_depth,
            depth: 0,
            names: None,
            compress: true,
        }
    }
}

/// The names written in one frame, for compression (RFC 1035 section
/// 4.1.4): each suffix of each name written out (its labels and the final
/// empty label, as written) and the frame offset it starts at. Only
/// offsets a pointer can hold (below 0x4000) are kept, and at most
/// [`Names::MAX`] of them.
#[derive(Default)]
pub(crate) struct Names {
    suffixes: Vec<(Box<[u8]>, u16)>,
}

impl Names {
    pub const MAX: usize = 512;

    fn find(&self, wire: &[u8]) -> Option<u16> {
        self.suffixes
            .iter()
            .find(|(s, _)| &**s == wire)
            .map(|&(_, at)| at)
    }

    /// Writes the name of `labels` at `out`'s end (its offset in the frame:
    /// `out` holds the frame from its first byte), ending with a pointer to
    /// the longest suffix written before if `compress`, and keeps the
    /// suffixes it writes out for later names.
    fn write(&mut self, labels: &[Vec<u8>], compress: bool, out: &mut BytesMut) {
        let mut wire = Vec::with_capacity(labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1);
        let mut starts = Vec::with_capacity(labels.len());
        for l in labels {
            starts.push(wire.len());
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        wire.push(0);
        let pointer = if compress {
            starts
                .iter()
                .enumerate()
                .find_map(|(i, &s)| self.find(&wire[s..]).map(|at| (i, at)))
        } else {
            None
        };
        let literal = pointer.map_or(labels.len(), |(i, _)| i);
        let base = out.len();
        for &s in &starts[..literal] {
            let at = base + s;
            if at < 0x4000 && self.suffixes.len() < Self::MAX && self.find(&wire[s..]).is_none() {
                self.suffixes.push((wire[s..].into(), at as u16));
            }
        }
        match pointer {
            Some((i, at)) => {
                out.put_slice(&wire[..starts[i]]);
                out.put_u16(0xc000 | at);
            }
            None => out.put_slice(&wire),
        }
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{problem}", if field.is_empty() { String::new() } else { format!("field `{field}`: ") })]
pub struct EncodeError {
    pub field: String,
    pub problem: String,
}

fn bad(field: &str, problem: impl Into<String>) -> EncodeError {
    EncodeError {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// The values a message is encoded from: the caller's, except the lengths
/// that `raw(field)` parts use, which are computed from their data (and
/// kept apart, so the caller's values need not be copied to replace them).
#[derive(Clone, Copy)]
pub(crate) struct EncodeValues<'a> {
    pub given: &'a [Value],
    pub derived: &'a [(FieldId, Value)],
}

impl EncodeValues<'_> {
    pub(crate) fn get(&self, id: FieldId) -> &Value {
        match self.derived.iter().find(|(d, _)| *d == id) {
            Some((_, v)) => v,
            None => &self.given[id as usize],
        }
    }
}

/// Writes `pattern` with the given values.
pub(crate) fn encode_pattern(
    types: Types<'_>,
    layout: &MessageLayout,
    pattern: &Pattern,
    values: EncodeValues<'_>,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    for item in &pattern.items {
        match &item.kind {
            ItemKind::Literal(l) => out.put_slice(l),
            ItemKind::Field(id) => {
                let def = &layout.fields[*id as usize];
                let value = values.get(*id);
                if let (Some(set), Value::U64(_) | Value::I64(_)) = (&def.constraint, value) {
                    if !set.contains(int_of(value)) {
                        return Err(bad(&def.name, format!("{value:?} is not in {set}")));
                    }
                }
                encode_field(types, &def.ty, &def.name, value, out)?;
            }
            // Its length field was derived from these same bytes, encoded
            // on their own: names in them are written whole.
            ItemKind::Sized { pattern, .. } => {
                let whole = Types {
                    compress: false,
                    ..types
                };
                encode_pattern(whole, layout, pattern, values, out)?
            }
            ItemKind::Optional { flag, pattern } => {
                let present = match flag {
                    Some(f) => values.get(*f).is_present(),
                    None => any_present(&pattern.items, values),
                };
                if present {
                    encode_pattern(types, layout, pattern, values, out)?;
                }
            }
            ItemKind::Alternatives(alts) => {
                if let Some(first) = alts.first() {
                    encode_pattern(types, layout, first, values, out)?;
                }
            }
            ItemKind::Repeat { pattern, min } => {
                for _ in 0..*min {
                    encode_pattern(types, layout, pattern, values, out)?;
                }
            }
            ItemKind::If { field, set, pattern } => {
                if condition_holds(values.get(*field), set) {
                    encode_pattern(types, layout, pattern, values, out)?;
                } else if any_present(&pattern.items, values) {
                    let name = &layout.fields[*field as usize].name;
                    return Err(bad(
                        name,
                        format!("is not in {set}, so the part that depends on it must be absent"),
                    ));
                }
            }
            ItemKind::Bits { carrier, slices } => {
                let mut raw: u64 = 0;
                for s in slices {
                    let v = match (s.constant, s.field) {
                        (Some(c), _) => c,
                        (None, None) => 0,
                        (None, Some(id)) => {
                            let def = &layout.fields[id as usize];
                            let v = match values.get(id) {
                                Value::Bool(b) => u64::from(*b),
                                Value::U64(n) => *n,
                                other => {
                                    return Err(bad(
                                        &def.name,
                                        format!("needs a number of {} bits, not {other:?}", s.width),
                                    ))
                                }
                            };
                            if v > s.mask() {
                                return Err(bad(&def.name, format!("{v} does not fit in {} bits", s.width)));
                            }
                            if let Some(set) = &def.constraint {
                                if !set.contains(v as i128) {
                                    return Err(bad(&def.name, format!("{v} is not in {set}")));
                                }
                            }
                            v
                        }
                    };
                    raw = if s.width >= 64 { v } else { (raw << s.width) | v };
                }
                carrier.write(raw as i128, out);
            }
        }
    }
    Ok(())
}

fn any_present(items: &[Item], values: EncodeValues<'_>) -> bool {
    items.iter().any(|i| match &i.kind {
        ItemKind::Field(id) => !matches!(values.get(*id), Value::Absent),
        ItemKind::Optional { pattern, flag } => {
            flag.is_some_and(|f| values.get(f).is_present()) || any_present(&pattern.items, values)
        }
        ItemKind::Alternatives(alts) => alts.iter().any(|a| any_present(&a.items, values)),
        ItemKind::If { pattern, .. } | ItemKind::Sized { pattern, .. } => any_present(&pattern.items, values),
        ItemKind::Bits { slices, .. } => slices
            .iter()
            .filter_map(|s| s.field)
            .any(|f| !matches!(values.get(f), Value::Absent)),
        ItemKind::Repeat { .. } | ItemKind::Literal(_) => false,
    })
}

fn encode_field(
    types: Types<'_>,
    ty: &FieldType,
    name: &str,
    value: &Value,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    match (ty, value) {
        (_, Value::Absent) => Err(bad(name, "is required here")),
        (FieldType::Domain { compress }, Value::Str(s)) => match types.names {
            None => domain::write(s, out).map_err(|e| bad(name, e.0)),
            Some(names) => {
                let labels = domain::parse(s).map_err(|e| bad(name, e.0))?;
                names
                    .borrow_mut()
                    .write(&labels, *compress && types.compress, out);
                Ok(())
            }
        },
        (FieldType::Type(t), v) => encode_value(types, *t, v, out),
        (FieldType::Token { max, except }, v) => {
            let s = v
                .as_bytes()
                .ok_or_else(|| bad(name, format!("a token needs a string, not {v:?}")))?;
            if s.is_empty() {
                return Err(bad(name, "a token cannot be empty"));
            }
            if s.len() > *max {
                return Err(bad(
                    name,
                    format!("is {} bytes, over the token limit of {max}", s.len()),
                ));
            }
            let refused = match except {
                None => s.iter().find(|b| !is_token_byte(**b)),
                Some(set) => s.iter().find(|b| set.contains(b)),
            };
            if let Some(b) = refused {
                let what = if except.is_some() {
                    "excluded"
                } else {
                    "space or control"
                };
                return Err(bad(
                    name,
                    format!("a token cannot hold the byte 0x{b:02x} ({what})"),
                ));
            }
            out.put_slice(s);
            Ok(())
        }
        (FieldType::Text, Value::Str(s)) => {
            out.put_slice(s.as_bytes());
            Ok(())
        }
        (FieldType::Bytes, v) => {
            let b = v
                .as_bytes()
                .ok_or_else(|| bad(name, format!("needs bytes, not {v:?}")))?;
            out.put_slice(b);
            Ok(())
        }
        (FieldType::Int(kind), v) => {
            let n: i128 = match v {
                Value::U64(n) => *n as i128,
                Value::I64(n) => *n as i128,
                other => return Err(bad(name, format!("needs an integer, not {other:?}"))),
            };
            if n < kind.min_value() || n > kind.max_value() as i128 {
                return Err(bad(name, format!("{n} is out of range for `{}`", kind.name())));
            }
            let mut buf = itoa_buf(n);
            out.put_slice(buf.as_bytes_mut());
            Ok(())
        }
        (FieldType::Bin(b), v) => {
            let n: i128 = match v {
                Value::U64(n) => *n as i128,
                Value::I64(n) => *n as i128,
                other => return Err(bad(name, format!("needs an integer, not {other:?}"))),
            };
            let kind = b.kind();
            if n < kind.min_value() || n > kind.max_value() as i128 {
                return Err(bad(name, format!("{n} is out of range for `{}`", b.name())));
            }
            b.write(n, out);
            Ok(())
        }
        (FieldType::Sized { max, text, .. }, v) => {
            let b = match (text, v) {
                (true, Value::Str(s)) => s.as_bytes(),
                (false, v) => v
                    .as_bytes()
                    .ok_or_else(|| bad(name, format!("needs bytes, not {v:?}")))?,
                (true, v) => return Err(bad(name, format!("needs text, not {v:?}"))),
            };
            if b.len() > *max {
                return Err(bad(name, format!("is {} bytes, over its max of {max}", b.len())));
            }
            out.put_slice(b);
            Ok(())
        }
        (FieldType::Rest { item, max }, Value::List(items)) => {
            if items.len() > *max {
                return Err(bad(
                    name,
                    format!("has {} items, over its max of {max}", items.len()),
                ));
            }
            for v in items {
                encode_field(types, item, name, v, out)?;
            }
            Ok(())
        }
        (
            FieldType::Terminated {
                terminator,
                max,
                text,
            },
            v,
        ) => {
            let b = match (text, v) {
                (true, Value::Str(s)) => s.as_bytes(),
                (false, v) => v
                    .as_bytes()
                    .ok_or_else(|| bad(name, format!("needs bytes, not {v:?}")))?,
                (true, v) => return Err(bad(name, format!("needs text, not {v:?}"))),
            };
            if b.len() > *max {
                return Err(bad(name, format!("is {} bytes, over its max of {max}", b.len())));
            }
            // Read back, the first terminator must be the one written (a
            // value ending in the start of a multi-byte terminator could
            // make one earlier).
            let start = out.len();
            out.put_slice(b);
            out.put_slice(terminator);
            if memchr::memmem::find(&out[start..], terminator) != Some(b.len()) {
                out.truncate(start);
                return Err(bad(
                    name,
                    format!(
                        "holds its terminator \"{}\", or ends in its first bytes",
                        terminator.escape_ascii()
                    ),
                ));
            }
            Ok(())
        }
        (FieldType::Array { item, max, .. }, Value::List(items)) => {
            if items.len() > *max {
                return Err(bad(
                    name,
                    format!("has {} items, over its max of {max}", items.len()),
                ));
            }
            for v in items {
                encode_field(types, item, name, v, out)?;
            }
            Ok(())
        }
        (FieldType::Choice(options), Value::Choice(i)) => {
            let o = options
                .get(*i)
                .ok_or_else(|| bad(name, format!("has no option {i}")))?;
            out.put_slice(o);
            Ok(())
        }
        (FieldType::Flag, _) => Ok(()),
        (
            FieldType::List {
                item,
                separator,
                separator_repeats: _,
                min,
                max,
            },
            Value::List(items),
        ) => {
            if items.len() < *min || items.len() > *max {
                return Err(bad(
                    name,
                    format!("has {} items; it takes {min} to {max}", items.len()),
                ));
            }
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.put_slice(separator);
                }
                encode_field(types, item, name, v, out)?;
            }
            Ok(())
        }
        (ty, v) => Err(bad(name, format!("{v:?} does not fit a {ty:?} field"))),
    }
}

/// A decimal integer, formatted without allocating.
struct IntBuf {
    buf: [u8; 40],
    start: usize,
}

impl IntBuf {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(n: i128) -> IntBuf {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    let negative = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    IntBuf { buf, start: i }
}
