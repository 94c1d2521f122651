//! The production adapter of [`TileSource`]: the tile-summary protocol
//! (`docs/tile-summary-api.yaml`), JSON over HTTPS with mutual TLS.
//!
//! - `GET {base}v1/summary` with `X-Subject-Id` (the citizen, in a header so
//!   no URL that could be logged carries it), `X-Request-Id` and `Accept:
//!   application/json`; 200 is a `Summary`, 404 "nothing for this citizen",
//!   429 and 5xx "unavailable" (the dashboard shows the cached summary or
//!   says so), anything else breaks the contract.
//! - The client presents the portal's certificate (PEM certificate and key
//!   from settings); the source's certificate is checked against the system
//!   roots plus an optional extra root. Connect and whole-call timeouts from
//!   the source's settings.
//! - No retries inside a call: the dashboard's budget is shorter than any
//!   backoff, and the next view (or the call left running past the budget)
//!   refreshes the cache.
//!
//! **In-process mode** ([`HttpTileSource::in_process`]) sends the very same
//! requests through an axum [`Router`] (a SIMULATOR's) with
//! `tower::ServiceExt::oneshot`, so local mode runs the production encoding
//! and decoding; `tests/summary_contract.rs` covers TLS over a real socket.

use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use portal_security::SubjectId;
use secrecy::{ExposeSecret as _, SecretString};
use tower::ServiceExt as _;
use url::Url;

use super::{SourceError, Summary, TileSource};

pub const SUBJECT_HEADER: &str = "x-subject-id";
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The protocol's one operation, under the source's base URL.
pub const SUMMARY_PATH: &str = "v1/summary";
/// A summary is a few lines; anything larger is refused.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How to reach one source.
#[derive(Clone)]
pub struct HttpSourceConfig {
    /// `https://…/` (plain `http://` only for loopback addresses).
    pub base_url: String,
    /// The portal's client certificate (PEM, with its chain if any).
    pub client_cert_pem: String,
    /// Its private key (PEM).
    pub client_key_pem: SecretString,
    /// Root CAs to trust besides the system roots (PEM).
    pub extra_root_pem: Option<String>,
    pub connect_timeout: Duration,
    /// The whole call, answer included.
    pub timeout: Duration,
}

impl std::fmt::Debug for HttpSourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSourceConfig")
            .field("base_url", &self.base_url)
            .field("extra_root", &self.extra_root_pem.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
enum Transport {
    Network { client: reqwest::Client, url: Url },
    InProcess(Router),
}

/// The production adapter.
#[derive(Debug, Clone)]
pub struct HttpTileSource {
    transport: Transport,
}

impl HttpTileSource {
    /// Fails with [`SourceError::Invalid`] when the configuration is unusable.
    pub fn new(config: &HttpSourceConfig) -> Result<Self, SourceError> {
        let mut base = Url::parse(&config.base_url).map_err(|_| SourceError::Invalid("base URL".into()))?;
        let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if !(base.scheme() == "https" || (base.scheme() == "http" && loopback))
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return Err(SourceError::Invalid("the base URL must be https:// without credentials".into()));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let url = base.join(SUMMARY_PATH).map_err(|_| SourceError::Invalid("base URL".into()))?;
        let pem = format!("{}\n{}", config.client_cert_pem.trim(), config.client_key_pem.expose_secret().trim());
        let identity = reqwest::Identity::from_pem(pem.as_bytes())
            .map_err(|_| SourceError::Invalid("the client certificate or key is not usable PEM".into()))?;
        let mut builder = reqwest::Client::builder()
            .identity(identity)
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portal-tiles/", env!("CARGO_PKG_VERSION")));
        if let Some(root) = &config.extra_root_pem {
            let roots = reqwest::Certificate::from_pem_bundle(root.as_bytes())
                .ok()
                .filter(|roots| !roots.is_empty())
                .ok_or_else(|| SourceError::Invalid("the extra root certificate is not PEM".into()))?;
            builder = builder.tls_certs_merge(roots);
        }
        let client = builder.build().map_err(|e| SourceError::Invalid(format!("the HTTP client: {e}")))?;
        Ok(Self { transport: Transport::Network { client, url } })
    }

    /// The same adapter over an in-process router.
    pub fn in_process(router: Router) -> Self {
        Self { transport: Transport::InProcess(router) }
    }

    async fn send(&self, subject: &SubjectId, request_id: &str) -> Result<(u16, Bytes), SourceError> {
        match &self.transport {
            Transport::Network { client, url } => {
                let response = client
                    .get(url.clone())
                    .header(reqwest::header::ACCEPT, "application/json")
                    .header(SUBJECT_HEADER, subject.as_str())
                    .header(REQUEST_ID_HEADER, request_id)
                    .send()
                    .await
                    .map_err(|e| SourceError::Unavailable(describe(&e)))?;
                let status = response.status().as_u16();
                if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
                    return Err(SourceError::Contract("the answer is too large".into()));
                }
                let body = response.bytes().await.map_err(|e| SourceError::Unavailable(describe(&e)))?;
                if body.len() > MAX_ANSWER_BYTES {
                    return Err(SourceError::Contract("the answer is too large".into()));
                }
                Ok((status, body))
            }
            Transport::InProcess(router) => {
                let request = axum::http::Request::get(format!("/{SUMMARY_PATH}"))
                    .header("accept", "application/json")
                    .header(SUBJECT_HEADER, subject.as_str())
                    .header(REQUEST_ID_HEADER, request_id)
                    .body(Body::empty())
                    .map_err(|e| SourceError::Invalid(e.to_string()))?;
                let response =
                    router.clone().oneshot(request).await.map_err(|e| SourceError::Unavailable(e.to_string()))?;
                let status = response.status().as_u16();
                let body = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
                    .await
                    .map_err(|_| SourceError::Contract("the answer is too large".into()))?;
                Ok((status, body))
            }
        }
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "could not connect".into()
    } else {
        "the call failed".into()
    }
}

#[async_trait]
impl TileSource for HttpTileSource {
    #[tracing::instrument(skip_all, name = "tile source", fields(request_id = %request_id))]
    async fn summary(&self, subject: &SubjectId, request_id: &str) -> Result<Summary, SourceError> {
        let (status, body) = self.send(subject, request_id).await?;
        match status {
            200 => serde_json::from_slice(&body).map_err(|e| SourceError::Contract(format!("the summary: {e}"))),
            404 => Err(SourceError::NoRecord),
            429 | 500..=599 => Err(SourceError::Unavailable(format!("answered {status}"))),
            other => Err(SourceError::Contract(format!("answered {other}"))),
        }
    }
}
