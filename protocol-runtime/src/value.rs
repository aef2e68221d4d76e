//! Field values and messages as the engine decodes and encodes them.

use std::fmt;

use bytes::Bytes;

use crate::spec::MessageId;

/// The value of one field of a message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// An optional field whose part was not present.
    Absent,
    /// A flag: whether its optional literal was present.
    Bool(bool),
    /// An unsigned integer field.
    U64(u64),
    /// A signed integer field.
    I64(i64),
    /// A token or text field.
    Str(String),
    /// A bytes field or the payload of a `raw` part.
    Bytes(Bytes),
    /// The index of the literal a choice field matched.
    Choice(usize),
    /// The items of a list field.
    List(Vec<Value>),
    /// A value of a struct: its fields, in declaration order.
    Struct(Vec<Value>),
    /// A value of a choice: the index of its branch and that branch's
    /// [`Value::Struct`].
    Variant(usize, Box<Value>),
}

impl Value {
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(v) => Some(*v),
            Value::I64(v) => u64::try_from(*v).ok(),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            Value::Str(s) => Some(s.as_bytes()),
            _ => None,
        }
    }
    pub fn is_present(&self) -> bool {
        !matches!(self, Value::Absent | Value::Bool(false))
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Absent => f.write_str("_"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "b\"{}\"", b.escape_ascii()),
            Value::Choice(i) => write!(f, "#{i}"),
            Value::List(items) => f.debug_list().entries(items).finish(),
            Value::Struct(fields) => {
                f.write_str("{")?;
                for (i, v) in fields.iter().enumerate() {
                    write!(f, "{}{v:?}", if i > 0 { ", " } else { "" })?;
                }
                f.write_str("}")
            }
            Value::Variant(b, v) => write!(f, "#{b}{v:?}"),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::U64(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<Bytes> for Value {
    fn from(v: Bytes) -> Self {
        Value::Bytes(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(Bytes::copy_from_slice(v))
    }
}

/// One message of a spec with its field values, indexed like the layout's
/// `fields`.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub fields: Vec<Value>,
}

impl Message {
    pub fn new(id: MessageId, fields: Vec<Value>) -> Self {
        Message { id, fields }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.id)?;
        f.debug_list().entries(&self.fields).finish()
    }
}
