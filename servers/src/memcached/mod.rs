//! The memcached reference server (text protocol, `specs/memcached.proto`):
//! an in-memory store with memcached's semantics ([`store`]), the connection
//! handler on the generated API ([`server`]) and the answers memcached gives
//! to lines the spec does not parse ([`unrecognized`]).
//!
//! Where it differs from memcached 1.6, because the spec is stricter than
//! memcached's parser: lines end in CRLF only (memcached also takes a bare
//! LF); a data block not followed by CRLF is a protocol violation that closes
//! the connection (memcached answers `CLIENT_ERROR bad data chunk` and reads
//! on); keys are tokens of printable bytes (memcached stores keys with control
//! bytes); `version` takes no arguments; a multi-get holds at most 256 keys.

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
