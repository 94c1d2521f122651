//! Handing a closed petition over to its addressee (§6a: the petition with
//! the extract of signatures goes from the creator's data box to the
//! addressee's).
//!
//! The petitions capability never sends to ISDS itself: it checks that the
//! addressee is still an accessible box of a public authority (the ISDS port,
//! [`crate::directory`]), builds the extract PDF, seals it with the creator's
//! key (`owner` = creator, `document` = `petition-<id>-extract`, `field` =
//! `content`), adds the petition's attachments after it (each sealed again
//! for the creator in the blob `petitions/<id>/hand-over-attachment-<n>`;
//! refused with a problem first if the files would break ISDS's count or size
//! limit), records the hand-over as `pending` and publishes an
//! [`OutgoingDataMessage`] on [`DATA_MESSAGES_QUEUE`] with `replyTo` =
//! [`OUTCOMES_QUEUE`]. Its request id is fixed by the petition and the attempt
//! ([`request_id`]), so the data box sends it once however often it is
//! published.
//!
//! **Recorded only once ISDS accepted it.** The data box answers on
//! [`OUTCOMES_QUEUE`] ([`crate::queue::record_petition_hand_over`]):
//! - accepted: the petition becomes `handed-over` with the delivery time, the
//!   creator is told ("handed over", once) and the citizen's list of filings
//!   (on `filing-recorded`) gets the hand-over with the addressee's answer
//!   deadline ([`answer_due`]), which the filings capability puts in the
//!   calendar;
//! - refused for good (a box that does not exist or cannot receive, no data
//!   box of the creator's, ISDS's rules): the petition stays `closed` with the
//!   hand-over `failed` and the reason; the creator was told once, by the data
//!   box's "not sent" notice, and asks for the hand-over again (a new attempt,
//!   a new request id) when the reason is dealt with.
//!
//! A crash before the `pending` write repeats everything; after it, asking
//! again publishes the same request (sent once).
//!
//! **The answer deadline.** The addressee answers within 30 days of receiving
//! the petition (§ 5 odst. 4 zákona č. 85/1990 Sb., o právu petičním). A data
//! message is received (doručena) when an authorised person of the addressee
//! logs in, and at the latest on the 10th day after it reached the box
//! (fikce doručení, § 17 odst. 4 zákona č. 300/2008 Sb.). The portal learns the
//! delivery to the box (dodání) from ISDS, not the login, so the deadline
//! shown is the latest one: 30 days from the 10th day after delivery.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use portal_events::{
    DATA_MESSAGES_QUEUE, DataMessageOutcome, Event, FILING_RECORDED, FILINGS_QUEUE, FilingAgency, FilingRecord,
    INLINE_CONTENT_LIMIT, Notice, OutgoingAttachment, OutgoingDataMessage, PetitionHandedOver, SealedContent, kinds,
    publish,
};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BlobPath, PutMode, StoreError};
use time::{Date, OffsetDateTime};

use crate::attachments::{PDF, clean_file_name, field, sealed_metadata};
use crate::directory::BoxLookup;
use crate::events::{self, clip};
use crate::extract;
use crate::model::{Attachment, HandOver, HandOverStatus, Petition, PetitionId, State, prague_date};
use crate::service::PetitionService;
use crate::{ServiceError, corrupt};

/// Days the addressee has to answer, from receipt (§ 5 odst. 4 zákona č. 85/1990 Sb.).
pub const ANSWER_DAYS: i64 = 30;
/// A data message counts as received at the latest on this day after it
/// reached the box (§ 17 odst. 4 zákona č. 300/2008 Sb.).
pub const DEEMED_RECEIPT_DAYS: i64 = 10;
pub const CONTENT_FIELD: &str = "content";
/// Files ISDS takes in one data message (the data box's `validate::MAX_ATTACHMENTS`).
pub const ISDS_MAX_FILES: usize = 50;
/// The sealed extract travels inline in the request up to this size: the
/// request also lists up to 49 attachments (their blobs' paths), and the whole
/// must stay one queue message.
pub const INLINE_EXTRACT_LIMIT: usize = if INLINE_CONTENT_LIMIT < 24 * 1024 { INLINE_CONTENT_LIMIT } else { 24 * 1024 };
/// Where the data box tells this capability what became of a hand-over.
pub const OUTCOMES_QUEUE: &str = "petition-hand-overs";

/// The data box's request id of attempt `attempt`: `petition-<id>` for the
/// first, `petition-<id>-<n>` for a retry after a failure.
pub fn request_id(id: &PetitionId, attempt: u32) -> String {
    if attempt <= 1 { format!("petition-{id}") } else { format!("petition-{id}-{attempt}") }
}

/// The petition and the attempt a request id names.
pub fn parse_request_id(request: &str) -> Option<(PetitionId, u32)> {
    let rest = request.strip_prefix("petition-")?;
    let (id, attempt) = match rest.split_once('-') {
        Some((id, n)) => (id, n.parse().ok().filter(|n| *n > 1)?),
        None => (rest, 1),
    };
    Some((PetitionId::parse(id)?, attempt))
}

/// The last day of the addressee's answer: 30 days from the latest day the
/// petition counts as received, the 10th day after `delivered_at` (Prague days).
pub fn answer_due(delivered_at: OffsetDateTime) -> Date {
    prague_date(delivered_at) + time::Duration::days(DEEMED_RECEIPT_DAYS + ANSWER_DAYS)
}

pub fn extract_document(id: &PetitionId) -> String {
    format!("petition-{id}-extract")
}

#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The addressee's box is not (or no longer) an accessible box of a public authority.
    Addressee(BoxLookup),
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
    /// What ISDS says of an addressee's box id, asked from the creator's
    /// box (at draft save and hand-over).
    pub async fn addressee(&self, creator: &SubjectId, box_id: &str) -> Result<BoxLookup, ServiceError> {
        Ok(self.petitions.directory.lookup(creator, box_id).await?)
    }

    /// Asks the data box to hand the creator's closed petition over
    /// (idempotent while pending; a new attempt after a failure).
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
        let attempt = match &petition.hand_over {
            Some(h) if h.status == HandOverStatus::Failed => h.attempt + 1,
            Some(h) => h.attempt,
            None => 1,
        };
        let lookup = self.addressee(creator, &petition.addressee.box_id).await?;
        if lookup.refusal().is_some() {
            return Ok(Err(HandOverRefusal::Addressee(lookup)));
        }
        let extract = self.extract(&petition).await?;
        let pdf = extract::pdf(&extract, now)?;
        if let Err(refusal) = check_hand_over(pdf.len() as u64, &petition.attachments, p.settings.hand_over_max_bytes) {
            return Ok(Err(refusal));
        }
        let document = extract_document(id);
        let sealed = p.sealer.encrypt(creator.as_str(), &document, CONTENT_FIELD, &pdf).await?;
        let content = if sealed.len() <= INLINE_EXTRACT_LIMIT {
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
        // Pending first: the outcome finds the attempt it answers.
        let changed = self
            .update(id, |petition| match petition.state {
                State::Closed => {
                    let pending = petition
                        .hand_over
                        .as_ref()
                        .is_some_and(|h| h.status == HandOverStatus::Pending && h.attempt == attempt);
                    if !pending {
                        petition.hand_over = Some(HandOver {
                            attempt,
                            status: HandOverStatus::Pending,
                            requested_at: now,
                            reason: None,
                            message_id: None,
                            delivered_at: None,
                            answer_due: None,
                        });
                    }
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
        if petition.state == State::HandedOver {
            return Ok(Ok(petition));
        }
        let request = request_id(id, attempt);
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
            reply_to: Some(OUTCOMES_QUEUE.into()),
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
        let entry = AccessEntry::new(
            Actor::Citizen,
            Action::Export,
            "petition-extract",
            id.as_str(),
            "předání petice s výpisem podpisů adresátovi do datové schránky",
        );
        p.access_log.record(creator, entry).await?;
        tracing::info!(petition = %id, attempt, signatures = extract.signers.len(), "petition queued for the data box");
        Ok(Ok(petition))
    }

    /// Records what ISDS made of the hand-over `outcome` answers (idempotent;
    /// an answer to an older attempt changes nothing). `None`: not a
    /// hand-over of a petition of `subject`'s.
    pub async fn record_hand_over(
        &self,
        subject: &str,
        outcome: &DataMessageOutcome,
        at: OffsetDateTime,
    ) -> Result<Option<Petition>, ServiceError> {
        let Some((id, attempt)) = parse_request_id(&outcome.request_id) else { return Ok(None) };
        let Some((petition, _)) = self.load(&id).await? else { return Ok(None) };
        if petition.creator != subject {
            return Ok(None);
        }
        let answers = |p: &Petition| p.hand_over.as_ref().is_some_and(|h| h.attempt == attempt);
        if outcome.sent {
            let delivered_at = outcome.delivered_at.unwrap_or(at);
            let changed = self
                .update(&id, |p| {
                    if p.state != State::Closed || !answers(p) {
                        return Ok::<(), ()>(());
                    }
                    p.state = State::HandedOver;
                    p.handed_over_at = Some(delivered_at);
                    if let Some(h) = p.hand_over.as_mut() {
                        h.status = HandOverStatus::Delivered;
                        h.reason = None;
                        h.message_id.clone_from(&outcome.message_id);
                        h.delivered_at = Some(delivered_at);
                        h.answer_due = Some(answer_due(delivered_at));
                    }
                    Ok(())
                })
                .await?;
            let Ok(Some(petition)) = changed else { return Ok(None) };
            if petition.state == State::HandedOver && answers(&petition) {
                tracing::info!(petition = %id, attempt, "ISDS accepted the petition: handed over");
                self.announce_hand_over(&petition).await?;
            }
            return Ok(Some(petition));
        }
        let reason = outcome.reason.clone().unwrap_or_else(|| "ISDS did not accept the message".into());
        let changed = self
            .update(&id, |p| {
                let pending = p.hand_over.as_ref().is_some_and(|h| h.status == HandOverStatus::Pending);
                if p.state != State::Closed || !answers(p) || !pending {
                    return Ok::<(), ()>(());
                }
                if let Some(h) = p.hand_over.as_mut() {
                    h.status = HandOverStatus::Failed;
                    h.reason = Some(reason.clone());
                }
                Ok(())
            })
            .await?;
        tracing::warn!(petition = %id, attempt, reason, "the petition was not handed over; the creator may try again");
        Ok(changed.ok().flatten())
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
    /// The filing (registers' list of podání) carries the addressee's answer
    /// deadline, and the filings capability puts it in the calendar and
    /// watches it, as for every other filing.
    async fn announce_hand_over(&self, petition: &Petition) -> Result<(), ServiceError> {
        let at = petition.handed_over_at.ok_or_else(|| corrupt("handed over without a date"))?;
        let due = petition.hand_over.as_ref().and_then(|h| h.answer_due).unwrap_or_else(|| answer_due(at));
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
    fn request_ids_name_the_petition_and_the_attempt() {
        let id = PetitionId::parse("0123456789abcdef0123456789abcdef").expect("id");
        assert_eq!(request_id(&id, 1), "petition-0123456789abcdef0123456789abcdef");
        assert_eq!(parse_request_id(&request_id(&id, 1)), Some((id.clone(), 1)));
        assert_eq!(parse_request_id(&request_id(&id, 3)), Some((id.clone(), 3)));
        assert_eq!(parse_request_id("petition-0123456789abcdef0123456789abcdef-1"), None);
        assert_eq!(parse_request_id("filing-x-urge-1"), None);
    }

    #[test]
    fn the_answer_is_due_30_days_after_the_latest_day_of_receipt() {
        use time::macros::{date, datetime};
        // Delivered to the box on 1 December (Prague); received by 11 December at the latest.
        assert_eq!(answer_due(datetime!(2026-12-01 10:00 UTC)), date!(2027 - 01 - 10));
        // Late evening UTC is the next day in Prague.
        assert_eq!(answer_due(datetime!(2026-11-30 23:30 UTC)), date!(2027 - 01 - 10));
    }

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
