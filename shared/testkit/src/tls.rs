//! A router served over real TLS with client-certificate authentication on
//! 127.0.0.1, for tests of an adapter that speaks mutual TLS to an outside
//! service (feature `tls`).
//!
//! The certificates ([`Pki`]: a test CA, the server's certificate, the
//! portal's client certificate, and a stranger's) are made at test time with
//! `openssl`; no key is committed.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// PEM certificates and keys of one test run.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
    pub stranger_cert: String,
    pub stranger_key: String,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed (the test command needs it)");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

impl Pki {
    /// A CA named `ca_name`, a server certificate for localhost/127.0.0.1
    /// and a client certificate named `client_name` signed by it, and a
    /// self-signed stranger.
    pub fn make(ca_name: &str, client_name: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        let ca_subject = format!("/CN={ca_name}");
        let mut ca = vec!["req", "-x509", "-days", "1", "-subj", &ca_subject];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(d, &ca);
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        )
        .expect("write");
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
            .expect("write");
        let client_subject = format!("/CN={client_name}");
        for (name, subject) in [("server", "/CN=localhost"), ("client", client_subject.as_str())] {
            let (key, csr, crt, ext) =
                (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"), format!("{name}.ext"));
            let mut req = vec!["req", "-subj", subject];
            req.extend(ec);
            req.extend(["-keyout", &key, "-out", &csr]);
            openssl(d, &req);
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "1",
                    "-extfile",
                    &ext,
                    "-out",
                    &crt,
                ],
            );
        }
        let mut stranger = vec!["req", "-x509", "-days", "1", "-subj", "/CN=stranger"];
        stranger.extend(ec);
        stranger.extend(["-keyout", "stranger.key", "-out", "stranger.crt"]);
        openssl(d, &stranger);
        let read = |name: &str| std::fs::read_to_string(d.join(name)).expect("readable");
        Self {
            ca: read("ca.crt"),
            server_cert: read("server.crt"),
            server_key: read("server.key"),
            client_cert: read("client.crt"),
            client_key: read("client.key"),
            stranger_cert: read("stranger.crt"),
            stranger_key: read("stranger.key"),
        }
    }
}

/// A TLS listener that requires a client certificate from the test CA.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else { continue };
            // A refused handshake (no or a foreign client certificate) ends
            // that connection only.
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `router` on a port of its own on 127.0.0.1 with `pki`'s server
/// certificate, to clients that present a certificate from `pki`'s CA only,
/// until the test's runtime ends; its address.
pub async fn serve_mutual_tls(pki: &Pki, router: Router) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA");
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("verifier");
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server_cert.as_bytes()).map(|c| c.expect("PEM")).collect();
    let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .expect("server config");
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("address");
    let listener = TlsListener { tcp, acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) };
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}
