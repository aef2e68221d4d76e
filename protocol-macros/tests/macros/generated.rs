//! Every shipped spec expands to code that compiles, and the typestate API
//! carries a conversation over the in-memory transport.

protocol_macros::protocol!("../specs/daytime.proto");
protocol_macros::protocol!("../specs/echo.proto");
protocol_macros::protocol!("../specs/greeting.proto");
protocol_macros::protocol!("../specs/memcached_get.proto");
protocol_macros::protocol!("../specs/memcached.proto");

#[tokio::test]
async fn greeting_over_memory() {
    let (c, s) = protocol_runtime::transport::Stream::memory_pair(1024);
    let server = tokio::spawn(async move {
        let start = greeting::server::from_stream(s);
        let asking = start.send_prompt(greeting::Prompt).await?;
        match asking.recv().await? {
            greeting::server::AskingEvent::Name(name, answer) => {
                answer.send_welcome(greeting::Welcome { name: name.name }).await
            }
            greeting::server::AskingEvent::Closed => Ok(()),
        }
    });
    let start = greeting::client::from_stream(c);
    let greeting::client::StartEvent::Prompt(_, asking) = start.recv().await.unwrap();
    let answer = asking
        .send_name(greeting::Name { name: "Ann".into() })
        .await
        .unwrap();
    let greeting::client::AnswerEvent::Welcome(w) = answer.recv().await.unwrap();
    assert_eq!(w.name, "Ann");
    server.await.unwrap().unwrap();
}

/// The stream adaptor yields what the peer sends until it closes.
#[tokio::test]
async fn dynamic_stream_adaptor_consumes_actively() {
    use protocol_runtime::futures_util::StreamExt;
    let (c, s) = protocol_runtime::transport::Stream::memory_pair(1024);
    let server = tokio::spawn(async move {
        let received: Vec<_> = echo::dynamic::Server::from_stream(s)
            .into_stream()
            .collect()
            .await;
        received
    });
    let mut client = echo::dynamic::Client::from_stream(c);
    client.send(echo::Data { data: "one".into() }).await.unwrap();
    client.shutdown_write().await.unwrap();
    let received = server.await.unwrap();
    assert_eq!(received.len(), 2, "{received:?}");
    assert!(
        matches!(&received[0], Ok(echo::dynamic::Received::Message(echo::ClientMessage::Data(d))) if &d.data[..] == b"one")
    );
    assert!(matches!(received[1], Ok(echo::dynamic::Received::Closed)));
}
