//! The DNS reference server (DNS over TCP, `specs/dns.proto`): names and
//! addresses from a hosts-format file ([`Hosts`]), aliases from the command
//! line, and the answers dnsmasq gives from such data ([`Zone::answer`]); the
//! connection handler on the generated API is in [`server`].
//!
//! What it answers, as dnsmasq 2.90 answers from `--addn-hosts`,
//! `--cname` and `--local-ttl` (the dns suite's peer; its README has the
//! bytes):
//!
//! - A and AAAA from the hosts file, with the configured TTL, the owner name
//!   spelled as the question spelled it; ANY gives both. Several addresses
//!   of a name come in dnsmasq's order: the hosts file's order reversed, then
//!   rotated by one at every answer on the connection, so that the first
//!   answer to a name of three addresses on a connection is the second, the
//!   first, then the third line's (see [`Zone::answer`]).
//! - A name with a `--cname`: the CNAME record, then the records of its
//!   target for the type asked (aliases of aliases are followed, at most
//!   [`MAX_CNAME_CHAIN`] deep).
//! - PTR for the reverse names (`in-addr.arpa`, `ip6.arpa`) of the hosts
//!   file's addresses: the first name given for the address.
//! - An unknown name: NXDOMAIN. A known name without a record of the type
//!   asked (`beta.test AAAA`, `alpha.test TXT`): NOERROR and no answer.
//! - AA only on an answer with records, RA always, RD copied, AD and CD
//!   never, the question echoed as it came, the query's id.
//! - A query with an EDNS OPT record gets an OPT record back: UDP size 1232,
//!   no options (no cookie echoed), as dnsmasq answers.
//!
//! Where it differs from dnsmasq, on purpose:
//!
//! - an opcode other than QUERY is answered NOTIMP (dnsmasq: REFUSED), with
//!   the opcode and the questions copied;
//! - a query of more than one question is answered FORMERR; one of none is
//!   REFUSED, as dnsmasq answers it; a class other than IN (or ANY) is
//!   REFUSED;
//! - a name outside the hosts file is NXDOMAIN whatever its domain (dnsmasq
//!   is authoritative only for its `--local` domains and REFUSES others);
//! - a query the spec cannot read (a length of 0, a header cut short, counts
//!   past the end of the message, a name with a pointer loop) ends the
//!   connection with a typed error and no answer: dnsmasq also closes on
//!   most of them;
//! - there is no limit of 100 queries per connection and no 150 s lifetime;
//!   connections are limited by `--max-connections`.

pub mod server;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use protocol_runtime::bytes::Bytes;
use protocol_runtime::server::ServerConfig;

use crate::specs::dns;

pub use server::{handle, serve};

/// How deep aliases of aliases are followed.
pub const MAX_CNAME_CHAIN: usize = 8;

/// The UDP payload size of the OPT record the server answers with (what
/// dnsmasq answers: 1232).
pub const EDNS_UDP_SIZE: u16 = 1232;

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_ANY: u16 = 255;
pub const CLASS_IN: u16 = 1;
pub const CLASS_ANY: u16 = 255;

pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const NXDOMAIN: u8 = 3;
pub const NOTIMP: u8 = 4;
pub const REFUSED: u8 = 5;

/// A hosts file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsError {
    pub line: usize,
    pub problem: String,
}

impl fmt::Display for HostsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl std::error::Error for HostsError {}

/// The addresses of each name of a hosts file, in the file's order, and the
/// names of each address.
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    /// By the name in lower case, with its final dot.
    names: HashMap<String, Addresses>,
    /// The reverse name (`1.2.0.192.in-addr.arpa.`) of each address, and
    /// the name given first for it, as written.
    reverse: HashMap<String, String>,
}

/// One name's addresses, each once, in the order of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub v4: Vec<[u8; 4]>,
    pub v6: Vec<[u8; 16]>,
}

impl Hosts {
    /// Reads hosts-file text: per line an address (IPv4 or IPv6) then one or
    /// more names, separated by blanks; `#` starts a comment. Names are
    /// matched without regard to case; a name may be written with or without
    /// its final dot.
    pub fn parse(text: &str) -> Result<Hosts, HostsError> {
        let mut hosts = Hosts::default();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let content = line.split('#').next().unwrap_or("");
            let mut words = content.split_whitespace();
            let Some(addr) = words.next() else { continue };
            let bad = |problem: String| HostsError {
                line: line_no,
                problem,
            };
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| bad(format!("`{addr}` is not an IPv4 or IPv6 address")))?;
            let mut any = false;
            for name in words {
                any = true;
                let absolute = absolute(name);
                protocol_runtime::domain::parse(&absolute).map_err(|e| bad(e.0))?;
                let entry = hosts.names.entry(absolute.to_ascii_lowercase()).or_default();
                match ip {
                    IpAddr::V4(v4) => {
                        if !entry.v4.contains(&v4.octets()) {
                            entry.v4.push(v4.octets());
                        }
                    }
                    IpAddr::V6(v6) => {
                        if !entry.v6.contains(&v6.octets()) {
                            entry.v6.push(v6.octets());
                        }
                    }
                }
                hosts.reverse.entry(reverse_name(ip)).or_insert(absolute);
            }
            if !any {
                return Err(bad(format!("`{addr}` has no name after it")));
            }
        }
        Ok(hosts)
    }

    /// The addresses of `name` (lower case, absolute), if the file names it.
    pub fn get(&self, name: &str) -> Option<&Addresses> {
        self.names.get(name)
    }

    /// How many names the file gives.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// `name` with a final dot.
fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// The PTR name of an address: `1.2.0.192.in-addr.arpa.`, or the 32
/// nibbles of an IPv6 address, last first, under `ip6.arpa.`.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(73);
            for b in v6.octets().iter().rev() {
                s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
                s.push('.');
                s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
                s.push('.');
            }
            s.push_str("ip6.arpa.");
            s
        }
    }
}

/// What the server answers from: the hosts file, the aliases and the TTL.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    pub hosts: Hosts,
    /// Alias (lower case, absolute) to target (absolute, as written).
    cnames: HashMap<String, String>,
    /// The TTL of every record.
    pub ttl: u32,
}

impl Zone {
    pub fn new(hosts: Hosts, ttl: u32) -> Zone {
        Zone {
            hosts,
            cnames: HashMap::new(),
            ttl,
        }
    }

    /// Adds `alias` CNAME `target` (dnsmasq's `--cname=ALIAS,TARGET`).
    pub fn add_cname(&mut self, alias: &str, target: &str) -> Result<(), String> {
        let alias = absolute(alias);
        let target = absolute(target);
        for n in [&alias, &target] {
            protocol_runtime::domain::parse(n).map_err(|e| e.0)?;
        }
        self.cnames.insert(alias.to_ascii_lowercase(), target);
        Ok(())
    }

    /// Parses `ALIAS,TARGET` and adds it.
    pub fn add_cname_arg(&mut self, arg: &str) -> Result<(), String> {
        let (alias, target) = arg
            .split_once(',')
            .ok_or_else(|| format!("`{arg}` is not ALIAS,TARGET"))?;
        self.add_cname(alias.trim(), target.trim())
    }

    /// The answer to `query`. `rotation` is the connection's: how many
    /// times each name of several addresses has been answered on it.
    pub fn answer(&self, query: &dns::Query, rotation: &mut Rotation) -> dns::Response {
        let edns = query.additional.iter().any(|r| r.rtype == TYPE_OPT);
        let mut r = dns::Response {
            id: query.id,
            opcode: query.opcode,
            aa: false,
            tc: false,
            rd: query.rd,
            ra: true,
            z: false,
            ad: false,
            cd: false,
            rcode: NOERROR,
            questions: query.questions.clone(),
            answers: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        };
        if edns {
            r.additional.push(opt_record());
        }
        if query.opcode != 0 {
            r.rcode = NOTIMP;
            return r;
        }
        let q = match &query.questions[..] {
            [] => {
                r.rcode = REFUSED;
                return r;
            }
            [q] => q,
            _ => {
                r.rcode = FORMERR;
                return r;
            }
        };
        if q.qclass != CLASS_IN && q.qclass != CLASS_ANY {
            r.rcode = REFUSED;
            return r;
        }
        let mut owner = q.name.clone();
        let mut known = false;
        for _ in 0..=MAX_CNAME_CHAIN {
            let key = owner.to_ascii_lowercase();
            if let Some(target) = self.cnames.get(&key) {
                known = true;
                r.answers
                    .push(self.record(&owner, TYPE_CNAME, Rdata::Cname(target.clone())));
                if q.qtype == TYPE_CNAME {
                    break;
                }
                owner = target.clone();
                continue;
            }
            if let Some(addrs) = self.hosts.get(&key) {
                known = true;
                if matches!(q.qtype, TYPE_A | TYPE_ANY) {
                    let turn = rotation.turn(&key, TYPE_A, addrs.v4.len());
                    for a in rotated(&addrs.v4, turn) {
                        r.answers.push(self.record(&owner, TYPE_A, Rdata::A(a)));
                    }
                }
                if matches!(q.qtype, TYPE_AAAA | TYPE_ANY) {
                    let turn = rotation.turn(&key, TYPE_AAAA, addrs.v6.len());
                    for a in rotated(&addrs.v6, turn) {
                        r.answers.push(self.record(&owner, TYPE_AAAA, Rdata::Aaaa(a)));
                    }
                }
            } else if let Some(name) = self.hosts.reverse.get(&key) {
                known = true;
                if matches!(q.qtype, TYPE_PTR | TYPE_ANY) {
                    r.answers
                        .push(self.record(&owner, TYPE_PTR, Rdata::Name(name.clone())));
                }
            }
            break;
        }
        r.rcode = if known { NOERROR } else { NXDOMAIN };
        r.aa = !r.answers.is_empty();
        r
    }

    fn record(&self, owner: &str, rtype: u16, data: Rdata) -> dns::Record {
        let mut rec = dns::Record {
            name: owner.to_string(),
            rtype,
            class: CLASS_IN,
            ttl: self.ttl,
            a: None,
            aaaa: None,
            cname: None,
            data: None,
        };
        match data {
            Rdata::A(a) => rec.a = Some(Bytes::copy_from_slice(&a)),
            Rdata::Aaaa(a) => rec.aaaa = Some(Bytes::copy_from_slice(&a)),
            Rdata::Cname(n) => rec.cname = Some(n),
            Rdata::Name(n) => {
                let mut wire = Vec::new();
                // Checked when the hosts file was read.
                let _ = protocol_runtime::domain::write(&n, &mut wire);
                rec.data = Some(Bytes::from(wire));
            }
        }
        rec
    }
}

enum Rdata {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Cname(String),
    /// A name in the record's data as bytes (PTR): written out whole.
    Name(String),
}

/// The OPT record the server answers a query that had one with.
pub fn opt_record() -> dns::Record {
    dns::Record {
        name: ".".into(),
        rtype: TYPE_OPT,
        class: EDNS_UDP_SIZE,
        ttl: 0,
        a: None,
        aaaa: None,
        cname: None,
        data: Some(Bytes::new()),
    }
}

/// `addrs` in the order of answer number `turn` (from 0) on a connection:
/// the file's order reversed, rotated left by `turn + 1`. On the suite's
/// `multi.test` (.11, .12, .13 in the file) that is .12 .11 .13, then
/// .11 .13 .12, then .13 .12 .11, as dnsmasq answers on a fresh connection.
fn rotated<T: Copy>(addrs: &[T], turn: usize) -> impl Iterator<Item = T> + '_ {
    let n = addrs.len();
    let shift = if n == 0 { 0 } else { (turn + 1) % n };
    (0..n).map(move |i| addrs[n - 1 - (i + shift) % n])
}

/// How many times each name of several addresses has been answered on one
/// connection (by name and type): dnsmasq's round robin, which each
/// connection's process starts afresh.
#[derive(Debug, Default)]
pub struct Rotation(HashMap<(String, u16), usize>);

impl Rotation {
    /// The number of this answer to `name`'s `rtype` records on the
    /// connection (from 0); names of one address are not counted.
    fn turn(&mut self, name: &str, rtype: u16, count: usize) -> usize {
        if count < 2 {
            return 0;
        }
        if let Some(n) = self.0.get_mut(&(name.to_string(), rtype)) {
            *n += 1;
            return *n;
        }
        self.0.insert((name.to_string(), rtype), 0);
        0
    }
}

/// How the DNS server runs.
#[derive(Clone, Default)]
pub struct DnsConfig {
    /// Connection limit, shutdown grace, TLS.
    pub server: ServerConfig,
    /// What it answers.
    pub zone: std::sync::Arc<Zone>,
}

/// The dns suite's data as the suite's peer serves it: its hosts file, TTL
/// 3600 and `www.test` CNAME `alpha.test` (the conformance runner's built-in
/// server).
pub fn suite_zone(hosts: &str) -> Result<Zone, String> {
    let hosts = Hosts::parse(hosts).map_err(|e| e.to_string())?;
    let mut zone = Zone::new(hosts, 3600);
    zone.add_cname("www.test", "alpha.test")?;
    Ok(zone)
}

#[cfg(test)]
mod tests;
