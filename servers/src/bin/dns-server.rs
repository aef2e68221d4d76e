//! The DNS reference server.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use servers::dns::{DnsConfig, Hosts, Zone};

/// Serves DNS over TCP (specs/dns.proto): A, AAAA and PTR records from a
/// hosts-format file, CNAMEs from the command line, answered as dnsmasq
/// answers from such data.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    server: servers::cli::ServerArgs,
    /// The hosts-format file to answer from: an IPv4 or IPv6 address, then
    /// its names, per line; `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    hosts: std::path::PathBuf,
    /// The TTL of every record, in seconds (dnsmasq's `--local-ttl`).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    ttl: u32,
    /// An alias: ALIAS CNAME TARGET (dnsmasq's `--cname=ALIAS,TARGET`);
    /// may be given more than once.
    #[arg(long, value_name = "ALIAS,TARGET")]
    cname: Vec<String>,
    /// Worker threads.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
}

fn main() -> ExitCode {
    servers::cli::init_logging();
    let args = Args::parse();
    servers::cli::run_on_threads(args.threads, run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.hosts)
        .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", args.hosts.display()))?;
    let hosts = Hosts::parse(&text).map_err(|e| anyhow::anyhow!("`{}`: {e}", args.hosts.display()))?;
    let mut zone = Zone::new(hosts, args.ttl);
    for c in &args.cname {
        zone.add_cname_arg(c)
            .map_err(|e| anyhow::anyhow!("--cname {c}: {e}"))?;
    }
    let config = DnsConfig {
        server: args.server.config()?,
        zone: Arc::new(zone),
    };
    let listener = args.server.bind().await?;
    servers::dns::serve(
        listener,
        config,
        servers::cli::stats(),
        servers::cli::shutdown_signal(),
    )
    .await?;
    Ok(())
}
