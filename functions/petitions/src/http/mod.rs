//! The HTTP edge: parses input, checks who asks, maps outcomes to status
//! codes and `application/problem+json`.
//!
//! Public (no session): `GET /api/petitions`, `GET /api/petitions/{id}`,
//! `GET /api/petitions/{id}/attachments/{n}` (of a public petition; a draft's
//! only to its creator). Everything else needs a session of at least
//! substantial assurance (the `Citizen` extractor); the officials' routes also
//! need the subject in the officials' list.

// Helpers here return `Result<_, Response>`: the error is the finished
// problem response, built once at the edge.
#![allow(clippy::result_large_err)]

mod attachments;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portal_host::{AuthLevel, FieldViolation, Function, InvocationError, Outcome, Problem};
use portal_security::{AccessEntry, Action, Actor, Citizen, RateLimiter, SubjectId};
use portal_store::{FilterOp, NewDocument, Order, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::catalogue::{self, Sort};
use crate::closing::{self, CloseRefusal, ClosedBy};
use crate::handover::{HandOverRefusal, request_id};
use crate::model::{COLLECTION, Draft, PETITION_DOC, Petition, PetitionId, State, format_date, rfc3339, rfc3339_opt};
use crate::officials::{self, BlockRefusal, MAX_REASON, MIN_REASON};
use crate::service::PetitionService;
use crate::signing::SignRefusal;
use crate::{MAX_ATTEMPTS, ServiceError};
use crate::{events, extract};

type Shared = Arc<PetitionService>;
type JsonBody = Result<Json<Value>, axum::extract::rejection::JsonRejection>;

pub fn functions(service: Shared) -> Vec<Function> {
    let s = service;
    let timer = s.clone();
    let erasure_state = s.clone();
    vec![
        Function::http("ListPetitions", "petitions", AuthLevel::Anonymous)
            .get(list_public)
            .with_state(s.clone())
            .build(),
        Function::http("CreatePetition", "petitions", AuthLevel::Anonymous).post(create).with_state(s.clone()).build(),
        Function::http("ShowPetition", "petitions/{id}", AuthLevel::Anonymous)
            .get(show_public)
            .with_state(s.clone())
            .build(),
        Function::http("EditPetition", "petitions/{id}", AuthLevel::Anonymous).put(edit).with_state(s.clone()).build(),
        Function::http("AddPetitionAttachment", "petitions/{id}/attachments", AuthLevel::Anonymous)
            .post(attachments::upload)
            .with_body_limit(attachments::UPLOAD_BODY_LIMIT)
            .with_state(s.clone())
            .build(),
        // GET is PUBLIC for a published petition; DELETE needs the creator.
        Function::http("PetitionAttachment", "petitions/{id}/attachments/{n}", AuthLevel::Anonymous)
            .get(attachments::download)
            .delete(attachments::remove)
            .with_state(s.clone())
            .build(),
        Function::http("PublishPetition", "petitions/{id}/publish", AuthLevel::Anonymous)
            .post(publish)
            .with_state(s.clone())
            .build(),
        Function::http("ClosePetition", "petitions/{id}/close", AuthLevel::Anonymous)
            .post(close)
            .with_state(s.clone())
            .build(),
        Function::http("SignPetition", "petitions/{id}/signatures", AuthLevel::Anonymous)
            .post(sign)
            .with_state(s.clone())
            .build(),
        Function::http("MyPetitionSignature", "petitions/{id}/signatures/mine", AuthLevel::Anonymous)
            .get(my_signature)
            .delete(withdraw)
            .with_state(s.clone())
            .build(),
        Function::http("PetitionExtractCsv", "petitions/{id}/extract.csv", AuthLevel::Anonymous)
            .get(extract_csv)
            .with_state(s.clone())
            .build(),
        Function::http("PetitionExtractPdf", "petitions/{id}/extract.pdf", AuthLevel::Anonymous)
            .get(extract_pdf)
            .with_state(s.clone())
            .build(),
        Function::http("HandOverPetition", "petitions/{id}/hand-over", AuthLevel::Anonymous)
            .post(hand_over)
            .with_state(s.clone())
            .build(),
        Function::http("ListMyPetitions", "me/petitions", AuthLevel::Anonymous)
            .get(list_mine)
            .with_state(s.clone())
            .build(),
        Function::http("ShowMyPetition", "me/petitions/{id}", AuthLevel::Anonymous)
            .get(show_mine)
            .with_state(s.clone())
            .build(),
        Function::http("OfficialListPetitions", "officials/petitions", AuthLevel::Anonymous)
            .get(official_list)
            .with_state(s.clone())
            .build(),
        Function::http("OfficialPetitionStats", "officials/petitions/stats", AuthLevel::Anonymous)
            .get(official_stats)
            .with_state(s.clone())
            .build(),
        Function::http("BlockPetition", "officials/petitions/{id}/block", AuthLevel::Anonymous)
            .post(block)
            .with_state(s.clone())
            .build(),
        Function::http("UnblockPetition", "officials/petitions/{id}/unblock", AuthLevel::Anonymous)
            .post(unblock)
            .with_state(s.clone())
            .build(),
        Function::timer(closing::JOB, closing::SCHEDULE, move |_| {
            let service = timer.clone();
            async move {
                let report = closing::run(&service).await.map_err(|error| {
                    if error.is_retryable() {
                        InvocationError::retryable(error)
                    } else {
                        InvocationError::permanent(error)
                    }
                })?;
                Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
            }
        }),
        Function::queue(
            crate::erasure::FUNCTION,
            portal_events::ERASE_PETITIONS_QUEUE,
            move |invocation: portal_host::QueueInvocation<portal_events::Event>| {
                let service = erasure_state.clone();
                async move { crate::erasure::erase(&service.petitions, &invocation.message).await }
            },
        ),
    ]
}

// ---------------------------------------------------------------- problems

fn service_problem(error: &ServiceError) -> Response {
    tracing::error!(error = %portal_host::runtime::error_chain(error), "petitions: an operation failed");
    match error {
        ServiceError::Details(_) => Problem::unavailable("the identity profile").into_response(),
        error if error.is_retryable() => Problem::unavailable("petitions storage").into_response(),
        _ => Problem::internal().into_response(),
    }
}

fn store_problem(error: &StoreError) -> Response {
    tracing::error!(error = %portal_host::runtime::error_chain(error), "petitions: store failure");
    Problem::unavailable("petitions storage").into_response()
}

fn not_found() -> Response {
    Problem::not_found("no such petition").into_response()
}

fn conflict(kind: &str, title: &str, detail: impl Into<String>) -> Response {
    Problem::new(StatusCode::CONFLICT, kind, title).with_detail(detail).into_response()
}

fn state_conflict(state: State) -> Response {
    conflict("petition-state", "Not possible in the petition's state", format!("the petition is {}", state.as_str()))
}

fn published_cannot_be_edited() -> Response {
    conflict(
        "petition-published",
        "The petition is published",
        "a published petition cannot be edited; close it and create a new one",
    )
}

fn parse_id(id: &str) -> Result<PetitionId, Response> {
    PetitionId::parse(id).ok_or_else(not_found)
}

fn body_or_problem(body: JsonBody) -> Result<Value, Response> {
    match body {
        Ok(Json(value)) => Ok(value),
        Err(_) => Err(Problem::validation(vec![FieldViolation::new("body", "a JSON object")]).into_response()),
    }
}

async fn record(
    s: &PetitionService,
    subject: &SubjectId,
    action: Action,
    kind: &str,
    id: &str,
    purpose: &str,
) -> Result<(), Response> {
    let entry = AccessEntry::new(Actor::Citizen, action, kind, id, purpose);
    s.petitions.access_log.record(subject, entry).await.map_err(|e| store_problem(&e))
}

/// The creator's petition, or 404 (also for another citizen's).
async fn own(s: &PetitionService, citizen: &Citizen, id: &PetitionId) -> Result<Petition, Response> {
    match s.load(id).await {
        Ok(Some((petition, _))) if petition.creator == citizen.subject.as_str() => Ok(petition),
        Ok(_) => Err(not_found()),
        Err(error) => Err(service_problem(&error)),
    }
}

// ------------------------------------------------------------------- views

/// What the public sees: never the creator, the committee or any signer.
fn public_view(petition: &Petition, signatures: u64) -> Value {
    json!({
        "id": petition.id,
        "state": petition.state.as_str(),
        "title": petition.title,
        "summary": petition.summary,
        "text": petition.text,
        "addressee": petition.addressee,
        "publishedAt": rfc3339_opt(petition.published_at),
        "endsOn": format_date(petition.ends_on),
        "closedAt": rfc3339_opt(petition.closed_at),
        "handedOverAt": rfc3339_opt(petition.handed_over_at),
        "signatures": signatures,
        "addressedToSenate": petition.senate,
        "senateThresholdReached": petition.senate_threshold_reached_at.is_some(),
        "senateThresholdReachedAt": rfc3339_opt(petition.senate_threshold_reached_at),
        "attachments": petition.attachments,
    })
}

/// What the creator sees of their own petition.
async fn my_view(s: &PetitionService, petition: &Petition) -> Result<Value, ServiceError> {
    let signatures = match petition.state {
        State::Draft => 0,
        _ => s.count(&petition.petition_id().ok_or_else(|| crate::corrupt("bad id"))?, petition.shards).await?,
    };
    let mut view = public_view(petition, signatures);
    view["createdAt"] = Value::from(rfc3339(petition.created_at));
    view["committee"] = serde_json::to_value(s.committee(petition).await?).unwrap_or_default();
    view["blockedAt"] = rfc3339_opt(petition.blocked_at);
    view["blockReason"] = petition.block_reason.clone().map_or(Value::Null, Value::from);
    Ok(view)
}

// ------------------------------------------------------------------ public

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    sort: Option<String>,
    page_size: Option<u32>,
    continuation: Option<String>,
}

fn list_params(
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<(Sort, u32, Option<String>), Response> {
    let Ok(Query(params)) = params else {
        return Err(Problem::validation(vec![FieldViolation::new("query", "sort, pageSize (1-100), continuation")])
            .into_response());
    };
    let sort = match params.sort.as_deref() {
        None | Some("newest") => Sort::Newest,
        Some("signatures") => Sort::Signatures,
        Some(_) => {
            return Err(Problem::validation(vec![FieldViolation::new("sort", "newest or signatures")]).into_response());
        }
    };
    let page_size = params.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return Err(Problem::validation(vec![FieldViolation::new("pageSize", "1-100")]).into_response());
    }
    Ok((sort, page_size, params.continuation))
}

/// A page of catalogue entries with exact counts.
async fn entries(
    s: &PetitionService,
    filters: Vec<(&str, Value)>,
    sort: Sort,
    page_size: u32,
    continuation: Option<String>,
    official: bool,
) -> Result<Value, Response> {
    let page = match catalogue::page(&s.petitions, filters, sort, page_size, continuation).await {
        Ok(page) => page,
        Err(StoreError::Invalid(_)) => {
            return Err(Problem::validation(vec![FieldViolation::new("continuation", "a token from a previous page")])
                .into_response());
        }
        Err(error) => return Err(store_problem(&error)),
    };
    let mut items = Vec::with_capacity(page.items.len());
    for doc in page.items {
        let Some(id) = PetitionId::parse(&doc.id) else { continue };
        let shards = doc.body["shards"].as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0);
        let count = s.count(&id, shards).await.map_err(|e| service_problem(&e))?;
        let b = &doc.body;
        let mut item = json!({
            "id": doc.id, "state": b["state"], "title": b["title"], "summary": b["summary"],
            "addressee": b["addressee"], "publishedAt": b["publishedAt"], "endsOn": b["endsOn"],
            "closedAt": b["closedAt"], "handedOverAt": b["handedOverAt"], "signatures": count,
            "addressedToSenate": b["senate"], "senateThresholdReached": b["senateThresholdReached"],
        });
        if official {
            item["flagged"] = b["flagged"].clone();
        }
        items.push(item);
    }
    Ok(json!({"items": items, "continuation": page.continuation}))
}

async fn list_public(
    AxumState(s): AxumState<Shared>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (sort, page_size, continuation) = match list_params(params) {
        Ok(p) => p,
        Err(response) => return response,
    };
    match entries(&s, vec![("public", Value::from(true))], sort, page_size, continuation, false).await {
        Ok(body) => Json(body).into_response(),
        Err(response) => response,
    }
}

async fn show_public(AxumState(s): AxumState<Shared>, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let petition = match s.load(&id).await {
        Ok(Some((petition, _))) if petition.state.is_public() => petition,
        Ok(_) => return not_found(),
        Err(error) => return service_problem(&error),
    };
    match s.count(&id, petition.shards).await {
        Ok(count) => Json(public_view(&petition, count)).into_response(),
        Err(error) => service_problem(&error),
    }
}

// ----------------------------------------------------------------- creator

/// Takes one of today's creations, or says how long to wait.
async fn take_creation(
    s: &PetitionService,
    subject: &SubjectId,
) -> Result<Result<(), std::time::Duration>, StoreError> {
    let now = s.petitions.clock.now();
    let id = format!("created-{}", format_date(s.today()));
    let documents = &s.petitions.documents;
    let limit = u64::from(s.petitions.settings.creations_per_day);
    for _ in 0..MAX_ATTEMPTS {
        let existing = documents.get(COLLECTION, subject.as_str(), &id).await?;
        let count = existing.as_ref().and_then(|d| d.body["count"].as_u64()).unwrap_or(0);
        if count >= limit {
            return Ok(Err(crate::model::until_prague_midnight(now)));
        }
        let doc = NewDocument::new(subject.as_str(), &id, json!({"type": "creation-count", "count": count + 1}))
            .with_ttl(std::time::Duration::from_secs(2 * 24 * 3600));
        let written = match &existing {
            Some(existing) => documents.replace(COLLECTION, doc, &existing.etag).await,
            None => documents.create(COLLECTION, doc).await,
        };
        match written {
            Ok(_) => return Ok(Ok(())),
            Err(StoreError::PreconditionFailed | StoreError::Conflict | StoreError::NotFound) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Throttled { retry_after: None })
}

async fn create(AxumState(s): AxumState<Shared>, citizen: Citizen, body: JsonBody) -> Response {
    let body = match body_or_problem(body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let draft = match Draft::parse(&body, s.today(), s.petitions.settings.max_duration_days) {
        Ok(draft) => draft,
        Err(errors) => return Problem::validation(errors).into_response(),
    };
    match take_creation(&s, &citizen.subject).await {
        Ok(Ok(())) => {}
        Ok(Err(wait)) => return RateLimiter::too_many(wait),
        Err(error) => return store_problem(&error),
    }
    let id = PetitionId::new();
    let committee = match s.seal_committee(citizen.subject.as_str(), &id, &draft.committee).await {
        Ok(sealed) => sealed,
        Err(error) => return service_problem(&error),
    };
    let now = s.petitions.clock.now();
    let petition = Petition {
        kind: "petition".into(),
        id: id.as_str().to_owned(),
        state: State::Draft,
        creator: citizen.subject.as_str().to_owned(),
        title: draft.title,
        summary: draft.summary,
        text: draft.text,
        addressee: draft.addressee,
        committee_sealed: committee,
        ends_on: draft.ends_on,
        created_at: now,
        published_at: None,
        closed_at: None,
        closed_by: None,
        handed_over_at: None,
        blocked_at: None,
        block_reason: None,
        shards: 0,
        senate: false,
        senate_threshold_reached_at: None,
        flagged_at: None,
        attachments: Vec::new(),
    };
    let documents = &s.petitions.documents;
    // The creator's list entry first: a crash before the petition leaves an
    // entry the list skips, never a petition its creator cannot find.
    let mine = NewDocument::new(
        citizen.subject.as_str(),
        format!("mine-{id}"),
        json!({"type": "my-petition", "petitionId": id.as_str(), "createdAtNanos": i64::try_from(now.unix_timestamp_nanos()).unwrap_or(0)}),
    );
    if let Err(error) = documents.create(COLLECTION, mine).await {
        return store_problem(&error);
    }
    let doc = NewDocument::new(id.partition(), PETITION_DOC, serde_json::to_value(&petition).unwrap_or_default());
    if let Err(error) = documents.create(COLLECTION, doc).await {
        return store_problem(&error);
    }
    if let Err(response) =
        record(&s, &citizen.subject, Action::Create, "petition", id.as_str(), "založení petice").await
    {
        return response;
    }
    let view = match my_view(&s, &petition).await {
        Ok(view) => view,
        Err(error) => return service_problem(&error),
    };
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/me/petitions/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn edit(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>, body: JsonBody) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let petition = match own(&s, &citizen, &id).await {
        Ok(petition) => petition,
        Err(response) => return response,
    };
    if petition.state != State::Draft {
        return published_cannot_be_edited();
    }
    let body = match body_or_problem(body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let draft = match Draft::parse(&body, s.today(), s.petitions.settings.max_duration_days) {
        Ok(draft) => draft,
        Err(errors) => return Problem::validation(errors).into_response(),
    };
    let committee = match s.seal_committee(citizen.subject.as_str(), &id, &draft.committee).await {
        Ok(sealed) => sealed,
        Err(error) => return service_problem(&error),
    };
    let changed = s
        .update(&id, |p| {
            if p.state != State::Draft {
                return Err(());
            }
            p.title.clone_from(&draft.title);
            p.summary.clone_from(&draft.summary);
            p.text.clone_from(&draft.text);
            p.addressee = draft.addressee.clone();
            p.committee_sealed.clone_from(&committee);
            p.ends_on = draft.ends_on;
            Ok(())
        })
        .await;
    let petition = match changed {
        Ok(Ok(Some(petition))) => petition,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(())) => return published_cannot_be_edited(),
        Err(error) => return service_problem(&error),
    };
    if let Err(response) =
        record(&s, &citizen.subject, Action::Update, "petition", id.as_str(), "úprava návrhu petice").await
    {
        return response;
    }
    match my_view(&s, &petition).await {
        Ok(view) => Json(view).into_response(),
        Err(error) => service_problem(&error),
    }
}

enum PublishRefusal {
    State(State),
    Ended,
}

async fn publish(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    if let Err(response) = own(&s, &citizen, &id).await {
        return response;
    }
    let now = s.petitions.clock.now();
    let today = s.today();
    let settings = &s.petitions.settings;
    let shards = settings.counter_shards.clamp(1, 64);
    let changed = s
        .update(&id, |p| match p.state {
            State::Published => Ok(()),
            State::Draft if p.ends_on <= today => Err(PublishRefusal::Ended),
            State::Draft => {
                p.state = State::Published;
                p.published_at = Some(now);
                p.shards = shards;
                p.senate = settings.senate_box_id.as_deref() == Some(p.addressee.box_id.as_str());
                Ok(())
            }
            other => Err(PublishRefusal::State(other)),
        })
        .await;
    let petition = match changed {
        Ok(Ok(Some(petition))) => petition,
        Ok(Ok(None)) => return not_found(),
        Ok(Err(PublishRefusal::Ended)) => {
            return Problem::validation(vec![FieldViolation::new("endsOn", "after today: edit the draft's end date")])
                .into_response();
        }
        Ok(Err(PublishRefusal::State(state))) => return state_conflict(state),
        Err(error) => return service_problem(&error),
    };
    // The petition data are public from now on (§6a), its attachments too.
    if let Err(error) = s.open_attachments_to_public(&petition).await {
        return service_problem(&error);
    }
    let at = petition.published_at.unwrap_or(now);
    let entry = events::end_date_entry(&petition, false);
    if let Err(error) =
        events::calendar(s.petitions.queues.as_ref(), events::END_DATE, id.as_str(), &petition, at, &entry).await
    {
        return store_problem(&error);
    }
    if let Err(response) =
        record(&s, &citizen.subject, Action::Update, "petition", id.as_str(), "zveřejnění petice").await
    {
        return response;
    }
    match my_view(&s, &petition).await {
        Ok(view) => Json(view).into_response(),
        Err(error) => service_problem(&error),
    }
}

async fn close(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let petition = match s.close(&id, ClosedBy::Creator, Some(&citizen.subject)).await {
        Ok(Ok(petition)) => petition,
        Ok(Err(CloseRefusal::NotFound)) => return not_found(),
        Ok(Err(CloseRefusal::NotPublished(state))) => return state_conflict(state),
        Ok(Err(CloseRefusal::NotDue)) => return state_conflict(State::Published),
        Err(error) => return service_problem(&error),
    };
    if let Err(response) =
        record(&s, &citizen.subject, Action::Update, "petition", id.as_str(), "ukončení sběru podpisů petice").await
    {
        return response;
    }
    match my_view(&s, &petition).await {
        Ok(view) => Json(view).into_response(),
        Err(error) => service_problem(&error),
    }
}

fn sign_problem(refusal: SignRefusal) -> Response {
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
        SignRefusal::NotSigned => Problem::not_found("you have not signed this petition").into_response(),
        SignRefusal::NoDetails => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "signer-details-missing",
            "Your name and residence are not known",
        )
        .with_detail(
            "your name and residence are not known from your identity; the law (§ 4(1) of Act 85/1990 Sb.) requires \
             them for a signature: log in with an identity means that provides them",
        )
        .into_response(),
    }
}

async fn sign(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    if let Err(wait) = s.sign_limiter.check(citizen.subject.as_str()) {
        return RateLimiter::too_many(wait);
    }
    match s.sign(&id, &citizen.subject).await {
        Ok(Ok(count)) => (StatusCode::CREATED, Json(json!({"signed": true, "signatures": count}))).into_response(),
        Ok(Err(refusal)) => sign_problem(refusal),
        Err(error) => service_problem(&error),
    }
}

async fn my_signature(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    match s.load(&id).await {
        Ok(Some((petition, _))) if petition.state != State::Draft && petition.state != State::Blocked => {}
        Ok(_) => return not_found(),
        Err(error) => return service_problem(&error),
    }
    match s.has_signed(&id, &citizen.subject).await {
        Ok(signed) => Json(json!({"signed": signed})).into_response(),
        Err(error) => service_problem(&error),
    }
}

async fn withdraw(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    match s.withdraw(&id, &citizen.subject).await {
        Ok(Ok(count)) => Json(json!({"signed": false, "signatures": count})).into_response(),
        Ok(Err(refusal)) => sign_problem(refusal),
        Err(error) => service_problem(&error),
    }
}

async fn extract_for(s: &PetitionService, citizen: &Citizen, id: &str) -> Result<extract::Extract, Response> {
    let id = parse_id(id)?;
    let petition = own(s, citizen, &id).await?;
    if !matches!(petition.state, State::Closed | State::HandedOver) {
        return Err(conflict(
            "petition-not-closed",
            "The petition is not closed",
            "the extract of signatures is available once the petition is closed",
        ));
    }
    let extract = s.extract(&petition).await.map_err(|e| service_problem(&e))?;
    record(s, &citizen.subject, Action::Export, "petition-extract", id.as_str(), "stažení výpisu podpisů petice")
        .await?;
    Ok(extract)
}

fn download(content: Vec<u8>, content_type: &'static str, file_name: String) -> Response {
    let mut response = content.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

async fn extract_csv(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    match extract_for(&s, &citizen, &id).await {
        Ok(extract) => download(extract::csv(&extract), "text/csv; charset=utf-8", format!("petice-{id}.csv")),
        Err(response) => response,
    }
}

async fn extract_pdf(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    match extract_for(&s, &citizen, &id).await {
        Ok(extract) => {
            let pdf = extract::pdf(&extract, s.petitions.clock.now());
            download(pdf, "application/pdf", format!("petice-{id}.pdf"))
        }
        Err(response) => response,
    }
}

async fn hand_over(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    match s.hand_over(&id, &citizen.subject).await {
        Ok(Ok(petition)) => (
            StatusCode::ACCEPTED,
            Json(json!({
                "id": petition.id, "state": petition.state.as_str(),
                "handedOverAt": rfc3339_opt(petition.handed_over_at), "requestId": request_id(&id),
                "addressee": petition.addressee,
            })),
        )
            .into_response(),
        Ok(Err(HandOverRefusal::NotFound)) => not_found(),
        Ok(Err(HandOverRefusal::NotClosed(state))) => conflict(
            "petition-not-closed",
            "The petition is not closed",
            format!("only a closed petition can be handed over; it is {}", state.as_str()),
        ),
        Ok(Err(HandOverRefusal::TooLarge { bytes, limit })) => hand_over_too_large(
            format!("together at most {} MB (these are {:.1} MB)", limit / 1_000_000, bytes as f64 / 1_000_000.0),
            "the extract of signatures and the attachments are too large for one data message",
        ),
        Ok(Err(HandOverRefusal::TooManyFiles { files, limit })) => hand_over_too_large(
            format!("at most {limit} files with the extract (these are {files})"),
            "the extract of signatures and the attachments are too many files for one data message",
        ),
        Err(error) => service_problem(&error),
    }
}

/// 422: the data box could not send the hand-over (ISDS's limits).
fn hand_over_too_large(rule: String, detail: &str) -> Response {
    let mut problem = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "hand-over-too-large",
        "The petition cannot be sent as one data message",
    )
    .with_detail(format!(
        "{detail}; download the extract and deliver the petition to the addressee another way (in person or by post)"
    ));
    problem.errors = vec![FieldViolation::new("attachments", rule)];
    problem.into_response()
}

async fn list_mine(AxumState(s): AxumState<Shared>, citizen: Citizen) -> Response {
    let query = portal_store::Query::default()
        .filter("type", FilterOp::Eq, "my-petition")
        .order_by("createdAtNanos", Order::Descending)
        .page_size(1000);
    let docs = match s.petitions.documents.query(COLLECTION, citizen.subject.as_str(), query).await {
        Ok(page) => page.items,
        Err(error) => return store_problem(&error),
    };
    let mut items = Vec::new();
    for doc in docs {
        let Some(id) = doc.body["petitionId"].as_str().and_then(PetitionId::parse) else { continue };
        match s.load(&id).await {
            Ok(Some((petition, _))) if petition.creator == citizen.subject.as_str() => {
                match my_view(&s, &petition).await {
                    Ok(view) => items.push(view),
                    Err(error) => return service_problem(&error),
                }
            }
            Ok(_) => {}
            Err(error) => return service_problem(&error),
        }
    }
    if let Err(response) =
        record(&s, &citizen.subject, Action::Read, "petition-list", "mine", "seznam mých petic").await
    {
        return response;
    }
    Json(json!({"items": items})).into_response()
}

async fn show_mine(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let petition = match own(&s, &citizen, &id).await {
        Ok(petition) => petition,
        Err(response) => return response,
    };
    let view = match my_view(&s, &petition).await {
        Ok(view) => view,
        Err(error) => return service_problem(&error),
    };
    if let Err(response) =
        record(&s, &citizen.subject, Action::Read, "petition", id.as_str(), "zobrazení mé petice").await
    {
        return response;
    }
    Json(view).into_response()
}

// --------------------------------------------------------------- officials

fn official(s: &PetitionService, citizen: &Citizen) -> Result<(), Response> {
    if s.is_official(&citizen.subject) {
        return Ok(());
    }
    tracing::warn!("a citizen who is not an official asked for the officials' petition routes");
    Err(Problem::new(StatusCode::FORBIDDEN, "not-an-official", "Not allowed")
        .with_detail("this is for officials of the Ministry of the Interior only")
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OfficialListParams {
    state: Option<String>,
    flagged: Option<bool>,
    page_size: Option<u32>,
    continuation: Option<String>,
}

async fn official_list(
    AxumState(s): AxumState<Shared>,
    citizen: Citizen,
    params: Result<Query<OfficialListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(response) = official(&s, &citizen) {
        return response;
    }
    let Ok(Query(params)) = params else {
        return Problem::validation(vec![FieldViolation::new(
            "query",
            "state, flagged (true/false), pageSize, continuation",
        )])
        .into_response();
    };
    let mut filters = Vec::new();
    if let Some(state) = params.state.as_deref() {
        match State::parse(state) {
            Some(state) if state != State::Draft => filters.push(("state", Value::from(state.as_str()))),
            _ => {
                return Problem::validation(vec![FieldViolation::new(
                    "state",
                    "published, closed, handed-over or blocked",
                )])
                .into_response();
            }
        }
    }
    if let Some(flagged) = params.flagged {
        filters.push(("flagged", Value::from(flagged)));
    }
    let page_size = params.page_size.unwrap_or(50);
    if !(1..=100).contains(&page_size) {
        return Problem::validation(vec![FieldViolation::new("pageSize", "1-100")]).into_response();
    }
    tracing::info!(official = %officials::fingerprint(&citizen.subject), action = "list", "official action");
    match entries(&s, filters, Sort::Newest, page_size, params.continuation, true).await {
        Ok(body) => Json(body).into_response(),
        Err(response) => response,
    }
}

#[derive(Debug, Deserialize)]
struct StatsParams {
    format: Option<String>,
}

async fn official_stats(
    AxumState(s): AxumState<Shared>,
    citizen: Citizen,
    Query(params): Query<StatsParams>,
) -> Response {
    if let Err(response) = official(&s, &citizen) {
        return response;
    }
    tracing::info!(official = %officials::fingerprint(&citizen.subject), action = "stats", "official action");
    let stats = match s.stats().await {
        Ok(stats) => stats,
        Err(error) => return service_problem(&error),
    };
    match params.format.as_deref() {
        None | Some("json") => Json(stats).into_response(),
        Some("csv") => {
            download(officials::stats_csv(&stats), "text/csv; charset=utf-8", "petice-statistiky.csv".into())
        }
        Some(_) => Problem::validation(vec![FieldViolation::new("format", "json or csv")]).into_response(),
    }
}

fn block_problem(refusal: BlockRefusal) -> Response {
    match refusal {
        BlockRefusal::NotFound => not_found(),
        BlockRefusal::WrongState(state) => state_conflict(state),
    }
}

async fn block(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>, body: JsonBody) -> Response {
    if let Err(response) = official(&s, &citizen) {
        return response;
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let body = match body_or_problem(body) {
        Ok(body) => body,
        Err(response) => return response,
    };
    let reason = body["reason"].as_str().map(str::trim).unwrap_or("");
    let length = reason.chars().count();
    if !(MIN_REASON..=MAX_REASON).contains(&length) || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Problem::validation(vec![FieldViolation::new(
            "reason",
            format!("the written reason: {MIN_REASON}-{MAX_REASON} characters"),
        )])
        .into_response();
    }
    match s.block(&id, &citizen.subject, reason).await {
        Ok(Ok(petition)) => Json(json!({"id": petition.id, "state": petition.state.as_str(), "blockedAt": rfc3339_opt(petition.blocked_at), "reason": petition.block_reason})).into_response(),
        Ok(Err(refusal)) => block_problem(refusal),
        Err(error) => service_problem(&error),
    }
}

async fn unblock(AxumState(s): AxumState<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    if let Err(response) = official(&s, &citizen) {
        return response;
    }
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    match s.unblock(&id, &citizen.subject).await {
        Ok(Ok(petition)) => Json(json!({"id": petition.id, "state": petition.state.as_str()})).into_response(),
        Ok(Err(refusal)) => block_problem(refusal),
        Err(error) => service_problem(&error),
    }
}
