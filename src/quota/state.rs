//! One tenant's quota state and the rules on it, pure (no I/O, time passed in). The memory
//! store keeps one per tenant; the Redis store's Lua scripts (quota/lua/*.lua) implement the
//! same rules, and the same behaviour tests run against both (tests/it/quota_redis.rs).

use super::{Ask, Limits, Metric, Usage, Verdict, Window, WindowState};
use std::collections::HashMap;

#[derive(Debug, Default)]
struct Hold {
    storage: u64,
    files: u64,
    /// Keys of the `upload_bytes` windows this hold's bytes were counted in.
    upload_windows: Vec<String>,
    expires_ms: u64,
}

/// What `ask` adds to window `w`: one request, or its bytes.
fn amount(w: &Window, ask: &Ask) -> u64 {
    match w.metric {
        Metric::Requests => u64::from(ask.request),
        _ => ask.storage,
    }
}

/// Adds `ask` to its windows (keys of `limits.windows` at `now_ms`); an `upload_bytes` window
/// is remembered in the hold so a release can give its bytes back.
fn apply(
    windows: &mut HashMap<String, (u64, u64)>,
    limits: &Limits,
    ask: &Ask,
    now_ms: u64,
    keys: Vec<String>,
    mut hold: Option<&mut Hold>,
) -> Vec<WindowState> {
    let mut states = Vec::with_capacity(keys.len());
    for (w, key) in limits.windows.iter().zip(keys) {
        let a = amount(w, ask);
        if let Some(h) = hold.as_deref_mut()
            && w.metric == Metric::UploadBytes
            && a > 0
            && !h.upload_windows.contains(&key)
        {
            h.upload_windows.push(key.clone());
        }
        let end = now_ms + w.remaining_ms(now_ms);
        let c = windows.entry(key).or_insert((0, end));
        c.0 += a;
        states.push(WindowState {
            window: w.clone(),
            remaining: w.limit.saturating_sub(c.0),
            reset_secs: w.remaining_ms(now_ms).div_ceil(1000),
        });
    }
    states
}

#[derive(Debug, Default)]
pub struct TenantState {
    storage: u64,
    files: u64,
    tier: Option<String>,
    holds: HashMap<String, Hold>,
    /// Window key → (count, end of the window in ms).
    windows: HashMap<String, (u64, u64)>,
    objects: HashMap<String, u64>,
}

impl TenantState {
    /// Drops ended windows and expired holds (giving their windowed bytes back).
    fn expire(&mut self, now_ms: u64) {
        self.windows.retain(|_, (_, end)| *end > now_ms);
        let expired: Vec<String> = self
            .holds
            .iter()
            .filter(|(_, h)| h.expires_ms <= now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for id in expired {
            self.release(&id, 0);
        }
    }

    fn held(&self) -> (u64, u64) {
        self.holds
            .values()
            .fold((0, 0), |(s, f), h| (s + h.storage, f + h.files))
    }

    pub fn reserve(&mut self, limits: &Limits, ask: &Ask, now_ms: u64, ttl_ms: u64) -> Verdict {
        self.expire(now_ms);
        let (held_s, held_f) = self.held();
        let cumulative = [
            (
                Metric::StorageBytes,
                self.storage,
                held_s,
                ask.storage,
                limits.storage_bytes,
            ),
            (
                Metric::FileCount,
                self.files,
                held_f,
                ask.files,
                limits.file_count,
            ),
        ];
        for (metric, used, held, amount, limit) in cumulative {
            if let Some(limit) = limit
                && amount > 0
                && used + held + amount > limit
            {
                return Verdict::Exceeded {
                    metric,
                    used,
                    limit,
                };
            }
        }
        let keys: Vec<String> = limits.windows.iter().map(|w| w.key(now_ms)).collect();
        for (w, key) in limits.windows.iter().zip(&keys) {
            let count = self.windows.get(key).map_or(0, |c| c.0);
            let a = amount(w, ask);
            if a > 0 && count + a > w.limit {
                return Verdict::RateLimited {
                    window: w.clone(),
                    retry_after_secs: w.remaining_ms(now_ms).div_ceil(1000),
                };
            }
        }
        if ask.storage == 0 && ask.files == 0 && !self.holds.contains_key(&ask.hold) {
            // Only a request counted: nothing to hold (the windows are still applied).
            return Verdict::Granted(apply(&mut self.windows, limits, ask, now_ms, keys, None));
        }
        let hold = self.holds.entry(ask.hold.clone()).or_default();
        hold.storage += ask.storage;
        hold.files += ask.files;
        hold.expires_ms = now_ms + ttl_ms;
        Verdict::Granted(apply(
            &mut self.windows,
            limits,
            ask,
            now_ms,
            keys,
            Some(hold),
        ))
    }

    /// Drops a hold; its bytes leave the `upload_bytes` windows they were counted in.
    /// Drops a hold; its windows keep `keep` of its bytes (at most what it held).
    pub fn release(&mut self, id: &str, keep: u64) {
        if let Some(h) = self.holds.remove(id) {
            for key in &h.upload_windows {
                if let Some(c) = self.windows.get_mut(key) {
                    c.0 = c.0.saturating_sub(h.storage) + keep.min(h.storage);
                }
            }
        }
    }

    /// Adds the real sizes; windowed bytes are corrected from the hold to the real size.
    pub fn commit(&mut self, id: &str, storage: u64, files: u64, tier: &str) {
        if let Some(h) = self.holds.remove(id) {
            for key in &h.upload_windows {
                if let Some(c) = self.windows.get_mut(key) {
                    c.0 = c.0.saturating_sub(h.storage) + storage;
                }
            }
        }
        self.storage += storage;
        self.files += files;
        if self.tier.as_deref() != Some(tier) {
            self.tier = Some(tier.to_string());
        }
    }

    pub fn record_object(&mut self, id: &str, size: u64) {
        self.objects.insert(id.to_string(), size);
    }

    pub fn free_object(&mut self, id: &str, reported: Option<u64>) -> u64 {
        // Only an object this tenant's ledger recorded is freed: many backends answer 2xx to
        // deleting an id that does not exist, and that must not give a file back.
        let Some(known) = self.objects.remove(id) else {
            return 0;
        };
        let size = reported.unwrap_or(known);
        self.storage = self.storage.saturating_sub(size);
        self.files = self.files.saturating_sub(1);
        size
    }

    pub fn usage(&mut self, windows: &[Window], now_ms: u64) -> Usage {
        self.expire(now_ms);
        let (held_storage, held_files) = self.held();
        Usage {
            storage_bytes: self.storage,
            file_count: self.files,
            held_storage,
            held_files,
            windows: windows
                .iter()
                .map(|w| self.windows.get(&w.key(now_ms)).map_or(0, |c| c.0))
                .collect(),
            tier: self.tier.clone(),
        }
    }

    pub fn set_usage(&mut self, storage: Option<u64>, files: Option<u64>) {
        if let Some(s) = storage {
            self.storage = s;
        }
        if let Some(f) = files {
            self.files = f;
        }
    }
}
