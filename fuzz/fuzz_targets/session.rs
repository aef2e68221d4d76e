//! The decoders of every shipped spec (and of `spaced`, below), as client
//! and as server, through the sans-IO session: bytes drip in chunk by chunk until the session reports
//! an error or wants more, then the peer closes. Nothing may panic, loop
//! without consuming input, or allocate past libFuzzer's malloc limit (a
//! declared length such as `set k 0 0 4294967295` must not be trusted).
//! Every message decoded must encode again and decode to the same values
//! (derived lengths aside: see `given`).
//!
//! Input: `[spec × role] [chunk seed] [n] [n request picks] stream...`. A
//! client-side session first needs requests outstanding before a server may
//! answer: the picks choose canned requests, each sent as soon as the session
//! allows it.

#![no_main]

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use protocol_runtime::engine::{self, Context, Decoded};
use protocol_runtime::layout::Role;
use protocol_runtime::session::{Event, Session};
use protocol_runtime::spec::Protocol;
use protocol_runtime::Message;
use protospec_fuzz::{given, Chunks};

// New specs go at the end: a seed picks its spec by index.
const SPECS: [&str; 10] = [
    "daytime",
    "echo",
    "greeting",
    "memcached_get",
    "memcached",
    "spaced",
    "modbus",
    "redis",
    "postgres",
    "dns",
];

/// What a tokenizer that skips empty tokens reads, as the language writes
/// it: runs of spaces, lines ending in LF with or without CR (a CR alone in
/// one chunk, its LF in the next), keys of any bytes but a space, replies
/// whose token runs into the literal after it (`%1POWR=OK`). Its values
/// survive encoding: no token can begin with what a repetition or an
/// optional part before it matches, so the fewest rounds the encoder writes
/// read back as the same fields.
const SPACED: &str = r#"
protocol spaced {
    framing line("\r\n" | "\n", max = 256);
    timeout idle = none, message = 30s;
    pipelined;
    client message Set = "set" " "+ key: token(max = 250, except = " ") " "+ n: u32 noreply: (" "+ "noreply")? " "*;
    client message Get = "get" " "+ keys: list(token(except = " "), sep = " "+, max = 16) " "*;
    client message Rule = "rule" ("-" | "=")+;
    server message Ok = "%1" cmd: token(max = 4) "=OK";
    server message Err = "%1" cmd: token(max = 4) "=ERR" code: u8;
    state Ready {
        exchange Set where noreply -> none;
        exchange Set -> Ok | Err;
        exchange Get -> Ok | Err;
        exchange Rule -> Ok | Err;
        client closes;
    }
}
"#;

fn spec_text(name: &str) -> &'static str {
    match name {
        "spaced" => SPACED,
        _ => conformance::transcript::bundled_spec(name).expect("a bundled spec"),
    }
}

/// Requests a client may have sent, as bytes on the wire, per spec.
fn canned(spec: &str) -> &'static [(&'static str, &'static [u8])] {
    match spec {
        "echo" => &[("Data", b"hi\n")],
        "greeting" => &[("Name", b"Bo\r\n")],
        "memcached_get" => &[("Get", b"get k\r\n"), ("Get", b"gets a b c\r\n")],
        "memcached" => &[
            ("Get", b"get k\r\n"),
            ("Get", b"gets a b\r\n"),
            ("Gat", b"gat 0 k\r\n"),
            ("Set", b"set k 0 0 5\r\nhello\r\n"),
            ("Set", b"set k 0 0 1 noreply\r\nx\r\n"),
            ("Cas", b"cas k 0 0 1 7\r\nx\r\n"),
            ("Delete", b"delete k\r\n"),
            ("Arith", b"incr k 1\r\n"),
            ("Touch", b"touch k 10\r\n"),
            ("FlushAll", b"flush_all\r\n"),
            ("Stats", b"stats\r\n"),
            ("Stats", b"stats slabs\r\n"),
            ("Version", b"version\r\n"),
            ("Verbosity", b"verbosity 1\r\n"),
            ("Quit", b"quit\r\n"),
        ],
        "spaced" => &[
            ("Set", b"set k 5\r\n"),
            ("Set", b"set  \xff\x01\t  17 noreply \n"),
            ("Get", b"get a  b\t\x7f   c \r\n"),
            ("Rule", b"rule-==\n"),
        ],
        "modbus" => &[
            ("ReadHoldingRegisters", b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x02"),
            ("ReadCoils", b"\x00\x02\x00\x00\x00\x06\x01\x01\x00\x00\x00\x0a"),
            (
                "WriteMultipleRegisters",
                b"\x00\x03\x00\x00\x00\x0b\x01\x10\x00\x02\x00\x02\x04\x00\x0a\x01\x02",
            ),
            (
                "WriteMultipleCoils",
                b"\x00\x04\x00\x00\x00\x09\x01\x0f\x00\x14\x00\x0a\x02\xcd\x01",
            ),
            ("WriteSingleCoil", b"\x00\x05\x00\x00\x00\x06\x01\x05\x00\x03\xff\x00"),
        ],
        "redis" => &[
            ("Command", b"*1\r\n$4\r\nPING\r\n"),
            ("Command", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\r\n\r\n"),
            ("Command", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
            ("Inline", b"PING\r\n"),
        ],
        "postgres" => &[
            ("SslRequest", b"\x00\x00\x00\x08\x04\xd2\x16\x2f"),
            (
                "Startup",
                b"\x00\x00\x00\x17\x00\x03\x00\x00user\x00postgres\x00\x00",
            ),
            ("Query", b"Q\x00\x00\x00\x0dSELECT 1\x00"),
            ("Terminate", b"X\x00\x00\x00\x04"),
        ],
        "dns" => &[
            (
                "Query",
                b"\x00\x1c\x00\x01\x01\x20\x00\x01\x00\x00\x00\x00\x00\x00\x05alpha\x04test\x00\x00\x01\x00\x01",
            ),
            (
                "Query",
                b"\x00\x1a\x00\x02\x01\x20\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x04test\x00\x00\x1c\x00\x01",
            ),
        ],
        _ => &[],
    }
}

struct Harness {
    spec: Arc<Protocol>,
    requests: Vec<Message>,
}

fn decode_one(spec: &Protocol, id: usize, bytes: &[u8], eof: bool) -> Option<Message> {
    let mut buf = BytesMut::from(bytes);
    let mut decoder = engine::Decoder::new();
    let cx = Context { state: "canned" };
    let decoded = if eof {
        decoder.decode_eof(spec, &[id], &mut buf, &cx)
    } else {
        decoder.decode(spec, &[id], &mut buf, &cx)
    };
    match decoded {
        Ok(Some(Decoded::Message(m))) => Some(m),
        _ => None,
    }
}

fn harnesses() -> &'static [Harness] {
    static H: OnceLock<Vec<Harness>> = OnceLock::new();
    H.get_or_init(|| {
        SPECS
            .iter()
            .map(|name| {
                let text = spec_text(name);
                let compiled = protocol_dsl::compile_str(&format!("{name}.proto"), text);
                let spec = compiled.protocol.expect("a shipped spec compiles");
                let requests = canned(name)
                    .iter()
                    .map(|(msg, bytes)| {
                        let id = spec.message(msg).expect("a canned request names a message");
                        decode_one(&spec, id, bytes, false)
                            .unwrap_or_else(|| panic!("canned `{msg}` of {name} decodes"))
                    })
                    .collect();
                Harness {
                    spec: Arc::new(spec),
                    requests,
                }
            })
            .collect()
    })
}

/// A decoded message must encode, and its bytes must decode to the same
/// values: what a server accepts, a client of the same spec can send.
fn round_trip(spec: &Protocol, m: &Message) {
    let def = &spec.messages[m.id];
    let mut out = BytesMut::new();
    if let Err(e) = engine::encode_in(&spec.types, spec.max_depth, &def.layout, &m.fields, &mut out) {
        panic!("decoded `{}` {m:?} does not encode: {e}", def.name);
    }
    let again = decode_one(spec, m.id, &out, true);
    // Derived lengths may differ (a compressed name is longer written out
    // whole); what the message says may not.
    let said = |m: &Message| (m.id, given(&spec.types, &def.layout, &m.fields));
    assert_eq!(
        again.as_ref().map(said),
        Some(said(m)),
        "`{}` encoded as \"{}\" decodes differently",
        def.name,
        out.escape_ascii()
    );
}

/// Sends queued requests while the session allows them.
fn send_ready(session: &mut Session, queue: &mut VecDeque<&Message>, now: Instant) {
    let mut out = BytesMut::new();
    while let Some(m) = queue.front() {
        if session.send(m, &mut out, now).is_err() {
            return;
        }
        queue.pop_front();
    }
}

fuzz_target!(|data: &[u8]| {
    let [select, seed, n, rest @ ..] = data else {
        return;
    };
    let select = *select as usize % (SPECS.len() * 2);
    let harness = &harnesses()[select / 2];
    let role = [Role::Server, Role::Client][select % 2];
    let n = (*n as usize % 8).min(rest.len());
    let (picks, stream) = rest.split_at(n);
    let mut queue: VecDeque<&Message> = if role == Role::Client && !harness.requests.is_empty() {
        picks
            .iter()
            .map(|p| &harness.requests[*p as usize % harness.requests.len()])
            .collect()
    } else {
        VecDeque::new()
    };

    let now = Instant::now();
    let spec = &harness.spec;
    let mut session = Session::new(Arc::clone(spec), role, now);
    let mut buf = BytesMut::new();
    // Each event consumes input, except the close that ends the stream.
    let mut budget = stream.len() + 1;
    let mut spend = |event: &Event| {
        if let Event::Message(m) = event {
            round_trip(spec, m);
        }
        budget = budget
            .checked_sub(1)
            .expect("the session gives more events than it has bytes");
    };
    send_ready(&mut session, &mut queue, now);
    for chunk in Chunks::new(stream, *seed) {
        buf.extend_from_slice(chunk);
        loop {
            match session.receive(&mut buf, now) {
                Ok(Some(event)) => {
                    spend(&event);
                    send_ready(&mut session, &mut queue, now);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    loop {
        match session.receive_eof(&mut buf, now) {
            Ok(Event::Closed) | Err(_) => return,
            Ok(event) => spend(&event),
        }
    }
});
