use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{OptionalExtension, params};
use tokio::io::AsyncReadExt as _;

use super::{EmbeddedStore, new_etag, sql_error};
use crate::blob::{BlobChunks, BlobInfo, BlobPath, BlobStore, BlobStream, PutMode, check_metadata};
use crate::document::ETag;
use crate::error::{StoreError, StoreResult};

const CHUNK: usize = 64 * 1024;

/// Blobs up to this size live in their row (`blobs.content`, `file` empty):
/// one write in the writer's group commit instead of a file, its fsync and its
/// folder's fsync. SQLite reads and writes blobs of this size faster than the
/// file system does (sqlite.org, "35% Faster Than The Filesystem" and "Internal
/// Versus External BLOBs"), and an archive of 100,000 small messages becomes a
/// stream of group-committed rows. Larger blobs stay files, streamed.
pub(super) const INLINE_MAX: usize = 64 * 1024;

/// Files younger than this are never treated as orphans: a put may be between
/// its rename and its commit.
const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

type BlobRow = (String, String, String, i64, String, String);

fn row_to_blob(row: &rusqlite::Row<'_>) -> rusqlite::Result<BlobRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
}

fn into_info((path, _file, content_type, size, etag, metadata): BlobRow) -> StoreResult<BlobInfo> {
    Ok(BlobInfo {
        path: BlobPath::parse(path)?,
        content_type,
        size: u64::try_from(size).unwrap_or(0),
        etag: ETag::new(etag),
        metadata: serde_json::from_str(&metadata).map_err(StoreError::backend)?,
    })
}

impl EmbeddedStore {
    fn data_file(&self, file: &str) -> std::path::PathBuf {
        self.inner.blob_dir.join("data").join(file)
    }

    /// Writes the row that makes a blob visible: either its durable `file` or
    /// its `content` inline. A file the row replaces is removed after the commit.
    #[allow(clippy::too_many_arguments)]
    async fn put_row(
        &self,
        path: &BlobPath,
        file: Option<String>,
        content: Option<Bytes>,
        size: usize,
        content_type: &str,
        metadata: BTreeMap<String, String>,
        mode: PutMode,
    ) -> StoreResult<BlobInfo> {
        let etag = new_etag();
        let info = BlobInfo {
            path: path.clone(),
            content_type: content_type.to_owned(),
            size: size as u64,
            etag: ETag::new(etag.clone()),
            metadata: metadata.clone(),
        };
        let (key, content_type, metadata_json) = (
            path.as_str().to_owned(),
            content_type.to_owned(),
            serde_json::to_string(&metadata).map_err(StoreError::backend)?,
        );
        let previous = self
            .write(move |conn| {
                let previous: Option<String> = conn
                    .prepare_cached("SELECT file FROM blobs WHERE path = ?1")
                    .and_then(|mut statement| statement.query_row(params![key], |row| row.get(0)))
                    .optional()
                    .map_err(sql_error)?;
                if previous.is_some() && mode == PutMode::CreateOnly {
                    return Err(StoreError::Conflict);
                }
                conn.prepare_cached(
                    "INSERT INTO blobs (path, file, content_type, size, etag, metadata, content)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (path) DO UPDATE SET file = excluded.file, content_type = excluded.content_type,
                       size = excluded.size, etag = excluded.etag, metadata = excluded.metadata,
                       content = excluded.content",
                )
                .and_then(|mut statement| {
                    statement.execute(params![
                        key,
                        file.unwrap_or_default(),
                        content_type,
                        i64::try_from(size).unwrap_or(i64::MAX),
                        etag,
                        metadata_json,
                        content.as_deref(),
                    ])
                })
                .map_err(sql_error)?;
                Ok(previous)
            })
            .await?;
        if let Some(previous) = previous.filter(|file| !file.is_empty()) {
            let _ = tokio::fs::remove_file(self.data_file(&previous)).await;
        }
        Ok(info)
    }

    /// Deletes blob files that no row references (left by a crash mid-put).
    pub(super) async fn purge_orphan_blob_files(&self) -> StoreResult<usize> {
        let referenced: std::collections::HashSet<String> = self
            .read(|conn| {
                let mut statement = conn.prepare("SELECT file FROM blobs WHERE file != ''").map_err(sql_error)?;
                let files = statement.query_map([], |row| row.get(0)).map_err(sql_error)?;
                files.collect::<Result<_, _>>().map_err(sql_error)
            })
            .await?;
        let blob_dir = self.inner.blob_dir.clone();
        tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            for sub in ["data", "tmp"] {
                let Ok(entries) = std::fs::read_dir(blob_dir.join(sub)) else { continue };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let old = entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                        .is_some_and(|age| age > ORPHAN_GRACE);
                    if old
                        && (sub == "tmp" || !referenced.contains(&name))
                        && std::fs::remove_file(entry.path()).is_ok()
                    {
                        removed += 1;
                    }
                }
            }
            removed
        })
        .await
        .map_err(StoreError::backend)
    }
}

#[async_trait]
impl BlobStore for EmbeddedStore {
    #[tracing::instrument(
        name = "blob.put",
        skip_all,
        fields(
            backend = "embedded", size = content.len(),
            otel.kind = "client",
            dependency.type = "File system",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn put(
        &self,
        path: &BlobPath,
        content: Bytes,
        content_type: &str,
        metadata: BTreeMap<String, String>,
        mode: PutMode,
    ) -> StoreResult<BlobInfo> {
        check_metadata(&metadata)?;
        let size = content.len();
        if size <= INLINE_MAX {
            return self.put_row(path, None, Some(content), size, content_type, metadata, mode).await;
        }
        let file = new_etag();
        let (tmp, data) = (self.inner.blob_dir.join("tmp").join(&file), self.data_file(&file));
        // Durable file first, then the row that makes it visible.
        tokio::task::spawn_blocking({
            let (tmp, data) = (tmp.clone(), data.clone());
            move || -> std::io::Result<()> {
                let mut out = std::fs::File::create(&tmp)?;
                out.write_all(&content)?;
                out.sync_all()?;
                std::fs::rename(&tmp, &data)?;
                if let Some(dir) = data.parent() {
                    std::fs::File::open(dir)?.sync_all()?;
                }
                Ok(())
            }
        })
        .await
        .map_err(StoreError::backend)?
        .map_err(StoreError::backend)?;

        let put = self.put_row(path, Some(file), None, size, content_type, metadata, mode).await;
        if put.is_err() {
            let _ = tokio::fs::remove_file(&data).await;
        }
        put
    }

    async fn put_stream(
        &self,
        path: &BlobPath,
        content: BlobChunks<'_>,
        content_type: &str,
        metadata: BTreeMap<String, String>,
        mode: PutMode,
    ) -> StoreResult<BlobInfo> {
        self.put_streamed(path, content, content_type, metadata, mode).await
    }

    #[tracing::instrument(
        name = "blob.get",
        skip_all,
        fields(
            backend = "embedded",
            otel.kind = "client",
            dependency.type = "File system",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn get(&self, path: &BlobPath) -> StoreResult<(BlobInfo, BlobStream)> {
        let key = path.as_str();
        let (row, inline) = self
            .read(|conn| {
                conn.prepare_cached(
                    "SELECT path, file, content_type, size, etag, metadata, content FROM blobs WHERE path = ?1",
                )
                .and_then(|mut statement| {
                    statement.query_row(params![key], |row| Ok((row_to_blob(row)?, row.get::<_, Option<Vec<u8>>>(6)?)))
                })
                .optional()
                .map_err(sql_error)
            })
            .await?
            .ok_or(StoreError::NotFound)?;
        if row.1.is_empty() {
            // Inline: the row's content is the whole blob, read in the same
            // snapshot as the row itself.
            let content = Bytes::from(inline.unwrap_or_default());
            let info = into_info(row)?;
            let chunks = (!content.is_empty()).then_some(Ok(content));
            return Ok((info, Box::pin(futures::stream::iter(chunks))));
        }
        // Open before answering: once open, a concurrent overwrite or delete
        // cannot take the content away from this reader.
        let file = tokio::fs::File::open(self.data_file(&row.1)).await.map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotFound,
            _ => StoreError::backend(error),
        })?;
        let info = into_info(row)?;
        let stream = futures::stream::try_unfold(file, |mut file| async move {
            let mut buffer = vec![0; CHUNK];
            let read = file.read(&mut buffer).await.map_err(StoreError::backend)?;
            if read == 0 {
                return Ok(None);
            }
            buffer.truncate(read);
            Ok(Some((Bytes::from(buffer), file)))
        });
        Ok((info, Box::pin(stream)))
    }

    #[tracing::instrument(
        name = "blob.delete",
        skip_all,
        fields(
            backend = "embedded",
            otel.kind = "client",
            dependency.type = "File system",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn delete(&self, path: &BlobPath) -> StoreResult<()> {
        let key = path.as_str().to_owned();
        let file = self
            .write(move |conn| {
                let file: Option<String> = conn
                    .prepare_cached("SELECT file FROM blobs WHERE path = ?1")
                    .and_then(|mut statement| statement.query_row(params![key], |row| row.get(0)))
                    .optional()
                    .map_err(sql_error)?;
                conn.prepare_cached("DELETE FROM blobs WHERE path = ?1")
                    .and_then(|mut statement| statement.execute(params![key]))
                    .map_err(sql_error)?;
                file.ok_or(StoreError::NotFound)
            })
            .await?;
        if !file.is_empty() {
            let _ = tokio::fs::remove_file(self.data_file(&file)).await;
        }
        Ok(())
    }

    #[tracing::instrument(
        name = "blob.list",
        skip_all,
        fields(
            backend = "embedded",
            otel.kind = "client",
            dependency.type = "File system",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobInfo>> {
        let rows = self
            .read(|conn| {
                let mut statement = conn
                    .prepare_cached(
                        "SELECT path, file, content_type, size, etag, metadata FROM blobs
                         WHERE substr(path, 1, length(?1)) = ?1 ORDER BY path",
                    )
                    .map_err(sql_error)?;
                let rows = statement.query_map(params![prefix], row_to_blob).map_err(sql_error)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)
            })
            .await?;
        rows.into_iter().map(into_info).collect()
    }

    async fn ping(&self) -> StoreResult<()> {
        tokio::fs::metadata(self.inner.blob_dir.join("data")).await.map(drop).map_err(StoreError::unavailable)
    }
}

impl EmbeddedStore {
    /// [`BlobStore::put_stream`]: the first [`INLINE_MAX`] bytes are held; a
    /// blob that ends within them goes inline like a small `put`, a larger one
    /// is appended chunk by chunk to a temporary file, made durable and renamed
    /// as `put` does. A failed stream removes the temporary file; no row changes.
    #[tracing::instrument(
        name = "blob.put_stream",
        skip_all,
        fields(
            backend = "embedded", size = tracing::field::Empty,
            otel.kind = "client",
            dependency.type = "File system",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn put_streamed(
        &self,
        path: &BlobPath,
        mut content: BlobChunks<'_>,
        content_type: &str,
        metadata: BTreeMap<String, String>,
        mode: PutMode,
    ) -> StoreResult<BlobInfo> {
        use futures::TryStreamExt as _;
        use tokio::io::AsyncWriteExt as _;
        check_metadata(&metadata)?;
        let mut head = bytes::BytesMut::new();
        while head.len() <= INLINE_MAX {
            let Some(chunk) = content.try_next().await? else {
                let size = head.len();
                tracing::Span::current().record("size", size);
                return self.put_row(path, None, Some(head.freeze()), size, content_type, metadata, mode).await;
            };
            head.extend_from_slice(&chunk);
        }
        let file = new_etag();
        let (tmp, data) = (self.inner.blob_dir.join("tmp").join(&file), self.data_file(&file));
        let written = async {
            let mut out = tokio::fs::File::create(&tmp).await.map_err(StoreError::backend)?;
            out.write_all(&head).await.map_err(StoreError::backend)?;
            let mut size = head.len();
            drop(head);
            while let Some(chunk) = content.try_next().await? {
                out.write_all(&chunk).await.map_err(StoreError::backend)?;
                size += chunk.len();
            }
            out.sync_all().await.map_err(StoreError::backend)?;
            tokio::fs::rename(&tmp, &data).await.map_err(StoreError::backend)?;
            let dir = data.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
            tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
                .await
                .map_err(StoreError::backend)?
                .map_err(StoreError::backend)?;
            Ok::<_, StoreError>(size)
        }
        .await;
        let size = match written {
            Ok(size) => size,
            Err(error) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                let _ = tokio::fs::remove_file(&data).await;
                return Err(error);
            }
        };
        tracing::Span::current().record("size", size);
        let put = self.put_row(path, Some(file), None, size, content_type, metadata, mode).await;
        if put.is_err() {
            let _ = tokio::fs::remove_file(&data).await;
        }
        put
    }
}
