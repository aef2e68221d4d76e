//! The memcached reference server.

use std::process::ExitCode;

use clap::Parser;
use servers::memcached::{MemcachedConfig, DEFAULT_MAX_ITEM_SIZE, DEFAULT_MEMORY_LIMIT, SPEC_MAX_DATA};

/// Serves memcached's text protocol (specs/memcached.proto) from memory.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    server: servers::cli::ServerArgs,
    /// Worker threads.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Bytes of items held before the least recently used are evicted.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MEMORY_LIMIT,
          value_parser = clap::value_parser!(u64).range(1..))]
    memory_limit: u64,
    /// The largest value stored, in bytes (at most 1048576, the spec's limit).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_ITEM_SIZE,
          value_parser = clap::value_parser!(u64).range(1..=SPEC_MAX_DATA))]
    max_item_size: u64,
}

fn main() -> ExitCode {
    servers::cli::init_logging();
    let args = Args::parse();
    servers::cli::run_on_threads(args.threads, run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listener = args.server.bind().await?;
    let config = MemcachedConfig {
        server: args.server.config()?,
        memory_limit: args.memory_limit,
        max_item_size: args.max_item_size,
        threads: usize::from(args.threads),
    };
    servers::memcached::serve(
        listener,
        config,
        servers::cli::stats(),
        servers::cli::shutdown_signal(),
    )
    .await?;
    Ok(())
}
