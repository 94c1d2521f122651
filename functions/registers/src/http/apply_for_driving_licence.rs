//! `POST /api/filings/driving-licence` (multipart): the application for a
//! new driving licence, with the photo checked from its own bytes.

use axum::Json;
use axum::extract::Multipart;
use axum::extract::State;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use portal_host::{FieldViolation, Problem, upload};
use portal_security::{Action, Citizen};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{FilingSummary, Shared, bad_input, invalid};
use crate::filings::licence::{self, Application, Reason};
use crate::filings::{FilingStatus, jpeg};

/// The application form (multipart/form-data).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the parts the handler reads one by one
#[serde(rename_all = "camelCase")]
pub struct LicenceApplicationForm {
    /// A JPEG photo 35 × 45 mm (at least 413 × 531 pixels), 20 kB – 5 MB.
    #[schema(value_type = String, format = Binary)]
    photo: Vec<u8>,
    /// `expired`, `data-change`, `lost`, `stolen` or `damaged`.
    reason: String,
    /// `pickup` (the default): a licence is always collected in person.
    delivery: Option<String>,
    /// The office that hands over the licence: the ORP code, 4 digits.
    office_code: String,
}

/// The application, and where to pay its fee when there is one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenceApplication {
    #[serde(flatten)]
    pub summary: FilingSummary,
    /// Where the citizen pays the fee (with 202, `awaiting-payment`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay_url: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ApplyForDrivingLicence";

/// Applies for a new driving licence; a fee is paid first, through the
/// payment gateway.
#[utoipa::path(
    post,
    path = "/api/filings/driving-licence",
    operation_id = OPERATION,
    tag = "filings",
    request_body(content = LicenceApplicationForm, content_type = "multipart/form-data"),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Žádost bez poplatku je podána úřadu.", body = LicenceApplication),
        (status = 202, description = "Žádost čeká na zaplacení poplatku: `payUrl` vede k platbě.", body = LicenceApplication),
        (status = 400, description = "Fotografie, důvod, způsob převzetí nebo úřad porušují pravidla; `errors` jmenuje pole a pravidlo.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Žádost musí být multipart/form-data.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Platby nejsou připojeny, nebo je nedostupná platební brána či registr.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    citizen: Citizen,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<LicenceApplication>), Problem> {
    let Ok(mut multipart) = multipart else {
        return Err(upload::multipart_required("application"));
    };
    let rules = registers.settings.photo_rules;
    let (mut photo, mut declared, mut reason, mut delivery, mut office) = (None, None, None, None, None);
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_problem)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "photo" => {
                declared =
                    field.content_type().map(|t| t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
                photo = Some(read_limited(&mut field, rules.max_bytes).await?);
            }
            "reason" | "delivery" | "officeCode" => {
                let text = field.text().await.map_err(multipart_problem)?.trim().to_owned();
                match name.as_str() {
                    "reason" => reason = Some(text),
                    "delivery" => delivery = Some(text),
                    _ => office = Some(text),
                }
            }
            other => return Err(invalid(other, "unknown field; send photo, reason, delivery and officeCode")),
        }
    }
    let mut errors = Vec::new();
    let photo = match photo {
        None => {
            errors.push(FieldViolation::new("photo", "required: a JPEG photo 35 × 45 mm (at least 413 × 531 pixels)"));
            None
        }
        Some(_)
            if declared
                .as_deref()
                .is_some_and(|t| !matches!(t, "image/jpeg" | "image/pjpeg" | "application/octet-stream")) =>
        {
            errors.push(FieldViolation::new("photo", "must be a JPEG image (image/jpeg)"));
            None
        }
        Some(bytes) => match jpeg::check(&bytes, &rules) {
            Ok(info) => Some((bytes, info)),
            Err(rule) => {
                errors.push(FieldViolation::new("photo", rule));
                None
            }
        },
    };
    let reason = match reason.as_deref().map(Reason::parse) {
        Some(Some(reason)) => Some(reason),
        _ => {
            errors.push(FieldViolation::new("reason", Reason::RULE));
            None
        }
    };
    if delivery.as_deref().is_some_and(|d| !d.is_empty() && d != "pickup") {
        errors.push(FieldViolation::new("delivery", licence::DELIVERY_RULE));
    }
    let office = match office.as_deref().map(licence::parse_office_code) {
        Some(Some(code)) => Some(code),
        _ => {
            errors.push(FieldViolation::new("officeCode", licence::OFFICE_RULE));
            None
        }
    };
    let (Some((photo, photo_info)), Some(reason), Some(office_code), true) = (photo, reason, office, errors.is_empty())
    else {
        return Err(bad_input(errors));
    };
    let application = Application { reason, office_code, photo, photo_info };
    let filing = licence::apply(&registers, &citizen.subject, application).await?;
    registers
        .access_log
        .record_own(&citizen, Action::Create, "filing", &filing.id, "žádost o vydání řidičského průkazu")
        .await?;
    let summary = FilingSummary::new(&filing, registers.clock.now());
    Ok(match &filing.payment {
        Some(payment) if filing.status == FilingStatus::AwaitingPayment => {
            (StatusCode::ACCEPTED, Json(LicenceApplication { summary, pay_url: Some(payment.pay_url.clone()) }))
        }
        _ => (StatusCode::CREATED, Json(LicenceApplication { summary, pay_url: None })),
    })
}

fn multipart_problem(error: MultipartError) -> Problem {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        invalid("photo", "must be at most 5 MB")
    } else {
        upload::malformed()
    }
}

async fn read_limited(field: &mut Field<'_>, max: usize) -> Result<Bytes, Problem> {
    let mut content = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_problem)? {
        if content.len().saturating_add(chunk.len()) > max {
            return Err(invalid("photo", format!("must be at most {} MB ({max} bytes)", max / (1024 * 1024))));
        }
        content.extend_from_slice(&chunk);
    }
    Ok(content.freeze())
}
