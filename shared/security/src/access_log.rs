//! "Who touched my data": every read or change of a citizen's personal data,
//! by the citizen, an official or a system job, in an append-only log in the
//! citizen's own partition, which the citizen can read. Complete, not sampled:
//! a failure to record is an error for the caller, not a warning.

use std::sync::Arc;

use portal_store::{Clock, DocumentStore, FilterOp, NewDocument, Order, Query, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::subject::SubjectId;

pub const COLLECTION: &str = "access-log";

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Actor {
    /// The citizen themselves.
    Citizen,
    /// An official, by their id in the officials' list.
    Official { id: String },
    /// A named system job (`ArchiveExpiringMessages`, `FetchExtract`, …).
    System { job: String },
    /// Somebody else logged in, who asked for this citizen's resource and was
    /// refused; never named (their identity is not this citizen's data).
    OtherCitizen,
    /// A person this citizen authorised, or who represents them by law,
    /// acting under grant `grant` ("Jana Nováková jednala za vás").
    Delegate { grant: String, name: String },
    /// The citizen themselves, acting for `principal` under grant `grant`
    /// (the entry in the delegate's own log).
    OnBehalfOf { grant: String, principal: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
    Export,
    Login,
    Logout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Success,
    Denied,
    Failed,
}

/// One entry: when, who, what, why, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub action: Action,
    /// `profile`, `document`, `data-message`, `session`, …
    pub resource_type: String,
    pub resource_id: String,
    /// The function and its purpose, in words the citizen understands.
    pub purpose: String,
    pub outcome: Outcome,
}

impl AccessEntry {
    pub fn new(actor: Actor, action: Action, resource_type: &str, resource_id: &str, purpose: &str) -> Self {
        Self {
            at: OffsetDateTime::UNIX_EPOCH,
            actor,
            action,
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.to_owned(),
            purpose: purpose.to_owned(),
            outcome: Outcome::Success,
        }
    }

    #[must_use]
    pub fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }
}

/// One item of [`AccessLog::record_reads`]: what was read and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessedItem<'a> {
    pub resource_id: &'a str,
    /// In words the citizen understands ("Finanční správa: stav daňového účtu").
    pub purpose: &'a str,
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFilter {
    pub resource_type: Option<String>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
    pub newest_first: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPage {
    pub items: Vec<AccessEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    #[serde(flatten)]
    entry: AccessEntry,
    /// Nanoseconds since the epoch: the sort key.
    at_nanos: i64,
}

#[derive(Debug, Clone)]
pub struct AccessLog {
    documents: Arc<dyn DocumentStore>,
    clock: Arc<dyn Clock>,
    /// The last sort key handed out: entries recorded within one clock tick
    /// still come back in the order they were recorded.
    last: Arc<std::sync::atomic::AtomicI64>,
    /// Random, made once per log (clones share it): the second half of every
    /// entry id. Sort keys never repeat within one log, so the pair is unique
    /// even where several instances write one citizen's log, without drawing
    /// random bytes for each entry (issue 18: a hundredth of a page's CPU).
    tag: Arc<str>,
}

fn nanos(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

impl AccessLog {
    pub fn new(documents: Arc<dyn DocumentStore>, clock: Arc<dyn Clock>) -> Self {
        let tag = crate::random_secret()[..10].into();
        Self { documents, clock, last: Arc::new(std::sync::atomic::AtomicI64::new(0)), tag }
    }

    fn sort_key(&self, at: OffsetDateTime) -> i64 {
        use std::sync::atomic::Ordering;
        let now = nanos(at);
        let previous = self.last.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(now.max(last + 1)));
        previous.map_or(now, |last| now.max(last + 1))
    }

    /// Appends an entry, stamped now. Entries are never replaced or deleted
    /// (not even by erasure: the log is the citizen's proof of what happened).
    pub async fn record(&self, owner: &SubjectId, mut entry: AccessEntry) -> Result<(), StoreError> {
        entry.at = self.clock.now();
        let at_nanos = self.sort_key(entry.at);
        let id = format!("{at_nanos:020}-{}", self.tag);
        let body = serde_json::to_value(Stored { entry, at_nanos }).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.documents.create(COLLECTION, NewDocument::new(owner.as_str(), id, body)).await.map(drop)
    }

    /// Records several reads made for one request (a page that opens many
    /// records with different purposes, such as the dashboard's summaries of
    /// several portals) as ONE entry: its `resource_id` lists every item's id
    /// (joined by `,`) and its `purpose` every item's purpose (joined by
    /// `; `), so the citizen still sees each thing read and why, at the cost
    /// of one append. Nothing is recorded when `items` is empty.
    pub async fn record_reads(
        &self,
        owner: &SubjectId,
        actor: Actor,
        resource_type: &str,
        items: &[AccessedItem<'_>],
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let ids = items.iter().map(|item| item.resource_id).collect::<Vec<_>>().join(",");
        let purposes = items.iter().map(|item| item.purpose).collect::<Vec<_>>().join("; ");
        self.record(owner, AccessEntry::new(actor, Action::Read, resource_type, &ids, &purposes)).await
    }

    /// Records what a logged-in citizen did with their own data.
    pub async fn record_own(
        &self,
        citizen: &crate::Citizen,
        action: Action,
        resource_type: &str,
        resource_id: &str,
        purpose: &str,
    ) -> Result<(), StoreError> {
        self.record(&citizen.subject, AccessEntry::new(Actor::Citizen, action, resource_type, resource_id, purpose))
            .await
    }

    /// Records, in `owner`'s log, that another logged-in citizen asked to
    /// `action` the owner's `resource_type` `resource_id` and was refused
    /// (answered 404 as if it did not exist). The one call every capability's
    /// ownership check makes where a lookup by id can reach another
    /// citizen's resource; the other citizen is not named.
    pub async fn record_refused(
        &self,
        owner: &SubjectId,
        action: Action,
        resource_type: &str,
        resource_id: &str,
    ) -> Result<(), StoreError> {
        let entry = AccessEntry::new(
            Actor::OtherCitizen,
            action,
            resource_type,
            resource_id,
            "pokus jiného uživatele o přístup k vašim údajům, odmítnut",
        )
        .with_outcome(Outcome::Denied);
        self.record(owner, entry).await
    }

    /// A page of the citizen's log, oldest first unless asked otherwise.
    pub async fn list(
        &self,
        owner: &SubjectId,
        filter: &AccessFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<AccessPage, StoreError> {
        let order = if filter.newest_first { Order::Descending } else { Order::Ascending };
        let mut query = Query::default().order_by("atNanos", order).page_size(page_size).after(continuation);
        if let Some(kind) = &filter.resource_type {
            query = query.filter("resourceType", FilterOp::Eq, kind.clone());
        }
        if let Some(from) = filter.from {
            query = query.filter("atNanos", FilterOp::Ge, nanos(from));
        }
        if let Some(to) = filter.to {
            query = query.filter("atNanos", FilterOp::Lt, nanos(to));
        }
        let page = self.documents.query(COLLECTION, owner.as_str(), query).await?;
        let items = page
            .items
            .into_iter()
            .filter_map(|doc| serde_json::from_value::<Stored>(doc.body).ok().map(|stored| stored.entry))
            .collect();
        Ok(AccessPage { items, continuation: page.continuation })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use portal_store::ManualClock;
    use portal_store::embedded::EmbeddedStore;
    use time::macros::datetime;

    use super::*;

    /// Two logs (two instances of the portal) writing one citizen's log at
    /// the same instant must not take each other's entry ids: the second
    /// write would fail as a conflict and the read go unrecorded.
    #[tokio::test]
    async fn two_logs_recording_at_the_same_instant_keep_both_entries() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
        let store: Arc<dyn DocumentStore> = Arc::new(EmbeddedStore::in_memory(clock.clone()).expect("store"));
        let (first, second) = (AccessLog::new(store.clone(), clock.clone()), AccessLog::new(store, clock.clone()));
        let jana = SubjectId::parse("jana").expect("valid");
        for (log, id) in [(&first, "a"), (&second, "b"), (&first.clone(), "c")] {
            log.record(&jana, AccessEntry::new(Actor::Citizen, Action::Read, "profile", id, "test"))
                .await
                .expect("record");
        }
        let listed = first.list(&jana, &AccessFilter::default(), 10, None).await.expect("list");
        let mut ids: Vec<_> = listed.items.iter().map(|e| e.resource_id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[tokio::test]
    async fn entries_come_back_in_order_filtered_and_paged() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
        let log = AccessLog::new(Arc::new(EmbeddedStore::in_memory(clock.clone()).expect("store")), clock.clone());
        let jana = SubjectId::parse("jana").expect("valid");
        let petr = SubjectId::parse("petr").expect("valid");
        for i in 0..5 {
            let kind = if i % 2 == 0 { "profile" } else { "document" };
            log.record(&jana, AccessEntry::new(Actor::Citizen, Action::Read, kind, &format!("r{i}"), "test"))
                .await
                .expect("record");
            if i < 3 {
                clock.advance(Duration::from_secs(1));
            }
        }
        let official = AccessEntry::new(Actor::Official { id: "off-7".into() }, Action::Update, "profile", "p", "fix");
        log.record(&petr, official).await.expect("record");

        let all = log.list(&jana, &AccessFilter::default(), 2, None).await.expect("list");
        assert_eq!(all.items.iter().map(|e| e.resource_id.as_str()).collect::<Vec<_>>(), ["r0", "r1"]);
        let next = log.list(&jana, &AccessFilter::default(), 10, all.continuation).await.expect("list");
        assert_eq!(next.items.len(), 3, "paging continues where it stopped");

        let profiles =
            AccessFilter { resource_type: Some("profile".into()), newest_first: true, ..AccessFilter::default() };
        let ids: Vec<_> = log
            .list(&jana, &profiles, 10, None)
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|e| e.resource_id)
            .collect();
        assert_eq!(ids, ["r4", "r2", "r0"]);

        let window = AccessFilter {
            from: Some(datetime!(2026-11-23 08:00:01 UTC)),
            to: Some(datetime!(2026-11-23 08:00:03 UTC)),
            ..AccessFilter::default()
        };
        assert_eq!(log.list(&jana, &window, 10, None).await.expect("list").items.len(), 2);
        let petrs = log.list(&petr, &AccessFilter::default(), 10, None).await.expect("list");
        assert_eq!(petrs.items.len(), 1, "each citizen sees only their own log");
        assert_eq!(petrs.items[0].actor, Actor::Official { id: "off-7".into() });
    }

    #[tokio::test]
    async fn several_reads_make_one_entry_naming_each_item_and_purpose() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
        let log = AccessLog::new(Arc::new(EmbeddedStore::in_memory(clock.clone()).expect("store")), clock.clone());
        let jana = SubjectId::parse("jana").expect("valid");
        log.record_reads(&jana, Actor::Citizen, "tile-summary", &[]).await.expect("nothing to record");
        assert!(log.list(&jana, &AccessFilter::default(), 10, None).await.expect("list").items.is_empty());
        let items = [
            AccessedItem { resource_id: "financni-sprava", purpose: "Finanční správa: stav daňového účtu" },
            AccessedItem { resource_id: "erecept", purpose: "eRecept: platné recepty" },
        ];
        log.record_reads(&jana, Actor::Citizen, "tile-summary", &items).await.expect("record");
        let entries = log.list(&jana, &AccessFilter::default(), 10, None).await.expect("list").items;
        assert_eq!(entries.len(), 1, "one entry for the request");
        assert_eq!(entries[0].action, Action::Read);
        assert_eq!(entries[0].resource_type, "tile-summary");
        assert_eq!(entries[0].resource_id, "financni-sprava,erecept");
        assert_eq!(entries[0].purpose, "Finanční správa: stav daňového účtu; eRecept: platné recepty");
        assert_eq!(entries[0].at, clock.now());
    }
}
