//! The item store, with memcached's semantics: flags, expiry times, cas
//! uniques, `flush_all` with a delay, a memory limit with least-recently-used
//! eviction, and the counters `stats` reports.
//!
//! Time is passed in (`now`, whole seconds since the Unix epoch) so that
//! expiry can be tested without sleeping. Expired and flushed items are
//! dropped lazily, when next looked up or evicted, as in memcached.

use hashlink::LinkedHashMap;

use protocol_runtime::bytes::{Bytes, BytesMut};

use super::stats::{item_class, slab_classes};

/// Keys are at most this many bytes (the spec enforces it too).
pub const KEY_MAX: usize = 250;

/// Exptimes up to 30 days are relative to now; larger ones are Unix times.
pub const RELATIVE_EXPTIME_MAX: i64 = 60 * 60 * 24 * 30;

/// Bytes an item costs besides its key and data, as memcached counts them in
/// `bytes`: a 48-byte header, the key's NUL, the data's CRLF and the cas.
pub const ITEM_OVERHEAD: u64 = 48 + 1 + 2 + 8;

/// What memcached adds to an item whose flags are not 0: it keeps them
/// after the key only then.
pub const FLAGS_SIZE: u64 = 4;

/// What an item costs against the memory limit (memcached's `bytes` and
/// its item's total size, from which its slab class follows).
pub fn item_size(key: &(impl AsRef<[u8]> + ?Sized), flags: u32, data: &[u8]) -> u64 {
    let key = key.as_ref();
    let suffix = if flags == 0 { 0 } else { FLAGS_SIZE };
    ITEM_OVERHEAD + suffix + key.len() as u64 + data.len() as u64
}

/// The store's limits.
#[derive(Debug, Clone, Copy)]
pub struct StoreConfig {
    /// Total [`item_size`] of the items held; storing past it evicts the
    /// least recently used items.
    pub memory_limit: u64,
    /// The largest data block stored.
    pub max_item_size: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            memory_limit: super::DEFAULT_MEMORY_LIMIT,
            max_item_size: super::DEFAULT_MAX_ITEM_SIZE,
        }
    }
}

/// The storage commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    /// `cas` with the client's unique.
    Cas(u64),
}

/// The outcome of a storage command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Stored,
    NotStored,
    /// `cas`: the item changed since the client read it.
    Exists,
    /// `cas`: no such item.
    NotFound,
    /// The data is over the item size limit.
    TooLarge,
    /// The item is bigger than the whole memory limit.
    NoMemory,
}

/// `incr` or `decr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta {
    Incr,
    Decr,
}

/// The outcome of `incr`/`decr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaResult {
    /// The new value.
    Value(u64),
    NotFound,
    /// The item's data is not a decimal number.
    NonNumeric,
    NoMemory,
}

/// An item as a retrieval command returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub flags: u32,
    pub cas: u64,
    pub data: Bytes,
}

/// The counters `stats` reports, named as memcached names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub cmd_get: u64,
    pub cmd_set: u64,
    pub cmd_flush: u64,
    pub cmd_touch: u64,
    pub get_hits: u64,
    pub get_misses: u64,
    pub get_expired: u64,
    pub delete_misses: u64,
    pub delete_hits: u64,
    pub incr_misses: u64,
    pub incr_hits: u64,
    pub decr_misses: u64,
    pub decr_hits: u64,
    pub cas_misses: u64,
    pub cas_hits: u64,
    pub cas_badval: u64,
    pub touch_hits: u64,
    pub touch_misses: u64,
    pub store_too_large: u64,
    pub store_no_memory: u64,
    /// Items ever linked (an `incr`/`decr` whose number fits the old item
    /// changes it in place and links none, as in memcached).
    pub total_items: u64,
    /// Live items dropped to make room.
    pub evictions: u64,
    /// Expired or flushed items dropped (on lookup or to make room).
    pub reclaimed: u64,
    /// Reclaimed items that were never read.
    pub expired_unfetched: u64,
    /// Evicted items that were never read.
    pub evicted_unfetched: u64,
    /// Per slab class, indexed by class id (0 unused).
    pub classes: Vec<ClassCounters>,
}

/// The counters memcached keeps per slab class (`stats slabs` and `stats
/// items`), named as memcached names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassCounters {
    pub get_hits: u64,
    pub cmd_set: u64,
    pub delete_hits: u64,
    pub incr_hits: u64,
    pub decr_hits: u64,
    pub cas_hits: u64,
    pub cas_badval: u64,
    pub touch_hits: u64,
    pub evicted: u64,
    /// Evicted items that had an expiry time.
    pub evicted_nonzero: u64,
    /// Seconds since the last evicted item was used, when it was evicted.
    pub evicted_time: u64,
    pub outofmemory: u64,
    pub reclaimed: u64,
    pub expired_unfetched: u64,
    pub evicted_unfetched: u64,
}

impl Counters {
    /// The counters of slab class `class`.
    pub fn class(&self, class: u8) -> ClassCounters {
        self.classes.get(usize::from(class)).cloned().unwrap_or_default()
    }

    fn class_mut(&mut self, class: u8) -> &mut ClassCounters {
        let i = usize::from(class);
        if self.classes.len() <= i {
            self.classes
                .resize(slab_classes().len().max(i) + 1, ClassCounters::default());
        }
        &mut self.classes[i]
    }
}

/// What `stats items`, `stats slabs` and `stats cachedump` read of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInfo<'a> {
    pub key: &'a [u8],
    /// [`item_size`].
    pub size: u64,
    pub class: u8,
    pub data_len: usize,
    /// When it expires (none: never).
    pub expires: Option<u64>,
    /// When it was last stored or read.
    pub accessed: u64,
    pub cas: u64,
    /// Whether it has been read since it was stored.
    pub fetched: bool,
}

#[derive(Debug)]
struct Item {
    data: Bytes,
    flags: u32,
    /// [`item_size`] and the slab class it falls in.
    size: u64,
    class: u8,
    /// When the item was last stored or read, and whether it was read.
    accessed: u64,
    fetched: bool,
    /// When the item expires (it is invalid from that second on).
    expires: Option<u64>,
    cas: u64,
    /// When the item was last stored (for `flush_all` with a delay).
    stored_at: u64,
}

impl Item {
    fn expired(&self, now: u64) -> bool {
        self.expires.is_some_and(|t| now >= t)
    }
}

/// The expiry time of an exptime given at `now`: 0 never expires, up to 30
/// days is relative, more is a Unix time, negative has already passed.
pub fn expiry(exptime: i64, now: u64) -> Option<u64> {
    match exptime {
        0 => None,
        e if e < 0 => Some(0),
        e if e <= RELATIVE_EXPTIME_MAX => Some(now.saturating_add(e as u64)),
        e => Some(e as u64),
    }
}

/// The number `incr`/`decr` reads from an item, as memcached's
/// `safe_strtoull` does: optional leading white space and `+`, decimal
/// digits that fit 64 bits, then the end or white space.
pub fn parse_number(data: &[u8]) -> Option<u64> {
    let start = data.iter().position(|b| !is_space(*b))?;
    let rest = &data[start..];
    let rest = rest.strip_prefix(b"+").unwrap_or(rest);
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits).is_some_and(|b| !is_space(*b)) {
        return None;
    }
    rest[..digits]
        .iter()
        .try_fold(0u64, |v, b| v.checked_mul(10)?.checked_add(u64::from(b - b'0')))
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// The items, in memory.
#[derive(Debug)]
pub struct Store {
    config: StoreConfig,
    /// Least recently used first. Keys come from peers: the hasher is
    /// seeded per process, so they cannot be chosen to collide.
    items: LinkedHashMap<Box<[u8]>, Item, foldhash::fast::RandomState>,
    last_cas: u64,
    bytes: u64,
    /// A delayed `flush_all`: items stored before it are invalid from then on.
    flush_at: Option<u64>,
    counters: Counters,
}

impl Store {
    pub fn new(config: StoreConfig) -> Self {
        Store {
            config,
            items: LinkedHashMap::with_hasher(foldhash::fast::RandomState::default()),
            last_cas: 0,
            bytes: 0,
            flush_at: None,
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> StoreConfig {
        self.config
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// `stats reset`: zeroes the counters (not the items).
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }

    /// Items held, including expired ones not yet dropped (`curr_items`).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What the items held cost against the limit (`bytes`).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// A storage command.
    pub fn store(
        &mut self,
        mode: Mode,
        key: &(impl AsRef<[u8]> + ?Sized),
        flags: u32,
        exptime: i64,
        data: &[u8],
        now: u64,
    ) -> Stored {
        let key = key.as_ref();
        self.apply_flush(now);
        if data.len() as u64 > self.config.max_item_size {
            return self.too_large(key, now);
        }
        // memcached counts a set in the class of the item it allocates for
        // the data sent.
        self.counters.cmd_set += 1;
        self.counters
            .class_mut(item_class(item_size(key, flags, data), data.len() as u64))
            .cmd_set += 1;
        let old = self
            .live(key, now)
            .map(|it| (it.flags, it.expires, it.cas, it.data.clone(), it.class));
        let (flags, expires, data) = match (mode, old) {
            (Mode::Set, _) => (flags, expiry(exptime, now), Bytes::copy_from_slice(data)),
            (Mode::Add, Some(_)) => {
                // A failed add still counts as a use, as in memcached.
                self.bump(key, now);
                return Stored::NotStored;
            }
            (Mode::Add, None) => (flags, expiry(exptime, now), Bytes::copy_from_slice(data)),
            (Mode::Replace | Mode::Append | Mode::Prepend, None) => return Stored::NotStored,
            (Mode::Replace, Some(_)) => (flags, expiry(exptime, now), Bytes::copy_from_slice(data)),
            (Mode::Append | Mode::Prepend, Some((old_flags, old_expires, _, old_data, _))) => {
                if (old_data.len() + data.len()) as u64 > self.config.max_item_size {
                    // memcached cannot allocate the joined item: NOT_STORED.
                    return Stored::NotStored;
                }
                let mut joined = BytesMut::with_capacity(old_data.len() + data.len());
                if mode == Mode::Append {
                    joined.extend_from_slice(&old_data);
                    joined.extend_from_slice(data);
                } else {
                    joined.extend_from_slice(data);
                    joined.extend_from_slice(&old_data);
                }
                (old_flags, old_expires, joined.freeze())
            }
            (Mode::Cas(_), None) => {
                self.counters.cas_misses += 1;
                return Stored::NotFound;
            }
            (Mode::Cas(unique), Some((_, _, cas, _, class))) => {
                if cas != unique {
                    self.counters.cas_badval += 1;
                    self.counters.class_mut(class).cas_badval += 1;
                    return Stored::Exists;
                }
                self.counters.cas_hits += 1;
                self.counters.class_mut(class).cas_hits += 1;
                (flags, expiry(exptime, now), Bytes::copy_from_slice(data))
            }
        };
        match self.insert(key, flags, expires, data, now) {
            Ok(_) => Stored::Stored,
            Err(()) => Stored::NoMemory,
        }
    }

    /// A storage command whose data was over the item size limit (or skipped
    /// by the runtime for being over the spec's): like memcached, it drops
    /// the item the command would have replaced, so no stale value stays.
    pub fn too_large(&mut self, key: &(impl AsRef<[u8]> + ?Sized), now: u64) -> Stored {
        let key = key.as_ref();
        self.apply_flush(now);
        self.counters.store_too_large += 1;
        self.remove(key);
        Stored::TooLarge
    }

    /// `get`/`gets` of one key.
    pub fn get(&mut self, key: &(impl AsRef<[u8]> + ?Sized), now: u64) -> Option<Hit> {
        let key = key.as_ref();
        self.apply_flush(now);
        self.counters.cmd_get += 1;
        let expired_before = self.counters.reclaimed;
        let hit = self.live_used(key, now).map(|it| {
            it.accessed = now;
            it.fetched = true;
            (
                Hit {
                    flags: it.flags,
                    cas: it.cas,
                    data: it.data.clone(),
                },
                it.class,
            )
        });
        match hit {
            Some((hit, class)) => {
                self.counters.get_hits += 1;
                self.counters.class_mut(class).get_hits += 1;
                Some(hit)
            }
            None => {
                self.counters.get_misses += 1;
                if self.counters.reclaimed > expired_before {
                    self.counters.get_expired += 1;
                }
                None
            }
        }
    }

    /// `gat`/`gats` of one key: a get that also sets the expiry time. As in
    /// memcached it counts as a touch (`cmd_touch`, `touch_hits`,
    /// `touch_misses`), not as a get.
    pub fn gat(&mut self, key: &(impl AsRef<[u8]> + ?Sized), exptime: i64, now: u64) -> Option<Hit> {
        let key = key.as_ref();
        self.apply_flush(now);
        self.counters.cmd_touch += 1;
        let hit = self.live(key, now).map(|it| {
            it.expires = expiry(exptime, now);
            it.accessed = now;
            it.fetched = true;
            (
                Hit {
                    flags: it.flags,
                    cas: it.cas,
                    data: it.data.clone(),
                },
                it.class,
            )
        });
        match hit {
            Some((hit, class)) => {
                self.counters.touch_hits += 1;
                self.counters.class_mut(class).touch_hits += 1;
                self.bump(key, now);
                Some(hit)
            }
            None => {
                self.counters.touch_misses += 1;
                None
            }
        }
    }

    /// `touch`: sets the expiry time; false when there is no such item.
    pub fn touch(&mut self, key: &(impl AsRef<[u8]> + ?Sized), exptime: i64, now: u64) -> bool {
        let key = key.as_ref();
        self.apply_flush(now);
        self.counters.cmd_touch += 1;
        let class = self.live(key, now).map(|it| {
            it.expires = expiry(exptime, now);
            it.class
        });
        match class {
            Some(class) => {
                self.counters.touch_hits += 1;
                self.counters.class_mut(class).touch_hits += 1;
                self.bump(key, now);
                true
            }
            None => {
                self.counters.touch_misses += 1;
                false
            }
        }
    }

    /// `delete`: false when there is no such item.
    pub fn delete(&mut self, key: &(impl AsRef<[u8]> + ?Sized), now: u64) -> bool {
        let key = key.as_ref();
        self.apply_flush(now);
        match self.live(key, now).map(|it| it.class) {
            Some(class) => {
                self.remove(key);
                self.counters.delete_hits += 1;
                self.counters.class_mut(class).delete_hits += 1;
                true
            }
            None => {
                self.counters.delete_misses += 1;
                false
            }
        }
    }

    /// `incr`/`decr`: the data must be a decimal number; incr wraps at
    /// 2^64, decr stops at 0. As in memcached, a new number that fits the
    /// old data's length is written over it in place, padded with spaces
    /// (the item keeps its length and links no new item, so `total_items`
    /// does not move); a longer one is stored as a new item of as many bytes
    /// as it has digits. Either way the item keeps its flags and expiry time
    /// and gets a new cas.
    pub fn delta(
        &mut self,
        delta: Delta,
        key: &(impl AsRef<[u8]> + ?Sized),
        amount: u64,
        now: u64,
    ) -> DeltaResult {
        let key = key.as_ref();
        self.apply_flush(now);
        let old = self.live(key, now).map(|it| {
            (
                it.flags,
                it.expires,
                it.class,
                it.data.len(),
                parse_number(&it.data),
            )
        });
        let Some((flags, expires, class, old_len, number)) = old else {
            match delta {
                Delta::Incr => self.counters.incr_misses += 1,
                Delta::Decr => self.counters.decr_misses += 1,
            }
            return DeltaResult::NotFound;
        };
        // memcached counts neither a hit nor a miss for non-numeric data.
        let Some(number) = number else {
            return DeltaResult::NonNumeric;
        };
        let per_class = self.counters.class_mut(class);
        match delta {
            Delta::Incr => per_class.incr_hits += 1,
            Delta::Decr => per_class.decr_hits += 1,
        }
        match delta {
            Delta::Incr => self.counters.incr_hits += 1,
            Delta::Decr => self.counters.decr_hits += 1,
        }
        let value = match delta {
            Delta::Incr => number.wrapping_add(amount),
            Delta::Decr => number.saturating_sub(amount),
        };
        let digits = value.to_string();
        if digits.len() <= old_len {
            let mut data = BytesMut::with_capacity(old_len);
            data.extend_from_slice(digits.as_bytes());
            data.resize(old_len, b' ');
            self.last_cas += 1;
            let cas = self.last_cas;
            if let Some(it) = self.items.get_mut(key) {
                it.data = data.freeze();
                it.cas = cas;
                it.accessed = now;
            }
            self.bump(key, now);
            return DeltaResult::Value(value);
        }
        let data = Bytes::from(digits);
        if data.len() as u64 > self.config.max_item_size {
            return DeltaResult::NoMemory;
        }
        match self.insert(key, flags, expires, data, now) {
            Ok(_) => DeltaResult::Value(value),
            Err(()) => DeltaResult::NoMemory,
        }
    }

    /// `flush_all [delay]`: invalidates every item now, or, with a delay
    /// (an exptime: relative up to 30 days, else a Unix time), every item
    /// stored before that time once it comes. A later `flush_all` replaces a
    /// pending one.
    pub fn flush_all(&mut self, delay: i64, now: u64) {
        self.apply_flush(now);
        self.counters.cmd_flush += 1;
        match expiry(delay, now) {
            Some(at) if delay > 0 && at > now => self.flush_at = Some(at),
            _ => {
                self.flush_at = None;
                for (_, item) in std::mem::take(&mut self.items) {
                    self.count_reclaimed(&item);
                }
                self.bytes = 0;
            }
        }
    }

    /// Every item held, least recently used first (expired ones not yet
    /// dropped included, as memcached lists them until it reclaims them).
    pub fn items(&self) -> impl Iterator<Item = ItemInfo<'_>> {
        self.items.iter().map(|(key, it)| ItemInfo {
            key,
            size: it.size,
            class: it.class,
            data_len: it.data.len(),
            expires: it.expires,
            accessed: it.accessed,
            cas: it.cas,
            fetched: it.fetched,
        })
    }

    /// Carries out a delayed flush whose time has come.
    fn apply_flush(&mut self, now: u64) {
        let Some(at) = self.flush_at.filter(|at| now >= *at) else {
            return;
        };
        self.flush_at = None;
        let stale: Vec<Box<[u8]>> = self
            .items
            .iter()
            .filter(|(_, it)| it.stored_at < at)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(item) = self.remove(&key) {
                self.count_reclaimed(&item);
            }
        }
    }

    /// Counts an expired or flushed item dropped.
    fn count_reclaimed(&mut self, item: &Item) {
        self.counters.reclaimed += 1;
        let unfetched = u64::from(!item.fetched);
        self.counters.expired_unfetched += unfetched;
        let per_class = self.counters.class_mut(item.class);
        per_class.reclaimed += 1;
        per_class.expired_unfetched += unfetched;
    }

    /// The item under `key` if it is still valid; an expired one is dropped.
    fn live(&mut self, key: &[u8], now: u64) -> Option<&mut Item> {
        if self.items.get(key)?.expired(now) {
            if let Some(item) = self.remove(key) {
                self.count_reclaimed(&item);
            }
            return None;
        }
        self.items.get_mut(key)
    }

    /// [`live`](Self::live), made the most recently used if it is.
    fn live_used(&mut self, key: &[u8], now: u64) -> Option<&mut Item> {
        if self.items.to_back(key)?.expired(now) {
            if let Some(item) = self.remove(key) {
                self.count_reclaimed(&item);
            }
            return None;
        }
        self.items.get_mut(key)
    }

    /// Makes `key` the most recently used, used at `now`.
    fn bump(&mut self, key: &[u8], now: u64) {
        if let Some(it) = self.items.to_back(key) {
            it.accessed = now;
        }
    }

    fn remove(&mut self, key: &[u8]) -> Option<Item> {
        let item = self.items.remove(key)?;
        self.bytes -= item.size;
        Some(item)
    }

    /// Stores an item under `key` (replacing any), with a new cas, as the
    /// most recently used, evicting the least recently used items while the
    /// store would be over its memory limit. Returns the cas.
    fn insert(
        &mut self,
        key: &[u8],
        flags: u32,
        expires: Option<u64>,
        data: Bytes,
        now: u64,
    ) -> Result<u64, ()> {
        let size = item_size(key, flags, &data);
        let class = item_class(size, data.len() as u64);
        let key: Box<[u8]> = match self.items.remove_entry(key) {
            Some((k, old)) => {
                self.bytes -= old.size;
                k
            }
            None => Box::from(key),
        };
        if size > self.config.memory_limit {
            self.counters.store_no_memory += 1;
            self.counters.class_mut(class).outofmemory += 1;
            return Err(());
        }
        while self.bytes + size > self.config.memory_limit {
            self.evict_one(now);
        }
        self.last_cas += 1;
        let cas = self.last_cas;
        self.bytes += size;
        self.items.insert(
            key,
            Item {
                data,
                flags,
                size,
                class,
                accessed: now,
                fetched: false,
                expires,
                cas,
                stored_at: now,
            },
        );
        self.counters.total_items += 1;
        Ok(cas)
    }

    /// Drops the least recently used item.
    fn evict_one(&mut self, now: u64) {
        let Some((_, item)) = self.items.pop_front() else {
            return;
        };
        self.bytes -= item.size;
        if item.expired(now) {
            self.count_reclaimed(&item);
            return;
        }
        self.counters.evictions += 1;
        let unfetched = u64::from(!item.fetched);
        self.counters.evicted_unfetched += unfetched;
        let per_class = self.counters.class_mut(item.class);
        per_class.evicted += 1;
        per_class.evicted_nonzero += u64::from(item.expires.is_some());
        per_class.evicted_time = now.saturating_sub(item.accessed);
        per_class.evicted_unfetched += unfetched;
    }
}

#[cfg(test)]
mod tests;
