//! `[quotas]` validated: tiers with their cumulative and windowed limits, tenant overrides,
//! the store, and what fails open.

use super::file::{QuotasFile, RouteQuotaFile, TierFile, WindowFile};
use super::{Limits, Metric, Window};
use crate::config::error::{Collector, ConfigError, header_name};
use http::header::HeaderName;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Where quota state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis { url: String, key_prefix: String },
}

/// One tier's limits; `None` means unlimited.
#[derive(Debug, Clone)]
pub struct Tier {
    pub name: String,
    pub storage_bytes: Option<u64>,
    pub file_count: Option<u64>,
    /// Global windows (scope `*`) and per-route ones (scope = route name).
    pub windows: Vec<Window>,
    /// The limits of routes with windows of their own, and of every other route.
    by_route: Vec<(String, Arc<Limits>)>,
    other_routes: Arc<Limits>,
}

impl Tier {
    pub fn new(
        name: &str,
        storage_bytes: Option<u64>,
        file_count: Option<u64>,
        windows: Vec<Window>,
    ) -> Self {
        let mut t = Self {
            name: name.to_string(),
            storage_bytes,
            file_count,
            windows,
            by_route: Vec::new(),
            other_routes: Arc::new(Limits {
                storage_bytes: None,
                file_count: None,
                windows: Vec::new(),
                policy_header: None,
            }),
        };
        let mut routes: Vec<&str> = t.windows.iter().map(|w| &*w.scope).collect();
        routes.retain(|r| *r != "*");
        routes.sort_unstable();
        routes.dedup();
        let by_route = routes
            .iter()
            .map(|r| (r.to_string(), Arc::new(Limits::new(&t, r))))
            .collect();
        t.other_routes = Arc::new(Limits::new(&t, "*"));
        t.by_route = by_route;
        t
    }

    /// The limits a request on `route` is checked against.
    pub fn limits(&self, route: &str) -> Arc<Limits> {
        self.by_route
            .iter()
            .find(|(r, _)| r == route)
            .map_or(&self.other_routes, |(_, l)| l)
            .clone()
    }
}

/// The validated `[quotas]` section.
#[derive(Debug, Clone)]
pub struct QuotaSettings {
    pub store: StoreKind,
    pub timeout: Duration,
    pub reservation_ttl: Duration,
    pub tiers: HashMap<String, Arc<Tier>>,
    pub default_tier: String,
    pub tenants: HashMap<String, String>,
    pub fail_open: Vec<Metric>,
    pub usage_path: Option<String>,
    pub usage_scopes: Vec<String>,
    /// Released holds keep the bytes that were transferred in `upload_bytes` windows.
    pub count_transferred: bool,
}

impl QuotaSettings {
    /// `routes` are the names of the configured routes (per-route windows must name one).
    pub fn from_config(f: &QuotasFile, routes: &[&str]) -> Result<Self, Vec<ConfigError>> {
        let mut errors = Collector::default();
        let store = match (f.store.as_str(), &f.redis_url) {
            ("memory", None) => StoreKind::Memory,
            ("redis", Some(url)) => {
                if redis::parse_redis_url(url).is_none() {
                    errors.push("quotas.redis_url", format!("{url:?} is not a redis:// URL"));
                }
                StoreKind::Redis {
                    url: url.clone(),
                    key_prefix: f.key_prefix.clone(),
                }
            }
            ("memory", Some(_)) => {
                errors.push("quotas.redis_url", "only with store = \"redis\"");
                StoreKind::Memory
            }
            ("redis", None) => {
                errors.push("quotas.redis_url", "store = \"redis\" needs a redis_url");
                StoreKind::Memory
            }
            (other, _) => {
                errors.push(
                    "quotas.store",
                    format!("{other:?} is not a store: use \"memory\" or \"redis\""),
                );
                StoreKind::Memory
            }
        };
        if f.timeout_ms == 0 || f.reservation_ttl_seconds == 0 {
            errors.push(
                "quotas",
                "timeout_ms and reservation_ttl_seconds must be at least 1",
            );
        }
        let tiers: HashMap<String, Arc<Tier>> = f
            .tiers
            .iter()
            .map(|(name, t)| (name.clone(), Arc::new(tier(name, t, &mut errors))))
            .collect();
        errors.named(
            ("tier", "quotas.tiers"),
            &tiers,
            &f.default_tier,
            "quotas.default_tier",
        );
        for (tenant, t) in &f.tenants {
            errors.named(
                ("tier", "quotas.tiers"),
                &tiers,
                t,
                format!("quotas.tenants.{tenant}"),
            );
        }
        let fail_open = f
            .fail_open
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let found = Metric::parse(m);
                if found.is_none() {
                    errors.push(format!("quotas.fail_open[{i}]"), unknown_metric(m));
                }
                found
            })
            .collect();
        for (name, t) in &f.tiers {
            for route in t.routes.keys() {
                if !routes.contains(&route.as_str()) {
                    errors.push(
                        format!("quotas.tiers.{name}.routes.{route}"),
                        "no route has this name",
                    );
                }
            }
        }
        if let Some(p) = &f.usage_path
            && !p.starts_with('/')
        {
            errors.push("quotas.usage_path", "must start with '/'");
        }
        errors.finish(|| Self {
            store,
            timeout: Duration::from_millis(f.timeout_ms),
            reservation_ttl: Duration::from_secs(f.reservation_ttl_seconds),
            tiers,
            default_tier: f.default_tier.clone(),
            tenants: f.tenants.clone().into_iter().collect(),
            fail_open,
            usage_path: f.usage_path.clone(),
            usage_scopes: f.usage_scopes.clone(),
            count_transferred: f.count_transferred,
        })
    }

    /// The tier of `tenant`: an operator's override, else the one the credential names (if it
    /// exists), else the default.
    pub fn tier_of(&self, tenant: &str, claimed: Option<&str>) -> &Arc<Tier> {
        let name = self
            .tenants
            .get(tenant)
            .map(String::as_str)
            .or(claimed.filter(|c| self.tiers.contains_key(*c)))
            .unwrap_or(&self.default_tier);
        &self.tiers[name]
    }
}

fn unknown_metric(m: &str) -> String {
    format!("{m:?} is not a metric: storage_bytes, file_count, upload_bytes or requests")
}

fn tier(name: &str, t: &TierFile, errors: &mut Collector) -> Tier {
    let mut windows = Vec::new();
    let mut add = |metric: Metric, scope: &str, w: &Option<WindowFile>, at: String| {
        if let Some(w) = w {
            if w.window_seconds == 0 {
                errors.push(at, "window_seconds must be at least 1");
                return;
            }
            windows.push(Window {
                metric,
                scope: scope.into(),
                limit: w.limit,
                seconds: w.window_seconds,
            });
        }
    };
    let at = format!("quotas.tiers.{name}");
    add(
        Metric::UploadBytes,
        "*",
        &t.upload_bytes,
        format!("{at}.upload_bytes"),
    );
    add(Metric::Requests, "*", &t.requests, format!("{at}.requests"));
    for (route, r) in &t.routes {
        let at = format!("{at}.routes.{route}");
        add(
            Metric::UploadBytes,
            route,
            &r.upload_bytes,
            format!("{at}.upload_bytes"),
        );
        add(
            Metric::Requests,
            route,
            &r.requests,
            format!("{at}.requests"),
        );
    }
    Tier::new(name, t.storage_bytes, t.file_count, windows)
}

/// A route's part in quotas, validated.
#[derive(Debug, Clone, Default)]
pub struct RouteQuota {
    pub enabled: bool,
    /// RFC 6901 pointer to the object id in the upload response.
    pub object_id_pointer: Option<String>,
    /// Index of the path segment holding the object id of a DELETE.
    pub frees_object: Option<usize>,
    pub freed_bytes_header: Option<HeaderName>,
}

impl RouteQuota {
    /// `segment_index` finds a named `{segment}` of the route's path.
    pub fn from_config(
        f: Option<&RouteQuotaFile>,
        at: &str,
        segment_index: impl Fn(&str) -> Option<usize>,
        errors: &mut Collector,
    ) -> Self {
        let Some(f) = f else {
            return Self {
                enabled: true,
                ..Self::default()
            };
        };
        if let Some(p) = &f.object_id_pointer
            && !p.starts_with('/')
        {
            errors.push(
                format!("{at}.quota.object_id_pointer"),
                "a JSON pointer starts with '/' (e.g. \"/id\")",
            );
        }
        let frees_object = f.frees_object.as_ref().and_then(|name| {
            let i = segment_index(name);
            if i.is_none() {
                errors.push(
                    format!("{at}.quota.frees_object"),
                    format!("the route's path has no {{{name}}} segment"),
                );
            }
            i
        });
        let freed_bytes_header = f.freed_bytes_header.as_ref().and_then(|h| {
            let parsed = header_name(h, format!("{at}.quota.freed_bytes_header"));
            errors.take_one(parsed)
        });
        Self {
            enabled: f.enabled.unwrap_or(true),
            object_id_pointer: f.object_id_pointer.clone(),
            frees_object,
            freed_bytes_header,
        }
    }
}
