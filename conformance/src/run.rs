//! `conformance run`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::report::RunReport;
use conformance::runner::sweep::{quote, run_case_searching, Search, DEFAULT_MAX_SPLITS};
use conformance::runner::{CaseReport, RunConfig, Split};
use conformance::targets;
use conformance::transcript::{self, Suite};
use protocol_runtime::layout::Role;
use protocol_runtime::transport::{Address, TlsClient};

#[derive(clap::Args)]
pub struct RunArgs {
    /// Suite folders or transcript files (default: every bundled suite whose
    /// spec has a built-in server, or every one with --target).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Where the bundled suites are, instead of this build's
    /// `conformance/suites` (for testing the runner on suites of its own).
    #[arg(long, value_name = "DIR", hide = true)]
    bundled_suites: Option<PathBuf>,
    /// The server to test: `host:port` or `unix:/path` (default: the built-in
    /// reference server of each suite's spec).
    #[arg(long, value_name = "ADDR")]
    target: Option<String>,
    /// With --target: first wait up to this long (30, 30s, 500ms, 1min) for
    /// the target to accept a connection, for a server started just before
    /// the run; exit 3 if it never does.
    #[arg(long, value_name = "SECS", requires = "target", value_parser = parse_duration)]
    wait: Option<Duration>,
    /// How to cut the runner's writes: whole, bytes, random:SEED, coalesce,
    /// sweep (each case whole, then once per cut point of each write, one cut
    /// per replay) or at:WRITE:OFFSET[,WRITE:OFFSET...] (cut write WRITE of
    /// the case, from 0, after OFFSET bytes). A failure under sweep or
    /// random:SEED is shrunk to its fewest cuts and printed as a command.
    #[arg(long, default_value = "whole", value_name = "MODE")]
    split: Split,
    /// Run only the cases with this name.
    #[arg(long, value_name = "NAME")]
    case: Option<String>,
    /// Replays per case: the cut points a sweep tries (after the whole run),
    /// or the replays shrinking a random failure makes.
    #[arg(long, default_value_t = DEFAULT_MAX_SPLITS, value_name = "N")]
    max_splits: usize,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write a JSON report (with each case's byte log).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Connect over TLS.
    #[arg(long)]
    tls: bool,
    /// With --tls: trust the certificates in this PEM file.
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca: Option<PathBuf>,
    /// With --tls: the name to check the server's certificate against.
    #[arg(long, value_name = "NAME", requires = "tls")]
    server_name: Option<String>,
    /// Cases run at once (exclusive cases always run alone).
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// How long to wait for each expected step (unless the transcript says).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    step_timeout: Duration,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write 500ms, 5s or 1min"))?;
    match &s[digits.len()..] {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "min" => Ok(Duration::from_secs(n * 60)),
        other => Err(format!("unknown unit `{other}`: use ms, s or min")),
    }
}

pub(crate) fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|e| format!("cannot read `{}`: {e}", p.display()))?;
            found.sort();
            if found.is_empty() {
                return Err(format!("`{}` holds no .transcript files", p.display()));
            }
            out.extend(found);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(format!("`{}` does not exist", p.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "transcript") {
            out.push(path);
        }
    }
    Ok(())
}

pub fn main(args: RunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: RunArgs) -> ExitCode {
    // With no paths: the bundled suites, where a suite whose spec has no
    // built-in server is skipped (without --target) rather than an error.
    let bundled_root = args.paths.is_empty().then(|| {
        args.bundled_suites
            .clone()
            .unwrap_or_else(crate::bundled::default_dir)
    });
    let paths = match &bundled_root {
        Some(root) => vec![root.clone()],
        None => args.paths.clone(),
    };
    let files = match collect(&paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut suites = Vec::new();
    let mut invalid = false;
    for f in &files {
        match transcript::load(f, Role::Client) {
            Ok(s) => suites.push(Arc::new(s)),
            Err(e) => {
                eprint!("{e}");
                invalid = true;
            }
        }
    }
    if invalid {
        eprintln!("error: invalid transcripts: nothing was sent");
        return ExitCode::from(2);
    }
    let tls = match tls_config(&args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let target = match &args.target {
        Some(t) => match t.parse::<Address>() {
            Ok(a) => Some(a),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    if let Some(name) = &args.case {
        suites.retain(|s| s.cases.iter().any(|c| &c.name == name));
        if suites.is_empty() {
            eprintln!("error: no case named \"{name}\"");
            return ExitCode::from(2);
        }
    }
    let skipped = if target.is_none() {
        match without_server(&mut suites, &args.paths, bundled_root.as_deref()) {
            Ok(skipped) => skipped,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    } else {
        Vec::new()
    };
    if let (Some(address), Some(limit)) = (&target, args.wait) {
        if let Err(e) = crate::wait::until_reachable(address, limit).await {
            eprintln!(
                "error: cannot reach the target {address}: nothing accepted a connection in {} \
                 of trying (last attempt: {e}); check that the server is started and listens \
                 there, or give --wait more time",
                crate::wait::show(limit)
            );
            return ExitCode::from(3);
        }
    }

    // One target per spec: the given one, or the spec's built-in server.
    let mut by_spec: BTreeMap<String, Vec<Arc<Suite>>> = BTreeMap::new();
    let search = Search {
        max_splits: args.max_splits,
        command_tail: command_tail(&args),
    };
    for s in suites {
        by_spec.entry(s.spec_name.clone()).or_default().push(s);
    }
    let prefix = run_prefix();
    let started = Instant::now();
    let total: usize = by_spec
        .values()
        .flatten()
        .flat_map(|s| &s.cases)
        .filter(|c| wanted(c, args.case.as_deref()))
        .count();
    let progress = Progress::new(total as u64);
    let mut reports: Vec<CaseReport> = Vec::new();
    let mut target_names = Vec::new();
    for (spec, suites) in &by_spec {
        let (address, builtin) = match &target {
            Some(a) => (a.clone(), None),
            None => match targets::start(&crate::bundled::spec_key(spec)).await {
                Ok(Some(b)) => (b.address.clone(), Some(b)),
                Ok(None) => {
                    eprintln!("error: no built-in server for spec `{spec}`: give --target ADDR");
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("error: cannot start the built-in server for `{spec}`: {e}");
                    return ExitCode::from(3);
                }
            },
        };
        let name = match &builtin {
            Some(b) => format!("built-in {} ({})", b.name, b.address),
            None => address.to_string(),
        };
        if !target_names.contains(&name) {
            target_names.push(name);
        }
        let cfg = RunConfig {
            target: address,
            tls: tls.clone(),
            split: args.split,
            prefix: prefix.clone(),
            step_timeout: args.step_timeout,
            connect_timeout: Duration::from_secs(5),
        };
        reports.extend(
            run_suites(
                suites,
                &cfg,
                &search,
                args.case.as_deref(),
                args.jobs.max(1),
                &progress,
            )
            .await,
        );
        if let Some(b) = builtin {
            b.stop().await;
        }
    }
    progress.finish();
    let all_suites: Vec<Arc<Suite>> = by_spec.values().flatten().cloned().collect();
    let coverage = conformance::report::coverage::compute(&all_suites, &reports);
    let report = RunReport {
        coverage,
        cases: reports,
        split: args.split.to_string(),
        target: target_names.join(", "),
        duration: started.elapsed(),
    };
    print!("{}", report.summary());
    for lines in &skipped {
        print!("\n{lines}");
    }
    if let Err(code) = write_reports(&report, args.junit.as_deref(), args.json.as_deref()) {
        return code;
    }
    if report.unreachable() > 0 {
        ExitCode::from(3)
    } else if report.failed() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Takes out of `suites` those whose spec has no built-in server. Running
/// the bundled suites (`bundled_root`), each such suite folder is skipped,
/// and the lines saying how to run it come back; a suite named in `paths`
/// is an error that says how to give it a server.
fn without_server(
    suites: &mut Vec<Arc<Suite>>,
    paths: &[PathBuf],
    bundled_root: Option<&Path>,
) -> Result<Vec<String>, String> {
    let has_server = |s: &Suite| targets::server_for(&crate::bundled::spec_key(&s.spec_name)).is_some();
    let (lacking, kept): (Vec<_>, Vec<_>) = suites.drain(..).partition(|s| !has_server(s));
    *suites = kept;
    if let Some(root) = bundled_root {
        // One note per suite folder and spec, in listing order.
        let mut seen: Vec<(PathBuf, &str)> = Vec::new();
        let mut notes = Vec::new();
        for s in &lacking {
            let dir = crate::bundled::suite_dir(root, &s.path);
            if seen.iter().any(|(d, spec)| *d == dir && *spec == s.spec_name) {
                continue;
            }
            let peer = crate::bundled::peer_script(&s.path, &dir);
            notes.push(crate::bundled::skipped(&dir, &s.spec_name, peer.as_deref()));
            seen.push((dir, &s.spec_name));
        }
        return Ok(notes);
    }
    let mut errors = Vec::new();
    let mut specs: Vec<&str> = lacking.iter().map(|s| s.spec_name.as_str()).collect();
    specs.sort_unstable();
    specs.dedup();
    for spec in specs {
        let of_spec: Vec<&Arc<Suite>> = lacking.iter().filter(|s| s.spec_name == spec).collect();
        // The paths named that hold this spec's suites, and a peer script
        // beside one of them.
        let named: Vec<&Path> = paths
            .iter()
            .filter(|p| of_spec.iter().any(|s| s.path.starts_with(p)))
            .map(PathBuf::as_path)
            .collect();
        let peer = of_spec.iter().find_map(|s| {
            let top = named.iter().find(|p| s.path.starts_with(p)).copied()?;
            crate::bundled::peer_script(&s.path, top)
        });
        errors.push(crate::bundled::no_server(
            spec,
            peer.as_deref().map(|p| (p, named.clone())),
        ));
    }
    if errors.is_empty() {
        Ok(Vec::new())
    } else {
        Err(errors.join("\n"))
    }
}

/// Runs the cases of some suites: shared ones `jobs` at a time, exclusive
/// ones alone afterwards. Reports come back in listing order.
async fn run_suites(
    suites: &[Arc<Suite>],
    cfg: &RunConfig,
    search: &Search,
    only: Option<&str>,
    jobs: usize,
    progress: &Progress,
) -> Vec<CaseReport> {
    let mut order = Vec::new();
    for (si, s) in suites.iter().enumerate() {
        for (ci, c) in s.cases.iter().enumerate() {
            if wanted(c, only) {
                order.push((si, ci));
            }
        }
    }
    let mut results: Vec<Option<CaseReport>> = vec![None; order.len()];
    let shared: Vec<usize> = (0..order.len())
        .filter(|&k| !suites[order[k].0].cases[order[k].1].exclusive)
        .collect();
    let exclusive: Vec<usize> = (0..order.len())
        .filter(|&k| suites[order[k].0].cases[order[k].1].exclusive)
        .collect();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs));
    let mut set = tokio::task::JoinSet::new();
    for k in shared {
        let (si, ci) = order[k];
        let suite = suites[si].clone();
        let cfg = cfg.clone();
        let search = search.clone();
        let permit = semaphore.clone().acquire_owned().await.expect("semaphore open");
        set.spawn(async move {
            let _permit = permit;
            (
                k,
                run_case_searching(&suite, &suite.cases[ci], &cfg, &search).await,
            )
        });
        while let Some(Ok((k, r))) = set.try_join_next() {
            progress.tick();
            results[k] = Some(r);
        }
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((k, r)) = joined {
            progress.tick();
            results[k] = Some(r);
        }
    }
    for k in exclusive {
        let (si, ci) = order[k];
        results[k] = Some(run_case_searching(&suites[si], &suites[si].cases[ci], cfg, search).await);
        progress.tick();
    }
    results.into_iter().flatten().collect()
}

/// The options a reproduction command repeats after `--split`: how to reach
/// the target (none for a built-in server, which the command starts anew).
fn command_tail(args: &RunArgs) -> String {
    let mut tail = String::new();
    if let Some(t) = &args.target {
        tail += &format!(" --target {}", quote(t));
    }
    if args.tls {
        tail += " --tls";
    }
    if let Some(ca) = &args.ca {
        tail += &format!(" --ca {}", quote(&ca.display().to_string()));
    }
    if let Some(name) = &args.server_name {
        tail += &format!(" --server-name {}", quote(name));
    }
    if args.step_timeout != Duration::from_secs(5) {
        tail += &format!(" --step-timeout {}ms", args.step_timeout.as_millis());
    }
    tail
}

/// Whether `--case` lets a case run.
fn wanted(case: &conformance::transcript::CheckedCase, only: Option<&str>) -> bool {
    only.is_none_or(|name| case.name == name)
}

/// A key prefix no other run shares: `{prefix}` in transcripts becomes it.
pub(crate) fn run_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("c{:x}{:x}-", std::process::id(), nanos & 0xffff)
}

fn tls_config(args: &RunArgs) -> Result<Option<TlsClient>, String> {
    if !args.tls {
        return Ok(None);
    }
    let Some(ca) = &args.ca else {
        return Err("--tls needs --ca FILE (the certificates to trust)".into());
    };
    let pem = std::fs::read(ca).map_err(|e| format!("cannot read `{}`: {e}", ca.display()))?;
    let mut client = TlsClient::from_ca_pem(&pem).map_err(|e| format!("`{}`: {e}", ca.display()))?;
    if let Some(name) = &args.server_name {
        client = client.with_server_name(name.clone());
    }
    Ok(Some(client))
}

/// A progress bar, shown only on a terminal and only once a run has taken
/// more than a second.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total),
                indicatif::ProgressDrawTarget::hidden(),
            );
            if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases {elapsed}")
            {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
        }
    }
    fn tick(&self) {
        if let Some(bar) = &self.bar {
            if bar.is_hidden() && self.started.elapsed() > Duration::from_secs(1) {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.inc(1);
        }
    }
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Writes the JUnit and JSON reports that were asked for.
pub(crate) fn write_reports(
    report: &RunReport,
    junit: Option<&Path>,
    json: Option<&Path>,
) -> Result<(), ExitCode> {
    let outputs = [
        (
            junit,
            conformance::report::junit::render as fn(&RunReport) -> String,
        ),
        (json, conformance::report::json::render),
    ];
    for (path, render) in outputs {
        if let Some(path) = path {
            if let Err(e) = std::fs::write(path, render(report)) {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(())
}
