//! The registers gateway port: what the portal needs from the base registers
//! (základní registry) and the agency registers behind them.
//!
//! The source registers stay in the government's data centres; the cloud
//! reaches them through one gateway that speaks JSON over HTTPS with mutual
//! TLS. Its contract is `docs/registers-gateway.openapi.yaml` (at the
//! repository root); the types here are that contract in Rust, decoded once at the
//! edge:
//!
//! | operation | register | path |
//! |---|---|---|
//! | [`RegistersGateway::person`] | ROB (registr obyvatel) | `GET /v1/person` |
//! | [`RegistersGateway::entrepreneur`] | ROS (registr osob) | `GET /v1/entrepreneur` |
//! | [`RegistersGateway::criminal_record`] | Rejstřík trestů | `GET /v1/criminal-record` |
//! | [`RegistersGateway::trade_register`] | Živnostenský rejstřík | `GET /v1/trade-register` |
//! | [`RegistersGateway::driver_points`] | Registr řidičů (bodové hodnocení) | `GET /v1/driver-points` |
//! | [`RegistersGateway::vehicles`] | Registr silničních vozidel | `GET /v1/vehicles` |
//! | [`RegistersGateway::odometer`] | Kontrola tachometru (STK and emission checks) | `GET /v1/odometer` |
//! | [`RegistersGateway::properties`] | Katastr nemovitostí | `GET /v1/properties` |
//! | [`RegistersGateway::submit_filing`] | the agency behind the register (writes, applications) | `POST /v1/filings` |
//! | [`RegistersGateway::filing_status`] | the same | `GET /v1/filings/{reference}` |
//!
//! A person is addressed by an opaque identifier the gateway understands, sent
//! in the `X-Subject-Id` header (never in the URL, which proxies log): in
//! production it is NIA's pseudonym for the portal, the citizen's
//! [`SubjectId`]; the gateway maps it to the register's own identifiers (AIFO).
//! Every call carries `X-Request-Id`: the gateway uses it for tracing and to
//! answer a repeated request with the same result (an extract job passes its
//! job id, so a retried job does not ask the register twice).
//!
//! Adapters: [`http::HttpGateway`] (production, mutual TLS; also run in
//! process against the simulator, see [`http::HttpGateway::in_process`]) and
//! [`crate::simulator`] (SIMULATOR: the contract served by an axum router with
//! deterministic data for the demo citizens).

pub mod http;

use std::fmt;

use async_trait::async_trait;
use portal_security::SubjectId;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

time::serde::format_description!(pub(crate) iso_date, Date, "[year]-[month]-[day]");

/// Why a gateway call failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The register holds no such record for this person (no entrepreneur
    /// record, no vehicle with this VIN, an unknown person).
    #[error("not found in the register")]
    NotFound,
    /// The gateway or the register refused the request (403/409/422): asking
    /// again will not help. `kind` is the problem type the gateway sent.
    #[error("the register refused the request ({status} {kind})")]
    Refused { status: u16, kind: String, detail: Option<String> },
    /// Unreachable, timed out, or 502/503/504 after the adapter's retries:
    /// retrying later can help.
    #[error("the registers gateway is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Our request was wrong (400), or the answer does not match the contract.
    #[error("invalid request or answer: {0}")]
    Invalid(String),
}

impl GatewayError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

pub type GatewayResult<T> = Result<T, GatewayError>;

/// The `X-Request-Id` of a call: 1–64 characters of letters, digits, `-`,
/// `_`, `.` and `:`. The same id asks the gateway for the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub fn parse(value: &str) -> Result<Self, GatewayError> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if ok { Ok(Self(value.to_owned())) } else { Err(GatewayError::Invalid("request id".into())) }
    }

    /// A fresh random id, for lookups that need no idempotency.
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A vehicle identification number (VIN, ISO 3779): 17 characters of `A–Z`
/// and `0–9` without `I`, `O` and `Q`. The check digit (position 9) is
/// mandatory only in North America and is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Vin(String);

impl Vin {
    /// Upper-cases and checks; the error is the broken rule.
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let value = value.trim().to_ascii_uppercase();
        if value.chars().count() != 17 {
            return Err("a VIN has exactly 17 characters");
        }
        if !value.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return Err("a VIN has only the letters A-Z and the digits 0-9");
        }
        if value.contains(['I', 'O', 'Q']) {
            return Err("a VIN never contains the letters I, O or Q");
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Vin {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Vin> for String {
    fn from(value: Vin) -> Self {
        value.0
    }
}

/// The number of a technical inspection protocol (protokol o technické
/// prohlídce, STK), as printed on the protocol: `CZ-<station>-<yy>-<mm>-<serial>`,
/// e.g. `CZ-3204-24-05-0123` (station number of 4 digits, year and month of
/// the inspection, serial of 4 digits). The reference sources name the input
/// but not its format; this rule is the portal's own and is part of the
/// gateway contract (`ProtocolNumber` in the OpenAPI document). Spaces are
/// ignored and letters upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProtocolNumber(String);

impl ProtocolNumber {
    pub const RULE: &'static str =
        "CZ-<station: 4 digits>-<year: 2 digits>-<month: 01-12>-<serial: 4 digits>, e.g. CZ-3204-24-05-0123";

    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let value: String = value.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
        let parts: Vec<&str> = value.split('-').collect();
        let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
        let ok = parts.len() == 5
            && parts[0] == "CZ"
            && digits(parts[1], 4)
            && digits(parts[2], 2)
            && digits(parts[3], 2)
            && matches!(parts[3].parse::<u8>(), Ok(1..=12))
            && digits(parts[4], 4);
        if ok { Ok(Self(value)) } else { Err(Self::RULE) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProtocolNumber {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProtocolNumber> for String {
    fn from(value: ProtocolNumber) -> Self {
        value.0
    }
}

/// An address as RÚIAN formats it on one line, with its RÚIAN address point
/// code when the address is in the Czech Republic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub formatted: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ruian_code: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityDocumentKind {
    IdCard,
    Passport,
    DrivingLicence,
}

impl IdentityDocumentKind {
    /// The value of `CalendarEntry::document`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdCard => "id-card",
            Self::Passport => "passport",
            Self::DrivingLicence => "driving-licence",
        }
    }

    /// The document's name, as the citizen knows it.
    pub fn czech_name(self) -> &'static str {
        match self {
            Self::IdCard => "Občanský průkaz",
            Self::Passport => "Cestovní pas",
            Self::DrivingLicence => "Řidičský průkaz",
        }
    }
}

/// An identity document the register records (doklad).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityDocument {
    pub kind: IdentityDocumentKind,
    pub number: String,
    #[serde(with = "iso_date::option", default, skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<Date>,
    #[serde(with = "iso_date::option", default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// When one item of the record last changed (the ROB extract lists them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordChange {
    pub item: String,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

/// A person's record in the population register (ROB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonRecord {
    pub given_name: String,
    pub family_name: String,
    #[serde(with = "iso_date")]
    pub date_of_birth: Date,
    pub place_of_birth: String,
    pub residence: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_address: Option<Address>,
    /// ISO 3166-1 alpha-2 codes.
    pub citizenships: Vec<String>,
    pub identity_documents: Vec<IdentityDocument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_box_id: Option<String>,
    #[serde(default)]
    pub changes: Vec<RecordChange>,
    /// True when the SIMULATOR answered.
    #[serde(default)]
    pub simulated: bool,
}

/// A natural person's record in the register of persons (ROS), for
/// entrepreneurs (podnikající fyzická osoba).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntrepreneurRecord {
    /// IČO, 8 digits.
    pub ico: String,
    pub name: String,
    pub legal_form: String,
    pub registered_office: Address,
    #[serde(with = "iso_date")]
    pub registered_on: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_box_id: Option<String>,
    #[serde(default)]
    pub simulated: bool,
}

/// One conviction in the criminal record (odsouzení).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conviction {
    pub court: String,
    pub file_number: String,
    #[serde(with = "iso_date")]
    pub final_on: Date,
    pub offence: String,
    pub sentence: String,
}

/// The criminal record extract (výpis z evidence Rejstříku trestů).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CriminalRecordExtract {
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    pub extract_number: String,
    pub full_name: String,
    #[serde(with = "iso_date")]
    pub date_of_birth: Date,
    pub place_of_birth: String,
    /// Empty: "bez záznamu".
    pub convictions: Vec<Conviction>,
    #[serde(default)]
    pub simulated: bool,
}

/// One trade licence (živnostenské oprávnění).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TradeLicence {
    pub subject: String,
    /// `ohlašovací volná`, `ohlašovací řemeslná`, `koncesovaná`, …
    pub kind: String,
    #[serde(with = "iso_date")]
    pub since: Date,
    #[serde(with = "iso_date::option", default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
    /// `active`, `suspended` or `ended`.
    pub status: String,
}

/// The trade register extract (výpis ze živnostenského rejstříku).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TradeRegisterExtract {
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    pub ico: String,
    pub name: String,
    pub registered_office: Address,
    pub licences: Vec<TradeLicence>,
    #[serde(default)]
    pub simulated: bool,
}

/// One point-scoring offence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offence {
    #[serde(with = "iso_date")]
    pub committed_on: Date,
    pub points: u8,
    pub description: String,
}

/// The rule that takes points away (zákon 361/2000 Sb. §123e).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsReduction {
    /// 4.
    pub points: u8,
    /// 12: consecutive months without a point-scoring offence.
    pub after_months: u8,
    /// When the next reduction happens if no offence comes first (none when
    /// the total is 0).
    #[serde(with = "iso_date::option", default, skip_serializing_if = "Option::is_none")]
    pub next_on: Option<Date>,
}

/// The driver's points (bodové hodnocení řidiče, zákon 361/2000 Sb. §123a–123f).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverPoints {
    #[serde(with = "iso_date")]
    pub as_of: Date,
    pub total: u8,
    /// 12: at this total the licence is lost for a year.
    pub limit: u8,
    pub offences: Vec<Offence>,
    pub reduction: PointsReduction,
    #[serde(default)]
    pub simulated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VehicleRelation {
    Owner,
    Operator,
    OwnerAndOperator,
}

impl VehicleRelation {
    pub fn czech_name(self) -> &'static str {
        match self {
            Self::Owner => "vlastník",
            Self::Operator => "provozovatel",
            Self::OwnerAndOperator => "vlastník a provozovatel",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vehicle {
    pub vin: Vin,
    pub registration_plate: String,
    pub make: String,
    pub model: String,
    /// EU vehicle category (`M1`, `N1`, `L3e`, …).
    pub category: String,
    #[serde(with = "iso_date")]
    pub first_registered_on: Date,
    pub relation: VehicleRelation,
    #[serde(with = "iso_date::option", default, skip_serializing_if = "Option::is_none")]
    pub inspection_valid_until: Option<Date>,
}

/// The vehicles where the person is owner or operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vehicles {
    pub items: Vec<Vehicle>,
    #[serde(default)]
    pub simulated: bool,
}

/// One odometer reading recorded at a technical inspection or emission check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OdometerReading {
    #[serde(with = "iso_date")]
    pub date: Date,
    pub kilometres: u64,
    /// `stk` (technical inspection) or `emise` (emission check).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OdometerHistory {
    pub vin: Vin,
    pub readings: Vec<OdometerReading>,
    #[serde(default)]
    pub simulated: bool,
}

/// One property (nemovitost) on a title deed (list vlastnictví).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Property {
    /// `pozemek` (land), `budova` (building), `jednotka` (unit).
    pub kind: String,
    pub cadastral_area: String,
    /// LV number.
    pub title_deed: String,
    /// Parcel number or building/unit number.
    pub designation: String,
    /// Ownership share, e.g. `1/1`, `1/2`.
    pub share: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_m2: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Properties {
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    pub items: Vec<Property>,
    #[serde(default)]
    pub simulated: bool,
}

/// The agency (úřad) that handles a filing, as the gateway names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayAgency {
    pub name: String,
    /// Its data box id, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_id: Option<String>,
}

/// A delivery address for the population register (adresa pro doručování),
/// structured as RÚIAN structures it. Either a street address (house number
/// required) or a P. O. Box at the post office of `postcode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAddressData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    /// Číslo popisné (č. p.).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub house_number: Option<String>,
    /// Číslo orientační (č. o.), digits and an optional letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orientation_number: Option<String>,
    pub municipality: String,
    /// PSČ, 5 digits without a space.
    pub postcode: String,
    /// The number of a P. O. Box (poštovní přihrádka).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub po_box: Option<String>,
}

impl DeliveryAddressData {
    /// The address on one line, as a letter would carry it.
    pub fn formatted(&self) -> String {
        let split = self.postcode.char_indices().nth(3).map_or(self.postcode.len(), |(i, _)| i);
        let (head, tail) = self.postcode.split_at(split);
        let psc = format!("{head} {tail}");
        if let Some(po_box) = &self.po_box {
            return format!("P. O. BOX {po_box}, {psc} {}", self.municipality);
        }
        let number = match (&self.house_number, &self.orientation_number) {
            (Some(house), Some(orientation)) => format!("{house}/{orientation}"),
            (Some(house), None) => house.clone(),
            (None, _) => String::new(),
        };
        match &self.street {
            Some(street) => format!("{street} {number}, {psc} {}", self.municipality),
            None => format!("č. p. {number}, {psc} {}", self.municipality),
        }
    }
}

/// Contact details for the population register: at least one of the two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164, e.g. `+420601123456`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A qualified certificate to enter in the register (for signing filings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateData {
    /// The certificate, base64 of its DER encoding.
    pub certificate: String,
    /// Its serial number, upper-case hex.
    pub serial_number: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The subject's common name, if the certificate has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_name: Option<String>,
}

/// An application for a new driving licence (žádost o vydání řidičského
/// průkazu), handed to the chosen office once the fee is paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrivingLicenceData {
    /// `expired`, `data-change`, `lost`, `stolen`, `damaged`.
    pub reason: String,
    /// The office where the licence will be collected in person: the code of
    /// a municipality with extended powers (ORP), 4 digits.
    pub office_code: String,
    /// The photo, base64 of the JPEG.
    pub photo: String,
    pub photo_width: u32,
    pub photo_height: u32,
    pub fee_czk: u32,
    /// The portal's payment id, when a fee was paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
}

/// What the portal files through the gateway: the kind and its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum FilingSubmission {
    DeliveryAddress(DeliveryAddressData),
    Contact(ContactData),
    QualifiedCertificate(CertificateData),
    DrivingLicence(DrivingLicenceData),
}

impl FilingSubmission {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DeliveryAddress(_) => "delivery-address",
            Self::Contact(_) => "contact",
            Self::QualifiedCertificate(_) => "qualified-certificate",
            Self::DrivingLicence(_) => "driving-licence",
        }
    }
}

/// The gateway's receipt of a filing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilingReceipt {
    /// The agency's reference (číslo jednací or the register's own id),
    /// for [`RegistersGateway::filing_status`].
    pub reference: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    pub agency: GatewayAgency,
    #[serde(default)]
    pub simulated: bool,
}

/// One step of a filing at the agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilingStep {
    /// `accepted`, `in-progress`, `decided` or `rejected`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where a filing stands at the agency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilingProgress {
    pub reference: String,
    pub history: Vec<FilingStep>,
    #[serde(default)]
    pub simulated: bool,
}

/// The operations the portal uses. Each takes the request id the gateway
/// deduplicates and traces by; person operations take the citizen's subject
/// id, which the gateway resolves.
#[async_trait]
pub trait RegistersGateway: Send + Sync + fmt::Debug {
    /// ROB: the person's data.
    async fn person(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<PersonRecord>;
    /// ROS: the person's entrepreneur record; [`GatewayError::NotFound`] if
    /// they are not an entrepreneur.
    async fn entrepreneur(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<EntrepreneurRecord>;
    /// The criminal record extract (also "no record").
    async fn criminal_record(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<CriminalRecordExtract>;
    /// The trade register extract; [`GatewayError::NotFound`] for a
    /// person without trade licences.
    async fn trade_register(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<TradeRegisterExtract>;
    async fn driver_points(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<DriverPoints>;
    async fn vehicles(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<Vehicles>;
    /// Not personal: a vehicle's readings, for anyone who has its last
    /// inspection protocol number.
    async fn odometer(
        &self,
        request: &RequestId,
        vin: &Vin,
        protocol: &ProtocolNumber,
    ) -> GatewayResult<OdometerHistory>;
    async fn properties(&self, request: &RequestId, subject: &SubjectId) -> GatewayResult<Properties>;
    /// Files a request with the agency behind the register (a write: new
    /// delivery address, contacts, a qualified certificate; a driving licence
    /// application). `idempotency_key` names the filing: the gateway answers
    /// a repeated key with the first receipt, so the call may be retried.
    async fn submit_filing(
        &self,
        request: &RequestId,
        subject: &SubjectId,
        idempotency_key: &RequestId,
        submission: &FilingSubmission,
    ) -> GatewayResult<FilingReceipt>;
    /// Where a filing stands; [`GatewayError::NotFound`] for a reference
    /// that is not this person's.
    async fn filing_status(
        &self,
        request: &RequestId,
        subject: &SubjectId,
        reference: &str,
    ) -> GatewayResult<FilingProgress>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vins_follow_iso_3779_without_the_check_digit() {
        assert_eq!(Vin::parse(" tmbjj7ne8l0123456 ").map(|v| v.0), Ok("TMBJJ7NE8L0123456".into()));
        assert!(Vin::parse("TMBJJ7NE8L012345").is_err(), "16 characters");
        assert!(Vin::parse("TMBJJ7NE8L01234567").is_err(), "18 characters");
        for bad in ["TMBJJ7NE8L012345I", "TMBJJ7NE8L012345O", "TMBJJ7NE8L012345Q", "TMBJJ7NE8L01234-5"] {
            assert!(Vin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn protocol_numbers_follow_the_documented_rule() {
        assert_eq!(ProtocolNumber::parse("cz-3204-24-05-0123").map(|p| p.0), Ok("CZ-3204-24-05-0123".into()));
        assert!(ProtocolNumber::parse("CZ 3204-24-05-0123").is_err(), "the separator is a hyphen");
        for bad in ["CZ-3204-24-13-0123", "CZ-3204-24-00-0123", "SK-3204-24-05-0123", "CZ-320-24-05-0123", "", "x"] {
            assert!(ProtocolNumber::parse(bad).is_err(), "{bad}");
        }
    }
}
