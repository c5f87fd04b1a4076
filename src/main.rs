//! The upload-gateway binary: parse the command line and carry it out (src/commands.rs).

use clap::Parser;
use std::process::ExitCode;
use upload_gateway::cli::Cli;

fn main() -> ExitCode {
    upload_gateway::commands::run_cli(Cli::parse())
}
