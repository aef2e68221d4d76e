//! Every example in the language reference compiles as its fence says, and
//! every construct of the language has a section with an example.
//!
//! Fences: ```proto is a spec that must compile with no error;
//! ```proto,E0205 (any code) must report that code.

use protocol_dsl::{compile_str, Code};

/// The constructs of the language; each is a `### ` heading of
/// `docs/language.md` followed by at least one example.
const CONSTRUCTS: &[&str] = &[
    "protocol",
    "comments",
    "port",
    "framing",
    "limits",
    "timeout",
    "pipelined",
    "overload",
    "message",
    "literals",
    "line",
    "length",
    "exact",
    "raw",
    "raw(until_close)",
    "raw(available)",
    "over = discard",
    "then",
    "token",
    "text",
    "bytes",
    "integers",
    "list",
    "optional parts",
    "choices",
    "flags",
    "alternatives",
    "repetition",
    "volatile",
    "state",
    "sends",
    "exchange",
    "where",
    "otherwise",
    "closes",
    "half-closes",
    "ignore",
    "duplex",
];

struct Example {
    line: usize,
    section: String,
    expect: Option<Code>,
    text: String,
}

fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut current: Option<Example> = None;
    for (i, line) in doc.lines().enumerate() {
        if let Some(ex) = current.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push(current.take().expect("open example"));
            } else {
                ex.text.push_str(line);
                ex.text.push('\n');
            }
            continue;
        }
        if let Some(h) = line.strip_prefix("### ") {
            section = h.trim().trim_matches('`').to_string();
        } else if line.starts_with("## ") {
            section.clear();
        } else if let Some(info) = line.trim_start().strip_prefix("```proto") {
            let expect = info.strip_prefix(',').map(|c| {
                Code::from_code(c.trim())
                    .unwrap_or_else(|| panic!("line {}: unknown code in fence `{c}`", i + 1))
            });
            current = Some(Example {
                line: i + 1,
                section: section.clone(),
                expect,
                text: String::new(),
            });
        }
    }
    assert!(
        current.is_none(),
        "unterminated example in the language reference"
    );
    out
}

#[test]
fn language_reference_examples() {
    let path = crate::workspace_root().join("docs/language.md");
    let doc = std::fs::read_to_string(&path).expect("docs/language.md exists");
    let examples = examples(&doc);
    assert!(
        examples.len() >= CONSTRUCTS.len(),
        "{} examples for {} constructs",
        examples.len(),
        CONSTRUCTS.len()
    );
    for construct in CONSTRUCTS {
        assert!(
            examples.iter().any(|e| e.section == *construct),
            "construct `{construct}` has no `### {construct}` section with an example"
        );
    }
    for ex in &examples {
        let name = format!("docs/language.md:{}", ex.line);
        let compiled = compile_str(&name, &ex.text);
        match ex.expect {
            None => assert!(
                !compiled.diagnostics.has_errors(),
                "example at {name} should compile:\n{}",
                compiled.render(false)
            ),
            Some(code) => assert!(
                compiled.diagnostics.codes().contains(&code),
                "example at {name} should report {code}, got:\n{}",
                compiled.render(false)
            ),
        }
    }
}

#[test]
fn every_code_is_documented() {
    let doc =
        std::fs::read_to_string(crate::workspace_root().join("docs/language.md")).expect("docs/language.md");
    for code in Code::ALL {
        assert!(
            doc.contains(code.as_str()),
            "{code} is not documented in docs/language.md"
        );
    }
}
