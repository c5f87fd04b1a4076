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
    /// Start the reference backend and the gateway (conf/demo.toml) in one process.
    Demo {
        /// Where the backend stores files and records.
        #[arg(long, default_value = "demo-data")]
        data_dir: PathBuf,
    },
    /// Run only the reference media backend.
    Backend {
        #[arg(long, default_value = "demo-data/media")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:9000")]
        listen: String,
    },
    /// API key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a fresh API key once, and the entry to add to the keys file (only its SHA-256).
    New {
        /// Key prefix; it selects the mode (so_live_ → live, so_test_ → test by default).
        #[arg(long, default_value = "so_live_")]
        prefix: String,
        /// A name for the key, sent upstream as the key label.
        #[arg(long)]
        label: String,
        /// The tenant the key acts for.
        #[arg(long)]
        tenant: Option<String>,
        /// Comma-separated scopes, e.g. media:read,media:write.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
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
        Command::Demo { data_dir } => match upload_gateway::demo::run(&data_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("demo failed: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Backend { data_dir, listen } => {
            match upload_gateway::backend::Backend::open(&data_dir) {
                Ok(b) => {
                    let mut server =
                        pingora::server::Server::new_with_opt_and_conf(None, Default::default());
                    server.bootstrap();
                    server.add_service(b.service(&listen));
                    tracing::info!(%listen, data_dir = %data_dir.display(), "media backend starting");
                    server.run_forever()
                }
                Err(e) => {
                    eprintln!("cannot open {}: {e}", data_dir.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Keys {
            command:
                KeysCommand::New {
                    prefix,
                    label,
                    tenant,
                    scopes,
                },
        } => {
            let (key, entry) =
                upload_gateway::auth::keys::generate(&prefix, &label, tenant.as_deref(), &scopes);
            println!("key (shown once, store it now): {key}\n\n# add to the keys file:\n{entry}");
            ExitCode::SUCCESS
        }
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
