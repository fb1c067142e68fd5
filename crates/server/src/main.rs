//! The `openscouter` binary: parses the command line and hands over to the library.

/// mimalloc (decision 236): the authenticated read ran malloc-bound on glibc's allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    openscouter_server::cli::main().await
}
