//! Configuration reloads without dropping uploads: the proxy reads its configuration through
//! one shared, atomically swapped [`Live`]; each request takes a snapshot in its header phase
//! and keeps it to its end, so a reload only affects requests that start after it. `SIGHUP`
//! triggers [`Reloader::reload`] in the binary (src/main.rs). Listeners, the admin address and
//! threads are bound at start: changing them needs a restart (logged).

use crate::config::Config;
use crate::idempotency::IdempotencyStore;
use crate::stores::Quotas;
use crate::tus::store::UploadStore;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// The configuration the proxy and the admin listener serve with.
#[derive(Debug)]
pub struct Live {
    pub config: Arc<Config>,
    /// The running quota store of `config.quotas` (kept across reloads of the same store).
    pub quotas: Option<Arc<Quotas>>,
    /// Where idempotency records live: the quota store, else a memory store of its own (kept
    /// across reloads).
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Where resumable uploads' records live: the same store as idempotency records.
    pub uploads: Arc<dyn UploadStore>,
}

/// Shared by the proxy, the admin listener and the reloader.
pub type Shared = Arc<ArcSwap<Live>>;

impl Live {
    /// The first configuration: starts the quota store.
    pub fn start(config: Arc<Config>) -> Result<Shared, String> {
        let quotas = start_quotas(&config, None)?;
        prime_metrics(&config);
        let (idempotency, uploads) = record_stores(quotas.as_ref(), None);
        Ok(Arc::new(ArcSwap::from_pointee(Self {
            config,
            quotas,
            idempotency,
            uploads,
        })))
    }
}

/// The routes' and the quota store's metric series, at zero (src/metrics/prime.rs).
fn prime_metrics(config: &Config) {
    let routes: Vec<crate::metrics::RouteLabels<'_>> = config
        .routes
        .iter()
        .map(|r| crate::metrics::RouteLabels {
            route: &r.name,
            methods: r.methods.iter().map(|m| m.as_str()).collect(),
            upstream: &r.upstream.name,
            upload: r.upload.is_some(),
            scan: r.upload.as_ref().is_some_and(|u| u.scan.is_some()),
        })
        .collect();
    crate::metrics::prime(&routes, config.quotas.is_some());
}

/// Where idempotency and upload records live: the quota store, else a memory store.
fn record_stores(
    quotas: Option<&Arc<Quotas>>,
    old: Option<&Live>,
) -> (Arc<dyn IdempotencyStore>, Arc<dyn UploadStore>) {
    match (quotas, old) {
        (Some(q), _) => (q.idempotency.clone(), q.uploads.clone()),
        // Still no quota store: the records stay where they were.
        (None, Some(old)) if old.quotas.is_none() => (old.idempotency.clone(), old.uploads.clone()),
        (None, _) => {
            let s = Arc::new(crate::quota::MemoryStore::default());
            (s.clone(), s)
        }
    }
}

fn start_quotas(config: &Config, old: Option<&Arc<Quotas>>) -> Result<Option<Arc<Quotas>>, String> {
    Ok(match (&config.quotas, old) {
        (Some(s), Some(q)) if s.store == q.settings.store => Some(Arc::new(Quotas {
            settings: s.clone(),
            store: q.store.clone(),
            idempotency: q.idempotency.clone(),
            uploads: q.uploads.clone(),
        })),
        (Some(s), _) => Some(Arc::new(
            Quotas::start(s.clone()).map_err(|e| format!("cannot start the quota store: {e}"))?,
        )),
        (None, _) => None,
    })
}

/// Loads a new configuration and swaps it in, or keeps the running one.
pub struct Reloader {
    live: Shared,
    load: Box<dyn Fn() -> Result<Config, String> + Send + Sync>,
}

impl Reloader {
    pub fn new(
        live: Shared,
        load: impl Fn() -> Result<Config, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            live,
            load: Box::new(load),
        }
    }

    /// Validates the configuration source again; on success, requests starting from now use
    /// it. Returns what needs a restart to take effect (empty when nothing).
    pub fn reload(&self) -> Result<Vec<&'static str>, String> {
        let config = (self.load)()?;
        let old = self.live.load();
        let was = &old.config;
        let mut restart = Vec::new();
        if config.listeners != was.listeners {
            restart.push("listeners");
        }
        if config.admin != was.admin {
            restart.push("admin.address");
        }
        if config.server.threads != was.server.threads
            || config.server.work_stealing != was.server.work_stealing
        {
            restart.push("server.threads / server.work_stealing");
        }
        let quotas = start_quotas(&config, old.quotas.as_ref())?;
        let (idempotency, uploads) = record_stores(quotas.as_ref(), Some(&old));
        prime_metrics(&config);
        self.live.store(Arc::new(Live {
            config: Arc::new(config),
            quotas,
            idempotency,
            uploads,
        }));
        Ok(restart)
    }
}

/// Reloads on every `SIGHUP` and, when configured, every `every` (from a thread of its own:
/// pingora owns the other signals).
pub fn on_hangup(
    reloader: Arc<Reloader>,
    every: Option<std::time::Duration>,
) -> std::io::Result<()> {
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
