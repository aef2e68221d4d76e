//! The greeting server: `HELLO?`, a name, `Hello, <name>!`.

use std::future::Future;
use std::sync::Arc;

use protocol_runtime::server::{Accept, ServerConfig, ServerStats};
use protocol_runtime::Error;

use crate::specs::greeting::{self, client, server};

/// Serves the greeting on `listener` until `shutdown`.
pub async fn serve(
    listener: impl Accept,
    config: ServerConfig,
    stats: Arc<ServerStats>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    server::serve(listener, config, stats, handle, shutdown).await
}

async fn handle(start: server::Start) -> Result<(), Error> {
    let asking = start.send_prompt(greeting::Prompt).await?;
    match asking.recv().await? {
        server::AskingEvent::Name(name, answer) => {
            answer.send_welcome(greeting::Welcome { name: name.name }).await
        }
        server::AskingEvent::Closed => Ok(()),
    }
}

/// Greets a server as `name` and returns its answer (`Hello, <name>!`).
pub async fn greet(target: &str, name: &str) -> Result<String, Error> {
    greet_over(client::connect(target).await?, name).await
}

/// [`greet`] over a stream already connected (TLS, in-memory, ...).
pub async fn greet_on(stream: protocol_runtime::transport::Stream, name: &str) -> Result<String, Error> {
    greet_over(client::from_stream(stream), name).await
}

async fn greet_over(start: client::Start, name: &str) -> Result<String, Error> {
    let client::StartEvent::Prompt(_, asking) = start.recv().await?;
    let answer = asking.send_name(greeting::Name { name: name.into() }).await?;
    let client::AnswerEvent::Welcome(welcome) = answer.recv().await?;
    Ok(format!("Hello, {}!", welcome.name))
}
