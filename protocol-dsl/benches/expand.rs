//! What `protocol!` costs a build: the expansion of each shipped spec (read,
//! parse, check, lower, generate the token stream), as the proc-macro runs it.
//!
//!     cargo bench -p protocol-dsl --bench expand

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use quote::quote;

fn expand(c: &mut Criterion) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    // The macro resolves paths against the crate being built.
    std::env::set_var("CARGO_MANIFEST_DIR", root);
    let mut group = c.benchmark_group("expand");
    for spec in ["daytime", "greeting", "memcached_get", "memcached"] {
        let path = format!("specs/{spec}.proto");
        group.bench_function(spec, |b| {
            b.iter(|| {
                let tokens = protocol_dsl::macro_support::expand(quote!(#path));
                black_box(tokens.to_string().len())
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = expand
}
criterion_main!(benches);
