//! `POST /api/pension/estimate`: PUBLIC, no session. An estimate from what
//! the person states.

use axum::Json;
use axum::extract::State;
use portal_host::{Body, FieldViolation, Problem};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{PensionEstimate, Provenance, Shared, answer, provenance, year_parameters};
use crate::calc::{Earnings, Input, Sex};
use crate::parse_date;

/// One year's gross earnings.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PensionYearEarnings)]
pub struct YearEarnings {
    /// 1986 to the year before retirement.
    #[schema(minimum = 1986, maximum = 2100)]
    pub year: i32,
    /// Gross earnings of the whole year in today's values, Kč (0–120 000 000).
    #[schema(minimum = 0, maximum = 120_000_000)]
    pub amount: i64,
}

/// What the estimate needs. Give either `averageMonthlyEarnings` or
/// `earningsByYear`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"birthDate": "1970-05-14", "sex": "male", "insuranceYears": 40, "averageMonthlyEarnings": 40000}))]
#[schema(as = PensionEstimateRequest)]
pub struct EstimateRequest {
    /// YYYY-MM-DD, 1936 or later.
    #[schema(format = Date)]
    pub birth_date: String,
    pub sex: Sex,
    /// Raised children (0–20): the older retirement ages of women and výchovné use them.
    #[schema(minimum = 0, maximum = 20)]
    pub children: Option<u32>,
    /// Whether výchovné is claimed for the children (default: yes for a woman, no for a man).
    pub child_bonus: Option<bool>,
    /// Whole years of insurance at the retirement date, without substitute periods (0–60).
    #[schema(minimum = 0, maximum = 60)]
    pub insurance_years: u32,
    /// Whole years of substitute periods (náhradní doby: care for a child, study before 2010, …) (0–60).
    #[schema(minimum = 0, maximum = 60)]
    pub substitute_years: Option<u32>,
    /// The average gross monthly earnings in today's values, Kč (0–10 000 000).
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub average_monthly_earnings: Option<i64>,
    /// Gross earnings by year (at most 60 years, each year once).
    #[schema(max_items = 60)]
    pub earnings_by_year: Option<Vec<YearEarnings>>,
    /// YYYY-MM-DD; default: the day the retirement age is reached.
    #[schema(format = Date)]
    pub planned_retirement_date: Option<String>,
    /// The year whose parameters to use (default: this year); refused when its figures are not confirmed.
    #[schema(minimum = 1900, maximum = 2100)]
    pub parameters_year: Option<i32>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "EstimatePension";

/// An estimate of the old-age pension from stated figures.
#[utoipa::path(
    post,
    path = "/api/pension/estimate",
    operation_id = OPERATION,
    tag = "pension",
    request_body = EstimateRequest,
    responses(
        (status = 200, description = "Odhad starobního důchodu s rozpisem.", body = PensionEstimate),
        (status = 422, description = "Chybný údaj, nebo rok bez potvrzených parametrů.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(pension): State<Shared>,
    Body(request): Body<EstimateRequest>,
) -> Result<Json<PensionEstimate>, Problem> {
    let today = pension.today();
    let (input, year, provenance) = checked(request, today)?;
    let year = year_parameters(year)?;
    Ok(Json(answer(&pension, year, &input, provenance, false)?))
}

/// The request checked field by field; every broken rule at once.
fn checked(request: EstimateRequest, today: time::Date) -> Result<(Input, i32, Vec<Provenance>), Problem> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, rule: &str| errors.push(FieldViolation::new(field, rule));
    let birth_date = parse_date(&request.birth_date).filter(|d| d.year() >= 1936 && *d <= today);
    if birth_date.is_none() {
        bad("birthDate", "a date YYYY-MM-DD from 1936 up to today");
    }
    let children = request.children.unwrap_or(0);
    if children > 20 {
        bad("children", "0 to 20");
    }
    if request.insurance_years > 60 {
        bad("insuranceYears", "0 to 60");
    }
    let substitute_years = request.substitute_years.unwrap_or(0);
    if substitute_years > 60 {
        bad("substituteYears", "0 to 60");
    }
    let planned = match &request.planned_retirement_date {
        None => None,
        Some(text) => {
            let date = parse_date(text).filter(|d| d.year() <= 2100);
            if date.is_none() {
                bad("plannedRetirementDate", "a date YYYY-MM-DD up to 2100");
            }
            date
        }
    };
    let earnings = match (request.average_monthly_earnings, request.earnings_by_year) {
        (Some(average), None) => {
            if !(0..=10_000_000).contains(&average) {
                bad("averageMonthlyEarnings", "0 to 10 000 000 Kč");
            }
            Some(Earnings::Average(average))
        }
        (None, Some(list)) => {
            if list.len() > 60 {
                bad("earningsByYear", "at most 60 years");
            }
            let mut years: Vec<i32> = list.iter().map(|e| e.year).collect();
            years.sort_unstable();
            years.dedup();
            if years.len() != list.len() {
                bad("earningsByYear", "each year at most once");
            }
            if list.iter().any(|e| !(0..=120_000_000).contains(&e.amount)) {
                bad("earningsByYear", "amounts 0 to 120 000 000 Kč a year");
            }
            if list.iter().any(|e| !(1986..=2100).contains(&e.year)) {
                bad("earningsByYear", "years from 1986");
            }
            Some(Earnings::ByYear(list.into_iter().map(|e| (e.year, e.amount)).collect()))
        }
        _ => {
            bad("averageMonthlyEarnings", "give either averageMonthlyEarnings or earningsByYear");
            None
        }
    };
    let (Some(birth_date), Some(earnings), true) = (birth_date, earnings, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let year = request.parameters_year.unwrap_or(today.year());
    let mut provenance = vec![
        super::provenance("birthDate", "input"),
        super::provenance("sex", "input"),
        super::provenance("children", if request.children.is_some() { "input" } else { "default" }),
        super::provenance("insuranceYears", "input"),
        super::provenance("substituteYears", if request.substitute_years.is_some() { "input" } else { "default" }),
        super::provenance(
            if matches!(earnings, Earnings::Average(_)) { "averageMonthlyEarnings" } else { "earningsByYear" },
            "input",
        ),
        super::provenance("plannedRetirementDate", if planned.is_some() { "input" } else { "default" }),
        super::provenance("parametersYear", if request.parameters_year.is_some() { "input" } else { "default" }),
    ];
    provenance.push(provenance_of_adjustments());
    let input = Input {
        birth_date,
        sex: request.sex,
        children,
        child_bonus: request.child_bonus.unwrap_or(request.sex == Sex::Female),
        insurance_years: request.insurance_years,
        substitute_years,
        earnings,
        planned_retirement: planned,
    };
    Ok((input, year, provenance))
}

pub(crate) fn provenance_of_adjustments() -> Provenance {
    provenance("earlyReductionAndPostponedIncrease", "setting")
}
