//! `--tls-cert` / `--tls-key`: HTTPS and WSS with the user's certificate, rustls with the `ring` provider served by
//! axum-server.
//!
//! The certificate and key are read once at start ([`Tls::load`]), so a missing, unreadable or mismatched file stops
//! `boxbox serve` before it prints its address. `serve` is the TLS twin of the plain-HTTP loop in [`crate::run`]:
//! the same router with the peer's address, `TCP_NODELAY` on every accepted connection, and the same graceful
//! shutdown (the shutdown sequence runs while connections are still served; then the listener closes and open
//! connections are drained).

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

/// A certificate chain and its private key, loaded and checked, ready to serve TLS.
///
/// Two `Tls` are equal when they were loaded from the same files.
#[derive(Clone)]
pub struct Tls {
    cert_file: PathBuf,
    key_file: PathBuf,
    server: Arc<rustls::ServerConfig>,
}

impl Tls {
    /// Reads a PEM certificate chain (the server's certificate first, then any intermediates) and a PEM private key
    /// (PKCS#8, RSA/PKCS#1 or EC/SEC1, not encrypted), and checks that the key is the certificate's.
    ///
    /// TLS 1.3 and 1.2 with rustls' safe defaults; ALPN offers HTTP/2 and HTTP/1.1 (`/ws` is always HTTP/1.1:
    /// browsers open a separate connection for WebSockets when the server does not offer them over HTTP/2).
    ///
    /// # Errors
    /// If a file cannot be read, holds no certificate or no private key, is not valid PEM, if the key is encrypted,
    /// or if it does not belong to the certificate. Each message names the file.
    pub fn load(cert_file: &Path, key_file: &Path) -> anyhow::Result<Tls> {
        let cert_pem = std::fs::read(cert_file).with_context(|| {
            format!(
                "cannot read the TLS certificate (--tls-cert) {}",
                cert_file.display()
            )
        })?;
        let key_pem = std::fs::read(key_file).with_context(|| {
            format!(
                "cannot read the TLS private key (--tls-key) {}",
                key_file.display()
            )
        })?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| {
                format!(
                    "the TLS certificate (--tls-cert) is not valid PEM: {}",
                    cert_file.display()
                )
            })?;
        if chain.is_empty() {
            anyhow::bail!(
                "no certificate (a `-----BEGIN CERTIFICATE-----` block) in the TLS certificate file (--tls-cert) {}",
                cert_file.display()
            );
        }
        let key = match PrivateKeyDer::from_pem_slice(&key_pem) {
            Ok(key) => key,
            Err(pem::Error::NoItemsFound) if contains(&key_pem, b"ENCRYPTED PRIVATE KEY") => {
                anyhow::bail!(
                    "the TLS private key (--tls-key) is encrypted; decrypt it first (`openssl pkey -in KEY -out \
                 PLAIN.pem`): {}",
                    key_file.display()
                )
            }
            Err(pem::Error::NoItemsFound) => anyhow::bail!(
                "no private key (a PKCS#8 `BEGIN PRIVATE KEY`, RSA `BEGIN RSA PRIVATE KEY` or EC `BEGIN EC PRIVATE \
                 KEY` block) in the TLS private key file (--tls-key) {}",
                key_file.display()
            ),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "the TLS private key (--tls-key) is not valid PEM: {}",
                        key_file.display()
                    )
                });
            }
        };
        let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(ring_provider()))
            .with_safe_default_protocol_versions()
            .context("rustls has no TLS version for the ring provider")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    anyhow::anyhow!(
                        "the TLS private key (--tls-key) {} is not the key of the certificate \
                         (--tls-cert) {}",
                        key_file.display(),
                        cert_file.display()
                    )
                }
                e => anyhow::anyhow!(
                    "cannot use the TLS certificate (--tls-cert) {} with the private key \
                     (--tls-key) {}: {e}",
                    cert_file.display(),
                    key_file.display()
                ),
            })?;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            server: Arc::new(server),
        })
    }

    /// The PEM certificate chain it was loaded from.
    pub fn cert_file(&self) -> &Path {
        &self.cert_file
    }

    /// The PEM private key it was loaded from.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Tls {
    fn eq(&self, other: &Self) -> bool {
        (&self.cert_file, &self.key_file) == (&other.cert_file, &other.key_file)
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves, then stops accepting and waits for the open
/// connections to end (upgraded WebSockets are not among them: they watch the relay's stop signal).
///
/// # Errors
/// If the server fails (a failed handshake only ends its connection).
pub(crate) async fn serve(
    listener: TcpListener,
    tls: &Tls,
    app: axum::Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // No Nagle, as on the plain-HTTP path: set on the TCP stream before the handshake.
    let acceptor = RustlsAcceptor::new(RustlsConfig::from_config(tls.server.clone()))
        .acceptor(NoDelayAcceptor::new());
    let handle = axum_server::Handle::new();
    let server = axum_server::Server::from_listener(listener)
        .acceptor(acceptor)
        .handle(handle.clone())
        .accept_error_handler(|peer: Option<&SocketAddr>, e: &std::io::Error| {
            // A plain-HTTP request, an untrusted certificate or a scanner: normal on an open port.
            tracing::debug!(peer = ?peer, "TLS connection refused: {e}");
        })
        .serve(app.into_make_service_with_connect_info::<SocketAddr>());
    tokio::pin!(server);
    // As `axum::serve(..).with_graceful_shutdown(shutdown)`: keep serving while the shutdown sequence runs, then
    // stop accepting and drain without a deadline.
    tokio::select! {
        served = &mut server => served,
        () = shutdown => {
            handle.graceful_shutdown(None);
            server.await
        }
    }
}

/// rustls' `ring` provider, named explicitly: the process installs no default provider.
///
/// rustls 0.23.48 deprecated it because ring has no post-quantum key exchange (X25519MLKEM768 is aws-lc-rs only).
/// aws-lc-rs needs cmake and a C toolchain to build, while ring is already in the tree through async-nats; X25519
/// with the user's own certificate is what a pit wall's HTTPS needs today. Revisit when ring gains ML-KEM.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
