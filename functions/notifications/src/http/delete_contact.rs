//! `DELETE /api/me/contacts/{contact}`: removes a contact for notices,
//! verified or pending. The second method of the function
//! `NotificationContact`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, channel_of, record_contact_change};
use crate::contacts;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DeleteNotificationContact";

/// Removes the e-mail address or phone number; notices stop going there at once.
#[utoipa::path(
    delete,
    path = "/api/me/contacts/{contact}",
    operation_id = OPERATION,
    tag = "notifications",
    params(("contact" = String, Path, description = "`email` or `phone`.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 204, description = "Kontakt je odstraněn."),
        (status = 404, description = "Takový kontakt nemáte (kontakty jsou `email` a `phone`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(n): State<Shared>,
    citizen: Citizen,
    Path(contact): Path<String>,
) -> Result<StatusCode, Problem> {
    let channel = channel_of(&contact)?;
    let result = contacts::remove(&n, citizen.subject.as_str(), channel).await;
    let purpose = "remove a contact for notices";
    record_contact_change(&n, &citizen, Action::Delete, channel, purpose, result.is_ok()).await?;
    result?;
    Ok(StatusCode::NO_CONTENT)
}
