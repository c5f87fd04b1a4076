//! Header-phase glue for identity: read the credential header, call the authenticator and the
//! route's scope rule, and rewrite identity headers on the way upstream.

use super::RequestCtx;
use crate::auth::{Authenticator, Identity, ScopeRule};
use crate::config::Route;
use crate::rejection::Rejection;
use http::header::HeaderName;
use pingora::http::RequestHeader;

use crate::clock::now_unix;

/// The credential header a route reads.
pub fn credential_header<'a>(auth: &'a Authenticator, route: &'a Route) -> &'a HeaderName {
    route
        .credential_header
        .as_ref()
        .unwrap_or(&auth.credential_header)
}

/// Authenticates and authorizes; returns the identity and the tenant the request acts as.
pub fn authorize(
    auth: &Authenticator,
    route: &Route,
    req: &RequestHeader,
) -> Result<(Identity, Option<String>), Rejection> {
    let (identity, tenant) =
        authorize_with(auth, credential_header(auth, route), &route.scopes, req)?;
    if route.require_tenant && req.headers.get(&auth.tenant_header).is_none() {
        return Err(Rejection::BadRequest(format!(
            "the {} header is required",
            auth.tenant_header
        )));
    }
    Ok((identity, tenant))
}

/// [`authorize`] with an explicit credential header and scope rule.
pub fn authorize_with(
    auth: &Authenticator,
    header: &HeaderName,
    scopes: &ScopeRule,
    req: &RequestHeader,
) -> Result<(Identity, Option<String>), Rejection> {
    let values: Vec<&[u8]> = req
        .headers
        .get_all(header)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let credential = auth.credential(header, &values)?;
    let identity = auth.authenticate(credential, now_unix())?;
    scopes.check(&identity.scopes)?;
    let requested: Vec<&[u8]> = req
        .headers
        .get_all(&auth.tenant_header)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let requested = match requested.as_slice() {
        [] => None,
        [v] => Some(
            std::str::from_utf8(v)
                .map_err(|_| Rejection::BadRequest("malformed organisation header".into()))?
                .trim(),
        ),
        _ => {
            return Err(Rejection::BadRequest(
                "more than one organisation header".into(),
            ));
        }
    };
    let tenant = Authenticator::tenant(&identity, requested)?;
    Ok((identity, tenant))
}

/// An S3 route: the caller is the SigV4 credential's access key (src/s3.rs), whose tenant the
/// request spends quota from; the storage verifies the signature.
pub fn s3(
    rules: &crate::s3::S3Rules,
    route: &Route,
    req: &RequestHeader,
    ctx: &mut RequestCtx,
) -> Result<(), Rejection> {
    let caller = rules.check(req, route.upload.is_some())?;
    if caller.op == Some(crate::s3::multipart::Op::PostObject) {
        // The credential is a form field: the caller is known after the sniff window
        // (src/proxy/s3.rs `after_form_window`).
        ctx.s3 = super::s3::S3Call::new(caller);
        return Ok(());
    }
    super::s3::set_caller(ctx, caller);
    Ok(())
}

/// Removes client copies of identity headers and every credential header except the one the
/// route verified (that one too with `strip_credential`), then adds the verified identity. A
/// credential the gateway did not verify never reaches the backend.
pub fn to_upstream(
    up: &mut RequestHeader,
    auth: &Authenticator,
    ctx: &RequestCtx,
) -> pingora::Result<()> {
    let verified = match (&ctx.route, &ctx.identity) {
        // The SigV4 Authorization header is signed over and read by the storage.
        (Some(route), Some(_)) if route.s3.is_some() => Some(&http::header::AUTHORIZATION),
        (Some(route), Some(_)) if !auth.strip_credential => Some(credential_header(auth, route)),
        _ => None,
    };
    // Every spelling of an identity or credential header goes (`X_Auth_Tenant` reaches a WSGI
    // backend as HTTP_X_AUTH_TENANT), but the exact credential header the route verified.
    let owned: Vec<&str> = auth
        .identity_header_names()
        .into_iter()
        .chain(&auth.credential_headers)
        .map(HeaderName::as_str)
        .collect();
    super::headers::remove_every_spelling(up, &owned, verified.map(HeaderName::as_str));
    let Some(id) = &ctx.identity else {
        return Ok(());
    };
    let h = &auth.headers;
    up.insert_header(&h.subject, id.subject.as_str())?;
    up.insert_header(&h.scopes, id.scopes.join(" "))?;
    up.insert_header(&h.mode, id.mode.as_str())?;
    if let Some(t) = &ctx.tenant {
        up.insert_header(&h.tenant, t.as_str())?;
    }
    if let Some(l) = &id.key_label {
        up.insert_header(&h.key_label, l.as_str())?;
    }
    Ok(())
}
