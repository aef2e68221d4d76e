//! The daytime reference server.

use clap::Parser;

/// Serves the daytime protocol (specs/daytime.proto).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    server: servers::cli::ServerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    servers::cli::init_logging();
    let args = Args::parse();
    let listener = args.server.bind().await?;
    servers::daytime::serve(
        listener,
        args.server.config(),
        servers::cli::stats(),
        servers::cli::shutdown_signal(),
    )
    .await?;
    Ok(())
}
