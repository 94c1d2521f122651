use std::sync::Arc;

use crate::error::CryptoError;
use crate::format::{self, Binding, Header, TAG_LEN};
use crate::keyring::CitizenKeys;

/// What capabilities use to protect a citizen's fields: `encrypt` and `decrypt`
/// bound to owner, document and field. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sealer {
    keys: Arc<CitizenKeys>,
}

impl Sealer {
    pub fn new(keys: Arc<CitizenKeys>) -> Self {
        Self { keys }
    }

    /// The keyring, for erasure ([`CitizenKeys::shred`]) and rotation ([`CitizenKeys::rewrap_all`]).
    pub fn keys(&self) -> &Arc<CitizenKeys> {
        &self.keys
    }

    /// Seals `plaintext` under the owner's data key (created on first use),
    /// bound to `owner`, `document_id` and `field`. Each call uses a fresh
    /// random nonce, so equal plaintexts give different ciphertexts.
    pub async fn encrypt(
        &self,
        owner: &str,
        document_id: &str,
        field: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let key = self.keys.data_key(owner).await?;
        let header = Header::new(key.kek_id(), key.kek_version(), key.version())?;
        format::seal(key.data_key(), &header, &Binding { owner, document_id, field }, plaintext)
    }

    /// Opens a ciphertext made by [`encrypt`](Self::encrypt) with the same
    /// owner, document id and field. [`CryptoError::Shredded`] once the
    /// owner's key was destroyed; [`CryptoError::Tampered`] if anything was
    /// altered or the ciphertext was moved to another owner, document or field.
    pub async fn decrypt(
        &self,
        owner: &str,
        document_id: &str,
        field: &str,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let (header, header_len) = Header::parse(ciphertext)?;
        // Garbage never costs a key lookup.
        if ciphertext.len() < header_len + TAG_LEN {
            return Err(CryptoError::Malformed("truncated"));
        }
        let key = self.keys.data_key_version(owner, header.data_key_version).await?;
        format::open(key.data_key(), ciphertext, &header, header_len, &Binding { owner, document_id, field })
    }
}
