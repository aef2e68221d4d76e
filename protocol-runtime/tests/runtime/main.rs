//! The runtime's integration tests, one module per area.

mod smoke;

use std::sync::Arc;

use protocol_runtime::spec::Protocol;

/// Compiles a shipped spec by name.
pub fn spec(name: &str) -> Arc<Protocol> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs").join(format!("{name}.proto"));
    let compiled = protocol_dsl::compile_file(&path).expect("readable spec");
    let rendered = compiled.render(false);
    Arc::new(compiled.protocol.unwrap_or_else(|| panic!("{name} compiles:\n{rendered}")))
}
