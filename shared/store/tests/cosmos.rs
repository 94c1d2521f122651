//! The document conformance suite against the Cosmos DB emulator
//! (`@vercel/cosmosdb-server`, started by `scripts/emulators.sh`).
//!
//! Needs `PORTAL_TEST_COSMOS_ENDPOINT`; without it the test skips, unless
//! `PORTAL_REQUIRE_EMULATORS=1`, which turns a missing variable into a failure.

use std::sync::Arc;

use portal_store::azure::{AzureCredential, AzureSettings, CosmosDocumentStore};
use portal_store::{DocumentStore, ManualClock};
use time::OffsetDateTime;

/// The emulators' well-known account key (any base64 string works).
const EMULATOR_KEY: &str = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmos_emulator_passes_the_document_conformance_suite() {
    let Some(endpoint) = emulator_var("PORTAL_TEST_COSMOS_ENDPOINT") else {
        return;
    };
    let run = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let settings = AzureSettings {
        cosmos_endpoint: endpoint,
        cosmos_database: format!("portal-test-{run}"),
        cosmos_key: Some(EMULATOR_KEY.into()),
        cosmos_region: None,
        blob_container_url: String::new(),
        queue_service_url: String::new(),
        credential: AzureCredential::EmulatorToken,
        extra_ca_certificate: None,
        emulator: true,
    };
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let store =
        CosmosDocumentStore::connect(&settings, clock.clone()).await.expect("connect to the Cosmos DB emulator");
    let collection = "conformance";
    store.ensure_collections(&[collection]).await.expect("create the database and container");
    store.ping().await.expect("ping");
    portal_store::conformance::documents::run_all(Arc::new(store), clock, collection).await;
}
