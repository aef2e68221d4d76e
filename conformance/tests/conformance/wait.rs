//! `conformance run --wait`: a server that starts after the run does is
//! waited for; one that never starts is reported, exit 3, with the wait.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::unix::net::UnixListener;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn conformance() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_conformance"));
    c.current_dir(crate::workspace_root());
    c
}

fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().expect("wait for conformance");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// RFC 862 on one connection: everything back, then close after the
/// client's half-close.
fn echo<S: Read + Write>(mut s: S, shutdown: impl FnOnce(&S)) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
    shutdown(&s);
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_run(target: &str, wait: &str) -> Child {
    conformance()
        .args([
            "run",
            "conformance/suites/echo",
            "--target",
            target,
            "--wait",
            wait,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start conformance")
}

/// Waits `delay`, checking that the run is still waiting, not finished.
fn still_waiting_after(child: &mut Child, delay: Duration) {
    thread::sleep(delay);
    assert!(
        child.try_wait().expect("poll conformance").is_none(),
        "the run ended before the server started instead of waiting"
    );
}

#[test]
fn a_server_started_late_is_waited_for() {
    let port = free_port();
    let started = Instant::now();
    let mut child = spawn_run(&format!("127.0.0.1:{port}"), "30");
    still_waiting_after(&mut child, Duration::from_secs(2));
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the late server");
    thread::spawn(move || {
        for s in listener.incoming().flatten() {
            thread::spawn(move || echo(s, |s| drop(s.shutdown(Shutdown::Write))));
        }
    });
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" 0 failed"), "{out}");
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn a_unix_socket_started_late_is_waited_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("echo.sock");
    let mut child = spawn_run(&format!("unix:{}", path.display()), "30s");
    still_waiting_after(&mut child, Duration::from_secs(1));
    let listener = UnixListener::bind(&path).expect("bind the late socket");
    thread::spawn(move || {
        for s in listener.incoming().flatten() {
            thread::spawn(move || echo(s, |s| drop(s.shutdown(Shutdown::Write))));
        }
    });
    let (code, out, err) = finish(child);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" 0 failed"), "{out}");
}

#[test]
fn a_server_that_never_starts_exits_3_saying_how_long_it_waited() {
    let port = free_port();
    let started = Instant::now();
    let (code, out, err) = finish(spawn_run(&format!("127.0.0.1:{port}"), "1s"));
    assert_eq!(code, 3, "{out}{err}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(
        err.contains(&format!(
            "error: cannot reach the target 127.0.0.1:{port}: nothing accepted a connection in 1s of trying"
        )),
        "{err}"
    );
    assert!(err.contains("give --wait more time"), "{err}");
    assert_eq!(out, "", "nothing runs when the target never answers");
}

#[test]
fn wait_needs_a_target() {
    let out = conformance()
        .args(["run", "conformance/suites/echo", "--wait", "5"])
        .output()
        .expect("run conformance");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--target"), "{err}");
}
