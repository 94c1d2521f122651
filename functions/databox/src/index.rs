//! Jobs walk "every citizen with a data box" without cross-partition queries:
//! each linked citizen has an entry in one of [`BUCKETS`] index partitions.

use portal_store::{DocumentStore, NewDocument, Query, StoreError};
use serde_json::json;

pub const COLLECTION: &str = "databox";
pub const BUCKETS: u8 = 64;

fn bucket(subject: &str) -> String {
    let digest = fnv1a(subject);
    format!("box-index-{:02}", digest % u32::from(BUCKETS))
}

/// FNV-1a: stable across processes and versions (no std hasher).
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193))
}

/// Adds the citizen to the index (idempotent).
pub async fn register(documents: &dyn DocumentStore, subject: &str) -> Result<(), StoreError> {
    let entry = NewDocument::new(bucket(subject), subject, json!({"type": "box-index"}));
    match documents.create(COLLECTION, entry).await {
        Ok(_) | Err(StoreError::Conflict) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Every indexed citizen, bucket by bucket, in a stable order.
pub async fn all(documents: &dyn DocumentStore) -> Result<Vec<String>, StoreError> {
    let mut subjects = Vec::new();
    for b in 0..BUCKETS {
        let partition = format!("box-index-{b:02}");
        let mut continuation = None;
        loop {
            let page = documents
                .query(COLLECTION, &partition, Query::default().page_size(1000).after(continuation.take()))
                .await?;
            subjects.extend(page.items.into_iter().map(|doc| doc.id));
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
    }
    Ok(subjects)
}

/// Takes the citizen out of the index (idempotent: an entry already gone is
/// fine). Used when the citizen erases their account.
pub async fn unregister(documents: &dyn DocumentStore, subject: &str) -> Result<(), StoreError> {
    match documents.delete(COLLECTION, &bucket(subject), subject, None).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(error) => Err(error),
    }
}
