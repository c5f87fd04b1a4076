//! The upload-gateway binary: parse the command line, set up tracing, load the config, run.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use upload_gateway::backend::Backend;
use upload_gateway::cli::{Cli, Command, KeysCommand};
use upload_gateway::config::Config;
use upload_gateway::reload::{Live, Reloader};

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
            upload_gateway::logs::init(c.log_json);
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
    match upload_gateway::server::build_live(live, Some(reloader), upgrade) {
        Ok(server) => server.run_forever(),
        Err(e) => fail(e),
    }
}

/// Reloads on every `SIGHUP` and, when configured, every `every` (from a thread of its own:
/// pingora owns the other signals).
fn on_hangup(reloader: Arc<Reloader>, every: Option<std::time::Duration>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Registered before the server starts: from here on SIGHUP no longer terminates.
    let mut hangups = rt.block_on(async { signal(SignalKind::hangup()) })?;
    if let Some(every) = every {
        let timed = reloader.clone();
        rt.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                match off_runtime(&timed).await {
                    Ok(_) => tracing::debug!("configuration and key files re-read (timer)"),
                    Err(e) => tracing::error!(
                        "timed reload refused, the running configuration stays:\n{e}"
                    ),
                }
            }
        });
    }
    std::thread::spawn(move || {
        rt.block_on(async {
            while hangups.recv().await.is_some() {
                match off_runtime(&reloader).await {
                    Ok(restart) if restart.is_empty() => {
                        tracing::info!("configuration reloaded (SIGHUP)")
                    }
                    Ok(restart) => tracing::warn!(
                        "configuration reloaded (SIGHUP); changes to {} need a restart",
                        restart.join(", ")
                    ),
                    Err(e) => {
                        tracing::error!("reload refused, the running configuration stays:\n{e}")
                    }
                }
            }
        })
    });
    Ok(())
}

/// Reloads on the blocking pool: starting a new quota store may build a runtime of its own.
async fn off_runtime(r: &Arc<Reloader>) -> Result<Vec<&'static str>, String> {
    let r = r.clone();
    tokio::task::spawn_blocking(move || r.reload())
        .await
        .map_err(|e| format!("reload failed: {e}"))?
}

fn open_backend(
    data_dir: &std::path::Path,
    key_file: Option<&std::path::Path>,
) -> Result<Backend, String> {
    let key = key_file
        .map(upload_gateway::verdict::read_key)
        .transpose()?;
    Backend::open(data_dir)
        .map(|b| b.with_verdict_key(key))
        .map_err(|e| format!("cannot open {}: {e}", data_dir.display()))
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        None => return start(cli.config, cli.upgrade),
        Some(Command::Run { config, upgrade }) => {
            return start(config.or(cli.config), upgrade || cli.upgrade);
        }
        Some(other) => other,
    };
    upload_gateway::logs::init(false);
    match command {
        Command::Demo { data_dir } => match upload_gateway::demo::run(&data_dir) {
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
                let key = upload_gateway::verdict::read_key(&key_file)?;
                let body = std::fs::read(&body)
                    .map_err(|e| format!("cannot read {}: {e}", body.display()))?;
                let expect = upload_gateway::verdict::Expect {
                    request_id: request_id.as_deref(),
                    max_age_secs: max_age_seconds,
                    now: upload_gateway::backend::time::now_unix(),
                };
                upload_gateway::verdict::check_body(&key, &field, &content_type, &body, &expect)
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
                upload_gateway::auth::keys::generate(&prefix, &label, tenant.as_deref(), &scopes);
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
