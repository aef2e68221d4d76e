//! Reading values of named types (`struct`, `choice`): a stack of bodies,
//! the message's at the bottom, each value being read above the one it
//! belongs to. The stack is explicit, so a peer's nesting costs heap, not
//! the thread's stack, and is bounded by the spec's `depth` limit before
//! anything is pushed; a count is checked against its max before any item
//! is read.

use bytes::{Bytes, BytesMut};

use super::decode::{frame_of, Context, Decoded, Decoder, Part, Stage, Step};
use super::pattern::{int_of, Matcher, Scope};
use crate::error::{Error, Excerpt, ProtocolViolation};
use crate::layout::{FieldType, Framing, MessageLayout, TypeId};
use crate::spec::{MessageId, Protocol, TypeKind};
use crate::value::{Message, Value};

/// Whose parts an activation reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    Message(MessageId),
    Type(TypeId),
}

/// One body being read.
#[derive(Debug, Clone)]
pub(crate) struct Activation {
    body: Body,
    /// The next part to read.
    segment: usize,
    values: Vec<Value>,
    /// When this struct is a branch of a choice: which.
    branch: Option<usize>,
    /// While the part at `segment` is a nested one: the values still to
    /// read, and those read.
    pending: Option<Pending>,
}

#[derive(Debug, Clone)]
struct Pending {
    remaining: u64,
    items: Vec<Value>,
    many: bool,
}

impl Activation {
    pub(crate) fn new(body: Body, segment: usize, values: Vec<Value>) -> Self {
        Activation {
            body,
            segment,
            values,
            branch: None,
            pending: None,
        }
    }
}

fn layout(spec: &Protocol, body: Body) -> &MessageLayout {
    static EMPTY: MessageLayout = MessageLayout {
        segments: Vec::new(),
        fields: Vec::new(),
    };
    match body {
        Body::Message(m) => &spec.messages[m].layout,
        Body::Type(t) => spec.types.get(t).and_then(|d| d.layout()).unwrap_or(&EMPTY),
    }
}

fn name(spec: &Protocol, body: Body) -> &str {
    match body {
        Body::Message(m) => &spec.messages[m].name,
        Body::Type(t) => spec.types.get(t).map_or("?", |d| d.name.as_str()),
    }
}

fn absent(n: usize) -> Vec<Value> {
    let mut v = Vec::with_capacity(n);
    v.resize_with(n, || Value::Absent);
    v
}

/// The structs a value of `ty` may begin as, with the branch index when
/// `ty` is a choice.
fn branches(spec: &Protocol, ty: TypeId) -> Vec<(TypeId, Option<usize>)> {
    match spec.types.get(ty).map(|d| &d.kind) {
        Some(TypeKind::Struct(_)) => vec![(ty, None)],
        Some(TypeKind::Choice(bs)) => bs.iter().enumerate().map(|(i, t)| (*t, Some(i))).collect(),
        None => Vec::new(),
    }
}

/// Whether message `m` begins with a value of a named type.
pub(crate) fn starts_nested(spec: &Protocol, m: MessageId) -> bool {
    matches!(
        spec.messages[m].layout.segments.first().map(|s| &s.framing),
        Some(Framing::Nested { .. })
    )
}

/// A way a message may begin: its own first frame, or the first frame of a
/// struct its first part holds.
struct Entry {
    message: MessageId,
    /// The struct read first, and its branch of the part's choice.
    via: Option<(TypeId, Option<usize>)>,
}

impl Decoder {
    /// Reads the parts of a message with nested values until it is whole or
    /// more bytes are needed.
    pub(super) fn nested(
        &mut self,
        spec: &Protocol,
        message: MessageId,
        mut stack: Vec<Activation>,
        buf: &mut BytesMut,
        cx: &Context<'_>,
    ) -> Result<Step, Error> {
        loop {
            let depth = stack.len();
            let Some(top) = stack.last_mut() else {
                return Ok(Step::Pending);
            };
            let lay = layout(spec, top.body);
            if top.segment >= lay.segments.len() {
                let Some(done) = stack.pop() else { continue };
                let Some(parent) = stack.last_mut() else {
                    return Ok(Step::Done(Decoded::Message(Message::new(message, done.values))));
                };
                let value = match done.branch {
                    Some(b) => Value::Variant(b, Box::new(Value::Struct(done.values))),
                    None => Value::Struct(done.values),
                };
                deliver(spec, parent, value);
                continue;
            }
            let Framing::Nested { field } = lay.segments[top.segment].framing else {
                let body = top.body;
                let segment = top.segment;
                let part = self.read_part(
                    Scope::of(spec),
                    lay,
                    name(spec, body),
                    message,
                    segment,
                    &mut top.values,
                    buf,
                    cx,
                    false,
                )?;
                match part {
                    Part::Pending => {
                        self.set_stage(Stage::Nested { message, stack });
                        return Ok(Step::Pending);
                    }
                    Part::Read => top.segment += 1,
                    Part::Done(d) => return Ok(Step::Done(d)),
                }
                continue;
            };
            let def = &lay.fields[field as usize];
            let (ty, count) = match &def.ty {
                FieldType::Type(t) => (*t, None),
                FieldType::Array { item, count, max } => match **item {
                    FieldType::Type(t) => (t, Some((*count, *max))),
                    _ => return Err(Error::Misuse(format!("`{}` is not a nested part", def.name))),
                },
                _ => return Err(Error::Misuse(format!("`{}` is not a nested part", def.name))),
            };
            if top.pending.is_none() {
                let remaining = match count {
                    None => 1,
                    Some((c, max)) => {
                        let from = &top.values[c.field as usize];
                        let Some(n) = c
                            .eval(int_of(from))
                            .filter(|_| matches!(from, Value::U64(_) | Value::I64(_)))
                        else {
                            return Err(Error::Peer(ProtocolViolation {
                                state: cx.state.to_string(),
                                expected: format!("a whole, non-negative count for `{}`", def.name),
                                offset: self.frame_start(),
                                got: Excerpt::of(&[]),
                            }));
                        };
                        if n > max as u64 {
                            return Err(Error::TooMany {
                                state: cx.state.to_string(),
                                what: format!("`{}` of `{}`", def.name, name(spec, top.body)),
                                count: n,
                                max,
                            });
                        }
                        n
                    }
                };
                if count.is_some() && remaining == 0 {
                    top.values[field as usize] = Value::List(Vec::new());
                    top.segment += 1;
                    continue;
                }
                top.pending = Some(Pending {
                    remaining,
                    // Grown as items arrive: a count is only a claim.
                    items: Vec::with_capacity(remaining.min(64) as usize),
                    many: count.is_some(),
                });
            }
            if depth > spec.max_depth {
                return Err(Error::TooDeep {
                    state: cx.state.to_string(),
                    limit: spec.max_depth,
                });
            }
            let options = branches(spec, ty);
            if let [(t, None)] = options.as_slice() {
                let n = layout(spec, Body::Type(*t)).fields.len();
                stack.push(Activation::new(Body::Type(*t), 0, absent(n)));
                continue;
            }
            // A choice: its branch is the one whose first frame matches.
            match self.first_frame(spec, &options, buf, cx)? {
                None => {
                    self.set_stage(Stage::Nested { message, stack });
                    return Ok(Step::Pending);
                }
                Some(Ok((t, branch, values))) => {
                    let mut a = Activation::new(Body::Type(t), 1, values);
                    a.branch = branch;
                    stack.push(a);
                }
                Some(Err((frame, expected))) => {
                    let error = ProtocolViolation {
                        state: cx.state.to_string(),
                        expected,
                        offset: self.frame_start(),
                        got: Excerpt::of(&frame),
                    };
                    return Ok(Step::Done(Decoded::Malformed {
                        message,
                        found: frame,
                        error,
                    }));
                }
            }
        }
    }

    /// Reads one frame in the framing the structs `options` begin with and
    /// matches it against each: the first that matches, with its values;
    /// or the frame and what was expected. `None`: more bytes are needed.
    #[allow(clippy::type_complexity)]
    fn first_frame(
        &mut self,
        spec: &Protocol,
        options: &[(TypeId, Option<usize>)],
        buf: &mut BytesMut,
        cx: &Context<'_>,
    ) -> Result<Option<Result<(TypeId, Option<usize>, Vec<Value>), (Bytes, String)>>, Error> {
        let firsts: Vec<_> = options
            .iter()
            .filter_map(|(t, b)| layout(spec, Body::Type(*t)).segments.first().map(|s| (*t, *b, s)))
            .collect();
        let Some((_, _, lead)) = firsts.first() else {
            return Ok(Some(Err((Bytes::new(), "a value".into()))));
        };
        let max = firsts
            .iter()
            .filter_map(|(_, _, s)| frame_of(&s.framing))
            .map(|(_, m)| m)
            .max()
            .unwrap_or(0);
        let Some(frame) = self.frame(&lead.framing, max, buf, cx)? else {
            return Ok(None);
        };
        let mut best: Option<(usize, String)> = None;
        for (t, b, seg) in &firsts {
            let lay = layout(spec, Body::Type(*t));
            let Some((pattern, max)) = frame_of(&seg.framing) else {
                continue;
            };
            if frame.len() > max {
                continue;
            }
            let mut values = absent(lay.fields.len());
            let mut matcher = Matcher::new(Scope::of(spec), lay, &frame, &mut values);
            match matcher.whole(pattern) {
                Ok(()) => return Ok(Some(Ok((*t, *b, values)))),
                Err(m) => {
                    if best.as_ref().is_none_or(|(o, _)| m.offset > *o) {
                        let what = format!(
                            "{} of `{}` at column {}",
                            m.expected,
                            name(spec, Body::Type(*t)),
                            m.offset + 1
                        );
                        best = Some((m.offset, what));
                    }
                }
            }
        }
        Ok(Some(Err((
            frame,
            best.map_or_else(|| "a value".to_string(), |(_, w)| w),
        ))))
    }

    /// The start of a message when some candidate begins with a nested
    /// value: each candidate's first frame, or those of the structs its
    /// first part may begin with, tried in order.
    pub(super) fn start_nested(
        &mut self,
        spec: &Protocol,
        candidates: &[MessageId],
        buf: &mut BytesMut,
        cx: &Context<'_>,
    ) -> Result<Step, Error> {
        let mut entries = Vec::new();
        let mut options = Vec::new();
        for &m in candidates {
            let lay = &spec.messages[m].layout;
            match lay.segments.first().map(|s| (&s.framing, s)) {
                Some((Framing::Nested { field }, _)) => {
                    if let FieldType::Type(t) = lay.fields[*field as usize].ty {
                        for (s, b) in branches(spec, t) {
                            entries.push(Entry {
                                message: m,
                                via: Some((s, b)),
                            });
                            options.push((s, b));
                        }
                    }
                }
                Some(_) => entries.push(Entry {
                    message: m,
                    via: None,
                }),
                None => {}
            }
        }
        // Frames are read in the framing of the first option; the compiler
        // makes every candidate's first frame share it.
        let firsts: Vec<(&MessageLayout, &crate::layout::Segment)> = entries
            .iter()
            .filter_map(|e| {
                let lay = match e.via {
                    Some((t, _)) => layout(spec, Body::Type(t)),
                    None => &spec.messages[e.message].layout,
                };
                lay.segments.first().map(|s| (lay, s))
            })
            .collect();
        let Some((_, lead)) = firsts.first() else {
            return Ok(Step::Pending);
        };
        let max = firsts
            .iter()
            .filter_map(|(_, s)| frame_of(&s.framing))
            .map(|(_, m)| m)
            .max()
            .unwrap_or(0);
        let Some(frame) = self.frame(&lead.framing, max, buf, cx)? else {
            return Ok(Step::Pending);
        };
        let mut best: Option<(usize, String)> = None;
        for (e, (lay, seg)) in entries.iter().zip(&firsts) {
            let Some((pattern, max)) = frame_of(&seg.framing) else {
                continue;
            };
            if frame.len() > max {
                continue;
            }
            let mut values = absent(lay.fields.len());
            let mut matcher = Matcher::new(Scope::of(spec), lay, &frame, &mut values);
            match matcher.whole(pattern) {
                Ok(()) => {
                    let message_fields = spec.messages[e.message].layout.fields.len();
                    let Some((t, branch)) = e.via else {
                        return Ok(Step::Next(Stage::Segment {
                            message: e.message,
                            segment: 1,
                            values,
                        }));
                    };
                    let mut bottom = Activation::new(Body::Message(e.message), 0, absent(message_fields));
                    bottom.pending = Some(Pending {
                        remaining: 1,
                        items: Vec::new(),
                        many: false,
                    });
                    let mut top = Activation::new(Body::Type(t), 1, values);
                    top.branch = branch;
                    return Ok(Step::Next(Stage::Nested {
                        message: e.message,
                        stack: vec![bottom, top],
                    }));
                }
                Err(m) => {
                    let at = match e.via {
                        Some((t, _)) => name(spec, Body::Type(t)),
                        None => &spec.messages[e.message].name,
                    };
                    if best.as_ref().is_none_or(|(o, _)| m.offset > *o) {
                        best = Some((
                            m.offset,
                            format!("{} of `{at}` at column {}", m.expected, m.offset + 1),
                        ));
                    }
                }
            }
        }
        let mismatch = best.map_or_else(|| "a message".to_string(), |(_, w)| w);
        Ok(Step::Done(Decoded::Unrecognized { frame, mismatch }))
    }
}

/// Stores a finished value in the part of `parent` it was read for.
fn deliver(spec: &Protocol, parent: &mut Activation, value: Value) {
    let lay = layout(spec, parent.body);
    let Some(Framing::Nested { field }) = lay.segments.get(parent.segment).map(|s| &s.framing) else {
        return;
    };
    let Some(p) = parent.pending.as_mut() else {
        return;
    };
    p.items.push(value);
    p.remaining = p.remaining.saturating_sub(1);
    if p.remaining > 0 {
        return;
    }
    let Some(mut p) = parent.pending.take() else {
        return;
    };
    parent.values[*field as usize] = if p.many {
        Value::List(p.items)
    } else {
        p.items.pop().unwrap_or(Value::Absent)
    };
    parent.segment += 1;
}
