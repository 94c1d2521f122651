//! The `ops` capability: what operators and the platform ask of the app.
//!
//! - `GET /api/health`: liveness, touches nothing (Front Door's probe must not
//!   fail over a region because one dependency hiccups);
//! - `GET /api/ready`: each store answers, else 503 naming what failed (the
//!   deployment smoke test and the health check of a slot);
//! - `GET /api/version`: what is running;
//! - timer `Housekeeping`: purges expired records (TTL documents such as
//!   sessions and idempotency markers, expired queue messages, orphaned blob
//!   files) where the backend does not do it itself, and reports the depth of
//!   every poison queue (`<queue>-poison`, where the Functions host moves a
//!   message that failed five times): one `poison queue depth` log line per
//!   queue, which the poison-queue alert reads (Azure Storage has no
//!   per-queue metric).
//!
//! Layout: [`http`] has one file per HTTP action, [`timer`] one file per
//! function; [`functions`] below is the list the app serves.

pub mod http;
pub mod timer;

use std::sync::Arc;

use portal_host::{Function, op};
use portal_store::{BlobStore, DocumentStore, QueueStore};

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct Ops {
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
    /// `embedded` or `azure`.
    pub store_kind: &'static str,
    pub version: &'static str,
    pub environment: &'static str,
}

/// Every function of the capability: `Health`, `Ready`, `Version` and the
/// timer `Housekeeping`.
pub fn functions(ops: Ops) -> Vec<Function> {
    let ops = Arc::new(ops);
    vec![
        Function::api(op!(http::health)).build(),
        Function::api(op!(http::ready)).with_state(ops.clone()).build(),
        Function::api(op!(http::version)).with_state(ops.clone()).build(),
        timer::housekeeping::function(ops),
    ]
}
