//! [`BlobStore`] on Azure Blob Storage with `azure_storage_blob`: one container,
//! block blobs named by [`BlobPath`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use async_trait::async_trait;
use azure_core::http::headers::Headers;
use azure_core::http::{Etag, Url};
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobContainerClientListBlobsOptions, BlobTag, BlobTags,
    BlockBlobClientCommitBlockListOptions, BlockBlobClientCommitBlockListResultHeaders as _,
    BlockBlobClientUploadOptions, BlockLookupList, ListBlobsIncludeItem,
};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt as _, TryStreamExt as _};

use super::{AzureSettings, SharedClients, storage_error};
use crate::blob::{BlobChunks, BlobInfo, BlobPath, BlobStore, BlobStream, PutMode, check_metadata};
use crate::document::ETag;
use crate::error::{StoreError, StoreResult};

/// The size of the blocks a streamed put stages (Put Block): the memory one
/// streamed put holds; a blob may have 50,000 blocks, so up to about 48 GiB.
const BLOCK_SIZE: usize = 1024 * 1024;

/// Blobs in one Blob Storage container.
pub struct AzureBlobStore {
    container: BlobContainerClient,
}

impl fmt::Debug for AzureBlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureBlobStore").field("container", &self.container.url().as_str()).finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the storage service answered without {0}")]
struct MissingProperty(&'static str);

/// The blob size from a download's headers: the total of a ranged answer,
/// else the content length.
fn blob_size(headers: &Headers) -> Option<u64> {
    headers
        .get_optional_str(&"content-range".into())
        .and_then(|range| range.rsplit_once('/'))
        .and_then(|(_, total)| total.parse().ok())
        .or_else(|| headers.get_optional_str(&"content-length".into()).and_then(|len| len.parse().ok()))
}

fn etag_of(etag: Option<&Etag>) -> StoreResult<ETag> {
    etag.map(|etag| ETag::new(etag.to_string())).ok_or_else(|| StoreError::backend(MissingProperty("an ETag")))
}

impl AzureBlobStore {
    /// The container at `settings.blob_container_url`.
    pub async fn connect(settings: &AzureSettings) -> StoreResult<Self> {
        let shared = SharedClients::build(settings).await?;
        Self::connect_with(settings, &shared)
    }

    pub(crate) fn connect_with(settings: &AzureSettings, shared: &SharedClients) -> StoreResult<Self> {
        let url = Url::parse(&settings.blob_container_url)
            .map_err(|_| StoreError::Invalid(format!("'{}' is not a container URL", settings.blob_container_url)))?;
        let options =
            BlobContainerClientOptions { client_options: shared.client_options.clone(), ..Default::default() };
        let container = BlobContainerClient::new(url, Some(shared.credential.clone()), Some(options))
            .map_err(StoreError::backend)?;
        Ok(Self { container })
    }

    /// Creates the container if it is missing. For emulators and tests; in
    /// Azure the infrastructure templates create it.
    #[tracing::instrument(
        name = "store.ensure_container",
        skip_all,
        fields(
            backend = "azure_blob",
            otel.kind = "client",
            dependency.type = "Azure blob",
            server.address = self.container.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    pub async fn ensure_container(&self) -> StoreResult<()> {
        match self.container.create(None).await.map_err(storage_error) {
            Ok(_) | Err(StoreError::Conflict) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Sets the blob's index tags (Set Blob Tags), replacing any it had. The
    /// portal never writes tags; this is for emulators and tests, to do what
    /// a service such as Defender for Storage's malware scanning does.
    pub async fn set_tags(&self, path: &BlobPath, tags: &BTreeMap<String, String>) -> StoreResult<()> {
        let set = BlobTags {
            blob_tag_set: Some(
                tags.iter()
                    .map(|(key, value)| BlobTag { key: Some(key.clone()), value: Some(value.clone()) })
                    .collect(),
            ),
        };
        let body = set.try_into().map_err(StoreError::backend)?;
        self.container.blob_client(path.as_str()).set_tags(body, None).await.map(drop).map_err(storage_error)
    }
}

#[async_trait]
impl BlobStore for AzureBlobStore {
    #[tracing::instrument(
        name = "store.blob.put",
        skip_all,
        fields(
            backend = "azure_blob", path = %path, bytes = content.len(),
            otel.kind = "client",
            dependency.type = "Azure blob",
            server.address = self.container.url().host_str().unwrap_or_default(),
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
        let size = content.len() as u64;
        let options = BlockBlobClientUploadOptions {
            blob_content_type: Some(content_type.to_owned()),
            metadata: Some(metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>()),
            if_none_match: matches!(mode, PutMode::CreateOnly).then(|| Etag::from("*")),
            ..Default::default()
        };
        let blob = self.container.blob_client(path.as_str());
        let uploaded = match blob.upload(content.into(), Some(options)).await.map_err(storage_error) {
            Ok(uploaded) => uploaded,
            // If-None-Match: * on an existing blob: 409 BlobAlreadyExists or 412.
            Err(StoreError::PreconditionFailed) => return Err(StoreError::Conflict),
            Err(error) => return Err(error),
        };
        Ok(BlobInfo {
            path: path.clone(),
            content_type: content_type.to_owned(),
            size,
            etag: etag_of(uploaded.etag.as_ref())?,
            metadata,
        })
    }

    #[tracing::instrument(
        name = "store.blob.put_stream",
        skip_all,
        fields(
            backend = "azure_blob", path = %path, bytes = tracing::field::Empty, blocks = tracing::field::Empty,
            otel.kind = "client",
            dependency.type = "Azure blob",
            server.address = self.container.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn put_stream(
        &self,
        path: &BlobPath,
        mut content: BlobChunks<'_>,
        content_type: &str,
        metadata: BTreeMap<String, String>,
        mode: PutMode,
    ) -> StoreResult<BlobInfo> {
        check_metadata(&metadata)?;
        let blob = self.container.blob_client(path.as_str()).block_blob_client();
        // Block ids of one blob must have one length; a fresh prefix per put
        // keeps the staged blocks of two puts to one path apart.
        let put_id = uuid::Uuid::new_v4().simple().to_string();
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        let mut pending = BytesMut::new();
        let mut size = 0u64;
        loop {
            let next = content.try_next().await?;
            let done = next.is_none();
            if let Some(chunk) = next {
                size += chunk.len() as u64;
                pending.extend_from_slice(&chunk);
            }
            // Stage full blocks as they fill, and the rest at the end (an
            // empty blob commits an empty list).
            while pending.len() >= BLOCK_SIZE || (done && !pending.is_empty()) {
                let block = pending.split_to(pending.len().min(BLOCK_SIZE)).freeze();
                let id = format!("{put_id}{:08}", blocks.len()).into_bytes();
                blob.stage_block(&id, block.len() as u64, block.into(), None).await.map_err(storage_error)?;
                blocks.push(id);
            }
            if done {
                break;
            }
        }
        tracing::Span::current().record("bytes", size).record("blocks", blocks.len());
        let list = BlockLookupList { latest: Some(blocks), ..Default::default() };
        let options = BlockBlobClientCommitBlockListOptions {
            blob_content_type: Some(content_type.to_owned()),
            metadata: Some(metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<HashMap<_, _>>()),
            if_none_match: matches!(mode, PutMode::CreateOnly).then(|| Etag::from("*")),
            ..Default::default()
        };
        let list = list.try_into().map_err(StoreError::backend)?;
        let committed = match blob.commit_block_list(list, Some(options)).await.map_err(storage_error) {
            Ok(committed) => committed,
            // If-None-Match: * on an existing blob: 409 BlobAlreadyExists or 412.
            Err(StoreError::PreconditionFailed) => return Err(StoreError::Conflict),
            Err(error) => return Err(error),
        };
        let etag = committed.etag().map_err(StoreError::backend)?;
        Ok(BlobInfo {
            path: path.clone(),
            content_type: content_type.to_owned(),
            size,
            etag: etag_of(etag.as_ref())?,
            metadata,
        })
    }

    #[tracing::instrument(
        name = "store.blob.get",
        skip_all,
        fields(
            backend = "azure_blob", path = %path,
            otel.kind = "client",
            dependency.type = "Azure blob",
            server.address = self.container.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn get(&self, path: &BlobPath) -> StoreResult<(BlobInfo, BlobStream)> {
        let blob = self.container.blob_client(path.as_str());
        let download = blob.download(Some(BlobClientDownloadOptions::default())).await.map_err(storage_error)?;
        let info = BlobInfo {
            path: path.clone(),
            content_type: download.properties.content_type.clone().unwrap_or_else(|| "application/octet-stream".into()),
            size: blob_size(&download.headers)
                .or(download.properties.content_length)
                .ok_or_else(|| StoreError::backend(MissingProperty("a content length")))?,
            etag: etag_of(download.properties.etag.as_ref())?,
            metadata: download.properties.metadata.clone().into_iter().collect(),
        };
        let stream: BlobStream = Box::pin(download.body.map(|chunk| chunk.map_err(storage_error)));
        Ok((info, stream))
    }

    #[tracing::instrument(
        name = "store.blob.delete",
        skip_all,
        fields(
            backend = "azure_blob", path = %path,
            otel.kind = "client",
            dependency.type = "Azure blob",
            server.address = self.container.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn delete(&self, path: &BlobPath) -> StoreResult<()> {
        self.container.blob_client(path.as_str()).delete(None).await.map(drop).map_err(storage_error)
    }

    #[tracing::instrument(
        name = "store.blob.tags",
        skip_all,
        fields(
            backend = "azure_blob", path = %path,
            otel.kind = "client",
            dependency.type = "Azure blob",
            server.address = self.container.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn tags(&self, path: &BlobPath) -> StoreResult<BTreeMap<String, String>> {
        let response = self.container.blob_client(path.as_str()).get_tags(None).await.map_err(storage_error)?;
        let tags = response.into_model().map_err(StoreError::backend)?;
        Ok(tags.blob_tag_set.unwrap_or_default().into_iter().filter_map(|tag| Some((tag.key?, tag.value?))).collect())
    }

    #[tracing::instrument(
        name = "store.blob.list",
        skip_all,
        fields(
            backend = "azure_blob", prefix = %prefix,
            otel.kind = "client",
            dependency.type = "Azure blob",
            server.address = self.container.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn list(&self, prefix: &str) -> StoreResult<Vec<BlobInfo>> {
        let options = BlobContainerClientListBlobsOptions {
            include: Some(vec![ListBlobsIncludeItem::Metadata]),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            ..Default::default()
        };
        let mut blobs = self.container.list_blobs(Some(options)).map_err(storage_error)?;
        let mut listed = Vec::new();
        while let Some(item) = blobs.try_next().await.map_err(storage_error)? {
            let Some(name) = item.name else { continue };
            // Names this store did not write (not a BlobPath) are not ours to list.
            let Ok(path) = BlobPath::parse(name) else {
                continue;
            };
            let properties = item.properties.unwrap_or_default();
            listed.push(BlobInfo {
                path,
                content_type: properties.content_type.unwrap_or_else(|| "application/octet-stream".into()),
                size: properties.content_length.unwrap_or(0),
                etag: etag_of(properties.etag.as_ref())?,
                metadata: item.metadata.and_then(|m| m.values).unwrap_or_default().into_iter().collect(),
            });
        }
        listed.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(listed)
    }

    #[tracing::instrument(
        name = "store.ping",
        skip_all,
        fields(
            backend = "azure_blob",
            otel.kind = "client",
            dependency.type = "Azure blob",
            server.address = self.container.url().host_str().unwrap_or_default(),
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn ping(&self) -> StoreResult<()> {
        self.container.get_properties(None).await.map(drop).map_err(storage_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_comes_from_the_range_total_or_the_length() {
        let mut headers = Headers::new();
        headers.insert("content-length", "4194304");
        headers.insert("content-range", "bytes 0-4194303/10000000");
        assert_eq!(blob_size(&headers), Some(10_000_000));
        let mut headers = Headers::new();
        headers.insert("content-length", "12");
        assert_eq!(blob_size(&headers), Some(12));
    }
}
