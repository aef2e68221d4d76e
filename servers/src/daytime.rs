//! The daytime server (RFC 867): the time as one line, then close.

use std::future::Future;
use std::sync::Arc;

use protocol_runtime::server::{Accept, ServerConfig, ServerStats};

use crate::specs::daytime;

/// Serves daytime on `listener` until `shutdown`.
pub async fn serve(
    listener: impl Accept,
    config: ServerConfig,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    daytime::server::serve(
        listener,
        config,
        stats,
        |conn| async move {
            conn.send_time(daytime::Time {
                time: crate::clock::now(),
            })
            .await
        },
        shutdown,
    )
    .await
}

/// Asks a daytime server for the time.
pub async fn fetch(target: &str) -> Result<String, protocol_runtime::Error> {
    let conn = daytime::client::connect(target).await?;
    let daytime::client::ConnectedEvent::Time(t) = conn.recv().await?;
    Ok(t.time)
}
