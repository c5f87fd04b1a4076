//! Builds the pingora server from a validated [`Config`] and runs it, either until a signal
//! (the binary) or until a test drops its handle.

use crate::config::Config;
use crate::connections::Guarded;
use crate::proxy::Gateway;
use crate::reload::{Live, Reloader, Shared};
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::listening::Service;
use std::sync::Arc;

/// A pingora server with the gateway service on every configured listener (and `/metrics` on
/// the admin listener, if configured).
pub fn build(config: Arc<Config>) -> Result<Server, String> {
    // Building a store opens nothing yet (Redis connects on the first call).
    build_live(Live::start(config)?, None, false)
}

/// [`build`] over a shared configuration that `reloader` may swap (also from the admin
/// listener's `POST /reload`); with `upgrade`, the listening sockets are taken over from a
/// running gateway (pingora's graceful upgrade, `server.upgrade_sock`).
pub fn build_live(
    live: Shared,
    reloader: Option<Arc<Reloader>>,
    upgrade: bool,
) -> Result<Server, String> {
    let config = live.load().config.clone();
    let conf = ServerConf {
        threads: config.server.threads,
        work_stealing: config.server.work_stealing,
        grace_period_seconds: Some(config.server.grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(config.server.grace_period_seconds),
        upgrade_sock: config.server.upgrade_sock.clone(),
        ..ServerConf::default()
    };
    let opt = pingora::server::configuration::Opt {
        upgrade,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    server.bootstrap();
    let mut http =
        pingora::proxy::HttpProxy::new(Gateway::new(live.clone()), server.configuration.clone());
    http.handle_init_modules();
    let mut options = pingora::apps::HttpServerOptions::default();
    options.h2c = config.server.h2c;
    // An HTTP/2 connection with no stream open is idle like an HTTP/1 one between requests.
    options.h2_idle_timeout = Some(config.server.connections.deadlines.keepalive);
    http.server_options = Some(options);
    // pingora's bounded defaults, with the configured stream limit.
    let mut h2 = pingora::protocols::http::v2::server::default_h2_options();
    h2.max_concurrent_streams(config.server.h2_max_concurrent_streams);
    http.h2_options = Some(h2);
    // Caps and deadlines on every client connection (src/connections.rs).
    let guarded = Guarded::new(http, config.server.connections);
    let admission = guarded.admission();
    let mut proxy = Service::new("upload-gateway".to_string(), guarded);
    let buffers = L4BufferSettings::new(
        config.server.read_buffer_bytes,
        config.server.write_buffer_bytes,
    );
    for l in &config.listeners {
        add_listener(&mut proxy, l, buffers)?;
    }
    // The caps count a connection from accept, before a TLS handshake (pingora's is a fixed
    // 60 s: src/connections/admit.rs).
    proxy.set_connection_filter(admission);
    server.add_service(proxy);
    if let Some(admin) = config.admin {
        let app = crate::admin::Admin::new(live, reloader);
        server.add_service(app.service(&admin.to_string()));
    }
    Ok(server)
}

/// A plain listener, or a TLS one offering HTTP/2 by ALPN when configured, with the
/// configured per-connection buffers.
fn add_listener<A>(
    svc: &mut pingora::services::listening::Service<A>,
    l: &crate::config::Listener,
    buffers: L4BufferSettings,
) -> Result<(), String> {
    let addr = l.address.to_string();
    let endpoint = ListenerConfig::tcp(addr.as_str()).l4_buffer(buffers);
    let Some(tls) = &l.tls else {
        svc.add_listener(endpoint);
        return Ok(());
    };
    let (cert, key) = (tls.cert.to_string_lossy(), tls.key.to_string_lossy());
    let mut settings = pingora::listeners::tls::TlsSettings::intermediate(&cert, &key)
        .map_err(|e| format!("TLS listener {addr}: {e}"))?;
    if tls.h2 {
        settings.enable_h2();
    }
    svc.add_listener(endpoint.tls(settings));
    Ok(())
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
