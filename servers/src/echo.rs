//! The echo server (RFC 862): every byte back, until the client half-closes.

use std::future::Future;
use std::sync::Arc;

use protocol_runtime::server::{Accept, ServerConfig, ServerStats};
use protocol_runtime::Error;

use crate::specs::echo::{self, server};

/// Serves echo on `listener` until `shutdown`.
pub async fn serve(
    listener: impl Accept,
    config: ServerConfig,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    server::serve(listener, config, stats, handle, shutdown).await
}

async fn handle(mut open: server::Open) -> Result<(), Error> {
    loop {
        open = match open.recv().await? {
            server::OpenEvent::Data(chunk, open) => {
                open.send_echoed(echo::Echoed { data: chunk.data }).await?
            }
            server::OpenEvent::HalfClosed(draining) => return draining.close().await,
        };
    }
}
