//! The reference servers (`servers::{daytime, echo, greeting, memcached}`), started in
//! this process, answering real clients: `nc`, a plain blocking socket that
//! writes one byte at a time, and the example client binaries.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use libtest_mimic::Trial;

use crate::harness::{self, ensure, InProcess, Outcome, Program, ShutdownSignal};
use protocol_runtime::server::{ServerConfig, ServerStats};
use protocol_runtime::transport::Listener;

const ANY: &[Program] = &[];
const NC: &[Program] = &[Program::Nc];
const LIMIT: Duration = Duration::from_secs(30);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial("servers::daytime_bytewise_client", ANY, daytime_bytewise),
        harness::trial(
            "servers::daytime_ignores_what_the_client_sends",
            ANY,
            daytime_ignores_input,
        ),
        harness::trial("servers::daytime_nc", NC, daytime_nc),
        harness::trial("servers::echo_bytewise_client", ANY, echo_bytewise),
        harness::trial("servers::echo_nc_1_mib", NC, echo_nc),
        harness::trial("servers::greeting_bytewise_client", ANY, greeting_bytewise),
        harness::trial("servers::greeting_nc", NC, greeting_nc),
        harness::trial("servers::greeting_longest_name", ANY, greeting_longest_name),
        harness::trial("servers::example_greeting_client", ANY, example_greeting_client),
        harness::trial("servers::example_daytime_client", ANY, example_daytime_client),
        harness::trial("servers::memcached_bytewise_client", ANY, memcached_bytewise),
        harness::trial("servers::memcached_nc", NC, memcached_nc),
    ]
}

/// A daytime reply: one line of the time, CRLF, nothing else.
fn check_daytime_reply(got: &[u8]) -> Outcome {
    let text = std::str::from_utf8(got).map_err(|_| format!("not text: {}", harness::abbreviate(got)))?;
    let line = text
        .strip_suffix("\r\n")
        .ok_or_else(|| format!("{text:?} does not end in CRLF"))?;
    ensure!(!line.contains(['\r', '\n']), "more than one line: {text:?}");
    harness::check_daytime(line, true)
}

fn daytime_bytewise() -> Outcome {
    let server = InProcess::start(servers::daytime::serve)?;
    for _ in 0..2 {
        let mut s = harness::connect(server.port)?;
        let got = harness::read_bytewise_to_close(&mut s)?;
        check_daytime_reply(&got)?;
    }
    server.stop_expecting(2)
}

/// RFC 867: the server ignores what the client sends. The client writes a
/// line one byte at a time and still gets the time. (The server may close
/// before it has read those bytes, so the end can be a reset rather than a
/// clean close; the line must arrive whole either way.)
fn daytime_ignores_input() -> Outcome {
    let server = InProcess::start(servers::daytime::serve)?;
    let mut s = harness::connect(server.port)?;
    s.set_nodelay(true)?;
    let _ = harness::write_bytewise(&mut s, b"what time is it?\r\n");
    let mut got = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(_) => got.push(b[0]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset && got.ends_with(b"\r\n") => break,
            Err(e) => return Err(format!("after {:?}: {e}", harness::abbreviate(&got)).into()),
        }
    }
    check_daytime_reply(&got)?;
    server.stop_expecting(1)
}

fn daytime_nc() -> Outcome {
    let server = InProcess::start(servers::daytime::serve)?;
    let ran = harness::nc(server.port, b"")?;
    ensure!(ran.status.success(), "nc: {}", ran.describe());
    check_daytime_reply(&ran.stdout)?;
    server.stop_expecting(1)
}

fn echo_bytewise() -> Outcome {
    let server = InProcess::start(servers::echo::serve)?;
    let mut message = b"hello\r\n".to_vec();
    message.extend(0..=255u8);
    message.extend_from_slice(b"\r\nno line end");

    // Each byte comes back before the next is sent.
    let mut s = harness::connect(server.port)?;
    s.set_nodelay(true)?;
    for (i, b) in message.iter().enumerate() {
        harness::write_bytewise(&mut s, std::slice::from_ref(b))?;
        let mut back = [0u8; 1];
        s.read_exact(&mut back)
            .map_err(|e| format!("reading the echo of byte #{i} ({b:#04x}): {e}"))?;
        ensure!(
            back[0] == *b,
            "byte #{i}: sent {b:#04x}, got {:#04x} back",
            back[0]
        );
    }
    harness::half_close(&s)?;
    let rest = harness::read_to_close(&mut s)?;
    harness::same_bytes("bytes after the half-close", &rest, b"")?;

    // All bytes sent one at a time before reading anything.
    let mut s = harness::connect(server.port)?;
    harness::write_bytewise(&mut s, &message)?;
    harness::half_close(&s)?;
    let got = harness::read_to_close(&mut s)?;
    harness::same_bytes("the echo", &got, &message)?;

    server.stop_expecting(2)
}

fn echo_nc() -> Outcome {
    let server = InProcess::start(servers::echo::serve)?;
    let mut input: Vec<u8> = (0..=255u8).collect();
    input.extend(harness::pattern(1 << 20, 9));
    input.extend_from_slice(b"\r\nthe end");
    let ran = harness::nc(server.port, &input)?;
    ensure!(ran.status.success(), "nc: {}", ran.describe());
    harness::same_bytes("nc's output", &ran.stdout, &input)?;
    server.stop_expecting(1)
}

fn greeting_bytewise() -> Outcome {
    let server = InProcess::start(servers::greeting::serve)?;

    // Prompt first, then the name one byte at a time.
    let mut s = harness::connect(server.port)?;
    let mut prompt = [0u8; 6];
    for i in 0..prompt.len() {
        s.read_exact(&mut prompt[i..=i])?;
    }
    harness::same_bytes("the prompt", &prompt, b"HELLO?")?;
    harness::write_bytewise(&mut s, b"Bob\r\n")?;
    let got = harness::read_bytewise_to_close(&mut s)?;
    harness::same_bytes("the greeting", &got, b"Hello, Bob!\r\n")?;

    // The name sent before the prompt is read.
    let mut s = harness::connect(server.port)?;
    harness::write_bytewise(&mut s, b"Ada Lovelace\r\n")?;
    let got = harness::read_bytewise_to_close(&mut s)?;
    harness::same_bytes("prompt and greeting", &got, b"HELLO?Hello, Ada Lovelace!\r\n")?;

    server.stop_expecting(2)
}

/// The longest name whose greeting fits the spec's 256-byte line.
fn greeting_longest_name() -> Outcome {
    let server = InProcess::start(servers::greeting::serve)?;
    let name = "n".repeat(248);
    let mut s = harness::connect(server.port)?;
    s.write_all(format!("{name}\r\n").as_bytes())?;
    let got = harness::read_to_close(&mut s)?;
    harness::same_bytes(
        "prompt and greeting",
        &got,
        format!("HELLO?Hello, {name}!\r\n").as_bytes(),
    )?;
    server.stop_expecting(1)
}

fn greeting_nc() -> Outcome {
    let server = InProcess::start(servers::greeting::serve)?;
    let ran = harness::nc(server.port, b"Bob\r\n")?;
    ensure!(ran.status.success(), "nc: {}", ran.describe());
    harness::same_bytes("nc's output", &ran.stdout, b"HELLO?Hello, Bob!\r\n")?;
    server.stop_expecting(1)
}

fn example_greeting_client() -> Outcome {
    let server = InProcess::start(servers::greeting::serve)?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greeting-client"));
    cmd.arg("--target").arg(server.addr()).args(["--name", "Bob"]);
    let ran = harness::run(cmd, Vec::new(), LIMIT)?;
    ensure!(ran.status.success(), "greeting-client: {}", ran.describe());
    harness::same_bytes("greeting-client's output", &ran.stdout, b"Hello, Bob!\n")?;
    server.stop_expecting(1)
}

fn example_daytime_client() -> Outcome {
    let server = InProcess::start(servers::daytime::serve)?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_daytime-client"));
    cmd.arg("--target").arg(server.addr());
    let ran = harness::run(cmd, Vec::new(), LIMIT)?;
    ensure!(ran.status.success(), "daytime-client: {}", ran.describe());
    let out = String::from_utf8(ran.stdout)?;
    let line = out
        .strip_suffix('\n')
        .ok_or("daytime-client's output does not end in a newline")?;
    harness::check_daytime(line, true)?;
    server.stop_expecting(1)
}

/// The memcached reference server with its default limits.
pub fn start_memcached() -> Result<InProcess, libtest_mimic::Failed> {
    InProcess::start(
        |listener: Listener, server: ServerConfig, stats: Arc<ServerStats>, shutdown: ShutdownSignal| {
            let config = servers::memcached::MemcachedConfig {
                server,
                ..Default::default()
            };
            servers::memcached::serve(listener, config, stats, shutdown)
        },
    )
}

/// Writes `request` one byte at a time, then reads as many bytes as `want`
/// holds (or until the server closes); they must be exactly `want`. Extra
/// bytes would show up in the next exchange.
fn bytewise_exchange(s: &mut TcpStream, request: &[u8], want: &[u8]) -> Outcome {
    harness::write_bytewise(s, request)?;
    let mut got = vec![0u8; want.len()];
    let mut n = 0;
    while n < want.len() {
        match s.read(&mut got[n..])? {
            0 => break,
            k => n += k,
        }
    }
    got.truncate(n);
    harness::same_bytes(
        &format!("the reply to {:?}", harness::abbreviate(request)),
        &got,
        want,
    )
}

fn memcached_bytewise() -> Outcome {
    let server = start_memcached()?;
    let mut s = harness::connect(server.port)?;
    bytewise_exchange(&mut s, b"set k 5 0 5\r\nhello\r\n", b"STORED\r\n")?;
    bytewise_exchange(&mut s, b"get k\r\n", b"VALUE k 5 5\r\nhello\r\nEND\r\n")?;
    bytewise_exchange(&mut s, b"get missing\r\n", b"END\r\n")?;
    bytewise_exchange(&mut s, b"set tricky 0 0 7\r\n\r\nEND\r\n\r\n", b"STORED\r\n")?;
    bytewise_exchange(
        &mut s,
        b"get tricky k\r\n",
        b"VALUE tricky 0 7\r\n\r\nEND\r\n\r\nVALUE k 5 5\r\nhello\r\nEND\r\n",
    )?;
    // `quit`: no reply, the server closes.
    harness::write_bytewise(&mut s, b"quit\r\n")?;
    let rest = harness::read_to_close(&mut s)?;
    harness::same_bytes("bytes after quit", &rest, b"")?;
    server.stop_expecting(1)
}

fn memcached_nc() -> Outcome {
    let server = start_memcached()?;
    let input = b"set k 0 0 5\r\nhello\r\nget k\r\nget missing k\r\ndelete k\r\nget k\r\n";
    let ran = harness::nc(server.port, input)?;
    ensure!(ran.status.success(), "nc: {}", ran.describe());
    harness::same_bytes(
        "nc's output",
        &ran.stdout,
        b"STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\nVALUE k 0 5\r\nhello\r\nEND\r\nDELETED\r\nEND\r\n",
    )?;
    server.stop_expecting(1)
}
