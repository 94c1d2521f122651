//! Share links (sdílení odkazem): a secret URL through which anyone holding it
//! can download one document until it expires (at most
//! [`DocumentsSettings::share_max_hours`](crate::DocumentsSettings)) or its
//! owner revokes it.
//!
//! - The token is 32 random bytes (base64url); only its SHA-256 is stored, as
//!   the id of a lookup document in [`LINKS_PARTITION`] whose TTL is the
//!   link's expiry. A leaked store therefore leaks no working link.
//! - The owner's partition keeps the share record (`share-<id>`: created,
//!   expires, revoked, downloads), kept 30 days past expiry. The record is the
//!   authority: revoking marks it first, so the link stops at once even if
//!   deleting the lookup fails.
//! - Opening a link checks the lookup, the expiry against the clock (a TTL
//!   alone may lag), the record, and that the document still exists. Every
//!   failure gives the same `None` (one 404 at the edge), so tokens cannot be
//!   probed. Every download is written into the owner's access log.

use std::time::Duration;

use base64::Engine as _;
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{ETag, FilterOp, NewDocument, Query, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::document::{Meta, StoredDocument};
use crate::{COLLECTION, Documents, DocumentsError};

/// The partition of the link lookups (by token hash).
pub const LINKS_PARTITION: &str = "share-links";
/// The access-log actor of a download through a link: nobody logged in.
pub const SHARE_LINK_JOB: &str = "share-link";
/// How long the owner still sees a share record after the link expired.
const RECORD_KEPT_AFTER_EXPIRY: Duration = Duration::from_secs(30 * 24 * 3600);
const WRITE_ATTEMPTS: usize = 8;

/// A share as its owner sees it (`share-<id>` in the owner's partition).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ShareRecord {
    #[serde(rename = "type")]
    pub record: String,
    pub id: String,
    pub document_id: String,
    /// SHA-256 (hex) of the token: the id of the lookup document.
    pub token_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    pub downloads: u64,
}

const SHARE_RECORD: &str = "share";

/// The lookup from a token's hash to its owner, document and share.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LinkLookup {
    #[serde(rename = "type")]
    record: String,
    owner: String,
    document_id: String,
    share_id: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// A share link as its owner sees it (never its URL, shown once at creation).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareView {
    #[schema(example = "0b6f7c2e9d1a4e6f8a3b5c7d9e1f2a3b")]
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<OffsetDateTime>,
    /// How many times the document was downloaded through the link.
    pub downloads: u64,
    /// Neither revoked nor expired.
    pub active: bool,
}

/// A new link: the only moment its URL exists outside the citizen's hands.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewShare {
    #[schema(example = "0b6f7c2e9d1a4e6f8a3b5c7d9e1f2a3b")]
    pub id: String,
    /// The secret link; whoever has it can download the document until it expires.
    #[schema(example = "http://localhost:7071/api/shared/q1Zx9v0xK3v6b8Qe1X0o3nq6v2m8Y7c4R1t5u9w2a0s")]
    pub url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// What a valid link hands out.
pub(crate) struct SharedDownload {
    pub stored: StoredDocument,
    pub meta: Meta,
    /// The plain content, streamed as it is opened ([`Documents::content_stream`]).
    pub content: futures::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
}

impl std::fmt::Debug for SharedDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedDownload").field("document", &self.stored.id).finish_non_exhaustive()
    }
}

fn share_store_id(share_id: &str) -> String {
    format!("share-{share_id}")
}

fn digest_hex(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    portal_store::lower_hex(digest.as_ref())
}

/// A token as issued: 43 characters of base64url (32 bytes, no padding).
fn looks_like_token(token: &str) -> bool {
    token.len() == 43 && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn new_token() -> Result<String, DocumentsError> {
    use aws_lc_rs::rand::SecureRandom as _;
    let mut bytes = [0_u8; 32];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| DocumentsError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn seconds_until(until: OffsetDateTime, now: OffsetDateTime) -> Duration {
    let seconds = (until - now).whole_seconds().max(1);
    Duration::from_secs(u64::try_from(seconds).unwrap_or(1))
}

impl ShareRecord {
    fn view(&self, now: OffsetDateTime) -> ShareView {
        ShareView {
            id: self.id.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            downloads: self.downloads,
            active: self.revoked_at.is_none() && now < self.expires_at,
        }
    }

    fn to_document(&self, owner: &str, now: OffsetDateTime) -> Result<NewDocument, DocumentsError> {
        let body = serde_json::to_value(self).map_err(|e| DocumentsError::Corrupt(e.to_string()))?;
        Ok(NewDocument::new(owner, share_store_id(&self.id), body)
            .with_ttl(seconds_until(self.expires_at + RECORD_KEPT_AFTER_EXPIRY, now)))
    }
}

impl Documents {
    /// Creates a link to `stored` valid for `hours`: the lookup first, then
    /// the owner's record. A crash between the two leaves a lookup without a
    /// record, which opens nothing and expires; the token was never shown.
    pub(crate) async fn create_share(
        &self,
        owner: &str,
        stored: &StoredDocument,
        hours: u32,
    ) -> Result<NewShare, DocumentsError> {
        let now = self.clock.now();
        let lifetime = Duration::from_secs(u64::from(hours) * 3600);
        let expires_at = now + lifetime;
        let token = new_token()?;
        let token_hash = digest_hex(&token);
        let share_id = uuid::Uuid::new_v4().simple().to_string();
        let lookup = LinkLookup {
            record: "share-link".into(),
            owner: owner.to_owned(),
            document_id: stored.id.clone(),
            share_id: share_id.clone(),
            expires_at,
        };
        let body = serde_json::to_value(&lookup).map_err(|e| DocumentsError::Corrupt(e.to_string()))?;
        self.documents
            .create(COLLECTION, NewDocument::new(LINKS_PARTITION, token_hash.clone(), body).with_ttl(lifetime))
            .await?;
        let record = ShareRecord {
            record: SHARE_RECORD.into(),
            id: share_id.clone(),
            document_id: stored.id.clone(),
            token_hash,
            created_at: now,
            expires_at,
            revoked_at: None,
            downloads: 0,
        };
        self.documents.create(COLLECTION, record.to_document(owner, now)?).await?;
        let base = self.settings.public_base_url.trim_end_matches('/');
        Ok(NewShare { id: share_id, url: format!("{base}/api/shared/{token}"), expires_at })
    }

    async fn share_records(&self, owner: &str, document_id: &str) -> Result<Vec<(ShareRecord, ETag)>, DocumentsError> {
        let mut records = Vec::new();
        let mut continuation = None;
        loop {
            let query = Query::default()
                .filter("type", FilterOp::Eq, SHARE_RECORD)
                .filter("documentId", FilterOp::Eq, document_id)
                .page_size(100)
                .after(continuation.take());
            let page = self.documents.query(COLLECTION, owner, query).await?;
            for doc in page.items {
                let record: ShareRecord =
                    serde_json::from_value(doc.body).map_err(|e| DocumentsError::Corrupt(e.to_string()))?;
                records.push((record, doc.etag));
            }
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => return Ok(records),
            }
        }
    }

    /// The document's shares, newest first.
    pub(crate) async fn list_shares(&self, owner: &str, document_id: &str) -> Result<Vec<ShareView>, DocumentsError> {
        let now = self.clock.now();
        let mut records = self.share_records(owner, document_id).await?;
        records.sort_by(|(a, _), (b, _)| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(records.iter().map(|(record, _)| record.view(now)).collect())
    }

    /// Revokes a share of `document_id`: the record is marked (which stops
    /// the link), then the lookup is deleted. Revoking twice is fine.
    pub(crate) async fn revoke_share(
        &self,
        owner: &str,
        document_id: &str,
        share_id: &str,
    ) -> Result<ShareView, DocumentsError> {
        if share_id.len() > 64 || !share_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(DocumentsError::NotFound);
        }
        for _ in 0..WRITE_ATTEMPTS {
            let doc = self
                .documents
                .get(COLLECTION, owner, &share_store_id(share_id))
                .await?
                .ok_or(DocumentsError::NotFound)?;
            let mut record: ShareRecord =
                serde_json::from_value(doc.body).map_err(|e| DocumentsError::Corrupt(e.to_string()))?;
            if record.document_id != document_id {
                return Err(DocumentsError::NotFound);
            }
            let now = self.clock.now();
            if record.revoked_at.is_none() {
                record.revoked_at = Some(now);
                match self.documents.replace(COLLECTION, record.to_document(owner, now)?, &doc.etag).await {
                    Ok(_) => {}
                    Err(StoreError::PreconditionFailed) => continue,
                    Err(error) => return Err(error.into()),
                }
            }
            match self.documents.delete(COLLECTION, LINKS_PARTITION, &record.token_hash, None).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(error) => tracing::warn!(error = %error, "a revoked link's lookup stays until it expires"),
            }
            return Ok(record.view(now));
        }
        Err(StoreError::PreconditionFailed.into())
    }

    /// The document behind `token`, if the link is valid now; `None` for any
    /// kind of invalid link. A download is logged in the owner's access log
    /// and counted on the share record.
    pub(crate) async fn open_share(&self, token: &str) -> Result<Option<SharedDownload>, DocumentsError> {
        if !looks_like_token(token) {
            return Ok(None);
        }
        let Some(lookup) = self.documents.get(COLLECTION, LINKS_PARTITION, &digest_hex(token)).await? else {
            return Ok(None);
        };
        let Ok(lookup) = serde_json::from_value::<LinkLookup>(lookup.body) else { return Ok(None) };
        let now = self.clock.now();
        if now >= lookup.expires_at {
            return Ok(None);
        }
        let Ok(owner) = SubjectId::parse(lookup.owner.clone()) else { return Ok(None) };
        let Some(record_doc) =
            self.documents.get(COLLECTION, owner.as_str(), &share_store_id(&lookup.share_id)).await?
        else {
            return Ok(None);
        };
        let Ok(record) = serde_json::from_value::<ShareRecord>(record_doc.body) else { return Ok(None) };
        if record.revoked_at.is_some()
            || now >= record.expires_at
            || record.document_id != lookup.document_id
            || record.token_hash != digest_hex(token)
        {
            return Ok(None);
        }
        let Some((stored, _)) = self.load(owner.as_str(), &record.document_id).await? else { return Ok(None) };
        let content = match self.content_stream(owner.as_str(), &stored).await {
            Ok(content) => content,
            Err(DocumentsError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let meta = self.open_meta(owner.as_str(), &stored).await?;
        let entry = AccessEntry::new(
            Actor::System { job: SHARE_LINK_JOB.into() },
            Action::Read,
            "document",
            &stored.id,
            &format!("staženo přes sdílený odkaz {} (bez přihlášení)", record.id),
        );
        self.access_log.record(&owner, entry).await?;
        self.count_download(owner.as_str(), &record.id).await;
        Ok(Some(SharedDownload { stored, meta, content }))
    }

    /// Adds one to the share's download count (a lost race is tried again;
    /// a failure costs the count, never the download, which is logged).
    async fn count_download(&self, owner: &str, share_id: &str) {
        for _ in 0..WRITE_ATTEMPTS {
            let Ok(Some(doc)) = self.documents.get(COLLECTION, owner, &share_store_id(share_id)).await else { break };
            let Ok(mut record) = serde_json::from_value::<ShareRecord>(doc.body) else { break };
            record.downloads += 1;
            let now = self.clock.now();
            let Ok(new) = record.to_document(owner, now) else { break };
            match self.documents.replace(COLLECTION, new, &doc.etag).await {
                Ok(_) => return,
                Err(StoreError::PreconditionFailed) => {}
                Err(error) => {
                    tracing::warn!(error = %error, "a share download was not counted");
                    return;
                }
            }
        }
        tracing::warn!("a share download was not counted");
    }
}

/// After a document is deleted: its share records and lookups go too (the
/// links already stopped, since the document is gone).
pub(crate) async fn forget_document(
    documents: &Documents,
    owner: &str,
    document_id: &str,
) -> Result<(), DocumentsError> {
    for (record, etag) in documents.share_records(owner, document_id).await? {
        match documents.documents.delete(COLLECTION, LINKS_PARTITION, &record.token_hash, None).await {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(error) => return Err(error.into()),
        }
        match documents.documents.delete(COLLECTION, owner, &share_store_id(&record.id), Some(&etag)).await {
            Ok(()) | Err(StoreError::NotFound | StoreError::PreconditionFailed) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_random_bytes_in_base64url_and_stored_by_hash() {
        let (a, b) = (new_token().expect("token"), new_token().expect("token"));
        assert_ne!(a, b);
        assert!(looks_like_token(&a), "{a}");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&a).expect("base64url");
        assert_eq!(bytes.len(), 32);
        assert_eq!(digest_hex(&a).len(), 64);
        assert_ne!(digest_hex(&a), a);
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&format!("{}+", &a[..42])));
    }
}
