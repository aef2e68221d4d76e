//! Whole conversations with a `Connection` on each end, over every transport:
//! TCP, Unix sockets, TLS over both, and the in-memory pair; TLS failures;
//! address parsing.

use std::path::PathBuf;
use std::time::Duration;

use protocol_runtime::connection::Connection;
use protocol_runtime::layout::Role;
use protocol_runtime::session::Event;
use protocol_runtime::transport::{Address, Listener, Stream, TlsClient, TlsServer};
use protocol_runtime::{Error, Value};

use crate::{blob, msg, spec};

/// The whole test may not hang on a transport.
const LIMIT: Duration = Duration::from_secs(20);

/// The greeting's server side: prompt, read the name, greet, close. Returns
/// the name.
async fn serve_greeting(stream: Stream) -> Result<Value, Error> {
    let sp = spec("greeting");
    let mut conn = Connection::new(stream, sp.clone(), Role::Server);
    conn.send(&msg(&sp, "Prompt", vec![])).await?;
    let name = match conn.recv().await? {
        Event::Message(m) if m.id == sp.message("Name").unwrap() => m.fields[0].clone(),
        other => return Err(Error::Misuse(format!("unexpected {other:?}"))),
    };
    conn.send(&msg(&sp, "Welcome", vec![name.clone()])).await?;
    assert!(conn.session().is_finished());
    conn.close().await?;
    Ok(name)
}

/// The greeting's client side: every event it receives.
async fn greet(stream: Stream, name: &str) -> Vec<Event> {
    let sp = spec("greeting");
    let mut conn = Connection::new(stream, sp.clone(), Role::Client);
    let mut events = vec![conn.recv().await.unwrap()];
    conn.send(&msg(&sp, "Name", vec![name.into()])).await.unwrap();
    events.push(conn.recv().await.unwrap());
    events.push(conn.recv().await.unwrap());
    events
}

fn greeting_events(name: &str) -> Vec<Event> {
    let sp = spec("greeting");
    vec![
        Event::Message(msg(&sp, "Prompt", vec![])),
        Event::Message(msg(&sp, "Welcome", vec![name.into()])),
        Event::Closed,
    ]
}

/// Runs a greeting over a listener: the server side accepts (wrapping the
/// stream in TLS if given), the client connects.
async fn greeting_over(listener: Listener, tls: Option<(TlsServer, TlsClient)>, name: &str) {
    let addr = listener.local_addr().unwrap();
    let (tls_server, tls_client) = tls.unzip();
    let server = tokio::spawn(async move {
        let (stream, _peer) = listener.accept().await.unwrap();
        let stream = match tls_server {
            Some(tls) => tls.accept(stream).await.unwrap(),
            None => stream,
        };
        serve_greeting(stream).await
    });
    let run = async {
        let client = Stream::connect(&addr, tls_client.as_ref()).await.unwrap();
        assert_eq!(greet(client, name).await, greeting_events(name));
        assert_eq!(server.await.unwrap().unwrap(), Value::from(name));
    };
    tokio::time::timeout(LIMIT, run)
        .await
        .expect("the greeting finishes");
}

fn tcp_any_port() -> Address {
    "127.0.0.1:0".parse().unwrap()
}

fn self_signed(names: &[&str]) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let ck = rcgen::generate_simple_self_signed(names).unwrap();
    (ck.cert.pem(), ck.signing_key.serialize_pem())
}

fn tls_pair(server_names: &[&str], trusted_pem: Option<&str>, name: &str) -> (TlsServer, TlsClient) {
    let (cert, key) = self_signed(server_names);
    let server = TlsServer::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let ca = trusted_pem.unwrap_or(&cert);
    let client = TlsClient::from_ca_pem(ca.as_bytes())
        .unwrap()
        .with_server_name(name);
    (server, client)
}

#[tokio::test]
async fn greeting_over_tcp() {
    let listener = Listener::bind(&tcp_any_port()).await.unwrap();
    match listener.local_addr().unwrap() {
        Address::Tcp(a) => assert!(a.starts_with("127.0.0.1:") && !a.ends_with(":0"), "{a}"),
        other => panic!("{other:?}"),
    }
    greeting_over(listener, None, "Ann").await;
}

#[tokio::test]
async fn greeting_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let addr: Address = format!("unix:{}", dir.path().join("greeting.sock").display())
        .parse()
        .unwrap();
    let listener = Listener::bind(&addr).await.unwrap();
    assert_eq!(listener.local_addr().unwrap(), addr);
    greeting_over(listener, None, "Ann").await;
}

/// A socket file left by a listener that is gone is replaced on bind.
#[tokio::test]
async fn a_stale_unix_socket_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale.sock");
    let addr = Address::Unix(path.clone());
    drop(Listener::bind(&addr).await.unwrap());
    assert!(path.exists(), "the old socket file is still there");
    let listener = Listener::bind(&addr).await.unwrap();
    greeting_over(listener, None, "Bo").await;
}

#[tokio::test]
async fn greeting_over_tls_over_tcp() {
    let listener = Listener::bind(&tcp_any_port()).await.unwrap();
    let Address::Tcp(bound) = listener.local_addr().unwrap() else {
        panic!("not TCP");
    };
    let port = bound.rsplit_once(':').unwrap().1.to_string();
    assert_eq!(
        listener.local_addr().unwrap(),
        Address::Tcp(format!("127.0.0.1:{port}"))
    );
    greeting_over(listener, Some(tls_pair(&["localhost"], None, "localhost")), "Ann").await;
}

#[tokio::test]
async fn greeting_over_tls_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let listener = Listener::bind(&Address::Unix(dir.path().join("tls.sock")))
        .await
        .unwrap();
    greeting_over(listener, Some(tls_pair(&["localhost"], None, "localhost")), "Zoë").await;
}

#[tokio::test]
async fn greeting_over_the_in_memory_pair() {
    let (client, server) = Stream::memory_pair(16);
    let server = tokio::spawn(serve_greeting(server));
    assert_eq!(greet(client, "Ann").await, greeting_events("Ann"));
    assert_eq!(server.await.unwrap().unwrap(), Value::from("Ann"));
}

/// Pipelined gets over TCP: three requests in one write, the replies in one
/// write, each matched to its request.
#[tokio::test]
async fn pipelined_memcached_get_over_tcp() {
    let sp = spec("memcached_get");
    let listener = Listener::bind(&tcp_any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_spec = sp.clone();
    let server = tokio::spawn(async move {
        let sp = server_spec;
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = Connection::new(stream, sp.clone(), Role::Server);
        let mut keys = Vec::new();
        loop {
            match conn.recv().await.unwrap() {
                Event::Message(m) => keys.push(m.fields[1].clone()),
                Event::Closed => break,
                other => panic!("unexpected {other:?}"),
            }
            if keys.len() == 3 {
                let all: Vec<u8> = (0..=255u8).collect();
                conn.queue(&msg(
                    &sp,
                    "Value",
                    vec![
                        "a".into(),
                        Value::U64(1),
                        Value::U64(256),
                        Value::Absent,
                        blob(&all),
                    ],
                ))
                .unwrap();
                conn.queue(&msg(&sp, "End", vec![])).unwrap();
                conn.queue(&msg(&sp, "End", vec![])).unwrap();
                conn.queue(&msg(&sp, "ServerError", vec!["busy".into()])).unwrap();
                conn.flush().await.unwrap();
            }
        }
        keys
    });
    let run = async {
        let mut conn = Connection::new(
            Stream::connect(&addr, None).await.unwrap(),
            sp.clone(),
            Role::Client,
        );
        for k in ["a", "b", "c"] {
            conn.queue(&msg(
                &sp,
                "Get",
                vec![Value::Choice(0), Value::List(vec![k.into()])],
            ))
            .unwrap();
        }
        conn.flush().await.unwrap();
        assert_eq!(conn.session().pending_replies(), 3);
        let mut events = Vec::new();
        while conn.session().pending_replies() > 0 {
            events.push(conn.recv().await.unwrap());
        }
        let all: Vec<u8> = (0..=255u8).collect();
        assert_eq!(
            events,
            vec![
                Event::Message(msg(
                    &sp,
                    "Value",
                    vec![
                        "a".into(),
                        Value::U64(1),
                        Value::U64(256),
                        Value::Absent,
                        blob(&all)
                    ]
                )),
                Event::Message(msg(&sp, "End", vec![])),
                Event::Message(msg(&sp, "End", vec![])),
                Event::Message(msg(&sp, "ServerError", vec!["busy".into()])),
            ]
        );
        assert!(conn.session().may_close());
        conn.close().await.unwrap();
        let keys: Vec<Value> = ["a", "b", "c"]
            .iter()
            .map(|k| Value::List(vec![Value::from(*k)]))
            .collect();
        assert_eq!(server.await.unwrap(), keys);
    };
    tokio::time::timeout(LIMIT, run)
        .await
        .expect("the exchange finishes");
}

/// Connects a TLS client to a TLS server and returns the client's error.
async fn tls_failure(server: TlsServer, client: TlsClient) -> std::io::Error {
    let listener = Listener::bind(&tcp_any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        // The server's side of the handshake fails too; only the client's
        // error is checked.
        server.accept(stream).await.err()
    });
    let err = tokio::time::timeout(LIMIT, Stream::connect(&addr, Some(&client)))
        .await
        .expect("the handshake ends")
        .expect_err("the handshake must fail");
    let _ = tokio::time::timeout(LIMIT, accept).await;
    err
}

#[tokio::test]
async fn a_tls_client_trusting_another_ca_is_refused() {
    let (other_ca, _) = self_signed(&["localhost"]);
    let (server, client) = tls_pair(&["localhost"], Some(&other_ca), "localhost");
    let err = tls_failure(server, client).await;
    let text = err.to_string();
    // The other CA has the same subject, so the signature is what fails.
    assert!(text.contains("invalid peer certificate"), "{text}");
}

#[tokio::test]
async fn a_tls_certificate_for_another_name_is_refused() {
    let (server, client) = tls_pair(&["localhost"], None, "example.com");
    let text = tls_failure(server, client).await.to_string();
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(text.contains("not valid for name \"example.com\""), "{text}");
}

#[test]
fn bad_tls_configuration_is_an_error() {
    let err = TlsClient::from_ca_pem(b"not a certificate").err().expect("no CA");
    assert!(err.to_string().contains("no certificate"), "{err}");
    let (cert, key) = self_signed(&["localhost"]);
    let err = TlsServer::from_pem(cert.as_bytes(), b"").err().expect("no key");
    assert!(err.to_string().contains("no private key"), "{err}");
    let (_, other_key) = self_signed(&["localhost"]);
    assert!(
        TlsServer::from_pem(cert.as_bytes(), other_key.as_bytes()).is_err(),
        "a key that is not the cert's"
    );
    assert!(TlsServer::from_pem(cert.as_bytes(), key.as_bytes()).is_ok());
}

#[tokio::test]
async fn tls_over_a_unix_socket_needs_a_server_name() {
    let dir = tempfile::tempdir().unwrap();
    let addr = Address::Unix(dir.path().join("s.sock"));
    let _listener = Listener::bind(&addr).await.unwrap();
    let (cert, _) = self_signed(&["localhost"]);
    let client = TlsClient::from_ca_pem(cert.as_bytes()).unwrap();
    let err = Stream::connect(&addr, Some(&client)).await.unwrap_err();
    assert!(err.to_string().contains("server name"), "{err}");
}

#[tokio::test]
async fn connecting_to_nothing_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = Stream::connect(&Address::Unix(dir.path().join("nobody.sock")), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn addresses_parse_and_print() {
    let good = [
        ("127.0.0.1:11211", Address::Tcp("127.0.0.1:11211".into())),
        ("localhost:7", Address::Tcp("localhost:7".into())),
        ("[::1]:7", Address::Tcp("[::1]:7".into())),
        ("example.com:65535", Address::Tcp("example.com:65535".into())),
        ("unix:/p", Address::Unix(PathBuf::from("/p"))),
        (
            "unix:relative/s.sock",
            Address::Unix(PathBuf::from("relative/s.sock")),
        ),
    ];
    for (text, addr) in good {
        assert_eq!(text.parse::<Address>(), Ok(addr.clone()), "{text}");
        assert_eq!(addr.to_string(), text);
    }
    for bad in [
        "",
        "localhost",
        ":80",
        "host:",
        "host:65536",
        "host:-1",
        "host:http",
        "[::1]",
        "unix:",
        "/tmp/app.sock",
    ] {
        let err = bad.parse::<Address>().expect_err(bad);
        assert!(err.contains("address") || err.contains("path"), "{bad}: {err}");
        assert!(err.contains(bad), "{bad}: `{err}` does not quote the input");
    }
}
