//! A line of nonsense inserted anywhere in a shipped spec is an error that
//! points at that line.

use protocol_dsl::compile_str;

const NONSENSE: &str = "@@ this is % not a spec @@";

#[test]
fn nonsense_line_is_reported_at_its_line() {
    for path in crate::shipped_specs() {
        let text = std::fs::read_to_string(&path).expect("readable spec");
        let lines: Vec<&str> = text.lines().collect();
        for n in 0..=lines.len() {
            let mut edited: Vec<&str> = lines.clone();
            edited.insert(n, NONSENSE);
            let source = edited.join("\n");
            let compiled = compile_str("spec.proto", &source);
            assert!(
                compiled.diagnostics.has_errors(),
                "{}: nonsense at line {} was accepted",
                path.display(),
                n + 1
            );
            let lines_hit: Vec<usize> = compiled
                .diagnostics
                .items
                .iter()
                .filter(|d| d.is_error())
                .map(|d| compiled.source.line_col(d.span.start as usize).0)
                .collect();
            assert!(
                lines_hit.contains(&(n + 1)),
                "{}: nonsense at line {} reported at lines {lines_hit:?}:\n{}",
                path.display(),
                n + 1,
                compiled.render(false)
            );
            let rendered = compiled.render(false);
            assert!(
                rendered.contains(&format!("--> spec.proto:{}:", n + 1)),
                "rendering names the line:\n{rendered}"
            );
        }
    }
}
