//! Greets a greeting server and prints its answer.

use clap::Parser;

/// Answers a greeting server's `HELLO?` with a name and prints the greeting.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The server: `host:port` or `unix:/path`.
    #[arg(long, value_name = "ADDR")]
    target: String,
    /// The name to send.
    #[arg(long)]
    name: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let answer = servers::greeting::greet(&args.target, &args.name)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.target))?;
    println!("{answer}");
    Ok(())
}
