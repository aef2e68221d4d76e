//! The commands: looked up by name (any case), their arity checked, queued
//! inside `MULTI`, refused over the memory limit, and carried out against
//! the [`Store`], each answered with the reply Redis 7.0 gives, its errors
//! worded as Redis words them.

use protocol_runtime::bytes::Bytes;

use crate::specs::redis::{self as r, Value as Reply};

use super::admin::*;
use super::collections::*;
use super::store::{element_cost, Store, Value, WrongType};

/// What a connection keeps between commands.
#[derive(Debug, Default)]
pub struct Conn {
    /// `CLIENT ID`.
    pub id: u64,
    /// The database `SELECT` chose.
    pub db: usize,
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// Commands queued since `MULTI`.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command queued since `MULTI` was refused: `EXEC` aborts.
    pub multi_failed: bool,
}

/// What the server knows about itself, for `INFO` and `CONFIG GET`.
#[derive(Debug, Clone, Default)]
pub struct About {
    pub port: u16,
    pub maxmemory: u64,
    pub maxclients: usize,
    pub threads: usize,
    /// Milliseconds since the Unix epoch.
    pub started: u64,
    pub connected_clients: u64,
    pub total_connections: u64,
    pub total_commands: u64,
}

/// What the connection does after a command.
#[derive(Debug)]
pub enum Step {
    Reply(Reply),
    /// Reply, then close (`QUIT`).
    Close(Reply),
    /// `BLPOP`/`BRPOP` found every list empty: wait for a push to one of
    /// `keys` until `deadline` (milliseconds since the epoch; `None`:
    /// forever), then answer the null array.
    Block {
        keys: Vec<Bytes>,
        left: bool,
        deadline: Option<u64>,
    },
}

/// Everything a command runs with.
pub struct Ctx<'a> {
    pub store: &'a mut Store,
    pub conn: &'a mut Conn,
    pub about: &'a About,
    /// Milliseconds since the Unix epoch.
    pub now: u64,
    /// A random number for `SPOP`.
    pub random: &'a mut u64,
    /// Set when a command pushed onto a list (blocked clients may go on).
    pub pushed: bool,
}

pub(super) const WRITE: u8 = 1;
/// Refused over the memory limit (Redis's `denyoom`).
pub(super) const DENYOOM: u8 = 2;
/// Run at once inside `MULTI`, not queued.
const NOQUEUE: u8 = 4;

type Run = fn(&mut Ctx, &[Bytes]) -> Result<Reply, Fail>;

/// A command: its name, Redis's arity (`n`: exactly `n` words with the
/// name, `-n`: at least `n`), flags, and what it does.
pub(super) struct Command {
    pub(super) name: &'static str,
    pub(super) arity: i32,
    pub(super) flags: u8,
    run: Run,
}

/// Why a command failed: the error reply's text, without the `-`.
#[derive(Debug)]
pub struct Fail(pub String);

impl From<WrongType> for Fail {
    fn from(_: WrongType) -> Fail {
        Fail("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    }
}

pub(super) fn fail<T>(msg: &str) -> Result<T, Fail> {
    Err(Fail(msg.to_string()))
}

pub(super) const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub(super) const SYNTAX: &str = "ERR syntax error";
pub(super) const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub(super) const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, $run:expr) => {
        Command {
            name: $name,
            arity: $arity,
            flags: $flags,
            run: $run,
        }
    };
}

const W: u8 = WRITE | DENYOOM;

static COMMANDS: &[Command] = &[
    cmd!("get", 2, 0, get),
    cmd!("set", -3, W, set),
    cmd!("mget", -2, 0, mget),
    cmd!("mset", -3, W, mset),
    cmd!("incr", 2, W, |c, a| incr_by(c, &a[1], 1)),
    cmd!("decr", 2, W, |c, a| incr_by(c, &a[1], -1)),
    cmd!("incrby", 3, W, |c, a| incr_by(c, &a[1], int(&a[2])?)),
    cmd!("decrby", 3, W, decrby),
    cmd!("append", 3, W, append),
    cmd!("strlen", 2, 0, strlen),
    cmd!("del", -2, WRITE, del),
    cmd!("exists", -2, 0, exists),
    cmd!("expire", -3, WRITE, |c, a| expire(c, a, 1000)),
    cmd!("pexpire", -3, WRITE, |c, a| expire(c, a, 1)),
    cmd!("ttl", 2, 0, |c, a| ttl(c, a, 1000)),
    cmd!("pttl", 2, 0, |c, a| ttl(c, a, 1)),
    cmd!("persist", 2, WRITE, persist),
    cmd!("keys", 2, 0, keys),
    cmd!("scan", -2, 0, scan),
    cmd!("type", 2, 0, type_),
    cmd!("flushall", -1, WRITE, flush),
    cmd!("flushdb", -1, WRITE, flush),
    cmd!("dbsize", 1, 0, |c, _| Ok(integer(
        c.store.dbsize(c.conn.db) as i64
    ))),
    cmd!("lpush", -3, W, |c, a| push(c, a, true)),
    cmd!("rpush", -3, W, |c, a| push(c, a, false)),
    cmd!("lpop", -2, WRITE, |c, a| pop(c, a, true)),
    cmd!("rpop", -2, WRITE, |c, a| pop(c, a, false)),
    cmd!("lrange", 4, 0, lrange),
    cmd!("llen", 2, 0, llen),
    // Blocking pops are carried out by `dispatch`.
    cmd!("blpop", -3, WRITE, |_, _| unreachable_blocking()),
    cmd!("brpop", -3, WRITE, |_, _| unreachable_blocking()),
    cmd!("hset", -4, W, hset),
    cmd!("hget", 3, 0, hget),
    cmd!("hgetall", 2, 0, hgetall),
    cmd!("hlen", 2, 0, |c, a| hash(c, &a[1], integer(0), |h| integer(
        h.len() as i64
    ))),
    cmd!("hexists", 3, 0, |c, a| {
        hash(c, &a[1], integer(0), |h| {
            integer(i64::from(h.contains_key(&a[2])))
        })
    }),
    cmd!("hdel", -3, WRITE, hdel),
    cmd!("hincrby", 4, W, hincrby),
    cmd!("sadd", -3, W, sadd),
    cmd!("smembers", 2, 0, smembers),
    cmd!("scard", 2, 0, |c, a| set_len(c, a, None)),
    cmd!("sismember", 3, 0, |c, a| set_len(c, a, Some(&a[2]))),
    cmd!("srem", -3, WRITE, srem),
    cmd!("spop", -2, WRITE, spop),
    cmd!("ping", -1, 0, ping),
    cmd!("echo", 2, 0, |_, a| Ok(bulk(a[1].clone()))),
    cmd!("select", 2, 0, select),
    cmd!("info", -1, 0, info),
    cmd!("config", -2, 0, config),
    cmd!("command", -1, 0, command),
    cmd!("client", -2, 0, client),
    cmd!("quit", -1, NOQUEUE, |_, _| Ok(ok())),
    cmd!("multi", 1, NOQUEUE, |_, _| Ok(ok())),
    cmd!("exec", 1, NOQUEUE, |_, _| Ok(ok())),
    cmd!("discard", 1, NOQUEUE, |_, _| Ok(ok())),
];

pub(super) fn unreachable_blocking() -> Result<Reply, Fail> {
    fail("ERR blocking pops are served by the connection")
}

pub(super) fn lookup(name: &[u8]) -> Option<&'static Command> {
    COMMANDS
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// How many commands there are (`COMMAND COUNT`).
pub fn count() -> usize {
    COMMANDS.len()
}

/// Lossy text of `b`, cut at a NUL and with line ends turned into spaces,
/// as Redis formats arguments into an error.
pub(super) fn shown(b: &[u8], max: usize) -> String {
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    let b = &b[..b.len().min(max)];
    String::from_utf8_lossy(b).replace(['\r', '\n'], " ")
}

pub(super) fn unknown_command(args: &[Bytes]) -> Fail {
    let mut listed = String::new();
    for a in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push('\'');
        listed.push_str(&shown(a, room));
        listed.push_str("' ");
    }
    Fail(format!(
        "ERR unknown command '{}', with args beginning with: {listed}",
        shown(&args[0], 128)
    ))
}

pub(super) fn wrong_arity(name: &str) -> Fail {
    Fail(format!("ERR wrong number of arguments for '{name}' command"))
}

/// Carries out one command (`args[0]` its name) from a connection.
pub fn dispatch(ctx: &mut Ctx, args: Vec<Bytes>) -> Step {
    if args.is_empty() {
        // An empty inline line or `*0`: Redis answers nothing; the spec
        // owes a reply, so it is the unknown command's.
        return Step::Reply(error("ERR unknown command '', with args beginning with: ".into()));
    }
    let Some(cmd) = lookup(&args[0]) else {
        if ctx.conn.multi.is_some() {
            ctx.conn.multi_failed = true;
        }
        return Step::Reply(error(unknown_command(&args).0));
    };
    let n = args.len() as i32;
    if (cmd.arity > 0 && n != cmd.arity) || n < -cmd.arity {
        if ctx.conn.multi.is_some() {
            ctx.conn.multi_failed = true;
        }
        return Step::Reply(error(wrong_arity(cmd.name).0));
    }
    if cmd.flags & DENYOOM != 0 && ctx.about.maxmemory > 0 && ctx.store.used_memory() > ctx.about.maxmemory {
        if ctx.conn.multi.is_some() {
            ctx.conn.multi_failed = true;
        }
        return Step::Reply(error(
            "OOM command not allowed when used memory > 'maxmemory'.".into(),
        ));
    }
    match cmd.name {
        "quit" => return Step::Close(ok()),
        "multi" => {
            if ctx.conn.multi.is_some() {
                return Step::Reply(error("ERR MULTI calls can not be nested".into()));
            }
            ctx.conn.multi = Some(Vec::new());
            ctx.conn.multi_failed = false;
            return Step::Reply(ok());
        }
        "discard" => {
            return Step::Reply(match ctx.conn.multi.take() {
                Some(_) => ok(),
                None => error("ERR DISCARD without MULTI".into()),
            })
        }
        "exec" => return Step::Reply(exec(ctx)),
        _ => {}
    }
    if let Some(queued) = &mut ctx.conn.multi {
        queued.push(args);
        return Step::Reply(simple("QUEUED"));
    }
    if cmd.name == "blpop" || cmd.name == "brpop" {
        return blocking_pop(ctx, &args, cmd.name == "blpop");
    }
    Step::Reply(run(ctx, cmd, &args))
}

fn run(ctx: &mut Ctx, cmd: &Command, args: &[Bytes]) -> Reply {
    match (cmd.run)(ctx, args) {
        Ok(reply) => reply,
        Err(Fail(why)) => error(why),
    }
}

fn exec(ctx: &mut Ctx) -> Reply {
    let Some(queued) = ctx.conn.multi.take() else {
        return error("ERR EXEC without MULTI".into());
    };
    if std::mem::take(&mut ctx.conn.multi_failed) {
        return error("EXECABORT Transaction discarded because of previous errors.".into());
    }
    let replies = queued
        .into_iter()
        .map(|args| {
            let cmd = lookup(&args[0]).expect("only known commands are queued");
            match cmd.name {
                // Inside a transaction a blocking pop does not block.
                "blpop" | "brpop" => match blocking_pop(ctx, &args, cmd.name == "blpop") {
                    Step::Reply(r) => r,
                    _ => Reply::NullArray(r::NullArray),
                },
                _ => run(ctx, cmd, &args),
            }
        })
        .collect();
    array(replies)
}

fn blocking_pop(ctx: &mut Ctx, args: &[Bytes], left: bool) -> Step {
    let Some((timeout, keys)) = args[1..].split_last() else {
        return Step::Reply(error(wrong_arity("blpop").0));
    };
    let secs = match std::str::from_utf8(timeout)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
    {
        Some(s) if s.is_finite() => s,
        _ => return Step::Reply(error("ERR timeout is not a float or out of range".into())),
    };
    if secs < 0.0 {
        return Step::Reply(error("ERR timeout is negative".into()));
    }
    match pop_any(ctx, keys, left) {
        Ok(Some(reply)) => Step::Reply(reply),
        Ok(None) => Step::Block {
            keys: keys.to_vec(),
            left,
            deadline: (secs > 0.0).then(|| ctx.now + (secs * 1000.0) as u64),
        },
        Err(Fail(why)) => Step::Reply(error(why)),
    }
}

/// The first element of the first non-empty list of `keys`, as `BLPOP`
/// answers it: `[key, element]`.
pub fn pop_any(ctx: &mut Ctx, keys: &[Bytes], left: bool) -> Result<Option<Reply>, Fail> {
    for key in keys {
        let popped = ctx.store.modify(ctx.conn.db, key, ctx.now, None, |v| match v {
            Value::List(l) => {
                let e = if left { l.pop_front() } else { l.pop_back() };
                let cost = e.as_ref().map_or(0, |e| -element_cost(e.len()));
                (Ok(e), cost)
            }
            _ => (Err(WrongType), 0),
        });
        if let Some(e) = popped.transpose()?.flatten() {
            return Ok(Some(array(vec![bulk(key.clone()), bulk(e)])));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------
// Replies and arguments

pub fn ok() -> Reply {
    simple("OK")
}

pub fn simple(s: &str) -> Reply {
    Reply::Simple(r::Simple { value: s.into() })
}

pub fn error(why: String) -> Reply {
    Reply::Error(r::Error { value: why })
}

pub fn integer(value: i64) -> Reply {
    Reply::Integer(r::Integer { value })
}

pub fn bulk(data: Bytes) -> Reply {
    Reply::Bulk(r::Bulk { data })
}

pub(super) fn bulk_str(s: &str) -> Reply {
    bulk(Bytes::copy_from_slice(s.as_bytes()))
}

pub fn nil() -> Reply {
    Reply::NullBulk(r::NullBulk)
}

pub fn array(items: Vec<Reply>) -> Reply {
    Reply::Array(r::Array { items })
}

pub(super) fn bulks(items: impl IntoIterator<Item = Bytes>) -> Reply {
    array(items.into_iter().map(bulk).collect())
}

/// A 64-bit integer as Redis's `string2ll` reads one: an optional `-`,
/// digits, no leading zeros, no spaces or `+`.
pub fn parse_int(b: &[u8]) -> Option<i64> {
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || b.len() > 1) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

pub(super) fn int(b: &[u8]) -> Result<i64, Fail> {
    parse_int(b).ok_or_else(|| Fail(NOT_INTEGER.into()))
}

pub(super) fn positive_count(b: &[u8]) -> Result<usize, Fail> {
    match parse_int(b) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => fail(NOT_POSITIVE),
    }
}

pub(super) fn is(b: &[u8], word: &str) -> bool {
    b.eq_ignore_ascii_case(word.as_bytes())
}

// ---------------------------------------------------------------------------
// Strings

fn get(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    match c.store.get(c.conn.db, &a[1], c.now) {
        None => Ok(nil()),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(bulk(s.clone())),
            _ => Err(WrongType.into()),
        },
    }
}

fn set(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let (mut nx, mut xx, mut get, mut keep) = (false, false, false, false);
    let mut expire: Option<u64> = None;
    let mut i = 3;
    while i < a.len() {
        let opt = &a[i];
        let next = a.get(i + 1);
        if is(opt, "NX") && !xx {
            nx = true;
        } else if is(opt, "XX") && !nx {
            xx = true;
        } else if is(opt, "GET") {
            get = true;
        } else if is(opt, "KEEPTTL") && expire.is_none() {
            keep = true;
        } else if ["EX", "PX", "EXAT", "PXAT"].iter().any(|w| is(opt, w)) && !keep && expire.is_none() {
            let Some(next) = next else {
                return fail(SYNTAX);
            };
            let n = int(next)?;
            let bad = || Fail("ERR invalid expire time in 'set' command".into());
            if n <= 0 {
                return Err(bad());
            }
            let ms = if is(opt, "EX") || is(opt, "EXAT") {
                n.checked_mul(1000).ok_or_else(bad)?
            } else {
                n
            };
            let at = if is(opt, "EX") || is(opt, "PX") {
                (c.now as i64).checked_add(ms).ok_or_else(bad)?
            } else {
                ms
            };
            expire = Some(at as u64);
            i += 1;
        } else {
            return fail(SYNTAX);
        }
        i += 1;
    }
    let db = c.conn.db;
    let old = match c.store.get(db, &a[1], c.now) {
        None => None,
        Some(e) => match &e.value {
            Value::Str(s) => Some(s.clone()),
            _ if get => return Err(WrongType.into()),
            _ => Some(Bytes::new()),
        },
    };
    let exists = c.store.exists(db, &a[1], c.now);
    let answer = |old: Option<Bytes>| if get { old.map_or_else(nil, bulk) } else { ok() };
    if (nx && exists) || (xx && !exists) {
        return Ok(if get { old.map_or_else(nil, bulk) } else { nil() });
    }
    c.store
        .set(db, a[1].clone(), Value::Str(a[2].clone()), expire, keep, c.now);
    Ok(answer(old))
}

fn mget(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let items = a[1..]
        .iter()
        .map(|k| match c.store.get(c.conn.db, k, c.now) {
            Some(e) => match &e.value {
                Value::Str(s) => bulk(s.clone()),
                _ => nil(),
            },
            None => nil(),
        })
        .collect();
    Ok(array(items))
}

fn mset(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    if a.len().is_multiple_of(2) {
        return Err(wrong_arity("mset"));
    }
    for pair in a[1..].chunks(2) {
        c.store.set(
            c.conn.db,
            pair[0].clone(),
            Value::Str(pair[1].clone()),
            None,
            false,
            c.now,
        );
    }
    Ok(ok())
}

/// The string of `key` as a number (0 if missing).
fn string_number(c: &mut Ctx, key: &[u8]) -> Result<(i64, Option<u64>), Fail> {
    match c.store.get(c.conn.db, key, c.now) {
        None => Ok((0, None)),
        Some(e) => match &e.value {
            Value::Str(s) => Ok((int(s)?, e.expire_at)),
            _ => Err(WrongType.into()),
        },
    }
}

fn incr_by(c: &mut Ctx, key: &Bytes, by: i64) -> Result<Reply, Fail> {
    let (n, expire_at) = string_number(c, key)?;
    let n = n.checked_add(by).ok_or_else(|| Fail(OVERFLOW.into()))?;
    let value = Value::Str(Bytes::from(n.to_string()));
    c.store.set(c.conn.db, key.clone(), value, expire_at, true, c.now);
    Ok(integer(n))
}

fn decrby(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let by = int(&a[2])?;
    let by = by
        .checked_neg()
        .ok_or_else(|| Fail("ERR decrement would overflow".into()))?;
    incr_by(c, &a[1], by)
}

fn append(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let len = c
        .store
        .modify(
            c.conn.db,
            &a[1],
            c.now,
            Some(|| Value::Str(Bytes::new())),
            |v| match v {
                Value::Str(s) => {
                    let mut joined = Vec::with_capacity(s.len() + a[2].len());
                    joined.extend_from_slice(s);
                    joined.extend_from_slice(&a[2]);
                    *s = Bytes::from(joined);
                    (Ok(s.len()), a[2].len() as i64)
                }
                _ => (Err(WrongType), 0),
            },
        )
        .expect("created")?;
    Ok(integer(len as i64))
}

fn strlen(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    match c.store.get(c.conn.db, &a[1], c.now) {
        None => Ok(integer(0)),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(integer(s.len() as i64)),
            _ => Err(WrongType.into()),
        },
    }
}

// ---------------------------------------------------------------------------
// Keys

fn del(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let n = a[1..]
        .iter()
        .filter(|k| c.store.delete(c.conn.db, k, c.now))
        .count();
    Ok(integer(n as i64))
}

fn exists(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let n = a[1..]
        .iter()
        .filter(|k| c.store.exists(c.conn.db, k, c.now))
        .count();
    Ok(integer(n as i64))
}

fn expire(c: &mut Ctx, a: &[Bytes], unit: i64) -> Result<Reply, Fail> {
    let name = if unit == 1 { "pexpire" } else { "expire" };
    let n = int(&a[2])?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &a[3..] {
        match opt.to_ascii_uppercase().as_slice() {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => return Err(Fail(format!("ERR Unsupported option {}", shown(opt, 128)))),
        }
    }
    if nx && (xx || gt || lt) {
        return fail("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return fail("ERR GT and LT options at the same time are not compatible");
    }
    let bad = || Fail(format!("ERR invalid expire time in '{name}' command"));
    let at = n
        .checked_mul(unit)
        .and_then(|ms| ms.checked_add(c.now as i64))
        .ok_or_else(bad)?;
    let Some(current) = c.store.get(c.conn.db, &a[1], c.now).map(|e| e.expire_at) else {
        return Ok(integer(0));
    };
    let allowed = match current {
        None => !(xx || gt),
        Some(cur) => {
            let cur = cur as i64;
            let refused = nx || (gt && at <= cur) || (lt && at >= cur);
            !refused
        }
    };
    if !allowed {
        return Ok(integer(0));
    }
    let at = at.max(0) as u64;
    c.store.set_expiry(c.conn.db, &a[1], Some(at), c.now);
    Ok(integer(1))
}

fn ttl(c: &mut Ctx, a: &[Bytes], unit: u64) -> Result<Reply, Fail> {
    Ok(integer(match c.store.get(c.conn.db, &a[1], c.now) {
        None => -2,
        Some(e) => match e.expire_at {
            None => -1,
            Some(at) => ((at.saturating_sub(c.now) + unit / 2) / unit) as i64,
        },
    }))
}

fn persist(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let had = c
        .store
        .get(c.conn.db, &a[1], c.now)
        .is_some_and(|e| e.expire_at.is_some());
    if had {
        c.store.set_expiry(c.conn.db, &a[1], None, c.now);
    }
    Ok(integer(i64::from(had)))
}

fn keys(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    Ok(bulks(c.store.keys(c.conn.db, &a[1], c.now)))
}

fn scan(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let cursor = std::str::from_utf8(&a[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Fail("ERR invalid cursor".into()))?;
    let (mut count, mut pattern, mut kind) = (10usize, None, None);
    let mut i = 2;
    while i < a.len() {
        let Some(value) = a.get(i + 1) else {
            return fail(SYNTAX);
        };
        if is(&a[i], "COUNT") {
            count = match int(value)? {
                n if n < 1 => return fail(SYNTAX),
                n => n as usize,
            };
        } else if is(&a[i], "MATCH") {
            pattern = Some(value.clone());
        } else if is(&a[i], "TYPE") {
            kind = Some(value.clone());
        } else {
            return fail(SYNTAX);
        }
        i += 2;
    }
    let db = c.conn.db;
    let (next, mut keys) = c.store.scan(db, cursor, count, pattern.as_deref(), c.now);
    if let Some(kind) = kind {
        keys.retain(|k| {
            c.store
                .get(db, k, c.now)
                .is_some_and(|e| is(&kind, e.value.type_name()))
        });
    }
    Ok(array(vec![bulk_str(&next.to_string()), bulks(keys)]))
}

fn type_(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    let name = c
        .store
        .get(c.conn.db, &a[1], c.now)
        .map_or("none", |e| e.value.type_name());
    Ok(simple(name))
}

fn flush(c: &mut Ctx, a: &[Bytes]) -> Result<Reply, Fail> {
    match a.get(1) {
        None => {}
        Some(m) if a.len() == 2 && (is(m, "ASYNC") || is(m, "SYNC")) => {}
        Some(_) => return fail(SYNTAX),
    }
    if is(&a[0], "FLUSHALL") {
        c.store.flush_all();
    } else {
        c.store.flush_db(c.conn.db);
    }
    Ok(ok())
}

#[cfg(test)]
mod tests;
