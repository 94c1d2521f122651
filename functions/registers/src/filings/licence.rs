//! The driving licence application (žádost o vydání řidičského průkazu).
//!
//! `POST /api/filings/driving-licence` (multipart): `photo` (checked from its
//! bytes by [`super::jpeg`]), `reason`, `delivery` and `officeCode`.
//!
//! - **Reasons** ([`Reason`]): the licence expired (`expired`), the data on it
//!   changed (`data-change`, e.g. a new surname), it was `lost`, `stolen` or
//!   `damaged`.
//! - **Delivery**: a Czech driving licence is always collected in person at
//!   the office (the holder's identity is checked at the hand-over); it is
//!   never sent by post. So `delivery` is `pickup` (the default) and
//!   `officeCode` names the office: the code of the municipality with
//!   extended powers (obec s rozšířenou působností, ORP) as the code lists
//!   give it, 4 digits. The portal checks the form; the gateway knows the
//!   offices.
//! - **Fee** (správní poplatek, [`LicenceFees`] in the settings): paid through
//!   the payment-gateway port before anything goes to the office. The
//!   filing is created `awaiting-payment` with the payment's redirect; the
//!   queue function `SettleFilingPayment` ([`settle_filing_payment`], queue
//!   [`SETTLE_QUEUE`], message `{filingId, subject}`) asks the payment
//!   gateway and moves the filing to `submitted` (or `payment-failed`),
//!   then files it through the registers gateway. Idempotent: the status
//!   change is ETag-conditional and recorded once, the filing goes to the
//!   gateway under its own id as `Idempotency-Key`. A reason without a fee
//!   (by default an expired licence) is submitted at once. Without a
//!   connected payment gateway the application is refused with 503 and
//!   nothing is stored.
//! - The photo is sealed with the citizen's key into blob storage
//!   (`registers/<citizen folder>/filings/<id>/photo`, create-only) before
//!   the filing is written; the filing is the only reference to it.

use bytes::Bytes;
use portal_events::FilingAgency;
use portal_host::{InvocationError, Outcome};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BlobPath, PutMode, StoreError};
use serde::{Deserialize, Serialize};

use super::deadline_entries::announce_and_mark;
use super::jpeg::PhotoInfo;
use super::submission::{self, SOURCE};
use super::{
    Attachment, Filing, FilingError, FilingPayment, FilingStatus, attachment_path, create, doc_id, load, new_id,
    parse_filing_id, seal_data, update,
};
use crate::Registers;
use crate::gateway::{DrivingLicenceData, FilingSubmission};
use crate::payments::PaymentStatus;

pub const KIND: &str = "driving-licence";
pub const SETTLE_QUEUE: &str = "settle-filing-payment";
pub const SETTLE_FUNCTION: &str = "SettleFilingPayment";

/// Why a new licence is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Expired,
    DataChange,
    Lost,
    Stolen,
    Damaged,
}

impl Reason {
    pub const ALL: [Self; 5] = [Self::Expired, Self::DataChange, Self::Lost, Self::Stolen, Self::Damaged];
    pub const RULE: &'static str = "one of expired, data-change, lost, stolen, damaged";

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::DataChange => "data-change",
            Self::Lost => "lost",
            Self::Stolen => "stolen",
            Self::Damaged => "damaged",
        }
    }

    pub fn czech_name(self) -> &'static str {
        match self {
            Self::Expired => "skončení platnosti",
            Self::DataChange => "změna údajů",
            Self::Lost => "ztráta",
            Self::Stolen => "odcizení",
            Self::Damaged => "poškození",
        }
    }
}

/// The fee by reason, in whole Kč. The defaults follow the sazebník of zákon
/// č. 634/2004 Sb., o správních poplatcích, as far as the portal's sources
/// go: the exchange of an expired licence is free, a change of data 50 Kč,
/// a lost, stolen or damaged licence 200 Kč. To be confirmed against the
/// current sazebník before production (a setting, not code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LicenceFees {
    pub expired: u32,
    pub data_change: u32,
    pub lost_stolen_damaged: u32,
}

impl Default for LicenceFees {
    fn default() -> Self {
        Self { expired: 0, data_change: 50, lost_stolen_damaged: 200 }
    }
}

impl LicenceFees {
    pub fn for_reason(&self, reason: Reason) -> u32 {
        match reason {
            Reason::Expired => self.expired,
            Reason::DataChange => self.data_change,
            Reason::Lost | Reason::Stolen | Reason::Damaged => self.lost_stolen_damaged,
        }
    }
}

pub const OFFICE_RULE: &str = "required with delivery pickup: the code of the municipality with extended powers (ORP) \
     whose office hands over the licence, 4 digits";
pub const DELIVERY_RULE: &str = "pickup: a driving licence is always collected in person at the office \
     (the holder's identity is checked at the hand-over); delivery by post is not possible";

/// An ORP code: 4 digits.
pub fn parse_office_code(value: &str) -> Option<String> {
    let value = value.trim();
    (value.len() == 4 && value.chars().all(|c| c.is_ascii_digit())).then(|| value.to_owned())
}

/// A checked application.
#[derive(Debug, Clone)]
pub struct Application {
    pub reason: Reason,
    pub office_code: String,
    pub photo: Bytes,
    pub photo_info: PhotoInfo,
}

/// Records the application (and starts the payment, if there is a fee).
pub async fn apply(
    registers: &Registers,
    subject: &SubjectId,
    application: Application,
) -> Result<Filing, FilingError> {
    let id = new_id();
    let now = registers.clock.now();
    let fee = registers.settings.licence_fees.for_reason(application.reason);
    let payment = if fee > 0 {
        let intent = registers
            .payments
            .create_payment(&id, i64::from(fee) * 100, "Správní poplatek za vydání řidičského průkazu")
            .await?;
        Some(FilingPayment { id: intent.id, amount_czk: fee, pay_url: intent.pay_url })
    } else {
        None
    };
    let field = format!("attachment:{}", "photo");
    let sealed = registers.sealer.encrypt(subject.as_str(), &doc_id(&id), &field, &application.photo).await?;
    let path = attachment_path(subject.as_str(), &id, "photo");
    registers
        .blobs
        .put(
            &BlobPath::parse(path.clone())?,
            Bytes::from(sealed),
            "application/octet-stream",
            Default::default(),
            PutMode::CreateOnly,
        )
        .await?;
    let status = if payment.is_some() { FilingStatus::AwaitingPayment } else { FilingStatus::Submitted };
    let agency = FilingAgency {
        name: format!("Obecní úřad obce s rozšířenou působností, kód ORP {}", application.office_code),
        box_id: None,
    };
    let title = format!("Žádost o vydání řidičského průkazu ({})", application.reason.czech_name());
    let mut filing = Filing::new(&id, KIND, &title, agency, status, now, SOURCE, &id, registers.settings.simulated);
    filing.attachments.push(Attachment {
        name: "photo".into(),
        media_type: "image/jpeg".into(),
        size: application.photo.len() as u64,
        blob_path: path,
    });
    let data = FilingSubmission::DrivingLicence(DrivingLicenceData {
        reason: application.reason.as_str().to_owned(),
        office_code: application.office_code,
        photo: String::new(),
        photo_width: application.photo_info.width,
        photo_height: application.photo_info.height,
        fee_czk: fee,
        payment_id: payment.as_ref().map(|p| p.id.clone()),
    });
    seal_data(registers, subject.as_str(), &mut filing, &data).await?;
    filing.payment = payment;
    create(registers, subject.as_str(), &filing).await?;
    if status == FilingStatus::Submitted {
        // No fee: filed at once (a gateway outage leaves it for the next look).
        if let Some(sent) = submission::refresh(registers, subject, &id).await? {
            filing = sent;
        }
    }
    Ok(filing)
}

/// The queue message of `SettleFilingPayment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettleMessage {
    pub filing_id: String,
    pub subject: String,
}

/// Queues the settlement of a filing's payment (after the payment gateway
/// says it settled: its notification, or the simulator's settle button).
pub async fn queue_settlement(registers: &Registers, subject: &SubjectId, filing_id: &str) -> Result<(), StoreError> {
    let queue = portal_store::QueueName::parse(SETTLE_QUEUE)?;
    let message = SettleMessage { filing_id: filing_id.to_owned(), subject: subject.as_str().to_owned() };
    let text = serde_json::to_string(&message).map_err(|e| StoreError::Invalid(e.to_string()))?;
    match registers.queues.send(&queue, &text, None).await {
        Err(StoreError::NotFound) => {
            registers.queues.ensure(&queue).await?;
            registers.queues.send(&queue, &text, None).await.map(drop)
        }
        other => other.map(drop),
    }
}

/// The queue function `SettleFilingPayment`.
pub async fn settle_filing_payment(registers: &Registers, message: &SettleMessage) -> Result<Outcome, InvocationError> {
    Ok(settle(registers, message).await?)
}

async fn settle(registers: &Registers, message: &SettleMessage) -> Result<Outcome, FilingError> {
    let subject = SubjectId::parse(message.subject.clone()).map_err(|_| FilingError::Malformed("subject".into()))?;
    let id = parse_filing_id(&message.filing_id).ok_or_else(|| FilingError::Malformed("filingId".into()))?;
    let (filing, _) = load(registers, subject.as_str(), &id)
        .await?
        .ok_or_else(|| FilingError::Malformed("no such filing of this citizen".into()))?;
    let mut moved = None;
    if filing.status == FilingStatus::AwaitingPayment {
        let payment =
            filing.payment.clone().ok_or_else(|| FilingError::Corrupt("awaiting a payment it has not".into()))?;
        let now = registers.clock.now();
        let (next, note) = match registers.payments.status(&payment.id).await? {
            PaymentStatus::Pending => return Err(FilingError::PaymentPending),
            PaymentStatus::Paid => {
                (FilingStatus::Submitted, format!("Správní poplatek {} Kč zaplacen.", payment.amount_czk))
            }
            PaymentStatus::Declined => (FilingStatus::PaymentFailed, "Platba poplatku byla odmítnuta.".to_owned()),
            PaymentStatus::Expired => (FilingStatus::PaymentFailed, "Platba poplatku vypršela.".to_owned()),
        };
        update(registers, subject.as_str(), &id, |stored| {
            stored.status == FilingStatus::AwaitingPayment && stored.apply_status(next, now, Some(note.clone()))
        })
        .await?;
        moved = Some(next);
    }
    let Some(mut filing) = submission::refresh(registers, &subject, &id).await? else {
        return Err(FilingError::Malformed("the filing disappeared".into()));
    };
    announce_and_mark(registers, subject.as_str(), &mut filing).await?;
    if filing.status == FilingStatus::Submitted && filing.gateway_reference.is_none() {
        // Paid but not yet with the office: the host delivers the message again.
        return Err(FilingError::NotSentYet);
    }
    if let Some(next) = moved {
        let entry = AccessEntry::new(
            Actor::System { job: SETTLE_FUNCTION.into() },
            Action::Update,
            "filing",
            &id,
            "zaplacení poplatku za podání",
        );
        registers.access_log.record(&subject, entry).await?;
        return Ok(Outcome::done().log(format!("filing moved to {next:?}")));
    }
    Ok(Outcome::done().log("payment already settled"))
}
