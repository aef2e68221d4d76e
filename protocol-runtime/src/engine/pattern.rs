//! Matching a frame's content against a pattern, and writing a pattern back.
//!
//! Matching is greedy and local, like a PEG: an optional part is taken when it
//! matches, a choice takes its longest matching literal, and neither is
//! revisited. Free `text` and `bytes` run to the end of the frame less the
//! literals that follow them (the compiler checks that only literals follow).

use bytes::{BufMut, Bytes, BytesMut};

use crate::layout::{FieldId, FieldType, IntKind, Item, ItemKind, MessageLayout, Pattern};
use crate::value::Value;

/// Where and why a frame did not match, at the furthest point reached.
/// What was expected is kept as references into the spec and written out
/// only if the frame matches no candidate: trying the candidates of a state
/// one by one is the common path, and must not format anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch<'a> {
    pub offset: usize,
    pub expected: Expect<'a>,
}

/// What a pattern wanted where it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    EndOfFrame,
    Literal(&'a [u8]),
    Token(&'a str),
    TokenOfAtMost { name: &'a str, max: usize, len: usize },
    Utf8Token(&'a str),
    Field(&'a str),
    Utf8Text(&'a str),
    Int { what: &'static str, name: &'a str },
    OneOf(&'a [Vec<u8>]),
    AtMostItems { max: usize, name: &'a str },
    AtLeastItems { min: usize, name: &'a str },
}

impl std::fmt::Display for Expect<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::EndOfFrame => f.write_str("the end of the frame"),
            Expect::Literal(lit) => write!(f, "\"{}\"", lit.escape_ascii()),
            Expect::Token(name) => write!(f, "token `{name}`"),
            Expect::TokenOfAtMost { name, max, len } => {
                write!(f, "token `{name}` of at most {max} bytes (got {len})")
            }
            Expect::Utf8Token(name) => write!(f, "UTF-8 token `{name}`"),
            Expect::Field(name) => write!(f, "`{name}`"),
            Expect::Utf8Text(name) => write!(f, "UTF-8 text `{name}`"),
            Expect::Int { what, name } => write!(f, "{what} `{name}`"),
            Expect::OneOf(options) => {
                f.write_str("one of ")?;
                for (i, o) in options.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "\"{}\"", o.escape_ascii())?;
                }
                Ok(())
            }
            Expect::AtMostItems { max, name } => write!(f, "at most {max} items in `{name}`"),
            Expect::AtLeastItems { min, name } => write!(f, "at least {min} items in `{name}`"),
        }
    }
}

pub(crate) struct Matcher<'a, 'v> {
    layout: &'a MessageLayout,
    input: &'v Bytes,
    pub values: &'v mut [Value],
    furthest: Option<Mismatch<'a>>,
}

type Step = Result<usize, ()>;

/// The items after the one being matched, then those after each enclosing
/// item: the literals a free `text` or `bytes` field must leave to the end of
/// the frame. A chain on the stack, one link per item, walked only when such
/// a field is reached.
#[derive(Clone, Copy)]
struct Tail<'a, 't> {
    rest: &'a [Item],
    outer: Option<&'t Tail<'a, 't>>,
}

impl<'a, 'v> Matcher<'a, 'v> {
    pub fn new(layout: &'a MessageLayout, input: &'v Bytes, values: &'v mut [Value]) -> Self {
        Matcher {
            layout,
            input,
            values,
            furthest: None,
        }
    }

    /// Matches the whole input against `pattern`.
    pub fn whole(&mut self, pattern: &'a Pattern) -> Result<(), Mismatch<'a>> {
        let failed_at = match self.items(&pattern.items, 0, None) {
            Ok(end) if end == self.input.len() => return Ok(()),
            Ok(end) => {
                self.fail(end, Expect::EndOfFrame);
                end
            }
            Err(()) => 0,
        };
        Err(self.furthest.unwrap_or(Mismatch {
            offset: failed_at,
            expected: Expect::EndOfFrame,
        }))
    }

    fn fail(&mut self, offset: usize, expected: Expect<'a>) {
        if self.furthest.is_none_or(|f| offset >= f.offset) {
            self.furthest = Some(Mismatch { offset, expected });
        }
    }

    fn items(&mut self, items: &'a [Item], mut pos: usize, outer: Option<&Tail<'a, '_>>) -> Step {
        for (i, item) in items.iter().enumerate() {
            let tail = Tail {
                rest: &items[i + 1..],
                outer,
            };
            pos = self.item(item, pos, &tail)?;
        }
        Ok(pos)
    }

    fn item(&mut self, item: &'a Item, pos: usize, tail: &Tail<'a, '_>) -> Step {
        match &item.kind {
            ItemKind::Literal(lit) => {
                if self.input[pos..].starts_with(lit) {
                    Ok(pos + lit.len())
                } else {
                    self.fail(pos, Expect::Literal(lit));
                    Err(())
                }
            }
            ItemKind::Field(id) => {
                let id = *id as usize;
                let def = &self.layout.fields[id];
                let suffix = if matches!(def.ty, FieldType::Text | FieldType::Bytes) {
                    suffix_len(tail)
                } else {
                    0
                };
                let (value, end) = self.field(&def.ty, &def.name, pos, suffix)?;
                self.values[id] = value;
                Ok(end)
            }
            ItemKind::Optional { flag, pattern } => match self.items(&pattern.items, pos, Some(tail)) {
                Ok(end) => {
                    if let Some(f) = flag {
                        self.values[*f as usize] = Value::Bool(true);
                    }
                    Ok(end)
                }
                Err(()) => {
                    clear(&pattern.items, self.values);
                    if let Some(f) = flag {
                        self.values[*f as usize] = Value::Bool(false);
                    }
                    Ok(pos)
                }
            },
            ItemKind::Alternatives(alts) => {
                // Field-less parts (the compiler allows no fields in them):
                // the longest match wins, as for choices.
                let mut best = None;
                for alt in alts {
                    if let Ok(end) = self.items(&alt.items, pos, Some(tail)) {
                        best = best.max(Some(end));
                    }
                }
                best.ok_or(())
            }
        }
    }

    fn field(
        &mut self,
        ty: &'a FieldType,
        name: &'a str,
        pos: usize,
        suffix: usize,
    ) -> Result<(Value, usize), ()> {
        let rest = &self.input[pos..];
        match ty {
            FieldType::Token { max } => {
                let len = rest.iter().position(|&b| !is_token_byte(b)).unwrap_or(rest.len());
                if len == 0 {
                    self.fail(pos, Expect::Token(name));
                    return Err(());
                }
                if len > *max {
                    self.fail(pos, Expect::TokenOfAtMost { name, max: *max, len });
                    return Err(());
                }
                match std::str::from_utf8(&rest[..len]) {
                    Ok(s) => Ok((Value::Str(s.to_string()), pos + len)),
                    Err(_) => {
                        self.fail(pos, Expect::Utf8Token(name));
                        Err(())
                    }
                }
            }
            FieldType::Text | FieldType::Bytes => {
                let Some(end) = self.input.len().checked_sub(suffix).filter(|e| *e >= pos) else {
                    self.fail(pos, Expect::Field(name));
                    return Err(());
                };
                if *ty == FieldType::Bytes {
                    return Ok((Value::Bytes(self.input.slice(pos..end)), end));
                }
                match std::str::from_utf8(&self.input[pos..end]) {
                    Ok(s) => Ok((Value::Str(s.to_string()), end)),
                    Err(e) => {
                        self.fail(pos + e.valid_up_to(), Expect::Utf8Text(name));
                        Err(())
                    }
                }
            }
            FieldType::Int(kind) => match parse_int(rest, *kind) {
                Ok((v, len)) => Ok((v, pos + len)),
                Err(why) => {
                    self.fail(pos, Expect::Int { what: why, name });
                    Err(())
                }
            },
            FieldType::Choice(options) => {
                let best = options
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| rest.starts_with(o))
                    .max_by_key(|(_, o)| o.len());
                match best {
                    Some((i, o)) => Ok((Value::Choice(i), pos + o.len())),
                    None => {
                        self.fail(pos, Expect::OneOf(options));
                        Err(())
                    }
                }
            }
            FieldType::Flag => Ok((Value::Bool(true), pos)),
            FieldType::List {
                item,
                separator,
                min,
                max,
            } => {
                let mut items = Vec::new();
                let (first, mut at) = self.field(item, name, pos, 0)?;
                items.push(first);
                while self.input[at..].starts_with(separator) {
                    let Ok((v, end)) = self.field(item, name, at + separator.len(), 0) else {
                        break;
                    };
                    if items.len() == *max {
                        self.fail(at, Expect::AtMostItems { max: *max, name });
                        return Err(());
                    }
                    items.push(v);
                    at = end;
                }
                if items.len() < *min {
                    self.fail(at, Expect::AtLeastItems { min: *min, name });
                    return Err(());
                }
                Ok((Value::List(items), at))
            }
        }
    }
}

/// Bytes of the literals that must follow a free field to the frame's end.
fn suffix_len(tail: &Tail<'_, '_>) -> usize {
    let mut sum = 0;
    let mut link = Some(tail);
    while let Some(t) = link {
        sum += t
            .rest
            .iter()
            .map(|i| match &i.kind {
                ItemKind::Literal(l) => l.len(),
                _ => 0,
            })
            .sum::<usize>();
        link = t.outer;
    }
    sum
}

/// Resets the fields of an optional part that did not match.
fn clear(items: &[Item], values: &mut [Value]) {
    for item in items {
        match &item.kind {
            ItemKind::Field(id) => values[*id as usize] = Value::Absent,
            ItemKind::Optional { flag, pattern } => {
                if let Some(f) = flag {
                    values[*f as usize] = Value::Bool(false);
                }
                clear(&pattern.items, values);
            }
            ItemKind::Alternatives(alts) => alts.iter().for_each(|a| clear(&a.items, values)),
            ItemKind::Literal(_) => {}
        }
    }
}

/// Token bytes: anything but space and control bytes.
pub fn is_token_byte(b: u8) -> bool {
    b > 0x20 && b != 0x7f
}

fn parse_int(rest: &[u8], kind: IntKind) -> Result<(Value, usize), &'static str> {
    let negative = kind.signed && rest.first() == Some(&b'-');
    let start = usize::from(negative);
    let digits = rest[start..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err("integer");
    }
    let mut v: u128 = 0;
    for &b in &rest[start..start + digits] {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as u128))
            .ok_or("in-range integer")?;
        if v > kind.max_value() + 1 {
            return Err("in-range integer");
        }
    }
    let len = start + digits;
    if negative {
        let n = -(v as i128);
        if n < kind.min_value() {
            return Err("in-range integer");
        }
        Ok((Value::I64(n as i64), len))
    } else if v > kind.max_value() {
        Err("in-range integer")
    } else if kind.signed {
        Ok((Value::I64(v as i64), len))
    } else {
        Ok((Value::U64(v as u64), len))
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
    fn get(&self, id: FieldId) -> &Value {
        match self.derived.iter().find(|(d, _)| *d == id) {
            Some((_, v)) => v,
            None => &self.given[id as usize],
        }
    }
}

/// Writes `pattern` with the given values.
pub(crate) fn encode_pattern(
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
                encode_field(&def.ty, &def.name, values.get(*id), out)?;
            }
            ItemKind::Optional { flag, pattern } => {
                let present = match flag {
                    Some(f) => values.get(*f).is_present(),
                    None => any_present(&pattern.items, values),
                };
                if present {
                    encode_pattern(layout, pattern, values, out)?;
                }
            }
            ItemKind::Alternatives(alts) => {
                if let Some(first) = alts.first() {
                    encode_pattern(layout, first, values, out)?;
                }
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
        ItemKind::Literal(_) => false,
    })
}

fn encode_field(ty: &FieldType, name: &str, value: &Value, out: &mut BytesMut) -> Result<(), EncodeError> {
    match (ty, value) {
        (_, Value::Absent) => Err(bad(name, "is required here")),
        (FieldType::Token { max }, v) => {
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
            if let Some(b) = s.iter().find(|b| !is_token_byte(**b)) {
                return Err(bad(
                    name,
                    format!("a token cannot hold the byte 0x{b:02x} (space or control)"),
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
                encode_field(item, name, v, out)?;
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
