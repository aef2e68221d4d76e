//! The `.proto` compiler on any bytes: parse, lower, check and render the
//! diagnostics; when the spec compiles, dump its IR and generate its code,
//! which must parse as a Rust file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol_dsl::codegen::{self, Options};

fuzz_target!(|data: &[u8]| {
    let compiled = protocol_dsl::compile_bytes("fuzz.proto", data);
    let _ = compiled.render(false);
    let Some(protocol) = &compiled.protocol else {
        return;
    };
    let _ = protocol_dsl::dump::dump(protocol, &compiled.source);
    let tokens = codegen::generate(protocol, &compiled.source, &Options::default());
    // A spec the compiler accepts must give code that at least parses; the
    // proc-macro would otherwise fail with an error about code nobody wrote.
    if let Err(e) = syn::parse2::<syn::File>(tokens) {
        panic!("generated code does not parse: {e}");
    }
});
