//! The conversations the stream tests feed: every shipped spec, each
//! direction that carries messages, with the events each side must report.

use std::sync::Arc;

use bytes::Bytes;
use protocol_runtime::layout::Role;
use protocol_runtime::session::Event;
use protocol_runtime::spec::Protocol;
use protocol_runtime::{Message, Value};

use super::Script;
use crate::{blob, msg, spec};

/// One request of a conversation and its reply.
struct Step {
    request: Vec<u8>,
    /// The request as a client sends it; `None` for a line no client session
    /// would send (an unknown command).
    sent: Option<Message>,
    /// What the server's session reports for the request.
    received: Event,
    reply: Vec<u8>,
    /// The reply's messages, in order.
    answer: Vec<Message>,
}

fn step(request: &[u8], sent: Message, reply: &[u8], answer: Vec<Message>) -> Step {
    Step {
        request: request.to_vec(),
        received: Event::Message(sent.clone()),
        sent: Some(sent),
        reply: reply.to_vec(),
        answer,
    }
}

/// What the server's session sees: every request, answered as it arrives.
fn requests(spec: Arc<Protocol>, steps: &[Step]) -> Script {
    let mut reactions = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        reactions.extend(s.answer.iter().map(|m| (i + 1, m.clone())));
    }
    Script {
        spec,
        role: Role::Server,
        first: Vec::new(),
        reactions,
        wire: steps.iter().flat_map(|s| s.request.clone()).collect(),
        eof: true,
        expected: steps
            .iter()
            .map(|s| s.received.clone())
            .chain([Event::Closed])
            .collect(),
        sent: steps.iter().flat_map(|s| s.reply.clone()).collect(),
    }
}

/// What the client's session sees: every request sent at once (pipelined),
/// then the replies.
fn replies(spec: Arc<Protocol>, steps: &[Step], server_closes: bool) -> Script {
    let steps: Vec<&Step> = steps.iter().filter(|s| s.sent.is_some()).collect();
    let mut expected: Vec<Event> = steps
        .iter()
        .flat_map(|s| s.answer.iter().cloned().map(Event::Message))
        .collect();
    if server_closes {
        expected.push(Event::Closed);
    }
    Script {
        spec,
        role: Role::Client,
        first: steps.iter().filter_map(|s| s.sent.clone()).collect(),
        reactions: Vec::new(),
        wire: steps.iter().flat_map(|s| s.reply.clone()).collect(),
        eof: server_closes,
        expected,
        sent: steps.iter().flat_map(|s| s.request.clone()).collect(),
    }
}

/// Data that holds a reply's own framing and every byte value.
fn nasty_data() -> Vec<u8> {
    let mut data = b"pre\r\nEND\r\n".to_vec();
    data.extend(0..=255u8);
    data
}

pub(super) fn keys(keys: &[&str]) -> Value {
    Value::List(keys.iter().map(|k| Value::from(*k)).collect())
}

/// Builders for memcached's messages, shared by both memcached specs.
struct Mc {
    sp: Arc<Protocol>,
}

impl Mc {
    fn m(&self, name: &str, fields: Vec<Value>) -> Message {
        msg(&self.sp, name, fields)
    }
    fn bare(&self, name: &str) -> Message {
        self.m(name, vec![])
    }
    fn text(&self, name: &str, text: &str) -> Message {
        self.m(name, vec![text.into()])
    }
    /// `cmd` indexes set, add, replace, append, prepend.
    fn set(&self, cmd: usize, key: &str, flags: u64, exptime: i64, noreply: bool, data: &[u8]) -> Message {
        let len = Value::U64(data.len() as u64);
        let fields = vec![
            Value::Choice(cmd),
            key.into(),
            Value::U64(flags),
            Value::I64(exptime),
            len,
        ];
        self.m(
            "Set",
            fields.into_iter().chain([noreply.into(), blob(data)]).collect(),
        )
    }
    /// `cmd` 0 is get, 1 is gets.
    fn get(&self, cmd: usize, k: &[&str]) -> Message {
        self.m("Get", vec![Value::Choice(cmd), keys(k)])
    }
    fn value(&self, key: &str, flags: u64, cas: Option<u64>, data: &[u8]) -> Message {
        let len = Value::U64(data.len() as u64);
        let cas = cas.map_or(Value::Absent, Value::U64);
        self.m("Value", vec![key.into(), Value::U64(flags), len, cas, blob(data)])
    }
}

fn memcached_conversation() -> (Arc<Protocol>, Vec<Step>) {
    let mc = Mc {
        sp: spec("memcached"),
    };
    let (u, i) = (Value::U64, Value::I64);
    let data = nasty_data();
    let set_k = [&b"set k 0 0 266\r\n"[..], &data, b"\r\n"].concat();
    let two_values = [
        &b"VALUE k 0 266\r\n"[..],
        &data,
        b"\r\nVALUE other 5 3\r\nabc\r\nEND\r\n",
    ]
    .concat();
    let end = || mc.bare("End");
    let arith = |cmd: usize, key: &str, by: u64| {
        mc.m("Arith", vec![Value::Choice(cmd), key.into(), u(by), false.into()])
    };
    let steps = vec![
        step(
            &set_k,
            mc.set(0, "k", 0, 0, false, &data),
            b"STORED\r\n",
            vec![mc.bare("Stored")],
        ),
        step(
            b"get k other\r\n",
            mc.get(0, &["k", "other"]),
            &two_values,
            vec![
                mc.value("k", 0, None, &data),
                mc.value("other", 5, None, b"abc"),
                end(),
            ],
        ),
        step(
            b"gets x\r\n",
            mc.get(1, &["x"]),
            b"VALUE x 1 0 7\r\n\r\nEND\r\n",
            vec![mc.value("x", 1, Some(7), b""), end()],
        ),
        step(b"get nope\r\n", mc.get(0, &["nope"]), b"END\r\n", vec![end()]),
        step(
            b"incr counter 5\r\n",
            arith(0, "counter", 5),
            b"6\r\n",
            vec![mc.m("Number", vec![u(6)])],
        ),
        step(
            b"decr missing 1\r\n",
            arith(1, "missing", 1),
            b"NOT_FOUND\r\n",
            vec![mc.bare("NotFound")],
        ),
        step(
            b"set q 0 0 2 noreply\r\nhi\r\n",
            mc.set(0, "q", 0, 0, true, b"hi"),
            b"",
            vec![],
        ),
        step(
            b"get q\r\n",
            mc.get(0, &["q"]),
            b"VALUE q 0 2\r\nhi\r\nEND\r\n",
            vec![mc.value("q", 0, None, b"hi"), end()],
        ),
        step(
            b"stats\r\n",
            mc.m("Stats", vec![Value::Absent]),
            b"STAT pid 1234\r\nSTAT version 1.6.21\r\nEND\r\n",
            vec![
                mc.m("Stat", vec!["pid".into(), "1234".into()]),
                mc.m("Stat", vec!["version".into(), "1.6.21".into()]),
                end(),
            ],
        ),
        step(
            b"append k 0 0 3\r\nabc\r\n",
            mc.set(3, "k", 0, 0, false, b"abc"),
            b"CLIENT_ERROR bad data chunk\r\n",
            vec![mc.text("ClientError", "bad data chunk")],
        ),
        step(
            b"prepend k 7 -1 0\r\n\r\n",
            mc.set(4, "k", 7, -1, false, b""),
            b"SERVER_ERROR out of memory storing object\r\n",
            vec![mc.text("ServerError", "out of memory storing object")],
        ),
        step(
            b"replace k 0 0 1\r\nz\r\n",
            mc.set(2, "k", 0, 0, false, b"z"),
            b"NOT_STORED\r\n",
            vec![mc.bare("NotStored")],
        ),
        step(
            b"delete k noreply\r\n",
            mc.m("Delete", vec!["k".into(), true.into()]),
            b"",
            vec![],
        ),
        step(
            b"delete k\r\n",
            mc.m("Delete", vec!["k".into(), false.into()]),
            b"NOT_FOUND\r\n",
            vec![mc.bare("NotFound")],
        ),
        step(
            b"cas k 0 0 1 99\r\nx\r\n",
            mc.m(
                "Cas",
                vec!["k".into(), u(0), i(0), u(1), u(99), false.into(), blob(b"x")],
            ),
            b"EXISTS\r\n",
            vec![mc.bare("Exists")],
        ),
        step(
            b"touch q 3600\r\n",
            mc.m("Touch", vec!["q".into(), i(3600), false.into()]),
            b"TOUCHED\r\n",
            vec![mc.bare("Touched")],
        ),
        step(
            b"gats 100 q k\r\n",
            mc.m("Gat", vec![Value::Choice(1), i(100), keys(&["q", "k"])]),
            b"VALUE q 0 2 5\r\nhi\r\nEND\r\n",
            vec![mc.value("q", 0, Some(5), b"hi"), end()],
        ),
        step(
            b"flush_all 10\r\n",
            mc.m("FlushAll", vec![i(10), false.into()]),
            b"OK\r\n",
            vec![mc.bare("Ok")],
        ),
        step(
            b"version\r\n",
            mc.bare("Version"),
            b"VERSION 1.6.21\r\n",
            vec![mc.text("VersionReply", "1.6.21")],
        ),
        step(
            b"verbosity 1 noreply\r\n",
            mc.m("Verbosity", vec![u(1), true.into()]),
            b"",
            vec![],
        ),
        step(
            b"verbosity 9\r\n",
            mc.m("Verbosity", vec![u(9), false.into()]),
            b"ERROR unknown level\r\n",
            vec![mc.text("Error", "unknown level")],
        ),
        unknown(
            b"bogus command\r\n",
            b"ERROR\r\n",
            mc.m("Error", vec![Value::Absent]),
        ),
        step(
            b"stats reset\r\n",
            mc.text("Stats", "reset"),
            b"RESET\r\n",
            vec![mc.bare("Reset")],
        ),
        step(b"quit\r\n", mc.bare("Quit"), b"", vec![]),
    ];
    (mc.sp, steps)
}

/// A line no client session would send, answered by an error line.
fn unknown(request: &[u8], reply: &[u8], answer: Message) -> Step {
    Step {
        request: request.to_vec(),
        sent: None,
        received: Event::Unrecognized {
            frame: Bytes::copy_from_slice(&request[..request.len() - 2]),
        },
        reply: reply.to_vec(),
        answer: vec![answer],
    }
}

pub(super) fn memcached_requests() -> Script {
    let (sp, steps) = memcached_conversation();
    requests(sp, &steps)
}

pub(super) fn memcached_replies() -> Script {
    let (sp, steps) = memcached_conversation();
    // The last request is `quit`: the server answers by closing.
    replies(sp, &steps, true)
}

fn memcached_get_conversation() -> (Arc<Protocol>, Vec<Step>) {
    let mc = Mc {
        sp: spec("memcached_get"),
    };
    let end = || mc.bare("End");
    let all: Vec<u8> = (0..=255u8).collect();
    let abc = [
        &b"VALUE a 3 7\r\n\r\nEND\r\n\r\nVALUE c 0 256\r\n"[..],
        &all,
        b"\r\nEND\r\n",
    ]
    .concat();
    let steps = vec![
        step(
            b"get foo bar\r\n",
            mc.get(0, &["foo", "bar"]),
            b"VALUE foo 0 5\r\nhello\r\nEND\r\n",
            vec![mc.value("foo", 0, None, b"hello"), end()],
        ),
        step(
            b"gets foo\r\n",
            mc.get(1, &["foo"]),
            b"VALUE foo 0 2 42\r\nhi\r\nEND\r\n",
            vec![mc.value("foo", 0, Some(42), b"hi"), end()],
        ),
        step(
            b"get a b c\r\n",
            mc.get(0, &["a", "b", "c"]),
            &abc,
            vec![
                mc.value("a", 3, None, b"\r\nEND\r\n"),
                mc.value("c", 0, None, &all),
                end(),
            ],
        ),
        step(
            b"get missing\r\n",
            mc.get(0, &["missing"]),
            b"END\r\n",
            vec![end()],
        ),
        unknown(b"GET FOO\r\n", b"ERROR\r\n", mc.m("Error", vec![Value::Absent])),
        step(
            b"get big\r\n",
            mc.get(0, &["big"]),
            b"SERVER_ERROR out of memory writing get response\r\n",
            vec![mc.text("ServerError", "out of memory writing get response")],
        ),
        step(
            b"gets k\xc3\xa9y\r\n",
            mc.get(1, &["kéy"]),
            b"ERROR Too many open connections\r\n",
            vec![mc.text("Error", "Too many open connections")],
        ),
    ];
    (mc.sp, steps)
}

pub(super) fn memcached_get_requests() -> Script {
    let (sp, steps) = memcached_get_conversation();
    requests(sp, &steps)
}

pub(super) fn memcached_get_replies() -> Script {
    let (sp, steps) = memcached_get_conversation();
    // Only the client may close in `Ready`.
    replies(sp, &steps, false)
}

pub(super) fn greeting_from_server(name: &str) -> Script {
    let sp = spec("greeting");
    let mut wire = b"HELLO?".to_vec();
    wire.extend_from_slice(format!("Hello, {name}!\r\n").as_bytes());
    Script {
        first: Vec::new(),
        reactions: vec![(1, msg(&sp, "Name", vec![name.into()]))],
        wire,
        eof: true,
        expected: vec![
            Event::Message(msg(&sp, "Prompt", vec![])),
            Event::Message(msg(&sp, "Welcome", vec![name.into()])),
            Event::Closed,
        ],
        sent: format!("{name}\r\n").into_bytes(),
        role: Role::Client,
        spec: sp,
    }
}

pub(super) fn greeting_from_client() -> Script {
    let sp = spec("greeting");
    Script {
        first: vec![msg(&sp, "Prompt", vec![])],
        reactions: vec![(1, msg(&sp, "Welcome", vec!["Ann".into()]))],
        wire: b"Ann\r\n".to_vec(),
        eof: true,
        expected: vec![
            Event::Message(msg(&sp, "Name", vec!["Ann".into()])),
            Event::Closed,
        ],
        sent: b"HELLO?Hello, Ann!\r\n".to_vec(),
        role: Role::Server,
        spec: sp,
    }
}

pub(super) fn daytime_from_server() -> Script {
    let sp = spec("daytime");
    Script {
        first: Vec::new(),
        reactions: Vec::new(),
        wire: b"Tuesday, February 22, 1982 17:37:43-PST\r\n".to_vec(),
        eof: true,
        expected: vec![
            Event::Message(msg(
                &sp,
                "Time",
                vec!["Tuesday, February 22, 1982 17:37:43-PST".into()],
            )),
            Event::Closed,
        ],
        sent: Vec::new(),
        role: Role::Client,
        spec: sp,
    }
}
