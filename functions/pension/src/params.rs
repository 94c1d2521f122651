//! The parameters of the pension per year, read from `data/parameters.json`
//! (built into the binary), each year with its sources. The file is the one
//! place figures change: a new year is a new entry, confirmed only when every
//! figure the calculation needs has a source.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;

/// The data file as it is committed.
pub const PARAMETERS_JSON: &str = include_str!("../data/parameters.json");

/// The whole data file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameters {
    /// Source key → where the figure comes from.
    pub sources: BTreeMap<String, String>,
    pub years: Vec<YearParameters>,
    pub entitlement: Entitlement,
    pub early_retirement: EarlyRetirement,
    pub retirement_age: RetirementAgeRules,
}

/// The figures of one year (the year the pension is calculated under).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct YearParameters {
    pub year: i32,
    /// Every figure the calculation needs has a source; otherwise the year is
    /// refused.
    pub confirmed: bool,
    pub legal_basis: String,
    /// Základní výměra, Kč a month.
    pub basic_amount: i64,
    /// První redukční hranice, Kč.
    pub first_threshold: i64,
    /// The share of the base up to the first threshold that counts, percent.
    pub first_threshold_share_percent: i64,
    /// Druhá redukční hranice, Kč.
    pub second_threshold: i64,
    /// The share between the thresholds, percent (nothing above the second).
    pub second_threshold_share_percent: i64,
    /// The percentage of the calculation base per whole year of insurance,
    /// per mille (14.95 ‰ = 1.495 %).
    pub accrual_rate_per_mille: f64,
    /// The least percentage amount, Kč.
    pub minimum_percentage_amount: Option<i64>,
    /// Výchovné per raised child, Kč a month.
    pub child_bonus_per_child: Option<i64>,
    pub bonus_at85: Option<i64>,
    pub bonus_at100: Option<i64>,
    pub indexation: Indexation,
    pub sources: Vec<String>,
    /// Names of the figures no source confirms.
    pub unverified: Vec<String>,
}

impl YearParameters {
    /// The accrual rate in units of 1/100 000 (1.495 % = 1495).
    pub fn accrual_rate_units(&self) -> i64 {
        (self.accrual_rate_per_mille * 100.0).round() as i64
    }
}

/// How pensions in payment rose in January of the year.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Indexation {
    pub basic_amount_increase: i64,
    pub percentage_amount_increase_percent: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entitlement {
    pub minimum_insurance_years: u32,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EarlyRetirement {
    pub max_years_before: u32,
    pub minimum_insurance_years: u32,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetirementAgeRules {
    pub from1966: FromYearRule,
    pub men1936to1965: OlderRule,
    pub women1936to1965: OlderWomenRule,
}

/// Born from `born_from`: `base_years` plus months per birth year, capped.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FromYearRule {
    pub born_from: i32,
    pub base_years: u32,
    pub months_per_birth_year: u32,
    pub cap_years: u32,
    pub sources: Vec<String>,
    pub verified: bool,
}

/// The 1996 transition: the older age plus months for every (begun) year
/// after 1995 up to the day the older age was reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OlderRule {
    pub base_years: u32,
    pub months_per_year_after1995: u32,
    pub sources: Vec<String>,
    pub verified: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OlderWomenRule {
    /// By the number of raised children: 0, 1, 2, 3, 4, 5 and more.
    pub base_years_by_children: Vec<u32>,
    pub months_per_year_after1995: u32,
    pub capped_at_mens_age: bool,
    pub sources: Vec<String>,
    pub verified: bool,
}

/// The committed parameters, parsed once. The file is part of the source
/// tree and a test parses it, so a malformed file never reaches a build.
pub static PARAMETERS: LazyLock<Parameters> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    serde_json::from_str(PARAMETERS_JSON).expect("data/parameters.json is checked by the crate's tests")
});

impl Parameters {
    /// The parameters of `year`, whether confirmed or not.
    pub fn year(&self, year: i32) -> Option<&YearParameters> {
        self.years.iter().find(|y| y.year == year)
    }

    /// The source texts of `keys`.
    pub fn cite(&self, keys: &[String]) -> Vec<String> {
        keys.iter().map(|k| self.sources.get(k).cloned().unwrap_or_else(|| k.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_parses_and_every_source_key_is_explained() {
        let p: Parameters = serde_json::from_str(PARAMETERS_JSON).expect("parameters.json");
        let mut keys: Vec<&String> = p.years.iter().flat_map(|y| y.sources.iter()).collect();
        keys.extend(&p.entitlement.sources);
        keys.extend(&p.early_retirement.sources);
        keys.extend(&p.retirement_age.from1966.sources);
        keys.extend(&p.retirement_age.men1936to1965.sources);
        keys.extend(&p.retirement_age.women1936to1965.sources);
        for key in keys {
            assert!(p.sources.contains_key(key), "source key {key} is not explained");
        }
        assert_eq!(p.year(2026).map(|y| y.accrual_rate_units()), Some(1495));
        assert_eq!(p.year(2025).map(|y| y.accrual_rate_units()), Some(1500));
        // A confirmed year has every figure the calculation needs.
        for y in p.years.iter().filter(|y| y.confirmed) {
            assert!(y.minimum_percentage_amount.is_some() && y.child_bonus_per_child.is_some(), "{}", y.year);
            assert!(y.bonus_at85.is_some() && y.bonus_at100.is_some(), "{}", y.year);
            assert!(!y.unverified.iter().any(|f| f != "legalBasis"), "{}: {:?}", y.year, y.unverified);
        }
    }
}
