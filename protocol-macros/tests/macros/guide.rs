//! `docs/generated-code.md`: its Rust examples are this crate's doctests (see
//! `src/lib.rs`), so every one of them is compiled; this checks that none is
//! left out of that (no `ignore`), and that its specs compile.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Each fenced block: the line it starts on, its info string, its text.
fn blocks(doc: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (Some(_), Some(_)) => out.push(open.take().expect("open block")),
            (Some((_, _, text)), None) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, Some(info)) => open = Some((i + 1, info.trim().to_string(), String::new())),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "unterminated block in docs/generated-code.md");
    out
}

#[test]
fn the_guide_is_doctested() {
    let lib = std::fs::read_to_string(root().join("protocol-macros/src/lib.rs")).expect("src/lib.rs");
    assert!(
        lib.contains("#[cfg(doctest)]\n#[doc = include_str!(\"../../docs/generated-code.md\")]"),
        "src/lib.rs no longer includes the guide as doctests"
    );
}

#[test]
fn every_rust_example_is_compiled() {
    let doc = std::fs::read_to_string(root().join("docs/generated-code.md")).expect("the guide");
    let blocks = blocks(&doc);
    let rust: Vec<_> = blocks
        .iter()
        .filter(|(_, info, _)| info.starts_with("rust"))
        .collect();
    assert!(rust.len() >= 8, "only {} Rust examples", rust.len());
    for (line, info, _) in &blocks {
        assert!(
            matches!(info.as_str(), "rust" | "rust no_run" | "proto" | "text"),
            "docs/generated-code.md:{line}: fence `{info}`: Rust examples are `rust` (run) or \
             `rust no_run` (compiled only), never ignored"
        );
    }
}

#[test]
fn every_spec_compiles() {
    let doc = std::fs::read_to_string(root().join("docs/generated-code.md")).expect("the guide");
    for (line, info, text) in blocks(&doc) {
        if info != "proto" {
            continue;
        }
        let name = format!("docs/generated-code.md:{line}");
        let compiled = protocol_dsl::compile_str(&name, &text);
        assert!(
            !compiled.diagnostics.has_errors(),
            "the spec at {name} should compile:\n{}",
            compiled.render(false)
        );
    }
}
