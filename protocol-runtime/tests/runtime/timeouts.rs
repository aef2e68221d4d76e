//! State timeouts and cancel safety of `Connection`, on the in-memory
//! transport with tokio's paused clock: virtual time only moves when every
//! task waits, so "ten seconds passed" is exact and instant.

use std::time::Duration;

use protocol_runtime::connection::Connection;
use protocol_runtime::layout::Role;
use protocol_runtime::session::Event;
use protocol_runtime::transport::Stream;
use protocol_runtime::{Error, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep, Instant};

use crate::{blob, msg, spec};

const SECOND: Duration = Duration::from_secs(1);

/// Asserts a timeout in `state` that came `expected` after `since`.
fn assert_timeout(result: Result<Event, Error>, state: &str, since: Instant, expected: Duration) {
    let waited = since.elapsed();
    match result {
        Err(Error::Timeout { state: s, .. }) => assert_eq!(s, state),
        other => panic!("expected a timeout in `{state}`, got {other:?}"),
    }
    assert_about(waited, expected);
}

/// Virtual time is exact up to the timer's millisecond ticks.
fn assert_about(waited: Duration, expected: Duration) {
    assert!(
        waited >= expected && waited <= expected + Duration::from_millis(20),
        "took {waited:?}, expected {expected:?}"
    );
}

async fn read_n(s: &mut Stream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).await.unwrap();
    buf
}

#[tokio::test(start_paused = true)]
async fn a_client_waiting_for_a_silent_server_times_out_at_the_state_timeout() {
    let (client_io, _server_io) = Stream::memory_pair(1024);
    let start = Instant::now();
    let mut client = Connection::new(client_io, spec("greeting"), Role::Client);
    let result = client.recv().await;
    match &result {
        Err(Error::Timeout {
            after, waiting_for, ..
        }) => {
            assert_eq!(*after, Duration::from_secs(10));
            assert_eq!(waiting_for, "`Prompt`");
        }
        other => panic!("{other:?}"),
    }
    assert_timeout(result, "Start", start, Duration::from_secs(10));
}

/// A peer that drips a valid name one byte a second, slower than the state
/// allows, is cut off ten seconds after its first byte (one second after
/// the state began), although bytes kept coming.
#[tokio::test(start_paused = true)]
async fn a_peer_dripping_bytes_cannot_hold_the_state_open() {
    let sp = spec("greeting");
    let (server_io, mut client_io) = Stream::memory_pair(1024);
    let mut server = Connection::new(server_io, sp.clone(), Role::Server);
    server.send(&msg(&sp, "Prompt", vec![])).await.unwrap();
    let entered = Instant::now();
    let dripper = tokio::spawn(async move {
        assert_eq!(read_n(&mut client_io, 6).await, b"HELLO?");
        for &b in b"Bartholomew the Third\r\n" {
            sleep(SECOND).await;
            if client_io.write_all(&[b]).await.is_err() {
                break;
            }
        }
        client_io
    });
    assert_timeout(server.recv().await, "Asking", entered, Duration::from_secs(11));
    let seen = server.buffered().len();
    assert!((9..=10).contains(&seen), "{seen} bytes of the name had arrived");
    drop(server);
    drop(dripper.await.unwrap());
}

/// The same drip, for a name short enough to finish in time, is received.
#[tokio::test(start_paused = true)]
async fn a_slow_message_that_completes_in_time_is_received() {
    let sp = spec("greeting");
    let (server_io, mut client_io) = Stream::memory_pair(1024);
    let mut server = Connection::new(server_io, sp.clone(), Role::Server);
    server.send(&msg(&sp, "Prompt", vec![])).await.unwrap();
    let entered = Instant::now();
    let dripper = tokio::spawn(async move {
        assert_eq!(read_n(&mut client_io, 6).await, b"HELLO?");
        for &b in b"Annabel\r\n" {
            sleep(SECOND).await;
            client_io.write_all(&[b]).await.unwrap();
        }
        client_io
    });
    let event = server.recv().await.unwrap();
    assert_eq!(event, Event::Message(msg(&sp, "Name", vec!["Annabel".into()])));
    assert_about(entered.elapsed(), Duration::from_secs(9));
    drop(dripper.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_per_connection_timeout_overrides_the_spec() {
    let sp = spec("greeting");
    let (server_io, _client_io) = Stream::memory_pair(1024);
    let mut server = Connection::new(server_io, sp.clone(), Role::Server);
    server.set_timeout(Some(Duration::from_secs(3)));
    server.send(&msg(&sp, "Prompt", vec![])).await.unwrap();
    let entered = Instant::now();
    let result = server.recv().await;
    assert!(matches!(&result, Err(Error::Timeout { after, .. }) if *after == Duration::from_secs(3)));
    assert_timeout(result, "Asking", entered, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_longer_per_connection_timeout_outlasts_the_spec() {
    let sp = spec("greeting");
    let (client_io, mut server_io) = Stream::memory_pair(1024);
    let mut client = Connection::new(client_io, sp.clone(), Role::Client);
    client.set_timeout(Some(Duration::from_secs(60)));
    let server = tokio::spawn(async move {
        sleep(Duration::from_secs(30)).await;
        server_io.write_all(b"HELLO?").await.unwrap();
        server_io
    });
    assert_eq!(
        client.recv().await.unwrap(),
        Event::Message(msg(&sp, "Prompt", vec![]))
    );
    // Back to the spec's 10 s.
    client.set_timeout(None);
    client.send(&msg(&sp, "Name", vec!["Ann".into()])).await.unwrap();
    let entered = Instant::now();
    assert_timeout(client.recv().await, "Answer", entered, Duration::from_secs(10));
    drop(server.await.unwrap());
}

/// A per-call deadline ends that call only; the state's own deadline still
/// counts from when the state began.
#[tokio::test(start_paused = true)]
async fn a_per_call_timeout_and_the_state_deadline() {
    let sp = spec("greeting");
    let (client_io, _silent) = Stream::memory_pair(1024);
    let start = Instant::now();
    let mut client = Connection::new(client_io, sp.clone(), Role::Client);
    assert_timeout(client.recv_timeout(SECOND).await, "Start", start, SECOND);
    // The state began at `start`: nine more seconds, not ten.
    let now = Instant::now();
    assert_timeout(
        client.recv_timeout(Duration::from_secs(60)).await,
        "Start",
        now,
        Duration::from_secs(9),
    );

    // A call that times out loses nothing: the prompt half-read during it
    // is whole in the next call.
    let (client_io, mut server_io) = Stream::memory_pair(1024);
    let mut client = Connection::new(client_io, sp.clone(), Role::Client);
    server_io.write_all(b"HEL").await.unwrap();
    let now = Instant::now();
    assert_timeout(client.recv_timeout(SECOND).await, "Start", now, SECOND);
    server_io.write_all(b"LO?").await.unwrap();
    assert_eq!(
        client.recv_timeout(SECOND).await.unwrap(),
        Event::Message(msg(&sp, "Prompt", vec![]))
    );
}

/// `recv` dropped by `select!` at many points of a reply, each time with
/// part of a message read: the messages still come out whole, once each.
#[tokio::test(start_paused = true)]
async fn recv_cancelled_mid_message_loses_and_duplicates_nothing() {
    let sp = spec("memcached_get");
    let (client_io, mut server_io) = Stream::memory_pair(1024);
    let mut client = Connection::new(client_io, sp.clone(), Role::Client);
    client
        .send(&msg(
            &sp,
            "Get",
            vec![Value::Choice(0), Value::List(vec!["k".into()])],
        ))
        .await
        .unwrap();
    assert_eq!(read_n(&mut server_io, 7).await, b"get k\r\n");
    let pieces: [&[u8]; 7] = [
        b"VAL",
        b"UE k 0 10\r\nhel",
        b"lo",
        b"world\r",
        b"\nEN",
        b"D",
        b"\r\n",
    ];
    let mut events = Vec::new();
    let mut cancelled_mid_message = 0;
    for piece in pieces {
        server_io.write_all(piece).await.unwrap();
        loop {
            tokio::select! {
                ev = client.recv() => events.push(ev.unwrap()),
                _ = sleep(SECOND) => break,
            }
        }
        if client.session().mid_message() || !client.buffered().is_empty() {
            cancelled_mid_message += 1;
        }
    }
    assert_eq!(cancelled_mid_message, 6);
    assert_eq!(
        events,
        vec![
            Event::Message(msg(
                &sp,
                "Value",
                vec![
                    "k".into(),
                    Value::U64(0),
                    Value::U64(10),
                    Value::Absent,
                    blob(b"helloworld")
                ]
            )),
            Event::Message(msg(&sp, "End", vec![])),
        ]
    );
    assert!(client.buffered().is_empty());
    assert_eq!(client.session().pending_replies(), 0);
}

/// The prompt arrives in two writes a while apart: one `Prompt`, then the
/// rest of the greeting.
#[tokio::test(start_paused = true)]
async fn a_prompt_split_across_writes_is_one_prompt() {
    let sp = spec("greeting");
    let (client_io, mut server_io) = Stream::memory_pair(1024);
    let mut client = Connection::new(client_io, sp.clone(), Role::Client);
    let server = tokio::spawn(async move {
        server_io.write_all(b"HEL").await.unwrap();
        sleep(Duration::from_secs(2)).await;
        server_io.write_all(b"LO?").await.unwrap();
        let name = read_n(&mut server_io, 5).await;
        assert_eq!(name, b"Ann\r\n");
        server_io.write_all(b"Hello, Ann!\r\n").await.unwrap();
        server_io.shutdown().await.unwrap();
        server_io
    });
    let start = Instant::now();
    let mut events = vec![client.recv().await.unwrap()];
    assert_about(start.elapsed(), Duration::from_secs(2));
    client.send(&msg(&sp, "Name", vec!["Ann".into()])).await.unwrap();
    events.push(client.recv().await.unwrap());
    events.push(client.recv().await.unwrap());
    assert_eq!(
        events,
        vec![
            Event::Message(msg(&sp, "Prompt", vec![])),
            Event::Message(msg(&sp, "Welcome", vec!["Ann".into()])),
            Event::Closed,
        ]
    );
    assert!(client.session().is_finished());
    drop(server.await.unwrap());
}

/// The deadline restarts with each complete message: a reply that comes
/// just inside each state's timeout keeps the conversation going.
#[tokio::test(start_paused = true)]
async fn the_deadline_restarts_after_each_message() {
    let sp = spec("greeting");
    let (server_io, mut client_io) = Stream::memory_pair(1024);
    let mut server = Connection::new(server_io, sp.clone(), Role::Server);
    sleep(Duration::from_secs(9)).await;
    server.send(&msg(&sp, "Prompt", vec![])).await.unwrap();
    let client = tokio::spawn(async move {
        assert_eq!(read_n(&mut client_io, 6).await, b"HELLO?");
        sleep(Duration::from_secs(9)).await;
        client_io.write_all(b"Ann\r\n").await.unwrap();
        client_io
    });
    // 18 s since the connection began, 9 s since the prompt.
    assert_eq!(
        server.recv().await.unwrap(),
        Event::Message(msg(&sp, "Name", vec!["Ann".into()]))
    );
    drop(client.await.unwrap());
}

const IDLE_NONE: &str = r#"protocol pool {
    framing line("\r\n", max = 64);
    timeout idle = none, message = 5s;
    client message Ping = "PING";
    server message Pong = "PONG";
    state Ready { exchange Ping -> Pong; client closes; }
}"#;

/// With `timeout idle = none`, a server waits for a pooled client's next
/// request as long as it takes (memcached never closes an idle client), but
/// a request that has begun must still end within the message timeout.
#[tokio::test(start_paused = true)]
async fn an_idle_peer_is_waited_for_but_a_begun_message_is_not() {
    let sp = crate::compile("pool", IDLE_NONE);
    let (server_io, mut client_io) = Stream::memory_pair(1024);
    let mut server = Connection::new(server_io, sp.clone(), Role::Server);
    let writer = tokio::spawn(async move {
        sleep(Duration::from_secs(24 * 3600)).await;
        client_io.write_all(b"PING\r\n").await.unwrap();
        sleep(Duration::from_secs(3600)).await;
        client_io.write_all(b"PI").await.unwrap();
        client_io
    });
    let start = Instant::now();
    assert_eq!(
        server.recv().await.unwrap(),
        Event::Message(msg(&sp, "Ping", vec![]))
    );
    assert_about(start.elapsed(), Duration::from_secs(24 * 3600));
    server.send(&msg(&sp, "Pong", vec![])).await.unwrap();
    let begun = Instant::now() + Duration::from_secs(3600);
    let result = server.recv().await;
    match &result {
        Err(Error::Timeout { after, .. }) => assert_eq!(*after, Duration::from_secs(5)),
        other => panic!("{other:?}"),
    }
    assert_about(begun.elapsed(), Duration::from_secs(5));
    drop(writer.await.unwrap());
}

/// A reply owed is waited for at the message timeout, idle or not.
#[tokio::test(start_paused = true)]
async fn an_owed_reply_is_waited_for_at_the_message_timeout() {
    let sp = crate::compile("pool", IDLE_NONE);
    let (client_io, _server_io) = Stream::memory_pair(1024);
    let mut client = Connection::new(client_io, sp.clone(), Role::Client);
    client.send(&msg(&sp, "Ping", vec![])).await.unwrap();
    let sent = Instant::now();
    assert_timeout(client.recv().await, "Ready", sent, Duration::from_secs(5));
}
