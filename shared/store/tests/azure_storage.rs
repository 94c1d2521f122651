//! The blob and queue conformance suites against Azurite (HTTPS, `--oauth
//! basic`, started by `scripts/emulators.sh`).
//!
//! Needs `PORTAL_TEST_BLOB_CONTAINER_URL` (the account URL; each run adds its
//! own container), `PORTAL_TEST_QUEUE_SERVICE_URL` and `PORTAL_TEST_CA_CERT`;
//! without them the tests skip, unless `PORTAL_REQUIRE_EMULATORS=1`, which turns
//! a missing variable into a failure.

use std::path::PathBuf;
use std::sync::Arc;

use portal_store::azure::{AzureBlobStore, AzureCredential, AzureQueueStore, AzureSettings};
use portal_store::{BlobStore, QueueStore};

/// The variable's value; `None` (test skipped) if unset and emulators are optional.
fn emulator_var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() == Ok("1") => {
            panic!(
                "PORTAL_REQUIRE_EMULATORS=1 but {name} is not set (run scripts/emulators.sh start DIR and source DIR/env)"
            )
        }
        _ => {
            println!("emulator not configured: skipping ({name} is not set)");
            None
        }
    }
}

fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

fn settings(blob_container_url: String, queue_service_url: String, ca: String) -> AzureSettings {
    AzureSettings {
        cosmos_endpoint: String::new(),
        cosmos_database: String::new(),
        cosmos_key: None,
        cosmos_region: None,
        blob_container_url,
        queue_service_url,
        credential: AzureCredential::EmulatorToken,
        extra_ca_certificate: Some(PathBuf::from(ca)),
        emulator: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_passes_the_blob_conformance_suite() {
    let Some(account) = emulator_var("PORTAL_TEST_BLOB_CONTAINER_URL") else {
        return;
    };
    let Some(ca) = emulator_var("PORTAL_TEST_CA_CERT") else {
        return;
    };
    let container = format!("{}/conformance-{}", account.trim_end_matches('/'), run_id());
    let store = AzureBlobStore::connect(&settings(container, String::new(), ca)).await.expect("connect to Azurite");
    store.ensure_container().await.expect("create the container");
    store.ensure_container().await.expect("ensure_container is idempotent");
    store.ping().await.expect("ping");
    portal_store::conformance::blobs::run_all(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_passes_the_queue_conformance_suite() {
    let Some(service) = emulator_var("PORTAL_TEST_QUEUE_SERVICE_URL") else {
        return;
    };
    let Some(ca) = emulator_var("PORTAL_TEST_CA_CERT") else {
        return;
    };
    let store = AzureQueueStore::connect(&settings(String::new(), service, ca)).await.expect("connect to Azurite");
    store.ping().await.expect("ping");
    portal_store::conformance::queues::run_all(Arc::new(store)).await;
}
