//! `GET /api/officials/petitions/stats`: statistics for officials, as JSON
//! or CSV.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use portal_host::{FieldViolation, Params, Problem};
use portal_security::Citizen;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{Shared, download, official};
use crate::officials::{self, Stats};

/// The formats of the statistics.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // documents the values `format` takes
pub enum StatsFormat {
    Json,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// `json` (default) or `csv` (`;`, UTF-8 with BOM: `metric;key;value`).
    #[param(value_type = Option<StatsFormat>, inline)]
    format: Option<String>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "OfficialPetitionStats";

/// Petitions by state, flagged ones, signatures in total and per day (30 days).
#[utoipa::path(
    get,
    path = "/api/officials/petitions/stats",
    operation_id = OPERATION,
    tag = "petitions",
    params(StatsQuery),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Statistika petic.", content(
            (Stats = "application/json"),
            (String = "text/csv"),
        )),
        (status = 403, description = "Jen pro úředníky ministerstva vnitra.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neplatný formát.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    query: Result<Params<StatsQuery>, Problem>,
) -> Result<Response, Problem> {
    official(&s, &citizen)?;
    let Params(query) = query?;
    tracing::info!(official = %officials::fingerprint(&citizen.subject), action = "stats", "official action");
    let stats = s.stats().await?;
    let purpose = "statistika petic pro úředníky ministerstva vnitra";
    s.record_official_read(&citizen.subject, "petition-statistics", "all", purpose).await?;
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(stats).into_response()),
        Some("csv") => {
            Ok(download(officials::stats_csv(&stats), "text/csv; charset=utf-8", "petice-statistiky.csv".into()))
        }
        Some(_) => Err(Problem::validation(vec![FieldViolation::new("format", "json or csv")])),
    }
}
