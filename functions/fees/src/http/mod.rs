//! The fees capability's HTTP functions, one file per action, and the views
//! they share. Every route needs a session except the gateway's
//! notification, which proves itself by its signature.

pub mod fee_payment_notification;
pub mod fee_qr;
pub mod fee_qr_png;
pub mod fee_qr_svg;
pub mod list_fees;
pub mod pay_fee;
pub mod show_fee_payment;
pub mod simulated_fee_checkout;

use std::sync::Arc;

use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::SubjectId;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::municipal::{FeeKind, Municipality, Obligation, SIMULATOR_NOTICE, parse_fee_id};
use crate::payment::{self, PaymentDetails, PaymentRecord, PaymentState, StartError};
use crate::{Fees, FeesError, spayd};

pub(crate) type Shared = Arc<Fees>;

/// The label on a simulated payment.
pub const SIMULATED_PAYMENT_NOTICE: &str =
    "SIMULÁTOR: platba probíhá přes simulovanou platební bránu, žádné peníze se nepřevádějí";

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub(crate) fn iso_date(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// `1500.00`.
pub(crate) fn amount(hellers: i64) -> String {
    format!("{}.{:02}", hellers / 100, hellers % 100)
}

pub(crate) fn no_such_fee() -> Problem {
    Problem::not_found("no such fee of yours")
}

pub(crate) fn no_such_payment() -> Problem {
    Problem::not_found("no such payment of yours")
}

pub(crate) fn no_municipality() -> Problem {
    Problem::not_found("the portal is not connected to the fee system of your municipality")
}

pub(crate) fn already_paid() -> Problem {
    Problem::new(StatusCode::CONFLICT, "already-paid", "The fee is paid").with_detail("nothing is left to pay")
}

impl From<StartError> for Problem {
    fn from(error: StartError) -> Self {
        match error {
            StartError::NoMunicipality => no_municipality(),
            StartError::NoSuchFee => no_such_fee(),
            StartError::AlreadyPaid => already_paid(),
            StartError::Busy => Problem::new(StatusCode::CONFLICT, "busy", "A payment of this fee is being started")
                .with_detail("try again in a moment"),
            StartError::Fees(error) => error.into(),
        }
    }
}

/// The municipality whose fees apply.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MunicipalityView {
    /// Kód obce (RÚIAN).
    #[schema(example = "554782")]
    pub code: String,
    pub name: String,
    /// The office administering the fees.
    pub office: String,
}

impl From<&Municipality> for MunicipalityView {
    fn from(m: &Municipality) -> Self {
        Self { code: m.code.clone(), name: m.name.clone(), office: m.office.clone() }
    }
}

/// The status of an obligation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ObligationStatus {
    /// Nothing paid yet.
    Open,
    /// A payment is under way at the gateway.
    PaymentPending,
    /// Paid (the municipality has it, or the gateway confirmed it).
    Paid,
}

/// A payment of the citizen as it stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRef {
    pub id: String,
    pub state: PaymentState,
}

/// One obligation of the citizen.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObligationView {
    #[schema(example = "p10-pes-2027-0042")]
    pub id: String,
    pub kind: FeeKind,
    /// The fee's name in Czech.
    pub title: &'static str,
    pub period: i32,
    pub detail: String,
    pub rate: String,
    pub amount_hellers: i64,
    /// The amount in CZK, `1500.00`.
    pub amount: String,
    /// YYYY-MM-DD.
    pub due_date: String,
    pub variable_symbol: String,
    pub status: ObligationStatus,
    /// Unpaid after its due date.
    pub overdue: bool,
    /// The latest payment through the portal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentRef>,
}

impl ObligationView {
    pub(crate) fn new(o: &Obligation, latest: Option<&PaymentRecord>, today: time::Date) -> Self {
        let status = match (o.paid.is_some(), latest.map(|r| r.state)) {
            (true, _) | (false, Some(PaymentState::Paid)) => ObligationStatus::Paid,
            (false, Some(PaymentState::Pending)) => ObligationStatus::PaymentPending,
            _ => ObligationStatus::Open,
        };
        Self {
            id: o.id.clone(),
            kind: o.kind,
            title: o.kind.czech_name(),
            period: o.period,
            detail: o.detail.clone(),
            rate: o.rate.clone(),
            amount_hellers: o.amount_hellers,
            amount: amount(o.amount_hellers),
            due_date: iso_date(o.due_date),
            variable_symbol: o.variable_symbol.clone(),
            overdue: status != ObligationStatus::Paid && today > o.due_date,
            status,
            payment: latest.map(|r| PaymentRef { id: r.id.clone(), state: r.state }),
        }
    }
}

/// A payment as the citizen sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    #[schema(example = "2f1c6a52-6d0b-4f3e-9d55-0d6f2b9b8e11")]
    pub id: String,
    pub state: PaymentState,
    /// The state in Czech.
    pub state_name: &'static str,
    /// Where to send the citizen to pay (the gateway's page), while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Where the gateway returns the citizen: this payment's address.
    pub return_url: String,
    pub fee_id: String,
    pub kind: FeeKind,
    pub title: String,
    pub amount_hellers: i64,
    pub amount: String,
    pub municipality: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<String>,
    /// The receipt in Documents, once filed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_document_id: Option<String>,
    pub simulated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

impl PaymentView {
    pub(crate) fn new(fees: &Fees, record: &PaymentRecord, details: &PaymentDetails) -> Self {
        Self {
            id: record.id.clone(),
            state: record.state,
            state_name: record.state.czech_name(),
            redirect_url: (record.state == PaymentState::Pending).then(|| record.pay_url.clone()),
            return_url: format!(
                "{}/api/fees/payments/{}",
                fees.settings.public_base_url.trim_end_matches('/'),
                record.id
            ),
            fee_id: details.fee_id.clone(),
            kind: details.kind,
            title: format!("{} {}", details.kind.czech_name(), details.period),
            amount_hellers: details.amount_hellers,
            amount: amount(details.amount_hellers),
            municipality: details.municipality.name.clone(),
            created_at: rfc3339(record.created_at),
            paid_at: record.paid_at.map(rfc3339),
            receipt_document_id: record.receipt_filed.then(|| payment::receipt_id(&record.id)),
            simulated: record.simulated,
            notice: record.simulated.then_some(SIMULATED_PAYMENT_NOTICE),
        }
    }
}

/// The obligation `fee` of the citizen with its municipality, unpaid.
pub(crate) async fn unpaid_obligation(
    fees: &Fees,
    subject: &SubjectId,
    fee: &str,
) -> Result<(Municipality, Obligation), Problem> {
    let fee = parse_fee_id(fee).ok_or_else(no_such_fee)?;
    let (municipality, owed) = payment::obligations(fees, subject).await?.ok_or_else(no_municipality)?;
    let obligation = owed.into_iter().find(|o| o.id == fee).ok_or_else(no_such_fee)?;
    if obligation.paid.is_some() {
        return Err(already_paid());
    }
    Ok((municipality, obligation))
}

/// The QR Platba image of the citizen's unpaid obligation `fee`, drawn by
/// `render` and answered as `content_type`, never cached; the read is logged.
pub(crate) async fn qr_image<B: axum::response::IntoResponse>(
    fees: &Fees,
    citizen: &portal_security::Citizen,
    fee: &str,
    render: impl FnOnce(&str) -> Result<B, crate::qr::QrError>,
    content_type: &'static str,
) -> Result<axum::response::Response, Problem> {
    use axum::http::{HeaderValue, header};
    let (municipality, obligation) = unpaid_obligation(fees, &citizen.subject, fee).await?;
    let spayd = spayd_of(fees, &municipality, &obligation)?;
    let image = render(&spayd).map_err(|e| FeesError::Corrupt(e.to_string()))?;
    fees.access_log
        .record_own(citizen, portal_security::Action::Read, "municipal-fee", &obligation.id, "QR platba poplatku")
        .await?;
    let mut response = image.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// The SPAYD text of an obligation.
pub(crate) fn spayd_of(fees: &Fees, municipality: &Municipality, o: &Obligation) -> Result<String, Problem> {
    let iban =
        spayd::Iban::parse(&municipality.iban).map_err(|e| FeesError::Corrupt(format!("municipality IBAN: {e}")))?;
    let prefix = if fees.settings.simulated { "SIMULACE NEPLATIT " } else { "" };
    let payment = spayd::Payment {
        iban,
        amount_hellers: o.amount_hellers,
        variable_symbol: o.variable_symbol.clone(),
        message: format!("{prefix}{} {}", o.kind.czech_name(), o.period),
        payee: municipality.payee.clone(),
        due_date: o.due_date,
    };
    Ok(spayd::encode(&payment).map_err(|e| FeesError::Corrupt(format!("SPAYD: {e}")))?)
}

/// The simulator's notice, when simulated.
pub(crate) fn notice(fees: &Fees) -> Option<&'static str> {
    fees.settings.simulated.then_some(SIMULATOR_NOTICE)
}
