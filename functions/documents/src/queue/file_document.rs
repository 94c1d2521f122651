//! Queue function `FileDocument` (on `document-filed`): files a document that
//! another capability hands over (an archived data message, a receipt, a
//! register extract) under the event's subject.
//!
//! The message is a [`portal_events::Event`] whose `data` is a
//! [`FiledDocument`]; its content was sealed by the producer for (owner =
//! subject, document = `documentId`, field = `content`). Documents opens it
//! once to prove it belongs to this citizen and document (a blob sealed for
//! someone else is refused), but never rewrites it: inline content is written
//! as the blob as it is, a referenced blob is adopted where it lies (and left
//! to its producer when the citizen deletes the document). A title past 200
//! characters is cut, not refused.
//!
//! Idempotent by `documentId`: the metadata `doc-<id>` and the marker
//! `filed-<id>` are created in one batch, last. The marker stays when the
//! citizen deletes the document, so a replay neither files twice nor brings a
//! deleted document back. Write order: (1) marker present → done; (2) blob
//! (inline content, same bytes at a fixed path: a retry overwrites, never
//! duplicates); (3) access-log entry; (4) the batch. A crash anywhere leaves a
//! retry that finishes; a crash between (3) and (4) logs the filing twice
//! (an audit log may repeat; it must not miss).
//!
//! Filed documents do not count toward the upload quota and are never
//! refused for space: the state's documents must always reach the citizen.
//! A payload that can never be filed is a permanent failure naming the
//! reason; store and key-service failures are retryable.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use futures::TryStreamExt as _;
use portal_crypto::CryptoError;
use portal_events::{DOCUMENTS_QUEUE, Event, FiledDocument, SealedContent};
use portal_host::{Failure, Function, InvocationError, Outcome, QueueInvocation};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BatchOp, BlobPath, NewDocument, PutMode, StoreError};
use serde_json::json;

use crate::content::{clean_file_name, essence, is_media_type};
use crate::document::{DOCUMENT_RECORD, DocumentId, Meta, StoredDocument, Title, nanos};
use crate::{COLLECTION, Documents, DocumentsError};

/// The function's name, and the access-log actor of what it files.
pub const FUNCTION: &str = "FileDocument";

/// `FileDocument` on queue `document-filed`.
pub fn function(documents: Arc<Documents>) -> Function {
    Function::queue(FUNCTION, DOCUMENTS_QUEUE, move |invocation: QueueInvocation<Event>| {
        let documents = documents.clone();
        async move {
            // Erasure is final: a late event for an erased citizen is dropped and recorded.
            documents.sealer.keys().refuse_erased(&invocation.message.subject).await?;
            file_document(&documents, &invocation.message).await
        }
    })
}

#[derive(Debug, thiserror::Error)]
pub enum FilingError {
    /// The payload can never be filed.
    #[error("the filed document is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Documents(#[from] DocumentsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl Failure for FilingError {
    /// Whether a retry can help: store and key-service failures can pass;
    /// a bad payload, or content that does not open for this citizen, cannot.
    fn is_retryable(&self) -> bool {
        fn store(error: &StoreError) -> bool {
            !matches!(error, StoreError::Invalid(_) | StoreError::NotFound)
        }
        fn crypto(error: &CryptoError) -> bool {
            match error {
                CryptoError::Store(error) => store(error),
                error => error.is_retryable(),
            }
        }
        match self {
            Self::Invalid(_) => false,
            Self::Store(error) => store(error),
            Self::Crypto(error) => crypto(error),
            Self::Documents(DocumentsError::Store(error)) => store(error),
            Self::Documents(DocumentsError::Crypto(error)) => crypto(error),
            Self::Documents(error) => error.is_retryable(),
        }
    }
}

fn invalid(reason: impl Into<String>) -> FilingError {
    FilingError::Invalid(reason.into())
}

fn is_name(value: &str) -> bool {
    (1..=40).contains(&value.len()) && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn marker_id(id: &DocumentId) -> String {
    format!("filed-{id}")
}

/// A filing checked once, at the edge of the function.
struct Filing {
    subject: SubjectId,
    id: DocumentId,
    title: Title,
    kind: String,
    source: String,
    source_ref: Option<String>,
    media_type: String,
    file_name: String,
    size: u64,
    content: SealedContent,
    simulated: bool,
}

fn parse(event: &Event) -> Result<Filing, FilingError> {
    let subject = SubjectId::parse(event.subject.clone()).map_err(|e| invalid(format!("subject: {e}")))?;
    let filed: FiledDocument =
        event.data_as().map_err(|e| invalid(format!("data is not a FiledDocument ({}): {e}", event.kind)))?;
    let id = DocumentId::parse(&filed.document_id).map_err(|e| invalid(format!("documentId: {e}")))?;
    let title = Title::lenient(&filed.title).ok_or_else(|| invalid("title: must not be empty"))?;
    if !is_name(&filed.kind) || filed.kind == "upload" {
        return Err(invalid("kind: 1-40 lower-case letters, digits or '-', and not 'upload'"));
    }
    if !is_name(&filed.source) || filed.source == "citizen" {
        return Err(invalid("source: 1-40 lower-case letters, digits or '-', and not 'citizen'"));
    }
    if filed.source_ref.chars().count() > 200 || filed.source_ref.chars().any(char::is_control) {
        return Err(invalid("sourceRef: at most 200 characters without control characters"));
    }
    let media_type = essence(&filed.media_type);
    if !is_media_type(&media_type) {
        return Err(invalid("mediaType: a media type such as application/pdf"));
    }
    let file_name = clean_file_name(&filed.file_name, &media_type);
    let source_ref = (!filed.source_ref.is_empty()).then(|| filed.source_ref.clone());
    Ok(Filing {
        subject,
        id,
        title,
        kind: filed.kind,
        source: filed.source,
        source_ref,
        media_type,
        file_name,
        size: filed.size,
        content: filed.content,
        simulated: filed.simulated,
    })
}

/// The queue function `FileDocument`: one event, filed once.
pub async fn file_document(documents: &Documents, event: &Event) -> Result<Outcome, InvocationError> {
    Ok(file(documents, event).await?)
}

async fn file(documents: &Documents, event: &Event) -> Result<Outcome, FilingError> {
    let filing = parse(event)?;
    let owner = filing.subject.as_str();
    if documents.documents.get(COLLECTION, owner, &marker_id(&filing.id)).await?.is_some() {
        return Ok(Outcome::done().log(format!("document {} was filed before; nothing to do", filing.id)));
    }
    let opens = |error: CryptoError| match error {
        CryptoError::Tampered | CryptoError::Malformed(_) | CryptoError::UnsupportedFormat(_) => {
            invalid("content: it does not open for this citizen and documentId")
        }
        CryptoError::UnknownKey | CryptoError::Shredded => {
            invalid("content: the citizen has no data key (never created, or erased)")
        }
        error => FilingError::Crypto(error),
    };
    let (path, plain_size, adopted_blob) = match &filing.content {
        SealedContent::Inline { sealed } => {
            let sealed = base64::engine::general_purpose::STANDARD
                .decode(sealed)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sealed))
                .map_err(|_| invalid("content.sealed: not base64"))?;
            let plain = documents.sealer.decrypt(owner, filing.id.as_str(), "content", &sealed).await.map_err(opens)?;
            let path = Documents::blob_path(owner, &filing.id)?;
            let metadata = BTreeMap::from([("sealed".to_owned(), "true".to_owned())]);
            documents
                .blobs
                .put(&path, Bytes::from(sealed), "application/octet-stream", metadata, PutMode::Overwrite)
                .await?;
            (path, plain.len() as u64, false)
        }
        SealedContent::Blob { path } => {
            let path = BlobPath::parse(path.clone()).map_err(|_| invalid("content.path: not a valid blob path"))?;
            let stream = match documents.blobs.get(&path).await {
                Ok((_, stream)) => stream,
                Err(StoreError::NotFound) => return Err(invalid("content.path: no such blob")),
                Err(error) => return Err(error.into()),
            };
            let sealed: Vec<Bytes> = stream.try_collect().await?;
            let plain = documents
                .sealer
                .decrypt(owner, filing.id.as_str(), "content", &sealed.concat())
                .await
                .map_err(opens)?;
            (path, plain.len() as u64, true)
        }
    };
    if plain_size != filing.size {
        tracing::warn!(
            declared = filing.size,
            actual = plain_size,
            "a filed document's size was wrong; kept the actual"
        );
    }

    let meta = Meta { title: filing.title.as_str().to_owned(), file_name: filing.file_name.clone(), tags: Vec::new() };
    let sealed_meta = documents.seal_meta(owner, &filing.id, &meta).await?;
    let now = documents.clock.now();
    let stored = StoredDocument {
        record: DOCUMENT_RECORD.into(),
        id: filing.id.as_str().to_owned(),
        kind: filing.kind.clone(),
        source: filing.source.clone(),
        source_ref: filing.source_ref.clone(),
        media_type: filing.media_type.clone(),
        size: plain_size,
        quota_bytes: 0,
        tag_index: BTreeMap::new(),
        blob: path.as_str().to_owned(),
        adopted_blob,
        meta: sealed_meta,
        created_at: now,
        created_at_nanos: nanos(now),
        updated_at: None,
        simulated: filing.simulated,
        upload_fingerprint: None,
        // Filed by the state (a data message, a receipt): not scanned.
        scan: None,
    };
    let body = serde_json::to_value(&stored).map_err(|e| invalid(e.to_string()))?;
    let entry = AccessEntry::new(
        Actor::System { job: FUNCTION.into() },
        Action::Create,
        "document",
        filing.id.as_str(),
        &format!("dokument zařazen do Dokumentů (zdroj: {})", filing.source),
    );
    documents.access_log.record(&filing.subject, entry).await?;
    let marker = NewDocument::new(
        owner,
        marker_id(&filing.id),
        json!({"type": "filed-marker", "documentId": filing.id.as_str(), "eventId": event.id,
               "filedAt": now.unix_timestamp()}),
    );
    let ops = vec![BatchOp::Create(NewDocument::new(owner, filing.id.store_id(), body)), BatchOp::Create(marker)];
    match documents.documents.batch(COLLECTION, owner, ops).await {
        Ok(_) => Ok(Outcome::done().log(format!("filed document {} ({})", filing.id, filing.kind))),
        // Another delivery of the same event filed it first.
        Err(StoreError::Conflict) => Ok(Outcome::done().log(format!("document {} was filed concurrently", filing.id))),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn event(data: serde_json::Value) -> Event {
        Event::new(portal_events::kinds::DOCUMENT_FILED, "x", "DEMO%2Fjana", datetime!(2026-11-23 08:00 UTC), data)
    }

    fn payload() -> serde_json::Value {
        json!({"documentId": "receipt-p1", "title": "Potvrzení o platbě", "kind": "receipt", "source": "databox",
               "sourceRef": "p1", "mediaType": "text/plain", "fileName": "potvrzeni.txt", "size": 3,
               "content": {"kind": "inline", "sealed": "AAAA"}})
    }

    #[test]
    fn a_good_payload_parses_and_bad_ones_name_their_field() {
        let filing = parse(&event(payload())).map_err(|e| e.to_string()).expect("valid");
        assert_eq!(filing.id.as_str(), "receipt-p1");
        assert_eq!(filing.source_ref.as_deref(), Some("p1"));
        let cases = [
            ("documentId", json!("a/b")),
            ("title", json!("")),
            ("kind", json!("upload")),
            ("kind", json!("Receipt")),
            ("source", json!("citizen")),
            ("mediaType", json!("pdf")),
        ];
        for (field, value) in cases {
            let mut data = payload();
            data[field] = value;
            let error = parse(&event(data)).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(field), "{field}: {error}");
        }
        let error = parse(&event(json!({"messageId": "1"}))).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("not a FiledDocument"), "{error}");
        let mut bad_subject = event(payload());
        bad_subject.subject = "a/b".into();
        assert!(matches!(parse(&bad_subject), Err(FilingError::Invalid(_))));
    }

    #[test]
    fn store_failures_are_retried_and_bad_input_is_not() {
        assert!(FilingError::Store(StoreError::Throttled { retry_after: None }).is_retryable());
        assert!(FilingError::Store(StoreError::Backend("x".into())).is_retryable());
        assert!(!FilingError::Store(StoreError::Invalid("x".into())).is_retryable());
        assert!(!invalid("x").is_retryable());
        assert!(FilingError::Crypto(CryptoError::Contended).is_retryable());
        assert!(!FilingError::Crypto(CryptoError::Tampered).is_retryable());
    }
}
