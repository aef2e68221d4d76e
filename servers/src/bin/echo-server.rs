//! The echo reference server.

use clap::Parser;

/// Serves the echo protocol (specs/echo.proto).
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
    servers::echo::serve(
        listener,
        args.server.config(),
        servers::cli::stats(),
        servers::cli::shutdown_signal(),
    )
    .await?;
    Ok(())
}
