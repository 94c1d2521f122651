//! `GET /api/petitions/{id}/extract.pdf`: the creator's petition with its
//! extract of signatures as a PDF, once the petition is closed.

use axum::extract::{Path, State};
use axum::response::Response;
use portal_host::Problem;
use portal_security::Citizen;

use super::extract_csv::extract_for;
use super::{Pdf, Shared, download};
use crate::extract;

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "PetitionExtractPdf";

/// The petition and the numbered list of its signers as a PDF.
#[utoipa::path(
    get,
    path = "/api/petitions/{id}/extract.pdf",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Petice s výpisem podpisů ve formátu PDF.", content_type = "application/pdf", body = Pdf),
        (status = 404, description = "Taková vaše petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Výpis podpisů je k dispozici až po ukončení sběru podpisů.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(s): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Result<Response, Problem> {
    let extract = extract_for(&s, &citizen, &id).await?;
    let pdf = extract::pdf(&extract, s.petitions.clock.now()).map_err(crate::ServiceError::from)?;
    Ok(download(pdf, "application/pdf", format!("petice-{id}.pdf")))
}
