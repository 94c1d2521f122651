//! `GET /api/notifications?unread=true&continuation=…&pageSize=…`: the
//! citizen's inbox, newest first.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::{Action, Citizen};
use portal_store::{FilterOp, Order, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{NotificationItem, Shared, bad_fields, item};
use crate::COLLECTION;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ListParams {
    /// Only notifications not read yet.
    #[serde(default)]
    unread: bool,
    /// The `continuation` of the previous page.
    continuation: Option<String>,
    /// 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<u32>,
}

/// A page of the inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationItem>,
    /// The token of the next page; null on the last one.
    pub continuation: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListNotifications";

/// The citizen's notifications, newest first.
#[utoipa::path(
    get,
    path = "/api/notifications",
    operation_id = OPERATION,
    tag = "notifications",
    params(ListParams),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Stránka oznámení, od nejnovějšího.", body = NotificationPage),
        (status = 400, description = "Neplatný parametr; `errors` jmenuje který.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(n): State<Shared>,
    citizen: Citizen,
    params: Result<Params<ListParams>, Problem>,
) -> Result<Json<NotificationPage>, Problem> {
    let Ok(Params(params)) = params else {
        return Err(bad_fields(vec![FieldViolation::new(
            "query",
            "unread is true|false, pageSize a number 1-100, continuation the token of the previous page",
        )]));
    };
    let page_size = params.page_size.unwrap_or(n.settings.page_size);
    if !(1..=100).contains(&page_size) {
        return Err(bad_fields(vec![FieldViolation::new("pageSize", "must be 1-100")]));
    }
    let owner = citizen.subject.as_str();
    let mut query = portal_store::Query::default()
        .filter("type", FilterOp::Eq, "notification")
        .order_by("sortKey", Order::Descending)
        .page_size(page_size)
        .after(params.continuation);
    if params.unread {
        query = query.filter("read", FilterOp::Eq, false);
    }
    let page = match n.documents.query(COLLECTION, owner, query).await {
        Err(StoreError::Invalid(_)) => {
            return Err(bad_fields(vec![FieldViolation::new("continuation", "not a token this API issued")]));
        }
        page => page?,
    };
    let mut items = Vec::with_capacity(page.items.len());
    for doc in &page.items {
        items.push(item(&n, owner, doc, false).await?);
    }
    n.access_log.record_own(&citizen, Action::Read, "notification-list", "inbox", "list my notifications").await?;
    Ok(Json(NotificationPage { items, continuation: page.continuation }))
}
