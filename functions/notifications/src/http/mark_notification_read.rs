//! `POST /api/notifications/{id}/read`: marks a notification as read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use portal_store::{NewDocument, StoreError};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{Shared, load};
use crate::{COLLECTION, rfc3339};

/// A notification's read state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadState {
    pub id: String,
    pub read: bool,
    /// When it was first read, RFC 3339.
    pub read_at: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "MarkNotificationRead";

/// Marks a notification as read; marking it again keeps the first time.
#[utoipa::path(
    post,
    path = "/api/notifications/{id}/read",
    operation_id = OPERATION,
    tag = "notifications",
    params(("id" = String, Path, description = "The notification's id (64 hexadecimal digits).")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Oznámení je přečtené.", body = ReadState),
        (status = 404, description = "Takové oznámení mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Oznámení se právě mění; zkuste to znovu.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(n): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Json<ReadState>, Problem> {
    let owner = citizen.subject.as_str();
    let mut read_at = None;
    for _ in 0..5 {
        let doc = load(&n, owner, &id).await?;
        if doc.body["read"] == true {
            read_at = Some(doc.body["readAt"].as_str().map(str::to_owned));
            break;
        }
        let now = rfc3339(n.clock.now());
        let mut body = doc.body.clone();
        body["read"] = Value::Bool(true);
        body["readAt"] = Value::from(now.clone());
        match n.documents.replace(COLLECTION, NewDocument::new(owner, &id, body), &doc.etag).await {
            Ok(_) => {
                read_at = Some(Some(now));
                break;
            }
            Err(StoreError::PreconditionFailed) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    let Some(read_at) = read_at else {
        return Err(Problem::new(StatusCode::CONFLICT, "busy", "The notification is changing").with_detail("try again"));
    };
    n.access_log.record_own(&citizen, Action::Update, "notification", &id, "mark a notification as read").await?;
    Ok(Json(ReadState { id, read: true, read_at }))
}
