//! The petitions' HTTP functions, one file per action, and what they share:
//! the views of a petition, the checks of who asks, and the problem each
//! refusal of the domain is answered with.
//!
//! Public (no session): `GET /api/petitions`, `GET /api/petitions/{id}`,
//! `GET /api/petitions/{id}/attachments/{n}` (of a public petition; a draft's
//! only to its creator). Everything else needs a session of at least
//! substantial assurance (the `Citizen` extractor); the officials' routes also
//! need the subject in the officials' list.

pub mod add_attachment;
pub mod block_petition;
pub mod close_petition;
pub mod create_petition;
pub mod delete_attachment;
pub mod download_attachment;
pub mod edit_petition;
pub mod extract_csv;
pub mod extract_pdf;
pub mod hand_over_petition;
pub mod list_my_petitions;
pub mod list_petitions;
pub mod my_signature;
pub mod official_list_petitions;
pub mod official_petition_stats;
pub mod publish_petition;
pub mod show_my_petition;
pub mod show_petition;
pub mod sign_petition;
pub mod unblock_petition;
pub mod withdraw_signature;

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portal_host::{FieldViolation, Problem};
use portal_security::{Citizen, RateLimiter};
use portal_store::StoreError;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::attachments::{AttachmentRefusal, MAX_ATTACHMENTS};
use crate::catalogue::{self, Entry, Sort};
use crate::closing::CloseRefusal;
use crate::handover::HandOverRefusal;
use crate::model::{
    Addressee, Attachment, CommitteeMember, HandOverStatus, Petition, PetitionId, State, format_date, rfc3339,
};
use crate::officials::BlockRefusal;
use crate::service::PetitionService;
use crate::signing::SignRefusal;
use crate::{ServiceError, corrupt};

pub(crate) type Shared = Arc<PetitionService>;

// ------------------------------------------------------------------- views

/// A petition as the public sees it: never the creator, the committee or
/// any signer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicPetition {
    #[schema(example = "0123456789abcdef0123456789abcdef")]
    pub id: String,
    pub state: State,
    pub title: String,
    pub summary: String,
    pub text: String,
    pub addressee: Addressee,
    /// RFC 3339.
    pub published_at: Option<String>,
    /// The last day of signing, `YYYY-MM-DD` (Prague).
    #[schema(example = "2026-12-31")]
    pub ends_on: String,
    pub closed_at: Option<String>,
    pub handed_over_at: Option<String>,
    /// The exact number of standing signatures.
    pub signatures: u64,
    pub addressed_to_senate: bool,
    /// More signatures than the Senate's threshold (10,000).
    pub senate_threshold_reached: bool,
    pub senate_threshold_reached_at: Option<String>,
    pub attachments: Vec<Attachment>,
}

impl PublicPetition {
    pub(crate) fn of(petition: &Petition, signatures: u64) -> Self {
        Self {
            id: petition.id.clone(),
            state: petition.state,
            title: petition.title.clone(),
            summary: petition.summary.clone(),
            text: petition.text.clone(),
            addressee: petition.addressee.clone(),
            published_at: petition.published_at.map(rfc3339),
            ends_on: format_date(petition.ends_on),
            closed_at: petition.closed_at.map(rfc3339),
            handed_over_at: petition.handed_over_at.map(rfc3339),
            signatures,
            addressed_to_senate: petition.senate,
            senate_threshold_reached: petition.senate_threshold_reached_at.is_some(),
            senate_threshold_reached_at: petition.senate_threshold_reached_at.map(rfc3339),
            attachments: petition.attachments.clone(),
        }
    }
}

/// A petition as its creator sees it: the public view, the committee, and
/// why it was blocked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyPetition {
    #[serde(flatten)]
    pub petition: PublicPetition,
    /// RFC 3339.
    pub created_at: String,
    pub committee: Vec<CommitteeMember>,
    pub blocked_at: Option<String>,
    /// The officials' written reason (§ 6a(5) of Act 85/1990 Sb.).
    pub block_reason: Option<String>,
    /// The hand-over to the addressee, once asked for.
    pub hand_over: Option<HandOverView>,
}

/// Where the hand-over of a closed petition is: `pending` (with the data
/// box), `failed` (with the reason: ask for the hand-over again) or
/// `delivered` (with the addressee's answer deadline).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandOverView {
    pub status: HandOverStatus,
    /// 1, then one more for each retry.
    pub attempt: u32,
    /// RFC 3339.
    pub requested_at: String,
    /// Why ISDS did not take it (`failed`).
    pub reason: Option<String>,
    /// `POST /api/petitions/{id}/hand-over` again (`failed`).
    pub can_retry: bool,
    /// When the message reached the addressee's box (`delivered`), RFC 3339.
    pub delivered_at: Option<String>,
    /// The last day of the addressee's 30 days to answer (`YYYY-MM-DD`),
    /// counted from the latest day the petition counts as received.
    pub answer_due: Option<String>,
}

impl HandOverView {
    pub(crate) fn of(h: &crate::model::HandOver) -> Self {
        Self {
            status: h.status,
            attempt: h.attempt,
            requested_at: rfc3339(h.requested_at),
            reason: h.reason.clone(),
            can_retry: h.status == HandOverStatus::Failed,
            delivered_at: h.delivered_at.map(rfc3339),
            answer_due: h.answer_due.map(format_date),
        }
    }
}

/// What the creator sees of their own petition.
pub(crate) async fn my_view(s: &PetitionService, petition: &Petition) -> Result<MyPetition, ServiceError> {
    let signatures = match petition.state {
        State::Draft => 0,
        _ => s.count(&petition.petition_id().ok_or_else(|| corrupt("bad id"))?, petition.shards).await?,
    };
    Ok(MyPetition {
        petition: PublicPetition::of(petition, signatures),
        created_at: rfc3339(petition.created_at),
        committee: s.committee(petition).await?,
        blocked_at: petition.blocked_at.map(rfc3339),
        block_reason: petition.block_reason.clone(),
        hand_over: petition.hand_over.as_ref().map(HandOverView::of),
    })
}

/// A petition in a list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PetitionSummary {
    pub id: String,
    pub state: State,
    pub title: String,
    pub summary: String,
    pub addressee: Addressee,
    pub published_at: Option<String>,
    pub ends_on: String,
    pub closed_at: Option<String>,
    pub handed_over_at: Option<String>,
    /// The exact number of standing signatures.
    pub signatures: u64,
    pub addressed_to_senate: bool,
    pub senate_threshold_reached: bool,
    /// Flagged by the burst detector (the officials' list only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flagged: Option<bool>,
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PetitionPage {
    pub items: Vec<PetitionSummary>,
    /// Pass as `continuation` for the next page; `null` on the last.
    pub continuation: Option<String>,
}

/// A page of catalogue entries with exact counts.
pub(crate) async fn entries(
    s: &PetitionService,
    filters: Vec<(&str, Value)>,
    sort: Sort,
    page_size: u32,
    continuation: Option<String>,
    official: bool,
) -> Result<PetitionPage, Problem> {
    let page = match catalogue::page(&s.petitions, filters, sort, page_size, continuation).await {
        Err(StoreError::Invalid(_)) => {
            return Err(Problem::validation(vec![FieldViolation::new("continuation", "a token from a previous page")]));
        }
        page => page?,
    };
    let mut items = Vec::with_capacity(page.items.len());
    for doc in &page.items {
        let Some(id) = PetitionId::parse(&doc.id) else { continue };
        let entry = Entry::from_document(doc)?;
        let signatures = s.count(&id, entry.shards).await?;
        items.push(PetitionSummary {
            id: entry.id,
            state: entry.state,
            title: entry.title,
            summary: entry.summary,
            addressee: entry.addressee,
            published_at: entry.published_at,
            ends_on: entry.ends_on,
            closed_at: entry.closed_at,
            handed_over_at: entry.handed_over_at,
            signatures,
            addressed_to_senate: entry.senate,
            senate_threshold_reached: entry.senate_threshold_reached,
            flagged: official.then_some(entry.flagged),
        });
    }
    Ok(PetitionPage { items, continuation: page.continuation })
}

// ------------------------------------------------------------------ checks

/// 422 naming `addressee.boxId` when ISDS says the box is no public
/// authority's accessible box.
pub(crate) fn addressee_refused(lookup: &crate::directory::BoxLookup) -> Problem {
    let rule = lookup.refusal().unwrap_or("an existing data box of a public authority (OVM)");
    Problem::validation(vec![FieldViolation::new("addressee.boxId", rule)])
}

/// The draft's addressee, looked up in ISDS: `Err` with the 422 to answer
/// when it is not an accessible box of a public authority.
pub(crate) async fn check_addressee(s: &PetitionService, citizen: &Citizen, box_id: &str) -> Result<(), Problem> {
    let lookup = s.addressee(&citizen.subject, box_id).await?;
    match lookup.refusal() {
        Some(_) => Err(addressee_refused(&lookup)),
        None => Ok(()),
    }
}

pub(crate) fn not_found() -> Problem {
    Problem::not_found("no such petition")
}

/// The id of a path; anything that cannot be one is 404.
pub(crate) fn parse_id(id: &str) -> Result<PetitionId, Problem> {
    PetitionId::parse(id).ok_or_else(not_found)
}

/// The creator's petition, or 404 (also for another citizen's, which is
/// recorded as a refused attempt to `action` it in the creator's access log).
pub(crate) async fn own(
    s: &PetitionService,
    citizen: &Citizen,
    id: &PetitionId,
    action: portal_security::Action,
) -> Result<Petition, Problem> {
    match s.load(id).await? {
        Some((petition, _)) if petition.creator == citizen.subject.as_str() => Ok(petition),
        Some((petition, _)) => Err(refused(s, &petition, action).await?),
        None => Err(not_found()),
    }
}

/// Who besides its creator a route serves a petition to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// The creator's acts (close, hand over): nobody else.
    Creator,
    /// Signing: everyone once it is published; a draft is its creator's alone.
    Published,
}

/// The ownership check of petition routes whose service call re-reads the
/// petition. Petitions live in one collection addressed by id alone, so
/// another citizen's request does find the creator's petition: when
/// `citizen` may not reach it, the attempt is recorded as refused in the
/// creator's access log and answered 404. A petition that does not exist,
/// or that the route serves to `citizen`, passes (the service decides).
pub(crate) async fn refuse_foreign(
    s: &PetitionService,
    citizen: &Citizen,
    id: &PetitionId,
    action: portal_security::Action,
    reach: Reach,
) -> Result<(), Problem> {
    match s.load(id).await? {
        Some((petition, _))
            if petition.creator != citizen.subject.as_str()
                && (reach == Reach::Creator || petition.state == crate::model::State::Draft) =>
        {
            Err(refused(s, &petition, action).await?)
        }
        _ => Ok(()),
    }
}

/// Records another citizen's refused attempt on `petition` in its creator's
/// access log (`AccessLog::record_refused`, the caller unnamed; nothing for
/// an erased creator), and gives the 404 to answer.
pub(crate) async fn refused(
    s: &PetitionService,
    petition: &Petition,
    action: portal_security::Action,
) -> Result<Problem, Problem> {
    if let Ok(creator) = portal_security::SubjectId::parse(&petition.creator)
        && petition.creator != crate::model::ERASED_CREATOR
    {
        s.petitions.access_log.record_refused(&creator, action, "petition", &petition.id).await?;
    }
    Ok(not_found())
}

/// The officials' routes: 403 for anyone not in the officials' list.
pub(crate) fn official(s: &PetitionService, citizen: &Citizen) -> Result<(), Problem> {
    if s.is_official(&citizen.subject) {
        return Ok(());
    }
    tracing::warn!("a citizen who is not an official asked for the officials' petition routes");
    Err(Problem::new(StatusCode::FORBIDDEN, "not-an-official", "Not allowed")
        .with_detail("this is for officials of the Ministry of the Interior only"))
}

// ---------------------------------------------------------------- problems

pub(crate) fn conflict(kind: &str, title: &str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::CONFLICT, kind, title).with_detail(detail)
}

pub(crate) fn state_conflict(state: State) -> Problem {
    conflict("petition-state", "Not possible in the petition's state", format!("the petition is {}", state.as_str()))
}

pub(crate) fn published_cannot_be_edited() -> Problem {
    conflict(
        "petition-published",
        "The petition is published",
        "a published petition cannot be edited; close it and create a new one",
    )
}

pub(crate) fn not_closed() -> Problem {
    conflict(
        "petition-not-closed",
        "The petition is not closed",
        "the extract of signatures is available once the petition is closed",
    )
}

/// 400 with the broken rule of `field` (the upload rules, which the
/// documents capability answers the same way).
pub(crate) fn invalid_field(field: &str, rule: impl Into<String>) -> Problem {
    let mut problem = Problem::new(StatusCode::BAD_REQUEST, "validation", "The input breaks one or more rules");
    problem.errors = vec![FieldViolation::new(field, rule)];
    problem
}

pub(crate) fn too_many_attachments() -> Problem {
    invalid_field("file", format!("at most {MAX_ATTACHMENTS} attachments per petition; delete one first"))
}

pub(crate) fn no_such_attachment() -> Problem {
    Problem::not_found("no such attachment")
}

impl From<SignRefusal> for Problem {
    fn from(refusal: SignRefusal) -> Self {
        match refusal {
            SignRefusal::NotFound => not_found(),
            SignRefusal::NotOpen(State::Blocked) => conflict(
                "petition-blocked",
                "Signing this petition was stopped",
                "the Ministry of the Interior blocked signing of this petition (§ 6a(5) of Act 85/1990 Sb.)",
            ),
            SignRefusal::NotOpen(_) => {
                conflict("petition-closed", "The petition is closed", "signatures are collected only while it is open")
            }
            SignRefusal::AlreadySigned => {
                conflict("already-signed", "You have signed this petition", "one signature per person per petition")
            }
            SignRefusal::NotSigned => Problem::not_found("you have not signed this petition"),
            SignRefusal::NoDetails => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "signer-details-missing",
                "Your name and residence are not known",
            )
            .with_detail(
                "your name and residence are not known from your identity; the law (§ 4(1) of Act 85/1990 Sb.) \
                 requires them for a signature: log in with an identity means that provides them",
            ),
        }
    }
}

impl From<CloseRefusal> for Problem {
    fn from(refusal: CloseRefusal) -> Self {
        match refusal {
            CloseRefusal::NotFound => not_found(),
            CloseRefusal::NotPublished(state) => state_conflict(state),
            CloseRefusal::NotDue => state_conflict(State::Published),
        }
    }
}

impl From<BlockRefusal> for Problem {
    fn from(refusal: BlockRefusal) -> Self {
        match refusal {
            BlockRefusal::NotFound => not_found(),
            BlockRefusal::WrongState(state) => state_conflict(state),
        }
    }
}

impl From<AttachmentRefusal> for Problem {
    fn from(refusal: AttachmentRefusal) -> Self {
        match refusal {
            AttachmentRefusal::NotFound => not_found(),
            AttachmentRefusal::NotDraft(_) => published_cannot_be_edited(),
            AttachmentRefusal::TooMany => too_many_attachments(),
            AttachmentRefusal::NoSuchAttachment => no_such_attachment(),
        }
    }
}

impl From<HandOverRefusal> for Problem {
    fn from(refusal: HandOverRefusal) -> Self {
        match refusal {
            HandOverRefusal::NotFound => not_found(),
            HandOverRefusal::NotClosed(state) => conflict(
                "petition-not-closed",
                "The petition is not closed",
                format!("only a closed petition can be handed over; it is {}", state.as_str()),
            ),
            HandOverRefusal::TooLarge { bytes, limit } => hand_over_too_large(
                format!("together at most {} MB (these are {:.1} MB)", limit / 1_000_000, bytes as f64 / 1_000_000.0),
                "the extract of signatures and the attachments are too large for one data message",
            ),
            HandOverRefusal::TooManyFiles { files, limit } => hand_over_too_large(
                format!("at most {limit} files with the extract (these are {files})"),
                "the extract of signatures and the attachments are too many files for one data message",
            ),
            HandOverRefusal::Addressee(lookup) => addressee_refused(&lookup),
        }
    }
}

/// 422: the data box could not send the hand-over (ISDS's limits).
fn hand_over_too_large(rule: String, detail: &str) -> Problem {
    let mut problem = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "hand-over-too-large",
        "The petition cannot be sent as one data message",
    )
    .with_detail(format!(
        "{detail}; download the extract and deliver the petition to the addressee another way (in person or by post)"
    ));
    problem.errors = vec![FieldViolation::new("attachments", rule)];
    problem
}

/// What a rate-limited action answers when it does not succeed: a problem,
/// or 429 with `Retry-After` (which a [`Problem`] cannot carry).
#[derive(Debug)]
pub enum Refused {
    Problem(Problem),
    /// Too many in a short time: try again after this long.
    TooMany(std::time::Duration),
}

impl<E: Into<Problem>> From<E> for Refused {
    fn from(error: E) -> Self {
        Self::Problem(error.into())
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::Problem(problem) => problem.into_response(),
            Self::TooMany(wait) => RateLimiter::too_many(wait),
        }
    }
}

// --------------------------------------------------------------- downloads

/// The bytes of a PDF document.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "application/pdf")]
#[allow(dead_code)] // documents the body of PDF downloads
pub struct Pdf(Vec<u8>);

/// A file to save: not cached, named `file_name`.
pub(crate) fn download(content: Vec<u8>, content_type: &'static str, file_name: String) -> Response {
    let mut response = content.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
