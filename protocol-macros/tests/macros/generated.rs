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
