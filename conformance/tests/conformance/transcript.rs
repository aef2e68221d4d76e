//! Transcripts as a user writes them: the errors the checker reports (where
//! they point, and that one mistake is reported once).

use std::path::Path;

use protocol_runtime::layout::Role;

/// The rendered errors of a transcript that must be rejected.
fn errors(text: &str) -> String {
    match conformance::transcript::load_str(Path::new("case.transcript"), text, Role::Client) {
        Ok(_) => panic!("the transcript should be rejected:\n{text}"),
        Err(e) => e.rendered,
    }
}

/// A step without fields is underlined up to its end, not into the next line.
#[test]
fn an_error_on_a_step_without_fields_ends_with_the_step() {
    let out = errors(
        "spec memcached\n\ncase \"a value without fields\"\n  client Get { cmd: \"get\", keys: [\"k\"] }\n  server Value\n  server End\n",
    );
    assert!(!out.contains("6 |"), "the error runs into the next step:\n{out}");
    insta::assert_snapshot!(out);
}

/// The same for a step that ends in an optional `within`.
#[test]
fn an_error_on_a_step_without_within_ends_with_the_step() {
    let out = errors("spec echo\n\ncase \"reset\"\n  client resets\n  server closes\n");
    assert!(!out.contains("5 |"), "the error runs into the next step:\n{out}");
    insta::assert_snapshot!(out);
}

/// A message name the spec does not have, alone on its line: the step's
/// span is the name, and the steps after it are not reported as out of order.
#[test]
fn an_unknown_message_without_fields_is_reported_once() {
    let out = errors("spec greeting\n\ncase \"version\"\n  server Prompt\n  client Version   # no such message\n  server Welcome { name: \"x\" }\n");
    assert!(!out.contains("6 |"), "the error runs into the next step:\n{out}");
    assert_eq!(out.matches("error").count(), 1, "{out}");
    insta::assert_snapshot!(out);
}

/// A step with a missing field is one error: the steps after it are checked
/// as if it were right, not reported as out of order.
#[test]
fn a_missing_field_does_not_make_the_next_step_an_error() {
    let out = errors(
        "spec greeting\n\ncase \"no name\"\n  server Prompt\n  client Name { }\n  server Welcome { name: \"x\" }\n",
    );
    assert!(out.contains("field `name` of `Name` is missing"), "{out}");
    assert!(
        !out.contains("may not send"),
        "a second, misleading error:\n{out}"
    );
    assert_eq!(out.matches("error").count(), 1, "{out}");
}

/// After a step the state machine does not allow, the case's order is not
/// checked further (the state is unknown), but its messages still are.
#[test]
fn a_step_out_of_order_is_reported_once() {
    let out = errors(
        "spec greeting\n\ncase \"name first\"\n  client Name { name: \"x\" }\n  server Prompt\n  server Welcome { name: \"x\" }\n  server Welcome { name: 1 }\n",
    );
    assert!(out.contains("may not send `Name`"), "{out}");
    assert!(
        !out.contains("may not send `Welcome`"),
        "a second, misleading error:\n{out}"
    );
    assert!(out.contains("field `name` takes a string"), "{out}");
    assert_eq!(out.matches("error").count(), 2, "{out}");
}

/// Plays the one case of `text` against a server that accepts and never
/// sends; returns how long the case took to fail.
async fn against_a_silent_server(text: &str) -> std::time::Duration {
    use conformance::runner::{run_case, Outcome, RunConfig, Split};
    use protocol_runtime::transport::Address;

    let suite = conformance::transcript::load_str(Path::new("case.transcript"), text, Role::Client)
        .unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        drop(conn);
    });
    let cfg = RunConfig {
        target: Address::Tcp(addr.to_string()),
        tls: None,
        split: Split::Whole,
        prefix: "t-".into(),
        step_timeout: std::time::Duration::from_secs(5),
        connect_timeout: std::time::Duration::from_secs(2),
    };
    let started = std::time::Instant::now();
    let report = run_case(&suite, &suite.cases[0], &cfg).await;
    let took = started.elapsed();
    server.abort();
    assert!(
        matches!(report.outcome, Outcome::Failed(_)),
        "{:?}",
        report.outcome
    );
    took
}

/// A case's `timeout` applies to its raw expectations as to its messages.
#[tokio::test]
async fn a_raw_step_waits_the_case_timeout() {
    let took =
        against_a_silent_server("spec echo\n\ncase \"raw\" timeout 300ms\n  raw server \"never\"\n").await;
    assert!(took < std::time::Duration::from_secs(2), "waited {took:?}");
}

/// A raw expectation takes `within`, as a message does.
#[tokio::test]
async fn a_raw_step_takes_within() {
    let took =
        against_a_silent_server("spec echo\n\ncase \"raw\"\n  raw server \"never\" within 300ms\n").await;
    assert!(took < std::time::Duration::from_secs(2), "waited {took:?}");
}

/// `|` between field values is not the language's way to list acceptable
/// answers: the error says how they are written, and where to read more.
#[test]
fn alternatives_between_field_values_say_how_alternatives_are_written() {
    let out = errors(
        "spec memcached\n\ncase \"either\"\n  client Get { cmd: \"get\", keys: [\"k\"] }\n  server Value { key: \"k\", flags: \"0\" | \"2\", cas: none, data: \"x\" }\n  server End\n",
    );
    assert!(!out.contains("expected a value"), "{out}");
    assert!(out.contains("alternatives are written"), "{out}");
    assert!(out.contains("Several acceptable answers"), "{out}");
    insta::assert_snapshot!(out);
}
