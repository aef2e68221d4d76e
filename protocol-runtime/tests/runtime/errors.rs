//! Hostile and broken peers, and callers breaking the spec: typed errors
//! with the state, what was expected, where and what came; never a panic.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use protocol_runtime::error::Excerpt;
use protocol_runtime::layout::{Framing, Role};
use protocol_runtime::session::{Event, Session};
use protocol_runtime::spec::Protocol;
use protocol_runtime::{Error, Message, ProtocolViolation, Value};

use crate::{msg, spec};

/// A session of `role`, after sending `first`.
fn session(sp: &Arc<Protocol>, role: Role, first: &[Message]) -> Session {
    let now = Instant::now();
    let mut s = Session::new(sp.clone(), role, now);
    let mut out = BytesMut::new();
    for m in first {
        s.send(m, &mut out, now).unwrap();
    }
    s
}

/// Feeds `wire` and returns the events up to the first error.
fn feed(s: &mut Session, wire: &[u8]) -> (Vec<Event>, Option<Error>) {
    let mut buf = BytesMut::from(wire);
    let mut events = Vec::new();
    loop {
        match s.receive(&mut buf, Instant::now()) {
            Ok(Some(ev)) => events.push(ev),
            Ok(None) => return (events, None),
            Err(e) => return (events, Some(e)),
        }
    }
}

/// The peer closes with nothing left unread.
fn eof(s: &mut Session) -> Result<Event, Error> {
    s.receive_eof(&mut BytesMut::new(), Instant::now())
}

fn get(sp: &Protocol, key: &str) -> Message {
    msg(sp, "Get", vec![Value::Choice(0), Value::List(vec![key.into()])])
}

fn violation(err: Option<Error>) -> ProtocolViolation {
    match err {
        Some(Error::Peer(v)) => v,
        other => panic!("expected a protocol violation, got {other:?}"),
    }
}

#[test]
fn garbage_instead_of_a_line_is_a_violation_with_where_and_what() {
    let sp = spec("greeting");
    let mut client = session(&sp, Role::Client, &[]);
    let (events, err) = feed(&mut client, b"HELLO?");
    assert_eq!(events, vec![Event::Message(msg(&sp, "Prompt", vec![]))]);
    assert!(err.is_none());
    client
        .send(
            &msg(&sp, "Name", vec!["Ann".into()]),
            &mut BytesMut::new(),
            Instant::now(),
        )
        .unwrap();
    let mut garbage = client_in_answer(&sp);
    let (events, err) = feed(&mut garbage, b"Goodbye, Ann\r\n");
    assert!(events.is_empty());
    let v = violation(err);
    assert_eq!(v.state, "Answer");
    assert!(
        v.expected.contains("\"Hello, \" of `Welcome` at column 1"),
        "{}",
        v.expected
    );
    // The line began right after the six bytes of the prompt.
    assert_eq!(v.offset, 6);
    assert_eq!(v.got, Excerpt(b"Goodbye, Ann".to_vec()));
    let text = Error::Peer(v).to_string();
    assert!(text.contains("state `Answer` at byte 6"), "{text}");
    assert!(
        text.contains("47 6f 6f 64") && text.contains("\"Goodbye, Ann\""),
        "{text}"
    );
    drop(client);

    // Almost a welcome: the closing "!" is missing.
    let mut almost = client_in_answer(&sp);
    let v = violation(feed(&mut almost, b"Hello, Ann\r\n").1);
    assert_eq!((v.state.as_str(), v.offset), ("Answer", 6));
    assert!(
        v.expected.contains("\"!\" of `Welcome` at column 10"),
        "{}",
        v.expected
    );
    assert_eq!(v.got, Excerpt(b"Hello, Ann".to_vec()));
}

/// A greeting client that has received the prompt and sent its name.
fn client_in_answer(sp: &Arc<Protocol>) -> Session {
    let mut client = session(sp, Role::Client, &[]);
    assert_eq!(feed(&mut client, b"HELLO?").0.len(), 1);
    client
        .send(
            &msg(sp, "Name", vec!["Ann".into()]),
            &mut BytesMut::new(),
            Instant::now(),
        )
        .unwrap();
    client
}

#[test]
fn a_line_that_is_not_utf8_text_is_a_violation() {
    let sp = spec("greeting");
    let mut server = session(&sp, Role::Server, &[msg(&sp, "Prompt", vec![])]);
    let v = violation(feed(&mut server, b"Ann\xff\xfe\r\n").1);
    assert_eq!(v.state, "Asking");
    assert!(
        v.expected.contains("UTF-8") && v.expected.contains("`Name`"),
        "{}",
        v.expected
    );
    assert_eq!(v.offset, 0);
    assert_eq!(v.got, Excerpt(b"Ann\xff\xfe".to_vec()));
}

#[test]
fn garbage_instead_of_an_exact_prompt_is_a_violation_as_soon_as_it_differs() {
    let sp = spec("greeting");
    let mut client = session(&sp, Role::Client, &[]);
    let mut buf = BytesMut::from(&b"HEL"[..]);
    assert_eq!(client.receive(&mut buf, Instant::now()).unwrap(), None);
    buf.extend_from_slice(b"P ME");
    let v = match client.receive(&mut buf, Instant::now()) {
        Err(Error::Peer(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!((v.state.as_str(), v.offset), ("Start", 0));
    assert!(v.expected.contains("`Prompt`"), "{}", v.expected);
    assert_eq!(v.got, Excerpt(b"HELP ME".to_vec()));
}

/// Where no `otherwise` answers it (a client reading a reply), a data block
/// not followed by its CRLF is a violation that says where and what.
#[test]
fn wrong_bytes_after_a_data_block_are_a_violation() {
    let sp = spec("memcached_get");
    let mut client = session(&sp, Role::Client, &[get(&sp, "k")]);
    let v = violation(feed(&mut client, b"VALUE k 0 5\r\nhelloXX\r\n").1);
    assert_eq!(v.state, "Ready");
    assert!(
        v.expected.contains("\\r\\n") && v.expected.contains("`Value`"),
        "{}",
        v.expected
    );
    assert_eq!(v.offset, 18);
    assert!(v.got.0.starts_with(b"XX"), "{:?}", v.got);
}

/// On a server whose state has an `otherwise` reply, the same is a
/// malformed request: the two bytes found are consumed and reported, the
/// `otherwise` reply is owed (memcached's `CLIENT_ERROR bad data chunk`),
/// and reading goes on after them (the `\r\n` left is an empty line).
#[test]
fn wrong_bytes_after_a_data_block_are_answered_where_the_state_has_otherwise() {
    let sp = spec("memcached");
    let mut server = session(&sp, Role::Server, &[]);
    let (events, err) = feed(&mut server, b"set k 0 0 3\r\nabcd\r\nget k\r\n");
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        events,
        vec![
            Event::Malformed {
                message: sp.message("Set").unwrap(),
                found: "d\r".into(),
            },
            Event::Unrecognized { frame: "".into() },
            Event::Message(get(&sp, "k")),
        ]
    );
    assert_eq!(server.pending_replies(), 3);
}

#[test]
fn an_excerpt_is_bounded() {
    let sp = spec("greeting");
    let mut server = session(&sp, Role::Server, &[msg(&sp, "Prompt", vec![])]);
    let mut line = vec![0xff; 200];
    line.extend_from_slice(b"\r\n");
    let v = violation(feed(&mut server, &line).1);
    assert_eq!(v.got, Excerpt(vec![0xff; 48]));
}

/// A line matching no request, on a memcached server: reported, answered by
/// an error reply, and the state holds.
#[test]
fn unknown_commands_are_unrecognized_and_the_state_holds() {
    let sp = spec("memcached");
    let now = Instant::now();
    let mut server = session(&sp, Role::Server, &[]);
    let long_key = format!("get {}\r\n", "k".repeat(251));
    let many_keys = format!("get{}\r\n", " k".repeat(10_001));
    let lines: Vec<&[u8]> = vec![
        b"frobnicate now\r\n",
        b"incr k 99999999999999999999999\r\n",
        b"\r\n",
        b"GET k\r\n",
        b"get\r\n",
        long_key.as_bytes(),
        many_keys.as_bytes(),
        b"set k 0 0 -1\r\n",
        b"\x00\xff\r\n",
    ];
    for line in lines {
        let (events, err) = feed(&mut server, line);
        assert!(err.is_none(), "{:?}: {err:?}", line.escape_ascii().to_string());
        let frame = Bytes::copy_from_slice(&line[..line.len() - 2]);
        assert_eq!(events, vec![Event::Unrecognized { frame }]);
        assert_eq!(server.state_name(), "Commands");
        assert_eq!(server.pending_replies(), 1);
        let mut out = BytesMut::new();
        server
            .send(&msg(&sp, "Error", vec![Value::Absent]), &mut out, now)
            .unwrap();
        assert_eq!(&out[..], b"ERROR\r\n");
        assert_eq!(server.pending_replies(), 0);
        // The next request is read as usual.
        let (events, err) = feed(&mut server, b"get k\r\n");
        assert!(err.is_none());
        assert_eq!(events, vec![Event::Message(get(&sp, "k"))]);
        server.send(&msg(&sp, "End", vec![]), &mut out, now).unwrap();
    }
}

/// The `max` of the line that begins a message.
fn line_max(sp: &Protocol, name: &str) -> usize {
    match &sp.messages[sp.message(name).unwrap()].layout.segments[0].framing {
        Framing::Line { max, .. } => *max,
        other => panic!("`{name}` does not start with a line: {other:?}"),
    }
}

fn assert_too_long(err: Option<Error>, state: &str, len: u64, max: usize) {
    match err {
        Some(Error::TooLong {
            state: s,
            what,
            len: l,
            max: m,
        }) => assert_eq!((s.as_str(), what, l, m), (state, "line", len, max)),
        other => panic!("expected a line too long, got {other:?}"),
    }
}

#[test]
fn a_line_over_the_max_is_too_long() {
    let sp = spec("greeting");
    let max = line_max(&sp, "Name");
    let mut server = session(&sp, Role::Server, &[msg(&sp, "Prompt", vec![])]);
    // One byte over could still be the max and a CR.
    let (events, err) = feed(&mut server, &vec![b'a'; max + 1]);
    assert!(events.is_empty() && err.is_none(), "{err:?}");
    let mut server = session(&sp, Role::Server, &[msg(&sp, "Prompt", vec![])]);
    assert_too_long(
        feed(&mut server, &vec![b'a'; max + 44]).1,
        "Asking",
        max as u64 + 44,
        max,
    );
    // memcached's longest request line is its limit for any line.
    let sp = spec("memcached");
    let max = ["Set", "Cas", "Get", "Gat", "Delete", "Stats", "Quit"]
        .iter()
        .map(|m| line_max(&sp, m))
        .max()
        .unwrap();
    let mut server = session(&sp, Role::Server, &[]);
    assert_too_long(
        feed(&mut server, &vec![b'x'; max + 2]).1,
        "Commands",
        max as u64 + 2,
        max,
    );
}

/// Offsets count the bytes of the whole stream, input the spec ignores included.
#[test]
fn offsets_count_ignored_input() {
    let sp = crate::compile(
        "banner",
        r#"protocol banner {
            framing line("\r\n", max = 64);
            server message Banner = "BANNER";
            client message Cmd = "CMD " arg: token;
            server message Ok = "OK";
            state Connected {
                ignore client;
                server sends Banner -> Ready;
            }
            state Ready {
                exchange Cmd -> Ok;
                client closes;
            }
        }"#,
    );
    let now = Instant::now();
    let mut server = session(&sp, Role::Server, &[]);
    let (events, err) = feed(&mut server, b"early");
    assert_eq!(events, vec![Event::Ignored { bytes: 5 }]);
    assert!(err.is_none());
    server
        .send(&msg(&sp, "Banner", vec![]), &mut BytesMut::new(), now)
        .unwrap();
    let (events, err) = feed(&mut server, b"CMD a\r\nNOPE\r\n");
    assert_eq!(events, vec![Event::Message(msg(&sp, "Cmd", vec!["a".into()]))]);
    let v = violation(err);
    assert_eq!(v.state, "Ready");
    // 5 ignored bytes, then 7 of the first command.
    assert_eq!(v.offset, 12);
    assert_eq!(v.got, Excerpt(b"NOPE".to_vec()));
    assert_eq!(server.received_bytes(), 18);
    assert_eq!(server.ignored_bytes(), 5);
}

#[test]
fn a_declared_length_over_the_max_is_refused_before_buffering() {
    let sp = spec("memcached_get");
    let mut client = session(&sp, Role::Client, &[get(&sp, "k")]);
    let mut buf = BytesMut::from(&b"VALUE k 0 2000000\r\nxx"[..]);
    match client.receive(&mut buf, Instant::now()) {
        Err(Error::TooLong {
            state,
            what,
            len,
            max,
        }) => assert_eq!(
            (state.as_str(), what, len, max),
            ("Ready", "raw data", 2_000_000, 1 << 20)
        ),
        other => panic!("{other:?}"),
    }
    assert!(buf.capacity() < 4096, "buffer grew to {}", buf.capacity());
}

/// What a server of each spec buffers after `wire`, a few bytes that declare
/// a gigabyte its spec allows: `codec::MAX_RESERVE` at most ahead of the bytes
/// (found by the `decode` fuzz target, `fuzz/regressions/decode/`).
#[test]
fn a_length_the_spec_allows_is_not_reserved_before_it_arrives() {
    let cases: [(&str, &[u8]); 2] = [
        (
            "client message M = length(u32be, max = 1 GiB) { data: bytes };",
            b"\x3f\xff\xff\xffabc",
        ),
        (
            "framing line(\"\\n\", max = 64); limits { raw = 1 GiB; }
             client message M = \"PUT \" n: u32 then raw(n) as data then exact \"\\n\";",
            b"PUT 1000000000\nab",
        ),
    ];
    for (messages, wire) in cases {
        let sp = crate::compile(
            "big",
            &format!("protocol big {{ {messages} state S {{ client sends M -> S; client closes; }} }}"),
        );
        let mut server = session(&sp, Role::Server, &[]);
        let mut buf = BytesMut::from(wire);
        assert!(matches!(server.receive(&mut buf, Instant::now()), Ok(None)));
        assert!(
            buf.capacity() < 16 << 20,
            "{messages}: reserved {} bytes",
            buf.capacity()
        );
    }
}

/// A length near `u64::MAX` under a max just below it waits for its bytes
/// instead of overflowing when the prefix's length is added.
#[test]
fn a_length_near_u64_max_does_not_overflow() {
    let sp = crate::compile(
        "huge",
        "protocol huge {
            client message M = length(u64be, max = 18446744073709551614) { data: bytes };
            state S { client sends M -> S; client closes; }
        }",
    );
    let mut server = session(&sp, Role::Server, &[]);
    let (events, err) = feed(&mut server, b"\xff\xff\xff\xff\xff\xff\xff\xfeabc");
    assert!(events.is_empty() && err.is_none(), "{events:?} {err:?}");
}

#[test]
fn a_peer_closing_mid_message() {
    let sp = spec("memcached_get");
    for (wire, buffered) in [
        (&b"VALUE k 0 10\r\nhel"[..], 3),
        (b"VAL", 3),
        (b"VALUE k 0 3\r\nabc\r", 1),
    ] {
        let mut client = session(&sp, Role::Client, &[get(&sp, "k")]);
        let mut buf = BytesMut::from(wire);
        assert_eq!(client.receive(&mut buf, Instant::now()).unwrap(), None);
        let err = client.receive_eof(&mut buf, Instant::now()).unwrap_err();
        assert!(!err.is_clean_close());
        assert!(
            matches!(&err, Error::Closed { state, mid_message: true, buffered: b }
                if state == "Ready" && *b == buffered),
            "{wire:?}: {err:?}"
        );
    }
    let sp = spec("greeting");
    let mut client = session(&sp, Role::Client, &[]);
    let mut buf = BytesMut::from(&b"HEL"[..]);
    assert_eq!(client.receive(&mut buf, Instant::now()).unwrap(), None);
    assert!(matches!(
        client.receive_eof(&mut buf, Instant::now()),
        Err(Error::Closed {
            mid_message: true,
            buffered: 3,
            ..
        })
    ));
}

#[test]
fn a_clean_close_where_the_spec_allows_it() {
    let sp = spec("greeting");
    let mut server = session(&sp, Role::Server, &[msg(&sp, "Prompt", vec![])]);
    assert_eq!(eof(&mut server).unwrap(), Event::Closed);
    assert!(server.is_finished());
    let sp = spec("memcached");
    let mut server = session(&sp, Role::Server, &[]);
    let (events, _) = feed(&mut server, b"get a\r\n");
    assert_eq!(events.len(), 1);
    assert_eq!(eof(&mut server).unwrap(), Event::Closed);
    // `quit` is answered by the server closing.
    let mut client = session(&sp, Role::Client, &[msg(&sp, "Quit", vec![])]);
    assert_eq!(eof(&mut client).unwrap(), Event::Closed);
}

#[test]
fn a_close_where_the_spec_does_not_allow_it() {
    // The server hangs up before its prompt.
    let sp = spec("greeting");
    let mut client = session(&sp, Role::Client, &[]);
    let err = eof(&mut client).unwrap_err();
    assert!(err.is_clean_close(), "{err:?}");
    assert!(matches!(&err, Error::Closed { state, mid_message: false, buffered: 0 } if state == "Start"));
    assert_eq!(err.to_string(), "peer closed the connection in state `Start`");
    // A memcached server that hangs up on a pending `get`.
    let sp = spec("memcached_get");
    let mut client = session(&sp, Role::Client, &[get(&sp, "k")]);
    assert!(matches!(
        eof(&mut client),
        Err(Error::Closed {
            mid_message: false,
            ..
        })
    ));
}

/// A data block over memcached's item limit is skipped as it arrives (the
/// spec says `over = discard`), reported with its size, and answered; the
/// next request is read as usual.
#[test]
fn an_oversized_set_is_discarded_without_buffering() {
    let sp = spec("memcached");
    let now = Instant::now();
    let mut server = session(&sp, Role::Server, &[]);
    let mut wire = b"set k 0 0 2000000\r\n".to_vec();
    wire.extend(std::iter::repeat_n(b'v', 2_000_000));
    wire.extend_from_slice(b"\r\nget k\r\n");
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for chunk in wire.chunks(64 * 1024) {
        buf.extend_from_slice(chunk);
        while let Some(ev) = server.receive(&mut buf, now).unwrap() {
            events.push(ev);
        }
        assert!(buf.len() <= 9, "{} bytes buffered", buf.len());
    }
    assert_eq!(
        events,
        vec![
            Event::Discarded {
                message: sp.message("Set").unwrap(),
                fields: vec![
                    Value::Choice(0),
                    crate::blob(b"k"),
                    Value::U64(0),
                    Value::I64(0),
                    Value::U64(2_000_000),
                    false.into(),
                    Value::Absent,
                ],
                bytes: 2_000_002,
            },
            Event::Message(get(&sp, "k")),
        ]
    );
    assert_eq!(server.received_bytes(), wire.len() as u64);
    // Both requests are owed a reply, the discarded one first.
    assert_eq!(server.pending_replies(), 2);
    let mut out = BytesMut::new();
    server
        .send(
            &msg(&sp, "ServerError", vec!["object too large for cache".into()]),
            &mut out,
            now,
        )
        .unwrap();
    server.send(&msg(&sp, "End", vec![]), &mut out, now).unwrap();
    assert_eq!(&out[..], b"SERVER_ERROR object too large for cache\r\nEND\r\n");
}

fn misuse(r: Result<(), Error>, says: &str) {
    match r {
        Err(Error::Misuse(m)) => assert!(m.contains(says), "`{m}` does not say {says:?}"),
        other => panic!("expected misuse ({says}), got {other:?}"),
    }
}

#[test]
fn sending_what_the_spec_does_not_allow_is_misuse() {
    let sp = spec("greeting");
    let now = Instant::now();
    let mut client = session(&sp, Role::Client, &[]);
    let mut out = BytesMut::new();
    let name = msg(&sp, "Name", vec!["Ann".into()]);
    misuse(
        client.send(&name, &mut out, now),
        "may not send `Name` in state `Start`",
    );
    misuse(
        client.send(&msg(&sp, "Welcome", vec!["Ann".into()]), &mut out, now),
        "`Welcome` is a server message",
    );
    misuse(
        client.send(&Message::new(99, vec![]), &mut out, now),
        "no message #99",
    );
    misuse(client.shutdown_write(now), "may not half-close in state `Start`");
    assert!(out.is_empty());
    feed(&mut client, b"HELLO?");
    // A name that cannot be encoded changes nothing.
    misuse(
        client.send(&msg(&sp, "Name", vec!["A\r\nB".into()]), &mut out, now),
        "cannot encode `Name`",
    );
    assert!(out.is_empty());
    assert_eq!(client.state_name(), "Asking");
    client.send(&name, &mut out, now).unwrap();
    misuse(
        client.send(&name, &mut out, now),
        "may not send `Name` in state `Answer`",
    );
    feed(&mut client, b"Hello, Ann!\r\n");
    assert!(client.is_finished());
    misuse(client.send(&name, &mut out, now), "closed the conversation");
    assert_eq!(&out[..], b"Ann\r\n");
}

#[test]
fn a_server_reply_out_of_turn_is_misuse() {
    let sp = spec("memcached");
    let now = Instant::now();
    let mut server = session(&sp, Role::Server, &[]);
    let mut out = BytesMut::new();
    misuse(
        server.send(&msg(&sp, "Stored", vec![]), &mut out, now),
        "the server may not send `Stored` in state `Commands`",
    );
    feed(&mut server, b"get k\r\n");
    misuse(
        server.send(&msg(&sp, "Stored", vec![]), &mut out, now),
        "`Stored` is not a reply the server may send now",
    );
    server.send(&msg(&sp, "End", vec![]), &mut out, now).unwrap();
    assert_eq!(&out[..], b"END\r\n");
}

/// Without `pipelined`, a client waits for each reply before the next request.
#[test]
fn a_second_request_before_the_reply_is_misuse_when_not_pipelined() {
    let sp = crate::compile(
        "kv",
        r#"protocol kv {
            framing line("\r\n", max = 256);
            client message Get = "GET " key: token;
            server message Value = "VALUE " value: text;
            server message Missing = "MISSING";
            state Ready {
                exchange Get -> Value | Missing;
                client closes;
            }
        }"#,
    );
    let now = Instant::now();
    let mut client = session(&sp, Role::Client, &[]);
    let mut out = BytesMut::new();
    let get = msg(&sp, "Get", vec!["a".into()]);
    client.send(&get, &mut out, now).unwrap();
    misuse(client.send(&get, &mut out, now), "`kv` is not pipelined");
    assert_eq!(&out[..], b"GET a\r\n");
    feed(&mut client, b"MISSING\r\n");
    client.send(&get, &mut out, now).unwrap();
}

/// Sessions of every spec, both sides, with the requests each side may
/// have sent, to feed arbitrary bytes to.
fn every_session() -> Vec<(String, Session)> {
    let mut out = Vec::new();
    for name in ["daytime", "echo", "greeting", "memcached_get", "memcached"] {
        let sp = spec(name);
        for role in [Role::Client, Role::Server] {
            let first = match (name, role) {
                ("greeting", Role::Server) => vec![msg(&sp, "Prompt", vec![])],
                ("memcached_get" | "memcached", Role::Client) => vec![get(&sp, "k"), get(&sp, "k")],
                _ => vec![],
            };
            out.push((format!("{name} {role}"), session(&sp, role, &first)));
        }
    }
    out
}

fn nasty_input() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let token = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        Just(b"\r\n".to_vec()),
        Just(b"VALUE k 0 5\r\n".to_vec()),
        Just(b"VALUE k 0 99999999999\r\n".to_vec()),
        Just(b"set k 0 0 3\r\n".to_vec()),
        Just(b"set k 0 0 1048577 noreply\r\n".to_vec()),
        Just(b"END\r\n".to_vec()),
        Just(b"HELLO?".to_vec()),
        Just(b"Hello, ".to_vec()),
        Just(b"STAT ".to_vec()),
        Just(b"get a b\r\n".to_vec()),
        Just(b"-".to_vec()),
    ];
    prop::collection::vec(token, 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever arrives, in whatever pieces, every session answers with
    /// events or a typed error, and stops at the first error.
    #[test]
    fn arbitrary_bytes_never_panic(pieces in nasty_input(), eof in any::<bool>()) {
        for (what, mut s) in every_session() {
            let mut buf = BytesMut::new();
            let mut failed = false;
            let mut events = 0;
            let total: usize = pieces.iter().map(Vec::len).sum();
            'feed: for piece in &pieces {
                buf.extend_from_slice(piece);
                loop {
                    match s.receive(&mut buf, Instant::now()) {
                        Ok(Some(_)) => {
                            events += 1;
                            prop_assert!(events <= total, "{}: events without input", what);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            prop_assert!(!e.to_string().is_empty(), "{}", what);
                            failed = true;
                            break 'feed;
                        }
                    }
                }
            }
            if eof && !failed {
                let _ = s.receive_eof(&mut buf, Instant::now());
            }
        }
    }
}

/// Bytes written by hand keep the session in step: a line the server's
/// `otherwise` answers makes that reply owed, a whole request is taken as
/// sent, and bytes that end mid-message are refused without a change.
#[test]
fn raw_bytes_keep_the_session_in_step() {
    use protocol_runtime::session::Sent;
    let sp = spec("memcached");
    let now = Instant::now();
    let mut client = session(&sp, Role::Client, &[]);
    let sent = client.send_bytes(b"frobnicate now\r\nget k\r\n", now).unwrap();
    assert_eq!(
        sent,
        vec![
            Sent::Unrecognized("frobnicate now".into()),
            Sent::Message(get(&sp, "k"))
        ]
    );
    assert_eq!(client.pending_replies(), 2);
    let (events, err) = feed(&mut client, b"ERROR\r\nEND\r\n");
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        events,
        vec![
            Event::Message(msg(&sp, "Error", vec![Value::Absent])),
            Event::Message(msg(&sp, "End", vec![]))
        ]
    );
    assert_eq!(client.pending_replies(), 0);
    // Half a request: refused, and nothing changed.
    let e = client.send_bytes(b"get k", now).unwrap_err();
    assert!(e.to_string().contains("middle of a message"), "{e}");
    assert_eq!(client.pending_replies(), 0);
    // A server may send its replies by hand too.
    let mut server = session(&sp, Role::Server, &[]);
    let (events, _) = feed(&mut server, b"get k\r\n");
    assert_eq!(events.len(), 1);
    let sent = server.send_bytes(b"VALUE k 0 1\r\nx\r\nEND\r\n", now).unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(server.pending_replies(), 0);
    // What the spec does not allow here is refused.
    let e = server.send_bytes(b"END\r\n", now).unwrap_err();
    assert!(matches!(e, Error::Misuse(_)), "{e}");
}
