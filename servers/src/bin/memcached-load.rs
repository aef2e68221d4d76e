//! A closed-loop load generator for memcached's text protocol, with latency
//! percentiles: each connection sends one request, waits for the whole
//! reply, and records the round trip in an HDR histogram. It speaks plain
//! bytes (not the generated client), so it measures servers, not this
//! project's client; it runs on one thread, leaving the other cores to the
//! server under test.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
#[command(version, about = "Closed-loop memcached load: ops/s and latency percentiles")]
struct Args {
    /// The server: `host:port`.
    #[arg(long, default_value = "127.0.0.1:11211")]
    target: String,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// How long to measure, in seconds (after a warm-up of one second).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Share of requests that are `set` (the rest are `get`), in percent.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
    set_percent: u8,
    /// Distinct keys (all stored before the run, so every `get` hits).
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 32)]
    value_size: usize,
    /// Print one line of JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn key(i: usize) -> String {
    format!("load:{i:08}")
}

async fn run(args: &Args) -> anyhow::Result<()> {
    if args.connections == 0 || args.keys == 0 {
        bail!("--connections and --keys must be at least 1");
    }
    let value = vec![b'v'; args.value_size];
    // Store every key first, pipelined on one connection.
    let mut s = TcpStream::connect(&args.target)
        .await
        .with_context(|| format!("cannot connect to {}", args.target))?;
    for chunk in (0..args.keys).collect::<Vec<_>>().chunks(256) {
        let mut req = Vec::new();
        for &i in chunk {
            req.extend_from_slice(format!("set {} 0 0 {}\r\n", key(i), value.len()).as_bytes());
            req.extend_from_slice(&value);
            req.extend_from_slice(b"\r\n");
        }
        s.write_all(&req).await?;
        let want = b"STORED\r\n".repeat(chunk.len());
        let mut got = vec![0u8; want.len()];
        s.read_exact(&mut got).await?;
        if got != want {
            bail!("setting up the keys: {:?}", String::from_utf8_lossy(&got));
        }
    }
    drop(s);

    let warmup = Instant::now() + Duration::from_secs(1);
    let end = warmup + Duration::from_secs(args.seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..args.connections {
        let (target, value) = (args.target.clone(), value.clone());
        let (keys, set_percent) = (args.keys, u64::from(args.set_percent));
        tasks.spawn(async move { connection(c, &target, &value, keys, set_percent, warmup, end).await });
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0u64;
    while let Some(r) = tasks.join_next().await {
        let (h, e) = r??;
        all.add(&h)?;
        errors += e;
    }
    let ops = all.len() as f64 / args.seconds as f64;
    let (p50, p99, p999, max) = (
        all.value_at_quantile(0.50),
        all.value_at_quantile(0.99),
        all.value_at_quantile(0.999),
        all.max(),
    );
    if args.json {
        println!(
            "{{\"ops_per_s\":{ops:.0},\"p50_us\":{p50},\"p99_us\":{p99},\"p999_us\":{p999},\"max_us\":{max},\"errors\":{errors}}}"
        );
    } else {
        println!(
            "{ops:.0} ops/s, p50 {p50} µs, p99 {p99} µs, p99.9 {p999} µs, max {max} µs, {errors} error replies \
             ({} connections, {}% set, {} s)",
            args.connections, args.set_percent, args.seconds
        );
    }
    if errors > 0 {
        bail!("{errors} requests were answered with an error");
    }
    Ok(())
}

/// One connection's closed loop; returns its latencies (µs) after the
/// warm-up and how many replies were errors.
async fn connection(
    c: usize,
    target: &str,
    value: &[u8],
    keys: usize,
    set_percent: u64,
    warmup: Instant,
    end: Instant,
) -> anyhow::Result<(Histogram<u64>, u64)> {
    let mut s = TcpStream::connect(target).await?;
    s.set_nodelay(true)?;
    let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (c as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let mut req = Vec::with_capacity(64 + value.len());
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        // xorshift64*: cheap, and the same sequence for the same connection.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        let r = rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let k = key((r >> 8) as usize % keys);
        let set = r % 100 < set_percent;
        req.clear();
        if set {
            req.extend_from_slice(format!("set {k} 0 0 {}\r\n", value.len()).as_bytes());
            req.extend_from_slice(value);
            req.extend_from_slice(b"\r\n");
        } else {
            req.extend_from_slice(format!("get {k}\r\n").as_bytes());
        }
        let start = Instant::now();
        s.write_all(&req).await?;
        buf.clear();
        // A value runs to `END`; anything else is one line.
        while !(if buf.starts_with(b"VALUE ") {
            buf.ends_with(b"\r\nEND\r\n")
        } else {
            buf.ends_with(b"\r\n")
        }) {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                bail!("the server closed connection {c}");
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let took = start.elapsed();
        let ok = if set {
            buf == b"STORED\r\n"
        } else {
            buf.starts_with(b"VALUE ")
        };
        if !ok {
            errors += 1;
        }
        if start >= warmup {
            h.record((took.as_micros() as u64).max(1))?;
        }
    }
    Ok((h, errors))
}
