//! The citizen's profile from the identity provider's claims: name, date of
//! birth, address, e-mail, phone. Stored sealed with the citizen's own key
//! (collection `profiles`, partition = subject, id `profile`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portal_crypto::{CryptoError, Sealer};
use portal_security::SubjectId;
use portal_store::{DocumentStore, NewDocument, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const COLLECTION: &str = "profiles";
const ID: &str = "profile";
const FIELD: &str = "claims";

/// What the identity provider says of the citizen; a field it did not send is `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CitizenProfile)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub address: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored profile is unreadable")]
    Corrupt,
}

impl ProfileError {
    pub fn is_shredded(&self) -> bool {
        matches!(self, Self::Crypto(CryptoError::Shredded))
    }
}

/// Writes the profile (replacing the previous one).
pub async fn save(
    documents: &dyn DocumentStore,
    sealer: &Sealer,
    owner: &SubjectId,
    profile: &Profile,
) -> Result<(), ProfileError> {
    let plaintext = serde_json::to_vec(profile).map_err(|_| ProfileError::Corrupt)?;
    let sealed = sealer.encrypt(owner.as_str(), ID, FIELD, &plaintext).await?;
    let body = json!({"type": "profile", "schemaVersion": 1, "sealed": STANDARD.encode(sealed)});
    documents.upsert(COLLECTION, NewDocument::new(owner.as_str(), ID, body), None).await?;
    Ok(())
}

/// The profile, if one was stored.
pub async fn load(
    documents: &dyn DocumentStore,
    sealer: &Sealer,
    owner: &SubjectId,
) -> Result<Option<Profile>, ProfileError> {
    let Some(doc) = documents.get(COLLECTION, owner.as_str(), ID).await? else { return Ok(None) };
    let sealed = doc.body.get("sealed").and_then(|v| v.as_str()).ok_or(ProfileError::Corrupt)?;
    let sealed = STANDARD.decode(sealed).map_err(|_| ProfileError::Corrupt)?;
    let plaintext = sealer.decrypt(owner.as_str(), ID, FIELD, &sealed).await?;
    serde_json::from_slice(&plaintext).map(Some).map_err(|_| ProfileError::Corrupt)
}

/// Removes the stored profile (its ciphertext is unreadable after shredding
/// anyway; this removes the record too).
pub async fn delete(documents: &dyn DocumentStore, owner: &SubjectId) -> Result<(), StoreError> {
    match documents.delete(COLLECTION, owner.as_str(), ID, None).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(error) => Err(error),
    }
}
