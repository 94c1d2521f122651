use std::fmt;

use async_trait::async_trait;
use zeroize::Zeroize;

use crate::error::{CryptoError, WrapError};

/// A citizen's 256-bit AES-GCM data key. Zeroized when dropped; its `Debug`
/// shows nothing; equality is constant-time.
///
/// Its AES-GCM context (the expanded key schedule and the GHASH table) is made
/// on first use and kept with it: a page of 20 sealed items opens them with one
/// cached key, not 20 key setups (issue 18).
pub struct DataKey(Box<[u8; DataKey::LEN]>, std::sync::OnceLock<aws_lc_rs::aead::LessSafeKey>);

impl DataKey {
    pub const LEN: usize = 32;

    /// A fresh key from the operating system's CSPRNG (through aws-lc).
    pub fn generate() -> Result<Self, CryptoError> {
        let mut key = Self(Box::new([0; Self::LEN]), std::sync::OnceLock::new());
        aws_lc_rs::rand::fill(&mut key.0[..])
            .map_err(|_| CryptoError::Internal("the random number generator failed"))?;
        Ok(key)
    }

    /// The key in `bytes`, if there are exactly 32 of them. For [`KeyWrapper`]
    /// adapters that unwrap into a buffer (which they should zeroize afterwards).
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::LEN {
            return None;
        }
        let mut key = Self(Box::new([0; Self::LEN]), std::sync::OnceLock::new());
        key.0.copy_from_slice(bytes);
        Some(key)
    }

    /// The key material, for wrapping and for AES-GCM. Never log or store it.
    pub fn expose_secret(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// The AES-256-GCM context of this key, made once.
    pub(crate) fn aead(&self) -> Result<&aws_lc_rs::aead::LessSafeKey, CryptoError> {
        if let Some(aead) = self.1.get() {
            return Ok(aead);
        }
        let unbound = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, self.expose_secret())
            .map_err(|_| CryptoError::Internal("AES-256-GCM rejected the key"))?;
        Ok(self.1.get_or_init(|| aws_lc_rs::aead::LessSafeKey::new(unbound)))
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

impl PartialEq for DataKey {
    fn eq(&self, other: &Self) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.0[..], &other.0[..]).is_ok()
    }
}

impl Eq for DataKey {}

/// A data key wrapped by one version of a key-encryption key.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Which KEK (`local`, or a Key Vault key's URL without its version).
    pub kek_id: String,
    /// The exact KEK version that wrapped the key; unwrapping uses this one.
    pub kek_version: String,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("kek_id", &self.kek_id)
            .field("kek_version", &self.kek_version)
            .field("bytes", &format_args!("{} bytes", self.bytes.len()))
            .finish()
    }
}

/// The port to whatever holds the key-encryption key: a local key file, or
/// Azure Key Vault / Managed HSM. The KEK itself never leaves the adapter.
#[async_trait]
pub trait KeyWrapper: Send + Sync + fmt::Debug {
    /// The KEK this wrapper wraps with. Stored beside each wrapped key and in
    /// every ciphertext header.
    fn kek_id(&self) -> &str;

    /// The version new keys are wrapped under.
    async fn current_version(&self) -> Result<String, WrapError>;

    /// Wraps `key` under the current KEK version and says which version that was.
    async fn wrap(&self, key: &DataKey) -> Result<WrappedKey, WrapError>;

    /// Unwraps with exactly the KEK and version `wrapped` names, never "the
    /// latest": after a rotation that would make data unreadable.
    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, WrapError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_keys_are_random_redacted_and_exactly_32_bytes() {
        let a = DataKey::generate().expect("rng");
        let b = DataKey::generate().expect("rng");
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "DataKey([redacted])");
        assert!(DataKey::from_slice(&[0; 31]).is_none());
        assert!(DataKey::from_slice(&[0; 33]).is_none());
        let copy = DataKey::from_slice(a.expose_secret()).expect("32 bytes");
        assert_eq!(copy, a);
    }
}
