//! The transcript parser and checker on any text, for both roles, with the
//! errors rendered. This is `conformance::transcript::load_str` without the
//! spec resolution: the bundled specs are compiled once instead of per input
//! (a compile costs more than a parse), and a transcript naming any other
//! spec is skipped, as that would read files (`spec "/dev/zero"`).

#![no_main]

use std::sync::{Arc, OnceLock};

use conformance::transcript::{bundled_spec, check, parse, render};
use libfuzzer_sys::fuzz_target;
use protocol_runtime::layout::Role;
use protocol_runtime::spec::Protocol;

const SPECS: [&str; 5] = ["daytime", "echo", "greeting", "memcached_get", "memcached"];

fn compiled(name: &str) -> Option<&'static Arc<Protocol>> {
    static SPECS_COMPILED: OnceLock<Vec<Arc<Protocol>>> = OnceLock::new();
    let all = SPECS_COMPILED.get_or_init(|| {
        SPECS
            .iter()
            .map(|name| {
                let text = bundled_spec(name).expect("a bundled spec");
                let c = protocol_dsl::compile_str(&format!("specs/{name}.proto"), text);
                Arc::new(c.protocol.expect("a shipped spec compiles"))
            })
            .collect()
    });
    SPECS.iter().position(|s| *s == name).map(|i| &all[i])
}

fuzz_target!(|data: &[u8]| {
    // As `load` reads a file.
    let text = String::from_utf8_lossy(data);
    let name = "fuzz.transcript";
    let transcript = match parse::parse(&text) {
        Ok(t) => t,
        Err(errors) => {
            let _ = render(name, &text, &errors);
            return;
        }
    };
    let Some(spec) = compiled(&transcript.spec) else {
        return;
    };
    for role in [Role::Client, Role::Server] {
        if let Err(errors) = check::check(&transcript, spec, role, &text) {
            let _ = render(name, &text, &errors);
        }
    }
});
