//! PostgreSQL's and DNS's messages: encode-then-decode identity, the bytes
//! the real servers send, and hostile claims (lengths, counts, pointers)
//! as typed errors.

use bytes::BytesMut;
use proptest::prelude::*;
use protocol_runtime::engine::{Context, Decoded, Decoder};
use protocol_runtime::spec::Protocol;
use protocol_runtime::{Error, Value};

use super::{arb_any_message, roundtrip};
use crate::spec;

/// A name as the decoder gives it: labels of any bytes, written out and
/// read back as text.
pub(super) fn arb_domain() -> impl Strategy<Value = String> {
    // Labels from a small pool half the time, so that names share suffixes
    // and the owner names of records are compressed.
    let label = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..12),
        Just(b"test".to_vec()),
        Just(b"a".to_vec()),
        Just(b"A".to_vec()),
    ];
    prop::collection::vec(label, 0..5).prop_map(|labels| {
        let mut wire = Vec::new();
        for l in &labels {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        wire.push(0);
        protocol_runtime::domain::read(&wire, 0).expect("a plain name").0
    })
}

/// Decodes `bytes` as one of the messages `names` sends.
fn decode(sp: &Protocol, names: &[&str], bytes: &[u8]) -> Result<Option<Decoded>, Error> {
    let candidates: Vec<usize> = names.iter().map(|n| sp.message(n).unwrap()).collect();
    let mut buf = BytesMut::from(bytes);
    Decoder::new().decode(sp, &candidates, &mut buf, &Context { state: "t" })
}

fn field<'v>(sp: &Protocol, message: &str, values: &'v [Value], name: &str) -> &'v Value {
    let m = &sp.messages[sp.message(message).unwrap()];
    let i = m.layout.fields.iter().position(|f| f.name == name).unwrap();
    &values[i]
}

/// A value of struct `t` with its fields by name (the others absent).
fn record(sp: &Protocol, t: &str, given: &[(&str, Value)]) -> Value {
    let def = sp.types.iter().find(|d| d.name == t).unwrap();
    let layout = def.layout().unwrap();
    let mut values: Vec<Value> = layout.fields.iter().map(|_| Value::Absent).collect();
    for (name, v) in given {
        let i = layout.fields.iter().position(|f| f.name == *name).unwrap();
        values[i] = v.clone();
    }
    Value::Struct(protocol_runtime::engine::derive_in(&sp.types, layout, &values).unwrap())
}

/// One DNS resource record of each kind the spec types, and one it keeps
/// as bytes.
fn arb_record(sp: std::sync::Arc<Protocol>) -> BoxedStrategy<Value> {
    let bytes = |n: std::ops::Range<usize>| {
        prop::collection::vec(any::<u8>(), n).prop_map(|b| Value::Bytes(b.into()))
    };
    (
        arb_domain(),
        0..4u8,
        any::<u16>(),
        any::<u32>(),
        bytes(4..5),
        bytes(16..17),
        arb_domain(),
        bytes(0..40),
        any::<u16>(),
    )
        .prop_map(move |(name, kind, class, ttl, a, aaaa, cname, data, other)| {
            let mut fields = vec![
                ("name", Value::Str(name)),
                ("class", Value::U64(class as u64)),
                ("ttl", Value::U64(ttl as u64)),
            ];
            match kind {
                0 => fields.extend([("rtype", Value::U64(1)), ("a", a)]),
                1 => fields.extend([("rtype", Value::U64(28)), ("aaaa", aaaa)]),
                2 => fields.extend([("rtype", Value::U64(5)), ("cname", Value::Str(cname))]),
                _ => {
                    let rtype = if [1, 5, 28].contains(&other) { 41 } else { other };
                    fields.extend([("rtype", Value::U64(rtype as u64)), ("data", data)])
                }
            }
            record(&sp, "Record", &fields)
        })
        .boxed()
}

fn arb_dns_message(sp: std::sync::Arc<Protocol>) -> impl Strategy<Value = (String, Vec<Value>)> {
    let records = prop::collection::vec(arb_record(sp.clone()), 0..3);
    let q = sp.clone();
    let question = (arb_domain(), any::<u16>(), any::<u16>()).prop_map(move |(n, t, c)| {
        record(
            &q,
            "Question",
            &[
                ("name", Value::Str(n)),
                ("qtype", Value::U64(t as u64)),
                ("qclass", Value::U64(c as u64)),
            ],
        )
    });
    (
        any::<bool>(),
        any::<u16>(),
        0..16u64,
        prop::collection::vec(any::<bool>(), 7),
        0..16u64,
        prop::collection::vec(question, 0..3),
        records.clone(),
        records.clone(),
        records,
    )
        .prop_map(move |(server, id, opcode, flags, rcode, qs, an, ns, ar)| {
            let name = if server { "Response" } else { "Query" };
            let m = &sp.messages[sp.message(name).unwrap()];
            let mut values: Vec<Value> = m.layout.fields.iter().map(|_| Value::Absent).collect();
            let set = |values: &mut Vec<Value>, f: &str, v: Value| {
                let i = m.layout.fields.iter().position(|d| d.name == f).unwrap();
                values[i] = v;
            };
            set(&mut values, "id", Value::U64(id as u64));
            set(&mut values, "opcode", Value::U64(opcode));
            for (f, b) in ["aa", "tc", "rd", "ra", "z", "ad", "cd"].iter().zip(&flags) {
                set(&mut values, f, Value::Bool(*b));
            }
            set(&mut values, "rcode", Value::U64(rcode));
            set(&mut values, "questions", Value::List(qs));
            set(&mut values, "answers", Value::List(an));
            set(&mut values, "authority", Value::List(ns));
            set(&mut values, "additional", Value::List(ar));
            let values = protocol_runtime::engine::derive_in(&sp.types, &m.layout, &values).unwrap();
            (name.to_string(), values)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn generated_postgres_messages_round_trip((name, values) in arb_any_message(&spec("postgres"))) {
        roundtrip(&spec("postgres"), &name, &values);
    }

    #[test]
    fn generated_dns_messages_round_trip((name, values) in arb_dns_message(spec("dns"))) {
        roundtrip(&spec("dns"), &name, &values);
    }
}

/// A DataRow as PostgreSQL 15 sends it for `SELECT 1, NULL, 'x'`.
#[test]
fn a_data_row_with_a_null() {
    let pg = spec("postgres");
    let bytes = b"D\x00\x00\x00\x14\x00\x03\x00\x00\x00\x011\xff\xff\xff\xff\x00\x00\x00\x01x";
    let Ok(Some(Decoded::Message(m))) = decode(&pg, &["DataRow"], bytes) else {
        panic!("not a DataRow")
    };
    let Value::List(columns) = field(&pg, "DataRow", &m.fields, "columns") else {
        panic!("no columns")
    };
    let values: Vec<Option<Vec<u8>>> = columns
        .iter()
        .map(|c| match c {
            Value::Struct(f) => f[1].as_bytes().map(<[u8]>::to_vec),
            _ => panic!("{c:?}"),
        })
        .collect();
    assert_eq!(values, [Some(b"1".to_vec()), None, Some(b"x".to_vec())]);
    assert_eq!(roundtrip(&pg, "DataRow", &m.fields), bytes);
}

/// dnsmasq's answer to `www.test A`: the CNAME's owner and target, and the
/// A record's owner, are compression pointers.
#[test]
fn compressed_names_are_followed() {
    let dns = spec("dns");
    let bytes: &[u8] = b"\x00\x4f\x12\x34\x85\x80\x00\x01\x00\x02\x00\x00\x00\x00\
        \x03www\x04test\x00\x00\x01\x00\x01\
        \xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x00\x00\x08\x05alpha\xc0\x10\
        \xc0\x26\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\xc0\x00\x02\x01";
    let mut framed = bytes.to_vec();
    let len = (framed.len() - 2) as u16;
    framed[..2].copy_from_slice(&len.to_be_bytes());
    let Ok(Some(Decoded::Message(m))) = decode(&dns, &["Response"], &framed) else {
        panic!("not a Response: {:?}", decode(&dns, &["Response"], &framed))
    };
    let Value::List(answers) = field(&dns, "Response", &m.fields, "answers") else {
        panic!()
    };
    let names: Vec<String> = answers
        .iter()
        .map(|a| match a {
            Value::Struct(f) => format!("{:?} {:?} {:?}", f[0], f[7], f[5]),
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        names,
        [
            "\"www.test.\" \"alpha.test.\" _",
            "\"alpha.test.\" _ b\"\\xc0\\x00\\x02\\x01\""
        ]
    );
}

/// dnsmasq's answers to `www.test A` and `multi.test A` (README.md of the
/// dns suite), decoded and encoded again: the same bytes, owner names
/// compressed (`c0 0c` to the question, `c0 26` into the CNAME's data), the
/// CNAME's target and the question written whole.
#[test]
fn owner_names_are_compressed_as_dnsmasq_compresses_them() {
    let dns = spec("dns");
    let www: &[u8] = b"\x00\x4d\xc6\x38\x85\x80\x00\x01\x00\x02\x00\x00\x00\x01\
        \x03www\x04test\x00\x00\x01\x00\x01\
        \xc0\x0c\x00\x05\x00\x01\x00\x00\x0e\x10\x00\x0c\x05alpha\x04test\x00\
        \xc0\x26\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x01\
        \x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";
    let multi: &[u8] = b"\x00\x4c\x00\x01\x85\x80\x00\x01\x00\x03\x00\x00\x00\x00\
        \x05multi\x04test\x00\x00\x01\x00\x01\
        \xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x0c\
        \xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x0b\
        \xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x0d";
    for bytes in [www, multi] {
        assert_eq!(
            usize::from(u16::from_be_bytes([bytes[0], bytes[1]])),
            bytes.len() - 2
        );
        let Ok(Some(Decoded::Message(m))) = decode(&dns, &["Response"], bytes) else {
            panic!("not a Response: {:?}", decode(&dns, &["Response"], bytes))
        };
        assert_eq!(roundtrip(&dns, "Response", &m.fields), bytes);
    }
}

/// Claims a peer makes that no message can hold: typed errors or
/// malformed messages, found before anything is allocated for them.
#[test]
fn hostile_claims_are_typed_errors() {
    let pg = spec("postgres");
    let dns = spec("dns");
    // A length of 2^31 - 1, over the 16 MiB limit.
    match decode(&pg, &["DataRow", "ReadyForQuery"], b"D\x7f\xff\xff\xff") {
        Err(Error::TooLong { len, max, .. }) => assert_eq!((len, max), ((1 << 31) - 1 - 4, 16 << 20)),
        other => panic!("{other:?}"),
    }
    // A length below its own four bytes.
    assert!(matches!(
        decode(&pg, &["DataRow"], b"D\x00\x00\x00\x02"),
        Err(Error::Peer(_))
    ));
    // 65,535 columns claimed in a frame of six bytes.
    match decode(&pg, &["DataRow"], b"D\x00\x00\x00\x06\xff\xff") {
        Ok(Some(Decoded::Malformed { error, .. })) => {
            assert!(error.expected.contains("`columns`"), "{}", error.expected)
        }
        other => panic!("{other:?}"),
    }
    let header = |qd: u16, rest: &[u8]| {
        let mut m = vec![0, 0, 0x12, 0x34, 0x81, 0x80];
        m.extend_from_slice(&qd.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        m.extend_from_slice(rest);
        let len = (m.len() - 2) as u16;
        m[..2].copy_from_slice(&len.to_be_bytes());
        m
    };
    let malformed = |bytes: &[u8], why: &str| match decode(&dns, &["Response"], bytes) {
        Ok(Some(Decoded::Unrecognized { mismatch, .. })) => {
            assert!(mismatch.contains(why), "{why}: {mismatch}")
        }
        other => panic!("{why}: {other:?}"),
    };
    // A pointer to itself (offset 12 is the question's name), and forward.
    malformed(
        &header(1, b"\xc0\x0c\x00\x01\x00\x01"),
        "points forward or into itself",
    );
    malformed(
        &header(1, b"\xc0\x20\x00\x01\x00\x01"),
        "points forward or into itself",
    );
    // Two names pointing at each other.
    malformed(
        &header(2, b"\x01a\xc0\x12\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01"),
        "points forward or into itself",
    );
    // A name of 5 labels of 63 bytes: 321 bytes.
    let mut long = Vec::new();
    for _ in 0..5 {
        long.push(63);
        long.extend_from_slice(&[b'a'; 63]);
    }
    long.extend_from_slice(b"\x00\x00\x01\x00\x01");
    malformed(&header(1, &long), "at most 255 bytes");
    // 65,535 questions in a message of 17 bytes.
    malformed(&header(0xffff, b"\x00\x00\x01\x00\x01"), "bytes of `questions`");
}
