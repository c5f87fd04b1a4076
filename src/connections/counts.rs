//! Open connections, counted globally and per client address, with the caps that refuse one
//! more. Pure bookkeeping: a [`Slot`] is held for a connection's life and gives its place back
//! when dropped.

use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `[server] max_connections` are open.
    Total,
    /// `[server] max_connections_per_ip` are open from this client (an IPv6 client: its /64).
    PerClient,
}

impl Refusal {
    /// The metric label and log word.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Total => "max_connections",
            Refusal::PerClient => "max_connections_per_ip",
        }
    }
}

/// The caps (0 = no cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub total: usize,
    pub per_client: usize,
}

/// The open connections.
#[derive(Debug, Default)]
pub struct Counts {
    total: AtomicUsize,
    per_client: DashMap<IpAddr, usize>,
}

/// One open connection's place; dropping it gives the place back.
#[derive(Debug)]
pub struct Slot {
    counts: Arc<Counts>,
    client: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counts.total.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.client {
            if let Some(mut n) = self.counts.per_client.get_mut(&ip) {
                *n -= 1;
            }
            self.counts.per_client.remove_if(&ip, |_, n| *n == 0);
        }
    }
}

/// The address a per-client cap counts: an IPv4 address (also when IPv4-mapped), or an IPv6
/// address's /64 — one subscriber's usual allocation, which a client can rotate through freely.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

impl Counts {
    /// A place for one more connection from `client` (unknown for unix sockets), or why not.
    pub fn acquire(self: &Arc<Self>, client: Option<IpAddr>, caps: Caps) -> Result<Slot, Refusal> {
        let open = self.total.fetch_add(1, Ordering::AcqRel);
        if caps.total > 0 && open >= caps.total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Total);
        }
        let client = client.map(client_key);
        if let Some(ip) = client {
            let mut n = self.per_client.entry(ip).or_insert(0);
            if caps.per_client > 0 && *n >= caps.per_client {
                drop(n);
                self.per_client.remove_if(&ip, |_, n| *n == 0);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return Err(Refusal::PerClient);
            }
            *n += 1;
        }
        Ok(Slot {
            counts: self.clone(),
            client,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    /// Connections open now from `client`'s key.
    pub fn open_from(&self, client: IpAddr) -> usize {
        self.per_client.get(&client_key(client)).map_or(0, |n| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_per_client_cap_refuses_one_more_and_a_closed_connection_frees_its_place() {
        let counts = Arc::new(Counts::default());
        let caps = Caps {
            total: 10,
            per_client: 2,
        };
        let a = counts.acquire(ip("10.0.0.1"), caps).unwrap();
        let _b = counts.acquire(ip("10.0.0.1"), caps).unwrap();
        assert_eq!(
            counts.acquire(ip("10.0.0.1"), caps).unwrap_err(),
            Refusal::PerClient
        );
        // Another client is not affected; the refusal took no place.
        let _c = counts.acquire(ip("10.0.0.2"), caps).unwrap();
        assert_eq!(counts.open(), 3);
        drop(a);
        assert_eq!(counts.open_from("10.0.0.1".parse().unwrap()), 1);
        let _d = counts.acquire(ip("10.0.0.1"), caps).unwrap();
    }

    #[test]
    fn the_total_cap_counts_every_client_and_unix_sockets() {
        let counts = Arc::new(Counts::default());
        let caps = Caps {
            total: 2,
            per_client: 0,
        };
        let _a = counts.acquire(ip("10.0.0.1"), caps).unwrap();
        let b = counts.acquire(None, caps).unwrap();
        assert_eq!(
            counts.acquire(ip("10.0.0.3"), caps).unwrap_err(),
            Refusal::Total
        );
        assert_eq!(counts.open_from("10.0.0.3".parse().unwrap()), 0);
        drop(b);
        let _c = counts.acquire(ip("10.0.0.3"), caps).unwrap();
        assert_eq!(counts.open(), 2);
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_a_mapped_ipv4_client_its_address() {
        let counts = Arc::new(Counts::default());
        let caps = Caps {
            total: 0,
            per_client: 1,
        };
        let _a = counts.acquire(ip("2001:db8:1:2::1"), caps).unwrap();
        assert_eq!(
            counts
                .acquire(ip("2001:db8:1:2:ffff::9"), caps)
                .unwrap_err(),
            Refusal::PerClient
        );
        let _b = counts.acquire(ip("2001:db8:1:3::1"), caps).unwrap();
        let _c = counts.acquire(ip("192.0.2.7"), caps).unwrap();
        assert_eq!(
            counts.acquire(ip("::ffff:192.0.2.7"), caps).unwrap_err(),
            Refusal::PerClient
        );
    }

    #[test]
    fn zero_caps_count_without_refusing_and_places_all_come_back() {
        let counts = Arc::new(Counts::default());
        let caps = Caps {
            total: 0,
            per_client: 0,
        };
        let slots: Vec<_> = (0..100)
            .map(|_| counts.acquire(ip("10.0.0.1"), caps).unwrap())
            .collect();
        assert_eq!(counts.open(), 100);
        drop(slots);
        assert_eq!(counts.open(), 0);
        assert!(counts.per_client.is_empty());
    }
}
