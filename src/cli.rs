//! The command line: `run` (the default), `check`, `demo`, `backend`, `keys new` and `verify`.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "A pingora reverse proxy that inspects uploads (multipart forms, raw bodies, S3 and tus) while they stream"
)]
pub struct Cli {
    /// Config file (TOML) for `run` when no command is given: `upload-gateway -c FILE`.
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Graceful upgrade: take over the listening sockets of a running gateway (sent through
    /// `server.upgrade_sock` when that one gets SIGQUIT) instead of binding them.
    #[arg(short, long)]
    pub upgrade: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gateway (the default command).
    Run {
        /// Config file (TOML); the built-in conf/gateway.toml when omitted.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Graceful upgrade: take over the listening sockets of the running gateway.
        #[arg(short, long)]
        upgrade: bool,
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
        /// Verify the gateway's signed verdict on uploads with this HMAC key (`[routes.verdict]`)
        /// and store the dimensions and scan status it gives; refuse uploads without a valid one.
        #[arg(long)]
        verdict_key_file: Option<PathBuf>,
    },
    /// Check a signed verdict in a multipart body as the backend received it: the signature,
    /// its age, the request id, and each file's SHA-256 and size. Prints the verdict.
    Verify {
        /// The HMAC key file (the route's `[routes.verdict] key_file`).
        #[arg(long)]
        key_file: PathBuf,
        /// The body's Content-Type header (with its boundary).
        #[arg(long)]
        content_type: String,
        /// The X-Request-Id the backend received with the body.
        #[arg(long)]
        request_id: Option<String>,
        /// The oldest verdict accepted, in seconds.
        #[arg(long, default_value_t = 300)]
        max_age_seconds: u64,
        /// The verdict's form field (`[routes.verdict] field`).
        #[arg(long, default_value = "upload_gateway_verdict")]
        field: String,
        /// The body file.
        body: PathBuf,
    },
    /// API key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
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
