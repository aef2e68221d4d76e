//! The resumable message decoder: one reader owns the buffer across framing
//! switches (line → raw(n) → exact), so no byte is lost or read twice.

use bytes::{Buf, Bytes, BytesMut};

use super::nested::{Activation, Body};
use super::pattern::{Matcher, Mismatch, Scope};
use crate::codec::{peek_length, reserve_ahead, FrameError, LineScanner};
use crate::error::{Error, Excerpt, ProtocolViolation};
use crate::layout::{Framing, MessageLayout, Oversize, Pattern, RawLen};
use crate::spec::{MessageId, Protocol};
use crate::value::{Message, Value};

/// What the decoder produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A whole message.
    Message(Message),
    /// A message whose `raw` part is over its max and is skipped, as the
    /// spec declares with `over = discard`. `fields` hold what was read
    /// before the raw part. It comes as soon as the length is read, so the
    /// receiver can answer at once (memcached's "object too large" before
    /// the data arrives); the decoder then skips `bytes` bytes before the
    /// next message.
    Discarded {
        message: MessageId,
        fields: Vec<Value>,
        bytes: u64,
    },
    /// A frame that matches none of the messages expected (the caller decides
    /// whether the spec answers it or it is a violation).
    Unrecognized { frame: Bytes, mismatch: String },
    /// A message whose first part matched but a later part did not
    /// (memcached's data block not followed by CRLF). The bytes read for
    /// that part are consumed, so the next message starts after them; the
    /// caller decides whether the spec answers it or `error` is reported.
    Malformed {
        message: MessageId,
        found: Bytes,
        error: ProtocolViolation,
    },
}

#[derive(Debug, Clone, Default)]
pub(super) enum Stage {
    /// Waiting for the first segment of whichever message comes.
    #[default]
    Start,
    /// Reading segment `segment` of a message already identified.
    Segment {
        message: MessageId,
        segment: usize,
        values: Vec<Value>,
    },
    /// Reading segment `segment` of each of several messages whose earlier
    /// frames all matched (Modbus requests share their header frame): each
    /// frame drops the candidates it does not match, until one is left.
    Identifying {
        live: Vec<(MessageId, Vec<Value>)>,
        segment: usize,
    },
    /// Reading a message with values of named types: the message's body at
    /// the bottom, the value being read on top.
    Nested {
        message: MessageId,
        stack: Vec<Activation>,
    },
    /// Skipping the `remaining` bytes of a discarded message (already
    /// reported) before the next message.
    Discarding { remaining: u64 },
}

/// Decodes the messages of one direction of a connection.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    stage: Stage,
    scanner: LineScanner,
    /// Bytes consumed since the connection began (for error offsets).
    offset: u64,
    /// Where the content of the last line or length-prefixed frame began:
    /// a line's content is followed by its delimiter, so the offset after it
    /// less the content's length is not where it began.
    frame_start: u64,
}

/// What the caller knows about where the decoder is (for error messages).
pub struct Context<'a> {
    pub state: &'a str,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn set_stage(&mut self, stage: Stage) {
        self.stage = stage;
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Where the content of the last frame read began.
    pub fn frame_start(&self) -> u64 {
        self.frame_start
    }

    /// Counts `n` bytes that the caller consumed itself (input the spec
    /// ignores), so that offsets stay offsets in the whole stream.
    pub fn skipped(&mut self, n: u64) {
        self.offset += n;
    }

    /// Whether no message has been identified yet (segment 0 of a message
    /// that starts raw counts as identified).
    pub fn between_messages(&self) -> bool {
        matches!(self.stage, Stage::Start)
    }

    /// The message being read, once its first part has identified it.
    pub fn current_message(&self) -> Option<MessageId> {
        match self.stage {
            Stage::Segment { message, .. } | Stage::Nested { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether a message has been started but not finished.
    pub fn mid_message(&self) -> bool {
        // Segment 0 is entered only for messages that start raw, before any
        // of their bytes are taken.
        !matches!(self.stage, Stage::Start | Stage::Segment { segment: 0, .. })
    }

    /// Decodes the next message from `buf`, one of `candidates` (which the
    /// compiler guarantees start with the same framing and can be told
    /// apart). `Ok(None)` means more bytes are needed; the bytes read so far
    /// stay accounted for, so calling again with more bytes resumes.
    pub fn decode(
        &mut self,
        spec: &Protocol,
        candidates: &[MessageId],
        buf: &mut BytesMut,
        cx: &Context<'_>,
    ) -> Result<Option<Decoded>, Error> {
        loop {
            match std::mem::take(&mut self.stage) {
                Stage::Start => match self.start(spec, candidates, buf, cx)? {
                    Step::Pending => return Ok(None),
                    Step::Done(d) => return Ok(Some(d)),
                    Step::Next(stage) => self.stage = stage,
                },
                Stage::Segment {
                    message,
                    segment,
                    values,
                } => match self.segment(spec, message, segment, values, buf, cx, false)? {
                    Step::Pending => return Ok(None),
                    Step::Done(d) => return Ok(Some(d)),
                    Step::Next(stage) => self.stage = stage,
                },
                Stage::Identifying { live, segment } => match self.narrow(spec, live, segment, buf, cx)? {
                    Step::Pending => return Ok(None),
                    Step::Done(d) => return Ok(Some(d)),
                    Step::Next(stage) => self.stage = stage,
                },
                Stage::Nested { message, stack } => match self.nested(spec, message, stack, buf, cx)? {
                    Step::Pending => return Ok(None),
                    Step::Done(d) => return Ok(Some(d)),
                    Step::Next(stage) => self.stage = stage,
                },
                Stage::Discarding { remaining } => {
                    let n = remaining.min(buf.len() as u64);
                    buf.advance(n as usize);
                    self.offset += n;
                    if n < remaining {
                        self.stage = Stage::Discarding {
                            remaining: remaining - n,
                        };
                        return Ok(None);
                    }
                    // Skipped whole: the next message may be buffered.
                }
            }
        }
    }

    /// The peer closed its side: finishes a message that runs until close,
    /// and reports whether a message was cut short.
    pub fn decode_eof(
        &mut self,
        spec: &Protocol,
        candidates: &[MessageId],
        buf: &mut BytesMut,
        cx: &Context<'_>,
    ) -> Result<Option<Decoded>, Error> {
        if let Some(d) = self.decode(spec, candidates, buf, cx)? {
            return Ok(Some(d));
        }
        // A message framed "until close" completes now.
        let stage = std::mem::take(&mut self.stage);
        let (message, segment, values) = match stage {
            Stage::Segment {
                message,
                segment,
                values,
            } => (message, segment, values),
            Stage::Start => {
                let until_close = candidates.iter().find(|m| {
                    matches!(
                        spec.messages[**m].layout.segments.first().map(|s| &s.framing),
                        Some(Framing::UntilClose { .. })
                    )
                });
                match until_close {
                    Some(&m) if !buf.is_empty() => {
                        let n = spec.messages[m].layout.fields.len();
                        (m, 0, absent(n))
                    }
                    _ => return Ok(None),
                }
            }
            other => {
                self.stage = other;
                return Ok(None);
            }
        };
        match self.segment(spec, message, segment, values, buf, cx, true)? {
            Step::Done(d) => Ok(Some(d)),
            Step::Next(stage) => {
                self.stage = stage;
                self.decode(spec, candidates, buf, cx)
            }
            Step::Pending => Ok(None),
        }
    }

    fn start(
        &mut self,
        spec: &Protocol,
        candidates: &[MessageId],
        buf: &mut BytesMut,
        cx: &Context<'_>,
    ) -> Result<Step, Error> {
        let Some(&first) = candidates.first() else {
            if buf.is_empty() {
                return Ok(Step::Pending);
            }
            return Err(self.violation(cx, "no message (the peer may not send here)", buf, 0));
        };
        if candidates.iter().any(|m| super::nested::starts_nested(spec, *m)) {
            return self.start_nested(spec, candidates, buf, cx);
        }
        let Some(seg) = spec.messages[first].layout.segments.first() else {
            return Ok(Step::Done(Decoded::Message(Message::new(first, Vec::new()))));
        };
        match &seg.framing {
            Framing::Line { .. } | Framing::Length { .. } | Framing::Fixed { .. } => {
                // Read with the largest max of the candidates (the compiler
                // makes them share the framing); each checks its own after.
                let max = candidates
                    .iter()
                    .filter_map(|m| {
                        spec.messages[*m]
                            .layout
                            .segments
                            .first()
                            .and_then(|s| frame_of(&s.framing))
                    })
                    .map(|(_, max)| max)
                    .max()
                    .unwrap_or(0);
                let Some(frame) = self.frame(&seg.framing, max, buf, cx)? else {
                    return Ok(Step::Pending);
                };
                let live = candidates.iter().map(|&m| (m, Vec::new())).collect();
                Ok(self.identify(spec, live, 0, frame))
            }
            Framing::Exact(_) => {
                let mut longest = 0;
                for &m in candidates {
                    let Some(Framing::Exact(lit)) =
                        spec.messages[m].layout.segments.first().map(|s| &s.framing)
                    else {
                        continue;
                    };
                    longest = longest.max(lit.len());
                    let n = lit.len().min(buf.len());
                    if buf[..n] != lit[..n] {
                        continue;
                    }
                    if n < lit.len() {
                        return Ok(Step::Pending);
                    }
                    buf.advance(lit.len());
                    self.offset += lit.len() as u64;
                    let values = absent(spec.messages[m].layout.fields.len());
                    return Ok(Step::Next(Stage::Segment {
                        message: m,
                        segment: 1,
                        values,
                    }));
                }
                if buf.is_empty() {
                    return Ok(Step::Pending);
                }
                let expected = expected_names(spec, candidates);
                Err(self.violation(cx, &expected, buf, longest))
            }
            Framing::Raw { .. }
            | Framing::UntilClose { .. }
            | Framing::Available { .. }
            | Framing::Nested { .. }
            | Framing::Inline { .. } => {
                let values = absent(spec.messages[first].layout.fields.len());
                Ok(Step::Next(Stage::Segment {
                    message: first,
                    segment: 0,
                    values,
                }))
            }
        }
    }

    /// Matches frame `segment` against each live candidate's pattern there
    /// and keeps those it fits (values of a candidate just starting are
    /// made here). One left: it is the message. Several: if the first of
    /// them goes on with a frame like others do, those are read on;
    /// otherwise the first (the spec's order: fallbacks come last).
    fn identify(
        &mut self,
        spec: &Protocol,
        live: Vec<(MessageId, Vec<Value>)>,
        segment: usize,
        frame: Bytes,
    ) -> Step {
        let mut best: Option<(Mismatch<'_>, MessageId)> = None;
        let mut survivors: Vec<(MessageId, Vec<Value>)> = Vec::new();
        let first_live = live.first().map(|(m, _)| *m);
        for (m, mut values) in live {
            let layout = &spec.messages[m].layout;
            let Some((pattern, max)) = layout.segments.get(segment).and_then(|s| frame_of(&s.framing)) else {
                continue;
            };
            if frame.len() > max {
                continue;
            }
            if values.is_empty() {
                values.resize_with(layout.fields.len(), || Value::Absent);
            }
            let mut matcher = Matcher::new(Scope::of(spec), layout, &frame, &mut values);
            match matcher.whole(pattern) {
                Ok(()) => {
                    survivors.push((m, values));
                    if segment == 0 && survivors.len() == 1 && !continues_framed(spec, m, segment + 1) {
                        // The common case: the first match of a first frame
                        // that nothing reads on from.
                        break;
                    }
                }
                Err(mismatch) => {
                    if best.as_ref().is_none_or(|(b, _)| mismatch.offset > b.offset) {
                        best = Some((mismatch, m));
                    }
                }
            }
        }
        if survivors.is_empty() {
            let mismatch = best.map_or_else(
                || expected_names(spec, &[]),
                |(b, m)| {
                    format!(
                        "{} of `{}` at column {}",
                        b.expected,
                        spec.messages[m].name,
                        b.offset + 1
                    )
                },
            );
            if segment == 0 {
                return Step::Done(Decoded::Unrecognized { frame, mismatch });
            }
            let message = best.map(|(_, m)| m).or(first_live).unwrap_or_default();
            let error = ProtocolViolation {
                state: String::new(),
                expected: mismatch,
                offset: self.frame_start,
                got: Excerpt::of(&frame),
            };
            return Step::Done(Decoded::Malformed {
                message,
                found: frame,
                error,
            });
        }
        let lead = survivors[0].0;
        let next = next_class(spec, lead, segment + 1);
        if next.is_some() && survivors.len() > 1 {
            survivors.retain(|(m, _)| next_class(spec, *m, segment + 1) == next);
            if survivors.len() > 1 {
                return Step::Next(Stage::Identifying {
                    live: survivors,
                    segment: segment + 1,
                });
            }
        }
        let (message, values) = survivors.swap_remove(0);
        Step::Next(Stage::Segment {
            message,
            segment: segment + 1,
            values,
        })
    }

    /// Reads the next frame of several live candidates.
    fn narrow(
        &mut self,
        spec: &Protocol,
        live: Vec<(MessageId, Vec<Value>)>,
        segment: usize,
        buf: &mut BytesMut,
        cx: &Context<'_>,
    ) -> Result<Step, Error> {
        let Some(seg) = live
            .first()
            .and_then(|(m, _)| spec.messages[*m].layout.segments.get(segment))
        else {
            return Ok(Step::Pending);
        };
        let max = live
            .iter()
            .filter_map(|(m, _)| {
                spec.messages[*m]
                    .layout
                    .segments
                    .get(segment)
                    .and_then(|s| frame_of(&s.framing))
            })
            .map(|(_, max)| max)
            .max()
            .unwrap_or(0);
        let Some(frame) = self.frame(&seg.framing, max, buf, cx)? else {
            self.stage = Stage::Identifying { live, segment };
            return Ok(Step::Pending);
        };
        let mut step = self.identify(spec, live, segment, frame);
        if let Step::Done(Decoded::Malformed { error, .. }) = &mut step {
            error.state = cx.state.to_string();
        }
        Ok(step)
    }

    /// Reads one delimited, length-prefixed or fixed-width frame.
    pub(super) fn frame(
        &mut self,
        framing: &Framing,
        max: usize,
        buf: &mut BytesMut,
        cx: &Context<'_>,
    ) -> Result<Option<Bytes>, Error> {
        match framing {
            Framing::Line {
                delimiter, also_ends, ..
            } => self.line(buf, delimiter, also_ends, max, cx),
            Framing::Length {
                prefix,
                includes_prefix,
                ..
            } => self.length_frame(buf, *prefix, *includes_prefix, max, cx),
            Framing::Fixed { width, .. } => {
                if buf.len() < *width {
                    return Ok(None);
                }
                self.frame_start = self.offset;
                self.offset += *width as u64;
                Ok(Some(buf.split_to(*width).freeze()))
            }
            _ => Ok(None),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        spec: &Protocol,
        message: MessageId,
        segment: usize,
        mut values: Vec<Value>,
        buf: &mut BytesMut,
        cx: &Context<'_>,
        eof: bool,
    ) -> Result<Step, Error> {
        let m = &spec.messages[message];
        if let Some(Framing::Nested { .. }) = m.layout.segments.get(segment).map(|s| &s.framing) {
            let stack = vec![Activation::new(Body::Message(message), segment, values)];
            return Ok(Step::Next(Stage::Nested { message, stack }));
        }
        match self.read_part(
            Scope::of(spec),
            &m.layout,
            &m.name,
            message,
            segment,
            &mut values,
            buf,
            cx,
            eof,
        )? {
            Part::Pending => {
                self.stage = Stage::Segment {
                    message,
                    segment,
                    values,
                };
                Ok(Step::Pending)
            }
            Part::Read if segment + 1 >= m.layout.segments.len() => {
                Ok(Step::Done(Decoded::Message(Message::new(message, values))))
            }
            Part::Read => Ok(Step::Next(Stage::Segment {
                message,
                segment: segment + 1,
                values,
            })),
            Part::Done(d) => Ok(Step::Done(d)),
        }
    }

    /// Reads part `segment` of `layout` (a message's or a struct's) into
    /// `values`; `name` and `message` are for what is reported.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn read_part(
        &mut self,
        scope: Scope<'_>,
        layout: &MessageLayout,
        name: &str,
        message: MessageId,
        segment: usize,
        values: &mut [Value],
        buf: &mut BytesMut,
        cx: &Context<'_>,
        eof: bool,
    ) -> Result<Part, Error> {
        let Some(seg) = layout.segments.get(segment) else {
            return Ok(Part::Read);
        };
        match &seg.framing {
            Framing::Exact(lit) => {
                // The bytes are taken whole before they are compared, as
                // memcached reads a data block's CRLF: a mismatch consumes
                // them and the next message starts after.
                if buf.len() < lit.len() {
                    return Ok(Part::Pending);
                }
                if buf[..lit.len()] != lit[..] {
                    let what = format!("\"{}\" in `{name}`", lit.escape_ascii());
                    let error = self.violation_at(cx, &what, buf);
                    self.frame_start = self.offset;
                    self.offset += lit.len() as u64;
                    let found = buf.split_to(lit.len()).freeze();
                    return Ok(Part::Done(Decoded::Malformed {
                        message,
                        found,
                        error,
                    }));
                }
                buf.advance(lit.len());
                self.offset += lit.len() as u64;
                Ok(Part::Read)
            }
            Framing::Line { pattern, .. }
            | Framing::Length { pattern, .. }
            | Framing::Fixed { pattern, .. } => {
                let max = frame_of(&seg.framing).map_or(0, |(_, max)| max);
                let Some(frame) = self.frame(&seg.framing, max, buf, cx)? else {
                    return Ok(Part::Pending);
                };
                let mut matcher = Matcher::new(scope, layout, &frame, values);
                if let Err(m) = matcher.whole(pattern) {
                    let error = self.frame_violation(cx, name, &m, &frame);
                    return Ok(Part::Done(Decoded::Malformed {
                        message,
                        found: frame,
                        error,
                    }));
                }
                Ok(Part::Read)
            }
            Framing::Raw {
                len,
                max,
                oversize,
                field,
            } => {
                let n = match len {
                    RawLen::Fixed(n) => *n as u64,
                    RawLen::Field(id) => values.get(*id as usize).and_then(Value::as_u64).unwrap_or(0),
                };
                if n > *max as u64 {
                    if *oversize == Oversize::Discard {
                        // Skip the data and the fixed bytes that close the message.
                        let trailing: u64 = layout.segments[segment + 1..]
                            .iter()
                            .map(|s| match &s.framing {
                                Framing::Exact(l) => l.len() as u64,
                                _ => 0,
                            })
                            .sum();
                        let total = n.saturating_add(trailing);
                        self.stage = Stage::Discarding { remaining: total };
                        return Ok(Part::Done(Decoded::Discarded {
                            message,
                            fields: values.to_vec(),
                            bytes: total,
                        }));
                    }
                    return Err(Error::TooLong {
                        state: cx.state.to_string(),
                        what: "raw data",
                        len: n,
                        max: *max,
                    });
                }
                let n = n as usize;
                if buf.len() < n {
                    reserve_ahead(buf, (n - buf.len()) as u64);
                    return Ok(Part::Pending);
                }
                values[*field as usize] = Value::Bytes(buf.split_to(n).freeze());
                self.offset += n as u64;
                Ok(Part::Read)
            }
            Framing::Available { max, field } => {
                if buf.is_empty() {
                    return Ok(Part::Pending);
                }
                let n = buf.len().min(*max);
                values[*field as usize] = Value::Bytes(buf.split_to(n).freeze());
                self.offset += n as u64;
                Ok(Part::Read)
            }
            Framing::UntilClose { max, field } => {
                if buf.len() > *max {
                    return Err(Error::TooLong {
                        state: cx.state.to_string(),
                        what: "data until close",
                        len: buf.len() as u64,
                        max: *max,
                    });
                }
                if !eof {
                    return Ok(Part::Pending);
                }
                let n = buf.len();
                values[*field as usize] = Value::Bytes(buf.split_to(n).freeze());
                self.offset += n as u64;
                Ok(Part::Read)
            }
            // Nested parts are read by the caller (see `nested`).
            Framing::Nested { .. } => Ok(Part::Read),
            // A pattern read in place inside another frame, never a part of
            // its own (the compiler checks): nothing to read here.
            Framing::Inline { .. } => Ok(Part::Read),
        }
    }

    fn line(
        &mut self,
        buf: &mut BytesMut,
        delimiter: &[u8],
        also_ends: &[Vec<u8>],
        max: usize,
        cx: &Context<'_>,
    ) -> Result<Option<Bytes>, Error> {
        let too_long = |len: usize| Error::TooLong {
            state: cx.state.to_string(),
            what: "line",
            len: len as u64,
            max,
        };
        let found = if also_ends.is_empty() {
            self.scanner.next_line(buf, delimiter, max)
        } else {
            self.scanner.next_line_any(buf, delimiter, also_ends, max)
        };
        match found {
            Ok(Some((content, _))) if content.len() > max => Err(too_long(content.len())),
            Ok(Some((content, consumed))) => {
                self.frame_start = self.offset;
                self.offset += consumed as u64;
                Ok(Some(content))
            }
            Ok(None) => Ok(None),
            Err(_) => Err(too_long(buf.len())),
        }
    }

    fn length_frame(
        &mut self,
        buf: &mut BytesMut,
        prefix: crate::layout::LengthPrefix,
        includes_prefix: bool,
        max: usize,
        cx: &Context<'_>,
    ) -> Result<Option<Bytes>, Error> {
        let (plen, len) = match peek_length(prefix, buf) {
            Ok(Some((plen, len))) if includes_prefix => match len.checked_sub(plen as u64) {
                Some(content) => (plen, content),
                None => {
                    return Err(self.violation(
                        cx,
                        &format!("a length of at least {plen}, which counts its own bytes"),
                        buf,
                        plen,
                    ))
                }
            },
            Ok(Some(v)) => v,
            Ok(None) => return Ok(None),
            Err(FrameError::BadVarint) => {
                return Err(self.violation(cx, "a varint length of at most 10 bytes", buf, 10))
            }
            Err(e) => return Err(Error::Io(std::io::Error::other(e))),
        };
        if len > max as u64 {
            return Err(Error::TooLong {
                state: cx.state.to_string(),
                what: "length-prefixed frame",
                len,
                max,
            });
        }
        // Compared with what has arrived rather than added to the prefix's
        // length: with a max near `usize::MAX` the sum would overflow.
        let have = (buf.len() - plen) as u64;
        if have < len {
            reserve_ahead(buf, len - have);
            return Ok(None);
        }
        buf.advance(plen);
        self.frame_start = self.offset + plen as u64;
        self.offset += plen as u64 + len;
        Ok(Some(buf.split_to(len as usize).freeze()))
    }

    fn violation(&self, cx: &Context<'_>, expected: &str, buf: &[u8], _want: usize) -> Error {
        Error::Peer(self.violation_at(cx, expected, buf))
    }

    fn violation_at(&self, cx: &Context<'_>, expected: &str, buf: &[u8]) -> ProtocolViolation {
        ProtocolViolation {
            state: cx.state.to_string(),
            expected: expected.to_string(),
            offset: self.offset,
            got: Excerpt::of(buf),
        }
    }

    pub(super) fn frame_violation(
        &self,
        cx: &Context<'_>,
        name: &str,
        m: &Mismatch<'_>,
        frame: &[u8],
    ) -> ProtocolViolation {
        ProtocolViolation {
            state: cx.state.to_string(),
            expected: format!("{} in `{name}` at column {}", m.expected, m.offset + 1),
            offset: self.frame_start,
            got: Excerpt::of(frame),
        }
    }
}

pub(super) enum Step {
    Pending,
    Done(Decoded),
    Next(Stage),
}

/// What reading one part did.
pub(super) enum Part {
    /// More bytes are needed; nothing was taken.
    Pending,
    /// The part is read into the values.
    Read,
    /// The message ends here: malformed, or discarded.
    Done(Decoded),
}

fn expected_names(spec: &Protocol, candidates: &[MessageId]) -> String {
    let names: Vec<String> = candidates
        .iter()
        .map(|m| format!("`{}`", spec.messages[*m].name))
        .collect();
    format!("one of {}", names.join(", "))
}

/// The pattern and max of a delimited, length-prefixed or fixed frame.
pub(super) fn frame_of(f: &Framing) -> Option<(&Pattern, usize)> {
    match f {
        Framing::Line { pattern, max, .. } | Framing::Length { pattern, max, .. } => Some((pattern, *max)),
        Framing::Fixed { pattern, width } => Some((pattern, *width)),
        _ => None,
    }
}

/// How segment `segment` of `message` is read, when it is a frame whose
/// content is matched (the decoder may then read it before it knows which
/// of several candidates came): candidates go on together only while they
/// read their frames alike.
fn next_class(spec: &Protocol, message: MessageId, segment: usize) -> Option<FrameClass<'_>> {
    match &spec.messages[message].layout.segments.get(segment)?.framing {
        Framing::Line {
            delimiter, also_ends, ..
        } => Some(FrameClass::Line(delimiter, also_ends)),
        Framing::Length { prefix, .. } => Some(FrameClass::Length(*prefix)),
        Framing::Fixed { width, .. } => Some(FrameClass::Fixed(*width)),
        _ => None,
    }
}

fn continues_framed(spec: &Protocol, message: MessageId, segment: usize) -> bool {
    next_class(spec, message, segment).is_some()
}

#[derive(PartialEq)]
enum FrameClass<'a> {
    Line(&'a [u8], &'a [Vec<u8>]),
    Length(crate::layout::LengthPrefix),
    Fixed(usize),
}

/// `n` absent field values, written in place (`vec![Value::Absent; n]`
/// clones and drops a value per field).
fn absent(n: usize) -> Vec<Value> {
    let mut v = Vec::with_capacity(n);
    v.resize_with(n, || Value::Absent);
    v
}
