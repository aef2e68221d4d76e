//! A small in-memory Redis-compatible server over RESP2
//! (`specs/redis.proto`): the keyspace with Redis's types and expiry
//! ([`store`]), the commands and their replies, worded as Redis 7.0 words
//! them ([`commands`]), and the connection handler on the generated code
//! ([`server`]).
//!
//! Commands: strings (`GET`, `SET` with `EX`/`PX`/`EXAT`/`PXAT`/`NX`/`XX`/
//! `KEEPTTL`/`GET`, `MGET`, `MSET`, `INCR`, `DECR`, `INCRBY`, `DECRBY`,
//! `APPEND`, `STRLEN`), keys (`DEL`, `EXISTS`, `EXPIRE`, `PEXPIRE`, `TTL`,
//! `PTTL`, `PERSIST`, `KEYS`, `SCAN`, `TYPE`, `FLUSHALL`, `FLUSHDB`,
//! `DBSIZE`), lists (`LPUSH`, `RPUSH`, `LPOP`, `RPOP`, `LRANGE`, `LLEN`,
//! `BLPOP`, `BRPOP`), hashes (`HSET`, `HGET`, `HGETALL`, `HDEL`, `HINCRBY`),
//! sets (`SADD`, `SMEMBERS`, `SREM`, `SPOP`), and `PING`, `ECHO`, `SELECT`
//! (databases 0 to 15), `INFO`, `CONFIG GET`, `COMMAND` (`COUNT`, `DOCS`,
//! `INFO`), `CLIENT` (`SETNAME`, `GETNAME`, `SETINFO`, `ID`), `QUIT`,
//! `MULTI`/`EXEC`/`DISCARD`. Names are case-insensitive; commands come as
//! RESP arrays or inline (`PING` typed into telnet).
//!
//! Where this server differs from Redis 7.0, on purpose:
//!
//! - sets and hashes keep the order members were added in (Redis's small
//!   encodings do too; its hash tables do not); `SCAN` walks keys in the
//!   order they were created, its cursor an index into that order.
//! - `used_memory` is an estimate: the bytes of keys and values plus a fixed
//!   overhead per key and per element. Over `--maxmemory`, commands that
//!   may add data are refused with `-OOM`, as Redis's `noeviction` policy
//!   does; nothing is evicted.
//! - a multibulk count over 1,048,576 (the spec's `repeat` limit; Redis
//!   takes up to 2^31 - 1) is a protocol error.
//! - a bulk string not followed by CRLF is a protocol error (Redis skips
//!   the two bytes unread).
//! - `INFO` has the sections `server`, `clients`, `memory`, `stats` and
//!   `keyspace`, with a few fields each; `redis_version` is
//!   [`REDIS_VERSION`] and `protospec_version` says what this is.

pub mod admin;
pub mod collections;
pub mod commands;
pub mod server;
pub mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol_runtime::server::ServerConfig;

pub use server::{handle, serve, serve_with_clock, Shared};
pub use store::Store;

/// The version of Redis whose behaviour this server follows, as `INFO`
/// reports it.
pub const REDIS_VERSION: &str = "7.0.0";

/// Databases `SELECT` chooses from (Redis's `databases 16`).
pub const DATABASES: usize = 16;

/// How the server runs.
#[derive(Clone)]
pub struct RespConfig {
    /// Connection limit, shutdown grace, TLS (the overload reply is set by
    /// [`serve`]).
    pub server: ServerConfig,
    /// Bytes of data (see [`store::Store::used_memory`]) over which writes
    /// are refused; 0: no limit (Redis's default).
    pub maxmemory: u64,
    /// Worker threads (reported by `INFO`).
    pub threads: usize,
}

impl Default for RespConfig {
    fn default() -> Self {
        RespConfig {
            server: ServerConfig::default(),
            maxmemory: 0,
            threads: 1,
        }
    }
}

/// Where the server gets the time: milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that moves only when told to (for tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(now_ms: u64) -> Self {
        ManualClock(AtomicU64::new(now_ms))
    }
    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
