//! Optional TLS for the public APIs, from PEM certificate and key files (as Qdrant's
//! `service.enable_tls`). Both REST and gRPC use rustls with the ring provider.

use anyhow::Context;
use std::path::Path;

use super::NodeConfig;

/// The certificate chain and private key, read once at start-up.
#[derive(Clone)]
pub struct TlsFiles {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl TlsFiles {
    /// Reads the files named by the configuration; `None` when TLS is off.
    pub fn load(config: &NodeConfig) -> anyhow::Result<Option<TlsFiles>> {
        let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
            return Ok(None);
        };
        // Several crates could enable a rustls provider; pick ring explicitly, once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Some(TlsFiles {
            cert_pem: read(cert, "certificate")?,
            key_pem: read(key, "private key")?,
        }))
    }

    pub async fn for_rest(&self) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
        axum_server::tls_rustls::RustlsConfig::from_pem(self.cert_pem.clone(), self.key_pem.clone())
            .await
            .context("invalid TLS certificate or key")
    }

    pub fn for_grpc(&self) -> tonic::transport::ServerTlsConfig {
        let identity = tonic::transport::Identity::from_pem(&self.cert_pem, &self.key_pem);
        tonic::transport::ServerTlsConfig::new().identity(identity)
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the TLS {what} {}", path.display()))
}
