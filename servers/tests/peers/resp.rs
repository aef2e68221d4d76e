//! resp-server against the redis suite and the real Redis clients:
//! `redis-cli` (commands as arguments, from stdin, `-x`, `--pipe`),
//! `redis-benchmark` (every test, pipelined, 50 clients) and redis-py (one
//! script, whose output must be the same as against redis-server).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use conformance::runner::Split;
use libtest_mimic::{Failed, Trial};
use protocol_runtime::server::{ServerConfig, ServerStats};
use protocol_runtime::transport::Listener;
use servers::resp::RespConfig;

use crate::harness::{self, ensure, ensure_eq, InProcess, Outcome, Peer, Process, Program, ShutdownSignal};
use crate::structured::failures;
use crate::suites::suites;

const CLI: &[Program] = &[Program::RedisCli, Program::RedisServer];
const BENCHMARK: &[Program] = &[Program::RedisBenchmark];
const PY: &[Program] = &[Program::RedisPy, Program::RedisServer];
const LIMIT: Duration = Duration::from_secs(240);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial(
            "resp::redis_suite_on_resp_server_every_split_twice",
            &[],
            suite_every_split,
        ),
        harness::trial(
            "resp::redis_cli_commands_as_args_and_from_stdin_as_on_redis",
            CLI,
            redis_cli,
        ),
        harness::trial(
            "resp::redis_cli_pipe_mass_insert",
            &[Program::RedisCli],
            redis_cli_pipe,
        ),
        harness::trial(
            "resp::redis_benchmark_every_test_without_errors",
            BENCHMARK,
            redis_benchmark,
        ),
        harness::trial("resp::redis_py_script_as_on_redis", PY, redis_py),
    ]
}

/// resp-server in this process (as `conformance run` starts it).
pub fn in_process() -> Result<InProcess, Failed> {
    InProcess::start(
        |listener: Listener, server: ServerConfig, stats: Arc<ServerStats>, shutdown: ShutdownSignal| {
            servers::resp::serve(
                listener,
                RespConfig {
                    server,
                    ..RespConfig::default()
                },
                stats,
                shutdown,
            )
        },
    )
}

/// The `resp-server` binary on a free port with `extra` arguments.
pub struct RespServer {
    pub process: Process,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RespServer {
    pub fn start(extra: &[&str]) -> Result<RespServer, Failed> {
        let dir = tempfile::tempdir()?;
        let port = harness::free_port()?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_resp-server"));
        cmd.args(["--listen", &format!("127.0.0.1:{port}")]).args(extra);
        let mut process = Process::spawn(format!("resp-server on port {port}"), cmd, dir.path().join("log"))?;
        process.wait_ready(|| std::net::TcpStream::connect(("127.0.0.1", port)).map(|_| ()))?;
        Ok(RespServer {
            process,
            port,
            _dir: dir,
        })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server's resident memory, in KiB.
    pub fn rss_kib(&self) -> Result<u64, Failed> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmRSS in /proc/PID/status".into())
    }
}

/// The redis suite against resp-server, every split mode, twice each (the
/// suite holds up against the state it left).
fn suite_every_split() -> Outcome {
    let all = suites("redis")?;
    let server = in_process()?;
    harness::block_on(LIMIT, async {
        for split in [
            Split::Whole,
            Split::Bytes,
            Split::Random(1),
            Split::Random(3),
            Split::Coalesce,
            Split::Sweep,
        ] {
            for round in 0..2 {
                let prefix = format!("resp{}-{split}-{round}-", std::process::id()).replace(':', "");
                let (failed, count) = failures(&all, &server.addr(), split, &prefix).await;
                ensure!(count == 17, "{count} cases ran, not the suite's 17");
                ensure!(
                    failed.is_empty(),
                    "{} of {count} cases failed under {split} (run {}):\n{}",
                    failed.len(),
                    round + 1,
                    failed.join("\n")
                );
            }
        }
        Ok(())
    })?;
    // Every connection the suite opened ended without an error.
    let accepted = server.stats.accepted.load(std::sync::atomic::Ordering::Relaxed);
    server.stop_expecting(accepted)
}

fn cli(port: u16, args: &[&str], stdin: &[u8]) -> Result<String, Failed> {
    let mut cmd = Command::new(Program::RedisCli.path()?);
    cmd.args(["-p", &port.to_string()]).args(args);
    let ran = harness::run(cmd, stdin.to_vec(), Duration::from_secs(30))?;
    ensure!(ran.status.success(), "redis-cli {args:?}: {}", ran.describe());
    Ok(String::from_utf8_lossy(&ran.stdout).into_owned())
}

/// redis-cli's invocations: commands as arguments (its raw and its typed
/// output), lines from stdin, `-x`; against resp-server each prints what it
/// prints against redis-server.
fn redis_cli() -> Outcome {
    let server = RespServer::start(&["--threads", "1"])?;
    let redis = Peer::start("redis")?;
    let redis_port: u16 = redis
        .addr()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or("the peer's address has no port")?;
    let calls: &[(&[&str], &str)] = &[
        (&["FLUSHALL"], ""),
        (&["PING"], ""),
        (&["SET", "cli:k", "hello world"], ""),
        (&["GET", "cli:k"], ""),
        (&["--no-raw", "GET", "cli:k"], ""),
        (&["GET", "cli:missing"], ""),
        (&["--no-raw", "GET", "cli:missing"], ""),
        (&["INCRBY", "cli:n", "-7"], ""),
        (&["--no-raw", "INCR", "cli:n"], ""),
        (&["RPUSH", "cli:l", "a", "b", "c"], ""),
        (&["--no-raw", "LRANGE", "cli:l", "0", "-1"], ""),
        (&["LRANGE", "cli:l", "0", "-1"], ""),
        (&["--no-raw", "LRANGE", "cli:none", "0", "-1"], ""),
        (&["--no-raw", "HSET", "cli:h", "f", "1", "g", "2"], ""),
        (&["--no-raw", "HGETALL", "cli:h"], ""),
        (&["NOSUCH", "a", "b"], ""),
        (&["--no-raw", "GET"], ""),
        (&["--no-raw", "LPUSH", "cli:k", "x"], ""),
        (&["TYPE", "cli:l"], ""),
        (&["--no-raw", "EXPIRE", "cli:k", "100"], ""),
        (&["TTL", "cli:k"], ""),
        (&["--no-raw", "CONFIG", "GET", "maxmemory"], ""),
        (&["-n", "2", "SET", "cli:db2", "x"], ""),
        (&["-n", "2", "DBSIZE"], ""),
        (&["DBSIZE"], ""),
        (&["-x", "SET", "cli:stdin"], "from stdin\n"),
        (&["GET", "cli:stdin"], ""),
        // No command: each line of stdin is one, as typed at the prompt.
        (
            &[],
            "SET cli:a 1\nINCR cli:a\nGET cli:a\nMULTI\nINCR cli:a\nLRANGE cli:l 0 0\nEXEC\nSELECT 20\nECHO \"two words\"\n",
        ),
        (
            &["--no-raw"],
            "SADD cli:s x\nSMEMBERS cli:s\nSPOP cli:s\nSPOP cli:s\nCLIENT SETNAME me\nCLIENT GETNAME\n",
        ),
    ];
    for (args, stdin) in calls {
        let ours = cli(server.port, args, stdin.as_bytes())?;
        let theirs = cli(redis_port, args, stdin.as_bytes())?;
        ensure_eq!(
            ours,
            theirs,
            "redis-cli {args:?} with stdin {stdin:?}: resp-server vs redis-server"
        );
    }
    // And what they print, spelled out for a few.
    ensure_eq!(cli(server.port, &["PING"], b"")?, "PONG\n");
    ensure_eq!(
        cli(server.port, &["--no-raw", "GET", "cli:k"], b"")?,
        "\"hello world\"\n"
    );
    ensure_eq!(
        cli(server.port, &["NOSUCH", "a"], b"")?,
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' \n\n"
    );
    Ok(())
}

/// `redis-cli --pipe`: 10,000 commands in RESP from a file, its summary
/// counting the replies and no errors; then three that fail, counted.
fn redis_cli_pipe() -> Outcome {
    let server = RespServer::start(&["--threads", "1"])?;
    let resp = |commands: &[Vec<String>]| {
        let mut input = Vec::new();
        for args in commands {
            input.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for a in args {
                input.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
            }
        }
        input
    };
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let commands: Vec<Vec<String>> = (0..10_000)
        .map(|i| match i % 4 {
            0 => words(&["SET", &format!("pipe:{i}"), &format!("value {i}")]),
            1 => words(&["RPUSH", "pipe:list", &i.to_string()]),
            2 => words(&["HSET", "pipe:hash", &format!("f{i}"), &i.to_string()]),
            _ => words(&["INCR", "pipe:counter"]),
        })
        .collect();
    let pipe = |input: Vec<u8>| -> Result<(bool, String), Failed> {
        let mut cmd = Command::new(Program::RedisCli.path()?);
        cmd.args(["-p", &server.port.to_string(), "--pipe"]);
        let ran = harness::run(cmd, input, Duration::from_secs(60))?;
        Ok((
            ran.status.success(),
            String::from_utf8_lossy(&ran.stdout).into_owned(),
        ))
    };
    let (ok, out) = pipe(resp(&commands))?;
    ensure!(
        ok && out.contains("errors: 0, replies: 10000"),
        "redis-cli --pipe printed {out:?}"
    );
    ensure_eq!(cli(server.port, &["LLEN", "pipe:list"], b"")?, "2500\n");
    ensure_eq!(cli(server.port, &["GET", "pipe:counter"], b"")?, "2500\n");
    ensure_eq!(cli(server.port, &["HLEN", "pipe:hash"], b"")?, "2500\n");
    ensure_eq!(cli(server.port, &["DBSIZE"], b"")?, "2503\n");
    let failing = vec![words(&["LPUSH", "pipe:0", "not a list"]); 3];
    let (ok, out) = pipe(resp(&failing))?;
    ensure!(
        !ok && out.contains("errors: 3, replies: 3"),
        "redis-cli --pipe of 3 failing commands printed {out:?}"
    );
    Ok(())
}

const BENCH_TESTS: &str = "ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,lrange,mset";

/// The lines `redis-benchmark -q -t BENCH_TESTS` ends each test with.
const BENCH_LINES: &[&str] = &[
    "PING_INLINE",
    "PING_MBULK",
    "SET",
    "GET",
    "INCR",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "SADD",
    "HSET",
    "SPOP",
    "LPUSH (needed to benchmark LRANGE)",
    "LRANGE_100 (first 100 elements)",
    "LRANGE_300 (first 300 elements)",
    "LRANGE_500 (first 500 elements)",
    "LRANGE_600 (first 600 elements)",
    "MSET (10 keys)",
];

/// `redis-benchmark -t ping,set,...,mset -q`, as it is, with `-P 16` and
/// with `-c 50`: every test ends with its requests per second, and nothing
/// is an error. (`PROTOSPEC_RESP_BENCH_N` requests per test; 2,000 by
/// default.)
fn redis_benchmark() -> Outcome {
    let n = std::env::var("PROTOSPEC_RESP_BENCH_N").unwrap_or_else(|_| "2000".into());
    let server = RespServer::start(&["--threads", "2"])?;
    for extra in [&[][..], &["-P", "16"], &["-c", "50"]] {
        let mut cmd = Command::new(Program::RedisBenchmark.path()?);
        cmd.args(["-p", &server.port.to_string(), "-t", BENCH_TESTS, "-n", &n, "-q"])
            .args(extra);
        let ran = harness::run(cmd, Vec::new(), Duration::from_secs(300))?;
        let out = String::from_utf8_lossy(&ran.stdout).into_owned() + &String::from_utf8_lossy(&ran.stderr);
        ensure!(
            ran.status.success(),
            "redis-benchmark {extra:?}: {}",
            ran.describe()
        );
        let lower = out.to_lowercase();
        ensure!(
            !lower.contains("error") && !lower.contains("warning"),
            "redis-benchmark {extra:?} reported a problem: {out}"
        );
        // Progress lines end in `\r`; each test's last line in `\n`.
        let finals: Vec<&str> = out
            .split(['\r', '\n'])
            .filter(|l| l.contains(" requests per second"))
            .collect();
        for test in BENCH_LINES {
            let want = format!("{test}: ");
            ensure!(
                finals.iter().any(|l| l.trim_start().starts_with(&want)),
                "redis-benchmark {extra:?} has no result for {test}: {out}"
            );
        }
    }
    Ok(())
}

/// One redis-py script (`redis_py/script.py`) against redis-server and
/// resp-server: the same lines.
fn redis_py() -> Outcome {
    let python = Program::RedisPy.path()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/redis_py/script.py");
    let server = RespServer::start(&[])?;
    let redis = Peer::start("redis")?;
    let run = |addr: &str| -> Result<String, Failed> {
        let (host, port) = addr.rsplit_once(':').ok_or("no port")?;
        let mut cmd = Command::new(&python);
        cmd.arg("-B").arg(&script).args([host, port]);
        let ran = harness::run(cmd, Vec::new(), Duration::from_secs(60))?;
        ensure!(
            ran.status.success(),
            "redis-py against {addr}: {}",
            ran.describe()
        );
        Ok(String::from_utf8_lossy(&ran.stdout).into_owned())
    };
    let theirs = run(&redis.addr())?;
    let ours = run(&server.addr())?;
    ensure!(theirs.lines().count() > 80, "redis-py printed only {theirs:?}");
    if ours != theirs {
        let diff: Vec<String> = ours
            .lines()
            .zip(theirs.lines())
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("  resp-server: {a}\n  redis:       {b}"))
            .collect();
        return Err(format!("redis-py's output differs:\n{}", diff.join("\n")).into());
    }
    Ok(())
}
