//! The OpenID Connect relying party, NIA profile: authorization code flow
//! with `state` and `nonce` (and PKCE when the provider advertises it),
//! `client_secret_post`, attributes requested through the `claims` parameter,
//! an ID token that may arrive encrypted to the portal's key, verified against
//! the provider's JWKS (cached; an unknown `kid` refetches at most once a
//! minute), `iss`/`aud`/`exp`/`nbf`/`iat` checked with at most 60 s leeway.
//!
//! Production adapter: it speaks to NIA (or any provider with that profile) at
//! the configured discovery URL. Local mode uses the development provider in
//! `dev.rs` instead; tests run this code against a real `oidc-provider`.

use std::sync::Arc;
use std::time::Duration;

use portal_security::{Loa, SubjectId};
use portal_store::Clock;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::RwLock;

use crate::jose::{self, DecryptionKey, JoseError, JwkSet};

/// Leeway for `exp`, `nbf` and `iat`.
pub const LEEWAY: time::Duration = time::Duration::seconds(60);
/// An unknown `kid` refetches the JWKS at most this often.
const JWKS_REFETCH: time::Duration = time::Duration::seconds(60);
/// The discovery document is fetched again after this long.
pub const DISCOVERY_REFETCH: time::Duration = time::Duration::days(1);
/// NIA attributes the portal asks for.
pub const REQUESTED_CLAIMS: &[&str] = &[
    "PersonIdentifier",
    "CurrentGivenName",
    "CurrentFamilyName",
    "DateOfBirth",
    "CurrentAddress",
    "eMail",
    "phonenumber",
];

#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub discovery_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_url: String,
    pub post_logout_redirect_url: Option<String>,
    /// The provider's issuer; every discovery document must name exactly it.
    /// `None`: the issuer of the first discovery document is pinned, and a
    /// later one naming another is refused.
    pub issuer: Option<String>,
    /// The portal's key for encrypted ID tokens; when set, an unencrypted ID
    /// token is refused.
    pub decryption_key: Option<Arc<DecryptionKey>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider is unreachable")]
    Unreachable(#[source] reqwest::Error),
    #[error("the identity provider refused: {0}")]
    Refused(String),
    #[error("the ID token is invalid: {0}")]
    Token(#[from] JoseError),
    #[error("the ID token is invalid: {0}")]
    Claim(&'static str),
    #[error("the level of assurance '{}' is below substantial", .0.as_str())]
    LoaTooLow(Loa),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
}

impl Metadata {
    pub fn supports_pkce(&self) -> bool {
        self.code_challenge_methods_supported.iter().any(|m| m == "S256")
    }
}

/// What a verified ID token says about the citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLogin {
    pub subject: SubjectId,
    pub loa: Loa,
    /// When the provider authenticated the citizen (`auth_time`), if it said.
    pub auth_time: Option<OffsetDateTime>,
    pub claims: crate::profile::Profile,
}

#[derive(Debug)]
pub struct Provider {
    settings: OidcSettings,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// The discovery document and when it was fetched.
    metadata: RwLock<Option<(Metadata, OffsetDateTime)>>,
    jwks: RwLock<(JwkSet, Option<OffsetDateTime>)>,
}

impl Provider {
    pub fn new(settings: OidcSettings, clock: Arc<dyn Clock>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { settings, http, clock, metadata: RwLock::new(None), jwks: RwLock::new((JwkSet::default(), None)) }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// One HTTP call to the identity provider, in its own span: telemetry
    /// export makes it a dependency (`HTTP`, the provider's host, the status;
    /// see `portal_telemetry::conventions`). Neither the URL's query nor the
    /// body is recorded.
    async fn call(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, OidcError> {
        use tracing::Instrument as _;
        let host = url::Url::parse(&self.settings.discovery_url).ok().and_then(|url| url.host_str().map(str::to_owned));
        let span = tracing::info_span!(
            "nia.call",
            nia_operation = operation,
            otel.kind = "client",
            dependency.type = "HTTP",
            server.address = host.as_deref().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let result = request.send().instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                span.record("dependency.result", response.status().as_u16());
                if !response.status().is_success() {
                    span.record("otel.status_code", "ERROR");
                }
            }
            Err(_) => {
                span.record("dependency.result", "connection failed");
                span.record("otel.status_code", "ERROR");
            }
        }
        result.map_err(OidcError::Unreachable)
    }

    /// The discovery document, fetched again once a day; its `issuer` must
    /// be the configured one (or, with none configured, the first one seen).
    pub async fn metadata(&self) -> Result<Metadata, OidcError> {
        let pinned = {
            let cached = self.metadata.read().await;
            if let Some((metadata, at)) = cached.as_ref()
                && self.clock.now() - *at < DISCOVERY_REFETCH
            {
                return Ok(metadata.clone());
            }
            cached.as_ref().map(|(metadata, _)| metadata.issuer.clone())
        };
        let response = self.call("discovery", self.http.get(&self.settings.discovery_url)).await?;
        if !response.status().is_success() {
            return Err(OidcError::Refused(format!("discovery answered {}", response.status())));
        }
        let metadata: Metadata = response.json().await.map_err(OidcError::Unreachable)?;
        let expected = self.settings.issuer.clone().or(pinned);
        if expected.as_deref().is_some_and(|issuer| issuer != metadata.issuer) {
            tracing::error!("the discovery document names another issuer; logins are refused");
            return Err(OidcError::Refused("the discovery document names another issuer".into()));
        }
        *self.metadata.write().await = Some((metadata.clone(), self.clock.now()));
        Ok(metadata)
    }

    /// Where to send the citizen's browser.
    pub async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_challenge: Option<&str>,
        max_age: Option<u32>,
    ) -> Result<String, OidcError> {
        let metadata = self.metadata().await?;
        let claims: serde_json::Map<String, Value> =
            REQUESTED_CLAIMS.iter().map(|name| ((*name).to_owned(), json!({"essential": true}))).collect();
        let mut url = url::Url::parse(&metadata.authorization_endpoint)
            .map_err(|_| OidcError::Refused("the authorization endpoint is not a URL".into()))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("redirect_uri", &self.settings.redirect_url)
                .append_pair("scope", "openid")
                .append_pair("state", state)
                .append_pair("nonce", nonce)
                .append_pair("acr_values", Loa::SUBSTANTIAL_URI)
                .append_pair("claims", &json!({"id_token": claims}).to_string());
            if let Some(max_age) = max_age {
                query.append_pair("max_age", &max_age.to_string());
            }
            if let Some(challenge) = pkce_challenge {
                query.append_pair("code_challenge", challenge).append_pair("code_challenge_method", "S256");
            }
        }
        Ok(url.into())
    }

    /// Exchanges the code for the ID token (`client_secret_post`).
    pub async fn exchange(&self, code: &str, pkce_verifier: Option<&str>) -> Result<String, OidcError> {
        let metadata = self.metadata().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.settings.redirect_url.as_str()),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
        ];
        if let Some(verifier) = pkce_verifier {
            form.push(("code_verifier", verifier));
        }
        let response = self.call("token", self.http.post(&metadata.token_endpoint).form(&form)).await?;
        let status = response.status();
        let body: Value = response.json().await.map_err(OidcError::Unreachable)?;
        if !status.is_success() {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("unknown error");
            return Err(OidcError::Refused(format!("the token endpoint answered {status}: {error}")));
        }
        body.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(OidcError::Claim("no id_token in the token response"))
    }

    async fn key_set(&self, refresh: bool) -> Result<JwkSet, OidcError> {
        {
            let cached = self.jwks.read().await;
            let fresh_enough = cached.1.is_some_and(|at| self.clock.now() - at < JWKS_REFETCH);
            if cached.1.is_some() && (!refresh || fresh_enough) {
                return Ok(cached.0.clone());
            }
        }
        let metadata = self.metadata().await?;
        let response = self.call("jwks", self.http.get(&metadata.jwks_uri)).await?;
        if !response.status().is_success() {
            return Err(OidcError::Refused(format!("the key set answered {}", response.status())));
        }
        let keys: JwkSet = response.json().await.map_err(OidcError::Unreachable)?;
        *self.jwks.write().await = (keys.clone(), Some(self.clock.now()));
        Ok(keys)
    }

    /// Decrypts (if encrypted) and verifies an ID token, checks its claims
    /// against `nonce`, and reads the citizen from it.
    pub async fn verify(&self, id_token: &str, nonce: &str) -> Result<VerifiedLogin, OidcError> {
        self.verify_login(id_token, nonce, None).await
    }

    /// As [`verify`](Self::verify), for a login started with `max_age`: the
    /// token must then carry an `auth_time` at most that many seconds ago
    /// (OIDC Core §3.1.2.1), with the usual leeway.
    pub async fn verify_login(
        &self,
        id_token: &str,
        nonce: &str,
        max_age: Option<u32>,
    ) -> Result<VerifiedLogin, OidcError> {
        let jws = match (&self.settings.decryption_key, jose::is_encrypted(id_token)) {
            (Some(key), true) => String::from_utf8(key.decrypt(id_token)?).map_err(|_| JoseError::Malformed)?,
            (Some(_), false) => return Err(OidcError::Claim("the ID token must be encrypted to the portal")),
            (None, true) => return Err(OidcError::Claim("an encrypted ID token but no decryption key is configured")),
            (None, false) => id_token.to_owned(),
        };
        let header = jose::signing_header(&jws)?;
        let mut keys = self.key_set(false).await?;
        if keys.find(header.kid.as_deref()).is_none() {
            keys = self.key_set(true).await?;
        }
        let key = keys
            .find(header.kid.as_deref())
            .ok_or_else(|| JoseError::UnknownKey(header.kid.clone().unwrap_or_default()))?;
        let payload = jose::verify(&jws, key)?;
        let claims: Value = serde_json::from_slice(&payload).map_err(|_| JoseError::Malformed)?;
        self.check_claims(&claims, nonce).await?;
        let auth_time =
            claims.get("auth_time").and_then(Value::as_i64).and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
        if let Some(max_age) = max_age {
            let oldest = self.clock.now() - time::Duration::seconds(i64::from(max_age)) - LEEWAY;
            match auth_time {
                Some(at) if at >= oldest => {}
                Some(_) => return Err(OidcError::Claim("the authentication is older than max_age")),
                None => return Err(OidcError::Claim("no auth_time for a login with max_age")),
            }
        }

        let loa = claims
            .get("acr")
            .and_then(Value::as_str)
            .and_then(Loa::from_eidas_uri)
            .ok_or(OidcError::Claim("acr is not an eIDAS level-of-assurance URI"))?;
        if loa < Loa::Substantial {
            return Err(OidcError::LoaTooLow(loa));
        }
        // The per-service pseudonym; `sub` only if the provider issues no pseudonym.
        let raw_subject = claims
            .get("PersonIdentifier")
            .and_then(Value::as_str)
            .or_else(|| claims.get("sub").and_then(Value::as_str))
            .ok_or(OidcError::Claim("neither PersonIdentifier nor sub"))?;
        let subject =
            SubjectId::from_person_identifier(raw_subject).map_err(|_| OidcError::Claim("unusable subject"))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let profile = crate::profile::Profile {
            given_name: text("CurrentGivenName"),
            family_name: text("CurrentFamilyName"),
            date_of_birth: text("DateOfBirth"),
            address: text("CurrentAddress"),
            email: text("eMail"),
            phone: text("phonenumber"),
        };
        Ok(VerifiedLogin { subject, loa, auth_time, claims: profile })
    }

    async fn check_claims(&self, claims: &Value, nonce: &str) -> Result<(), OidcError> {
        let metadata = self.metadata().await?;
        let now = self.clock.now();
        let time = |name: &str| {
            claims.get(name).and_then(Value::as_i64).and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        };
        if claims.get("iss").and_then(Value::as_str) != Some(metadata.issuer.as_str()) {
            return Err(OidcError::Claim("wrong issuer"));
        }
        let client = self.settings.client_id.as_str();
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences.contains(&client) {
            return Err(OidcError::Claim("the token is for another audience"));
        }
        if audiences.len() > 1 && claims.get("azp").and_then(Value::as_str) != Some(client) {
            return Err(OidcError::Claim("several audiences and azp is not the portal"));
        }
        match time("exp") {
            Some(exp) if exp + LEEWAY > now => {}
            Some(_) => return Err(OidcError::Claim("the token has expired")),
            None => return Err(OidcError::Claim("no exp")),
        }
        if time("nbf").is_some_and(|nbf| nbf - LEEWAY > now) {
            return Err(OidcError::Claim("the token is not valid yet"));
        }
        match time("iat") {
            Some(iat) if iat - LEEWAY <= now => {}
            Some(_) => return Err(OidcError::Claim("the token was issued in the future")),
            None => return Err(OidcError::Claim("no iat")),
        }
        let sent = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
        if aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), nonce.as_bytes()).is_err()
            || nonce.is_empty()
        {
            return Err(OidcError::Claim("the nonce does not match this login"));
        }
        Ok(())
    }

    /// The provider's end-session URL for a logout, with `client_id` (NIA
    /// needs it; it gets no `id_token_hint`).
    pub async fn end_session_url(&self) -> Option<String> {
        let metadata = self.metadata().await.ok()?;
        let mut url = url::Url::parse(metadata.end_session_endpoint.as_deref()?).ok()?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("client_id", &self.settings.client_id);
            if let Some(after) = &self.settings.post_logout_redirect_url {
                query.append_pair("post_logout_redirect_uri", after);
            }
        }
        Some(url.into())
    }
}
