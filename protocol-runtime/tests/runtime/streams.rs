//! Whole conversations of every shipped spec, fed to a sans-IO `Session`:
//! whole, split at every byte boundary, one byte at a time and split at
//! random points. The events must always be the fixed list written here.

use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use protocol_runtime::layout::Role;
use protocol_runtime::session::{Event, Session};
use protocol_runtime::spec::Protocol;
use protocol_runtime::{Message, Value};

use crate::{blob, msg, spec};

mod conversations;

use conversations::keys;

/// One direction of a conversation, as the receiving side's session sees it.
struct Script {
    spec: Arc<Protocol>,
    role: Role,
    /// What this side sends before anything arrives.
    first: Vec<Message>,
    /// What this side sends once it has received this many events.
    reactions: Vec<(usize, Message)>,
    /// What the peer sends.
    wire: Vec<u8>,
    /// The peer closes after `wire`.
    eof: bool,
    expected: Vec<Event>,
    /// The bytes this side's session must have encoded.
    sent: Vec<u8>,
}

impl Script {
    /// Feeds the wire cut at `cuts` and returns the events.
    fn run(&self, cuts: &[usize]) -> Result<Vec<Event>, String> {
        let now = Instant::now();
        let mut session = Session::new(self.spec.clone(), self.role, now);
        let mut out = BytesMut::new();
        for m in &self.first {
            session
                .send(m, &mut out, now)
                .map_err(|e| format!("send {m:?}: {e}"))?;
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(self.wire.len())).collect();
        cuts.sort_unstable();
        cuts.push(self.wire.len());
        let mut events = Vec::new();
        let mut reactions = self.reactions.iter().peekable();
        let mut buf = BytesMut::new();
        let mut from = 0;
        for cut in cuts {
            buf.extend_from_slice(&self.wire[from..cut]);
            from = cut;
            loop {
                match session.receive(&mut buf, now) {
                    Ok(Some(ev)) => events.push(ev),
                    Ok(None) => break,
                    Err(e) => return Err(format!("after {events:?}: {e}")),
                }
                while let Some((_, m)) = reactions.next_if(|(n, _)| *n == events.len()) {
                    session
                        .send(m, &mut out, now)
                        .map_err(|e| format!("send {m:?}: {e}"))?;
                }
            }
        }
        if self.eof {
            loop {
                let ev = session
                    .receive_eof(&mut buf, now)
                    .map_err(|e| format!("at eof after {events:?}: {e}"))?;
                let closed = ev == Event::Closed;
                events.push(ev);
                if closed {
                    break;
                }
            }
        }
        if !buf.is_empty() {
            return Err(format!("{} bytes left unread after {events:?}", buf.len()));
        }
        if out[..] != self.sent[..] {
            return Err(format!(
                "sent {:?}, expected {:?}",
                out.escape_ascii().to_string(),
                self.sent.escape_ascii().to_string()
            ));
        }
        Ok(events)
    }

    fn check(&self, cuts: &[usize]) {
        match self.run(cuts) {
            Ok(events) => assert_eq!(events, self.expected, "cut at {cuts:?}"),
            Err(e) => panic!("cut at {cuts:?}: {e}"),
        }
    }

    fn whole(&self) {
        self.check(&[]);
    }

    fn every_split(&self) {
        for i in 0..=self.wire.len() {
            self.check(&[i]);
        }
    }

    fn byte_by_byte(&self) {
        let cuts: Vec<usize> = (0..self.wire.len()).collect();
        self.check(&cuts);
    }

    fn random_splits(&self) {
        let mut runner = TestRunner::new(Config::with_cases(48));
        let len = self.wire.len();
        runner
            .run(&prop::collection::vec(0..=len, 1..24), |cuts| {
                let events = self.run(&cuts).map_err(TestCaseError::fail)?;
                prop_assert_eq!(events, self.expected.clone());
                Ok(())
            })
            .unwrap();
    }
}

/// The four ways of feeding a script, one test each.
macro_rules! stream_tests {
    ($($name:ident => $script:expr;)*) => {$(
        mod $name {
            #[test]
            fn whole() {
                $script.whole();
            }
            #[test]
            fn split_at_every_byte_boundary() {
                $script.every_split();
            }
            #[test]
            fn one_byte_at_a_time() {
                $script.byte_by_byte();
            }
            #[test]
            fn split_at_random_points() {
                $script.random_splits();
            }
        }
    )*};
}

stream_tests! {
    memcached_requests => super::conversations::memcached_requests();
    memcached_replies => super::conversations::memcached_replies();
    memcached_get_requests => super::conversations::memcached_get_requests();
    memcached_get_replies => super::conversations::memcached_get_replies();
    greeting_from_server => super::conversations::greeting_from_server("Ann");
    greeting_from_server_utf8_name => super::conversations::greeting_from_server("Zoë the 1st!");
    greeting_from_client => super::conversations::greeting_from_client();
    daytime_from_server => super::conversations::daytime_from_server();
}

#[test]
fn a_client_that_closes_instead_of_answering_the_greeting() {
    let sp = spec("greeting");
    Script {
        first: vec![msg(&sp, "Prompt", vec![])],
        reactions: Vec::new(),
        wire: Vec::new(),
        eof: true,
        expected: vec![Event::Closed],
        sent: b"HELLO?".to_vec(),
        role: Role::Server,
        spec: sp,
    }
    .whole();
}

/// Coalesced input is taken one message per call: the rest stays buffered.
#[test]
fn coalesced_requests_come_out_one_per_receive() {
    let sp = spec("memcached");
    let now = Instant::now();
    let mut server = Session::new(sp.clone(), Role::Server, now);
    let mut buf = BytesMut::from(&b"get a\r\nset b 0 0 1\r\nx\r\ndelete c\r\n"[..]);
    let expect = [
        (msg(&sp, "Get", vec![Value::Choice(0), keys(&["a"])]), 26),
        (
            msg(
                &sp,
                "Set",
                vec![
                    Value::Choice(0),
                    "b".into(),
                    Value::U64(0),
                    Value::I64(0),
                    Value::U64(1),
                    false.into(),
                    blob(b"x"),
                ],
            ),
            10,
        ),
        (msg(&sp, "Delete", vec!["c".into(), false.into()]), 0),
    ];
    for (i, (m, left)) in expect.into_iter().enumerate() {
        assert_eq!(server.receive(&mut buf, now).unwrap(), Some(Event::Message(m)));
        assert_eq!(buf.len(), left, "bytes left after request {i}");
        assert_eq!(server.pending_replies(), i + 1);
    }
    assert_eq!(server.receive(&mut buf, now).unwrap(), None);
    assert_eq!(server.received_bytes(), 33);
}

/// Echo's chunks are whatever is buffered: each read is one chunk, and a
/// chunk never exceeds the spec's 64 KiB.
fn echo_chunks(role: Role, wire: &[u8], cuts: &[usize]) -> Vec<Event> {
    let sp = spec("echo");
    let now = Instant::now();
    let mut session = Session::new(sp.clone(), role, now);
    let mut events = Vec::new();
    let mut buf = BytesMut::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([&wire.len()]) {
        buf.extend_from_slice(&wire[from..cut]);
        from = cut;
        while let Some(ev) = session.receive(&mut buf, now).unwrap() {
            events.push(ev);
        }
    }
    if role == Role::Client {
        // The client half-closes; the server's echoes keep coming.
        session.shutdown_write(now).unwrap();
        assert_eq!(session.state_name(), "Draining");
    }
    events.push(session.receive_eof(&mut buf, now).unwrap());
    assert_eq!(session.state_name(), "Draining");
    events
}

fn chunk_events(sp: &Protocol, name: &str, wire: &[u8], cuts: &[usize]) -> Vec<Event> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(wire.len());
    let mut events: Vec<Event> = bounds
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| Event::Message(msg(sp, name, vec![blob(&wire[w[0]..w[1]])])))
        .collect();
    events.push(Event::Closed);
    events
}

#[test]
fn echo_chunks_follow_the_reads_in_both_directions() {
    let sp = spec("echo");
    let wire: Vec<u8> = b"ping\r\n".iter().copied().chain(0..=255u8).collect();
    for (role, name) in [(Role::Server, "Data"), (Role::Client, "Echoed")] {
        for cuts in [
            vec![],
            vec![1],
            vec![4, 5, 6],
            (1..wire.len()).collect::<Vec<_>>(),
        ] {
            assert_eq!(
                echo_chunks(role, &wire, &cuts),
                chunk_events(&sp, name, &wire, &cuts),
                "{role} receiving, cut at {cuts:?}"
            );
        }
        for i in 0..=wire.len() {
            assert_eq!(
                echo_chunks(role, &wire, &[i]),
                chunk_events(&sp, name, &wire, &[i])
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn echo_chunks_at_random_splits(
        wire in prop::collection::vec(any::<u8>(), 1..400),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
        server in any::<bool>(),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        cuts.sort_unstable();
        let (role, name) = if server { (Role::Server, "Data") } else { (Role::Client, "Echoed") };
        prop_assert_eq!(echo_chunks(role, &wire, &cuts), chunk_events(&spec("echo"), name, &wire, &cuts));
    }
}

#[test]
fn echo_chunk_is_capped_at_64_kib() {
    let sp = spec("echo");
    let wire: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(
        echo_chunks(Role::Server, &wire, &[]),
        chunk_events(&sp, "Data", &wire, &[65536])
    );
}

#[test]
fn daytime_server_ignores_whatever_the_client_sends() {
    let sp = spec("daytime");
    let wire = b"what time is it?\r\n\x00\xff garbage that is no message";
    for cuts in [
        vec![],
        vec![3],
        vec![7, 8, 20],
        (1..wire.len()).collect::<Vec<_>>(),
    ] {
        let now = Instant::now();
        let mut server = Session::new(sp.clone(), Role::Server, now);
        let mut buf = BytesMut::new();
        let mut from = 0;
        let mut ignored = 0;
        for &cut in cuts.iter().chain([&wire.len()]) {
            buf.extend_from_slice(&wire[from..cut]);
            from = cut;
            while let Some(ev) = server.receive(&mut buf, now).unwrap() {
                match ev {
                    Event::Ignored { bytes } => ignored += bytes,
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert!(buf.is_empty(), "ignored input is never buffered");
        }
        assert_eq!(ignored, wire.len(), "cut at {cuts:?}");
        assert_eq!(server.ignored_bytes(), wire.len() as u64);
        // The time still goes out, and ends the conversation.
        let mut out = BytesMut::new();
        server
            .send(&msg(&sp, "Time", vec!["noon".into()]), &mut out, now)
            .unwrap();
        assert_eq!(&out[..], b"noon\r\n");
        assert!(server.is_finished());
    }
}

/// A reply whose last part is optional (`A B?`) may end after `A`: what
/// comes next then belongs to the next request, on both sides.
#[test]
fn a_reply_that_may_end_early() {
    let sp = crate::compile(
        "maybe",
        r#"protocol maybe {
            framing line("\r\n", max = 64);
            pipelined;
            client message Q = "Q " n: u8;
            server message A = "A " n: u8;
            server message B = "B";
            state S {
                exchange Q -> A B?;
                client closes;
            }
        }"#,
    );
    let q = |n: u64| msg(&sp, "Q", vec![Value::U64(n)]);
    let a = |n: u64| msg(&sp, "A", vec![Value::U64(n)]);
    let b = msg(&sp, "B", vec![]);
    let replies = vec![a(1), a(2), b.clone(), a(3)];
    let client = Script {
        spec: sp.clone(),
        role: Role::Client,
        first: vec![q(1), q(2), q(3)],
        reactions: Vec::new(),
        wire: b"A 1\r\nA 2\r\nB\r\nA 3\r\n".to_vec(),
        eof: false,
        expected: replies.iter().cloned().map(Event::Message).collect(),
        sent: b"Q 1\r\nQ 2\r\nQ 3\r\n".to_vec(),
    };
    client.whole();
    client.every_split();
    let server = Script {
        spec: sp.clone(),
        role: Role::Server,
        first: Vec::new(),
        reactions: replies.into_iter().map(|m| (3, m)).collect(),
        wire: b"Q 1\r\nQ 2\r\nQ 3\r\n".to_vec(),
        eof: true,
        expected: vec![
            Event::Message(q(1)),
            Event::Message(q(2)),
            Event::Message(q(3)),
            Event::Closed,
        ],
        sent: b"A 1\r\nA 2\r\nB\r\nA 3\r\n".to_vec(),
    };
    server.whole();
    server.byte_by_byte();

    // Without `pipelined`, the next request may go once the reply may be over.
    let sp = crate::compile(
        "maybe_in_turn",
        r#"protocol maybe_in_turn {
            framing line("\r\n", max = 64);
            client message Q = "Q";
            server message A = "A";
            server message B = "B";
            state S {
                exchange Q -> A B?;
                client closes;
            }
        }"#,
    );
    let now = Instant::now();
    let mut client = Session::new(sp.clone(), Role::Client, now);
    let (q, mut out) = (msg(&sp, "Q", vec![]), BytesMut::new());
    client.send(&q, &mut out, now).unwrap();
    assert!(
        client.send(&q, &mut out, now).is_err(),
        "a request before any reply"
    );
    let mut buf = BytesMut::from(&b"A\r\n"[..]);
    assert_eq!(
        client.receive(&mut buf, now).unwrap(),
        Some(Event::Message(msg(&sp, "A", vec![])))
    );
    client.send(&q, &mut out, now).unwrap();
    assert_eq!(&out[..], b"Q\r\nQ\r\n");
}
