//! `protocol!`: generates a typed tokio client and server from a `.proto`
//! spec. A thin shell: the expansion is `protocol_dsl::macro_support::expand`.
//!
//! ```ignore
//! protocol_macros::protocol!("specs/greeting.proto"); // relative to CARGO_MANIFEST_DIR
//! protocol_macros::protocol!(inline = "protocol tiny { ... }");
//! ```

use proc_macro::TokenStream;

/// Generates `pub mod <protocol name>` from a spec file (relative to the
/// crate's `CARGO_MANIFEST_DIR`) or an inline spec. Spec errors become
/// `compile_error!`s naming `path:line:col`.
#[proc_macro]
pub fn protocol(input: TokenStream) -> TokenStream {
    protocol_dsl::macro_support::expand(input.into()).into()
}

/// The guide to the generated code, `docs/generated-code.md`: its Rust
/// examples are compiled (and those not marked `no_run` run) as this crate's
/// doctests, so an example that stops compiling fails `cargo test`.
#[cfg(doctest)]
#[doc = include_str!("../../docs/generated-code.md")]
mod generated_code_guide {}
