//! Checks a transcript against its spec before anything is sent: every
//! message and field exists and has the right type, derived lengths are left
//! out, and the messages come in an order the spec's state machine allows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol_runtime::layout::{FieldDef, FieldType, Role, Span};
use protocol_runtime::session::Session;
use protocol_runtime::spec::{MessageId, Protocol, TypeKind};
use protocol_runtime::{Message, Value};

use super::ast::{self, Alternative, FieldExpr, StepKind, Transcript, ValueExpr, ValueKind};
use super::TranscriptError;

/// A field value to send.
#[derive(Debug, Clone)]
pub enum Template {
    Value(Value),
    /// A value captured earlier in the case.
    Capture(String),
    /// A length derived from data when encoding.
    Derived,
    List(Vec<Template>),
}

/// What a received field must be.
#[derive(Debug, Clone)]
pub enum Matcher {
    Any,
    Exact(Value),
    Regex(regex::Regex),
    /// Binds on first sight, must be equal afterwards.
    Capture(String),
    List(Vec<Matcher>),
}

impl Matcher {
    fn is_wildcard(&self) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::List(items) => items.iter().all(Matcher::is_wildcard),
            _ => false,
        }
    }
}

/// One acceptable message in an expectation.
#[derive(Debug, Clone)]
pub struct Expected {
    pub message: MessageId,
    pub fields: Vec<Matcher>,
}

#[derive(Debug, Clone)]
pub enum Action {
    Send {
        message: MessageId,
        fields: Vec<Template>,
    },
    Expect {
        alternatives: Vec<Expected>,
        within: Option<Duration>,
    },
    RawSend(Vec<u8>),
    RawExpect {
        bytes: Vec<u8>,
        within: Option<Duration>,
    },
    /// The peer sends nothing for this long.
    ExpectSilence(Duration),
    ExpectClose(Option<Duration>),
    ExpectReset(Option<Duration>),
    ExpectHalfClose(Option<Duration>),
    /// We shut down our writing side.
    HalfClose,
    /// We close the connection.
    Close,
}

#[derive(Debug, Clone)]
pub struct CheckedStep {
    pub line: usize,
    pub text: String,
    pub action: Action,
}

#[derive(Debug, Clone)]
pub struct CheckedCase {
    pub name: String,
    pub line: usize,
    pub exclusive: bool,
    pub timeout: Option<Duration>,
    pub steps: Vec<CheckedStep>,
}

struct Checker<'a> {
    spec: &'a Arc<Protocol>,
    played: Role,
    text: &'a str,
    errors: Vec<TranscriptError>,
    /// The case's model no longer knows the spec's state (a step it could
    /// not follow was reported): the order of the rest of the case is not
    /// checked, so one mistake is not reported again at every later step.
    lost: bool,
}

/// Checks with the transcript's text at hand, for line numbers and step texts.
pub fn check(
    t: &Transcript,
    spec: &Arc<Protocol>,
    played: Role,
    text: &str,
) -> Result<Vec<CheckedCase>, Vec<TranscriptError>> {
    let mut c = Checker {
        spec,
        played,
        text,
        errors: Vec::new(),
        lost: false,
    };
    let cases = t.cases.iter().map(|case| c.case(case)).collect();
    if c.errors.is_empty() {
        Ok(cases)
    } else {
        Err(c.errors)
    }
}

impl Checker<'_> {
    fn line(&self, span: Span) -> usize {
        let at = (span.start as usize).min(self.text.len());
        self.text[..at].bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn snippet(&self, span: Span) -> String {
        let r = span.range();
        self.text
            .get(r)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn case(&mut self, case: &ast::Case) -> CheckedCase {
        let now = Instant::now();
        // Two models of the conversation, one per side, to check the order.
        let mut model = Session::new(self.spec.clone(), self.played, now);
        self.lost = false;
        let mut steps = Vec::new();
        let errors_before = self.errors.len();
        let mut expectations = 0usize;
        let mut concrete = 0usize;
        for step in &case.steps {
            let action = match &step.kind {
                StepKind::Raw { role, bytes, .. } if *role == self.played => Action::RawSend(bytes.clone()),
                StepKind::Raw { bytes, within, .. } => {
                    concrete += 1;
                    Action::RawExpect {
                        bytes: bytes.clone(),
                        within: *within,
                    }
                }
                StepKind::Silent { role, duration } if *role != self.played => {
                    concrete += 1;
                    Action::ExpectSilence(*duration)
                }
                StepKind::Silent { .. } => {
                    self.errors.push(
                        TranscriptError::new(
                            step.span,
                            format!("`silent` describes the peer; this run plays the {}", self.played),
                        )
                        .label("cannot make our own side silent")
                        .help("to wait, expect the peer to be silent, or remove the step"),
                    );
                    continue;
                }
                StepKind::Closes { role, within } if *role != self.played => {
                    concrete += 1;
                    Action::ExpectClose(*within)
                }
                StepKind::Resets { role, within } if *role != self.played => {
                    concrete += 1;
                    Action::ExpectReset(*within)
                }
                StepKind::HalfCloses { role, within } if *role != self.played => {
                    concrete += 1;
                    Action::ExpectHalfClose(*within)
                }
                StepKind::Closes { .. } => Action::Close,
                StepKind::HalfCloses { .. } => {
                    if !self.lost {
                        if let Err(e) = model.shutdown_write(now) {
                            self.errors.push(
                                TranscriptError::new(step.span, e.to_string()).label("not allowed here"),
                            );
                            self.lost = true;
                        }
                    }
                    Action::HalfClose
                }
                StepKind::Resets { .. } => {
                    self.errors.push(
                        TranscriptError::new(step.span, "a run cannot reset its own connection")
                            .help("use `closes`, or expect the peer to reset"),
                    );
                    continue;
                }
                StepKind::Message {
                    role,
                    alternatives,
                    within,
                } => {
                    if *role == self.played {
                        let Some(action) = self.send(role, alternatives, step.span, &mut model) else {
                            continue;
                        };
                        action
                    } else {
                        expectations += 1;
                        let Some((action, all_wild)) = self.expect(*role, alternatives, *within, &mut model)
                        else {
                            continue;
                        };
                        if !all_wild {
                            concrete += 1;
                        }
                        action
                    }
                }
            };
            steps.push(CheckedStep {
                line: self.line(step.span),
                text: self.snippet(step.span),
                action,
            });
        }
        if expectations > 0 && concrete == 0 && self.errors.len() == errors_before {
            self.errors.push(
                TranscriptError::new(
                    case.span,
                    format!("every expectation of case `{}` is a wildcard", case.name),
                )
                .label("this case cannot fail on what the peer sends")
                .help("expect at least one exact value, pattern or capture, or a close"),
            );
        }
        CheckedCase {
            name: case.name.clone(),
            line: self.line(case.span),
            exclusive: case.exclusive,
            timeout: case.timeout,
            steps,
        }
    }

    fn message(&mut self, alt: &Alternative, role: Role) -> Option<MessageId> {
        let Some(id) = self.spec.message(&alt.message) else {
            let names: Vec<&str> = self
                .spec
                .messages
                .iter()
                .filter(|m| m.role == role)
                .map(|m| m.name.as_str())
                .collect();
            self.errors.push(
                TranscriptError::new(alt.message_span, format!("unknown message `{}`", alt.message))
                    .label("not in the spec")
                    .help(format!("the {role}'s messages are {}", names.join(", "))),
            );
            return None;
        };
        let def = &self.spec.messages[id];
        if def.role != role {
            self.errors.push(
                TranscriptError::new(
                    alt.message_span,
                    format!("`{}` is a {} message, not a {role} one", alt.message, def.role),
                )
                .label("wrong role"),
            );
            return None;
        }
        Some(id)
    }

    /// The fields of `alt` in layout order, each checked (`None` where a
    /// field is wrong or missing), and whether all of them are right.
    fn fields<T>(
        &mut self,
        id: MessageId,
        alt: &Alternative,
        mut convert: impl FnMut(&mut Self, &FieldDef, &ValueExpr) -> Option<T>,
        derived: impl Fn() -> T,
        missing: impl Fn(&FieldDef) -> Option<T>,
    ) -> (Vec<Option<T>>, bool) {
        let layout = &self.spec.messages[id].layout;
        let mut ok = true;
        for f in &alt.fields {
            match layout.fields.iter().find(|d| d.name == f.name) {
                None => {
                    let names: Vec<&str> = layout
                        .fields
                        .iter()
                        .filter(|d| !d.derived)
                        .map(|d| d.name.as_str())
                        .collect();
                    self.errors.push(
                        TranscriptError::new(
                            f.name_span,
                            format!("`{}` has no field `{}`", alt.message, f.name),
                        )
                        .label("unknown field")
                        .help(format!(
                            "its fields are {}",
                            if names.is_empty() {
                                "none".into()
                            } else {
                                names.join(", ")
                            }
                        )),
                    );
                    ok = false;
                }
                Some(d) if d.derived => {
                    self.errors.push(
                        TranscriptError::new(
                            f.name_span,
                            format!("field `{}` is a length derived from the data", f.name),
                        )
                        .label("never written")
                        .help("leave it out: it is computed from the data it measures"),
                    );
                    ok = false;
                }
                Some(_) => {}
            }
            if alt.fields.iter().filter(|g| g.name == f.name).count() > 1 {
                self.errors.push(TranscriptError::new(
                    f.name_span,
                    format!("field `{}` is given twice", f.name),
                ));
                ok = false;
            }
        }
        let mut out = Vec::new();
        for d in &layout.fields.clone() {
            if d.derived {
                out.push(Some(derived()));
                continue;
            }
            match alt.fields.iter().find(|f| f.name == d.name) {
                Some(f) => {
                    let v = convert(self, d, &f.value);
                    ok &= v.is_some();
                    out.push(v);
                }
                None => match missing(d) {
                    Some(v) => out.push(Some(v)),
                    None => {
                        out.push(None);
                        self.errors.push(
                            TranscriptError::new(
                                alt.span,
                                format!("field `{}` of `{}` is missing", d.name, alt.message),
                            )
                            .label("every field is given")
                            .help(format!("write `{}: _` to accept any value", d.name)),
                        );
                        ok = false;
                    }
                },
            }
        }
        (out, ok)
    }

    fn send(&mut self, role: &Role, alts: &[Alternative], span: Span, model: &mut Session) -> Option<Action> {
        if alts.len() != 1 {
            self.errors.push(
                TranscriptError::new(span, format!("the {role} sends one message, not a choice"))
                    .label("this run plays this side")
                    .help("alternatives (`A | B`) are for what the peer may send"),
            );
            self.lost = true;
            return None;
        }
        let alt = &alts[0];
        let Some(id) = self.message(alt, *role) else {
            self.lost = true;
            return None;
        };
        let (templates, ok) = self.fields(
            id,
            alt,
            |c, d, v| c.template(d, &d.ty, v),
            || Template::Derived,
            |d| (d.ty == FieldType::Flag).then_some(Template::Value(Value::Bool(false))),
        );
        // A wrong field is reported; the model moves on as if it were right.
        let values: Vec<Value> = templates
            .iter()
            .map(|t| t.as_ref().map_or(Value::Absent, model_value))
            .collect();
        if !self.lost {
            if let Err(e) = model.observe(*role, &Message::new(id, values), Instant::now()) {
                // With a wrong field, the spec's rule may hang on the value
                // the field was meant to have: only the field is reported.
                if ok {
                    self.errors.push(
                        TranscriptError::new(alt.span, order_message(&e))
                            .label("the spec's state machine does not allow this here"),
                    );
                }
                self.lost = true;
            }
        }
        let fields = templates.into_iter().collect::<Option<Vec<_>>>().filter(|_| ok)?;
        Some(Action::Send { message: id, fields })
    }

    fn expect(
        &mut self,
        role: Role,
        alts: &[Alternative],
        within: Option<Duration>,
        model: &mut Session,
    ) -> Option<(Action, bool)> {
        let mut expected = Vec::new();
        let mut all_wild = true;
        let mut ok = true;
        // Every alternative is checked, even after a wrong one.
        for alt in alts {
            let Some(id) = self.message(alt, role) else {
                ok = false;
                self.lost = true;
                continue;
            };
            let (matchers, fields_ok) = self.fields(
                id,
                alt,
                |c, d, v| c.matcher(d, &d.ty, v),
                || Matcher::Any,
                |d| (d.ty == FieldType::Flag).then_some(Matcher::Any),
            );
            ok &= fields_ok;
            // A wrong field is reported; the model moves on as if it were right.
            let matchers: Vec<Matcher> = matchers.into_iter().map(|m| m.unwrap_or(Matcher::Any)).collect();
            all_wild &= matchers.iter().all(Matcher::is_wildcard) && !matchers.is_empty();
            expected.push((
                alt,
                Expected {
                    message: id,
                    fields: matchers,
                },
            ));
        }
        // Every alternative must be possible here; the first one moves the model.
        if !self.lost {
            let mut first = None;
            for (alt, e) in &expected {
                let values: Vec<Value> = e.fields.iter().map(|_| Value::Absent).collect();
                let mut probe = model.clone();
                if let Err(err) = probe.observe(role, &Message::new(e.message, values), Instant::now()) {
                    self.errors.push(
                        TranscriptError::new(alt.span, order_message(&err))
                            .label("the spec's state machine does not allow this here"),
                    );
                    self.lost = true;
                    ok = false;
                    break;
                }
                first.get_or_insert(probe);
            }
            if let (Some(next), false) = (first, self.lost) {
                *model = next;
            }
        }
        if !ok {
            return None;
        }
        let expected = expected.into_iter().map(|(_, e)| e).collect();
        Some((
            Action::Expect {
                alternatives: expected,
                within,
            },
            all_wild,
        ))
    }

    fn template(&mut self, d: &FieldDef, ty: &FieldType, v: &ValueExpr) -> Option<Template> {
        match &v.kind {
            ValueKind::Capture(name) => Some(Template::Capture(name.clone())),
            ValueKind::Wildcard | ValueKind::Regex(_) => {
                self.errors.push(
                    TranscriptError::new(v.span, format!("cannot send a pattern for field `{}`", d.name))
                        .label("this side is played by the run")
                        .help("give the exact value to send"),
                );
                None
            }
            ValueKind::List(items) => match ty {
                FieldType::List { item, .. }
                | FieldType::Array { item, .. }
                | FieldType::Rest { item, .. } => items
                    .iter()
                    .map(|i| self.template(d, item, i))
                    .collect::<Option<Vec<_>>>()
                    .map(Template::List),
                _ => self.literal(d, ty, v).map(Template::Value),
            },
            _ => self.literal(d, ty, v).map(Template::Value),
        }
    }

    fn matcher(&mut self, d: &FieldDef, ty: &FieldType, v: &ValueExpr) -> Option<Matcher> {
        match &v.kind {
            ValueKind::Wildcard => Some(Matcher::Any),
            ValueKind::Capture(name) => Some(Matcher::Capture(name.clone())),
            ValueKind::Regex(r) => {
                if !matches!(ty, FieldType::Text | FieldType::Token { .. } | FieldType::Bytes) {
                    self.errors.push(
                        TranscriptError::new(
                            v.span,
                            format!("a pattern applies to text fields; `{}` is not one", d.name),
                        )
                        .label("not a text field"),
                    );
                    return None;
                }
                match regex::Regex::new(&format!("^(?:{r})$")) {
                    Ok(re) => Some(Matcher::Regex(re)),
                    Err(e) => {
                        self.errors.push(
                            TranscriptError::new(v.span, format!("invalid pattern: {e}"))
                                .label("not a regex"),
                        );
                        None
                    }
                }
            }
            ValueKind::List(items) => match ty {
                FieldType::List { item, .. }
                | FieldType::Array { item, .. }
                | FieldType::Rest { item, .. } => items
                    .iter()
                    .map(|i| self.matcher(d, item, i))
                    .collect::<Option<Vec<_>>>()
                    .map(Matcher::List),
                _ => self.literal(d, ty, v).map(Matcher::Exact),
            },
            _ => self.literal(d, ty, v).map(Matcher::Exact),
        }
    }

    /// An exact value of the field's type.
    fn literal(&mut self, d: &FieldDef, ty: &FieldType, v: &ValueExpr) -> Option<Value> {
        let bad = |c: &mut Self, want: &str| {
            c.errors.push(
                TranscriptError::new(v.span, format!("field `{}` takes {want}", d.name))
                    .label("wrong kind of value"),
            );
            None
        };
        match (&v.kind, ty) {
            // Met here only inside a nested value: a message's own fields
            // take them before asking for an exact value.
            (ValueKind::Wildcard | ValueKind::Capture(_) | ValueKind::Regex(_), _) => bad(
                self,
                "an exact value here: `_`, `$captures` and `/patterns/` stand only in a message's own fields, not inside a nested value",
            ),
            (_, FieldType::Type(t)) => self.typed(d, *t, v),
            (ValueKind::Number(n), FieldType::Int(_) | FieldType::Bin(_) | FieldType::Bit { .. })
                if ty == &d.ty && d.constraint.as_ref().is_some_and(|set| !set.contains(*n)) =>
            {
                let set = d.constraint.as_ref().map(ToString::to_string).unwrap_or_default();
                bad(self, &format!("a value in {set}"))
            }
            (ValueKind::Struct { .. }, _) => bad(self, "no structure: it is not of a named type"),
            (ValueKind::None, _) if d.optional => Some(Value::Absent),
            (ValueKind::None, _) => bad(self, "a value (it is not optional)"),
            (ValueKind::Bytes(b), FieldType::Token { except: Some(_), .. }) => {
                Some(Value::Bytes(b.clone().into()))
            }
            (ValueKind::Bytes(b), FieldType::Token { .. } | FieldType::Text) => {
                match String::from_utf8(b.clone()) {
                    Ok(s) => Some(Value::Str(s)),
                    Err(_) => bad(self, "UTF-8 text"),
                }
            }
            (
                ValueKind::Bytes(b),
                FieldType::Bytes
                | FieldType::Sized { text: false, .. }
                | FieldType::Terminated { text: false, .. },
            ) => Some(Value::Bytes(b.clone().into())),
            (ValueKind::Bytes(b), FieldType::Sized { text: true, .. } | FieldType::Terminated { text: true, .. }) => {
                match String::from_utf8(b.clone()) {
                    Ok(s) => Some(Value::Str(s)),
                    Err(_) => bad(self, "UTF-8 text"),
                }
            }
            (ValueKind::Bytes(b), FieldType::Domain { .. }) => {
                let text = String::from_utf8(b.clone()).unwrap_or_default();
                match protocol_runtime::domain::parse(&text) {
                    Ok(_) => Some(Value::Str(text)),
                    Err(e) => bad(self, &format!("a domain name: {}", e.0)),
                }
            }
            (_, FieldType::Domain { .. }) => bad(self, "a domain name, as a string (`\"www.example.test.\"`)"),
            (ValueKind::Bytes(b), FieldType::Choice(options)) => match options.iter().position(|o| o == b) {
                Some(i) => Some(Value::Choice(i)),
                None => {
                    let names: Vec<String> = options
                        .iter()
                        .map(|o| format!("\"{}\"", o.escape_ascii()))
                        .collect();
                    bad(self, &format!("one of {}", names.join(", ")))
                }
            },
            (ValueKind::Bool(b), FieldType::Flag | FieldType::Bit { width: 1 }) => Some(Value::Bool(*b)),
            (ValueKind::Number(n), FieldType::Bit { width }) if *width > 1 => {
                let max = if *width >= 64 {
                    u64::MAX
                } else {
                    (1u64 << width) - 1
                };
                if *n < 0 || *n > max as i128 {
                    return bad(self, &format!("a number of {width} bits (0..={max})"));
                }
                Some(Value::U64(*n as u64))
            }
            (_, FieldType::Bit { width: 1 }) => bad(self, "`true` or `false`"),
            (_, FieldType::Bit { .. }) => bad(self, "a number"),
            (ValueKind::Number(n), FieldType::Int(k)) => {
                if *n < k.min_value() || *n > k.max_value() as i128 {
                    return bad(
                        self,
                        &format!("a `{}` ({}..={})", k.name(), k.min_value(), k.max_value()),
                    );
                }
                Some(if k.signed {
                    Value::I64(*n as i64)
                } else {
                    Value::U64(*n as u64)
                })
            }
            (ValueKind::Number(n), FieldType::Bin(b)) => {
                let k = b.kind();
                if *n < k.min_value() || *n > k.max_value() as i128 {
                    return bad(
                        self,
                        &format!("a `{}` ({}..={})", b.name(), k.min_value(), k.max_value()),
                    );
                }
                Some(if k.signed {
                    Value::I64(*n as i64)
                } else {
                    Value::U64(*n as u64)
                })
            }
            (
                ValueKind::List(items),
                FieldType::List { item, .. } | FieldType::Array { item, .. } | FieldType::Rest { item, .. },
            ) => items
                .iter()
                .map(|i| self.literal(d, item, i))
                .collect::<Option<Vec<_>>>()
                .map(Value::List),
            (_, FieldType::Token { .. } | FieldType::Text) => bad(self, "a string"),
            (
                _,
                FieldType::Bytes
                | FieldType::Sized { text: false, .. }
                | FieldType::Terminated { text: false, .. },
            ) => bad(self, "a byte string"),
            (_, FieldType::Sized { text: true, .. } | FieldType::Terminated { text: true, .. }) => {
                bad(self, "a string")
            }
            (_, FieldType::Bin(_)) => bad(self, "a number"),
            (_, FieldType::Choice(_)) => bad(self, "one of its literals, as a string"),
            (_, FieldType::Flag) => bad(self, "`true` or `false`"),
            (_, FieldType::Int(_)) => bad(self, "a number"),
            (_, FieldType::List { .. } | FieldType::Array { .. } | FieldType::Rest { .. }) => {
                bad(self, "a list `[...]`")
            }
        }
    }
}

impl Checker<'_> {
    /// A value of named type `t`: a struct literal, a choice's branch by
    /// name, or, for a struct with one field, that field's value alone.
    fn typed(&mut self, d: &FieldDef, t: usize, v: &ValueExpr) -> Option<Value> {
        let spec = self.spec.clone();
        let def = &spec.types[t];
        match &def.kind {
            TypeKind::Choice(branches) => {
                let ValueKind::Struct {
                    name: Some((name, name_span)),
                    fields,
                } = &v.kind
                else {
                    let names: Vec<&str> = branches.iter().map(|b| spec.types[*b].name.as_str()).collect();
                    self.errors.push(
                        TranscriptError::new(
                            v.span,
                            format!("field `{}` holds a `{}`: name its branch", d.name, def.name),
                        )
                        .label("which branch?")
                        .help(format!(
                            "write one of {}, as in `{} {{ ... }}`",
                            names.join(", "),
                            names[0]
                        )),
                    );
                    return None;
                };
                let Some(b) = branches.iter().position(|b| spec.types[*b].name == *name) else {
                    let names: Vec<&str> = branches.iter().map(|b| spec.types[*b].name.as_str()).collect();
                    self.errors.push(
                        TranscriptError::new(*name_span, format!("`{name}` is no branch of `{}`", def.name))
                            .label("unknown branch")
                            .help(format!("the branches are {}", names.join(", "))),
                    );
                    return None;
                };
                let inner = self.struct_value(branches[b], fields, v.span)?;
                Some(Value::Variant(b, Box::new(inner)))
            }
            TypeKind::Struct(layout) => match &v.kind {
                ValueKind::Struct { name, fields } => {
                    if let Some((n, sp)) = name {
                        if *n != def.name {
                            self.errors.push(
                                TranscriptError::new(
                                    *sp,
                                    format!("field `{}` holds a `{}`, not a `{n}`", d.name, def.name),
                                )
                                .label("wrong type"),
                            );
                            return None;
                        }
                    }
                    self.struct_value(t, fields, v.span)
                }
                _ => {
                    // One user field: the value is that field's.
                    let users: Vec<usize> = (0..layout.fields.len())
                        .filter(|i| !layout.fields[*i].derived)
                        .collect();
                    let [only] = users.as_slice() else {
                        self.errors.push(
                            TranscriptError::new(
                                v.span,
                                format!("field `{}` holds a `{}`", d.name, def.name),
                            )
                            .label("not a structure")
                            .help(format!("write `{{ ... }}` with the fields of `{}`", def.name)),
                        );
                        return None;
                    };
                    let f = &layout.fields[*only];
                    let inner = self.literal(f, &f.ty, v)?;
                    let mut values: Vec<Value> = layout.fields.iter().map(|_| Value::Absent).collect();
                    values[*only] = inner;
                    protocol_runtime::engine::derive(layout, &values)
                        .ok()
                        .map(Value::Struct)
                }
            },
        }
    }

    /// A struct's values from `{ f: v, ... }`, derived fields computed.
    fn struct_value(&mut self, t: usize, fields: &[FieldExpr], span: Span) -> Option<Value> {
        let spec = self.spec.clone();
        let def = &spec.types[t];
        let layout = def.layout()?;
        let mut ok = true;
        for f in fields {
            if !layout.fields.iter().any(|d| d.name == f.name && !d.derived) {
                self.errors.push(
                    TranscriptError::new(
                        f.name_span,
                        format!("`{}` has no field `{}` to give", def.name, f.name),
                    )
                    .label("unknown or derived field"),
                );
                ok = false;
            }
        }
        let mut values = Vec::new();
        for d in &layout.fields {
            if d.derived {
                values.push(Value::Absent);
                continue;
            }
            match fields.iter().find(|f| f.name == d.name) {
                Some(f) => match self.literal(d, &d.ty, &f.value) {
                    Some(v) => values.push(v),
                    None => ok = false,
                },
                None if d.optional => values.push(Value::Absent),
                None if d.ty == FieldType::Flag => values.push(Value::Bool(false)),
                None => {
                    self.errors.push(
                        TranscriptError::new(
                            span,
                            format!("field `{}` of `{}` is missing", d.name, def.name),
                        )
                        .label("every field is given"),
                    );
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        match protocol_runtime::engine::derive(layout, &values) {
            Ok(v) => Some(Value::Struct(v)),
            Err(e) => {
                self.errors.push(TranscriptError::new(
                    span,
                    format!("`{}` cannot be written: {e}", def.name),
                ));
                None
            }
        }
    }
}

/// The value a model session sees for a template (only conditions matter).
fn model_value(t: &Template) -> Value {
    match t {
        Template::Value(v) => v.clone(),
        _ => Value::Absent,
    }
}

fn order_message(e: &protocol_runtime::Error) -> String {
    match e {
        protocol_runtime::Error::Misuse(m) => m.clone(),
        other => other.to_string(),
    }
}
