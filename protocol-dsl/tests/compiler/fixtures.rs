//! Fixture folders: every valid spec compiles with no error (its warnings and
//! IR are snapshotted); every invalid spec produces the code it is named after
//! (its rendered diagnostics are snapshotted).

use protocol_dsl::{compile_bytes, Code};

fn display_name(path: &std::path::Path) -> String {
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "{parent}/{}",
        path.file_name().expect("file name").to_string_lossy()
    )
}

fn check_valid(kind: &str, path: &std::path::Path) {
    let bytes = std::fs::read(path).expect("readable fixture");
    let compiled = compile_bytes(&display_name(path), &bytes);
    assert!(
        !compiled.diagnostics.has_errors(),
        "{} should compile without errors:\n{}",
        path.display(),
        compiled.render(false)
    );
    let protocol = compiled.protocol.as_ref().expect("IR of a valid spec");
    let _ = protocol;
    insta::assert_snapshot!(
        kind,
        format!(
            "{}\n{}",
            compiled.render(false),
            compiled.ir_text().expect("IR text")
        )
    );
}

#[test]
fn valid_fixtures() {
    insta::glob!("../fixtures/valid", "*.proto", |path| check_valid("valid", path));
}

#[test]
fn shipped_specs() {
    insta::glob!("../../../specs", "*.proto", |path| check_valid("spec", path));
}

#[test]
fn invalid_fixtures() {
    insta::glob!("../fixtures/invalid", "*.proto", |path| {
        let name = path
            .file_stem()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let code_str = name.split('-').next().expect("fixture named CODE-description");
        let code =
            Code::from_code(code_str).unwrap_or_else(|| panic!("fixture {name} is not named after a code"));
        let bytes = std::fs::read(path).expect("readable fixture");
        let compiled = compile_bytes(&display_name(path), &bytes);
        assert!(
            compiled.diagnostics.codes().contains(&code),
            "{} should report {code}, got {:?}:\n{}",
            path.display(),
            compiled.diagnostics.codes(),
            compiled.render(false)
        );
        if code.severity() == protocol_dsl::Severity::Error {
            assert!(compiled.protocol.is_none(), "a spec with errors yields no IR");
        }
        insta::assert_snapshot!("invalid", compiled.render(false));
    });
}

/// Every diagnostic code has at least one invalid fixture named after it.
#[test]
fn every_code_has_a_fixture() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let names: Vec<String> = std::fs::read_dir(dir)
        .expect("invalid fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    for code in Code::ALL {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("{}-", code.as_str()))),
            "no invalid fixture for {code}"
        );
    }
}
