//! The clients generated from `specs/daytime.proto` and `specs/echo.proto`
//! against xinetd's internal daytime and echo services, and the
//! `daytime-client` example.

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use libtest_mimic::{Failed, Trial};
use servers::specs::{daytime, echo};

use crate::harness::{self, ensure, ensure_eq, Outcome, Program, Xinetd};

const NEEDS: &[Program] = &[Program::Xinetd];
const LIMIT: Duration = Duration::from_secs(30);

pub fn trials() -> Vec<Trial> {
    vec![
        harness::trial("inetd::daytime_client_reads_the_time", NEEDS, daytime_client),
        harness::trial("inetd::echo_client_round_trips_chunks", NEEDS, echo_round_trips),
        harness::trial(
            "inetd::echo_client_half_close_drains_everything",
            NEEDS,
            echo_half_close,
        ),
        harness::trial(
            "inetd::example_daytime_client_prints_the_time",
            NEEDS,
            example_daytime_client,
        ),
    ]
}

fn daytime_client() -> Outcome {
    let x = Xinetd::start()?;
    harness::block_on(LIMIT, async {
        // Several connections in a row: each gets the time, then the close.
        for _ in 0..3 {
            let conn = daytime::client::connect(&x.daytime_addr()).await?;
            let daytime::client::ConnectedEvent::Time(t) = conn.recv().await?;
            harness::check_daytime(&t.time, true)?;
        }
        Ok(())
    })
}

/// Sends `chunk` and reads events until as many bytes came back.
async fn echo_back(open: echo::client::Open, chunk: &[u8]) -> Result<echo::client::Open, Failed> {
    let mut open = open
        .send_data(echo::Data {
            data: Bytes::copy_from_slice(chunk),
        })
        .await?;
    let mut got = Vec::new();
    while got.len() < chunk.len() {
        let echo::client::OpenEvent::Echoed(e, next) = open.recv().await?;
        ensure!(!e.data.is_empty(), "an empty Echoed chunk");
        got.extend_from_slice(&e.data);
        open = next;
    }
    harness::same_bytes("the echo of one chunk", &got, chunk)?;
    Ok(open)
}

fn echo_round_trips() -> Outcome {
    let x = Xinetd::start()?;
    let every_byte: Vec<u8> = (0..=255u8).collect();
    harness::block_on(LIMIT, async {
        let mut open = echo::client::connect(&x.echo_addr()).await?;
        open = echo_back(open, b"hello\r\n").await?;
        open = echo_back(open, b"no line end").await?;
        open = echo_back(open, &every_byte).await?;
        // Chunks at the spec's limit (`raw = 64 KiB`), 1 MiB in all.
        for seed in 0..16 {
            open = echo_back(open, &harness::pattern(64 * 1024, seed)).await?;
        }
        let draining = open.half_close().await?;
        match draining.recv().await? {
            echo::client::DrainingEvent::Closed => Ok(()),
            other => Err(format!("after everything came back, expected the close, got {other:?}").into()),
        }
    })
}

fn echo_half_close() -> Outcome {
    let x = Xinetd::start()?;
    let chunks: Vec<Vec<u8>> = vec![
        b"first line\r\n".to_vec(),
        (0..=255u8).collect(),
        harness::pattern(50_000, 1),
        b"last, no line end".to_vec(),
    ];
    let sent: Vec<u8> = chunks.concat();
    harness::block_on(LIMIT, async {
        let mut open = echo::client::connect(&x.echo_addr()).await?;
        for c in &chunks {
            open = open
                .send_data(echo::Data {
                    data: Bytes::copy_from_slice(c),
                })
                .await?;
        }
        let mut draining = open.half_close().await?;
        let mut got = Vec::new();
        loop {
            draining = match draining.recv().await? {
                echo::client::DrainingEvent::Echoed(e, next) => {
                    got.extend_from_slice(&e.data);
                    next
                }
                echo::client::DrainingEvent::Closed => break,
            };
        }
        harness::same_bytes("everything echoed before the close", &got, &sent)
    })
}

fn example_daytime_client() -> Outcome {
    let x = Xinetd::start()?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_daytime-client"));
    cmd.arg("--target").arg(x.daytime_addr());
    let ran = harness::run(cmd, Vec::new(), LIMIT)?;
    ensure!(ran.status.success(), "daytime-client: {}", ran.describe());
    let out = String::from_utf8(ran.stdout.clone())?;
    let line = out
        .strip_suffix('\n')
        .ok_or("daytime-client's output does not end in a newline")?;
    ensure!(
        !line.contains(['\n', '\r']),
        "daytime-client printed more than a line: {out:?}"
    );
    harness::check_daytime(line, true)?;
    ensure_eq!(ran.stderr, Vec::<u8>::new(), "daytime-client's errors");
    Ok(())
}
