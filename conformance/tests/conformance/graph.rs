//! `conformance graph`: the state machine of a spec in Mermaid and DOT.

use std::process::Command;

use conformance::graph;
use protocol_runtime::spec::Protocol;

const SHIPPED: [&str; 5] = ["daytime", "echo", "greeting", "memcached_get", "memcached"];

fn compile(name: &str) -> Protocol {
    let path = crate::workspace_root().join(format!("specs/{name}.proto"));
    protocol_of(protocol_dsl::compile_file(&path).expect("read spec"))
}

fn protocol_of(compiled: protocol_dsl::Compilation) -> Protocol {
    let rendered = compiled.render(false);
    compiled
        .protocol
        .unwrap_or_else(|| panic!("the spec has errors:\n{rendered}"))
}

fn graph_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_conformance"))
        .current_dir(crate::workspace_root())
        .args(["graph", "--color", "never"])
        .args(args)
        .output()
        .expect("run conformance");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_contains(text: &str, fragments: &[&str]) {
    for f in fragments {
        assert!(text.contains(f), "missing {f:?} in:\n{text}");
    }
}

#[test]
fn greeting_in_dot() {
    let (code, out, err) = graph_cli(&["specs/greeting.proto", "--format", "dot"]);
    assert_eq!(code, 0, "{err}");
    assert_contains(
        &out,
        &[
            "digraph \"greeting\" {\n",
            "\"__start\" [shape=point, label=\"\"];",
            "\"__start\" -> \"Start\";",
            "\"closed\" [shape=doublecircle, label=\"closed\"];",
            r#""Start" -> "Asking" [label="server: Prompt [exact \"HELLO?\"]"];"#,
            r#""Asking" -> "Answer" [label="client: Name [line \\r\\n ≤248]"];"#,
            r#""Asking" -> "closed" [label="client closes"];"#,
            r#""Answer" -> "closed" [label="server: Welcome [line \\r\\n ≤256]"];"#,
        ],
    );
}

#[test]
fn greeting_in_mermaid_is_the_default() {
    let (code, out, err) = graph_cli(&["specs/greeting.proto"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("%% protocol greeting\nflowchart LR\n"), "{out}");
    assert_contains(
        &out,
        &[
            "entry((\" \")) --> s0\n",
            "s0[\"Start\"]\n",
            "s1[\"Asking\"]\n",
            "s2[\"Answer\"]\n",
            "closed(((\"closed\")))\n",
            "s0 -->|\"server: Prompt [exact #quot;HELLO?#quot;]\"| s1\n",
            r#"s1 -->|"client: Name [line \r\n ≤248]"| s2"#,
            "s1 -->|\"client closes\"| closed\n",
            r#"s2 -->|"server: Welcome [line \r\n ≤256]"| closed"#,
        ],
    );
}

#[test]
fn memcached_get_exchanges_are_self_loops() {
    let p = compile("memcached_get");
    assert_contains(
        &graph::dot(&p),
        &[
            r#""__start" -> "Ready";"#,
            r#""Ready" -> "Ready" [label="client: Get → Value* End [line \\r\\n ≤64 KiB]"];"#,
            r#""Ready" -> "Ready" [label="otherwise → Error | ClientError | ServerError"];"#,
            r#""Ready" -> "closed" [label="client closes"];"#,
        ],
    );
    assert_contains(
        &graph::mermaid(&p),
        &[
            "entry((\" \")) --> s0\n",
            "s0[\"Ready\"]\n",
            r#"s0 -->|"client: Get → Value* End [line \r\n ≤64 KiB]"| s0"#,
            r#"s0 -->|"otherwise → Error #124; ClientError #124; ServerError"| s0"#,
            "s0 -->|\"client closes\"| closed\n",
        ],
    );
}

#[test]
fn conditions_closes_and_state_notes() {
    let memcached = graph::dot(&compile("memcached"));
    assert_contains(
        &memcached,
        &[
            "[label=\"client: Set where noreply → none [line \\\\r\\\\n|\\\\n ≤2 KiB then raw(len, over discard) ≤1 MiB then exact \\\"\\\\r\\\\n\\\"]\"];",
            "\"Commands\" -> \"closed\" [label=\"client: Quit → close [line \\\\r\\\\n|\\\\n ≤2 KiB]\"];",
        ],
    );
    let echo = compile("echo");
    assert_contains(
        &graph::dot(&echo),
        &[
            r#""Open" [label="Open\nduplex"];"#,
            r#""Open" -> "Draining" [label="client half-closes"];"#,
        ],
    );
    assert_contains(&graph::mermaid(&echo), &["s0[\"Open<br/>duplex\"]\n"]);
    let daytime = compile("daytime");
    assert_contains(
        &graph::dot(&daytime),
        &[r#""Connected" [label="Connected\nignore client"];"#],
    );
    assert_contains(
        &graph::mermaid(&daytime),
        &["s0[\"Connected<br/>ignore client\"]\n"],
    );
}

#[test]
fn every_state_of_every_shipped_spec_appears() {
    for name in SHIPPED {
        let p = compile(name);
        let (dot, mermaid) = (graph::dot(&p), graph::mermaid(&p));
        for (id, s) in p.states.iter().enumerate() {
            assert!(
                dot.contains(&format!("    \"{}\" [label=\"{}", s.name, s.name)),
                "{name}: {dot}"
            );
            assert!(
                mermaid.contains(&format!("    s{id}[\"{}", s.name)),
                "{name}: {mermaid}"
            );
        }
        let rules: usize = p
            .states
            .iter()
            .map(|s| s.rules.len() + usize::from(s.otherwise.is_some()))
            .sum();
        assert_eq!(
            dot.matches("[label=\"").count() - p.states.len(),
            rules,
            "{name}: {dot}"
        );
        assert_eq!(mermaid.matches(" -->|").count(), rules, "{name}: {mermaid}");
        assert_balanced_digraph(name, &dot);
    }
}

/// `digraph "name" {`, then statements, then `}`, with every brace and
/// quote outside labels balanced.
fn assert_balanced_digraph(name: &str, dot: &str) {
    assert!(dot.starts_with(&format!("digraph \"{name}\" {{\n")), "{dot}");
    assert!(dot.ends_with("\n}\n"), "{dot}");
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for c in dot.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (_, false, '"') => in_string = !in_string,
            (false, _, '{') => depth += 1,
            (false, _, '}') => {
                depth -= 1;
                assert!(depth >= 0, "{name}: unbalanced braces:\n{dot}");
            }
            _ => {}
        }
    }
    assert!(!in_string, "{name}: unterminated string:\n{dot}");
    assert_eq!(depth, 0, "{name}: unbalanced braces:\n{dot}");
}

#[test]
fn labels_are_escaped_for_each_format() {
    let spec = r#"protocol odd {
        framing line("\r\n", max = 64);
        server message Banner = exact "say \"hi\" #1 <b>|&`";
        client message Bye = "BYE";
        state Start {
            server sends Banner -> Wait;
        }
        state Wait {
            client sends Bye -> close;
        }
    }"#;
    let p = protocol_of(protocol_dsl::compile_str("odd.proto", spec));
    let dot = graph::dot(&p);
    assert_contains(
        &dot,
        &[r#""Start" -> "Wait" [label="server: Banner [exact \"say \\\"hi\\\" #1 <b>|&`\"]"];"#],
    );
    assert_balanced_digraph("odd", &dot);
    let mermaid = graph::mermaid(&p);
    assert_contains(
        &mermaid,
        &["s0 -->|\"server: Banner [exact #quot;say \\#quot;hi\\#quot; #35;1 #lt;b#gt;#124;#amp;#96;#quot;]\"| s1"],
    );
    for line in mermaid.lines().filter(|l| l.contains("-->|")) {
        let label = &line[line.find("-->|\"").expect("quoted label") + 5..line.rfind("\"|").expect("end")];
        assert!(
            !label.contains(['"', '|', '<', '>', '`', '&']),
            "unescaped: {line}"
        );
    }
}

#[test]
fn a_state_named_closed_keeps_its_own_node() {
    let spec = r#"protocol clash {
        framing line("\r\n", max = 64);
        client message Go = "GO";
        state Open {
            client sends Go -> closed;
        }
        state closed {
            client closes;
        }
    }"#;
    let p = protocol_of(protocol_dsl::compile_str("clash.proto", spec));
    assert_contains(
        &graph::dot(&p),
        &[
            r#""Open" -> "closed" [label="client: Go [line \\r\\n ≤64]"];"#,
            r#""closed" -> "closed_" [label="client closes"];"#,
            r#""closed_" [shape=doublecircle, label="closed"];"#,
        ],
    );
}

#[test]
fn graphviz_accepts_the_dot_output_when_installed() {
    let Ok(probe) = Command::new("dot").arg("-V").output() else {
        return; // Graphviz is optional.
    };
    if !probe.status.success() {
        return;
    }
    for name in SHIPPED {
        let mut child = Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn dot");
        let text = graph::dot(&compile(name));
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes()).expect("write");
        let out = child.wait_with_output().expect("dot");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{name}: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn specs_with_errors_exit_1_and_unreadable_specs_exit_2() {
    let (code, out, err) =
        graph_cli(&["protocol-dsl/tests/fixtures/invalid/E0205-number-vs-not-found.proto"]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("error[E0205]"), "{err}");
    assert!(
        err.contains("--> protocol-dsl/tests/fixtures/invalid/E0205-number-vs-not-found.proto:9:34"),
        "{err}"
    );
    assert_eq!(graph_cli(&["no/such/file.proto"]).0, 2);
    assert_eq!(graph_cli(&["specs/greeting.proto", "--format", "svg"]).0, 2);
}
