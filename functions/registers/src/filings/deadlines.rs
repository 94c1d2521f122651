//! Deadlines that pass without a decision, and the reminder (urgence).
//!
//! **Timer `CheckFilingDeadlines`** ([`SCHEDULE`], daily at 07:30 UTC): walks
//! the deadline index one day partition at a time (`filing-deadlines-<date>`,
//! for the [`crate::RegistersSettings::deadline_lookback_days`] days before
//! Prague's today; never a cross-partition query). For each filing whose
//! deadline passed: its progress at the agency is read first (a filing
//! decided in time is not reported); one still undecided is told to the
//! citizen with the notification [`super::DEADLINE_PASSED`] (event id fixed
//! by the filing) and then marked `overdue` (ETag-conditional). A second run,
//! or a redelivery after a crash between the two, finds the mark, or
//! publishes the same event id that Notifications drops. Stale index entries
//! (a filing gone, or with another deadline) are removed.
//!
//! **`POST /api/filings/{id}/urge`** ([`urge`]): once the deadline passed
//! and the agency has a data box, the citizen sends it a short letter (a PDF)
//! asking for the filing to be dealt with, from their own box: an
//! [`OutgoingDataMessage`] on [`DATA_MESSAGES_QUEUE`] with the request id
//! `filing-<id>-urge-1`, the letter sealed with the citizen's key. The filing
//! records `urgedAt` after the message is published: a second click sends
//! nothing, and a crash in between republishes the same request id, which
//! the data box sends once.

use base64::Engine as _;
use bytes::Bytes;
use portal_events::{
    DATA_MESSAGES_QUEUE, Event, FilingDeadlinePassed, INLINE_CONTENT_LIMIT, Notice, OutgoingAttachment,
    OutgoingDataMessage, SealedContent, kinds,
};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BlobPath, FilterOp, PutMode, Query, StoreError};
use time::{Date, Duration, OffsetDateTime};

use super::deadline_entries::index_partition;
use super::{Filing, FilingError, deadlines_law, doc_id, load, submission, update};
use crate::{COLLECTION, Registers, citizen_folder};

pub const FUNCTION: &str = "CheckFilingDeadlines";
/// Daily at 07:30 UTC (08:30 or 09:30 in Prague), after the night's work.
pub const SCHEDULE: &str = "0 30 7 * * *";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadlineReport {
    pub checked: u64,
    pub overdue: u64,
    pub failed: u64,
}

/// One run of the timer.
pub async fn check_filing_deadlines(registers: &Registers) -> Result<DeadlineReport, StoreError> {
    let now = registers.clock.now();
    let today = deadlines_law::prague_date(now);
    let mut report = DeadlineReport::default();
    for back in 1..=i64::from(registers.settings.deadline_lookback_days) {
        let Some(day) = today.checked_sub(Duration::days(back)) else { break };
        let partition = index_partition(day);
        let mut continuation = None;
        loop {
            let query = Query::default()
                .filter("type", FilterOp::Eq, "filing-deadline-index")
                .page_size(200)
                .after(continuation.take());
            let page = registers.documents.query(COLLECTION, &partition, query).await?;
            for entry in &page.items {
                report.checked += 1;
                let subject = entry.body["subject"].as_str().unwrap_or_default();
                let filing_id = entry.body["filingId"].as_str().unwrap_or_default();
                match check_one(registers, subject, filing_id, day, now).await {
                    Ok(Checked::Overdue) => report.overdue += 1,
                    Ok(Checked::Nothing) => {}
                    Ok(Checked::Stale) => {
                        match registers.documents.delete(COLLECTION, &partition, &entry.id, None).await {
                            Ok(()) | Err(StoreError::NotFound) => {}
                            Err(error) => return Err(error),
                        }
                    }
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(error = %portal_host::runtime::error_chain(&error), "a filing's deadline could not be checked; next run tries again");
                    }
                }
            }
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
    }
    tracing::info!(
        checked = report.checked,
        overdue = report.overdue,
        failed = report.failed,
        "filing deadlines checked"
    );
    Ok(report)
}

enum Checked {
    Overdue,
    Nothing,
    /// The index entry no longer names an open filing with this deadline.
    Stale,
}

async fn check_one(
    registers: &Registers,
    subject: &str,
    filing_id: &str,
    day: Date,
    now: OffsetDateTime,
) -> Result<Checked, FilingError> {
    let Ok(subject) = SubjectId::parse(subject) else { return Ok(Checked::Stale) };
    let Some(filing) = submission::refresh(registers, &subject, filing_id).await? else {
        return Ok(Checked::Stale);
    };
    if filing.legal_deadline != Some(day) || filing.status.is_final() {
        return Ok(Checked::Stale);
    }
    if filing.overdue || !filing.deadline_passed(now) {
        return Ok(Checked::Nothing);
    }
    let notice = Notice::FilingDeadlinePassed(FilingDeadlinePassed {
        filing_id: filing.id.clone(),
        title: filing.title.clone(),
        agency: filing.agency.name.clone(),
        legal_deadline: Some(day),
        can_urge: filing.can_urge(now),
        simulated: filing.simulated,
    });
    portal_events::publish_notice(registers.queues.as_ref(), &notice, &filing.id, subject.as_str(), now).await?;
    update(registers, subject.as_str(), &filing.id, |stored| {
        if stored.overdue {
            return false;
        }
        stored.overdue = true;
        true
    })
    .await?;
    Ok(Checked::Overdue)
}

/// Why a reminder cannot be sent (a 409 for the citizen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrgeRefusal {
    NotFound,
    Final,
    NoDeadline,
    NotYet(Date),
    NoDataBox,
}

impl UrgeRefusal {
    /// What the citizen is told (Czech).
    pub fn detail(&self) -> String {
        match self {
            Self::NotFound => "Podání nenalezeno.".into(),
            Self::Final => "Úřad podání již vyřídil; urgence není potřeba.".into(),
            Self::NoDeadline => "U tohoto podání zákon nestanoví lhůtu, po jejímž uplynutí by šlo urgovat.".into(),
            Self::NotYet(day) => format!(
                "Lhůta úřadu ještě neuplynula: běží do {}. Urgovat lze od následujícího dne.",
                crate::render::czech_date(*day)
            ),
            Self::NoDataBox => {
                "Úřad nemá datovou schránku známou portálu; urgenci zašlete prosím poštou nebo osobně.".into()
            }
        }
    }
}

/// The request id of the (first and only) reminder of a filing.
pub fn urge_request_id(filing_id: &str) -> String {
    format!("filing-{filing_id}-urge-1")
}

/// The letter: a short PDF.
fn letter(filing: &Filing, now: OffsetDateTime) -> Result<Vec<u8>, crate::pdf::PdfError> {
    let date = |d: Date| crate::render::czech_date(d);
    let mut pdf = crate::pdf::PdfDocument::new("Urgence vyřízení podání");
    if filing.simulated {
        pdf = pdf.banner("SIMULÁTOR: urgence k simulovanému podání, nemá žádné právní účinky");
    }
    pdf.field("Adresát", &filing.agency.name);
    pdf.field("Věc", &filing.title);
    if let Some(reference) = &filing.gateway_reference {
        pdf.field("Číslo podání", reference);
    }
    if let Some(at) = filing.submitted_at {
        pdf.field("Podáno dne", date(deadlines_law::prague_date(at)));
    }
    if let Some(deadline) = filing.legal_deadline {
        let source = deadlines_law::rule(&filing.kind).map_or_else(String::new, |r| format!(" ({})", r.source));
        pdf.field("Lhůta pro vyřízení", format!("{}{source}", date(deadline)));
    }
    pdf.gap();
    pdf.paragraph(
        "Dovoluji si Vás upozornit, že zákonná lhůta pro vyřízení výše uvedeného podání uplynula, \
         aniž bych obdržel(a) rozhodnutí nebo jiné vyřízení.",
    );
    pdf.paragraph(
        "Žádám Vás proto o vyřízení podání bez dalšího odkladu, případně o sdělení, v jakém stavu se nachází.",
    );
    pdf.paragraph(
        "Pro případ, že by nečinnost trvala, beru na vědomí možnost požádat nadřízený správní orgán \
         o uplatnění opatření proti nečinnosti podle § 80 správního řádu.",
    );
    pdf.gap();
    pdf.paragraph(format!(
        "Odesláno z datové schránky žadatele prostřednictvím Portálu občana dne {}.",
        date(deadlines_law::prague_date(now))
    ));
    pdf.footer("Portál občana – urgence podání").render("Portál občana", now)
}

/// Sends the reminder once; the filing as it is afterwards.
pub async fn urge(
    registers: &Registers,
    subject: &SubjectId,
    id: &str,
) -> Result<Result<Filing, UrgeRefusal>, FilingError> {
    let Some(filing) = submission::refresh(registers, subject, id).await? else {
        return Ok(Err(UrgeRefusal::NotFound));
    };
    if filing.urged_at.is_some() {
        return Ok(Ok(filing));
    }
    let now = registers.clock.now();
    if filing.status.is_final() {
        return Ok(Err(UrgeRefusal::Final));
    }
    let Some(deadline) = filing.legal_deadline else { return Ok(Err(UrgeRefusal::NoDeadline)) };
    if !filing.deadline_passed(now) {
        return Ok(Err(UrgeRefusal::NotYet(deadline)));
    }
    let Some(box_id) = filing.agency.box_id.clone() else { return Ok(Err(UrgeRefusal::NoDataBox)) };
    let request = urge_request_id(&filing.id);
    let document = format!("{}-urge-1", doc_id(&filing.id));
    let pdf = letter(&filing, now)?;
    let sealed = registers.sealer.encrypt(subject.as_str(), &document, "content", &pdf).await?;
    let content = if sealed.len() <= INLINE_CONTENT_LIMIT {
        SealedContent::Inline { sealed: base64::engine::general_purpose::STANDARD.encode(&sealed) }
    } else {
        let path = BlobPath::parse(format!(
            "registers/{}/filings/{}/urge-1.pdf",
            citizen_folder(subject.as_str()),
            filing.id
        ))?;
        match registers
            .blobs
            .put(&path, Bytes::from(sealed), "application/octet-stream", Default::default(), PutMode::CreateOnly)
            .await
        {
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(error) => return Err(error.into()),
        }
        SealedContent::Blob { path: path.as_str().to_owned() }
    };
    let message = OutgoingDataMessage {
        request_id: request.clone(),
        recipient_box_id: box_id,
        subject: super::clip(&format!("Urgence vyřízení podání: {}", filing.title), 255),
        source: "registers".into(),
        attachments: vec![OutgoingAttachment {
            file_name: format!("urgence-{}.pdf", filing.id),
            media_type: "application/pdf".into(),
            sealed_document: document,
            sealed_field: "content".into(),
            content,
        }],
        reply_to: None,
    };
    let data = serde_json::to_value(&message).map_err(super::corrupt)?;
    let event = Event::new(kinds::SEND_DATA_MESSAGE, &request, subject.as_str(), now, data);
    portal_events::publish(registers.queues.as_ref(), DATA_MESSAGES_QUEUE, &event).await?;
    let updated = update(registers, subject.as_str(), &filing.id, |stored| {
        if stored.urged_at.is_some() {
            return false;
        }
        stored.urged_at = Some(now);
        true
    })
    .await?;
    let entry = AccessEntry::new(
        Actor::Citizen,
        Action::Export,
        "filing-urge",
        &filing.id,
        "urgence vyřízení podání odeslaná úřadu z datové schránky",
    );
    registers.access_log.record(subject, entry).await?;
    match updated {
        Some(filing) => Ok(Ok(filing)),
        None => Ok(Err(UrgeRefusal::NotFound)),
    }
}

/// Loads the filing without contacting anyone (for the routes' 404 checks).
pub async fn exists(registers: &Registers, subject: &SubjectId, id: &str) -> Result<bool, FilingError> {
    Ok(load(registers, subject.as_str(), id).await?.is_some())
}
