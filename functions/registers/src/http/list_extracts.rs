//! `GET /api/registers/extracts`: the citizen's extract requests.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::delegation::scope::Extracts;
use portal_security::{AccessEntry, ActingFor, Action, Actor};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ExtractJobView, Shared};
use crate::extracts;

/// The citizen's extract requests, newest first (the last 100).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtractJobList {
    pub items: Vec<ExtractJobView>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListExtracts";

/// The citizen's extract requests and how each stands.
#[utoipa::path(
    get,
    path = "/api/registers/extracts",
    operation_id = OPERATION,
    tag = "registers",
    params(("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to act for the person who authorised you, or whom you represent (scope `extracts`): their extract requests."),),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Vaše žádosti o výpisy, nejnovější první.", body = ExtractJobList),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    acting: ActingFor<Extracts>,
) -> Result<Json<ExtractJobList>, Problem> {
    let jobs = extracts::list(&registers, acting.owner()).await?;
    let entry =
        AccessEntry::new(Actor::Citizen, Action::Read, "register-extract-job", "list", "přehled žádostí o výpisy");
    acting.record(&registers.access_log, entry).await?;
    Ok(Json(ExtractJobList { items: jobs.iter().map(ExtractJobView::from).collect() }))
}
