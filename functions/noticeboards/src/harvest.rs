//! The harvest: every followed board fetched (conditionally), checked and
//! recorded item by item (new, changed, removed), then every item not yet
//! matched compared with the citizens' watches and one notification
//! published per matching watch and item.
//!
//! Idempotent and crash-safe at every step:
//! - an item is written by its stable id (board and a hash of its `iri` or
//!   `url`), so a repeated harvest writes the same documents again;
//! - a board's ETag and Last-Modified are stored only after all its items
//!   are, so after a crash the next harvest fetches the whole feed again;
//! - a new item is stored `pending`, and stays so until every watch was
//!   matched against it and its notifications were published; a crash in
//!   between repeats the matching, and the notification's event id
//!   (`noticeboards.new-item:<watch>:<item>`) is the same, so the
//!   notifications capability (which keeps one notification per event id)
//!   sends it once;
//! - a feed that fails (time limit, size limit, HTTP error, malformed JSON,
//!   not OFN) is recorded on its board and skipped; nothing of that board
//!   changes, and the other boards are harvested as usual. A passing fault
//!   (time-out, 429, 5xx) is tried again by the next run.

use std::collections::{BTreeMap, BTreeSet};

use portal_events::{Notice, NoticeBoardItem, publish_notice};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{Document, FilterOp, NewDocument, Query, StoreError};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::feeds::{Fetched, Fetcher, FollowedBoard};
use crate::ofn::{self, Item};
use crate::watches::fold;
use crate::{
    BOARDS_PARTITION, COLLECTION, ITEMS_PARTITION, NoticeBoardError, NoticeBoards, WATCH_INDEX_PARTITION, sha256_hex,
};

/// The timer's name.
pub const JOB: &str = "HarvestNoticeBoards";
/// Hourly, at ten past (a notice stays posted for at least 15 days).
pub const SCHEDULE: &str = "0 10 * * * *";
/// The document type of an item.
pub const ITEM_TYPE: &str = "notice-board-item";
/// An index entry without its watch (a crash between the two writes) is
/// removed after this long.
const ORPHAN_AFTER: time::Duration = time::Duration::hours(1);

/// What one harvest did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub boards: Vec<BoardReport>,
    /// Items matched against the watches in this run.
    pub matched_items: usize,
    /// Notifications published (a repeated one included).
    pub notifications: usize,
}

/// One board's harvest.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardReport {
    pub board: String,
    /// `changed`, `not-modified` or `failed`.
    pub status: String,
    pub new: usize,
    pub changed: usize,
    pub removed: usize,
    pub skipped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The id of an item's document.
pub fn item_id(board: &str, identity: &str) -> String {
    format!("{board}--{}", &sha256_hex(identity.as_bytes())[..24])
}

fn now_text(now: OffsetDateTime) -> String {
    now.format(&Rfc3339).unwrap_or_default()
}

/// One harvest of every followed board.
pub async fn run(nb: &NoticeBoards) -> Result<Report, NoticeBoardError> {
    let fetcher = Fetcher::new(nb.settings.fetch_timeout, nb.settings.max_feed_bytes)?;
    let mut report = Report::default();
    for board in nb.boards.boards().await? {
        let outcome = harvest_board(nb, &fetcher, &board).await?;
        if let Some(error) = &outcome.error {
            tracing::warn!(board = %board.id, %error, "a notice board was skipped");
        }
        report.boards.push(outcome);
    }
    let (matched, notified) = match_pending(nb).await?;
    report.matched_items = matched;
    report.notifications = notified;
    Ok(report)
}

/// One board: fetched, checked, recorded. A feed's failure is the report's
/// `error`; only the portal's own store fails the call.
async fn harvest_board(
    nb: &NoticeBoards,
    fetcher: &Fetcher,
    board: &FollowedBoard,
) -> Result<BoardReport, NoticeBoardError> {
    let mut report = BoardReport { board: board.id.clone(), ..BoardReport::default() };
    let state = nb.documents.get(COLLECTION, BOARDS_PARTITION, &board.id).await?;
    let previous = state.as_ref().map(|d| d.body.clone()).unwrap_or(Value::Null);
    // The conditional headers only when the stored feed is the one at this URL.
    let same_url = previous["url"].as_str() == Some(board.url.as_str());
    let etag = previous["etag"].as_str().filter(|_| same_url);
    let last_modified = previous["lastModified"].as_str().filter(|_| same_url);
    let now = nb.clock.now();
    let mut body = json!({
        "type": "notice-board", "id": board.id, "name": board.name, "url": board.url,
        "simulated": board.simulated, "lastHarvestAt": now_text(now),
        "etag": previous["etag"], "lastModified": previous["lastModified"],
        "lastChangedAt": previous["lastChangedAt"], "operatorIco": previous["operatorIco"],
        "items": previous["items"].as_u64().unwrap_or(0), "problems": previous["problems"],
    });
    let fetched = fetcher.fetch(&board.url, etag, last_modified).await;
    let parsed = match fetched {
        Ok(Fetched::NotModified) => {
            report.status = "not-modified".into();
            body["lastStatus"] = json!("not-modified");
            save_board(nb, board, body).await?;
            return Ok(report);
        }
        Ok(Fetched::Changed { body: bytes, etag, last_modified }) => match ofn::parse(&bytes) {
            Ok(parsed) => (parsed, etag, last_modified),
            Err(rejected) => return failed(nb, board, body, report, rejected.into()).await,
        },
        Err(error) => return failed(nb, board, body, report, error).await,
    };
    let (parsed, new_etag, new_last_modified) = parsed;
    let existing = board_items(nb, &board.id).await?;
    let mut seen = BTreeSet::new();
    for identity in &parsed.skipped_identities {
        seen.insert(item_id(&board.id, identity));
    }
    report.skipped = parsed.problems.len();
    let mut kept = 0usize;
    for (item, raw) in &parsed.items {
        let id = item_id(&board.id, &item.identity);
        if !seen.insert(id.clone()) {
            report.skipped += 1;
            continue;
        }
        kept += 1;
        let hash = sha256_hex(raw.to_string().as_bytes());
        match existing.get(&id) {
            None => {
                let doc = item_document(board, &id, item, &hash, now, None, parsed.operator_ico.as_deref());
                match nb.documents.create(COLLECTION, doc).await {
                    Ok(_) | Err(StoreError::Conflict) => report.new += 1,
                    Err(error) => return Err(error.into()),
                }
            }
            Some(doc) => {
                let unchanged = doc.body["hash"].as_str() == Some(hash.as_str()) && doc.body["removedAt"].is_null();
                if unchanged {
                    continue;
                }
                let mut next =
                    item_document(board, &id, item, &hash, now, Some(&doc.body), parsed.operator_ico.as_deref());
                if doc.body["hash"].as_str() != Some(hash.as_str()) {
                    next.body["changedAt"] = json!(now_text(now));
                    report.changed += 1;
                }
                write_over(nb, next, doc).await?;
            }
        }
    }
    for (id, doc) in &existing {
        if !seen.contains(id) && doc.body["removedAt"].is_null() {
            let mut body = doc.body.clone();
            body["removedAt"] = json!(now_text(now));
            write_over(nb, NewDocument::new(ITEMS_PARTITION, id.clone(), body), doc).await?;
            report.removed += 1;
        }
    }
    report.status = "changed".into();
    body["lastStatus"] = json!("ok");
    body["lastError"] = Value::Null;
    body["etag"] = json!(new_etag);
    body["lastModified"] = json!(new_last_modified);
    body["lastChangedAt"] = json!(now_text(now));
    body["operatorIco"] = json!(parsed.operator_ico);
    body["items"] = json!(kept);
    body["problems"] = json!(parsed.problems.iter().take(10).collect::<Vec<_>>());
    save_board(nb, board, body).await?;
    Ok(report)
}

/// A replace that loses to a concurrent writer quietly: the next harvest
/// sees the item again.
async fn write_over(nb: &NoticeBoards, doc: NewDocument, previous: &Document) -> Result<(), NoticeBoardError> {
    match nb.documents.replace(COLLECTION, doc, &previous.etag).await {
        Ok(_) | Err(StoreError::PreconditionFailed | StoreError::NotFound) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

async fn failed(
    nb: &NoticeBoards,
    board: &FollowedBoard,
    mut body: Value,
    mut report: BoardReport,
    error: crate::FeedError,
) -> Result<BoardReport, NoticeBoardError> {
    report.status = "failed".into();
    report.error = Some(error.to_string());
    body["lastStatus"] = json!("failed");
    body["lastError"] = json!(error.to_string());
    save_board(nb, board, body).await?;
    Ok(report)
}

async fn save_board(nb: &NoticeBoards, board: &FollowedBoard, body: Value) -> Result<(), NoticeBoardError> {
    nb.documents.upsert(COLLECTION, NewDocument::new(BOARDS_PARTITION, board.id.clone(), body), None).await?;
    Ok(())
}

/// The stored item; `previous` keeps its first sighting and its pending flag.
fn item_document(
    board: &FollowedBoard,
    id: &str,
    item: &Item,
    hash: &str,
    now: OffsetDateTime,
    previous: Option<&Value>,
    operator_ico: Option<&str>,
) -> NewDocument {
    let mut search = vec![item.title.clone()];
    search.extend(item.description.clone());
    search.extend(item.case_number.clone());
    search.extend(item.file_mark.clone());
    search.extend(item.agendas.iter().cloned());
    let body = json!({
        "type": ITEM_TYPE,
        "board": board.id,
        "boardName": board.name,
        "operatorIco": operator_ico,
        "simulated": board.simulated,
        "item": item,
        "postedOn": item.posted_on,
        "agendaText": fold(&item.agendas.join("\n")),
        "searchText": fold(&search.join("\n")),
        "hash": hash,
        "firstSeenAt": previous.map_or_else(|| json!(now_text(now)), |p| p["firstSeenAt"].clone()),
        "changedAt": previous.map_or(Value::Null, |p| p["changedAt"].clone()),
        "removedAt": Value::Null,
        "pending": previous.map_or(json!(true), |p| p["pending"].clone()),
    });
    NewDocument::new(ITEMS_PARTITION, id, body)
}

/// Every item document of a board, by id.
async fn board_items(nb: &NoticeBoards, board: &str) -> Result<BTreeMap<String, Document>, NoticeBoardError> {
    let mut items = BTreeMap::new();
    let mut continuation = None;
    loop {
        let query = Query::default().filter("board", FilterOp::Eq, board).page_size(1000).after(continuation);
        let page = nb.documents.query(COLLECTION, ITEMS_PARTITION, query).await?;
        for doc in page.items {
            items.insert(doc.id.clone(), doc);
        }
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(items),
        }
    }
}

/// Every document of a partition matching `query`'s filters.
async fn all(nb: &NoticeBoards, partition: &str, query: Query) -> Result<Vec<Document>, NoticeBoardError> {
    let mut found = Vec::new();
    let mut continuation = None;
    loop {
        let page = nb.documents.query(COLLECTION, partition, query.clone().page_size(1000).after(continuation)).await?;
        found.extend(page.items);
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(found),
        }
    }
}

/// The pending items against every watch; then the items are no longer
/// pending. Answers (items matched, notifications published).
async fn match_pending(nb: &NoticeBoards) -> Result<(usize, usize), NoticeBoardError> {
    let pending = all(nb, ITEMS_PARTITION, Query::default().filter("pending", FilterOp::Eq, true)).await?;
    if pending.is_empty() {
        return Ok((0, 0));
    }
    let items: Vec<(Document, Item)> = pending
        .into_iter()
        .filter_map(|doc| {
            let item = serde_json::from_value(doc.body["item"].clone()).ok()?;
            Some((doc, item))
        })
        .collect();
    let now = nb.clock.now();
    let mut notified = 0;
    for entry in all(nb, WATCH_INDEX_PARTITION, Query::default()).await? {
        let Some(owner) = entry.body["owner"].as_str().and_then(|o| SubjectId::parse(o).ok()) else { continue };
        let Some(watch_doc) = nb.documents.get(COLLECTION, owner.as_str(), &entry.id).await? else {
            let created = entry.body["createdAt"].as_str().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
            if created.is_none_or(|at| now - at > ORPHAN_AFTER) {
                let _ = nb.documents.delete(COLLECTION, WATCH_INDEX_PARTITION, &entry.id, Some(&entry.etag)).await;
            }
            continue;
        };
        let watch = match nb.open_watch(owner.as_str(), &watch_doc).await {
            Ok(watch) => watch,
            // An erased citizen: the erasure removes the rest.
            Err(NoticeBoardError::Crypto(error)) if !error.is_retryable() => continue,
            Err(error) => return Err(error),
        };
        let access = AccessEntry::new(
            Actor::System { job: JOB.into() },
            Action::Read,
            "notice-board-watch",
            &entry.id,
            "porovnání hlídání s novými informacemi na úředních deskách",
        );
        nb.access_log.record(&owner, access).await?;
        for (doc, item) in &items {
            let board = doc.body["board"].as_str().unwrap_or_default();
            if !watch.matches(board, item) {
                continue;
            }
            let notice = Notice::NoticeBoardItem(NoticeBoardItem {
                watch_id: entry.id.clone(),
                item_id: doc.id.clone(),
                board: doc.body["boardName"].as_str().unwrap_or(board).to_owned(),
                title: item.title.clone(),
                posted_on: item.posted_on.clone(),
                url: item.url.clone(),
                simulated: doc.body["simulated"].as_bool().unwrap_or(false),
            });
            publish_notice(nb.queues.as_ref(), &notice, &format!("{}:{}", entry.id, doc.id), owner.as_str(), now)
                .await?;
            notified += 1;
        }
    }
    for (doc, _) in &items {
        let mut body = doc.body.clone();
        body["pending"] = json!(false);
        write_over(nb, NewDocument::new(ITEMS_PARTITION, doc.id.clone(), body), doc).await?;
    }
    Ok((items.len(), notified))
}
