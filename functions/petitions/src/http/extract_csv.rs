//! `GET /api/petitions/{id}/extract.csv`: the creator's extract of signatures
//! (výpis podpisů, § 6a(4)) as CSV, once the petition is closed.

use axum::extract::{Path, State};
use axum::response::Response;
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Shared, download, not_closed, own, parse_id};
use crate::extract::{self, Extract};
use crate::model::State as PetitionState;
use crate::service::PetitionService;

/// The creator's closed petition with every standing signer, opened; the
/// export is in the creator's access log.
pub(crate) async fn extract_for(s: &PetitionService, citizen: &Citizen, id: &str) -> Result<Extract, Problem> {
    let id = parse_id(id)?;
    let petition = own(s, citizen, &id, Action::Export).await?;
    if !matches!(petition.state, PetitionState::Closed | PetitionState::HandedOver) {
        return Err(not_closed());
    }
    let extract = s.extract(&petition).await?;
    s.petitions
        .access_log
        .record_own(citizen, Action::Export, "petition-extract", id.as_str(), "stažení výpisu podpisů petice")
        .await?;
    Ok(extract)
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "PetitionExtractCsv";

/// The extract of signatures as CSV (`;`, UTF-8 with BOM, for Excel in a Czech locale).
#[utoipa::path(
    get,
    path = "/api/petitions/{id}/extract.csv",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Výpis podpisů ve formátu CSV.", content_type = "text/csv", body = String),
        (status = 404, description = "Taková vaše petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Výpis podpisů je k dispozici až po ukončení sběru podpisů.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(s): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Result<Response, Problem> {
    let extract = extract_for(&s, &citizen, &id).await?;
    Ok(download(extract::csv(&extract), "text/csv; charset=utf-8", format!("petice-{id}.csv")))
}
