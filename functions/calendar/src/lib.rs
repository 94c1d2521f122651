//! The `calendar` capability (Kalendář): the citizen's own events, dated
//! entries other capabilities send (document expiry, deemed delivery of data
//! messages, petition deadlines, answer deadlines of filings), reminders
//! before them, and a personal iCalendar feed a calendar app can subscribe to.
//!
//! Everything of one citizen lives in the citizen's partition of collection
//! [`COLLECTION`]:
//! - `event-<uuid>`: an own event; `entry-<entry id>`: a system entry (both
//!   `type: "calendar-item"`, see [`item`]); titles, descriptions and places
//!   are sealed with the citizen's key;
//! - `counter`: how many own events the citizen has (kept in the same batch as
//!   each create and delete, so the limit holds under concurrency);
//! - `feed`: which iCalendar feed token is current (its SHA-256 only).
//!
//! Outside the citizens' partitions: `reminders-<day>` hold the reminders due
//! that day (so the daily timer reads a few small partitions instead of every
//! citizen), `reminders-progress` the timer's progress, and `feed-tokens` the
//! lookup from a feed token's hash to its owner.
//!
//! When the citizen erases their account, `EraseCalendarData` (queue
//! `erase-calendar`) deletes all of it ([`queue::erase_calendar_data`]).
//!
//! Layout: [`http`] has one file per HTTP action, [`queue`] and [`timer`] one
//! file per function; [`functions`] below is the list the app serves.

pub mod export;
pub mod feed;
pub mod http;
pub mod ical;
pub mod item;
pub mod queue;
pub mod reminders;
pub mod timer;
pub mod validate;

use std::sync::Arc;

use axum::http::StatusCode;
use portal_crypto::{CryptoError, Sealer};
use portal_host::{Failure, Function, Problem, op};
use portal_security::AccessLog;
use portal_store::{Clock, DocumentStore, QueueStore, StoreError};

/// The collection holding everything of this capability.
pub const COLLECTION: &str = "calendar";
/// The document counting a citizen's own events.
pub(crate) const COUNTER_ID: &str = "counter";

/// Settings of the capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarSettings {
    /// Days before a document expires (ID card, driving licence, passport)
    /// when the citizen is reminded; 0 = on the day. Portál občana sends these
    /// 30 days before, 7 days before and on the day.
    pub reminder_days: Vec<u32>,
    /// Days before a petition deadline or a legal answer deadline of a filing
    /// when the citizen is reminded (deemed delivery is warned about by the
    /// data box capability itself, so it gets none here).
    pub deadline_reminder_days: Vec<u32>,
    /// The portal's public address, for the feed URL handed to the citizen.
    pub public_base_url: String,
    /// The most own events one citizen may keep.
    pub max_events_per_citizen: u32,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        Self {
            reminder_days: vec![30, 7, 0],
            deadline_reminder_days: vec![7, 1],
            public_base_url: "http://localhost:7071".into(),
            max_events_per_citizen: 2000,
        }
    }
}

/// The capability's dependencies.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub documents: Arc<dyn DocumentStore>,
    pub queues: Arc<dyn QueueStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
    pub clock: Arc<dyn Clock>,
    pub settings: CalendarSettings,
}

impl Calendar {
    /// Today in the Czech Republic (Europe/Prague), the day calendar dates
    /// and reminders count in.
    pub fn today(&self) -> time::Date {
        item::prague_date(self.clock.now())
    }
}

/// What can go wrong inside the capability, below the HTTP edge.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A concurrent writer changed the same document first; trying again sees
    /// what it wrote.
    #[error("the document was changed concurrently")]
    Contended,
    /// A stored document does not have the shape this code writes.
    #[error("a stored calendar document is malformed: {0}")]
    Corrupt(String),
}

impl Failure for CalendarError {
    /// Whether trying again later may help.
    fn is_retryable(&self) -> bool {
        match self {
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
            Self::Contended => true,
            Self::Corrupt(_) => false,
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::Contended => Problem::new(StatusCode::CONFLICT, "conflict", "The item was changed at the same time")
                .with_detail("reload and try again"),
            Self::Store(error) => error.problem(),
            Self::Crypto(error) => error.problem(),
            Self::Corrupt(_) => Problem::internal(),
        }
    }
}

impl CalendarError {
    /// Whether trying again later may help.
    pub fn is_retryable(&self) -> bool {
        Failure::is_retryable(self)
    }
}

/// Every function of the capability: the HTTP routes, the queue functions
/// `FileCalendarEntry` and `EraseCalendarData`, and the timer `SendReminders`.
pub fn functions(calendar: Calendar) -> Vec<Function> {
    let s = Arc::new(calendar);
    vec![
        Function::api(op!(http::list_events)).with_state(s.clone()).build(),
        Function::api(op!(http::create_event)).with_state(s.clone()).build(),
        Function::api(op!(http::show_event)).with_state(s.clone()).build(),
        Function::api(op!(http::update_event)).with_state(s.clone()).build(),
        Function::api(op!(http::delete_event)).with_state(s.clone()).build(),
        Function::api(op!(http::create_feed)).with_state(s.clone()).build(),
        Function::api(op!(http::show_feed)).with_state(s.clone()).build(),
        Function::api(op!(http::delete_feed)).with_state(s.clone()).build(),
        Function::api(op!(http::feed)).with_state(s.clone()).build(),
        queue::file_calendar_entry::function(s.clone()),
        queue::erase_calendar_data::function(s.clone()),
        timer::send_reminders::function(s),
    ]
}
