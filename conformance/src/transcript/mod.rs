//! Conformance transcripts: parsing (`parse`, `ast`) and checking against a
//! spec (`check`) before anything is sent. Errors name `path:line:col`.

pub mod ast;
pub mod check;
pub mod parse;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol_runtime::layout::Span;
use protocol_runtime::spec::Protocol;

pub use check::{Action, CheckedCase, CheckedStep, Expected, Matcher, Template};

/// A problem in a transcript, at a span of its text.
#[derive(Debug, Clone)]
pub struct TranscriptError {
    pub span: Span,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

impl TranscriptError {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        TranscriptError {
            span,
            message: message.into(),
            label: String::new(),
            help: None,
        }
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A transcript file, parsed and checked against its spec.
#[derive(Debug)]
pub struct Suite {
    pub path: PathBuf,
    pub spec_name: String,
    pub spec: Arc<Protocol>,
    /// The spec's text, for coverage reports that name spec lines.
    pub spec_source: Arc<protocol_dsl::Source>,
    pub cases: Vec<CheckedCase>,
}

/// Why a transcript could not be loaded: its errors, rendered.
#[derive(Debug)]
pub struct LoadError {
    pub rendered: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rendered)
    }
}

/// The shipped specs, by name, compiled into the binary.
pub fn bundled_spec(name: &str) -> Option<&'static str> {
    Some(match name {
        "daytime" => include_str!("../../../specs/daytime.proto"),
        "echo" => include_str!("../../../specs/echo.proto"),
        "greeting" => include_str!("../../../specs/greeting.proto"),
        "memcached_get" => include_str!("../../../specs/memcached_get.proto"),
        "memcached" => include_str!("../../../specs/memcached.proto"),
        "modbus" => include_str!("../../../specs/modbus.proto"),
        "redis" => include_str!("../../../specs/redis.proto"),
        "postgres" => include_str!("../../../specs/postgres.proto"),
        "dns" => include_str!("../../../specs/dns.proto"),
        _ => return None,
    })
}

/// Loads, parses and checks a transcript for playing `played`.
pub fn load(path: &Path, played: protocol_runtime::layout::Role) -> Result<Suite, LoadError> {
    let text = std::fs::read(path).map_err(|e| LoadError {
        rendered: format!("error: cannot read `{}`: {e}\n", path.display()),
    })?;
    load_str(path, &String::from_utf8_lossy(&text), played)
}

/// Like [`load`] for a transcript already in memory (`path` names it and
/// anchors a relative spec path).
pub fn load_str(path: &Path, text: &str, played: protocol_runtime::layout::Role) -> Result<Suite, LoadError> {
    let name = path.display().to_string();
    let fail = |errors: Vec<TranscriptError>| LoadError {
        rendered: render(&name, text, &errors),
    };
    let transcript = parse::parse(text).map_err(fail)?;
    let (spec_name, spec, spec_source) = resolve_spec(path, &transcript).map_err(|e| fail(vec![e]))?;
    let cases = check::check(&transcript, &spec, played, text).map_err(fail)?;
    Ok(Suite {
        path: path.to_path_buf(),
        spec_name,
        spec,
        spec_source,
        cases,
    })
}

type Resolved = (String, Arc<Protocol>, Arc<protocol_dsl::Source>);

fn resolve_spec(path: &Path, t: &ast::Transcript) -> Result<Resolved, TranscriptError> {
    let (name, compiled) = if let Some(text) = bundled_spec(&t.spec) {
        (
            t.spec.clone(),
            protocol_dsl::compile_str(&format!("specs/{}.proto", t.spec), text),
        )
    } else {
        let spec_path = path.parent().unwrap_or(Path::new(".")).join(&t.spec);
        let compiled = protocol_dsl::compile_file(&spec_path).map_err(|e| {
            TranscriptError::new(t.spec_span, format!("cannot read spec `{}`: {e}", spec_path.display()))
                .label("no such spec")
                .help("name a bundled spec (daytime, echo, greeting, memcached_get, memcached, modbus, redis, postgres, dns) or a path relative to this file")
        })?;
        (spec_path.display().to_string(), compiled)
    };
    match compiled.protocol {
        Some(p) => Ok((name, Arc::new(p), Arc::new(compiled.source))),
        None => Err(TranscriptError::new(
            t.spec_span,
            format!("spec `{}` has errors:\n{}", t.spec, compiled.render(false)),
        )),
    }
}

/// Renders errors with `--> path:line:col`, the line and a caret.
pub fn render(name: &str, text: &str, errors: &[TranscriptError]) -> String {
    use codespan_reporting::diagnostic::{Diagnostic, Label};
    use codespan_reporting::files::SimpleFile;
    use codespan_reporting::term::{self, termcolor};
    let file = SimpleFile::new(name, text);
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    let mut out = termcolor::Buffer::no_color();
    for e in errors {
        let start = (e.span.start as usize).min(text.len());
        let end = (e.span.end as usize).clamp(start, text.len());
        let (start, end) = (floor(text, start), floor(text, end));
        let mut d = Diagnostic::error()
            .with_message(&e.message)
            .with_labels(vec![Label::primary((), start..end).with_message(&e.label)]);
        if let Some(h) = &e.help {
            d = d.with_notes(vec![format!("help: {h}")]);
        }
        if term::emit(&mut out, &config, &file, &d).is_err() {
            return errors.iter().map(|e| format!("error: {}\n", e.message)).collect();
        }
    }
    String::from_utf8_lossy(out.as_slice()).into_owned()
}

fn floor(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
