//! Client connections under caps and deadlines, around pingora's HTTP service: a connection
//! beyond `[server] max_connections` (or `max_connections_per_ip` from one client) is closed
//! as soon as it is accepted — before its TLS handshake ([`admit::Admission`], pingora's
//! connection filter) — and each admitted one runs under the deadlines of
//! [`deadline::Deadlined`]. pingora 0.9 has neither (docs/ARCHITECTURE.md, "Connections").

mod admit;
mod counts;
mod deadline;
mod requests;

pub use admit::{Admission, HANDSHAKE_WINDOW};
pub use counts::{Caps, Counts, Refusal, Slot, client_key};
pub use deadline::{Deadlined, Deadlines, Expired, mark_head_read, mark_request_done};
pub use requests::{InFlight, RequestSlot};

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The caps and deadlines of `[server]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub caps: Caps,
    /// Requests in flight at once, over every connection (0 = no cap).
    pub max_requests: usize,
    pub deadlines: Deadlines,
}

/// A pingora application (the HTTP proxy) whose connections are counted, capped and put under
/// deadlines.
pub struct Guarded<A> {
    inner: Arc<A>,
    limits: Limits,
    counts: Arc<Counts>,
    refusals: Arc<Refusals>,
    /// Places taken at accept, before a TLS handshake ([`Self::admission`]).
    admission: Arc<Admission>,
}

/// Refusals, counted in a metric and logged at most once a second (a flood is many).
#[derive(Debug)]
struct Refusals {
    counts: Arc<Counts>,
    /// The second of the last refusal log line.
    logged_at: AtomicU64,
}

impl Refusals {
    fn report(&self, why: Refusal, client: Option<IpAddr>) {
        crate::metrics::connection_refused(why.label());
        let now = seconds_since_start();
        if self.logged_at.swap(now, Ordering::Relaxed) != now {
            let client = client.map_or("-".to_string(), |ip| client_key(ip).to_string());
            tracing::warn!(
                reason = why.label(),
                client = %client,
                open = self.counts.open(),
                "connection refused: {} reached (more refusals this second are only counted)",
                why.label()
            );
        }
    }
}

impl<A> Guarded<A> {
    pub fn new(inner: A, limits: Limits) -> Self {
        let counts = Arc::new(Counts::default());
        let refusals = Arc::new(Refusals {
            counts: counts.clone(),
            logged_at: AtomicU64::new(0),
        });
        let report = refusals.clone();
        let admission = Admission::new(counts.clone(), limits.caps, move |why, client| {
            report.report(why, client)
        });
        Self {
            inner: Arc::new(inner),
            limits,
            counts,
            refusals,
            admission: Arc::new(admission),
        }
    }

    /// The admission to install as the listening service's connection filter, so that the
    /// caps count connections from accept, before their TLS handshake.
    pub fn admission(&self) -> Arc<Admission> {
        self.admission.clone()
    }
}

/// Whole seconds since the first call, from 1 (0 means "never logged").
fn seconds_since_start() -> u64 {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    START.elapsed().as_secs() + 1
}

fn peer_ip(stream: &Stream) -> Option<IpAddr> {
    let digest = stream.get_socket_digest()?;
    Some(digest.peer_addr()?.as_inet()?.ip())
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Guarded<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let client = peer_ip(&stream);
        // The place taken at accept (src/connections/admit.rs); a unix socket, or a reused
        // keep-alive connection finding none, takes one now.
        let claimed = client.and_then(|ip| self.admission.claim(ip));
        let slot = match claimed.map_or_else(|| self.counts.acquire(client, self.limits.caps), Ok) {
            Ok(slot) => slot,
            Err(why) => {
                self.refusals.report(why, client);
                return None;
            }
        };
        let _open = crate::metrics::ConnectionOpen::start();
        let mut stream: Stream = Box::new(Deadlined::new(stream, self.limits.deadlines, |which| {
            crate::metrics::connection_expired(which.label())
        }));
        // A plain connection costs little until its first byte: pingora's session (~30 KiB a
        // connection, measured by scripts/hostile.sh) starts once there is one. The wait has
        // the first-byte (or keep-alive) deadline; a TLS stream does not peek and goes on.
        if stream.try_peek(&mut [0u8; 1]).await.is_err() {
            return None;
        }
        let reused = self.inner.process_new(stream, shutdown).await;
        drop(slot);
        reused
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}
