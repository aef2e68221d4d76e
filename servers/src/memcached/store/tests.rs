//! The store's semantics, command by command, with time passed in.

use super::*;

const T0: u64 = 1_800_000_000;

fn store() -> Store {
    Store::new(StoreConfig::default())
}

fn set(s: &mut Store, key: &str, data: &str, exptime: i64, now: u64) {
    assert_eq!(
        s.store(Mode::Set, key, 0, exptime, data.as_bytes(), now),
        Stored::Stored
    );
}

fn data(s: &mut Store, key: &str, now: u64) -> Option<String> {
    s.get(key, now)
        .map(|h| String::from_utf8(h.data.to_vec()).unwrap())
}

#[test]
fn set_then_get_returns_flags_data_and_a_cas() {
    let mut s = store();
    assert_eq!(s.store(Mode::Set, "k", 42, 0, b"hello", T0), Stored::Stored);
    let hit = s.get("k", T0).unwrap();
    assert_eq!((hit.flags, &hit.data[..]), (42, &b"hello"[..]));
    assert!(hit.cas > 0);
    assert_eq!(s.get("missing", T0), None);
    let c = s.counters();
    assert_eq!((c.cmd_get, c.get_hits, c.get_misses, c.cmd_set), (2, 1, 1, 1));
    assert_eq!((s.len(), c.total_items), (1, 1));
    assert_eq!(s.bytes(), item_size("k", 42, b"hello"));
    assert_eq!(
        s.bytes(),
        48 + 2 + 7 + 8 + 4,
        "memcached's `bytes` for this item (its flags are not 0)"
    );
}

#[test]
fn cas_changes_on_every_modification_and_not_on_touch() {
    let mut s = store();
    set(&mut s, "a", "1", 0, T0);
    let c1 = s.get("a", T0).unwrap().cas;
    set(&mut s, "b", "1", 0, T0);
    let b = s.get("b", T0).unwrap().cas;
    assert!(b > c1, "one counter for all keys");
    set(&mut s, "a", "2", 0, T0);
    let c2 = s.get("a", T0).unwrap().cas;
    assert!(c2 > b);
    s.store(Mode::Append, "a", 0, 0, b"x", T0);
    let c3 = s.get("a", T0).unwrap().cas;
    assert!(c3 > c2);
    s.delta(Delta::Incr, "b", 1, T0);
    let b2 = s.get("b", T0).unwrap().cas;
    assert!(b2 > c3);
    assert!(s.touch("a", 100, T0));
    assert_eq!(s.gat("a", 100, T0).unwrap().cas, c3);
    assert_eq!(s.get("a", T0).unwrap().cas, c3);
}

#[test]
fn add_only_when_absent_replace_only_when_present() {
    let mut s = store();
    assert_eq!(s.store(Mode::Replace, "k", 0, 0, b"r", T0), Stored::NotStored);
    assert_eq!(s.store(Mode::Add, "k", 1, 0, b"a", T0), Stored::Stored);
    assert_eq!(s.store(Mode::Add, "k", 2, 0, b"b", T0), Stored::NotStored);
    assert_eq!(data(&mut s, "k", T0).as_deref(), Some("a"));
    assert_eq!(s.store(Mode::Replace, "k", 3, 0, b"c", T0), Stored::Stored);
    let hit = s.get("k", T0).unwrap();
    assert_eq!((hit.flags, &hit.data[..]), (3, &b"c"[..]));
    // An expired item is absent: add works, replace does not.
    set(&mut s, "e", "old", 10, T0);
    assert_eq!(
        s.store(Mode::Replace, "e", 0, 0, b"x", T0 + 10),
        Stored::NotStored
    );
    assert_eq!(s.store(Mode::Add, "e", 0, 0, b"new", T0 + 10), Stored::Stored);
    assert_eq!(data(&mut s, "e", T0 + 10).as_deref(), Some("new"));
}

#[test]
fn append_and_prepend_keep_flags_and_exptime() {
    let mut s = store();
    assert_eq!(s.store(Mode::Append, "k", 0, 0, b"x", T0), Stored::NotStored);
    assert_eq!(s.store(Mode::Prepend, "k", 0, 0, b"x", T0), Stored::NotStored);
    assert_eq!(s.store(Mode::Set, "k", 5, 100, b"ab", T0), Stored::Stored);
    assert_eq!(s.store(Mode::Append, "k", 9, 0, b"cd", T0), Stored::Stored);
    assert_eq!(s.store(Mode::Prepend, "k", 7, 5000, b"xy", T0), Stored::Stored);
    let hit = s.get("k", T0).unwrap();
    assert_eq!((hit.flags, &hit.data[..]), (5, &b"xyabcd"[..]));
    assert_eq!(s.bytes(), item_size("k", 5, b"xyabcd"));
    // The exptime of the set (100 s) still holds.
    assert!(s.get("k", T0 + 99).is_some());
    assert!(s.get("k", T0 + 100).is_none());
}

#[test]
fn append_past_the_item_size_limit_is_not_stored() {
    let mut s = Store::new(StoreConfig {
        memory_limit: 1 << 20,
        max_item_size: 10,
    });
    set(&mut s, "k", "12345678", 0, T0);
    assert_eq!(s.store(Mode::Append, "k", 0, 0, b"abc", T0), Stored::NotStored);
    assert_eq!(data(&mut s, "k", T0).as_deref(), Some("12345678"));
}

#[test]
fn cas_stores_only_on_a_matching_unique() {
    let mut s = store();
    assert_eq!(s.store(Mode::Cas(1), "k", 0, 0, b"x", T0), Stored::NotFound);
    set(&mut s, "k", "v1", 0, T0);
    let unique = s.get("k", T0).unwrap().cas;
    assert_eq!(
        s.store(Mode::Cas(unique + 1), "k", 0, 0, b"bad", T0),
        Stored::Exists
    );
    assert_eq!(s.store(Mode::Cas(unique), "k", 3, 0, b"v2", T0), Stored::Stored);
    let hit = s.get("k", T0).unwrap();
    assert_eq!((hit.flags, &hit.data[..]), (3, &b"v2"[..]));
    // The unique is spent: a second cas with it conflicts.
    assert_eq!(s.store(Mode::Cas(unique), "k", 0, 0, b"v3", T0), Stored::Exists);
    // Another client's write in between makes ours conflict.
    let seen = hit.cas;
    set(&mut s, "k", "other", 0, T0);
    assert_eq!(s.store(Mode::Cas(seen), "k", 0, 0, b"mine", T0), Stored::Exists);
    assert_eq!(data(&mut s, "k", T0).as_deref(), Some("other"));
    // An expired item is not found.
    set(&mut s, "e", "v", 5, T0);
    let u = s.get("e", T0).unwrap().cas;
    assert_eq!(s.store(Mode::Cas(u), "e", 0, 0, b"x", T0 + 5), Stored::NotFound);
    let c = s.counters();
    assert_eq!((c.cas_misses, c.cas_hits, c.cas_badval), (2, 1, 3));
}

#[test]
fn relative_absolute_and_negative_exptimes() {
    let mut s = store();
    set(&mut s, "never", "v", 0, T0);
    set(&mut s, "rel", "v", 10, T0);
    set(&mut s, "month", "v", RELATIVE_EXPTIME_MAX, T0);
    set(&mut s, "abs", "v", (T0 + 100) as i64, T0);
    set(&mut s, "past", "v", (T0 - 1) as i64, T0);
    set(&mut s, "neg", "v", -1, T0);
    assert!(s.get("rel", T0 + 9).is_some());
    assert!(s.get("rel", T0 + 10).is_none(), "expires at now + exptime");
    assert!(s.get("month", T0 + RELATIVE_EXPTIME_MAX as u64 - 1).is_some());
    assert!(s.get("abs", T0 + 99).is_some());
    assert!(
        s.get("abs", T0 + 100).is_none(),
        "more than 30 days is a Unix time"
    );
    assert!(s.get("past", T0).is_none());
    assert!(s.get("neg", T0).is_none(), "negative: expired at once");
    assert!(s.get("never", T0 + 100 * 365 * 86_400).is_some());
    assert_eq!(s.counters().get_expired, 4);
}

#[test]
fn touch_and_gat_set_a_new_exptime() {
    let mut s = store();
    assert!(!s.touch("k", 10, T0));
    set(&mut s, "k", "v", 10, T0);
    assert!(s.touch("k", 100, T0 + 5));
    assert!(s.get("k", T0 + 104).is_some());
    assert!(s.get("k", T0 + 105).is_none());

    set(&mut s, "g", "v", 10, T0);
    let hit = s.gat("g", 0, T0 + 5).unwrap();
    assert_eq!(&hit.data[..], b"v");
    assert!(s.get("g", T0 + 1000).is_some(), "gat 0: never expires");
    assert_eq!(s.gat("missing", 0, T0), None);
    // gat with a negative exptime returns the item, which is then gone.
    assert!(s.gat("g", -1, T0 + 1000).is_some());
    assert!(s.get("g", T0 + 1000).is_none());
    let c = s.counters();
    assert_eq!((c.cmd_touch, c.touch_hits, c.touch_misses), (5, 3, 2));
}

#[test]
fn delete_removes_and_reports_a_miss() {
    let mut s = store();
    set(&mut s, "k", "v", 0, T0);
    assert!(s.delete("k", T0));
    assert!(!s.delete("k", T0));
    assert!(s.get("k", T0).is_none());
    set(&mut s, "e", "v", 1, T0);
    assert!(!s.delete("e", T0 + 1), "an expired item is not found");
    assert_eq!((s.len(), s.bytes()), (0, 0));
    let c = s.counters();
    assert_eq!((c.delete_hits, c.delete_misses), (1, 2));
}

#[test]
fn incr_and_decr_rules() {
    let mut s = store();
    assert_eq!(s.delta(Delta::Incr, "n", 1, T0), DeltaResult::NotFound);
    assert_eq!(s.delta(Delta::Decr, "n", 1, T0), DeltaResult::NotFound);
    assert_eq!(s.store(Mode::Set, "n", 7, 100, b"1", T0), Stored::Stored);
    let cas = s.get("n", T0).unwrap().cas;
    assert_eq!(s.delta(Delta::Incr, "n", 5, T0), DeltaResult::Value(6));
    assert!(s.get("n", T0).unwrap().cas > cas, "a new cas");
    assert_eq!(s.counters().total_items, 1, "changed in place: no new item");
    // A longer number makes a new item of as many bytes as it has digits.
    assert_eq!(s.delta(Delta::Incr, "n", 94, T0), DeltaResult::Value(100));
    assert_eq!(data(&mut s, "n", T0).as_deref(), Some("100"));
    assert_eq!(s.bytes(), item_size("n", 7, b"100"));
    assert_eq!(s.counters().total_items, 2);
    // A shorter one is written in place, padded with spaces, as memcached
    // does.
    assert_eq!(s.delta(Delta::Decr, "n", 95, T0), DeltaResult::Value(5));
    assert_eq!(data(&mut s, "n", T0).as_deref(), Some("5  "));
    assert_eq!(s.bytes(), item_size("n", 7, b"100"));
    assert_eq!(s.counters().total_items, 2);
    // The padded number still counts.
    assert_eq!(s.delta(Delta::Incr, "n", 1, T0), DeltaResult::Value(6));
    // decr floors at 0.
    assert_eq!(s.delta(Delta::Decr, "n", 1000, T0), DeltaResult::Value(0));
    // Flags and exptime are kept.
    let hit = s.get("n", T0).unwrap();
    assert_eq!(hit.flags, 7);
    assert!(s.get("n", T0 + 100).is_none());

    // incr wraps at 2^64.
    set(&mut s, "max", "18446744073709551615", 0, T0);
    assert_eq!(s.delta(Delta::Incr, "max", 2, T0), DeltaResult::Value(1));
    let padded = format!("1{}", " ".repeat(19));
    assert_eq!(data(&mut s, "max", T0), Some(padded));
    set(&mut s, "big", "18446744073709551614", 0, T0);
    assert_eq!(s.delta(Delta::Incr, "big", 1, T0), DeltaResult::Value(u64::MAX));

    // Non-numeric data.
    for bad in ["", "xx", "-1", "1ab", "18446744073709551616", " ", "1.5"] {
        set(&mut s, "bad", bad, 0, T0);
        assert_eq!(
            s.delta(Delta::Incr, "bad", 1, T0),
            DeltaResult::NonNumeric,
            "data {bad:?}"
        );
        assert_eq!(data(&mut s, "bad", T0).as_deref(), Some(bad), "left as it was");
    }
    // What memcached's strtoull accepts: white space around the digits.
    for (ok, want) in [(" 12", 13), ("12 ", 13), ("+4", 5), ("007", 8)] {
        set(&mut s, "ok", ok, 0, T0);
        assert_eq!(
            s.delta(Delta::Incr, "ok", 1, T0),
            DeltaResult::Value(want),
            "data {ok:?}"
        );
    }
    let c = s.counters();
    assert_eq!((c.incr_misses, c.decr_misses), (1, 1));
    // Non-numeric data counts neither a hit nor a miss, as in memcached.
    assert_eq!((c.incr_hits, c.decr_hits), (3 + 2 + 4, 2));
}

#[test]
fn parse_number_cases() {
    assert_eq!(parse_number(b"0"), Some(0));
    assert_eq!(parse_number(b"18446744073709551615"), Some(u64::MAX));
    assert_eq!(parse_number(b"18446744073709551616"), None);
    assert_eq!(parse_number(b"12\r\n"), Some(12));
    assert_eq!(parse_number(b"12 junk"), Some(12));
    assert_eq!(parse_number(b""), None);
    assert_eq!(parse_number(b"-0"), None);
}

#[test]
fn flush_all_now_invalidates_everything() {
    let mut s = store();
    set(&mut s, "a", "1", 0, T0);
    set(&mut s, "b", "2", 0, T0);
    s.flush_all(0, T0);
    assert!(s.get("a", T0).is_none());
    assert!(s.get("b", T0).is_none());
    assert_eq!((s.len(), s.bytes()), (0, 0));
    set(&mut s, "c", "3", 0, T0);
    assert!(s.get("c", T0).is_some(), "items stored after the flush are valid");
    // A negative delay also means now.
    s.flush_all(-5, T0);
    assert!(s.get("c", T0).is_none());
    assert_eq!(s.counters().cmd_flush, 2);
}

#[test]
fn flush_all_with_a_delay() {
    let mut s = store();
    set(&mut s, "early", "1", 0, T0);
    s.flush_all(10, T0);
    set(&mut s, "before", "2", 0, T0 + 5);
    assert!(s.get("early", T0 + 9).is_some(), "not yet");
    assert!(s.get("before", T0 + 9).is_some());
    set(&mut s, "at", "3", 0, T0 + 10);
    assert!(s.get("early", T0 + 10).is_none(), "stored before the flush time");
    assert!(s.get("before", T0 + 10).is_none());
    assert!(s.get("at", T0 + 10).is_some(), "stored at the flush time");
    set(&mut s, "after", "4", 0, T0 + 11);
    assert!(s.get("after", T0 + 20).is_some());
    assert_eq!(s.len(), 2);

    // An absolute flush time; a later flush_all replaces a pending one.
    let mut s = store();
    set(&mut s, "k", "1", 0, T0);
    s.flush_all((T0 + 100) as i64, T0);
    assert!(s.get("k", T0 + 99).is_some());
    s.flush_all(1000, T0 + 99);
    assert!(s.get("k", T0 + 100).is_some(), "the first flush was replaced");
    assert!(s.get("k", T0 + 1099).is_none());
    // A flush time already past flushes now.
    set(&mut s, "k", "1", 0, T0 + 2000);
    s.flush_all((T0 + 1500) as i64, T0 + 2000);
    assert!(s.get("k", T0 + 2000).is_none());
}

#[test]
fn over_the_item_size_limit() {
    let mut s = Store::new(StoreConfig {
        memory_limit: 1 << 20,
        max_item_size: 100,
    });
    assert_eq!(s.store(Mode::Set, "k", 0, 0, &[b'x'; 100], T0), Stored::Stored);
    assert_eq!(s.store(Mode::Set, "k", 0, 0, &[b'y'; 101], T0), Stored::TooLarge);
    assert!(
        s.get("k", T0).is_none(),
        "like memcached, the old value is dropped"
    );
    assert_eq!(s.counters().store_too_large, 1);
    set(&mut s, "j", "v", 0, T0);
    assert_eq!(s.too_large("j", T0), Stored::TooLarge);
    assert!(s.get("j", T0).is_none());
}

#[test]
fn an_item_bigger_than_memory_is_refused() {
    let mut s = Store::new(StoreConfig {
        memory_limit: 200,
        max_item_size: 1000,
    });
    set(&mut s, "small", "v", 0, T0);
    assert_eq!(s.store(Mode::Set, "k", 0, 0, &[0; 500], T0), Stored::NoMemory);
    assert!(
        s.get("small", T0).is_some(),
        "nothing evicted for an item that cannot fit"
    );
    assert_eq!(s.counters().store_no_memory, 1);
}

/// Fills a store past its memory limit: the least recently used items go,
/// the ones read recently stay, and each live item dropped is an eviction.
#[test]
fn lru_eviction_under_the_memory_limit() {
    // Each item costs 59 + 3 + 40 = 102 bytes: nine fit in 1000.
    let mut s = Store::new(StoreConfig {
        memory_limit: 1000,
        max_item_size: 1000,
    });
    let value = "v".repeat(40);
    let key = |i: usize| format!("k{i:02}");
    for i in 0..9 {
        set(&mut s, &key(i), &value, 0, T0);
    }
    assert_eq!((s.len(), s.bytes()), (9, 918));
    assert_eq!(s.counters().evictions, 0);
    // Read the two oldest: they become the most recently used.
    assert!(s.get(&key(0), T0).is_some());
    assert!(s.get(&key(1), T0).is_some());
    // Two more items: the two least recently used (k02, k03) go.
    set(&mut s, &key(9), &value, 0, T0);
    set(&mut s, &key(10), &value, 0, T0);
    assert_eq!(s.counters().evictions, 2);
    assert!(s.bytes() <= 1000);
    for gone in [2, 3] {
        assert!(s.get(&key(gone), T0).is_none(), "{} evicted", key(gone));
    }
    for kept in [0, 1, 4, 5, 6, 7, 8, 9, 10] {
        assert!(s.get(&key(kept), T0).is_some(), "{} kept", key(kept));
    }
    // Touch and a failed add count as uses too; an overwrite makes an item new.
    assert!(s.touch(&key(4), 0, T0));
    assert_eq!(s.store(Mode::Add, &key(5), 0, 0, b"x", T0), Stored::NotStored);
    set(&mut s, &key(6), &value, 0, T0);
    // Oldest first: k00 k01 k07 k08 k09 k10 k04 k05 k06 (the gets above ran in key order).
    set(&mut s, &key(11), &value, 0, T0);
    assert!(s.get(&key(0), T0).is_none());
    assert!(s.get(&key(4), T0).is_some());
    assert_eq!(s.counters().evictions, 3);

    // Many more: the limit always holds, and the newest are there.
    for i in 100..400 {
        set(&mut s, &key(i), &value, 0, T0);
        assert!(s.bytes() <= 1000);
    }
    assert_eq!(s.len(), 9);
    for i in 391..400 {
        assert!(s.get(&key(i), T0).is_some());
    }
    assert_eq!(s.counters().evictions, 3 + 300);
}

#[test]
fn expired_items_dropped_for_room_are_not_evictions() {
    let mut s = Store::new(StoreConfig {
        memory_limit: 250,
        max_item_size: 1000,
    });
    // 59 + 1 + 50 = 110 bytes each: two fit.
    let value = "v".repeat(50);
    set(&mut s, "a", &value, 5, T0);
    set(&mut s, "b", &value, 0, T0);
    set(&mut s, "c", &value, 0, T0 + 10);
    assert_eq!(s.counters().evictions, 0);
    assert_eq!(s.counters().reclaimed, 1);
    assert!(s.get("b", T0 + 10).is_some());
}

#[test]
fn stats_reset_zeroes_counters_not_items() {
    let mut s = store();
    set(&mut s, "k", "v", 0, T0);
    s.get("k", T0);
    s.reset_counters();
    assert_eq!(*s.counters(), Counters::default());
    assert_eq!(s.len(), 1);
}
