//! `POST /api/filings/register-writes`: a request to write data into the
//! population register, validated, recorded and filed through the gateway
//! at once.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{FilingSummary, Shared, bad_input};
use crate::filings::deadline_entries::announce_and_mark;
use crate::filings::submission::{self, SOURCE};
use crate::filings::{self, Filing, FilingError, FilingStatus, certificate, new_id, register_writes, seal_data};
use crate::gateway::FilingSubmission;
use crate::my_data::{Reader, my_registers};

/// What to write; the fields depend on `kind`. Every broken rule comes back
/// at once, field by field.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "contact", "email": "jana@example.cz", "phone": "+420601123456"}))]
#[allow(dead_code)] // documents the body that `register_writes::parse` checks
#[serde(rename_all = "camelCase")]
pub struct RegisterWriteInput {
    /// `delivery-address`, `contact` or `qualified-certificate`.
    kind: String,
    /// delivery-address: the street (small municipalities have none).
    street: Option<String>,
    /// delivery-address: číslo popisné, 1–5 digits.
    house_number: Option<String>,
    /// delivery-address: číslo orientační, 1–3 digits and an optional lower-case letter.
    orientation_number: Option<String>,
    /// delivery-address: the municipality (obec).
    municipality: Option<String>,
    /// delivery-address: PSČ, 5 digits (a space after the third allowed).
    postcode: Option<String>,
    /// delivery-address: a P. O. Box number instead of street and numbers.
    po_box: Option<String>,
    /// contact: an e-mail address.
    email: Option<String>,
    /// contact: a phone number in E.164 (+420…, or another EU state).
    phone: Option<String>,
    /// qualified-certificate: a PEM or base64 DER X.509 certificate, at most 16 kB.
    certificate: Option<String>,
}

/// The agency the portal names until the gateway's receipt names the real one.
fn provisional_agency(kind: &str) -> portal_events::FilingAgency {
    let name = match kind {
        "qualified-certificate" => "Správce registru obyvatel (Ministerstvo vnitra)",
        _ => "Ohlašovna / správce registru obyvatel (Ministerstvo vnitra)",
    };
    portal_events::FilingAgency { name: name.to_owned(), box_id: None }
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "RequestRegisterWrite";

/// Files a new delivery address, contacts or a qualified certificate with the
/// population register. A delivery address or a qualified certificate needs a
/// login no older than 10 minutes (step-up).
#[utoipa::path(
    post,
    path = "/api/filings/register-writes",
    operation_id = OPERATION,
    tag = "filings",
    request_body = RegisterWriteInput,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Podání je odesláno úřadu.", body = FilingSummary),
        (status = 400, description = "Vstup porušuje jedno nebo více pravidel; `errors` jmenuje pole a pravidlo.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Nepřihlášen, nebo přihlášení starší než 10 minut (`/problems/reauthentication-required`): přihlaste se znovu přes /api/auth/login?maxAge=600.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    citizen: Citizen,
    body: Result<Body<Value>, Problem>,
) -> Result<(StatusCode, Json<FilingSummary>), Problem> {
    let body = body.map(|Body(body)| body).unwrap_or(Value::Null);
    let now = registers.clock.now();
    let write = register_writes::parse(&body, now).map_err(bad_input)?;
    let subject = citizen.subject.as_str();
    // Legal acts with lasting effect (a delivery address, a qualified
    // certificate): step-up to a login within 10 minutes. Contacts are not.
    if matches!(write.submission, FilingSubmission::DeliveryAddress(_) | FilingSubmission::QualifiedCertificate(_)) {
        citizen.require_recent_login(now)?;
    }
    if let FilingSubmission::QualifiedCertificate(data) = &write.submission {
        // The chain to a qualified CA, the key usage, and that it is the citizen's own.
        let (mine, _) = my_registers(&registers, &citizen.subject, Reader::Citizen).await?;
        let leaf = base64::engine::general_purpose::STANDARD.decode(&data.certificate).unwrap_or_default();
        let anchors = &registers.settings.qualified_trust_anchors;
        let (given, family) = (&mine.person.given_name, &mine.person.family_name);
        if let Err(refusal) = certificate::verify(&leaf, &write.intermediates, anchors, now, given, family) {
            return Err(bad_input(vec![FieldViolation::new("certificate", refusal.rule())]));
        }
    }
    let id = new_id();
    let kind = write.submission.kind();
    let mut filing = Filing::new(
        &id,
        kind,
        &write.title,
        provisional_agency(kind),
        FilingStatus::Submitted,
        now,
        SOURCE,
        &id,
        registers.settings.simulated,
    );
    seal_data(&registers, subject, &mut filing, &write.submission).await?;
    let etag = filings::create(&registers, subject, &filing).await?;
    if let Err(error) = submission::ensure_sent(&registers, &citizen.subject, &mut filing).await {
        // Nothing reached the agency: take the filing back, the citizen tries again.
        let _ = registers.documents.delete(crate::COLLECTION, subject, &filings::doc_id(&id), None).await;
        return Err(error.into());
    }
    if let Err(error) = submission::progress(&registers, &citizen.subject, &mut filing).await {
        tracing::warn!(error = %error, "the new filing's progress could not be read; it is read on the next look");
    }
    match filings::save(&registers, subject, &filing, &etag).await {
        // Someone refreshed it meanwhile (the same receipt): theirs stands.
        Ok(_) | Err(FilingError::Contended) => {}
        Err(error) => return Err(error.into()),
    }
    if let Err(error) = announce_and_mark(&registers, subject, &mut filing).await {
        tracing::warn!(error = %error, "the filing's deadline could not be put in the calendar; the next look does it");
    }
    let purpose = format!("podání: {}", filing.title);
    registers.access_log.record_own(&citizen, Action::Create, "filing", &id, &purpose).await?;
    Ok((StatusCode::CREATED, Json(FilingSummary::new(&filing, now))))
}
