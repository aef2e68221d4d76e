//! `stats` and its groups, as memcached 1.6 answers them: the same names in
//! the same order, with this server's values where it keeps them and a
//! constant where it has nothing the name could mean (see the list in
//! [`super`]). Slab classes are derived from item sizes the way memcached
//! lays them out, so `stats items` and `stats slabs` group items as
//! memcached would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use protocol_runtime::bytes::Bytes;
use protocol_runtime::transport::Stream;

use crate::specs::memcached::{self as mc, ServerMessage};

use super::server::Shared;
use super::store::ItemInfo;
use super::VERSION;

/// memcached's slab page: the memory a class takes at a time (`-o
/// slab_page_size`, 1 MiB).
pub const SLAB_PAGE_SIZE: u64 = 1024 * 1024;
/// The largest chunk (`slab_chunk_max`, half a page); larger items are
/// chained from chunks.
pub const SLAB_CHUNK_MAX: u64 = SLAB_PAGE_SIZE / 2;
/// The smallest chunk: a 48-byte item header and memcached's `-n 48`.
pub const SMALLEST_CHUNK: u32 = 96;
/// How much each class's chunk grows over the one before (`-f 1.25`).
pub const GROWTH_FACTOR: f64 = 1.25;
/// Chunks are aligned to this many bytes.
const CHUNK_ALIGN: u32 = 8;
/// What a chained item's header holds besides the header, key, flags and
/// cas: memcached's `item_chunk` (three pointers, two ints, two bytes).
const CHUNK_HEADER: u64 = 40;

/// The chunk size of every slab class, class 1 first, as memcached's
/// `slabs_init` computes them: from 96 bytes, each 1.25 times the one
/// before, aligned to 8 bytes, up to `slab_chunk_max / 1.25`; the last
/// class is `slab_chunk_max` itself.
pub fn slab_classes() -> &'static [u32] {
    static CLASSES: OnceLock<Vec<u32>> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let mut sizes = Vec::new();
        let mut size = SMALLEST_CHUNK;
        while f64::from(size) < SLAB_CHUNK_MAX as f64 / GROWTH_FACTOR {
            if !size.is_multiple_of(CHUNK_ALIGN) {
                size += CHUNK_ALIGN - size % CHUNK_ALIGN;
            }
            sizes.push(size);
            // memcached keeps the size in an unsigned int: the product is
            // truncated.
            size = (f64::from(size) * GROWTH_FACTOR) as u32;
        }
        sizes.push(SLAB_CHUNK_MAX as u32);
        sizes
    })
}

/// The chunk size of class `class` (1-based).
pub fn chunk_size(class: u8) -> u32 {
    slab_classes()[usize::from(class) - 1]
}

/// The slab class of an item of `size` bytes in all (the store's
/// [`item_size`](super::store::item_size)) holding `data_len` bytes of
/// data: the first class whose chunk holds it. An item over the largest
/// chunk is chained, and memcached files it under the class of its header.
pub fn item_class(size: u64, data_len: u64) -> u8 {
    let classes = slab_classes();
    let size = if size > SLAB_CHUNK_MAX {
        // The header keeps everything but the data (and its CRLF), and the
        // chain's links.
        size - data_len - 2 + CHUNK_HEADER
    } else {
        size
    };
    let i = classes.partition_point(|&chunk| u64::from(chunk) < size);
    (i.min(classes.len() - 1) + 1) as u8
}

/// One connection, as `stats conns` lists it.
#[derive(Debug)]
pub struct ConnInfo {
    pub id: u64,
    /// `tcp:ADDR:PORT` of the client.
    pub addr: String,
    /// `tcp:ADDR:PORT` it connected to.
    pub listen_addr: String,
    /// When it last sent a request (or connected).
    pub last_cmd: AtomicU64,
}

/// The peer's and our own address of `stream`, as memcached writes them.
pub fn addresses(stream: &Stream) -> (String, String) {
    match stream {
        Stream::Tcp(s) => {
            let name = |a: std::io::Result<std::net::SocketAddr>| match a {
                Ok(a) if a.is_ipv6() => format!("tcp6:{a}"),
                Ok(a) => format!("tcp:{a}"),
                Err(_) => "tcp:unknown".to_string(),
            };
            (name(s.peer_addr()), name(s.local_addr()))
        }
        Stream::Unix(s) => {
            let path = s
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
                .unwrap_or_default();
            (format!("unix:{path}"), format!("unix:{path}"))
        }
        Stream::TlsServer(s) => addresses(s.get_ref().0),
        Stream::TlsClient(s) => addresses(s.get_ref().0),
        Stream::Memory(_) => ("memory".to_string(), "memory".to_string()),
    }
}

/// The connections open now, by id.
#[derive(Debug, Default)]
pub struct Conns {
    open: BTreeMap<u64, Arc<ConnInfo>>,
    /// Every address listened on that a connection came to: its id and when
    /// it last accepted one.
    listeners: BTreeMap<String, (u64, u64)>,
    next_id: u64,
}

impl Conns {
    /// Registers a connection from `addr` to `listen_addr` at `now`.
    pub fn open(&mut self, addr: String, listen_addr: String, now: u64) -> Arc<ConnInfo> {
        let next_id = &mut self.next_id;
        let listener = self.listeners.entry(listen_addr.clone()).or_insert_with(|| {
            *next_id += 1;
            (*next_id, now)
        });
        listener.1 = now;
        self.next_id += 1;
        let info = Arc::new(ConnInfo {
            id: self.next_id,
            addr,
            listen_addr,
            last_cmd: AtomicU64::new(now),
        });
        self.open.insert(info.id, Arc::clone(&info));
        info
    }

    pub fn close(&mut self, id: u64) {
        self.open.remove(&id);
    }

    /// Addresses listened on (that connections came to).
    pub fn listeners(&self) -> usize {
        self.listeners.len()
    }
}

/// Pushes `STAT name value` lines.
struct Lines<'a>(&'a mut Vec<ServerMessage>);

impl Lines<'_> {
    fn stat(&mut self, name: impl Into<String>, value: impl ToString) {
        self.0.push(
            mc::Stat {
                name: name.into(),
                value: value.to_string(),
            }
            .into(),
        );
    }
}

/// `stats items` and `stats slabs` for one class.
#[derive(Debug, Default, Clone)]
struct ClassSummary {
    number: u64,
    /// Seconds since the least recently used item was used.
    age: u64,
    mem_requested: u64,
}

fn summarize<'a>(items: impl Iterator<Item = ItemInfo<'a>>, now: u64) -> BTreeMap<u8, ClassSummary> {
    let mut classes: BTreeMap<u8, ClassSummary> = BTreeMap::new();
    for it in items {
        let c = classes.entry(it.class).or_insert_with(|| ClassSummary {
            // Items come least recently used first: the first of a class is
            // its oldest.
            age: now.saturating_sub(it.accessed),
            ..ClassSummary::default()
        });
        c.number += 1;
        c.mem_requested += it.size;
    }
    classes
}

/// Slab pages a class of `number` items needs.
fn pages(class: u8, number: u64) -> u64 {
    number.div_ceil(per_page(class))
}

fn per_page(class: u8) -> u64 {
    SLAB_PAGE_SIZE / u64::from(chunk_size(class))
}

/// The process's CPU time in user and system mode, in seconds, as
/// `rusage_user` and `rusage_system` print it.
fn rusage() -> (String, String) {
    // Fields 14 and 15 of /proc/self/stat, in clock ticks of 1/100 s.
    let ticks = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| {
        let rest = &s[s.rfind(')')? + 2..];
        let mut fields = rest.split(' ').skip(11);
        Some((
            fields.next()?.parse::<u64>().ok()?,
            fields.next()?.parse::<u64>().ok()?,
        ))
    });
    let (user, system) = ticks.unwrap_or((0, 0));
    let secs = |t: u64| format!("{}.{:06}", t / 100, (t % 100) * 10_000);
    (secs(user), secs(system))
}

impl Shared {
    /// `stats [group ...]`, asked on connection `conn`.
    pub(super) fn stats(&self, conn: &ConnInfo, args: Option<&str>, now: u64, out: &mut Vec<ServerMessage>) {
        let args: Vec<&str> = args.unwrap_or("").split(' ').filter(|a| !a.is_empty()).collect();
        let mut lines = Lines(out);
        // As memcached, the first word picks the group and the rest is
        // ignored, except where a group takes arguments.
        match args.first().copied() {
            None => {
                for (name, value) in self.general_stats(now) {
                    lines.stat(name, value);
                }
            }
            Some("settings") => {
                for (name, value) in self.settings(conn) {
                    lines.stat(name, value);
                }
            }
            Some("items") => self.items_stats(now, &mut lines),
            Some("slabs") => self.slabs_stats(&mut lines),
            Some("conns") => self.conns_stats(conn, now, &mut lines),
            Some("reset") => {
                self.reset_stats();
                out.push(mc::Reset.into());
                return;
            }
            // Size tracking is off, as in memcached without `-o track_sizes`.
            Some("sizes") => lines.stat("sizes_status", "disabled"),
            // memcached without extstore answers an empty list.
            Some("extstore") => {}
            Some("detail") => match args.get(1).copied() {
                Some("on") => {
                    self.detail.store(true, Ordering::Relaxed);
                    out.push(mc::Ok.into());
                    return;
                }
                Some("off") => {
                    self.detail.store(false, Ordering::Relaxed);
                    out.push(mc::Ok.into());
                    return;
                }
                // Per-prefix statistics are not kept: the dump is empty.
                Some("dump") => {}
                _ => {
                    out.push(client_error("usage: stats detail on|off|dump"));
                    return;
                }
            },
            Some("cachedump") => match self.cachedump(&args[1..], now) {
                Ok(items) => out.extend(items),
                Err(reply) => {
                    out.push(reply);
                    return;
                }
            },
            Some(_) => {
                out.push(mc::Error { why: None }.into());
                return;
            }
        }
        out.push(mc::End.into());
    }

    /// `stats cachedump CLASS LIMIT`: the class's live items as `ITEM key
    /// [N b; T s]` lines, most recently used first (`LIMIT` 0: all), or the
    /// error memcached gives for bad arguments.
    fn cachedump(&self, args: &[&str], now: u64) -> Result<Vec<ServerMessage>, ServerMessage> {
        let (Some(class), Some(limit)) = (args.first(), args.get(1)) else {
            return Err(client_error("bad command line"));
        };
        let (Ok(class), Ok(limit)) = (class.parse::<u32>(), limit.parse::<u32>()) else {
            return Err(client_error("bad command line format"));
        };
        // memcached accepts any id below its 64 classes.
        if class >= 64 {
            return Err(client_error("Illegal slab id"));
        }
        let limit = if limit == 0 { usize::MAX } else { limit as usize };
        let store = self.store();
        let mut items: Vec<ServerMessage> = store
            .items()
            .filter(|it| u32::from(it.class) == class && it.expires.is_none_or(|e| e > now))
            .map(|it| {
                mc::CacheItem {
                    key: Bytes::copy_from_slice(it.key),
                    len: it.data_len as u64,
                    time: it.expires.unwrap_or(0),
                }
                .into()
            })
            .collect();
        items.reverse();
        items.truncate(limit);
        Ok(items)
    }

    /// `lru_crawler metadump all|CLASS...|hash`: a line per live item, its
    /// key %-encoded as memcached does; `lru_crawler crawl ...` is
    /// acknowledged (items here expire when read, nothing needs crawling);
    /// anything else is memcached's `ERROR`.
    pub(super) fn lru_crawler(&self, args: &str, now: u64, out: &mut Vec<ServerMessage>) {
        let args: Vec<&str> = args.split(' ').filter(|a| !a.is_empty()).collect();
        match args.as_slice() {
            ["metadump", which, ..] => {
                let classes: Option<Vec<u32>> = match *which {
                    "all" | "hash" => None,
                    list => Some(list.split(',').filter_map(|c| c.parse().ok()).collect()),
                };
                let store = self.store();
                for it in store.items() {
                    if it.expires.is_some_and(|e| e <= now)
                        || classes
                            .as_ref()
                            .is_some_and(|c| !c.contains(&u32::from(it.class)))
                    {
                        continue;
                    }
                    out.push(
                        mc::MetaItem {
                            key: uri_encode(it.key),
                            exp: it.expires.map_or(-1, |e| e as i64),
                            la: it.accessed,
                            cas: it.cas,
                            fetch: if it.fetched { mc::Fetch::Yes } else { mc::Fetch::No },
                            cls: u32::from(it.class),
                            size: it.size,
                        }
                        .into(),
                    );
                }
                out.push(mc::End.into());
            }
            ["crawl", _, ..] => out.push(mc::Ok.into()),
            _ => out.push(mc::Error { why: None }.into()),
        }
    }

    fn reset_stats(&self) {
        self.store().reset_counters();
        self.total_connections.store(0, Ordering::Relaxed);
        self.bytes_read.store(0, Ordering::Relaxed);
        self.bytes_written.store(0, Ordering::Relaxed);
        self.rejected_base.store(self.rejected_total(), Ordering::Relaxed);
    }

    /// `stats` without arguments: memcached's general statistics, in
    /// memcached's order.
    pub fn general_stats(&self, now: u64) -> Vec<(&'static str, String)> {
        let store = self.store();
        let c = store.counters().clone();
        let (curr_items, bytes, limit) = (store.len(), store.bytes(), store.config().memory_limit);
        drop(store);
        let rejected = self
            .rejected_total()
            .saturating_sub(self.rejected_base.load(Ordering::Relaxed));
        let curr_connections = self.curr_connections.load(Ordering::Relaxed);
        let listeners = self.conns().listeners() as u64;
        let (rusage_user, rusage_system) = rusage();
        let zero = || "0".to_string();
        vec![
            ("pid", std::process::id().to_string()),
            ("uptime", now.saturating_sub(self.started).to_string()),
            ("time", now.to_string()),
            ("version", VERSION.to_string()),
            ("libevent", "none".to_string()),
            ("pointer_size", (usize::BITS).to_string()),
            ("rusage_user", rusage_user),
            ("rusage_system", rusage_system),
            ("max_connections", self.max_connections.to_string()),
            ("curr_connections", curr_connections.to_string()),
            (
                "total_connections",
                self.total_connections.load(Ordering::Relaxed).to_string(),
            ),
            ("rejected_connections", rejected.to_string()),
            (
                "connection_structures",
                (curr_connections + listeners).to_string(),
            ),
            ("response_obj_oom", zero()),
            ("response_obj_count", zero()),
            ("response_obj_bytes", zero()),
            ("read_buf_count", zero()),
            ("read_buf_bytes", zero()),
            ("read_buf_bytes_free", zero()),
            ("read_buf_oom", zero()),
            ("reserved_fds", zero()),
            ("cmd_get", c.cmd_get.to_string()),
            ("cmd_set", c.cmd_set.to_string()),
            ("cmd_flush", c.cmd_flush.to_string()),
            ("cmd_touch", c.cmd_touch.to_string()),
            ("cmd_meta", zero()),
            ("get_hits", c.get_hits.to_string()),
            ("get_misses", c.get_misses.to_string()),
            ("get_expired", c.get_expired.to_string()),
            ("get_flushed", zero()),
            ("delete_misses", c.delete_misses.to_string()),
            ("delete_hits", c.delete_hits.to_string()),
            ("incr_misses", c.incr_misses.to_string()),
            ("incr_hits", c.incr_hits.to_string()),
            ("decr_misses", c.decr_misses.to_string()),
            ("decr_hits", c.decr_hits.to_string()),
            ("cas_misses", c.cas_misses.to_string()),
            ("cas_hits", c.cas_hits.to_string()),
            ("cas_badval", c.cas_badval.to_string()),
            ("touch_hits", c.touch_hits.to_string()),
            ("touch_misses", c.touch_misses.to_string()),
            ("store_too_large", c.store_too_large.to_string()),
            ("store_no_memory", c.store_no_memory.to_string()),
            ("auth_cmds", zero()),
            ("auth_errors", zero()),
            ("bytes_read", self.bytes_read.load(Ordering::Relaxed).to_string()),
            (
                "bytes_written",
                self.bytes_written.load(Ordering::Relaxed).to_string(),
            ),
            ("limit_maxbytes", limit.to_string()),
            ("accepting_conns", "1".to_string()),
            ("listen_disabled_num", zero()),
            ("time_in_listen_disabled_us", zero()),
            ("threads", self.threads.to_string()),
            ("conn_yields", zero()),
            ("hash_power_level", zero()),
            ("hash_bytes", zero()),
            ("hash_is_expanding", zero()),
            ("slab_reassign_rescues", zero()),
            ("slab_reassign_chunk_rescues", zero()),
            ("slab_reassign_evictions_nomem", zero()),
            ("slab_reassign_inline_reclaim", zero()),
            ("slab_reassign_busy_items", zero()),
            ("slab_reassign_busy_deletes", zero()),
            ("slab_reassign_running", zero()),
            ("slabs_moved", zero()),
            ("lru_crawler_running", zero()),
            ("lru_crawler_starts", zero()),
            ("lru_maintainer_juggles", zero()),
            ("malloc_fails", zero()),
            ("log_worker_dropped", zero()),
            ("log_worker_written", zero()),
            ("log_watcher_skipped", zero()),
            ("log_watcher_sent", zero()),
            ("log_watchers", zero()),
            ("unexpected_napi_ids", zero()),
            ("round_robin_fallback", zero()),
            ("bytes", bytes.to_string()),
            ("curr_items", curr_items.to_string()),
            ("total_items", c.total_items.to_string()),
            ("slab_global_page_pool", zero()),
            ("expired_unfetched", c.expired_unfetched.to_string()),
            ("evicted_unfetched", c.evicted_unfetched.to_string()),
            ("evicted_active", zero()),
            ("evictions", c.evictions.to_string()),
            ("reclaimed", c.reclaimed.to_string()),
            ("crawler_reclaimed", zero()),
            ("crawler_items_checked", zero()),
            ("lrutail_reflocked", zero()),
            ("moves_to_cold", zero()),
            ("moves_to_warm", zero()),
            ("moves_within_lru", zero()),
            ("direct_reclaims", zero()),
            ("lru_bumps_dropped", zero()),
        ]
    }

    /// `stats settings`, in memcached's order.
    pub fn settings(&self, conn: &ConnInfo) -> Vec<(&'static str, String)> {
        let config = self.store().config();
        // The address this connection came to: memcached's `-p` and `-l`.
        let (inter, port) = match conn.listen_addr.split_once(':') {
            Some(("tcp" | "tcp6", a)) => match a.rsplit_once(':') {
                Some((host, port)) => (host.trim_matches(['[', ']']).to_string(), port.to_string()),
                None => ("NULL".to_string(), "0".to_string()),
            },
            _ => ("NULL".to_string(), "0".to_string()),
        };
        let domain_socket = conn
            .listen_addr
            .strip_prefix("unix:")
            .map_or("NULL".to_string(), str::to_string);
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        let s = |v: &str| v.to_string();
        vec![
            ("maxbytes", config.memory_limit.to_string()),
            ("maxconns", self.max_connections.to_string()),
            ("tcpport", port),
            ("udpport", s("0")),
            ("inter", inter),
            ("verbosity", self.verbosity.load(Ordering::Relaxed).to_string()),
            ("oldest", s("0")),
            ("evictions", s("on")),
            ("domain_socket", domain_socket),
            ("umask", s("700")),
            ("shutdown_command", s("no")),
            ("growth_factor", format!("{GROWTH_FACTOR:.2}")),
            ("chunk_size", (u64::from(SMALLEST_CHUNK) - 48).to_string()),
            ("num_threads", self.threads.to_string()),
            ("num_threads_per_udp", self.threads.to_string()),
            ("stat_key_prefix", s(":")),
            ("detail_enabled", yes_no(self.detail.load(Ordering::Relaxed))),
            ("reqs_per_event", s("20")),
            ("cas_enabled", s("yes")),
            ("tcp_backlog", s("1024")),
            ("binding_protocol", s("ascii")),
            ("auth_enabled_sasl", s("no")),
            ("auth_enabled_ascii", s("no")),
            ("item_size_max", config.max_item_size.to_string()),
            ("maxconns_fast", s("yes")),
            ("hashpower_init", s("0")),
            ("slab_reassign", s("no")),
            ("slab_automove", s("0")),
            ("slab_automove_ratio", s("0.80")),
            ("slab_automove_window", s("30")),
            ("slab_chunk_max", SLAB_CHUNK_MAX.to_string()),
            ("lru_crawler", s("no")),
            ("lru_crawler_sleep", s("100")),
            ("lru_crawler_tocrawl", s("0")),
            ("tail_repair_time", s("0")),
            ("flush_enabled", s("yes")),
            ("dump_enabled", s("yes")),
            ("hash_algorithm", s("foldhash")),
            ("lru_maintainer_thread", s("no")),
            ("lru_segmented", s("no")),
            ("hot_lru_pct", s("20")),
            ("warm_lru_pct", s("40")),
            ("hot_max_factor", s("0.20")),
            ("warm_max_factor", s("2.00")),
            ("temp_lru", s("no")),
            ("temporary_ttl", s("61")),
            ("idle_timeout", self.idle_timeout.to_string()),
            ("watcher_logbuf_size", s("262144")),
            ("worker_logbuf_size", s("65536")),
            ("read_buf_mem_limit", s("0")),
            ("track_sizes", s("no")),
            ("inline_ascii_response", s("no")),
            ("ext_item_size", s("512")),
            ("ext_item_age", s("4294967295")),
            ("ext_low_ttl", s("0")),
            ("ext_recache_rate", s("2000")),
            ("ext_wbuf_size", s("4194304")),
            ("ext_compact_under", s("0")),
            ("ext_drop_under", s("0")),
            ("ext_max_sleep", s("1000000")),
            ("ext_max_frag", s("0.80")),
            ("slab_automove_freeratio", s("0.010")),
            ("ext_drop_unread", s("no")),
            ("ssl_enabled", yes_no(self.tls)),
            ("ssl_chain_cert", s("(null)")),
            ("ssl_key", s("(null)")),
            ("ssl_verify_mode", s("0")),
            ("ssl_keyformat", s("1")),
            ("ssl_ciphers", s("NULL")),
            ("ssl_ca_cert", s("NULL")),
            ("ssl_wbuf_size", s("16384")),
            ("ssl_session_cache", s("no")),
            ("ssl_kernel_tls", s("no")),
            ("ssl_min_version", s("tlsv1.2")),
            ("num_napi_ids", s("(null)")),
            ("memory_file", s("(null)")),
        ]
    }

    /// `stats items`: per class that holds items, memcached's 28 names.
    fn items_stats(&self, now: u64, lines: &mut Lines<'_>) {
        let store = self.store();
        let classes = summarize(store.items(), now);
        let counters = store.counters().clone();
        drop(store);
        for (class, sum) in classes {
            let c = counters.class(class);
            let mut stat = |name: &str, value: u64| lines.stat(format!("items:{class}:{name}"), value);
            stat("number", sum.number);
            stat("number_hot", 0);
            stat("number_warm", 0);
            // One LRU: every item is where memcached's cold ones are.
            stat("number_cold", sum.number);
            stat("age_hot", 0);
            stat("age_warm", 0);
            stat("age", sum.age);
            stat("mem_requested", sum.mem_requested);
            stat("evicted", c.evicted);
            stat("evicted_nonzero", c.evicted_nonzero);
            stat("evicted_time", c.evicted_time);
            stat("outofmemory", c.outofmemory);
            stat("tailrepairs", 0);
            stat("reclaimed", c.reclaimed);
            stat("expired_unfetched", c.expired_unfetched);
            stat("evicted_unfetched", c.evicted_unfetched);
            stat("evicted_active", 0);
            stat("crawler_reclaimed", 0);
            stat("crawler_items_checked", 0);
            stat("lrutail_reflocked", 0);
            stat("moves_to_cold", 0);
            stat("moves_to_warm", 0);
            stat("moves_within_lru", 0);
            stat("direct_reclaims", 0);
            stat("hits_to_hot", 0);
            stat("hits_to_warm", 0);
            stat("hits_to_cold", 0);
            stat("hits_to_temp", 0);
        }
    }

    /// `stats slabs`: per class that holds items, the pages its items would
    /// take in memcached and the class's counters; then the totals.
    fn slabs_stats(&self, lines: &mut Lines<'_>) {
        let store = self.store();
        let classes = summarize(store.items(), 0);
        let counters = store.counters().clone();
        drop(store);
        let mut malloced = 0;
        for (&class, sum) in &classes {
            let c = counters.class(class);
            let pages = pages(class, sum.number);
            let chunks = pages * per_page(class);
            malloced += pages * SLAB_PAGE_SIZE;
            let mut stat = |name: &str, value: u64| lines.stat(format!("{class}:{name}"), value);
            stat("chunk_size", u64::from(chunk_size(class)));
            stat("chunks_per_page", per_page(class));
            stat("total_pages", pages);
            stat("total_chunks", chunks);
            stat("used_chunks", sum.number);
            stat("free_chunks", chunks - sum.number);
            stat("free_chunks_end", 0);
            stat("get_hits", c.get_hits);
            stat("cmd_set", c.cmd_set);
            stat("delete_hits", c.delete_hits);
            stat("incr_hits", c.incr_hits);
            stat("decr_hits", c.decr_hits);
            stat("cas_hits", c.cas_hits);
            stat("cas_badval", c.cas_badval);
            stat("touch_hits", c.touch_hits);
        }
        lines.stat("active_slabs", classes.len());
        lines.stat("total_malloced", malloced);
    }

    /// `stats conns`: the addresses listened on, then every open
    /// connection; `conn` is the one asking.
    fn conns_stats(&self, conn: &ConnInfo, now: u64, lines: &mut Lines<'_>) {
        let conns = self.conns();
        let mut entries: Vec<(u64, Vec<(&str, String)>)> = Vec::new();
        for (addr, (id, last)) in &conns.listeners {
            entries.push((
                *id,
                vec![
                    ("addr", addr.clone()),
                    ("state", "conn_listening".to_string()),
                    ("secs_since_last_cmd", now.saturating_sub(*last).to_string()),
                ],
            ));
        }
        for (id, c) in &conns.open {
            let state = if *id == conn.id {
                "conn_parse_cmd"
            } else {
                "conn_new_cmd"
            };
            let last = c.last_cmd.load(Ordering::Relaxed);
            entries.push((
                *id,
                vec![
                    ("addr", c.addr.clone()),
                    ("listen_addr", c.listen_addr.clone()),
                    ("state", state.to_string()),
                    ("secs_since_last_cmd", now.saturating_sub(last).to_string()),
                ],
            ));
        }
        drop(conns);
        entries.sort_by_key(|(id, _)| *id);
        for (id, fields) in entries {
            for (name, value) in fields {
                lines.stat(format!("{id}:{name}"), value);
            }
        }
    }
}

/// memcached's %-encoding of keys in metadump: letters, digits and `-._~`
/// as they are, every other byte as `%XX`.
fn uri_encode(key: &[u8]) -> String {
    let mut out = String::with_capacity(key.len());
    for &b in key {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn client_error(why: &str) -> ServerMessage {
    mc::ClientError { why: why.into() }.into()
}

/// The bytes `msg` takes on the wire (for `bytes_written`).
pub fn wire_len(msg: &ServerMessage) -> usize {
    let digits = |n: u64| n.checked_ilog10().unwrap_or(0) as usize + 1;
    let line = match msg {
        ServerMessage::Value(v) => {
            let cas = v.cas.map_or(0, |c| 1 + digits(c));
            "VALUE ".len()
                + v.key.len()
                + 1
                + digits(v.flags.into())
                + 1
                + digits(v.data.len() as u64)
                + cas
                + 2
                + v.data.len()
        }
        ServerMessage::End(_) => 3,
        ServerMessage::Stored(_) => 6,
        ServerMessage::NotStored(_) => 10,
        ServerMessage::Exists(_) => 6,
        ServerMessage::NotFound(_) => 9,
        ServerMessage::Deleted(_) => 7,
        ServerMessage::Touched(_) => 7,
        ServerMessage::Number(n) => digits(n.value),
        ServerMessage::Stat(s) => 5 + s.name.len() + 1 + s.value.len(),
        ServerMessage::CacheItem(c) => 5 + c.key.len() + 2 + digits(c.len) + 4 + digits(c.time) + 3,
        ServerMessage::MetaItem(m) => {
            let exp = if m.exp < 0 { 2 } else { digits(m.exp as u64) };
            let fetch = if m.fetch == mc::Fetch::Yes { 3 } else { 2 };
            // Its line ends in a bare LF: one byte less than the CRLF added below.
            4 + m.key.len()
                + 5
                + exp
                + 4
                + digits(m.la)
                + 5
                + digits(m.cas)
                + 7
                + fetch
                + 5
                + digits(m.cls.into())
                + 6
                + digits(m.size)
                - 1
        }
        ServerMessage::Reset(_) => 5,
        ServerMessage::Ok(_) => 2,
        ServerMessage::VersionReply(v) => 8 + v.version.len(),
        ServerMessage::Error(e) => 5 + e.why.as_ref().map_or(0, |w| 1 + w.len()),
        ServerMessage::ClientError(e) => 13 + e.why.len(),
        ServerMessage::ServerError(e) => 13 + e.why.len(),
    };
    line + 2
}

#[cfg(test)]
mod tests;
