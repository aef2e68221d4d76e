use super::*;

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn globs_match_as_redis_matches() {
    let yes = [
        ("*", ""),
        ("*", "abc"),
        ("a*", "abc"),
        ("*c", "abc"),
        ("a?c", "abc"),
        ("h[ae]llo", "hello"),
        ("h[^e]llo", "hallo"),
        ("h[a-b]llo", "hbllo"),
        ("h\\*llo", "h*llo"),
        ("user:*:name", "user:42:name"),
        ("**x", "x"),
    ];
    for (p, s) in yes {
        assert!(glob_match(p.as_bytes(), s.as_bytes(), false), "{p} ~ {s}");
    }
    let no = [
        ("a*", "bac"),
        ("a?c", "ac"),
        ("h[^e]llo", "hello"),
        ("h[a-b]llo", "hcllo"),
        ("h\\*llo", "hello"),
        ("abc", "abcd"),
        ("", "a"),
    ];
    for (p, s) in no {
        assert!(!glob_match(p.as_bytes(), s.as_bytes(), false), "{p} !~ {s}");
    }
    assert!(glob_match(b"MAXMEM*", b"maxmemory", true));
    assert!(!glob_match(b"MAXMEM*", b"maxmemory", false));
}

#[test]
fn keys_expire_when_looked_up_and_when_reaped() {
    let mut s = Store::new();
    s.set(0, b("a"), Value::Str(b("1")), Some(1_000), false, 0);
    s.set(0, b("b"), Value::Str(b("2")), Some(2_000), false, 0);
    s.set(0, b("c"), Value::Str(b("3")), None, false, 0);
    assert!(s.exists(0, b"a", 999));
    assert!(!s.exists(0, b"a", 1_000));
    assert_eq!(s.counts(0), (2, 1));
    s.reap(5_000, 10);
    assert_eq!(s.counts(0), (1, 0));
    assert!(s.exists(0, b"c", u64::MAX));
}

#[test]
fn reaping_drops_at_most_what_it_is_told() {
    let mut s = Store::new();
    for i in 0..50 {
        s.set(3, b(&format!("k{i}")), Value::Str(b("v")), Some(10 + i), false, 0);
    }
    s.reap(1_000, 20);
    assert_eq!(s.dbsize(3), 30);
    s.reap(1_000, 100);
    assert_eq!(s.dbsize(3), 0);
    assert_eq!(s.used_memory(), 0);
}

#[test]
fn used_memory_follows_every_change() {
    let mut s = Store::new();
    s.set(0, b("key"), Value::Str(b("hello")), None, false, 0);
    assert_eq!(s.used_memory(), KEY_OVERHEAD + 3 + 5);
    s.set(0, b("key"), Value::Str(b("hi")), None, false, 0);
    assert_eq!(s.used_memory(), KEY_OVERHEAD + 3 + 2);
    let pushed = s.modify(0, &b("l"), 0, Some(Value::new_list), |v| {
        let Value::List(l) = v else { unreachable!() };
        l.push_back(b("abcd"));
        ((), element_cost(4))
    });
    assert!(pushed.is_some());
    assert_eq!(
        s.used_memory(),
        KEY_OVERHEAD + 3 + 2 + KEY_OVERHEAD + 1 + ELEMENT_OVERHEAD + 4
    );
    // Popping the last element deletes the list, and its cost.
    s.modify(0, &b("l"), 0, None, |v| {
        let Value::List(l) = v else { unreachable!() };
        let e = l.pop_front().unwrap();
        ((), -element_cost(e.len()))
    });
    assert!(!s.exists(0, b"l", 0));
    assert_eq!(s.used_memory(), KEY_OVERHEAD + 3 + 2);
    s.flush_db(0);
    assert_eq!(s.used_memory(), 0);
}

#[test]
fn scan_returns_every_key_present_throughout_once() {
    let mut s = Store::new();
    for i in 0..100 {
        s.set(0, b(&format!("k{i}")), Value::Str(b("v")), None, false, 0);
    }
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut round = 0;
    loop {
        let (next, keys) = s.scan(0, cursor, 7, None, 0);
        seen.extend(keys);
        // Keys come and go during the scan.
        s.delete(0, format!("k{}", 99 - round).as_bytes(), 0);
        s.set(0, b(&format!("new{round}")), Value::Str(b("v")), None, false, 0);
        round += 1;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    for i in 0..(100 - round) {
        let k = b(&format!("k{i}"));
        assert_eq!(seen.iter().filter(|s| **s == k).count(), 1, "{i}");
    }
    let matched = s.scan(0, 0, 1000, Some(b"k1?"), 0).1;
    assert_eq!(matched.len(), 10);
}

#[test]
fn set_members_stay_indexed_after_removals() {
    let mut m = Members::default();
    for x in ["a", "b", "c", "d"] {
        assert!(m.insert(b(x)));
    }
    assert!(!m.insert(b("a")));
    assert!(m.remove(b"a"));
    assert!(!m.remove(b"a"));
    assert_eq!(m.take(0), b("d"));
    assert!(m.contains(b"b") && m.contains(b"c") && m.len() == 2);
    assert!(m.remove(b"c") && m.remove(b"b") && m.is_empty());
}
