//! The greeting reference server.

fn main() -> std::process::ExitCode {
    servers::cli::server_main(
        "greeting-server",
        "Serves the greeting protocol (specs/greeting.proto).",
        servers::greeting::serve,
    )
}
