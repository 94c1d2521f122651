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

/// A file part whose name and type were checked, and its content as it arrives.
pub(crate) struct Incoming<S> {
    pub file_name: String,
    pub media_type: String,
    pub content: S,
    /// The client's `Idempotency-Key`, checked (1-255 visible ASCII characters).
    pub idempotency_key: Option<String>,
    /// The largest file accepted, in bytes.
    pub max_bytes: u64,
}

/// Why an upload stopped while its content arrived.
#[derive(Debug)]
pub(crate) enum UploadFailure<E> {
    /// The incoming body failed (a broken or oversized form).
    Incoming(E),
    TooLarge,
    Empty,
    /// The content is not what its type says: the rule broken.
    Content(String),
    Documents(DocumentsError),
}

impl<E> From<DocumentsError> for UploadFailure<E> {
    fn from(error: DocumentsError) -> Self {
        Self::Documents(error)
    }
}

impl<E> From<StoreError> for UploadFailure<E> {
    fn from(error: StoreError) -> Self {
        Self::Documents(error.into())
    }
}

impl<E> From<portal_crypto::CryptoError> for UploadFailure<E> {
    fn from(error: portal_crypto::CryptoError) -> Self {
        Self::Documents(error.into())
    }
}

/// An upload's content, sealed and stored (with its quarantine copy), not
/// yet a document; or the document an earlier try under the same key stored.
#[derive(Debug)]
pub(crate) enum Staged {
    Stored(StagedFile),
    Repeated(DocumentView),
}

#[derive(Debug)]
pub(crate) struct StagedFile {
    id: DocumentId,
    path: BlobPath,
    size: u64,
    media_type: String,
    file_name: String,
    fingerprint: Option<String>,
}

impl StagedFile {
    pub(crate) fn file_name(&self) -> &str {
        &self.file_name
    }
}

/// The upload as it streams through: checked, counted, fingerprinted (a
/// keyed upload) and sealed chunk by chunk.
struct Sealing<S, E> {
    input: S,
    check: crate::content::StreamCheck,
    digest: Option<aws_lc_rs::digest::Context>,
    sealer: Option<portal_crypto::stream::StreamSealer>,
    pending: bytes::BytesMut,
    size: u64,
    max: u64,
    used: u64,
    limit: u64,
    header_sent: bool,
    done: bool,
    failure: Option<UploadFailure<E>>,
}

impl<S, E> Sealing<S, E>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
{
    fn fail(&mut self, failure: UploadFailure<E>) -> Option<Result<Bytes, StoreError>> {
        self.failure = Some(failure);
        self.done = true;
        Some(Err(StoreError::Invalid("the upload was refused while it arrived".into())))
    }

    fn seal(&mut self, last: bool) -> Option<Result<Bytes, StoreError>> {
        use portal_crypto::stream::CHUNK_SIZE;
        let take = if last { self.pending.len() } else { CHUNK_SIZE };
        let plain = self.pending.split_to(take);
        let sealer = self.sealer.as_mut()?;
        match sealer.seal_chunk(&plain, last) {
            Ok(sealed) => Some(Ok(Bytes::from(sealed))),
            Err(error) => self.fail(UploadFailure::Documents(error.into())),
        }
    }

    /// The next piece of sealed content (none at all without a sealer, when
    /// the upload is only checked and fingerprinted).
    async fn next(&mut self) -> Option<Result<Bytes, StoreError>> {
        use futures::StreamExt as _;
        use portal_crypto::stream::CHUNK_SIZE;
        if self.done {
            return None;
        }
        if !self.header_sent
            && let Some(sealer) = &self.sealer
        {
            self.header_sent = true;
            return Some(Ok(Bytes::copy_from_slice(sealer.header())));
        }
        loop {
            if self.sealer.is_some() && self.pending.len() > CHUNK_SIZE {
                return self.seal(false);
            }
            match self.input.next().await {
                Some(Ok(piece)) => {
                    self.size += piece.len() as u64;
                    if self.size > self.max {
                        return self.fail(UploadFailure::TooLarge);
                    }
                    if self.used.saturating_add(self.size) > self.limit {
                        let (used, limit, size) = (self.used, self.limit, self.size);
                        return self.fail(DocumentsError::QuotaExceeded { used, limit, size }.into());
                    }
                    if let Err(rule) = self.check.push(&piece) {
                        return self.fail(UploadFailure::Content(rule));
                    }
                    if let Some(digest) = &mut self.digest {
                        digest.update(&piece);
                    }
                    if self.sealer.is_some() {
                        self.pending.extend_from_slice(&piece);
                    }
                }
                Some(Err(error)) => return self.fail(UploadFailure::Incoming(error)),
                None => {
                    self.done = true;
                    if self.size == 0 {
                        return self.fail(UploadFailure::Empty);
                    }
                    let check = std::mem::replace(&mut self.check, crate::content::StreamCheck::new(""));
                    if let Err(rule) = check.finish() {
                        return self.fail(UploadFailure::Content(rule));
                    }
                    return if self.sealer.is_some() { self.seal(true) } else { None };
                }
            }
        }
    }
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

    /// Stores an upload's content as it arrives, never holding it whole
    /// (but for the structure check of a PDF or PNG,
    /// [`crate::content::StreamCheck`]): checked against its type, the size
    /// limit and the quota piece by piece, sealed in 64 KiB chunks (format 2)
    /// and streamed into its blob ([`portal_store::BlobStore::put_stream`]:
    /// a refused upload stores nothing). The quarantine copy for the malware
    /// scanner is then streamed from the stored blob, opened chunk by chunk.
    /// [`finish_upload`](Self::finish_upload) makes it a document.
    ///
    /// With an `Idempotency-Key` the id follows from the key, so a repeat
    /// (the answer was lost, or the access log could not be written) finds the
    /// document the first try stored: its content is only fingerprinted, never
    /// stored again, and the earlier document is the answer (one document, one
    /// blob; a blob an interrupted try left under that id is overwritten). The
    /// same key with other content is refused.
    pub(crate) async fn stage_upload<S, E>(
        &self,
        owner: &str,
        incoming: Incoming<S>,
    ) -> Result<Staged, UploadFailure<E>>
    where
        S: futures::Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: Send,
    {
        let Incoming { file_name, media_type, content, idempotency_key, max_bytes } = incoming;
        let (id, existing) = match &idempotency_key {
            Some(key) => {
                let index = self.sealer.blind_index(owner, "upload idempotency key", key.as_bytes()).await?;
                let id = DocumentId::keyed_upload(&index);
                let existing = self.load(owner, id.as_str()).await?;
                (id, existing.is_some())
            }
            None => (DocumentId::new_upload(), false),
        };
        let (usage, _) = self.usage(owner).await?;
        let path = Self::blob_path(owner, &id)?;
        let mut sealing = Sealing {
            input: content,
            check: crate::content::StreamCheck::new(&media_type),
            digest: idempotency_key.is_some().then(|| aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256)),
            sealer: if existing { None } else { Some(self.sealer.stream_sealer(owner, id.as_str(), "content").await?) },
            pending: bytes::BytesMut::new(),
            size: 0,
            max: max_bytes,
            // A repeat adds nothing to the usage.
            used: if existing { 0 } else { usage.used_bytes },
            limit: if existing { u64::MAX } else { self.settings.quota_bytes },
            header_sent: false,
            done: false,
            failure: None,
        };
        if existing {
            while let Some(piece) = sealing.next().await {
                if piece.is_err() {
                    break;
                }
            }
        } else {
            let sealed = futures::stream::unfold(&mut sealing, |sealing| async move {
                let next = sealing.next().await?;
                Some((next, sealing))
            });
            let blob_metadata = BTreeMap::from([("sealed".to_owned(), "true".to_owned())]);
            // A keyed id may hold the blob of an interrupted try of the same
            // upload (no document refers to it yet): overwrite it.
            let mode = if idempotency_key.is_some() { PutMode::Overwrite } else { PutMode::CreateOnly };
            let stored =
                self.blobs.put_stream(&path, Box::pin(sealed), "application/octet-stream", blob_metadata, mode).await;
            if let Some(failure) = sealing.failure.take() {
                return Err(failure);
            }
            stored?;
        }
        if let Some(failure) = sealing.failure.take() {
            return Err(failure);
        }
        let fingerprint = match sealing.digest.take() {
            Some(digest) => {
                let mut described = digest.finish().as_ref().to_vec();
                for part in [media_type.as_str(), file_name.as_str()] {
                    described.push(0);
                    described.extend_from_slice(part.as_bytes());
                }
                Some(self.sealer.blind_index(owner, "upload fingerprint", &described).await?)
            }
            None => None,
        };
        if existing {
            let fingerprint = fingerprint.unwrap_or_default();
            return match self.repeated(owner, &id, &fingerprint).await? {
                Some(repeat) => Ok(Staged::Repeated(repeat.view().clone())),
                // Deleted since: nothing to repeat, and nothing was stored.
                None => Err(DocumentsError::NotFound.into()),
            };
        }
        let staged = StagedFile { id, path, size: sealing.size, media_type, file_name, fingerprint };
        // Quarantined until scanned: the plain copy goes to the scanner,
        // opened from the stored blob as it streams.
        let quarantined = async {
            use futures::TryStreamExt as _;
            let plain = self.opened_stream(owner, staged.id.as_str(), &staged.path).await?;
            self.scanner()
                .submit_stream(&staged.path, Box::pin(plain.map_err(|error| StoreError::Backend(Box::new(error)))))
                .await?;
            Ok::<_, DocumentsError>(())
        }
        .await;
        if let Err(error) = quarantined {
            self.discard_staged(&staged).await;
            return Err(error.into());
        }
        Ok(Staged::Stored(staged))
    }

    /// Takes back a staged upload that will not become a document (a failure
    /// here leaves a harmless orphan, as a crash would).
    pub(crate) async fn discard_staged(&self, staged: &StagedFile) {
        if let Err(error) = self.blobs.delete(&staged.path).await
            && !matches!(error, StoreError::NotFound)
        {
            tracing::warn!(error = %error, "an unused upload blob could not be deleted");
        }
        if let Err(error) = self.scanner().discard(&staged.path).await {
            tracing::warn!(error = %error, "an unused quarantine copy could not be deleted");
        }
    }

    /// Makes a staged upload a document: the metadata created in one batch
    /// with the usage it adds to (under the usage's ETag, re-read and
    /// re-checked after a lost race). A crash between staging and this leaves
    /// an unreferenced sealed blob: it is never listed, never counted, and
    /// unreadable once the citizen's key is shredded.
    pub(crate) async fn finish_upload(
        &self,
        owner: &str,
        staged: StagedFile,
        title: Title,
        tags: Tags,
    ) -> Result<Uploaded, DocumentsError> {
        let StagedFile { id, path, size, media_type, file_name, fingerprint } = staged;
        let tag_index = tags.index(&self.sealer, owner).await?;
        let meta = Meta { title: title.0, file_name: file_name.clone(), tags: tags.0 };
        let sealed_meta = self.seal_meta(owner, &id, &meta).await?;
        let now = self.clock.now();
        let stored = StoredDocument {
            record: DOCUMENT_RECORD.into(),
            id: id.as_str().to_owned(),
            kind: "upload".into(),
            source: "citizen".into(),
            source_ref: None,
            media_type: media_type.clone(),
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
            let staged = StagedFile { id: id.clone(), path, size, media_type, file_name, fingerprint };
            self.discard_staged(&staged).await;
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
