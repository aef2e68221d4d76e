//! Any spec the compiler accepts, decoding any stream: the `session` target
//! covers the shipped specs' layouts only, while the engine has to be safe
//! for every layout the compiler lets through (other framings, length
//! prefixes, large maxes, repetitions, optional parts and tokens the matcher
//! backtracks over). A declared length may only be trusted up to the spec's
//! max, and even then the receiver must not allocate it before the bytes
//! arrive. What the encoder writes for a decoded message, the decoder must
//! read back as that message.
//!
//! Input: `[select] spec \0 stream`. In `select`, bit 0 picks the side (0:
//! server, receiving the client's messages), bits 1 to 6 the chunking, and
//! bit 7 stretches the stream: then the stream is `[n] [at] rest`, and the
//! `1 + n % 8` bytes of `rest` from `at` are repeated to [`STRETCH`] bytes
//! (a run of 100,000 spaces, or of `" a"` list items). A stretched stream
//! must cost no stack per round (the matcher is iterative over repetitions
//! and lists: 100,000 rounds of even a small frame each would overflow the
//! 8 MiB main stack) and take linear time: it must decode within
//! [`STRETCH_TIME`], where linear work takes milliseconds and quadratic work
//! (5·10⁹ steps) takes seconds.

#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use protocol_runtime::engine::{self, Context, Decoded};
use protocol_runtime::layout::Role;
use protocol_runtime::session::{Event, Session};
use protocol_runtime::spec::Protocol;
use protocol_runtime::Message;
use protospec_fuzz::Chunks;

/// How long a stretched stream is made.
const STRETCH: usize = 100_000;
/// How long a stretched stream may take to decode (ASan build, shared cores).
const STRETCH_TIME: Duration = Duration::from_secs(2);

/// `rest[at..at + len]` repeated in place until the stream is `STRETCH` long.
fn stretch(stream: &[u8]) -> Option<Vec<u8>> {
    let [n, at, rest @ ..] = stream else {
        return None;
    };
    let at = usize::from(*at).min(rest.len());
    let end = (at + 1 + usize::from(*n % 8)).min(rest.len());
    let unit = &rest[at..end];
    if unit.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(STRETCH + rest.len());
    out.extend_from_slice(&rest[..at]);
    while out.len() < STRETCH {
        out.extend_from_slice(unit);
    }
    out.extend_from_slice(&rest[end..]);
    Some(out)
}

/// A decoded message's values, encoded, must decode as the same message: the
/// frame the encoder writes matches the pattern, and the decoder finds every
/// reading that fits. Its values may differ (an unnamed `"a"?` before a token
/// is written absent, and `a` + token `ab` then reads as present + `b`), so
/// only that it decodes is asserted; the shipped specs' values are compared
/// by the `session` target.
fn reencodes(spec: &Protocol, m: &Message) {
    let def = &spec.messages[m.id];
    let mut out = BytesMut::new();
    if let Err(e) = engine::encode_in(&spec.types, spec.max_depth, &def.layout, &m.fields, &mut out) {
        panic!("decoded `{}` {m:?} does not encode: {e}", def.name);
    }
    let encoded = out.clone();
    let mut decoder = engine::Decoder::new();
    let cx = Context { state: "reencoded" };
    match decoder.decode_eof(spec, &[m.id], &mut out, &cx) {
        Ok(Some(Decoded::Message(again))) if again.id == m.id => {}
        other => panic!(
            "decoded `{}` {m:?} encodes as \"{}\", which decodes as {other:?}",
            def.name,
            encoded.escape_ascii()
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let [select, rest @ ..] = data else {
        return;
    };
    let Some(nul) = rest.iter().position(|b| *b == 0) else {
        return;
    };
    let (spec, stream) = (&rest[..nul], &rest[nul + 1..]);
    let stretched;
    let stream = if select & 0x80 == 0 {
        stream
    } else {
        let Some(s) = stretch(stream) else {
            return;
        };
        stretched = s;
        &stretched[..]
    };
    let Some(spec) = protocol_dsl::compile_bytes("fuzz.proto", spec).protocol else {
        return;
    };
    let role = if select & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let start = Instant::now();
    let now = start;
    let spec = Arc::new(spec);
    let mut session = Session::new(Arc::clone(&spec), role, now);
    let mut buf = BytesMut::new();
    // Each event consumes input, except the close that ends the stream.
    let mut budget = stream.len() + 1;
    let mut spend = |event: &Event| {
        if let Event::Message(m) = event {
            reencodes(&spec, m);
        }
        budget = budget
            .checked_sub(1)
            .expect("the session gives more events than it has bytes");
    };
    let finish = || {
        let took = start.elapsed();
        assert!(
            select & 0x80 == 0 || took < STRETCH_TIME,
            "a stretched stream of {} bytes took {took:?} to decode",
            stream.len()
        );
    };
    for chunk in Chunks::new(stream, (select >> 1) & 0x3f) {
        buf.extend_from_slice(chunk);
        loop {
            match session.receive(&mut buf, now) {
                Ok(Some(event)) => spend(&event),
                Ok(None) => break,
                Err(_) => return finish(),
            }
        }
    }
    loop {
        match session.receive_eof(&mut buf, now) {
            Ok(Event::Closed) | Err(_) => return finish(),
            Ok(event) => spend(&event),
        }
    }
});
