//! The runtime's integration tests, one module per area.

mod codecs;
mod errors;
mod patterns;
mod roundtrip;
mod server_loop;
mod smoke;
mod streams;
mod timeouts;
mod transports;

use std::sync::Arc;

use bytes::Bytes;
use protocol_runtime::layout::FieldType;
use protocol_runtime::spec::Protocol;
use protocol_runtime::{Message, Value};

/// Compiles a shipped spec by name.
pub fn spec(name: &str) -> Arc<Protocol> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../specs")
        .join(format!("{name}.proto"));
    checked(name, protocol_dsl::compile_file(&path).expect("readable spec"))
}

/// Compiles a spec written in a test.
pub fn compile(name: &str, text: &str) -> Arc<Protocol> {
    checked(name, protocol_dsl::compile_str(&format!("{name}.proto"), text))
}

fn checked(name: &str, compiled: protocol_dsl::Compilation) -> Arc<Protocol> {
    let rendered = compiled.render(false);
    Arc::new(
        compiled
            .protocol
            .unwrap_or_else(|| panic!("{name} compiles:\n{rendered}")),
    )
}

/// The message `name` of `spec` with these field values (see [`coerced`]).
pub fn msg(spec: &Protocol, name: &str, fields: Vec<Value>) -> Message {
    let id = spec
        .message(name)
        .unwrap_or_else(|| panic!("no message `{name}` in `{}`", spec.name));
    Message::new(id, coerced(spec, name, fields))
}

/// Field values as a test writes them, as the message takes them: a string
/// given for a field of byte strings (`token(except = ...)`) is taken as
/// its bytes, and trailing optional fields left out are absent.
pub fn coerced(spec: &Protocol, name: &str, fields: Vec<Value>) -> Vec<Value> {
    let Some(id) = spec.message(name) else {
        return fields;
    };
    let defs = &spec.messages[id].layout.fields;
    let mut fields: Vec<Value> = fields
        .into_iter()
        .enumerate()
        .map(|(i, v)| match defs.get(i) {
            Some(d) => as_field(&d.ty, v),
            None => v,
        })
        .collect();
    while fields.len() < defs.len() && defs[fields.len()].optional {
        fields.push(Value::Absent);
    }
    fields
}

fn as_field(ty: &FieldType, v: Value) -> Value {
    match (ty, v) {
        (FieldType::Token { except: Some(_), .. }, Value::Str(s)) => Value::Bytes(Bytes::from(s)),
        (FieldType::List { item, .. }, Value::List(items)) => {
            Value::List(items.into_iter().map(|v| as_field(item, v)).collect())
        }
        (_, v) => v,
    }
}

/// A bytes value.
pub fn blob(data: &[u8]) -> Value {
    Value::Bytes(Bytes::copy_from_slice(data))
}
