//! The suites' `peer` scripts keep their contract (docs/transcripts.md):
//! each refuses to start without `PORT`; the redis and modbus peers answer
//! their protocol with the bytes their suites are written from; a peer that
//! runs its server as a child stops it and removes its temporary files when
//! its process group is stopped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use libtest_mimic::Trial;

use crate::harness::{self, ensure, ensure_eq, Outcome, Peer, Program};

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial(
            "peer_scripts::every_peer_needs_a_port",
            &[],
            every_peer_needs_a_port,
        ),
        harness::trial(
            "peer_scripts::redis_answers_ping",
            &[Program::RedisServer],
            redis_answers_ping,
        ),
        harness::trial(
            "peer_scripts::modbus_reads_holding_registers_0_and_1",
            &[Program::Pymodbus],
            modbus_reads_holding_registers,
        ),
        harness::trial(
            "peer_scripts::a_stopped_xinetd_peer_leaves_nothing_behind",
            &[Program::Xinetd],
            || leaves_nothing_behind("daytime"),
        ),
        harness::trial(
            "peer_scripts::a_stopped_redis_peer_leaves_nothing_behind",
            &[Program::RedisServer],
            || leaves_nothing_behind("redis"),
        ),
    ]
}

fn every_peer_needs_a_port() -> Outcome {
    let mut seen = 0;
    for entry in std::fs::read_dir(harness::suites_dir())? {
        let script = entry?.path().join("peer");
        if !script.exists() {
            continue;
        }
        seen += 1;
        let mut cmd = Command::new(&script);
        cmd.env_remove("PORT");
        let ran = harness::run(cmd, Vec::new(), Duration::from_secs(10))?;
        ensure_eq!(
            ran.status.code(),
            Some(2),
            "{}: {}",
            script.display(),
            ran.describe()
        );
        let err = String::from_utf8_lossy(&ran.stderr);
        ensure!(
            err.contains("PORT is not set: run it as PORT=6400"),
            "{}: {}",
            script.display(),
            ran.describe()
        );
    }
    ensure!(
        seen >= 6,
        "only {seen} peer scripts in {}",
        harness::suites_dir().display()
    );
    Ok(())
}

fn redis_answers_ping() -> Outcome {
    let peer = Peer::start("redis")?;
    let mut s = TcpStream::connect(peer.addr())?;
    s.set_read_timeout(Some(harness::IO_TIMEOUT))?;
    s.write_all(b"PING\r\n")?;
    let reply = harness::read_until(&mut s, b"\r\n")?;
    harness::same_bytes("redis's answer to PING", &reply, b"+PONG\r\n")
}

/// Read Holding Registers (function 3) for 2 registers at address 0 of unit
/// 1: the seeded values are i * 10, so [0, 10].
fn modbus_reads_holding_registers() -> Outcome {
    let peer = Peer::start("modbus")?;
    let mut s = harness::connect(peer.port)?;
    // MBAP: transaction 1, protocol 0, length 6, unit 1; PDU: 03, address 0, count 2.
    s.write_all(&[0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2])?;
    let mut reply = [0u8; 13];
    s.read_exact(&mut reply)
        .map_err(|e| format!("reading the reply: {e}; the peer's log:\n{}", peer.log()))?;
    // Length 7, unit 1, function 3, 4 bytes: 0x0000, 0x000a.
    harness::same_bytes(
        "the modbus peer's reply",
        &reply,
        &[0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 0, 0, 10],
    )
}

/// The peer's temporary folder (under the `TMPDIR` it is given) exists
/// while it runs and is gone once it is dropped, and so is its server.
fn leaves_nothing_behind(suite: &str) -> Outcome {
    let tmp = tempfile::tempdir()?;
    let tmpdir = tmp
        .path()
        .to_str()
        .ok_or("a temporary folder that is not UTF-8")?;
    let peer = Peer::start_with(suite, &[("TMPDIR", tmpdir)], |port| {
        harness::connect(port).map(drop)
    })?;
    let port = peer.port;
    let inside = std::fs::read_dir(tmp.path())?.count();
    ensure_eq!(inside, 1, "folders the running peer made in TMPDIR");
    drop(peer);
    let left: Vec<_> = std::fs::read_dir(tmp.path())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    ensure!(left.is_empty(), "the stopped {suite} peer left {left:?}");
    ensure!(
        harness::connect(port).is_err(),
        "port {port} still accepts connections after the {suite} peer stopped"
    );
    Ok(())
}
