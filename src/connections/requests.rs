//! Requests in flight across every connection (HTTP/2 multiplexes many on one), under
//! `[server] max_requests`: one more is refused `503 overloaded` before anything else is done
//! for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The requests in flight.
#[derive(Debug, Default, Clone)]
pub struct InFlight(Arc<AtomicUsize>);

/// One request's place; dropping it (with the request's context) gives it back.
#[derive(Debug)]
pub struct RequestSlot(Arc<AtomicUsize>);

impl Drop for RequestSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl InFlight {
    /// A place for one more request under `cap` (0 = no cap), or `None`.
    pub fn enter(&self, cap: usize) -> Option<RequestSlot> {
        let before = self.0.fetch_add(1, Ordering::AcqRel);
        if cap > 0 && before >= cap {
            self.0.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(RequestSlot(self.0.clone()))
    }

    /// Requests in flight now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_refuses_one_more_and_a_finished_request_frees_its_place() {
        let requests = InFlight::default();
        let a = requests.enter(2).unwrap();
        let _b = requests.enter(2).unwrap();
        assert!(requests.enter(2).is_none());
        assert_eq!(requests.count(), 2);
        drop(a);
        let _c = requests.enter(2).unwrap();
        let unlimited: Vec<_> = (0..50).map(|_| requests.enter(0).unwrap()).collect();
        assert_eq!(requests.count(), 52);
        drop(unlimited);
        assert_eq!(requests.count(), 2);
    }
}
