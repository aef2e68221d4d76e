//! The `build.rs` API: a failed build shows its diagnostics as the CLI
//! prints them, through `Display` and `Debug` alike, so that `.unwrap()` and
//! `.expect()` in a build script print a readable error.

use protocol_dsl::Builder;

fn invalid_spec() -> std::path::PathBuf {
    crate::workspace_root().join("protocol-dsl/tests/fixtures/invalid/E0205-number-vs-not-found.proto")
}

fn builder() -> Builder {
    Builder::new()
        .out_dir(env!("CARGO_TARGET_TMPDIR"))
        .emit_rerun_if_changed(false)
}

fn failed_build() -> (protocol_dsl::builder::BuildError, String) {
    let spec = invalid_spec();
    let compiled = protocol_dsl::compile_file(&spec).expect("the fixture is readable");
    let err = builder().compile(&[&spec]).expect_err("the spec has an error");
    (err, compiled.render(false))
}

#[test]
fn debug_is_the_rendered_diagnostics() {
    let (err, rendered) = failed_build();
    let debug = format!("{err:?}");
    assert!(
        !debug.contains("BuildError {"),
        "Debug is not the struct:\n{debug}"
    );
    assert!(debug.contains("error[E0205]"), "{debug}");
    assert!(
        debug.contains("\n  --> "),
        "a real newline before the `-->` line:\n{debug}"
    );
    assert_eq!(
        debug, rendered,
        "Debug prints the diagnostics as `conformance check` does"
    );
    assert_eq!(format!("{err:#?}"), rendered);
}

#[test]
fn display_is_the_rendered_diagnostics() {
    let (err, rendered) = failed_build();
    assert_eq!(err.to_string(), rendered);
}

#[test]
fn unwrap_shows_the_diagnostics() {
    let (_, rendered) = failed_build();
    let panic = std::panic::catch_unwind(|| {
        builder().compile(&[invalid_spec()]).unwrap();
    })
    .expect_err("unwrap panics");
    let message = panic.downcast_ref::<String>().expect("a formatted panic message");
    assert!(
        message.starts_with("called `Result::unwrap()` on an `Err` value: error[E0205]"),
        "{message}"
    );
    assert!(message.ends_with(&rendered), "{message}");
}
