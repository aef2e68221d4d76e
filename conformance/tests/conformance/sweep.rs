//! `--split sweep` and shrinking: a greeting server that handles a name only
//! when it arrives in one read passes whole writes, and a sweep or a random
//! split catches it with a command that replays the failure.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SUITE: &str = "conformance/suites/greeting";
const ANN: &str = "the server prompts, greets by name and closes";

fn conformance() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_conformance"));
    c.current_dir(crate::workspace_root());
    c
}

fn run(c: &mut Command) -> (i32, String) {
    let out = c.output().expect("run conformance");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A greeting server on a port of its own; returns its address and a count
/// of the connections it accepted. With `one_read`, it parses the first read
/// as the whole name line and answers garbage when it is not one.
fn greeting_server(one_read: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(s) = stream else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || serve(s, one_read));
        }
    });
    (addr, accepted)
}

fn serve(mut s: TcpStream, one_read: bool) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"HELLO?").is_err() {
        return;
    }
    let mut line = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        line.extend_from_slice(&buf[..n]);
        if one_read || line.ends_with(b"\r\n") {
            break;
        }
    }
    let reply = match line.strip_suffix(b"\r\n") {
        Some(name) if !name.contains(&b'\n') => [b"Hello, ", name, b"!\r\n"].concat(),
        _ => b"?? garbage".to_vec(),
    };
    let _ = s.write_all(&reply);
}

/// The `conformance run ...` line of each reproduction in a report.
fn reproductions(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("reproduce "))
        .map(str::to_string)
        .collect()
}

/// The `--split` value of a command.
fn split_of(cmd: &str) -> String {
    let w = words(cmd);
    let at = w.iter().position(|a| a == "--split").expect("--split");
    w[at + 1].clone()
}

/// Splits a command line as a shell would (plain words and double quotes).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut any) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

#[test]
fn a_one_read_server_passes_whole_writes_and_fails_byte_splits() {
    let (addr, _) = greeting_server(true);
    let (code, out) = run(conformance().args(["run", SUITE, "--target", &addr]));
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(conformance().args(["run", SUITE, "--split", "bytes", "--target", &addr]));
    assert_eq!(code, 1, "{out}");
}

#[test]
fn a_sweep_catches_a_one_read_server_and_its_command_replays_the_failure() {
    let (addr, _) = greeting_server(true);
    let (code, out) = run(conformance().args(["run", SUITE, "--split", "sweep", "--target", &addr]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    // The failure points at the step whose answer went wrong.
    assert!(out.contains("expected Welcome"), "{out}");
    let commands = reproductions(&out);
    assert!(!commands.is_empty(), "{out}");
    for cmd in &commands {
        let split = split_of(cmd);
        assert!(
            split.starts_with("at:") && !split.contains(','),
            "a sweep cuts once: {cmd}"
        );
        assert!(cmd.contains(&format!("--target {addr}")), "{cmd}");
        let args = words(cmd);
        assert_eq!(&args[..2], ["conformance", "run"]);
        let (again, out) = run(conformance().args(&args[1..]));
        assert_eq!(again, 1, "{cmd}\n{out}");
        assert!(out.contains("0 passed, 1 failed"), "{cmd}\n{out}");
    }
}

#[test]
fn a_random_failure_shrinks_to_one_cut() {
    let (addr, _) = greeting_server(true);
    let (code, out) = run(conformance().args([
        "run", SUITE, "--case", ANN, "--split", "random:7", "--target", &addr,
    ]));
    assert_eq!(code, 1, "{out}");
    let commands = reproductions(&out);
    assert_eq!(commands.len(), 1, "{out}");
    let cmd = &commands[0];
    let split = split_of(cmd);
    assert!(split.starts_with("at:0:") && !split.contains(','), "{cmd}");
    let (again, out) = run(conformance().args(&words(cmd)[1..]));
    assert_eq!(again, 1, "{cmd}\n{out}");
}

#[test]
fn max_splits_bounds_the_replays() {
    // A correct server: every replay passes, so a sweep makes them all.
    // "Ann\r\n" has four cut points; the whole run comes first.
    let (addr, accepted) = greeting_server(false);
    let sweep = |max: &str| {
        let before = accepted.load(Ordering::SeqCst);
        let (code, out) = run(conformance().args([
            "run",
            SUITE,
            "--case",
            ANN,
            "--split",
            "sweep",
            "--max-splits",
            max,
            "--target",
            &addr,
        ]));
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("1 passed, 0 failed"), "{out}");
        accepted.load(Ordering::SeqCst) - before
    };
    assert_eq!(sweep("2"), 3);
    assert_eq!(sweep("0"), 1);
    assert_eq!(sweep("32"), 5);
}

#[test]
fn a_sweep_passes_against_the_reference_greeting_server() {
    let (code, out) = run(conformance().args(["run", SUITE, "--split", "sweep"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 failed (split sweep"), "{out}");
    assert!(reproductions(&out).is_empty(), "{out}");
}

#[test]
fn case_and_at_are_checked() {
    let (code, out) = run(conformance().args(["run", SUITE, "--case", "no such case"]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no case named"), "{out}");
    assert_eq!(run(conformance().args(["run", SUITE, "--split", "at:0:0"])).0, 2);
    assert_eq!(run(conformance().args(["run", SUITE, "--split", "at:zero"])).0, 2);
    let (code, out) = run(conformance().args(["run", SUITE, "--case", ANN, "--split", "at:0:2"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 passed, 0 failed (split at:0:2"), "{out}");
}
