//! The `build.rs` API, in the shape of prost-build and tonic-build: a
//! one-call [`compile`] and a [`Builder`] for the options.
//!
//! ```no_run
//! // in build.rs's `main`:
//! protocol_dsl::compile(&["../specs/greeting.proto"]).unwrap();
//! ```
//!
//! and in the crate: `protocol_runtime::include_protocol!("greeting");`
//!
//! A spec with an error fails the build with its diagnostics, printed as
//! `conformance check` prints them: [`BuildError`]'s `Debug` and `Display`
//! are both the rendered text, so `.unwrap()` shows
//!
//! ```text
//! called `Result::unwrap()` on an `Err` value: error[E0205]: messages `Value` and `NotFound` cannot be told apart in a reply to `Incr` in state `Ready`
//!   --> ../specs/counters.proto:9:34
//!   |
//! 9 |         exchange Incr -> Value | NotFound;
//! ...
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use crate::codegen::{self, Options};

/// Why specs could not be compiled: every diagnostic, rendered as
/// `conformance check` prints them (`error[E0205]: ...`, `--> file:line:col`,
/// the source line and carets).
///
/// `Debug` prints the same text as `Display`, not the struct, so that
/// `.unwrap()` or `.expect()` in a build script shows the diagnostics
/// line by line, as rustc shows its own errors.
#[derive(thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    /// The rendered diagnostics (or why a file could not be read or written).
    pub message: String,
}

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Compiles specs into `OUT_DIR`, one `<protocol name>.rs` each, with clients
/// and servers.
pub fn compile(paths: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, BuildError> {
    Builder::new().compile(paths)
}

/// Options for compiling specs in a build script.
#[derive(Debug, Clone)]
pub struct Builder {
    out_dir: Option<PathBuf>,
    options: Options,
    emit_rerun: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            out_dir: None,
            options: Options::default(),
            emit_rerun: true,
        }
    }
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }
    /// Where to write the generated files (default: `$OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }
    /// Generate the client API (default: yes).
    pub fn client(mut self, yes: bool) -> Self {
        self.options.client = yes;
        self
    }
    /// Generate the server API (default: yes).
    pub fn server(mut self, yes: bool) -> Self {
        self.options.server = yes;
        self
    }
    /// The path of the runtime crate in generated code (default
    /// `::protocol_runtime`), for crates that re-export it.
    pub fn runtime_path(mut self, path: impl Into<String>) -> Self {
        self.options.runtime = path.into();
        self
    }
    /// Print `cargo:rerun-if-changed` for every input (default: yes).
    pub fn emit_rerun_if_changed(mut self, yes: bool) -> Self {
        self.emit_rerun = yes;
        self
    }

    /// Compiles each spec; returns the files written. On an error in any
    /// spec it returns every spec's diagnostics in one [`BuildError`], whose
    /// `Debug` is the rendered text: `.unwrap()` in `build.rs` prints them as
    /// `conformance check` does.
    pub fn compile(&self, paths: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, BuildError> {
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| BuildError {
                    message: "OUT_DIR is not set: call this from build.rs or set `out_dir`".into(),
                })?,
        };
        let mut written = Vec::new();
        let mut errors = String::new();
        for path in paths {
            let path = path.as_ref();
            if self.emit_rerun {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            let compiled = match crate::compile_file(path) {
                Ok(c) => c,
                Err(e) => {
                    errors.push_str(&format!("error: cannot read `{}`: {e}\n", path.display()));
                    continue;
                }
            };
            for d in compiled.diagnostics.items.iter().filter(|d| !d.is_error()) {
                if self.emit_rerun {
                    println!(
                        "cargo:warning={}: {} [{}]",
                        compiled.source.location(d.span),
                        d.message,
                        d.code
                    );
                }
            }
            let Some(protocol) = &compiled.protocol else {
                errors.push_str(&compiled.render(false));
                continue;
            };
            let code = codegen::generate_file(protocol, &compiled.source, &self.options);
            let file = out_dir.join(format!("{}.rs", protocol.name));
            std::fs::write(&file, code).map_err(|e| BuildError {
                message: format!("cannot write `{}`: {e}", file.display()),
            })?;
            written.push(file);
        }
        if errors.is_empty() {
            Ok(written)
        } else {
            Err(BuildError { message: errors })
        }
    }
}
