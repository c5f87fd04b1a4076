//! The usage report: a tenant's figures as `quotas:[{metric,used,limit,cumulative}]`, the
//! shape media APIs document, served to tenants (`[quotas].usage_path`) and operators (admin).

use super::{Tier, Usage};
use serde_json::{Value, json};

/// `{"tenant","tier","quotas":[…]}`; windowed entries add `window_seconds` (and `route` when
/// they apply to one route). Limits absent from the tier are `null`.
pub fn usage_report(tenant: &str, tier: &Tier, usage: &Usage) -> Value {
    let mut quotas = vec![
        json!({
            "metric": "storage_bytes",
            "used": usage.storage_bytes,
            "held": usage.held_storage,
            "limit": tier.storage_bytes,
            "cumulative": true,
        }),
        json!({
            "metric": "file_count",
            "used": usage.file_count,
            "held": usage.held_files,
            "limit": tier.file_count,
            "cumulative": true,
        }),
    ];
    for (w, used) in tier.windows.iter().zip(&usage.windows) {
        let mut q = json!({
            "metric": w.metric.as_str(),
            "used": used,
            "limit": w.limit,
            "cumulative": false,
            "window_seconds": w.seconds,
        });
        if &*w.scope != "*" {
            q["route"] = json!(&*w.scope);
        }
        quotas.push(q);
    }
    json!({ "tenant": tenant, "tier": tier.name, "quotas": quotas })
}

/// The highest share of a cumulative limit the tenant uses, in percent (`None`: no limit).
pub fn percent_used(tier: &Tier, usage: &Usage) -> Option<f64> {
    let share =
        |used: u64, limit: Option<u64>| limit.map(|l| used as f64 * 100.0 / l.max(1) as f64);
    [
        share(usage.storage_bytes, tier.storage_bytes),
        share(usage.file_count, tier.file_count),
    ]
    .into_iter()
    .flatten()
    .reduce(f64::max)
}
