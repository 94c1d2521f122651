//! Adapters on the official Azure SDK for Rust 1.x crates: Cosmos DB for
//! documents, Blob Storage for blobs, Storage Queues for queues.
//!
//! In Azure they authenticate with the Function App's managed identity and the
//! containers, queues and Cosmos DB containers already exist (Bicep creates
//! them). Against local emulators (Azurite, `@vercel/cosmosdb-server`) set
//! [`AzureSettings::emulator`], an [`AzureCredential::EmulatorToken`], the
//! emulator's Cosmos key and Azurite's CA certificate, and call the `ensure_*`
//! methods to create what is missing.

mod blob;
mod cosmos;
mod credential;
mod queue;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Transport};
use secrecy::SecretString;

pub use blob::AzureBlobStore;
pub use cosmos::CosmosDocumentStore;
pub use credential::{AzureCredential, EmulatorTokenCredential};
pub use queue::AzureQueueStore;

use crate::blob::BlobStore;
use crate::clock::Clock;
use crate::document::DocumentStore;
use crate::error::{StoreError, StoreResult};
use crate::queue::QueueStore;

/// Where the Azure stores live and how to reach them. Plain data, filled in by
/// the configuration layer.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    /// `https://<account>.documents.azure.com/` (or `https://localhost:<port>/`).
    pub cosmos_endpoint: String,
    /// The Cosmos DB database that holds one container per collection.
    pub cosmos_database: String,
    /// Cosmos DB account key (base64). Only for emulators; in Azure leave it
    /// unset and Cosmos DB uses [`Self::credential`] like the storage clients.
    pub cosmos_key: Option<SecretString>,
    /// The Azure region the app runs in (`"West Europe"`); Cosmos DB prefers
    /// the account's regions nearest to it. `None` keeps the account's order.
    pub cosmos_region: Option<String>,
    /// `https://<account>.blob.core.windows.net/<container>`.
    pub blob_container_url: String,
    /// `https://<account>.queue.core.windows.net`, without a trailing slash.
    pub queue_service_url: String,
    pub credential: AzureCredential,
    /// An extra CA certificate (PEM) to trust for the storage endpoints, such
    /// as the test CA that signed Azurite's certificate.
    pub extra_ca_certificate: Option<PathBuf>,
    /// Talking to emulators: Cosmos DB skips certificate validation for
    /// emulator hosts only, uses HTTP/1.1 and text JSON, and the document
    /// adapter checks expiry and batch preconditions itself (the emulator does
    /// neither).
    pub emulator: bool,
}

/// The three ports, backed by Azure.
#[derive(Debug, Clone)]
pub struct AzureStores {
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
}

/// Builds the three Azure adapters from one set of settings, sharing one
/// credential and one HTTP client between the storage clients.
#[tracing::instrument(skip_all, fields(emulator = settings.emulator))]
pub async fn connect(settings: &AzureSettings, clock: Arc<dyn Clock>) -> StoreResult<AzureStores> {
    let shared = SharedClients::build(settings).await?;
    let documents = CosmosDocumentStore::connect_with(settings, &shared, clock).await?;
    let blobs = AzureBlobStore::connect_with(settings, &shared)?;
    let queues = AzureQueueStore::connect_with(settings, &shared)?;
    Ok(AzureStores { documents: Arc::new(documents), blobs: Arc::new(blobs), queues: Arc::new(queues) })
}

/// What every client built from the same settings shares.
#[derive(Clone)]
pub(crate) struct SharedClients {
    pub credential: Arc<dyn TokenCredential>,
    /// azure_core client options carrying our own HTTP transport.
    pub client_options: ClientOptions,
}

impl fmt::Debug for SharedClients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedClients").finish_non_exhaustive()
    }
}

impl SharedClients {
    pub(crate) async fn build(settings: &AzureSettings) -> StoreResult<Self> {
        let credential = settings.credential.build()?;
        let http = http_client(settings.extra_ca_certificate.as_deref()).await?;
        let client_options = ClientOptions { transport: Some(Transport::new(Arc::new(http))), ..Default::default() };
        Ok(Self { credential, client_options })
    }
}

/// The HTTP client the storage SDKs send through: like the SDK's default
/// (no redirects, no automatic decompression, bounded connect and read
/// times), plus the extra CA if any.
async fn http_client(extra_ca: Option<&std::path::Path>) -> StoreResult<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = extra_ca {
        let pem = tokio::fs::read(path)
            .await
            .map_err(|e| StoreError::Invalid(format!("cannot read the CA certificate {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|_| StoreError::Invalid(format!("{} holds no PEM certificate", path.display())))?;
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(StoreError::backend)
}

/// Maps an azure_core error from the storage services to a [`StoreError`].
pub(crate) fn storage_error(error: azure_core::Error) -> StoreError {
    use azure_core::error::ErrorKind;
    let (status, code, retry_after) = match error.kind() {
        ErrorKind::HttpResponse { status, error_code, raw_response } => {
            let retry_after = raw_response.as_ref().and_then(|raw| {
                let headers = raw.headers();
                headers
                    .get_optional_str(&"x-ms-retry-after-ms".into())
                    .and_then(|ms| ms.parse().ok())
                    .map(Duration::from_millis)
                    .or_else(|| {
                        headers
                            .get_optional_str(&"retry-after".into())
                            .and_then(|s| s.parse().ok())
                            .map(Duration::from_secs)
                    })
            });
            (u16::from(*status), error_code.clone(), retry_after)
        }
        ErrorKind::Connection | ErrorKind::Io => {
            let mapped = StoreError::unavailable(error);
            crate::telemetry::record_error("connection failed", &mapped);
            return mapped;
        }
        _ => {
            let mapped = StoreError::backend(error);
            crate::telemetry::record_error("error", &mapped);
            return mapped;
        }
    };
    let mapped = match (status, code.as_deref()) {
        (404, _) | (400, Some("PopReceiptMismatch")) => StoreError::NotFound,
        (409, _) => StoreError::Conflict,
        (412, _) => StoreError::PreconditionFailed,
        (429, _) | (503, Some("ServerBusy")) => StoreError::Throttled { retry_after },
        (400, _) => {
            tracing::warn!(error = %error, "storage service rejected the request");
            StoreError::Invalid(format!(
                "the storage service rejected the request ({})",
                code.as_deref().unwrap_or("400")
            ))
        }
        (408 | 500..=599, _) => StoreError::unavailable(error),
        _ => StoreError::backend(error),
    };
    crate::telemetry::record_error(&status.to_string(), &mapped);
    mapped
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::error::ErrorKind;
    use azure_core::http::StatusCode;

    fn http_error(status: u16, code: &str) -> azure_core::Error {
        ErrorKind::HttpResponse { status: StatusCode::from(status), error_code: Some(code.into()), raw_response: None }
            .into_error()
    }

    #[test]
    fn storage_statuses_map_to_store_errors() {
        assert!(matches!(storage_error(http_error(404, "BlobNotFound")), StoreError::NotFound));
        assert!(matches!(storage_error(http_error(400, "PopReceiptMismatch")), StoreError::NotFound));
        assert!(matches!(storage_error(http_error(409, "BlobAlreadyExists")), StoreError::Conflict));
        assert!(matches!(storage_error(http_error(412, "ConditionNotMet")), StoreError::PreconditionFailed));
        assert!(matches!(storage_error(http_error(503, "ServerBusy")), StoreError::Throttled { .. }));
        assert!(matches!(storage_error(http_error(500, "InternalError")), StoreError::Unavailable(_)));
        assert!(matches!(storage_error(http_error(400, "InvalidQueryParameterValue")), StoreError::Invalid(_)));
        assert!(matches!(storage_error(http_error(403, "AuthorizationFailure")), StoreError::Backend(_)));
        assert!(matches!(storage_error(ErrorKind::Connection.into_error()), StoreError::Unavailable(_)));
    }
}
