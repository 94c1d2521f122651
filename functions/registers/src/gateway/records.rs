//! What the registers hold, as the gateway contract
//! (`docs/registers-gateway.openapi.yaml`) spells it: the identifiers a
//! citizen types (VIN, inspection protocol number) and the records of each
//! register. Decoded once at the edge.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

time::serde::format_description!(pub(crate) iso_date, Date, "[year]-[month]-[day]");

/// A vehicle identification number (VIN, ISO 3779): 17 characters of `A–Z`
/// and `0–9` without `I`, `O` and `Q`. The check digit (position 9) is
/// mandatory only in North America and is not checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = RegisterAddress)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub formatted: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ruian_code: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = PersonRecordChange)]
#[serde(rename_all = "camelCase")]
pub struct RecordChange {
    pub item: String,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

/// A person's record in the population register (ROB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = DriverOffence)]
#[serde(rename_all = "camelCase")]
pub struct Offence {
    #[serde(with = "iso_date")]
    pub committed_on: Date,
    pub points: u8,
    pub description: String,
}

/// The rule that takes points away (zákon 361/2000 Sb. §123e).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = RegisteredVehicle)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = RegisteredVehicles)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = LandRegisterProperty)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = LandRegisterProperties)]
#[serde(rename_all = "camelCase")]
pub struct Properties {
    #[serde(with = "time::serde::rfc3339")]
    pub as_of: OffsetDateTime,
    pub items: Vec<Property>,
    #[serde(default)]
    pub simulated: bool,
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

/// An extract as the register issued it: a PDF with the issuing authority's
/// electronic seal (the SIMULATOR's is unsealed and says so on every page),
/// which the portal files byte for byte as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedExtract {
    /// The extract's kind, as in the path.
    pub kind: String,
    /// The authority whose seal the document carries.
    pub issuer: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// `application/pdf`.
    pub media_type: String,
    pub file_name: String,
    /// Base64 of the document's bytes.
    pub content: String,
    #[serde(default)]
    pub simulated: bool,
}

impl SealedExtract {
    /// The document's bytes, when they are a PDF.
    pub fn pdf(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(&self.content).ok()?;
        (self.media_type == "application/pdf" && bytes.starts_with(b"%PDF-")).then_some(bytes)
    }
}
