//! The `conformance` binary: exit codes, messages, reports.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

fn conformance() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_conformance"));
    c.current_dir(crate::workspace_root());
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let out = c.output().expect("run conformance");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_accepts_the_shipped_specs() {
    let specs: Vec<String> = ["daytime", "echo", "greeting", "memcached_get", "memcached"]
        .iter()
        .map(|s| format!("specs/{s}.proto"))
        .collect();
    let (code, _, err) = run(conformance().arg("check").args(&specs));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn check_reports_errors_with_their_place() {
    let (code, _, err) = run(conformance().args([
        "check",
        "--color",
        "never",
        "protocol-dsl/tests/fixtures/invalid/E0205-number-vs-not-found.proto",
    ]));
    assert_eq!(code, 1);
    assert!(err.contains("error[E0205]"), "{err}");
    assert!(
        err.contains("--> protocol-dsl/tests/fixtures/invalid/E0205-number-vs-not-found.proto:9:34"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(conformance().args(["check", "no/such/file.proto"])).0, 2);
    assert_eq!(run(conformance().args(["run", "--split", "sideways"])).0, 2);
    assert_eq!(run(conformance().args(["run", "no/such/suite"])).0, 2);
    assert_eq!(run(conformance().args(["frobnicate"])).0, 2);
}

#[test]
fn invalid_transcripts_exit_2_before_sending_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.transcript");
    std::fs::write(
        &path,
        "spec greeting\n\ncase \"bad\"\n  server Prompt\n  client Nmae { name: \"x\" }\n",
    )
    .unwrap();
    let (code, _, err) = run(conformance().args(["run", "--color", "never"]).arg(&path));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown message `Nmae`"), "{err}");
    assert!(err.contains(&format!("--> {}:5:10", path.display())), "{err}");
}

#[test]
fn unreachable_target_exits_3() {
    // A port nothing listens on: bind, note the port, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out, _) = run(conformance().args([
        "run",
        "conformance/suites/greeting",
        "--target",
        &format!("127.0.0.1:{port}"),
    ]));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("UNREACHABLE"), "{out}");
}

#[test]
fn the_greeting_suite_passes_against_the_built_in_server_with_reports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (junit, json) = (dir.path().join("r.xml"), dir.path().join("r.json"));
    let (code, out, err) = run(conformance()
        .args([
            "run",
            "conformance/suites/greeting",
            "--split",
            "bytes",
            "--junit",
        ])
        .arg(&junit)
        .arg("--json")
        .arg(&json));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("6 passed, 0 failed"), "{out}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(
            "<testsuite name=\"conformance/suites/greeting/greeting.transcript\" tests=\"6\" failures=\"0\""
        ),
        "{xml}"
    );
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(json["passed"], 6);
    let log = &json["cases"][0]["log"];
    assert_eq!(log[0]["direction"], "received");
    assert_eq!(log[0]["text"], "HELLO?");
}

/// A "daytime" server that answers `hello\r\n`: the suite's pattern rejects it.
#[test]
fn the_daytime_suite_rejects_a_reply_that_is_not_a_time() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_millis(50)))
                .unwrap();
            let mut sink = [0u8; 64];
            let _ = s.read(&mut sink);
            s.write_all(b"hello\r\n").unwrap();
        }
    });
    let (code, out, _) = run(conformance().args([
        "run",
        "conformance/suites/daytime",
        "--target",
        &format!("127.0.0.1:{port}"),
    ]));
    server.join().unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"hello\" does not match"), "{out}");
    assert!(out.contains("0 passed, 2 failed"), "{out}");
}

/// The summary and the JSON report say which states and transitions the run
/// exercised, and name the ones it never did.
#[test]
fn coverage_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("r.json");
    let (code, out, err) = run(conformance()
        .args(["run", "conformance/suites/greeting", "--json"])
        .arg(&json));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("coverage of greeting: 3/3 states, 4/4 transitions"),
        "{out}"
    );
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["coverage"][0]["transitions_total"], 4);
    assert_eq!(report["coverage"][0]["transitions_covered"], 4);

    // One case alone leaves transitions unexercised, and names them.
    let one = dir.path().join("one.transcript");
    std::fs::write(
        &one,
        "spec greeting\n\ncase \"prompt only\"\n  server Prompt\n  client closes\n",
    )
    .unwrap();
    let (code, out, _) = run(conformance().arg("run").arg(&one));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("coverage of greeting: 2/3 states, 2/4 transitions"),
        "{out}"
    );
    assert!(
        out.contains("never exercised: state `Asking`: `client sends Name -> Answer` (specs/greeting.proto:"),
        "{out}"
    );
}

/// An `otherwise` never taken is named at its own line, not at its state's.
#[test]
fn coverage_names_the_line_of_an_unexercised_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = dir.path().join("one.transcript");
    std::fs::write(
        &one,
        "spec memcached_get\n\ncase \"a miss\"\n  client Get { cmd: \"get\", keys: [\"{prefix}nope\"] }\n  server End\n",
    )
    .unwrap();
    let (code, out, _) = run(conformance().arg("run").arg(&one));
    assert_eq!(code, 0, "{out}");
    let spec = std::fs::read_to_string(crate::workspace_root().join("specs/memcached_get.proto")).unwrap();
    let line = 1 + spec
        .lines()
        .position(|l| l.trim_start().starts_with("otherwise"))
        .expect("memcached_get has an `otherwise`");
    assert!(
        out.contains(&format!(
            "never exercised: state `Ready`: `otherwise -> Error | ClientError | ServerError` (specs/memcached_get.proto:{line})"
        )),
        "{out}"
    );
}
