//! `conformance record`: proxies live connections and writes them down as a
//! transcript.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use conformance::recorder::{self, Notice, RecordConfig, RecordedCase};
use conformance::transcript;
use protocol_runtime::spec::Protocol;
use protocol_runtime::transport::{Address, Listener};
use tokio::sync::{mpsc, watch};

#[derive(clap::Args)]
pub struct RecordArgs {
    /// The spec of the traffic: a bundled spec's name (daytime, echo, greeting,
    /// memcached_get, memcached, modbus, redis, postgres, dns) or a path to a `.proto` file.
    #[arg(value_name = "SPEC")]
    spec: String,
    /// Where the client under observation connects: `host:port` or `unix:/path`.
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// The real server each connection is passed on to.
    #[arg(long, value_name = "ADDR")]
    upstream: String,
    /// The transcript to write (rewritten as each connection ends).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Stop after this many connections have ended (default: until Ctrl-C).
    #[arg(long, value_name = "N", conflicts_with = "once")]
    connections: Option<usize>,
    /// Record one connection, then stop.
    #[arg(long)]
    once: bool,
    /// How long to wait for the upstream server to accept a connection.
    #[arg(long, default_value = "5s", value_parser = crate::run::parse_duration)]
    connect_timeout: Duration,
}

pub fn main(args: RecordArgs) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(run(args)),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: RecordArgs) -> ExitCode {
    let (spec, spec_ref) = match load_spec(&args.spec, &args.out) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    let (listen, upstream) = match (args.listen.parse::<Address>(), args.upstream.parse::<Address>()) {
        (Ok(l), Ok(u)) => (l, u),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match Listener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitCode::from(2);
        }
    };
    let shown = listener
        .local_addr()
        .map_or(args.listen.clone(), |a| a.to_string());
    eprintln!(
        "recording {} traffic: clients connect to {shown}, passed on to {upstream}; writing {}",
        spec.name,
        args.out.display()
    );
    let header = format!(
        "Recorded with `conformance record {} --upstream {upstream}`.\n\
         Fields the spec marks `volatile` are captures or patterns; everything else is as it was seen.",
        args.spec
    );
    let config = RecordConfig {
        spec: Arc::clone(&spec),
        upstream,
        connect_timeout: args.connect_timeout,
        connections: if args.once { Some(1) } else { args.connections },
    };
    let (notice_tx, mut notices) = mpsc::unbounded_channel();
    let (stop_tx, stop) = watch::channel(false);
    let recorder = tokio::spawn(recorder::record(listener, config, notice_tx, stop));
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping: the connections still open end their cases where they are");
            let _ = stop_tx.send(true);
        }
    });

    let mut cases: BTreeMap<usize, RecordedCase> = BTreeMap::new();
    let (mut deviated, mut unreachable) = (0usize, 0usize);
    while let Some(notice) = notices.recv().await {
        match notice {
            Notice::Opened { connection, peer } => eprintln!("connection {connection}: from {peer}"),
            Notice::Deviation {
                connection,
                deviation,
            } => eprintln!(
                "connection {connection}: the {} deviates from `{}`: {}; the rest is recorded as raw bytes",
                deviation.role, spec.name, deviation.message
            ),
            Notice::UpstreamFailed { connection, error } => {
                unreachable += 1;
                eprintln!("connection {connection}: {error}; the client was closed");
            }
            Notice::Ended {
                connection,
                case,
                deviations,
            } => {
                deviated += usize::from(deviations > 0);
                eprintln!("connection {connection}: ended, {} step(s)", case.steps.len());
                cases.insert(connection, case);
                let all: Vec<RecordedCase> = cases.values().cloned().collect();
                let text = recorder::write::transcript(&spec, &spec_ref, &header, &all);
                if let Err(e) = std::fs::write(&args.out, text) {
                    eprintln!("error: cannot write `{}`: {e}", args.out.display());
                    return ExitCode::from(2);
                }
            }
        }
    }
    match recorder.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("error: accept failed: {e}");
            return ExitCode::from(3);
        }
        Err(e) => {
            eprintln!("error: the recorder stopped: {e}");
            return ExitCode::from(2);
        }
    }
    eprintln!(
        "recorded {} connection(s) to {}: {deviated} deviated from the spec",
        cases.len(),
        args.out.display()
    );
    if unreachable > 0 {
        ExitCode::from(3)
    } else if deviated > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The compiled spec and how the transcript names it: a bundled spec by its
/// name, a file by its path relative to the transcript's folder.
fn load_spec(spec: &str, out: &Path) -> Result<(Arc<Protocol>, String), String> {
    let (compiled, spec_ref) = match transcript::bundled_spec(spec) {
        Some(text) => (
            protocol_dsl::compile_str(&format!("specs/{spec}.proto"), text),
            spec.to_string(),
        ),
        None => {
            let path = Path::new(spec);
            let compiled = protocol_dsl::compile_file(path)
                .map_err(|e| format!("error: cannot read spec `{spec}`: {e}\n"))?;
            (compiled, relative_to_folder_of(out, path))
        }
    };
    match compiled.protocol {
        Some(p) => Ok((Arc::new(p), spec_ref)),
        None => Err(format!(
            "{}error: spec `{spec}` has errors\n",
            compiled.render(false)
        )),
    }
}

/// `target` as a path from the folder that holds `file`.
fn relative_to_folder_of(file: &Path, target: &Path) -> String {
    let absolute = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        p.components().fold(PathBuf::new(), |mut acc, c| {
            match c {
                Component::ParentDir => {
                    acc.pop();
                }
                Component::CurDir => {}
                c => acc.push(c),
            }
            acc
        })
    };
    let from = absolute(file.parent().unwrap_or(Path::new(".")));
    let to = absolute(target);
    let (from, to): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out.display().to_string()
}
