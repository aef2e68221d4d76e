//! What every server binary shares: `--listen`, limits, logging, Ctrl-C.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use protocol_runtime::server::{ServerConfig, ServerStats};
use protocol_runtime::transport::{Address, Listener, TlsServer};

/// Options common to the server binaries.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on: `host:port` or `unix:/path`.
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// Connections served at once.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds live connections may take to finish after Ctrl-C.
    #[arg(long, default_value_t = 5)]
    pub shutdown_grace: u64,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl ServerArgs {
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                let read = |p: &std::path::Path| {
                    std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", p.display()))
                };
                let tls = TlsServer::from_pem(&read(cert)?, &read(key)?)
                    .map_err(|e| anyhow::anyhow!("bad TLS certificate or key: {e}"))?;
                Some(tls)
            }
            _ => None,
        };
        Ok(ServerConfig {
            max_connections: self.max_connections,
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            tls,
            ..ServerConfig::default()
        })
    }

    pub async fn bind(&self) -> anyhow::Result<Listener> {
        let addr: Address = self.listen.parse().map_err(anyhow::Error::msg)?;
        let listener = Listener::bind(&addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", self.listen))?;
        eprintln!("listening on {}", listener.local_addr()?);
        Ok(listener)
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Completes on Ctrl-C (or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Fresh counters for a server.
pub fn stats() -> Arc<ServerStats> {
    Arc::new(ServerStats::default())
}

/// A binary's exit: the error on one `error:` line (no backtrace, whatever
/// `RUST_BACKTRACE` says) and status 1.
pub fn exit_with(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a binary's `main` on `threads` worker threads and exits as
/// [`exit_with`] does. One thread gets the current-thread scheduler, which
/// has no cross-thread wake-ups to pay for (measured in BENCHMARKS.md).
pub fn run_on_threads(threads: u16, main: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(threads))
            .enable_all()
            .build()
    };
    match runtime {
        Ok(rt) => exit_with(rt.block_on(main)),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The whole of a reference server binary: parse `--listen` and the limits,
/// log, bind, and serve with `serve` until Ctrl-C.
pub fn server_main<F, Fut>(name: &'static str, about: &'static str, serve: F) -> ExitCode
where
    F: FnOnce(Listener, ServerConfig, Arc<ServerStats>, Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    use clap::{Args as _, FromArgMatches as _};
    // The struct's doc comment would otherwise become the binary's about.
    let command =
        ServerArgs::augment_args(clap::Command::new(name).version(env!("CARGO_PKG_VERSION"))).about(about);
    let args = ServerArgs::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    init_logging();
    exit_with((|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(async {
                let listener = args.bind().await?;
                let config = args.config()?;
                serve(listener, config, stats(), Box::pin(shutdown_signal())).await?;
                Ok(())
            })
    })())
}
