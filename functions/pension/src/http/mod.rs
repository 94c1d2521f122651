//! The pension calculator's HTTP functions, one file per action, and the
//! answer both share.

pub mod estimate;
pub mod my_estimate;

use std::sync::Arc;

use portal_host::{FieldViolation, Problem};
use serde::Serialize;
use utoipa::ToSchema;

use crate::calc::{self, Breakdown, Input, Kind, RetirementAge};
use crate::params::{PARAMETERS, YearParameters};
use crate::{Pension, format_date};

pub(crate) type Shared = Arc<Pension>;

/// Where one figure of the estimate came from.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PensionProvenance)]
pub struct Provenance {
    /// The request field the figure fills (`birthDate`, `insuranceYears`, …).
    pub field: String,
    /// `input` (stated by the person), `cssz` (the ČSSZ record), `default`
    /// (the calculator's assumption), `parameters` (the data file) or
    /// `setting` (the portal's configuration).
    pub source: String,
}

/// An estimate of the old-age pension, with its breakdown in Czech.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PensionEstimate {
    /// The year whose parameters the pension is calculated with.
    #[schema(example = 2026)]
    pub parameters_year: i32,
    pub legal_basis: String,
    pub retirement_age: RetirementAge,
    /// The day the pension starts, YYYY-MM-DD.
    pub retirement_date: String,
    /// `regular`, `early` (before the retirement age) or `postponed`.
    pub kind: Kind,
    /// Whether the insurance period gives a right to the pension.
    pub entitled: bool,
    pub breakdown: Breakdown,
    /// Remarks in Czech (assumptions, later bonuses, entitlement).
    pub notes: Vec<String>,
    /// What the estimate used that no source confirms (empty when everything is confirmed).
    pub unverified: Vec<String>,
    /// The sources of the parameters.
    pub sources: Vec<String>,
    /// Which figure came from where.
    pub provenance: Vec<Provenance>,
    /// True when the figures came from a simulated ČSSZ record.
    pub simulated: bool,
}

/// The parameters of `year`, or the problem saying why not.
pub(crate) fn year_parameters(year: i32) -> Result<&'static YearParameters, Problem> {
    let confirmed: Vec<String> = PARAMETERS.years.iter().filter(|y| y.confirmed).map(|y| y.year.to_string()).collect();
    match PARAMETERS.year(year) {
        Some(y) if y.confirmed => Ok(y),
        Some(y) => Err(Problem::validation(vec![FieldViolation::new(
            "parametersYear",
            format!(
                "the figures of {year} are not all confirmed ({}); years with confirmed figures: {}",
                y.unverified.join(", "),
                confirmed.join(", ")
            ),
        )])),
        None => Err(Problem::validation(vec![FieldViolation::new(
            "parametersYear",
            format!("no parameters for {year}; years with confirmed figures: {}", confirmed.join(", ")),
        )])),
    }
}

/// Calculates and shapes the answer.
pub(crate) fn answer(
    pension: &Pension,
    year: &YearParameters,
    input: &Input,
    provenance: Vec<Provenance>,
    simulated: bool,
) -> Result<PensionEstimate, Problem> {
    let calculated = calc::calculate(&PARAMETERS, year, pension.settings.adjustments, input, pension.today()).map_err(
        |violations| {
            Problem::validation(violations.into_iter().map(|v| FieldViolation::new(v.field, v.rule)).collect())
        },
    )?;
    let mut unverified = calculated.unverified;
    if year.unverified.iter().any(|f| f == "legalBasis") {
        unverified.push(format!("číslo nařízení vlády pro rok {} (zdroje je nepotvrzují)", year.year));
    }
    let mut keys = year.sources.clone();
    keys.extend(PARAMETERS.entitlement.sources.iter().cloned());
    if calculated.kind == Kind::Early {
        keys.extend(PARAMETERS.early_retirement.sources.iter().cloned());
    }
    keys.sort();
    keys.dedup();
    Ok(PensionEstimate {
        parameters_year: year.year,
        legal_basis: year.legal_basis.clone(),
        retirement_age: calculated.age,
        retirement_date: format_date(calculated.retirement_date),
        kind: calculated.kind,
        entitled: calculated.entitled,
        breakdown: calculated.breakdown,
        notes: calculated.notes,
        unverified,
        sources: PARAMETERS.cite(&keys),
        provenance,
        simulated,
    })
}

pub(crate) fn provenance(field: &str, source: &str) -> Provenance {
    Provenance { field: field.into(), source: source.into() }
}
