//! What a pattern decodes: every frame its language holds, the way the
//! compiler's checks read it (matching backtracks), with the preferred
//! reading's values; and repetitions, which decode runs and encode one round.

use std::time::Instant;

use bytes::BytesMut;
use protocol_runtime::layout::Role;
use protocol_runtime::session::{Event, Session};
use protocol_runtime::spec::Protocol;
use protocol_runtime::{Message, Value};

/// The first message a `receiver` session decodes from `wire`.
fn decode(spec: &std::sync::Arc<Protocol>, receiver: Role, wire: &[u8]) -> Result<Message, String> {
    let now = Instant::now();
    let mut session = Session::new(spec.clone(), receiver, now);
    let mut buf = BytesMut::from(wire);
    match session.receive(&mut buf, now) {
        Ok(Some(Event::Message(m))) => Ok(m),
        Ok(other) => Err(format!("{other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

fn named(spec: &Protocol, m: &Message) -> String {
    spec.messages[m.id].name.clone()
}

#[test]
fn an_optional_part_ending_in_a_token_does_not_hide_a_sibling() {
    // Refused before with `"X-\r\n" is both a A and a B`: the checker let the
    // skip path of the optional part reach its token's loop.
    let spec = crate::compile(
        "opt_token",
        r#"protocol p { framing line("\r\n", max = 64);
            server message A = "X" (" " t: text)?;
            server message B = "X-" rest: text;
            state S { server sends A -> close; server sends B -> close; } }"#,
    );
    let b = decode(&spec, Role::Client, b"X-y\r\n").unwrap();
    assert_eq!(named(&spec, &b), "B");
    assert_eq!(b.fields, vec![Value::Str("y".into())]);
    let a = decode(&spec, Role::Client, b"X hi\r\n").unwrap();
    assert_eq!(
        (named(&spec, &a), a.fields),
        ("A".into(), vec![Value::Str("hi".into())])
    );
    let a = decode(&spec, Role::Client, b"X\r\n").unwrap();
    assert_eq!((named(&spec, &a), a.fields), ("A".into(), vec![Value::Absent]));
}

#[test]
fn integers_and_tokens_at_the_end_of_an_optional_part_compile_too() {
    crate::compile(
        "smtp_like",
        r#"protocol p { framing line("\r\n", max = 512);
            server message Reply = code: u16 (" " text: text)?;
            server message Dash = code: u16 "-" text: text;
            server message Word = "W" (" " w: token)?;
            server message WordDash = "W-" rest: text;
            state S { server sends Reply -> close; server sends Dash -> close;
                      server sends Word -> close; server sends WordDash -> close; } }"#,
    );
}

#[test]
fn an_optional_part_is_given_up_when_the_rest_cannot_follow_it() {
    let spec = crate::compile(
        "nats_sub",
        r#"protocol p { framing line("\r\n", max = 256);
            client message Sub = "SUB " subject: token (" " queue: token)? " " sid: token;
            state S { client sends Sub -> S; client closes; } }"#,
    );
    let without = decode(&spec, Role::Server, b"SUB foo 1\r\n").unwrap();
    assert_eq!(
        without.fields,
        vec![Value::Str("foo".into()), Value::Absent, Value::Str("1".into())]
    );
    let with = decode(&spec, Role::Server, b"SUB foo q 1\r\n").unwrap();
    assert_eq!(
        with.fields,
        vec![
            Value::Str("foo".into()),
            Value::Str("q".into()),
            Value::Str("1".into())
        ]
    );
}

#[test]
fn a_token_stops_where_the_literal_after_it_can_begin() {
    let spec = crate::compile(
        "pjlink_like",
        r#"protocol p { framing line("\r", max = 136);
            server message Ok = "%1" cmd: token(max = 4) "=OK";
            server message Err = "%1" cmd: token(max = 4) "=ERR" code: u8;
            state S { server sends Ok -> close; server sends Err -> close; } }"#,
    );
    let err = decode(&spec, Role::Client, b"%1POWR=ERR2\r").unwrap();
    assert_eq!(named(&spec, &err), "Err");
    assert_eq!(err.fields, vec![Value::Str("POWR".into()), Value::U64(2)]);
    let ok = decode(&spec, Role::Client, b"%1POWR=OK\r").unwrap();
    assert_eq!(
        (named(&spec, &ok), ok.fields),
        ("Ok".into(), vec![Value::Str("POWR".into())])
    );
    // Shorter readings end on character boundaries: `é` is two bytes.
    let ok = decode(&spec, Role::Client, "%1é=OK\r".as_bytes()).unwrap();
    assert_eq!(ok.fields, vec![Value::Str("é".into())]);
    let e = decode(&spec, Role::Client, b"%1\xe9=OK\r").unwrap_err();
    assert!(e.contains("UTF-8"), "{e}");
    // Still bounded: five bytes before `=OK` fit neither message.
    let e = decode(&spec, Role::Client, b"%1POWRX=OK\r").unwrap_err();
    assert!(e.contains("at most 4"), "{e}");
}

#[test]
fn repetitions_take_runs_and_encode_one_round() {
    let spec = crate::compile(
        "spaces",
        r#"protocol p { framing line("\r\n", max = 256);
            client message Set = "set" " "+ key: token " "+ n: u32 " "*;
            client message Get = "get" " "+ keys: list(token, sep = " "+, max = 8) " "*;
            client message Pad = "pad" ("-" | "=")*;
            state S { client sends Set -> S; client sends Get -> S; client sends Pad -> S; client closes; } }"#,
    );
    let set = decode(&spec, Role::Server, b"set   k  5   \r\n").unwrap();
    assert_eq!(set.fields, vec![Value::Str("k".into()), Value::U64(5)]);
    let get = decode(&spec, Role::Server, b"get a  b   c \r\n").unwrap();
    assert_eq!(
        get.fields,
        vec![Value::List(vec!["a".into(), "b".into(), "c".into()])]
    );
    assert_eq!(
        named(&spec, &decode(&spec, Role::Server, b"pad-=-\r\n").unwrap()),
        "Pad"
    );
    assert!(decode(&spec, Role::Server, b"setk 5\r\n").is_err());

    let now = Instant::now();
    let mut client = Session::new(spec.clone(), Role::Client, now);
    let mut out = BytesMut::new();
    client.send(&set, &mut out, now).unwrap();
    client.send(&get, &mut out, now).unwrap();
    assert_eq!(&out[..], b"set k 5\r\nget a b c\r\n");
}

#[test]
fn a_list_of_min_0_may_be_empty() {
    let spec = crate::compile(
        "words",
        r#"protocol p { framing line("\r\n", max = 256);
            client message Words = " "* words: list(token, sep = " "+, min = 0, max = 8) " "*;
            state S { client sends Words -> S; client closes; } }"#,
    );
    for (wire, want) in [
        (&b"\r\n"[..], vec![]),
        (b"   \r\n", vec![]),
        (b" a  b \r\n", vec!["a".into(), "b".into()]),
    ] {
        let m = decode(&spec, Role::Server, wire).unwrap();
        assert_eq!(m.fields, vec![Value::List(want)], "{wire:?}");
    }
    let now = Instant::now();
    let mut client = Session::new(spec.clone(), Role::Client, now);
    let mut out = BytesMut::new();
    let empty = decode(&spec, Role::Server, b"\r\n").unwrap();
    client.send(&empty, &mut out, now).unwrap();
    assert_eq!(&out[..], b"\r\n");
}

#[test]
fn a_hostile_run_of_separators_costs_no_stack() {
    let spec = crate::compile(
        "long_run",
        r#"protocol p { framing line("\n", max = 4 MiB);
            client message Get = "get" " "+ keys: list(token, sep = " "+, max = 100000) " "*;
            state S { client sends Get -> S; client closes; } }"#,
    );
    let mut wire = b"get".to_vec();
    for i in 0..50_000 {
        wire.extend_from_slice(format!("   k{i}").as_bytes());
    }
    wire.extend_from_slice(&[b' '; 100_000]);
    wire.push(b'\n');
    let get = decode(&spec, Role::Server, &wire).unwrap();
    let Value::List(keys) = &get.fields[0] else {
        panic!("a list")
    };
    assert_eq!(keys.len(), 50_000);
}

#[test]
fn a_line_may_end_in_any_of_its_ends_and_is_written_with_the_first() {
    let spec = crate::compile(
        "lf_or_crlf",
        r#"protocol p { framing line("\r\n" | "\n", max = 8);
            client message Say = "say " words: text;
            state S { client sends Say -> S; client closes; } }"#,
    );
    let now = Instant::now();
    let mut server = Session::new(spec.clone(), Role::Server, now);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    // Byte by byte: a CR alone is content until the LF after it shows
    // whether it ended the line.
    for &b in b"say a\r\nsay b\nsay c\rd\nsay \r\r\n" {
        buf.extend_from_slice(&[b]);
        while let Some(Event::Message(m)) = server.receive(&mut buf, now).unwrap() {
            got.push(m.fields[0].clone());
        }
    }
    assert_eq!(
        got,
        vec![
            Value::Str("a".into()),
            Value::Str("b".into()),
            Value::Str("c\rd".into()),
            Value::Str("\r".into()),
        ]
    );
    // `max` counts the content, whichever end came.
    let mut buf = BytesMut::from(&b"say 12345\r\n"[..]);
    assert!(server.receive(&mut buf, now).is_err(), "9 bytes of content");
    let mut fresh = Session::new(spec.clone(), Role::Server, now);
    let mut buf = BytesMut::from(&b"say 1234\r\n"[..]);
    assert!(matches!(
        fresh.receive(&mut buf, now),
        Ok(Some(Event::Message(_)))
    ));

    let mut client = Session::new(spec.clone(), Role::Client, now);
    let mut out = BytesMut::new();
    let say = spec.message("Say").unwrap();
    client
        .send(&Message::new(say, vec![Value::Str("\r".into())]), &mut out, now)
        .unwrap();
    assert_eq!(&out[..], b"say \r\r\n");
    assert!(client
        .send(&Message::new(say, vec![Value::Str("a\nb".into())]), &mut out, now)
        .is_err());
}

#[test]
fn line_ends_a_receiver_could_not_tell_apart_are_refused() {
    let compiled = protocol_dsl::compile_str(
        "cr_or_lf.proto",
        r#"protocol p { framing line("\r" | "\n", max = 8);
            client message Say = "say " words: text;
            state S { client sends Say -> S; client closes; } }"#,
    );
    assert!(compiled
        .render(false)
        .contains("cannot be told apart as bytes arrive"));
}

#[test]
fn a_token_of_any_bytes_but_some_is_a_byte_string() {
    let spec = crate::compile(
        "binary_keys",
        r#"protocol p { framing line("\r\n" | "\n", max = 300);
            client message Get = "get" " "+ keys: list(token(max = 250, except = " "), sep = " "+, max = 8) " "*;
            state S { client sends Get -> S; client closes; } }"#,
    );
    // memcaslap's keys: 0x10 and bytes >= 0x80; a tab; a CR mid-line.
    let get = decode(&spec, Role::Server, b"get \x10\xe9k a\tb c\rd\r\n").unwrap();
    let keys: Vec<Value> = [&b"\x10\xe9k"[..], b"a\tb", b"c\rd"]
        .iter()
        .map(|k| crate::blob(k))
        .collect();
    assert_eq!(get.fields, vec![Value::List(keys)]);
    let now = Instant::now();
    let mut client = Session::new(spec.clone(), Role::Client, now);
    let mut out = BytesMut::new();
    client.send(&get, &mut out, now).unwrap();
    assert_eq!(&out[..], b"get \x10\xe9k a\tb c\rd\r\n");
    let spaced = Message::new(get.id, vec![Value::List(vec![crate::blob(b"a b")])]);
    assert!(client.send(&spaced, &mut BytesMut::new(), now).is_err());
}

const FALLBACKS: &str = r#"protocol kv {
    framing line("\r\n" | "\n", max = 256);
    client message Incr = "incr" " "+ key: token " "+ by: u64 noreply: (" "+ "noreply")? " "*;
    // Any other line of a known command ending in noreply: no answer.
    client message Quiet = cmd: ("incr" | "touch") " " words: bytes " "+ "noreply" " "*;
    // PJLink's way: an unknown command gets a reply that echoes its name.
    client message Unknown = "%1" cmd: token(max = 4) " " rest: text;
    server message Number = n: u64;
    server message Unsupported = "%1" cmd: token(max = 4) "=ERR1";
    server message Error = "ERROR";
    state Ready {
        exchange Incr where noreply -> none;
        exchange Incr -> Number;
        otherwise Quiet -> none;
        otherwise Unknown -> Unsupported;
        otherwise -> Error;
        client closes;
    }
}"#;

#[test]
fn fallback_requests_are_tried_in_order_after_the_others() {
    let spec = crate::compile("fallbacks", FALLBACKS);
    let now = Instant::now();
    let mut server = Session::new(spec.clone(), Role::Server, now);
    let mut buf = BytesMut::from(
        &b"incr k 1\r\nincr k abc noreply \r\nincr  k  2  noreply\nfoo noreply\r\n%1XYZW ?\r\n"[..],
    );
    let mut got = Vec::new();
    while let Some(ev) = server.receive(&mut buf, now).unwrap() {
        got.push(match ev {
            Event::Message(m) => {
                let fields = m.fields.clone();
                format!("{} {fields:?}", named(&spec, &m))
            }
            Event::Unrecognized { frame } => format!("unrecognized {frame:?}"),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        got,
        vec![
            r#"Incr ["k", 1, false]"#.to_string(),
            r#"Quiet [#0, b"k abc"]"#.to_string(),
            r#"Incr ["k", 2, true]"#.to_string(),
            r#"unrecognized b"foo noreply""#.to_string(),
            r#"Unknown ["XYZW", "?"]"#.to_string(),
        ]
    );
    // Owed: Number for the first, nothing for the quiet ones, Error for
    // `foo`, Unsupported for `%1XYZW`.
    assert_eq!(server.pending_replies(), 3);
}

#[test]
fn a_fallback_that_is_also_a_request_is_refused() {
    let compiled = protocol_dsl::compile_str(
        "both.proto",
        r#"protocol p { framing line("\r\n", max = 64);
            client message Ping = "PING";
            server message Pong = "PONG";
            state S { exchange Ping -> Pong; otherwise Ping -> Pong; client closes; } }"#,
    );
    assert!(compiled
        .render(false)
        .contains("is both a request and an `otherwise` message"));
}

/// A fallback whose bytes would be read as a request is refused: the server
/// would carry out the request instead.
#[test]
fn sending_a_fallback_that_reads_as_a_request_is_misuse() {
    let spec = crate::compile("fallbacks", FALLBACKS);
    let now = Instant::now();
    let mut client = Session::new(spec.clone(), Role::Client, now);
    let quiet = spec.message("Quiet").unwrap();
    let mut out = BytesMut::new();
    // `incr k 5 noreply` is an `Incr`.
    let e = client
        .send(
            &Message::new(quiet, vec![Value::Choice(0), crate::blob(b"k 5")]),
            &mut out,
            now,
        )
        .unwrap_err();
    assert!(e.to_string().contains("would be read as `Incr`"), "{e}");
    assert!(out.is_empty());
    // `incr k abc noreply` is not.
    client
        .send(
            &Message::new(quiet, vec![Value::Choice(0), crate::blob(b"k abc")]),
            &mut out,
            now,
        )
        .unwrap();
    assert_eq!(&out[..], b"incr k abc noreply\r\n");
}

/// A pattern whose readings multiply (three tokens side by side) is cut off
/// by the matcher's step budget with a typed error, not left to take cubic
/// time on a hostile frame.
#[test]
fn a_pathological_pattern_stops_at_the_step_budget() {
    let spec = crate::compile(
        "adjacent",
        r#"protocol p { framing line("\n", max = 1024);
            client message M = a: token(max = 300) b: token(max = 300) c: token(max = 300) "!";
            state S { client sends M -> S; client closes; } }"#,
    );
    let mut wire = vec![b'x'; 900];
    wire.push(b'\n');
    let e = decode(&spec, Role::Server, &wire).unwrap_err();
    assert!(e.contains("fewer tries"), "{e}");
    // Decodes what it describes all the same.
    let m = decode(&spec, Role::Server, b"xyz!\n").unwrap();
    assert_eq!(
        m.fields,
        vec![
            Value::Str("x".into()),
            Value::Str("y".into()),
            Value::Str("z".into())
        ]
    );
}
