//! What every server binary shares: `--listen`, limits, logging, Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use protocol_runtime::server::{ServerConfig, ServerStats};
use protocol_runtime::transport::{Address, Listener};

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
}

impl ServerArgs {
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            max_connections: self.max_connections,
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            ..ServerConfig::default()
        }
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
