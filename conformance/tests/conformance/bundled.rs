//! `conformance run` with no paths runs the bundled suites whose spec has a
//! built-in server and says how to run the others; naming such a suite
//! without `--target` is an error that says the same. The bundled folder is
//! a made-up one here (`--bundled-suites`, a hidden option for this), with
//! a suite whose spec has a server (greeting) and two whose spec has none.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
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

/// `root/greeting` (the bundled suite), `root/hello` (greeting's spec under
/// another name, so no built-in server, with a `peer` script), `root/plain`
/// (the same without a script) and `root/notes` (no transcripts).
fn suites(root: &Path) {
    let ws = crate::workspace_root();
    let spec = std::fs::read_to_string(ws.join("specs/greeting.proto")).unwrap();
    let transcript =
        std::fs::read_to_string(ws.join("conformance/suites/greeting/greeting.transcript")).unwrap();
    assert!(transcript.contains("spec greeting\n"));
    for dir in ["greeting", "hello", "plain", "notes"] {
        std::fs::create_dir(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("greeting/greeting.transcript"), &transcript).unwrap();
    for (dir, name) in [("hello", "hello"), ("plain", "plain")] {
        std::fs::write(
            root.join(dir).join(format!("{name}.proto")),
            spec.replace("protocol greeting", &format!("protocol {name}")),
        )
        .unwrap();
        std::fs::write(
            root.join(dir).join(format!("{name}.transcript")),
            transcript.replace("spec greeting\n", &format!("spec {name}.proto\n")),
        )
        .unwrap();
    }
    let peer = root.join("hello/peer");
    std::fs::write(&peer, "#!/usr/bin/env bash\nexit 1\n").unwrap();
    std::fs::set_permissions(&peer, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(root.join("notes/README.md"), "not a suite\n").unwrap();
}

#[test]
fn suites_without_a_built_in_server_are_skipped_with_how_to_run_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    suites(root);
    let (code, out, err) = run(conformance().args(["run", "--bundled-suites"]).arg(root));
    assert_eq!(code, 0, "{out}{err}");
    let r = root.display();
    assert!(
        out.contains(&format!("{r}/greeting/greeting.transcript")),
        "{out}"
    );
    assert!(out.contains("6 passed, 0 failed"), "{out}");
    let hello = format!(
        "skipped {r}/hello: spec `{r}/hello/hello.proto` has no built-in server; run it against a server:\n  \
         conformance run {r}/hello --target HOST:PORT\n\
         or against the real one, started by the suite's peer script:\n  \
         PORT=6400 {r}/hello/peer & conformance run {r}/hello --target 127.0.0.1:6400 --wait 30\n"
    );
    assert!(out.contains(&hello), "{out}");
    let plain = format!(
        "skipped {r}/plain: spec `{r}/plain/plain.proto` has no built-in server; run it against a server:\n  \
         conformance run {r}/plain --target HOST:PORT\n"
    );
    assert!(out.contains(&plain), "{out}");
    assert!(!out.contains(&format!("{r}/plain/peer")), "{out}");
    assert!(!out.contains("notes"), "{out}");
    // Skipped suites are not in the coverage either.
    assert!(!out.contains("coverage of hello"), "{out}");
}

#[test]
fn a_named_suite_without_a_built_in_server_names_its_peer_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    suites(root);
    let r = root.display();
    let (code, out, err) = run(conformance().arg("run").arg(root.join("hello")));
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(out, "", "nothing runs");
    assert_eq!(
        err,
        format!(
            "error: no built-in server for spec `{r}/hello/hello.proto`: give --target HOST:PORT, or start \
             the real server with the suite's peer script:\n  \
             PORT=6400 {r}/hello/peer & conformance run {r}/hello --target 127.0.0.1:6400 --wait 30\n"
        )
    );
    // A transcript file named alone finds the script beside it.
    let file = root.join("hello/hello.transcript");
    let (code, _, err) = run(conformance().arg("run").arg(&file));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "PORT=6400 {r}/hello/peer & conformance run {} --target 127.0.0.1:6400 --wait 30",
            file.display()
        )),
        "{err}"
    );
    // Without a script, only --target is offered; with a runnable suite
    // beside it, nothing runs either.
    let (code, out, err) = run(conformance()
        .arg("run")
        .arg(root.join("greeting"))
        .arg(root.join("plain")));
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "error: no built-in server for spec `{r}/plain/plain.proto`: give --target HOST:PORT \
             (the address of a server that speaks it)\n"
        )
    );
}

/// With --target, no suite is skipped: every bundled suite runs against it.
#[test]
fn with_a_target_every_bundled_suite_runs_against_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    suites(root);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out, err) = run(conformance()
        .args(["run", "--bundled-suites"])
        .arg(root)
        .args(["--target", &format!("127.0.0.1:{port}")]));
    assert_eq!(code, 3, "{out}{err}");
    assert!(!out.contains("skipped"), "{out}");
    assert!(
        out.contains(&format!("{}/hello/hello.transcript", root.display())),
        "{out}"
    );
}
