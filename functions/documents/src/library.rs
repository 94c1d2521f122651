//! The citizen's library: the operations that keep the upload quota exact
//! (upload, rename/tag, delete) and the list, newest first.

use std::collections::BTreeMap;

use bytes::Bytes;
use portal_store::{BatchOp, BlobPath, ETag, FilterOp, NewDocument, Order, PutMode, Query, StoreError};
use serde_json::{Value, json};

use crate::document::{
    DOCUMENT_RECORD, DocumentId, DocumentView, Meta, StoredDocument, Tags, Title, corrupt, if_match_names, nanos,
    tag_key,
};
use crate::{COLLECTION, Documents, DocumentsError};

/// How often a write that lost an ETag race to another writer is tried again.
const ATTEMPTS: usize = 8;
/// The id of the citizen's upload usage document.
const USAGE_ID: &str = "usage";

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
    /// The client's `Idempotency-Key`, checked (1-255 visible ASCII characters).
    pub idempotency_key: Option<String>,
}

/// What [`Documents::upload`] did.
#[derive(Debug)]
pub(crate) enum Uploaded {
    Created(DocumentView),
    /// The same upload under the same `Idempotency-Key` was stored before.
    Repeated(DocumentView),
}

impl Uploaded {
    pub(crate) fn view(&self) -> &DocumentView {
        match self {
            Self::Created(view) | Self::Repeated(view) => view,
        }
    }
}

/// A change of title or tags.
#[derive(Debug, Default)]
pub(crate) struct Change {
    pub title: Option<Title>,
    pub tags: Option<Tags>,
}
impl Documents {
    pub(crate) async fn usage(&self, owner: &str) -> Result<(Usage, Option<ETag>), DocumentsError> {
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
    ///
    /// With an `Idempotency-Key` the id follows from the key, so a repeat
    /// (the answer was lost, or the access log could not be written) finds the
    /// document the first try stored and answers with it: one document, one
    /// blob (a blob an interrupted try left under that id is overwritten, never
    /// a second copy). The same key with other content is refused.
    pub(crate) async fn upload(&self, owner: &str, upload: Upload) -> Result<Uploaded, DocumentsError> {
        let size = upload.content.len() as u64;
        let limit = self.settings.quota_bytes;
        let (id, fingerprint) = match &upload.idempotency_key {
            Some(key) => {
                let index = self.sealer.blind_index(owner, "upload idempotency key", key.as_bytes()).await?;
                let id = DocumentId::keyed_upload(&index);
                let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &upload.content);
                let mut described = digest.as_ref().to_vec();
                for part in [upload.media_type.as_str(), upload.file_name.as_str()] {
                    described.push(0);
                    described.extend_from_slice(part.as_bytes());
                }
                let fingerprint = self.sealer.blind_index(owner, "upload fingerprint", &described).await?;
                if let Some(repeat) = self.repeated(owner, &id, &fingerprint).await? {
                    return Ok(repeat);
                }
                (id, Some(fingerprint))
            }
            None => (DocumentId::new_upload(), None),
        };
        let (usage, _) = self.usage(owner).await?;
        if usage.used_bytes.saturating_add(size) > limit {
            return Err(DocumentsError::QuotaExceeded { used: usage.used_bytes, limit, size });
        }
        let path = Self::blob_path(owner, &id)?;
        // Sealed in 64 KiB chunks (format 2), so a download never needs it whole.
        let sealed = self.sealer.stream_sealer(owner, id.as_str(), "content").await?.seal_all(&upload.content)?;
        let tag_index = upload.tags.index(&self.sealer, owner).await?;
        let meta = Meta { title: upload.title.0, file_name: upload.file_name, tags: upload.tags.0 };
        let sealed_meta = self.seal_meta(owner, &id, &meta).await?;
        let blob_metadata = BTreeMap::from([("sealed".to_owned(), "true".to_owned())]);
        // A keyed id may hold the blob of an interrupted try of the same
        // upload (no document refers to it yet): overwrite it.
        let mode = if fingerprint.is_some() { PutMode::Overwrite } else { PutMode::CreateOnly };
        self.blobs.put(&path, Bytes::from(sealed), "application/octet-stream", blob_metadata, mode).await?;
        // Quarantined until scanned: the plain copy goes to the scanner.
        let scanner = self.scanner();
        scanner.submit(&path, &upload.content).await?;

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
            upload_fingerprint: fingerprint.clone(),
            scan: Some(crate::scan::Verdict::Pending.as_str().to_owned()),
        };
        let body = serde_json::to_value(&stored).map_err(corrupt)?;
        let result = self.create_with_usage(owner, &id, body, size).await;
        if result.is_err()
            && let Some(fingerprint) = &fingerprint
            && let Some(repeat) = self.repeated(owner, &id, fingerprint).await?
        {
            // A concurrent try of the same upload stored it first; the blob is
            // its (same content), so it stays.
            return Ok(repeat);
        }
        if result.is_err() {
            // Nothing refers to the blob: take it back (a failure here leaves a
            // harmless orphan, as a crash would).
            if let Err(error) = self.blobs.delete(&path).await {
                tracing::warn!(error = %error, "an unused upload blob could not be deleted");
            }
            if let Err(error) = scanner.discard(&path).await {
                tracing::warn!(error = %error, "an unused quarantine copy could not be deleted");
            }
        }
        result?;
        Ok(Uploaded::Created(self.view(owner, &stored).await?))
    }

    /// The document an earlier try under the same key stored, if any; a
    /// different upload under that key is refused.
    async fn repeated(
        &self,
        owner: &str,
        id: &DocumentId,
        fingerprint: &str,
    ) -> Result<Option<Uploaded>, DocumentsError> {
        match self.load(owner, id.as_str()).await? {
            None => Ok(None),
            Some((stored, _)) if stored.upload_fingerprint.as_deref() == Some(fingerprint) => {
                Ok(Some(Uploaded::Repeated(self.view(owner, &stored).await?)))
            }
            Some(_) => Err(DocumentsError::IdempotencyKeyReused),
        }
    }

    async fn create_with_usage(
        &self,
        owner: &str,
        id: &DocumentId,
        body: Value,
        size: u64,
    ) -> Result<(), DocumentsError> {
        let limit = self.settings.quota_bytes;
        for _ in 0..ATTEMPTS {
            let (usage, etag) = self.usage(owner).await?;
            if usage.used_bytes.saturating_add(size) > limit {
                return Err(DocumentsError::QuotaExceeded { used: usage.used_bytes, limit, size });
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
    ) -> Result<(Vec<DocumentView>, Option<String>), DocumentsError> {
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
    ) -> Result<(DocumentView, ETag), DocumentsError> {
        for _ in 0..ATTEMPTS {
            let (mut stored, etag) = self.load(owner, id).await?.ok_or(DocumentsError::NotFound)?;
            if if_match.is_some_and(|header| !if_match_names(header, &etag)) {
                return Err(DocumentsError::Changed);
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
                Err(StoreError::NotFound) => return Err(DocumentsError::NotFound),
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::PreconditionFailed.into())
    }

    /// Deletes a document: the metadata and (for an upload) the usage it
    /// took, in one batch; then its blob and its share links. A crash after
    /// the batch leaves an orphaned sealed blob and share records that expire.
    pub(crate) async fn delete(&self, owner: &str, id: &str, if_match: Option<&str>) -> Result<(), DocumentsError> {
        let mut deleted = None;
        for _ in 0..ATTEMPTS {
            let (stored, etag) = self.load(owner, id).await?.ok_or(DocumentsError::NotFound)?;
            if if_match.is_some_and(|header| !if_match_names(header, &etag)) {
                return Err(DocumentsError::Changed);
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
                Err(StoreError::NotFound) => return Err(DocumentsError::NotFound),
                Err(error) => return Err(error.into()),
            }
        }
        let stored = deleted.ok_or(DocumentsError::Store(StoreError::PreconditionFailed))?;
        if !stored.adopted_blob {
            match BlobPath::parse(stored.blob.clone()) {
                Ok(path) => {
                    match self.blobs.delete(&path).await {
                        Ok(()) | Err(StoreError::NotFound) => {}
                        Err(error) => tracing::warn!(error = %error, "a deleted document's blob stays as an orphan"),
                    }
                    if stored.scan.is_some()
                        && let Err(error) = self.scanner().discard(&path).await
                    {
                        tracing::warn!(error = %error, "a deleted document's quarantine copy stays as an orphan");
                    }
                }
                Err(error) => tracing::warn!(error = %error, "a deleted document named an invalid blob"),
            }
        }
        if let Err(error) = crate::shares::forget_document(self, owner, &stored.id).await {
            tracing::warn!(error = %error, "a deleted document's share records stay until they expire");
        }
        Ok(())
    }
}
