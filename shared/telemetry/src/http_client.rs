//! The exporter's HTTP client: the workspace's reqwest (one TLS stack in the
//! binary), run on the process's Tokio runtime.
//!
//! The SDK's batch processor exports from its own thread, outside any Tokio
//! runtime, while reqwest needs one: each upload is spawned onto the runtime
//! captured at start-up and awaited from the export thread.
//!
//! With a credential (Azure: the app's managed identity), every upload carries
//! an Entra ID token for Azure Monitor: the component accepts no other
//! (`DisableLocalAuth`, `APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD`).
//!
//! The exporter always speaks HTTPS. A connection string whose
//! `IngestionEndpoint` is plain `http://` on a loopback address (a local
//! collector, the export test's receiver) is honoured for that address only;
//! every other endpoint stays HTTPS.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use bytes::Bytes;
use http::{Request, Response, Uri};
use opentelemetry_http::{HttpClient, HttpError};

#[derive(Debug, Clone)]
pub(crate) struct RuntimeHttpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    /// `host:port` of a loopback endpoint configured as plain HTTP.
    plain_loopback: Option<String>,
    credential: Option<Arc<dyn TokenCredential>>,
}

/// The scope of Azure Monitor ingestion tokens (the double slash is Azure's).
const INGESTION_SCOPE: &str = "https://monitor.azure.com//.default";

impl RuntimeHttpClient {
    pub(crate) fn new(
        client: reqwest::Client,
        runtime: tokio::runtime::Handle,
        connection_string: &str,
        credential: Option<Arc<dyn TokenCredential>>,
    ) -> Self {
        Self { client, runtime, plain_loopback: plain_loopback_endpoint(connection_string), credential }
    }

    fn target(&self, uri: Uri) -> Uri {
        let plain = self.plain_loopback.as_deref();
        match uri.authority().map(|a| a.as_str()) {
            Some(authority) if plain == Some(authority) && uri.scheme_str() == Some("https") => {
                let mut parts = uri.clone().into_parts();
                parts.scheme = Some(http::uri::Scheme::HTTP);
                Uri::from_parts(parts).unwrap_or(uri)
            }
            _ => uri,
        }
    }
}

fn box_error(error: impl std::error::Error + Send + Sync + 'static) -> HttpError {
    Box::new(error)
}

/// The `host:port` of an `IngestionEndpoint=http://<loopback>:<port>/`, if that is what is configured.
fn plain_loopback_endpoint(connection_string: &str) -> Option<String> {
    let endpoint = connection_string.split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim().eq_ignore_ascii_case("IngestionEndpoint").then(|| value.trim())
    })?;
    let authority = endpoint.strip_prefix("http://")?.trim_end_matches('/');
    let host = authority.rsplit_once(':').map_or(authority, |(host, _)| host);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]").then(|| authority.to_owned())
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (mut parts, body) = request.into_parts();
        parts.uri = self.target(parts.uri);
        let request = Request::from_parts(parts, body);
        let client = self.client.clone();
        let credential = self.credential.clone();
        let upload = self.runtime.spawn(async move {
            let mut request = reqwest::Request::try_from(request).map_err(box_error)?;
            if let Some(credential) = credential {
                // The credential caches the token and renews it before it expires.
                let token = credential.get_token(&[INGESTION_SCOPE], None).await.map_err(box_error)?;
                let value =
                    http::HeaderValue::try_from(format!("Bearer {}", token.token.secret())).map_err(box_error)?;
                request.headers_mut().insert(http::header::AUTHORIZATION, value);
            }
            let response = client.execute(request).await.map_err(box_error)?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(box_error)?;
            let mut answer = Response::new(body);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok::<_, HttpError>(answer)
        });
        match upload.await {
            Ok(result) => result,
            Err(error) => Err(box_error(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_loopback_endpoint_may_be_plain_http() {
        let key = "InstrumentationKey=00000000-0000-0000-0000-000000000000";
        assert_eq!(
            plain_loopback_endpoint(&format!("{key};IngestionEndpoint=http://127.0.0.1:4318/")),
            Some("127.0.0.1:4318".into())
        );
        for other in [
            "IngestionEndpoint=http://westeurope-5.in.applicationinsights.azure.com/",
            "IngestionEndpoint=https://127.0.0.1:4318/",
            "IngestionEndpoint=http://127.0.0.1.example.com:80/",
            "",
        ] {
            assert_eq!(plain_loopback_endpoint(&format!("{key};{other}")), None, "{other}");
        }
    }
}
