//! Real servers started through the bundled suites' `peer` scripts
//! (`conformance/suites/<suite>/peer`, whose contract is in
//! docs/transcripts.md): the generic [`Peer`], and memcached and xinetd's
//! daytime and echo on top of it, checked with their own protocols.

use super::*;

/// How long a peer script may take to listen: the modbus one starts a
/// Python interpreter, and the machine may be busy with a build.
const PEER_STARTUP: Duration = Duration::from_secs(30);

/// `conformance/suites`, where the `peer` scripts are.
pub fn suites_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/suites")
}

/// A suite's `peer` script serving on 127.0.0.1:`port`, in a process group
/// of its own: dropping it stops the script and its server together.
pub struct Peer {
    pub port: u16,
    process: Process,
    _dir: tempfile::TempDir,
}

impl Peer {
    /// Starts `conformance/suites/<suite>/peer` on a free port and waits
    /// until the port accepts a connection.
    pub fn start(suite: &str) -> Result<Peer, Failed> {
        Peer::start_with(suite, &[], |port| connect(port).map(drop))
    }

    /// Starts the suite's `peer` with `env` added to its environment, and
    /// waits (at most [`PEER_STARTUP`]) until `probe` succeeds on its port.
    /// A failure carries the end of the script's output.
    pub fn start_with(
        suite: &str,
        env: &[(&str, &str)],
        mut probe: impl FnMut(u16) -> io::Result<()>,
    ) -> Result<Peer, Failed> {
        let script = suites_dir().join(suite).join("peer");
        ensure!(
            is_executable(&script),
            "{} is not an executable file",
            script.display()
        );
        let mut last = String::new();
        // Another process may take the free port before the peer binds it.
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let dir = tempfile::tempdir()?;
            let mut cmd = Command::new(&script);
            cmd.env("PORT", port.to_string()).envs(env.iter().copied());
            let mut process = Process::spawn_group(
                format!("the {suite} peer on port {port} ({})", script.display()),
                cmd,
                dir.path().join("log"),
            )?;
            match process.wait_ready_within(PEER_STARTUP, || probe(port)) {
                Ok(()) => {
                    return Ok(Peer {
                        port,
                        process,
                        _dir: dir,
                    })
                }
                Err(e) => last = e,
            }
        }
        Err(format!("the {suite} peer did not start: {last}").into())
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The last lines the script and its server printed.
    pub fn log(&self) -> String {
        self.process.log()
    }
}

// ---------------------------------------------------------------------------
// memcached

/// A memcached on 127.0.0.1, from the memcached suite's `peer` script
/// (`-U 0 -t 2 -m 64 -u nobody`), stopped when dropped.
pub struct Memcached {
    pub port: u16,
    _peer: Peer,
}

impl Memcached {
    pub fn start() -> Result<Memcached, Failed> {
        Memcached::start_with(&[])
    }

    /// Starts memcached with `extra` options (e.g. `-I 2m`, or `-l [::1]`
    /// to listen there too), passed as the script's `EXTRA_ARGS`: split on
    /// spaces, so no option may hold one.
    pub fn start_with(extra: &[&str]) -> Result<Memcached, Failed> {
        Program::Memcached.path()?;
        ensure!(
            extra.iter().all(|a| !a.contains(char::is_whitespace)),
            "memcached options cannot hold spaces: {extra:?}"
        );
        let peer = Peer::start_with(
            "memcached",
            &[("EXTRA_ARGS", &extra.join(" "))],
            memcached_answers,
        )?;
        Ok(Memcached {
            port: peer.port,
            _peer: peer,
        })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A raw connection for setting things up.
    pub fn raw(&self) -> Result<RawMemcached, Failed> {
        Ok(RawMemcached {
            s: connect(self.port)?,
        })
    }
}

fn memcached_answers(port: u16) -> io::Result<()> {
    let mut s = connect(port)?;
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    s.write_all(b"version\r\n")?;
    let line = read_until(&mut s, b"\r\n")?;
    if line.starts_with(b"VERSION ") {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "`version` answered {:?}",
            line.escape_ascii().to_string()
        )))
    }
}

/// memcached's text protocol spoken by hand over a plain socket, to set
/// values up (and to read what memcached says, for comparison).
pub struct RawMemcached {
    s: TcpStream,
}

impl RawMemcached {
    /// A connection to a memcached (or a server speaking its protocol) on
    /// 127.0.0.1:`port`.
    pub fn connect(port: u16) -> Result<RawMemcached, Failed> {
        Ok(RawMemcached { s: connect(port)? })
    }

    /// Sends `request` and reads until the reply ends with `end`.
    pub fn exchange(&mut self, request: &[u8], end: &[u8]) -> Result<Vec<u8>, Failed> {
        self.s.write_all(request)?;
        Ok(read_until(&mut self.s, end)?)
    }

    /// `set KEY FLAGS 0 LEN` with `data`; fails unless memcached says `STORED`.
    pub fn set(&mut self, key: &str, flags: u32, data: &[u8]) -> Outcome {
        let mut req = format!("set {key} {flags} 0 {}\r\n", data.len()).into_bytes();
        req.extend_from_slice(data);
        req.extend_from_slice(b"\r\n");
        let reply = self.exchange(&req, b"\r\n")?;
        ensure!(
            reply == b"STORED\r\n",
            "setting `{}` ({} bytes): memcached answered {:?}",
            abbreviate(key.as_bytes()),
            data.len(),
            reply.escape_ascii().to_string()
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// xinetd

/// xinetd's internal daytime and echo on 127.0.0.1: the daytime and echo
/// suites' `peer` scripts, one xinetd each.
pub struct Xinetd {
    pub daytime_port: u16,
    pub echo_port: u16,
    _daytime: Peer,
    _echo: Peer,
}

impl Xinetd {
    pub fn start() -> Result<Xinetd, Failed> {
        Program::Xinetd.path()?;
        let daytime = Peer::start_with("daytime", &[], |port| {
            let mut s = connect(port)?;
            let line = read_to_close(&mut s)?;
            if !line.ends_with(b"\r\n") {
                return Err(io::Error::other(format!(
                    "daytime sent {:?}",
                    line.escape_ascii().to_string()
                )));
            }
            Ok(())
        })?;
        let echo = Peer::start_with("echo", &[], |port| {
            let mut s = connect(port)?;
            s.write_all(b"probe\r\n")?;
            let mut back = [0u8; 7];
            s.read_exact(&mut back)?;
            if &back != b"probe\r\n" {
                return Err(io::Error::other("echo sent back other bytes"));
            }
            Ok(())
        })?;
        Ok(Xinetd {
            daytime_port: daytime.port,
            echo_port: echo.port,
            _daytime: daytime,
            _echo: echo,
        })
    }

    pub fn daytime_addr(&self) -> String {
        format!("127.0.0.1:{}", self.daytime_port)
    }

    pub fn echo_addr(&self) -> String {
        format!("127.0.0.1:{}", self.echo_port)
    }
}
