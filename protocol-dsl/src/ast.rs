//! The syntax tree of a `.proto` file, as written. Every node keeps its span;
//! nothing here is resolved or checked (see `lower` and `check`).

use std::time::Duration;

pub use protocol_runtime::layout::{Role, Span};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Protocol {
    pub name: Ident,
    pub decls: Vec<Decl>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Decl {
    Port {
        value: u64,
        span: Span,
    },
    Framing(Call),
    Limits(Vec<Limit>),
    Timeout {
        value: Timeouts,
        span: Span,
    },
    Pipelined {
        span: Span,
    },
    /// `overload "...";`: bytes a full server sends before closing.
    Overload {
        bytes: Vec<u8>,
        span: Span,
    },
    Message(MessageDecl),
    /// `struct NAME = body;`: a named type with the body syntax of a message.
    Struct(StructDecl),
    /// `choice NAME = A | B;`: one of several named types, told apart by
    /// their bytes.
    Choice(ChoiceDecl),
    State(StateDecl),
}

#[derive(Debug, Clone)]
pub struct StructDecl {
    pub name: Ident,
    pub segments: Vec<Segment>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ChoiceDecl {
    pub name: Ident,
    pub branches: Vec<Ident>,
    pub span: Span,
}

/// An integer expression over fields read before (`len - 4`, `qty * 2`).
#[derive(Debug, Clone)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Int(i128),
    Name(Ident),
    Binary(Op, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// What may follow a field's type.
#[derive(Debug, Clone)]
pub enum Constraint {
    /// `= 0` (a constant) or `= qty * 2` (computed from another field).
    Equals(Expr),
    /// `in 1..=125 | 0xff00`.
    In(Vec<(i128, i128)>, Span),
}

/// `line = 2 KiB;` inside `limits { ... }`.
#[derive(Debug, Clone)]
pub struct Limit {
    pub name: Ident,
    pub value: u64,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct MessageDecl {
    pub role: Role,
    pub name: Ident,
    pub segments: Vec<Segment>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Segment {
    /// `exact "HELLO?"`
    Exact { bytes: Vec<u8>, span: Span },
    /// `raw(len, max = 1 MiB) as data`
    Raw {
        args: Vec<Arg>,
        field: Option<Ident>,
        span: Span,
    },
    /// `line("\n", max = 80) { ... }` or `length(u16be, max = 1 KiB) { ... }`
    Framed {
        framing: Call,
        pattern: Vec<Element>,
        span: Span,
    },
    /// A pattern in the protocol's default framing.
    Default { pattern: Vec<Element>, span: Span },
    /// `{ ... }`, the whole body of a struct read in place inside the frame
    /// that holds its values.
    Inline { pattern: Vec<Element>, span: Span },
}

impl Segment {
    pub fn span(&self) -> Span {
        match self {
            Segment::Exact { span, .. }
            | Segment::Raw { span, .. }
            | Segment::Framed { span, .. }
            | Segment::Default { span, .. }
            | Segment::Inline { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Element {
    Literal {
        bytes: Vec<u8>,
        /// `"0" as Off`: the name of this option of a choice.
        label: Option<Ident>,
        span: Span,
    },
    Field {
        name: Ident,
        ty: FieldTy,
        /// `[n]` after the type: that many items.
        count: Option<Expr>,
        /// `[..]` after the type: items to the end of the frame.
        rest: bool,
        constraint: Option<Constraint>,
        /// Marked `volatile`: differs from run to run.
        volatile: bool,
        span: Span,
    },
    Group(Group),
    /// `if qos != 0 { ... }`: `test` is `None` for a bare flag (`if dup`).
    If {
        field: Ident,
        test: Option<Test>,
        pattern: Vec<Element>,
        span: Span,
    },
    /// `bits(byte) { kind: 4, _: 4 = 0 }`.
    Bits {
        carrier: Ident,
        slices: Vec<BitSliceDecl>,
        span: Span,
    },
    /// `size(rdlen) { ... }`.
    Sized {
        len: Expr,
        pattern: Vec<Element>,
        span: Span,
    },
    /// `match rtype { 1 => { ... } _ => { ... } }`.
    Match {
        field: Ident,
        arms: Vec<MatchArm>,
        span: Span,
    },
}

/// One arm of a `match`: the values it takes (`None` for `_`, every value
/// no other arm takes) and its part.
#[derive(Debug, Clone)]
pub struct MatchArm {
    pub values: Option<Vec<(i128, i128)>>,
    pub pattern: Vec<Element>,
    pub span: Span,
}

/// What an `if` compares its field with.
#[derive(Debug, Clone)]
pub enum Test {
    /// `== != < <= > >=` and a number.
    Compare(String, i128, Span),
    /// `in 1..=3 | 7`.
    In(Vec<(i128, i128)>, Span),
}

/// `qos: 2 in 0..=2`, `_: 4 = 0`: one slice of a `bits` element.
#[derive(Debug, Clone)]
pub struct BitSliceDecl {
    pub name: Ident,
    pub width: u64,
    pub constraint: Option<Constraint>,
    pub span: Span,
}

impl Element {
    pub fn span(&self) -> Span {
        match self {
            Element::Literal { span, .. }
            | Element::Field { span, .. }
            | Element::Bits { span, .. }
            | Element::Sized { span, .. }
            | Element::Match { span, .. }
            | Element::If { span, .. } => *span,
            Element::Group(g) => g.span,
        }
    }
}

#[derive(Debug, Clone)]
pub enum FieldTy {
    Call(Call),
    Group(Group),
}

/// `( a | b )`, `( ... )?`, or `( ... )*` / `( ... )+` (also `" "+`).
#[derive(Debug, Clone)]
pub struct Group {
    pub alternatives: Vec<Vec<Element>>,
    pub optional: bool,
    /// `*` (`Some(0)`) or `+` (`Some(1)`): the fewest rounds.
    pub repeat: Option<usize>,
    pub span: Span,
}

/// A name with optional arguments: `u32`, `token(max = 250)`, `line("\r\n")`.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum Value {
    Str(Vec<u8>),
    /// `" "+` as an argument (`sep = " "+`), with its mark.
    MarkedStr(Vec<u8>, Mark),
    /// `"\r\n" | "\n"` as an argument.
    Strs(Vec<Vec<u8>>),
    Size(u64),
    Duration(Duration),
    Call(Call),
    /// An expression with an operator (`len - 4`).
    Expr(Expr),
}

impl Value {
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::MarkedStr(..) => "a marked string",
            Value::Strs(_) => "alternative strings",
            Value::Size(_) => "a number",
            Value::Duration(_) => "a duration",
            Value::Call(_) => "a name",
            Value::Expr(_) => "an expression",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StateDecl {
    pub initial: bool,
    pub name: Ident,
    pub items: Vec<StateItem>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum StateItem {
    Sends {
        role: Role,
        message: Ident,
        condition: Option<Ident>,
        target: Target,
        span: Span,
    },
    Exchange {
        request: Ident,
        condition: Option<Ident>,
        reply: Reply,
        span: Span,
    },
    Otherwise {
        /// `otherwise MESSAGE [where FLAG] -> ...`: a fallback request.
        message: Option<Ident>,
        condition: Option<Ident>,
        reply: Reply,
        span: Span,
    },
    Closes {
        role: Role,
        span: Span,
    },
    HalfCloses {
        role: Role,
        target: Option<Target>,
        span: Span,
    },
    Ignore {
        role: Role,
        span: Span,
    },
    Duplex {
        span: Span,
    },
    Timeout {
        value: Timeouts,
        span: Span,
    },
}

#[derive(Debug, Clone)]
pub enum Target {
    State(Ident),
    Close(Span),
    HalfClose(Span),
}

#[derive(Debug, Clone)]
pub enum Reply {
    None(Span),
    Close(Span),
    Alternatives(Vec<ReplySeq>),
}

#[derive(Debug, Clone)]
pub struct ReplySeq {
    pub items: Vec<ReplyItem>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct ReplyItem {
    pub message: Ident,
    pub quantifier: Quantifier,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    One,
    Optional,
    ZeroOrMore,
    OneOrMore,
}

/// The mark after a string: `?`, `*` or `+`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Optional,
    ZeroOrMore,
    OneOrMore,
}

/// What a `timeout` declaration sets: `timeout 30s;` sets both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// `idle = D` or `idle = none` (`Some(None)`): how long to wait for the
    /// peer to begin a message it does not owe.
    pub idle: Option<Option<Duration>>,
    /// `message = D`: how long a message may take, from its first byte (or
    /// from when it was due) to its end.
    pub message: Option<Duration>,
}
