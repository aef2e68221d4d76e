//! A memcached of its own on a free loopback port, stopped on drop.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub struct Memcached {
    child: Child,
    port: u16,
}

impl Memcached {
    /// `memcached -t 1`: one worker thread, as the clients each run on one.
    pub fn start() -> anyhow::Result<Memcached> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut cmd = Command::new("memcached");
        cmd.args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-t",
            "1",
            "-m",
            "64",
        ]);
        if is_root() {
            // memcached refuses to run as root without a user to switch to.
            cmd.args(["-u", "nobody"]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start memcached (Debian: apt-get install memcached)")?;
        let mut m = Memcached { child, port };
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = m.child.try_wait()? {
                bail!("memcached exited: {status}");
            }
            if Instant::now() > deadline {
                bail!("memcached did not listen on port {port} within 5 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(m)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
