//! What generated code calls: conversions between typed message structs and
//! the engine's field values. Generated code stays small because the work
//! (framing, matching, state tracking) is all in the engine.

use bytes::Bytes;

use crate::error::Error;
use crate::spec::MessageId;
use crate::value::{Message, Value};

/// A message struct generated from a spec.
pub trait TypedMessage: Sized {
    /// The message's index in its spec.
    const ID: MessageId;
    /// The message's name in the spec.
    const NAME: &'static str;
    /// The field values, indexed like the layout (derived fields `Absent`).
    fn into_values(self) -> Vec<Value>;
    /// Builds the struct from decoded values.
    fn from_values(values: Vec<Value>) -> Result<Self, Error>;

    fn into_message(self) -> Message {
        Message::new(Self::ID, self.into_values())
    }
}

fn wrong(message: &str, field: &str, want: &str, got: &Value) -> Error {
    Error::Misuse(format!(
        "field `{field}` of `{message}` should hold {want}, not {got:?}"
    ))
}

/// Takes field `i` out of `values` (leaving `Absent`).
pub fn take(values: &mut [Value], i: usize) -> Value {
    values
        .get_mut(i)
        .map(|v| std::mem::replace(v, Value::Absent))
        .unwrap_or(Value::Absent)
}

/// Conversion of one field value to and from its Rust type.
pub trait FieldValue: Sized {
    fn to_value(self) -> Value;
    fn from_value(v: Value, message: &str, field: &str) -> Result<Self, Error>;
}

impl FieldValue for String {
    fn to_value(self) -> Value {
        Value::Str(self)
    }
    fn from_value(v: Value, message: &str, field: &str) -> Result<Self, Error> {
        match v {
            Value::Str(s) => Ok(s),
            other => Err(wrong(message, field, "a string", &other)),
        }
    }
}

impl FieldValue for Bytes {
    fn to_value(self) -> Value {
        Value::Bytes(self)
    }
    fn from_value(v: Value, message: &str, field: &str) -> Result<Self, Error> {
        match v {
            Value::Bytes(b) => Ok(b),
            Value::Str(s) => Ok(Bytes::from(s)),
            other => Err(wrong(message, field, "bytes", &other)),
        }
    }
}

impl FieldValue for bool {
    fn to_value(self) -> Value {
        Value::Bool(self)
    }
    fn from_value(v: Value, message: &str, field: &str) -> Result<Self, Error> {
        match v {
            Value::Bool(b) => Ok(b),
            Value::Absent => Ok(false),
            other => Err(wrong(message, field, "a flag", &other)),
        }
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn to_value(self) -> Value {
                Value::U64(self as u64)
            }
            fn from_value(v: Value, message: &str, field: &str) -> Result<Self, Error> {
                match v {
                    Value::U64(n) => <$t>::try_from(n).map_err(|_| wrong(message, field, stringify!($t), &v)),
                    other => Err(wrong(message, field, stringify!($t), &other)),
                }
            }
        }
    )*};
}
macro_rules! signed {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn to_value(self) -> Value {
                Value::I64(self as i64)
            }
            fn from_value(v: Value, message: &str, field: &str) -> Result<Self, Error> {
                match v {
                    Value::I64(n) => <$t>::try_from(n).map_err(|_| wrong(message, field, stringify!($t), &v)),
                    other => Err(wrong(message, field, stringify!($t), &other)),
                }
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64);
signed!(i8, i16, i32, i64);

impl<T: FieldValue> FieldValue for Option<T> {
    fn to_value(self) -> Value {
        self.map_or(Value::Absent, T::to_value)
    }
    fn from_value(v: Value, message: &str, field: &str) -> Result<Self, Error> {
        match v {
            Value::Absent => Ok(None),
            v => T::from_value(v, message, field).map(Some),
        }
    }
}

impl<T: FieldValue> FieldValue for Box<T> {
    fn to_value(self) -> Value {
        (*self).to_value()
    }
    fn from_value(v: Value, message: &str, field: &str) -> Result<Self, Error> {
        T::from_value(v, message, field).map(Box::new)
    }
}

impl<T: FieldValue> FieldValue for Vec<T> {
    fn to_value(self) -> Value {
        Value::List(self.into_iter().map(T::to_value).collect())
    }
    fn from_value(v: Value, message: &str, field: &str) -> Result<Self, Error> {
        match v {
            Value::List(items) => items
                .into_iter()
                .map(|i| T::from_value(i, message, field))
                .collect(),
            other => Err(wrong(message, field, "a list", &other)),
        }
    }
}

/// A generated enum for a choice field (`cmd: ("get" | "gets")`).
pub trait Choice: Sized {
    fn index(&self) -> usize;
    fn from_index(i: usize) -> Option<Self>;
}

/// Field conversion for choice enums (generated code calls these).
pub fn choice_to_value<C: Choice>(c: C) -> Value {
    Value::Choice(c.index())
}

pub fn choice_from_value<C: Choice>(v: Value, message: &str, field: &str) -> Result<C, Error> {
    match v {
        Value::Choice(i) => {
            C::from_index(i).ok_or_else(|| wrong(message, field, "a known option", &Value::Choice(i)))
        }
        other => Err(wrong(message, field, "a choice", &other)),
    }
}

pub fn opt_choice_from_value<C: Choice>(v: Value, message: &str, field: &str) -> Result<Option<C>, Error> {
    match v {
        Value::Absent => Ok(None),
        v => choice_from_value(v, message, field).map(Some),
    }
}

/// The error for a message a state did not expect (the engine prevents it;
/// generated code reports it rather than panic).
pub fn unexpected(state: &str, event: &crate::session::Event) -> Error {
    Error::Misuse(format!("internal: unexpected {event:?} in state `{state}`"))
}
