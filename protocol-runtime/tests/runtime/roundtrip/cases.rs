//! Hand-built field values for every message of every shipped spec.

use protocol_runtime::layout::FieldType;
use protocol_runtime::spec::Protocol;
use protocol_runtime::Value;

use crate::{blob, spec};

pub(super) fn s(v: &str) -> Value {
    Value::from(v)
}
pub(super) fn u(v: u64) -> Value {
    Value::U64(v)
}
pub(super) fn i(v: i64) -> Value {
    Value::I64(v)
}
pub(super) fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|k| s(k)).collect())
}
pub(super) fn all_bytes() -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend_from_slice(b"\r\nEND\r\n");
    data
}

/// The most items the list field of a message takes.
pub(super) fn list_max(sp: &Protocol, name: &str) -> usize {
    let layout = &sp.messages[sp.message(name).unwrap()].layout;
    layout
        .fields
        .iter()
        .find_map(|f| match f.ty {
            FieldType::List { max, .. } => Some(max),
            _ => None,
        })
        .unwrap_or_else(|| panic!("`{name}` has no list"))
}

/// Hand-built field values for the messages of a spec, lengths included.
pub(super) fn cases(name: &str) -> Vec<(&'static str, Vec<Value>)> {
    let sp = spec(name);
    written(name)
        .into_iter()
        .map(|(m, v)| (m, crate::coerced(&sp, m, v)))
        .collect()
}

fn written(name: &str) -> Vec<(&'static str, Vec<Value>)> {
    let all = all_bytes();
    let n = all.len() as u64;
    let key250 = "k".repeat(250);
    let values = |cmd_gets: bool| {
        vec![
            ("Value", vec![s("k"), u(0), u(5), Value::Absent, blob(b"hello")]),
            (
                "Value",
                vec![s(&key250), u(u32::MAX as u64), u(n), u(u64::MAX), blob(&all)],
            ),
            ("Value", vec![s("é€"), u(1), u(0), u(0), blob(b"")]),
            ("End", vec![]),
            ("Error", vec![Value::Absent]),
            ("Error", vec![s("Too many open connections")]),
            ("Error", vec![s("")]),
            ("ClientError", vec![s("bad command line format")]),
            ("ServerError", vec![s("out of memory storing object")]),
            ("Get", vec![Value::Choice(usize::from(cmd_gets)), list(&["a"])]),
        ]
    };
    match name {
        "daytime" => vec![
            ("Time", vec![s("Tuesday, February 22, 1982 17:37:43-PST")]),
            ("Time", vec![s("")]),
            ("Time", vec![s("lone \r and \n and ends in \r")]),
            ("Time", vec![s("2024年1月1日 月曜日")]),
        ],
        "echo" => vec![
            ("Data", vec![blob(&all)]),
            ("Data", vec![blob(b"x")]),
            ("Echoed", vec![blob(&all)]),
        ],
        "greeting" => vec![
            ("Prompt", vec![]),
            ("Name", vec![s("Ann")]),
            ("Name", vec![s("")]),
            ("Name", vec![s("Zoë \r the 1st!")]),
            ("Welcome", vec![s("Ann")]),
            ("Welcome", vec![s("Hi!")]),
            ("Welcome", vec![s("")]),
            ("Welcome", vec![s("Hello, World!!")]),
        ],
        "memcached_get" => {
            let mut c = values(false);
            c.extend(values(true).into_iter().filter(|(m, _)| *m == "Get"));
            // As many keys as the list takes.
            let max = list_max(&spec(name), "Get");
            let many: Vec<String> = (0..max).map(|k| format!("key{k}")).collect();
            let many: Vec<&str> = many.iter().map(String::as_str).collect();
            c.push(("Get", vec![Value::Choice(0), list(&["foo", "bar", "é"])]));
            c.push(("Get", vec![Value::Choice(1), list(&many)]));
            c
        }
        "memcached" => {
            let mut c: Vec<_> = values(false).into_iter().filter(|(m, _)| *m != "Get").collect();
            let set = |cmd: usize, exp: i64, noreply: bool, data: &[u8]| {
                let d = blob(data);
                (
                    "Set",
                    vec![
                        Value::Choice(cmd),
                        s("k"),
                        u(3),
                        i(exp),
                        u(data.len() as u64),
                        noreply.into(),
                        d,
                    ],
                )
            };
            c.extend([
                set(0, 0, false, b"hello"),
                set(1, -1, true, &all),
                set(2, i64::MIN, false, b""),
                set(3, i64::MAX, true, b"x"),
                set(4, 3600, false, b"\r\n"),
                (
                    "Cas",
                    vec![s("k"), u(0), i(0), u(2), u(42), false.into(), blob(b"hi")],
                ),
                (
                    "Cas",
                    vec![
                        s(&key250),
                        u(u32::MAX as u64),
                        i(-5),
                        u(n),
                        u(u64::MAX),
                        true.into(),
                        blob(&all),
                    ],
                ),
                ("Get", vec![Value::Choice(0), list(&["a"])]),
                ("Get", vec![Value::Choice(1), list(&["a", "b", "c"])]),
                ("Gat", vec![Value::Choice(0), i(0), list(&["a"])]),
                ("Gat", vec![Value::Choice(1), i(-1), list(&["a", "b"])]),
                ("Delete", vec![s("k"), false.into()]),
                ("Delete", vec![s("k"), true.into()]),
                ("Arith", vec![Value::Choice(0), s("n"), u(1), false.into()]),
                ("Arith", vec![Value::Choice(1), s("n"), u(u64::MAX), true.into()]),
                ("Touch", vec![s("k"), i(10), false.into()]),
                ("Touch", vec![s("k"), i(-10), true.into()]),
                ("FlushAll", vec![Value::Absent, false.into()]),
                ("FlushAll", vec![Value::Absent, true.into()]),
                ("FlushAll", vec![i(10), false.into()]),
                ("FlushAll", vec![i(-10), true.into()]),
                ("Stats", vec![Value::Absent]),
                ("Stats", vec![s("slabs")]),
                ("Stats", vec![s("detail dump")]),
                ("Version", vec![]),
                ("Version", vec![s("anything at all")]),
                ("LruCrawler", vec![s("metadump all")]),
                ("QuietVerbosity", vec![]),
                ("Quiet", vec![Value::Choice(0), blob(b"k 0 0 abc")]),
                (
                    "Quiet",
                    vec![
                        Value::Choice(0),
                        blob(&(0..=255u8).filter(|b| *b != b'\n').collect::<Vec<u8>>()),
                    ],
                ),
                ("Quiet", vec![Value::Choice(1), blob(b"")]),
                ("Quiet", vec![Value::Choice(2), blob(b"x")]),
                ("Quiet", vec![Value::Choice(3), blob(b"x")]),
                ("Quiet", vec![Value::Choice(4), blob(b"x")]),
                ("Quiet", vec![Value::Choice(5), blob(b"x")]),
                ("Quiet", vec![Value::Choice(6), blob(b"k abc")]),
                ("Quiet", vec![Value::Choice(7), blob(b"x")]),
                ("Quiet", vec![Value::Choice(8), blob(b"k 5")]),
                ("Quiet", vec![Value::Choice(9), blob(b"k soon")]),
                ("Quiet", vec![Value::Choice(10), blob(b"")]),
                ("Quiet", vec![Value::Choice(11), blob(b"x")]),
                ("CacheItem", vec![blob(b"k\x10\xe9"), u(3), u(0)]),
                ("CacheItem", vec![s("foo"), u(0), u(1_796_566_491)]),
                (
                    "MetaItem",
                    vec![s("k%10%E9"), i(-1), u(17), u(1), Value::Choice(0), u(1), u(69)],
                ),
                (
                    "MetaItem",
                    vec![
                        s("foo"),
                        i(1_796_566_491),
                        u(17),
                        u(2),
                        Value::Choice(1),
                        u(39),
                        u(63),
                    ],
                ),
                ("Verbosity", vec![u(1), false.into()]),
                ("Verbosity", vec![u(0), true.into()]),
                ("Quit", vec![]),
                ("Stored", vec![]),
                ("NotStored", vec![]),
                ("Exists", vec![]),
                ("NotFound", vec![]),
                ("Deleted", vec![]),
                ("Touched", vec![]),
                ("Number", vec![u(0)]),
                ("Number", vec![u(u64::MAX)]),
                ("Stat", vec![s("pid"), s("1234")]),
                ("Stat", vec![s("evictions"), s("")]),
                ("Stat", vec![s("version"), s("1.6.21 with spaces")]),
                ("Reset", vec![]),
                ("Ok", vec![]),
                ("VersionReply", vec![s("1.6.21")]),
            ]);
            c
        }
        "modbus" => {
            let regs = |vs: &[u64]| Value::List(vs.iter().map(|v| u(*v)).collect());
            let all: Vec<u8> = (0..=250u8).collect();
            let most: Vec<u64> = (0..123).map(|i| i * 531 % 65536).collect();
            let max_regs: Vec<u64> = (0..125).map(|i| 65535 - i).collect();
            vec![
                ("ReadCoils", vec![u(1), u(1), u(0), u(1)]),
                ("ReadCoils", vec![u(65535), u(255), u(65535), u(2000)]),
                ("ReadDiscreteInputs", vec![u(2), u(0), u(10), u(8)]),
                ("ReadHoldingRegisters", vec![u(3), u(1), u(0), u(125)]),
                ("ReadInputRegisters", vec![u(4), u(1), u(7), u(2)]),
                ("WriteSingleCoil", vec![u(5), u(1), u(3), u(0xff00)]),
                ("WriteSingleCoil", vec![u(5), u(1), u(3), u(0)]),
                ("WriteSingleRegister", vec![u(6), u(1), u(3), u(65535)]),
                // qty 10 coils in 2 bytes; 1968 coils in 246 bytes.
                (
                    "WriteMultipleCoils",
                    vec![u(7), u(1), u(20), u(10), u(2), blob(b"\xcd\x01")],
                ),
                (
                    "WriteMultipleCoils",
                    vec![u(7), u(1), u(0), u(1968), u(246), blob(&all[..246])],
                ),
                (
                    "WriteMultipleRegisters",
                    vec![u(8), u(1), u(1), u(1), u(2), regs(&[10])],
                ),
                (
                    "WriteMultipleRegisters",
                    vec![u(8), u(1), u(1), u(123), u(246), regs(&most)],
                ),
                ("Bits", vec![u(1), u(1), u(1), u(1), blob(b"\x05")]),
                ("Bits", vec![u(2), u(1), u(2), u(250), blob(&all[..250])]),
                ("Registers", vec![u(3), u(1), u(3), u(4), regs(&[0, 65535])]),
                ("Registers", vec![u(4), u(1), u(4), u(250), regs(&max_regs)]),
                ("WroteOne", vec![u(5), u(1), u(5), u(3), u(0xff00)]),
                ("WroteMany", vec![u(7), u(1), u(16), u(1), u(2)]),
                ("Exception", vec![u(9), u(1), u(0x83), u(2)]),
                ("Exception", vec![u(9), u(1), u(0x90), u(1)]),
                ("Exception", vec![u(9), u(1), u(0x80), u(1)]),
                ("Exception", vec![u(9), u(0), u(0xc1), u(3)]),
                // The fallback request: any function code and PDU; its data
                // is at most 252 bytes (the length's 254 less unit and fc).
                ("OtherRequest", vec![u(10), u(1), u(9), blob(b"")]),
                ("OtherRequest", vec![u(11), u(1), u(0x41), blob(&all)]),
                (
                    "OtherRequest",
                    vec![u(12), u(0), u(0xff), blob(b"\xfb\xfc\xfd\xfe\xff")],
                ),
            ]
        }
        "redis" => {
            let bulk = |d: &[u8]| Value::Struct(vec![u(d.len() as u64), blob(d)]);
            let v =
                |branch: usize, fields: Vec<Value>| Value::Variant(branch, Box::new(Value::Struct(fields)));
            let array = |items: Vec<Value>| v(5, vec![u(items.len() as u64), Value::List(items)]);
            let all = all_bytes();
            vec![
                ("Command", vec![u(1), Value::List(vec![bulk(b"PING")])]),
                (
                    "Command",
                    vec![u(3), Value::List(vec![bulk(b"SET"), bulk(b"k"), bulk(&all)])],
                ),
                ("Command", vec![u(1), Value::List(vec![bulk(b"")])]),
                ("Inline", vec![list(&["PING"])]),
                ("Inline", vec![list(&["ECHO", "hi"])]),
                ("Reply", vec![v(0, vec![s("OK")])]),
                ("Reply", vec![v(1, vec![s("ERR unknown command")])]),
                ("Reply", vec![v(2, vec![i(-42)])]),
                ("Reply", vec![v(2, vec![i(i64::MAX)])]),
                ("Reply", vec![v(3, vec![u(all.len() as u64), blob(&all)])]),
                ("Reply", vec![v(4, vec![])]),
                ("Reply", vec![v(6, vec![])]),
                ("Reply", vec![array(vec![])]),
                (
                    "Reply",
                    vec![array(vec![
                        v(2, vec![i(2)]),
                        array(vec![v(3, vec![u(1), blob(b"x")]), v(4, vec![])]),
                        v(6, vec![]),
                        array(vec![array(vec![array(vec![])])]),
                    ])],
                ),
            ]
        }
        other => panic!("no cases for {other}"),
    }
}
