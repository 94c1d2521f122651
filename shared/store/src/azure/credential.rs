//! Which Entra ID credential the Azure adapters authenticate with.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_identity::{
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};
use base64::Engine as _;
use time::OffsetDateTime;

use crate::error::{StoreError, StoreResult};

/// How the storage clients (and Cosmos DB, unless an emulator key is set)
/// obtain Entra ID tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureCredential {
    /// The Function App's managed identity: system-assigned, or the
    /// user-assigned one with this client id.
    ManagedIdentity { client_id: Option<String> },
    /// A developer's own sign-in (Azure CLI, Azure Developer CLI).
    DeveloperTools,
    /// Unsigned tokens for Azurite's `--oauth basic` mode. Never accepted by Azure.
    EmulatorToken,
}

impl AzureCredential {
    /// Builds the credential. Nothing is fetched until a client asks for a token.
    pub fn build(&self) -> StoreResult<Arc<dyn TokenCredential>> {
        match self {
            Self::ManagedIdentity { client_id } => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                    ..Default::default()
                };
                let credential: Arc<dyn TokenCredential> =
                    ManagedIdentityCredential::new(Some(options)).map_err(StoreError::backend)?;
                Ok(credential)
            }
            Self::DeveloperTools => {
                let credential: Arc<dyn TokenCredential> =
                    DeveloperToolsCredential::new(None).map_err(StoreError::backend)?;
                Ok(credential)
            }
            Self::EmulatorToken => Ok(Arc::new(EmulatorTokenCredential)),
        }
    }
}

/// A [`TokenCredential`] for local emulators: an unsigned JWT whose `aud` is the
/// requested scope's resource (`https://storage.azure.com`) and whose `iss` looks
/// like Entra ID's. Azurite in `--oauth basic` mode checks those claims and the
/// lifetime, not the signature.
#[derive(Debug, Default, Clone, Copy)]
pub struct EmulatorTokenCredential;

impl EmulatorTokenCredential {
    /// A fixed, obviously fake tenant.
    const TENANT: &'static str = "00000000-0000-4000-8000-00000000e1e1";
    const LIFETIME: Duration = Duration::from_secs(3600);
    const SKEW: Duration = Duration::from_secs(300);

    fn token_for(scope: &str, now: OffsetDateTime) -> AccessToken {
        let audience = scope.strip_suffix("/.default").unwrap_or(scope);
        let now_secs = now.unix_timestamp();
        let claims = serde_json::json!({
            "aud": audience,
            "iss": format!("https://sts.windows.net/{}/", Self::TENANT),
            "iat": now_secs,
            "nbf": now_secs - Self::SKEW.as_secs() as i64,
            "exp": now_secs + Self::LIFETIME.as_secs() as i64,
            "oid": "00000000-0000-4000-8000-0000000000e0",
            "tid": Self::TENANT,
            "sub": "portal-emulator",
        });
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = engine.encode(claims.to_string());
        AccessToken::new(format!("{header}.{payload}."), now + Self::LIFETIME)
    }
}

#[async_trait::async_trait]
impl TokenCredential for EmulatorTokenCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let scope = scopes.first().copied().unwrap_or("https://storage.azure.com/.default");
        Ok(Self::token_for(scope, OffsetDateTime::now_utc()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_token_carries_the_scope_resource_as_audience() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("valid time");
        let token = EmulatorTokenCredential::token_for("https://storage.azure.com/.default", now);
        let parts: Vec<&str> = token.token.secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "");
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).expect("base64");
        let claims: serde_json::Value = serde_json::from_slice(&payload).expect("json");
        assert_eq!(claims["aud"], "https://storage.azure.com");
        assert!(claims["iss"].as_str().is_some_and(|iss| iss.starts_with("https://sts.windows.net/")));
        assert_eq!(claims["iat"], 1_700_000_000);
        assert!(claims["nbf"].as_i64() < claims["iat"].as_i64());
        assert!(claims["exp"].as_i64() > claims["iat"].as_i64());
        assert_eq!(token.expires_on, now + Duration::from_secs(3600));
    }
}
