//! The conformance suite every adapter's tests call: the embedded adapter always,
//! Cosmos DB against its emulator, Blob and Queue against Azurite.
//!
//! Each case is a public async function that panics with a message naming the
//! broken rule. Cases use fresh random partitions, paths and queues, so adapters
//! can share one container across runs and cases.

pub mod blobs;
pub mod documents;
pub mod queues;

pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}
