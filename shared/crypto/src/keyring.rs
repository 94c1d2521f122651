//! [`CitizenKeys`]: each citizen's wrapped data key in the document store, a
//! cache of unwrapped keys, crypto-shredding and KEK rotation.

use std::error::Error as StdError;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use portal_store::{BatchOp, Clock, Document, DocumentStore, NewDocument, Query, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cache::KeyCache;
use crate::error::CryptoError;
use crate::key::{DataKey, KeyWrapper, WrappedKey};

/// The collection that holds wrapped data keys, tombstones and the index.
pub const KEYS_COLLECTION: &str = "keys";
/// The id of a citizen's wrapped data key, in the partition named by the owner.
pub const DATA_KEY_ID: &str = "data-key";
/// The id of the tombstone left by [`CitizenKeys::shred`] (no key material).
pub const TOMBSTONE_ID: &str = "data-key-shredded";
/// Index partitions are `index-00` … `index-63`; owners may not start with this.
pub const INDEX_PREFIX: &str = "index-";
const INDEX_BUCKETS: u8 = 64;
const INDEX_PAGE_SIZE: u32 = 200;
/// How often a read-modify-write is retried when another writer got there first.
const MAX_ATTEMPTS: usize = 5;
/// The wrap format that binds a wrapped key to its owner (see [`binding`]).
/// Records without a format (written before) are format 1: they still open,
/// and the next `rewrap_all` pass rewrites them as format 2.
const BOUND_FORMAT: u32 = 2;
/// The label of the key that computes a record's binding.
const BINDING_LABEL: &[u8] = b"portal/data-key-binding/v2";

/// Cache settings of a [`CitizenKeys`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeyringOptions {
    /// How many unwrapped keys are kept (10,000 by default).
    pub cache_capacity: usize,
    /// How long an unwrapped key is kept after it was loaded (10 minutes by
    /// default). Also the longest a shredded key stays usable on *other*
    /// instances, whose caches `shred` cannot reach, were it not for
    /// `tombstone_check`.
    pub cache_ttl: Duration,
    /// How long a cached key is used before the store is asked again whether
    /// it still exists (30 seconds by default): one point read of the wrapped
    /// key's record, no unwrap. This bounds how long a key shredded by
    /// *another* instance stays usable here; the shredding instance evicts at once.
    pub tombstone_check: Duration,
}

impl Default for KeyringOptions {
    fn default() -> Self {
        Self { cache_capacity: 10_000, cache_ttl: Duration::from_secs(600), tombstone_check: Duration::from_secs(30) }
    }
}

impl KeyringOptions {
    #[must_use]
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    #[must_use]
    pub fn with_tombstone_check(mut self, every: Duration) -> Self {
        self.tombstone_check = every;
        self
    }
}

/// A citizen's current data key, its version and the KEK that wraps it.
/// Cheap to clone; the key bytes are shared and zeroized with the last clone.
#[derive(Clone)]
pub struct CitizenKey {
    key: Arc<DataKey>,
    version: u32,
    kek_id: Arc<str>,
    kek_version: Arc<str>,
}

impl CitizenKey {
    pub fn data_key(&self) -> &DataKey {
        &self.key
    }

    /// The data-key version (1 for a citizen's first key, n+1 after a shred of n).
    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn kek_id(&self) -> &str {
        &self.kek_id
    }

    pub fn kek_version(&self) -> &str {
        &self.kek_version
    }
}

impl fmt::Debug for CitizenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CitizenKey")
            .field("version", &self.version)
            .field("kek_id", &self.kek_id)
            .field("kek_version", &self.kek_version)
            .finish_non_exhaustive()
    }
}

/// Equal when the key material and the data-key version are equal.
impl PartialEq for CitizenKey {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && self.key == other.key
    }
}

/// What the keyring has done since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyringStats {
    /// Calls to [`KeyWrapper::wrap`] (new keys and rewraps).
    pub wraps: u64,
    /// Calls to [`KeyWrapper::unwrap`]: what Key Vault is billed and throttled on.
    pub unwraps: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Point reads that confirmed a cached key was not shredded meanwhile.
    pub tombstone_checks: u64,
    /// Keys in the cache now.
    pub cached_keys: usize,
}

/// The outcome of one [`CitizenKeys::rewrap_all`] pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    /// Keys now wrapped under the newest KEK version.
    pub rewrapped: u64,
    /// Keys that already were.
    pub already_current: u64,
    /// Index entries without a key: shredded citizens, or a crash between
    /// writing the index entry and the key.
    pub missing: u64,
    /// Keys that could not be rewrapped for a reason retrying will not fix
    /// (logged); the pass went on with the others.
    pub failed: u64,
}

/// Each citizen's data key: stored wrapped in collection [`KEYS_COLLECTION`],
/// partition = the citizen's subject id, id [`DATA_KEY_ID`]; unwrapped on
/// demand through the [`KeyWrapper`] and cached (bounded, with a TTL on the
/// injected [`Clock`]) so the key service sees a few operations a second, not
/// one per request.
pub struct CitizenKeys {
    store: Arc<dyn DocumentStore>,
    wrapper: Arc<dyn KeyWrapper>,
    clock: Arc<dyn Clock>,
    cache: Mutex<KeyCache<CitizenKey>>,
    tombstone_check: Duration,
    /// Counts this instance's shreds. A key loaded while one happened is not
    /// cached: it may be the very key just shredded, and caching it after the
    /// shred's eviction would keep it usable here for the whole cache TTL.
    shreds: AtomicU64,
    wraps: AtomicU64,
    unwraps: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    tombstone_checks: AtomicU64,
}

impl fmt::Debug for CitizenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CitizenKeys")
            .field("store", &self.store)
            .field("wrapper", &self.wrapper)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The stored form of a wrapped data key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyRecord {
    /// 2: `binding` ties the key to its owner and version; absent (1): written
    /// before bindings existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<u32>,
    /// Standard base64 of [`binding`] over the owner and data-key version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    binding: Option<String>,
    kek_id: String,
    kek_version: String,
    /// The wrapped key, standard base64.
    wrapped: String,
    data_key_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    rewrapped: Option<OffsetDateTime>,
}

impl KeyRecord {
    fn read(doc: &Document) -> Result<Self, CryptoError> {
        serde_json::from_value(doc.body.clone()).map_err(CryptoError::corrupt)
    }

    fn wrapped_key(&self) -> Result<WrappedKey, CryptoError> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(&self.wrapped).map_err(CryptoError::corrupt)?;
        Ok(WrappedKey { kek_id: self.kek_id.clone(), kek_version: self.kek_version.clone(), bytes })
    }

    fn document(&self, owner: &str) -> Result<NewDocument, CryptoError> {
        let body = serde_json::to_value(self).map_err(CryptoError::corrupt)?;
        Ok(NewDocument::new(owner, DATA_KEY_ID, body))
    }
}

/// The stored form of a shredded key: which versions are gone, and when. No key material.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tombstone {
    shredded_through: u32,
    #[serde(with = "time::serde::rfc3339")]
    shredded: OffsetDateTime,
}

impl Tombstone {
    fn read(doc: &Document) -> Result<Self, CryptoError> {
        serde_json::from_value(doc.body.clone()).map_err(CryptoError::corrupt)
    }
}

#[derive(Debug, Serialize)]
struct IndexEntry {
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RewrapOutcome {
    Rewrapped,
    AlreadyCurrent,
    Missing,
}

impl CitizenKeys {
    pub fn new(store: Arc<dyn DocumentStore>, wrapper: Arc<dyn KeyWrapper>, clock: Arc<dyn Clock>) -> Self {
        Self::with_options(store, wrapper, clock, KeyringOptions::default())
    }

    pub fn with_options(
        store: Arc<dyn DocumentStore>,
        wrapper: Arc<dyn KeyWrapper>,
        clock: Arc<dyn Clock>,
        options: KeyringOptions,
    ) -> Self {
        Self {
            store,
            wrapper,
            clock,
            cache: Mutex::new(KeyCache::new(options.cache_capacity, options.cache_ttl)),
            tombstone_check: options.tombstone_check,
            shreds: AtomicU64::new(0),
            wraps: AtomicU64::new(0),
            unwraps: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            tombstone_checks: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> KeyringStats {
        KeyringStats {
            wraps: self.wraps.load(Ordering::Relaxed),
            unwraps: self.unwraps.load(Ordering::Relaxed),
            cache_hits: self.cache_hits.load(Ordering::Relaxed),
            cache_misses: self.cache_misses.load(Ordering::Relaxed),
            tombstone_checks: self.tombstone_checks.load(Ordering::Relaxed),
            cached_keys: self.lock_cache().len(),
        }
    }

    /// The owner's current data key, created on first use. The create is
    /// create-only: when two first requests race, the loser reads the winner's
    /// key, so both agree on one key.
    pub async fn data_key(&self, owner: &str) -> Result<CitizenKey, CryptoError> {
        check_owner(owner)?;
        if let Some(key) = self.cached(owner, None).await? {
            return Ok(key);
        }
        let shreds_before = self.shreds.load(Ordering::SeqCst);
        for _ in 0..MAX_ATTEMPTS {
            if let Some(doc) = self.store.get(KEYS_COLLECTION, owner, DATA_KEY_ID).await? {
                let record = KeyRecord::read(&doc)?;
                let key = self.unwrap_record(owner, &record).await?;
                self.remember(owner, &key, shreds_before);
                return Ok(key);
            }
            match self.create_key(owner).await {
                Ok(key) => {
                    self.remember(owner, &key, shreds_before);
                    return Ok(key);
                }
                Err(CryptoError::Store(StoreError::Conflict)) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(CryptoError::Contended)
    }

    /// The owner's data key of `version`, for opening a ciphertext. Never creates one.
    pub(crate) async fn data_key_version(&self, owner: &str, version: u32) -> Result<CitizenKey, CryptoError> {
        check_owner(owner)?;
        if let Some(key) = self.cached(owner, Some(version)).await? {
            return Ok(key);
        }
        let shreds_before = self.shreds.load(Ordering::SeqCst);
        if let Some(doc) = self.store.get(KEYS_COLLECTION, owner, DATA_KEY_ID).await? {
            let record = KeyRecord::read(&doc)?;
            if record.data_key_version == version {
                let key = self.unwrap_record(owner, &record).await?;
                self.remember(owner, &key, shreds_before);
                return Ok(key);
            }
        }
        match self.store.get(KEYS_COLLECTION, owner, TOMBSTONE_ID).await? {
            Some(doc) if version <= Tombstone::read(&doc)?.shredded_through => Err(CryptoError::Shredded),
            _ => Err(CryptoError::UnknownKey),
        }
    }

    /// Whether `owner` was erased (their key tombstone exists). The one check
    /// every writer for a subject makes before it writes.
    pub async fn is_erased(&self, owner: &str) -> Result<bool, CryptoError> {
        check_owner(owner)?;
        Ok(self.store.get(KEYS_COLLECTION, owner, TOMBSTONE_ID).await?.is_some())
    }

    /// For queue consumers: `Ok` for a live subject; for an erased one a
    /// permanent failure (the runtime acknowledges the message and records it
    /// in the failure sink), logged; a store fault is retryable.
    pub async fn refuse_erased(&self, owner: &str) -> Result<(), portal_host::InvocationError> {
        match self.is_erased(owner).await {
            Ok(false) => Ok(()),
            Ok(true) => {
                tracing::warn!("an event for an erased citizen was dropped");
                Err(portal_host::InvocationError::permanent(CryptoError::Erased))
            }
            Err(error) if error.is_retryable() => Err(portal_host::InvocationError::retryable(error)),
            Err(error) => Err(portal_host::InvocationError::permanent(error)),
        }
    }

    /// For erasure consumers: `Ok` only when `owner`'s key tombstone exists,
    /// so an `account.erased` event for a live citizen (forged, or sent by
    /// mistake) deletes nothing: it fails permanently, which the runtime
    /// acknowledges and records in the failure sink.
    pub async fn require_erased(&self, owner: &str) -> Result<(), portal_host::InvocationError> {
        match self.is_erased(owner).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::error!("an erasure event for a citizen who was not erased was refused");
                Err(portal_host::InvocationError::permanent("erasure event without a key tombstone: refused"))
            }
            Err(error) if error.is_retryable() => Err(portal_host::InvocationError::retryable(error)),
            Err(error) => Err(portal_host::InvocationError::permanent(error)),
        }
    }

    /// Erasure by crypto-shredding: deletes the owner's wrapped data key and
    /// records a tombstone (in one transactional batch), then evicts the key
    /// from this instance's cache. Every ciphertext sealed under it fails with
    /// [`CryptoError::Shredded`] from then on, and a later `encrypt` for the same
    /// owner fails with [`CryptoError::Erased`]: erasure is final. Idempotent.
    ///
    /// Other instances may still hold the key in their caches for up to the
    /// cache TTL, and backups of the store hold the wrapped key until they
    /// expire; see the crate docs.
    #[tracing::instrument(skip_all)]
    pub async fn shred(&self, owner: &str) -> Result<(), CryptoError> {
        check_owner(owner)?;
        self.shreds.fetch_add(1, Ordering::SeqCst);
        self.evict(owner);
        for _ in 0..MAX_ATTEMPTS {
            let key_doc = self.store.get(KEYS_COLLECTION, owner, DATA_KEY_ID).await?;
            let tomb_doc = self.store.get(KEYS_COLLECTION, owner, TOMBSTONE_ID).await?;
            let shredded_before = match &tomb_doc {
                Some(doc) => Tombstone::read(doc)?.shredded_through,
                None => 0,
            };
            let Some(key_doc) = key_doc else {
                if tomb_doc.is_some() {
                    return Ok(());
                }
                // Nothing to destroy; record the erasure anyway.
                let tombstone = self.tombstone(owner, 0)?;
                match self.store.create(KEYS_COLLECTION, tombstone).await {
                    Ok(_) | Err(StoreError::Conflict) => return Ok(()),
                    Err(error) => return Err(error.into()),
                }
            };
            // Read leniently: a corrupt record must still be destroyable.
            let key_version = key_doc.body.get("dataKeyVersion").and_then(serde_json::Value::as_u64);
            let key_version = key_version.and_then(|v| u32::try_from(v).ok()).unwrap_or(shredded_before + 1);
            let tombstone = self.tombstone(owner, shredded_before.max(key_version))?;
            let write_tombstone = match tomb_doc {
                Some(doc) => BatchOp::Replace { doc: tombstone, if_match: doc.etag },
                None => BatchOp::Create(tombstone),
            };
            let delete_key = BatchOp::Delete { id: DATA_KEY_ID.into(), if_match: Some(key_doc.etag) };
            match self.store.batch(KEYS_COLLECTION, owner, vec![write_tombstone, delete_key]).await {
                Ok(_) => {
                    self.shreds.fetch_add(1, Ordering::SeqCst);
                    self.evict(owner);
                    tracing::info!(data_key_version = key_version, "shredded a citizen's data key");
                    return Ok(());
                }
                Err(StoreError::PreconditionFailed | StoreError::Conflict | StoreError::NotFound) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(CryptoError::Contended)
    }

    /// KEK rotation: rewraps every data key not yet wrapped under the KEK's
    /// current version, while the portal keeps serving. Walks the index
    /// partitions (the store has no cross-partition scan); each key is
    /// replaced only if its ETag still matches, so a concurrent shred or rewrap
    /// is never overwritten. Safe to rerun after a failure or crash: keys
    /// already rewrapped count as `already_current`. No data is re-encrypted.
    ///
    /// Errors that a retry may fix (store or key service unavailable,
    /// throttling) end the pass with that error; the timer's next run continues.
    #[tracing::instrument(skip_all)]
    pub async fn rewrap_all(&self) -> Result<RewrapReport, CryptoError> {
        let current = self.wrapper.current_version().await?;
        let mut report = RewrapReport::default();
        for bucket in 0..INDEX_BUCKETS {
            let partition = index_partition(bucket);
            let mut continuation = None;
            loop {
                let query = Query::default().page_size(INDEX_PAGE_SIZE).after(continuation);
                let page = self.store.query(KEYS_COLLECTION, &partition, query).await?;
                for entry in &page.items {
                    match self.rewrap_one(&entry.id, &current).await {
                        Ok(RewrapOutcome::Rewrapped) => report.rewrapped += 1,
                        Ok(RewrapOutcome::AlreadyCurrent) => report.already_current += 1,
                        Ok(RewrapOutcome::Missing) => report.missing += 1,
                        Err(error) if error.is_retryable() => return Err(error),
                        Err(error) => {
                            report.failed += 1;
                            tracing::error!(bucket, error = %chain(&error), "could not rewrap a data key");
                        }
                    }
                }
                continuation = page.continuation;
                if continuation.is_none() {
                    break;
                }
            }
        }
        tracing::info!(
            kek_version = %current,
            rewrapped = report.rewrapped,
            already_current = report.already_current,
            missing = report.missing,
            failed = report.failed,
            "rewrap pass finished"
        );
        Ok(report)
    }

    async fn rewrap_one(&self, owner: &str, current: &str) -> Result<RewrapOutcome, CryptoError> {
        for _ in 0..MAX_ATTEMPTS {
            let Some(doc) = self.store.get(KEYS_COLLECTION, owner, DATA_KEY_ID).await? else {
                return Ok(RewrapOutcome::Missing);
            };
            let record = KeyRecord::read(&doc)?;
            if record.kek_id == self.wrapper.kek_id()
                && record.kek_version == current
                && record.format == Some(BOUND_FORMAT)
            {
                return Ok(RewrapOutcome::AlreadyCurrent);
            }
            // Also rewrites format-1 records (no binding) as format 2.
            let key = self.unwrap_record(owner, &record).await?;
            let wrapped = self.wrap(key.data_key()).await?;
            let rewrapped = KeyRecord {
                format: Some(BOUND_FORMAT),
                binding: Some(binding(key.data_key(), owner, record.data_key_version)?),
                kek_id: wrapped.kek_id,
                kek_version: wrapped.kek_version,
                wrapped: base64::engine::general_purpose::STANDARD.encode(&wrapped.bytes),
                data_key_version: record.data_key_version,
                created: record.created,
                rewrapped: Some(self.clock.now()),
            };
            match self.store.replace(KEYS_COLLECTION, rewrapped.document(owner)?, &doc.etag).await {
                Ok(_) => return Ok(RewrapOutcome::Rewrapped),
                Err(StoreError::PreconditionFailed | StoreError::NotFound) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(CryptoError::Contended)
    }

    /// A new key for `owner`: the index entry first (so a crash in between
    /// leaves an entry rewrap skips, never a key rewrap cannot find), then the
    /// key, create-only. [`StoreError::Conflict`] when another request won.
    async fn create_key(&self, owner: &str) -> Result<CitizenKey, CryptoError> {
        // Erasure is final: after the tombstone no key is created for the
        // owner again, so nothing new is ever sealed for an erased citizen.
        if self.store.get(KEYS_COLLECTION, owner, TOMBSTONE_ID).await?.is_some() {
            return Err(CryptoError::Erased);
        }
        let version = 1;
        let key = DataKey::generate()?;
        let wrapped = self.wrap(&key).await?;
        let now = self.clock.now();
        let entry = serde_json::to_value(IndexEntry { created: now }).map_err(CryptoError::corrupt)?;
        match self
            .store
            .create(KEYS_COLLECTION, NewDocument::new(index_partition(bucket_of(owner)), owner, entry))
            .await
        {
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(error) => return Err(error.into()),
        }
        let record = KeyRecord {
            format: Some(BOUND_FORMAT),
            binding: Some(binding(&key, owner, version)?),
            kek_id: wrapped.kek_id,
            kek_version: wrapped.kek_version,
            wrapped: base64::engine::general_purpose::STANDARD.encode(&wrapped.bytes),
            data_key_version: version,
            created: now,
            rewrapped: None,
        };
        self.store.create(KEYS_COLLECTION, record.document(owner)?).await?;
        Ok(CitizenKey {
            key: Arc::new(key),
            version,
            kek_id: record.kek_id.into(),
            kek_version: record.kek_version.into(),
        })
    }

    /// Unwraps `owner`'s record; a format-2 record must carry the binding of
    /// this owner and version, so a record moved from another citizen fails.
    async fn unwrap_record(&self, owner: &str, record: &KeyRecord) -> Result<CitizenKey, CryptoError> {
        let wrapped = record.wrapped_key()?;
        self.unwraps.fetch_add(1, Ordering::Relaxed);
        let key = self.wrapper.unwrap(&wrapped).await?;
        match record.format {
            None | Some(1) => {}
            Some(BOUND_FORMAT) => {
                let stored = record.binding.as_deref().ok_or(CryptoError::ForeignKey)?;
                let expected = binding(&key, owner, record.data_key_version)?;
                if aws_lc_rs::constant_time::verify_slices_are_equal(stored.as_bytes(), expected.as_bytes()).is_err() {
                    tracing::error!("a wrapped data key is bound to another owner or version");
                    return Err(CryptoError::ForeignKey);
                }
            }
            Some(_) => return Err(CryptoError::corrupt(std::io::Error::other("unknown wrap format"))),
        }
        Ok(CitizenKey {
            key: Arc::new(key),
            version: record.data_key_version,
            kek_id: record.kek_id.as_str().into(),
            kek_version: record.kek_version.as_str().into(),
        })
    }

    async fn wrap(&self, key: &DataKey) -> Result<WrappedKey, CryptoError> {
        self.wraps.fetch_add(1, Ordering::Relaxed);
        Ok(self.wrapper.wrap(key).await?)
    }

    fn tombstone(&self, owner: &str, shredded_through: u32) -> Result<NewDocument, CryptoError> {
        let body = serde_json::to_value(Tombstone { shredded_through, shredded: self.clock.now() })
            .map_err(CryptoError::corrupt)?;
        Ok(NewDocument::new(owner, TOMBSTONE_ID, body))
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, KeyCache<CitizenKey>> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached key of `owner` (of `version`, if given). A key the store
    /// has not confirmed for `tombstone_check` is confirmed first: if its
    /// record is gone or holds another version (another instance shredded
    /// it), it is evicted and the caller loads from the store, which refuses.
    ///
    /// One caller checks: it marks the key confirmed before it reads, so the
    /// requests that arrive meanwhile use the key as they did a moment before
    /// the check was due. (Each used to read for itself: a page of 20 sealed
    /// records under 64 connections made some 1,300 reads at once every 30
    /// seconds, and that second's p99 tripled.) A read that fails puts the
    /// mark back, so the next caller checks.
    async fn cached(&self, owner: &str, version: Option<u32>) -> Result<Option<CitizenKey>, CryptoError> {
        let now = self.clock.now();
        let (key, due) = {
            let mut cache = self.lock_cache();
            let Some((key, checked)) =
                cache.get(owner, now).filter(|(key, _)| version.is_none_or(|v| key.version == v))
            else {
                drop(cache);
                self.cache_misses.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            };
            let due = now >= checked + self.tombstone_check;
            if due {
                cache.confirm(owner, now);
            }
            (key, due.then_some(checked))
        };
        let Some(checked_before) = due else {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(key));
        };
        self.tombstone_checks.fetch_add(1, Ordering::Relaxed);
        let record = match self.store.get(KEYS_COLLECTION, owner, DATA_KEY_ID).await {
            Ok(record) => record,
            Err(error) => {
                self.lock_cache().unconfirm(owner, now, checked_before);
                return Err(error.into());
            }
        };
        let stored_version =
            record.as_ref().and_then(|doc| doc.body.get("dataKeyVersion")).and_then(serde_json::Value::as_u64);
        if stored_version == Some(u64::from(key.version)) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(key));
        }
        tracing::info!("a cached data key was shredded elsewhere; evicted");
        self.evict(owner);
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
        Ok(None)
    }

    /// Caches `key`, unless a shred happened on this instance since
    /// `shreds_before` was read (before the key was loaded). Checked under the
    /// cache's lock, which the shred's eviction also takes, so a key loaded
    /// before a shred is never cached after it.
    fn remember(&self, owner: &str, key: &CitizenKey, shreds_before: u64) {
        let now = self.clock.now();
        let mut cache = self.lock_cache();
        if self.shreds.load(Ordering::SeqCst) == shreds_before {
            cache.insert(owner, key.clone(), now);
        }
    }

    fn evict(&self, owner: &str) {
        self.lock_cache().remove(owner);
    }
}

/// Owners name partitions and index entries: 1–255 bytes, none of `/ \ ? #`
/// or control characters (Cosmos DB's rules), and not an index partition.
fn check_owner(owner: &str) -> Result<(), CryptoError> {
    if owner.is_empty() || owner.len() > 255 {
        return Err(CryptoError::InvalidOwner("must be 1-255 bytes"));
    }
    if owner.contains(['/', '\\', '?', '#']) || owner.chars().any(char::is_control) {
        return Err(CryptoError::InvalidOwner("must not contain '/', '\\', '?', '#' or control characters"));
    }
    if owner.starts_with(INDEX_PREFIX) {
        return Err(CryptoError::InvalidOwner("must not start with 'index-'"));
    }
    Ok(())
}

/// What binds a wrapped data key to its owner: HMAC-SHA-256 under a key
/// derived from the data key itself (label [`BINDING_LABEL`]) over the owner
/// and the data-key version. The KEK wrappers (Key Vault RSA-OAEP-256, AES key
/// wrap) take no associated data, so the owner is bound here instead: only
/// the holder of the unwrapped key can compute it, and a record swapped
/// between two citizens fails on both.
fn binding(key: &DataKey, owner: &str, version: u32) -> Result<String, CryptoError> {
    use aws_lc_rs::hmac;
    let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key.expose_secret()), BINDING_LABEL);
    let mut message = Vec::with_capacity(owner.len() + 8);
    message.extend_from_slice(
        &u32::try_from(owner.len()).map_err(|_| CryptoError::InvalidOwner("too long"))?.to_be_bytes(),
    );
    message.extend_from_slice(owner.as_bytes());
    message.extend_from_slice(&version.to_be_bytes());
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()), &message);
    Ok(base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
}

/// A stable bucket: the first byte of SHA-256(owner) mod 64.
fn bucket_of(owner: &str) -> u8 {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, owner.as_bytes());
    digest.as_ref()[0] % INDEX_BUCKETS
}

fn index_partition(bucket: u8) -> String {
    format!("{INDEX_PREFIX}{bucket:02}")
}

/// An error and its sources, `outer: inner: innermost`.
fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_in_range() {
        assert_eq!(bucket_of("citizen-1"), bucket_of("citizen-1"));
        assert!((0..1000).all(|n| bucket_of(&format!("c{n}")) < INDEX_BUCKETS));
        assert_eq!(index_partition(3), "index-03");
        let used: std::collections::HashSet<u8> = (0..1000).map(|n| bucket_of(&format!("c{n}"))).collect();
        assert_eq!(used.len(), 64);
    }

    #[test]
    fn owners_must_fit_partition_rules_and_not_look_like_the_index() {
        assert!(check_owner("b5f6c0de-1234").is_ok());
        for bad in ["", "a/b", "a#b", "a\nb", "index-01", &"x".repeat(256)] {
            assert!(matches!(check_owner(bad), Err(CryptoError::InvalidOwner(_))), "{bad:?}");
        }
    }
}
