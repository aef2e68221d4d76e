//! A spec's state machine as a graph, for `conformance graph`: [`mermaid`]
//! (a Mermaid flowchart) or [`dot`] (Graphviz).
//!
//! One node per state, with `duplex` and `ignore ROLE` noted under its name;
//! an arrow from an entry point marks the initial state. Each rule is one
//! edge, labelled with who sends which message and the message's framing in
//! short form (`server: Prompt [exact "HELLO?"]`). Exchanges and `otherwise`
//! replies are self-loops (the state holds); `closes`, `-> close` targets and
//! exchanges replied with `close` lead to a terminal `closed` node, and
//! `-> half-close` targets to a terminal `half-closed` node.

use std::fmt::Write;

use protocol_runtime::layout::{Framing, MessageLayout, Oversize, RawLen};
use protocol_runtime::spec::{Condition, Protocol, Reply, RuleKind, State, StateId, Target};

/// Where an edge ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum To {
    State(StateId),
    Closed,
    HalfClosed,
}

struct Edge {
    from: StateId,
    to: To,
    label: String,
}

/// The edges of the state machine, in rule order, `otherwise` last in its state.
fn edges(p: &Protocol) -> Vec<Edge> {
    let mut out = Vec::new();
    let to = |t: &Target| match t {
        Target::State(s) => To::State(*s),
        Target::Close => To::Closed,
        Target::HalfClose => To::HalfClosed,
    };
    for (from, state) in p.states.iter().enumerate() {
        for rule in &state.rules {
            let (to, label) = match &rule.kind {
                RuleKind::Send {
                    role,
                    message,
                    condition,
                    target,
                } => {
                    let m = &p.messages[*message];
                    let label = format!(
                        "{role}: {}{} [{}]",
                        m.name,
                        where_text(condition),
                        framing_short(&m.layout)
                    );
                    (to(target), label)
                }
                RuleKind::Exchange {
                    request,
                    condition,
                    reply,
                } => {
                    let m = &p.messages[*request];
                    let label = format!(
                        "client: {}{}{} → {} [{}]",
                        if rule.fallback { "otherwise " } else { "" },
                        m.name,
                        where_text(condition),
                        reply_text(p, reply),
                        framing_short(&m.layout)
                    );
                    (after(reply, from), label)
                }
                RuleKind::Close { role } => (To::Closed, format!("{role} closes")),
                RuleKind::HalfClose { role, target } => (to(target), format!("{role} half-closes")),
            };
            out.push(Edge { from, to, label });
        }
        if let Some(reply) = &state.otherwise {
            let label = format!("otherwise → {}", reply_text(p, reply));
            out.push(Edge {
                from,
                to: after(reply, from),
                label,
            });
        }
    }
    out
}

/// Where a reply leaves the conversation: a `close` reply ends it, others hold the state.
fn after(reply: &Reply, state: StateId) -> To {
    match reply {
        Reply::Close { .. } => To::Closed,
        _ => To::State(state),
    }
}

/// A state's name, then `duplex` and `ignore ROLE` each on a line of its own.
fn state_label(s: &State) -> String {
    let mut label = s.name.clone();
    if s.duplex {
        label.push_str("\nduplex");
    }
    if let Some(role) = s.ignore {
        let _ = write!(label, "\nignore {role}");
    }
    label
}

fn where_text(c: &Option<Condition>) -> String {
    c.as_ref()
        .map(|c| format!(" where {}", c.name))
        .unwrap_or_default()
}

pub use protocol_dsl::dump::reply_text;

/// A message's framing in short form, segments joined by `then`:
/// `exact "HELLO?"`, `line \r\n ≤248`, `line \r\n ≤2 KiB then raw(len) ≤1 MiB then exact "\r\n"`.
pub fn framing_short(layout: &MessageLayout) -> String {
    let field = |id: u16| layout.fields.get(id as usize).map_or("?", |f| f.name.as_str());
    layout
        .segments
        .iter()
        .map(|seg| match &seg.framing {
            Framing::Exact(b) => format!("exact \"{}\"", b.escape_ascii()),
            Framing::Line {
                delimiter,
                also_ends,
                max,
                ..
            } => {
                let ends: String = also_ends
                    .iter()
                    .map(|e| format!("|{}", e.escape_ascii()))
                    .collect();
                format!("line {}{ends} ≤{}", delimiter.escape_ascii(), size(*max))
            }
            Framing::Length { prefix, max, .. } => format!("length {} ≤{}", prefix.name(), size(*max)),
            Framing::Inline { .. } => "in place".to_string(),
            Framing::Fixed { width, .. } => format!("fixed {width}"),
            Framing::Nested { field: id } => format!("nested {}", field(*id)),
            Framing::Raw {
                len, max, oversize, ..
            } => {
                let len = match len {
                    RawLen::Fixed(n) => n.to_string(),
                    RawLen::Field(id) => field(*id).to_string(),
                };
                let over = if *oversize == Oversize::Discard {
                    ", over discard"
                } else {
                    ""
                };
                format!("raw({len}{over}) ≤{}", size(*max))
            }
            Framing::UntilClose { max, .. } => format!("until close ≤{}", size(*max)),
            Framing::Available { max, .. } => format!("available ≤{}", size(*max)),
        })
        .collect::<Vec<_>>()
        .join(" then ")
}

/// A byte count as a spec would write it: `248`, `2 KiB`, `1 MiB`.
fn size(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        n.to_string()
    }
}

/// The state machine as a Mermaid flowchart. States are nodes `s0`, `s1`, …
/// (so no state name can clash with a Mermaid keyword); every label is quoted,
/// with the characters Mermaid would read as markup written as entity codes.
pub fn mermaid(p: &Protocol) -> String {
    let edges = edges(p);
    let mut out = format!("%% protocol {}\nflowchart LR\n", p.name);
    let _ = writeln!(out, "    entry((\" \")) --> s{}", p.initial);
    for (id, s) in p.states.iter().enumerate() {
        let label = mermaid_escape(&state_label(s)).replace('\n', "<br/>");
        let _ = writeln!(out, "    s{id}[\"{label}\"]");
    }
    let node = |to: To| match to {
        To::State(s) => format!("s{s}"),
        To::Closed => "closed".to_string(),
        To::HalfClosed => "half_closed".to_string(),
    };
    if edges.iter().any(|e| e.to == To::Closed) {
        out.push_str("    closed(((\"closed\")))\n");
    }
    if edges.iter().any(|e| e.to == To::HalfClosed) {
        out.push_str("    half_closed(((\"half-closed\")))\n");
    }
    for e in &edges {
        let _ = writeln!(
            out,
            "    s{} -->|\"{}\"| {}",
            e.from,
            mermaid_escape(&e.label),
            node(e.to)
        );
    }
    out
}

/// Escapes text for a quoted Mermaid label: quotes, `#` (which starts an
/// entity code), `|`, backticks and HTML's `<`, `>`, `&` become entity codes.
pub fn mermaid_escape(text: &str) -> String {
    // `#` first: the entity codes put in after it contain one.
    text.replace('#', "#35;")
        .replace('"', "#quot;")
        .replace('|', "#124;")
        .replace('`', "#96;")
        .replace('&', "#amp;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// The state machine as a Graphviz `digraph`. Node IDs are the state names,
/// quoted; the entry point and terminal nodes get names no state has.
pub fn dot(p: &Protocol) -> String {
    let edges = edges(p);
    let fresh = |base: &str| {
        let mut name = base.to_string();
        while p.state(&name).is_some() {
            name.push('_');
        }
        name
    };
    let (entry, closed, half_closed) = (fresh("__start"), fresh("closed"), fresh("half-closed"));
    let mut out = format!("digraph {} {{\n", dot_quote(&p.name));
    out.push_str("    rankdir=LR;\n    node [shape=box, style=rounded];\n");
    let _ = writeln!(out, "    {} [shape=point, label=\"\"];", dot_quote(&entry));
    for s in &p.states {
        let _ = writeln!(
            out,
            "    {} [label={}];",
            dot_quote(&s.name),
            dot_quote(&state_label(s))
        );
    }
    let terminals = [
        (To::Closed, &closed, "closed"),
        (To::HalfClosed, &half_closed, "half-closed"),
    ];
    for (to, id, label) in terminals {
        if edges.iter().any(|e| e.to == to) {
            let _ = writeln!(
                out,
                "    {} [shape=doublecircle, label={}];",
                dot_quote(id),
                dot_quote(label)
            );
        }
    }
    let node = |to: To| match to {
        To::State(s) => dot_quote(&p.states[s].name),
        To::Closed => dot_quote(&closed),
        To::HalfClosed => dot_quote(&half_closed),
    };
    let _ = writeln!(
        out,
        "    {} -> {};",
        dot_quote(&entry),
        node(To::State(p.initial))
    );
    for e in &edges {
        let _ = writeln!(
            out,
            "    {} -> {} [label={}];",
            node(To::State(e.from)),
            node(e.to),
            dot_quote(&e.label)
        );
    }
    out.push_str("}\n");
    out
}

/// A DOT quoted string. Backslashes are doubled so that Graphviz shows
/// `\r\n` as written rather than as line breaks; a newline becomes `\n`,
/// Graphviz's centred line break.
pub fn dot_quote(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    format!("\"{escaped}\"")
}
