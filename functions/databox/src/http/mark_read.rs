//! `POST /api/databox/messages/received/{id}/read`: marks a received message
//! as downloaded in ISDS.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, record_attempt};
use crate::isds::MessageId;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "MarkDataMessageRead";

/// Marks one of the citizen's received messages as read.
#[utoipa::path(
    post,
    path = "/api/databox/messages/received/{id}/read",
    operation_id = OPERATION,
    tag = "databox",
    params(("id" = String, Path, description = "The message id (dmID).")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Zpráva je označena jako přečtená."),
        (status = 404, description = "Taková zpráva ve vaší schránce není, nebo nemáte připojenou schránku.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "ISDS požadavek odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let id = MessageId::parse(&id).map_err(|_| Problem::not_found("no such data message in your box"))?;
    let session = databox.session_context(&citizen).await?;
    let result = databox.isds.mark_downloaded(&session, &id).await;
    let purpose = "mark a data message as read";
    record_attempt(&databox, &citizen, Action::Update, "data-message", id.as_str(), purpose, result.is_ok()).await?;
    result?;
    Ok(StatusCode::NO_CONTENT)
}
