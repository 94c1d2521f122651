//! The HTTP functions, queue functions and timer of filings. Every route
//! needs a session; another citizen's filing id answers 404.

use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use portal_events::Event;
use portal_host::{AuthLevel, FieldViolation, Function, InvocationError, Outcome, Problem, QueueInvocation};
use portal_security::{AccessEntry, Action, Actor, Citizen};
use serde::Deserialize;
use serde_json::{Value, json};

use super::licence::{self, Application, Reason, SettleMessage};
use super::register_writes;
use super::submission::{self, SOURCE};
use super::{
    FilingError, FilingStatus, RECORD_FUNCTION, announce_and_mark, create, deadlines, load, new_id, open_data,
    parse_filing_id, save, seal_data,
};
use crate::Registers;
use crate::gateway::{FilingSubmission, GatewayError};
use crate::payments::PaymentError;

type Shared = Arc<Registers>;

pub(crate) fn functions(s: &Shared) -> Vec<Function> {
    let (record_state, settle_state, timer_state) = (s.clone(), s.clone(), s.clone());
    let photo_limit = s.settings.photo_rules.max_bytes.saturating_add(256 * 1024);
    vec![
        Function::http("ListFilings", "filings", AuthLevel::Anonymous).get(list).with_state(s.clone()).build(),
        Function::http("ShowFiling", "filings/{id}", AuthLevel::Anonymous).get(show).with_state(s.clone()).build(),
        Function::http("RequestRegisterWrite", "filings/register-writes", AuthLevel::Anonymous)
            .post(register_write)
            .with_state(s.clone())
            .build(),
        Function::http("ApplyForDrivingLicence", "filings/driving-licence", AuthLevel::Anonymous)
            .post(driving_licence)
            .with_body_limit(photo_limit)
            .with_state(s.clone())
            .build(),
        Function::http("UrgeFiling", "filings/{id}/urge", AuthLevel::Anonymous)
            .post(urge)
            .with_state(s.clone())
            .build(),
        Function::http("SettleSimulatedFilingPayment", "filings/{id}/simulated-payment", AuthLevel::Anonymous)
            .post(simulated_payment)
            .with_state(s.clone())
            .build(),
        Function::queue(RECORD_FUNCTION, portal_events::FILINGS_QUEUE, move |invocation: QueueInvocation<Event>| {
            let registers = record_state.clone();
            async move { super::record_filing(&registers, &invocation.message).await }
        }),
        Function::queue(
            licence::SETTLE_FUNCTION,
            licence::SETTLE_QUEUE,
            move |invocation: QueueInvocation<SettleMessage>| {
                let registers = settle_state.clone();
                async move { licence::settle_filing_payment(&registers, &invocation.message).await }
            },
        ),
        Function::timer(deadlines::FUNCTION, deadlines::SCHEDULE, move |_| {
            let registers = timer_state.clone();
            async move {
                let report = deadlines::check_filing_deadlines(&registers).await.map_err(|error| {
                    if error.is_retryable() {
                        InvocationError::retryable(error)
                    } else {
                        InvocationError::permanent(error)
                    }
                })?;
                Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
            }
        }),
    ]
}

fn bad_input(errors: Vec<FieldViolation>) -> Response {
    let mut problem = Problem::validation(errors);
    problem.status = StatusCode::BAD_REQUEST.as_u16();
    problem.into_response()
}

fn invalid(field: &str, rule: impl Into<String>) -> Response {
    bad_input(vec![FieldViolation::new(field, rule)])
}

fn not_found() -> Response {
    Problem::not_found("no such filing").into_response()
}

fn filing_problem(error: &FilingError) -> Response {
    match error {
        FilingError::Payment(PaymentError::NotConnected) => {
            return Problem::unavailable("payments are not connected yet").into_response();
        }
        FilingError::Payment(PaymentError::Unavailable(_)) => {
            tracing::warn!(error = %portal_host::runtime::error_chain(error), "the payment gateway is unavailable");
            return Problem::unavailable("the payment gateway").into_response();
        }
        FilingError::Gateway(GatewayError::Unavailable(_)) => {
            tracing::warn!(error = %portal_host::runtime::error_chain(error), "the registers gateway is unavailable");
            return Problem::unavailable("the registers").into_response();
        }
        _ => {}
    }
    tracing::error!(error = %portal_host::runtime::error_chain(error), "a filing request failed");
    match error {
        FilingError::Store(_) | FilingError::Contended => Problem::unavailable("storage").into_response(),
        FilingError::Crypto(e) if e.is_retryable() => Problem::unavailable("the key service").into_response(),
        _ => Problem::internal().into_response(),
    }
}

async fn log(
    registers: &Registers,
    citizen: &Citizen,
    action: Action,
    id: &str,
    purpose: &str,
) -> Result<(), Response> {
    let entry = AccessEntry::new(Actor::Citizen, action, "filing", id, purpose);
    registers.access_log.record(&citizen.subject, entry).await.map_err(|error| {
        tracing::error!(error = %portal_host::runtime::error_chain(&error), "access log failure");
        Problem::unavailable("storage").into_response()
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    page_size: Option<String>,
    continuation: Option<String>,
}

/// `GET /api/filings`: newest first, `pageSize` 1–100 (20), `continuation`.
async fn list(
    State(registers): State<Shared>,
    citizen: Citizen,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else { return invalid("query", "pageSize and continuation only") };
    let page_size = match params.page_size.as_deref().map(str::parse::<u32>) {
        None => 20,
        Some(Ok(size @ 1..=100)) => size,
        Some(_) => return invalid("pageSize", "a whole number from 1 to 100"),
    };
    let (filings, continuation) =
        match super::list(&registers, citizen.subject.as_str(), page_size, params.continuation).await {
            Ok(page) => page,
            Err(FilingError::Store(portal_store::StoreError::Invalid(_))) => {
                return invalid("continuation", "the token from the previous page, unchanged");
            }
            Err(error) => return filing_problem(&error),
        };
    if let Err(response) = log(&registers, &citizen, Action::Read, "list", "přehled mých podání").await {
        return response;
    }
    let now = registers.clock.now();
    let items: Vec<Value> = filings.iter().map(|f| f.summary(now)).collect();
    Json(json!({"items": items, "continuation": continuation})).into_response()
}

/// The kind-specific data as the citizen may see it again (without the
/// certificate's bytes and the photo's).
fn data_view(submission: &FilingSubmission) -> Value {
    let mut value = serde_json::to_value(submission).unwrap_or_default();
    let mut data = value["data"].take();
    if let Some(object) = data.as_object_mut() {
        object.remove("certificate");
        object.remove("photo");
    }
    if let FilingSubmission::DeliveryAddress(address) = submission {
        data["formatted"] = json!(address.formatted());
    }
    if let FilingSubmission::DrivingLicence(_) = submission {
        data["delivery"] = json!("pickup");
    }
    data
}

/// `GET /api/filings/{id}`: the filing with its history, after asking the
/// agency how it stands.
async fn show(State(registers): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let Some(id) = parse_filing_id(&id) else { return not_found() };
    let filing = match submission::refresh(&registers, &citizen.subject, &id).await {
        Ok(Some(filing)) => filing,
        Ok(None) => return not_found(),
        Err(error) => return filing_problem(&error),
    };
    let data = match open_data::<FilingSubmission>(&registers, citizen.subject.as_str(), &filing).await {
        Ok(data) => data.as_ref().map(data_view),
        Err(FilingError::Corrupt(_)) => None,
        Err(error) => return filing_problem(&error),
    };
    if let Err(response) = log(&registers, &citizen, Action::Read, &id, "detail podání").await {
        return response;
    }
    let mut view = filing.summary(registers.clock.now());
    view["statusHistory"] = json!(filing.status_history);
    view["attachments"] = json!(
        filing
            .attachments
            .iter()
            .map(|a| json!({"name": a.name, "mediaType": a.media_type, "size": a.size}))
            .collect::<Vec<_>>()
    );
    if let Some(data) = data {
        view["data"] = data;
    }
    Json(view).into_response()
}

/// The agency the portal names until the gateway's receipt names the real one.
fn provisional_agency(kind: &str) -> portal_events::FilingAgency {
    let name = match kind {
        "qualified-certificate" => "Správce registru obyvatel (Ministerstvo vnitra)",
        _ => "Ohlašovna / správce registru obyvatel (Ministerstvo vnitra)",
    };
    portal_events::FilingAgency { name: name.to_owned(), box_id: None }
}

/// `POST /api/filings/register-writes`: validated, recorded, filed through
/// the gateway at once.
async fn register_write(
    State(registers): State<Shared>,
    citizen: Citizen,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let body = body.map(|Json(body)| body).unwrap_or(Value::Null);
    let now = registers.clock.now();
    let write = match register_writes::parse(&body, now) {
        Ok(write) => write,
        Err(errors) => return bad_input(errors),
    };
    let subject = citizen.subject.as_str();
    let id = new_id();
    let kind = write.submission.kind();
    let mut filing = super::Filing::new(
        &id,
        kind,
        &write.title,
        provisional_agency(kind),
        FilingStatus::Submitted,
        now,
        SOURCE,
        &id,
        registers.settings.simulated,
    );
    if let Err(error) = seal_data(&registers, subject, &mut filing, &write.submission).await {
        return filing_problem(&error);
    }
    let etag = match create(&registers, subject, &filing).await {
        Ok(etag) => etag,
        Err(error) => return filing_problem(&error),
    };
    match submission::ensure_sent(&registers, &citizen.subject, &mut filing).await {
        Ok(_) => {}
        Err(error) => {
            // Nothing reached the agency: take the filing back, the citizen tries again.
            let _ = registers.documents.delete(crate::COLLECTION, subject, &super::doc_id(&id), None).await;
            return filing_problem(&error);
        }
    }
    if let Err(error) = submission::progress(&registers, &citizen.subject, &mut filing).await {
        tracing::warn!(error = %error, "the new filing's progress could not be read; it is read on the next look");
    }
    match save(&registers, subject, &filing, &etag).await {
        Ok(_) => {}
        // Someone refreshed it meanwhile (the same receipt): theirs stands.
        Err(FilingError::Contended) => {}
        Err(error) => return filing_problem(&error),
    }
    if let Err(error) = announce_and_mark(&registers, subject, &mut filing).await {
        tracing::warn!(error = %error, "the filing's deadline could not be put in the calendar; the next look does it");
    }
    if let Err(response) = log(&registers, &citizen, Action::Create, &id, &format!("podání: {}", filing.title)).await
    {
        return response;
    }
    (StatusCode::CREATED, Json(filing.summary(now))).into_response()
}

/// `POST /api/filings/{id}/urge`: the reminder, once.
async fn urge(State(registers): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let Some(id) = parse_filing_id(&id) else { return not_found() };
    match deadlines::urge(&registers, &citizen.subject, &id).await {
        Ok(Ok(filing)) => {
            let mut view = filing.summary(registers.clock.now());
            view["urgeRequestId"] = json!(deadlines::urge_request_id(&filing.id));
            (StatusCode::ACCEPTED, Json(view)).into_response()
        }
        Ok(Err(deadlines::UrgeRefusal::NotFound)) => not_found(),
        Ok(Err(refusal)) => {
            let kind = match refusal {
                deadlines::UrgeRefusal::NotYet(_) => "deadline-not-passed",
                deadlines::UrgeRefusal::NoDataBox => "agency-without-data-box",
                deadlines::UrgeRefusal::Final => "filing-decided",
                _ => "no-legal-deadline",
            };
            Problem::new(StatusCode::CONFLICT, kind, "A reminder cannot be sent now")
                .with_detail(refusal.detail())
                .into_response()
        }
        Err(error) => filing_problem(&error),
    }
}

#[derive(Debug, Deserialize)]
struct SettleBody {
    paid: bool,
}

/// `POST /api/filings/{id}/simulated-payment` `{paid}`: local mode only
/// (SIMULATOR): settles the simulated payment and queues the settlement.
async fn simulated_payment(
    State(registers): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: Result<Json<SettleBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(gateway) = &registers.simulated_payments else {
        return Problem::not_found("payments are not simulated here").into_response();
    };
    let Some(id) = parse_filing_id(&id) else { return not_found() };
    let Ok(Json(body)) = body else { return invalid("paid", "required, true or false") };
    let payment = match load(&registers, citizen.subject.as_str(), &id).await {
        Ok(Some((filing, _))) => filing.payment,
        Ok(None) => return not_found(),
        Err(error) => return filing_problem(&error),
    };
    let Some(payment) = payment else { return Problem::not_found("this filing has no payment").into_response() };
    if gateway.settle(&payment.id, body.paid).is_err() {
        return Problem::not_found("no such payment").into_response();
    }
    if let Err(error) = licence::queue_settlement(&registers, &citizen.subject, &id).await {
        return filing_problem(&FilingError::Store(error));
    }
    if let Err(response) = log(&registers, &citizen, Action::Update, &id, "simulovaná platba poplatku").await {
        return response;
    }
    (StatusCode::ACCEPTED, Json(json!({"settled": body.paid, "simulated": true}))).into_response()
}

fn multipart_problem(error: &MultipartError) -> Response {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        invalid("photo", "must be at most 5 MB")
    } else {
        Problem::bad_request("the multipart body is malformed").into_response()
    }
}

async fn read_limited(field: &mut Field<'_>, max: usize) -> Result<Bytes, Response> {
    let mut content = BytesMut::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if content.len().saturating_add(chunk.len()) > max {
                    return Err(invalid("photo", format!("must be at most {} MB ({max} bytes)", max / (1024 * 1024))));
                }
                content.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(content.freeze()),
            Err(error) => return Err(multipart_problem(&error)),
        }
    }
}

/// `POST /api/filings/driving-licence` (multipart): `photo`, `reason`,
/// `delivery` (`pickup`), `officeCode`.
async fn driving_licence(
    State(registers): State<Shared>,
    citizen: Citizen,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Ok(mut multipart) = multipart else {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "multipart-required",
            "Send the application as multipart/form-data",
        )
        .into_response();
    };
    let rules = registers.settings.photo_rules;
    let (mut photo, mut declared, mut reason, mut delivery, mut office) = (None, None, None, None, None);
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return multipart_problem(&error),
        };
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "photo" => {
                declared =
                    field.content_type().map(|t| t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
                match read_limited(&mut field, rules.max_bytes).await {
                    Ok(bytes) => photo = Some(bytes),
                    Err(response) => return response,
                }
            }
            "reason" | "delivery" | "officeCode" => {
                let text = match field.text().await {
                    Ok(text) => text.trim().to_owned(),
                    Err(error) => return multipart_problem(&error),
                };
                match name.as_str() {
                    "reason" => reason = Some(text),
                    "delivery" => delivery = Some(text),
                    _ => office = Some(text),
                }
            }
            other => return invalid(other, "unknown field; send photo, reason, delivery and officeCode"),
        }
    }
    let mut errors = Vec::new();
    let photo = match photo {
        None => {
            errors.push(FieldViolation::new("photo", "required: a JPEG photo 35 × 45 mm (at least 413 × 531 pixels)"));
            None
        }
        Some(_)
            if declared
                .as_deref()
                .is_some_and(|t| !matches!(t, "image/jpeg" | "image/pjpeg" | "application/octet-stream")) =>
        {
            errors.push(FieldViolation::new("photo", "must be a JPEG image (image/jpeg)"));
            None
        }
        Some(bytes) => match super::jpeg::check(&bytes, &rules) {
            Ok(info) => Some((bytes, info)),
            Err(rule) => {
                errors.push(FieldViolation::new("photo", rule));
                None
            }
        },
    };
    let reason = match reason.as_deref().map(Reason::parse) {
        Some(Some(reason)) => Some(reason),
        _ => {
            errors.push(FieldViolation::new("reason", Reason::RULE));
            None
        }
    };
    if delivery.as_deref().is_some_and(|d| !d.is_empty() && d != "pickup") {
        errors.push(FieldViolation::new("delivery", licence::DELIVERY_RULE));
    }
    let office = match office.as_deref().map(licence::parse_office_code) {
        Some(Some(code)) => Some(code),
        _ => {
            errors.push(FieldViolation::new("officeCode", licence::OFFICE_RULE));
            None
        }
    };
    let (Some((photo, photo_info)), Some(reason), Some(office_code), true) = (photo, reason, office, errors.is_empty())
    else {
        return bad_input(errors);
    };
    let application = Application { reason, office_code, photo, photo_info };
    let filing = match licence::apply(&registers, &citizen.subject, application).await {
        Ok(filing) => filing,
        Err(error) => return filing_problem(&error),
    };
    if let Err(response) =
        log(&registers, &citizen, Action::Create, &filing.id, "žádost o vydání řidičského průkazu").await
    {
        return response;
    }
    let now = registers.clock.now();
    let mut view = filing.summary(now);
    match &filing.payment {
        Some(payment) if filing.status == FilingStatus::AwaitingPayment => {
            view["payUrl"] = json!(payment.pay_url);
            (StatusCode::ACCEPTED, Json(view)).into_response()
        }
        _ => (StatusCode::CREATED, Json(view)).into_response(),
    }
}
