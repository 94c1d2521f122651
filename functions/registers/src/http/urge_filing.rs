//! `POST /api/filings/{id}/urge`: the reminder (urgence) to an agency whose
//! legal deadline passed, sent once from the citizen's data box.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::{FilingSummary, Shared, no_such_filing};
use crate::filings::deadlines::{self, UrgeRefusal};
use crate::filings::parse_filing_id;

/// The filing after the reminder went out.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UrgedFiling {
    #[serde(flatten)]
    pub summary: FilingSummary,
    /// The request id of the data message carrying the reminder.
    #[schema(example = "filing-petition-p-1-urge-1")]
    pub urge_request_id: String,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "UrgeFiling";

/// Sends the agency a reminder once the deadline passed; a repeated request
/// sends nothing more.
#[utoipa::path(
    post,
    path = "/api/filings/{id}/urge",
    operation_id = OPERATION,
    tag = "filings",
    params(("id" = String, Path, description = "The filing's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Urgence je odeslána (nebo již byla).", body = UrgedFiling),
        (status = 404, description = "Takové podání mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Urgenci teď poslat nelze: lhůta neuplynula, úřad již rozhodl, lhůta neběží, nebo úřad nemá datovou schránku.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<UrgedFiling>), Problem> {
    let id = parse_filing_id(&id).ok_or_else(no_such_filing)?;
    let filing = match deadlines::urge(&registers, &citizen.subject, &id).await? {
        Ok(filing) => filing,
        Err(UrgeRefusal::NotFound) => return Err(no_such_filing()),
        Err(refusal) => {
            let kind = match refusal {
                UrgeRefusal::NotYet(_) => "deadline-not-passed",
                UrgeRefusal::NoDataBox => "agency-without-data-box",
                UrgeRefusal::Final => "filing-decided",
                _ => "no-legal-deadline",
            };
            return Err(
                Problem::new(StatusCode::CONFLICT, kind, "A reminder cannot be sent now").with_detail(refusal.detail())
            );
        }
    };
    let summary = FilingSummary::new(&filing, registers.clock.now());
    Ok((StatusCode::ACCEPTED, Json(UrgedFiling { summary, urge_request_id: deadlines::urge_request_id(&filing.id) })))
}
