use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::document::ETag;
use crate::error::{StoreError, StoreResult};

/// A blob's name inside the portal's container: `/`-separated segments of
/// letters, digits, `-`, `_`, `.` and `=`, 1–1024 characters, no `..`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobPath(String);

impl BlobPath {
    pub fn parse(path: impl Into<String>) -> StoreResult<Self> {
        let path = path.into();
        let ok = !path.is_empty()
            && path.len() <= 1024
            && path.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '='))
            });
        if ok { Ok(Self(path)) } else { Err(StoreError::Invalid(format!("'{path}' is not a valid blob path"))) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a put does when the blob exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    Overwrite,
    /// Fail with [`StoreError::Conflict`] if the blob exists.
    CreateOnly,
}

/// A blob's properties.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobInfo {
    pub path: BlobPath,
    pub content_type: String,
    pub size: u64,
    pub etag: ETag,
    pub metadata: BTreeMap<String, String>,
}

/// A blob's content, chunk by chunk.
pub type BlobStream = Pin<Box<dyn Stream<Item = StoreResult<Bytes>> + Send>>;

/// Content a caller produces chunk by chunk for [`BlobStore::put_stream`]
/// (an upload sealed as it arrives); it may borrow from the caller.
pub type BlobChunks<'a> = Pin<Box<dyn Stream<Item = StoreResult<Bytes>> + Send + 'a>>;

/// Opaque content (documents, attachments, ZFO files), already encrypted by the
/// caller where it is personal.
#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Stores `content`. Metadata keys are ASCII identifiers (as Azure requires).
    async fn put(
        &self,
        path: &BlobPath,
        content: Bytes,
        content_type: &str,
        metadata: BTreeMap<String, String>,
        mode: PutMode,
    ) -> StoreResult<BlobInfo>;

    /// Stores content that arrives chunk by chunk without ever holding it
    /// whole: the embedded store appends to a file, Azure stages blocks and
    /// commits their list. Like [`put`](Self::put), the blob appears whole or
    /// not at all: if the stream yields an `Err` (the caller gives up, such as
    /// an upload found too large or malformed) or the store fails, nothing is
    /// stored and an earlier blob at `path` stays as it was. The default
    /// collects the stream and calls `put`.
    async fn put_stream(
        &self,
        path: &BlobPath,
        content: BlobChunks<'_>,
        content_type: &str,
        metadata: BTreeMap<String, String>,
        mode: PutMode,
    ) -> StoreResult<BlobInfo> {
        use futures::TryStreamExt as _;
        let chunks: Vec<Bytes> = content.try_collect().await?;
        self.put(path, Bytes::from(chunks.concat()), content_type, metadata, mode).await
    }

    /// The blob's properties and a stream of its content.
    async fn get(&self, path: &BlobPath) -> StoreResult<(BlobInfo, BlobStream)>;

    /// Deletes the blob; [`StoreError::NotFound`] if there is none.
    async fn delete(&self, path: &BlobPath) -> StoreResult<()>;

    /// Every blob whose path starts with `prefix`, in path order.
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobInfo>>;

    async fn ping(&self) -> StoreResult<()>;

    /// The blob's index tags (Azure: Get Blob Tags), which services such as
    /// Defender for Storage's malware scanning write; [`StoreError::NotFound`]
    /// if there is no blob. A store without tags has none to report.
    async fn tags(&self, path: &BlobPath) -> StoreResult<BTreeMap<String, String>> {
        self.get(path).await.map(|_| BTreeMap::new())
    }
}

pub(crate) fn check_metadata(metadata: &BTreeMap<String, String>) -> StoreResult<()> {
    for (key, value) in metadata {
        let key_ok = !key.is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !key.starts_with(|c: char| c.is_ascii_digit());
        if !key_ok || !value.is_ascii() || value.chars().any(|c| c.is_ascii_control()) {
            return Err(StoreError::Invalid(format!(
                "metadata '{key}' must have an identifier name and a printable ASCII value"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_paths_cannot_escape_their_folder() {
        assert!(BlobPath::parse("citizens/abc/doc-1.pdf").is_ok());
        for bad in ["", "/abs", "a//b", "../etc/passwd", "a/../b", "a/./b", "sp ace", "a\\b"] {
            assert!(BlobPath::parse(bad).is_err(), "{bad}");
        }
    }
}
