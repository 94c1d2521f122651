//! The pension calculator: worked examples from public sources (each cites
//! its source), properties of the formula (proptest), and the two routes in
//! process (public estimate, the logged-in estimate from the simulated ČSSZ
//! record with its provenance and access-log entry).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use portal_pension::calc::{self, Earnings, Input, Kind, Sex, calculation_base, retirement_age};
use portal_pension::params::PARAMETERS;
use portal_pension::{Pension, PensionSettings, SimulatedCssz, functions};
use portal_testkit::{Harness, JANA, get, json_of, problem_fields};
use proptest::prelude::*;
use serde_json::{Value, json};
use time::Date;
use time::macros::date;

const LUDMILA: &str = "DEMO%2Fludmila-stastna-zdarska";
const TODAY: Date = date!(2026 - 11 - 23);

fn y2026() -> &'static portal_pension::params::YearParameters {
    PARAMETERS.year(2026).expect("2026")
}

fn input(birth: Date, sex: Sex, years: u32, ovz: i64) -> Input {
    Input {
        birth_date: birth,
        sex,
        children: 0,
        child_bonus: false,
        insurance_years: years,
        substitute_years: 0,
        earnings: Earnings::Average(ovz),
        planned_retirement: None,
    }
}

fn estimate(input: &Input) -> calc::Calculated {
    calc::calculate(&PARAMETERS, y2026(), calc::Adjustments::default(), input, TODAY).expect("estimate")
}

// --- Worked examples -------------------------------------------------------

/// podnikatel.cz, "Výpočet důchodu se v roce 2026 změní" (citing ČSSZ), and
/// finance.cz 2026-01-15: in 2026 the OVZ counts at 99 % up to 21 546 Kč and
/// at 26 % from 21 546 to 195 868 Kč, nothing above; every whole year of
/// insurance gives 1,495 % of the calculation base; the basic amount is
/// 4 900 Kč (dumfinanci.cz 2025-10-03). For an OVZ of 40 000 Kč and 40 years:
/// 21 546 × 0,99 = 21 330,54; (40 000 − 21 546) × 0,26 = 4 798,04; the
/// calculation base is 26 128,58 → 26 129 Kč; 40 × 1,495 % = 59,8 % of it is
/// 15 625,14 → 15 626 Kč; with the basic amount 20 526 Kč.
#[test]
fn ovz_40000_with_40_years_in_2026() {
    let e = estimate(&input(date!(1961 - 03 - 01), Sex::Male, 40, 40_000));
    assert_eq!(e.breakdown.calculation_base, 26_129);
    assert_eq!(e.breakdown.percentage_amount, 15_626);
    assert_eq!(e.breakdown.basic_amount, 4_900);
    assert_eq!(e.breakdown.total, 20_526);
    assert_eq!(e.kind, Kind::Regular);
}

/// The same sources: an OVZ above the second threshold counts only up to it
/// (21 546 × 0,99 + (195 868 − 21 546) × 0,26 = 66 654,26 → 66 655 Kč).
#[test]
fn earnings_above_the_second_threshold_do_not_count() {
    assert_eq!(calculation_base(y2026(), 195_868), 66_655);
    assert_eq!(calculation_base(y2026(), 400_000), 66_655);
    // Up to the first threshold, 99 %: 20 000 × 0,99 = 19 800.
    assert_eq!(calculation_base(y2026(), 20_000), 19_800);
}

/// dumfinanci.cz 2026-03-09 ("Splním pouze minimální dobu pojištění…"): a
/// pension awarded in 2026 is at least 9 800 Kč, and 35 years of insurance
/// give the right to it.
#[test]
fn the_least_pension_of_2026_is_9800() {
    let e = estimate(&input(date!(1961 - 03 - 01), Sex::Male, 35, 3_000));
    assert!(e.entitled);
    assert_eq!(e.breakdown.total, 9_800);
    let short = estimate(&input(date!(1961 - 03 - 01), Sex::Male, 34, 3_000));
    assert!(!short.entitled, "34 years give no right to a pension");
}

/// finance.cz 2026-01-09 ("Čtyřnásobný příjem a stejný důchod"): an early
/// pension at most three years before the retirement age, with at least 40
/// years of insurance, reduced by 1,5 % of the calculation base for every
/// begun 90 days. Two years early (730 days = 9 begun periods) with 40 years
/// and OVZ 40 000 Kč: 59,8 % − 13,5 % = 46,3 % of 26 129 = 12 097,73 →
/// 12 098 Kč.
#[test]
fn early_pension_two_years_before() {
    let born = date!(1961 - 03 - 01);
    let (_, age_day) = retirement_age(&PARAMETERS, born, Sex::Male, 0).expect("age");
    let mut early = input(born, Sex::Male, 40, 40_000);
    early.planned_retirement = Some(age_day - time::Duration::days(730));
    let e = estimate(&early);
    assert_eq!(e.kind, Kind::Early);
    assert_eq!(e.breakdown.adjustment_periods, 9);
    assert_eq!(e.breakdown.percentage_amount, 12_098);
    assert!(e.unverified.iter().any(|u| u.contains("krácení")), "{:?}", e.unverified);
    // 39 years are not enough, and four years early is too early.
    early.insurance_years = 39;
    early.planned_retirement = Some(age_day - time::Duration::days(4 * 365));
    let violations =
        calc::calculate(&PARAMETERS, y2026(), calc::Adjustments::default(), &early, TODAY).expect_err("refused");
    let fields: Vec<&str> = violations.iter().map(|v| v.field).collect();
    assert_eq!(fields, ["plannedRetirementDate", "insuranceYears"]);
}

/// finance.idnes.cz ("Kdy a za kolik do důchodu", 2018): "Dosáhne-li muž věku
/// 60 let 20. dubna 2002, přičte se mu 14 kalendářních měsíců a důchodového
/// věku dosáhne 20. června 2003. Ženě, která vychovala dvě děti a je narozena
/// 13. dubna 1946, se k věku 55 let přičte 24 kalendářních měsíců a
/// důchodového věku 57 let dosáhne dne 13. dubna 2003."
#[test]
fn retirement_ages_of_the_1996_transition() {
    let (man, day) = retirement_age(&PARAMETERS, date!(1942 - 04 - 20), Sex::Male, 0).expect("man");
    assert_eq!((man.years, man.months, day), (61, 2, date!(2003 - 06 - 20)));
    let (woman, day) = retirement_age(&PARAMETERS, date!(1946 - 04 - 13), Sex::Female, 2).expect("woman");
    assert_eq!((woman.years, woman.months, day), (57, 0, date!(2003 - 04 - 13)));
    assert!(!woman.verified, "the women's table is not confirmed by the reference and must say so");
}

/// The reference (seznam.cz; irozhlas.cz 2024-12): 65 at most for people born
/// up to 1965, then one month more per birth year from 1966, up to 67.
#[test]
fn retirement_age_from_1966() {
    let age = |y: i32| {
        retirement_age(&PARAMETERS, Date::from_calendar_date(y, time::Month::May, 14).expect("d"), Sex::Male, 0)
            .expect("age")
            .0
    };
    assert_eq!((age(1965).years, age(1965).months), (65, 0));
    assert_eq!((age(1966).years, age(1966).months), (65, 1));
    assert_eq!((age(1970).years, age(1970).months), (65, 5));
    assert_eq!((age(1988).years, age(1988).months), (66, 11));
    assert_eq!((age(1989).years, age(1989).months), (67, 0));
    assert_eq!((age(2000).years, age(2000).months), (67, 0));
    assert!(age(1970).verified);
    // A woman born from 1966 retires at the same age, children or not.
    let woman = retirement_age(&PARAMETERS, date!(1970 - 05 - 14), Sex::Female, 3).expect("age").0;
    assert_eq!((woman.years, woman.months, woman.date.as_str()), (65, 5, "2035-10-14"));
}

/// výchovné 500 Kč per child in 2026 (finance.cz 2026-01-09; mesec.cz via the
/// reference), +1 000 Kč from 85 (mesec.cz).
#[test]
fn child_bonus_and_the_bonus_at_85() {
    let mut mother = input(date!(1941 - 01 - 10), Sex::Female, 40, 40_000);
    mother.children = 2;
    mother.child_bonus = true;
    let e = estimate(&mother);
    assert_eq!(e.breakdown.child_bonus, 1_000);
    assert_eq!(e.breakdown.age_bonus, 1_000, "85 on the day of the estimate");
    assert_eq!(e.breakdown.total, 4_900 + 15_626 + 1_000 + 1_000);
}

// --- Properties -------------------------------------------------------------

fn any_input() -> impl Strategy<Value = Input> {
    (1936i32..2005, 1u8..=12, 1u8..=28, any::<bool>(), 0u32..6, 0u32..50, 0u32..10, 0i64..300_000).prop_map(
        |(y, m, d, male, children, years, substitute, ovz)| Input {
            birth_date: Date::from_calendar_date(y, time::Month::try_from(m).expect("month"), d).expect("date"),
            sex: if male { Sex::Male } else { Sex::Female },
            children,
            child_bonus: !male,
            insurance_years: years,
            substitute_years: substitute,
            earnings: Earnings::Average(ovz),
            planned_retirement: None,
        },
    )
}

proptest! {
    /// One more year of insurance never lowers the pension.
    #[test]
    fn more_years_never_lower_the_pension(input in any_input(), more in 1u32..10) {
        let base = estimate(&input).breakdown.total;
        let mut longer = input.clone();
        longer.insurance_years += more;
        prop_assert!(estimate(&longer).breakdown.total >= base);
    }

    /// Higher earnings never lower the pension.
    #[test]
    fn higher_earnings_never_lower_the_pension(input in any_input(), more in 1i64..100_000) {
        let base = estimate(&input).breakdown.total;
        let Earnings::Average(ovz) = input.earnings else { unreachable!() };
        let mut richer = input.clone();
        richer.earnings = Earnings::Average(ovz + more);
        prop_assert!(estimate(&richer).breakdown.total >= base);
    }

    /// The reduction thresholds are continuous: one koruna more of OVZ moves
    /// the calculation base by at most one koruna (no jump at either
    /// threshold), and never down.
    #[test]
    fn thresholds_are_continuous(ovz in 0i64..250_000) {
        let y = y2026();
        let (a, b) = (calculation_base(y, ovz), calculation_base(y, ovz + 1));
        prop_assert!(b >= a && b - a <= 1, "{ovz}: {a} → {b}");
    }

    /// Around each threshold the pension itself moves by at most a few
    /// korunas per koruna of OVZ.
    #[test]
    fn pension_is_continuous_at_the_thresholds(offset in -50i64..50, years in 35u32..50) {
        let y = y2026();
        for threshold in [y.first_threshold, y.second_threshold] {
            let at = |ovz| estimate(&input(date!(1961 - 03 - 01), Sex::Male, years, ovz)).breakdown.total;
            let (a, b) = (at(threshold + offset), at(threshold + offset + 1));
            prop_assert!(b >= a && b - a <= 2, "{threshold}{offset:+}: {a} → {b}");
        }
    }
}

// --- Routes -------------------------------------------------------------------

fn portal() -> (Router, Harness) {
    let harness = Harness::new();
    let pension = Pension {
        records: Arc::new(SimulatedCssz),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings: PensionSettings::default(),
    };
    (harness.router(functions(pension)), harness)
}

fn post(body: Value) -> Request<Body> {
    Request::post("/api/pension/estimate")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

/// The acceptance case: born in 1970, 40 years, without logging in.
#[tokio::test]
async fn a_new_user_estimates_without_login() {
    let (router, _) = portal();
    let (status, _, body) = portal_testkit::call(
        &router,
        post(json!({"birthDate": "1970-05-14", "sex": "male", "insuranceYears": 40, "averageMonthlyEarnings": 40000})),
    )
    .await;
    let body = json_of(&body);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["parametersYear"], 2026);
    assert_eq!(body["retirementDate"], "2035-10-14");
    assert_eq!(body["retirementAge"]["years"], 65);
    assert_eq!(body["retirementAge"]["months"], 5);
    assert_eq!(body["breakdown"]["total"], 20_526);
    let labels: Vec<&str> =
        body["breakdown"]["lines"].as_array().expect("lines").iter().filter_map(|l| l["label"].as_str()).collect();
    assert_eq!(
        labels,
        ["Základní výměra", "Osobní vyměřovací základ", "Výpočtový základ", "Procentní výměra", "Důchod celkem"]
    );
    assert!(
        body["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.contains("podnikatel.cz")))
    );
    assert_eq!(body["simulated"], false);
}

#[tokio::test]
async fn a_year_without_confirmed_figures_is_refused() {
    let (router, _) = portal();
    for year in [2025, 2027, 1990] {
        let (status, _, body) = portal_testkit::call(
            &router,
            post(json!({"birthDate": "1970-05-14", "sex": "male", "insuranceYears": 40,
                         "averageMonthlyEarnings": 40000, "parametersYear": year})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{year}");
        assert_eq!(problem_fields(&body), ["parametersYear"], "{year}");
    }
}

#[tokio::test]
async fn bad_input_names_every_field() {
    let (router, _) = portal();
    let (status, _, body) = portal_testkit::call(
        &router,
        post(json!({"birthDate": "1930-01-01", "sex": "male", "insuranceYears": 61,
                     "earningsByYear": [{"year": 2000, "amount": 1}, {"year": 2000, "amount": 2}]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_fields(&body), ["birthDate", "insuranceYears", "earningsByYear"]);
    let (status, _, body) = portal_testkit::call(&router, post(json!({"birthDate": "1970-01-01", "sex": "x"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem_fields(&body), ["sex"]);
}

#[tokio::test]
async fn ludmila_sees_the_estimate_prefilled_from_cssz() {
    let (router, harness) = portal();
    let login = harness.login(LUDMILA).await;
    let (status, _, body) = portal_testkit::call(&router, get("/api/me/pension/estimate", &login)).await;
    let body = json_of(&body);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["simulated"], true);
    assert_eq!(body["retirementDate"], "2007-06-30", "55 years + 36 months for a woman born 1949 with two children");
    assert_eq!(body["breakdown"]["insuranceYears"], 42);
    assert_eq!(body["breakdown"]["childBonus"], 1_000);
    let from: Vec<(String, String)> = body["provenance"]
        .as_array()
        .expect("provenance")
        .iter()
        .map(|p| (p["field"].as_str().unwrap_or("").to_owned(), p["source"].as_str().unwrap_or("").to_owned()))
        .collect();
    assert!(from.contains(&("earningsByYear".into(), "cssz".into())), "{from:?}");
    assert!(from.contains(&("parametersYear".into(), "default".into())), "{from:?}");
    assert!(!body["unverified"].as_array().expect("unverified").is_empty(), "the women's table is unverified");
    let entries = harness.access_entries(LUDMILA).await;
    assert!(entries.iter().any(|e| e.resource_type == "pension-record"), "the record read is access-logged");
    // Someone ČSSZ has no record of gets 404, and no login gets 401.
    let jana = harness.login(JANA).await;
    let (status, _, _) = portal_testkit::call(&router, get("/api/me/pension/estimate", &jana)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = portal_testkit::call(&router, portal_testkit::anonymous("/api/me/pension/estimate")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
