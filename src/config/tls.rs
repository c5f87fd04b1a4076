//! Listener and upstream TLS settings: certificate files are read and checked when the config
//! is validated, so a bad path or an empty PEM file is a config error, not a failed start.

use super::error::Collector;
use super::file::{ListenerFile, UpstreamFile};
use pingora::protocols::tls::CaType;
use pingora::utils::tls::{WrappedX509, parse_x509};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A downstream listener: plain, or TLS with HTTP/2 offered by ALPN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub address: SocketAddr,
    pub tls: Option<ListenerTls>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub h2: bool,
}

/// TLS towards a backend.
#[derive(Clone)]
pub struct UpstreamTls {
    /// SNI, and the name the backend's certificate must carry.
    pub sni: String,
    /// Roots the backend's certificate must chain to (`None`: the system's).
    pub ca: Option<Arc<CaType>>,
}

impl std::fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("sni", &self.sni)
            .field("ca_certs", &self.ca.as_ref().map(|c| c.len()))
            .finish()
    }
}

/// The TLS part of `[[listeners]]` entry `at`.
pub fn listener(
    f: &ListenerFile,
    at: &str,
    base: &Path,
    errors: &mut Collector,
) -> Option<ListenerTls> {
    let t = f.tls.as_ref()?;
    let (cert, key) = (base.join(&t.cert), base.join(&t.key));
    let (c, k) = (cert.to_string_lossy(), key.to_string_lossy());
    match pingora::tls::load_certs_and_key_files(&c, &k) {
        Ok(Some((certs, _))) if !certs.is_empty() => Some(ListenerTls {
            cert,
            key,
            h2: t.h2,
        }),
        Ok(_) => {
            errors.push(
                format!("{at}.tls"),
                format!("{c} holds no certificate or {k} no private key"),
            );
            None
        }
        Err(e) => {
            errors.push(format!("{at}.tls"), format!("cannot load {c} / {k}: {e}"));
            None
        }
    }
}

/// The TLS settings of upstream `name` (`None` when it is plain HTTP).
pub fn upstream(
    f: &UpstreamFile,
    name: &str,
    base: &Path,
    errors: &mut Collector,
) -> Option<UpstreamTls> {
    if !f.tls {
        if f.sni.is_some() || f.ca_file.is_some() {
            errors.push(
                format!("upstreams.{name}"),
                "sni and ca_file need tls = true",
            );
        }
        return None;
    }
    let host = f.address.rsplit_once(':').map_or(&*f.address, |(h, _)| h);
    let sni = f
        .sni
        .clone()
        .unwrap_or_else(|| host.trim_matches(['[', ']']).to_string());
    let ca = match &f.ca_file {
        None => None,
        Some(file) => match ca_certs(&base.join(file)) {
            Ok(certs) => Some(certs),
            Err(m) => {
                errors.push(format!("upstreams.{name}.ca_file"), m);
                return None;
            }
        },
    };
    Some(UpstreamTls { sni, ca })
}

/// Every certificate of a PEM file.
fn ca_certs(path: &Path) -> Result<Arc<CaType>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut text.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    let wrapped: Vec<WrappedX509> = certs
        .into_iter()
        .filter(|c| x509_parser_accepts(c.as_ref()))
        .map(|c| WrappedX509::new(c.as_ref().to_vec(), parse_x509))
        .collect();
    if wrapped.is_empty() {
        return Err(format!(
            "{}: no certificate parses as X.509",
            path.display()
        ));
    }
    Ok(wrapped.into())
}

/// Whether `parse_x509` (which panics on bad DER) will accept the certificate.
fn x509_parser_accepts(der: &[u8]) -> bool {
    x509_parser::parse_x509_certificate(der).is_ok()
}
