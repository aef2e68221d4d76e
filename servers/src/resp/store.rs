//! The keyspace: sixteen databases of keys holding strings, lists, hashes
//! or sets, each key with an optional expiry time, and an estimate of the
//! memory they take.
//!
//! Time is passed in (`now`, milliseconds since the Unix epoch), so expiry
//! is tested without sleeping. A key past its expiry time is gone: it is
//! dropped when next looked up, and [`Store::reap`] drops a few more on
//! every command, earliest first, so keys nobody reads do not pile up.
//! A collection left empty is deleted, as Redis deletes it.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use hashlink::LinkedHashMap;
use protocol_runtime::bytes::Bytes;

type Hasher = foldhash::fast::RandomState;

/// What a key costs besides its name and value, in [`Store::used_memory`].
pub const KEY_OVERHEAD: u64 = 64;
/// What each element of a list, hash or set costs besides its bytes.
pub const ELEMENT_OVERHEAD: u64 = 24;

/// The members of a set: the order they were added in, until a removal
/// moves the last one into the gap.
#[derive(Debug, Clone, Default)]
pub struct Members {
    items: Vec<Bytes>,
    index: HashMap<Bytes, usize, Hasher>,
}

impl Members {
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn contains(&self, m: &[u8]) -> bool {
        self.index.contains_key(m)
    }
    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.items.iter()
    }
    /// Adds `m`; whether it was new.
    pub fn insert(&mut self, m: Bytes) -> bool {
        if self.index.contains_key(&m) {
            return false;
        }
        self.index.insert(m.clone(), self.items.len());
        self.items.push(m);
        true
    }
    /// Removes `m`; whether it was there.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        let Some(i) = self.index.remove(m) else {
            return false;
        };
        self.items.swap_remove(i);
        if let Some(moved) = self.items.get(i) {
            self.index.insert(moved.clone(), i);
        }
        true
    }
    /// Removes and returns the member at `i` (an index below `len`).
    pub fn take(&mut self, i: usize) -> Bytes {
        let m = self.items[i].clone();
        self.remove(&m);
        m
    }
}

/// A key's value.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Bytes),
    List(VecDeque<Bytes>),
    Hash(LinkedHashMap<Bytes, Bytes, Hasher>),
    Set(Members),
}

impl Value {
    pub fn new_list() -> Value {
        Value::List(VecDeque::new())
    }
    pub fn new_hash() -> Value {
        Value::Hash(LinkedHashMap::with_hasher(Hasher::default()))
    }
    pub fn new_set() -> Value {
        Value::Set(Members::default())
    }

    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
        }
    }

    /// An empty collection (which is deleted).
    fn is_empty(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
        }
    }

    /// What the value costs in [`Store::used_memory`].
    pub fn cost(&self) -> u64 {
        let each = |len: usize| ELEMENT_OVERHEAD + len as u64;
        match self {
            Value::Str(s) => s.len() as u64,
            Value::List(l) => l.iter().map(|e| each(e.len())).sum(),
            Value::Hash(h) => h.iter().map(|(k, v)| each(k.len() + v.len())).sum(),
            Value::Set(s) => s.iter().map(|m| each(m.len())).sum(),
        }
    }
}

/// What an element of `len` bytes costs.
pub fn element_cost(len: usize) -> i64 {
    (ELEMENT_OVERHEAD + len as u64) as i64
}

/// A key's value and expiry time.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Milliseconds since the Unix epoch.
    pub expire_at: Option<u64>,
    /// When the key was created, in the order of this database: `SCAN`'s
    /// cursor.
    seq: u64,
}

/// One database.
#[derive(Debug, Default)]
struct Db {
    map: HashMap<Bytes, Entry, Hasher>,
    /// Keys by creation, for `SCAN` and `KEYS`.
    order: BTreeMap<u64, Bytes>,
    /// Keys with an expiry time, by that time.
    expires: BTreeSet<(u64, Bytes)>,
    next_seq: u64,
}

/// The store's answer to a key of another type than the command's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// The keyspace.
#[derive(Debug)]
pub struct Store {
    dbs: Vec<Db>,
    used: u64,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    pub fn new() -> Store {
        Store {
            dbs: (0..super::DATABASES).map(|_| Db::default()).collect(),
            used: 0,
        }
    }

    /// The estimated bytes of every key and value: each key's name and
    /// value, [`KEY_OVERHEAD`] per key and [`ELEMENT_OVERHEAD`] per element
    /// of a collection.
    pub fn used_memory(&self) -> u64 {
        self.used
    }

    fn charge(&mut self, delta: i64) {
        self.used = self.used.saturating_add_signed(delta);
    }

    /// Keys in database `db` (some may have expired and not yet be reaped).
    pub fn dbsize(&self, db: usize) -> usize {
        self.dbs[db].map.len()
    }

    /// Keys and keys with an expiry time in database `db`.
    pub fn counts(&self, db: usize) -> (usize, usize) {
        (self.dbs[db].map.len(), self.dbs[db].expires.len())
    }

    /// Drops up to `max` expired keys, earliest first, from every database.
    pub fn reap(&mut self, now: u64, max: usize) {
        let mut left = max;
        for db in 0..self.dbs.len() {
            while left > 0 {
                let Some((at, key)) = self.dbs[db].expires.first().cloned() else {
                    break;
                };
                if at > now {
                    break;
                }
                self.remove(db, &key);
                left -= 1;
            }
        }
    }

    /// The live entry of `key`, dropping it if it expired.
    pub fn get(&mut self, db: usize, key: &[u8], now: u64) -> Option<&Entry> {
        self.expire_if_due(db, key, now);
        self.dbs[db].map.get(key)
    }

    /// Whether `key` exists.
    pub fn exists(&mut self, db: usize, key: &[u8], now: u64) -> bool {
        self.get(db, key, now).is_some()
    }

    fn expire_if_due(&mut self, db: usize, key: &[u8], now: u64) {
        let due = matches!(self.dbs[db].map.get(key), Some(Entry { expire_at: Some(at), .. }) if *at <= now);
        if due {
            self.remove(db, key);
        }
    }

    /// Deletes `key`; its entry, if it was there (expired or not).
    pub fn remove(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        let d = &mut self.dbs[db];
        let (key, entry) = d.map.remove_entry(key)?;
        d.order.remove(&entry.seq);
        if let Some(at) = entry.expire_at {
            d.expires.remove(&(at, key.clone()));
        }
        let cost = KEY_OVERHEAD + key.len() as u64 + entry.value.cost();
        self.used = self.used.saturating_sub(cost);
        Some(entry)
    }

    /// Deletes a live `key`; whether it was there.
    pub fn delete(&mut self, db: usize, key: &[u8], now: u64) -> bool {
        self.expire_if_due(db, key, now);
        self.remove(db, key).is_some()
    }

    /// Sets `key` to `value`, replacing whatever it held; the expiry time is
    /// `expire_at` (with `keep_ttl`, the old one stays).
    pub fn set(
        &mut self,
        db: usize,
        key: Bytes,
        value: Value,
        expire_at: Option<u64>,
        keep_ttl: bool,
        now: u64,
    ) {
        self.expire_if_due(db, &key, now);
        let cost = value.cost() as i64;
        let d = &mut self.dbs[db];
        let (delta, old_at) = match d.map.get_mut(&key) {
            Some(e) => {
                let delta = cost - e.value.cost() as i64;
                e.value = value;
                let old = e.expire_at;
                if !keep_ttl {
                    e.expire_at = expire_at;
                }
                (delta, old)
            }
            None => {
                let seq = d.next_seq;
                d.next_seq += 1;
                d.order.insert(seq, key.clone());
                d.map.insert(
                    key.clone(),
                    Entry {
                        value,
                        expire_at,
                        seq,
                    },
                );
                if let Some(at) = expire_at {
                    d.expires.insert((at, key.clone()));
                }
                self.charge(cost + (KEY_OVERHEAD + key.len() as u64) as i64);
                return;
            }
        };
        if !keep_ttl && old_at != expire_at {
            if let Some(at) = old_at {
                d.expires.remove(&(at, key.clone()));
            }
            if let Some(at) = expire_at {
                d.expires.insert((at, key));
            }
        }
        self.charge(delta);
    }

    /// Sets the expiry time of a live `key` (`None`: persist); whether the
    /// key exists. A time already past deletes the key.
    pub fn set_expiry(&mut self, db: usize, key: &[u8], at: Option<u64>, now: u64) -> bool {
        self.expire_if_due(db, key, now);
        if matches!(at, Some(at) if at <= now) {
            return self.remove(db, key).is_some();
        }
        let d = &mut self.dbs[db];
        let Some((k, _)) = d.map.get_key_value(key) else {
            return false;
        };
        let k = k.clone();
        let e = d.map.get_mut(key).expect("the key is there");
        if let Some(old) = e.expire_at {
            d.expires.remove(&(old, k.clone()));
        }
        if let Some(at) = at {
            d.expires.insert((at, k));
        }
        e.expire_at = at;
        true
    }

    /// Runs `f` on the live value of `key`, creating it with `create` first
    /// if it is missing (`None` if there is no key and no `create`). `f`
    /// returns its answer and the bytes it added (negative: removed). A
    /// collection `f` leaves empty is deleted.
    pub fn modify<R>(
        &mut self,
        db: usize,
        key: &Bytes,
        now: u64,
        create: Option<fn() -> Value>,
        f: impl FnOnce(&mut Value) -> (R, i64),
    ) -> Option<R> {
        self.expire_if_due(db, key, now);
        if !self.dbs[db].map.contains_key(&key[..]) {
            let make = create?;
            self.set(db, key.clone(), make(), None, false, now);
        }
        let entry = self.dbs[db].map.get_mut(&key[..]).expect("the key was just made");
        let (r, delta) = f(&mut entry.value);
        let empty = entry.value.is_empty();
        self.charge(delta);
        if empty {
            self.remove(db, key);
        }
        Some(r)
    }

    /// The live keys of database `db` from the cursor `from` (in the order
    /// they were created) that match `pattern`, looking at no more than
    /// `count` keys; the cursor to go on from (0: done).
    pub fn scan(
        &mut self,
        db: usize,
        from: u64,
        count: usize,
        pattern: Option<&[u8]>,
        now: u64,
    ) -> (u64, Vec<Bytes>) {
        let mut seen = Vec::with_capacity(count.min(1024));
        let mut next = 0;
        for (seq, key) in self.dbs[db].order.range(from..) {
            if seen.len() == count {
                next = *seq;
                break;
            }
            seen.push(key.clone());
        }
        let keys = seen
            .into_iter()
            .filter(|k| pattern.is_none_or(|p| glob_match(p, k, false)))
            .filter(|k| self.exists(db, k, now))
            .collect();
        (next, keys)
    }

    /// Every live key of database `db` matching `pattern`.
    pub fn keys(&mut self, db: usize, pattern: &[u8], now: u64) -> Vec<Bytes> {
        let all: Vec<Bytes> = self.dbs[db]
            .order
            .values()
            .filter(|k| glob_match(pattern, k, false))
            .cloned()
            .collect();
        all.into_iter().filter(|k| self.exists(db, k, now)).collect()
    }

    /// Empties database `db`.
    pub fn flush_db(&mut self, db: usize) {
        let d = std::mem::take(&mut self.dbs[db]);
        let cost: u64 = d
            .map
            .iter()
            .map(|(k, e)| KEY_OVERHEAD + k.len() as u64 + e.value.cost())
            .sum();
        self.used = self.used.saturating_sub(cost);
    }

    /// Empties every database.
    pub fn flush_all(&mut self) {
        for d in &mut self.dbs {
            *d = Db::default();
        }
        self.used = 0;
    }
}

/// Whether `s` matches the glob `pattern` as Redis's `stringmatchlen` does:
/// `*`, `?`, `[abc]`, `[^a-z]`, and `\` quoting the next byte.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    glob(pattern, s, nocase, 0)
}

fn glob(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    // Redis bounds its recursion the same way.
    if depth > 1000 {
        return false;
    }
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while let Some(&c) = p.first() {
        match c {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..=s.len() {
                    if glob(&p[1..], &s[i..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    match p {
                        [b'\\', q, ..] if p.len() >= 2 => {
                            if s.first().is_some_and(|&b| eq(*q, b)) {
                                matched = true;
                            }
                            p = &p[2..];
                        }
                        [b']', ..] => break,
                        [] => {
                            // An unclosed class: Redis treats the end as `]`.
                            break;
                        }
                        [lo, b'-', hi, ..] if p.len() >= 3 => {
                            let (mut lo, mut hi) = (*lo, *hi);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            if let Some(&b) = s.first() {
                                let (b, lo, hi) = if nocase {
                                    (
                                        b.to_ascii_lowercase(),
                                        lo.to_ascii_lowercase(),
                                        hi.to_ascii_lowercase(),
                                    )
                                } else {
                                    (b, lo, hi)
                                };
                                if b >= lo && b <= hi {
                                    matched = true;
                                }
                            }
                            p = &p[3..];
                        }
                        [q, ..] => {
                            if s.first().is_some_and(|&b| eq(*q, b)) {
                                matched = true;
                            }
                            p = &p[1..];
                        }
                    }
                }
                if not {
                    matched = !matched;
                }
                if !matched || s.is_empty() {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // The class ran to the end of the pattern.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if s.first().is_none_or(|&b| !eq(p[0], b)) {
                    return false;
                }
                s = &s[1..];
            }
            _ => {
                if s.first().is_none_or(|&b| !eq(c, b)) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            return p.iter().all(|&c| c == b'*');
        }
    }
    s.is_empty()
}

#[cfg(test)]
mod tests;
