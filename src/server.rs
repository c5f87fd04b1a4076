//! Builds the pingora server from a validated [`Config`] and runs it, either until a signal
//! (the binary) or until a test drops its handle.

use crate::config::Config;
use crate::proxy::Gateway;
use crate::reload::{Live, Shared};
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use std::sync::Arc;

/// A pingora server with the gateway service on every configured listener (and `/metrics` on
/// the admin listener, if configured).
pub fn build(config: Arc<Config>) -> Result<Server, String> {
    // Building a store opens nothing yet (Redis connects on the first call).
    Ok(build_live(Live::start(config)?))
}

/// [`build`] over a shared configuration that a [`crate::reload::Reloader`] may swap.
pub fn build_live(live: Shared) -> Server {
    let config = live.load().config.clone();
    let conf = ServerConf {
        threads: config.server.threads,
        work_stealing: config.server.work_stealing,
        grace_period_seconds: Some(config.server.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(config.server.grace_period_seconds),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        Gateway::new(live.clone()),
        "upload-gateway",
    );
    for addr in &config.listeners {
        proxy.add_tcp(&addr.to_string());
    }
    server.add_service(proxy);
    if let Some(admin) = config.admin {
        let app = crate::admin::Admin::new(live);
        server.add_service(app.service(&admin.to_string()));
    }
    server
}

/// Shuts the server down when the sender side is dropped or sends `true`.
pub struct ChannelShutdown(pub tokio::sync::watch::Receiver<bool>);

#[async_trait::async_trait]
impl ShutdownSignalWatch for ChannelShutdown {
    async fn recv(&self) -> ShutdownSignal {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stop| *stop).await;
        ShutdownSignal::FastShutdown
    }
}

/// Runs `server` on a background thread; dropping or signalling the returned sender stops it.
pub fn spawn(
    server: Server,
) -> (
    tokio::sync::watch::Sender<bool>,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let handle = std::thread::spawn(move || {
        server.run(RunArgs {
            shutdown_signal: Box::new(ChannelShutdown(rx)),
        });
    });
    (tx, handle)
}
