//! Handing a closed petition over to its addressee (§6a: the petition with
//! the extract of signatures goes from the creator's data box to the
//! addressee's).
//!
//! The petitions capability never talks to ISDS: it builds the extract PDF,
//! seals it with the creator's key (`owner` = creator, `document` =
//! `petition-<id>-extract`, `field` = `content`), adds the petition's
//! attachments after it (each sealed again for the creator in the blob
//! `petitions/<id>/hand-over-attachment-<n>`; refused with a problem first if
//! the files would break ISDS's count or size limit) and publishes an
//! [`OutgoingDataMessage`] on [`DATA_MESSAGES_QUEUE`] whose request id is fixed
//! by the petition (`petition-<id>`), so the data box sends it once however
//! often it is published. Then the petition is recorded `handed-over` with
//! the date, and the citizen's list of filings (on `filing-recorded`) gets the
//! hand-over as a filing with the addressee's 30-day answer deadline, which the
//! filings capability puts in the calendar. A crash before the state write
//! repeats the same request (sent
//! once); a hand-over asked again after the state write publishes only the
//! calendar entry and the notification again (fixed ids), never the message.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use portal_events::{
    DATA_MESSAGES_QUEUE, Event, FILING_RECORDED, FILINGS_QUEUE, FilingAgency, FilingRecord, INLINE_CONTENT_LIMIT,
    Notice, OutgoingAttachment, OutgoingDataMessage, PetitionHandedOver, SealedContent, kinds, publish,
};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BlobPath, PutMode, StoreError};

use crate::attachments::{PDF, clean_file_name, field, sealed_metadata};
use crate::events::{self, clip};
use crate::extract;
use crate::model::{Attachment, Petition, PetitionId, State, prague_date};
use crate::service::PetitionService;
use crate::{ServiceError, corrupt};

/// Days the addressee has to answer (zákon 85/1990 Sb., §5(4)).
pub const ANSWER_DAYS: i64 = 30;
pub const CONTENT_FIELD: &str = "content";
/// Files ISDS takes in one data message (the data box's `validate::MAX_ATTACHMENTS`).
pub const ISDS_MAX_FILES: usize = 50;

pub fn request_id(id: &PetitionId) -> String {
    format!("petition-{id}")
}

pub fn extract_document(id: &PetitionId) -> String {
    format!("petition-{id}-extract")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandOverRefusal {
    NotFound,
    NotClosed(State),
    /// The extract and the attachments together pass ISDS's size limit
    /// ([`crate::PetitionsSettings::hand_over_max_bytes`]).
    TooLarge {
        bytes: u64,
        limit: u64,
    },
    /// More files than ISDS takes in one data message.
    TooManyFiles {
        files: usize,
        limit: usize,
    },
}

/// Whether the hand-over message (the extract and the attachments) keeps
/// ISDS's limits: at most [`ISDS_MAX_FILES`] files, together at most
/// `max_bytes`.
pub fn check_hand_over(extract_bytes: u64, attachments: &[Attachment], max_bytes: u64) -> Result<(), HandOverRefusal> {
    let files = 1 + attachments.len();
    if files > ISDS_MAX_FILES {
        return Err(HandOverRefusal::TooManyFiles { files, limit: ISDS_MAX_FILES });
    }
    let total = attachments.iter().fold(extract_bytes, |sum, a| sum.saturating_add(a.size));
    if total > max_bytes {
        return Err(HandOverRefusal::TooLarge { bytes: total, limit: max_bytes });
    }
    Ok(())
}

/// The sealed copy of an attachment that travels to the data box.
fn hand_over_path(id: &PetitionId, index: u32) -> Result<BlobPath, StoreError> {
    BlobPath::parse(format!("petitions/{id}/hand-over-{}", field(index)))
}

impl PetitionService {
    /// Hands the creator's closed petition over (idempotent).
    pub async fn hand_over(
        &self,
        id: &PetitionId,
        creator: &SubjectId,
    ) -> Result<Result<Petition, HandOverRefusal>, ServiceError> {
        let p = &self.petitions;
        let Some((petition, _)) = self.load(id).await? else { return Ok(Err(HandOverRefusal::NotFound)) };
        if petition.creator != creator.as_str() || petition.state == State::Draft {
            return Ok(Err(HandOverRefusal::NotFound));
        }
        match petition.state {
            State::HandedOver => {
                self.announce_hand_over(&petition).await?;
                return Ok(Ok(petition));
            }
            State::Closed => {}
            other => return Ok(Err(HandOverRefusal::NotClosed(other))),
        }
        let now = p.clock.now();
        let extract = self.extract(&petition).await?;
        let pdf = extract::pdf(&extract, now);
        if let Err(refusal) = check_hand_over(pdf.len() as u64, &petition.attachments, p.settings.hand_over_max_bytes) {
            return Ok(Err(refusal));
        }
        let document = extract_document(id);
        let sealed = p.sealer.encrypt(creator.as_str(), &document, CONTENT_FIELD, &pdf).await?;
        let content = if sealed.len() <= INLINE_CONTENT_LIMIT {
            SealedContent::Inline { sealed: base64::engine::general_purpose::STANDARD.encode(&sealed) }
        } else {
            let path = BlobPath::parse(format!("petitions/{id}/hand-over-extract"))?;
            p.blobs
                .put(&path, Bytes::from(sealed), "application/octet-stream", BTreeMap::new(), PutMode::Overwrite)
                .await?;
            SealedContent::Blob { path: path.as_str().to_owned() }
        };
        // The attachments follow the extract.
        let enclosures = self.hand_over_attachments(&petition, creator).await?;
        let request = request_id(id);
        let mut message = OutgoingDataMessage {
            request_id: request.clone(),
            recipient_box_id: petition.addressee.box_id.clone(),
            subject: clip(&format!("Petice: {}", petition.title), 255),
            source: "petitions".into(),
            attachments: vec![OutgoingAttachment {
                file_name: format!("petice-{id}.pdf"),
                media_type: "application/pdf".into(),
                sealed_document: document,
                sealed_field: CONTENT_FIELD.into(),
                content,
            }],
        };
        message.attachments.extend(enclosures);
        let event = Event::new(
            kinds::SEND_DATA_MESSAGE,
            &request,
            creator.as_str(),
            now,
            serde_json::to_value(&message).map_err(corrupt)?,
        );
        publish(p.queues.as_ref(), DATA_MESSAGES_QUEUE, &event).await?;
        let changed = self
            .update(id, |petition| match petition.state {
                State::Closed => {
                    petition.state = State::HandedOver;
                    petition.handed_over_at = Some(now);
                    Ok(())
                }
                State::HandedOver => Ok(()),
                other => Err(HandOverRefusal::NotClosed(other)),
            })
            .await?;
        let petition = match changed {
            Ok(Some(petition)) => petition,
            Ok(None) => return Ok(Err(HandOverRefusal::NotFound)),
            Err(refusal) => return Ok(Err(refusal)),
        };
        let entry = AccessEntry::new(
            Actor::Citizen,
            Action::Export,
            "petition-extract",
            id.as_str(),
            "předání petice s výpisem podpisů adresátovi do datové schránky",
        );
        p.access_log.record(creator, entry).await?;
        tracing::info!(petition = %id, signatures = extract.signers.len(), "petition handed over to the data box");
        self.announce_hand_over(&petition).await?;
        Ok(Ok(petition))
    }

    /// The attachments as the data box sends them after the extract: each
    /// sealed again for the creator (same binding as a draft's) in its own
    /// blob, which the data box reads.
    async fn hand_over_attachments(
        &self,
        petition: &Petition,
        creator: &SubjectId,
    ) -> Result<Vec<OutgoingAttachment>, ServiceError> {
        let id = petition.petition_id().ok_or_else(|| corrupt("bad petition id"))?;
        let document = id.partition();
        let mut out = Vec::with_capacity(petition.attachments.len());
        for attachment in &petition.attachments {
            let Some((entry, plain)) = self.attachment_content(petition, attachment.index).await? else { continue };
            let field = field(entry.index);
            let sealed = self.petitions.sealer.encrypt(creator.as_str(), &document, &field, &plain).await?;
            let path = hand_over_path(&id, entry.index)?;
            self.petitions
                .blobs
                .put(&path, Bytes::from(sealed), "application/octet-stream", sealed_metadata(), PutMode::Overwrite)
                .await?;
            out.push(OutgoingAttachment {
                file_name: clean_file_name(&entry.file_name),
                media_type: PDF.into(),
                sealed_document: document.clone(),
                sealed_field: field,
                content: SealedContent::Blob { path: path.as_str().to_owned() },
            });
        }
        Ok(out)
    }

    /// The notification and the filing record; ids fixed by the petition.
    /// The filing (registers' list of podání) carries the addressee's 30-day
    /// answer deadline, and the filings capability puts it in the calendar and
    /// watches it, as for every other filing.
    async fn announce_hand_over(&self, petition: &Petition) -> Result<(), ServiceError> {
        let at = petition.handed_over_at.ok_or_else(|| corrupt("handed over without a date"))?;
        let due = prague_date(at) + time::Duration::days(ANSWER_DAYS);
        let queues = self.petitions.queues.as_ref();
        let handed_over = |petition| {
            Notice::PetitionHandedOver(PetitionHandedOver { petition, handed_over_at: Some(at), answer_due: Some(due) })
        };
        events::notify(queues, &petition.id, petition, at, handed_over).await?;
        // The citizen's list of filings (podání), kept by the registers capability.
        let filing = FilingRecord {
            filing_id: format!("petition-{}", petition.id),
            kind: "petition-hand-over".into(),
            title: clip(&format!("Petice: {}", petition.title), 200),
            agency: FilingAgency {
                name: petition.addressee.name.clone(),
                box_id: Some(petition.addressee.box_id.clone()),
            },
            status: "submitted".into(),
            status_note: None,
            at,
            legal_deadline: Some(due),
            source: "petitions".into(),
            source_ref: petition.id.clone(),
            simulated: false,
        };
        let event = Event::new(
            FILING_RECORDED,
            &format!("petition-{}:submitted", petition.id),
            &petition.creator,
            at,
            serde_json::to_value(&filing).map_err(corrupt)?,
        );
        publish(queues, FILINGS_QUEUE, &event).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hand_over_keeps_isds_limits() {
        let attachment = |index, size| Attachment { index, file_name: "a.pdf".into(), size, media_type: PDF.into() };
        let five: Vec<_> = (1..=5).map(|i| attachment(i, 1_000)).collect();
        assert_eq!(check_hand_over(10_000, &five, 15_000), Ok(()));
        assert_eq!(
            check_hand_over(10_001, &five, 15_000),
            Err(HandOverRefusal::TooLarge { bytes: 15_001, limit: 15_000 })
        );
        let many: Vec<_> = (1..=50).map(|i| attachment(i, 1)).collect();
        assert_eq!(
            check_hand_over(1, &many, u64::MAX),
            Err(HandOverRefusal::TooManyFiles { files: 51, limit: ISDS_MAX_FILES })
        );
    }
}
