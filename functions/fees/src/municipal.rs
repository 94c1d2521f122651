//! The municipality's fee system (místní poplatky, zákon č. 565/1990 Sb.),
//! reached through a port, and where the citizen lives.
//!
//! - [`FeeSystem`]: which municipality an address belongs to, its catalogue
//!   (each fee's rates, exemptions and due date, as its ordinance, OZV, sets
//!   them), the citizen's obligations, and recording a payment (idempotent
//!   by the portal's payment id: the same payment is recorded once).
//! - [`Residence`]: the citizen's address of residence. The app composes it
//!   from the identity profile (NIA's `CurrentAddress`), so this capability
//!   reads nothing another capability stores.
//! - [`SimulatedFeeSystem`]: the SIMULATOR for local mode and tests, with
//!   the demo citizens' municipalities (Praha, Brno, Žďár nad Sázavou). Its
//!   rates stay within the law's limits as the portal's reference gives them
//!   (dog fee at most 1 500 Kč a year for the first dog and 50 % more for
//!   each further one, pensioners at most 200 Kč; accommodation at most 50 Kč
//!   a person and day) but are not any municipality's real ordinance, and
//!   its bank accounts are made up: every answer is labelled simulated.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use portal_security::SubjectId;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

/// The fees the portal knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FeeKind {
    /// Poplatek ze psů.
    Dog,
    /// Poplatek za obecní systém odpadového hospodářství.
    Waste,
    /// Poplatek z pobytu.
    Accommodation,
}

impl FeeKind {
    pub fn czech_name(self) -> &'static str {
        match self {
            Self::Dog => "Poplatek ze psů",
            Self::Waste => "Poplatek za obecní systém odpadového hospodářství",
            Self::Accommodation => "Poplatek z pobytu",
        }
    }
}

/// A municipality and where its fees are paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Municipality {
    /// Kód obce (RÚIAN), 6 digits.
    pub code: String,
    pub name: String,
    /// The office that administers the fees (správce poplatku).
    pub office: String,
    /// The fee account, IBAN.
    pub iban: String,
    /// The account holder's name as a payment shows it (at most 35 characters).
    pub payee: String,
}

/// One rate of a fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    /// Who or what it applies to, in Czech.
    pub label: String,
    pub amount_hellers: i64,
    /// `rok` (a year), `osoba a den` (a person and day), …
    pub unit: String,
}

/// A fee as the municipality's ordinance sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeDefinition {
    pub kind: FeeKind,
    /// The ordinance (obecně závazná vyhláška) that sets it.
    pub ordinance: String,
    pub rates: Vec<Rate>,
    /// Who does not pay (osvobození), in Czech.
    pub exemptions: Vec<String>,
    /// When it is due, in Czech (e.g. `do 31. března příslušného roku`).
    pub due: String,
}

/// A municipality's fees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalogue {
    pub municipality: Municipality,
    pub fees: Vec<FeeDefinition>,
}

/// A payment the municipality has recorded for an obligation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedPayment {
    /// The portal's payment id, or the bank's reference for a transfer.
    pub reference: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// What the citizen owes the municipality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Obligation {
    /// The fee system's id: 1–64 characters of `a-z`, `0-9`, `-`.
    pub id: String,
    pub kind: FeeKind,
    /// The year it is for.
    pub period: i32,
    /// What it is for, in Czech (e.g. `1 pes (Alík), rodinný dům`).
    pub detail: String,
    /// The rate applied, in Czech.
    pub rate: String,
    pub amount_hellers: i64,
    pub due_date: Date,
    /// Variabilní symbol, 1–10 digits.
    pub variable_symbol: String,
    /// Set once the municipality has the money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid: Option<RecordedPayment>,
}

/// An obligation id as the API takes it.
pub fn parse_fee_id(value: &str) -> Option<String> {
    let ok = (1..=64).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then(|| value.to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum FeeSystemError {
    #[error("the municipality's fee system is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the municipality's fee system refused: {0}")]
    Refused(String),
}

impl FeeSystemError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

#[async_trait]
pub trait FeeSystem: Send + Sync + std::fmt::Debug {
    /// The municipality whose fees apply at `address` (residence); `None`
    /// when the portal is not connected to it.
    async fn municipality_of(&self, address: &str) -> Result<Option<Municipality>, FeeSystemError>;
    /// The municipality's fees.
    async fn catalogue(&self, municipality: &str) -> Result<Option<Catalogue>, FeeSystemError>;
    /// What `subject` owes `municipality`, paid or not.
    async fn obligations(&self, municipality: &str, subject: &SubjectId) -> Result<Vec<Obligation>, FeeSystemError>;
    /// Records that the obligation was paid by the portal's payment
    /// `payment_id`. Idempotent: the same payment is recorded once; another
    /// payment of an obligation already paid is refused.
    async fn record_payment(
        &self,
        municipality: &str,
        subject: &SubjectId,
        obligation: &str,
        payment_id: &str,
        amount_hellers: i64,
        at: OffsetDateTime,
    ) -> Result<(), FeeSystemError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ResidenceError {
    #[error("the citizen's residence cannot be read now")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ResidenceError {
    pub fn is_retryable(&self) -> bool {
        true
    }
}

/// Where the citizen lives.
#[async_trait]
pub trait Residence: Send + Sync + std::fmt::Debug {
    /// The address of residence as one line (e.g. `Vinohradská 1511/230,
    /// 100 00 Praha 10`); `None` when the portal does not know it.
    async fn address(&self, subject: &SubjectId) -> Result<Option<String>, ResidenceError>;
}

/// The demo subjects of the simulator (the development identity provider's).
pub mod demo {
    pub const JANA: &str = "DEMO%2Fjana-novakova";
    pub const JIRI: &str = "DEMO%2Fjiri-dvorak";
    pub const LUDMILA: &str = "DEMO%2Fludmila-stastna-zdarska";
}

/// SIMULATOR of the municipalities' fee systems (see the module docs).
#[derive(Debug, Default)]
pub struct SimulatedFeeSystem {
    /// Obligation id → the payment recorded for it.
    paid: Mutex<HashMap<String, RecordedPayment>>,
}

/// The simulator's label, on every answer made from its data.
pub const SIMULATOR_NOTICE: &str =
    "SIMULÁTOR: poplatky, sazby a účty pocházejí ze simulátoru obecního systému, nejde o skutečné údaje obce";

impl SimulatedFeeSystem {
    pub fn new() -> Self {
        tracing::info!("SIMULATOR: municipal fees come from a simulated fee system");
        Self::default()
    }

    fn municipalities() -> Vec<(&'static str, Municipality)> {
        vec![
            (
                "100 00",
                Municipality {
                    code: "554782".into(),
                    name: "Hlavní město Praha".into(),
                    office: "Úřad městské části Praha 10".into(),
                    iban: "CZ5608000000000111122223".into(),
                    payee: "MC PRAHA 10 (SIMULACE)".into(),
                },
            ),
            (
                "602 00",
                Municipality {
                    code: "582786".into(),
                    name: "Statutární město Brno".into(),
                    office: "Magistrát města Brna, Odbor životního prostředí".into(),
                    iban: "CZ4201000000009010000001".into(),
                    payee: "STATUTARNI MESTO BRNO (SIMULACE)".into(),
                },
            ),
            (
                "591 01",
                Municipality {
                    code: "595209".into(),
                    name: "Žďár nad Sázavou".into(),
                    office: "Městský úřad Žďár nad Sázavou, finanční odbor".into(),
                    iban: "CZ1503000000003456789012".into(),
                    payee: "MESTO ZDAR NAD SAZAVOU (SIMULACE)".into(),
                },
            ),
        ]
    }

    fn fees(code: &str) -> Vec<FeeDefinition> {
        let rate = |label: &str, czk: i64, unit: &str| Rate {
            label: label.into(),
            amount_hellers: czk * 100,
            unit: unit.into(),
        };
        let dog_exemptions = vec![
            "osoba nevidomá, osoba, která je považována za závislou na pomoci jiné osoby, a osoba, \
             která je držitelem průkazu ZTP nebo ZTP/P"
                .to_owned(),
            "osoba provádějící výcvik psů určených k doprovodu těchto osob".to_owned(),
            "osoba provozující útulek pro zvířata".to_owned(),
        ];
        let (dog, waste, stay) = match code {
            "554782" => ((1500, 2250, 200, 300), 0, 50),
            "582786" => ((1200, 1800, 200, 300), 900, 45),
            _ => ((600, 900, 200, 300), 780, 30),
        };
        let mut fees = vec![FeeDefinition {
            kind: FeeKind::Dog,
            ordinance: format!("Obecně závazná vyhláška o místním poplatku ze psů (simulace, obec {code})"),
            rates: vec![
                rate("první pes", dog.0, "rok"),
                rate("každý další pes", dog.1, "rok"),
                rate("první pes poživatele důchodu", dog.2, "rok"),
                rate("každý další pes poživatele důchodu", dog.3, "rok"),
            ],
            exemptions: dog_exemptions,
            due: "do 31. března příslušného roku".into(),
        }];
        if waste > 0 {
            fees.push(FeeDefinition {
                kind: FeeKind::Waste,
                ordinance: format!(
                    "Obecně závazná vyhláška o místním poplatku za obecní systém odpadového hospodářství \
                     (simulace, obec {code})"
                ),
                rates: vec![rate("fyzická osoba přihlášená v obci", waste, "rok")],
                exemptions: vec![
                    "osoba mladší 18 let v pořadí třetí a další dítě v domácnosti (podle vyhlášky obce)".into(),
                    "osoba umístěná v domově pro osoby se zdravotním postižením nebo v domově pro seniory".into(),
                ],
                due: "do 31. května příslušného roku".into(),
            });
        }
        fees.push(FeeDefinition {
            kind: FeeKind::Accommodation,
            ordinance: format!("Obecně závazná vyhláška o místním poplatku z pobytu (simulace, obec {code})"),
            rates: vec![rate("každý započatý den pobytu, s výjimkou dne počátku pobytu", stay, "osoba a den")],
            exemptions: vec![
                "osoba nevidomá, osoba závislá na pomoci jiné osoby a její průvodce".into(),
                "osoba mladší 18 let".into(),
            ],
            due: "do 15. dne měsíce následujícího po skončení čtvrtletí (ubytovatel)".into(),
        });
        fees
    }

    fn owed(municipality: &str, subject: &str) -> Vec<Obligation> {
        let date = |y, m, d| Date::from_calendar_date(y, m, d).unwrap_or(Date::MIN);
        let obligation = |id: &str, kind, period, detail: &str, rate: &str, czk: i64, due, vs: &str| Obligation {
            id: id.into(),
            kind,
            period,
            detail: detail.into(),
            rate: rate.into(),
            amount_hellers: czk * 100,
            due_date: due,
            variable_symbol: vs.into(),
            paid: None,
        };
        match (municipality, subject) {
            ("554782", demo::JANA) => vec![obligation(
                "p10-pes-2027-0042",
                FeeKind::Dog,
                2027,
                "1 pes (Alík), byt v bytovém domě",
                "první pes",
                1500,
                date(2027, time::Month::March, 31),
                "1341202742",
            )],
            ("582786", demo::JIRI) => vec![
                obligation(
                    "brno-odpad-2027-7781",
                    FeeKind::Waste,
                    2027,
                    "1 osoba přihlášená v obci",
                    "fyzická osoba přihlášená v obci",
                    900,
                    date(2027, time::Month::May, 31),
                    "3400777810",
                ),
                obligation(
                    "brno-pes-2027-0913",
                    FeeKind::Dog,
                    2027,
                    "2 psi (Bety, Max), rodinný dům",
                    "první pes a další pes",
                    1200 + 1800,
                    date(2027, time::Month::March, 31),
                    "1341209130",
                ),
            ],
            ("595209", demo::LUDMILA) => vec![obligation(
                "zdar-pes-2027-0007",
                FeeKind::Dog,
                2027,
                "1 pes (Ťapka)",
                "první pes poživatele důchodu",
                200,
                date(2027, time::Month::March, 31),
                "1341200007",
            )],
            _ => Vec::new(),
        }
    }
}

#[async_trait]
impl FeeSystem for SimulatedFeeSystem {
    async fn municipality_of(&self, address: &str) -> Result<Option<Municipality>, FeeSystemError> {
        Ok(Self::municipalities().into_iter().find(|(psc, _)| address.contains(psc)).map(|(_, m)| m))
    }

    async fn catalogue(&self, municipality: &str) -> Result<Option<Catalogue>, FeeSystemError> {
        Ok(Self::municipalities()
            .into_iter()
            .find(|(_, m)| m.code == municipality)
            .map(|(_, m)| Catalogue { fees: Self::fees(&m.code), municipality: m }))
    }

    async fn obligations(&self, municipality: &str, subject: &SubjectId) -> Result<Vec<Obligation>, FeeSystemError> {
        let paid = self.paid.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Self::owed(municipality, subject.as_str())
            .into_iter()
            .map(|mut o| {
                o.paid = paid.get(&o.id).cloned();
                o
            })
            .collect())
    }

    async fn record_payment(
        &self,
        municipality: &str,
        subject: &SubjectId,
        obligation: &str,
        payment_id: &str,
        amount_hellers: i64,
        at: OffsetDateTime,
    ) -> Result<(), FeeSystemError> {
        let owed = Self::owed(municipality, subject.as_str());
        let Some(found) = owed.iter().find(|o| o.id == obligation) else {
            return Err(FeeSystemError::Refused("no such obligation of this payer".into()));
        };
        if found.amount_hellers != amount_hellers {
            return Err(FeeSystemError::Refused("the amount differs from the obligation".into()));
        }
        let mut paid = self.paid.lock().unwrap_or_else(|p| p.into_inner());
        match paid.get(obligation) {
            Some(recorded) if recorded.reference == payment_id => Ok(()),
            Some(_) => Err(FeeSystemError::Refused("the obligation is already paid by another payment".into())),
            None => {
                paid.insert(obligation.to_owned(), RecordedPayment { reference: payment_id.to_owned(), at });
                Ok(())
            }
        }
    }
}

/// Production until a municipality's fee system is connected: the portal
/// knows no municipality, so `GET /api/fees` says it is not connected and
/// nothing is pretended.
#[derive(Debug, Default)]
pub struct FeesNotConnected;

#[async_trait]
impl FeeSystem for FeesNotConnected {
    async fn municipality_of(&self, _: &str) -> Result<Option<Municipality>, FeeSystemError> {
        Ok(None)
    }

    async fn catalogue(&self, _: &str) -> Result<Option<Catalogue>, FeeSystemError> {
        Ok(None)
    }

    async fn obligations(&self, _: &str, _: &SubjectId) -> Result<Vec<Obligation>, FeeSystemError> {
        Ok(Vec::new())
    }

    async fn record_payment(
        &self,
        _: &str,
        _: &SubjectId,
        _: &str,
        _: &str,
        _: i64,
        _: OffsetDateTime,
    ) -> Result<(), FeeSystemError> {
        Err(FeeSystemError::Unavailable("no municipality's fee system is connected".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[tokio::test]
    async fn the_simulator_finds_jana_s_municipality_and_records_a_payment_once() {
        let system = SimulatedFeeSystem::new();
        let praha = system.municipality_of("Vinohradská 1511/230, 100 00 Praha 10").await.ok().flatten();
        let praha = praha.expect("Praha");
        assert_eq!(praha.code, "554782");
        let jana = SubjectId::parse(demo::JANA).expect("subject");
        let owed = system.obligations(&praha.code, &jana).await.expect("obligations");
        assert_eq!(owed.len(), 1);
        assert_eq!((owed[0].kind, owed[0].amount_hellers), (FeeKind::Dog, 150_000));
        let at = datetime!(2026-11-23 08:00 UTC);
        system.record_payment(&praha.code, &jana, &owed[0].id, "pay-1", 150_000, at).await.expect("recorded");
        system.record_payment(&praha.code, &jana, &owed[0].id, "pay-1", 150_000, at).await.expect("again: once");
        let twice = system.record_payment(&praha.code, &jana, &owed[0].id, "pay-2", 150_000, at).await;
        assert!(matches!(twice, Err(FeeSystemError::Refused(_))), "never paid twice");
        let wrong = system.record_payment(&praha.code, &jana, &owed[0].id, "pay-1", 100, at).await;
        assert!(matches!(wrong, Err(FeeSystemError::Refused(_))));
        let owed = system.obligations(&praha.code, &jana).await.expect("obligations");
        assert_eq!(owed[0].paid.as_ref().map(|p| p.reference.as_str()), Some("pay-1"));
        assert!(system.municipality_of("Dlouhá 1, 110 00 Praha 1").await.ok().flatten().is_none());
    }

    #[test]
    fn fee_ids_parse_strictly() {
        assert!(parse_fee_id("p10-pes-2027-0042").is_some());
        for bad in ["", "P10", "a/b", "../x", &"a".repeat(65)] {
            assert!(parse_fee_id(bad).is_none(), "{bad}");
        }
    }
}
