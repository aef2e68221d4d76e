//! Coverage: which states and transitions of each spec a run exercised, and
//! which it never did (a suite that never takes a rule proves nothing about it).

use std::collections::BTreeSet;
use std::sync::Arc;

use protocol_runtime::layout::Span;
use protocol_runtime::session::Covered;
use protocol_runtime::spec::{Protocol, Reply, RuleKind, StateId, Target};

use crate::runner::CaseReport;
use crate::transcript::Suite;

/// One spec's coverage over a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpecCoverage {
    pub spec: String,
    pub states_total: usize,
    pub states_covered: usize,
    pub transitions_total: usize,
    pub transitions_covered: usize,
    /// The transitions never taken, as the spec writes them.
    pub missing: Vec<Missing>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Missing {
    pub state: String,
    pub transition: String,
    /// `spec.proto:line`.
    pub at: String,
}

/// Everything a state can do: each rule, and its `otherwise` reply.
fn transitions(p: &Protocol) -> Vec<Covered> {
    let mut out = Vec::new();
    for (sid, st) in p.states.iter().enumerate() {
        for rule in 0..st.rules.len() {
            out.push(Covered::Rule { state: sid, rule });
        }
        if matches!(st.otherwise, Some(Reply::Sequences(_))) {
            out.push(Covered::Otherwise { state: sid });
        }
    }
    out
}

/// The states a set of taken transitions shows were visited.
fn states_visited(p: &Protocol, taken: &BTreeSet<Covered>) -> BTreeSet<StateId> {
    let mut states = BTreeSet::from([p.initial]);
    for c in taken {
        match *c {
            Covered::Rule { state, rule } => {
                states.insert(state);
                if let RuleKind::Send {
                    target: Target::State(t),
                    ..
                }
                | RuleKind::HalfClose {
                    target: Target::State(t),
                    ..
                } = &p.states[state].rules[rule].kind
                {
                    states.insert(*t);
                }
            }
            Covered::Otherwise { state } => {
                states.insert(state);
            }
        }
    }
    states
}

/// The coverage of every spec the suites use, from the cases' reports.
pub fn compute(suites: &[Arc<Suite>], cases: &[CaseReport]) -> Vec<SpecCoverage> {
    let mut out: Vec<SpecCoverage> = Vec::new();
    for suite in suites {
        if out.iter().any(|c| c.spec == suite.spec_name) {
            continue;
        }
        let p = &suite.spec;
        let taken: BTreeSet<Covered> = cases
            .iter()
            .filter(|c| c.spec == suite.spec_name)
            .flat_map(|c| c.coverage.iter().copied())
            .collect();
        let all = transitions(p);
        let source = &suite.spec_source;
        let missing = all
            .iter()
            .filter(|t| !taken.contains(t))
            .map(|t| match *t {
                Covered::Rule { state, rule } => {
                    let r = &p.states[state].rules[rule];
                    Missing {
                        state: p.states[state].name.clone(),
                        transition: protocol_dsl::dump::rule_text(p, r),
                        at: line_of(source, r.span),
                    }
                }
                Covered::Otherwise { state } => Missing {
                    state: p.states[state].name.clone(),
                    transition: format!(
                        "otherwise -> {}",
                        p.states[state]
                            .otherwise
                            .as_ref()
                            .map_or(String::new(), |r| protocol_dsl::dump::reply_text(p, r))
                    ),
                    at: line_of(source, p.states[state].otherwise_span),
                },
            })
            .collect::<Vec<_>>();
        out.push(SpecCoverage {
            spec: suite.spec_name.clone(),
            states_total: p.states.len(),
            states_covered: states_visited(p, &taken).len(),
            transitions_total: all.len(),
            transitions_covered: all.len() - missing.len(),
            missing,
        });
    }
    out
}

fn line_of(source: &protocol_dsl::Source, span: Span) -> String {
    let (line, _) = source.line_col(span.start as usize);
    format!("{}:{line}", source.name)
}
