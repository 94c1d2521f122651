//! A stored document: its id, title and tags as checked at the edge, its
//! stored shape (`doc-<id>`) with the sealed personal part, the view the API
//! shows, and the reads every part of the capability shares (load, open the
//! metadata, read the content). The library's changes and the share links
//! build on these.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use futures::TryStreamExt as _;
use portal_store::{BlobPath, ETag, NewDocument, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::scan::Verdict;
use crate::{COLLECTION, Documents, DocumentsError, owner_folder};

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

    /// The id of an upload sent with an `Idempotency-Key`: `k` and the key's
    /// blind index under the owner's key (32 hex digits), so the same key
    /// always names the same document and the id says nothing of the key.
    pub(crate) fn keyed_upload(blind_index: &str) -> Self {
        Self(format!("k{blind_index}"))
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
pub(crate) struct Title(pub(crate) String);

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
pub(crate) struct Tags(pub(crate) Vec<String>);

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
    pub(crate) async fn index(
        &self,
        sealer: &portal_crypto::Sealer,
        owner: &str,
    ) -> Result<BTreeMap<String, bool>, DocumentsError> {
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
pub(crate) async fn tag_key(sealer: &portal_crypto::Sealer, owner: &str, tag: &str) -> Result<String, DocumentsError> {
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
    /// For an upload sent with an `Idempotency-Key`: a blind index of its
    /// content, type and name, so a repeat with the same key is told from a
    /// different upload under a reused key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_fingerprint: Option<String>,
    /// The malware scan of an upload: `pending`, `clean` or `infected`
    /// ([`crate::scan`]). None for filed documents (they come from the state)
    /// and for uploads stored before scanning existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<String>,
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
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    #[schema(example = "5f0c3a0e00004000800000000000000a")]
    pub id: String,
    #[schema(example = "Nájemní smlouva")]
    pub title: String,
    #[schema(example = "Nájemní smlouva.pdf")]
    pub file_name: String,
    #[schema(example = "application/pdf")]
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    pub tags: Vec<String>,
    /// `upload`, or what the service that filed it calls it (`data-message`, `receipt`, …).
    pub kind: String,
    /// `citizen` for uploads, else the service that filed it.
    pub source: String,
    /// The filing service's own reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<OffsetDateTime>,
    /// Whether it counts toward the upload quota.
    pub counts_toward_quota: bool,
    pub simulated: bool,
    /// An upload's malware scan: `pending` (quarantined: it cannot be
    /// downloaded or shared yet), `clean` or `infected` (never served).
    /// Absent for documents filed by the state.
    #[schema(example = "clean")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malware_scan: Option<String>,
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

pub(crate) fn corrupt(error: impl fmt::Display) -> DocumentsError {
    DocumentsError::Corrupt(error.to_string())
}

impl Documents {
    /// The blob path of a document's content written by Documents itself.
    pub(crate) fn blob_path(owner: &str, id: &DocumentId) -> Result<BlobPath, StoreError> {
        BlobPath::parse(format!("documents/{}/{}", owner_folder(owner), id.as_str()))
    }

    pub(crate) async fn seal_meta(&self, owner: &str, id: &DocumentId, meta: &Meta) -> Result<String, DocumentsError> {
        let plain = serde_json::to_vec(meta).map_err(corrupt)?;
        let sealed = self.sealer.encrypt(owner, id.as_str(), "meta", &plain).await?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    pub(crate) async fn open_meta(&self, owner: &str, stored: &StoredDocument) -> Result<Meta, DocumentsError> {
        let sealed = base64::engine::general_purpose::STANDARD.decode(&stored.meta).map_err(corrupt)?;
        let plain = self.sealer.decrypt(owner, &stored.id, "meta", &sealed).await?;
        serde_json::from_slice(&plain).map_err(corrupt)
    }

    pub(crate) async fn view(&self, owner: &str, stored: &StoredDocument) -> Result<DocumentView, DocumentsError> {
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
            malware_scan: stored.scan.clone(),
        })
    }

    /// The owner's document `id`, with its ETag; `None` for an id that is not
    /// one or a document that is not there (or is someone else's: every
    /// lookup stays in the owner's partition).
    pub(crate) async fn load(&self, owner: &str, id: &str) -> Result<Option<(StoredDocument, ETag)>, DocumentsError> {
        let Ok(id) = DocumentId::parse(id) else { return Ok(None) };
        let Some(doc) = self.documents.get(COLLECTION, owner, &id.store_id()).await? else { return Ok(None) };
        let stored: StoredDocument = serde_json::from_value(doc.body).map_err(corrupt)?;
        Ok(Some((stored, doc.etag)))
    }

    /// The plain content of a document, once its malware scan (if it has
    /// one) says it is clean.
    pub(crate) async fn content(&self, owner: &str, stored: &StoredDocument) -> Result<Vec<u8>, DocumentsError> {
        self.cleared(owner, stored).await?;
        let path = BlobPath::parse(stored.blob.clone())?;
        let (info, mut stream) = match self.blobs.get(&path).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(DocumentsError::NotFound),
            Err(error) => return Err(error.into()),
        };
        // One buffer, opened inside it: the file's size once.
        let mut sealed = Vec::with_capacity(usize::try_from(info.size).unwrap_or(0));
        while let Some(chunk) = stream.try_next().await? {
            sealed.extend_from_slice(&chunk);
        }
        Ok(self.sealer.decrypt_owned(owner, &stored.id, "content", sealed).await?)
    }

    /// The plain content as a stream, once its malware scan (if it has one)
    /// says it is clean: a file sealed in chunks (format 2) is opened chunk
    /// by chunk as the blob streams in, so a download holds about one chunk
    /// (64 KiB) at a time; a file sealed whole (format 1: filed documents,
    /// older uploads) is opened whole. A chunk that fails authentication mid
    /// way ends the stream with an error, which cuts the response short of
    /// its `Content-Length`: the client never takes a tampered file as whole.
    pub(crate) async fn content_stream(
        &self,
        owner: &str,
        stored: &StoredDocument,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>>, DocumentsError> {
        self.cleared(owner, stored).await?;
        let path = BlobPath::parse(stored.blob.clone())?;
        self.opened_stream(owner, &stored.id, &path).await
    }

    /// The plain content of the sealed blob `path` of document `id`, opened
    /// as it streams in ([`content_stream`](Self::content_stream) without the
    /// scan check; also what an upload's quarantine copy is made from).
    pub(crate) async fn opened_stream(
        &self,
        owner: &str,
        id: &str,
        path: &BlobPath,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>>, DocumentsError> {
        use futures::StreamExt as _;
        use portal_crypto::stream::{MAX_HEADER_LEN, StreamHeader, is_streamed};
        let (info, mut blob) = match self.blobs.get(path).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(DocumentsError::NotFound),
            Err(error) => return Err(error.into()),
        };
        let mut head = Vec::new();
        let header_len = loop {
            if head.len() > 4 && !is_streamed(&head) {
                // Sealed whole (format 1, as other capabilities file their
                // documents): AES-GCM authenticates only at the end, so no
                // byte may go out before the whole file is read; it is read
                // into one buffer and opened inside it (its size once).
                head.reserve(usize::try_from(info.size).unwrap_or(0).saturating_sub(head.len()));
                while let Some(chunk) = blob.try_next().await? {
                    head.extend_from_slice(&chunk);
                }
                let plain = self.sealer.decrypt_owned(owner, id, "content", head).await?;
                return Ok(futures::stream::once(async move { Ok(Bytes::from(plain)) }).boxed());
            }
            if head.len() > 4
                && let Some((_, len)) = StreamHeader::parse(&head)?
            {
                break len;
            }
            if head.len() > MAX_HEADER_LEN + 4 {
                return Err(corrupt("a sealed file's header is too long"));
            }
            match blob.try_next().await? {
                Some(chunk) => head.extend_from_slice(&chunk),
                None => return Err(corrupt("a sealed file ends inside its header")),
            }
        };
        let mut opener = self.sealer.stream_opener(owner, id, "content", &head[..header_len]).await?;
        let first = opener.push(&head[header_len..])?;
        drop(head);
        Ok(opener.into_plaintext(first, blob))
    }

    /// Whether the document may leave: no scan, or a clean one. A pending
    /// scan asks the scanner once more and records a final verdict (and drops
    /// the quarantine copy).
    pub(crate) async fn cleared(&self, owner: &str, stored: &StoredDocument) -> Result<(), DocumentsError> {
        let verdict = match stored.scan.as_deref().map(Verdict::parse) {
            None => return Ok(()),
            Some(Some(verdict)) if verdict != Verdict::Pending => verdict,
            Some(_) => self.resolve_scan(owner, stored).await?,
        };
        match verdict {
            Verdict::Clean => Ok(()),
            Verdict::Pending => Err(DocumentsError::ScanPending),
            Verdict::Infected => Err(DocumentsError::Infected),
        }
    }

    async fn resolve_scan(&self, owner: &str, stored: &StoredDocument) -> Result<Verdict, DocumentsError> {
        let path = BlobPath::parse(stored.blob.clone())?;
        let verdict = self.scanner().verdict(&path).await?;
        if verdict == Verdict::Pending {
            return Ok(verdict);
        }
        for _ in 0..8 {
            let Some((mut current, etag)) = self.load(owner, &stored.id).await? else { return Ok(verdict) };
            if current.scan.as_deref() != Some(Verdict::Pending.as_str()) {
                break;
            }
            current.scan = Some(verdict.as_str().to_owned());
            let id = DocumentId::parse(&current.id).map_err(corrupt)?;
            let body = serde_json::to_value(&current).map_err(corrupt)?;
            match self.documents.replace(COLLECTION, NewDocument::new(owner, id.store_id(), body), &etag).await {
                Ok(_) => break,
                Err(StoreError::PreconditionFailed) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        if verdict == Verdict::Infected {
            tracing::warn!(document = %stored.id, "malware found in an upload; it stays quarantined");
        }
        self.scanner().discard(&path).await?;
        Ok(verdict)
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
