//! What every trial shares: finding the peer programs, starting them on free
//! loopback ports (and killing them by PID when dropped, panics included),
//! the in-process reference servers, running commands with a time limit, and
//! byte comparisons that say where two byte strings differ.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Completion, Failed, Trial};
use protocol_runtime::server::{ServerConfig, ServerStats};
use protocol_runtime::transport::{Address, Listener};

/// The longest a peer may take to start answering its protocol.
const STARTUP: Duration = Duration::from_secs(10);
/// Attempts at starting a peer (each on a fresh port) before giving up.
const START_ATTEMPTS: usize = 3;
/// The limit on one blocking socket operation.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Returns early with a failure unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(::libtest_mimic::Failed::from(format!($($fmt)+)));
        }
    };
}

/// Returns early with a failure unless `got == want`, showing both.
macro_rules! ensure_eq {
    ($got:expr, $want:expr $(,)?) => {
        ensure_eq!($got, $want, "{}", stringify!($got))
    };
    ($got:expr, $want:expr, $($fmt:tt)+) => {{
        let (got, want) = (&$got, &$want);
        if got != want {
            return Err(::libtest_mimic::Failed::from(format!(
                "{}:\n   got: {:?}\n  want: {:?}",
                format!($($fmt)+),
                got,
                want
            )));
        }
    }};
}

pub(crate) use {ensure, ensure_eq};

/// A result of a trial.
pub type Outcome = Result<(), Failed>;

mod in_process;
mod peer;
pub use in_process::*;
pub use peer::*;

// ---------------------------------------------------------------------------
// Programs and skipping

/// A program from the system that some trials need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Memcached,
    Xinetd,
    Nc,
    /// memcached's own `memcached-tool` (a perl script shipped with it).
    MemcachedTool,
    /// libmemcached's tools (Debian's libmemcached-tools).
    Memcstat,
    Memcdump,
    Memccp,
    Memccat,
    Memcflush,
    Memcslap,
    Memcaslap,
    /// Python memcached clients, in the venv `.ci/run` makes (see
    /// [`python_venv`]): pymemcache 4.0.0, python-memcached 1.62, and
    /// Debian's pylibmc seen through the venv's system site packages.
    Pymemcache,
    PythonMemcached,
    Pylibmc,
    /// Redis 7, run by the redis suite's `peer` script.
    RedisServer,
    /// Redis's command-line client (package redis-tools, which redis-server
    /// depends on).
    RedisCli,
    /// pymodbus at the version pinned in `conformance/suites/modbus/setup-venv`,
    /// in the venv that script makes (and `.ci/run` runs): the modbus peer.
    Pymodbus,
    /// PostgreSQL 15's server (its `initdb`), run by the postgres suite's
    /// `peer` script.
    Postgres,
    /// dnsmasq, run by the dns suite's `peer` script.
    Dnsmasq,
    /// PostgreSQL's command-line client.
    Psql,
    /// BIND's DNS lookup tool (package bind9-dnsutils).
    Dig,
    /// DNS-OARC's load generator (package dnsperf), run against dns-server.
    Dnsperf,
    /// Redis's benchmark (package redis-tools).
    RedisBenchmark,
    /// redis-py at the version pinned in
    /// `servers/tests/peers/redis_py/setup-venv`, in the venv that script
    /// makes (and `.ci/run` runs).
    RedisPy,
    /// A Modbus master on the command line (package mbpoll).
    Mbpoll,
}

/// How many [`Program`]s there are.
const PROGRAMS: usize = 25;

impl Program {
    pub fn name(self) -> &'static str {
        match self {
            Program::Memcached => "memcached",
            Program::Xinetd => "xinetd",
            Program::Nc => "nc",
            Program::MemcachedTool => "memcached-tool",
            Program::Memcstat => "memcstat",
            Program::Memcdump => "memcdump",
            Program::Memccp => "memccp",
            Program::Memccat => "memccat",
            Program::Memcflush => "memcflush",
            Program::Memcslap => "memcslap",
            Program::Memcaslap => "memcaslap",
            Program::Pymemcache => "pymemcache",
            Program::PythonMemcached => "python-memcached",
            Program::Pylibmc => "pylibmc",
            Program::RedisServer => "redis-server",
            Program::RedisCli => "redis-cli",
            Program::Pymodbus => "pymodbus",
            Program::Postgres => "initdb",
            Program::Dnsmasq => "dnsmasq",
            Program::Psql => "psql",
            Program::Dig => "dig",
            Program::Dnsperf => "dnsperf",
            Program::RedisBenchmark => "redis-benchmark",
            Program::RedisPy => "redis-py",
            Program::Mbpoll => "mbpoll",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Program::Memcached => "memcached",
            Program::Xinetd => "xinetd",
            Program::Nc => "netcat-openbsd",
            Program::MemcachedTool => "memcached, and perl",
            Program::Memcstat
            | Program::Memcdump
            | Program::Memccp
            | Program::Memccat
            | Program::Memcflush
            | Program::Memcslap
            | Program::Memcaslap => "libmemcached-tools",
            Program::Pymemcache
            | Program::PythonMemcached
            | Program::Pylibmc
            | Program::Pymodbus
            | Program::RedisPy => "python3-venv",
            Program::RedisServer => "redis-server",
            Program::RedisCli | Program::RedisBenchmark => "redis-tools",
            Program::Postgres => "postgresql",
            Program::Dnsmasq => "dnsmasq-base",
            Program::Psql => "postgresql-client",
            Program::Dig => "bind9-dnsutils",
            Program::Dnsperf => "dnsperf",
            Program::Mbpoll => "mbpoll",
        }
    }

    /// Where the program is installed, if it is: searched on `PATH`, then in
    /// the sbin directories a non-root `PATH` may lack.
    pub fn locate(self) -> Option<PathBuf> {
        static FOUND: [OnceLock<Option<PathBuf>>; PROGRAMS] = [const { OnceLock::new() }; PROGRAMS];
        FOUND[self as usize]
            .get_or_init(|| match self {
                // Debian keeps it with memcached's scripts, off `PATH`; it
                // runs under perl.
                Program::MemcachedTool => search_path("perl").and(search_path(self.name()).or_else(|| {
                    Some(PathBuf::from("/usr/share/memcached/scripts/memcached-tool")).filter(|p| p.is_file())
                })),
                Program::Pymemcache => python_module("pymemcache", "pymemcache.__version__ == '4.0.0'"),
                Program::PythonMemcached => python_module("memcache", "memcache.__version__ == '1.62'"),
                Program::Pylibmc => python_module("pylibmc", "True"),
                Program::Pymodbus => modbus_venv(),
                Program::RedisPy => setup_venv_check(
                    &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/redis_py/setup-venv"),
                ),
                Program::Postgres => search_path("initdb").or_else(|| {
                    Some(PathBuf::from("/usr/lib/postgresql/15/bin/initdb")).filter(|p| is_executable(p))
                }),
                _ => search_path(self.name()),
            })
            .clone()
    }

    /// The program's path, or a failure saying it is missing.
    pub fn path(self) -> Result<PathBuf, Failed> {
        self.locate().ok_or_else(|| self.missing().into())
    }

    fn missing(self) -> String {
        if self == Program::Pymodbus {
            return format!(
                "the modbus peer's venv has no pymodbus at its pinned version: make it with \
                 {} (.ci/run does)",
                suites_dir().join("modbus/setup-venv").display()
            );
        }
        if self == Program::RedisPy {
            return format!(
                "redis-py's venv has no redis at its pinned version: make it with {}/tests/peers/redis_py/setup-venv (.ci/run does)",
                env!("CARGO_MANIFEST_DIR")
            );
        }
        if let Some(import) = self.python_import() {
            return format!(
                "`{}` cannot `import {import}` at its pinned version (.ci/run makes that venv: \
                 python3 -m venv --system-site-packages with Debian's python3-pylibmc, then \
                 pip install pymemcache==4.0.0 python-memcached==1.62)",
                python_venv().join("bin/python").display()
            );
        }
        format!(
            "`{}` is not installed (Debian package {})",
            self.name(),
            self.package()
        )
    }
}

impl Program {
    /// The module a Python client is imported as.
    fn python_import(self) -> Option<&'static str> {
        match self {
            Program::Pymemcache => Some("pymemcache"),
            Program::PythonMemcached => Some("memcache"),
            Program::Pylibmc => Some("pylibmc"),
            _ => None,
        }
    }
}

/// The venv of the Python memcached clients: `PROTOSPEC_VENV`, else
/// `$HOME/.cache/protospec/venv-memcached` (where `.ci/run` makes it).
pub fn python_venv() -> PathBuf {
    match std::env::var_os("PROTOSPEC_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/protospec/venv-memcached"),
    }
}

/// The venv's python, if it imports `module` and `check` holds after.
fn python_module(module: &str, check: &str) -> Option<PathBuf> {
    let python = python_venv().join("bin/python");
    let ok = Command::new(&python)
        .args(["-B", "-c", &format!("import {module}; assert {check}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(python)
}

/// The modbus peer's python, if `setup-venv --check` finds its venv ready
/// (the script holds the pin, and where the venv is).
fn modbus_venv() -> Option<PathBuf> {
    setup_venv_check(&suites_dir().join("modbus/setup-venv"))
}

/// The python of a venv whose `setup-venv --check` finds it ready.
fn setup_venv_check(script: &Path) -> Option<PathBuf> {
    let out = Command::new(script)
        .arg("--check")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let python = String::from_utf8(out.stdout).ok()?;
    out.status.success().then(|| PathBuf::from(python.trim_end()))
}

fn search_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `PROTOSPEC_REQUIRE_PEERS=1` turns a missing peer into a failure.
pub fn peers_required() -> bool {
    std::env::var("PROTOSPEC_REQUIRE_PEERS").is_ok_and(|v| v.trim() == "1")
}

/// A trial that needs the programs `needs`: when one is missing it is
/// ignored with the reason (or fails, under `PROTOSPEC_REQUIRE_PEERS=1`).
pub fn trial(name: &str, needs: &'static [Program], test: fn() -> Outcome) -> Trial {
    trial_if(name, needs, || None, test)
}

/// Like [`trial`], also ignored (whatever `PROTOSPEC_REQUIRE_PEERS` says)
/// when `unsupported` gives a reason: a feature the machine lacks rather
/// than a peer.
pub fn trial_if(
    name: &str,
    needs: &'static [Program],
    unsupported: impl FnOnce() -> Option<String> + Send + 'static,
    test: impl FnOnce() -> Outcome + Send + 'static,
) -> Trial {
    trial_completing(name, needs, move || {
        if let Some(why) = unsupported() {
            return Ok(Completion::ignored_with(format!("skipped: {why}")));
        }
        test().map(|()| Completion::Completed)
    })
}

/// Like [`trial`], with a test that may itself end ignored (with a reason).
pub fn trial_completing(
    name: &str,
    needs: &'static [Program],
    test: impl FnOnce() -> Result<Completion, Failed> + Send + 'static,
) -> Trial {
    Trial::ignorable_test(name, move || {
        let missing: Vec<String> = needs
            .iter()
            .filter(|p| p.locate().is_none())
            .map(|p| p.missing())
            .collect();
        if !missing.is_empty() {
            let why = missing.join("; ");
            if peers_required() {
                return Err(format!("{why}, and PROTOSPEC_REQUIRE_PEERS=1 requires every peer").into());
            }
            return Ok(Completion::ignored_with(format!("skipped: {why}")));
        }
        test()
    })
}

/// Why IPv6 trials cannot run here, if they cannot.
pub fn no_ipv6_loopback() -> Option<String> {
    TcpListener::bind("[::1]:0")
        .err()
        .map(|e| format!("no IPv6 loopback on this machine ([::1]: {e})"))
}

// ---------------------------------------------------------------------------
// Ports and processes

/// A loopback port that was free a moment ago. Ports handed out once are not
/// handed out again by this process.
pub fn free_port() -> Result<u16, Failed> {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(Default::default);
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if given.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return Ok(port);
        }
    }
    Err("no free loopback port".into())
}

/// A started program, killed (by its PID) and reaped when dropped; one
/// started in a process group of its own ([`Process::spawn_group`]) is
/// stopped with its whole group.
pub struct Process {
    child: Child,
    what: String,
    log: PathBuf,
    group: bool,
}

impl Process {
    /// The process's ID (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Result<std::process::ExitStatus, Failed> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not exit within {limit:?}; its log:\n{}",
                    self.what,
                    self.log()
                )
                .into());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn spawn(what: String, cmd: Command, log: PathBuf) -> Result<Process, Failed> {
        Process::start(what, cmd, log, false)
    }

    /// Starts `cmd` as the leader of a new process group: a script and the
    /// server it starts. Dropping it sends SIGTERM to the group, so that the
    /// script can stop its server and remove its files, and SIGKILL to
    /// whatever is left after [`STOP_GRACE`].
    pub fn spawn_group(what: String, cmd: Command, log: PathBuf) -> Result<Process, Failed> {
        Process::start(what, cmd, log, true)
    }

    fn start(what: String, mut cmd: Command, log: PathBuf, group: bool) -> Result<Process, Failed> {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(&log)?;
        cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
        if group {
            cmd.process_group(0);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {what} ({cmd:?}): {e}"))?;
        Ok(Process {
            child,
            what,
            log,
            group,
        })
    }

    /// The last lines of what the process printed.
    pub fn log(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Waits until `probe` succeeds, while the process lives, within `STARTUP`.
    pub fn wait_ready(&mut self, probe: impl FnMut() -> io::Result<()>) -> Result<(), String> {
        self.wait_ready_within(STARTUP, probe)
    }

    /// Waits until `probe` succeeds, while the process lives, within `limit`.
    pub fn wait_ready_within(
        &mut self,
        limit: Duration,
        mut probe: impl FnMut() -> io::Result<()>,
    ) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!(
                    "{} exited ({status}); its log:\n{}",
                    self.what,
                    self.log()
                ));
            }
            match probe() {
                Ok(()) => {
                    // A peer that answered must be ours: a process that could
                    // not bind the port exits.
                    thread::sleep(Duration::from_millis(20));
                    if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                        return Err(format!(
                            "{} exited ({status}) although its port answered; its log:\n{}",
                            self.what,
                            self.log()
                        ));
                    }
                    return Ok(());
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(format!(
                        "{} did not answer within {limit:?} (last attempt: {e}); its log:\n{}",
                        self.what,
                        self.log()
                    ));
                }
                Err(_) => {}
            }
            thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.group {
            let group = self.child.id();
            signal_group(group, "TERM");
            let deadline = Instant::now() + STOP_GRACE;
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                thread::sleep(Duration::from_millis(20));
            }
            // The leader is reaped only now, so its ID cannot have been
            // handed to another group meanwhile.
            signal_group(group, "KILL");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a process group gets to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Sends `signal` (TERM, KILL) to every process of the group `group`. std
/// sends only SIGKILL, to one process, and unsafe code (libc's `kill`) is
/// forbidden here: the shell's `kill` does it.
fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("sh")
        .args(["-c", r#"kill -s "$1" -- "-$2" 2>/dev/null"#, "sh", signal])
        .arg(group.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A blocking loopback connection with time limits on every operation.
pub fn connect(port: u16) -> io::Result<TcpStream> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// Reads until the peer closes; a timeout is an error.
pub fn read_to_close(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// Reads until `out` ends with `end`.
pub fn read_until(s: &mut TcpStream, end: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(end) {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "closed before {:?}; got {:?}",
                    end.escape_ascii().to_string(),
                    out.escape_ascii().to_string()
                ),
            ));
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Async code and commands, bounded in time

/// Runs `f` on a fresh runtime, failing if it takes longer than `limit`.
pub fn block_on<T>(limit: Duration, f: impl Future<Output = Result<T, Failed>>) -> Result<T, Failed> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match tokio::time::timeout(limit, f).await {
            Ok(r) => r,
            Err(_) => Err(format!("timed out after {limit:?}").into()),
        }
    })
}

/// What a finished command did.
pub struct Ran {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Ran {
    pub fn describe(&self) -> String {
        format!(
            "{}; stdout {:?}; stderr {:?}",
            self.status,
            abbreviate(&self.stdout),
            abbreviate(&self.stderr)
        )
    }
}

/// Kills and reaps a command's process if the trial ends early.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `cmd` with `stdin` as its input, killing it after `limit`.
pub fn run(mut cmd: Command, stdin: Vec<u8>, limit: Duration) -> Result<Ran, Failed> {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {shown}: {e}"))?;
    let input = child.stdin.take();
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let mut guard = ChildGuard(Some(child));
    let writer = thread::spawn(move || {
        if let Some(mut i) = input {
            // The command may finish without reading everything.
            let _ = i.write_all(&stdin);
        }
    });
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(out.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = reader(err.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        let child = guard.0.as_mut().expect("the child is guarded until it ends");
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(10));
    };
    guard.0 = None;
    let _ = writer.join();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Ran {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{shown} did not finish within {limit:?}; stdout so far {:?}; stderr {:?}",
            abbreviate(&stdout),
            abbreviate(&stderr)
        )
        .into()),
    }
}

/// `nc -N 127.0.0.1 PORT` with `input`: it half-closes after its input and
/// prints everything the server sends until the server closes.
pub fn nc(port: u16, input: &[u8]) -> Result<Ran, Failed> {
    let mut cmd = Command::new(Program::Nc.path()?);
    cmd.args(["-N", "-w", "10", "127.0.0.1", &port.to_string()]);
    run(cmd, input.to_vec(), Duration::from_secs(30))
}

// ---------------------------------------------------------------------------
// Bytes and times

/// Bytes as escaped text, long ones cut in the middle.
pub fn abbreviate(b: &[u8]) -> String {
    if b.len() <= 120 {
        return b.escape_ascii().to_string();
    }
    format!(
        "{}…({} bytes)…{}",
        b[..60].escape_ascii(),
        b.len(),
        b[b.len() - 60..].escape_ascii()
    )
}

/// Fails unless `got == want`, saying where they first differ.
pub fn same_bytes(what: &str, got: &[u8], want: &[u8]) -> Outcome {
    if got == want {
        return Ok(());
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let from = at.saturating_sub(16);
    let mut msg = format!(
        "{what}: {} bytes where {} were expected; first difference at byte {at}\n",
        got.len(),
        want.len()
    );
    let _ = writeln!(
        msg,
        "   got[{from}..]: {}",
        abbreviate(&got[from..got.len().min(at + 32)])
    );
    let _ = write!(
        msg,
        "  want[{from}..]: {}",
        abbreviate(&want[from..want.len().min(at + 32)])
    );
    Err(msg.into())
}

/// `n` bytes of a pattern that repeats only every 251 bytes and holds every
/// byte value but the line ends appear often.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| ((i * 7 + usize::from(seed)) % 251) as u8)
        .collect()
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// Checks a daytime line (without its line end): `25 NOV 2026 16:27:47 UTC`
/// as xinetd and our server write it, within two minutes of now. With
/// `exact_shape`, the padding must be exactly that of the example.
pub fn check_daytime(line: &str, exact_shape: bool) -> Outcome {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    check_daytime_at(line, exact_shape, now)
}

/// [`check_daytime`] against the clock reading `now` (seconds since 1970).
pub fn check_daytime_at(line: &str, exact_shape: bool, now: i64) -> Outcome {
    let bad = |why: &str| -> Failed { format!("daytime line {line:?}: {why}").into() };
    if exact_shape {
        let template = b"99 AAA 9999 99:99:99 UTC";
        let fits = line.len() == template.len()
            && line.bytes().zip(template).all(|(c, t)| match t {
                b'9' => c.is_ascii_digit(),
                b'A' => c.is_ascii_uppercase(),
                t => c == *t,
            });
        if !fits {
            return Err(bad("not of the shape `DD MON YYYY HH:MM:SS UTC`"));
        }
    }
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [day, month, year, hms, zone] = parts[..] else {
        return Err(bad("not five words"));
    };
    let num = |s: &str, digits: std::ops::RangeInclusive<usize>| -> Result<i64, Failed> {
        if !digits.contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!("`{s}` is not a number of {digits:?} digits")));
        }
        Ok(s.parse().expect("digits"))
    };
    let day = num(day, 1..=2)?;
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month))
        .ok_or_else(|| bad("no month name"))? as i64
        + 1;
    let year = num(year, 4..=4)?;
    let hms: Vec<&str> = hms.split(':').collect();
    let [h, m, s] = hms[..] else {
        return Err(bad("no HH:MM:SS"));
    };
    let (h, m, s) = (num(h, 1..=2)?, num(m, 2..=2)?, num(s, 2..=2)?);
    ensure!(
        zone == "UTC" || zone == "GMT",
        "daytime line {line:?}: zone `{zone}` is not UTC"
    );
    ensure!(
        (1..=31).contains(&day) && h < 24 && m < 60 && s < 61,
        "daytime line {line:?}: a field is out of range"
    );
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    ensure!(
        (secs - now).abs() <= 120,
        "daytime line {line:?} is {} s away from this machine's clock",
        secs - now
    );
    Ok(())
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads one byte at a time until the peer closes; each read is bounded.
pub fn read_bytewise_to_close(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b)? {
            0 => return Ok(out),
            _ => out.push(b[0]),
        }
    }
}

/// Writes `bytes` one at a time, flushing after each, with `TCP_NODELAY`
/// so that each goes out in a segment of its own.
pub fn write_bytewise(s: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    s.set_nodelay(true)?;
    for b in bytes {
        s.write_all(std::slice::from_ref(b))?;
        s.flush()?;
        thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Half-closes our side.
pub fn half_close(s: &TcpStream) -> io::Result<()> {
    s.shutdown(Shutdown::Write)
}
