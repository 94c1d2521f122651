//! The sealer and keyring over the embedded store, a local key file and a
//! manual clock: property tests of the format as seen by capabilities, then
//! the keyring's concurrency, cache, shredding and rotation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use portal_crypto::{
    CitizenKeys, CryptoError, DATA_KEY_ID, DataKey, KEYS_COLLECTION, KeyWrapper, KeyringOptions, LocalKeyFile,
    RewrapReport, Sealer, TOMBSTONE_ID, WrapError, WrappedKey,
};
use portal_store::embedded::EmbeddedStore;
use portal_store::{DocumentStore, ManualClock, NewDocument, StoreError};
use portal_testkit::faults::{FaultyDocuments, Op};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use time::macros::datetime;

struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    store: Arc<dyn DocumentStore>,
    kek: Arc<LocalKeyFile>,
    sealer: Sealer,
}

impl Fixture {
    fn new() -> Self {
        Self::with(|kek| kek, KeyringOptions::default())
    }

    fn with(wrap: impl FnOnce(Arc<dyn KeyWrapper>) -> Arc<dyn KeyWrapper>, options: KeyringOptions) -> Self {
        let dir = tempfile::Builder::new().prefix("portal-crypto-").tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(datetime!(2026-03-01 08:00 UTC)));
        let store: Arc<dyn DocumentStore> = Arc::new(EmbeddedStore::in_memory(clock.clone()).expect("store"));
        let kek = Arc::new(LocalKeyFile::open(dir.path().join("keys")).expect("key file"));
        let wrapper = wrap(kek.clone());
        let keys = CitizenKeys::with_options(store.clone(), wrapper, clock.clone(), options);
        Self { _dir: dir, clock, store, kek, sealer: Sealer::new(Arc::new(keys)) }
    }

    /// Another instance of the portal: same store and KEK, its own empty cache.
    fn other_instance(&self) -> Sealer {
        Sealer::new(Arc::new(CitizenKeys::new(self.store.clone(), self.kek.clone(), self.clock.clone())))
    }

    async fn stored_key(&self, owner: &str) -> Option<serde_json::Value> {
        self.store.get(KEYS_COLLECTION, owner, DATA_KEY_ID).await.expect("get").map(|doc| doc.body)
    }
}

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

// ---- properties -----------------------------------------------------------

#[test]
fn encrypt_then_decrypt_returns_arbitrary_bytes() {
    let rt = runtime();
    let f = Fixture::new();
    let strategy =
        (proptest::collection::vec(any::<u8>(), 0..4096), "[a-z0-9-]{1,20}", any::<String>(), any::<String>());
    runner()
        .run(&strategy, |(plaintext, owner, document_id, field)| {
            let sealed = rt.block_on(f.sealer.encrypt(&owner, &document_id, &field, &plaintext)).expect("encrypt");
            let opened = rt.block_on(f.sealer.decrypt(&owner, &document_id, &field, &sealed)).expect("decrypt");
            prop_assert_eq!(opened, plaintext);
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn any_flipped_bit_in_header_nonce_body_or_tag_fails() {
    let rt = runtime();
    let f = Fixture::new();
    let strategy = (proptest::collection::vec(any::<u8>(), 0..512), any::<prop::sample::Index>(), 0..8u8);
    runner()
        .run(&strategy, |(plaintext, position, bit)| {
            let mut sealed = rt.block_on(f.sealer.encrypt("citizen-a", "doc-1", "body", &plaintext)).expect("encrypt");
            let at = position.index(sealed.len());
            sealed[at] ^= 1 << bit;
            let result = rt.block_on(f.sealer.decrypt("citizen-a", "doc-1", "body", &sealed));
            prop_assert!(result.is_err(), "byte {} bit {} flipped and still opened", at, bit);
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn every_bit_of_a_header_is_covered() {
    let rt = runtime();
    let f = Fixture::new();
    let sealed = rt.block_on(f.sealer.encrypt("citizen-a", "doc-1", "body", b"birth number")).expect("encrypt");
    // magic 3 + version 1 + "local" 2+5 + "1" 2+1 + data-key version 4 + nonce 12
    let header_len = 30;
    for bit in 0..header_len * 8 {
        let mut altered = sealed.clone();
        altered[bit / 8] ^= 1 << (bit % 8);
        assert!(rt.block_on(f.sealer.decrypt("citizen-a", "doc-1", "body", &altered)).is_err(), "bit {bit}");
    }
}

#[test]
fn another_owner_document_or_field_fails() {
    let rt = runtime();
    let f = Fixture::new();
    rt.block_on(f.sealer.encrypt("citizen-b", "x", "y", b"B has a key too")).expect("encrypt");
    let strategy = (proptest::collection::vec(any::<u8>(), 0..256), 0..4usize, "[a-z0-9-]{1,12}");
    runner()
        .run(&strategy, |(plaintext, which, other)| {
            let sealed = rt.block_on(f.sealer.encrypt("citizen-a", "doc-1", "body", &plaintext)).expect("encrypt");
            let (owner, document_id, field) = match which {
                0 => ("citizen-b", "doc-1", "body"),
                1 => ("citizen-a", other.as_str(), "body"),
                2 => ("citizen-a", "doc-1", other.as_str()),
                _ => ("citizen-a", "doc-1body", ""),
            };
            prop_assume!((owner, document_id, field) != ("citizen-a", "doc-1", "body"));
            let result = rt.block_on(f.sealer.decrypt(owner, document_id, field, &sealed));
            // Citizen B's key is another key and the AAD differs: authentication fails.
            prop_assert!(matches!(result, Err(CryptoError::Tampered)), "{:?}", result);
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn garbage_is_an_error_never_a_panic() {
    let rt = runtime();
    let f = Fixture::new();
    rt.block_on(f.sealer.encrypt("citizen-a", "doc-1", "body", b"x")).expect("encrypt");
    runner()
        .run(&proptest::collection::vec(any::<u8>(), 0..128), |mut bytes| {
            prop_assert!(rt.block_on(f.sealer.decrypt("citizen-a", "doc-1", "body", &bytes)).is_err());
            // Also with a valid-looking start.
            let mut prefixed = b"PCE\x01".to_vec();
            prefixed.append(&mut bytes);
            prop_assert!(rt.block_on(f.sealer.decrypt("citizen-a", "doc-1", "body", &prefixed)).is_err());
            Ok(())
        })
        .expect("property holds");
}

// ---- keyring ----------------------------------------------------------------

/// Makes the first two wraps wait for each other, so two first requests for
/// the same citizen both get as far as the create-only write.
#[derive(Debug)]
struct RacingWrapper {
    inner: Arc<dyn KeyWrapper>,
    barrier: tokio::sync::Barrier,
    calls: AtomicUsize,
}

#[async_trait]
impl KeyWrapper for RacingWrapper {
    fn kek_id(&self) -> &str {
        self.inner.kek_id()
    }
    async fn current_version(&self) -> Result<String, WrapError> {
        self.inner.current_version().await
    }
    async fn wrap(&self, key: &DataKey) -> Result<WrappedKey, WrapError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < 2 {
            self.barrier.wait().await;
        }
        self.inner.wrap(key).await
    }
    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, WrapError> {
        self.inner.unwrap(wrapped).await
    }
}

#[tokio::test]
async fn two_concurrent_first_requests_agree_on_one_key() {
    let f = Fixture::with(
        |inner| Arc::new(RacingWrapper { inner, barrier: tokio::sync::Barrier::new(2), calls: AtomicUsize::new(0) }),
        KeyringOptions::default(),
    );
    let keys = f.sealer.keys();
    let (a, b) = tokio::join!(keys.data_key("citizen-new"), keys.data_key("citizen-new"));
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a, b);
    assert_eq!(a.version(), 1);
    let stats = keys.stats();
    assert_eq!((stats.wraps, stats.unwraps), (2, 1), "both wrapped, the loser read the winner's key");

    let sealed = f.sealer.encrypt("citizen-new", "d", "f", b"same key").await.expect("encrypt");
    let opened = f.other_instance().decrypt("citizen-new", "d", "f", &sealed).await.expect("decrypt");
    assert_eq!(opened, b"same key");
}

#[tokio::test]
async fn the_cache_saves_unwraps_and_expires_after_ten_minutes() {
    let f = Fixture::new();
    let sealed = f.sealer.encrypt("citizen-a", "doc-1", "body", b"hello").await.expect("encrypt");
    assert_eq!(f.sealer.keys().stats().unwraps, 0, "a new key is cached as created");

    let other = f.other_instance();
    for _ in 0..10 {
        other.decrypt("citizen-a", "doc-1", "body", &sealed).await.expect("decrypt");
        other.encrypt("citizen-a", "doc-2", "body", b"more").await.expect("encrypt");
    }
    let stats = other.keys().stats();
    assert_eq!((stats.unwraps, stats.cache_misses, stats.cache_hits), (1, 1, 19));

    f.clock.advance(Duration::from_secs(599));
    other.decrypt("citizen-a", "doc-1", "body", &sealed).await.expect("decrypt");
    assert_eq!(other.keys().stats().unwraps, 1);

    f.clock.advance(Duration::from_secs(1));
    other.decrypt("citizen-a", "doc-1", "body", &sealed).await.expect("decrypt");
    assert_eq!(other.keys().stats().unwraps, 2, "expired after the TTL");
}

#[tokio::test]
async fn the_cache_is_bounded() {
    let f = Fixture::with(|kek| kek, KeyringOptions::default().with_cache_capacity(2));
    let keys = f.sealer.keys();
    for owner in ["c1", "c2", "c3"] {
        keys.data_key(owner).await.expect("key");
    }
    assert_eq!(keys.stats().cached_keys, 2);
    keys.data_key("c3").await.expect("cached");
    assert_eq!(keys.stats().unwraps, 0);
    keys.data_key("c1").await.expect("evicted first");
    assert_eq!(keys.stats().unwraps, 1);
    assert_eq!(keys.stats().cached_keys, 2);
}

#[tokio::test]
async fn a_shredded_key_opens_nothing_and_never_having_a_key_is_different() {
    let f = Fixture::new();
    let sealed = f.sealer.encrypt("citizen-a", "doc-1", "body", b"to be forgotten").await.expect("encrypt");
    let other = f.other_instance();
    assert!(matches!(other.decrypt("citizen-z", "doc-1", "body", &sealed).await, Err(CryptoError::UnknownKey)));

    f.sealer.keys().shred("citizen-a").await.expect("shred");
    f.sealer.keys().shred("citizen-a").await.expect("shred is idempotent");
    assert!(matches!(f.sealer.decrypt("citizen-a", "doc-1", "body", &sealed).await, Err(CryptoError::Shredded)));
    assert!(matches!(other.decrypt("citizen-a", "doc-1", "body", &sealed).await, Err(CryptoError::Shredded)));
    assert!(f.stored_key("citizen-a").await.is_none());
    let tombstone = f.store.get(KEYS_COLLECTION, "citizen-a", TOMBSTONE_ID).await.expect("get").expect("tombstone");
    let mut fields: Vec<&str> = tombstone.body.as_object().expect("object").keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["shredded", "shreddedThrough"], "no key material in the tombstone");

    f.sealer.keys().shred("never-seen").await.expect("shredding nobody records the erasure");
    assert!(matches!(f.sealer.keys().data_key("index-07").await, Err(CryptoError::InvalidOwner(_))));
}

#[tokio::test]
async fn after_the_tombstone_no_data_key_is_created_for_the_erased_citizen_again() {
    let f = Fixture::new();
    f.sealer.encrypt("citizen-a", "doc-1", "body", b"before").await.expect("encrypt");
    assert!(!f.sealer.keys().is_erased("citizen-a").await.expect("check"));
    f.sealer.keys().shred("citizen-a").await.expect("shred");
    let other = f.other_instance();
    for sealer in [&f.sealer, &other] {
        let result = sealer.encrypt("citizen-a", "doc-2", "body", b"after").await;
        assert!(matches!(result, Err(CryptoError::Erased)), "sealed for an erased citizen: {result:?}");
        assert!(matches!(sealer.keys().data_key("citizen-a").await, Err(CryptoError::Erased)));
        assert!(sealer.keys().is_erased("citizen-a").await.expect("check"));
    }
    assert!(f.stored_key("citizen-a").await.is_none(), "no new key record");
    let refused = f.sealer.keys().refuse_erased("citizen-a").await;
    assert!(matches!(refused, Err(portal_host::InvocationError::Permanent(_))), "dropped for good: {refused:?}");
    assert!(f.sealer.keys().refuse_erased("citizen-b").await.is_ok());
}

#[tokio::test]
async fn rotating_the_kek_rewraps_every_key_and_old_data_still_opens() {
    let f = Fixture::new();
    let mut sealed = Vec::new();
    for owner in ["c1", "c2", "c3"] {
        sealed.push((owner, f.sealer.encrypt(owner, "doc", "body", owner.as_bytes()).await.expect("encrypt")));
    }
    f.sealer.keys().shred("c3").await.expect("shred");
    let report = f.sealer.keys().rewrap_all().await.expect("rewrap");
    assert_eq!(report, RewrapReport { rewrapped: 0, already_current: 2, missing: 1, failed: 0 });

    assert_eq!(f.kek.rotate().expect("rotate"), "2");
    let report = f.sealer.keys().rewrap_all().await.expect("rewrap");
    assert_eq!(report, RewrapReport { rewrapped: 2, already_current: 0, missing: 1, failed: 0 });
    for owner in ["c1", "c2"] {
        let stored = f.stored_key(owner).await.expect("key");
        assert_eq!(stored["kekVersion"], "2");
        assert_eq!(stored["dataKeyVersion"], 1);
        assert!(stored["rewrapped"].is_string());
    }

    let other = f.other_instance();
    for (owner, ciphertext) in &sealed[..2] {
        assert_eq!(other.decrypt(owner, "doc", "body", ciphertext).await.expect("decrypt"), owner.as_bytes());
    }
    let new = other.encrypt("c4", "doc", "body", b"x").await.expect("encrypt");
    assert_eq!(&new[..14], b"PCE\x01\x00\x05local\x00\x012", "new keys are wrapped under version 2");

    let report = f.sealer.keys().rewrap_all().await.expect("second pass");
    assert_eq!(report, RewrapReport { rewrapped: 0, already_current: 3, missing: 1, failed: 0 });
}

#[tokio::test]
async fn an_index_entry_without_a_key_is_skipped() {
    let f = Fixture::new();
    f.sealer.encrypt("c1", "doc", "body", b"x").await.expect("encrypt");
    // A crash after the index entry was written and before the key was.
    let mut partition = None;
    for bucket in 0..64 {
        let candidate = format!("index-{bucket:02}");
        if f.store.get(KEYS_COLLECTION, &candidate, "c1").await.expect("get").is_some() {
            partition = Some(candidate);
        }
    }
    let partition = partition.expect("c1 is indexed");
    let entry = NewDocument::new(partition, "ghost", serde_json::json!({ "created": "2026-03-01T08:00:00Z" }));
    f.store.create(KEYS_COLLECTION, entry).await.expect("index entry");
    f.kek.rotate().expect("rotate");
    let report = f.sealer.keys().rewrap_all().await.expect("rewrap");
    assert_eq!(report, RewrapReport { rewrapped: 1, already_current: 0, missing: 1, failed: 0 });
}

#[tokio::test]
async fn a_corrupted_wrapped_key_is_an_error_not_a_panic() {
    let f = Fixture::new();
    let sealed = f.sealer.encrypt("c1", "doc", "body", b"x").await.expect("encrypt");
    let doc = f.store.get(KEYS_COLLECTION, "c1", DATA_KEY_ID).await.expect("get").expect("key");
    let mut body = doc.body.clone();
    body["wrapped"] = serde_json::Value::from("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    f.store.replace(KEYS_COLLECTION, NewDocument::new("c1", DATA_KEY_ID, body), &doc.etag).await.expect("replace");
    let result = f.other_instance().decrypt("c1", "doc", "body", &sealed).await;
    assert!(matches!(result, Err(CryptoError::KeyWrapper(WrapError::Rejected))), "{result:?}");
    let mut body = doc.body;
    body["wrapped"] = serde_json::Value::from("not base64!");
    let current = f.store.get(KEYS_COLLECTION, "c1", DATA_KEY_ID).await.expect("get").expect("key");
    f.store.replace(KEYS_COLLECTION, NewDocument::new("c1", DATA_KEY_ID, body), &current.etag).await.expect("replace");
    let result = f.other_instance().decrypt("c1", "doc", "body", &sealed).await;
    assert!(matches!(result, Err(CryptoError::CorruptKeyRecord(_))), "{result:?}");
    f.sealer.keys().shred("c1").await.expect("a corrupt key can still be shredded");
}

/// A key service that is down.
#[derive(Debug)]
struct Unavailable;

#[async_trait]
impl KeyWrapper for Unavailable {
    fn kek_id(&self) -> &str {
        "down"
    }
    async fn current_version(&self) -> Result<String, WrapError> {
        Err(WrapError::Unavailable("down".into()))
    }
    async fn wrap(&self, _key: &DataKey) -> Result<WrappedKey, WrapError> {
        Err(WrapError::Unavailable("down".into()))
    }
    async fn unwrap(&self, _wrapped: &WrappedKey) -> Result<DataKey, WrapError> {
        Err(WrapError::Unavailable("down".into()))
    }
}

#[tokio::test]
async fn a_key_service_outage_is_retryable() {
    let f = Fixture::with(|_| Arc::new(Unavailable), KeyringOptions::default());
    let error = f.sealer.encrypt("c1", "doc", "body", b"x").await.expect_err("down");
    assert!(error.is_retryable(), "{error:?}");
    assert!(f.sealer.keys().rewrap_all().await.expect_err("down").is_retryable());
    assert!(f.stored_key("c1").await.is_none());
}

#[tokio::test]
async fn swapping_two_citizens_wrapped_keys_makes_both_fail_to_unwrap() {
    let f = Fixture::new();
    let sealed_1 = f.sealer.encrypt("c1", "doc", "body", b"one").await.expect("encrypt");
    f.sealer.encrypt("c2", "doc", "body", b"two").await.expect("encrypt");
    let one = f.store.get(KEYS_COLLECTION, "c1", DATA_KEY_ID).await.expect("get").expect("key");
    let two = f.store.get(KEYS_COLLECTION, "c2", DATA_KEY_ID).await.expect("get").expect("key");
    // Someone with write access to the store, but not to the KEK, swaps them.
    f.store.replace(KEYS_COLLECTION, NewDocument::new("c1", DATA_KEY_ID, two.body), &one.etag).await.expect("swap");
    f.store.replace(KEYS_COLLECTION, NewDocument::new("c2", DATA_KEY_ID, one.body), &two.etag).await.expect("swap");
    let elsewhere = f.other_instance();
    for owner in ["c1", "c2"] {
        let result = elsewhere.keys().data_key(owner).await;
        assert!(matches!(result, Err(CryptoError::ForeignKey)), "{owner}: {result:?}");
    }
    let result = elsewhere.decrypt("c1", "doc", "body", &sealed_1).await;
    assert!(matches!(result, Err(CryptoError::ForeignKey)), "{result:?}");
}

#[tokio::test]
async fn a_key_wrapped_before_bindings_still_opens_and_rewrap_binds_it() {
    let f = Fixture::new();
    let sealed = f.sealer.encrypt("c1", "doc", "body", b"old").await.expect("encrypt");
    // What the store held before wrap format 2: no format, no binding.
    let doc = f.store.get(KEYS_COLLECTION, "c1", DATA_KEY_ID).await.expect("get").expect("key");
    let mut legacy = doc.body.clone();
    let fields = legacy.as_object_mut().expect("object");
    fields.remove("format");
    fields.remove("binding");
    f.store.replace(KEYS_COLLECTION, NewDocument::new("c1", DATA_KEY_ID, legacy), &doc.etag).await.expect("legacy");
    assert_eq!(f.other_instance().decrypt("c1", "doc", "body", &sealed).await.expect("opens"), b"old");

    let report = f.sealer.keys().rewrap_all().await.expect("rewrap");
    assert_eq!(report.rewrapped, 1, "the unbound record is rewritten bound");
    let stored = f.stored_key("c1").await.expect("key");
    assert_eq!((stored["format"].as_u64(), stored["binding"].is_string()), (Some(2), true));
    assert_eq!(f.other_instance().decrypt("c1", "doc", "body", &sealed).await.expect("opens"), b"old");
    assert_eq!(f.sealer.keys().rewrap_all().await.expect("again").already_current, 1);
}

/// A key wrapper whose unwraps wait for the test to let them go.
#[derive(Debug)]
struct Gated {
    inner: Arc<dyn KeyWrapper>,
    entered: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Semaphore>,
}

#[async_trait]
impl KeyWrapper for Gated {
    fn kek_id(&self) -> &str {
        self.inner.kek_id()
    }
    async fn current_version(&self) -> Result<String, WrapError> {
        self.inner.current_version().await
    }
    async fn wrap(&self, key: &DataKey) -> Result<WrappedKey, WrapError> {
        self.inner.wrap(key).await
    }
    async fn unwrap(&self, wrapped: &WrappedKey) -> Result<DataKey, WrapError> {
        self.entered.notify_one();
        let _go = self.release.acquire().await.map_err(|_| WrapError::Rejected)?;
        self.inner.unwrap(wrapped).await
    }
}

#[tokio::test]
async fn a_key_loaded_while_it_was_shredded_is_not_cached_on_this_instance() {
    let f = Fixture::new();
    let sealed = f.sealer.encrypt("c1", "doc", "body", b"gone soon").await.expect("encrypt");
    let (entered, release) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Semaphore::new(0)));
    let gated: Arc<dyn KeyWrapper> =
        Arc::new(Gated { inner: f.kek.clone(), entered: entered.clone(), release: release.clone() });
    let instance = Arc::new(CitizenKeys::new(f.store.clone(), gated, f.clock.clone()));

    // A request on this instance reads the wrapped key and is unwrapping it…
    let loading = tokio::spawn({
        let instance = instance.clone();
        async move { instance.data_key("c1").await }
    });
    entered.notified().await;
    // …when the erasure shreds the key on the same instance.
    instance.shred("c1").await.expect("shred");
    release.add_permits(100);
    loading.await.expect("task").expect("the load that started before the shred finishes");

    let sealer = Sealer::new(instance);
    let result = sealer.decrypt("c1", "doc", "body", &sealed).await;
    assert!(matches!(result, Err(CryptoError::Shredded)), "the shredded key was cached: {result:?}");
}

#[tokio::test]
async fn a_key_shredded_on_another_instance_is_refused_here_within_the_tombstone_check() {
    let f = Fixture::new();
    let sealed = f.sealer.encrypt("c1", "doc", "body", b"erased elsewhere").await.expect("encrypt");
    let here = f.other_instance();
    here.decrypt("c1", "doc", "body", &sealed).await.expect("this instance caches the key");

    // Another instance erases the citizen; this instance's cache is out of its reach.
    f.sealer.keys().shred("c1").await.expect("shred");
    f.clock.advance(KeyringOptions::default().tombstone_check);
    let opened = here.decrypt("c1", "doc", "body", &sealed).await;
    assert!(matches!(opened, Err(CryptoError::Shredded)), "a shredded key kept opening data: {opened:?}");
    let sealed_again = here.encrypt("c1", "doc-2", "body", b"new").await;
    assert!(matches!(sealed_again, Err(CryptoError::Erased)), "a shredded key kept sealing: {sealed_again:?}");
    assert_eq!(here.keys().stats().cached_keys, 0, "evicted");
}

#[tokio::test]
async fn a_live_cached_key_is_confirmed_by_a_point_read_not_unwrapped_again() {
    let f = Fixture::new();
    let sealed = f.sealer.encrypt("c1", "doc", "body", b"still here").await.expect("encrypt");
    let here = f.other_instance();
    here.decrypt("c1", "doc", "body", &sealed).await.expect("decrypt");
    f.clock.advance(KeyringOptions::default().tombstone_check);
    here.decrypt("c1", "doc", "body", &sealed).await.expect("still opens");
    here.decrypt("c1", "doc", "body", &sealed).await.expect("confirmed, so a plain hit");
    let stats = here.keys().stats();
    assert_eq!((stats.unwraps, stats.tombstone_checks, stats.cache_hits), (1, 1, 2));
}

#[tokio::test]
async fn requests_that_find_a_key_due_for_its_check_together_make_one_read() {
    let f = Fixture::new();
    let sealed = f.sealer.encrypt("c1", "doc", "body", b"a page of records").await.expect("encrypt");
    let store = Arc::new(FaultyDocuments::new(f.store.clone()));
    store.reads_take_a_turn();
    let here = Sealer::new(Arc::new(CitizenKeys::new(store.clone(), f.kek.clone(), f.clock.clone())));
    here.decrypt("c1", "doc", "body", &sealed).await.expect("cached");
    f.clock.advance(KeyringOptions::default().tombstone_check);

    // The store is away for the first check: that request fails, and the
    // next one checks again rather than trusting a check that never happened.
    store.fail(0, 1, |call| call.op == Op::Get && call.id == Some(DATA_KEY_ID));
    let failed = here.decrypt("c1", "doc", "body", &sealed).await;
    assert!(matches!(failed, Err(CryptoError::Store(StoreError::Unavailable(_)))), "{failed:?}");

    let (a, b, c) = tokio::join!(
        here.decrypt("c1", "doc", "body", &sealed),
        here.decrypt("c1", "doc", "body", &sealed),
        here.decrypt("c1", "doc", "body", &sealed),
    );
    for opened in [a, b, c] {
        assert_eq!(opened.expect("opens"), b"a page of records");
    }
    let stats = here.keys().stats();
    assert_eq!((stats.unwraps, stats.tombstone_checks), (1, 2), "the failed check and one for the three together");
}

#[tokio::test]
async fn on_the_shredding_instance_the_cache_refuses_at_once() {
    let f = Fixture::new();
    let sealed = f.sealer.encrypt("c1", "doc", "body", b"gone now").await.expect("encrypt");
    f.sealer.keys().shred("c1").await.expect("shred");
    let opened = f.sealer.decrypt("c1", "doc", "body", &sealed).await;
    assert!(matches!(opened, Err(CryptoError::Shredded)), "no clock moved, yet refused: {opened:?}");
}

/// The blind-index key is HKDF-SHA256 (RFC 5869) of the data key with its own
/// label, checked against Python's standard `hmac`/`hashlib` (an independent
/// HKDF written from the RFC), and is neither the data key nor version 1's
/// HMAC-of-the-data-key.
#[tokio::test]
async fn blind_indexes_use_a_key_derived_by_hkdf_with_their_own_label() {
    use aws_lc_rs::hmac;
    let f = Fixture::new();
    let token = f.sealer.blind_index("jana", "document-tags", b"zdravi").await.expect("index");
    let key = f.sealer.keys().data_key("jana").await.expect("key");
    let secret = key.data_key().expose_secret();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();

    let raw = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), b"zdravi");
    assert_ne!(token, hex(&raw.as_ref()[..16]), "the data key keyed the index raw");
    let v1_key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), b"portal blind index v1\0document-tags");
    let v1 = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, v1_key.as_ref()), b"zdravi");
    assert_ne!(token, hex(&v1.as_ref()[..16]), "still version 1");

    let python = std::env::var("PORTAL_TEST_PYTHON").ok().filter(|p| !p.trim().is_empty());
    let script = "import sys, hmac, hashlib\n\
        ikm, salt, info, value = (bytes.fromhex(a) for a in sys.argv[1:5])\n\
        prk = hmac.new(salt, ikm, hashlib.sha256).digest()\n\
        okm = hmac.new(prk, info + b'\\x01', hashlib.sha256).digest()\n\
        print(hmac.new(okm, value, hashlib.sha256).hexdigest()[:32], end='')";
    let info = [portal_crypto::BLIND_INDEX_LABEL, b"\0", b"document-tags"].concat();
    let output = std::process::Command::new(python.as_deref().unwrap_or("python3"))
        .args(["-c", script])
        .args([hex(secret), hex(portal_crypto::BLIND_INDEX_SALT), hex(&info), hex(b"zdravi")])
        .output()
        .expect("run python");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(token, String::from_utf8(output.stdout).expect("utf-8"), "HKDF per RFC 5869");
}
