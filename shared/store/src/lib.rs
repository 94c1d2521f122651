//! Storage ports and their adapters.
//!
//! Three small ports cover everything the portal keeps:
//! - [`DocumentStore`]: partitioned JSON documents with ETags, TTL, queries and
//!   single-partition transactional batches (Cosmos DB in Azure);
//! - [`BlobStore`]: opaque content with a content type and metadata (Blob Storage);
//! - [`QueueStore`]: at-least-once messages with leases (Storage Queues).
//!
//! Every adapter maps its backend's failures to the same [`StoreError`] and passes
//! the same conformance suite ([`conformance`], behind the `conformance` feature).
//! Adapters: [`embedded`] (SQLite + files, the local default) and [`azure`]
//! (the official Azure SDK for Rust 1.x crates).

pub mod azure;
mod blob;
mod clock;
mod document;
pub mod embedded;
mod error;
mod hex;
mod queue;
mod telemetry;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use blob::{BlobChunks, BlobInfo, BlobPath, BlobStore, BlobStream, PutMode};
pub use clock::{Clock, ManualClock, SystemClock};
pub use document::{
    BatchOp, BatchResult, Document, DocumentStore, ETag, Filter, FilterOp, NewDocument, Order, Page, Query,
    TextDocument, TextPage,
};
pub use error::{StoreError, StoreResult};
pub use hex::lower_hex;
pub use queue::{QueueName, QueueStore, ReceivedMessage};
