//! `conformance serve` plays the server of transcripts against live clients:
//! the generated greeting client passes, a client that drops the CRLF fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SUITE: &str = "conformance/suites/greeting/greeting.transcript";
const FIRST: &str = "the server prompts, greets by name and closes";

/// Starts `conformance serve` on a port the system picks; returns the child
/// and the address it announced.
fn serve(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .current_dir(crate::workspace_root())
        .args([
            "serve",
            SUITE,
            "--listen",
            "127.0.0.1:0",
            "--accept-timeout",
            "20s",
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start conformance serve");
    let mut line = String::new();
    BufReader::new(child.stderr.as_mut().expect("stderr"))
        .read_line(&mut line)
        .expect("announcement");
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split(':').take(2).collect::<Vec<_>>().join(":").into())
        .unwrap_or_else(|| panic!("unexpected announcement: {line}"));
    (child, addr)
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().expect("serve ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn the_generated_greeting_client_passes() {
    let (child, addr) = serve(&["--case", FIRST]);
    let answer = servers::greeting::greet(&addr, "Ann")
        .await
        .expect("the client talks to serve");
    assert_eq!(answer, "Hello, Ann!");
    let (code, out) = finish(child);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");
}

#[test]
fn a_client_that_drops_the_crlf_is_caught() {
    let (child, addr) = serve(&["--case", FIRST, "--step-timeout", "1s"]);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut prompt = [0u8; 6];
    s.read_exact(&mut prompt).unwrap();
    assert_eq!(&prompt, b"HELLO?");
    s.write_all(b"Ann").unwrap(); // no CRLF
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let (code, out) = finish(child);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    assert!(out.contains("expected Name"), "{out}");
}
