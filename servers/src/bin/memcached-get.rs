//! Fetches keys from memcached with the client generated from
//! `specs/memcached_get.proto` by `build.rs`.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use servers::specs::memcached_get::{client, Cmd, Get};

/// Prints the value of each key (its bytes as stored); exits 1 if a key is missing.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The memcached server: `host:port` or `unix:/path`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:11211")]
    target: String,
    /// Keys to fetch.
    #[arg(required = true)]
    keys: Vec<String>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {}: {e}", args.target);
            ExitCode::from(2)
        }
    }
}

/// True when every key was found.
async fn run(args: &Args) -> anyhow::Result<bool> {
    let ready = client::connect(&args.target).await?;
    let mut reply = ready
        .get(Get {
            cmd: Cmd::Get,
            keys: args.keys.clone(),
        })
        .await?;
    let mut found = Vec::new();
    let mut out = std::io::stdout().lock();
    loop {
        reply = match reply.recv().await? {
            client::GetReplyEvent::Value(v, next) => {
                out.write_all(&v.data)?;
                out.write_all(b"\n")?;
                found.push(v.key);
                next
            }
            client::GetReplyEvent::End(_, _) => break,
            client::GetReplyEvent::Error(e, _) => {
                anyhow::bail!("server error: ERROR {}", e.why.unwrap_or_default())
            }
            client::GetReplyEvent::ClientError(e, _) => anyhow::bail!("client error: {}", e.why),
            client::GetReplyEvent::ServerError(e, _) => anyhow::bail!("server error: {}", e.why),
        };
    }
    out.flush()?;
    let missing: Vec<&String> = args.keys.iter().filter(|k| !found.contains(k)).collect();
    for k in &missing {
        eprintln!("missing: {k}");
    }
    Ok(missing.is_empty())
}
