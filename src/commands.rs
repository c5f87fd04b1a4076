//! The commands of the binary (`run`, `check`, `demo`, `backend`, `verify`, `keys`), as
//! src/cli.rs declares them; src/main.rs only parses the command line and calls [`run_cli`].

use crate::backend::Backend;
use crate::cli::{Cli, Command, KeysCommand};
use crate::config::Config;
use crate::reload::{Live, Reloader, on_hangup};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// The example configuration, built in: used when no `-c` is given.
const EMBEDDED_CONFIG: &str = include_str!("../conf/gateway.toml");

fn load(path: Option<&PathBuf>) -> Result<Config, String> {
    match path {
        Some(p) => Config::load(p).map_err(|e| format!("invalid config {}:\n{e}", p.display())),
        None => {
            Config::parse(EMBEDDED_CONFIG).map_err(|e| format!("invalid built-in config:\n{e}"))
        }
    }
}

/// Loads the configuration (its log format first), then runs the gateway.
fn start(path: Option<PathBuf>, upgrade: bool) -> ExitCode {
    match load(path.as_ref()) {
        Ok(c) => {
            crate::logs::init(c.log_json);
            run(Arc::new(c), path, upgrade)
        }
        Err(e) => fail(e),
    }
}

/// Runs the gateway until a terminating signal; `SIGHUP`, the admin `POST /reload` and the
/// optional timer reload the configuration from where it came from (src/reload.rs), keeping
/// the running one if the new one is invalid. pingora handles SIGTERM (graceful shutdown),
/// SIGINT (fast) and SIGQUIT (graceful upgrade: listeners handed to a gateway started with
/// `--upgrade`).
fn run(config: Arc<Config>, path: Option<PathBuf>, upgrade: bool) -> ExitCode {
    let every = config.server.reload_interval;
    tracing::info!(listeners = ?config.listeners, routes = config.routes.len(), "upload-gateway starting");
    let live = match Live::start(config) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let reloader = Arc::new(Reloader::new(live.clone(), move || load(path.as_ref())));
    if let Err(e) = on_hangup(reloader.clone(), every) {
        return fail(format!("cannot listen for SIGHUP: {e}"));
    }
    match crate::server::build_live(live, Some(reloader), upgrade) {
        Ok(server) => server.run_forever(),
        Err(e) => fail(e),
    }
}

fn open_backend(
    data_dir: &std::path::Path,
    key_file: Option<&std::path::Path>,
) -> Result<Backend, String> {
    let key = key_file.map(crate::verdict::read_key).transpose()?;
    Backend::open(data_dir)
        .map(|b| b.with_verdict_key(key))
        .map_err(|e| format!("cannot open {}: {e}", data_dir.display()))
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}

/// Carries out the command line.
pub fn run_cli(cli: Cli) -> ExitCode {
    let command = match cli.command {
        None => return start(cli.config, cli.upgrade),
        Some(Command::Run { config, upgrade }) => {
            return start(config.or(cli.config), upgrade || cli.upgrade);
        }
        Some(other) => other,
    };
    crate::logs::init(false);
    match command {
        Command::Demo { data_dir } => match crate::demo::run(&data_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(format!("demo failed: {e}")),
        },
        Command::Backend {
            data_dir,
            listen,
            verdict_key_file,
        } => match open_backend(&data_dir, verdict_key_file.as_deref()) {
            Ok(b) => {
                tracing::info!(%listen, data_dir = %data_dir.display(), "media backend starting");
                b.server(&listen).run_forever()
            }
            Err(e) => fail(e),
        },
        Command::Verify {
            key_file,
            content_type,
            request_id,
            max_age_seconds,
            field,
            body,
        } => {
            let checked = (|| {
                let key = crate::verdict::read_key(&key_file)?;
                let body = std::fs::read(&body)
                    .map_err(|e| format!("cannot read {}: {e}", body.display()))?;
                let expect = crate::verdict::Expect {
                    request_id: request_id.as_deref(),
                    max_age_secs: max_age_seconds,
                    now: crate::backend::time::now_unix(),
                };
                crate::verdict::check_body(&key, &field, &content_type, &body, &expect)
            })();
            match checked {
                Ok(v) => {
                    println!("{v:#}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("verdict refused: {e}")),
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
                crate::auth::keys::generate(&prefix, &label, tenant.as_deref(), &scopes);
            println!("key (shown once, store it now): {key}\n\n# add to the keys file:\n{entry}");
            ExitCode::SUCCESS
        }
        Command::Check { config } => match load(Some(&config)) {
            Ok(c) => {
                let (routes, listeners) = (c.routes.len(), c.listeners.len());
                println!(
                    "{}: ok ({routes} routes, {listeners} listeners)",
                    config.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Run { .. } => start(None, false),
    }
}
