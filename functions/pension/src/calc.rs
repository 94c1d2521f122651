//! The calculation itself, without I/O: retirement age, the personal
//! assessment base and its reduction, the percentage amount with its early or
//! postponed adjustment, výchovné and the age bonuses. Amounts are whole Kč;
//! every rounding is up to a whole koruna, as § 15, § 16 and § 34 of zákon
//! 155/1995 Sb. round (integer arithmetic, no floating point in the amounts).

use serde::Serialize;
use time::{Date, Month};
use utoipa::ToSchema;

use crate::params::{Parameters, YearParameters};

/// Whose retirement age: the older rules differ for women by raised children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = PensionSex)]
pub enum Sex {
    Male,
    Female,
}

/// Where the earnings come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Earnings {
    /// The average gross monthly earnings (the personal assessment base) as
    /// the citizen states it.
    Average(i64),
    /// Gross earnings per calendar year, already in today's values.
    ByYear(Vec<(i32, i64)>),
}

/// What one estimate needs, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub birth_date: Date,
    pub sex: Sex,
    pub children: u32,
    /// Výchovné is claimed for the raised children.
    pub child_bonus: bool,
    pub insurance_years: u32,
    pub substitute_years: u32,
    pub earnings: Earnings,
    /// `None`: on the day of reaching the retirement age.
    pub planned_retirement: Option<Date>,
}

/// The rules that are settings, not data: the reference marks them
/// unverified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adjustments {
    /// Reduction of the percentage amount per begun 90 days before the
    /// retirement age, in 1/100 000 of the calculation base (1.5 % = 1500).
    pub early_reduction_units: i64,
    /// Increase per whole 90 days worked past the retirement age, same units.
    pub postponed_increase_units: i64,
}

impl Default for Adjustments {
    fn default() -> Self {
        Self { early_reduction_units: 1500, postponed_increase_units: 1500 }
    }
}

/// A broken rule of the input, by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: &'static str,
    pub rule: String,
}

fn violation(field: &'static str, rule: impl Into<String>) -> Violation {
    Violation { field, rule: rule.into() }
}

/// The retirement age and the day it is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PensionRetirementAge)]
pub struct RetirementAge {
    pub years: u32,
    pub months: u32,
    /// YYYY-MM-DD.
    pub date: String,
    /// Which rule gave it, in Czech.
    pub rule: String,
    /// False when no source confirms the rule (the answer says so).
    pub verified: bool,
}

/// `date` plus whole months, the day clamped to the month's length.
pub fn add_months(date: Date, months: u32) -> Option<Date> {
    let index = i64::from(date.year()) * 12 + i64::from(u8::from(date.month()) - 1) + i64::from(months);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = date.day().min(time::util::days_in_month(month, year));
    Date::from_calendar_date(year, month, day).ok()
}

/// `date` minus whole years, the day clamped to the month's length.
pub fn years_before(date: Date, years: u32) -> Date {
    let year = date.year() - i32::try_from(years).unwrap_or(0);
    let day = date.day().min(time::util::days_in_month(date.month(), year));
    Date::from_calendar_date(year, date.month(), day).unwrap_or(date)
}

/// The retirement age by the annex of zákon 155/1995 Sb. as far as the
/// sources give it.
pub fn retirement_age(
    p: &Parameters,
    birth: Date,
    sex: Sex,
    children: u32,
) -> Result<(RetirementAge, Date), Violation> {
    let year = birth.year();
    let rules = &p.retirement_age;
    let (total_months, rule, verified) = if year >= rules.from1966.born_from {
        let r = &rules.from1966;
        let months = u32::try_from(year - r.born_from + 1).unwrap_or(0) * r.months_per_birth_year;
        let total = (r.base_years * 12 + months).min(r.cap_years * 12);
        (
            total,
            "narození od roku 1966: 65 let a 1 měsíc za každý ročník od 1966, nejvýše 67 let".to_owned(),
            r.verified,
        )
    } else if year >= 1936 {
        let men = &rules.men1936to1965;
        let mens = men.base_years * 12 + older_months(year, men.base_years, men.months_per_year_after1995);
        match sex {
            Sex::Male => (
                mens,
                "narození 1936–1965 (muži): 60 let a 2 měsíce za každý rok po roce 1995".to_owned(),
                men.verified,
            ),
            Sex::Female => {
                let w = &rules.women1936to1965;
                let index = (children as usize).min(w.base_years_by_children.len().saturating_sub(1));
                let base = w.base_years_by_children.get(index).copied().unwrap_or(57);
                let mut total = base * 12 + older_months(year, base, w.months_per_year_after1995);
                if w.capped_at_mens_age {
                    total = total.min(mens);
                }
                let rule = format!(
                    "narození 1936–1965 (ženy, {children} vychovaných dětí): {base} let a 4 měsíce za každý rok po roce 1995, nejvýše věk mužů"
                );
                (total, rule, w.verified)
            }
        }
    } else {
        return Err(violation("birthDate", "born in 1936 or later (the annex of zákon 155/1995 Sb. starts with 1936)"));
    };
    let date = add_months(birth, total_months).ok_or_else(|| violation("birthDate", "a real date"))?;
    let age = RetirementAge {
        years: total_months / 12,
        months: total_months % 12,
        date: crate::format_date(date),
        rule,
        verified,
    };
    Ok((age, date))
}

/// Months added by the 1996 transition to an older retirement age of
/// `base` years: `per_year` for every year after 1995 up to the year that age
/// was reached.
fn older_months(birth_year: i32, base: u32, per_year: u32) -> u32 {
    let reached = birth_year + i32::try_from(base).unwrap_or(0);
    u32::try_from((reached - 1995).max(0)).unwrap_or(0) * per_year
}

/// The personal assessment base (OVZ) from the earnings.
pub fn personal_assessment_base(earnings: &Earnings) -> i64 {
    match earnings {
        Earnings::Average(amount) => *amount,
        Earnings::ByYear(years) if years.is_empty() => 0,
        Earnings::ByYear(years) => {
            let sum: i64 = years.iter().map(|(_, amount)| *amount).sum();
            let months = 12 * i64::try_from(years.len()).unwrap_or(1);
            ceil_div(sum, months)
        }
    }
}

/// The calculation base (výpočtový základ): the OVZ reduced by the year's
/// thresholds.
pub fn calculation_base(y: &YearParameters, ovz: i64) -> i64 {
    let first = ovz.min(y.first_threshold).max(0);
    let second = (ovz.min(y.second_threshold) - y.first_threshold).max(0);
    ceil_div(first * y.first_threshold_share_percent + second * y.second_threshold_share_percent, 100)
}

fn ceil_div(a: i64, b: i64) -> i64 {
    if b <= 0 {
        return 0;
    }
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// What kind of retirement the planned day means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = PensionKind)]
pub enum Kind {
    Regular,
    Early,
    Postponed,
}

/// One line of the breakdown, in Czech.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PensionLine)]
pub struct Line {
    pub label: String,
    /// Kč a month (for the bases: Kč, not a part of the pension).
    pub amount: i64,
    pub explanation: String,
}

/// The result of one calculation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PensionBreakdown)]
pub struct Breakdown {
    /// Základní výměra, Kč.
    pub basic_amount: i64,
    /// Osobní vyměřovací základ, Kč.
    pub personal_assessment_base: i64,
    /// Výpočtový základ, Kč.
    pub calculation_base: i64,
    /// Whole years of insurance counted (with substitute periods).
    pub insurance_years: u32,
    /// Procentní výměra before adjustments, Kč.
    pub percentage_amount_before_adjustments: i64,
    /// Begun 90-day periods before the retirement age (early) or whole ones after it (postponed).
    pub adjustment_periods: i64,
    /// Procentní výměra after the adjustment and the minimum, Kč.
    pub percentage_amount: i64,
    /// Výchovné, Kč.
    pub child_bonus: i64,
    /// The bonus from 85 or 100 years of age at the day of the estimate, Kč.
    pub age_bonus: i64,
    /// The monthly pension, Kč.
    pub total: i64,
    pub lines: Vec<Line>,
}

/// An estimate: the retirement age, the kind of retirement and the breakdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calculated {
    pub age: RetirementAge,
    pub retirement_date: Date,
    pub kind: Kind,
    pub entitled: bool,
    pub breakdown: Breakdown,
    pub notes: Vec<String>,
    /// What no source confirms and the estimate used.
    pub unverified: Vec<String>,
}

/// The estimate of `input` under the parameters of `y`, on `today`.
pub fn calculate(
    p: &Parameters,
    y: &YearParameters,
    adjustments: Adjustments,
    input: &Input,
    today: Date,
) -> Result<Calculated, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut unverified = Vec::new();
    let mut notes = Vec::new();
    let (age, age_day) = retirement_age(p, input.birth_date, input.sex, input.children).map_err(|v| vec![v])?;
    if !age.verified {
        unverified.push(format!("důchodový věk ({}) – pravidlo zdroje nepotvrzují", age.rule));
    }
    let retirement_date = input.planned_retirement.unwrap_or(age_day);
    let years = input.insurance_years + input.substitute_years;
    let (kind, periods) = if retirement_date < age_day {
        let earliest = years_before(age_day, p.early_retirement.max_years_before);
        if retirement_date < earliest {
            violations.push(violation(
                "plannedRetirementDate",
                format!(
                    "at most {} years before the retirement age, so not before {}",
                    p.early_retirement.max_years_before,
                    crate::format_date(earliest)
                ),
            ));
        }
        if years < p.early_retirement.minimum_insurance_years {
            violations.push(violation(
                "insuranceYears",
                format!(
                    "an early pension needs at least {} years of insurance with substitute periods",
                    p.early_retirement.minimum_insurance_years
                ),
            ));
        }
        let days = (age_day - retirement_date).whole_days();
        unverified.push(format!(
            "krácení předčasného důchodu {} % výpočtového základu za každých započatých 90 dní (nastavení; referenční podklad je označuje za neověřené)",
            percent(adjustments.early_reduction_units)
        ));
        (Kind::Early, ceil_div(days, 90))
    } else if retirement_date > age_day {
        let days = (retirement_date - age_day).whole_days();
        unverified.push(format!(
            "zvýšení za odklad {} % výpočtového základu za každých celých 90 dní (nastavení, zdroje je nepotvrzují)",
            percent(adjustments.postponed_increase_units)
        ));
        (Kind::Postponed, days / 90)
    } else {
        (Kind::Regular, 0)
    };
    if let Earnings::ByYear(list) = &input.earnings {
        let last = retirement_date.year() - 1;
        for (year, _) in list {
            if *year < 1986 || *year > last {
                violations.push(violation(
                    "earningsByYear",
                    format!("years from 1986 to {last} (the year before retirement) only; {year} is outside"),
                ));
                break;
            }
        }
        notes.push(
            "Výdělky se berou tak, jak jsou zadány (v dnešních hodnotách); přepočítací koeficienty let se nepoužívají a nezadané roky se do průměru nepočítají."
                .into(),
        );
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    let entitled = years >= p.entitlement.minimum_insurance_years;
    if !entitled {
        notes.push(format!(
            "Nárok na řádný starobní důchod vzniká s dobou pojištění alespoň {} let; s {} lety nárok nevzniká a částka je jen orientační.",
            p.entitlement.minimum_insurance_years, years
        ));
    }
    let ovz = personal_assessment_base(&input.earnings);
    let vz = calculation_base(y, ovz);
    let rate = y.accrual_rate_units();
    let base_units = i64::from(years) * rate;
    let before = ceil_div(vz * base_units, 100_000);
    let units = match kind {
        Kind::Regular => base_units,
        Kind::Early => base_units - periods * adjustments.early_reduction_units,
        Kind::Postponed => base_units + periods * adjustments.postponed_increase_units,
    };
    let adjusted = ceil_div(vz * units.max(0), 100_000);
    let minimum = y.minimum_percentage_amount.unwrap_or(0);
    let percentage = adjusted.max(minimum);
    let children = i64::from(input.children);
    let child_bonus = if input.child_bonus { children * y.child_bonus_per_child.unwrap_or(0) } else { 0 };
    let on = retirement_date.max(today);
    let age_on = age_in_years(input.birth_date, on);
    let age_bonus = if age_on >= 100 {
        y.bonus_at100.unwrap_or(0)
    } else if age_on >= 85 {
        y.bonus_at85.unwrap_or(0)
    } else {
        0
    };
    for (at, bonus) in [(85, y.bonus_at85), (100, y.bonus_at100)] {
        if age_on < at
            && let (Some(bonus), Some(day)) = (bonus, add_months(input.birth_date, at * 12))
        {
            notes.push(format!(
                "Od {} ({at} let) se důchod zvyšuje o {} měsíčně (podle parametrů roku {}).",
                czech_date(day),
                crowns(bonus),
                y.year
            ));
        }
    }
    let total = y.basic_amount + percentage + child_bonus + age_bonus;
    let mut lines = vec![
        Line {
            label: "Základní výměra".into(),
            amount: y.basic_amount,
            explanation: format!("Stejná pro všechny v roce {}.", y.year),
        },
        Line {
            label: "Osobní vyměřovací základ".into(),
            amount: ovz,
            explanation: "Průměrný měsíční výdělek (základ, ne část důchodu).".into(),
        },
        Line {
            label: "Výpočtový základ".into(),
            amount: vz,
            explanation: format!(
                "Do {} započteno {} %, od {} do {} započteno {} %, nad {} nic (zaokrouhleno na celé koruny nahoru).",
                crowns(y.first_threshold),
                y.first_threshold_share_percent,
                crowns(y.first_threshold),
                crowns(y.second_threshold),
                y.second_threshold_share_percent,
                crowns(y.second_threshold)
            ),
        },
        Line {
            label: "Procentní výměra".into(),
            amount: before,
            explanation: format!("{years} celých let pojištění × {} % výpočtového základu.", percent(rate)),
        },
    ];
    match kind {
        Kind::Early => lines.push(Line {
            label: "Krácení za předčasný odchod".into(),
            amount: adjusted - before,
            explanation: format!(
                "{periods} započatých 90denních období × {} % výpočtového základu.",
                percent(adjustments.early_reduction_units)
            ),
        }),
        Kind::Postponed => lines.push(Line {
            label: "Zvýšení za odklad".into(),
            amount: adjusted - before,
            explanation: format!(
                "{periods} celých 90denních období × {} % výpočtového základu.",
                percent(adjustments.postponed_increase_units)
            ),
        }),
        Kind::Regular => {}
    }
    if percentage > adjusted {
        lines.push(Line {
            label: "Doplnění na nejnižší procentní výměru".into(),
            amount: percentage - adjusted,
            explanation: format!("Procentní výměra činí v roce {} nejméně {}.", y.year, crowns(minimum)),
        });
    }
    if child_bonus > 0 {
        lines.push(Line {
            label: "Výchovné".into(),
            amount: child_bonus,
            explanation: format!("{children} × {} za vychované dítě.", crowns(y.child_bonus_per_child.unwrap_or(0))),
        });
    }
    if age_bonus > 0 {
        lines.push(Line {
            label: "Zvýšení podle věku".into(),
            amount: age_bonus,
            explanation: format!("Věk {age_on} let k {}.", czech_date(on)),
        });
    }
    lines.push(Line {
        label: "Důchod celkem".into(),
        amount: total,
        explanation: format!("Měsíčně, podle parametrů roku {}.", y.year),
    });
    Ok(Calculated {
        age,
        retirement_date,
        kind,
        entitled,
        breakdown: Breakdown {
            basic_amount: y.basic_amount,
            personal_assessment_base: ovz,
            calculation_base: vz,
            insurance_years: years,
            percentage_amount_before_adjustments: before,
            adjustment_periods: periods,
            percentage_amount: percentage,
            child_bonus,
            age_bonus,
            total,
            lines,
        },
        notes,
        unverified,
    })
}

/// Whole years of age on `on`.
pub fn age_in_years(birth: Date, on: Date) -> u32 {
    let mut years = on.year() - birth.year();
    if (u8::from(on.month()), on.day()) < (u8::from(birth.month()), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// 1/100 000 units as a Czech percentage (1495 → "1,495").
pub fn percent(units: i64) -> String {
    let whole = units / 1000;
    let fraction = (units % 1000).abs();
    if fraction == 0 {
        return whole.to_string();
    }
    let text = format!("{whole},{fraction:03}");
    text.trim_end_matches('0').to_owned()
}

/// `21546` → `21 546 Kč`.
pub fn crowns(amount: i64) -> String {
    let digits = amount.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    format!("{}{out}\u{a0}Kč", if amount < 0 { "−" } else { "" })
}

/// `30. 6. 2034`.
pub fn czech_date(date: Date) -> String {
    format!("{}. {}. {}", date.day(), u8::from(date.month()), date.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn months_are_added_with_the_day_clamped() {
        assert_eq!(add_months(date!(1970 - 01 - 31), 1), Some(date!(1970 - 02 - 28)));
        assert_eq!(add_months(date!(1970 - 06 - 15), 65 * 12 + 5), Some(date!(2035 - 11 - 15)));
    }

    #[test]
    fn czech_formats() {
        assert_eq!(percent(1495), "1,495");
        assert_eq!(percent(1500), "1,5");
        assert_eq!(percent(99_000), "99");
        assert_eq!(crowns(21546), "21\u{a0}546\u{a0}Kč");
        assert_eq!(crowns(500), "500\u{a0}Kč");
    }
}
