//! Any spec the compiler accepts, decoding any stream: the `session` target
//! covers the shipped specs' layouts only, while the engine has to be safe
//! for every layout the compiler lets through (other framings, length
//! prefixes, large maxes). A declared length may only be trusted up to the
//! spec's max, and even then the receiver must not allocate it before the
//! bytes arrive.
//!
//! Input: `[role and chunk seed] spec \0 stream`; the low bit picks the side
//! (0: server, receiving the client's messages), the rest the chunking.

#![no_main]

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use protocol_runtime::layout::Role;
use protocol_runtime::session::{Event, Session};
use protospec_fuzz::Chunks;

fuzz_target!(|data: &[u8]| {
    let [select, rest @ ..] = data else {
        return;
    };
    let Some(nul) = rest.iter().position(|b| *b == 0) else {
        return;
    };
    let (spec, stream) = (&rest[..nul], &rest[nul + 1..]);
    let Some(spec) = protocol_dsl::compile_bytes("fuzz.proto", spec).protocol else {
        return;
    };
    let role = if select & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let now = Instant::now();
    let mut session = Session::new(Arc::new(spec), role, now);
    let mut buf = BytesMut::new();
    // Each event consumes input, except the close that ends the stream.
    let mut budget = stream.len() + 1;
    let mut spend = || {
        budget = budget
            .checked_sub(1)
            .expect("the session gives more events than it has bytes");
    };
    for chunk in Chunks::new(stream, select >> 1) {
        buf.extend_from_slice(chunk);
        loop {
            match session.receive(&mut buf, now) {
                Ok(Some(_)) => spend(),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    loop {
        match session.receive_eof(&mut buf, now) {
            Ok(Event::Closed) | Err(_) => return,
            Ok(_) => spend(),
        }
    }
});
