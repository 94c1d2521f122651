//! The Azure KEK: an RSA key in Key Vault or Managed HSM, used with
//! `wrapKey`/`unwrapKey` and `RSA-OAEP-256`. The KEK never leaves the vault.

use std::fmt;
use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::{RequestContent, Url};
use azure_security_keyvault_keys::models::{EncryptionAlgorithm, KeyOperationParameters, KeyOperationResult};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions, ResourceExt as _, ResourceId};
use zeroize::Zeroize;

use crate::error::WrapError;
use crate::key::{DataKey, KeyWrapper, WrappedKey};

/// Wraps data keys with one Key Vault key (one KEK per region; never one vault
/// key per citizen). `wrap_key` goes to the key's latest version and the
/// version Key Vault reports in the returned `kid` is recorded; `unwrap_key`
/// always names that recorded version, so a KEK rotation in the vault never
/// makes existing wrapped keys unreadable.
///
/// The identity needs the "Key Vault Crypto Service Encryption User" role (key
/// read, wrap, unwrap) on the key.
///
/// Not tested against a real vault (none is reachable from the build
/// machines): the unit tests cover what can be checked without a network,
/// namely the request body, `kid` parsing, response mapping and error mapping.
pub struct KeyVaultWrapper {
    client: KeyClient,
    key_name: String,
    /// `https://<vault>.vault.azure.net` (scheme and authority only).
    vault_url: String,
    /// `<vault_url>/keys/<key_name>`: the KEK id recorded with each wrapped key.
    kek_id: String,
}

impl fmt::Debug for KeyVaultWrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVaultWrapper").field("kek_id", &self.kek_id).finish_non_exhaustive()
    }
}

impl KeyVaultWrapper {
    /// A wrapper for key `key_name` in the vault at `vault_url`
    /// (`https://<name>.vault.azure.net/` or a Managed HSM URL). Nothing is
    /// sent until the first operation. Share one `credential` between clients.
    pub fn new(
        vault_url: &str,
        key_name: &str,
        credential: Arc<dyn TokenCredential>,
        options: Option<KeyClientOptions>,
    ) -> Result<Self, WrapError> {
        let url = Url::parse(vault_url).map_err(WrapError::backend)?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(invalid("the Key Vault URL must use https"));
        }
        if key_name.is_empty() || !key_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid("a Key Vault key name is letters, digits and '-'"));
        }
        let vault_url = format!("{}://{}", url.scheme(), url.authority()).to_ascii_lowercase();
        let client = KeyClient::new(vault_url.as_str(), credential, options).map_err(WrapError::backend)?;
        let kek_id = format!("{vault_url}/keys/{key_name}");
        Ok(Self { client, key_name: key_name.to_owned(), vault_url, kek_id })
    }

    /// The version named by a `kid` that Key Vault returned for our key.
    fn version_from_kid(&self, kid: &str) -> Result<String, WrapError> {
        let id: ResourceId = kid.parse().map_err(WrapError::backend)?;
        self.version_of(&id)
    }

    fn version_of(&self, id: &ResourceId) -> Result<String, WrapError> {
        if !id.vault_url.eq_ignore_ascii_case(&self.vault_url) || !id.name.eq_ignore_ascii_case(&self.key_name) {
            return Err(invalid("Key Vault answered with the id of another key"));
        }
        match id.version.as_deref() {
            Some(version) if !version.is_empty() => Ok(version.to_owned()),
            _ => Err(invalid("Key Vault answered with a key id without a version")),
        }
    }

    fn wrapped_from(&self, result: KeyOperationResult) -> Result<WrappedKey, WrapError> {
        let kid = result.kid.as_deref().ok_or_else(|| invalid("Key Vault answered without a key id"))?;
        let kek_version = self.version_from_kid(kid)?;
        let bytes = result.result.filter(|bytes| !bytes.is_empty());
        let bytes = bytes.ok_or_else(|| invalid("Key Vault answered without a wrapped key"))?;
        Ok(WrappedKey { kek_id: self.kek_id.clone(), kek_version, bytes })
    }

    fn unwrapped_from(&self, result: KeyOperationResult, version: &str) -> Result<DataKey, WrapError> {
        if let Some(kid) = result.kid.as_deref()
            && self.version_from_kid(kid)? != version
        {
            return Err(invalid("Key Vault unwrapped with another key version than the one asked for"));
        }
        let mut bytes = result.result.unwrap_or_default();
        let key = DataKey::from_slice(&bytes);
        bytes.zeroize();
        key.ok_or_else(|| invalid("Key Vault unwrapped something that is not a 32-byte key"))
    }

    fn unknown(&self, version: &str) -> WrapError {
        WrapError::UnknownKek { kek_id: self.kek_id.clone(), version: version.to_owned() }
    }
}

fn parameters(value: Vec<u8>) -> KeyOperationParameters {
    KeyOperationParameters {
        algorithm: Some(EncryptionAlgorithm::RsaOaep256),
        value: Some(value),
        ..Default::default()
    }
}

fn content(parameters: KeyOperationParameters) -> Result<RequestContent<KeyOperationParameters>, WrapError> {
    parameters.try_into().map_err(WrapError::backend)
}

fn invalid(message: &'static str) -> WrapError {
    WrapError::backend(io::Error::new(io::ErrorKind::InvalidData, message))
}

/// The vault's host name in a key id (`https://<vault>.vault.azure.net/keys/<name>`):
/// the target of the call in telemetry.
fn vault_host(kek_id: &str) -> &str {
    let rest = kek_id.split_once("://").map_or(kek_id, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// Which call failed, for [`map_error`].
#[derive(Debug, Clone, Copy)]
enum Operation<'a> {
    Read,
    Wrap,
    Unwrap { version: &'a str },
}

/// Key Vault's answers as [`WrapError`]s: throttling (429), timeouts and 5xx,
/// connection and token failures can be retried; 404 is an unknown key or
/// version; 400 on unwrap means the wrapped bytes do not decrypt; the rest
/// (401, 403 for a missing role or a disabled version, …) needs an operator.
fn map_error(error: azure_core::Error, operation: Operation<'_>, kek_id: &str) -> WrapError {
    use azure_core::error::ErrorKind;
    // Every failure of a Key Vault call is a failed dependency (see `portal_telemetry::conventions`).
    let span = tracing::Span::current();
    span.record("otel.status_code", "ERROR");
    let status = match error.kind() {
        ErrorKind::HttpResponse { status, .. } => u16::from(*status),
        ErrorKind::Connection | ErrorKind::Io | ErrorKind::Credential => {
            span.record("dependency.result", "connection failed");
            return WrapError::unavailable(error);
        }
        _ => {
            span.record("dependency.result", "error");
            return WrapError::backend(error);
        }
    };
    span.record("dependency.result", status);
    match (status, operation) {
        (408 | 429 | 500..=599, _) => WrapError::unavailable(error),
        (404, Operation::Unwrap { version }) => {
            WrapError::UnknownKek { kek_id: kek_id.to_owned(), version: version.to_owned() }
        }
        (404, _) => WrapError::UnknownKek { kek_id: kek_id.to_owned(), version: "latest".into() },
        (400, Operation::Unwrap { .. }) => WrapError::Rejected,
        _ => WrapError::backend(error),
    }
}

#[async_trait]
impl KeyWrapper for KeyVaultWrapper {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    #[tracing::instrument(skip_all, fields(
        kek = %self.kek_id,
        otel.kind = "client",
        dependency.type = "Azure Key Vault",
        server.address = vault_host(&self.kek_id),
        dependency.result = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    ))]
    async fn current_version(&self) -> Result<String, WrapError> {
        let key = self
            .client
            .get_key(&self.key_name, None)
            .await
            .and_then(|response| response.into_model())
            .map_err(|error| map_error(error, Operation::Read, &self.kek_id))?;
        let id = key.resource_id().map_err(WrapError::backend)?;
        self.version_of(&id)
    }

    #[tracing::instrument(skip_all, fields(
        kek = %self.kek_id,
        otel.kind = "client",
        dependency.type = "Azure Key Vault",
        server.address = vault_host(&self.kek_id),
        dependency.result = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    ))]
    async fn wrap(&self, key: &DataKey) -> Result<WrappedKey, WrapError> {
        let result = self
            .client
            .wrap_key(&self.key_name, content(parameters(key.expose_secret().to_vec()))?, None)
            .await
            .and_then(|response| response.into_model())
            .map_err(|error| map_error(error, Operation::Wrap, &self.kek_id))?;
        self.wrapped_from(result)
    }

    #[tracing::instrument(skip_all, fields(
        kek = %self.kek_id,
        kek_version = %wrapped.kek_version,
        otel.kind = "client",
        dependency.type = "Azure Key Vault",
        server.address = vault_host(&self.kek_id),
        dependency.result = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    ))]
    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, WrapError> {
        // An empty version would make Key Vault use the latest one.
        if wrapped.kek_id != self.kek_id || wrapped.kek_version.is_empty() {
            return Err(WrapError::UnknownKek { kek_id: wrapped.kek_id.clone(), version: wrapped.kek_version.clone() });
        }
        if !wrapped.kek_version.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(self.unknown(&wrapped.kek_version));
        }
        let version = wrapped.kek_version.as_str();
        let result = self
            .client
            .unwrap_key(&self.key_name, version, content(parameters(wrapped.bytes.clone()))?, None)
            .await
            .and_then(|response| response.into_model())
            .map_err(|error| map_error(error, Operation::Unwrap { version }, &self.kek_id))?;
        self.unwrapped_from(result, version)
    }
}

#[cfg(test)]
mod tests {
    use azure_core::credentials::{AccessToken, TokenRequestOptions};
    use azure_core::error::ErrorKind;
    use azure_core::http::StatusCode;
    use base64::Engine as _;

    use super::*;

    /// Never called: nothing in these tests reaches the network.
    #[derive(Debug)]
    struct NoCredential;

    #[async_trait]
    impl TokenCredential for NoCredential {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            Err(ErrorKind::Credential.into_error())
        }
    }

    const VERSION: &str = "0f2c5b3e8a9d4c6fb1e27a3d5c9e8f10";

    fn wrapper() -> KeyVaultWrapper {
        KeyVaultWrapper::new("https://Portal-KV.vault.azure.net/", "citizen-kek", Arc::new(NoCredential), None)
            .expect("no network needed")
    }

    fn result(json: serde_json::Value) -> KeyOperationResult {
        serde_json::from_value(json).expect("a Key Vault response body")
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn the_kek_id_is_the_key_url_without_version() {
        let kv = wrapper();
        assert_eq!(kv.kek_id(), "https://portal-kv.vault.azure.net/keys/citizen-kek");
        assert!(KeyVaultWrapper::new("not a url", "k", Arc::new(NoCredential), None).is_err());
        assert!(KeyVaultWrapper::new("https://v.vault.azure.net", "a/b", Arc::new(NoCredential), None).is_err());
        assert!(KeyVaultWrapper::new("ftp://v.vault.azure.net", "k", Arc::new(NoCredential), None).is_err());
    }

    #[test]
    fn wrap_requests_rsa_oaep_256_with_the_key_in_base64url() {
        let body = serde_json::to_value(parameters(vec![0xfb; 32])).expect("serialize");
        assert_eq!(body, serde_json::json!({ "alg": "RSA-OAEP-256", "value": b64(&[0xfb; 32]) }));
    }

    #[test]
    fn kids_name_the_version_of_our_key_only() {
        let kv = wrapper();
        let kid = format!("https://portal-kv.vault.azure.net/keys/citizen-kek/{VERSION}");
        assert_eq!(kv.version_from_kid(&kid).expect("ours"), VERSION);
        let with_port = format!("https://portal-kv.vault.azure.net:443/keys/Citizen-KEK/{VERSION}");
        assert_eq!(kv.version_from_kid(&with_port).expect("default port, other case"), VERSION);
        for bad in [
            "https://portal-kv.vault.azure.net/keys/citizen-kek".to_owned(),
            "https://portal-kv.vault.azure.net/keys/citizen-kek/".to_owned(),
            format!("https://other.vault.azure.net/keys/citizen-kek/{VERSION}"),
            format!("https://portal-kv.vault.azure.net/keys/other-kek/{VERSION}"),
            format!("https://portal-kv.vault.azure.net/secrets/citizen-kek/{VERSION}"),
            "not a url".to_owned(),
        ] {
            assert!(kv.version_from_kid(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wrap_responses_record_the_version_from_the_kid() {
        let kv = wrapper();
        let kid = format!("https://portal-kv.vault.azure.net/keys/citizen-kek/{VERSION}");
        let wrapped = kv.wrapped_from(result(serde_json::json!({ "kid": kid, "value": b64(&[9; 256]) }))).expect("ok");
        assert_eq!(wrapped.kek_id, "https://portal-kv.vault.azure.net/keys/citizen-kek");
        assert_eq!(wrapped.kek_version, VERSION);
        assert_eq!(wrapped.bytes, vec![9; 256]);
        assert!(kv.wrapped_from(result(serde_json::json!({ "value": b64(&[9; 256]) }))).is_err(), "no kid");
        assert!(kv.wrapped_from(result(serde_json::json!({ "kid": kid }))).is_err(), "no value");
    }

    #[test]
    fn unwrap_responses_must_be_32_bytes_from_the_version_asked_for() {
        let kv = wrapper();
        let kid = format!("https://portal-kv.vault.azure.net/keys/citizen-kek/{VERSION}");
        let key = kv.unwrapped_from(result(serde_json::json!({ "kid": kid, "value": b64(&[7; 32]) })), VERSION);
        assert_eq!(key.expect("ok").expose_secret(), &[7; 32]);
        assert!(kv.unwrapped_from(result(serde_json::json!({ "kid": kid, "value": b64(&[7; 31]) })), VERSION).is_err());
        assert!(kv.unwrapped_from(result(serde_json::json!({ "kid": kid, "value": b64(&[7; 32]) })), "older").is_err());
        assert!(kv.unwrapped_from(result(serde_json::json!({ "kid": kid })), VERSION).is_err());
    }

    #[tokio::test]
    async fn unwrap_never_asks_for_the_latest_version() {
        let kv = wrapper();
        for version in ["", "../latest", "a b"] {
            let wrapped = WrappedKey { kek_id: kv.kek_id.clone(), kek_version: version.into(), bytes: vec![1; 256] };
            assert!(matches!(kv.unwrap(&wrapped).await, Err(WrapError::UnknownKek { .. })), "{version:?}");
        }
        let foreign = WrappedKey { kek_id: "local".into(), kek_version: VERSION.into(), bytes: vec![1; 40] };
        assert!(matches!(kv.unwrap(&foreign).await, Err(WrapError::UnknownKek { .. })));
    }

    /// A token for the fake vault below.
    #[derive(Debug)]
    struct FakeCredential;

    #[async_trait]
    impl TokenCredential for FakeCredential {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            Ok(AccessToken::new("fake-token", time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(3600)))
        }
    }

    /// An in-process transport that answers like Key Vault, so the SDK's real
    /// pipeline (challenge authentication, URL building, JSON) runs without a
    /// network. The unauthenticated first request gets a 401 challenge;
    /// `GET /keys/<name>` names version `v2`; `wrapkey` wraps under `v2`;
    /// `unwrapkey` unwraps with the version in its path (`v1` or `v2`, anything
    /// else is 404). "Wrapping" XORs the key with the version's byte, so the
    /// wrong version yields the wrong key. Records `METHOD path?query`.
    #[derive(Debug, Default)]
    struct FakeVault {
        requests: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait]
    impl azure_core::http::HttpClient for FakeVault {
        async fn execute_request(
            &self,
            request: &azure_core::http::Request,
        ) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
            let url = request.url();
            let authorized = request.headers().get_optional_str(&"authorization".into()) == Some("Bearer fake-token");
            let body = match request.body() {
                azure_core::http::Body::Bytes(bytes) => bytes.to_vec(),
                _ => Vec::new(),
            };
            let vault = format!("{}://{}", url.scheme(), url.authority());
            let (status, json) = answer(&vault, request.method().as_str(), url.path(), authorized, &body);
            self.requests.lock().expect("log").push(format!(
                "{} {}?{}",
                request.method().as_str(),
                url.path(),
                url.query().unwrap_or("")
            ));
            let mut headers = azure_core::http::headers::Headers::new();
            headers.insert("content-type", "application/json");
            if status == 401 {
                headers.insert(
                    "www-authenticate",
                    r#"Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net""#,
                );
            }
            Ok(azure_core::http::AsyncRawResponse::from_bytes(StatusCode::from(status), headers, json.into_bytes()))
        }
    }

    fn answer(vault: &str, method: &str, path: &str, authorized: bool, body: &[u8]) -> (u16, String) {
        if !authorized {
            return (401, "{}".into());
        }
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let xor = |version: &str, bytes: Vec<u8>| -> Vec<u8> {
            let mask = if version == "v1" { 0x11 } else { 0x22 };
            bytes.into_iter().map(|b| b ^ mask).collect()
        };
        let value = || -> Vec<u8> {
            let json: serde_json::Value = serde_json::from_slice(body).expect("json body");
            assert_eq!(json["alg"], "RSA-OAEP-256");
            let value = json["value"].as_str().expect("value");
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).expect("base64url")
        };
        let kid = |version: &str| format!("{vault}/keys/citizen-kek/{version}");
        match (method, segments.as_slice()) {
            ("GET", ["keys", "citizen-kek"]) => (200, format!(r#"{{"key":{{"kid":"{}","kty":"RSA"}}}}"#, kid("v2"))),
            ("POST", ["keys", "citizen-kek", "wrapkey"]) => {
                (200, format!(r#"{{"kid":"{}","value":"{}"}}"#, kid("v2"), b64(&xor("v2", value()))))
            }
            ("POST", ["keys", "citizen-kek", version @ ("v1" | "v2"), "unwrapkey"]) => {
                (200, format!(r#"{{"kid":"{}","value":"{}"}}"#, kid(version), b64(&xor(version, value()))))
            }
            _ => (404, r#"{"error":{"code":"KeyNotFound","message":"no such key"}}"#.into()),
        }
    }

    #[tokio::test]
    async fn against_a_fake_vault_keys_are_unwrapped_with_the_recorded_version() {
        let vault = Arc::new(FakeVault::default());
        let transport = azure_core::http::Transport::new(vault.clone());
        let client_options = azure_core::http::ClientOptions { transport: Some(transport), ..Default::default() };
        let options = KeyClientOptions { client_options, ..Default::default() };
        let kv = KeyVaultWrapper::new(
            "https://portal-kv.vault.azure.net",
            "citizen-kek",
            Arc::new(FakeCredential),
            Some(options),
        )
        .expect("client");
        assert_eq!(kv.current_version().await.expect("current"), "v2");

        let key = DataKey::generate().expect("rng");
        let wrapped = kv.wrap(&key).await.expect("wrap");
        assert_eq!((wrapped.kek_id.as_str(), wrapped.kek_version.as_str()), (kv.kek_id(), "v2"));
        assert_eq!(kv.unwrap(&wrapped).await.expect("unwrap"), key);

        // A key wrapped under v1 before the vault's key was rotated to v2.
        let old =
            WrappedKey { kek_version: "v1".into(), bytes: key.expose_secret().map(|b| b ^ 0x11).to_vec(), ..wrapped };
        assert_eq!(kv.unwrap(&old).await.expect("unwrap v1"), key);
        let gone = WrappedKey { kek_version: "v0".into(), ..old };
        assert!(matches!(kv.unwrap(&gone).await, Err(WrapError::UnknownKek { version, .. }) if version == "v0"));

        let requests = vault.requests.lock().expect("log").clone();
        // wrapkey goes to the latest version (the SDK leaves the version segment empty).
        assert!(requests.iter().any(|line| line.starts_with("POST /keys/citizen-kek//wrapkey?api-version=")));
        assert!(requests.iter().any(|line| line.starts_with("POST /keys/citizen-kek/v1/unwrapkey?api-version=")));
        assert!(requests.iter().any(|line| line.starts_with("POST /keys/citizen-kek/v2/unwrapkey?api-version=")));
    }

    #[test]
    fn key_vault_statuses_map_to_wrap_errors() {
        let http = |status: u16| {
            ErrorKind::HttpResponse { status: StatusCode::from(status), error_code: None, raw_response: None }
                .into_error()
        };
        let unwrap = Operation::Unwrap { version: VERSION };
        assert!(map_error(http(429), Operation::Wrap, "k").is_retryable());
        assert!(map_error(http(503), unwrap, "k").is_retryable());
        assert!(map_error(ErrorKind::Connection.into_error(), unwrap, "k").is_retryable());
        assert!(matches!(
            map_error(http(404), unwrap, "k"),
            WrapError::UnknownKek { version, .. } if version == VERSION
        ));
        assert!(matches!(map_error(http(400), unwrap, "k"), WrapError::Rejected));
        assert!(matches!(map_error(http(400), Operation::Wrap, "k"), WrapError::Backend(_)));
        assert!(matches!(map_error(http(403), Operation::Read, "k"), WrapError::Backend(_)));
    }
}
