//! The `gatewatch` binary: see [`gatewatch::server::cli`].

/// mimalloc instead of glibc's allocator: a request's record and headers are allocated on a proxy
/// thread and freed on another, which costs glibc arena locking and bin consolidation
/// (docs/performance-log.md#recording-2026-12-02-cheaper).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gatewatch::server::cli::main().await
}
