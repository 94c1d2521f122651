use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt as _;

use super::unique;
use crate::{BlobChunks, BlobPath, BlobStore, PutMode, StoreError};

/// Runs every blob case.
pub async fn run_all(store: Arc<dyn BlobStore>) {
    let store = store.as_ref();
    put_then_get_round_trips(store).await;
    large_content_streams_intact(store).await;
    overwrite_across_sizes_keeps_the_latest(store).await;
    create_only_refuses_to_overwrite(store).await;
    delete_removes(store).await;
    list_by_prefix(store).await;
    invalid_input_is_refused(store).await;
    streamed_put_round_trips_at_every_size(store).await;
    a_failed_stream_stores_nothing(store).await;
    streamed_create_only_refuses_to_overwrite(store).await;
}

fn path(value: String) -> BlobPath {
    BlobPath::parse(value).expect("valid test path")
}

async fn read_all(store: &dyn BlobStore, path: &BlobPath) -> Vec<u8> {
    let (_, stream) = store.get(path).await.expect("get");
    let chunks: Vec<Bytes> = stream.try_collect().await.expect("read stream");
    chunks.concat()
}

pub async fn put_then_get_round_trips(store: &dyn BlobStore) {
    let path = path(format!("{}/doc.pdf", unique("b")));
    let metadata = BTreeMap::from([("owner".to_owned(), "abc".to_owned()), ("kind".to_owned(), "extract".to_owned())]);
    let put = store
        .put(&path, Bytes::from_static(b"%PDF-1.7 content"), "application/pdf", metadata.clone(), PutMode::Overwrite)
        .await
        .expect("put");
    let (info, _) = store.get(&path).await.expect("get");
    assert_eq!(info.content_type, "application/pdf", "content type is kept");
    assert_eq!(info.size, 16, "size is reported");
    assert_eq!(info.metadata, metadata, "metadata is kept");
    assert_eq!(info.etag, put.etag, "get reports the ETag of the put");
    assert_eq!(read_all(store, &path).await, b"%PDF-1.7 content");
    let second = store
        .put(&path, Bytes::from_static(b"v2"), "text/plain", BTreeMap::new(), PutMode::Overwrite)
        .await
        .expect("overwrite");
    assert_ne!(second.etag, put.etag, "an overwrite yields a new ETag");
    assert_eq!(read_all(store, &path).await, b"v2");
}

pub async fn large_content_streams_intact(store: &dyn BlobStore) {
    let path = path(format!("{}/large.bin", unique("b")));
    let content: Vec<u8> =
        (0..(3 * 1024 * 1024 + 17)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    store
        .put(&path, Bytes::from(content.clone()), "application/octet-stream", BTreeMap::new(), PutMode::Overwrite)
        .await
        .expect("put large");
    let read = read_all(store, &path).await;
    assert_eq!(read.len(), content.len(), "every byte comes back");
    assert!(read == content, "the content comes back unchanged");
}

/// A blob overwritten small → large → small → empty reads back the latest
/// content each time (the embedded store keeps small blobs in their row and
/// large ones in files; a backend may switch between the two at any size).
pub async fn overwrite_across_sizes_keeps_the_latest(store: &dyn BlobStore) {
    let path = path(format!("{}/grows.bin", unique("b")));
    let large: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let versions: [&[u8]; 4] = [b"small", &large, b"small again", b""];
    for content in versions {
        store
            .put(
                &path,
                Bytes::copy_from_slice(content),
                "application/octet-stream",
                BTreeMap::new(),
                PutMode::Overwrite,
            )
            .await
            .expect("put");
        let (info, _) = store.get(&path).await.expect("get");
        assert_eq!(info.size, content.len() as u64, "the size of the latest put");
        assert!(read_all(store, &path).await == content, "the content of the latest put ({} bytes)", content.len());
    }
    store.delete(&path).await.expect("delete");
    assert!(matches!(store.get(&path).await, Err(StoreError::NotFound)), "deleted whatever its size");
}

pub async fn create_only_refuses_to_overwrite(store: &dyn BlobStore) {
    let path = path(format!("{}/once.txt", unique("b")));
    store
        .put(&path, Bytes::from_static(b"first"), "text/plain", BTreeMap::new(), PutMode::CreateOnly)
        .await
        .expect("first create-only put");
    let second =
        store.put(&path, Bytes::from_static(b"second"), "text/plain", BTreeMap::new(), PutMode::CreateOnly).await;
    assert!(matches!(second, Err(StoreError::Conflict)), "create-only on an existing blob conflicts, got {second:?}");
    assert_eq!(read_all(store, &path).await, b"first", "a refused put changes nothing");
}

pub async fn delete_removes(store: &dyn BlobStore) {
    let path = path(format!("{}/gone.txt", unique("b")));
    store.put(&path, Bytes::from_static(b"x"), "text/plain", BTreeMap::new(), PutMode::Overwrite).await.expect("put");
    store.delete(&path).await.expect("delete");
    assert!(matches!(store.get(&path).await, Err(StoreError::NotFound)), "a deleted blob is NotFound");
    assert!(matches!(store.delete(&path).await, Err(StoreError::NotFound)), "deleting twice is NotFound");
}

pub async fn list_by_prefix(store: &dyn BlobStore) {
    let root = unique("l");
    for name in ["b/2.txt", "a/1.txt", "b/1.txt"] {
        let p = path(format!("{root}/{name}"));
        store.put(&p, Bytes::from_static(b"x"), "text/plain", BTreeMap::new(), PutMode::Overwrite).await.expect("put");
    }
    let other = path(format!("{root}x/1.txt"));
    store.put(&other, Bytes::from_static(b"x"), "text/plain", BTreeMap::new(), PutMode::Overwrite).await.expect("put");
    let listed: Vec<_> = store
        .list(&format!("{root}/b/"))
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.path.as_str().to_owned())
        .collect();
    assert_eq!(listed, [format!("{root}/b/1.txt"), format!("{root}/b/2.txt")], "only the prefix, in path order");
    assert_eq!(store.list(&format!("{root}/")).await.expect("list").len(), 3, "a folder prefix excludes siblings");
}

pub async fn invalid_input_is_refused(store: &dyn BlobStore) {
    let path = path(format!("{}/meta.txt", unique("b")));
    let bad = BTreeMap::from([("bad key".to_owned(), "v".to_owned())]);
    let result = store.put(&path, Bytes::from_static(b"x"), "text/plain", bad, PutMode::Overwrite).await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "metadata names are identifiers, got {result:?}");
    assert!(matches!(store.get(&path).await, Err(StoreError::NotFound)), "a refused put writes nothing");
}

/// `content` as a stream of uneven chunks (1 byte, then growing), as an
/// upload arrives.
fn chunked(content: &[u8]) -> BlobChunks<'static> {
    let mut pieces = Vec::new();
    let (mut at, mut step) = (0, 1);
    while at < content.len() {
        let end = (at + step).min(content.len());
        pieces.push(Ok(Bytes::copy_from_slice(&content[at..end])));
        at = end;
        step = step * 3 + 7;
    }
    Box::pin(futures::stream::iter(pieces))
}

/// A streamed put reads back byte for byte with its size, type, metadata and
/// ETag, whatever its size: empty, small, and larger than a block or a file
/// threshold (2.5 MiB and a few bytes).
pub async fn streamed_put_round_trips_at_every_size(store: &dyn BlobStore) {
    let large: Vec<u8> = (0..(5 * 512 * 1024 + 13)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    for content in [&b""[..], b"small", &large[..70_000], &large] {
        let path = path(format!("{}/streamed.bin", unique("s")));
        let metadata = BTreeMap::from([("sealed".to_owned(), "true".to_owned())]);
        let put = store
            .put_stream(&path, chunked(content), "application/octet-stream", metadata.clone(), PutMode::CreateOnly)
            .await
            .expect("streamed put");
        assert_eq!(put.size, content.len() as u64, "the size of what was streamed");
        let (info, _) = store.get(&path).await.expect("get");
        assert_eq!(
            (info.size, info.content_type.as_str(), &info.metadata, &info.etag),
            (content.len() as u64, "application/octet-stream", &metadata, &put.etag),
            "size, type, metadata and ETag of a streamed put ({} bytes)",
            content.len()
        );
        assert!(read_all(store, &path).await == content, "the streamed content comes back ({} bytes)", content.len());
    }
}

/// A stream that fails part-way (the caller gave up) stores nothing: no new
/// blob, and an existing one keeps its content.
pub async fn a_failed_stream_stores_nothing(store: &dyn BlobStore) {
    let big = vec![7u8; 1_500_000];
    for before in [None, Some(&b"the earlier version"[..])] {
        let path = path(format!("{}/failed.bin", unique("s")));
        if let Some(before) = before {
            store
                .put(&path, Bytes::copy_from_slice(before), "text/plain", BTreeMap::new(), PutMode::Overwrite)
                .await
                .expect("put");
        }
        for sent in [10, big.len()] {
            let pieces = vec![
                Ok(Bytes::copy_from_slice(&big[..sent])),
                Err(StoreError::Invalid("the upload is not what it said it was".into())),
            ];
            let result = store
                .put_stream(
                    &path,
                    Box::pin(futures::stream::iter(pieces)),
                    "text/plain",
                    BTreeMap::new(),
                    PutMode::Overwrite,
                )
                .await;
            assert!(matches!(result, Err(StoreError::Invalid(_))), "the stream's error comes back, got {result:?}");
            match before {
                None => assert!(
                    matches!(store.get(&path).await, Err(StoreError::NotFound)),
                    "a failed stream of {sent} bytes leaves no blob"
                ),
                Some(before) => {
                    assert_eq!(read_all(store, &path).await, before, "a failed stream leaves the earlier blob")
                }
            }
        }
    }
}

pub async fn streamed_create_only_refuses_to_overwrite(store: &dyn BlobStore) {
    let path = path(format!("{}/once.bin", unique("s")));
    store
        .put(&path, Bytes::from_static(b"first"), "text/plain", BTreeMap::new(), PutMode::CreateOnly)
        .await
        .expect("first put");
    let big = vec![1u8; 1_200_000];
    for content in [&b"second"[..], &big] {
        let second =
            store.put_stream(&path, chunked(content), "text/plain", BTreeMap::new(), PutMode::CreateOnly).await;
        assert!(matches!(second, Err(StoreError::Conflict)), "create-only streamed over a blob conflicts: {second:?}");
    }
    assert_eq!(read_all(store, &path).await, b"first", "a refused streamed put changes nothing");
    let third = store
        .put_stream(&path, chunked(&big), "text/plain", BTreeMap::new(), PutMode::Overwrite)
        .await
        .expect("overwrite");
    assert_eq!(third.size, big.len() as u64);
    assert!(read_all(store, &path).await == big, "a streamed overwrite replaces the content");
}
