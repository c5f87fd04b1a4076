//! TLS for the tests: self-signed certificates made here, a listener config serving them, and
//! an HTTP/2 (ALPN h2) client connection trusting them.

use super::TEST_CONFIG;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A self-signed certificate for `localhost` / 127.0.0.1 in a fresh directory.
pub fn certificate(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("ug-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// TEST_CONFIG with its listener serving TLS.
pub fn tls_config(cert: &Path, key: &Path) -> String {
    TEST_CONFIG.replace(
        "address = \"{LISTEN}\"",
        &format!(
            "address = \"{{LISTEN}}\"\ntls = {{ cert = \"{}\", key = \"{}\" }}",
            cert.display(),
            key.display()
        ),
    )
}

/// A TLS connection to `addr` that negotiated h2 by ALPN, trusting `cert`.
pub async fn h2_tls_connect(
    addr: SocketAddr,
    cert: &Path,
) -> impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {
    use pingora::tls::{ClientConfig, RootCertStore};
    pingora::tls::install_default_crypto_provider();
    let mut roots = RootCertStore::empty();
    pingora::tls::load_ca_file_into_store(cert.to_str().unwrap(), &mut roots).unwrap();
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = pingora::tls::ServerName::try_from("localhost").unwrap();
    let tls = pingora::tls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    tls
}
