//! SIMULATORS of the portals behind the tiles: one per portal, each an axum
//! router implementing the tile-summary protocol (`GET /v1/summary` with
//! `X-Subject-Id`), with deterministic data for every demo citizen, dated
//! from the clock. Every answer says `simulated: true`, and the dashboard
//! labels such a tile as simulated.
//!
//! - Jana Nováková (Prague): two prescriptions (one expiring in three days),
//!   a tax overpayment, 10 points at Portál dopravy;
//! - Jiří Dvořák (Brno, entrepreneur): a sick leave, arrears at the customs
//!   office, a drone operator's registration, insured at OZP;
//! - Ludmila Šťastná Žďárská (Žďár nad Sázavou): an old-age pension and a
//!   savings bond with its next coupon.
//!
//! A simulator can be switched to answer 503 ([`Mode::Down`]) or never to
//! answer ([`Mode::Hang`]), to show what the dashboard does when a portal
//! fails (`PORTAL_TILE_SOURCES` = `{"erecept": "simulator-down"}`; tests and
//! the benchmark switch it at run time).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use portal_host::Problem;
use portal_store::Clock;
use time::{Date, Duration};

use super::{Alert, Summary, SummaryItem, Tone};

/// Demo subjects as the development identity provider makes them.
pub const JANA: &str = "DEMO%2Fjana-novakova";
pub const JIRI: &str = "DEMO%2Fjiri-dvorak";
pub const LUDMILA: &str = "DEMO%2Fludmila-stastna-zdarska";

/// Every portal a simulator exists for (the seed's summary sources).
pub const PORTALS: &[&str] = &[
    "cssz",
    "financni-sprava",
    "urad-prace",
    "erecept",
    "eneschopenka",
    "ockovani",
    "celni-sprava",
    "vzp",
    "ozp",
    "portal-prazana",
    "drony",
    "dluhopisy",
    "portal-dopravy",
];

/// How a simulator behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal = 0,
    /// Answers 503.
    Down = 1,
    /// Never answers.
    Hang = 2,
}

/// A switch for a running simulator's [`Mode`].
#[derive(Debug, Clone, Default)]
pub struct Switch(Arc<AtomicU8>);

impl Switch {
    pub fn new(mode: Mode) -> Self {
        Self(Arc::new(AtomicU8::new(mode as u8)))
    }

    pub fn set(&self, mode: Mode) {
        self.0.store(mode as u8, Ordering::SeqCst);
    }

    pub fn mode(&self) -> Mode {
        match self.0.load(Ordering::SeqCst) {
            1 => Mode::Down,
            2 => Mode::Hang,
            _ => Mode::Normal,
        }
    }
}

#[derive(Debug, Clone)]
struct Portal {
    id: &'static str,
    clock: Arc<dyn Clock>,
    switch: Switch,
}

/// The SIMULATOR of portal `id` (one of [`PORTALS`]; another id answers 404
/// for everyone).
pub fn router(id: &str, clock: Arc<dyn Clock>, switch: Switch) -> Router {
    let id = PORTALS.iter().copied().find(|p| *p == id).unwrap_or("unknown");
    Router::new().route("/v1/summary", get(summary)).with_state(Portal { id, clock, switch })
}

async fn summary(State(portal): State<Portal>, headers: HeaderMap) -> Response {
    match portal.switch.mode() {
        Mode::Down => return Problem::unavailable(format!("{} (simulated outage)", portal.id)).into_response(),
        Mode::Hang => std::future::pending::<()>().await,
        Mode::Normal => {}
    }
    let Some(subject) = headers.get("x-subject-id").and_then(|v| v.to_str().ok()) else {
        return Problem::bad_request("X-Subject-Id is required").into_response();
    };
    let today = portal_host::prague::date(portal.clock.now());
    match summary_of(portal.id, subject, today) {
        Some(summary) => axum::Json(summary).into_response(),
        None => Problem::new(StatusCode::NOT_FOUND, "no-record", "Nothing for this citizen")
            .with_detail("this portal holds nothing for the citizen")
            .into_response(),
    }
}

fn item(label: &str, value: impl Into<String>, tone: Tone) -> SummaryItem {
    SummaryItem { label: label.into(), value: value.into(), tone }
}

fn alert(key: impl Into<String>, text: impl Into<String>) -> Alert {
    Alert { key: key.into(), text: text.into() }
}

fn day(date: Date) -> String {
    format!("{}. {}. {}", date.day(), date.month() as u8, date.year())
}

fn simulated(headline: impl Into<String>, items: Vec<SummaryItem>, alerts: Vec<Alert>) -> Summary {
    Summary { headline: headline.into(), items, alerts, simulated: true }
}

/// The deterministic summary of portal `id` for `subject` on `today`.
pub fn summary_of(id: &str, subject: &str, today: Date) -> Option<Summary> {
    let who = match subject {
        JANA => 'j',
        JIRI => 'd',
        LUDMILA => 'l',
        _ => return None,
    };
    let in_days = |n: i64| today.saturating_add(Duration::days(n));
    let year = today.year();
    Some(match (id, who) {
        ("cssz", 'j') => simulated(
            "Doba pojištění 22 let a 140 dní",
            vec![item("Získaná doba pojištění", "22 let a 140 dní", Tone::Neutral)],
            vec![],
        ),
        ("cssz", 'd') => simulated(
            "Nemocenské: vyplaceno 4 820 Kč",
            vec![
                item("Získaná doba pojištění", "31 let a 12 dní", Tone::Neutral),
                item("Nemocenské", format!("vyplaceno 4 820 Kč dne {}", day(in_days(-2))), Tone::Positive),
            ],
            vec![],
        ),
        ("cssz", 'l') => simulated(
            "Starobní důchod 21 430 Kč měsíčně",
            vec![
                item("Starobní důchod", "21 430 Kč měsíčně", Tone::Positive),
                item("Příští výplata", day(in_days(12)), Tone::Neutral),
            ],
            vec![],
        ),
        ("financni-sprava", 'j') => simulated(
            "Přeplatek na dani 2 340 Kč",
            vec![
                item("Stav daňového účtu", "přeplatek 2 340 Kč", Tone::Positive),
                item(&format!("Přiznání k dani z příjmů za {}", year - 1), "podáno, zpracováno", Tone::Neutral),
            ],
            vec![alert(format!("overpayment-{}", year - 1), "Finanční správa eviduje přeplatek na dani 2 340 Kč.")],
        ),
        ("financni-sprava", 'd') => simulated(
            "Bez nedoplatku",
            vec![
                item("Stav daňového účtu", "vyrovnaný", Tone::Neutral),
                item("Přiznání k dani z příjmů", format!("lhůta do {}", day(in_days(30))), Tone::Warning),
            ],
            vec![],
        ),
        ("financni-sprava", 'l') => {
            simulated("Bez nedoplatku", vec![item("Stav daňového účtu", "vyrovnaný", Tone::Neutral)], vec![])
        }
        ("urad-prace", 'l') => simulated(
            "Příspěvek na bydlení: vyřízeno",
            vec![item("Příspěvek na bydlení", "přiznán, vyplácí se měsíčně", Tone::Positive)],
            vec![],
        ),
        ("urad-prace", _) => simulated("Žádné žádosti o dávky", vec![], vec![]),
        ("erecept", 'j') => simulated(
            "2 platné recepty",
            vec![
                item("Euthyrox 50 mcg", format!("platí do {}", day(in_days(3))), Tone::Warning),
                item("Ibalgin 400 mg", format!("platí do {}", day(in_days(12))), Tone::Neutral),
            ],
            vec![alert("prescription-expiring:JN-2026-0001", "Recept na Euthyrox 50 mcg brzy přestane platit.")],
        ),
        ("erecept", 'l') => simulated(
            "1 platný recept",
            vec![item("Prestarium Neo 5 mg", format!("platí do {}", day(in_days(20))), Tone::Neutral)],
            vec![],
        ),
        ("erecept", _) => simulated("Žádné platné recepty", vec![], vec![]),
        ("eneschopenka", 'd') => simulated(
            "Probíhající pracovní neschopnost",
            vec![
                item("Začátek", day(in_days(-5)), Tone::Neutral),
                item("Předpokládaný konec", day(in_days(9)), Tone::Warning),
            ],
            vec![],
        ),
        ("eneschopenka", _) => simulated("Žádná pracovní neschopnost", vec![], vec![]),
        ("ockovani", 'l') => simulated(
            "2 certifikáty ke stažení",
            vec![item("Certifikáty o očkování", "2 ke stažení", Tone::Neutral)],
            vec![],
        ),
        ("ockovani", _) => simulated(
            "1 certifikát ke stažení",
            vec![item("Certifikáty o očkování", "1 ke stažení", Tone::Neutral)],
            vec![],
        ),
        ("celni-sprava", 'd') => simulated(
            "Nedoplatek 1 250 Kč",
            vec![item("Nedoplatek u celního úřadu", format!("1 250 Kč, splatný {}", day(in_days(14))), Tone::Negative)],
            vec![alert("arrears:CU-BRNO-2026-117", "Celní správa eviduje nedoplatek 1 250 Kč.")],
        ),
        ("celni-sprava", _) => simulated("Bez přeplatků a nedoplatků", vec![], vec![]),
        ("vzp", 'j' | 'l') => simulated(
            "Pojištěnec VZP",
            vec![
                item("Stav pojištění", "pojištěn/a", Tone::Positive),
                item("Preventivní prohlídka", format!("nárok od {}", day(in_days(40))), Tone::Neutral),
            ],
            vec![],
        ),
        ("ozp", 'd') => simulated("Pojištěnec OZP", vec![item("Stav pojištění", "pojištěn", Tone::Positive)], vec![]),
        ("portal-prazana", 'j') => simulated(
            "Lítačka platí do ".to_owned() + &day(in_days(58)),
            vec![
                item("Předplatní jízdenka", format!("platí do {}", day(in_days(58))), Tone::Neutral),
                item("Poplatek ze psa", "zaplacen", Tone::Positive),
            ],
            vec![],
        ),
        ("drony", 'd') => simulated(
            "Provozovatel CZEjd81x2k4q9m3p",
            vec![
                item("Registrační číslo provozovatele", "CZEjd81x2k4q9m3p", Tone::Neutral),
                item("Osvědčení pilota A1/A3", format!("platí do {}", day(in_days(400))), Tone::Neutral),
            ],
            vec![],
        ),
        ("dluhopisy", 'l') => simulated(
            "Dluhopisy za 50 000 Kč",
            vec![
                item("Dluhopis Republiky proti inflaci", "50 000 Kč", Tone::Neutral),
                item("Příští výnos", day(in_days(25)), Tone::Positive),
            ],
            vec![],
        ),
        ("portal-dopravy", 'j') => {
            simulated("10 bodů", vec![item("Bodové hodnocení řidiče", "10 bodů", Tone::Warning)], vec![])
        }
        ("portal-dopravy", 'd') => {
            simulated("0 bodů", vec![item("Bodové hodnocení řidiče", "0 bodů", Tone::Positive)], vec![])
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn every_demo_citizen_has_the_seeds_facts() {
        let today = date!(2026 - 11 - 23);
        let jana_prescriptions = summary_of("erecept", JANA, today).expect("Jana");
        assert_eq!(jana_prescriptions.items.len(), 2);
        assert!(summary_of("financni-sprava", JANA, today).expect("Jana").headline.contains("Přeplatek"));
        assert!(summary_of("eneschopenka", JIRI, today).expect("Jiří").headline.contains("Probíhající"));
        assert!(summary_of("celni-sprava", JIRI, today).expect("Jiří").headline.contains("Nedoplatek"));
        assert!(summary_of("cssz", LUDMILA, today).expect("Ludmila").headline.contains("důchod"));
        assert!(summary_of("dluhopisy", LUDMILA, today).expect("Ludmila").headline.contains("Dluhopisy"));
        for portal in PORTALS {
            for who in [JANA, JIRI, LUDMILA] {
                if let Some(summary) = summary_of(portal, who, today) {
                    assert!(summary.simulated, "{portal}");
                }
            }
            assert!(summary_of(portal, "someone-else", today).is_none());
        }
    }
}
