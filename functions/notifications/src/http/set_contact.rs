//! `PUT /api/me/contacts/{contact}` (`email` with `address`, `phone` with
//! `number`): sets a contact for notices and sends it a verification code.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{PendingEmail, PendingPhone, Refused, Shared, bad_fields, channel_of, record_contact_change, value_key};
use crate::address::{EmailAddress, PhoneNumber};
use crate::channel::Channel;
use crate::contacts::{self, Contact};
use crate::rfc3339;

/// The contact to set: `address` for `email`, `number` for `phone`
/// (`address` is accepted for a phone too).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"address": "jana@example.cz"}))]
#[allow(dead_code)] // documents the body the handler reads
pub struct ContactInput {
    /// An e-mail address.
    #[schema(nullable = false)]
    address: Option<String>,
    /// A mobile number of an EU member state, with its country code (`+420 601 123 456`).
    #[schema(nullable = false)]
    number: Option<String>,
}

/// A code is on its way to the contact.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeSent {
    /// `email` or `phone`.
    pub contact: String,
    pub pending: PendingContact,
    /// A sentence for the citizen.
    pub detail: String,
    /// SIMULATOR only: nothing was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulated: Option<bool>,
    /// SIMULATOR only: the code, since nothing reaches the citizen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulated_code: Option<String>,
    /// SIMULATOR only: says why the code is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
}

/// The contact waiting for its code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PendingContact {
    Email(PendingEmail),
    Phone(PendingPhone),
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "NotificationContact";

/// Sets the e-mail address or phone number for notices and sends it a 6-digit code; the contact is used once verified.
#[utoipa::path(
    put,
    path = "/api/me/contacts/{contact}",
    operation_id = OPERATION,
    tag = "notifications",
    params(("contact" = String, Path, description = "`email` or `phone`.")),
    request_body = ContactInput,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Ověřovací kód je na cestě; kontakt platí po ověření.", body = CodeSent),
        (status = 400, description = "V těle chybí adresa či číslo.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Kontakty jsou jen `email` a `phone`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Adresa či číslo porušuje pravidla; `errors` jmenuje které.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Příliš mnoho kódů za hodinu; `Retry-After` říká, za kolik sekund to jde znovu.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Sekundy do dalšího pokusu."))),
        (status = 503, description = "Kód se nepodařilo odeslat, nebo je dočasně nedostupná služba, na které portál závisí.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(n): State<Shared>,
    citizen: Citizen,
    Path(contact): Path<String>,
    body: Result<Body<Value>, Problem>,
) -> Result<(StatusCode, Json<CodeSent>), Refused> {
    let channel = channel_of(&contact)?;
    let key = value_key(channel);
    let raw = body.ok().and_then(|Body(body)| {
        body.get(key).or_else(|| body.get("address")).and_then(Value::as_str).map(str::to_owned)
    });
    let Some(raw) = raw else {
        return Err(bad_fields(vec![FieldViolation::new(key, "required, a string")]).into());
    };
    let parsed = match channel {
        Channel::Email => EmailAddress::parse(&raw).map(Contact::Email),
        Channel::Sms => PhoneNumber::parse(&raw).map(Contact::Phone),
    };
    let contact = parsed.map_err(|rule| Problem::validation(vec![FieldViolation::new(key, rule)]))?;
    let result = contacts::request_code(&n, citizen.subject.as_str(), &contact).await;
    let purpose = "set a contact for notices and send it a verification code";
    record_contact_change(&n, &citizen, Action::Update, channel, purpose, result.is_ok()).await?;
    let sent = result?;
    let minutes = n.settings.code_ttl.as_secs().div_ceil(60);
    let (value, code_expires_at) = (contact.as_str().to_owned(), rfc3339(sent.expires));
    let pending = match channel {
        Channel::Email => PendingContact::Email(PendingEmail { address: value, code_expires_at }),
        Channel::Sms => PendingContact::Phone(PendingPhone { number: value, code_expires_at }),
    };
    let simulated = sent.simulated_code.is_some();
    let body = CodeSent {
        contact: channel.contact_name().to_owned(),
        pending,
        detail: format!("Ověřovací kód jsme poslali na zadaný kontakt. Zadejte jej do {minutes} minut."),
        simulated: simulated.then_some(true),
        simulated_code: sent.simulated_code,
        notice: simulated
            .then(|| "SIMULATOR: nothing was sent; the code is shown here because the channel is simulated".to_owned()),
    };
    Ok((StatusCode::ACCEPTED, Json(body)))
}
