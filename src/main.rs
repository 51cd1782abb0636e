//! The `gatewatch` binary: see [`gatewatch::server::cli`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gatewatch::server::cli::main().await
}
