//! The compiler's integration tests, one module per area.

mod builder;
mod docs;
mod fixtures;
mod nonsense;
mod robustness;

use std::path::{Path, PathBuf};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn shipped_specs() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("specs"))
        .expect("specs/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 5, "expected the five seed specs, found {specs:?}");
    specs
}
