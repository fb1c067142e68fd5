//! The `openscouter` binary: parses the command line and hands over to the library.

/// mimalloc instead of glibc's malloc (docs/decisions.md): the request path allocates small,
/// short-lived buffers from many threads, where glibc's arenas spent a tenth of the server's
/// CPU in `bench/load.sh` (malloc, free, `malloc_consolidate`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    openscouter_server::cli::main().await
}
