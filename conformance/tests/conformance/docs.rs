//! Every example in docs/transcripts.md is checked: ```transcript blocks
//! load without error against their spec; ```transcript,error blocks are
//! rejected with `path:line:col`.

use protocol_runtime::layout::Role;

#[test]
fn transcript_reference_examples() {
    let path = crate::workspace_root().join("docs/transcripts.md");
    let doc = std::fs::read_to_string(&path).expect("docs/transcripts.md");
    let mut examples = Vec::new();
    let mut current: Option<(usize, bool, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        if let Some((_, _, text)) = current.as_mut() {
            if line.starts_with("```") {
                examples.push(current.take().expect("open"));
            } else {
                text.push_str(line);
                text.push('\n');
            }
        } else if let Some(info) = line.strip_prefix("```transcript") {
            current = Some((i + 1, info == ",error", String::new()));
        }
    }
    assert!(examples.len() >= 10, "only {} examples", examples.len());
    for (line, should_fail, text) in &examples {
        let name = std::path::Path::new("docs/transcripts.md");
        let result = conformance::transcript::load_str(name, text, Role::Client);
        match (result, should_fail) {
            (Ok(_), false) => {}
            (Err(e), true) => assert!(
                e.rendered.contains("--> docs/transcripts.md:"),
                "error names the place:\n{e}"
            ),
            (Ok(_), true) => panic!("example at docs/transcripts.md:{line} should be rejected"),
            (Err(e), false) => panic!("example at docs/transcripts.md:{line} should load:\n{e}"),
        }
    }
}
