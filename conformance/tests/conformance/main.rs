//! The conformance crate's integration tests, one module per area.

mod broken;
mod bundled;
mod cli;
mod docs;
mod graph;
mod record;
mod serve;
mod sweep;
mod transcript;
mod wait;

use std::path::PathBuf;

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}
