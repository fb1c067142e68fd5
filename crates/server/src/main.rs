//! The `openscouter` binary: parses the command line and hands over to the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    openscouter_server::cli::main().await
}
