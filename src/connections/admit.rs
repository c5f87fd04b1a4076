//! Admission at accept, before a TLS handshake (pingora's connection filter): the caps count a
//! connection from the moment it is accepted, not only once its handshake is done — pingora
//! gives a handshake a fixed 60 s, so 5,000 half-open TLS handshakes from one client would
//! otherwise sit outside every cap. An admitted connection's place waits here until the
//! handshake is done ([`Admission::claim`], from `Guarded::process_new`); a place whose
//! handshake never finished (failed, timed out) is given back once pingora's handshake
//! timeout has passed. Places are per client key, so which of a client's places a connection
//! claims does not matter.

use super::counts::{Caps, Counts, Refusal, Slot, client_key};
use dashmap::DashMap;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// pingora's fixed TLS handshake timeout (pingora-core `services/listening.rs`), and a margin.
pub const HANDSHAKE_WINDOW: Duration = Duration::from_secs(65);

/// Places taken at accept and not yet claimed.
pub struct Admission {
    counts: Arc<Counts>,
    caps: Caps,
    pending: DashMap<IpAddr, VecDeque<(Instant, Slot)>>,
    /// The second (since `epoch`) of the last sweep of every client's expired places.
    swept: AtomicU64,
    epoch: Instant,
    refused: Box<dyn Fn(Refusal, Option<IpAddr>) + Send + Sync>,
}

impl std::fmt::Debug for Admission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admission")
            .field("caps", &self.caps)
            .field("pending", &self.pending())
            .finish()
    }
}

impl Admission {
    /// Admission into `counts` under `caps`; `refused` reports each refusal.
    pub fn new(
        counts: Arc<Counts>,
        caps: Caps,
        refused: impl Fn(Refusal, Option<IpAddr>) + Send + Sync + 'static,
    ) -> Self {
        Self {
            counts,
            caps,
            pending: DashMap::new(),
            swept: AtomicU64::new(0),
            epoch: Instant::now(),
            refused: Box::new(refused),
        }
    }

    /// A connection accepted at `now` from `client`: a place is taken, or it is refused.
    pub fn admit(&self, client: IpAddr, now: Instant) -> Result<(), Refusal> {
        self.expire(now);
        let key = client_key(client);
        let slot = self
            .counts
            .acquire(Some(key), self.caps)
            .inspect_err(|why| {
                (self.refused)(*why, Some(key));
            })?;
        self.pending.entry(key).or_default().push_back((now, slot));
        Ok(())
    }

    /// The place taken at accept by a connection from `client` whose handshake is done.
    pub fn claim(&self, client: IpAddr) -> Option<Slot> {
        let key = client_key(client);
        let slot = self.pending.get_mut(&key)?.pop_front().map(|(_, s)| s);
        self.pending.remove_if(&key, |_, q| q.is_empty());
        slot
    }

    /// Gives back the places whose handshake can no longer finish: once a second over every
    /// client.
    fn expire(&self, now: Instant) {
        let second = now.saturating_duration_since(self.epoch).as_secs() + 1;
        if self.swept.swap(second, Ordering::AcqRel) == second {
            return;
        }
        self.pending.retain(|_, q| {
            while q
                .front()
                .is_some_and(|(at, _)| now.saturating_duration_since(*at) > HANDSHAKE_WINDOW)
            {
                q.pop_front();
            }
            !q.is_empty()
        });
    }

    /// Places waiting for a handshake.
    pub fn pending(&self) -> usize {
        self.pending.iter().map(|q| q.len()).sum()
    }
}

#[async_trait::async_trait]
impl pingora::listeners::ConnectionFilter for Admission {
    async fn should_accept(&self, addr: Option<&std::net::SocketAddr>) -> bool {
        // Unix sockets have no address: their places are taken in `Guarded::process_new`.
        addr.is_none_or(|a| self.admit(a.ip(), Instant::now()).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(per_client: usize) -> (Arc<Counts>, Admission) {
        let counts = Arc::new(Counts::default());
        let caps = Caps {
            total: 100,
            per_client,
        };
        (counts.clone(), Admission::new(counts, caps, |_, _| {}))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn connections_in_their_handshake_count_under_the_caps() {
        let (counts, a) = admission(2);
        let t = Instant::now();
        a.admit(ip("10.0.0.1"), t).unwrap();
        a.admit(ip("10.0.0.1"), t).unwrap();
        assert_eq!(a.admit(ip("10.0.0.1"), t), Err(Refusal::PerClient));
        a.admit(ip("10.0.0.2"), t).unwrap();
        assert_eq!((counts.open(), a.pending()), (3, 3));
        // A finished handshake claims a place; it is given back when the connection ends.
        let slot = a.claim(ip("10.0.0.1")).unwrap();
        assert_eq!((counts.open(), a.pending()), (3, 2));
        drop(slot);
        a.admit(ip("10.0.0.1"), t).unwrap();
        assert!(a.claim(ip("10.0.0.9")).is_none(), "no place taken for it");
    }

    #[test]
    fn a_handshake_that_never_finishes_gives_its_place_back_after_the_window() {
        let (counts, a) = admission(1);
        let t = Instant::now();
        a.admit(ip("10.0.0.1"), t).unwrap();
        let later = t + HANDSHAKE_WINDOW - Duration::from_secs(1);
        assert_eq!(a.admit(ip("10.0.0.1"), later), Err(Refusal::PerClient));
        let after = t + HANDSHAKE_WINDOW + Duration::from_secs(2);
        a.admit(ip("10.0.0.1"), after).unwrap();
        assert_eq!((counts.open(), a.pending()), (1, 1));
        // Every client's expired places go, not only the one connecting.
        a.admit(ip("10.0.0.2"), after).unwrap();
        let much_later = after + HANDSHAKE_WINDOW + Duration::from_secs(2);
        a.admit(ip("10.0.0.3"), much_later).unwrap();
        assert_eq!((counts.open(), a.pending()), (1, 1));
    }

    #[test]
    fn an_ipv6_client_is_admitted_by_its_64() {
        let (_, a) = admission(1);
        let t = Instant::now();
        a.admit(ip("2001:db8::1"), t).unwrap();
        assert_eq!(a.admit(ip("2001:db8::2"), t), Err(Refusal::PerClient));
        assert!(a.claim(ip("2001:db8::3")).is_some());
    }
}
