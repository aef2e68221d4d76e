//! Every bundled suite catches at least one deliberately broken server: a
//! proxy in front of the reference server that changes what the server says
//! in a way the suites must notice, whatever TCP does to the chunks.

use std::sync::Arc;
use std::time::Duration;

use protocol_runtime::layout::Role;
use protocol_runtime::transport::Address;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use conformance::runner::{run_case, RunConfig, Split};
use conformance::transcript::{self, Suite};

/// A defect, applied to the server-to-client byte stream.
#[derive(Debug, Clone, Copy)]
enum Defect {
    /// Two adjacent lines change places.
    WrongOrder,
    /// Every second CRLF disappears (the one after a data block, in memcached).
    DropsCrlf,
    /// A field is mangled: `e` becomes `E` and `2` becomes `Z`.
    Mangles,
}

/// Transforms a byte stream, keeping whatever state spans chunks.
#[derive(Default)]
struct Transform {
    line: Vec<u8>,
    held: Option<Vec<u8>>,
    crlfs: usize,
    pending_cr: bool,
}

impl Transform {
    fn apply(&mut self, defect: Defect, input: &[u8], out: &mut Vec<u8>) {
        match defect {
            Defect::Mangles => out.extend(input.iter().map(|&b| match b {
                b'e' => b'E',
                b'2' => b'Z',
                b => b,
            })),
            Defect::DropsCrlf => {
                for &b in input {
                    if self.pending_cr {
                        self.pending_cr = false;
                        if b == b'\n' {
                            self.crlfs += 1;
                            if self.crlfs % 2 == 1 {
                                out.extend_from_slice(b"\r\n");
                            }
                            continue;
                        }
                        out.push(b'\r');
                    }
                    if b == b'\r' {
                        self.pending_cr = true;
                    } else {
                        out.push(b);
                    }
                }
            }
            Defect::WrongOrder => {
                for &b in input {
                    self.line.push(b);
                    if b == b'\n' {
                        let line = std::mem::take(&mut self.line);
                        match self.held.take() {
                            None => self.held = Some(line),
                            Some(first) => {
                                out.extend_from_slice(&line);
                                out.extend_from_slice(&first);
                            }
                        }
                    }
                }
            }
        }
    }

    /// At the server's end of stream: what is still held goes out.
    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            out.push(b'\r');
        }
        if let Some(h) = self.held.take() {
            out.extend_from_slice(&h);
        }
        out.append(&mut self.line);
    }
}

/// Starts a proxy with `defect` in front of `upstream`; returns its address.
async fn broken_proxy(upstream: Address, defect: Defect) -> Address {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Address::Tcp(up) = upstream.clone() else {
                return;
            };
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(up).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let upward = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    let _ = sw.shutdown().await;
                });
                let mut t = Transform::default();
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let mut out = Vec::new();
                    t.apply(defect, &buf[..n], &mut out);
                    if cw.write_all(&out).await.is_err() {
                        break;
                    }
                }
                let mut out = Vec::new();
                t.finish(&mut out);
                let _ = cw.write_all(&out).await;
                let _ = cw.shutdown().await;
                upward.abort();
            });
        }
    });
    Address::Tcp(addr.to_string())
}

/// Runs the suites' cases; with `stop_early`, stops at the first failure.
async fn failures(suites: &[Arc<Suite>], target: Address, stop_early: bool) -> usize {
    let cfg = RunConfig {
        target,
        tls: None,
        split: Split::Whole,
        prefix: "broken-".into(),
        step_timeout: Duration::from_millis(500),
        connect_timeout: Duration::from_secs(2),
    };
    let mut failed = 0;
    for s in suites {
        for c in &s.cases {
            if !run_case(s, c, &cfg).await.passed() {
                failed += 1;
                if stop_early {
                    return failed;
                }
            }
        }
    }
    failed
}

/// The bundled suite folders whose spec has a built-in server, by name:
/// the others (redis, modbus) need a real server, and `conformance/suites`
/// also holds the peer scripts' helpers.
fn with_built_in_server() -> Vec<String> {
    let mut specs: Vec<String> = std::fs::read_dir(crate::workspace_root().join("conformance/suites"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|name| conformance::targets::server_for(name).is_some())
        .collect();
    specs.sort();
    specs
}

fn suites_of(spec: &str) -> Vec<Arc<Suite>> {
    let dir = crate::workspace_root().join("conformance/suites").join(spec);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "transcript"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| Arc::new(transcript::load(f, Role::Client).unwrap_or_else(|e| panic!("{e}"))))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bundled_suite_catches_a_broken_server() {
    let specs = with_built_in_server();
    assert!(specs.len() >= 3, "{specs:?}");
    for spec in specs {
        let suites = suites_of(&spec);
        let server = conformance::targets::start(&spec).await.unwrap();
        let Some(server) = server else {
            panic!("no built-in server for `{spec}`");
        };
        // The reference server passes its own suite...
        assert_eq!(
            failures(&suites, server.address.clone(), false).await,
            0,
            "`{spec}` fails against its reference server"
        );
        // ...and each suite fails against at least one defect.
        let mut caught = Vec::new();
        for defect in [Defect::WrongOrder, Defect::DropsCrlf, Defect::Mangles] {
            let proxy = broken_proxy(server.address.clone(), defect).await;
            if failures(&suites, proxy, true).await > 0 {
                caught.push(format!("{defect:?}"));
            }
        }
        assert!(
            !caught.is_empty(),
            "the `{spec}` suite passes against every broken server"
        );
        eprintln!("{spec}: caught {}", caught.join(", "));
        server.stop().await;
    }
}

#[test]
fn transforms_do_not_depend_on_chunking() {
    let input = b"VALUE k 0 5\r\nhello\r\nEND\r\nVALUE a 2 1\r\nx\r\n";
    for defect in [Defect::WrongOrder, Defect::DropsCrlf, Defect::Mangles] {
        let mut whole = Vec::new();
        let mut t = Transform::default();
        t.apply(defect, input, &mut whole);
        t.finish(&mut whole);
        let mut bytes = Vec::new();
        let mut t = Transform::default();
        for b in input {
            t.apply(defect, std::slice::from_ref(b), &mut bytes);
        }
        t.finish(&mut bytes);
        assert_eq!(whole, bytes, "{defect:?}");
    }
    let mut out = Vec::new();
    let mut t = Transform::default();
    t.apply(Defect::DropsCrlf, b"VALUE k 0 5\r\nhello\r\nEND\r\n", &mut out);
    assert_eq!(out, b"VALUE k 0 5\r\nhelloEND\r\n");
}

/// Every bundled suite passes against the reference servers under every
/// split mode (the same suites pass against real memcached and xinetd in the
/// servers crate's peer tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bundled_suite_passes_against_the_reference_servers_under_every_split() {
    let specs = with_built_in_server();
    for spec in specs {
        let suites = suites_of(&spec);
        let server = conformance::targets::start(&spec)
            .await
            .unwrap()
            .expect("a built-in server");
        for split in [
            Split::Whole,
            Split::Bytes,
            Split::Random(1),
            Split::Random(2),
            Split::Coalesce,
        ] {
            let cfg = RunConfig {
                target: server.address.clone(),
                tls: None,
                split,
                prefix: format!("split{split}-"),
                step_timeout: Duration::from_secs(5),
                connect_timeout: Duration::from_secs(2),
            };
            for s in &suites {
                for c in &s.cases {
                    let r = run_case(s, c, &cfg).await;
                    assert!(
                        r.passed(),
                        "{spec} under {split}: {}:{} {:?}",
                        r.suite,
                        r.line,
                        r.outcome
                    );
                }
            }
        }
        server.stop().await;
    }
}
