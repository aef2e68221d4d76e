//! Matching a received message against a step's expectations, with captures.

use std::collections::HashMap;

use protocol_runtime::layout::FieldType;
use protocol_runtime::spec::{Protocol, TypeKind};
use protocol_runtime::{Message, Value};

use crate::transcript::{Expected, Matcher, Template};

/// Values captured so far in a case (`$name`).
pub type Captures = HashMap<String, Value>;

/// Replaces `{prefix}` in strings and bytes with the run's key prefix.
pub fn with_prefix(v: &Value, prefix: &str) -> Value {
    match v {
        Value::Str(s) if s.contains("{prefix}") => Value::Str(s.replace("{prefix}", prefix)),
        Value::Bytes(b) if contains(b, b"{prefix}") => {
            Value::Bytes(replace(b, b"{prefix}", prefix.as_bytes()).into())
        }
        Value::List(items) => Value::List(items.iter().map(|i| with_prefix(i, prefix)).collect()),
        Value::Struct(fields) => Value::Struct(fields.iter().map(|f| with_prefix(f, prefix)).collect()),
        Value::Variant(b, inner) => Value::Variant(*b, Box::new(with_prefix(inner, prefix))),
        other => other.clone(),
    }
}

/// [`with_prefix`] for a value of type `ty`: the lengths inside nested
/// values are computed again, as the prefix changes the data they measure.
pub fn prefixed(spec: &Protocol, ty: &FieldType, v: &Value, prefix: &str) -> Value {
    match (ty, v) {
        (FieldType::Type(t), _) => prefixed_type(spec, *t, v, prefix),
        (FieldType::List { item, .. } | FieldType::Array { item, .. }, Value::List(items)) => {
            Value::List(items.iter().map(|i| prefixed(spec, item, i, prefix)).collect())
        }
        _ => with_prefix(v, prefix),
    }
}

fn prefixed_type(spec: &Protocol, t: usize, v: &Value, prefix: &str) -> Value {
    match (spec.types.get(t).map(|d| &d.kind), v) {
        (Some(TypeKind::Choice(bs)), Value::Variant(b, inner)) => match bs.get(*b) {
            Some(s) => Value::Variant(*b, Box::new(prefixed_type(spec, *s, inner, prefix))),
            None => v.clone(),
        },
        (Some(TypeKind::Struct(layout)), Value::Struct(fields)) => {
            let fields: Vec<Value> = layout
                .fields
                .iter()
                .zip(fields)
                .map(|(d, f)| prefixed(spec, &d.ty, f, prefix))
                .collect();
            Value::Struct(protocol_runtime::engine::derive(layout, &fields).unwrap_or(fields))
        }
        _ => with_prefix(v, prefix),
    }
}

pub fn prefix_bytes(b: &[u8], prefix: &str) -> Vec<u8> {
    if contains(b, b"{prefix}") {
        replace(b, b"{prefix}", prefix.as_bytes())
    } else {
        b.to_vec()
    }
}

fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

fn replace(h: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(h.len());
    let mut i = 0;
    while i < h.len() {
        if h[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(h[i]);
            i += 1;
        }
    }
    out
}

/// The values to send for a step's templates.
pub fn instantiate(templates: &[Template], captures: &Captures, prefix: &str) -> Result<Vec<Value>, String> {
    templates.iter().map(|t| value_of(t, captures, prefix)).collect()
}

fn value_of(t: &Template, captures: &Captures, prefix: &str) -> Result<Value, String> {
    Ok(match t {
        Template::Value(v) => with_prefix(v, prefix),
        Template::Derived => Value::Absent,
        Template::Capture(name) => captures
            .get(name)
            .cloned()
            .ok_or_else(|| format!("`${name}` is used before anything was captured in it"))?,
        Template::List(items) => Value::List(
            items
                .iter()
                .map(|i| value_of(i, captures, prefix))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Whether `msg` satisfies one of the alternatives; binds captures on success.
/// On failure, says why for the closest alternative.
pub fn matches(
    spec: &Protocol,
    alternatives: &[Expected],
    msg: &Message,
    captures: &mut Captures,
    prefix: &str,
) -> Result<(), String> {
    let mut why = None;
    for alt in alternatives.iter().filter(|a| a.message == msg.id) {
        let mut trial = captures.clone();
        match fields_match(spec, alt, msg, &mut trial, prefix) {
            Ok(()) => {
                *captures = trial;
                return Ok(());
            }
            Err(e) => why = Some(e),
        }
    }
    Err(why.unwrap_or_else(|| {
        let names: Vec<&str> = alternatives
            .iter()
            .map(|a| spec.messages[a.message].name.as_str())
            .collect();
        format!(
            "expected {}, got `{}`",
            names.join(" or "),
            spec.messages[msg.id].name
        )
    }))
}

fn fields_match(
    spec: &Protocol,
    alt: &Expected,
    msg: &Message,
    captures: &mut Captures,
    prefix: &str,
) -> Result<(), String> {
    let layout = &spec.messages[alt.message].layout;
    for (i, m) in alt.fields.iter().enumerate() {
        let got = msg.fields.get(i).unwrap_or(&Value::Absent);
        let name = &layout.fields[i].name;
        field_match(spec, &layout.fields[i].ty, m, got, captures, prefix)
            .map_err(|e| format!("field `{name}` of `{}`: {e}", spec.messages[alt.message].name))?;
    }
    Ok(())
}

fn field_match(
    spec: &Protocol,
    ty: &FieldType,
    m: &Matcher,
    got: &Value,
    captures: &mut Captures,
    prefix: &str,
) -> Result<(), String> {
    match m {
        Matcher::Any => Ok(()),
        Matcher::Exact(want) => {
            let want = prefixed(spec, ty, want, prefix);
            if &want == got {
                Ok(())
            } else {
                Err(format!("expected {}, got {}", show(&want), show(got)))
            }
        }
        Matcher::Regex(re) => {
            let text = match got {
                Value::Str(s) => s.clone(),
                Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                other => return Err(format!("expected text matching /{re}/, got {}", show(other))),
            };
            if re.is_match(&text) {
                Ok(())
            } else {
                Err(format!(
                    "{} does not match /{}/",
                    show(got),
                    trim_anchors(re.as_str())
                ))
            }
        }
        Matcher::Capture(name) if *got == Value::Absent => {
            Err(format!("expected a value to capture in ${name}, got none"))
        }
        Matcher::Capture(name) => match captures.get(name) {
            Some(bound) if bound == got => Ok(()),
            Some(bound) => Err(format!("expected ${name} = {}, got {}", show(bound), show(got))),
            None => {
                captures.insert(name.clone(), got.clone());
                Ok(())
            }
        },
        Matcher::List(items) => match got {
            Value::List(values) if values.len() == items.len() => {
                items.iter().zip(values).try_for_each(|(m, v)| {
                    let item = match ty {
                        FieldType::List { item, .. } | FieldType::Array { item, .. } => &**item,
                        other => other,
                    };
                    field_match(spec, item, m, v, captures, prefix)
                })
            }
            other => Err(format!(
                "expected a list of {} items, got {}",
                items.len(),
                show(other)
            )),
        },
    }
}

fn trim_anchors(s: &str) -> &str {
    s.strip_prefix("^(?:")
        .and_then(|s| s.strip_suffix(")$"))
        .unwrap_or(s)
}

/// A value as a transcript would write it (long bytes shortened).
pub fn show(v: &Value) -> String {
    match v {
        Value::Absent => "none".into(),
        Value::Bool(b) => b.to_string(),
        Value::U64(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::Str(s) => format!("\"{}\"", shorten(s.as_bytes())),
        Value::Bytes(b) => format!("\"{}\"", shorten(b)),
        Value::Choice(i) => format!("option #{i}"),
        Value::List(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Struct(fields) => format!("{{ {} }}", fields.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Variant(b, v) => format!("#{b} {}", show(v)),
    }
}

fn shorten(b: &[u8]) -> String {
    if b.len() <= 64 {
        b.escape_ascii().to_string()
    } else {
        format!("{}... ({} bytes)", b[..48].escape_ascii(), b.len())
    }
}
