// Helpers here return `Result<_, Response>`: the error is the finished
// problem response, built once at the edge; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use portal_host::{AuthLevel, FieldViolation, Function, InvocationError, Outcome, Problem, QueueInvocation};
use portal_security::{AccessEntry, AccessOutcome, Action, Actor, Citizen};
use portal_store::{FilterOp, NewDocument, Order, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::credit::{self, Purchase, PurchaseMessage, PurchaseState};
use crate::isds::{BoxId, BoxSearch, Direction, IsdsError, ListQuery, MessageEnvelope, MessageId, MessageStatus};
use crate::validate::{self, SendRequest};
use crate::{COLLECTION, Databox, LinkError, archive, warnings};

type Shared = Arc<Databox>;

pub fn functions(databox: Shared) -> Vec<Function> {
    let s = databox;
    let upload_limit = usize::try_from(s.settings.max_message_bytes).unwrap_or(usize::MAX).saturating_add(1_000_000);
    let (archive_state, warn_state, credit_state) = (s.clone(), s.clone(), s.clone());
    let on_behalf_state = s.clone();
    let erasure_state = s.clone();
    vec![
        Function::http("ListDataMessages", "databox/messages", AuthLevel::Anonymous)
            .get(list)
            .with_state(s.clone())
            .build(),
        Function::http("SendDataMessage", "databox/messages", AuthLevel::Anonymous)
            .post(send)
            .with_body_limit(upload_limit)
            .with_state(s.clone())
            .build(),
        Function::http("ShowDataMessage", "databox/messages/{folder}/{id}", AuthLevel::Anonymous)
            .get(show)
            .with_state(s.clone())
            .build(),
        Function::http(
            "DownloadAttachment",
            "databox/messages/{folder}/{id}/attachments/{index}",
            AuthLevel::Anonymous,
        )
        .get(attachment)
        .with_state(s.clone())
        .build(),
        Function::http("DownloadZfo", "databox/messages/{folder}/{id}/zfo", AuthLevel::Anonymous)
            .get(zfo)
            .with_state(s.clone())
            .build(),
        Function::http("MarkDataMessageRead", "databox/messages/received/{id}/read", AuthLevel::Anonymous)
            .post(mark_read)
            .with_state(s.clone())
            .build(),
        Function::http("DataBoxInfo", "databox/box", AuthLevel::Anonymous).get(box_info).with_state(s.clone()).build(),
        Function::http("FindDataBoxes", "databox/directory", AuthLevel::Anonymous)
            .get(find)
            .with_state(s.clone())
            .build(),
        Function::http("DataBoxSettings", "databox/settings", AuthLevel::Anonymous)
            .put(put_settings)
            .with_state(s.clone())
            .build(),
        Function::http("RequestDataBox", "databox/box-requests", AuthLevel::Anonymous)
            .post(request_box)
            .with_state(s.clone())
            .build(),
        Function::http("ShowDataBoxRequest", "databox/box-requests/{id}", AuthLevel::Anonymous)
            .get(show_box_request)
            .with_state(s.clone())
            .build(),
        Function::http("BuyCredit", "databox/credit/purchases", AuthLevel::Anonymous)
            .post(buy_credit)
            .with_state(s.clone())
            .build(),
        Function::http("ShowCreditPurchase", "databox/credit/purchases/{id}", AuthLevel::Anonymous)
            .get(show_purchase)
            .with_state(s.clone())
            .build(),
        Function::http(
            "SettleSimulatedPayment",
            "databox/credit/purchases/{id}/simulated-payment",
            AuthLevel::Anonymous,
        )
        .post(settle_simulated_payment)
        .with_state(s.clone())
        .build(),
        Function::http("ArchiveMyMessages", "databox/archive", AuthLevel::Anonymous)
            .post(archive_now)
            .with_state(s.clone())
            .build(),
        Function::http("ArchiveJobStatus", "databox/jobs/archive", AuthLevel::Function)
            .get(archive_status)
            .with_state(s.clone())
            .build(),
        Function::timer("ArchiveExpiringMessages", archive::SCHEDULE, move |_| {
            let databox = archive_state.clone();
            async move {
                let report = archive::run(&databox).await.map_err(|error| {
                    if error.is_retryable() {
                        InvocationError::retryable(error)
                    } else {
                        InvocationError::permanent(error)
                    }
                })?;
                Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
            }
        }),
        Function::timer("WarnBeforeDeemedDelivery", warnings::SCHEDULE, move |_| {
            let databox = warn_state.clone();
            async move {
                let report = warnings::run(&databox).await.map_err(|error| {
                    if error.is_retryable() {
                        InvocationError::retryable(error)
                    } else {
                        InvocationError::permanent(error)
                    }
                })?;
                Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
            }
        }),
        Function::queue("PurchaseCredit", credit::QUEUE, move |invocation: QueueInvocation<PurchaseMessage>| {
            let databox = credit_state.clone();
            async move { credit::purchase_credit(&databox, &invocation.message).await }
        }),
        Function::queue(
            crate::on_behalf::FUNCTION,
            portal_events::DATA_MESSAGES_QUEUE,
            move |invocation: QueueInvocation<portal_events::Event>| {
                let databox = on_behalf_state.clone();
                async move { crate::on_behalf::send_on_behalf(&databox, &invocation.message).await }
            },
        ),
        Function::queue(
            crate::erasure::FUNCTION,
            portal_events::ERASE_DATABOX_QUEUE,
            move |invocation: QueueInvocation<portal_events::Event>| {
                let databox = erasure_state.clone();
                async move { crate::erasure::erase(&databox, &invocation.message).await }
            },
        ),
    ]
}

fn problem_from_store(error: &StoreError) -> Response {
    tracing::error!(error = %error, "store failure");
    Problem::unavailable("storage").into_response()
}

fn isds_problem(error: &IsdsError) -> Response {
    match error {
        IsdsError::NotFound => Problem::not_found("no such data message in your box").into_response(),
        IsdsError::Refused { code, message } => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "isds-refused", "ISDS refused the request")
                .with_detail(format!("{message} (ISDS code {code})"))
                .into_response()
        }
        IsdsError::Invalid(rule) => {
            Problem::validation(vec![FieldViolation::new("request", rule.clone())]).into_response()
        }
        IsdsError::Unavailable(_) | IsdsError::Protocol(_) => {
            tracing::error!(error = %portal_host::runtime::error_chain(error), "ISDS call failed");
            Problem::unavailable("the data box system (ISDS)").into_response()
        }
    }
}

fn link_problem(error: &LinkError) -> Response {
    match error {
        LinkError::NoBox => {
            Problem::not_found("no data box is linked to you; you can request one at /api/databox/box-requests")
                .into_response()
        }
        LinkError::Store(error) => problem_from_store(error),
    }
}

async fn record(
    databox: &Databox,
    citizen: &Citizen,
    action: Action,
    kind: &str,
    id: &str,
    purpose: &str,
    ok: bool,
) -> Result<(), Response> {
    let mut entry = AccessEntry::new(Actor::Citizen, action, kind, id, purpose);
    if !ok {
        entry = entry.with_outcome(AccessOutcome::Failed);
    }
    databox.access_log.record(&citizen.subject, entry).await.map_err(|e| problem_from_store(&e))
}

fn with_simulated(databox: &Databox, mut value: Value) -> Value {
    if databox.settings.simulated
        && let Some(object) = value.as_object_mut()
    {
        object.insert("simulated".into(), Value::from(true));
        object
            .insert("notice".into(), Value::from("SIMULATOR: these data come from the ISDS simulator, not from ISDS"));
    }
    value
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Folder {
    Received,
    Sent,
    Archived,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    folder: Option<Folder>,
    #[serde(default)]
    unread: bool,
    sender: Option<String>,
    q: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<OffsetDateTime>,
    page: Option<u32>,
    page_size: Option<u32>,
}

fn envelope_json(envelope: &MessageEnvelope) -> Value {
    let mut value = serde_json::to_value(envelope).unwrap_or_default();
    value["unread"] = Value::from(matches!(
        envelope.status,
        MessageStatus::Delivered | MessageStatus::DeemedDelivered | MessageStatus::AcceptedByLogin
    ));
    value
}

async fn list(
    State(databox): State<Shared>,
    citizen: Citizen,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return Problem::validation(vec![FieldViolation::new(
            "query",
            "folder is received|sent|archived; from/to are RFC 3339 times; page and pageSize numbers",
        )])
        .into_response();
    };
    let page = params.page.unwrap_or(1).max(1);
    let page_size = params.page_size.unwrap_or(20);
    if !(1..=100).contains(&page_size) {
        return Problem::validation(vec![FieldViolation::new("pageSize", "must be 1-100")]).into_response();
    }
    let folder = params.folder.unwrap_or(Folder::Received);
    let items: Vec<Value> = if folder == Folder::Archived {
        let query = portal_store::Query::default()
            .filter("type", FilterOp::Eq, "archived-message")
            .order_by("archivedAtNanos", Order::Descending)
            .page_size(1000);
        let docs = match databox.documents.query(COLLECTION, citizen.subject.as_str(), query).await {
            Ok(page) => page.items,
            Err(error) => return problem_from_store(&error),
        };
        let mut items = Vec::new();
        for doc in docs {
            let id = doc.body["messageId"].as_str().unwrap_or_default().to_owned();
            match archive::load(&databox, &citizen.subject, &id).await {
                Ok(Some((envelope, _, _))) => items.push(envelope),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(error = %error, "an archived message could not be opened");
                    return Problem::internal().into_response();
                }
            }
        }
        items.iter().map(envelope_json).collect()
    } else {
        let box_id = match databox.box_of(&citizen.subject).await {
            Ok(id) => id,
            Err(error) => return link_problem(&error),
        };
        let direction = if folder == Folder::Sent { Direction::Sent } else { Direction::Received };
        let query = ListQuery { from: params.from, to: params.to, statuses: Vec::new(), offset: 1, limit: 1000 };
        match databox.isds.list_messages(&box_id, direction, &query).await {
            Ok(list) => list.iter().map(envelope_json).collect(),
            Err(error) => return isds_problem(&error),
        }
    };
    let sender = params.sender.map(|s| s.to_lowercase());
    let text = params.q.map(|s| s.to_lowercase());
    let mut filtered: Vec<Value> = items
        .into_iter()
        .filter(|m| !params.unread || m["unread"] == true)
        .filter(|m| {
            sender.as_ref().is_none_or(|s| {
                m["senderName"].as_str().unwrap_or("").to_lowercase().contains(s)
                    || m["senderBox"].as_str() == Some(s.as_str())
            })
        })
        .filter(|m| text.as_ref().is_none_or(|t| m["subject"].as_str().unwrap_or("").to_lowercase().contains(t)))
        .filter(|m| folder != Folder::Archived || in_range(m, params.from, params.to))
        .collect();
    filtered.sort_by(|a, b| b["deliveryTime"].as_str().cmp(&a["deliveryTime"].as_str()));
    let total = filtered.len();
    let start = ((page - 1) as usize).saturating_mul(page_size as usize);
    let items: Vec<Value> = filtered.into_iter().skip(start).take(page_size as usize).collect();
    if let Err(response) = record(
        &databox,
        &citizen,
        Action::Read,
        "data-message-list",
        folder_name(folder),
        "list my data messages",
        true,
    )
    .await
    {
        return response;
    }
    Json(with_simulated(
        &databox,
        json!({"folder": folder_name(folder), "page": page, "pageSize": page_size, "total": total, "items": items}),
    ))
    .into_response()
}

fn in_range(message: &Value, from: Option<OffsetDateTime>, to: Option<OffsetDateTime>) -> bool {
    let Some(at) = message["deliveryTime"]
        .as_str()
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
    else {
        return from.is_none() && to.is_none();
    };
    from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t)
}

fn folder_name(folder: Folder) -> &'static str {
    match folder {
        Folder::Received => "received",
        Folder::Sent => "sent",
        Folder::Archived => "archived",
    }
}

fn parse_path(folder: &str, id: &str) -> Result<(Folder, MessageId), Response> {
    let folder = match folder {
        "received" => Folder::Received,
        "sent" => Folder::Sent,
        "archived" => Folder::Archived,
        _ => return Err(Problem::not_found("folders are received, sent and archived").into_response()),
    };
    let id =
        MessageId::parse(id).map_err(|_| Problem::not_found("no such data message in your box").into_response())?;
    Ok((folder, id))
}

/// A message as the folder holds it: from ISDS (received, sent) or from the
/// archive. Attachments come back with their content.
struct Opened {
    envelope: MessageEnvelope,
    files: Vec<(String, String, Bytes)>,
    zfo: Bytes,
}

async fn open(databox: &Databox, citizen: &Citizen, folder: Folder, id: &MessageId) -> Result<Opened, Response> {
    if folder == Folder::Archived {
        let (envelope, files, zfo_path) = match archive::load(databox, &citizen.subject, id.as_str()).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(Problem::not_found("no such data message in your archive").into_response()),
            Err(error) => {
                tracing::error!(error = %error, "archive read failed");
                return Err(Problem::internal().into_response());
            }
        };
        let mut opened = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let content =
                archive::open_blob(databox, &citizen.subject, id.as_str(), &format!("attachment-{i}"), &file.blob)
                    .await
                    .map_err(|_| Problem::internal().into_response())?;
            opened.push((file.name.clone(), file.mime_type.clone(), Bytes::from(content)));
        }
        let zfo = archive::open_blob(databox, &citizen.subject, id.as_str(), archive::ZFO_FIELD, &zfo_path)
            .await
            .map_err(|_| Problem::internal().into_response())?;
        return Ok(Opened { envelope, files: opened, zfo: Bytes::from(zfo) });
    }
    let box_id = databox.box_of(&citizen.subject).await.map_err(|e| link_problem(&e))?;
    let direction = if folder == Folder::Sent { Direction::Sent } else { Direction::Received };
    let message = databox.isds.download_message(&box_id, direction, id).await.map_err(|e| isds_problem(&e))?;
    Ok(Opened {
        envelope: message.envelope,
        files: message.attachments.into_iter().map(|a| (a.name, a.mime_type, a.content)).collect(),
        zfo: message.zfo,
    })
}

async fn show(State(databox): State<Shared>, citizen: Citizen, Path((folder, id)): Path<(String, String)>) -> Response {
    let (folder, id) = match parse_path(&folder, &id) {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let opened = open(&databox, &citizen, folder, &id).await;
    if let Err(response) =
        record(&databox, &citizen, Action::Read, "data-message", id.as_str(), "open a data message", opened.is_ok())
            .await
    {
        return response;
    }
    match opened {
        Ok(opened) => {
            let files: Vec<Value> = opened
                .files
                .iter()
                .enumerate()
                .map(|(i, (name, mime, content))| json!({"index": i, "name": name, "mimeType": mime, "size": content.len()}))
                .collect();
            let mut body = envelope_json(&opened.envelope);
            body["attachments"] = Value::from(files);
            body["folder"] = Value::from(folder_name(folder));
            Json(with_simulated(&databox, body)).into_response()
        }
        Err(response) => response,
    }
}

fn download(content: Bytes, mime: &str, name: &str) -> Response {
    let mut response = (StatusCode::OK, content).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' { c } else { '_' })
        .collect();
    let encoded: String = url_encode(name);
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn attachment(
    State(databox): State<Shared>,
    citizen: Citizen,
    Path((folder, id, index)): Path<(String, String, String)>,
) -> Response {
    let (folder, id) = match parse_path(&folder, &id) {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let opened = open(&databox, &citizen, folder, &id).await;
    if let Err(response) = record(
        &databox,
        &citizen,
        Action::Read,
        "data-message-attachment",
        id.as_str(),
        "download an attachment",
        opened.is_ok(),
    )
    .await
    {
        return response;
    }
    let opened = match opened {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    match index.parse::<usize>().ok().and_then(|i| opened.files.get(i)) {
        Some((name, mime, content)) => download(content.clone(), mime, name),
        None => Problem::not_found("no attachment with this index").into_response(),
    }
}

async fn zfo(State(databox): State<Shared>, citizen: Citizen, Path((folder, id)): Path<(String, String)>) -> Response {
    let (folder, id) = match parse_path(&folder, &id) {
        Ok(parsed) => parsed,
        Err(response) => return response,
    };
    let opened = open(&databox, &citizen, folder, &id).await;
    if let Err(response) = record(
        &databox,
        &citizen,
        Action::Read,
        "data-message-zfo",
        id.as_str(),
        "download the signed message (ZFO)",
        opened.is_ok(),
    )
    .await
    {
        return response;
    }
    match opened {
        Ok(opened) => download(opened.zfo, "application/vnd.software602.filler.form-xml-zip", &format!("{id}.zfo")),
        Err(response) => response,
    }
}

async fn mark_read(State(databox): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let Ok(id) = MessageId::parse(&id) else {
        return Problem::not_found("no such data message in your box").into_response();
    };
    let box_id = match databox.box_of(&citizen.subject).await {
        Ok(id) => id,
        Err(error) => return link_problem(&error),
    };
    let result = databox.isds.mark_downloaded(&box_id, &id).await;
    if let Err(response) = record(
        &databox,
        &citizen,
        Action::Update,
        "data-message",
        id.as_str(),
        "mark a data message as read",
        result.is_ok(),
    )
    .await
    {
        return response;
    }
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => isds_problem(&error),
    }
}

async fn box_info(State(databox): State<Shared>, citizen: Citizen) -> Response {
    let box_id = match databox.box_of(&citizen.subject).await {
        Ok(id) => id,
        Err(error) => return link_problem(&error),
    };
    let (info, credit, vault) = futures::join!(
        databox.isds.box_info(&box_id),
        databox.isds.credit_info(&box_id),
        databox.isds.vault_info(&box_id)
    );
    let info = match info {
        Ok(info) => info,
        Err(error) => return isds_problem(&error),
    };
    let auto_archive = match databox.auto_archive(citizen.subject.as_str()).await {
        Ok(on) => on,
        Err(error) => return problem_from_store(&error),
    };
    if let Err(response) =
        record(&databox, &citizen, Action::Read, "data-box", box_id.as_str(), "show my data box", true).await
    {
        return response;
    }
    Json(with_simulated(
        &databox,
        json!({
            "box": info,
            "creditHellers": credit.ok().map(|c| c.current_hellers),
            "vault": vault.ok(),
            "autoArchive": auto_archive,
            "archiveAfterDays": databox.settings.archive_after_days,
        }),
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct FindParams {
    q: Option<String>,
}

async fn find(State(databox): State<Shared>, _citizen: Citizen, Query(params): Query<FindParams>) -> Response {
    let q = params.q.unwrap_or_default();
    let search = match BoxId::parse(q.trim()) {
        Ok(id) => BoxSearch::Id(id),
        Err(_) if q.trim().chars().count() >= 3 => BoxSearch::Name(q.trim().to_owned()),
        Err(_) => {
            return Problem::validation(vec![FieldViolation::new(
                "q",
                "a box id (7 characters) or at least 3 characters of a name",
            )])
            .into_response();
        }
    };
    match databox.isds.find_boxes(&search).await {
        Ok(found) => Json(with_simulated(&databox, json!({"items": found}))).into_response(),
        Err(error) => isds_problem(&error),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SettingsBody {
    auto_archive: bool,
}

async fn put_settings(
    State(databox): State<Shared>,
    citizen: Citizen,
    body: Result<Json<SettingsBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return Problem::validation(vec![FieldViolation::new("autoArchive", "required, true or false")])
            .into_response();
    };
    if let Err(error) = databox.box_of(&citizen.subject).await {
        return link_problem(&error);
    }
    let doc = NewDocument::new(
        citizen.subject.as_str(),
        "settings",
        json!({"type": "databox-settings", "autoArchive": body.auto_archive}),
    );
    if let Err(error) = databox.documents.upsert(COLLECTION, doc, None).await {
        return problem_from_store(&error);
    }
    if let Err(response) =
        record(&databox, &citizen, Action::Update, "data-box-settings", "settings", "change automatic archiving", true)
            .await
    {
        return response;
    }
    Json(json!({"autoArchive": body.auto_archive})).into_response()
}

async fn send(
    State(databox): State<Shared>,
    citizen: Citizen,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Ok(mut multipart) = multipart else {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "multipart-required",
            "Send the message as multipart/form-data",
        )
        .into_response();
    };
    let mut request = SendRequest::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => {
                let status = error.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    return Problem::validation(vec![FieldViolation::new(
                        "attachments",
                        format!("together at most {} MB", databox.settings.max_message_bytes / 1_000_000),
                    )])
                    .into_response();
                }
                return Problem::bad_request("the multipart body is malformed").into_response();
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "attachment" || name == "attachments" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let mime = field.content_type().unwrap_or_default().to_owned();
            match field.bytes().await {
                Ok(content) => request.files.push((file_name, mime, content)),
                Err(_) => {
                    return Problem::validation(vec![FieldViolation::new(
                        "attachments",
                        format!("together at most {} MB", databox.settings.max_message_bytes / 1_000_000),
                    )])
                    .into_response();
                }
            }
            continue;
        }
        let Ok(text) = field.text().await else {
            return Problem::bad_request("a form field is not text").into_response();
        };
        match name.as_str() {
            "recipient" => request.recipient = Some(text),
            "subject" => request.subject = Some(text),
            "senderRefNumber" => request.sender_ref_number = Some(text),
            "senderIdent" => request.sender_ident = Some(text),
            "recipientRefNumber" => request.recipient_ref_number = Some(text),
            "recipientIdent" => request.recipient_ident = Some(text),
            "toHands" => request.to_hands = Some(text),
            "personalDelivery" => request.personal_delivery = text == "true",
            "commercial" => request.commercial = text == "true",
            other => return Problem::validation(vec![FieldViolation::new(other, "unknown field")]).into_response(),
        }
    }
    let message = match validate::check(request, databox.settings.max_message_bytes) {
        Ok(message) => message,
        Err(errors) => return Problem::validation(errors).into_response(),
    };
    let box_id = match databox.box_of(&citizen.subject).await {
        Ok(id) => id,
        Err(error) => return link_problem(&error),
    };
    let result = databox.isds.send_message(&box_id, &message).await;
    let id = result.as_ref().map(|id| id.as_str().to_owned()).unwrap_or_else(|_| "not-sent".into());
    if let Err(response) =
        record(&databox, &citizen, Action::Create, "data-message", &id, "send a data message", result.is_ok()).await
    {
        return response;
    }
    let id = match result {
        Ok(id) => id,
        Err(error) => return isds_problem(&error),
    };
    if message.commercial {
        warn_if_credit_low(&databox, &citizen, &box_id).await;
    }
    (StatusCode::CREATED, Json(with_simulated(&databox, json!({"id": id.as_str(), "folder": "sent"})))).into_response()
}

/// After credit was spent: a `credit-low` event when the balance falls under
/// the threshold (once a day per box; the event id says so).
async fn warn_if_credit_low(databox: &Databox, citizen: &Citizen, box_id: &BoxId) {
    let Ok(credit) = databox.isds.credit_info(box_id).await else { return };
    if credit.current_hellers >= databox.settings.credit_low_hellers {
        return;
    }
    let now = databox.clock.now();
    let event = crate::events::Event::new(
        crate::events::CREDIT_LOW,
        &format!("{box_id}:{}", now.date()),
        citizen.subject.as_str(),
        now,
        json!({"creditHellers": credit.current_hellers, "thresholdHellers": databox.settings.credit_low_hellers}),
    );
    if let Err(error) =
        crate::events::publish(databox.queues.as_ref(), crate::events::NOTIFICATIONS_QUEUE, &event).await
    {
        tracing::warn!(error = %error, "the credit-low event could not be published");
    }
}

/// Archive my due messages now (the timer does it daily).
async fn archive_now(State(databox): State<Shared>, citizen: Citizen) -> Response {
    match archive::run_for(&databox, &citizen.subject).await {
        Ok(report) => Json(report).into_response(),
        Err(archive::ArchiveError::Link(error)) => link_problem(&error),
        Err(error) => {
            tracing::error!(error = %error, "archiving on request failed");
            if error.is_retryable() {
                Problem::unavailable("archiving").into_response()
            } else {
                Problem::internal().into_response()
            }
        }
    }
}

/// A request to create a data box for a natural person: a submission the
/// citizen can follow at `GET /api/databox/box-requests/{id}`. It is recorded
/// as `submitted`; handing it to the Digital and Information Agency and
/// following its decision is not built yet (no such interface is described).
async fn request_box(State(databox): State<Shared>, citizen: Citizen) -> Response {
    if let Ok(id) = databox.box_of(&citizen.subject).await {
        return Problem::new(StatusCode::CONFLICT, "box-exists", "You already have a data box")
            .with_detail(format!("your data box is {id}"))
            .into_response();
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let now = databox.clock.now();
    let body = json!({
        "type": "box-request", "id": id, "boxType": 40, "state": "submitted",
        "submittedAt": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "simulated": databox.settings.simulated,
    });
    if let Err(error) = databox
        .documents
        .create(COLLECTION, NewDocument::new(citizen.subject.as_str(), format!("box-request-{id}"), body.clone()))
        .await
    {
        return problem_from_store(&error);
    }
    if let Err(response) =
        record(&databox, &citizen, Action::Create, "data-box-request", &id, "request a data box", true).await
    {
        return response;
    }
    if let Err(error) = record_box_request_filing(&databox, citizen.subject.as_str(), &id, now).await {
        // The request stands; showing it publishes the filing again (the event id is fixed).
        tracing::warn!(error = %error, "the data box request could not be recorded as a filing");
    }
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// The request is also a filing (podání) in the citizen's list, where the
/// filings capability dates the Ministry's legal deadline. Safe to repeat.
async fn record_box_request_filing(
    databox: &Databox,
    subject: &str,
    id: &str,
    submitted_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let filing = portal_events::FilingRecord {
        filing_id: format!("box-request-{id}"),
        kind: "data-box-request".into(),
        title: "Žádost o zřízení datové schránky".into(),
        agency: portal_events::FilingAgency { name: "Ministerstvo vnitra".into(), box_id: None },
        status: "submitted".into(),
        status_note: None,
        at: submitted_at,
        legal_deadline: None,
        source: "databox".into(),
        source_ref: id.to_owned(),
        simulated: databox.settings.simulated,
    };
    let data = serde_json::to_value(&filing).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let event = portal_events::Event::new(
        portal_events::FILING_RECORDED,
        &format!("box-request-{id}:submitted"),
        subject,
        submitted_at,
        data,
    );
    portal_events::publish(databox.queues.as_ref(), portal_events::FILINGS_QUEUE, &event).await
}

async fn show_box_request(State(databox): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Problem::not_found("no such request").into_response();
    }
    match databox.documents.get(COLLECTION, citizen.subject.as_str(), &format!("box-request-{id}")).await {
        Ok(Some(doc)) => {
            let submitted_at = doc.body["submittedAt"]
                .as_str()
                .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
            if let Some(at) = submitted_at
                && let Err(error) = record_box_request_filing(&databox, citizen.subject.as_str(), &id, at).await
            {
                tracing::warn!(error = %error, "the data box request could not be recorded as a filing");
            }
            Json(doc.body).into_response()
        }
        Ok(None) => Problem::not_found("no such request").into_response(),
        Err(error) => problem_from_store(&error),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BuyBody {
    amount_czk: u32,
}

async fn buy_credit(
    State(databox): State<Shared>,
    citizen: Citizen,
    body: Result<Json<BuyBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let amounts = &databox.settings.credit_amounts_czk;
    let rule = format!("one of {amounts:?} CZK");
    let Ok(Json(body)) = body else {
        return Problem::validation(vec![FieldViolation::new("amountCzk", rule)]).into_response();
    };
    if !amounts.contains(&body.amount_czk) {
        return Problem::validation(vec![FieldViolation::new("amountCzk", rule)]).into_response();
    }
    let box_id = match databox.box_of(&citizen.subject).await {
        Ok(id) => id,
        Err(error) => return link_problem(&error),
    };
    let payment_id = uuid::Uuid::new_v4().simple().to_string();
    let amount_hellers = i64::from(body.amount_czk) * 100;
    let purchase = Purchase {
        kind: "credit-purchase".into(),
        payment_id: payment_id.clone(),
        box_id: box_id.to_string(),
        amount_hellers,
        state: PurchaseState::Pending,
        created_at: databox.clock.now(),
        settled_at: None,
    };
    let doc = NewDocument::new(
        citizen.subject.as_str(),
        credit::purchase_id(&payment_id),
        serde_json::to_value(&purchase).unwrap_or_default(),
    );
    if let Err(error) = databox.documents.create(COLLECTION, doc).await {
        return problem_from_store(&error);
    }
    let intent = match databox.payments.create_payment(&payment_id, amount_hellers, "Kredit datové schránky").await {
        Ok(intent) => intent,
        Err(error) => {
            tracing::error!(error = %error, "the payment gateway failed");
            return Problem::unavailable("the payment gateway").into_response();
        }
    };
    if let Err(response) = record(
        &databox,
        &citizen,
        Action::Create,
        "credit-purchase",
        &payment_id,
        "buy credit for commercial messages",
        true,
    )
    .await
    {
        return response;
    }
    (StatusCode::CREATED, Json(with_simulated(&databox, json!({"paymentId": payment_id, "payUrl": intent.pay_url, "state": "pending", "amountHellers": amount_hellers})))).into_response()
}

async fn show_purchase(State(databox): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Problem::not_found("no such purchase").into_response();
    }
    match databox.documents.get(COLLECTION, citizen.subject.as_str(), &credit::purchase_id(&id)).await {
        Ok(Some(doc)) => Json(with_simulated(&databox, doc.body)).into_response(),
        Ok(None) => Problem::not_found("no such purchase").into_response(),
        Err(error) => problem_from_store(&error),
    }
}

async fn archive_status(State(databox): State<Shared>) -> Response {
    match archive::latest(&databox).await {
        Ok(Some(report)) => Json(report).into_response(),
        Ok(None) => Problem::not_found("the archive job has not run yet").into_response(),
        Err(error) => problem_from_store(&error),
    }
}

#[derive(Debug, Deserialize)]
struct SettleBody {
    paid: bool,
}

/// SIMULATOR only: what the bank would do. Settles the payment and queues the
/// `PurchaseCredit` message, as the gateway's notification would.
async fn settle_simulated_payment(
    State(databox): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: Result<Json<SettleBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Some(gateway) = &databox.simulated_payments else {
        return Problem::not_found("payments are not simulated here").into_response();
    };
    let Ok(Json(body)) = body else {
        return Problem::validation(vec![FieldViolation::new("paid", "required, true or false")]).into_response();
    };
    match databox.documents.get(COLLECTION, citizen.subject.as_str(), &credit::purchase_id(&id)).await {
        Ok(Some(_)) => {}
        Ok(None) => return Problem::not_found("no such purchase").into_response(),
        Err(error) => return problem_from_store(&error),
    }
    if gateway.settle(&id, body.paid).is_err() {
        return Problem::not_found("no such payment").into_response();
    }
    let message = PurchaseMessage { payment_id: id, subject: citizen.subject.as_str().to_owned() };
    let queue = match portal_store::QueueName::parse(credit::QUEUE) {
        Ok(queue) => queue,
        Err(error) => return problem_from_store(&error),
    };
    let text = serde_json::to_string(&message).unwrap_or_default();
    let sent = match databox.queues.send(&queue, &text, None).await {
        Err(StoreError::NotFound) => match databox.queues.ensure(&queue).await {
            Ok(()) => databox.queues.send(&queue, &text, None).await.map(drop),
            Err(error) => Err(error),
        },
        other => other.map(drop),
    };
    if let Err(error) = sent {
        return problem_from_store(&error);
    }
    (StatusCode::ACCEPTED, Json(json!({"settled": body.paid, "simulated": true}))).into_response()
}
