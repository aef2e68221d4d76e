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

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    servers::cli::exit_with(run(args))
}

#[tokio::main(flavor = "current_thread")]
async fn run(args: Args) -> anyhow::Result<()> {
    let time = servers::daytime::fetch(&args.target)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.target))?;
    println!("{time}");
    Ok(())
}
