//! The memcached reference server (text protocol, `specs/memcached.proto`):
//! an in-memory store with memcached's semantics ([`store`]), the connection
//! handler on the generated API ([`server`]) and the answers memcached gives
//! to lines the spec does not parse ([`unrecognized`]).
//!
//! The spec reads commands as memcached's tokenizer does (lines end at LF,
//! runs of spaces separate tokens, keys are any bytes but space), answers a
//! bad data chunk and reads on, keeps silent on a malformed
//! command that ends in `noreply`, and never closes an idle client; a
//! multi-get holds up to 10,000 keys (its line up to 2,560 KiB, checked as it
//! arrives; memcached has no bound). A `decr` that shortens a number keeps
//! the item's length, padded with spaces, as memcached's does. Where this
//! server still differs from memcached 1.6, on purpose:
//!
//! - meta commands (`mg`, `ms`, ...) and the binary protocol (libmemcached
//!   `--binary`, pylibmc `binary=True`) are not served: the spec describes
//!   the text protocol; they draw `ERROR` (a binary request is no line).
//! - the item size limit counts the data bytes only (memcached counts its
//!   item header and key too, so its limit bites a few dozen bytes earlier).
//! - an item over the size limit is answered `SERVER_ERROR object too large
//!   for cache` as soon as its length is read, and its data swallowed as it
//!   comes; memcached 1.6.18 answers once it has swallowed the data. A
//!   client that waits for the answer before sending data learns it at once.
//! - a length of 2^31 or more (but under 2^32) is taken as an item over the
//!   limit, its data swallowed; memcached answers `CLIENT_ERROR bad command
//!   line format` (its lengths are `int32`) and reads the data as commands.
//!
//! `stats` and its groups ([`stats`]) send every name memcached 1.6.18
//! sends, in its order. Where this server keeps the number the name is for,
//! the value is real; slab classes are not allocated but derived from each
//! item's size as memcached's `slabs_init` lays them out, so `stats items`
//! and `stats slabs` list the classes memcached would file the items under,
//! with the pages those items would take (memcached keeps a page once a
//! class took it; here a class with no items is not listed). These names are
//! constants, because this server has nothing they could count:
//!
//! - `libevent` is `none`: connections run on tokio, not libevent.
//! - `response_obj_*`, `read_buf_*`, `reserved_fds`, `conn_yields`: memcached's
//!   own buffer pools, descriptor reserve and per-event request budget; the
//!   runtime has none of them. `0`.
//! - `hash_power_level`, `hash_bytes`, `hash_is_expanding`, `hashpower_init`:
//!   memcached's hash table; the store is a `hashlink` map. `0`;
//!   `hash_algorithm` is `foldhash`.
//! - `slab_reassign_*`, `slabs_moved`, `slab_global_page_pool`,
//!   `slab_reassign` (`no`), `slab_automove` (`0`), `slab_automove_*`: no
//!   slab pages to move.
//! - `lru_crawler*`, `crawler_*`, `lru_maintainer_*`, `moves_*`,
//!   `direct_reclaims`, `lrutail_reflocked`, `lru_bumps_dropped`,
//!   `tailrepairs`, `tail_repair_time`, `number_hot`/`number_warm`,
//!   `age_hot`/`age_warm`, `hits_to_*`, `evicted_active`: one LRU list and no
//!   background threads (no segmented LRU, crawler or maintainer);
//!   `number_cold` is the class's item count, since memcached keeps idle
//!   items in its cold segment. `lru_segmented` and `lru_crawler` are `no`;
//!   `hot_lru_pct` and the like keep memcached's defaults.
//! - `malloc_fails`, `log_*`, `unexpected_napi_ids`, `round_robin_fallback`,
//!   `num_napi_ids`, `watcher_logbuf_size`, `worker_logbuf_size`: no log
//!   watchers, NAPI ids or allocator failures reported.
//! - `cmd_meta`, `auth_cmds`, `auth_errors`: the spec has no meta commands
//!   and no authentication. `0`.
//! - `get_flushed`: `flush_all` drops the items it invalidates at once
//!   (memcached drops them when next looked up or crawled), so a get never
//!   finds a flushed item. `0`.
//! - `listen_disabled_num`, `time_in_listen_disabled_us`: the server keeps
//!   accepting over its limit (it answers and closes, memcached's
//!   `maxconns_fast`). `0`; `accepting_conns` is `1`.
//! - `udpport`, `umask`, `shutdown_command`, `reqs_per_event`, `tcp_backlog`,
//!   `oldest`, `temp_lru`, `temporary_ttl`, `read_buf_mem_limit`,
//!   `inline_ascii_response`, `ext_*`, `ssl_*` but `ssl_enabled`,
//!   `memory_file`: memcached's defaults for options this server does not
//!   have.
//!
//! `stats conns` numbers connections from 1 in the order they came (memcached
//! shows file descriptors) and lists each address a connection came to as a
//! listener. `stats cachedump` lists a class's items most recently used
//! first (`ITEM key [N b; T s]`); `lru_crawler metadump all|CLASSES|hash`
//! lists every live item (`key=K exp=E la=L cas=C fetch=F cls=N size=S`, the
//! key %-encoded, the line ended by a bare LF as memcached ends it).

pub mod server;
pub mod stats;
pub mod store;
pub mod unrecognized;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol_runtime::server::ServerConfig;

pub use server::{handle, serve, serve_with_clock, Shared};
pub use store::{Store, StoreConfig};

/// The version `version` and `stats` report.
pub const VERSION: &str = "1.6.18-protospec";

/// memcached's default memory limit (`-m 64`).
pub const DEFAULT_MEMORY_LIMIT: u64 = 64 * 1024 * 1024;

/// memcached's default item size limit (`-I 1m`), in bytes of data.
pub const DEFAULT_MAX_ITEM_SIZE: u64 = 1024 * 1024;

/// The largest data block the spec reads (`limits { raw = 1 MiB; }`); larger
/// blocks are skipped by the runtime and answered as too large.
pub const SPEC_MAX_DATA: u64 = 1024 * 1024;

/// How the memcached server runs.
#[derive(Clone)]
pub struct MemcachedConfig {
    /// Connection limit, shutdown grace and the like (the overload reply is
    /// set by [`serve`]).
    pub server: ServerConfig,
    /// Bytes of items the store holds before evicting the least recently
    /// used ones.
    pub memory_limit: u64,
    /// The largest data block stored (at most [`SPEC_MAX_DATA`]).
    pub max_item_size: u64,
    /// Worker threads (reported by `stats`).
    pub threads: usize,
}

impl Default for MemcachedConfig {
    fn default() -> Self {
        MemcachedConfig {
            server: ServerConfig::default(),
            memory_limit: DEFAULT_MEMORY_LIMIT,
            max_item_size: DEFAULT_MAX_ITEM_SIZE,
            threads: 1,
        }
    }
}

/// Where the store gets the time: whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> u64;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that moves only when told to (for tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(now: u64) -> Self {
        ManualClock(AtomicU64::new(now))
    }
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
