//! The upload-gateway binary: parse the command line, set up tracing, load the config, run.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use upload_gateway::config::Config;

/// The example configuration, built in: used when no `-c` is given.
const EMBEDDED_CONFIG: &str = include_str!("../conf/gateway.toml");

#[derive(Parser)]
#[command(
    version,
    about = "A pingora reverse proxy that inspects multipart uploads while they stream"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default command).
    Run {
        /// Config file (TOML); the built-in conf/gateway.toml when omitted.
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Validate a config file and print every error with its path.
    Check {
        #[arg(short, long)]
        config: PathBuf,
    },
}

fn load(path: Option<&PathBuf>) -> Result<Config, String> {
    match path {
        Some(p) => Config::load(p).map_err(|e| format!("invalid config {}:\n{e}", p.display())),
        None => {
            Config::parse(EMBEDDED_CONFIG).map_err(|e| format!("invalid built-in config:\n{e}"))
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,pingora_core=warn,pingora_proxy=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run { config: None }) {
        Command::Check { config } => match load(Some(&config)) {
            Ok(c) => {
                println!(
                    "{}: ok ({} routes, {} listeners)",
                    config.display(),
                    c.routes.len(),
                    c.listeners.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Run { config } => match load(config.as_ref()) {
            Ok(c) => {
                let c = Arc::new(c);
                tracing::info!(listeners = ?c.listeners, routes = c.routes.len(), "upload-gateway starting");
                upload_gateway::server::build(c).run_forever()
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}
