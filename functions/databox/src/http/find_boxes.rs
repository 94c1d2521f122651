//! `GET /api/databox/directory?q=`: finds data boxes to write to.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::Citizen;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Shared, Simulation};
use crate::isds::{BoxId, BoxInfo, BoxSearch};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FindParams {
    /// A box id (7 characters) or at least 3 characters of the owner's name.
    q: Option<String>,
}

/// The boxes found.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DataBoxSearchResult)]
pub struct FoundBoxes {
    pub items: Vec<BoxInfo>,
    #[serde(flatten)]
    pub simulation: Simulation,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "FindDataBoxes";

/// Searches the ISDS directory by box id or by name, for choosing a recipient.
#[utoipa::path(
    get,
    path = "/api/databox/directory",
    operation_id = OPERATION,
    tag = "databox",
    params(FindParams),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Nalezené datové schránky.", body = FoundBoxes),
        (status = 404, description = "ISDS takovou schránku nezná.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Zadejte ID schránky (7 znaků) nebo aspoň 3 znaky jména; nebo ISDS hledání odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    citizen: Citizen,
    Params(params): Params<FindParams>,
) -> Result<Json<FoundBoxes>, Problem> {
    let q = params.q.unwrap_or_default();
    let search = match BoxId::parse(q.trim()) {
        Ok(id) => BoxSearch::Id(id),
        Err(_) if q.trim().chars().count() >= 3 => BoxSearch::Name(q.trim().to_owned()),
        Err(_) => {
            return Err(Problem::validation(vec![FieldViolation::new(
                "q",
                "a box id (7 characters) or at least 3 characters of a name",
            )]));
        }
    };
    let session = databox.session_context(&citizen).await?;
    let items = databox.isds.find_boxes(session.as_box(), &search).await?;
    Ok(Json(FoundBoxes { items, simulation: Simulation::of(&databox) }))
}
