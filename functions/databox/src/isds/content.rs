//! A received message's files and ZFO as the port hands them back
//! ([`Content`]): bytes in memory (a standard message, at most 20 MB, and
//! the simulator's), or a blob sealed chunk by chunk under the citizen's key
//! (a big message, VoDZ, up to 100 MB of files and a ZFO a third larger),
//! which is read back as a stream of its plaintext, never whole.
//!
//! The blobs of one download are a [`Stash`]: written where the spool
//! writes (`databox-spool/<citizen folder>/<unix seconds>-<random>/`, each
//! sealed to the document `stash-<random>` and its own field), so the same
//! rules remove them: the stash deletes them once the download's
//! [`Content`]s are all dropped, whatever ended the request (an answer, a
//! failure, a client that went away); a process that dies leaves them to
//! [`crate::spool::collect`], run daily by the archive; erasing the citizen
//! deletes the folder, and the content was unreadable from the moment the
//! citizen's key was shredded.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{StreamExt as _, TryStreamExt as _};
use portal_crypto::stream::{CHUNK_SIZE, MAX_HEADER_LEN, StreamHeader, StreamSealer};
use portal_crypto::{CryptoError, Sealer};
use portal_store::{BlobPath, BlobStore, PutMode, StoreError};

use super::{ByteStream, IsdsError, IsdsResult};

/// A file's or a ZFO's bytes, in memory or in a sealed blob. Cheap to clone;
/// a stashed blob lives as long as one clone does.
#[derive(Clone)]
pub struct Content(Repr);

#[derive(Clone)]
enum Repr {
    Memory(Bytes),
    Sealed(Arc<SealedBlob>),
}

/// Where a sealed blob is and what it is sealed to.
struct SealedBlob {
    place: Arc<Place>,
    path: BlobPath,
    document: String,
    field: String,
    size: u64,
    /// A stash's blob: deleted when the last content of its stash goes.
    _stash: Option<Arc<Guard>>,
}

struct Place {
    blobs: Arc<dyn BlobStore>,
    sealer: Sealer,
    owner: String,
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Memory(bytes) => f.debug_struct("Content").field("in_memory", &bytes.len()).finish(),
            Repr::Sealed(blob) => {
                f.debug_struct("Content").field("blob", &blob.path.as_str()).field("size", &blob.size).finish()
            }
        }
    }
}

impl From<Bytes> for Content {
    fn from(bytes: Bytes) -> Self {
        Self(Repr::Memory(bytes))
    }
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Repr::Memory(Bytes::from(bytes)))
    }
}

/// A sealed blob could not be written or read: the local store or the key.
fn local(error: impl std::error::Error + Send + Sync + 'static) -> IsdsError {
    IsdsError::Unavailable(Box::new(error))
}

impl Content {
    /// A blob sealed by [`Sealer::stream_sealer`] to `owner`, `document` and
    /// `field` (an archived message's file), of `size` bytes of plaintext.
    pub fn sealed_blob(
        blobs: Arc<dyn BlobStore>,
        sealer: Sealer,
        owner: &str,
        document: &str,
        field: &str,
        path: BlobPath,
        size: u64,
    ) -> Self {
        let place = Arc::new(Place { blobs, sealer, owner: owner.to_owned() });
        Self(Repr::Sealed(Arc::new(SealedBlob {
            place,
            path,
            document: document.to_owned(),
            field: field.to_owned(),
            size,
            _stash: None,
        })))
    }

    /// Bytes.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Repr::Memory(bytes) => bytes.len() as u64,
            Repr::Sealed(blob) => blob.size,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it is held in memory (else it is a sealed blob).
    pub fn is_in_memory(&self) -> bool {
        matches!(self.0, Repr::Memory(_))
    }

    /// The bytes as a stream of pieces of at most 64 KiB, opened chunk by
    /// chunk from a blob (a piece that fails authentication ends the stream
    /// with an error). The stream keeps a stashed blob alive.
    pub async fn stream(&self) -> IsdsResult<ByteStream> {
        match &self.0 {
            Repr::Memory(bytes) => {
                let bytes = bytes.clone();
                let pieces: Vec<std::io::Result<Bytes>> = (0..bytes.len())
                    .step_by(CHUNK_SIZE)
                    .map(|at| Ok(bytes.slice(at..(at + CHUNK_SIZE).min(bytes.len()))))
                    .collect();
                Ok(futures::stream::iter(pieces).boxed())
            }
            Repr::Sealed(blob) => {
                let place = &blob.place;
                let plain = open_sealed(
                    place.blobs.as_ref(),
                    &place.sealer,
                    &place.owner,
                    &blob.document,
                    &blob.field,
                    &blob.path,
                )
                .await
                .map_err(|error| match error {
                    OpenError::Store(error) => local(error),
                    OpenError::Crypto(error) => local(error),
                })?;
                let keep = blob.clone();
                Ok(plain
                    .map(move |piece| {
                        let _alive = &keep;
                        piece
                    })
                    .boxed())
            }
        }
    }

    /// The bytes whole: for what is known to be small (a standard message's
    /// file), and for tests.
    pub async fn bytes(&self) -> IsdsResult<Bytes> {
        if let Repr::Memory(bytes) = &self.0 {
            return Ok(bytes.clone());
        }
        let mut out = BytesMut::with_capacity(usize::try_from(self.len()).unwrap_or(0));
        let mut stream = self.stream().await?;
        while let Some(piece) = stream.try_next().await.map_err(local)? {
            out.extend_from_slice(&piece);
        }
        Ok(out.freeze())
    }
}

/// Why a sealed blob could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// The plaintext of the blob at `path`, sealed by [`Sealer::stream_sealer`]
/// to `owner`, `document` and `field`, opened chunk by chunk as it is read.
pub(crate) async fn open_sealed(
    blobs: &dyn BlobStore,
    sealer: &Sealer,
    owner: &str,
    document: &str,
    field: &str,
    path: &BlobPath,
) -> Result<ByteStream, OpenError> {
    let (_, mut blob) = blobs.get(path).await?;
    let mut head = Vec::new();
    let header_len = loop {
        if head.len() > 4
            && let Some((_, len)) = StreamHeader::parse(&head)?
        {
            break len;
        }
        if head.len() > MAX_HEADER_LEN + 4 {
            return Err(CryptoError::Malformed("a sealed file's header is too long").into());
        }
        match blob.try_next().await? {
            Some(chunk) => head.extend_from_slice(&chunk),
            None => return Err(CryptoError::Malformed("a sealed file ends in its header").into()),
        }
    };
    let mut opener = sealer.stream_opener(owner, document, field, &head[..header_len]).await?;
    let first = opener.push(&head[header_len..])?;
    Ok(opener.into_plaintext(first, blob))
}

/// Where one download puts a big message's ZFO and files: sealed blobs under
/// the citizen's key, or memory ([`Stash::in_memory`]: the simulator's and
/// tests' way, and what a standard download amounts to).
pub struct Stash(Option<Sealed>);

struct Sealed {
    place: Arc<Place>,
    folder: String,
    document: String,
    guard: Arc<Guard>,
}

impl fmt::Debug for Stash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("Stash(in memory)"),
            Some(sealed) => f.debug_tuple("Stash").field(&sealed.folder).finish(),
        }
    }
}

/// The blobs of one stash: deleted when the stash and all its contents are
/// dropped (by a task, as the spool's [`crate::spool::Discarding`] does).
struct Guard {
    blobs: Arc<dyn BlobStore>,
    paths: Mutex<Vec<BlobPath>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let paths = std::mem::take(&mut *self.paths.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if paths.is_empty() {
            return;
        }
        let blobs = self.blobs.clone();
        let delete = async move {
            for path in paths {
                match blobs.delete(&path).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(error) => tracing::warn!(error = %error, "a stashed file is left to the daily collection"),
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(delete)),
            Err(_) => tracing::warn!("a download's stash is left to the daily collection"),
        }
    }
}

impl Stash {
    /// Contents kept in memory.
    pub fn in_memory() -> Self {
        Self(None)
    }

    /// Contents sealed under `owner`'s key into blobs of a new folder named
    /// by `now` ([`crate::spool::collect`] reads its age from the name).
    pub fn sealed(blobs: Arc<dyn BlobStore>, sealer: Sealer, owner: &str, now: time::OffsetDateTime) -> Self {
        let random = uuid::Uuid::new_v4().simple().to_string();
        let folder = format!(
            "{}{}/{}-{random}/",
            crate::spool::PREFIX,
            crate::archive::citizen_folder(owner),
            now.unix_timestamp()
        );
        let guard = Arc::new(Guard { blobs: blobs.clone(), paths: Mutex::new(Vec::new()) });
        let place = Arc::new(Place { blobs, sealer, owner: owner.to_owned() });
        Self(Some(Sealed { place, folder, document: format!("stash-{random}"), guard }))
    }

    /// Stores `content` as it streams, as `name` (unique in this stash). A
    /// stream that ends in an error stores nothing and gives its error.
    pub async fn put<'a>(&self, name: &str, content: BoxStream<'a, IsdsResult<Bytes>>) -> IsdsResult<Content> {
        let Some(sealed) = &self.0 else {
            let pieces: Vec<Bytes> = content.try_collect().await?;
            return Ok(Content::from(Bytes::from(pieces.concat())));
        };
        let path = BlobPath::parse(format!("{}{name}", sealed.folder)).map_err(local)?;
        // Known before a byte is written, so a put given up halfway is deleted too.
        sealed.guard.paths.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(path.clone());
        let sealer =
            sealed.place.sealer.stream_sealer(&sealed.place.owner, &sealed.document, name).await.map_err(local)?;
        let (size, _) = seal_into(
            sealed.place.blobs.as_ref(),
            sealer,
            &path,
            "application/octet-stream",
            PutMode::CreateOnly,
            content,
        )
        .await?;
        Ok(Content(Repr::Sealed(Arc::new(SealedBlob {
            place: sealed.place.clone(),
            path,
            document: sealed.document.clone(),
            field: name.to_owned(),
            size,
            _stash: Some(sealed.guard.clone()),
        }))))
    }
}

/// Stores `input` at `path` as it streams, sealed chunk by chunk by `sealer`
/// (format 2, 64 KiB chunks; metadata `sealed: true`). A stream that ends
/// in an error stores nothing and gives its error. The plaintext's and the
/// blob's sizes.
pub(crate) async fn seal_into(
    blobs: &dyn BlobStore,
    sealer: StreamSealer,
    path: &BlobPath,
    content_type: &str,
    mode: PutMode,
    input: BoxStream<'_, IsdsResult<Bytes>>,
) -> IsdsResult<(u64, u64)> {
    let mut sealing =
        Sealing { input, sealer, pending: BytesMut::new(), size: 0, header_sent: false, done: false, failure: None };
    let chunks = futures::stream::unfold(&mut sealing, |sealing| async move {
        let next = sealing.next().await?;
        Some((next, sealing))
    });
    let metadata = BTreeMap::from([("sealed".to_owned(), "true".to_owned())]);
    let stored = blobs.put_stream(path, Box::pin(chunks), content_type, metadata, mode).await;
    if let Some(failure) = sealing.failure.take() {
        return Err(failure);
    }
    let info = stored.map_err(local)?;
    Ok((sealing.size, info.size))
}

/// A content as it streams into its blob, sealed chunk by chunk.
struct Sealing<'a> {
    input: BoxStream<'a, IsdsResult<Bytes>>,
    sealer: StreamSealer,
    pending: BytesMut,
    size: u64,
    header_sent: bool,
    done: bool,
    failure: Option<IsdsError>,
}

impl Sealing<'_> {
    fn fail(&mut self, failure: IsdsError) -> Option<Result<Bytes, StoreError>> {
        self.failure = Some(failure);
        self.done = true;
        Some(Err(StoreError::Invalid("the content was given up while it was stored".into())))
    }

    fn seal(&mut self, last: bool) -> Option<Result<Bytes, StoreError>> {
        let take = if last { self.pending.len() } else { CHUNK_SIZE };
        let plain = self.pending.split_to(take);
        match self.sealer.seal_chunk(&plain, last) {
            Ok(sealed) => Some(Ok(Bytes::from(sealed))),
            Err(error) => self.fail(local(error)),
        }
    }

    async fn next(&mut self) -> Option<Result<Bytes, StoreError>> {
        if self.done {
            return None;
        }
        if !self.header_sent {
            self.header_sent = true;
            return Some(Ok(Bytes::copy_from_slice(self.sealer.header())));
        }
        loop {
            if self.pending.len() > CHUNK_SIZE {
                return self.seal(false);
            }
            match self.input.next().await {
                Some(Ok(piece)) => {
                    self.size += piece.len() as u64;
                    self.pending.extend_from_slice(&piece);
                }
                Some(Err(error)) => return self.fail(error),
                None => {
                    self.done = true;
                    return self.seal(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_testkit::{Harness, START};

    const OWNER: &str = "DEMO%2Fjana-novakova";

    async fn stashed(harness: &Harness) -> Vec<String> {
        let list = harness.store.list(crate::spool::PREFIX).await.expect("list");
        list.into_iter().map(|info| info.path.as_str().to_owned()).collect()
    }

    /// Waits (at most a minute) for the deleting task.
    async fn stashed_after_drop(harness: &Harness) -> Vec<String> {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while !stashed(harness).await.is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        stashed(harness).await
    }

    fn pieces(content: &[u8], size: usize) -> BoxStream<'static, IsdsResult<Bytes>> {
        let pieces: Vec<IsdsResult<Bytes>> = content.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        futures::stream::iter(pieces).boxed()
    }

    #[tokio::test]
    async fn a_stashed_content_reads_back_sealed_and_goes_with_its_last_clone() {
        let harness = Harness::new();
        let stash = Stash::sealed(harness.store.clone(), harness.sealer.clone(), OWNER, START);
        let content: Vec<u8> = (0..(3 * CHUNK_SIZE + 17)).map(|i| (i * 7 % 251) as u8).collect();
        let stored = stash.put("file-0", pieces(&content, 10_000)).await.expect("put");
        assert!(!stored.is_in_memory());
        assert_eq!(stored.len(), content.len() as u64);
        assert!(stored.bytes().await.expect("read")[..] == content[..]);
        let paths = stashed(&harness).await;
        assert_eq!(paths.len(), 1);
        assert!(paths[0].starts_with(&format!(
            "{}{}/{}-",
            crate::spool::PREFIX,
            crate::archive::citizen_folder(OWNER),
            START.unix_timestamp()
        )));
        let (_, raw) = harness.blob(&paths[0]).await;
        assert!(!raw.windows(32).any(|w| w == &content[CHUNK_SIZE..CHUNK_SIZE + 32]), "sealed");
        // The stash dropped, a clone (a download streaming) keeps it; the last one deletes it.
        let streaming = stored.clone();
        drop((stash, stored));
        assert_eq!(stashed(&harness).await.len(), 1, "kept while a clone lives");
        let mut stream = streaming.stream().await.expect("stream");
        drop(streaming);
        let mut read = 0;
        while let Some(piece) = stream.try_next().await.expect("piece") {
            read += piece.len();
        }
        assert_eq!(read, content.len(), "a stream keeps its blob alive to its end");
        drop(stream);
        assert!(stashed_after_drop(&harness).await.is_empty());
    }

    #[tokio::test]
    async fn a_put_given_up_or_dropped_midway_leaves_nothing() {
        let harness = Harness::new();
        // A stream that breaks: the put fails with its error.
        let stash = Stash::sealed(harness.store.clone(), harness.sealer.clone(), OWNER, START);
        let broken =
            futures::stream::iter([Ok(Bytes::from(vec![1; CHUNK_SIZE * 2])), Err(IsdsError::Protocol("cut".into()))]);
        let error = stash.put("file-0", broken.boxed()).await.expect_err("broken");
        assert!(matches!(error, IsdsError::Protocol(_)), "{error:?}");
        drop(stash);
        assert!(stashed_after_drop(&harness).await.is_empty());

        // A request dropped while its second file streams in: the first,
        // stored, goes too.
        let stash = Stash::sealed(harness.store.clone(), harness.sealer.clone(), OWNER, START);
        let first = stash.put("zfo", pieces(b"the ZFO", 3)).await.expect("put");
        assert_eq!(stashed(&harness).await.len(), 1);
        let (started, mut halfway) = futures::channel::mpsc::unbounded::<()>();
        let stalled = futures::stream::iter([Ok(Bytes::from(vec![2; CHUNK_SIZE * 3]))])
            .chain(futures::stream::once(async move {
                let _ = started.unbounded_send(());
                futures::future::pending::<IsdsResult<Bytes>>().await
            }))
            .boxed();
        let request = tokio::spawn(async move {
            let second = stash.put("file-0", stalled).await;
            (first, second.map(drop))
        });
        halfway.next().await.expect("the second file half sent");
        request.abort();
        assert!(request.await.expect_err("dropped").is_cancelled());
        assert!(stashed_after_drop(&harness).await.is_empty(), "{:?}", stashed(&harness).await);
    }
}
