//! The tenant usage endpoint (`[quotas].usage_path`): answered by the gateway itself, for the
//! caller's own tenant only (an organisation header is checked like on any route).

use super::RequestCtx;
use super::identity;
use crate::auth::{Authenticator, ScopeRule};
use crate::quota::{now_ms, report};
use crate::rejection::Rejection;
use crate::stores::Quotas;
use pingora::http::{Method, RequestHeader, ResponseHeader};
use pingora::proxy::Session;

/// Whether the request is a `GET` of the usage path.
pub fn is_usage_request(q: &Quotas, req: &RequestHeader) -> bool {
    req.method == Method::GET && q.settings.usage_path.as_deref() == Some(req.uri.path())
}

/// Authenticates, reads the tenant's usage and answers it (200, JSON).
pub async fn serve(
    session: &mut Session,
    ctx: &mut RequestCtx,
    auth: &Authenticator,
    q: &Quotas,
) -> Result<(), Rejection> {
    let scopes = ScopeRule {
        all_of: q.settings.usage_scopes.clone(),
        any_of: Vec::new(),
    };
    let (id, tenant) =
        identity::authorize_with(auth, &auth.credential_header, &scopes, session.req_header())?;
    let tenant = id.bucket(tenant.as_deref());
    ctx.span.record("tenant", tenant.as_str());
    let tier = q.settings.tier_of(&tenant, id.tier.as_deref());
    let usage = q
        .store
        .usage(&tenant, &tier.windows, now_ms())
        .await
        .map_err(|e| {
            tracing::error!("{e} (usage)");
            Rejection::QuotaUnavailable
        })?;
    let body = serde_json::to_vec(&report::usage_report(&tenant, tier, &usage))
        .map_err(|e| Rejection::Internal(e.to_string()))?;
    let mut h =
        ResponseHeader::build(200, Some(4)).map_err(|e| Rejection::Internal(e.to_string()))?;
    h.insert_header("Content-Type", "application/json")
        .and_then(|()| h.insert_header("Content-Length", body.len().to_string()))
        .and_then(|()| h.insert_header("Cache-Control", "no-store"))
        .map_err(|e| Rejection::Internal(e.to_string()))?;
    super::respond::answer(session, ctx, h, Some(body.into())).await;
    Ok(())
}
