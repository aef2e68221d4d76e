//! `conformance record` between real clients and real servers: a recording
//! of `memcached-get` (and of `nc`) talking to memcached replays green against
//! memcached, and fails once memcached answers differently; a recording of
//! xinetd's daytime replays green, its time written as a pattern.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use conformance::recorder::{self, Notice, RecordConfig};
use conformance::runner::{run_case, Outcome as CaseOutcome, RunConfig, Split};
use conformance::transcript::{self, Suite};
use libtest_mimic::{Failed, Trial};
use protocol_runtime::layout::Role;
use protocol_runtime::transport::{Address, Listener};
use tokio::sync::{mpsc, watch};

use crate::harness::{self, ensure, Memcached, Outcome, Peer, Program, Xinetd};

const LIMIT: Duration = Duration::from_secs(60);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial(
            "record::memcached_get_on_memcached_replays",
            &[Program::Memcached],
            memcached_get_on_memcached,
        ),
        harness::trial(
            "record::nc_on_memcached_replays",
            &[Program::Memcached, Program::Nc],
            nc_on_memcached,
        ),
        harness::trial(
            "record::psql_on_postgres_replays",
            &[Program::Postgres, Program::Psql],
            psql_on_postgres,
        ),
        harness::trial(
            "record::dig_on_dnsmasq_replays",
            &[Program::Dnsmasq, Program::Dig],
            dig_on_dnsmasq,
        ),
        harness::trial(
            "record::redis_cli_on_redis_replays",
            &[Program::RedisServer, Program::RedisCli],
            redis_cli_on_redis,
        ),
        harness::trial(
            "record::nc_on_xinetd_daytime_replays",
            &[Program::Xinetd, Program::Nc],
            nc_on_daytime,
        ),
    ]
}

/// Records the connections `client` makes through a proxy to `upstream`
/// (`client` gets the proxy's port and runs on a blocking thread); returns
/// the transcript.
fn record(
    spec: &'static str,
    upstream: String,
    connections: usize,
    client: fn(u16) -> Outcome,
) -> Result<String, Failed> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let text = transcript::bundled_spec(spec).ok_or("no such bundled spec")?;
        let compiled = protocol_dsl::compile_str(spec, text);
        let protocol = Arc::new(compiled.protocol.ok_or("the bundled spec compiles")?);
        let listener = Listener::bind(&Address::Tcp("127.0.0.1:0".into())).await?;
        let port = match listener.local_addr()? {
            Address::Tcp(a) => a
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or("a port")?,
            other => return Err(format!("unexpected address {other}").into()),
        };
        let (tx, mut notices) = mpsc::unbounded_channel();
        let (_stop, stop) = watch::channel(false);
        let config = RecordConfig {
            spec: Arc::clone(&protocol),
            upstream: Address::Tcp(upstream),
            connect_timeout: Duration::from_secs(5),
            connections: Some(connections),
        };
        tokio::spawn(recorder::record(listener, config, tx, stop));
        tokio::task::spawn_blocking(move || client(port)).await??;
        let mut cases = Vec::new();
        let collect = async {
            while let Some(n) = notices.recv().await {
                match n {
                    Notice::Ended { case, .. } => cases.push(case),
                    Notice::Deviation { deviation, .. } => {
                        return Err(format!("unexpected deviation: {deviation:?}"))
                    }
                    Notice::UpstreamFailed { error, .. } => return Err(error),
                    Notice::Opened { .. } => {}
                }
            }
            Ok(())
        };
        tokio::time::timeout(LIMIT, collect)
            .await
            .map_err(|_| "recording did not end")??;
        Ok(recorder::write::transcript(
            &protocol,
            spec,
            "recorded by a test",
            &cases,
        ))
    })
}

/// Replays `text` against `target`: the failures, one line each.
fn replay(text: &str, target: String) -> Result<Vec<String>, Failed> {
    let suite: Arc<Suite> = Arc::new(
        transcript::load_str(Path::new("recorded.transcript"), text, Role::Client)
            .map_err(|e| format!("{e}\n{text}"))?,
    );
    harness::block_on(LIMIT, async move {
        let cfg = RunConfig {
            target: Address::Tcp(target),
            tls: None,
            split: Split::Whole,
            prefix: String::new(),
            step_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        };
        let mut failures = Vec::new();
        for c in &suite.cases {
            match run_case(&suite, c, &cfg).await.outcome {
                CaseOutcome::Failed(f) => {
                    failures.push(format!("{}: expected {}, got {}", c.name, f.expected, f.got))
                }
                CaseOutcome::Unreachable { error } => return Err(error.into()),
                _ => {}
            }
        }
        Ok(failures)
    })
}

fn memcached_get_on_memcached() -> Outcome {
    let mc = Memcached::start()?;
    let mut raw = mc.raw()?;
    raw.set("rec-k1", 7, b"hello")?;
    raw.set("rec-k2", 0, b"two\r\nlines")?;
    let text = record("memcached_get", mc.addr(), 1, |port| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_memcached-get"));
        cmd.arg("--target")
            .arg(format!("127.0.0.1:{port}"))
            .args(["rec-k1", "rec-k2", "rec-missing"]);
        let ran = harness::run(cmd, Vec::new(), LIMIT)?;
        ensure!(ran.status.code() == Some(1), "memcached-get: {}", ran.describe());
        Ok(())
    })?;
    ensure!(
        text.contains("client Get { cmd: \"get\", keys: [\"rec-k1\", \"rec-k2\", \"rec-missing\"] }")
            && text
                .contains("server Value { key: \"rec-k2\", flags: 0, cas: none, data: \"two\\r\\nlines\" }"),
        "unexpected recording:\n{text}"
    );
    let failures = replay(&text, mc.addr())?;
    ensure!(
        failures.is_empty(),
        "the recording fails against memcached: {failures:?}\n{text}"
    );

    raw.set("rec-k1", 7, b"HELLO")?;
    let failures = replay(&text, mc.addr())?;
    ensure!(
        failures.len() == 1 && failures[0].contains("expected \"hello\", got \"HELLO\""),
        "the recording should fail on the changed value: {failures:?}"
    );
    Ok(())
}

fn nc_on_memcached() -> Outcome {
    let mc = Memcached::start()?;
    mc.raw()?.set("rec-nc", 3, b"abc")?;
    let text = record("memcached_get", mc.addr(), 1, |port| {
        // Pipelined: a gets, a line memcached answers with ERROR, a get.
        let ran = harness::nc(port, b"gets rec-nc\r\nbogus\r\nget rec-nc rec-none\r\n")?;
        ensure!(ran.status.success(), "nc: {}", ran.describe());
        Ok(())
    })?;
    ensure!(
        text.contains("server Value { key: \"rec-nc\", flags: 3, cas: $cas1, data: \"abc\" }")
            && text.contains("raw client \"bogus\\r\\n\"")
            && text.contains("raw server \"ERROR\\r\\n\"")
            && text.ends_with("  client closes\n"),
        "unexpected recording:\n{text}"
    );
    // A later store changes the cas unique: the capture takes the new one.
    mc.raw()?.set("rec-nc", 3, b"abc")?;
    let failures = replay(&text, mc.addr())?;
    ensure!(
        failures.is_empty(),
        "the recording fails against memcached: {failures:?}\n{text}"
    );
    Ok(())
}

/// redis-cli's commands and redis's nested replies, recorded: written with
/// the one-field shorthand and named branches, replayed green.
fn redis_cli_on_redis() -> Outcome {
    let redis = Peer::start("redis")?;
    let text = record("redis", redis.addr(), 3, |port| {
        for args in [
            &["RPUSH", "rec:l", "a", "b"][..],
            &["LRANGE", "rec:l", "0", "-1"],
            &["GET", "rec:missing"],
        ] {
            let mut cmd = Command::new(Program::RedisCli.path()?);
            cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]).args(args);
            let ran = harness::run(cmd, Vec::new(), LIMIT)?;
            ensure!(ran.status.success(), "redis-cli: {}", ran.describe());
        }
        Ok(())
    })?;
    for line in [
        "client Command { args: [\"RPUSH\", \"rec:l\", \"a\", \"b\"] }",
        "server Reply { value: Array { items: [Bulk { data: \"a\" }, Bulk { data: \"b\" }] } }",
        "server Reply { value: NullBulk }",
    ] {
        ensure!(text.contains(line), "no `{line}` in the recording:\n{text}");
    }
    // Against a fresh redis the recording replays green; against the one
    // recorded, whose list is now 2 long, the RPUSH answers 4.
    let fresh = Peer::start("redis")?;
    let failures = replay(&text, fresh.addr())?;
    ensure!(
        failures.is_empty(),
        "the recording fails against redis: {failures:?}\n{text}"
    );
    let failures = replay(&text, redis.addr())?;
    ensure!(
        failures
            .first()
            .is_some_and(|f| f.contains("expected #2 { 2 }, got #2 { 4 }")),
        "the replay should fail on the list's new length: {failures:?}\n{text}"
    );
    Ok(())
}

/// psql's sessions with PostgreSQL, recorded: the values the server
/// changes per connection (BackendKeyData, ParameterStatus values) are
/// captures, so the recording replays green against the same server, and
/// against another one.
fn psql_on_postgres() -> Outcome {
    let pg = Peer::start("postgres")?;
    let text = record("postgres", pg.addr(), 2, |port| {
        for (user, password, queries) in [
            (
                "postgres",
                "",
                &["SELECT g, NULL, 'x' FROM generate_series(1, 3) g", "SELECT 1/0"][..],
            ),
            ("clear_user", "clear_pw", &["SELECT current_user"]),
        ] {
            let mut cmd = Command::new(Program::Psql.path()?);
            cmd.args([
                "-X",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                user,
                "-d",
                "postgres",
            ])
            .env("PGPASSWORD", password)
            .env("PGSSLMODE", "prefer");
            for q in queries {
                cmd.args(["-c", q]);
            }
            // psql fails the division by zero and stops there.
            harness::run(cmd, Vec::new(), LIMIT)?;
        }
        Ok(())
    })?;
    for line in [
        "server BackendKeyData { pid: $pid1, key: $key1 }",
        "server DataRow { columns: [\"1\", none, \"x\"] }",
        "server AuthCleartext",
        "client Password { password: \"clear_pw\" }",
        "{ code: \"C\", value: \"22012\" }",
    ] {
        ensure!(text.contains(line), "no `{line}` in the recording:\n{text}");
    }
    ensure!(
        text.contains("server ParameterStatus { name: \"server_version\", value: $"),
        "ParameterStatus values are not captures:\n{text}"
    );
    let failures = replay(&text, pg.addr())?;
    ensure!(
        failures.is_empty(),
        "the recording fails against postgres: {failures:?}\n{text}"
    );
    let other = Peer::start("postgres")?;
    let failures = replay(&text, other.addr())?;
    ensure!(
        failures.is_empty(),
        "the recording fails against another postgres: {failures:?}\n{text}"
    );
    Ok(())
}

/// dig's queries to dnsmasq, recorded: names written out whole though
/// dnsmasq compresses them; replayed green.
fn dig_on_dnsmasq() -> Outcome {
    let dns = Peer::start("dns")?;
    let text = record("dns", dns.addr(), 3, |port| {
        for (name, qtype) in [("alpha.test", "A"), ("www.test", "A"), ("nosuch.test", "AAAA")] {
            let mut cmd = Command::new(Program::Dig.path()?);
            cmd.args([
                "+tcp",
                "+tries=1",
                "+time=5",
                "@127.0.0.1",
                "-p",
                &port.to_string(),
                name,
                qtype,
            ]);
            let ran = harness::run(cmd, Vec::new(), LIMIT)?;
            ensure!(ran.status.success(), "dig: {}", ran.describe());
        }
        Ok(())
    })?;
    for line in [
        "questions: [{ name: \"www.test.\", qtype: 1, qclass: 1 }]",
        "cname: \"alpha.test.\"",
        "rcode: 3",
    ] {
        ensure!(text.contains(line), "no `{line}` in the recording:\n{text}");
    }
    let failures = replay(&text, dns.addr())?;
    ensure!(
        failures.is_empty(),
        "the recording fails against dnsmasq: {failures:?}\n{text}"
    );
    Ok(())
}

fn nc_on_daytime() -> Outcome {
    let x = Xinetd::start()?;
    let text = record("daytime", x.daytime_addr(), 1, |port| {
        // Without -N: nc keeps its side open until the server closes, as a
        // daytime client does (the spec has no `client closes` before the time).
        let mut cmd = Command::new(Program::Nc.path()?);
        cmd.args(["-w", "10", "127.0.0.1", &port.to_string()]);
        let ran = harness::run(cmd, Vec::new(), LIMIT)?;
        ensure!(ran.status.success(), "nc: {}", ran.describe());
        Ok(())
    })?;
    ensure!(
        text.contains("server Time { time: /[0-9]+ +[A-Za-z]+ +[0-9]+ +[0-9]+:[0-9]+:[0-9]+ +[A-Za-z]+/ }"),
        "unexpected recording:\n{text}"
    );
    let failures = replay(&text, x.daytime_addr())?;
    ensure!(
        failures.is_empty(),
        "the recording fails against xinetd: {failures:?}\n{text}"
    );
    Ok(())
}
