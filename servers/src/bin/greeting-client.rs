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

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    servers::cli::exit_with(run(args))
}

#[tokio::main(flavor = "current_thread")]
async fn run(args: Args) -> anyhow::Result<()> {
    let answer = servers::greeting::greet(&args.target, &args.name)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.target))?;
    println!("{answer}");
    Ok(())
}
