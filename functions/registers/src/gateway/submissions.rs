//! What the portal files through the gateway (`POST /v1/filings`) and what
//! the gateway answers about a filing's progress.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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
