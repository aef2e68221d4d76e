//! The protospec language: `.proto` specs of TCP protocols, compiled to a
//! checked IR that the code generator and the conformance runner consume.
//!
//! The compiler is a pipeline, one module per stage:
//! [`parse`] (pest grammar → [`ast`]) → [`lower`] (names resolved, arguments
//! validated → [`ir`]) → [`check`] (one file per static check) → the IR.
//! Every stage reports into one [`Diagnostics`] list, which
//! [`diagnostic::render`] prints with `--> file:line:col` and a caret.

pub mod ast;
pub mod builder;
pub mod diagnostic;
pub mod dump;
pub mod parse;

pub use builder::{compile, Builder};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Severity, Source};
pub mod check;
pub mod codegen;
pub mod ir;
pub mod lower;
pub mod macro_support;

use std::path::Path;

/// The result of compiling one spec: the IR when there is no error, and every
/// diagnostic (warnings included) either way.
#[derive(Debug)]
pub struct Compilation {
    pub source: Source,
    pub protocol: Option<ir::Protocol>,
    pub diagnostics: Diagnostics,
}

impl Compilation {
    /// The diagnostics rendered as text, `--> file:line:col` and carets.
    pub fn render(&self, color: bool) -> String {
        diagnostic::render(&self.source, &self.diagnostics.items, color)
    }
}

/// Compiles a spec held in memory; `name` is what diagnostics call the file.
pub fn compile_str(name: &str, text: &str) -> Compilation {
    compile_source(Source::new(name, text))
}

/// Compiles a spec given as bytes; bytes that are not UTF-8 are an error.
pub fn compile_bytes(name: &str, bytes: &[u8]) -> Compilation {
    match std::str::from_utf8(bytes) {
        Ok(text) => compile_str(name, text),
        Err(e) => {
            let source = Source::new(name, String::from_utf8_lossy(bytes).into_owned());
            let at = e.valid_up_to();
            let mut diagnostics = Diagnostics::default();
            diagnostics.push(
                Diagnostic::new(
                    Code::Syntax,
                    ast::Span::new(at, at + 1),
                    "spec is not valid UTF-8",
                )
                .label("invalid byte")
                .help("save the spec as UTF-8; write other bytes in strings as `\\xHH`"),
            );
            Compilation {
                source,
                protocol: None,
                diagnostics,
            }
        }
    }
}

/// Reads and compiles a spec file.
pub fn compile_file(path: &Path) -> std::io::Result<Compilation> {
    let bytes = std::fs::read(path)?;
    Ok(compile_bytes(&path.display().to_string(), &bytes))
}

fn compile_source(source: Source) -> Compilation {
    let mut diagnostics = Diagnostics::default();
    let protocol = parse::parse(&source.text, &mut diagnostics).map(|ast| {
        let ir = lower::lower(&ast, &mut diagnostics);
        check::run_all(&ir, &mut diagnostics);
        ir
    });
    diagnostics.sort();
    let protocol = if diagnostics.has_errors() { None } else { protocol };
    Compilation {
        source,
        protocol,
        diagnostics,
    }
}

impl Compilation {
    /// The IR in readable text form, when the spec compiled.
    pub fn ir_text(&self) -> Option<String> {
        self.protocol.as_ref().map(|p| dump::dump(p, &self.source))
    }
}
