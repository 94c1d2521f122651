use std::sync::Arc;

use crate::error::CryptoError;
use crate::format::{self, Binding, Header, TAG_LEN};
use crate::key::DataKey;
use crate::keyring::{CitizenKey, CitizenKeys};
use crate::stream::{StreamHeader, StreamOpener, StreamSealer};

/// How a sealed reference ([`Sealer::seal_reference`]) starts.
pub const SEALED_REFERENCE_PREFIX: &str = "sealed:";
/// The document id sealed references are bound to (the field is the resource type).
const REFERENCE_DOCUMENT: &str = "access-log";

/// The HKDF salt of every blind-index key (public, fixed: the input keying
/// material, a random data key, is already uniform).
pub const BLIND_INDEX_SALT: &[u8] = b"portal/blind-index";
/// The HKDF info of a blind-index key, followed by a NUL and the purpose.
pub const BLIND_INDEX_LABEL: &[u8] = b"portal/blind-index/v2";

/// The HMAC-SHA256 key of `purpose`'s blind indexes: HKDF-SHA256 (RFC 5869)
/// with the data key as input keying material, [`BLIND_INDEX_SALT`], and info
/// [`BLIND_INDEX_LABEL`] `\0` purpose; 32 bytes.
fn blind_index_key(key: &DataKey, purpose: &str) -> Result<aws_lc_rs::hmac::Key, CryptoError> {
    use aws_lc_rs::{hkdf, hmac};
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, BLIND_INDEX_SALT).extract(key.expose_secret());
    let info: [&[u8]; 3] = [BLIND_INDEX_LABEL, b"\0", purpose.as_bytes()];
    let okm = prk
        .expand(&info, hmac::HMAC_SHA256)
        .map_err(|_| CryptoError::Internal("HKDF could not derive the blind-index key"))?;
    Ok(hmac::Key::from(okm))
}

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

    /// Seals a large file chunk by chunk (format 2, [`crate::stream`]) under
    /// the owner's data key, bound to `owner`, `document_id` and `field`.
    /// [`decrypt`](Self::decrypt) and [`stream_opener`](Self::stream_opener)
    /// open it.
    pub async fn stream_sealer(
        &self,
        owner: &str,
        document_id: &str,
        field: &str,
    ) -> Result<StreamSealer, CryptoError> {
        let key = self.keys.data_key(owner).await?;
        let header = StreamHeader::new(key.kek_id(), key.kek_version(), key.version())?;
        StreamSealer::new(key.data_key(), &header, &Binding { owner, document_id, field })
    }

    /// Opens a file sealed by [`stream_sealer`](Self::stream_sealer) as its
    /// bytes arrive. `header` is the start of the ciphertext, at least its
    /// whole header ([`StreamHeader::parse`] says when there is enough).
    pub async fn stream_opener(
        &self,
        owner: &str,
        document_id: &str,
        field: &str,
        header: &[u8],
    ) -> Result<StreamOpener, CryptoError> {
        let (parsed, len) = StreamHeader::parse(header)?.ok_or(CryptoError::Malformed("truncated header"))?;
        let key = self.keys.data_key_version(owner, parsed.data_key_version).await?;
        StreamOpener::new(key.data_key(), &parsed, &header[..len], &Binding { owner, document_id, field })
    }

    /// A keyed, deterministic token for `value` ("blind index"), so sealed data
    /// can be found by equality without storing it in clear: HMAC-SHA256,
    /// cut to 16 bytes, in hex, under a key of its own, derived with HKDF-SHA256
    /// from the owner's current data key ([`blind_index_key`]: salt
    /// [`BLIND_INDEX_SALT`], info [`BLIND_INDEX_LABEL`] and the purpose), so
    /// the data key itself never keys anything but AES-GCM. Equal values give
    /// equal tokens for the same owner and purpose; tokens say nothing without
    /// the data key, and once the key is shredded nobody can compute or test
    /// them again.
    ///
    /// The label is versioned (`v2`). Version 1 keyed the HMAC with an HMAC of
    /// the data key; it was never in production, and a capability that stored
    /// version-1 tokens re-indexes a record when it rewrites it (documents do
    /// on every change of tags).
    pub async fn blind_index(&self, owner: &str, purpose: &str, value: &[u8]) -> Result<String, CryptoError> {
        use aws_lc_rs::hmac;
        let key = self.keys.data_key(owner).await?;
        let derived = blind_index_key(key.data_key(), purpose)?;
        let tag = hmac::sign(&derived, value);
        Ok(portal_store::lower_hex(&tag.as_ref()[..16]))
    }

    /// [`decrypt`](Self::decrypt) that takes the ciphertext's buffer and
    /// opens a single-shot ciphertext (format 1) inside it, so a large file
    /// sealed whole costs its size once while it is opened; a streamed one
    /// opens as in `decrypt`.
    pub async fn decrypt_owned(
        &self,
        owner: &str,
        document_id: &str,
        field: &str,
        ciphertext: Vec<u8>,
    ) -> Result<Vec<u8>, CryptoError> {
        self.opener(owner).decrypt_owned(document_id, field, ciphertext).await
    }

    /// A reference to `id` that only `owner` can read, as a resource id for
    /// the owner's own access log: [`SEALED_REFERENCE_PREFIX`] and base64url
    /// of `id` sealed under the owner's key, bound to the document
    /// `access-log` and the field `resource_type`. A fresh nonce each time, so
    /// two lines about one thing do not even match each other; gone with the
    /// key. [`open_reference`](Self::open_reference) reads it back.
    pub async fn seal_reference(&self, owner: &str, resource_type: &str, id: &str) -> Result<String, CryptoError> {
        use base64::Engine as _;
        let sealed = self.encrypt(owner, REFERENCE_DOCUMENT, resource_type, id.as_bytes()).await?;
        Ok(format!("{SEALED_REFERENCE_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// The id a [`seal_reference`](Self::seal_reference) names, opened with
    /// `owner`'s key; `Ok(None)` when `text` is not a sealed reference of this
    /// owner and resource type (or the key is gone: erased). Only passing
    /// faults (Key Vault, store) are errors.
    pub async fn open_reference(
        &self,
        owner: &str,
        resource_type: &str,
        text: &str,
    ) -> Result<Option<String>, CryptoError> {
        use base64::Engine as _;
        let Some(encoded) = text.strip_prefix(SEALED_REFERENCE_PREFIX) else { return Ok(None) };
        let Ok(sealed) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded) else { return Ok(None) };
        match self.decrypt(owner, REFERENCE_DOCUMENT, resource_type, &sealed).await {
            Ok(plain) => Ok(String::from_utf8(plain).ok()),
            Err(error) if error.is_retryable() => Err(error),
            Err(_) => Ok(None),
        }
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
        self.opener(owner).decrypt(document_id, field, ciphertext).await
    }

    /// [`decrypt`](Self::decrypt) of a streamed ciphertext (format 2), whole.
    async fn decrypt_streamed(
        &self,
        owner: &str,
        document_id: &str,
        field: &str,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let (_, len) = StreamHeader::parse(ciphertext)?.ok_or(CryptoError::Malformed("truncated header"))?;
        let mut opener = self.stream_opener(owner, document_id, field, &ciphertext[..len]).await?;
        let mut plain = opener.push(&ciphertext[len..])?;
        plain.extend(opener.finish()?);
        Ok(plain)
    }

    /// Opens many ciphertexts of one owner, such as a page of records: the
    /// owner's key is looked up once per data-key version the page holds, not
    /// once per record. Hold it for one request: a key it has looked up stays
    /// usable through it even if the owner is erased meanwhile.
    pub fn opener<'a>(&'a self, owner: &'a str) -> Opener<'a> {
        Opener { sealer: self, owner, key: None }
    }
}

/// What [`Sealer::opener`] gives: [`Sealer::decrypt`] for one owner, with the
/// last key it used kept.
#[derive(Debug)]
pub struct Opener<'a> {
    sealer: &'a Sealer,
    owner: &'a str,
    key: Option<CitizenKey>,
}

impl Opener<'_> {
    /// [`Sealer::decrypt`] of `ciphertext`, bound to this owner, `document_id` and `field`.
    pub async fn decrypt(&mut self, document_id: &str, field: &str, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let owner = self.owner;
        if crate::stream::is_streamed(ciphertext) {
            return self.sealer.decrypt_streamed(owner, document_id, field, ciphertext).await;
        }
        let (header, header_len) = Header::parse(ciphertext)?;
        let key = self.key_for(header_len, ciphertext.len(), header.data_key_version).await?;
        format::open(key.data_key(), ciphertext, &header, header_len, &Binding { owner, document_id, field })
    }

    /// [`Sealer::decrypt_owned`] with this owner's kept key: a page's records
    /// each opened in the buffer their base64 was decoded into.
    pub async fn decrypt_owned(
        &mut self,
        document_id: &str,
        field: &str,
        ciphertext: Vec<u8>,
    ) -> Result<Vec<u8>, CryptoError> {
        let owner = self.owner;
        if crate::stream::is_streamed(&ciphertext) {
            return self.sealer.decrypt_streamed(owner, document_id, field, &ciphertext).await;
        }
        let (header, header_len) = Header::parse(&ciphertext)?;
        let (version, nonce) = (header.data_key_version, header.nonce);
        let key = self.key_for(header_len, ciphertext.len(), version).await?;
        format::open_owned(key.data_key(), ciphertext, nonce, header_len, &Binding { owner, document_id, field })
    }

    /// The data key of `version`: the one kept if it is that version, else
    /// looked up and kept. Garbage (a ciphertext too short to hold its tag)
    /// never costs a key lookup.
    async fn key_for(&mut self, header_len: usize, len: usize, version: u32) -> Result<&CitizenKey, CryptoError> {
        if len < header_len + TAG_LEN {
            return Err(CryptoError::Malformed("truncated"));
        }
        let key = match self.key.take() {
            Some(key) if key.version() == version => key,
            _ => self.sealer.keys.data_key_version(self.owner, version).await?,
        };
        Ok(self.key.insert(key))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use portal_store::SystemClock;
    use portal_store::embedded::EmbeddedStore;

    use super::*;
    use crate::LocalKeyFile;

    /// A sealer over a throwaway store, with its key folder (kept while the test runs).
    fn sealer() -> (Sealer, tempfile::TempDir) {
        let clock = Arc::new(SystemClock);
        let store = Arc::new(EmbeddedStore::in_memory(clock.clone()).expect("store"));
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = Arc::new(LocalKeyFile::open(dir.path()).expect("keys"));
        (Sealer::new(Arc::new(CitizenKeys::new(store, keys, clock))), dir)
    }

    #[tokio::test]
    async fn single_shot_and_streamed_ciphertexts_both_open_and_streamed_ones_die_with_the_key() {
        let (sealer, _keys) = sealer();
        let old = sealer.encrypt("jana", "doc-1", "content", b"sealed before streaming").await.expect("v1");
        assert_eq!(old[3], 1, "format version 1");
        assert_eq!(
            sealer.decrypt("jana", "doc-1", "content", &old).await.expect("v1 opens"),
            b"sealed before streaming"
        );
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let streamed =
            sealer.stream_sealer("jana", "doc-2", "content").await.expect("sealer").seal_all(&big).expect("seal");
        assert_eq!(streamed[3], 2, "format version 2");
        assert_eq!(sealer.decrypt("jana", "doc-2", "content", &streamed).await.expect("v2 opens"), big);
        assert!(sealer.decrypt("jana", "doc-1", "content", &streamed).await.is_err(), "bound to its document");
        let whole = sealer.encrypt("jana", "doc-3", "content", &big).await.expect("v1");
        assert_eq!(sealer.decrypt_owned("jana", "doc-3", "content", whole.clone()).await.expect("in place"), big);
        assert_eq!(sealer.decrypt_owned("jana", "doc-2", "content", streamed.clone()).await.expect("v2"), big);
        let mut flipped = whole.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(sealer.decrypt_owned("jana", "doc-3", "content", flipped).await, Err(CryptoError::Tampered)));
        assert!(sealer.decrypt_owned("jana", "doc-1", "content", whole).await.is_err(), "bound to its document");
        sealer.keys().shred("jana").await.expect("shred");
        assert!(sealer.decrypt("jana", "doc-2", "content", &streamed).await.is_err(), "gone with the key");
    }

    #[tokio::test]
    async fn blind_indexes_match_per_owner_and_purpose_and_die_with_the_key() {
        let (sealer, _keys) = sealer();
        let a = sealer.blind_index("jana", "tags", b"zdravi").await.expect("index");
        assert_eq!(a.len(), 32);
        assert_eq!(a, sealer.blind_index("jana", "tags", b"zdravi").await.expect("index"), "deterministic");
        assert_ne!(a, sealer.blind_index("jana", "tags", b"auto").await.expect("index"), "per value");
        assert_ne!(a, sealer.blind_index("jiri", "tags", b"zdravi").await.expect("index"), "per owner");
        assert_ne!(a, sealer.blind_index("jana", "titles", b"zdravi").await.expect("index"), "per purpose");
        sealer.keys().shred("jana").await.expect("shred");
        let after = sealer.blind_index("jana", "tags", b"zdravi").await;
        assert!(matches!(after, Err(CryptoError::Erased)), "after shredding, the old tokens cannot be recomputed");
    }

    #[tokio::test]
    async fn sealed_references_open_only_for_their_owner_and_type_and_die_with_the_key() {
        let (sealer, _keys) = sealer();
        let reference = sealer.seal_reference("jana", "petition-signature", "pet-123").await.expect("seal");
        assert!(reference.starts_with(SEALED_REFERENCE_PREFIX) && !reference.contains("pet-123"), "{reference}");
        let again = sealer.seal_reference("jana", "petition-signature", "pet-123").await.expect("seal");
        assert_ne!(reference, again, "two references to one thing do not match");
        let open = |owner: &'static str, kind: &'static str, text: String| {
            let sealer = sealer.clone();
            async move { sealer.open_reference(owner, kind, &text).await.expect("no passing fault") }
        };
        assert_eq!(open("jana", "petition-signature", reference.clone()).await.as_deref(), Some("pet-123"));
        assert_eq!(open("jiri", "petition-signature", reference.clone()).await, None, "another owner");
        assert_eq!(open("jana", "document", reference.clone()).await, None, "another resource type");
        assert_eq!(open("jana", "petition-signature", "pet-123".into()).await, None, "not a sealed reference");
        assert_eq!(open("jana", "petition-signature", "sealed:!!".into()).await, None, "garbage");
        sealer.keys().shred("jana").await.expect("shred");
        assert_eq!(open("jana", "petition-signature", reference).await, None, "gone with the key");
    }

    #[tokio::test]
    async fn an_opener_opens_its_owners_ciphertexts_with_every_binding_kept_and_not_after_erasure() {
        let (sealer, _keys) = sealer();
        let one = sealer.encrypt("jana", "doc-1", "content", b"first").await.expect("seal");
        let two = sealer.encrypt("jana", "doc-2", "content", b"second").await.expect("seal");
        let streamed = sealer
            .stream_sealer("jana", "doc-3", "content")
            .await
            .expect("sealer")
            .seal_all(b"streamed")
            .expect("seal");
        let theirs = sealer.encrypt("jiri", "doc-2", "content", b"another owner").await.expect("jiri");

        let mut opener = sealer.opener("jana");
        assert_eq!(opener.decrypt("doc-1", "content", &one).await.expect("opens"), b"first");
        assert_eq!(opener.decrypt("doc-2", "content", &two).await.expect("opens"), b"second");
        assert_eq!(opener.decrypt("doc-3", "content", &streamed).await.expect("streamed"), b"streamed");
        assert!(matches!(opener.decrypt("doc-9", "content", &two).await, Err(CryptoError::Tampered)), "document");
        assert!(matches!(opener.decrypt("doc-2", "title", &two).await, Err(CryptoError::Tampered)), "field");
        assert!(opener.decrypt("doc-2", "content", &theirs).await.is_err(), "another owner's");
        assert!(matches!(opener.decrypt("doc-2", "content", b"junk").await, Err(CryptoError::Malformed(_))));

        sealer.keys().shred("jana").await.expect("shred");
        let mut after = sealer.opener("jana");
        assert!(matches!(after.decrypt("doc-1", "content", &one).await, Err(CryptoError::Shredded)));
    }
}
