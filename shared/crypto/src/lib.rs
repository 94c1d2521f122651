//! Per-citizen envelope encryption and erasure by crypto-shredding.
//!
//! Every citizen (the *owner*, their subject id) has one random 256-bit data
//! key. Their protected fields are sealed with AES-256-GCM under it, each with
//! a fresh random 96-bit nonce. The data key is stored only wrapped by a
//! key-encryption key (KEK) that never leaves its [`KeyWrapper`]: Azure Key
//! Vault / Managed HSM in Azure ([`KeyVaultWrapper`]), a key file in local runs
//! ([`LocalKeyFile`]). [`CitizenKeys`] keeps the wrapped keys in the document
//! store and a short-lived cache of unwrapped ones; [`Sealer`] is what
//! capabilities call.
//!
//! ```text
//! field ──AES-256-GCM(data key, nonce, AAD)──▶ ciphertext      (in the capability's documents)
//! data key ──wrapKey(KEK version v)──▶ wrapped key              (keys/<owner>/data-key)
//! ```
//!
//! # Ciphertext format, version 1
//!
//! All integers big-endian; strings UTF-8, prefixed by their length.
//!
//! | bytes | field |
//! |---|---|
//! | 3 | magic `PCE` |
//! | 1 | format version, `0x01` |
//! | 2 + n | KEK id (1–1024 bytes), e.g. `local` or `https://<vault>/keys/<name>` |
//! | 2 + n | KEK version that wrapped the data key when this was sealed (1–256 bytes) |
//! | 4 | data-key version (1 for a citizen's first key, n+1 after a shred of n) |
//! | 12 | AES-GCM nonce, random |
//! | … | AES-256-GCM ciphertext, as long as the plaintext |
//! | 16 | AES-GCM tag |
//!
//! Everything up to and including the nonce is the *header*. The associated
//! data is the header bytes followed by owner, document id and field, each as
//! an 8-byte length and its bytes. So any altered bit, and any ciphertext moved
//! to another owner, document or field, fails authentication
//! ([`CryptoError::Tampered`]). The KEK named in the header is informational
//! (authenticated, not used to open): after a rotation the stored wrapped key
//! names the newer version, and opening uses the stored one. A new format gets
//! a new version byte; readers refuse versions they do not know.
//!
//! # Threat model
//!
//! - Protects against readers of the database, its exports, backups and logs without the KEK, and against records moved or swapped between citizens, documents or fields (a second guard against IDOR).
//! - Does not protect against code running as the portal's identity (it can unwrap any key) or a dump of the process memory (unwrapped keys are cached for up to 10 minutes); lengths and timing are visible.
//! - Trusts Key Vault / Managed HSM to keep the KEK and aws-lc for AES-GCM, AES key wrap and random numbers.
//!
//! # Erasure
//!
//! [`CitizenKeys::shred`] deletes the wrapped data key and leaves a tombstone
//! (no key material) so that "shredded" and "never had a key" can be told
//! apart. Every copy of the citizen's ciphertexts becomes unreadable at once,
//! with three caveats:
//! - the shredding instance evicts the key at once and never caches a key
//!   loaded while it shredded; other instances keep using their cached copy
//!   only until they next confirm it (every `tombstone_check`, 30 seconds:
//!   one point read of the key record, which is then gone);
//! - **Cosmos DB backups still hold the wrapped key** (continuous backup keeps
//!   7 or 30 days, periodic backup its configured retention); until the last
//!   backup holding it expires, restoring that backup with the KEK restores
//!   access. Erasure is complete only after that window, which must be stated
//!   in the erasure policy;
//! - the subject id stays as the partition key of the tombstone and the index
//!   entry (a pseudonym, no key material).
//!
//! # Rotation
//!
//! KEK rotation rewraps data keys; nothing is re-encrypted.
//! [`CitizenKeys::rewrap_all`] walks an index (collection `keys`, partitions
//! `index-00` … `index-63` by the first byte of SHA-256 of the owner) and
//! rewraps each key under the newest KEK version with an ETag-conditional
//! replace. Old KEK versions must stay enabled until every wrapped key, and
//! every backup holding one, has moved on. Data keys are versioned in the header;
//! rotating a data key (re-encrypting lazily on the next write) is left for later.

mod cache;
mod error;
mod format;
mod key;
mod keyring;
mod keyvault;
mod local;
mod sealer;
pub mod stream;

pub use error::{CryptoError, WrapError};
pub use key::{DataKey, KeyWrapper, WrappedKey};
pub use keyring::{
    CitizenKey, CitizenKeys, DATA_KEY_ID, INDEX_PREFIX, KEYS_COLLECTION, KeyringOptions, KeyringStats, RewrapReport,
    TOMBSTONE_ID,
};
pub use keyvault::KeyVaultWrapper;
pub use local::LocalKeyFile;
pub use sealer::{BLIND_INDEX_LABEL, BLIND_INDEX_SALT, Opener, SEALED_REFERENCE_PREFIX, Sealer};
