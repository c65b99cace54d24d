//! The API over TLS (`[api] tls_cert` and `tls_key`): rustls (ring provider, TLS 1.2 and 1.3),
//! HTTP/1.1, the same router and limits as plain HTTP (`serve`). A handshake that does not
//! finish within [`HANDSHAKE_TIMEOUT`] is dropped, so a client that opens a connection and sends
//! nothing holds no task for long.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::Api;

/// How long a client has for its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the certificate or key cannot be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read the PEM {what}: {message}")]
    Pem {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error("api.tls_key {0}")]
    KeyFile(#[from] flex_types::secret::SecretFileError),
    #[error("{path}: no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)")]
    NoCertificate { path: PathBuf },
    #[error("{cert} with {key}: {source}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// The server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let pem = |what, message: String| TlsError::Pem {
        path: cert.to_path_buf(),
        what,
        message,
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem("certificate", e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem("certificate", e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    flex_types::secret::check_secret_file(key)?;
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Pem {
        path: key.to_path_buf(),
        what: "private key",
        message: e.to_string(),
    })?;
    let config_error = |source| TlsError::Config {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        source,
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(certs, private)
        .map_err(config_error)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

impl Api {
    /// Serves HTTPS until `shutdown` resolves, under the API's [`crate::Limits`] as plain HTTP
    /// (`serve`); a handshake gets [`HANDSHAKE_TIMEOUT`].
    pub async fn serve_tls(
        &self,
        listener: tokio::net::TcpListener,
        tls: Arc<ServerConfig>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let acceptor = TlsAcceptor::from(tls);
        let handshake: crate::serve::Handshake = Arc::new(move |tcp: tokio::net::TcpStream| {
            let acceptor = acceptor.clone();
            Box::pin(async move {
                let peer = tcp.peer_addr().ok();
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => Some(s),
                    Ok(Err(e)) => {
                        tracing::debug!(?peer, error = %e, "API: TLS handshake failed");
                        None
                    }
                    Err(_) => {
                        tracing::debug!(?peer, "API: TLS handshake timed out");
                        None
                    }
                }
            })
        });
        self.serve_connections(listener, Some(handshake), shutdown).await
    }
}
