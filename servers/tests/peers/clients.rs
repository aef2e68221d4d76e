//! The memcached clients people run, against a real memcached and against
//! memcached-server, doing the same operations: the Python libraries
//! pymemcache, python-memcached and pylibmc (one script each in
//! `clients/`, printing a transcript of results), and libmemcached's tools
//! (`memccp`, `memccat`, `memcflush`, `memcdump`, `memcstat`, `memcslap`,
//! `memcaslap`). Each trial gets a fresh memcached and a fresh
//! memcached-server and compares what the client saw on each.
//!
//! A trial whose name is in [`KNOWN_GAPS`] still runs both sides and still
//! fails when memcached itself gives an unexpected result, but a difference
//! from memcached-server makes it *ignored*, with the gap and the first
//! difference in its message. `PROTOSPEC_RUN_KNOWN_GAPS=1` makes those
//! differences failures again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use libtest_mimic::{Completion, Failed, Trial};

use crate::harness::{self, ensure, InProcess, Memcached, Program};

/// Trials that fail against memcached-server for a gap known and being
/// fixed elsewhere: trial name → the gap. Each is ignored with its reason
/// while memcached-server still differs.
pub const KNOWN_GAPS: &[(&str, &str)] = &[];

/// The limit on one run of a client script or tool.
const LIMIT: Duration = Duration::from_secs(120);

const PYMEMCACHE: &[Program] = &[Program::Memcached, Program::Pymemcache];
const PYTHON_MEMCACHED: &[Program] = &[Program::Memcached, Program::PythonMemcached];
const PYLIBMC: &[Program] = &[Program::Memcached, Program::Pylibmc];
const COPY: &[Program] = &[Program::Memcached, Program::Memccp, Program::Memccat];
const FLUSH: &[Program] = &[
    Program::Memcached,
    Program::Memccp,
    Program::Memccat,
    Program::Memcflush,
];
const DUMP: &[Program] = &[Program::Memcached, Program::Memccp, Program::Memcdump];
const STAT: &[Program] = &[Program::Memcached, Program::Memcstat];
const SLAP: &[Program] = &[Program::Memcached, Program::Memcslap];
const ASLAP: &[Program] = &[Program::Memcached, Program::Memcaslap];

pub fn trials() -> Vec<Trial> {
    vec![
        compared(
            "clients::pymemcache_same_results_on_both_servers",
            PYMEMCACHE,
            || python_client(Program::Pymemcache, "pymemcache_ops.py", PYMEMCACHE_EXPECTED),
        ),
        compared(
            "clients::python_memcached_same_results_on_both_servers",
            PYTHON_MEMCACHED,
            || {
                python_client(
                    Program::PythonMemcached,
                    "python_memcached_ops.py",
                    PYTHON_MEMCACHED_EXPECTED,
                )
            },
        ),
        compared("clients::pylibmc_same_results_on_both_servers", PYLIBMC, || {
            python_client(Program::Pylibmc, "pylibmc_ops.py", PYLIBMC_EXPECTED)
        }),
        compared(
            "clients::memccp_then_memccat_on_both_servers",
            COPY,
            memccp_memccat,
        ),
        compared("clients::memcflush_on_both_servers", FLUSH, memcflush),
        compared("clients::memcdump_on_both_servers", DUMP, memcdump),
        compared("clients::memcstat_on_both_servers", STAT, memcstat),
        compared("clients::memcslap_bounded_runs_on_both_servers", SLAP, memcslap),
        compared("clients::memcaslap_5s_run_on_both_servers", ASLAP, memcaslap),
    ]
}

// ---------------------------------------------------------------------------
// Comparing the two servers

/// What a client saw on one server: one line per step.
type Transcript = Vec<String>;

/// The outcome of a comparison: `Err` when the trial is broken (memcached
/// gave something unexpected, or the harness failed); `Ok(Err(difference))`
/// when memcached-server differs from memcached.
type Compared = Result<Result<(), String>, Failed>;

/// A trial comparing the two servers, ignored while it is a known gap.
fn compared(
    name: &'static str,
    needs: &'static [Program],
    test: impl FnOnce() -> Compared + Send + 'static,
) -> Trial {
    let gap = KNOWN_GAPS.iter().find(|(n, _)| *n == name).map(|&(_, why)| why);
    harness::trial_completing(name, needs, move || match (test()?, gap) {
        (Ok(()), None) => Ok(Completion::Completed),
        (Err(difference), None) => Err(difference.into()),
        (Err(difference), Some(_)) if run_known_gaps() => Err(difference.into()),
        (Err(difference), Some(why)) => Ok(Completion::ignored_with(format!(
            "known gap: {why}; memcached-server still differs: {}",
            one_line(&difference)
        ))),
        (Ok(()), Some(why)) => Ok(Completion::ignored_with(format!(
            "listed in KNOWN_GAPS ({why}), but memcached-server now does what memcached does: \
             take it off the list"
        ))),
    })
}

/// Whether `PROTOSPEC_RUN_KNOWN_GAPS=1` makes known gaps fail.
fn run_known_gaps() -> bool {
    std::env::var("PROTOSPEC_RUN_KNOWN_GAPS").is_ok_and(|v| v.trim() == "1")
}

/// A difference on one line, cut short, for an ignored trial's message.
fn one_line(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= 300 {
        return flat;
    }
    format!("{}…", flat.chars().take(300).collect::<String>())
}

/// A fresh memcached and a fresh memcached-server.
struct Both {
    memcached: Memcached,
    ours: InProcess,
}

impl Both {
    fn start() -> Result<Both, Failed> {
        Ok(Both {
            memcached: Memcached::start()?,
            ours: crate::servers::start_memcached()?,
        })
    }
}

/// Runs `steps` against memcached (where every step must work: `Err` is a
/// broken trial) and then against memcached-server (where an `Err` is a
/// difference), and compares the transcripts line by line.
fn on_both(steps: impl Fn(u16, &mut Transcript) -> Result<(), String>) -> Compared {
    on_both_expecting(&[], steps)
}

/// [`on_both`], where memcached's transcript must also hold a line starting
/// with each of `expected` (so that a script that went wrong on both servers
/// alike does not pass).
fn on_both_expecting(
    expected: &[&str],
    steps: impl Fn(u16, &mut Transcript) -> Result<(), String>,
) -> Compared {
    let both = Both::start()?;
    let mut theirs = Transcript::new();
    steps(both.memcached.port, &mut theirs).map_err(|e| format!("against memcached: {e}"))?;
    for want in expected {
        ensure!(
            theirs.iter().any(|l| l.starts_with(want)),
            "against memcached the transcript lacks {want}:\n{}",
            theirs.join("\n")
        );
    }
    let mut ours = Transcript::new();
    let outcome = steps(both.ours.port, &mut ours);
    Ok(match (compare(&theirs, &ours), outcome) {
        (Err(difference), Ok(())) => Err(difference),
        (Err(difference), Err(e)) => Err(format!("{difference}\nthen, against memcached-server: {e}")),
        (Ok(()), Err(e)) => Err(format!("memcached-server: {e}")),
        (Ok(()), Ok(())) => Ok(()),
    })
}

/// The first line where memcached-server's transcript differs, if any, and
/// how many differ.
fn compare(theirs: &[String], ours: &[String]) -> Result<(), String> {
    let differing =
        theirs.iter().zip(ours).filter(|(t, o)| t != o).count() + theirs.len().abs_diff(ours.len());
    let Some(at) = (0..theirs.len().max(ours.len())).find(|&i| theirs.get(i) != ours.get(i)) else {
        return Ok(());
    };
    let show = |t: &[String]| {
        t.get(at)
            .map_or("(nothing: the transcript ends here)".to_string(), |l| cut(l))
    };
    Err(format!(
        "first difference at step {at} ({differing} of {} steps differ):\n         memcached: {}\n  \
         memcached-server: {}",
        theirs.len(),
        show(theirs),
        show(ours)
    ))
}

/// A transcript line, cut in the middle when long.
fn cut(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= 400 {
        return line.to_string();
    }
    let head: String = chars[..200].iter().collect();
    let tail: String = chars[chars.len() - 150..].iter().collect();
    format!("{head}…({} characters)…{tail}", chars.len())
}

/// Runs a command; its outcome as one transcript line (exit status, and
/// standard output unless `show_stdout` is false), and the finished run.
fn step(
    t: &mut Transcript,
    what: &str,
    program: Program,
    args: &[String],
    limit: Duration,
) -> Result<harness::Ran, String> {
    let mut cmd = Command::new(program.path().map_err(|e| format!("{e:?}"))?);
    cmd.args(args);
    let ran = harness::run(cmd, Vec::new(), limit).map_err(|e| format!("{what}: {e:?}"))?;
    t.push(format!("{what}: {}", ran.status));
    Ok(ran)
}

fn servers_arg(port: u16) -> String {
    format!("--servers=127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------
// The Python clients

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/clients")
}

/// Lines (a prefix of each) memcached's transcript must hold for the script
/// to be doing what it says.
const PYMEMCACHE_EXPECTED: &[&str] = &[
    r#"{"op": "get text", "result": "b'hello'"}"#,
    r#"{"op": "get empty", "result": "b''"}"#,
    r#"{"op": "get key control and high bytes", "result": "b'odd key'"}"#,
    r#"{"op": "get_many 300 keys", "result": {"len": 150,"#,
    r#"{"op": "get_many 10000 keys", "result": {"len": 5000,"#,
    r#"{"op": "get after noreply", "result": "b'908'"}"#,
    r#"{"op": "raw: incr non-numeric amount noreply, then get n", "result": "b'VALUE n 0 1\\r\\n5\\r\\n'"}"#,
    r#"{"op": "stats items", "result": ["items:1:age""#,
];

const PYTHON_MEMCACHED_EXPECTED: &[&str] = &[
    r#"{"op": "get text", "result": "b'hello'"}"#,
    r#"{"op": "get empty", "result": "b''"}"#,
    r#"{"op": "get key high bytes", "result": "b'odd key'"}"#,
    r#"{"op": "get_multi 300 keys", "result": {"len": 150,"#,
    r#"{"op": "get_multi 10000 keys", "result": {"len": 5000,"#,
    r#"{"op": "cas with the same token again", "result": false}"#,
    r#"{"op": "get_multi after the noreply multis", "result": [["'q2'", "b'2'"]]}"#,
    r#"{"op": "get_stats items", "result": [["items:1:age""#,
];

const PYLIBMC_EXPECTED: &[&str] = &[
    r#"{"op": "get text", "result": "b'hello'"}"#,
    r#"{"op": "get empty", "result": "b''"}"#,
    r#"{"op": "get key a control byte", "result": "b'odd key'"}"#,
    r#"{"op": "get_multi 300 keys", "result": {"len": 150,"#,
    r#"{"op": "get_multi 10000 keys", "result": {"len": 5000,"#,
    r#"{"op": "cas with a stale token", "result": false}"#,
    r#"{"op": "get after noreply", "result": [["'q2'", "b'2'"], ["'quiet'", "b'11'"]]}"#,
];

/// Runs a client's script against each server and compares the
/// transcripts; memcached's must hold the `expected` lines.
fn python_client(program: Program, script: &str, expected: &'static [&str]) -> Compared {
    let python = program.path()?;
    let script = scripts().join(script);
    on_both_expecting(expected, |port, t| {
        let mut cmd = Command::new(&python);
        cmd.arg("-B")
            .arg(&script)
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(scripts())
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let ran = harness::run(cmd, Vec::new(), LIMIT).map_err(|e| format!("{e:?}"))?;
        // The lines up to a crash count too: they are compared.
        t.extend(String::from_utf8_lossy(&ran.stdout).lines().map(str::to_string));
        if !ran.status.success() {
            return Err(format!(
                "the script ended with {}; stderr {:?}",
                ran.status,
                harness::abbreviate(&ran.stderr)
            ));
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// libmemcached's tools

/// Files for memccp: text, every byte value with the protocol's markers,
/// empty, and large.
fn files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, Failed> {
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend_from_slice(b"\r\nEND\r\nVALUE x 0 1\r\nx\r\n");
    let files = vec![
        ("greeting.txt".to_string(), b"hello from memccp\n".to_vec()),
        ("every-byte.bin".to_string(), binary),
        ("empty".to_string(), Vec::new()),
        ("large.bin".to_string(), harness::pattern(300_000, 9)),
    ];
    for (name, data) in &files {
        std::fs::write(dir.join(name), data)?;
    }
    Ok(files)
}

/// What memccat prints for `files`: each value and a newline.
fn catted(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    files
        .iter()
        .flat_map(|(_, d)| d.iter().copied().chain([b'\n']))
        .collect()
}

fn digest_line(what: &str, bytes: &[u8]) -> String {
    format!("{what}: {} bytes, {}", bytes.len(), harness::abbreviate(bytes))
}

/// memccp copies the files in (exit 0); memccat prints them back byte for
/// byte; memccat of a missing key fails the same way on both.
fn memccp_memccat() -> Compared {
    let dir = tempfile::tempdir()?;
    let files = files(dir.path())?;
    let want = catted(&files);
    let paths: Vec<String> = files
        .iter()
        .map(|(n, _)| dir.path().join(n).display().to_string())
        .collect();
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    on_both(|port, t| {
        let copied = step(
            t,
            "memccp",
            Program::Memccp,
            &[&[servers_arg(port)], &paths[..]].concat(),
            LIMIT,
        )?;
        if !copied.status.success() {
            return Err(format!("memccp: {}", copied.describe()));
        }
        let cat = step(
            t,
            "memccat",
            Program::Memccat,
            &[&[servers_arg(port)], &names[..]].concat(),
            LIMIT,
        )?;
        t.push(digest_line("memccat's output", &cat.stdout));
        t.push(format!("memccat's output is the files': {}", cat.stdout == want));
        let missing = step(
            t,
            "memccat of a missing key",
            Program::Memccat,
            &[servers_arg(port), "no-such-file".into()],
            LIMIT,
        )?;
        t.push(digest_line("its output", &missing.stdout));
        if !cat.status.success() || cat.stdout != want {
            return Err(format!(
                "memccat did not print the files back: {}",
                cat.describe()
            ));
        }
        Ok(())
    })
}

/// memccp, memcflush (exit 0), then memccat finds nothing.
fn memcflush() -> Compared {
    let dir = tempfile::tempdir()?;
    let files = files(dir.path())?;
    let path = dir.path().join(&files[0].0).display().to_string();
    on_both(|port, t| {
        let copied = step(
            t,
            "memccp",
            Program::Memccp,
            &[servers_arg(port), path.clone()],
            LIMIT,
        )?;
        let flushed = step(t, "memcflush", Program::Memcflush, &[servers_arg(port)], LIMIT)?;
        if !copied.status.success() || !flushed.status.success() {
            return Err(format!(
                "memccp: {}; memcflush: {}",
                copied.describe(),
                flushed.describe()
            ));
        }
        let cat = step(
            t,
            "memccat after memcflush",
            Program::Memccat,
            &[servers_arg(port), files[0].0.clone()],
            LIMIT,
        )?;
        t.push(digest_line("its output", &cat.stdout));
        if cat.status.success() {
            return Err(format!(
                "memccat found the file after memcflush: {}",
                cat.describe()
            ));
        }
        Ok(())
    })
}

/// memccp, then memcdump lists the keys (`stats cachedump`). memcached may
/// list nothing in the moment after the sets, so memcdump is run until it
/// lists something, up to 5 times.
fn memcdump() -> Compared {
    let dir = tempfile::tempdir()?;
    let files = files(dir.path())?;
    let paths: Vec<String> = files
        .iter()
        .map(|(n, _)| dir.path().join(n).display().to_string())
        .collect();
    let mut want: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    want.sort();
    on_both(|port, t| {
        let copied = step(
            t,
            "memccp",
            Program::Memccp,
            &[&[servers_arg(port)], &paths[..]].concat(),
            LIMIT,
        )?;
        if !copied.status.success() {
            return Err(format!("memccp: {}", copied.describe()));
        }
        let mut keys = Vec::new();
        let mut status = None;
        for _ in 0..5 {
            let mut scratch = Transcript::new();
            let dump = step(
                &mut scratch,
                "memcdump",
                Program::Memcdump,
                &[servers_arg(port)],
                LIMIT,
            )?;
            keys = String::from_utf8_lossy(&dump.stdout)
                .lines()
                .map(str::to_string)
                .collect();
            keys.sort();
            status = scratch.pop();
            if !keys.is_empty() || !dump.status.success() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        t.extend(status);
        t.push(format!("memcdump's keys: {keys:?}"));
        if keys != want {
            return Err(format!("memcdump listed {keys:?}, not {want:?}"));
        }
        Ok(())
    })
}

/// The names a memcstat shows (after its `Server: ...` line).
fn memcstat_names(out: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = String::from_utf8_lossy(out)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.trim_end_matches(':').to_string())
        .collect();
    names.sort();
    names
}

/// `memcstat` and `memcstat --args=items` (after a few sets): exit 0, the
/// same names.
fn memcstat() -> Compared {
    let dir = tempfile::tempdir()?;
    let files = files(dir.path())?;
    let paths: Vec<String> = files
        .iter()
        .map(|(n, _)| dir.path().join(n).display().to_string())
        .collect();
    on_both(|port, t| {
        step(
            t,
            "memccp",
            Program::Memccp,
            &[&[servers_arg(port)], &paths[..]].concat(),
            LIMIT,
        )?;
        for args in [vec![], vec!["--args=items".to_string()]] {
            let what = format!("memcstat {args:?}");
            let ran = step(
                t,
                &what,
                Program::Memcstat,
                &[&[servers_arg(port)], &args[..]].concat(),
                LIMIT,
            )?;
            if !ran.status.success() {
                return Err(format!("{what}: {}", ran.describe()));
            }
            t.push(format!("{what} names: {:?}", memcstat_names(&ran.stdout)));
        }
        Ok(())
    })
}

/// Lines of a load tool's output that tell of an error or a failure: how
/// many, and the first three.
fn error_lines(ran: &harness::Ran) -> (usize, Vec<String>) {
    let all: Vec<String> = [&ran.stdout, &ran.stderr]
        .iter()
        .flat_map(|b| {
            String::from_utf8_lossy(b)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error") || l.contains("fail") || l.contains("timeout") || l.contains("timed out")
        })
        .collect();
    (all.len(), all.into_iter().take(3).map(|l| cut(&l)).collect())
}

/// A `stats` counter of the server on `port`.
fn stat(port: u16, name: &str) -> Result<u64, String> {
    let mut raw = harness::RawMemcached::connect(port).map_err(|e| format!("{e:?}"))?;
    let reply = raw
        .exchange(b"stats\r\n", b"END\r\n")
        .map_err(|e| format!("{e:?}"))?;
    let text = String::from_utf8_lossy(&reply);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("STAT {name} ")))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no `{name}` in stats: {}", harness::abbreviate(&reply)))
}

/// memcslap's set, get and mget tests, 4 threads of 1000 each: exit 0, no
/// errors, and the server counted sets and hits.
fn memcslap() -> Compared {
    on_both(|port, t| {
        for test in ["set", "get", "mget"] {
            let args = [
                servers_arg(port),
                format!("--test={test}"),
                "--concurrency=4".to_string(),
                "--execute-number=1000".to_string(),
            ];
            let started = Instant::now();
            let ran = step(
                t,
                &format!("memcslap --test={test}"),
                Program::Memcslap,
                &args,
                Duration::from_secs(60),
            )?;
            let (errors, first) = error_lines(&ran);
            t.push(format!("memcslap --test={test}: {errors} error lines {first:?}"));
            if !ran.status.success() || errors > 0 {
                return Err(format!(
                    "memcslap --test={test} after {:?}: {}",
                    started.elapsed(),
                    ran.describe()
                ));
            }
        }
        t.push(format!("cmd_set > 0: {}", stat(port, "cmd_set")? > 0));
        t.push(format!("get_hits > 0: {}", stat(port, "get_hits")? > 0));
        Ok(())
    })
}

/// `memcaslap -s 127.0.0.1:PORT -T 1 -c 16 -t 5s`: exit 0 within the run's
/// time (and a margin), no errors in its report, and the server counted
/// sets and hits. Its keys hold 0x10 and bytes >= 0x80.
fn memcaslap() -> Compared {
    on_both(|port, t| {
        let args: Vec<String> = [
            "-s",
            &format!("127.0.0.1:{port}"),
            "-T",
            "1",
            "-c",
            "16",
            "-t",
            "5s",
        ]
        .map(str::to_string)
        .to_vec();
        let ran = step(t, "memcaslap", Program::Memcaslap, &args, Duration::from_secs(30))?;
        let (errors, first) = error_lines(&ran);
        t.push(format!("memcaslap: {errors} error lines {first:?}"));
        let report = String::from_utf8_lossy(&ran.stdout).into_owned();
        let counted = |name: &str| {
            report
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        };
        t.push(format!(
            "its cmd_get > 0: {}, cmd_set > 0: {}",
            counted("cmd_get"),
            counted("cmd_set")
        ));
        t.push(format!(
            "the server's cmd_set > 0: {}",
            stat(port, "cmd_set")? > 0
        ));
        t.push(format!(
            "the server's get_hits > 0: {}",
            stat(port, "get_hits")? > 0
        ));
        if !ran.status.success() || errors > 0 {
            return Err(format!("memcaslap: {}", ran.describe()));
        }
        Ok(())
    })
}
