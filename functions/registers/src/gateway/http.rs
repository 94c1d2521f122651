//! The production adapter of the registers gateway port: JSON over HTTPS
//! with mutual TLS (`docs/registers-gateway.openapi.yaml`).
//!
//! - The client presents the portal's certificate (PEM certificate and key
//!   from settings, [`HttpGatewayConfig`]); the gateway's certificate is
//!   checked against the system roots plus an optional extra root (the
//!   government's private CA).
//! - Connect and whole-request timeouts bound every call.
//! - Every read is an idempotent `GET` carrying `X-Request-Id`, so the
//!   adapter retries, at most [`MAX_TRIES`] tries with doubling backoff, when
//!   the connection could not be made or the gateway answered 502, 503 or
//!   504. Nothing else is retried: a 4xx will not change, a 500 or a timeout
//!   may mean the register did the work, and the job that called us has its
//!   own retries (the queue).
//! - The one write, `POST /v1/filings`, is retried by the same rule only
//!   because it always carries `Idempotency-Key` (the filing's id): the
//!   gateway answers a repeated key with the first receipt and files
//!   nothing again. A POST without that key would never be retried.
//! - Errors come back as `application/problem+json` and map to
//!   [`GatewayError`]; 5xx causes stay in the log.
//!
//! **In-process mode.** [`HttpGateway::in_process`] sends the very same
//! requests through an axum [`Router`] (the SIMULATOR's,
//! [`crate::simulator::router`]) with `tower::ServiceExt::oneshot` instead of
//! the network. Local mode and tests therefore run the production request
//! building, status mapping and JSON decoding against the contract, which a
//! direct call into the simulator's data would skip; only TLS and the socket
//! are left out (the contract test `tests/gateway_contract.rs` covers those
//! over real mutual TLS).

use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use portal_security::SubjectId;
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;
use tower::ServiceExt as _;
use url::Url;

use super::{
    CriminalRecordExtract, DriverPoints, EntrepreneurRecord, FilingProgress, FilingReceipt, FilingSubmission,
    GatewayError, GatewayResult, OdometerHistory, PersonRecord, Properties, ProtocolNumber, RegistersGateway,
    RequestId, SealedExtract, TradeRegisterExtract, Vehicles, Vin,
};

/// At most this many tries of one call (the first and two retries).
pub const MAX_TRIES: u32 = 3;
/// Answers larger than this are refused (an extract is a few kilobytes).
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;
pub const REQUEST_ID_HEADER: &str = "x-request-id";
pub const SUBJECT_HEADER: &str = "x-subject-id";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Request bodies larger than this are refused before sending (a licence
/// photo is at most 5 MB, 6.7 MB in base64).
const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// How to reach the gateway.
#[derive(Clone)]
pub struct HttpGatewayConfig {
    /// `https://…/` (plain `http://` only for loopback addresses).
    pub base_url: String,
    /// The portal's client certificate (PEM, with its chain if any).
    pub client_cert_pem: String,
    /// Its private key (PEM, PKCS#8 or PKCS#1).
    pub client_key_pem: SecretString,
    /// Root CAs to trust besides the system roots (PEM, one or more).
    pub extra_root_pem: Option<String>,
    pub connect_timeout: Duration,
    /// The whole call, answer included.
    pub request_timeout: Duration,
    /// Before the first retry; doubled before each further one.
    pub retry_backoff: Duration,
}

impl std::fmt::Debug for HttpGatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGatewayConfig")
            .field("base_url", &self.base_url)
            .field("extra_root", &self.extra_root_pem.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpGatewayConfig {
    /// With the default timeouts (connect 5 s, request 30 s, backoff 250 ms).
    pub fn new(base_url: impl Into<String>, client_cert_pem: String, client_key_pem: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            client_cert_pem,
            client_key_pem,
            extra_root_pem: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(250),
        }
    }
}

#[derive(Debug, Clone)]
enum Transport {
    Network {
        client: reqwest::Client,
        base: Url,
    },
    /// SIMULATOR (or any contract implementation) served in process.
    InProcess(Router),
}

/// An answer as received, before it is decoded.
struct Reply {
    status: u16,
    body: Bytes,
}

/// Why no answer came.
enum NoReply {
    /// The connection could not be made: nothing reached the gateway.
    Connect(reqwest::Error),
    Other(Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Debug, Clone)]
pub struct HttpGateway {
    transport: Transport,
    backoff: Duration,
}

impl HttpGateway {
    /// The production adapter. Fails with [`GatewayError::Invalid`] when the
    /// configuration is unusable (bad URL, unreadable certificate or key).
    pub fn new(config: HttpGatewayConfig) -> GatewayResult<Self> {
        let mut base = Url::parse(&config.base_url).map_err(|_| GatewayError::Invalid("base URL".into()))?;
        let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if !(base.scheme() == "https" || (base.scheme() == "http" && loopback))
            || !base.username().is_empty()
            || base.password().is_some()
        {
            return Err(GatewayError::Invalid("the base URL must be https:// without credentials".into()));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let pem = format!("{}\n{}", config.client_cert_pem.trim(), config.client_key_pem.expose_secret().trim());
        let identity = reqwest::Identity::from_pem(pem.as_bytes())
            .map_err(|_| GatewayError::Invalid("the client certificate or key is not usable PEM".into()))?;
        let mut builder = reqwest::Client::builder()
            .identity(identity)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portal-registers/", env!("CARGO_PKG_VERSION")));
        if let Some(root) = &config.extra_root_pem {
            let roots = reqwest::Certificate::from_pem_bundle(root.as_bytes())
                .ok()
                .filter(|roots| !roots.is_empty())
                .ok_or_else(|| GatewayError::Invalid("the extra root certificate is not PEM".into()))?;
            builder = builder.tls_certs_merge(roots);
        }
        let client = builder.build().map_err(|e| GatewayError::Invalid(format!("the HTTP client: {e}")))?;
        Ok(Self { transport: Transport::Network { client, base }, backoff: config.retry_backoff })
    }

    /// The same adapter over an in-process router (see the module docs).
    pub fn in_process(router: Router) -> Self {
        Self { transport: Transport::InProcess(router), backoff: Duration::from_millis(1) }
    }

    async fn send_once(
        &self,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Option<&Bytes>,
    ) -> Result<Reply, NoReply> {
        match &self.transport {
            Transport::Network { client, base } => {
                let mut url = base.join(path).map_err(|e| NoReply::Other(Box::new(e)))?;
                if !query.is_empty() {
                    url.query_pairs_mut().extend_pairs(query);
                }
                let mut request = match body {
                    Some(body) => {
                        client.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone())
                    }
                    None => client.get(url),
                }
                .header(reqwest::header::ACCEPT, "application/json");
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| if e.is_connect() { NoReply::Connect(e) } else { NoReply::Other(Box::new(e)) })?;
                let status = response.status().as_u16();
                if response.content_length().is_some_and(|n| n > MAX_ANSWER_BYTES as u64) {
                    return Err(NoReply::Other("the answer is too large".into()));
                }
                let body = response.bytes().await.map_err(|e| NoReply::Other(Box::new(e)))?;
                Ok(Reply { status, body })
            }
            Transport::InProcess(router) => {
                let mut uri = format!("/{path}");
                if !query.is_empty() {
                    let encoded: String =
                        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
                    uri.push('?');
                    uri.push_str(&encoded);
                }
                let mut request = match body {
                    Some(_) => axum::http::Request::post(uri).header("content-type", "application/json"),
                    None => axum::http::Request::get(uri),
                }
                .header("accept", "application/json");
                for (name, value) in headers {
                    request = request.header(*name, *value);
                }
                let body = body.map_or_else(Body::empty, |b| Body::from(b.clone()));
                let request = request.body(body).map_err(|e| NoReply::Other(Box::new(e)))?;
                let response = router.clone().oneshot(request).await.map_err(|e| NoReply::Other(Box::new(e)))?;
                let status = response.status().as_u16();
                let body = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
                    .await
                    .map_err(|e| NoReply::Other(Box::new(e)))?;
                Ok(Reply { status, body })
            }
        }
    }

    /// One read: tries, retries what is safe to retry, decodes.
    async fn get<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        request: &RequestId,
        subject: Option<&SubjectId>,
        query: &[(&str, &str)],
    ) -> GatewayResult<T> {
        self.call(operation, path, request, subject, query, None).await
    }

    /// One operation. A write (`body`) must carry `Idempotency-Key`: only
    /// then is it retried like a read.
    async fn call<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        request: &RequestId,
        subject: Option<&SubjectId>,
        query: &[(&str, &str)],
        body: Option<(&RequestId, Bytes)>,
    ) -> GatewayResult<T> {
        let mut headers = vec![(REQUEST_ID_HEADER, request.as_str())];
        if let Some((key, _)) = &body {
            headers.push((IDEMPOTENCY_HEADER, key.as_str()));
        }
        let body = body.map(|(_, bytes)| bytes);
        if let Some(subject) = subject {
            // Header values are visible ASCII; NIA's pseudonyms are.
            if !subject.as_str().chars().all(|c| c.is_ascii_graphic()) {
                return Err(GatewayError::Invalid("the subject id is not visible ASCII".into()));
            }
            headers.push((SUBJECT_HEADER, subject.as_str()));
        }
        let mut delay = self.backoff;
        for attempt in 1..=MAX_TRIES {
            let last = attempt == MAX_TRIES;
            match self.send_once(path, query, &headers, body.as_ref()).await {
                Ok(reply) if matches!(reply.status, 502..=504) && !last => {
                    tracing::warn!(operation, status = reply.status, attempt, "registers gateway busy; retrying");
                }
                Ok(reply) => return decode(operation, reply),
                Err(NoReply::Connect(error)) if !last => {
                    tracing::warn!(operation, attempt, error = %error, "registers gateway unreachable; retrying");
                }
                Err(NoReply::Connect(error)) => return Err(GatewayError::Unavailable(Box::new(error))),
                Err(NoReply::Other(error)) => {
                    tracing::warn!(operation, error = %error, "registers gateway call failed");
                    return Err(GatewayError::Unavailable(error));
                }
            }
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
        Err(GatewayError::Unavailable("no try was made".into()))
    }
}

#[derive(serde::Deserialize, Default)]
struct ProblemBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

fn decode<T: DeserializeOwned>(operation: &'static str, reply: Reply) -> GatewayResult<T> {
    match reply.status {
        200..=202 => serde_json::from_slice(&reply.body).map_err(|error| {
            tracing::error!(operation, error = %error, "the registers gateway answered outside its contract");
            GatewayError::Invalid(format!("the {operation} answer does not match the contract: {error}"))
        }),
        404 => Err(GatewayError::NotFound),
        400 => {
            let problem: ProblemBody = serde_json::from_slice(&reply.body).unwrap_or_default();
            Err(GatewayError::Invalid(problem.detail.or(problem.title).unwrap_or_else(|| "bad request".into())))
        }
        status @ 401..=499 => {
            let problem: ProblemBody = serde_json::from_slice(&reply.body).unwrap_or_default();
            Err(GatewayError::Refused { status, kind: problem.kind, detail: problem.detail })
        }
        status => {
            tracing::error!(operation, status, "the registers gateway failed");
            Err(GatewayError::Unavailable(format!("the gateway answered {status}").into()))
        }
    }
}

#[async_trait]
impl RegistersGateway for HttpGateway {
    #[tracing::instrument(skip_all, fields(request = %request))]
    async fn person(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<PersonRecord> {
        self.get("person", "v1/person", request, Some(subject), &[]).await
    }

    #[tracing::instrument(skip_all, fields(request = %request))]
    async fn entrepreneur(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<EntrepreneurRecord> {
        self.get("entrepreneur", "v1/entrepreneur", request, Some(subject), &[]).await
    }

    #[tracing::instrument(skip_all, fields(request = %request))]
    async fn criminal_record(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<CriminalRecordExtract> {
        self.get("criminal-record", "v1/criminal-record", request, Some(subject), &[]).await
    }

    #[tracing::instrument(skip_all, fields(request = %request))]
    async fn trade_register(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<TradeRegisterExtract> {
        self.get("trade-register", "v1/trade-register", request, Some(subject), &[]).await
    }

    #[tracing::instrument(skip_all, fields(request = %request))]
    async fn driver_points(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<DriverPoints> {
        self.get("driver-points", "v1/driver-points", request, Some(subject), &[]).await
    }

    #[tracing::instrument(skip_all, fields(request = %request))]
    async fn vehicles(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<Vehicles> {
        self.get("vehicles", "v1/vehicles", request, Some(subject), &[]).await
    }

    #[tracing::instrument(skip_all, fields(request = %request))]
    async fn odometer(
        &self,
        request: &RequestId,
        vin: &Vin,
        protocol: &ProtocolNumber,
    ) -> GatewayResult<OdometerHistory> {
        self.get("odometer", "v1/odometer", request, None, &[("vin", vin.as_str()), ("protocol", protocol.as_str())])
            .await
    }

    #[tracing::instrument(skip_all, fields(request = %request))]
    async fn properties(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<Properties> {
        self.get("properties", "v1/properties", request, Some(subject), &[]).await
    }

    #[tracing::instrument(skip_all, fields(request = %request, kind))]
    async fn sealed_extract(
        &self,
        request: &RequestId,
        subject: &SubjectId,
        kind: &str,
    ) -> GatewayResult<SealedExtract> {
        if !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
            return Err(GatewayError::Invalid(format!("not an extract kind: {kind}")));
        }
        self.get("sealed-extract", &format!("v1/extracts/{kind}"), request, Some(subject), &[]).await
    }

    #[tracing::instrument(skip_all, fields(request = %request, kind = submission.kind()))]
    async fn submit_filing(
        &self,
        request: &RequestId,
        subject: &SubjectId,
        idempotency_key: &RequestId,
        submission: &FilingSubmission,
    ) -> GatewayResult<FilingReceipt> {
        let body = serde_json::to_vec(submission).map_err(|e| GatewayError::Invalid(e.to_string()))?;
        if body.len() > MAX_REQUEST_BYTES {
            return Err(GatewayError::Invalid("the filing is larger than the gateway takes".into()));
        }
        self.call(
            "submit-filing",
            "v1/filings",
            request,
            Some(subject),
            &[],
            Some((idempotency_key, Bytes::from(body))),
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(request = %request))]
    async fn filing_status(
        &self,
        request: &RequestId,
        subject: &SubjectId,
        reference: &str,
    ) -> GatewayResult<FilingProgress> {
        // References are opaque; they travel as one encoded path segment.
        let reference = RequestId::parse(reference)?;
        self.get("filing-status", &format!("v1/filings/{}", reference.as_str()), request, Some(subject), &[]).await
    }
}
