//! The `noticeboards` capability (úřední desky): the official notice boards
//! the portal follows, harvested by a timer from their OFN feeds, searchable
//! by anyone, and watched by citizens who are told once about every new item
//! that matches a watch.
//!
//! Collection [`COLLECTION`]:
//! - partition `boards`: one document per followed board (`<board id>`):
//!   the last harvest's outcome, the ETag and Last-Modified of the last feed
//!   recorded in full;
//! - partition `items`: one document per item ever seen
//!   (`<board id>--<hash of the item's iri or url>`), public data in clear:
//!   its fields, a hash of its JSON, `firstSeenAt`, `changedAt`, `removedAt`
//!   and `pending` (true until the watches have been matched against it);
//! - the citizen's partition (their subject id): `watch-<uuid>`, the watch
//!   sealed under the citizen's key;
//! - partition `watch-index`: `<watch id>` → the owner, so the harvester
//!   finds every watch without reading every citizen's partition.
//!
//! Layout as in every capability: [`http`] one file per action, [`timer`]
//! and [`queue`] one file per function; the harvest is [`harvest`], the OFN
//! format [`ofn`], the feeds [`feeds`] and the local [`simulator`].

pub mod export;
pub mod feeds;
pub mod harvest;
pub mod http;
pub mod ofn;
pub mod queue;
pub mod simulator;
pub mod timer;
pub mod watches;

use std::sync::Arc;
use std::time::Duration;

use portal_crypto::{CryptoError, Sealer};
use portal_host::{Failure, Function, Problem, op};
use portal_security::AccessLog;
use portal_store::{Clock, DocumentStore, QueueStore, StoreError};

pub use feeds::{BoardDirectory, FeedError, FollowedBoard, StaticBoards};
pub use simulator::{BoardSimulator, SimulatedBoards};

/// The collection holding everything of this capability.
pub const COLLECTION: &str = "noticeboards";
pub const BOARDS_PARTITION: &str = "boards";
pub const ITEMS_PARTITION: &str = "items";
pub const WATCH_INDEX_PARTITION: &str = "watch-index";

/// Settings of the capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeBoardSettings {
    /// The whole request for one feed, connect to last byte.
    pub fetch_timeout: Duration,
    /// The largest feed read.
    pub max_feed_bytes: usize,
    /// The most watches one citizen may keep.
    pub max_watches_per_citizen: usize,
}

impl Default for NoticeBoardSettings {
    fn default() -> Self {
        Self { fetch_timeout: Duration::from_secs(10), max_feed_bytes: 5 * 1024 * 1024, max_watches_per_citizen: 50 }
    }
}

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct NoticeBoards {
    pub boards: Arc<dyn BoardDirectory>,
    pub documents: Arc<dyn DocumentStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub settings: NoticeBoardSettings,
}

/// What can go wrong below the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum NoticeBoardError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Feeds(#[from] FeedError),
    /// A stored document does not have the shape this code writes.
    #[error("a stored notice-board document is malformed: {0}")]
    Corrupt(String),
}

impl Failure for NoticeBoardError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            Self::Feeds(error) => error.is_passing(),
            Self::Corrupt(_) => false,
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::Store(error) => error.problem(),
            Self::Crypto(error) => error.problem(),
            Self::Feeds(_) => Problem::unavailable("the notice boards"),
            Self::Corrupt(_) => Problem::internal(),
        }
    }
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    portal_store::lower_hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Every function of the capability.
pub fn functions(boards: NoticeBoards) -> Vec<Function> {
    let s = Arc::new(boards);
    vec![
        Function::api(op!(http::list_boards)).with_state(s.clone()).build(),
        Function::api(op!(http::search_items)).with_state(s.clone()).build(),
        Function::api(op!(http::create_watch)).with_state(s.clone()).build(),
        Function::api(op!(http::list_watches)).with_state(s.clone()).build(),
        Function::api(op!(http::delete_watch)).with_state(s.clone()).build(),
        queue::erase_noticeboards_data::function(s.clone()),
        timer::harvest_notice_boards::function(s),
    ]
}
