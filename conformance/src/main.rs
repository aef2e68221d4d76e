//! `conformance`: checks protospec specs (and, in later subcommands, replays
//! transcripts against live endpoints).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod bundled;
mod record;
mod run;
mod serve;
mod wait;

#[derive(Parser)]
#[command(
    name = "conformance",
    version,
    about = "Check protocol specs and replay conformance transcripts"
)]
struct Cli {
    /// When to color diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Replay transcripts against a live server, playing the client.
    ///
    /// Each case runs on its own connection. Without `--target`, each suite
    /// runs against the project's reference server for its spec, started
    /// in-process on an ephemeral loopback port; with no PATH, a bundled
    /// suite whose spec has none is skipped, with the commands that run it
    /// against a real server.
    ///
    /// Exit status: 0 when every case passes, 1 when any fails, 2 for usage
    /// errors or invalid transcripts, 3 when the target cannot be reached.
    #[command(after_help = "Examples:\n  \
        conformance run                                   # the bundled suites, built-in servers\n  \
        conformance run conformance/suites/memcached --target 127.0.0.1:11211\n  \
        PORT=6400 conformance/suites/memcached/peer & conformance run conformance/suites/memcached --target 127.0.0.1:6400 --wait 30\n  \
        conformance run my.transcript --split bytes --junit report.xml\n  \
        conformance run --split random:42 --json report.json\n  \
        conformance run my.transcript --split sweep --max-splits 64\n  \
        conformance run my.transcript --case \"an empty name\" --split at:0:3\n\n\
        Split modes: whole (each step's bytes in one write), bytes (one byte per write),\n\
        random:SEED (cut at seeded random points), coalesce (every write a case can make\n\
        before it must wait for an answer, in one write), sweep (each case whole, then\n\
        once per cut point -- the first and last byte of each write, line ends,\n\
        delimiters, field boundaries -- one cut per replay, at most --max-splits per\n\
        case), at:WRITE:OFFSET[,...] (cut the case's WRITE-th write, from 0, after\n\
        OFFSET bytes). A failure under sweep or random:SEED is shrunk to its fewest\n\
        cuts and printed as a command that replays just it.\n\n\
        Transcript format: docs/transcripts.md")]
    Run(Box<run::RunArgs>),
    /// Play the server of transcripts, for testing a live client.
    ///
    /// Each client that connects gets the next case, in the order the
    /// transcripts list them (or only the case named with --case); the run
    /// stops when every case has been served (or after one with --once) and
    /// reports each client's deviations as `run` does.
    ///
    /// Exit status: 0 when every case passed, 1 when a client deviated or a
    /// case found no client, 2 for usage errors or invalid transcripts.
    #[command(after_help = "Examples:\n  \
        conformance serve conformance/suites/greeting --listen 127.0.0.1:7007\n  \
        conformance serve my.transcript --listen unix:/tmp/test.sock --case \"login\" --once")]
    Serve(Box<serve::ServeArgs>),
    /// Record live traffic as a transcript: a proxy between a real client and
    /// a real server.
    ///
    /// Clients connect to --listen; each connection is passed on to
    /// --upstream byte for byte, decoded with the spec, reported live where a
    /// side deviates from it, and written to --out as a case (the file is
    /// rewritten as each connection ends, so it is complete after Ctrl-C).
    /// `conformance run --target` replays the transcript. Fields the spec
    /// marks `volatile` (a cas unique, daytime's time) are written as
    /// captures or patterns of their shape; everything else exactly as seen,
    /// so a server that answers differently fails the replay. What the spec
    /// cannot name (input answered by `otherwise`, ignored input, everything
    /// after a deviation) is written as raw bytes.
    ///
    /// Exit status: 0 when every connection followed the spec, 1 when one
    /// deviated, 2 for usage errors or a spec with errors, 3 when the upstream
    /// server could not be reached.
    #[command(after_help = "Examples:\n  \
        conformance record memcached_get --listen 127.0.0.1:22122 --upstream 127.0.0.1:11211 --out get.transcript --once\n  \
        conformance run get.transcript --target 127.0.0.1:11211\n  \
        conformance record specs/daytime.proto --listen 127.0.0.1:1313 --upstream 127.0.0.1:13 --out daytime.transcript --connections 3\n\n\
        Transcript format: docs/transcripts.md")]
    Record(Box<record::RecordArgs>),
    /// Parse and check `.proto` specs and print their diagnostics.
    ///
    /// Exit status: 0 when no spec has an error (warnings are allowed),
    /// 1 when any has, 2 when a file cannot be read or the arguments are wrong.
    #[command(after_help = "Examples:\n  \
        conformance check specs/*.proto\n  \
        conformance check --deny-warnings specs/echo.proto\n  \
        conformance check --ir specs/greeting.proto")]
    Check {
        /// The spec files to check.
        #[arg(required = true, value_name = "SPEC")]
        specs: Vec<PathBuf>,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
        /// Print the checked IR of each spec that has no error.
        #[arg(long)]
        ir: bool,
    },
    /// Print a spec's state machine as a Mermaid flowchart or a Graphviz graph.
    ///
    /// One node per state (an arrow from an entry point marks the initial
    /// one; `duplex` and `ignore ROLE` are noted under the name) and one edge
    /// per rule, labelled with who sends which message and its framing:
    /// `server: Prompt [exact "HELLO?"]`. Exchanges and `otherwise` replies are
    /// self-loops (`client: Get → Value* End [line \r\n ≤64 KiB]`); `closes`,
    /// `-> close` and replies of `close` lead to a terminal `closed` node.
    ///
    /// Exit status: 0 when the graph is printed, 1 when the spec has errors
    /// (printed as `check` prints them), 2 when it cannot be read.
    #[command(after_help = "Examples:\n  \
        conformance graph specs/greeting.proto                 # Mermaid, for Markdown\n  \
        conformance graph specs/memcached.proto --format dot | dot -Tsvg > memcached.svg")]
    Graph {
        /// The spec file to draw.
        #[arg(value_name = "SPEC")]
        spec: PathBuf,
        /// The output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// A Mermaid `flowchart` (renders in GitHub Markdown).
    Mermaid,
    /// A Graphviz `digraph` (`dot -Tsvg`).
    Dot,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    match cli.command {
        Command::Check {
            specs,
            deny_warnings,
            ir,
        } => check(&specs, deny_warnings, ir, color),
        Command::Run(args) => run::main(*args),
        Command::Serve(args) => serve::main(*args),
        Command::Record(args) => record::main(*args),
        Command::Graph { spec, format } => graph(&spec, format, color),
    }
}

fn graph(path: &std::path::Path, format: GraphFormat, color: bool) -> ExitCode {
    let compiled = match protocol_dsl::compile_file(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    eprint!("{}", compiled.render(color));
    let Some(protocol) = &compiled.protocol else {
        let errors = compiled.diagnostics.error_count();
        eprintln!("{errors} error{} in {}", plural(errors), path.display());
        return ExitCode::from(1);
    };
    let text = match format {
        GraphFormat::Mermaid => conformance::graph::mermaid(protocol),
        GraphFormat::Dot => conformance::graph::dot(protocol),
    };
    print!("{text}");
    ExitCode::SUCCESS
}

fn check(specs: &[PathBuf], deny_warnings: bool, print_ir: bool, color: bool) -> ExitCode {
    let mut failed = false;
    let mut unreadable = false;
    let (mut errors, mut warnings) = (0, 0);
    for path in specs {
        let compiled = match protocol_dsl::compile_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", path.display());
                unreadable = true;
                continue;
            }
        };
        eprint!("{}", compiled.render(color));
        errors += compiled.diagnostics.error_count();
        warnings += compiled.diagnostics.warning_count();
        let bad =
            compiled.diagnostics.has_errors() || (deny_warnings && compiled.diagnostics.warning_count() > 0);
        failed |= bad;
        if print_ir {
            if let Some(text) = compiled.ir_text() {
                println!("{text}");
            }
        }
        if !bad {
            eprintln!(
                "ok: {} ({} warning{})",
                path.display(),
                compiled.diagnostics.warning_count(),
                plural(compiled.diagnostics.warning_count())
            );
        }
    }
    if errors + warnings > 0 {
        eprintln!(
            "{errors} error{}, {warnings} warning{} in {} spec{}",
            plural(errors),
            plural(warnings),
            specs.len(),
            plural(specs.len())
        );
    }
    if unreadable {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
