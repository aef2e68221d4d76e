//! The connection handler, on the generated dynamic API: queries are
//! answered in order, answers are queued and written together once no
//! further query is buffered (so a pipelined batch is answered with one
//! write, and a client sending one query at a time gets each answer at
//! once).

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::Poll;

use protocol_runtime::server::{Accept, ServerStats};
use protocol_runtime::Error as RtError;

use crate::specs::dns::dynamic::{Received, Server};
use crate::specs::dns::{self, ClientMessage};

use super::{DnsConfig, Rotation, Zone};

/// Serves DNS over TCP on `listener` until `shutdown`.
pub async fn serve(
    listener: impl Accept,
    config: DnsConfig,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let zone = config.zone;
    dns::server::serve(
        listener,
        config.server,
        stats,
        move |start: dns::server::Open| handle(Arc::clone(&zone), start.into_dynamic()),
        shutdown,
    )
    .await
}

/// Answers written before the next query is read once they pass this many
/// bytes, so that a client pipelining without end cannot make them pile up.
const FLUSH_AT: usize = 64 * 1024;

/// Serves one connection until the client closes.
pub async fn handle(zone: Arc<Zone>, mut conn: Server) -> Result<(), RtError> {
    let mut rotation = Rotation::default();
    // Roughly the bytes queued and not yet written.
    let mut unflushed = 0;
    loop {
        let received = match next_query(&mut conn, &mut unflushed).await {
            Ok(r) => r,
            Err(e) => {
                // What earlier queries are owed still goes out. (Boxed, so
                // that its state does not sit in every idle connection's
                // future.)
                let _ = Box::pin(conn.flush()).await;
                return match e {
                    RtError::ShuttingDown => Ok(()),
                    e => Err(e),
                };
            }
        };
        match received {
            Received::Message(ClientMessage::Query(q)) => {
                let answer = zone.answer(&q, &mut rotation);
                unflushed += 12 + answer.questions.len() * 16 + answer.answers.len() * 28;
                conn.queue(answer)?;
            }
            // The spec has no `otherwise` and no discarded data: what does
            // not parse is an error of `recv`.
            Received::Discarded(..) | Received::Unrecognized(_) | Received::Malformed(..) => {
                let _ = Box::pin(conn.close()).await;
                return Ok(());
            }
            Received::Closed => {
                // The client is gone or going: a failed last write is no
                // fault.
                let _ = Box::pin(conn.close()).await;
                return Ok(());
            }
        }
    }
}

/// The next query: one already buffered if it can be decoded without
/// waiting, else, after the queued answers are written, the next to come.
async fn next_query(conn: &mut Server, unflushed: &mut usize) -> Result<Received<ClientMessage>, RtError> {
    if *unflushed < FLUSH_AT && !conn.connection().buffered().is_empty() {
        // `recv` is cancel-safe: polled once, then dropped if the rest of a
        // query has yet to come, it loses nothing.
        let ready = {
            let mut recv = std::pin::pin!(conn.recv());
            std::future::poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await
        };
        if let Poll::Ready(r) = ready {
            return r;
        }
    }
    conn.flush().await?;
    *unflushed = 0;
    conn.recv().await
}
