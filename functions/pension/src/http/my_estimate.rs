//! `GET /api/me/pension/estimate`: the logged-in citizen's estimate,
//! prefilled from their ČSSZ record.

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::{Action, Citizen};
use serde::Deserialize;
use utoipa::IntoParams;

use super::estimate::provenance_of_adjustments;
use super::{PensionEstimate, Shared, answer, provenance, year_parameters};
use crate::calc::{Input, Sex};
use crate::parse_date;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct MyEstimateQuery {
    /// YYYY-MM-DD; default: the day the retirement age is reached.
    #[param(format = Date)]
    planned_retirement_date: Option<String>,
    /// The year whose parameters to use (default: this year).
    #[param(minimum = 1900, maximum = 2100)]
    parameters_year: Option<i32>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "EstimateMyPension";

/// The citizen's estimate from the ČSSZ record (birth date, sex, children,
/// insurance and substitute periods, earnings by year).
#[utoipa::path(
    get,
    path = "/api/me/pension/estimate",
    operation_id = OPERATION,
    tag = "pension",
    params(MyEstimateQuery),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Odhad z údajů ČSSZ; provenance říká, odkud který údaj je.", body = PensionEstimate),
        (status = 404, description = "ČSSZ o občanovi nevede záznam.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Chybný údaj, nebo rok bez potvrzených parametrů.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Záznam ČSSZ teď nelze načíst.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(pension): State<Shared>,
    citizen: Citizen,
    Params(query): Params<MyEstimateQuery>,
) -> Result<Json<PensionEstimate>, Problem> {
    let planned = match &query.planned_retirement_date {
        None => None,
        Some(text) => Some(parse_date(text).filter(|d| d.year() <= 2100).ok_or_else(|| {
            Problem::validation(vec![FieldViolation::new("plannedRetirementDate", "a date YYYY-MM-DD up to 2100")])
        })?),
    };
    let year = year_parameters(query.parameters_year.unwrap_or(pension.today().year()))?;
    let record = pension.records.record(&citizen.subject).await?;
    pension
        .access_log
        .record_own(&citizen, Action::Read, "pension-record", "cssz", "odhad důchodu z údajů ČSSZ")
        .await?;
    let record = record.ok_or_else(|| Problem::not_found("ČSSZ has no insurance record of you"))?;
    let input = Input {
        birth_date: record.birth_date,
        sex: record.sex,
        children: record.children,
        child_bonus: record.sex == Sex::Female,
        insurance_years: record.insurance_years,
        substitute_years: record.substitute_years,
        earnings: record.earnings(),
        planned_retirement: planned,
    };
    let mut sources = vec![
        provenance("birthDate", "cssz"),
        provenance("sex", "cssz"),
        provenance("children", "cssz"),
        provenance("insuranceYears", "cssz"),
        provenance("substituteYears", "cssz"),
        provenance("earningsByYear", "cssz"),
        provenance("plannedRetirementDate", if planned.is_some() { "input" } else { "default" }),
        provenance("parametersYear", if query.parameters_year.is_some() { "input" } else { "default" }),
        provenance_of_adjustments(),
    ];
    sources.dedup_by(|a, b| a.field == b.field);
    Ok(Json(answer(&pension, year, &input, sources, record.simulated)?))
}
