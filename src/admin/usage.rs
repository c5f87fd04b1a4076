//! Operators' usage endpoints on the admin listener, behind `Authorization: Bearer <token>`
//! (`[admin].token_env`): read (`GET /usage/{tenant}`) and set (`PUT /usage/{tenant}` with
//! `{"storage_bytes":…,"file_count":…}`) a tenant's usage to reconcile it with the backend's
//! truth, and list tenants over a share of a limit (`GET /usage?over=80`).

use crate::quota::{now_ms, report};
use crate::reply::send;
use crate::stores::Quotas;
use bytes::Bytes;
use pingora::http::Method;
use pingora::protocols::http::ServerSession;
use serde_json::{Value, json};

const MAX_BODY: usize = 4096;

fn json_reply(v: &Value) -> Bytes {
    serde_json::to_vec(v).unwrap_or_default().into()
}

/// Whether the request carries `Authorization: Bearer <token>` (compared in constant time).
pub(super) fn authorized(s: &ServerSession, token: &str) -> bool {
    let Some(v) = s.req_header().headers.get("authorization") else {
        return false;
    };
    let expected = format!("Bearer {token}");
    let (a, b) = (v.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn read_body(s: &mut ServerSession) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = s.read_request_body().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BODY {
            return None;
        }
    }
    Some(body)
}

/// Answers one `/usage…` request.
pub async fn handle(s: &mut ServerSession, q: &Quotas, token: &str) -> pingora::Result<()> {
    let (status, body) = if authorized(s, token) {
        answer(s, q).await
    } else {
        (
            401,
            json!({"error": {"code": "unauthorized", "message": "admin token required"}}),
        )
    };
    send(s, status, "application/json", json_reply(&body)).await
}

fn error(code: &str, message: impl Into<String>) -> Value {
    json!({"error": {"code": code, "message": message.into()}})
}

async fn answer(s: &mut ServerSession, q: &Quotas) -> (u16, Value) {
    let path = s.req_header().uri.path().to_string();
    let method = s.req_header().method.clone();
    // Tenant names hold any printable character: the path segment is percent-decoded, and
    // one that does not decode to UTF-8 names no tenant.
    let tenant = match path.strip_prefix("/usage/") {
        Some(raw) => match percent_encoding::percent_decode_str(raw).decode_utf8() {
            Ok(t) => Some(t.into_owned()),
            Err(_) => return (400, error("bad_request", "the tenant is not UTF-8")),
        },
        None => None,
    };
    let result = match (tenant.as_deref(), method) {
        (None, Method::GET) => {
            let over = s
                .req_header()
                .uri
                .query()
                .and_then(|qs| qs.split('&').find_map(|kv| kv.strip_prefix("over=")))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            over_limit(q, over).await
        }
        (Some(tenant), Method::GET) if !tenant.is_empty() => read(q, tenant).await,
        (Some(tenant), Method::PUT) if !tenant.is_empty() => {
            match read_body(s)
                .await
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                Some(v) => set(q, tenant, &v).await,
                None => return (400, error("bad_request", "expected a small JSON object")),
            }
        }
        _ => return (404, error("not_found", "no such admin endpoint")),
    };
    result.unwrap_or_else(|e| (503, error("quota_unavailable", e.to_string())))
}

async fn read(q: &Quotas, tenant: &str) -> Result<(u16, Value), crate::quota::StoreError> {
    let stored = q.store.usage(tenant, &[], now_ms()).await?;
    let tier = q.settings.tier_of(tenant, stored.tier.as_deref());
    let usage = q.store.usage(tenant, &tier.windows, now_ms()).await?;
    Ok((200, report::usage_report(tenant, tier, &usage)))
}

async fn set(
    q: &Quotas,
    tenant: &str,
    v: &Value,
) -> Result<(u16, Value), crate::quota::StoreError> {
    let field = |name: &str| v.get(name).map(Value::as_u64);
    let (storage, files) = match (field("storage_bytes"), field("file_count")) {
        (Some(None), _) | (_, Some(None)) | (None, None) => {
            let m = "give storage_bytes and/or file_count as non-negative integers";
            return Ok((400, error("bad_request", m)));
        }
        (s, f) => (s.flatten(), f.flatten()),
    };
    q.store.set_usage(tenant, storage, files).await?;
    tracing::info!(tenant, ?storage, ?files, "usage set by an operator");
    read(q, tenant).await
}

async fn over_limit(q: &Quotas, over: f64) -> Result<(u16, Value), crate::quota::StoreError> {
    let mut out = Vec::new();
    for tenant in q.store.tenants().await? {
        let usage = q.store.usage(&tenant, &[], now_ms()).await?;
        let tier = q.settings.tier_of(&tenant, usage.tier.as_deref());
        if let Some(p) = report::percent_used(tier, &usage).filter(|p| *p >= over) {
            out.push(json!({"tenant": tenant, "tier": tier.name, "percent": p}));
        }
    }
    Ok((200, json!({ "over": over, "tenants": out })))
}
