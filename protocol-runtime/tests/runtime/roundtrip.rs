//! Encode-then-decode identity for every message of every shipped spec, exact
//! encodings as byte literals, and encoding errors.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::BytesMut;
use proptest::prelude::*;
use protocol_runtime::engine::{encode, encode_in, Context, Decoded, Decoder};
use protocol_runtime::layout::FieldType;
use protocol_runtime::spec::Protocol;
use protocol_runtime::{Message, Value};

use crate::{blob, spec};

mod cases;
mod wire;

use cases::{cases, i, list, list_max, s, u};

const SPECS: [&str; 6] = [
    "daytime",
    "echo",
    "greeting",
    "memcached_get",
    "memcached",
    "modbus",
];

/// Encodes `values` as message `name`, decodes the bytes back and checks
/// that the same message comes out, with every byte consumed.
pub(super) fn roundtrip(sp: &Protocol, name: &str, values: &[Value]) -> Vec<u8> {
    let id = sp.message(name).unwrap();
    let mut out = BytesMut::new();
    encode_in(&sp.types, sp.max_depth, &sp.messages[id].layout, values, &mut out)
        .unwrap_or_else(|e| panic!("{name} {values:?} does not encode: {e}"));
    let wire = out.to_vec();
    let mut decoder = Decoder::new();
    let decoded = decoder
        .decode(sp, &[id], &mut out, &Context { state: "t" })
        .unwrap_or_else(|e| {
            panic!(
                "{name} {:?} does not decode: {e}",
                wire.escape_ascii().to_string()
            )
        });
    assert_eq!(
        decoded,
        Some(Decoded::Message(Message::new(id, values.to_vec()))),
        "{name} from {:?}",
        wire.escape_ascii().to_string()
    );
    assert!(out.is_empty(), "{name}: {} bytes left", out.len());
    assert_eq!(decoder.offset(), wire.len() as u64);
    wire
}

#[test]
fn every_message_of_every_spec_round_trips() {
    for name in SPECS {
        let sp = spec(name);
        for (m, values) in cases(name) {
            roundtrip(&sp, m, &values);
        }
    }
}

/// The hand-built cases cover every message, both sides of every optional
/// part and flag, every choice option, short and long lists, and every byte
/// value in every bytes field.
#[test]
fn the_cases_cover_every_message_option_and_flag() {
    for name in SPECS {
        let sp = spec(name);
        let cases = cases(name);
        for m in &sp.messages {
            let mine: Vec<&Vec<Value>> = cases
                .iter()
                .filter(|(c, _)| *c == m.name)
                .map(|(_, v)| v)
                .collect();
            assert!(!mine.is_empty(), "{name}: no case for `{}`", m.name);
            for (f, def) in m.layout.fields.iter().enumerate() {
                let seen: Vec<&Value> = mine.iter().map(|v| &v[f]).collect();
                let what = format!("{name}: `{}.{}`", m.name, def.name);
                if def.optional {
                    assert!(seen.iter().any(|v| **v == Value::Absent), "{what} never absent");
                    assert!(seen.iter().any(|v| **v != Value::Absent), "{what} never present");
                }
                match &def.ty {
                    FieldType::Flag => {
                        assert!(seen.contains(&&Value::Bool(true)), "{what} never on");
                        assert!(seen.contains(&&Value::Bool(false)), "{what} never off");
                    }
                    FieldType::Choice(options) => {
                        let chosen: HashSet<usize> = seen
                            .iter()
                            .filter_map(|v| match v {
                                Value::Choice(c) => Some(*c),
                                _ => None,
                            })
                            .collect();
                        assert_eq!(chosen.len(), options.len(), "{what}: options {chosen:?}");
                    }
                    FieldType::List { .. } => {
                        let lens: Vec<usize> = seen
                            .iter()
                            .filter_map(|v| match v {
                                Value::List(l) => Some(l.len()),
                                _ => None,
                            })
                            .collect();
                        assert!(lens.contains(&1), "{what}: no list of one");
                        assert!(lens.iter().any(|l| *l > 1), "{what}: no list of several");
                    }
                    FieldType::Bytes => {
                        // Every byte its frame can hold: a line's holds no
                        // byte of its (shortest) end.
                        let barred = line_end_bytes(&m.layout, f);
                        let holds_all = |b: &[u8]| {
                            (0..=255u8)
                                .filter(|x| !barred.contains(x))
                                .all(|x| b.contains(&x))
                        };
                        let mut every = seen.iter().any(|v| v.as_bytes().is_some_and(holds_all));
                        // A Modbus frame holds at most 252 bytes of PDU data
                        // (the length's 254 less unit and function code):
                        // its cases hold every byte value between them.
                        if !every && name == "modbus" {
                            let union: Vec<u8> = seen
                                .iter()
                                .filter_map(|v| v.as_bytes())
                                .flatten()
                                .copied()
                                .collect();
                            every = holds_all(&union);
                        }
                        assert!(every, "{what}: no case holds every byte value");
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The bytes of the shortest end of the line holding field `f`, if any.
fn line_end_bytes(layout: &protocol_runtime::layout::MessageLayout, f: usize) -> Vec<u8> {
    use protocol_runtime::layout::{Framing, ItemKind, Pattern};
    fn holds(p: &Pattern, f: usize) -> bool {
        p.items.iter().any(|i| match &i.kind {
            ItemKind::Field(id) => *id as usize == f,
            ItemKind::Optional { pattern, .. }
            | ItemKind::Repeat { pattern, .. }
            | ItemKind::If { pattern, .. }
            | ItemKind::Sized { pattern, .. } => holds(pattern, f),
            ItemKind::Alternatives(alts) => alts.iter().any(|a| holds(a, f)),
            ItemKind::Literal(_) | ItemKind::Bits { .. } => false,
        })
    }
    for seg in &layout.segments {
        if let Framing::Line {
            delimiter,
            also_ends,
            pattern,
            ..
        } = &seg.framing
        {
            if holds(pattern, f) {
                let shortest = also_ends
                    .iter()
                    .chain([delimiter])
                    .min_by_key(|d| d.len())
                    .unwrap_or(delimiter);
                return shortest.clone();
            }
        }
    }
    Vec::new()
}

#[test]
fn exact_encodings() {
    let mc = spec("memcached");
    let get = spec("memcached_get");
    let gr = spec("greeting");
    let echo = spec("echo");
    let daytime = spec("daytime");
    let modbus = spec("modbus");
    let cases: Vec<(&Protocol, &str, Vec<Value>, &[u8])> = vec![
        (
            &mc,
            "Set",
            vec![
                Value::Choice(0),
                s("k"),
                u(0),
                i(0),
                u(5),
                true.into(),
                blob(b"hello"),
            ],
            b"set k 0 0 5 noreply\r\nhello\r\n",
        ),
        (
            &mc,
            "Set",
            vec![
                Value::Choice(3),
                s("k"),
                u(9),
                i(-1),
                u(2),
                false.into(),
                blob(b"\r\n"),
            ],
            b"append k 9 -1 2\r\n\r\n\r\n",
        ),
        (
            &mc,
            "Cas",
            vec![s("k"), u(1), i(2), u(1), u(77), true.into(), blob(b"x")],
            b"cas k 1 2 1 77 noreply\r\nx\r\n",
        ),
        (
            &mc,
            "Get",
            vec![Value::Choice(1), list(&["a", "b", "c"])],
            b"gets a b c\r\n",
        ),
        (
            &mc,
            "Gat",
            vec![Value::Choice(0), i(-1), list(&["a"])],
            b"gat -1 a\r\n",
        ),
        (
            &mc,
            "FlushAll",
            vec![Value::Absent, true.into()],
            b"flush_all noreply\r\n",
        ),
        (&mc, "FlushAll", vec![i(30), false.into()], b"flush_all 30\r\n"),
        (&mc, "Stats", vec![Value::Absent], b"stats\r\n"),
        (
            &mc,
            "Arith",
            vec![Value::Choice(1), s("n"), u(18446744073709551615), false.into()],
            b"decr n 18446744073709551615\r\n",
        ),
        (&mc, "Number", vec![u(42)], b"42\r\n"),
        (&mc, "Stat", vec![s("pid"), s("1 2")], b"STAT pid 1 2\r\n"),
        (
            &get,
            "Value",
            vec![s("k"), u(3), u(2), u(42), blob(b"hi")],
            b"VALUE k 3 2 42\r\nhi\r\n",
        ),
        (
            &get,
            "Value",
            vec![s("k"), u(0), u(0), Value::Absent, blob(b"")],
            b"VALUE k 0 0\r\n\r\n",
        ),
        (&get, "Error", vec![Value::Absent], b"ERROR\r\n"),
        (&get, "Error", vec![s("why")], b"ERROR why\r\n"),
        (&gr, "Prompt", vec![], b"HELLO?"),
        (&gr, "Name", vec![s("Ann")], b"Ann\r\n"),
        (&gr, "Welcome", vec![s("Ann")], b"Hello, Ann!\r\n"),
        (&echo, "Data", vec![blob(b"\x00\xff")], b"\x00\xff"),
        (&daytime, "Time", vec![s("noon")], b"noon\r\n"),
        (
            &modbus,
            "ReadHoldingRegisters",
            vec![u(1), u(1), u(0), u(2)],
            b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x02",
        ),
        (
            &modbus,
            "WriteMultipleRegisters",
            vec![
                u(0x1234),
                u(1),
                u(2),
                u(2),
                u(4),
                Value::List(vec![u(10), u(0x102)]),
            ],
            b"\x12\x34\x00\x00\x00\x0b\x01\x10\x00\x02\x00\x02\x04\x00\x0a\x01\x02",
        ),
        (
            &modbus,
            "Registers",
            vec![u(1), u(1), u(3), u(4), Value::List(vec![u(0), u(10)])],
            b"\x00\x01\x00\x00\x00\x07\x01\x03\x04\x00\x00\x00\x0a",
        ),
        (
            &modbus,
            "Exception",
            vec![u(2), u(1), u(0x81), u(2)],
            b"\x00\x02\x00\x00\x00\x03\x01\x81\x02",
        ),
    ];
    for (sp, name, values, want) in cases {
        let values = crate::coerced(sp, name, values);
        let wire = roundtrip(sp, name, &values);
        assert_eq!(
            wire.escape_ascii().to_string(),
            want.escape_ascii().to_string(),
            "{name} {values:?}"
        );
    }
}

/// A `raw(len)` length is computed from the data, whatever the caller put in it.
#[test]
fn raw_lengths_are_derived_on_encode() {
    let mc = spec("memcached");
    let layout = &mc.messages[mc.message("Set").unwrap()].layout;
    for given in [Value::Absent, u(99), u(0), s("nonsense")] {
        let mut out = BytesMut::new();
        let values = vec![
            Value::Choice(0),
            s("k"),
            u(0),
            i(0),
            given.clone(),
            false.into(),
            blob(b"hello"),
        ];
        encode(layout, &values, &mut out).unwrap();
        assert_eq!(&out[..], b"set k 0 0 5\r\nhello\r\n", "len given as {given:?}");
    }
}

/// An encoding error says what is wrong and leaves the output as it was.
#[test]
fn encoding_errors_leave_the_output_untouched() {
    let mc = spec("memcached");
    let get = spec("memcached_get");
    let max = list_max(&get, "Get");
    let too_many: Vec<String> = (0..=max).map(|k| format!("k{k}")).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let set = |key: Value, flags: Value, exptime: Value| {
        vec![
            Value::Choice(0),
            key,
            flags,
            exptime,
            u(0),
            false.into(),
            blob(b"x"),
        ]
    };
    let over = format!("has {} items", max + 1);
    let cases: Vec<(&Protocol, &str, Vec<Value>, &str)> = vec![
        (&mc, "Set", set(s("a b"), u(0), i(0)), "0x20"),
        (&mc, "Set", set(s(""), u(0), i(0)), "empty"),
        (&mc, "Set", set(s(&"k".repeat(251)), u(0), i(0)), "251 bytes"),
        (&mc, "Set", set(s("k\r\n"), u(0), i(0)), "delimiter"),
        (
            &mc,
            "Set",
            set(s("k"), u(u32::MAX as u64 + 1), i(0)),
            "out of range",
        ),
        (&mc, "Set", set(s("k"), i(-1), i(0)), "out of range"),
        (&mc, "Set", set(s("k"), s("7"), i(0)), "integer"),
        (&mc, "Set", set(Value::Absent, u(0), i(0)), "required"),
        (
            &mc,
            "Set",
            vec![
                Value::Choice(5),
                s("k"),
                u(0),
                i(0),
                u(0),
                false.into(),
                blob(b"x"),
            ],
            "option 5",
        ),
        (&mc, "Stats", vec![s("a\r\nb")], "delimiter"),
        (&mc, "Quit", vec![Value::Absent], "1 values given for 0 fields"),
        (
            &get,
            "Get",
            vec![Value::Choice(0), Value::List(vec![])],
            "0 items",
        ),
        (&get, "Get", vec![Value::Choice(0), list(&too_many)], &over),
        (
            &get,
            "ClientError",
            vec![s(&"x".repeat(2036))],
            "2049 bytes exceeds its max of 2048",
        ),
    ];
    for (sp, name, values, why) in cases {
        let mut out = BytesMut::from(&b"earlier"[..]);
        let err = encode(&sp.messages[sp.message(name).unwrap()].layout, &values, &mut out)
            .expect_err(&format!("{name} {values:?} encodes"));
        assert!(
            err.to_string().contains(why),
            "{name}: `{err}` does not say {why:?}"
        );
        assert_eq!(&out[..], b"earlier", "{name}: output changed on error");
    }
    // One byte under: exactly the line's max encodes and decodes.
    roundtrip(&get, "ClientError", &[s(&"x".repeat(2035))]);
}

/// A value whose end and the delimiter together hold an earlier delimiter
/// ("a|" then "||") cannot be read back as itself: encode must refuse it.
#[test]
fn a_value_ending_in_part_of_a_multibyte_delimiter_is_refused_or_survives() {
    let sp = crate::compile(
        "pipes",
        r#"protocol pipes {
            framing line("||", max = 64);
            client message Say = "SAY " words: text;
            server message Ok = "OK";
            state Ready { exchange Say -> Ok; client closes; }
        }"#,
    );
    for words in ["a|", "|", "a||b", "|a|", "plain"] {
        let id = sp.message("Say").unwrap();
        let values = vec![s(words)];
        let mut out = BytesMut::new();
        if encode(&sp.messages[id].layout, &values, &mut out).is_err() {
            assert!(words.contains('|'), "{words:?} refused");
            continue;
        }
        let wire = out.to_vec();
        let decoded = Decoder::new().decode(&sp, &[id], &mut out, &Context { state: "t" });
        assert_eq!(
            decoded.ok().flatten(),
            Some(Decoded::Message(Message::new(id, values))),
            "{words:?} sent as {:?}",
            wire.escape_ascii().to_string()
        );
        assert!(out.is_empty(), "{words:?}: {} bytes left over", out.len());
    }
}

/// Length-prefixed messages, as the language reference shows them: the
/// prefix counts the payload, not itself.
#[test]
fn length_framed_messages_from_the_reference() {
    let sp = crate::compile(
        "packets",
        r#"protocol packets {
            client message Request = length(u16be, max = 4 KiB) { "REQ " body: bytes };
            server message Response = length(varint, max = 4 KiB) { body: bytes };
            state Idle {
                exchange Request -> Response;
                client closes;
            }
        }"#,
    );
    let long: Vec<u8> = (0..300u32).map(|i| (i % 256) as u8).collect();
    let cases: [(&str, &[u8], Vec<u8>); 3] = [
        ("Request", b"hi", b"\x00\x06REQ hi".to_vec()),
        ("Response", b"", b"\x00".to_vec()),
        ("Response", &long, [&b"\xac\x02"[..], &long].concat()),
    ];
    for (name, body, want) in cases {
        let values = [blob(body)];
        assert_eq!(roundtrip(&sp, name, &values), want, "{name}");
        let id = sp.message(name).unwrap();
        for cut in 0..want.len() {
            let mut decoder = Decoder::new();
            let mut buf = BytesMut::from(&want[..cut]);
            let cx = Context { state: "t" };
            assert_eq!(
                decoder.decode(&sp, &[id], &mut buf, &cx).unwrap(),
                None,
                "{name} cut at {cut}"
            );
            buf.extend_from_slice(&want[cut..]);
            let got = decoder.decode(&sp, &[id], &mut buf, &cx).unwrap();
            assert_eq!(
                got,
                Some(Decoded::Message(Message::new(id, values.to_vec()))),
                "{name} cut at {cut}"
            );
        }
    }
    // A declared length over the max, and a varint that never ends.
    let cx = Context { state: "Idle" };
    let response = [sp.message("Response").unwrap()];
    let mut buf = BytesMut::from(&b"\x81\x20"[..]);
    match Decoder::new().decode(&sp, &response, &mut buf, &cx) {
        Err(protocol_runtime::Error::TooLong { what, len, max, .. }) => {
            assert_eq!((what, len, max), ("length-prefixed frame", 4097, 4096))
        }
        other => panic!("{other:?}"),
    }
    let mut buf = BytesMut::from(&[0x80u8; 11][..]);
    match Decoder::new().decode(&sp, &response, &mut buf, &cx) {
        Err(protocol_runtime::Error::Peer(v)) => assert!(v.expected.contains("varint"), "{v}"),
        other => panic!("{other:?}"),
    }
}

/// A generated value for a field of this type, within its value set.
fn arb_field(def: &protocol_runtime::layout::FieldDef) -> BoxedStrategy<Value> {
    let (Some(set), FieldType::Bin(b)) = (&def.constraint, &def.ty) else {
        return arb_type(&def.ty);
    };
    let signed = b.signed;
    let ranges: Vec<(i128, i128)> = set.0.clone();
    (0..ranges.len(), any::<u64>(), any::<bool>())
        .prop_map(move |(r, x, small)| {
            let (lo, hi) = ranges[r];
            let span = (hi - lo) as u128 + 1;
            // Small values half the time: counts that agree with short data.
            let span = if small { span.min(17) } else { span };
            let v = lo + (x as u128 % span) as i128;
            if signed {
                Value::I64(v as i64)
            } else {
                Value::U64(v as u64)
            }
        })
        .boxed()
}

/// A generated value for a field of this type.
fn arb_type(ty: &FieldType) -> BoxedStrategy<Value> {
    match ty {
        FieldType::Bin(b) => {
            let k = b.kind();
            if k.signed {
                (k.min_value() as i64..=k.max_value() as i64)
                    .prop_map(Value::I64)
                    .boxed()
            } else {
                (0..=k.max_value() as u64).prop_map(Value::U64).boxed()
            }
        }
        FieldType::Sized { text: false, max, .. } => {
            let max = *max;
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..4),
                prop::collection::vec(any::<u8>(), 0..max.min(600)),
            ]
            .prop_map(|b| blob(&b))
            .boxed()
        }
        FieldType::Sized { text: true, max, .. } => {
            let max = *max;
            any::<String>()
                .prop_filter("max", move |t| t.len() <= max)
                .prop_map(Value::Str)
                .boxed()
        }
        FieldType::Array { item, max, .. } => {
            let max = (*max).min(130);
            prop_oneof![
                prop::collection::vec(arb_type(item), 0..4),
                prop::collection::vec(arb_type(item), 0..max),
            ]
            .prop_map(Value::List)
            .boxed()
        }
        FieldType::Token {
            max,
            except: Some(except),
        } => {
            let (max, except) = (*max, except.clone());
            prop::collection::vec(
                any::<u8>().prop_filter("token byte", move |b| {
                    !except.contains(b) && *b != b'\n' && *b != b'\r'
                }),
                1..20,
            )
            .prop_filter("token max", move |t| t.len() <= max)
            .prop_map(|t| Value::Bytes(t.into()))
            .boxed()
        }
        FieldType::Token { max, except: None } => {
            let max = *max;
            prop::collection::vec(
                any::<char>().prop_filter("token char", |c| !c.is_ascii_control() && *c != ' '),
                1..20,
            )
            .prop_map(|cs| cs.into_iter().collect::<String>())
            .prop_filter("token max", move |t| t.len() <= max)
            .prop_map(Value::Str)
            .boxed()
        }
        FieldType::Text => any::<String>()
            .prop_filter("no delimiter", |t| !t.contains("\r\n"))
            .prop_map(Value::Str)
            .boxed(),
        FieldType::Bytes => prop::collection::vec(any::<u8>(), 0..600)
            .prop_map(|b| blob(&b))
            .boxed(),
        FieldType::Int(k) if k.signed => (k.min_value() as i64..=k.max_value() as i64)
            .prop_map(Value::I64)
            .boxed(),
        FieldType::Int(k) => (0..=k.max_value() as u64).prop_map(Value::U64).boxed(),
        FieldType::Choice(options) => (0..options.len()).prop_map(Value::Choice).boxed(),
        FieldType::Flag => any::<bool>().prop_map(Value::Bool).boxed(),
        // Values of named types need the protocol: see `arb_typed`.
        FieldType::Type(_) => Just(Value::Absent).boxed(),
        FieldType::Bit { width: 1 } => any::<bool>().prop_map(Value::Bool).boxed(),
        FieldType::Domain { .. } => wire::arb_domain().prop_map(Value::Str).boxed(),
        FieldType::Rest { item, .. } => prop::collection::vec(arb_type(item), 0..8)
            .prop_map(Value::List)
            .boxed(),
        FieldType::Terminated { text: true, .. } => any::<String>()
            .prop_filter("no terminator", |t| !t.contains('\0'))
            .prop_map(Value::Str)
            .boxed(),
        FieldType::Terminated { text: false, .. } => prop::collection::vec(1..=255u8, 0..64)
            .prop_map(|b| blob(&b))
            .boxed(),
        FieldType::Bit { width } => (0..=(u64::MAX >> (64 - *width as u32)))
            .prop_map(Value::U64)
            .boxed(),
        FieldType::List { item, min, max, .. } => prop::collection::vec(arb_type(item), *min..=(*max).min(8))
            .prop_map(Value::List)
            .boxed(),
    }
}

/// A value of a field that may hold values of named types, nested at most
/// `depth` deep (a choice's branches that nest are left out at the bottom).
fn arb_typed(sp: &Arc<Protocol>, ty: &FieldType, depth: u32) -> BoxedStrategy<Value> {
    use protocol_runtime::spec::TypeKind;
    match ty {
        FieldType::Type(t) => match &sp.types[*t].kind {
            TypeKind::Struct(layout) => {
                let layout = layout.clone();
                let fields: Vec<BoxedStrategy<Value>> = layout
                    .fields
                    .iter()
                    .map(|d| {
                        if d.derived {
                            Just(Value::Absent).boxed()
                        } else if d.optional {
                            prop_oneof![Just(Value::Absent), arb_typed(sp, &d.ty, depth)].boxed()
                        } else {
                            arb_typed(sp, &d.ty, depth)
                        }
                    })
                    .collect();
                let types = sp.types.clone();
                fields
                    .prop_filter_map("derived fields agree", move |v| {
                        protocol_runtime::engine::derive_in(&types, &layout, &v)
                            .ok()
                            .map(Value::Struct)
                    })
                    .boxed()
            }
            TypeKind::Choice(branches) => {
                let nests = |b: usize| {
                    sp.types[b].layout().is_some_and(|l| {
                        l.fields
                            .iter()
                            .any(|f| matches!(f.ty, FieldType::Type(_) | FieldType::Array { .. }))
                    })
                };
                let each: Vec<BoxedStrategy<Value>> = branches
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| depth > 0 || !nests(**b))
                    .map(|(i, b)| {
                        arb_typed(sp, &FieldType::Type(*b), depth.saturating_sub(1))
                            .prop_map(move |v| Value::Variant(i, Box::new(v)))
                            .boxed()
                    })
                    .collect();
                proptest::strategy::Union::new(each).boxed()
            }
        },
        FieldType::Array { item, .. } | FieldType::Rest { item, .. }
            if matches!(**item, FieldType::Type(_)) =>
        {
            prop::collection::vec(arb_typed(sp, item, depth), 0..4)
                .prop_map(Value::List)
                .boxed()
        }
        other => arb_type(other),
    }
}

/// Values for every field of a message, derived lengths set from their data.
fn arb_message(sp: &Protocol, name: &str) -> BoxedStrategy<Vec<Value>> {
    let sp_arc = Arc::new(sp.clone());
    let layout = sp.messages[sp.message(name).unwrap()].layout.clone();
    let fields: Vec<BoxedStrategy<Value>> = layout
        .fields
        .iter()
        .map(|def| {
            let base = match def.ty {
                FieldType::Type(_) | FieldType::Array { .. } | FieldType::Rest { .. }
                    if !sp.types.is_empty() =>
                {
                    arb_typed(&sp_arc, &def.ty, 3)
                }
                _ => arb_field(def),
            };
            if def.optional {
                prop_oneof![Just(Value::Absent), base].boxed()
            } else {
                base
            }
        })
        .collect();
    let types = sp.types.clone();
    // Derived fields as the encoder computes them; values whose derived
    // fields disagree with the given ones (a coil count the data cannot
    // hold) are drawn again.
    fields
        .prop_filter_map("derived fields agree", move |values| {
            let values = protocol_runtime::engine::derive_in(&types, &layout, &values).ok()?;
            encode_in(&types, usize::MAX, &layout, &values, &mut BytesMut::new()).ok()?;
            Some(values)
        })
        .boxed()
}

/// Any message of a spec, with generated values.
fn arb_any_message(sp: &Protocol) -> BoxedStrategy<(String, Vec<Value>)> {
    let each: Vec<BoxedStrategy<(String, Vec<Value>)>> = sp
        .messages
        .iter()
        .map(|m| {
            let name = m.name.clone();
            arb_message(sp, &m.name)
                .prop_map(move |v| (name.clone(), v))
                .boxed()
        })
        .collect();
    proptest::strategy::Union::new(each).boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn generated_memcached_sets_round_trip(values in arb_message(&spec("memcached"), "Set")) {
        roundtrip(&spec("memcached"), "Set", &values);
    }

    #[test]
    fn generated_memcached_values_round_trip(values in arb_message(&spec("memcached"), "Value")) {
        roundtrip(&spec("memcached"), "Value", &values);
    }

    #[test]
    fn generated_modbus_messages_round_trip((name, values) in arb_any_message(&spec("modbus"))) {
        roundtrip(&spec("modbus"), &name, &values);
    }

    #[test]
    fn generated_redis_messages_round_trip((name, values) in arb_any_message(&spec("redis"))) {
        roundtrip(&spec("redis"), &name, &values);
    }

    #[test]
    fn generated_memcached_stats_round_trip(values in arb_message(&spec("memcached"), "Stat")) {
        roundtrip(&spec("memcached"), "Stat", &values);
    }
}

/// Modbus requests share their header frame and differ by function code in
/// the second: decoded with every request of the state as a candidate, fed
/// one byte at a time, each case comes out as its own message.
#[test]
fn messages_told_apart_after_their_first_frame() {
    let sp = spec("modbus");
    let cx = Context { state: "Open" };
    for role in [
        protocol_runtime::layout::Role::Client,
        protocol_runtime::layout::Role::Server,
    ] {
        let candidates: Vec<usize> = (0..sp.messages.len())
            .filter(|m| sp.messages[*m].role == role)
            .collect();
        for (name, values) in cases("modbus") {
            let id = sp.message(name).unwrap();
            if sp.messages[id].role != role {
                continue;
            }
            let mut wire = BytesMut::new();
            encode(&sp.messages[id].layout, &values, &mut wire).unwrap();
            let mut decoder = Decoder::new();
            let mut buf = BytesMut::new();
            let mut got = None;
            for (n, b) in wire.iter().enumerate() {
                assert!(got.is_none(), "{name}: decoded before byte {n}");
                buf.extend_from_slice(&[*b]);
                got = decoder.decode(&sp, &candidates, &mut buf, &cx).unwrap();
            }
            assert_eq!(
                got,
                Some(Decoded::Message(Message::new(id, values.clone()))),
                "{name}"
            );
            assert!(decoder.between_messages());
        }
    }
    // A header, then a function code no request has: malformed, consumed
    // whole, and the next request decodes.
    // (The spec's fallback `OtherRequest`, which takes any function code,
    // is left out here: the session tries it only after the requests.)
    let requests: Vec<usize> = (0..sp.messages.len())
        .filter(|m| sp.messages[*m].role == protocol_runtime::layout::Role::Client)
        .filter(|m| sp.messages[*m].name != "OtherRequest")
        .collect();
    let mut buf = BytesMut::from(
        &b"\x00\x01\x00\x00\x00\x02\x01\x07\x00\x02\x00\x00\x00\x06\x01\x03\x00\x00\x00\x01"[..],
    );
    let mut decoder = Decoder::new();
    match decoder.decode(&sp, &requests, &mut buf, &cx).unwrap() {
        Some(Decoded::Malformed { found, error, .. }) => {
            assert_eq!(&found[..], b"\x01\x07");
            assert_eq!(error.state, "Open");
        }
        other => panic!("{other:?}"),
    }
    match decoder.decode(&sp, &requests, &mut buf, &cx).unwrap() {
        Some(Decoded::Message(m)) => assert_eq!(sp.messages[m.id].name, "ReadHoldingRegisters"),
        other => panic!("{other:?}"),
    }
    assert_eq!(decoder.offset(), 20);
    // The fallback alone takes that header and function code whole.
    let other = [sp.message("OtherRequest").unwrap()];
    let mut buf = BytesMut::from(&b"\x00\x01\x00\x00\x00\x02\x01\x07"[..]);
    match Decoder::new().decode(&sp, &other, &mut buf, &cx).unwrap() {
        Some(Decoded::Message(m)) => {
            assert_eq!(m.fields[2..], [Value::U64(7), Value::Bytes(Default::default())])
        }
        other => panic!("{other:?}"),
    }
}

/// Counts, sizes and nesting a peer claims are checked against the spec's
/// limits before anything is allocated for them.
#[test]
fn claims_over_the_limits_are_typed_errors() {
    let redis = spec("redis");
    let modbus = spec("modbus");
    let reply = [redis.message("Reply").unwrap()];
    let command = [redis.message("Command").unwrap()];
    let cx = Context { state: "Ready" };
    // `*1\r\n` 100,000 times: an array in an array in ..., past `depth = 32`.
    let mut buf = BytesMut::from("*1\r\n".repeat(100_000).as_bytes());
    match Decoder::new().decode(&redis, &reply, &mut buf, &cx) {
        Err(protocol_runtime::Error::TooDeep { limit, .. }) => assert_eq!(limit, 32),
        other => panic!("{other:?}"),
    }
    // Read no further than the limit: 33 headers of 4 bytes.
    assert!(buf.len() >= 400_000 - 34 * 4, "{} bytes left", buf.len());
    // 32 deep is allowed: the innermost value closes every array.
    let mut ok = "*1\r\n".repeat(31);
    ok.push_str(":7\r\n");
    let mut buf = BytesMut::from(ok.as_bytes());
    assert!(matches!(
        Decoder::new().decode(&redis, &reply, &mut buf, &cx),
        Ok(Some(Decoded::Message(_)))
    ));
    // A count of 2^31, in a reply and in a command.
    for (candidates, bytes) in [(&reply, "*2147483648\r\n"), (&command, "*2147483648\r\n")] {
        let mut buf = BytesMut::from(bytes.as_bytes());
        match Decoder::new().decode(&redis, candidates, &mut buf, &cx) {
            Err(protocol_runtime::Error::TooMany { count, max, .. }) => {
                assert_eq!((count, max), (1 << 31, 1_048_576))
            }
            other => panic!("{other:?}"),
        }
    }
    // A bulk string of 2^31 bytes, over `raw = 512 MiB`.
    let mut buf = BytesMut::from(&b"$2147483648\r\n"[..]);
    match Decoder::new().decode(&redis, &reply, &mut buf, &cx) {
        Err(protocol_runtime::Error::TooLong { len, max, .. }) => {
            assert_eq!((len, max), (1 << 31, 512 << 20))
        }
        other => panic!("{other:?}"),
    }
    // A Modbus length of 0xffff, over `length = 254`.
    let requests: Vec<usize> = (0..modbus.messages.len())
        .filter(|m| modbus.messages[*m].role == protocol_runtime::layout::Role::Client)
        .collect();
    let mut buf = BytesMut::from(&b"\x00\x01\x00\x00\xff\xff\x01\x03"[..]);
    match Decoder::new().decode(&modbus, &requests, &mut buf, &Context { state: "Open" }) {
        Err(protocol_runtime::Error::TooLong { len, max, .. }) => assert_eq!((len, max), (0xffff, 254)),
        other => panic!("{other:?}"),
    }
}

/// A nested reply fed one byte at a time decodes as it does whole.
#[test]
fn nested_values_resume_byte_by_byte() {
    let redis = spec("redis");
    let reply = [redis.message("Reply").unwrap()];
    let cx = Context { state: "Ready" };
    let wire = b"*3\r\n:2\r\n*2\r\n$1\r\nx\r\n$-1\r\n*-1\r\n+OK\r\n";
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for b in wire {
        buf.extend_from_slice(&[*b]);
        while let Some(d) = decoder.decode(&redis, &reply, &mut buf, &cx).unwrap() {
            got.push(d);
        }
    }
    assert_eq!(got.len(), 2, "{got:?}");
    let Decoded::Message(first) = &got[0] else {
        panic!("{got:?}")
    };
    let text = format!("{:?}", first.fields);
    assert_eq!(text, r#"[#5{3, [#2{2}, #5{2, [#3{1, b"x"}, #4{}]}, #6{}]}]"#);
    assert!(decoder.between_messages());
}

/// `bits(...)`: slices from the most significant bit down, flags as
/// booleans, constant slices checked, value sets enforced both ways.
#[test]
fn bit_fields_round_trip_and_check_their_slices() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol-dsl/tests/fixtures/valid/bit-fields.proto");
    let text = std::fs::read_to_string(path).unwrap();
    let sp = crate::compile("bit-fields", &text);
    // dup, qos 1, no retain; topic "a/b", packet id 10, payload "hi".
    let publish = [
        Value::Bool(true),
        u(1),
        Value::Bool(false),
        u(3),
        s("a/b"),
        u(10),
        blob(b"hi"),
    ];
    assert_eq!(
        roundtrip(&sp, "Publish", &publish),
        b"\x3a\x09\x00\x03a/b\x00\x0ahi"
    );
    // QoS 0: no packet id, as `if qos != 0` says; one given is refused.
    let mut qos0 = publish.clone();
    qos0[1] = u(0);
    qos0[5] = Value::Absent;
    assert_eq!(roundtrip(&sp, "Publish", &qos0), b"\x38\x07\x00\x03a/bhi");
    let mut wrong = qos0.clone();
    wrong[5] = u(10);
    let publish_id = sp.message("Publish").unwrap();
    assert!(encode(&sp.messages[publish_id].layout, &wrong, &mut BytesMut::new()).is_err());
    // opcode 2, aa, rd, rcode 3: 0 0010 1 0 1 0 000 0011.
    let query = [
        u(0x1234),
        u(2),
        Value::Bool(true),
        Value::Bool(false),
        Value::Bool(true),
        Value::Bool(false),
        u(3),
    ];
    assert_eq!(roundtrip(&sp, "Query", &query), b"\xf0\x04\x12\x34\x15\x03");
    roundtrip(&sp, "PingReq", &[]);
    // qos 3 is outside `in 0..=2`: refused when encoding, no match when decoding.
    let mut bad = publish.clone();
    bad[1] = u(3);
    let id = sp.message("Publish").unwrap();
    assert!(encode(&sp.messages[id].layout, &bad, &mut BytesMut::new()).is_err());
    let client: Vec<usize> = (0..sp.messages.len())
        .filter(|m| sp.messages[*m].role == protocol_runtime::layout::Role::Client)
        .collect();
    let cx = Context { state: "Connected" };
    let mut buf = BytesMut::from(&b"\x36\x05\x00\x03a/b"[..]);
    assert!(matches!(
        Decoder::new().decode(&sp, &client, &mut buf, &cx),
        Ok(Some(Decoded::Unrecognized { .. }))
    ));
    // A PINGREQ with a reserved bit set matches nothing either.
    let mut buf = BytesMut::from(&b"\xc1\x00"[..]);
    assert!(matches!(
        Decoder::new().decode(&sp, &client, &mut buf, &cx),
        Ok(Some(Decoded::Unrecognized { .. }))
    ));
    // Each message comes out as itself among all three.
    for (name, values) in [
        ("Publish", &publish[..]),
        ("Query", &query[..]),
        ("PingReq", &[][..]),
    ] {
        let id = sp.message(name).unwrap();
        let mut buf = BytesMut::new();
        encode(&sp.messages[id].layout, values, &mut buf).unwrap();
        match Decoder::new().decode(&sp, &client, &mut buf, &cx) {
            Ok(Some(Decoded::Message(m))) => assert_eq!(m.id, id, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// `text(until = "\0")` (a C string) and `u32be[..]` (items to the end of
/// the frame).
#[test]
fn terminated_fields_and_items_to_the_end_of_the_frame() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol-dsl/tests/fixtures/valid/terminated-and-rest.proto");
    let sp = crate::compile("names", &std::fs::read_to_string(path).unwrap());
    assert_eq!(
        roundtrip(&sp, "Hello", &[s("ann"), blob(b"u1")]),
        b"\x00\x08ann\x00u1\x00\x00"
    );
    assert_eq!(
        roundtrip(&sp, "Hello", &[s(""), blob(b"")]),
        b"\x00\x03\x00\x00\x00"
    );
    let ids = Value::List(vec![u(1), u(0xdead_beef)]);
    assert_eq!(
        roundtrip(&sp, "Ids", &[u(5), ids]),
        b"\x00\x09\x05\x00\x00\x00\x01\xde\xad\xbe\xef"
    );
    roundtrip(&sp, "Ids", &[u(0), Value::List(vec![])]);
    // A value holding its terminator cannot be written.
    let hello = sp.message("Hello").unwrap();
    assert!(encode(
        &sp.messages[hello].layout,
        &[s("a\0b"), blob(b"")],
        &mut BytesMut::new()
    )
    .is_err());
    // A user over `max = 64`, and ids that do not fill whole items, do not match.
    let cx = Context { state: "Ready" };
    let long = [&b"\x00\x46a\x00"[..], &[b'u'; 67], b"\x00\x00"].concat();
    let mut buf = BytesMut::from(&long[..]);
    assert!(matches!(
        Decoder::new().decode(&sp, &[hello], &mut buf, &cx),
        Ok(Some(Decoded::Unrecognized { .. }))
    ));
    let ids_id = sp.message("Ids").unwrap();
    let mut buf = BytesMut::from(&b"\x00\x04\x05\x00\x00\x01"[..]);
    assert!(matches!(
        Decoder::new().decode(&sp, &[ids_id], &mut buf, &cx),
        Ok(Some(Decoded::Unrecognized { .. }))
    ));
}
