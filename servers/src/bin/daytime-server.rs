//! The daytime reference server.

fn main() -> std::process::ExitCode {
    servers::cli::server_main(
        "daytime-server",
        "Serves the daytime protocol (specs/daytime.proto).",
        servers::daytime::serve,
    )
}
