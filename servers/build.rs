//! The memcached GET client is generated here, the build.rs way; the other
//! specs use the `protocol!` macro.

fn main() {
    if let Err(e) = protocol_dsl::Builder::new()
        .server(false)
        .compile(&["../specs/memcached_get.proto"])
    {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
