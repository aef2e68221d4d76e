//! Transcripts as written: every node keeps its span in the file.

use std::time::Duration;

pub use protocol_runtime::layout::{Role, Span};

#[derive(Debug, Clone)]
pub struct Transcript {
    /// A bundled spec's name or a path (relative to the transcript's folder).
    pub spec: String,
    pub spec_span: Span,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub span: Span,
    /// Changes global state (e.g. `flush_all`): runs alone.
    pub exclusive: bool,
    pub timeout: Option<Duration>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub kind: StepKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum StepKind {
    /// Bytes outside the spec: sent by `role`, or expected from it exactly.
    Raw {
        role: Role,
        bytes: Vec<u8>,
        within: Option<Duration>,
    },
    /// `role` sends nothing for this long.
    Silent {
        role: Role,
        duration: Duration,
    },
    Closes {
        role: Role,
        within: Option<Duration>,
    },
    Resets {
        role: Role,
        within: Option<Duration>,
    },
    HalfCloses {
        role: Role,
        within: Option<Duration>,
    },
    /// A message of the spec (one of several acceptable ones when expected).
    Message {
        role: Role,
        alternatives: Vec<Alternative>,
        within: Option<Duration>,
    },
}

#[derive(Debug, Clone)]
pub struct Alternative {
    pub message: String,
    pub message_span: Span,
    pub fields: Vec<FieldExpr>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct FieldExpr {
    pub name: String,
    pub name_span: Span,
    pub value: ValueExpr,
}

#[derive(Debug, Clone)]
pub struct ValueExpr {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ValueKind {
    /// `_`: anything (including absent).
    Wildcard,
    /// `$name`: binds the received value, or uses the bound one when sending.
    Capture(String),
    /// `/regex/`: text fields only.
    Regex(String),
    /// `none`: an optional field that is absent.
    None,
    Bool(bool),
    Number(i128),
    Bytes(Vec<u8>),
    List(Vec<ValueExpr>),
    /// A value of a named type: `Bulk { data: "x" }` (a struct, or a
    /// choice's branch by name), `NullBulk`, or `{ ... }` where the type is
    /// the field's.
    Struct {
        name: Option<(String, Span)>,
        fields: Vec<FieldExpr>,
    },
}
