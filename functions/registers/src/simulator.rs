//! **SIMULATOR of the registers gateway** — the contract of
//! `docs/registers-gateway.openapi.yaml`, served by an axum [`Router`] with
//! deterministic data, for local mode and tests. Nothing here reaches a
//! register and nothing it answers has any legal effect: every answer carries
//! `"simulated": true`, and the PDFs made from it carry a banner saying so.
//!
//! The people are the development identity provider's demo citizens
//! (`functions/identity/src/demo.rs`), addressed by their subject ids:
//!
//! | subject id | what the demo shows |
//! |---|---|
//! | `DEMO%2Fjana-novakova` | 10 driver points (near the 12-point limit); a driving licence expiring 30 days after the clock's today (the calendar reminder); one car |
//! | `DEMO%2Fjiri-dvorak` | an entrepreneur (ROS and trade register), two vehicles (one only as operator, with an odometer that went backwards) and a property |
//! | `DEMO%2Fludmila-stastna-zdarska` | a criminal record (one conviction), a delivery address, a half share of a cottage |
//!
//! Dates that matter for reminders are relative to the injected clock's
//! today; everything else is fixed. For one clock reading, every answer is
//! the same. Unknown subjects get 404 (the register has no such person).
//!
//! **Filings** (`POST /v1/filings`, `GET /v1/filings/{reference}`): every
//! filing is received at once (a repeated `Idempotency-Key` gets the first
//! receipt) by a simulated agency whose data box is the ISDS simulator's
//! municipal office (`simmuhl`), so a reminder can be sent in local mode. The
//! reference encodes the kind and the moment of receipt, and the agency's
//! progress is computed from it and the clock ([`progress_schedule`]):
//! accepted on receipt, in progress a day or two later, decided after 3 days
//! (contacts, delivery address), 15 days (driving licence) or 45 days
//! (qualified certificate: after its 30-day legal deadline, so local mode
//! shows a deadline passed without a decision and the reminder).
//!
//! Vehicles known to the odometer check (VIN, last protocol number):
//! `TMBEG6NJ5LZ012345` / `CZ-3204-24-05-0123`, `TMBJJ7NE8L0123456` /
//! `CZ-6201-25-03-0456`, `WF0XXXTTGXKA12345` / `CZ-6215-24-11-0789`.

// Helpers here return `Result<_, Response>`: the error is the finished
// problem response, as in the portal's own routes.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use portal_host::{FieldViolation, Problem};
use portal_store::Clock;
use serde::Deserialize;
use serde_json::Value;
use time::macros::{date, datetime};
use time::{Date, Duration};

use crate::extracts::ExtractKind;
use crate::gateway::http::{IDEMPOTENCY_HEADER, REQUEST_ID_HEADER, SUBJECT_HEADER};
use crate::gateway::{
    Address, Conviction, CriminalRecordExtract, DriverPoints, EntrepreneurRecord, FilingProgress, FilingReceipt,
    FilingStep, FilingSubmission, GatewayAgency, IdentityDocument, IdentityDocumentKind, OdometerHistory,
    OdometerReading, Offence, PersonRecord, PointsReduction, Properties, Property, ProtocolNumber, RecordChange,
    RequestId, SealedExtract, TradeLicence, TradeRegisterExtract, Vehicle, VehicleRelation, Vehicles, Vin,
};
use crate::render::ExtractData;

/// The subject ids of the demo citizens the simulator knows.
pub const JANA: &str = "DEMO%2Fjana-novakova";
pub const JIRI: &str = "DEMO%2Fjiri-dvorak";
pub const LUDMILA: &str = "DEMO%2Fludmila-stastna-zdarska";
pub const DEMO_SUBJECTS: [&str; 3] = [JANA, JIRI, LUDMILA];

#[derive(Debug, Clone)]
struct Simulator {
    clock: Arc<dyn Clock>,
    /// Receipts by subject and idempotency key (a real gateway keeps them
    /// 24 hours; the simulator for its lifetime).
    receipts: Arc<Mutex<HashMap<(String, String), FilingReceipt>>>,
}

/// The SIMULATOR's router, answering the gateway's paths (`/v1/...`).
pub fn router(clock: Arc<dyn Clock>) -> Router {
    tracing::info!("SIMULATOR: the registers gateway is simulated; no register is reached");
    Router::new()
        .route("/v1/person", get(person))
        .route("/v1/entrepreneur", get(entrepreneur))
        .route("/v1/criminal-record", get(criminal_record))
        .route("/v1/trade-register", get(trade_register))
        .route("/v1/driver-points", get(driver_points))
        .route("/v1/vehicles", get(vehicles))
        .route("/v1/odometer", get(odometer))
        .route("/v1/properties", get(properties))
        .route("/v1/extracts/{kind}", get(sealed_extract))
        .route("/v1/filings", post(submit_filing))
        .route("/v1/filings/{reference}", get(filing_status))
        .fallback(|| async { Problem::not_found("no such operation").into_response() })
        .with_state(Simulator { clock, receipts: Arc::default() })
}

fn request_id(headers: &HeaderMap) -> Result<RequestId, Response> {
    headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| RequestId::parse(v).ok()).ok_or_else(
        || {
            Problem::validation(vec![FieldViolation::new("X-Request-Id", "required, 1-64 characters [A-Za-z0-9-_.:]")])
                .with_status(StatusCode::BAD_REQUEST)
        },
    )
}

/// The demo person the request is about.
fn who(headers: &HeaderMap) -> Result<(RequestId, &'static str), Response> {
    let request = request_id(headers)?;
    let Some(subject) = headers.get(SUBJECT_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(Problem::validation(vec![FieldViolation::new("X-Subject-Id", "required")])
            .with_status(StatusCode::BAD_REQUEST));
    };
    match DEMO_SUBJECTS.iter().find(|s| **s == subject) {
        Some(subject) => Ok((request, subject)),
        None => Err(Problem::not_found("the register has no person with this identifier").into_response()),
    }
}

trait WithStatus {
    fn with_status(self, status: StatusCode) -> Response;
}

impl WithStatus for Problem {
    fn with_status(mut self, status: StatusCode) -> Response {
        self.status = status.as_u16();
        self.into_response()
    }
}

fn answer<T: serde::Serialize>(value: &T) -> Response {
    let mut value = serde_json::to_value(value).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert("simulated".into(), Value::Bool(true));
    }
    Json(value).into_response()
}

fn not_registered(what: &str) -> Response {
    Problem::not_found(format!("the person is not in the {what}")).into_response()
}

fn address(formatted: &str, ruian_code: Option<u64>) -> Address {
    Address { formatted: formatted.to_owned(), ruian_code }
}

/// A deterministic extract number from the request id (the same request
/// gets the same extract).
fn extract_number(prefix: &str, request: &RequestId, subject: &str) -> String {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{}\n{subject}", request.as_str()).as_bytes());
    let tail: String = digest.as_ref().iter().take(4).map(|b| format!("{b:02X}")).collect();
    format!("{prefix}-{tail}")
}

fn today(sim: &Simulator) -> Date {
    sim.clock.now().date()
}

fn identity(subject: &str) -> (&'static str, &'static str, Date, &'static str) {
    match subject {
        JANA => ("Jana", "Nováková", date!(1985 - 03 - 14), "Praha"),
        JIRI => ("Jiří", "Dvořák", date!(1972 - 11 - 02), "Brno"),
        _ => ("Ludmila", "Šťastná Žďárská", date!(1949 - 06 - 30), "Žďár nad Sázavou"),
    }
}

fn person_record(subject: &str, today: Date) -> PersonRecord {
    let (given_name, family_name, date_of_birth, place_of_birth) = identity(subject);
    let document = |kind, number: &str, issued_on, expires_on, issuer: &str| IdentityDocument {
        kind,
        number: number.to_owned(),
        issued_on: Some(issued_on),
        expires_on: Some(expires_on),
        issuer: Some(issuer.to_owned()),
    };
    let (residence, delivery_address, documents, data_box_id, changed) = match subject {
        JANA => (
            address("Vinohradská 1511/230, 100 00 Praha 10", Some(21_748_012)),
            None,
            vec![
                document(
                    IdentityDocumentKind::IdCard,
                    "204518736",
                    date!(2021 - 05 - 20),
                    date!(2031 - 05 - 20),
                    "Úřad městské části Praha 10",
                ),
                document(
                    IdentityDocumentKind::DrivingLicence,
                    "EL482915",
                    today - Duration::days(3_620),
                    today + Duration::days(30),
                    "Magistrát hlavního města Prahy",
                ),
                document(
                    IdentityDocumentKind::Passport,
                    "45123987",
                    date!(2019 - 08 - 01),
                    date!(2029 - 08 - 01),
                    "Úřad městské části Praha 10",
                ),
            ],
            Some("sim4jan"),
            datetime!(2021-05-20 09:12 UTC),
        ),
        JIRI => (
            address("náměstí Svobody 94/4, 602 00 Brno", Some(19_020_155)),
            None,
            vec![
                document(
                    IdentityDocumentKind::IdCard,
                    "115902344",
                    date!(2019 - 02 - 11),
                    date!(2029 - 02 - 11),
                    "Magistrát města Brna",
                ),
                document(
                    IdentityDocumentKind::DrivingLicence,
                    "EK190233",
                    date!(2023 - 08 - 11),
                    date!(2033 - 08 - 11),
                    "Magistrát města Brna",
                ),
            ],
            Some("sim4jir"),
            datetime!(2018-03-02 13:40 UTC),
        ),
        _ => (
            address("Masarykovo náměstí 1, 591 01 Žďár nad Sázavou", Some(10_542_311)),
            Some(address("Horní 15, 591 01 Žďár nad Sázavou", Some(10_542_877))),
            vec![
                document(
                    IdentityDocumentKind::IdCard,
                    "100482231",
                    date!(2014 - 06 - 30),
                    date!(2034 - 06 - 30),
                    "Městský úřad Žďár nad Sázavou",
                ),
                document(
                    IdentityDocumentKind::DrivingLicence,
                    "EJ775104",
                    date!(2021 - 03 - 15),
                    date!(2031 - 03 - 15),
                    "Městský úřad Žďár nad Sázavou",
                ),
            ],
            Some("sim4lud"),
            datetime!(2022-10-04 08:05 UTC),
        ),
    };
    PersonRecord {
        given_name: given_name.to_owned(),
        family_name: family_name.to_owned(),
        date_of_birth,
        place_of_birth: place_of_birth.to_owned(),
        residence,
        delivery_address,
        citizenships: vec!["CZ".to_owned()],
        identity_documents: documents,
        data_box_id: data_box_id.map(str::to_owned),
        changes: vec![RecordChange { item: "adresa místa pobytu".to_owned(), changed_at: changed }],
        simulated: true,
    }
}

async fn person(State(sim): State<Simulator>, headers: HeaderMap) -> Response {
    match who(&headers) {
        Ok((_, subject)) => answer(&person_record(subject, today(&sim))),
        Err(response) => response,
    }
}

const JIRI_ICO: &str = "27145638";

fn jiri_office() -> Address {
    address("Průmyslová 812, 664 34 Kuřim", Some(19_522_734))
}

async fn entrepreneur(headers: HeaderMap) -> Response {
    match who(&headers) {
        Ok((_, JIRI)) => answer(&EntrepreneurRecord {
            ico: JIRI_ICO.to_owned(),
            name: "Jiří Dvořák – Truhlářství".to_owned(),
            legal_form: "Podnikající fyzická osoba tuzemská".to_owned(),
            registered_office: jiri_office(),
            registered_on: date!(2003 - 04 - 01),
            data_box_id: Some("sim4jir".to_owned()),
            simulated: true,
        }),
        Ok(_) => not_registered("register of persons"),
        Err(response) => response,
    }
}

async fn criminal_record(State(sim): State<Simulator>, headers: HeaderMap) -> Response {
    let (request, subject) = match who(&headers) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (given_name, family_name, date_of_birth, place_of_birth) = identity(subject);
    let convictions = if subject == LUDMILA {
        vec![Conviction {
            court: "Okresní soud ve Žďáru nad Sázavou".to_owned(),
            file_number: "2 T 45/2019".to_owned(),
            final_on: date!(2019 - 09 - 12),
            offence: "přečin ohrožení pod vlivem návykové látky podle § 274 odst. 1 trestního zákoníku".to_owned(),
            sentence: "podmíněný trest odnětí svobody 6 měsíců se zkušební dobou 18 měsíců; \
                       zákaz činnosti – řízení motorových vozidel na 18 měsíců"
                .to_owned(),
        }]
    } else {
        Vec::new()
    };
    answer(&CriminalRecordExtract {
        issued_at: sim.clock.now(),
        extract_number: extract_number("RT", &request, subject),
        full_name: format!("{given_name} {family_name}"),
        date_of_birth,
        place_of_birth: place_of_birth.to_owned(),
        convictions,
        simulated: true,
    })
}

async fn trade_register(State(sim): State<Simulator>, headers: HeaderMap) -> Response {
    match who(&headers) {
        Ok((_, JIRI)) => answer(&TradeRegisterExtract {
            issued_at: sim.clock.now(),
            ico: JIRI_ICO.to_owned(),
            name: "Jiří Dvořák".to_owned(),
            registered_office: jiri_office(),
            licences: vec![
                TradeLicence {
                    subject: "Truhlářství, podlahářství".to_owned(),
                    kind: "ohlašovací řemeslná".to_owned(),
                    since: date!(2003 - 04 - 01),
                    until: None,
                    status: "active".to_owned(),
                },
                TradeLicence {
                    subject: "Výroba, obchod a služby neuvedené v přílohách 1 až 3 živnostenského zákona".to_owned(),
                    kind: "ohlašovací volná".to_owned(),
                    since: date!(2008 - 09 - 15),
                    until: None,
                    status: "active".to_owned(),
                },
                TradeLicence {
                    subject: "Silniční motorová doprava – nákladní".to_owned(),
                    kind: "koncesovaná".to_owned(),
                    since: date!(2010 - 01 - 04),
                    until: Some(date!(2016 - 12 - 31)),
                    status: "ended".to_owned(),
                },
            ],
            simulated: true,
        }),
        Ok(_) => not_registered("trade register"),
        Err(response) => response,
    }
}

/// The points of the demo drivers, with the reduction rule applied: 4
/// points off after 12 months without an offence.
fn points(subject: &str, today: Date) -> DriverPoints {
    let offences = match subject {
        JANA => vec![
            Offence {
                committed_on: today - Duration::days(200),
                points: 6,
                description: "Překročení nejvyšší dovolené rychlosti v obci o 40 km/h a více".to_owned(),
            },
            Offence {
                committed_on: today - Duration::days(45),
                points: 4,
                description: "Překročení nejvyšší dovolené rychlosti v obci o 20 km/h a více".to_owned(),
            },
        ],
        JIRI => vec![Offence {
            committed_on: date!(2019 - 05 - 17),
            points: 2,
            description: "Nezastavení vozidla před přechodem pro chodce (stav před rokem 2024)".to_owned(),
        }],
        _ => Vec::new(),
    };
    let scored: u32 = offences.iter().map(|o| u32::from(o.points)).sum();
    let last = offences.iter().map(|o| o.committed_on).max();
    // Every full 12 months since the last offence takes 4 points away.
    let years_clean = last.map_or(0, |last| months_between(last, today) / 12);
    let total = scored.saturating_sub(4 * years_clean).min(12) as u8;
    let next_on = match (total, last) {
        (0, _) | (_, None) => None,
        (_, Some(last)) => add_months(last, 12 * (years_clean + 1)),
    };
    DriverPoints {
        as_of: today,
        total,
        limit: 12,
        offences,
        reduction: PointsReduction { points: 4, after_months: 12, next_on },
        simulated: true,
    }
}

/// Whole months from `from` to `to`.
pub(crate) fn months_between(from: Date, to: Date) -> u32 {
    let months = (to.year() - from.year()) * 12 + (i32::from(u8::from(to.month())) - i32::from(u8::from(from.month())));
    let months = if to.day() < from.day() { months - 1 } else { months };
    u32::try_from(months).unwrap_or(0)
}

/// `date` plus `months` calendar months (clamped to the month's last day).
pub(crate) fn add_months(date: Date, months: u32) -> Option<Date> {
    let total = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + i32::try_from(months).ok()?;
    let (year, month) = (total.div_euclid(12), u8::try_from(total.rem_euclid(12) + 1).ok()?);
    let month = time::Month::try_from(month).ok()?;
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).ok()
}

async fn driver_points(State(sim): State<Simulator>, headers: HeaderMap) -> Response {
    match who(&headers) {
        Ok((_, subject)) => answer(&points(subject, today(&sim))),
        Err(response) => response,
    }
}

struct DemoVehicle {
    owner: &'static str,
    vin: &'static str,
    plate: &'static str,
    make: &'static str,
    model: &'static str,
    category: &'static str,
    first_registered_on: Date,
    relation: VehicleRelation,
    protocol: &'static str,
    readings: &'static [(Date, u64, &'static str)],
}

const VEHICLES: &[DemoVehicle] = &[
    DemoVehicle {
        owner: JANA,
        vin: "TMBEG6NJ5LZ012345",
        plate: "1AZ 2345",
        make: "Škoda",
        model: "Fabia",
        category: "M1",
        first_registered_on: date!(2020 - 05 - 12),
        relation: VehicleRelation::OwnerAndOperator,
        protocol: "CZ-3204-24-05-0123",
        readings: &[(date!(2024 - 05 - 06), 61_230, "stk"), (date!(2022 - 05 - 09), 38_410, "stk")],
    },
    DemoVehicle {
        owner: JIRI,
        vin: "TMBJJ7NE8L0123456",
        plate: "7B1 4410",
        make: "Škoda",
        model: "Octavia Combi",
        category: "M1",
        first_registered_on: date!(2021 - 03 - 02),
        relation: VehicleRelation::OwnerAndOperator,
        protocol: "CZ-6201-25-03-0456",
        readings: &[(date!(2025 - 03 - 04), 118_900, "stk"), (date!(2023 - 03 - 01), 71_150, "stk")],
    },
    DemoVehicle {
        owner: JIRI,
        vin: "WF0XXXTTGXKA12345",
        plate: "6B8 9021",
        make: "Ford",
        model: "Transit Custom",
        category: "N1",
        first_registered_on: date!(2017 - 11 - 20),
        relation: VehicleRelation::Operator,
        protocol: "CZ-6215-24-11-0789",
        readings: &[
            (date!(2019 - 11 - 18), 48_210, "stk"),
            (date!(2021 - 11 - 22), 121_540, "stk"),
            (date!(2022 - 06 - 02), 126_080, "emise"),
            (date!(2023 - 11 - 20), 98_300, "stk"),
            (date!(2024 - 11 - 25), 131_020, "stk"),
        ],
    },
];

fn vehicle(v: &DemoVehicle) -> Option<Vehicle> {
    let last = v.readings.iter().map(|r| r.0).max()?;
    Some(Vehicle {
        vin: Vin::parse(v.vin).ok()?,
        registration_plate: v.plate.to_owned(),
        make: v.make.to_owned(),
        model: v.model.to_owned(),
        category: v.category.to_owned(),
        first_registered_on: v.first_registered_on,
        relation: v.relation,
        inspection_valid_until: add_months(last, 24),
    })
}

async fn vehicles(headers: HeaderMap) -> Response {
    match who(&headers) {
        Ok((_, subject)) => answer(&Vehicles {
            items: VEHICLES.iter().filter(|v| v.owner == subject).filter_map(vehicle).collect(),
            simulated: true,
        }),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct OdometerParams {
    vin: Option<String>,
    protocol: Option<String>,
}

async fn odometer(headers: HeaderMap, Query(params): Query<OdometerParams>) -> Response {
    if let Err(response) = request_id(&headers) {
        return response;
    }
    let vin = params.vin.as_deref().map(Vin::parse);
    let protocol = params.protocol.as_deref().map(ProtocolNumber::parse);
    let mut errors = Vec::new();
    match &vin {
        None => errors.push(FieldViolation::new("vin", "required")),
        Some(Err(rule)) => errors.push(FieldViolation::new("vin", *rule)),
        Some(Ok(_)) => {}
    }
    match &protocol {
        None => errors.push(FieldViolation::new("protocol", "required")),
        Some(Err(rule)) => errors.push(FieldViolation::new("protocol", *rule)),
        Some(Ok(_)) => {}
    }
    let (Some(Ok(vin)), Some(Ok(protocol))) = (vin, protocol) else {
        return Problem::validation(errors).with_status(StatusCode::BAD_REQUEST);
    };
    let Some(found) = VEHICLES.iter().find(|v| v.vin == vin.as_str() && v.protocol == protocol.as_str()) else {
        return Problem::not_found("no vehicle with this VIN whose last inspection protocol has this number")
            .into_response();
    };
    // As the register keeps them: newest first.
    let readings = found
        .readings
        .iter()
        .map(|(date, kilometres, source)| OdometerReading {
            date: *date,
            kilometres: *kilometres,
            source: (*source).to_owned(),
        })
        .collect();
    answer(&OdometerHistory { vin, readings, simulated: true })
}

async fn properties(State(sim): State<Simulator>, headers: HeaderMap) -> Response {
    let subject = match who(&headers) {
        Ok((_, subject)) => subject,
        Err(response) => return response,
    };
    let items = match subject {
        JIRI => vec![
            Property {
                kind: "pozemek".to_owned(),
                cadastral_area: "Kuřim (678431)".to_owned(),
                title_deed: "2231".to_owned(),
                designation: "parc. č. st. 1234".to_owned(),
                share: "1/1".to_owned(),
                area_m2: Some(450),
                address: None,
            },
            Property {
                kind: "budova".to_owned(),
                cadastral_area: "Kuřim (678431)".to_owned(),
                title_deed: "2231".to_owned(),
                designation: "č. p. 812, objekt k bydlení a dílna".to_owned(),
                share: "1/1".to_owned(),
                area_m2: None,
                address: Some(jiri_office().formatted),
            },
        ],
        LUDMILA => vec![Property {
            kind: "budova".to_owned(),
            cadastral_area: "Světnov (763641)".to_owned(),
            title_deed: "118".to_owned(),
            designation: "č. e. 27, stavba pro rodinnou rekreaci".to_owned(),
            share: "1/2".to_owned(),
            area_m2: None,
            address: Some("Světnov č. e. 27, 591 02 Světnov".to_owned()),
        }],
        _ => Vec::new(),
    };
    answer(&Properties { as_of: sim.clock.now(), items, simulated: true })
}

/// The SIMULATOR's agency for every filing: the ISDS simulator's municipal
/// office, so that a reminder from the citizen's box reaches a known box.
/// The issuing authority of each extract (whose seal a real one carries).
fn issuer(kind: ExtractKind) -> &'static str {
    match kind {
        ExtractKind::Person => "Správa základních registrů (simulace)",
        ExtractKind::CriminalRecord => "Rejstřík trestů (simulace)",
        ExtractKind::TradeRegister => "Živnostenský úřad (simulace)",
        ExtractKind::DriverPoints => "Ministerstvo dopravy – centrální registr řidičů (simulace)",
        ExtractKind::Vehicles => "Ministerstvo dopravy – registr silničních vozidel (simulace)",
        ExtractKind::Properties => "Český úřad zeměměřický a katastrální (simulace)",
    }
}

/// `GET /v1/extracts/{kind}`: the SIMULATOR has no seal, so it typesets its
/// own data with the portal's renderer (the simulator banner on every page)
/// and answers it in the contract's form; a real register answers its own
/// sealed PDF.
async fn sealed_extract(State(sim): State<Simulator>, headers: HeaderMap, Path(kind): Path<String>) -> Response {
    let Some(kind) = ExtractKind::parse(&kind) else { return Problem::not_found("no such extract").into_response() };
    let request = match who(&headers) {
        Ok((request, _)) => request,
        Err(response) => return response,
    };
    let inner = match kind {
        ExtractKind::Person => person(State(sim.clone()), headers.clone()).await,
        ExtractKind::CriminalRecord => criminal_record(State(sim.clone()), headers.clone()).await,
        ExtractKind::TradeRegister => trade_register(State(sim.clone()), headers.clone()).await,
        ExtractKind::DriverPoints => driver_points(State(sim.clone()), headers.clone()).await,
        ExtractKind::Vehicles => vehicles(headers.clone()).await,
        ExtractKind::Properties => properties(State(sim.clone()), headers.clone()).await,
    };
    let status = inner.status();
    let Ok(body) = axum::body::to_bytes(inner.into_body(), 1 << 20).await else {
        return Problem::internal().into_response();
    };
    fn parsed<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
        serde_json::from_slice(body).ok()
    }
    let data = match (kind, status.is_success()) {
        // Not in the trade register: the register issues a "no record" extract.
        (ExtractKind::TradeRegister, false) if status == StatusCode::NOT_FOUND => {
            Some(ExtractData::TradeRegister(None))
        }
        (_, false) => {
            let mut response = body.into_response();
            *response.status_mut() = status;
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/problem+json"),
            );
            return response;
        }
        (ExtractKind::Person, true) => parsed(&body).map(ExtractData::Person),
        (ExtractKind::CriminalRecord, true) => parsed(&body).map(ExtractData::CriminalRecord),
        (ExtractKind::TradeRegister, true) => parsed(&body).map(|t| ExtractData::TradeRegister(Some(t))),
        (ExtractKind::DriverPoints, true) => parsed(&body).map(ExtractData::DriverPoints),
        (ExtractKind::Vehicles, true) => parsed(&body).map(ExtractData::Vehicles),
        (ExtractKind::Properties, true) => parsed(&body).map(ExtractData::Properties),
    };
    let now = sim.clock.now();
    let Some(data) = data else { return Problem::internal().into_response() };
    let Ok(pdf) = crate::render::extract_pdf(kind, &data, request.as_str(), now, true) else {
        return Problem::internal().into_response();
    };
    answer(&SealedExtract {
        kind: kind.as_str().to_owned(),
        issuer: issuer(kind).to_owned(),
        issued_at: now,
        media_type: "application/pdf".to_owned(),
        file_name: format!("vypis-{}.pdf", kind.as_str()),
        content: base64::engine::general_purpose::STANDARD.encode(pdf),
        simulated: true,
    })
}

fn simulated_agency(submission: &FilingSubmission) -> GatewayAgency {
    let name = match submission {
        FilingSubmission::DrivingLicence(data) => {
            format!("Obecní úřad obce s rozšířenou působností, kód ORP {} (simulace)", data.office_code)
        }
        _ => "Městský úřad Horní Lhota, ohlašovna a editor registru obyvatel (simulace)".to_owned(),
    };
    GatewayAgency { name, box_id: Some("simmuhl".to_owned()) }
}

/// The kind's code in a reference.
fn kind_code(kind: &str) -> Option<&'static str> {
    match kind {
        "delivery-address" => Some("DA"),
        "contact" => Some("CT"),
        "qualified-certificate" => Some("QC"),
        "driving-licence" => Some("DL"),
        _ => None,
    }
}

/// When the simulated agency takes each step after receipt: (status,
/// after, note). Public so tests and demos can reason about it.
pub fn progress_schedule(code: &str) -> Vec<(&'static str, Duration, Option<&'static str>)> {
    match code {
        "DL" => vec![
            ("accepted", Duration::ZERO, None),
            ("in-progress", Duration::days(2), Some("Žádost se zpracovává, průkaz se vyrábí.")),
            ("decided", Duration::days(15), Some("Řidičský průkaz je připraven k převzetí na zvoleném úřadě.")),
        ],
        "QC" => vec![
            ("accepted", Duration::ZERO, None),
            ("in-progress", Duration::days(2), None),
            ("decided", Duration::days(45), Some("Kvalifikovaný certifikát byl zapsán.")),
        ],
        _ => vec![
            ("accepted", Duration::ZERO, None),
            ("in-progress", Duration::days(1), None),
            ("decided", Duration::days(3), Some("Údaje byly zapsány do registru obyvatel.")),
        ],
    }
}

fn reference_mac(subject: &str, code: &str, received: i64, nonce: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{subject}\n{code}\n{received}\n{nonce}").as_bytes(),
    );
    digest.as_ref().iter().take(4).map(|b| format!("{b:02X}")).collect()
}

async fn submit_filing(State(sim): State<Simulator>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let (_, subject) = match who(&headers) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(key) =
        headers.get(IDEMPOTENCY_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| RequestId::parse(v).ok())
    else {
        return Problem::validation(vec![FieldViolation::new(
            "Idempotency-Key",
            "required, 1-64 characters [A-Za-z0-9-_.:]",
        )])
        .with_status(StatusCode::BAD_REQUEST);
    };
    let submission: FilingSubmission = match serde_json::from_slice(&body) {
        Ok(submission) => submission,
        Err(_) => {
            return Problem::validation(vec![FieldViolation::new(
                "body",
                "a filing: {kind: delivery-address | contact | qualified-certificate | driving-licence, data}",
            )])
            .with_status(StatusCode::BAD_REQUEST);
        }
    };
    let Some(code) = kind_code(submission.kind()) else {
        return Problem::validation(vec![FieldViolation::new("kind", "unknown kind")])
            .with_status(StatusCode::BAD_REQUEST);
    };
    let mut receipts = sim.receipts.lock().unwrap_or_else(|p| p.into_inner());
    let receipt = receipts
        .entry((subject.to_owned(), key.as_str().to_owned()))
        .or_insert_with(|| {
            let received_at = sim.clock.now().replace_nanosecond(0).unwrap_or_else(|_| sim.clock.now());
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_str().as_bytes());
            let nonce: String = digest.as_ref().iter().take(4).map(|b| format!("{b:02X}")).collect();
            let unix = received_at.unix_timestamp();
            let mac = reference_mac(subject, code, unix, &nonce);
            FilingReceipt {
                reference: format!("SIM-{code}-{unix}-{nonce}-{mac}"),
                received_at,
                agency: simulated_agency(&submission),
                simulated: true,
            }
        })
        .clone();
    drop(receipts);
    tracing::info!(kind = submission.kind(), "SIMULATOR: a filing was received; nothing reaches an agency");
    (StatusCode::ACCEPTED, answer(&receipt)).into_response()
}

async fn filing_status(State(sim): State<Simulator>, headers: HeaderMap, Path(reference): Path<String>) -> Response {
    let (_, subject) = match who(&headers) {
        Ok(found) => found,
        Err(response) => return response,
    };
    let unknown = || Problem::not_found("no filing of this person has this reference").into_response();
    let parts: Vec<&str> = reference.split('-').collect();
    let [prefix, code, unix, nonce, mac] = parts.as_slice() else { return unknown() };
    let Ok(received) = unix.parse::<i64>() else { return unknown() };
    if *prefix != "SIM" || reference_mac(subject, code, received, nonce) != *mac {
        return unknown();
    }
    let Ok(received_at) = time::OffsetDateTime::from_unix_timestamp(received) else { return unknown() };
    let now = sim.clock.now();
    let history = progress_schedule(code)
        .into_iter()
        .map(|(status, after, note)| FilingStep {
            status: status.to_owned(),
            at: received_at + after,
            note: note.map(str::to_owned),
        })
        .filter(|step| step.at <= now)
        .collect();
    answer(&FilingProgress { reference: reference.clone(), history, simulated: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_follow_the_reduction_rule() {
        let today = date!(2026 - 11 - 23);
        let jana = points(JANA, today);
        assert_eq!((jana.total, jana.limit), (10, 12), "near the limit");
        assert_eq!(jana.reduction.next_on, add_months(today - Duration::days(45), 12));
        let jiri = points(JIRI, today);
        assert_eq!(jiri.total, 0, "2 points from 2019, more than 12 clean months since");
        assert_eq!(jiri.reduction.next_on, None);
        assert_eq!(add_months(date!(2024 - 01 - 31), 1), Some(date!(2024 - 02 - 29)));
        assert_eq!(months_between(date!(2025 - 11 - 24), date!(2026 - 11 - 23)), 11);
        assert_eq!(months_between(date!(2025 - 11 - 23), date!(2026 - 11 - 23)), 12);
    }

    #[test]
    fn the_demo_data_is_deterministic_for_a_clock_reading() {
        let today = date!(2026 - 11 - 23);
        assert_eq!(person_record(JANA, today), person_record(JANA, today));
        let licence = person_record(JANA, today)
            .identity_documents
            .into_iter()
            .find(|d| d.kind == IdentityDocumentKind::DrivingLicence)
            .and_then(|d| d.expires_on);
        assert_eq!(licence, Some(date!(2026 - 12 - 23)), "30 days after today");
        for v in VEHICLES {
            assert!(Vin::parse(v.vin).is_ok() && ProtocolNumber::parse(v.protocol).is_ok(), "{}", v.vin);
        }
    }
}
