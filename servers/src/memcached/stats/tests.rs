use std::sync::Arc;

use super::*;
use crate::memcached::{ManualClock, MemcachedConfig};
use crate::specs::memcached::{ClientMessage, Get, GetCmd, Set, SetCmd};

const T0: u64 = 1_800_000_000;

#[test]
fn slab_classes_are_memcacheds() {
    let classes = slab_classes();
    // memcached 1.6 with -f 1.25 -n 48 (`memcached -vv` lists them).
    assert_eq!(
        &classes[..15],
        &[96, 120, 152, 192, 240, 304, 384, 480, 600, 752, 944, 1184, 1480, 1856, 2320]
    );
    assert_eq!(classes.len(), 39);
    assert_eq!(classes[classes.len() - 1], 524_288);
    assert!(classes.windows(2).all(|w| w[0] < w[1] && w[0] % 8 == 0));
}

#[test]
fn an_items_class_is_the_first_that_holds_it() {
    // The sizes memcached reported for `set foo 5 0 3` and a 2000-byte item.
    assert_eq!(item_class(69, 3), 1);
    assert_eq!(item_class(2062, 2000), 15);
    assert_eq!(item_class(96, 10), 1);
    assert_eq!(item_class(97, 10), 2);
    assert_eq!(item_class(524_288, 500_000), 39);
    // Chained: filed under its header's class.
    assert_eq!(item_class(48 + 4 + 8 + 600_002, 600_000), 2);
}

fn shared() -> (Shared, Arc<ConnInfo>) {
    let clock = Arc::new(ManualClock::new(T0));
    let shared = Shared::new(&MemcachedConfig::default(), clock, None);
    let conn = shared
        .conns()
        .open("tcp:127.0.0.1:5000".into(), "tcp:127.0.0.1:11211".into(), T0);
    (shared, conn)
}

fn run(shared: &Shared, conn: &ConnInfo, msg: impl Into<ClientMessage>) -> Vec<ServerMessage> {
    let mut out = Vec::new();
    shared.execute(conn, msg.into(), &mut out);
    out
}

fn set(shared: &Shared, conn: &ConnInfo, key: &str, flags: u32, len: usize) {
    let msg = Set {
        cmd: SetCmd::Set,
        key: protocol_runtime::bytes::Bytes::copy_from_slice(key.as_bytes()),
        flags,
        exptime: 0,
        noreply: false,
        data: vec![b'x'; len].into(),
    };
    run(shared, conn, msg);
}

/// The `STAT` lines of `stats ARGS`, which must end in END.
fn stats(shared: &Shared, conn: &ConnInfo, args: &str) -> Vec<(String, String)> {
    let args = (!args.is_empty()).then(|| args.to_string());
    let mut out = run(shared, conn, mc::Stats { args });
    assert!(matches!(out.pop(), Some(ServerMessage::End(_))), "ends in END");
    out.into_iter()
        .map(|m| match m {
            ServerMessage::Stat(s) => (s.name, s.value),
            other => panic!("not a STAT line: {other:?}"),
        })
        .collect()
}

fn value<'a>(lines: &'a [(String, String)], name: &str) -> &'a str {
    &lines
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[test]
fn general_stats_has_memcacheds_92_names() {
    let (shared, conn) = shared();
    let lines = stats(&shared, &conn, "");
    assert_eq!(lines.len(), 92);
    let names: Vec<&str> = lines.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(&names[..5], &["pid", "uptime", "time", "version", "libevent"]);
    for name in [
        "get_flushed",
        "bytes_written",
        "cmd_meta",
        "expired_unfetched",
        "lru_bumps_dropped",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    assert_eq!(names.last(), Some(&"lru_bumps_dropped"));
}

#[test]
fn settings_has_memcacheds_76_names() {
    let (shared, conn) = shared();
    let lines = stats(&shared, &conn, "settings");
    assert_eq!(lines.len(), 76);
    assert_eq!(value(&lines, "tcpport"), "11211");
    assert_eq!(value(&lines, "inter"), "127.0.0.1");
    assert_eq!(value(&lines, "item_size_max"), "1048576");
    assert_eq!(value(&lines, "idle_timeout"), "300");
    run(
        &shared,
        &conn,
        mc::Verbosity {
            level: 2,
            noreply: false,
        },
    );
    assert_eq!(value(&stats(&shared, &conn, "settings"), "verbosity"), "2");
}

#[test]
fn items_and_slabs_group_items_by_class() {
    let (shared, conn) = shared();
    set(&shared, &conn, "foo", 5, 3);
    set(&shared, &conn, "big", 0, 2000);
    set(&shared, &conn, "bar", 0, 1);
    run(
        &shared,
        &conn,
        Get {
            cmd: GetCmd::Get,
            keys: vec!["foo".into()],
        },
    );
    let items = stats(&shared, &conn, "items");
    assert_eq!(items.len(), 2 * 28);
    assert_eq!(value(&items, "items:1:number"), "2");
    assert_eq!(value(&items, "items:1:mem_requested"), (69 + 63).to_string());
    assert_eq!(value(&items, "items:15:number"), "1");
    assert_eq!(value(&items, "items:15:mem_requested"), "2062");
    let slabs = stats(&shared, &conn, "slabs");
    assert_eq!(slabs.len(), 2 * 15 + 2);
    assert_eq!(value(&slabs, "1:chunk_size"), "96");
    assert_eq!(value(&slabs, "1:chunks_per_page"), "10922");
    assert_eq!(value(&slabs, "1:used_chunks"), "2");
    assert_eq!(value(&slabs, "1:get_hits"), "1");
    assert_eq!(value(&slabs, "15:chunk_size"), "2320");
    assert_eq!(value(&slabs, "15:cmd_set"), "1");
    assert_eq!(value(&slabs, "active_slabs"), "2");
    assert_eq!(value(&slabs, "total_malloced"), "2097152");
}

#[test]
fn conns_lists_the_listener_and_the_connection() {
    let (shared, conn) = shared();
    let lines = stats(&shared, &conn, "conns");
    let names: Vec<&str> = lines.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "1:addr",
            "1:state",
            "1:secs_since_last_cmd",
            "2:addr",
            "2:listen_addr",
            "2:state",
            "2:secs_since_last_cmd"
        ]
    );
    assert_eq!(value(&lines, "1:state"), "conn_listening");
    assert_eq!(value(&lines, "2:state"), "conn_parse_cmd");
}

#[test]
fn the_other_groups_answer_as_memcached() {
    let (shared, conn) = shared();
    assert!(stats(&shared, &conn, "extstore").is_empty());
    assert!(stats(&shared, &conn, "detail dump").is_empty());
    assert!(
        stats(&shared, &conn, "cachedump 1 10").is_empty(),
        "an empty class"
    );
    let reply = |args: &str| {
        run(
            &shared,
            &conn,
            mc::Stats {
                args: Some(args.into()),
            },
        )
    };
    let client_error = |why: &str| vec![client_error(why)];
    assert_eq!(reply("detail"), client_error("usage: stats detail on|off|dump"));
    assert_eq!(reply("cachedump 64 1"), client_error("Illegal slab id"));
    assert_eq!(reply("cachedump 1"), client_error("bad command line"));
    assert_eq!(reply("cachedump x 1"), client_error("bad command line format"));
    assert_eq!(reply("detail on"), vec![mc::Ok.into()]);
    assert_eq!(value(&stats(&shared, &conn, "settings"), "detail_enabled"), "yes");
    set(&shared, &conn, "k", 0, 1);
    set(&shared, &conn, "l", 0, 2);
    let keys = |r: Vec<ServerMessage>| -> Vec<String> {
        r.iter()
            .map(|m| match m {
                ServerMessage::CacheItem(c) => format!("{} {}", c.key.escape_ascii(), c.len),
                ServerMessage::End(_) => "END".into(),
                other => format!("{other:?}"),
            })
            .collect()
    };
    // Most recently used first; a limit of 0 lists them all.
    assert_eq!(keys(reply("cachedump 1 0")), ["l 2", "k 1", "END"]);
    assert_eq!(keys(reply("cachedump 1 1")), ["l 2", "END"]);
    assert_eq!(keys(reply("cachedump 2 0")), ["END"]);
}

#[test]
fn wire_len_counts_the_encoded_bytes() {
    let msgs: Vec<ServerMessage> = vec![
        mc::End.into(),
        mc::Number { value: 0 }.into(),
        mc::Number { value: 1234 }.into(),
        mc::Stat {
            name: "pid".into(),
            value: "1".into(),
        }
        .into(),
        mc::Value {
            key: "k".into(),
            flags: 10,
            cas: Some(7),
            data: b"hello".to_vec().into(),
        }
        .into(),
        mc::Error { why: None }.into(),
    ];
    let want = [5, 3, 6, 12, "VALUE k 10 5 7\r\nhello\r\n".len(), 7];
    for (msg, want) in msgs.iter().zip(want) {
        assert_eq!(wire_len(msg), want, "{msg:?}");
    }
}
