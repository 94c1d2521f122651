use std::error::Error as StdError;

use portal_store::StoreError;

/// Why a [`KeyWrapper`](crate::KeyWrapper) could not wrap or unwrap a data key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WrapError {
    /// The wrapper does not hold this key-encryption key or this version of it.
    #[error("no key-encryption key '{kek_id}' version '{version}'")]
    UnknownKek { kek_id: String, version: String },
    /// The wrapped bytes do not unwrap under the KEK version they name: they
    /// were altered, or wrapped by something else.
    #[error("the wrapped key does not unwrap under the key-encryption key it names")]
    Rejected,
    /// The key service could not be reached, failed transiently or throttled;
    /// retrying later can help.
    #[error("the key service is unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// Anything else (permissions, configuration, a local file that cannot be read).
    #[error("key wrapping failed")]
    Backend(#[source] Box<dyn StdError + Send + Sync>),
}

impl WrapError {
    /// Whether the same operation may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    pub(crate) fn backend(error: impl StdError + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }

    pub(crate) fn unavailable(error: impl StdError + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(error))
    }
}

/// Everything that can go wrong sealing or opening a citizen's data. Bad input
/// (truncated, altered or foreign ciphertexts) is an error, never a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The citizen's data key was destroyed ([`CitizenKeys::shred`](crate::CitizenKeys::shred)):
    /// this ciphertext can never be opened again.
    #[error("the citizen's data key was destroyed")]
    Shredded,
    /// The citizen was erased (the key tombstone exists): no data key is ever
    /// created for them again, so nothing new is sealed for them.
    #[error("the citizen was erased; nothing is kept for them again")]
    Erased,
    /// AES-GCM authentication failed: the ciphertext was altered, or it belongs
    /// to another owner, document or field, or to another key.
    #[error("the ciphertext failed authentication")]
    Tampered,
    /// No data key exists for the owner and data-key version the ciphertext names,
    /// and none was ever destroyed.
    #[error("no data key for this ciphertext")]
    UnknownKey,
    /// Not a ciphertext in a format this crate writes (bad magic, truncated, bad lengths).
    #[error("not a portal ciphertext: {0}")]
    Malformed(&'static str),
    /// A ciphertext format version this build does not read.
    #[error("ciphertext format version {0} is not supported")]
    UnsupportedFormat(u8),
    /// The owner cannot be used as a key partition.
    #[error("invalid owner: {0}")]
    InvalidOwner(&'static str),
    /// The wrapped data key unwrapped, but it is bound to another owner (or
    /// another data-key version): a record moved or swapped between citizens.
    #[error("the wrapped data key is not bound to this owner")]
    ForeignKey,
    /// The stored data-key record could not be read.
    #[error("the stored data-key record is corrupt")]
    CorruptKeyRecord(#[source] Box<dyn StdError + Send + Sync>),
    /// Concurrent writers kept changing the same key record; retrying can help.
    #[error("the key record kept changing under concurrent writers")]
    Contended,
    #[error("key storage failed")]
    Store(#[from] StoreError),
    #[error("key wrapping failed")]
    KeyWrapper(#[from] WrapError),
    /// A cryptographic primitive failed (the random number generator, AES).
    #[error("cryptographic primitive failed: {0}")]
    Internal(&'static str),
}

impl CryptoError {
    /// Whether the same operation may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::KeyWrapper(error) => error.is_retryable(),
            Self::Contended => true,
            _ => false,
        }
    }

    pub(crate) fn corrupt(error: impl StdError + Send + Sync + 'static) -> Self {
        Self::CorruptKeyRecord(Box::new(error))
    }
}

/// A key-service fault is retried (queue) or answered 503 (HTTP); a key that
/// cannot open what it should is a 500 that says nothing internal.
impl portal_host::Failure for CryptoError {
    fn is_retryable(&self) -> bool {
        CryptoError::is_retryable(self)
    }

    fn problem(&self) -> portal_host::Problem {
        if self.is_retryable() {
            portal_host::Problem::unavailable("the key service")
        } else if matches!(self, Self::Erased) {
            portal_host::Problem::new(http::StatusCode::GONE, "citizen-erased", "The citizen's data were erased")
                .with_detail("the data of this citizen were erased; nothing is kept for them again")
        } else {
            portal_host::Problem::internal()
        }
    }
}
