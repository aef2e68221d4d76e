//! The checked IR. Its types live in `protocol_runtime::spec` so that the
//! runtime's engine can run it without depending on the compiler.

pub use protocol_runtime::spec::*;
