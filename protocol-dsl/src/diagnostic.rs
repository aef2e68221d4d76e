//! Diagnostics: what every stage reports, and the one renderer that prints them.

use std::fmt;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};

use crate::ast::Span;

/// A stable diagnostic code. Codes never change meaning once published; the
/// language reference lists them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// The file is not valid `.proto` syntax.
    Syntax,
    /// A string, number or duration literal is malformed or out of range.
    BadLiteral,
    /// A construct is used with the wrong arguments or in the wrong place.
    BadConstruct,
    /// A name that is not declared.
    UnknownName,
    /// A name declared twice.
    DuplicateName,
    /// A message used by the wrong role.
    WrongRole,
    /// A named type none of whose values ends.
    IllFounded,
    /// No initial state, or more than one.
    InitialState,
    /// A state no path from the initial state reaches.
    UnreachableState,
    /// A state the conversation can never leave.
    NoWayOut,
    /// Both roles may send in one state without the spec saying so.
    BothSend,
    /// Two messages in one receive state that the bytes cannot tell apart.
    Indistinguishable,
    /// Messages in one receive state that start with different framings.
    MixedFraming,
    /// A `raw(n)` whose `n` is not an integer field read earlier in the message.
    RawLength,
    /// A length, line, raw-until-close or list with no bound.
    Unbounded,
    /// An integer field that cannot hold the lengths a `raw(n)` needs.
    LengthRange,
    /// Free text or bytes followed by something other than literals.
    TextPosition,
    /// A size, count or computed value that is not linear in one field.
    NotLinear,
    /// A message framed only by whatever bytes happen to be available.
    Segmentation,
}

impl Code {
    pub const ALL: &'static [Code] = &[
        Code::Syntax,
        Code::BadLiteral,
        Code::BadConstruct,
        Code::UnknownName,
        Code::DuplicateName,
        Code::WrongRole,
        Code::IllFounded,
        Code::InitialState,
        Code::UnreachableState,
        Code::NoWayOut,
        Code::BothSend,
        Code::Indistinguishable,
        Code::MixedFraming,
        Code::RawLength,
        Code::Unbounded,
        Code::LengthRange,
        Code::TextPosition,
        Code::NotLinear,
        Code::Segmentation,
    ];

    /// The code as printed: `E` for errors, `W` for warnings.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "E0001",
            Code::BadLiteral => "E0002",
            Code::BadConstruct => "E0003",
            Code::UnknownName => "E0101",
            Code::DuplicateName => "E0102",
            Code::WrongRole => "E0103",
            Code::IllFounded => "E0104",
            Code::InitialState => "E0201",
            Code::UnreachableState => "E0202",
            Code::NoWayOut => "E0203",
            Code::BothSend => "E0204",
            Code::Indistinguishable => "E0205",
            Code::MixedFraming => "E0206",
            Code::RawLength => "E0301",
            Code::Unbounded => "E0302",
            Code::LengthRange => "E0303",
            Code::TextPosition => "E0304",
            Code::NotLinear => "E0305",
            Code::Segmentation => "W0401",
        }
    }

    pub fn from_code(code: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(code))
    }

    pub fn severity(self) -> Severity {
        if self.as_str().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about a spec, anchored at a span of its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub span: Span,
    /// The label under the caret; may be empty.
    pub label: String,
    /// Other places that explain this one.
    pub secondary: Vec<(Span, String)>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

/// The diagnostics of one file, in source order once sorted.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }
    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }
    pub fn sort(&mut self) {
        self.items.sort_by_key(|d| (d.span.start, d.span.end, d.code));
        self.items.dedup();
    }
    pub fn codes(&self) -> Vec<Code> {
        self.items.iter().map(|d| d.code).collect()
    }
}

/// A spec's source text with the name it is reported under.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// `path:line:col` of a span's start.
    pub fn location(&self, span: Span) -> String {
        let (line, col) = self.line_col(span.start as usize);
        format!("{}:{}:{}", self.name, line, col)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders diagnostics as rustc does: `error[E0101]: ...`, `--> path:line:col`,
/// the source line and a caret under the construct.
pub fn render(source: &Source, diagnostics: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(source.name.as_str(), source.text.as_str());
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    let mut out = if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    };
    let clamp = |span: Span| {
        let range = span.range();
        let start = floor_char_boundary(&source.text, range.start.min(source.text.len()));
        let end = floor_char_boundary(&source.text, range.end.min(source.text.len())).max(start);
        start..end
    };
    for d in diagnostics {
        let severity = match d.severity() {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
        };
        let mut labels = vec![cs::Label::primary((), clamp(d.span)).with_message(&d.label)];
        for (span, msg) in &d.secondary {
            labels.push(cs::Label::secondary((), clamp(*span)).with_message(msg));
        }
        let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
        if let Some(help) = &d.help {
            notes.push(format!("help: {help}"));
        }
        let diag = cs::Diagnostic::new(severity)
            .with_code(d.code.as_str())
            .with_message(&d.message)
            .with_labels(labels)
            .with_notes(notes);
        // Writing to an in-memory buffer cannot fail but for a bug in the
        // renderer; fall back to a plain line rather than panic.
        if term::emit(&mut out, &config, &file, &diag).is_err() {
            let line = format!(
                "{}[{}]: {}\n  --> {}\n",
                if d.is_error() { "error" } else { "warning" },
                d.code,
                d.message,
                source.location(d.span)
            );
            out = {
                let mut b = termcolor::Buffer::no_color();
                std::io::Write::write_all(&mut b, line.as_bytes()).ok();
                b
            };
        }
    }
    String::from_utf8_lossy(out.as_slice()).into_owned()
}
