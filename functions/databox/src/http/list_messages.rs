//! `GET /api/databox/messages`: a page of one folder of the mailbox, read a
//! page at a time from ISDS (its `dmOffset`/`dmLimit`) or from the archive
//! (the store's continuation), never the whole folder; `nextCursor` leads to
//! the next page.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::delegation::scope::DataboxRead;
use portal_security::{AccessEntry, ActingFor, Action, Actor, Citizen, SubjectId};
use portal_store::{FilterOp, Order};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::{Folder, MessageItem, Shared, Simulation};
use crate::isds::{ListQuery, MessageStatus};
use crate::{COLLECTION, archive};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    /// `received` (default), `sent` or `archived`.
    folder: Option<Folder>,
    /// Only messages not opened yet.
    #[serde(default)]
    unread: bool,
    /// Part of the sender's name, or the sender's box id.
    sender: Option<String>,
    /// Part of the subject (Věc).
    q: Option<String>,
    /// Delivered at or after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<OffsetDateTime>,
    /// Delivered before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<OffsetDateTime>,
    /// Where the page starts: the `nextCursor` of the page before (none: the first page).
    cursor: Option<String>,
    /// 1–100 messages a page (default 20).
    page_size: Option<u32>,
}

/// One page of a folder, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataMessagePage)]
pub struct MessagePage {
    pub folder: Folder,
    pub page_size: u32,
    pub items: Vec<MessageItem>,
    /// The next page's `cursor`; absent on the last page. A page may hold
    /// fewer than `pageSize` items when a filter matched few of the messages
    /// one request looks through; follow the cursor for more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(flatten)]
    pub simulation: Simulation,
}

/// Where a page starts: ISDS's record number (ISDS pages by `dmOffset`), or
/// the archive store's page and how many of its items were already shown.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    o: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    s: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Cursor {
    fn parse(text: &str) -> Result<Self, Problem> {
        let invalid = || Problem::validation(vec![FieldViolation::new("cursor", "the nextCursor of an earlier page")]);
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }

    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// At most this many records are looked through for one page when a filter
/// ISDS cannot apply is set (then the page may come back short, with a cursor).
const SCAN_PAGES: usize = 10;
/// Records asked of ISDS at a time while scanning.
const SCAN_CHUNK: u32 = 100;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListDataMessages";

/// The citizen's data messages in one folder, filtered, a page at a time.
#[utoipa::path(
    get,
    path = "/api/databox/messages",
    operation_id = OPERATION,
    tag = "databox",
    params(ListParams, ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to read the data box of the person who authorised you, or whom you represent (scope `databox-read`)."),),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Zprávy ve složce, nejnovější první.", body = MessagePage),
        (status = 404, description = "K vašemu účtu není připojena žádná datová schránka.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neplatný parametr (složka, čas, kurzor, velikost stránky) nebo ISDS požadavek odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    acting: ActingFor<DataboxRead>,
    Params(params): Params<ListParams>,
) -> Result<Json<MessagePage>, Problem> {
    let page_size = params.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return Err(Problem::validation(vec![FieldViolation::new("pageSize", "must be 1-100")]));
    }
    let cursor = params.cursor.as_deref().map(Cursor::parse).transpose()?.unwrap_or_default();
    let folder = params.folder.unwrap_or(Folder::Received);
    let filter = Filter {
        sender: params.sender.as_ref().map(|s| s.to_lowercase()),
        text: params.q.as_ref().map(|s| s.to_lowercase()),
        unread: params.unread,
        from: params.from,
        to: params.to,
    };
    let (items, next) = if folder == Folder::Archived {
        archived_page(&databox, acting.owner(), &filter, cursor, page_size).await?
    } else {
        isds_page(&databox, acting.owner(), &acting.citizen, folder, &filter, cursor, page_size).await?
    };
    let entry =
        AccessEntry::new(Actor::Citizen, Action::Read, "data-message-list", folder.as_str(), "list data messages");
    acting.record(&databox.access_log, entry).await?;
    let next_cursor = next.map(|c| c.encode());
    Ok(Json(MessagePage { folder, page_size, items, next_cursor, simulation: Simulation::of(&databox) }))
}

/// The filters the portal applies itself (ISDS has no text search).
struct Filter {
    sender: Option<String>,
    text: Option<String>,
    unread: bool,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
}

impl Filter {
    /// Whether ISDS returns exactly what matches (times and statuses only).
    fn isds_exact(&self) -> bool {
        self.sender.is_none() && self.text.is_none()
    }

    fn matches(&self, m: &MessageItem) -> bool {
        (!self.unread || m.unread)
            && self.sender.as_ref().is_none_or(|s| {
                m.envelope.sender_name.to_lowercase().contains(s) || m.envelope.sender_box.as_str() == s.as_str()
            })
            && self.text.as_ref().is_none_or(|t| m.envelope.subject.to_lowercase().contains(t))
    }
}

/// A page of a folder in ISDS, read with ISDS's own paging (`dmOffset`,
/// `dmLimit`): times and "unread" (statuses 4-6) are ISDS's filters; sender
/// and text are the portal's, over at most [`SCAN_PAGES`] chunks.
async fn isds_page(
    databox: &crate::Databox,
    owner: &SubjectId,
    citizen: &Citizen,
    folder: Folder,
    filter: &Filter,
    cursor: Cursor,
    page_size: u32,
) -> Result<(Vec<MessageItem>, Option<Cursor>), Problem> {
    let session = databox.session_context_of(owner, citizen).await?;
    let statuses = if filter.unread {
        vec![MessageStatus::Delivered, MessageStatus::DeemedDelivered, MessageStatus::AcceptedByLogin]
    } else {
        Vec::new()
    };
    let mut offset = cursor.o.unwrap_or(1).max(1);
    let query = |offset: u32, limit: u32| ListQuery {
        from: filter.from,
        to: filter.to,
        statuses: statuses.clone(),
        offset,
        limit,
    };
    if filter.isds_exact() {
        // One more than a page tells whether another page follows.
        let mut batch =
            databox.isds.list_messages(session.as_box(), folder.direction(), &query(offset, page_size + 1)).await?;
        let more = batch.len() > page_size as usize;
        batch.truncate(page_size as usize);
        let next = more.then(|| Cursor { o: Some(offset + page_size), ..Cursor::default() });
        return Ok((batch.into_iter().map(MessageItem::from).collect(), next));
    }
    let mut items = Vec::new();
    for _ in 0..SCAN_PAGES {
        let batch =
            databox.isds.list_messages(session.as_box(), folder.direction(), &query(offset, SCAN_CHUNK)).await?;
        let count = batch.len() as u32;
        for (k, envelope) in batch.into_iter().enumerate() {
            let item = MessageItem::from(envelope);
            if filter.matches(&item) {
                items.push(item);
                if items.len() == page_size as usize {
                    let next = offset + k as u32 + 1;
                    // Whether anything follows is known only by asking; a last empty page is possible.
                    let last = k as u32 + 1 == count && count < SCAN_CHUNK;
                    return Ok((items, (!last).then(|| Cursor { o: Some(next), ..Cursor::default() })));
                }
            }
        }
        if count < SCAN_CHUNK {
            return Ok((items, None));
        }
        offset += count;
    }
    Ok((items, Some(Cursor { o: Some(offset), ..Cursor::default() })))
}

/// A page of the portal's archive, newest archived first, through the
/// store's own paging (a continuation token and how many of that store
/// page's items were shown).
async fn archived_page(
    databox: &crate::Databox,
    owner: &SubjectId,
    filter: &Filter,
    cursor: Cursor,
    page_size: u32,
) -> Result<(Vec<MessageItem>, Option<Cursor>), Problem> {
    let (mut continuation, mut skip) = (cursor.c, cursor.s);
    let mut items = Vec::new();
    for _ in 0..SCAN_PAGES {
        let query = portal_store::Query::default()
            .filter("type", FilterOp::Eq, "archived-message")
            .order_by("archivedAtNanos", Order::Descending)
            .page_size(page_size)
            .after(continuation.clone());
        let page = databox.documents.query(COLLECTION, owner.as_str(), query).await?;
        let count = page.items.len();
        for (k, doc) in page.items.iter().enumerate().skip(skip) {
            let id = doc.body["messageId"].as_str().unwrap_or_default();
            let Some((envelope, _, _)) = archive::load(databox, owner, id).await? else { continue };
            let item = MessageItem::from(envelope);
            if filter.matches(&item) && in_range(item.envelope.delivery_time, filter.from, filter.to) {
                items.push(item);
                if items.len() == page_size as usize {
                    let next = if k + 1 < count {
                        Some(Cursor { c: continuation, s: k + 1, ..Cursor::default() })
                    } else {
                        page.continuation.map(|c| Cursor { c: Some(c), ..Cursor::default() })
                    };
                    return Ok((items, next));
                }
            }
        }
        skip = 0;
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok((items, None)),
        }
    }
    Ok((items, Some(Cursor { c: continuation, ..Cursor::default() })))
}

/// Whether an archived message was delivered in `[from, to)`; one without a
/// delivery time only when no range is asked for.
fn in_range(delivered: Option<OffsetDateTime>, from: Option<OffsetDateTime>, to: Option<OffsetDateTime>) -> bool {
    let Some(at) = delivered else { return from.is_none() && to.is_none() };
    from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t)
}
