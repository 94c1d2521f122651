//! The citizen's library: the stored shape of a document, the values checked
//! at the edge (id, title, tags), and the operations that keep the quota
//! usage exact (upload, rename/tag, delete).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use futures::TryStreamExt as _;
use portal_crypto::CryptoError;
use portal_store::{BatchOp, BlobPath, ETag, FilterOp, NewDocument, Order, PutMode, Query, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::{COLLECTION, Documents, owner_folder};

/// How often a write that lost an ETag race to another writer is tried again.
const ATTEMPTS: usize = 8;
/// The id of the citizen's upload usage document.
const USAGE_ID: &str = "usage";
/// The longest title.
pub(crate) const TITLE_MAX: usize = 200;
pub(crate) const TAGS_MAX: usize = 20;
pub(crate) const TAG_MAX_CHARS: usize = 40;

/// A document's id: the id in its URL, its store id (`doc-<id>`), its blob name
/// and the document the content is sealed for. 1–128 letters, digits, `-`,
/// `_`, `.` or `=`, not starting with a dot: valid as a store key and as a
/// blob-path segment alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocumentId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a document id is 1-128 letters, digits, '-', '_', '.' or '=', not starting with '.'")]
pub struct InvalidDocumentId;

impl DocumentId {
    pub fn parse(value: &str) -> Result<Self, InvalidDocumentId> {
        let ok = !value.is_empty()
            && value.len() <= 128
            && !value.starts_with('.')
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '='));
        if ok { Ok(Self(value.to_owned())) } else { Err(InvalidDocumentId) }
    }

    /// A fresh id for an upload.
    pub(crate) fn new_upload() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the metadata document.
    pub(crate) fn store_id(&self) -> String {
        format!("doc-{}", self.0)
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A document's title: 1–200 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Title(String);

impl Title {
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > TITLE_MAX || value.chars().any(char::is_control) {
            return Err(format!("1-{TITLE_MAX} characters without control characters"));
        }
        Ok(Self(value.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// A title made from a file name (cut to the limit), for uploads without one.
    pub(crate) fn from_file_name(name: &str) -> Self {
        Self(name.chars().take(TITLE_MAX).collect())
    }

    /// A title a filing capability gave: control characters become spaces and
    /// a title past the limit is cut with `…` (a state document is never
    /// refused for a long title); `None` when nothing is left.
    pub(crate) fn lenient(value: &str) -> Option<Self> {
        let cleaned: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        let cleaned = cleaned.trim();
        if cleaned.is_empty() {
            return None;
        }
        if cleaned.chars().count() <= TITLE_MAX {
            return Some(Self(cleaned.to_owned()));
        }
        let mut cut: String = cleaned.chars().take(TITLE_MAX - 1).collect::<String>().trim_end().to_owned();
        cut.push('…');
        Some(Self(cut))
    }
}

/// A document's tags: at most 20, each 1–40 letters (Czech ones included),
/// digits, `-` or `_`; duplicates that differ only in case are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tags(Vec<String>);

impl Tags {
    pub(crate) const RULE: &str = "at most 20 tags, each 1-40 letters, digits, '-' or '_'";

    pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut tags: Vec<String> = Vec::new();
        for value in values {
            let value = value.trim();
            if !is_tag(value) {
                return Err(Self::RULE.into());
            }
            if !tags.iter().any(|t| t.to_lowercase() == value.to_lowercase()) {
                tags.push(value.to_owned());
            }
        }
        if tags.len() > TAGS_MAX {
            return Err(Self::RULE.into());
        }
        Ok(Self(tags))
    }

    /// From a form field: comma-separated, empty items ignored.
    pub(crate) fn parse_list(value: &str) -> Result<Self, String> {
        Self::parse(value.split(',').map(str::trim).filter(|t| !t.is_empty()))
    }

    /// The tag index: one field per tag, named by the tag's blind index.
    async fn index(&self, sealer: &portal_crypto::Sealer, owner: &str) -> Result<BTreeMap<String, bool>, LibraryError> {
        let mut index = BTreeMap::new();
        for tag in &self.0 {
            index.insert(tag_key(sealer, owner, tag).await?, true);
        }
        Ok(index)
    }
}

pub(crate) fn is_tag(value: &str) -> bool {
    let count = value.chars().count();
    (1..=TAG_MAX_CHARS).contains(&count) && value.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// The field of the tag index that says a document has `tag`: the store
/// filters on scalar fields with identifier names, and a tag is the citizen's
/// own words, so it becomes `t` and the citizen's blind index of its lower
/// case ([`portal_crypto::Sealer::blind_index`]): findable by equality,
/// unreadable without the citizen's key, and dead once the key is shredded.
pub(crate) async fn tag_key(sealer: &portal_crypto::Sealer, owner: &str, tag: &str) -> Result<String, LibraryError> {
    Ok(format!("t{}", sealer.blind_index(owner, "document-tags", tag.to_lowercase().as_bytes()).await?))
}

/// A document's metadata as stored (`doc-<id>` in the owner's partition).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredDocument {
    #[serde(rename = "type")]
    pub record: String,
    pub id: String,
    /// `upload`, or what a filing capability says (`data-message`, `receipt`, …).
    pub kind: String,
    /// `citizen` for uploads, else the capability that filed it.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    pub media_type: String,
    /// Plain size in bytes.
    pub size: u64,
    /// What the document counts toward the upload quota (0 for filed ones).
    pub quota_bytes: u64,
    /// Blind indexes of the tags (the tags themselves are sealed in `meta`).
    pub tag_index: BTreeMap<String, bool>,
    /// The blob with the sealed content.
    pub blob: String,
    /// True when the blob was adopted from a filing capability, which still
    /// uses it (the data box archive shows the same ZFO): deleting the
    /// document then leaves the blob to its producer.
    #[serde(default)]
    pub adopted_blob: bool,
    /// Base64 of the sealed [`Meta`] (field `meta`).
    pub meta: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The sort key of the list (nanoseconds since the epoch).
    pub created_at_nanos: i64,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub simulated: bool,
}

pub(crate) const DOCUMENT_RECORD: &str = "document";

/// The personal part of the metadata, sealed as one field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Meta {
    pub title: String,
    pub file_name: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A document as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DocumentView {
    pub id: String,
    pub title: String,
    pub file_name: String,
    pub media_type: String,
    pub size: u64,
    pub tags: Vec<String>,
    pub kind: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<OffsetDateTime>,
    /// Whether it counts toward the upload quota.
    pub counts_toward_quota: bool,
    pub simulated: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("no such document")]
    NotFound,
    #[error("the upload quota is exhausted: {used} of {limit} bytes used, {size} more asked")]
    QuotaExceeded { used: u64, limit: u64, size: u64 },
    /// The client's `If-Match` names an older version.
    #[error("the document changed since the client read it")]
    Changed,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("the system random number generator failed")]
    Random,
}

impl LibraryError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable() || matches!(error, StoreError::PreconditionFailed),
            Self::Crypto(error) => error.is_retryable(),
            _ => false,
        }
    }
}

/// The citizen's upload usage (`usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub used_bytes: u64,
    pub count: u64,
}

/// A checked upload.
#[derive(Debug)]
pub(crate) struct Upload {
    pub title: Title,
    pub file_name: String,
    pub media_type: String,
    pub tags: Tags,
    pub content: Bytes,
}

/// A change of title or tags.
#[derive(Debug, Default)]
pub(crate) struct Change {
    pub title: Option<Title>,
    pub tags: Option<Tags>,
}

/// Whether an `If-Match` value names this ETag (quotes and a weak prefix
/// ignored; `*` names any).
pub(crate) fn if_match_names(header: &str, etag: &ETag) -> bool {
    let bare = |value: &str| value.trim().trim_start_matches("W/").trim_matches('"').to_owned();
    header.split(',').any(|candidate| candidate.trim() == "*" || bare(candidate) == bare(etag.as_str()))
}

/// The `ETag` header value for a store ETag.
pub(crate) fn etag_header(etag: &ETag) -> String {
    format!("\"{}\"", etag.as_str().trim_matches('"'))
}

pub(crate) fn nanos(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

fn corrupt(error: impl fmt::Display) -> LibraryError {
    LibraryError::Corrupt(error.to_string())
}

impl Documents {
    /// The blob path of a document's content written by Documents itself.
    pub(crate) fn blob_path(owner: &str, id: &DocumentId) -> Result<BlobPath, StoreError> {
        BlobPath::parse(format!("documents/{}/{}", owner_folder(owner), id.as_str()))
    }

    pub(crate) async fn seal_meta(&self, owner: &str, id: &DocumentId, meta: &Meta) -> Result<String, LibraryError> {
        let plain = serde_json::to_vec(meta).map_err(corrupt)?;
        let sealed = self.sealer.encrypt(owner, id.as_str(), "meta", &plain).await?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    pub(crate) async fn open_meta(&self, owner: &str, stored: &StoredDocument) -> Result<Meta, LibraryError> {
        let sealed = base64::engine::general_purpose::STANDARD.decode(&stored.meta).map_err(corrupt)?;
        let plain = self.sealer.decrypt(owner, &stored.id, "meta", &sealed).await?;
        serde_json::from_slice(&plain).map_err(corrupt)
    }

    pub(crate) async fn view(&self, owner: &str, stored: &StoredDocument) -> Result<DocumentView, LibraryError> {
        let meta = self.open_meta(owner, stored).await?;
        Ok(DocumentView {
            id: stored.id.clone(),
            title: meta.title,
            file_name: meta.file_name,
            media_type: stored.media_type.clone(),
            size: stored.size,
            tags: meta.tags,
            kind: stored.kind.clone(),
            source: stored.source.clone(),
            source_ref: stored.source_ref.clone(),
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            counts_toward_quota: stored.quota_bytes > 0,
            simulated: stored.simulated,
        })
    }

    /// The owner's document `id`, with its ETag; `None` for an id that is not
    /// one or a document that is not there (or is someone else's: every
    /// lookup stays in the owner's partition).
    pub(crate) async fn load(&self, owner: &str, id: &str) -> Result<Option<(StoredDocument, ETag)>, LibraryError> {
        let Ok(id) = DocumentId::parse(id) else { return Ok(None) };
        let Some(doc) = self.documents.get(COLLECTION, owner, &id.store_id()).await? else { return Ok(None) };
        let stored: StoredDocument = serde_json::from_value(doc.body).map_err(corrupt)?;
        Ok(Some((stored, doc.etag)))
    }

    /// The plain content of a document.
    pub(crate) async fn content(&self, owner: &str, stored: &StoredDocument) -> Result<Vec<u8>, LibraryError> {
        let path = BlobPath::parse(stored.blob.clone())?;
        let (_, stream) = match self.blobs.get(&path).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(LibraryError::NotFound),
            Err(error) => return Err(error.into()),
        };
        let chunks: Vec<Bytes> = stream.try_collect().await?;
        Ok(self.sealer.decrypt(owner, &stored.id, "content", &chunks.concat()).await?)
    }

    pub(crate) async fn usage(&self, owner: &str) -> Result<(Usage, Option<ETag>), LibraryError> {
        match self.documents.get(COLLECTION, owner, USAGE_ID).await? {
            None => Ok((Usage::default(), None)),
            Some(doc) => {
                let usage = Usage {
                    used_bytes: doc.body["usedBytes"].as_u64().ok_or_else(|| corrupt("usage without usedBytes"))?,
                    count: doc.body["count"].as_u64().unwrap_or_default(),
                };
                Ok((usage, Some(doc.etag)))
            }
        }
    }

    /// The batch operation that writes `usage` over the version read.
    fn usage_op(owner: &str, usage: Usage, read: Option<ETag>) -> BatchOp {
        let doc = NewDocument::new(
            owner,
            USAGE_ID,
            json!({"type": "usage", "usedBytes": usage.used_bytes, "count": usage.count}),
        );
        match read {
            Some(if_match) => BatchOp::Replace { doc, if_match },
            None => BatchOp::Create(doc),
        }
    }

    /// Stores an upload: content sealed into its blob first, then the
    /// metadata created in one batch with the usage it adds to (under the
    /// usage's ETag, re-read and re-checked after a lost race). A crash
    /// between the two leaves an unreferenced sealed blob: it is never listed,
    /// never counted, and unreadable once the citizen's key is shredded.
    pub(crate) async fn upload(&self, owner: &str, upload: Upload) -> Result<DocumentView, LibraryError> {
        let size = upload.content.len() as u64;
        let limit = self.settings.quota_bytes;
        let (usage, _) = self.usage(owner).await?;
        if usage.used_bytes.saturating_add(size) > limit {
            return Err(LibraryError::QuotaExceeded { used: usage.used_bytes, limit, size });
        }
        let id = DocumentId::new_upload();
        let path = Self::blob_path(owner, &id)?;
        let sealed = self.sealer.encrypt(owner, id.as_str(), "content", &upload.content).await?;
        let tag_index = upload.tags.index(&self.sealer, owner).await?;
        let meta = Meta { title: upload.title.0, file_name: upload.file_name, tags: upload.tags.0 };
        let sealed_meta = self.seal_meta(owner, &id, &meta).await?;
        let blob_metadata = BTreeMap::from([("sealed".to_owned(), "true".to_owned())]);
        self.blobs
            .put(&path, Bytes::from(sealed), "application/octet-stream", blob_metadata, PutMode::CreateOnly)
            .await?;

        let now = self.clock.now();
        let stored = StoredDocument {
            record: DOCUMENT_RECORD.into(),
            id: id.as_str().to_owned(),
            kind: "upload".into(),
            source: "citizen".into(),
            source_ref: None,
            media_type: upload.media_type,
            size,
            quota_bytes: size,
            tag_index,
            blob: path.as_str().to_owned(),
            adopted_blob: false,
            meta: sealed_meta,
            created_at: now,
            created_at_nanos: nanos(now),
            updated_at: None,
            simulated: false,
        };
        let body = serde_json::to_value(&stored).map_err(corrupt)?;
        let result = self.create_with_usage(owner, &id, body, size).await;
        if result.is_err() {
            // Nothing refers to the blob: take it back (a failure here leaves a
            // harmless orphan, as a crash would).
            if let Err(error) = self.blobs.delete(&path).await {
                tracing::warn!(error = %error, "an unused upload blob could not be deleted");
            }
        }
        result?;
        self.view(owner, &stored).await
    }

    async fn create_with_usage(
        &self,
        owner: &str,
        id: &DocumentId,
        body: Value,
        size: u64,
    ) -> Result<(), LibraryError> {
        let limit = self.settings.quota_bytes;
        for _ in 0..ATTEMPTS {
            let (usage, etag) = self.usage(owner).await?;
            if usage.used_bytes.saturating_add(size) > limit {
                return Err(LibraryError::QuotaExceeded { used: usage.used_bytes, limit, size });
            }
            let grown = Usage { used_bytes: usage.used_bytes + size, count: usage.count + 1 };
            let ops = vec![
                BatchOp::Create(NewDocument::new(owner, id.store_id(), body.clone())),
                Self::usage_op(owner, grown, etag),
            ];
            match self.documents.batch(COLLECTION, owner, ops).await {
                Ok(_) => return Ok(()),
                // Another upload or delete changed the usage first: read it again.
                Err(StoreError::PreconditionFailed | StoreError::Conflict) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::PreconditionFailed.into())
    }

    /// A page of the owner's documents, newest first.
    pub(crate) async fn list(
        &self,
        owner: &str,
        kind: Option<&str>,
        tag: Option<&str>,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<(Vec<DocumentView>, Option<String>), LibraryError> {
        let mut query = Query::default()
            .filter("type", FilterOp::Eq, DOCUMENT_RECORD)
            .order_by("createdAtNanos", Order::Descending)
            .page_size(page_size)
            .after(continuation);
        if let Some(kind) = kind {
            query = query.filter("kind", FilterOp::Eq, kind);
        }
        if let Some(tag) = tag {
            query = query.filter(format!("tagIndex.{}", tag_key(&self.sealer, owner, tag).await?), FilterOp::Eq, true);
        }
        let page = self.documents.query(COLLECTION, owner, query).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for doc in page.items {
            let stored: StoredDocument = serde_json::from_value(doc.body).map_err(corrupt)?;
            items.push(self.view(owner, &stored).await?);
        }
        Ok((items, page.continuation))
    }

    /// Renames and/or retags, under the version the client names (`If-Match`)
    /// or, without one, the current version, read again after a lost race.
    pub(crate) async fn change(
        &self,
        owner: &str,
        id: &str,
        if_match: Option<&str>,
        change: Change,
    ) -> Result<(DocumentView, ETag), LibraryError> {
        for _ in 0..ATTEMPTS {
            let (mut stored, etag) = self.load(owner, id).await?.ok_or(LibraryError::NotFound)?;
            if if_match.is_some_and(|header| !if_match_names(header, &etag)) {
                return Err(LibraryError::Changed);
            }
            let document_id = DocumentId::parse(&stored.id).map_err(corrupt)?;
            if change.title.is_some() || change.tags.is_some() {
                let mut meta = self.open_meta(owner, &stored).await?;
                if let Some(title) = &change.title {
                    meta.title = title.0.clone();
                }
                if let Some(tags) = &change.tags {
                    stored.tag_index = tags.index(&self.sealer, owner).await?;
                    meta.tags = tags.0.clone();
                }
                stored.meta = self.seal_meta(owner, &document_id, &meta).await?;
            }
            stored.updated_at = Some(self.clock.now());
            let body = serde_json::to_value(&stored).map_err(corrupt)?;
            match self.documents.replace(COLLECTION, NewDocument::new(owner, document_id.store_id(), body), &etag).await
            {
                Ok(new_etag) => return Ok((self.view(owner, &stored).await?, new_etag)),
                Err(StoreError::PreconditionFailed) => {}
                Err(StoreError::NotFound) => return Err(LibraryError::NotFound),
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::PreconditionFailed.into())
    }

    /// Deletes a document: the metadata and (for an upload) the usage it
    /// took, in one batch; then its blob and its share links. A crash after
    /// the batch leaves an orphaned sealed blob and share records that expire.
    pub(crate) async fn delete(&self, owner: &str, id: &str, if_match: Option<&str>) -> Result<(), LibraryError> {
        let mut deleted = None;
        for _ in 0..ATTEMPTS {
            let (stored, etag) = self.load(owner, id).await?.ok_or(LibraryError::NotFound)?;
            if if_match.is_some_and(|header| !if_match_names(header, &etag)) {
                return Err(LibraryError::Changed);
            }
            let document_id = DocumentId::parse(&stored.id).map_err(corrupt)?;
            let mut ops = vec![BatchOp::Delete { id: document_id.store_id(), if_match: Some(etag) }];
            if stored.quota_bytes > 0 {
                let (usage, usage_etag) = self.usage(owner).await?;
                let shrunk = Usage {
                    used_bytes: usage.used_bytes.saturating_sub(stored.quota_bytes),
                    count: usage.count.saturating_sub(1),
                };
                ops.push(Self::usage_op(owner, shrunk, usage_etag));
            }
            match self.documents.batch(COLLECTION, owner, ops).await {
                Ok(_) => {
                    deleted = Some(stored);
                    break;
                }
                Err(StoreError::PreconditionFailed | StoreError::Conflict) => {}
                Err(StoreError::NotFound) => return Err(LibraryError::NotFound),
                Err(error) => return Err(error.into()),
            }
        }
        let stored = deleted.ok_or(LibraryError::Store(StoreError::PreconditionFailed))?;
        if !stored.adopted_blob {
            match BlobPath::parse(stored.blob.clone()) {
                Ok(path) => match self.blobs.delete(&path).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(error) => tracing::warn!(error = %error, "a deleted document's blob stays as an orphan"),
                },
                Err(error) => tracing::warn!(error = %error, "a deleted document named an invalid blob"),
            }
        }
        if let Err(error) = crate::shares::forget_document(self, owner, &stored.id).await {
            tracing::warn!(error = %error, "a deleted document's share records stay until they expire");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_fit_store_keys_and_blob_paths() {
        for good in ["0f3a", "receipt-p1", "extract_2026.01", "a=b"] {
            let id = DocumentId::parse(good).expect(good);
            assert!(BlobPath::parse(format!("documents/x/{id}")).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "..", "a/b", "a:b", "a b", "ž", &"x".repeat(129)] {
            assert!(DocumentId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_allow_czech_letters_and_refuse_the_rest() {
        let tags = Tags::parse_list("zdraví, Řidičák,auto_2026,,auto-2026 ,ZDRAVÍ").expect("valid");
        assert_eq!(tags.0, ["zdraví", "Řidičák", "auto_2026", "auto-2026"], "case-insensitive duplicates dropped");
        assert!(Tags::parse(["s mezerou"]).is_err());
        assert!(Tags::parse(["tečka."]).is_err());
        assert!(Tags::parse([""]).is_err());
        assert!(Tags::parse([&*"a".repeat(41)]).is_err());
        assert!(Tags::parse([&*"ř".repeat(40)]).is_ok(), "40 characters, not bytes");
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(many.iter().map(String::as_str)).is_err());
        assert!(Tags::parse(many[..20].iter().map(String::as_str)).is_ok());
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(Title::parse("  Nájemní smlouva ").expect("valid").0, "Nájemní smlouva");
        assert!(Title::parse(&"č".repeat(200)).is_ok());
        assert!(Title::parse(&"č".repeat(201)).is_err());
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse("a\nb").is_err());
    }

    #[test]
    fn filed_titles_are_cut_never_refused() {
        let long = Title::lenient(&format!("Datová zpráva: {} (od Úřadu)", "ř".repeat(300))).expect("a title");
        assert_eq!(long.as_str().chars().count(), TITLE_MAX);
        assert!(long.as_str().ends_with('…'));
        assert_eq!(Title::lenient(" Výpis\nz rejstříku ").map(|t| t.0), Some("Výpis z rejstříku".into()));
        assert!(Title::lenient(" \t ").is_none());
    }

    #[test]
    fn if_match_accepts_quoted_weak_and_star() {
        let etag = ETag::new("abc123");
        assert!(if_match_names("\"abc123\"", &etag));
        assert!(if_match_names("W/\"abc123\"", &etag));
        assert!(if_match_names("abc123", &etag));
        assert!(if_match_names("\"x\", \"abc123\"", &etag));
        assert!(if_match_names("*", &etag));
        assert!(!if_match_names("\"abc124\"", &etag));
        assert_eq!(etag_header(&ETag::new("\"quoted\"")), "\"quoted\"");
    }
}
