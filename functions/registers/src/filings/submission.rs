//! Filing through the registers gateway and following the agency's answer.
//!
//! - [`ensure_sent`]: a filing of this capability that is `submitted` but has
//!   no receipt yet is sent (`POST /v1/filings`, `Idempotency-Key` = the
//!   filing id, so a second send — after a crash, a retry, two readers at
//!   once — gets the first receipt and files nothing again). A refusal by the
//!   agency makes the filing `rejected` with the reason.
//! - [`progress`]: the agency's steps (`GET /v1/filings/{reference}`) are
//!   added to the history ([`Filing::apply_status`]: once each, in time order).
//! - [`refresh`]: both, then the calendar; used when the citizen reads a
//!   filing and by the deadline timer. A gateway outage leaves the filing as
//!   it was (it is tried again next time).

use base64::Engine as _;
use futures::TryStreamExt as _;
use portal_events::FilingAgency;
use portal_security::SubjectId;
use portal_store::BlobPath;

use super::deadline_entries::announce_and_mark;
use super::{Filing, FilingError, FilingStatus, load, open_data, save};
use crate::Registers;
use crate::gateway::{FilingSubmission, GatewayError, RequestId};

/// The kinds this capability files through the gateway itself.
pub const GATEWAY_KINDS: [&str; 4] = ["delivery-address", "contact", "qualified-certificate", "driving-licence"];

/// The source name of filings made here.
pub const SOURCE: &str = "registers";

fn ours(filing: &Filing) -> bool {
    filing.source == SOURCE && GATEWAY_KINDS.contains(&filing.kind.as_str())
}

/// The submission as the gateway takes it: the sealed data, with the photo
/// read back from its sealed blob for a driving licence.
async fn submission(
    registers: &Registers,
    subject: &SubjectId,
    filing: &Filing,
) -> Result<FilingSubmission, FilingError> {
    let mut submission: FilingSubmission = open_data(registers, subject.as_str(), filing)
        .await?
        .ok_or_else(|| FilingError::Corrupt("a filing without its data".into()))?;
    if let FilingSubmission::DrivingLicence(data) = &mut submission {
        let attachment = filing
            .attachments
            .iter()
            .find(|a| a.name == "photo")
            .ok_or_else(|| FilingError::Corrupt("a licence application without its photo".into()))?;
        let path = BlobPath::parse(attachment.blob_path.clone())?;
        let (_, stream) = registers.blobs.get(&path).await?;
        let chunks: Vec<bytes::Bytes> = stream.try_collect().await?;
        let photo = registers
            .sealer
            .decrypt(subject.as_str(), &super::doc_id(&filing.id), &attachment.sealed_field(), &chunks.concat())
            .await?;
        data.photo = base64::engine::general_purpose::STANDARD.encode(photo);
    }
    Ok(submission)
}

/// Sends a submitted filing that has no receipt yet. Returns whether the
/// filing changed (the caller saves it).
pub async fn ensure_sent(registers: &Registers, subject: &SubjectId, filing: &mut Filing) -> Result<bool, FilingError> {
    if !ours(filing) || filing.gateway_reference.is_some() || filing.status != FilingStatus::Submitted {
        return Ok(false);
    }
    let submission = submission(registers, subject, filing).await?;
    let key = RequestId::parse(&filing.id)?;
    match registers.gateway.submit_filing(&RequestId::random(), subject, &key, &submission).await {
        Ok(receipt) => {
            filing.gateway_reference = Some(receipt.reference);
            filing.agency = FilingAgency { name: receipt.agency.name, box_id: receipt.agency.box_id };
            filing.simulated |= receipt.simulated;
            Ok(true)
        }
        Err(GatewayError::Refused { detail, .. }) => {
            let note = detail.map_or_else(
                || "Úřad podání nepřijal.".to_owned(),
                |detail| super::clip(&format!("Úřad podání nepřijal: {detail}"), 500),
            );
            filing.apply_status(FilingStatus::Rejected, registers.clock.now(), Some(note));
            Ok(true)
        }
        Err(error) => Err(error.into()),
    }
}

/// Adds the agency's steps to the history. Returns whether anything changed.
pub async fn progress(registers: &Registers, subject: &SubjectId, filing: &mut Filing) -> Result<bool, FilingError> {
    let Some(reference) = filing.gateway_reference.clone() else { return Ok(false) };
    if filing.status.is_final() {
        return Ok(false);
    }
    let answer = registers.gateway.filing_status(&RequestId::random(), subject, &reference).await?;
    let mut changed = false;
    for step in answer.history {
        match FilingStatus::parse_recordable(&step.status) {
            Some(status) => changed |= filing.apply_status(status, step.at, step.note),
            None => tracing::warn!(status = %step.status, "the gateway reported a status outside the contract"),
        }
    }
    Ok(changed)
}

/// Sends what is unsent, follows the agency, saves, and keeps the calendar in
/// step. Gateway outages leave the filing as stored. `None` when there is no
/// such filing of this citizen.
pub async fn refresh(registers: &Registers, subject: &SubjectId, id: &str) -> Result<Option<Filing>, FilingError> {
    for _ in 0..5 {
        let Some((stored, etag)) = load(registers, subject.as_str(), id).await? else { return Ok(None) };
        let mut filing = stored.clone();
        let mut changed = false;
        for step in [Step::Send, Step::Progress] {
            let result = match step {
                Step::Send => ensure_sent(registers, subject, &mut filing).await,
                Step::Progress => progress(registers, subject, &mut filing).await,
            };
            match result {
                Ok(step_changed) => changed |= step_changed,
                Err(FilingError::Gateway(error)) => {
                    tracing::warn!(error = %portal_host::runtime::error_chain(&error), "the filing's progress could not be read now");
                }
                Err(error) => return Err(error),
            }
        }
        if changed {
            match save(registers, subject.as_str(), &filing, &etag).await {
                Ok(_) => {}
                Err(FilingError::Contended) => continue,
                Err(error) => return Err(error),
            }
        }
        announce_and_mark(registers, subject.as_str(), &mut filing).await?;
        return Ok(Some(filing));
    }
    Err(FilingError::Contended)
}

#[derive(Clone, Copy)]
enum Step {
    Send,
    Progress,
}
