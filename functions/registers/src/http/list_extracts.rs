//! `GET /api/registers/extracts`: the citizen's extract requests.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ExtractJobView, Shared};
use crate::extracts;

/// The citizen's extract requests, newest first (the last 100).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtractJobList {
    pub items: Vec<ExtractJobView>,
}

/// The citizen's extract requests and how each stands.
#[utoipa::path(
    get,
    path = "/api/registers/extracts",
    operation_id = "ListExtracts",
    tag = "registers",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Vaše žádosti o výpisy, nejnovější první.", body = ExtractJobList),
    )
)]
pub async fn handler(State(registers): State<Shared>, citizen: Citizen) -> Result<Json<ExtractJobList>, Problem> {
    let jobs = extracts::list(&registers, &citizen.subject).await?;
    registers
        .access_log
        .record_own(&citizen, Action::Read, "register-extract-job", "list", "přehled mých žádostí o výpisy")
        .await?;
    Ok(Json(ExtractJobList { items: jobs.iter().map(ExtractJobView::from).collect() }))
}
