//! `conformance record`: a proxy that writes what it sees as a transcript.
//! Recordings between real clients and the reference servers replay green;
//! against a server that answers differently (built here) they fail;
//! volatile fields become patterns and captures; deviations are reported and
//! kept as raw bytes.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use conformance::recorder::{self, Notice, RecordConfig, RecordedCase};
use conformance::targets;
use conformance::transcript::{self, Action};
use proptest::prelude::*;
use protocol_runtime::layout::Role;
use protocol_runtime::transport::{Address, Listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// A recorder in this process, proxying one connection to `upstream`.
struct Recorder {
    address: String,
    notices: mpsc::UnboundedReceiver<Notice>,
    spec: Arc<protocol_runtime::spec::Protocol>,
    spec_name: &'static str,
    _stop: watch::Sender<bool>,
}

async fn recorder(spec_name: &'static str, upstream: &Address) -> Recorder {
    let compiled =
        protocol_dsl::compile_str(spec_name, transcript::bundled_spec(spec_name).expect("bundled"));
    let spec = Arc::new(compiled.protocol.expect("the bundled spec compiles"));
    let listener = Listener::bind(&"127.0.0.1:0".parse().expect("address"))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("local address").to_string();
    let (tx, notices) = mpsc::unbounded_channel();
    let (stop_tx, stop) = watch::channel(false);
    let config = RecordConfig {
        spec: Arc::clone(&spec),
        upstream: upstream.clone(),
        connect_timeout: std::time::Duration::from_secs(5),
        connections: Some(1),
    };
    tokio::spawn(recorder::record(listener, config, tx, stop));
    Recorder {
        address,
        notices,
        spec,
        spec_name,
        _stop: stop_tx,
    }
}

impl Recorder {
    /// Waits for the connection to end; returns the transcript and the
    /// deviations reported on the way.
    async fn transcript(mut self) -> (String, Vec<recorder::Deviation>) {
        let mut deviations = Vec::new();
        while let Some(n) = self.notices.recv().await {
            match n {
                Notice::Deviation { deviation, .. } => deviations.push(deviation),
                Notice::Ended { case, .. } => {
                    let text = recorder::write::transcript(
                        &self.spec,
                        self.spec_name,
                        "recorded in a test",
                        &[case],
                    );
                    return (text, deviations);
                }
                Notice::UpstreamFailed { error, .. } => panic!("{error}"),
                Notice::Opened { .. } => {}
            }
        }
        panic!("the recorder ended without a case")
    }
}

fn write_transcript(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("recorded.transcript");
    std::fs::write(&path, text).expect("write the transcript");
    path
}

/// `conformance run FILE --target ADDR` (off the runtime's threads, as the
/// target may be served by this process): exit code and stdout.
async fn replay(path: &Path, target: impl ToString) -> (i32, String) {
    let (path, target) = (path.display().to_string(), target.to_string());
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_conformance"))
            .args(["run", &path, "--target", &target])
            .output()
            .expect("run conformance");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .expect("replay")
}

/// A server that sends `first` on each connection, then, if `reply` is
/// given, reads once and sends it; then closes.
async fn fake_server(first: &'static [u8], reply: Option<&'static [u8]>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = s.write_all(first).await;
            if let Some(reply) = reply {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(reply).await;
            }
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_greeting_replays_green_and_fails_against_a_different_server() {
    let server = targets::start("greeting")
        .await
        .expect("start")
        .expect("built in");
    let rec = recorder("greeting", &server.address).await;
    let answer = servers::greeting::greet(&rec.address, "Ann")
        .await
        .expect("greet through the proxy");
    assert_eq!(answer, "Hello, Ann!");
    let (text, deviations) = rec.transcript().await;
    assert!(deviations.is_empty(), "{deviations:?}");
    assert!(text.contains("  server Prompt\n  client Name { name: \"Ann\" }\n  server Welcome { name: \"Ann\" }\n  server closes\n"), "{text}");

    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_transcript(dir.path(), &text);
    let (code, out) = replay(&path, &server.address).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");

    // Greets everyone as Bob: the recorded name is checked, not just the shape.
    let bob = fake_server(b"HELLO?", Some(b"Hello, Bob!\r\n")).await;
    let (code, out) = replay(&path, bob).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("expected \"Ann\", got \"Bob\""), "{out}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daytime_is_recorded_as_its_shape() {
    let server = targets::start("daytime").await.expect("start").expect("built in");
    let rec = recorder("daytime", &server.address).await;
    let mut client = TcpStream::connect(&rec.address).await.expect("connect");
    let mut time = String::new();
    client.read_to_string(&mut time).await.expect("read the time");
    drop(client);
    let (text, deviations) = rec.transcript().await;
    assert!(deviations.is_empty(), "{deviations:?}");
    let seen = time.trim_end();
    assert!(!text.contains(seen), "the time itself is not recorded: {text}");
    assert!(
        text.contains("server Time { time: /[0-9]+ +[A-Za-z]+ +[0-9]+ +[0-9]+:"),
        "{text}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_transcript(dir.path(), &text);
    let (code, out) = replay(&path, &server.address).await;
    assert_eq!(code, 0, "{out}");
    let hello = fake_server(b"hello\r\n", None).await;
    let (code, out) = replay(&path, hello).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"hello\" does not match"), "{out}");
    server.stop().await;
}

/// Sends `request` and reads until the reply ends with `end`.
async fn exchange(s: &mut TcpStream, request: &[u8], end: &[u8]) -> Vec<u8> {
    s.write_all(request).await.expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(end) {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cas_unique_is_captured_and_sent_back() {
    let server = targets::start("memcached")
        .await
        .expect("start")
        .expect("built in");
    let rec = recorder("memcached", &server.address).await;
    let mut c = TcpStream::connect(&rec.address).await.expect("connect");
    exchange(&mut c, b"set rec-cas 0 0 3\r\nabc\r\n", b"STORED\r\n").await;
    let value = exchange(&mut c, b"gets rec-cas\r\n", b"END\r\n").await;
    let line = String::from_utf8_lossy(&value);
    let unique = line
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(4))
        .expect("a cas unique");
    let cas = format!("cas rec-cas 0 0 3 {unique}\r\nxyz\r\n");
    exchange(&mut c, cas.as_bytes(), b"STORED\r\n").await;
    c.shutdown().await.expect("close");
    drop(c);
    let (text, deviations) = rec.transcript().await;
    assert!(deviations.is_empty(), "{deviations:?}");
    assert!(
        text.contains("server Value { key: \"rec-cas\", flags: 0, cas: $cas1, data: \"abc\" }"),
        "{text}"
    );
    assert!(text.contains("unique: $cas1"), "{text}");

    // The cas above changed the unique: only a captured unique can pass again.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_transcript(dir.path(), &text);
    let (code, out) = replay(&path, &server.address).await;
    assert_eq!(code, 0, "{out}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deviating_server_is_reported_and_its_bytes_kept() {
    let wrong = fake_server(b"HELLO?", Some(b"Go away\r\n")).await;
    let rec = recorder("greeting", &wrong.parse().expect("address")).await;
    let err = servers::greeting::greet(&rec.address, "Ann").await;
    assert!(err.is_err(), "the client sees the deviation too");
    let (text, deviations) = rec.transcript().await;
    assert_eq!(deviations.len(), 1, "{deviations:?}");
    assert_eq!(deviations[0].role, Role::Server);
    assert!(deviations[0].message.contains("Welcome"), "{:?}", deviations[0]);
    assert!(text.contains("# the server deviated from the spec"), "{text}");
    assert!(text.contains("raw server \"Go away\\r\\n\""), "{text}");
    // What was recorded is a valid transcript all the same.
    transcript::load_str(Path::new("recorded.transcript"), &text, Role::Client).expect("loads");
}

#[test]
fn the_cli_records_one_connection_and_says_where() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let server = rt
        .block_on(targets::start("greeting"))
        .expect("start")
        .expect("built in");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("greeting.transcript");
    let mut child = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args([
            "record",
            "greeting",
            "--listen",
            "127.0.0.1:0",
            "--once",
            "--upstream",
        ])
        .arg(server.address.to_string())
        .arg("--out")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start conformance record");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("announcement");
    let address = line
        .split("clients connect to ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("unexpected announcement: {line}"))
        .to_string();
    let mut c = std::net::TcpStream::connect(&address).expect("connect");
    let mut prompt = [0u8; 6];
    c.read_exact(&mut prompt).expect("prompt");
    c.write_all(b"Ann\r\n").expect("name");
    let mut welcome = String::new();
    c.read_to_string(&mut welcome).expect("welcome");
    assert_eq!(welcome, "Hello, Ann!\r\n");
    // The proxy passes the client's close on too; the case ends with both.
    drop(c);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("stderr");
    let status = child.wait().expect("record ends");
    assert_eq!(status.code(), Some(0), "{line}{rest}");
    assert!(rest.contains("recorded 1 connection(s)"), "{rest}");
    let text = std::fs::read_to_string(&out).expect("the transcript was written");
    assert!(
        text.starts_with("# Recorded with `conformance record greeting"),
        "{text}"
    );
    assert!(
        text.contains("spec greeting\n\ncase \"connection 1\"\n  server Prompt\n"),
        "{text}"
    );
    rt.block_on(server.stop());
}

#[test]
fn the_cli_reports_an_unreachable_upstream_with_exit_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A port that was just free: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut child = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args([
            "record",
            "greeting",
            "--listen",
            "127.0.0.1:0",
            "--once",
            "--upstream",
        ])
        .arg(free.to_string())
        .arg("--out")
        .arg(dir.path().join("x.transcript"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start conformance record");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("announcement");
    let address = line
        .split("clients connect to ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .expect("address");
    let mut c = std::net::TcpStream::connect(address).expect("connect");
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("stderr");
    assert_eq!(child.wait().expect("ends").code(), Some(3), "{rest}");
    assert!(rest.contains("cannot connect to"), "{rest}");
}

#[test]
fn a_spec_with_errors_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("bad.proto");
    std::fs::write(&spec, "protocol bad { state S { } ").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .args([
            "record",
            &spec.display().to_string(),
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
        ])
        .arg("--out")
        .arg(dir.path().join("x.transcript"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.proto:1:"), "{err}");
}

fn raw_client_bytes(expr: &str) -> Vec<u8> {
    let text = format!("spec echo\n\ncase \"bytes\"\n  raw client {expr}\n  raw server \"x\"\n");
    let suite = transcript::load_str(Path::new("t.transcript"), &text, Role::Client)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    match &suite.cases[0].steps[0].action {
        Action::RawSend(b) => b.clone(),
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever bytes a peer sent, the transcript reads them back exactly.
    #[test]
    fn recorded_bytes_read_back_exactly(b in proptest::collection::vec(any::<u8>(), 0..200),
                                         run in 0usize..40, byte in any::<u8>()) {
        let mut b = b;
        b.extend(std::iter::repeat_n(byte, run));
        let expr = recorder::write::bytes_expr(&b);
        prop_assert_eq!(raw_client_bytes(&expr), b);
    }

    /// A text's shape matches the text itself.
    #[test]
    fn a_shape_matches_its_text(s in "\\PC{0,40}") {
        let re = regex::Regex::new(&format!("^(?:{})$", recorder::write::shape(&s))).expect("valid pattern");
        prop_assert!(re.is_match(&s), "{} does not match {:?}", recorder::write::shape(&s), s);
    }
}

#[test]
fn recorded_case_text_writes_choices_lists_and_flags_as_literals() {
    let compiled = protocol_dsl::compile_str(
        "memcached",
        transcript::bundled_spec("memcached").expect("bundled"),
    );
    let spec = compiled.protocol.expect("compiles");
    let get = spec.messages.iter().position(|m| m.name == "Get").expect("Get");
    let delete = spec
        .messages
        .iter()
        .position(|m| m.name == "Delete")
        .expect("Delete");
    use protocol_runtime::Value;
    let case = RecordedCase {
        name: "literals".into(),
        steps: vec![
            recorder::Step::Message {
                role: Role::Client,
                message: get,
                fields: vec![
                    Value::Choice(1),
                    Value::List(vec![Value::Str("a".into()), Value::Str("b\"c".into())]),
                ],
            },
            recorder::Step::Message {
                role: Role::Client,
                message: delete,
                fields: vec![Value::Str("a".into()), Value::Bool(true)],
            },
        ],
    };
    let text = recorder::write::case_text(&spec, &case);
    assert_eq!(
        text,
        "case \"literals\"\n  client Get { cmd: \"gets\", keys: [\"a\", \"b\\\"c\"] }\n  client Delete { key: \"a\", noreply: true }\n"
    );
}

/// The two closes that end a greeting cross on the way: whichever reaches
/// the proxy first, the transcript says what the spec says, that the server
/// closes after its welcome (the client's close is its answer to that).
#[test]
fn after_a_closing_message_the_closer_is_recorded_whichever_close_arrives_first() {
    let compiled =
        protocol_dsl::compile_str("greeting", transcript::bundled_spec("greeting").expect("bundled"));
    let spec = Arc::new(compiled.protocol.expect("compiles"));
    let now = std::time::Instant::now();
    for client_first in [true, false] {
        let mut tap = recorder::Tap::new(Arc::clone(&spec), now);
        assert!(tap.server_bytes(b"HELLO?", now).is_none());
        assert!(tap.client_bytes(b"Ann\r\n", now).is_none());
        assert!(tap.server_bytes(b"Hello, Ann!\r\n", now).is_none());
        let order = if client_first {
            [Role::Client, Role::Server]
        } else {
            [Role::Server, Role::Client]
        };
        for role in order {
            assert!(tap.eof(role, now).is_none());
        }
        let (steps, deviations) = tap.finish();
        assert!(deviations.is_empty(), "{deviations:?}");
        let case = RecordedCase {
            name: "c".into(),
            steps,
        };
        let text = recorder::write::case_text(&spec, &case);
        assert!(
            text.ends_with("  server Welcome { name: \"Ann\" }\n  server closes\n"),
            "client first: {client_first}\n{text}"
        );
    }
}
