//! Reports: the summary a person reads at a glance, JUnit XML and JSON.

pub mod coverage;
pub mod json;
pub mod junit;

use std::fmt::Write;
use std::time::Duration;

use crate::runner::{CaseReport, Outcome};

/// A run's results, in the order the cases are listed.
pub struct RunReport {
    pub cases: Vec<CaseReport>,
    /// Which states and transitions of each spec the run exercised.
    pub coverage: Vec<coverage::SpecCoverage>,
    pub split: String,
    pub target: String,
    pub duration: Duration,
}

impl RunReport {
    pub fn failed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Failed(_)))
            .count()
    }
    pub fn unreachable(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Unreachable { .. }))
            .count()
    }
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    /// The table per suite, then every failure in detail.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let mut suites: Vec<&str> = Vec::new();
        for c in &self.cases {
            if !suites.contains(&c.suite.as_str()) {
                suites.push(&c.suite);
            }
        }
        let width = suites.iter().map(|s| s.len()).max().unwrap_or(5).max(5);
        let _ = writeln!(
            out,
            "{:<width$}  {:>5}  {:>6}  {:>6}  {:>9}",
            "suite", "cases", "passed", "failed", "time"
        );
        for s in &suites {
            let cases: Vec<&CaseReport> = self.cases.iter().filter(|c| c.suite == *s).collect();
            let passed = cases.iter().filter(|c| c.passed()).count();
            let time: Duration = cases.iter().map(|c| c.duration).sum();
            let _ = writeln!(
                out,
                "{:<width$}  {:>5}  {:>6}  {:>6}  {:>8.1?}",
                s,
                cases.len(),
                passed,
                cases.len() - passed,
                time
            );
        }
        for c in &self.cases {
            match &c.outcome {
                Outcome::Passed => {}
                Outcome::Failed(f) => {
                    let _ = writeln!(out, "\nFAILED {}:{} case \"{}\"", c.suite, c.line, c.case);
                    let _ = writeln!(out, "  step     {}:{}  {}", c.suite, f.line, f.step);
                    let _ = writeln!(out, "  state    {}", f.state);
                    let _ = writeln!(out, "  expected {}", f.expected);
                    let _ = writeln!(out, "  got      {}", f.got);
                    if let Some(b) = &f.bytes {
                        let _ = writeln!(out, "  bytes    {b}");
                    }
                    if let Some(c) = &f.reproduce {
                        let _ = writeln!(out, "  reproduce {c}");
                    }
                }
                Outcome::Unreachable { error } => {
                    let _ = writeln!(
                        out,
                        "\nUNREACHABLE {}:{} case \"{}\": {error}",
                        c.suite, c.line, c.case
                    );
                }
            }
        }
        for c in &self.coverage {
            let _ = writeln!(
                out,
                "\ncoverage of {}: {}/{} states, {}/{} transitions",
                c.spec, c.states_covered, c.states_total, c.transitions_covered, c.transitions_total
            );
            for m in &c.missing {
                let _ = writeln!(
                    out,
                    "  never exercised: state `{}`: `{}` ({})",
                    m.state, m.transition, m.at
                );
            }
        }
        let _ = writeln!(
            out,
            "\n{} passed, {} failed{} (split {}, target {}, {:.2?})",
            self.passed(),
            self.failed(),
            if self.unreachable() > 0 {
                format!(", {} unreachable", self.unreachable())
            } else {
                String::new()
            },
            self.split,
            self.target,
            self.duration
        );
        out
    }
}
