//! Client connections under caps and deadlines, around pingora's HTTP service: a connection
//! beyond `[server] max_connections` (or `max_connections_per_ip` from one client) is closed
//! as soon as it is accepted, and each admitted one runs under the deadlines of
//! [`deadline::Deadlined`]. pingora 0.9 has neither (docs/ARCHITECTURE.md, "Connections").

mod counts;
mod deadline;
mod requests;

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
    /// The second of the last refusal log line (refusals in a flood are counted, logged once a
    /// second).
    logged_at: AtomicU64,
}

impl<A> Guarded<A> {
    pub fn new(inner: A, limits: Limits) -> Self {
        Self {
            inner: Arc::new(inner),
            limits,
            counts: Arc::new(Counts::default()),
            logged_at: AtomicU64::new(0),
        }
    }

    fn refused(&self, why: Refusal, client: Option<IpAddr>) {
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
        let slot = match self.counts.acquire(client, self.limits.caps) {
            Ok(slot) => slot,
            Err(why) => {
                self.refused(why, client);
                return None;
            }
        };
        let _open = crate::metrics::ConnectionOpen::start();
        let stream: Stream = Box::new(Deadlined::new(stream, self.limits.deadlines, |which| {
            crate::metrics::connection_expired(which.label())
        }));
        let reused = self.inner.process_new(stream, shutdown).await;
        drop(slot);
        reused
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}
