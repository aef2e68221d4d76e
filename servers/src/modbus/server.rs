//! The connection handler, on the generated dynamic API. Each request is
//! answered before the next is read, in the order they came; replies to
//! requests that arrived together (a client pipelining by transaction id)
//! are queued and written together once no further request is buffered.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;

use protocol_runtime::server::{Accept, ServerStats};
use protocol_runtime::Error as RtError;

use crate::specs::modbus::dynamic::{Received, Server};
use crate::specs::modbus::{self as mb, ClientMessage};

use super::{ModbusConfig, Tables, Unit};

/// Serves Modbus/TCP on `listener` until `shutdown`.
pub async fn serve(
    listener: impl Accept,
    config: ModbusConfig,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let unit = Arc::new(Unit::new(config.unit, Tables::for_config(&config)));
    mb::server::serve(
        listener,
        config.server,
        stats,
        move |start: mb::server::Open| handle(Arc::clone(&unit), start.into_dynamic()),
        shutdown,
    )
    .await
}

/// Serves one connection until the client closes.
pub async fn handle(unit: Arc<Unit>, mut conn: Server) -> Result<(), RtError> {
    let mut unflushed = 0;
    loop {
        let received = match next_request(&mut conn, &mut unflushed).await {
            Ok(r) => r,
            Err(e) => {
                // What earlier requests are owed still goes out (boxed, so
                // that its state does not sit in every idle connection).
                let _ = Box::pin(conn.flush()).await;
                return match e {
                    RtError::ShuttingDown => Ok(()),
                    e => Err(e),
                };
            }
        };
        let msg: ClientMessage = match received {
            Received::Message(msg) | Received::Discarded(msg, _) => msg,
            // The spec has a fallback request for every well-formed header
            // and no bare `otherwise`, so neither of these comes; were one
            // to, there is no transaction id to answer under.
            Received::Unrecognized(_) | Received::Malformed(..) => {
                let _ = Box::pin(conn.close()).await;
                return Ok(());
            }
            Received::Closed => {
                let _ = Box::pin(conn.close()).await;
                return Ok(());
            }
        };
        let reply = unit.execute(msg);
        conn.queue(reply)?;
        unflushed += 1;
    }
}

/// Replies queued past this many are written before the next request is
/// read, so that a client pipelining without end cannot make them pile up
/// (at most 260 bytes each).
const FLUSH_AT: usize = 256;

/// The next request: one already buffered if it can be decoded without
/// waiting, else, after the queued replies are written, the next to come.
async fn next_request(conn: &mut Server, unflushed: &mut usize) -> Result<Received<ClientMessage>, RtError> {
    if *unflushed < FLUSH_AT && !conn.connection().buffered().is_empty() {
        // `recv` is cancel-safe: polled once, then dropped if the rest of a
        // request has yet to come, it loses nothing.
        let ready = {
            let mut recv = std::pin::pin!(conn.recv());
            std::future::poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await
        };
        if let Poll::Ready(r) = ready {
            return r;
        }
    }
    if *unflushed > 0 {
        conn.flush().await?;
        *unflushed = 0;
    }
    conn.recv().await
}
