//! Recorded cases written as a transcript that `conformance run` replays.
//!
//! Every field is written as it was seen, except the fields the spec marks
//! `volatile`: a server's volatile value becomes a capture (`$cas1`), or for
//! text that no client sends back, a pattern of its shape; a client's
//! volatile field that sends back a captured value is written as that capture.

use std::collections::HashMap;
use std::fmt::Write as _;

use protocol_runtime::layout::{FieldDef, FieldType, Role};
use protocol_runtime::spec::{Protocol, TypeDef, TypeKind};
use protocol_runtime::Value;

use super::tap::Step;

/// One recorded connection.
#[derive(Debug, Clone)]
pub struct RecordedCase {
    pub name: String,
    pub steps: Vec<Step>,
}

/// The whole transcript: a header comment, the `spec` line and the cases.
pub fn transcript(spec: &Protocol, spec_ref: &str, header: &str, cases: &[RecordedCase]) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    let _ = writeln!(out, "spec {}", quote_spec(spec_ref));
    for case in cases {
        out.push('\n');
        out.push_str(&case_text(spec, case));
    }
    out
}

fn quote_spec(s: &str) -> String {
    let bare = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    if bare {
        s.to_string()
    } else {
        string(s.as_bytes())
    }
}

/// One case, its steps indented under its name.
pub fn case_text(spec: &Protocol, case: &RecordedCase) -> String {
    let mut out = format!("case {}\n", string(case.name.as_bytes()));
    let mut names = Captures::new(spec, &case.steps);
    for (i, step) in case.steps.iter().enumerate() {
        let line = match step {
            Step::Message {
                role,
                message,
                fields,
            } => {
                let def = &spec.messages[*message];
                let mut parts = Vec::new();
                for (d, v) in def.layout.fields.iter().zip(fields) {
                    if d.derived {
                        continue;
                    }
                    let written = names.field(i, *role, d, v);
                    parts.push(format!("{}: {written}", d.name));
                }
                if parts.is_empty() {
                    format!("{role} {}", def.name)
                } else {
                    format!("{role} {} {{ {} }}", def.name, parts.join(", "))
                }
            }
            Step::Raw { role, bytes } => format!("raw {role} {}", bytes_expr(bytes)),
            Step::Closes { role } => format!("{role} closes"),
            Step::HalfCloses { role } => format!("{role} half-closes"),
            Step::Resets { role } => format!("{role} resets"),
            Step::Note(text) => {
                for l in text.lines() {
                    let _ = writeln!(out, "  # {l}");
                }
                continue;
            }
        };
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// Names for the volatile values of one case.
struct Captures {
    /// The protocol's named types, for writing nested values.
    types: Vec<TypeDef>,
    /// Value → capture name, per field type (a `u32` flags of 5 is not a
    /// `u64` cas unique of 5).
    bound: HashMap<(String, Value), String>,
    counts: HashMap<String, usize>,
    /// For each value a client's volatile field sends, the last step that
    /// sends it: a server's volatile text sent back later must be captured.
    sent_back: HashMap<(String, Value), usize>,
}

impl Captures {
    fn new(spec: &Protocol, steps: &[Step]) -> Self {
        let mut sent_back = HashMap::new();
        for (i, step) in steps.iter().enumerate() {
            if let Step::Message {
                role: Role::Client,
                message,
                fields,
            } = step
            {
                for (d, v) in spec.messages[*message].layout.fields.iter().zip(fields) {
                    if d.volatile {
                        sent_back.insert((type_key(&d.ty), v.clone()), i);
                    }
                }
            }
        }
        Captures {
            types: spec.types.clone(),
            bound: HashMap::new(),
            counts: HashMap::new(),
            sent_back,
        }
    }

    fn field(&mut self, step: usize, role: Role, d: &FieldDef, v: &Value) -> String {
        // Absence is not volatile: `gets` has a cas unique, `get` never has.
        if !d.volatile || matches!(v, Value::Absent) {
            return value_in(&self.types, &d.ty, v);
        }
        let key = (type_key(&d.ty), v.clone());
        if role == Role::Client {
            return match self.bound.get(&key) {
                Some(name) => format!("${name}"),
                None => value_in(&self.types, &d.ty, v),
            };
        }
        if let Some(name) = self.bound.get(&key) {
            return format!("${name}");
        }
        let sent_back_later = self.sent_back.get(&key).is_some_and(|&at| at > step);
        if let (FieldType::Text, Value::Str(s), false) = (&d.ty, v, sent_back_later) {
            return format!("/{}/", shape(s));
        }
        let n = self.counts.entry(d.name.clone()).or_insert(0);
        *n += 1;
        let name = format!("{}{n}", d.name);
        self.bound.insert(key, name.clone());
        format!("${name}")
    }
}

fn type_key(ty: &FieldType) -> String {
    format!("{ty:?}")
}

/// A field's value as a transcript writes it.
pub fn value(ty: &FieldType, v: &Value) -> String {
    value_in(&[], ty, v)
}

/// [`value`] in a protocol with named types.
pub fn value_in(types: &[TypeDef], ty: &FieldType, v: &Value) -> String {
    match (ty, v) {
        (FieldType::Type(t), v) => match (types.get(*t).map(|d| &d.kind), v) {
            (Some(TypeKind::Choice(bs)), Value::Variant(b, inner)) => match bs.get(*b) {
                Some(s) => struct_value(types, *s, inner, true),
                None => format!("<branch #{b}>"),
            },
            (Some(TypeKind::Struct(_)), v) => struct_value(types, *t, v, false),
            _ => format!("{v:?}"),
        },
        (
            FieldType::Array { item, .. } | FieldType::Rest { item, .. } | FieldType::List { item, .. },
            Value::List(items),
        ) => {
            let items: Vec<String> = items.iter().map(|v| value_in(types, item, v)).collect();
            format!("[{}]", items.join(", "))
        }
        (_, Value::Struct(_) | Value::Variant(..)) => format!("{v:?}"),
        (_, Value::Absent) => "none".into(),
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::U64(n)) => n.to_string(),
        (_, Value::I64(n)) => n.to_string(),
        (_, Value::Str(s)) => string(s.as_bytes()),
        (_, Value::Bytes(b)) => bytes_expr(b),
        (FieldType::Choice(options), Value::Choice(i)) => match options.get(*i) {
            Some(o) => string(o),
            None => format!("\"<option #{i}>\""),
        },
        (_, Value::Choice(i)) => format!("\"<option #{i}>\""),
        (_, Value::List(items)) => {
            let items: Vec<String> = items.iter().map(|v| value(&FieldType::Bytes, v)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// A struct's value: `Name { f: v }` (named when it is a choice's branch),
/// `Name` for one without fields.
fn struct_value(types: &[TypeDef], t: usize, v: &Value, named: bool) -> String {
    let (Some(def), Value::Struct(fields)) = (types.get(t), v) else {
        return format!("{v:?}");
    };
    let Some(layout) = def.layout() else {
        return format!("{v:?}");
    };
    let users: Vec<_> = layout
        .fields
        .iter()
        .zip(fields)
        .filter(|(d, _)| !d.derived)
        .collect();
    if let ([(d, v)], false) = (users.as_slice(), named) {
        // One field: written alone, as transcripts allow (`args: ["GET", "k"]`).
        return value_in(types, &d.ty, v);
    }
    let shown: Vec<String> = users
        .iter()
        .map(|(d, v)| format!("{}: {}", d.name, value_in(types, &d.ty, v)))
        .collect();
    match (named, shown.is_empty()) {
        (true, true) => def.name.clone(),
        (true, false) => format!("{} {{ {} }}", def.name, shown.join(", ")),
        (false, _) => format!("{{ {} }}", shown.join(", ")),
    }
}

/// Runs of one byte this long or longer are written `"x" * N`.
const RUN: usize = 16;

/// Bytes as a string expression, long runs of one byte as repetitions, so a
/// large payload stays readable.
pub fn bytes_expr(b: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut plain = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|&&c| c == b[i]).count();
        if run >= RUN {
            if !plain.is_empty() {
                parts.push(string(&plain));
                plain.clear();
            }
            parts.push(format!("{} * {run}", string(&b[i..i + 1])));
        } else {
            plain.extend_from_slice(&b[i..i + run]);
        }
        i += run;
    }
    if !plain.is_empty() || parts.is_empty() {
        parts.push(string(&plain));
    }
    parts.join(" + ")
}

/// A quoted transcript string: printable ASCII and UTF-8 as they are, the
/// escapes the transcript reader knows for the rest.
pub fn string(b: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut rest = b;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, 0),
            Err(e) => {
                let valid = std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default();
                (valid, e.error_len().unwrap_or(rest.len() - e.valid_up_to()))
            }
        };
        for c in valid.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\0' => out.push_str("\\0"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for byte in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{byte:02x}");
                    }
                }
                c => out.push(c),
            }
        }
        let after = valid.len();
        for byte in &rest[after..after + bad] {
            let _ = write!(out, "\\x{byte:02x}");
        }
        rest = &rest[after + bad..];
    }
    out.push('"');
    out
}

/// A pattern of a text's shape: runs of ASCII letters, of digits and of
/// spaces stand for any run of the same kind; every other character stands
/// for itself. `"25 NOV 2026 20:17:28 UTC"` →
/// `[0-9]+ +[A-Za-z]+ +[0-9]+ +[0-9]+:[0-9]+:[0-9]+ +[A-Za-z]+`.
pub fn shape(s: &str) -> String {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Letter,
        Digit,
        Space,
        Other,
    }
    let kind = |c: char| match c {
        c if c.is_ascii_alphabetic() => Kind::Letter,
        c if c.is_ascii_digit() => Kind::Digit,
        ' ' => Kind::Space,
        _ => Kind::Other,
    };
    let mut out = String::new();
    let mut last = None;
    for c in s.chars() {
        let k = kind(c);
        match k {
            Kind::Other => {
                if c == '/' || c.is_control() {
                    let _ = write!(out, "\\x{{{:x}}}", c as u32);
                } else {
                    out.push_str(&regex::escape(&c.to_string()));
                }
            }
            _ if last == Some(k) => continue,
            Kind::Letter => out.push_str("[A-Za-z]+"),
            Kind::Digit => out.push_str("[0-9]+"),
            Kind::Space => out.push_str(" +"),
        }
        last = Some(k);
    }
    out
}
