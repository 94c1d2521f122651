//! `GET /api/notifications/{id}`: one notification with its delivery status.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{NotificationItem, Shared, item, load};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowNotification";

/// One notification, with how each channel fared.
#[utoipa::path(
    get,
    path = "/api/notifications/{id}",
    operation_id = OPERATION,
    tag = "notifications",
    params(("id" = String, Path, description = "The notification's id (64 hexadecimal digits).")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Oznámení a stav jeho doručení.", body = NotificationItem),
        (status = 404, description = "Takové oznámení mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(n): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<NotificationItem>, Problem> {
    let owner = citizen.subject.as_str();
    let doc = load(&n, owner, &id).await?;
    let item = item(&n, owner, &doc, true).await?;
    n.access_log.record_own(&citizen, Action::Read, "notification", &id, "show a notification").await?;
    Ok(Json(item))
}
