//! The `gatewatch` binary: see [`gatewatch::server::cli`].

/// mimalloc instead of glibc's allocator: a request's record and headers are allocated on a proxy
/// thread and freed on another, which costs glibc arena locking and bin consolidation
/// (BENCHMARKS.md, "Recording on vs off").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gatewatch::server::cli::main().await
}
