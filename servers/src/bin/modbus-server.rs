//! The Modbus/TCP reference server.

use std::process::ExitCode;

use clap::Parser;
use servers::modbus::{ModbusConfig, DEFAULT_UNIT, MAX_TABLE_SIZE};

/// Serves Modbus/TCP (specs/modbus.proto) from memory: coils, discrete
/// inputs, holding and input registers of one unit, function codes 1-6, 15
/// and 16.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    server: servers::cli::ServerArgs,
    /// The unit id served; requests for another get exception 0x0B
    /// (gateway target device failed to respond), as pymodbus answers them.
    #[arg(long, value_name = "ID", default_value_t = DEFAULT_UNIT)]
    unit: u8,
    /// Fill the tables with the modbus suite's demo data, as its peer does:
    /// 1000 elements per table, coil i on iff i % 3 == 0, discrete input i on
    /// iff i is odd, holding register i = i * 10, input register i = 1000 + i.
    #[arg(long)]
    seed: bool,
    /// Elements per table [default: 65536, or 1000 with --seed].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=MAX_TABLE_SIZE as i64))]
    size: Option<u32>,
}

fn main() -> ExitCode {
    servers::cli::init_logging();
    let args = Args::parse();
    servers::cli::exit_with((|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run(args))
    })())
}

async fn run(args: Args) -> anyhow::Result<()> {
    let listener = args.server.bind().await?;
    let config = ModbusConfig {
        server: args.server.config()?,
        unit: args.unit,
        seed: args.seed,
        size: args.size.map(|n| n as usize),
    };
    servers::modbus::serve(
        listener,
        config,
        servers::cli::stats(),
        servers::cli::shutdown_signal(),
    )
    .await?;
    Ok(())
}
