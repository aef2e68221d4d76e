//! JUnit XML: one `testsuite` per transcript file, one `testcase` per case.

use std::fmt::Write;

use super::RunReport;
use crate::runner::Outcome;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

pub fn render(r: &RunReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{:.3}\">",
        r.cases.len(),
        r.failed(),
        r.unreachable(),
        r.duration.as_secs_f64()
    );
    let mut suites: Vec<&str> = Vec::new();
    for c in &r.cases {
        if !suites.contains(&c.suite.as_str()) {
            suites.push(&c.suite);
        }
    }
    for s in suites {
        let cases: Vec<_> = r.cases.iter().filter(|c| c.suite == s).collect();
        let failures = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed(_)))
            .count();
        let errors = cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Unreachable { .. }))
            .count();
        let time: f64 = cases.iter().map(|c| c.duration.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">",
            esc(s),
            cases.len()
        );
        for c in cases {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\"",
                esc(&c.case),
                esc(&c.spec),
                esc(&c.suite),
                c.line,
                c.duration.as_secs_f64()
            );
            match &c.outcome {
                Outcome::Passed => out.push_str("/>\n"),
                Outcome::Failed(f) => {
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\">step {}:{} {}\nstate {}\nexpected {}\ngot {}\n{}</failure>\n    </testcase>",
                        esc(&format!("expected {}, got {}", f.expected, f.got)),
                        esc(&c.suite),
                        f.line,
                        esc(&f.step),
                        esc(&f.state),
                        esc(&f.expected),
                        esc(&f.got),
                        esc(f.bytes.as_deref().unwrap_or(""))
                    );
                }
                Outcome::Unreachable { error } => {
                    let _ = writeln!(
                        out,
                        ">\n      <error message=\"{}\"/>\n    </testcase>",
                        esc(error)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
