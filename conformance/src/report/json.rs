//! The JSON report: every case with its outcome and its byte log.

use serde::Serialize;

use super::RunReport;
use crate::runner::tap::Direction;
use crate::runner::Outcome;

#[derive(Serialize)]
struct Json<'a> {
    target: &'a str,
    split: &'a str,
    duration_ms: f64,
    passed: usize,
    failed: usize,
    unreachable: usize,
    coverage: &'a [super::coverage::SpecCoverage],
    cases: Vec<Case<'a>>,
}

#[derive(Serialize)]
struct Case<'a> {
    suite: &'a str,
    spec: &'a str,
    case: &'a str,
    line: usize,
    duration_ms: f64,
    #[serde(flatten)]
    outcome: &'a Outcome,
    log: Vec<LogEntry>,
    log_truncated: bool,
}

#[derive(Serialize)]
struct LogEntry {
    direction: Direction,
    /// The bytes with non-printable ones escaped (`\r`, `\x00`).
    text: String,
    len: usize,
}

pub fn render(r: &RunReport) -> String {
    let json = Json {
        target: &r.target,
        split: &r.split,
        duration_ms: r.duration.as_secs_f64() * 1000.0,
        passed: r.passed(),
        failed: r.failed(),
        unreachable: r.unreachable(),
        coverage: &r.coverage,
        cases: r
            .cases
            .iter()
            .map(|c| Case {
                suite: &c.suite,
                spec: &c.spec,
                case: &c.case,
                line: c.line,
                duration_ms: c.duration.as_secs_f64() * 1000.0,
                outcome: &c.outcome,
                log: c
                    .log
                    .entries
                    .iter()
                    .map(|(d, b)| LogEntry {
                        direction: *d,
                        text: b.escape_ascii().to_string(),
                        len: b.len(),
                    })
                    .collect(),
                log_truncated: c.log.truncated,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&json).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
