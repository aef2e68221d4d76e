//! Prints the time a daytime server sends.

use clap::Parser;

/// Asks a daytime server (RFC 867) for the time and prints it.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The server: `host:port` or `unix:/path`.
    #[arg(long, value_name = "ADDR")]
    target: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let time = servers::daytime::fetch(&args.target)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.target))?;
    println!("{time}");
    Ok(())
}
