//! `GET /api/databox/messages`: a page of one folder of the mailbox.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::{Action, Citizen};
use portal_store::{FilterOp, Order};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::{Folder, MessageItem, Shared, Simulation};
use crate::isds::ListQuery;
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
    /// The page, from 1.
    page: Option<u32>,
    /// 1–100 messages a page (default 20).
    page_size: Option<u32>,
}

/// One page of a folder, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataMessagePage)]
pub struct MessagePage {
    pub folder: Folder,
    pub page: u32,
    pub page_size: u32,
    /// How many messages match, on all pages.
    pub total: usize,
    pub items: Vec<MessageItem>,
    #[serde(flatten)]
    pub simulation: Simulation,
}

/// The citizen's data messages in one folder, filtered and paged.
#[utoipa::path(
    get,
    path = "/api/databox/messages",
    operation_id = "ListDataMessages",
    tag = "databox",
    params(ListParams),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Zprávy ve složce, nejnovější první.", body = MessagePage),
        (status = 404, description = "K vašemu účtu není připojena žádná datová schránka.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neplatný parametr (složka, čas, stránka) nebo ISDS požadavek odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    citizen: Citizen,
    Params(params): Params<ListParams>,
) -> Result<Json<MessagePage>, Problem> {
    let page = params.page.unwrap_or(1).max(1);
    let page_size = params.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return Err(Problem::validation(vec![FieldViolation::new("pageSize", "must be 1-100")]));
    }
    let folder = params.folder.unwrap_or(Folder::Received);
    let items: Vec<MessageItem> = if folder == Folder::Archived {
        let query = portal_store::Query::default()
            .filter("type", FilterOp::Eq, "archived-message")
            .order_by("archivedAtNanos", Order::Descending)
            .page_size(1000);
        let docs = databox.documents.query(COLLECTION, citizen.subject.as_str(), query).await?.items;
        let mut items = Vec::new();
        for doc in docs {
            let id = doc.body["messageId"].as_str().unwrap_or_default();
            if let Some((envelope, _, _)) = archive::load(&databox, &citizen.subject, id).await? {
                items.push(MessageItem::from(envelope));
            }
        }
        items
    } else {
        let session = databox.session_context(&citizen).await?;
        let query = ListQuery { from: params.from, to: params.to, statuses: Vec::new(), offset: 1, limit: 1000 };
        databox
            .isds
            .list_messages(session.as_box(), folder.direction(), &query)
            .await?
            .into_iter()
            .map(MessageItem::from)
            .collect()
    };
    let sender = params.sender.map(|s| s.to_lowercase());
    let text = params.q.map(|s| s.to_lowercase());
    let mut filtered: Vec<MessageItem> = items
        .into_iter()
        .filter(|m| !params.unread || m.unread)
        .filter(|m| {
            sender.as_ref().is_none_or(|s| {
                m.envelope.sender_name.to_lowercase().contains(s) || m.envelope.sender_box.as_str() == s.as_str()
            })
        })
        .filter(|m| text.as_ref().is_none_or(|t| m.envelope.subject.to_lowercase().contains(t)))
        .filter(|m| folder != Folder::Archived || in_range(m.envelope.delivery_time, params.from, params.to))
        .collect();
    filtered.sort_by_key(|m| std::cmp::Reverse(m.envelope.delivery_time));
    let total = filtered.len();
    let start = ((page - 1) as usize).saturating_mul(page_size as usize);
    let items: Vec<MessageItem> = filtered.into_iter().skip(start).take(page_size as usize).collect();
    databox
        .access_log
        .record_own(&citizen, Action::Read, "data-message-list", folder.as_str(), "list my data messages")
        .await?;
    Ok(Json(MessagePage { folder, page, page_size, total, items, simulation: Simulation::of(&databox) }))
}

/// Whether an archived message was delivered in `[from, to)`; one without a
/// delivery time only when no range is asked for.
fn in_range(delivered: Option<OffsetDateTime>, from: Option<OffsetDateTime>, to: Option<OffsetDateTime>) -> bool {
    let Some(at) = delivered else { return from.is_none() && to.is_none() };
    from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t)
}
