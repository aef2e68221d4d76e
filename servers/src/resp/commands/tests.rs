use super::*;

/// A connection's commands against one store, at a time the test sets.
struct Bench {
    store: Store,
    conn: Conn,
    about: About,
    now: u64,
    random: u64,
}

impl Bench {
    fn new() -> Bench {
        Bench {
            store: Store::new(),
            conn: Conn::default(),
            about: About::default(),
            now: 1_000_000,
            random: 7,
        }
    }

    fn step(&mut self, line: &str) -> Step {
        let args = line
            .split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let mut ctx = Ctx {
            store: &mut self.store,
            conn: &mut self.conn,
            about: &self.about,
            now: self.now,
            random: &mut self.random,
            pushed: false,
        };
        dispatch(&mut ctx, args)
    }

    /// The reply, written as RESP.
    fn run(&mut self, line: &str) -> String {
        match self.step(line) {
            Step::Reply(r) | Step::Close(r) => resp(&r),
            Step::Block { .. } => "(blocks)".into(),
        }
    }
}

fn resp(v: &Reply) -> String {
    match v {
        Reply::Simple(s) => format!("+{}", s.value),
        Reply::Error(e) => format!("-{}", e.value),
        Reply::Integer(i) => format!(":{}", i.value),
        Reply::Bulk(b) => format!("${}", String::from_utf8_lossy(&b.data)),
        Reply::NullBulk(_) => "$-1".into(),
        Reply::NullArray(_) => "*-1".into(),
        Reply::Array(a) => format!("[{}]", a.items.iter().map(resp).collect::<Vec<_>>().join(",")),
    }
}

#[test]
fn strings() {
    let mut b = Bench::new();
    for (line, want) in [
        ("GET k", "$-1"),
        ("set k v", "+OK"),
        ("get k", "$v"),
        ("SET k w NX", "$-1"),
        ("SET k w XX GET", "$v"),
        ("SET k v EX 0", "-ERR invalid expire time in 'set' command"),
        ("SET k v EX x", "-ERR value is not an integer or out of range"),
        ("SET k v NX XX", "-ERR syntax error"),
        ("SET k v EX 1 PX 1", "-ERR syntax error"),
        ("INCR k", "-ERR value is not an integer or out of range"),
        ("INCRBY n -5", ":-5"),
        ("DECR n", ":-6"),
        ("DECRBY n 4", ":-10"),
        ("INCRBY n 007", "-ERR value is not an integer or out of range"),
        ("SET n 9223372036854775807", "+OK"),
        ("INCR n", "-ERR increment or decrement would overflow"),
        ("APPEND a xy", ":2"),
        ("APPEND a z", ":3"),
        ("STRLEN a", ":3"),
        ("MSET a 1 b", "-ERR wrong number of arguments for 'mset' command"),
        ("MSET a 1 b 2", "+OK"),
        ("MGET a b c", "[$1,$2,$-1]"),
        ("get", "-ERR wrong number of arguments for 'get' command"),
        (
            "foo a b",
            "-ERR unknown command 'foo', with args beginning with: 'a' 'b' ",
        ),
        ("RPUSH l x", ":1"),
        (
            "GET l",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
    ] {
        assert_eq!(b.run(line), want, "{line}");
    }
}

#[test]
fn expiry_follows_the_clock() {
    let mut b = Bench::new();
    assert_eq!(b.run("SET k v PX 1500"), "+OK");
    assert_eq!(b.run("TTL k"), ":2");
    assert_eq!(b.run("PTTL k"), ":1500");
    b.now += 1_499;
    assert_eq!(b.run("GET k"), "$v");
    b.now += 1;
    assert_eq!(b.run("GET k"), "$-1");
    assert_eq!(b.run("TTL k"), ":-2");
    assert_eq!(b.run("SET k v"), "+OK");
    assert_eq!(b.run("TTL k"), ":-1");
    assert_eq!(b.run("EXPIRE k 10 XX"), ":0");
    assert_eq!(b.run("EXPIRE k 10"), ":1");
    assert_eq!(b.run("EXPIRE k 5 GT"), ":0");
    assert_eq!(b.run("EXPIRE k 5 LT"), ":1");
    assert_eq!(b.run("SET k w KEEPTTL"), "+OK");
    assert_eq!(b.run("TTL k"), ":5");
    assert_eq!(b.run("INCR c"), ":1");
    assert_eq!(b.run("EXPIRE c 1"), ":1");
    assert_eq!(b.run("INCR c"), ":2");
    assert_eq!(b.run("TTL c"), ":1");
    assert_eq!(b.run("PERSIST k"), ":1");
    assert_eq!(b.run("TTL k"), ":-1");
    assert_eq!(b.run("EXPIRE k 0"), ":1");
    assert_eq!(b.run("EXISTS k"), ":0");
}

#[test]
fn lists_hashes_sets() {
    let mut b = Bench::new();
    for (line, want) in [
        ("RPUSH l a b c d", ":4"),
        ("LPUSH l z", ":5"),
        ("LRANGE l 0 -1", "[$z,$a,$b,$c,$d]"),
        ("LRANGE l -2 100", "[$c,$d]"),
        ("LPOP l", "$z"),
        ("RPOP l 2", "[$d,$c]"),
        ("LPOP l 0", "[]"),
        ("LPOP l -1", "-ERR value is out of range, must be positive"),
        ("LLEN l", ":2"),
        ("LPOP l 5", "[$a,$b]"),
        ("EXISTS l", ":0"),
        ("LPOP l 5", "*-1"),
        ("LPOP l", "$-1"),
        ("HSET h a 1 b 2", ":2"),
        ("HSET h a 3 c 4", ":1"),
        ("HGETALL h", "[$a,$3,$b,$2,$c,$4]"),
        ("HDEL h a z", ":1"),
        ("HGET h b", "$2"),
        ("HINCRBY h b 5", ":7"),
        ("HINCRBY h new 1", ":1"),
        ("HSET h s x", ":1"),
        ("HINCRBY h s 1", "-ERR hash value is not an integer"),
        ("SADD s a b c a", ":3"),
        ("SREM s a z", ":1"),
        ("SMEMBERS s", "[$c,$b]"),
        ("SPOP nope 2", "[]"),
        ("SPOP nope", "$-1"),
        ("TYPE s", "+set"),
        ("TYPE h", "+hash"),
        ("TYPE nope", "+none"),
    ] {
        assert_eq!(b.run(line), want, "{line}");
    }
    let popped = b.run("SPOP s 5");
    assert!(popped == "[$c,$b]" || popped == "[$b,$c]", "{popped}");
    assert_eq!(b.run("EXISTS s"), ":0");
}

#[test]
fn transactions() {
    let mut b = Bench::new();
    for (line, want) in [
        ("EXEC", "-ERR EXEC without MULTI"),
        ("MULTI", "+OK"),
        ("MULTI", "-ERR MULTI calls can not be nested"),
        ("SET a 1", "+QUEUED"),
        ("LPUSH a x", "+QUEUED"),
        ("GET a", "+QUEUED"),
        (
            "EXEC",
            "[+OK,-WRONGTYPE Operation against a key holding the wrong kind of value,$1]",
        ),
        ("MULTI", "+OK"),
        ("GET", "-ERR wrong number of arguments for 'get' command"),
        ("SET a 2", "+QUEUED"),
        (
            "EXEC",
            "-EXECABORT Transaction discarded because of previous errors.",
        ),
        ("GET a", "$1"),
        ("MULTI", "+OK"),
        ("SET a 3", "+QUEUED"),
        ("DISCARD", "+OK"),
        ("GET a", "$1"),
        ("MULTI", "+OK"),
        ("BLPOP nolist 0", "+QUEUED"),
        ("EXEC", "[*-1]"),
    ] {
        assert_eq!(b.run(line), want, "{line}");
    }
}

#[test]
fn blocking_pops_block_only_on_empty_lists() {
    let mut b = Bench::new();
    assert!(matches!(
        b.step("BLPOP a b 1.5"),
        Step::Block { deadline: Some(d), left: true, .. } if d == 1_001_500
    ));
    assert!(matches!(b.step("BRPOP a 0"), Step::Block { deadline: None, .. }));
    assert_eq!(b.run("RPUSH b x y"), ":2");
    assert_eq!(b.run("BRPOP a b 0"), "[$b,$y]");
    assert_eq!(b.run("BLPOP a x"), "-ERR timeout is not a float or out of range");
    assert_eq!(b.run("BLPOP a -1"), "-ERR timeout is negative");
}

#[test]
fn the_memory_limit_refuses_writes_that_add() {
    let mut b = Bench::new();
    b.about.maxmemory = 1_000;
    assert_eq!(b.run(&format!("SET big {}", "x".repeat(2_000))), "+OK");
    let oom = "-OOM command not allowed when used memory > 'maxmemory'.";
    assert_eq!(b.run("SET k v"), oom);
    assert_eq!(b.run("RPUSH l v"), oom);
    assert_eq!(b.run("GET k"), "$-1");
    assert_eq!(b.run("DEL big"), ":1");
    assert_eq!(b.run("SET k v"), "+OK");
}

#[test]
fn server_commands() {
    let mut b = Bench::new();
    b.about.maxmemory = 5;
    for (line, want) in [
        ("PING", "+PONG"),
        ("ping hi", "$hi"),
        ("PING a b", "-ERR wrong number of arguments for 'ping' command"),
        ("ECHO x", "$x"),
        ("SELECT 16", "-ERR DB index is out of range"),
        ("SELECT 2", "+OK"),
        ("SET k v", "+OK"),
        ("DBSIZE", ":1"),
        ("SELECT 0", "+OK"),
        ("DBSIZE", ":0"),
        (
            "CONFIG GET maxmem*",
            "[$maxmemory,$5,$maxmemory-policy,$noeviction]",
        ),
        (
            "CONFIG GET",
            "-ERR wrong number of arguments for 'config|get' command",
        ),
        ("CONFIG FOO", "-ERR unknown subcommand 'FOO'. Try CONFIG HELP."),
        ("COMMAND DOCS", "[]"),
        ("CLIENT GETNAME", "$-1"),
        ("CLIENT SETNAME me", "+OK"),
        ("CLIENT GETNAME", "$me"),
        ("FLUSHALL", "+OK"),
        ("QUIT", "+OK"),
    ] {
        assert_eq!(b.run(line), want, "{line}");
    }
    assert_eq!(b.run("COMMAND COUNT"), format!(":{}", count()));
    let info = b.run("INFO");
    assert!(
        info.contains("redis_version:7.0.0\r\n") && info.contains("# Keyspace"),
        "{info}"
    );
    assert!(matches!(b.step("quit"), Step::Close(_)));
}

#[test]
fn keys_and_scan() {
    let mut b = Bench::new();
    assert_eq!(b.run("MSET user:1 a user:2 b other c"), "+OK");
    assert_eq!(b.run("KEYS user:*"), "[$user:1,$user:2]");
    assert_eq!(b.run("SCAN 0 COUNT 2"), "[$2,[$user:1,$user:2]]");
    assert_eq!(b.run("SCAN 2 COUNT 2"), "[$0,[$other]]");
    assert_eq!(b.run("SCAN 0 MATCH o* COUNT 100"), "[$0,[$other]]");
    assert_eq!(b.run("SCAN x"), "-ERR invalid cursor");
    assert_eq!(b.run("SCAN 0 COUNT 0"), "-ERR syntax error");
    assert_eq!(b.run("DEL user:1 user:2 nope"), ":2");
}
