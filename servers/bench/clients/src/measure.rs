//! The two measurements and the data they fetch.

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::ValueEnum;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::contenders::Contender;

/// The keys stored in memcached before measuring, and where.
pub struct Data {
    pub target: String,
    pub keys: usize,
    pub value_size: usize,
}

impl Data {
    fn key(i: usize) -> String {
        format!("bench:{i:06}")
    }

    /// Stores every key, pipelined over one plain connection.
    pub async fn load(&self) -> anyhow::Result<()> {
        let mut s = TcpStream::connect(&self.target)
            .await
            .context("connect to memcached")?;
        let value = vec![b'v'; self.value_size];
        let mut out = Vec::new();
        for i in 0..self.keys {
            out.extend_from_slice(format!("set {} 0 0 {}\r\n", Self::key(i), self.value_size).as_bytes());
            out.extend_from_slice(&value);
            out.extend_from_slice(b"\r\n");
        }
        s.write_all(&out).await?;
        let want = b"STORED\r\n".repeat(self.keys);
        let mut got = vec![0; want.len()];
        s.read_exact(&mut got)
            .await
            .context("read the replies to the sets")?;
        ensure!(got == want, "memcached did not store every key");
        Ok(())
    }

    /// Batches of `batch` keys that together go round the key space.
    fn batches(&self, batch: usize) -> Vec<Vec<String>> {
        let n = (self.keys / batch).max(1);
        (0..n)
            .map(|j| {
                (0..batch)
                    .map(|i| Self::key((j * batch + i) % self.keys))
                    .collect()
            })
            .collect()
    }
}

/// Runs `fut` on a one-thread runtime (the clients are compared on one core).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    tokio::task::LocalSet::new().block_on(&rt, fut)
}

/// One connection fetching `fetches` batches of `batch` keys.
pub async fn fetch_n(data: &Data, contender: Contender, fetches: usize, batch: usize) -> anyhow::Result<()> {
    let batches = data.batches(batch);
    let mut client = contender.connect(&data.target).await?;
    for keys in batches.iter().cycle().take(fetches) {
        client.fetch(keys, data.value_size).await?;
    }
    Ok(())
}

/// Keys per second of `connections` connections fetching back to back for
/// `seconds`, after a quarter of a second of warm-up.
async fn keys_per_second(
    data: &Data,
    contender: Contender,
    seconds: f64,
    batch: usize,
    connections: usize,
) -> anyhow::Result<f64> {
    let start = Instant::now() + Duration::from_millis(250);
    let end = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let mut client = contender.connect(&data.target).await?;
        let batches = data.batches(batch);
        let value_size = data.value_size;
        tasks.push(tokio::task::spawn_local(async move {
            let mut counted = 0u64;
            for keys in batches.iter().cycle() {
                client.fetch(keys, value_size).await?;
                let now = Instant::now();
                if now >= end {
                    break;
                }
                counted += u64::from(now >= start);
            }
            anyhow::Ok(counted)
        }));
    }
    let mut fetches = 0;
    for t in tasks {
        fetches += t.await??;
    }
    Ok((fetches * batch as u64) as f64 / seconds)
}

pub fn throughput(
    data: &Data,
    rounds: usize,
    seconds: f64,
    batch: usize,
    connections: usize,
) -> anyhow::Result<()> {
    let all = Contender::ALL;
    let mut rates = vec![Vec::new(); all.len()];
    for round in 0..rounds {
        // Each round starts with the next contender, so none always goes first.
        for k in 0..all.len() {
            let i = (k + round) % all.len();
            rates[i].push(block_on(keys_per_second(
                data,
                all[i],
                seconds,
                batch,
                connections,
            ))?);
        }
    }
    let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
    let best = best_anchor(&medians);
    println!(
        "\nthroughput: {connections} connection(s), {batch} key(s) per fetch, {rounds} rounds of {seconds} s\n"
    );
    println!("| contender | keys/s (median) | rounds min–max | vs the best crate |");
    println!("|---|---|---|---|");
    for (i, c) in all.iter().enumerate() {
        let (lo, hi) = (rates[i][0], rates[i][rates[i].len() - 1]);
        println!(
            "| {} | {:.0} | {lo:.0}–{hi:.0} | {:.2}× |",
            c.name(),
            medians[i],
            medians[i] / best
        );
    }
    Ok(())
}

pub fn instructions(data: &Data, batch: usize, fetches: usize) -> anyhow::Result<()> {
    let all = Contender::ALL;
    let mut per_fetch = Vec::new();
    for c in all {
        let short = callgrind(data, c, fetches, batch)?;
        let long = callgrind(data, c, 3 * fetches, batch)?;
        ensure!(
            long > short,
            "{}: the longer run counted fewer instructions",
            c.name()
        );
        per_fetch.push((long - short) as f64 / (2 * fetches) as f64);
    }
    // Fewer is better: the ratio is ours over the best crate's.
    let best = all
        .iter()
        .zip(&per_fetch)
        .filter(|(c, _)| c.is_anchor())
        .map(|(_, &n)| n)
        .fold(f64::INFINITY, f64::min);
    println!(
        "\ninstructions (callgrind, client only): {batch} key(s) per fetch, {fetches} vs {} fetches\n",
        3 * fetches
    );
    println!("| contender | instructions per fetch | per key | vs the best crate |");
    println!("|---|---|---|---|");
    for (c, n) in all.iter().zip(&per_fetch) {
        println!(
            "| {} | {n:.0} | {:.0} | {:.2}× |",
            c.name(),
            n / batch as f64,
            n / best
        );
    }
    Ok(())
}

/// Instructions counted by callgrind for this program fetching `fetches`
/// batches with one contender.
fn callgrind(data: &Data, contender: Contender, fetches: usize, batch: usize) -> anyhow::Result<u64> {
    let name = contender
        .to_possible_value()
        .expect("no contender is skipped")
        .get_name()
        .to_string();
    let out = std::env::temp_dir().join(format!(
        "memcached-clients-{}-{name}-{fetches}.callgrind",
        std::process::id()
    ));
    let run = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe()?)
        .args(["--target", &data.target, "--keys", &data.keys.to_string()])
        .args([
            "--value-size",
            &data.value_size.to_string(),
            "fetch",
            "--contender",
            &name,
        ])
        .args(["--fetches", &fetches.to_string(), "--batch", &batch.to_string()])
        .output()
        .context("cannot run valgrind (Debian: apt-get install valgrind)")?;
    if !run.status.success() {
        bail!(
            "{name} under callgrind: {}\n{}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        );
    }
    let text = std::fs::read_to_string(&out).with_context(|| format!("read {}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| l.strip_prefix("summary: ").or_else(|| l.strip_prefix("totals: ")))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no instruction total in callgrind's output for {name}"))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The highest rate among the crates this project is compared with.
fn best_anchor(medians: &[f64]) -> f64 {
    Contender::ALL
        .iter()
        .zip(medians)
        .filter(|(c, _)| c.is_anchor())
        .map(|(_, &m)| m)
        .fold(0.0, f64::max)
}
