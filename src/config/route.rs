//! Routes: how a request's method and path select a route, and the route's validated settings.

use super::Upstream;
use super::error::{Collector, header_name};
use super::file::RouteFile;
use crate::auth::{Mode, ScopeRule};
use crate::errors::ErrorProfile;
use crate::policy::UploadPolicy;
use crate::policy::file::BodyFile;
use crate::quota::RouteQuota;
use crate::rejection::Rejection;
use http::header::HeaderName;
use pingora::http::Method;
use std::collections::HashMap;
use std::sync::Arc;

/// How a route matches paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    Exact(String),
    Prefix(String),
    /// `/media/{id}`: segment by segment, a `{name}` matching any one non-empty segment.
    Segments(Vec<String>),
}

impl PathPattern {
    pub fn parse(p: &str) -> Self {
        if p.contains('{') {
            return Self::Segments(p.split('/').map(str::to_string).collect());
        }
        match p.strip_suffix('*') {
            Some(prefix) => Self::Prefix(prefix.to_string()),
            None => Self::Exact(p.to_string()),
        }
    }

    /// The index of the `{name}` segment (as in `path.split('/')`).
    pub fn param_index(&self, name: &str) -> Option<usize> {
        let Self::Segments(segs) = self else {
            return None;
        };
        segs.iter().position(|s| *s == format!("{{{name}}}"))
    }

    /// Prefixes match whole path segments: `/media*` matches `/media` and `/media/42`, never
    /// `/media-x` or `/mediaevil`.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(e) => path == e,
            Self::Prefix(p) => match path.strip_prefix(p.as_str()) {
                Some(rest) => rest.is_empty() || p.ends_with('/') || rest.starts_with('/'),
                None => false,
            },
            Self::Segments(segs) => {
                let mut n = 0;
                let all = path.split('/').zip(segs.iter()).all(|(p, s)| {
                    n += 1;
                    if s.starts_with('{') && s.ends_with('}') {
                        !p.is_empty()
                    } else {
                        p == s
                    }
                });
                all && n == segs.len() && path.split('/').count() == segs.len()
            }
        }
    }
}

/// A validated route.
#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub path: PathPattern,
    /// Empty means any method.
    pub methods: Vec<Method>,
    pub upstream: Arc<Upstream>,
    /// Where test-mode credentials go, if set.
    pub sandbox: Option<Arc<Upstream>>,
    /// Test-mode credentials may use `upstream` when there is no sandbox (explicit opt-in).
    pub allow_test_credentials: bool,
    pub upload: Option<Arc<UploadPolicy>>,
    /// No credential required.
    pub public: bool,
    pub scopes: ScopeRule,
    /// The credential header overriding `[auth].credential_header`.
    pub credential_header: Option<HeaderName>,
    /// How the route takes part in quotas (when `[quotas]` is configured).
    pub quota: RouteQuota,
    /// How its refusals look (`errors = "NAME"`; the gateway's own format by default).
    pub errors: Arc<ErrorProfile>,
    /// The tenant header (`[auth] tenant_header`) must be sent.
    pub require_tenant: bool,
    /// Integer ranges for query parameters.
    pub query: crate::query::QueryRules,
    /// JSON body rules (a route has these or `upload`, not both).
    pub json: Option<Arc<crate::json_body::JsonPolicy>>,
    /// CORS rules, if browsers on other origins may call the route.
    pub cors: Option<Arc<crate::cors::Cors>>,
    /// Idempotency-key rules, if the route replays first responses.
    pub idempotency: Option<Arc<crate::idempotency::Idempotency>>,
    /// The signed verdict appended to uploads, if the backend wants one.
    pub verdict: Option<Arc<crate::verdict::VerdictSettings>>,
    /// S3 rules (src/s3.rs): the caller is the SigV4 credential's access key, not `[auth]`.
    pub s3: Option<Arc<crate::s3::S3Rules>>,
    /// tus rules (src/tus.rs): the route fronts a tus server; uploads span requests.
    pub tus: Option<Arc<crate::tus::TusRules>>,
}

impl Route {
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        (self.methods.is_empty() || self.methods.contains(method)) && self.path.matches(path)
    }

    /// The upstream a credential of `mode` goes to. Test-mode credentials go to the sandbox and
    /// never touch the live backend, unless the route opts in with `allow_test_credentials`.
    pub fn upstream_for(&self, mode: Mode) -> Result<&Arc<Upstream>, Rejection> {
        match (mode, &self.sandbox) {
            (Mode::Test, Some(sandbox)) => Ok(sandbox),
            (Mode::Test, None) if !self.allow_test_credentials => Err(Rejection::Forbidden {
                message: format!(
                    "test-mode credentials cannot be used on route {:?}: it has no sandbox and \
                     test credentials never reach the live backend; use a live credential",
                    self.name
                ),
                missing_scopes: Vec::new(),
            }),
            _ => Ok(&self.upstream),
        }
    }

    /// Validates `routes[i]` (`at`), reporting every problem; `None` if it cannot be built.
    pub fn from_config(
        r: &RouteFile,
        at: &str,
        upstreams: &HashMap<String, Arc<Upstream>>,
        profiles: &HashMap<String, Arc<ErrorProfile>>,
        has_auth: bool,
        base: &std::path::Path,
        errors: &mut Collector,
    ) -> Option<Self> {
        let profile = match &r.errors {
            None => Some(Arc::new(ErrorProfile::default())),
            Some(name) => errors.named(
                ("error profile", "errors"),
                profiles,
                name,
                format!("{at}.errors"),
            ),
        };
        if !r.path.starts_with('/') {
            errors.push(format!("{at}.path"), "must start with '/'");
        }
        let methods = methods(&r.methods, at, errors);
        let upstream = errors.named(
            ("upstream", "upstreams"),
            upstreams,
            &r.upstream,
            format!("{at}.upstream"),
        );
        let upload = r.upload.as_ref().and_then(|u| {
            errors
                .take(UploadPolicy::from_config(u, &format!("{at}.upload")))
                .map(Arc::new)
        });
        let json = r.json.as_ref().and_then(|j| {
            errors
                .take(crate::json_body::JsonPolicy::from_config(
                    j,
                    &format!("{at}.json"),
                ))
                .map(Arc::new)
        });
        let cors = r.cors.as_ref().and_then(|c| {
            errors
                .take(crate::cors::Cors::from_config(c, &format!("{at}.cors")))
                .map(|c| match r.tus.is_some() {
                    true => c.with_protocol(&crate::tus::REQUEST_HEADERS, &crate::tus::EXPOSED),
                    false => c,
                })
                .map(Arc::new)
        });
        let idempotency = r.idempotency.as_ref().and_then(|i| {
            let at = format!("{at}.idempotency");
            if r.public || !has_auth {
                errors.push(
                    at.clone(),
                    "a key is kept per tenant and credential: idempotency needs [auth] and a \
                     non-public route",
                );
            }
            if i.derive && r.upload.is_some() {
                errors.push(
                    format!("{at}.derive"),
                    "an upload's payload is known only after it streamed upstream: derive keys \
                     on [json] routes and routes without a body",
                );
            }
            errors
                .take(crate::idempotency::Idempotency::from_config(i, &at))
                .map(Arc::new)
        });
        let verdict = r.verdict.as_ref().and_then(|v| {
            let at = format!("{at}.verdict");
            if r.upload.is_none() {
                errors.push(
                    at.clone(),
                    "a verdict is signed for uploads: the route needs [upload]",
                );
            }
            if r.upload.as_ref().is_some_and(|u| u.body == BodyFile::Raw) {
                errors.push(
                    at.clone(),
                    "a verdict is added to multipart forms: a raw body has no place for it",
                );
            }
            errors
                .take(crate::verdict::VerdictSettings::from_config(v, &at, base))
                .map(Arc::new)
        });
        let s3 = r.s3.as_ref().and_then(|f| {
            let at = format!("{at}.s3");
            if r.upload.as_ref().is_some_and(|u| u.body != BodyFile::Raw) || r.json.is_some() {
                errors.push(
                    at.clone(),
                    "an S3 route inspects raw object bodies: [upload] needs body = \"raw\"",
                );
            }
            let mut methods: Vec<String> =
                r.methods.iter().map(|m| m.to_ascii_uppercase()).collect();
            methods.sort();
            let posts = f.multipart || f.presigned_post;
            let wanted: &[&str] = if posts { &["POST", "PUT"] } else { &["PUT"] };
            if r.upload.is_some() && methods != wanted {
                errors.push(
                    at.clone(),
                    match posts {
                        false => "an inspected S3 route takes PutObject: methods = [\"PUT\"]",
                        true => {
                            "an inspected S3 route with multipart or presigned_post takes PutObject \
                             and POST requests: methods = [\"PUT\", \"POST\"]"
                        }
                    },
                );
            }
            if posts && r.upload.is_none() {
                errors.push(
                    at.clone(),
                    "multipart and presigned_post belong on the inspected route (the one with \
                     [upload])",
                );
            }
            if r.public || !r.scopes.is_empty() || !r.any_scopes.is_empty() {
                errors.push(
                    at.clone(),
                    "an S3 route's caller is its SigV4 access key: no public, scopes or any_scopes",
                );
            }
            errors
                .take(crate::s3::S3Rules::from_config(f, &at, base))
                .map(Arc::new)
        });
        let tus = r.tus.as_ref().and_then(|f| {
            let at = format!("{at}.tus");
            if r.upload.as_ref().is_none_or(|u| u.body != BodyFile::Raw) {
                errors.push(
                    at.clone(),
                    "a tus route inspects the upload's bytes: it needs [upload] body = \"raw\"",
                );
            }
            if r.public || !has_auth || r.s3.is_some() {
                errors.push(
                    at.clone(),
                    "a tus upload belongs to its creator: the route needs [auth] and no public or s3",
                );
            }
            if r.json.is_some() || r.verdict.is_some() || r.idempotency.is_some() {
                errors.push(
                    at.clone(),
                    "a tus route takes no [json], [verdict] or [idempotency]",
                );
            }
            errors
                .take(crate::tus::TusRules::from_config(f, &at))
                .map(Arc::new)
        });
        if r.json.is_some() && r.upload.is_some() {
            errors.push(
                format!("{at}.json"),
                "a route has [upload] or [json], not both",
            );
        }
        let sandbox = r.sandbox_upstream.as_ref().and_then(|s| {
            errors.named(
                ("upstream", "upstreams"),
                upstreams,
                s,
                format!("{at}.sandbox_upstream"),
            )
        });
        if (r.public || !has_auth) && (!r.scopes.is_empty() || !r.any_scopes.is_empty()) {
            errors.push(
                format!("{at}.scopes"),
                "scopes need [auth] and a non-public route",
            );
        }
        let credential_header = r
            .credential_header
            .as_ref()
            .and_then(|h| errors.take_one(header_name(h, format!("{at}.credential_header"))));
        let path = PathPattern::parse(&r.path);
        let quota =
            RouteQuota::from_config(r.quota.as_ref(), at, |name| path.param_index(name), errors);
        Some(Self {
            name: r.name.clone(),
            path,
            quota,
            methods,
            upstream: upstream?,
            sandbox,
            allow_test_credentials: r.allow_test_credentials,
            upload,
            public: r.public,
            scopes: ScopeRule {
                all_of: r.scopes.clone(),
                any_of: r.any_scopes.clone(),
            },
            credential_header,
            errors: profile?,
            require_tenant: r.require_tenant,
            query: crate::query::QueryRules(r.query.clone()),
            json,
            cors,
            idempotency,
            verdict,
            s3,
            tus,
        })
    }
}

fn methods(names: &[String], at: &str, errors: &mut Collector) -> Vec<Method> {
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    let mut out = Vec::new();
    for (j, m) in names.iter().enumerate() {
        match KNOWN.iter().find(|k| k.as_str().eq_ignore_ascii_case(m)) {
            Some(k) => out.push(k.clone()),
            None => errors.push(
                format!("{at}.methods[{j}]"),
                format!("unknown method {m:?}"),
            ),
        }
    }
    out
}
