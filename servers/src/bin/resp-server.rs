//! The Redis-compatible reference server.

use std::process::ExitCode;

use clap::Parser;
use servers::resp::RespConfig;

/// Serves a Redis-compatible in-memory store over RESP2 (specs/redis.proto).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    server: servers::cli::ServerArgs,
    /// Worker threads.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Bytes of data over which commands that add data are refused
    /// (`-OOM ...`, Redis's noeviction); 0: no limit.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    maxmemory: u64,
}

fn main() -> ExitCode {
    servers::cli::init_logging();
    let args = Args::parse();
    servers::cli::run_on_threads(args.threads, run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listener = args.server.bind().await?;
    let config = RespConfig {
        server: args.server.config()?,
        maxmemory: args.maxmemory,
        threads: usize::from(args.threads),
    };
    servers::resp::serve(
        listener,
        config,
        servers::cli::stats(),
        servers::cli::shutdown_signal(),
    )
    .await?;
    Ok(())
}
