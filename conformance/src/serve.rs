//! `conformance serve`: plays the server role of transcripts, for testing a
//! live client.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::report::RunReport;
use conformance::runner::{play_case, Recording, RunConfig, Split};
use conformance::transcript::{self, Suite};
use protocol_runtime::layout::Role;
use protocol_runtime::transport::{Address, Listener};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Suite folders or transcript files whose cases are served.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Where to listen for the client under test: `host:port` or `unix:/path`.
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// Serve only the case with this name.
    #[arg(long, value_name = "NAME")]
    case: Option<String>,
    /// Serve one connection, then stop.
    #[arg(long)]
    once: bool,
    /// How to cut the server's writes: whole, bytes, random:SEED or coalesce.
    #[arg(long, default_value = "whole", value_name = "MODE")]
    split: Split,
    /// How long to wait for each expected step of the client.
    #[arg(long, default_value = "5s", value_parser = crate::run::parse_duration)]
    step_timeout: Duration,
    /// How long to wait for the next client to connect.
    #[arg(long, default_value = "60s", value_parser = crate::run::parse_duration)]
    accept_timeout: Duration,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON report.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

pub fn main(args: ServeArgs) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(serve(args)),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::from(2)
        }
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let files = match crate::run::collect(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut suites = Vec::new();
    for f in &files {
        match transcript::load(f, Role::Server) {
            Ok(s) => suites.push(Arc::new(s)),
            Err(e) => {
                eprint!("{e}");
                eprintln!("error: invalid transcripts: nothing was served");
                return ExitCode::from(2);
            }
        }
    }
    // The cases, in order: each connecting client gets the next one.
    let mut queue: Vec<(Arc<Suite>, usize)> = Vec::new();
    for s in &suites {
        for (i, c) in s.cases.iter().enumerate() {
            if args.case.as_deref().is_none_or(|n| c.name == n) {
                queue.push((s.clone(), i));
            }
        }
    }
    if queue.is_empty() {
        eprintln!(
            "error: no case to serve{}",
            args.case
                .as_ref()
                .map(|n| format!(" named \"{n}\""))
                .unwrap_or_default()
        );
        return ExitCode::from(2);
    }
    if args.once {
        queue.truncate(1);
    }
    let address: Address = match args.listen.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match Listener::bind(&address).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    let shown = listener
        .local_addr()
        .map_or(args.listen.clone(), |a| a.to_string());
    eprintln!(
        "listening on {shown}: {} case(s) to serve, one per connection, in order",
        queue.len()
    );
    let cfg = RunConfig {
        target: address,
        tls: None,
        split: args.split,
        prefix: crate::run::run_prefix(),
        step_timeout: args.step_timeout,
        connect_timeout: args.accept_timeout,
    };
    let started = Instant::now();
    let mut reports = Vec::new();
    for (suite, i) in &queue {
        let case = &suite.cases[*i];
        let stream = match tokio::time::timeout(args.accept_timeout, listener.accept()).await {
            Ok(Ok((s, peer))) => {
                eprintln!("{peer}: case \"{}\"", case.name);
                s
            }
            Ok(Err(e)) => {
                eprintln!("error: accept failed: {e}");
                return ExitCode::from(3);
            }
            Err(_) => {
                eprintln!(
                    "error: no client connected within {:?} (case \"{}\")",
                    args.accept_timeout, case.name
                );
                break;
            }
        };
        let r = play_case(
            suite,
            case,
            &cfg,
            stream,
            Role::Server,
            &mut Recording::default(),
            Instant::now(),
        )
        .await;
        reports.push(r);
    }
    let unserved = queue.len() - reports.len();
    let coverage = conformance::report::coverage::compute(&suites, &reports);
    let report = RunReport {
        coverage,
        cases: reports,
        split: args.split.to_string(),
        target: format!("clients on {shown}"),
        duration: started.elapsed(),
    };
    print!("{}", report.summary());
    if unserved > 0 {
        println!("{unserved} case(s) not served: no client came");
    }
    if let Err(code) = crate::run::write_reports(&report, args.junit.as_deref(), args.json.as_deref()) {
        return code;
    }
    if report.failed() > 0 || unserved > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
