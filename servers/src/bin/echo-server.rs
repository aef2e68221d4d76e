//! The echo reference server.

fn main() -> std::process::ExitCode {
    servers::cli::server_main(
        "echo-server",
        "Serves the echo protocol (specs/echo.proto).",
        servers::echo::serve,
    )
}
