//! Requests to create a data box for a natural person (žádost o zřízení
//! datové schránky). A request is recorded as `submitted` in the citizen's
//! partition (`box-request-<id>`) and is also a filing (podání) in the
//! citizen's list, where the filings capability dates the Ministry's legal
//! deadline.
//!
//! The timer `AdvanceDataBoxRequests` ([`advance_all`]) takes it through ISDS's
//! box management ([`BoxManagement`], the `db_manipulations` part of the
//! interface: `CreateDataBox2`): `submitted` → `in-progress` → `created` (the
//! box id shown, the box linked to the citizen, a notification and a calendar
//! entry for the first login) or `refused` with ISDS's reason. Each step is
//! idempotent: the request id is the key ISDS is asked with, the document
//! moves on by ETag, the events have fixed ids, and a pending marker
//! (`pending-box-requests` partition) is deleted only at the end, so a crash
//! anywhere is picked up by the next run. `in-progress` is saved before ISDS
//! is asked to create anything, so a box found for the person later is known
//! to be the one this request may have created. Looking at the request
//! (`GET /api/databox/box-requests/{id}`) takes the same step at once.
//! Production uses the SOAP adapter ([`crate::isds::soap::manage`]) when the
//! operator's privileged box-management login is configured, else
//! [`NotConnected`]; local mode uses the simulator, which creates the box after
//! [`crate::isds::simulator::BOX_CREATION_TAKES`] of the clock's time.

use async_trait::async_trait;
use portal_store::{NewDocument, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use portal_security::SubjectId;

use crate::isds::{BoxId, IsdsError, IsdsResult};
use crate::{COLLECTION, Databox};

/// The timer's name.
pub const JOB: &str = "AdvanceDataBoxRequests";
/// Hourly, at minute 40 (creating a box takes days).
pub const SCHEDULE: &str = "0 40 * * * *";
/// Where the requests still waiting for ISDS are listed.
const PENDING_PARTITION: &str = "pending-box-requests";
/// A new box becomes accessible at its first login, or by itself this many
/// days after it was set up (`czech-egov-domain.md` §1.11).
pub const FIRST_LOGIN_DAYS: i64 = 15;

/// Who the box is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxOwner {
    /// The citizen's `PersonIdentifier` (the pseudonym the identity provider gave).
    pub person: String,
    /// The citizen as the portal knows them (whose identity data an adapter
    /// reads through [`OwnerIdentities`]).
    pub subject: SubjectId,
    pub name: String,
}

/// What ISDS is told of the person whose box it creates (`CreateDataBox2`'s
/// `dbOwnerInfo`, `tDbOwnerInfoExt2` in `dbTypes.xsd`), as the identity
/// provider gave it. What is not known is sent as `xsi:nil`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerIdentity {
    /// All given names in one (`pnGivenNames`).
    pub given_names: String,
    pub last_name: String,
    pub birth_date: time::Date,
    /// `biCity`, `biCounty` (okres), `biState`.
    pub birth_city: Option<String>,
    pub birth_county: Option<String>,
    pub birth_state: Option<String>,
    /// The address of residence (`gAddressExt2`).
    pub address: Option<OwnerAddress>,
    pub nationality: Option<String>,
    /// `pnLastNameAtBirth` (optional since `CreateDataBox2`).
    pub last_name_at_birth: Option<String>,
    /// `notifEmail`: where ISDS sends the box's notifications.
    pub email: Option<String>,
}

/// `gAddressExt2` (`dbTypes.xsd`): every part nillable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerAddress {
    /// The RÚIAN code of the address point (`adCode`).
    pub code: Option<String>,
    pub city: Option<String>,
    /// Part of the municipality (`adDistrict`).
    pub district: Option<String>,
    pub street: Option<String>,
    /// Číslo orientační (`adNumberInStreet`).
    pub number_in_street: Option<String>,
    /// Číslo popisné (`adNumberInMunicipality`).
    pub number_in_municipality: Option<String>,
    pub zip_code: Option<String>,
    pub state: Option<String>,
}

/// Where an adapter that needs the person's data reads it: the identity
/// profile, in the composition (`src/app.rs`), as for `FindPersonalDataBox`.
#[async_trait]
pub trait OwnerIdentities: Send + Sync + std::fmt::Debug {
    /// `Ok(None)` when the portal does not know the person well enough;
    /// `Err` when the profile cannot be read now (retried).
    async fn identity(
        &self,
        subject: &SubjectId,
    ) -> Result<Option<OwnerIdentity>, Box<dyn std::error::Error + Send + Sync>>;
}

/// Where ISDS is with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreationStatus {
    InProgress,
    Created { box_id: BoxId, at: OffsetDateTime },
    Refused { reason: String },
}

/// ISDS's box management, as far as a request to create a natural person's
/// box goes. Both calls are idempotent by the request id and may be repeated
/// after a crash at any point; both take the person, since `CreateDataBox2`
/// answers at once and needs the person's data whenever it is called.
#[async_trait]
pub trait BoxManagement: Send + Sync + std::fmt::Debug {
    /// The step for a `submitted` request: `InProgress` when it goes on
    /// (the flow saves that before calling [`Self::status`]), `Refused` when
    /// it is ruled out at once (the person already has a box).
    async fn submit(&self, request_id: &str, owner: &BoxOwner) -> IsdsResult<CreationStatus>;
    /// The step for an `in-progress` request: where it stands now. The SOAP
    /// adapter creates the box here, or finds the one an earlier, interrupted
    /// call of this request created ([`crate::isds::soap::manage`]); the
    /// simulator answers `InProgress` until its delay has passed.
    async fn status(&self, request_id: &str, owner: &BoxOwner) -> IsdsResult<CreationStatus>;
}

/// Production until an adapter exists: every call is unavailable, so the
/// request stays `submitted` and is retried, and nothing is pretended.
#[derive(Debug, Default)]
pub struct NotConnected;

#[derive(Debug, thiserror::Error)]
#[error("ISDS box management is not connected in this deployment")]
struct NotConnectedError;

#[async_trait]
impl BoxManagement for NotConnected {
    async fn submit(&self, _: &str, _: &BoxOwner) -> IsdsResult<CreationStatus> {
        Err(IsdsError::Unavailable(Box::new(NotConnectedError)))
    }
    async fn status(&self, _: &str, _: &BoxOwner) -> IsdsResult<CreationStatus> {
        Err(IsdsError::Unavailable(Box::new(NotConnectedError)))
    }
}

/// A request to create a data box, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataBoxRequest)]
pub struct BoxRequest {
    /// Always `box-request`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    /// `dbType` of the box asked for: 40, a natural person's box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_type: Option<u8>,
    /// `submitted`, `in-progress`, `created` or `refused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The new box's id, once `created`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_id: Option<String>,
    /// ISDS's reason, when `refused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal_reason: Option<String>,
    /// The day the new box becomes accessible by itself if nobody logs in
    /// first (YYYY-MM-DD, Prague), once `created`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_login_by: Option<String>,
    /// When the citizen asked, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    /// True when the request was made in local mode, where nothing is sent anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<bool>,
}

/// The store id of request `id`.
pub fn document_id(id: &str) -> String {
    format!("box-request-{id}")
}

/// Publishes the request as a filing of the citizen. Safe to repeat: the
/// event id is fixed by the request.
pub async fn record_filing(
    databox: &Databox,
    subject: &str,
    id: &str,
    submitted_at: OffsetDateTime,
) -> Result<(), StoreError> {
    record_filing_state(databox, subject, id, submitted_at, "submitted", None).await
}

/// The filing's state, published again under an id fixed by the state.
async fn record_filing_state(
    databox: &Databox,
    subject: &str,
    id: &str,
    at: OffsetDateTime,
    state: &str,
    note: Option<String>,
) -> Result<(), StoreError> {
    let filing = portal_events::FilingRecord {
        filing_id: document_id(id),
        kind: "data-box-request".into(),
        title: "Žádost o zřízení datové schránky".into(),
        agency: portal_events::FilingAgency { name: "Ministerstvo vnitra".into(), box_id: None },
        status: state.into(),
        status_note: note,
        at,
        legal_deadline: None,
        source: "databox".into(),
        source_ref: id.to_owned(),
        simulated: databox.settings.simulated,
    };
    let data = serde_json::to_value(&filing).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let event = portal_events::Event::new(
        portal_events::FILING_RECORDED,
        &format!("box-request-{id}:{state}"),
        subject,
        at,
        data,
    );
    portal_events::publish(databox.queues.as_ref(), portal_events::FILINGS_QUEUE, &event).await
}

fn pending_id(subject: &str, id: &str) -> String {
    format!("{}-{id}", crate::archive::citizen_folder(subject))
}

/// Lists the request for the timer (create-only; safe to repeat).
pub async fn mark_pending(databox: &Databox, subject: &str, id: &str) -> Result<(), StoreError> {
    let doc = NewDocument::new(
        PENDING_PARTITION,
        pending_id(subject, id),
        json!({"type": "pending-box-request", "subject": subject, "requestId": id}),
    );
    match databox.documents.create(COLLECTION, doc).await {
        Ok(_) | Err(StoreError::Conflict) => Ok(()),
        Err(error) => Err(error),
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvanceReport {
    pub pending: u64,
    pub submitted: u64,
    pub created: u64,
    pub refused: u64,
    pub failed: u64,
}

/// One run of `AdvanceDataBoxRequests` over every pending request.
pub async fn advance_all(databox: &Databox) -> Result<AdvanceReport, StoreError> {
    let mut report = AdvanceReport::default();
    let mut continuation = None;
    loop {
        let mut query = portal_store::Query::default().page_size(100);
        query.continuation = continuation.take();
        let page = databox.documents.query(COLLECTION, PENDING_PARTITION, query).await?;
        for doc in &page.items {
            report.pending += 1;
            let (Some(subject), Some(id)) = (doc.body["subject"].as_str(), doc.body["requestId"].as_str()) else {
                continue;
            };
            if let Err(error) = advance(databox, subject, id, &mut report).await {
                report.failed += 1;
                tracing::warn!(error = %error, "a data box request could not be advanced; retried next run");
            }
        }
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
enum AdvanceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Isds(#[from] IsdsError),
}

/// Takes the citizen's request `id` as far as ISDS allows now (when they
/// look at it, so they need not wait for the timer). A failure is logged and
/// left to the timer; whether it moved on.
pub async fn advance_one(databox: &Databox, subject: &str, id: &str) -> bool {
    let mut report = AdvanceReport::default();
    match advance(databox, subject, id, &mut report).await {
        Ok(()) => report.submitted + report.created + report.refused > 0,
        Err(error) => {
            tracing::warn!(error = %error, "a data box request could not be advanced now; the timer retries");
            false
        }
    }
}

/// Takes one request one step further, as far as ISDS allows now.
async fn advance(databox: &Databox, subject: &str, id: &str, report: &mut AdvanceReport) -> Result<(), AdvanceError> {
    let Some(doc) = databox.documents.get(COLLECTION, subject, &document_id(id)).await? else {
        // Erased meanwhile: nothing to follow.
        return forget(databox, subject, id).await;
    };
    let mut request: BoxRequest =
        serde_json::from_value(doc.body.clone()).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let now = databox.clock.now();
    let mut etag = doc.etag.clone();
    let owner = BoxOwner {
        person: subject.replace("%2F", "/").replace("%25", "%"),
        subject: SubjectId::parse(subject).map_err(|e| StoreError::Invalid(e.to_string()))?,
        name: String::new(),
    };
    let mut outcome = None;
    if request.state.as_deref() == Some("submitted") {
        match databox.management.submit(id, &owner).await? {
            // Saved before ISDS is asked to create anything (`status`).
            CreationStatus::InProgress => {
                request.state = Some("in-progress".into());
                etag = save(databox, subject, &request, &etag).await?;
                record_filing_state(databox, subject, id, now, "in-progress", None).await?;
            }
            decided => outcome = Some(decided),
        }
        report.submitted += 1;
    }
    match request.state.as_deref() {
        Some("in-progress") => {}
        Some("submitted") if outcome.is_some() => {}
        // Final: the events are sent again (fixed ids), then the marker goes.
        Some("created" | "refused") => {
            announce(databox, subject, &request, now).await?;
            return forget(databox, subject, id).await;
        }
        _ => return Ok(()),
    }
    let outcome = match outcome {
        Some(decided) => decided,
        None => databox.management.status(id, &owner).await?,
    };
    match outcome {
        CreationStatus::InProgress => return Ok(()),
        CreationStatus::Created { box_id, at } => {
            databox.link_box(subject, &box_id).await?;
            let by = portal_host::prague::date(at) + time::Duration::days(FIRST_LOGIN_DAYS);
            request.state = Some("created".into());
            request.box_id = Some(box_id.as_str().to_owned());
            request.first_login_by = Some(by.to_string());
            report.created += 1;
        }
        CreationStatus::Refused { reason } => {
            request.state = Some("refused".into());
            request.refusal_reason = Some(reason);
            report.refused += 1;
        }
    }
    save(databox, subject, &request, &etag).await?;
    announce(databox, subject, &request, now).await?;
    forget(databox, subject, id).await
}

async fn save(
    databox: &Databox,
    subject: &str,
    request: &BoxRequest,
    etag: &portal_store::ETag,
) -> Result<portal_store::ETag, StoreError> {
    let body = serde_json::to_value(request).map_err(|e| StoreError::Invalid(e.to_string()))?;
    databox.documents.upsert(COLLECTION, NewDocument::new(subject, document_id(&request.id), body), Some(etag)).await
}

/// The final state's filing, notification and (when created) calendar entry;
/// every event id is fixed by the request, so a repeat is dropped.
async fn announce(
    databox: &Databox,
    subject: &str,
    request: &BoxRequest,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let id = &request.id;
    let state = request.state.as_deref().unwrap_or_default();
    let note = match state {
        "created" => request.box_id.as_ref().map(|b| format!("Datová schránka {b} je zřízena.")),
        _ => request.refusal_reason.clone(),
    };
    record_filing_state(databox, subject, id, now, state, note.clone()).await?;
    // No template of its own in notifications yet: it renders the generic text.
    let data = json!({"requestId": id, "state": state, "boxId": request.box_id, "reason": request.refusal_reason,
                      "firstLoginBy": request.first_login_by});
    let kind = if state == "created" { "databox.box-created" } else { "databox.box-refused" };
    let event = portal_events::Event::new(kind, &format!("box-request-{id}:{state}"), subject, now, data);
    crate::events::publish(databox.queues.as_ref(), crate::events::NOTIFICATIONS_QUEUE, &event).await?;
    if let (Some(box_id), Some(by)) = (&request.box_id, &request.first_login_by) {
        let date = time::Date::parse(by, &time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let entry = portal_events::CalendarEntry {
            entry_id: format!("box-first-login-{id}"),
            // The calendar's kind for "from this day, messages can count as
            // delivered without you": the box opens by itself that day.
            kind: "deemed-delivery".into(),
            title: format!("Nová datová schránka {box_id} se dnes zpřístupní sama, pokud se nepřihlásíte dříve"),
            date,
            document: None,
            source: "databox".into(),
            source_ref: id.clone(),
            cancelled: false,
        };
        let data = serde_json::to_value(&entry).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let event = crate::events::Event::new(
            crate::events::DEEMED_DELIVERY_DATE,
            &format!("box-first-login-{id}"),
            subject,
            now,
            data,
        );
        crate::events::publish(databox.queues.as_ref(), crate::events::CALENDAR_QUEUE, &event).await?;
    }
    Ok(())
}

async fn forget(databox: &Databox, subject: &str, id: &str) -> Result<(), AdvanceError> {
    match databox.documents.delete(COLLECTION, PENDING_PARTITION, &pending_id(subject, id), None).await {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// `submitted_at` as a time, for the filing.
pub fn submitted_at(request: &BoxRequest) -> Option<OffsetDateTime> {
    request.submitted_at.as_deref().and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
}
