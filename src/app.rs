//! Composition: stores chosen from configuration in one place, and the
//! capabilities this process serves.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portal_config::{Settings, StoreSettings};
use portal_host::runtime::DeclarationError;
use portal_host::{FailureSink, Function, InvocationFailure, Runtime};
use portal_store::embedded::EmbeddedStore;
use portal_store::{BlobStore, Clock, DocumentStore, NewDocument, QueueStore, StoreError};
use tokio::sync::Notify;

/// Every capability the binary can serve, by name.
pub const CAPABILITIES: &[&str] = &["ops"];

/// Where permanent invocation failures are kept (90 days).
pub const FAILURES_COLLECTION: &str = "ops";
const FAILURES_PARTITION: &str = "invocation-failures";
const FAILURE_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] portal_config::ConfigError),
    #[error("cannot open the store")]
    Store(#[from] StoreError),
    #[error("unknown capability '{name}'; known: {}", CAPABILITIES.join(", "))]
    UnknownCapability { name: String },
    #[error("invalid function declarations")]
    Declaration(#[from] DeclarationError),
    #[error("{context}")]
    Io { context: String, source: std::io::Error },
}

/// The three stores, whichever backend holds them.
#[derive(Debug, Clone)]
pub struct Stores {
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
    /// `embedded` or `azure`.
    pub kind: &'static str,
    /// Woken when a message is sent (embedded store only).
    pub queue_activity: Option<Arc<Notify>>,
    pub clock: Arc<dyn Clock>,
}

impl Stores {
    pub fn embedded(store: EmbeddedStore, clock: Arc<dyn Clock>) -> Self {
        let activity = store.queue_activity();
        let store = Arc::new(store);
        Self {
            documents: store.clone(),
            blobs: store.clone(),
            queues: store,
            kind: "embedded",
            queue_activity: Some(activity),
            clock,
        }
    }

    /// Opens the stores the settings name.
    pub async fn open(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Self, AppError> {
        match &settings.store {
            StoreSettings::Embedded { in_memory: true, .. } => {
                Ok(Self::embedded(EmbeddedStore::in_memory(clock.clone())?, clock))
            }
            StoreSettings::Embedded { data_dir, .. } => {
                Ok(Self::embedded(EmbeddedStore::open(data_dir, clock.clone())?, clock))
            }
            StoreSettings::Azure(azure) => {
                let stores = portal_store::azure::connect(&azure_settings(azure), clock.clone()).await?;
                Ok(Self {
                    documents: stores.documents,
                    blobs: stores.blobs,
                    queues: stores.queues,
                    kind: "azure",
                    queue_activity: None,
                    clock,
                })
            }
        }
    }
}

fn azure_settings(settings: &portal_config::AzureStoreSettings) -> portal_store::azure::AzureSettings {
    use portal_config::AzureCredential as Config;
    use portal_store::azure::AzureCredential;
    portal_store::azure::AzureSettings {
        cosmos_endpoint: settings.cosmos_endpoint.clone(),
        cosmos_database: settings.cosmos_database.clone(),
        cosmos_key: None,
        cosmos_region: None,
        blob_container_url: settings.blob_container_url.clone(),
        queue_service_url: settings.queue_service_url.clone(),
        credential: match &settings.credential {
            Config::ManagedIdentity { client_id } => AzureCredential::ManagedIdentity { client_id: client_id.clone() },
            Config::DeveloperTools => AzureCredential::DeveloperTools,
        },
        extra_ca_certificate: None,
        emulator: false,
    }
}

/// Records permanent failures as documents operators can query.
#[derive(Debug)]
pub struct StoredFailures {
    documents: Arc<dyn DocumentStore>,
}

#[async_trait]
impl FailureSink for StoredFailures {
    async fn record(&self, failure: InvocationFailure) {
        tracing::error!(function = %failure.function, invocation_id = %failure.invocation_id, reason = %failure.reason,
            "permanent failure recorded");
        let body = serde_json::to_value(&failure).unwrap_or_default();
        let doc = NewDocument::new(FAILURES_PARTITION, failure.invocation_id.clone(), body).with_ttl(FAILURE_RETENTION);
        if let Err(error) = self.documents.upsert(FAILURES_COLLECTION, doc, None).await {
            tracing::error!(error = %error, "could not store the failure record; the log line above is the record");
        }
    }
}

/// The functions of the chosen capabilities (all when `selected` is `None`).
pub fn functions(stores: &Stores, settings: &Settings, selected: Option<&[String]>) -> Result<Vec<Function>, AppError> {
    if let Some(selected) = selected
        && let Some(unknown) = selected.iter().find(|name| !CAPABILITIES.contains(&name.as_str()))
    {
        return Err(AppError::UnknownCapability { name: unknown.clone() });
    }
    let wanted = |name: &str| selected.is_none_or(|list| list.iter().any(|s| s == name));
    let mut functions = Vec::new();
    if wanted("ops") {
        functions.extend(portal_ops::functions(portal_ops::Ops {
            documents: stores.documents.clone(),
            blobs: stores.blobs.clone(),
            queues: stores.queues.clone(),
            store_kind: stores.kind,
            version: env!("CARGO_PKG_VERSION"),
            environment: settings.environment.as_str(),
        }));
    }
    Ok(functions)
}

/// The runtime serving the chosen capabilities.
pub fn runtime(stores: &Stores, settings: &Settings, selected: Option<&[String]>) -> Result<Runtime, AppError> {
    let failures = Arc::new(StoredFailures { documents: stores.documents.clone() });
    Ok(Runtime::new(functions(stores, settings, selected)?, failures)?.with_timers_enabled(settings.timers_enabled))
}
