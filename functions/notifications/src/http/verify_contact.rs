//! `POST /api/me/contacts/{contact}/verify` with `{"code": "123456"}`: the
//! pending contact becomes the verified one.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Refused, Shared, channel_of, record_contact_change};
use crate::contacts;

/// The code the contact received.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyInput {
    /// The 6 digits.
    #[schema(example = "123456", pattern = "^[0-9]{6}$")]
    code: String,
}

/// The contact is verified.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactVerified {
    /// `email` or `phone`.
    pub contact: String,
    pub verified: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "VerifyContact";

/// Verifies the pending contact with its code; a code works once, for a limited time and a limited number of tries.
#[utoipa::path(
    post,
    path = "/api/me/contacts/{contact}/verify",
    operation_id = OPERATION,
    tag = "notifications",
    params(("contact" = String, Path, description = "`email` or `phone`.")),
    request_body = VerifyInput,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Kontakt je ověřen.", body = ContactVerified),
        (status = 404, description = "Kontakty jsou jen `email` a `phone`.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Na kód nic nečeká (kontakt nebyl zadán, nebo je už ověřen), nebo se týž kód právě ověřuje.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Kód nesouhlasí, vypršel, nebo je po příliš mnoha pokusech zablokován.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(n): State<Shared>,
    citizen: Citizen,
    Path(contact): Path<String>,
    body: Result<Body<VerifyInput>, Problem>,
) -> Result<Json<ContactVerified>, Refused> {
    let channel = channel_of(&contact)?;
    let code = match body {
        Ok(Body(body)) if body.code.trim().len() == 6 && body.code.trim().chars().all(|c| c.is_ascii_digit()) => {
            body.code
        }
        _ => return Err(Problem::validation(vec![FieldViolation::new("code", "the 6 digits we sent you")]).into()),
    };
    let result = contacts::verify(&n, citizen.subject.as_str(), channel, &code).await;
    record_contact_change(&n, &citizen, Action::Update, channel, "verify a contact for notices", result.is_ok())
        .await?;
    result?;
    Ok(Json(ContactVerified { contact: channel.contact_name().to_owned(), verified: true }))
}
