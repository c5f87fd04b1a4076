//! Terminates a refused upload at the upstream (tus termination: `DELETE` on the upload's
//! address), so that the partial file does not stay stored. Sent by the gateway itself on a
//! connection of its own, with the headers the refused request was forwarded with (identity,
//! request id); the client has its refusal already.

use super::super::RequestCtx;
use crate::auth::Mode;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::proxy::Session;

/// Request headers that describe a body; the termination has none.
const BODY_HEADERS: [&str; 7] = [
    "content-length",
    "content-type",
    "transfer-encoding",
    "expect",
    "upload-offset",
    "upload-length",
    "upload-checksum",
];

/// Sends the termination in the background; the outcome is logged.
pub fn upstream(session: &Session, ctx: &RequestCtx) {
    let Some(route) = ctx.route.as_ref() else {
        return;
    };
    let mode = ctx.identity.as_ref().map_or(Mode::Live, |i| i.mode);
    let Ok(up) = route.upstream_for(mode) else {
        return;
    };
    let Some(req) = request(session, ctx) else {
        tracing::error!("the termination request could not be built");
        return;
    };
    let peer = super::super::peer_for(up);
    let path = session.req_header().uri.path().to_string();
    tokio::spawn(async move {
        match send(&peer, req).await {
            Ok(status) => tracing::info!(%path, status, "terminated a refused upload upstream"),
            Err(e) => tracing::error!(%path, "could not terminate a refused upload upstream: {e}"),
        }
    });
}

fn request(session: &Session, ctx: &RequestCtx) -> Option<RequestHeader> {
    let mut req = session.req_header().clone();
    req.set_method(http::Method::DELETE);
    for h in BODY_HEADERS {
        req.remove_header(h);
    }
    if let Some(auth) = ctx.live.as_ref().and_then(|l| l.config.auth.clone()) {
        super::super::identity::to_upstream(&mut req, &auth, ctx).ok()?;
    }
    super::super::headers::to_upstream(&mut req, ctx).ok()?;
    req.remove_header("x-upload-detected-type");
    req.insert_header("tus-resumable", crate::tus::VERSION)
        .ok()?;
    Some(req)
}

async fn send(
    peer: &pingora::upstreams::peer::HttpPeer,
    req: RequestHeader,
) -> pingora::Result<u16> {
    let connector = Connector::new(None);
    let (mut s, _) = connector.get_http_session(peer).await?;
    s.write_request_header(Box::new(req)).await?;
    s.finish_request_body().await?;
    s.read_response_header().await?;
    let status = s.response_header().map_or(0, |r| r.status.as_u16());
    s.shutdown().await;
    Ok(status)
}
