//! The upload-gateway binary: parse the command line and carry it out (src/commands.rs).

use clap::Parser;
use std::process::ExitCode;
use upload_gateway::cli::Cli;

// jemalloc, as pingora's own examples use: fewer cycles per allocation than glibc's malloc on
// the request path, and freed memory goes back to the system (docs/PERFORMANCE.md).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    upload_gateway::commands::run_cli(Cli::parse())
}
