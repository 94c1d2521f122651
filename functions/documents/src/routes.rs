//! The HTTP edge: declarations, input checks, status codes and problems.
//! Every route but `GET /api/shared/{token}` needs a session; every lookup
//! stays in the caller's partition, so another citizen's id answers 404.

// Helpers here return `Result<_, Response>`: the error is the finished
// problem response, built once at the edge; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use portal_events::Event;
use portal_host::{AuthLevel, FieldViolation, Function, Problem, QueueInvocation};
use portal_security::{AccessEntry, Action, Actor, Citizen};
use portal_store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::content::{clean_file_name, content_disposition, content_matches, essence, served_type};
use crate::library::{Change, LibraryError, StoredDocument, Tags, Title, Upload, etag_header, is_tag};
use crate::{Documents, erasure, filing};

type Shared = Arc<Documents>;

/// What a multipart upload may carry beyond the file itself (boundaries,
/// part headers, title and tags).
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
const DEFAULT_PAGE_SIZE: u32 = 20;
const MAX_PAGE_SIZE: u32 = 100;
const DEFAULT_SHARE_HOURS: u32 = 24;

pub fn functions(documents: Shared) -> Vec<Function> {
    let s = documents;
    let upload_limit =
        usize::try_from(s.settings.max_upload_bytes.saturating_add(MULTIPART_OVERHEAD)).unwrap_or(usize::MAX);
    let filing_state = s.clone();
    let erasure_state = s.clone();
    vec![
        Function::http("UploadDocument", "documents", AuthLevel::Anonymous)
            .post(upload)
            .with_body_limit(upload_limit)
            .with_state(s.clone())
            .build(),
        Function::http("ListDocuments", "documents", AuthLevel::Anonymous).get(list).with_state(s.clone()).build(),
        Function::http("ShowDocument", "documents/{id}", AuthLevel::Anonymous).get(show).with_state(s.clone()).build(),
        Function::http("ChangeDocument", "documents/{id}", AuthLevel::Anonymous)
            .patch(change)
            .with_state(s.clone())
            .build(),
        Function::http("DeleteDocument", "documents/{id}", AuthLevel::Anonymous)
            .delete(remove)
            .with_state(s.clone())
            .build(),
        Function::http("DownloadDocument", "documents/{id}/content", AuthLevel::Anonymous)
            .get(download)
            .with_state(s.clone())
            .build(),
        Function::http("ShareDocument", "documents/{id}/shares", AuthLevel::Anonymous)
            .post(create_share)
            .with_state(s.clone())
            .build(),
        Function::http("ListDocumentShares", "documents/{id}/shares", AuthLevel::Anonymous)
            .get(list_shares)
            .with_state(s.clone())
            .build(),
        Function::http("RevokeDocumentShare", "documents/{id}/shares/{shareId}", AuthLevel::Anonymous)
            .delete(revoke_share)
            .with_state(s.clone())
            .build(),
        // PUBLIC: no session; the token is the credential.
        Function::http("OpenSharedDocument", "shared/{token}", AuthLevel::Anonymous)
            .get(open_shared)
            .with_state(s.clone())
            .build(),
        Function::queue(filing::FUNCTION, portal_events::DOCUMENTS_QUEUE, move |invocation: QueueInvocation<Event>| {
            let documents = filing_state.clone();
            async move { filing::file_document(&documents, &invocation.message).await }
        }),
        Function::queue(
            erasure::FUNCTION,
            portal_events::ERASE_DOCUMENTS_QUEUE,
            move |invocation: QueueInvocation<Event>| {
                let documents = erasure_state.clone();
                async move { erasure::erase(&documents, &invocation.message).await }
            },
        ),
    ]
}

/// 400 with every broken rule (this crate's form and JSON checks).
fn invalid(errors: Vec<FieldViolation>) -> Response {
    let mut problem = Problem::new(StatusCode::BAD_REQUEST, "validation", "The input breaks one or more rules");
    problem.errors = errors;
    problem.into_response()
}

fn invalid_field(field: &str, rule: impl Into<String>) -> Response {
    invalid(vec![FieldViolation::new(field, rule)])
}

fn not_found() -> Response {
    Problem::not_found("no such document").into_response()
}

/// A problem with extension members (RFC 9457 §3.2).
fn problem_with(problem: Problem, extra: Value) -> Response {
    let status = problem.status_code();
    let mut body = serde_json::to_value(&problem).unwrap_or_default();
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(portal_host::problem::CONTENT_TYPE));
    response
}

fn library_problem(error: &LibraryError) -> Response {
    match error {
        LibraryError::NotFound => not_found(),
        LibraryError::QuotaExceeded { used, limit, size } => {
            let mut problem = Problem::new(StatusCode::CONFLICT, "quota-exceeded", "Your document storage is full")
                .with_detail(format!(
                    "{used} of {limit} bytes are used; this file needs {size} more. Delete some uploads first."
                ));
            problem.errors = vec![FieldViolation::new("file", format!("fits in the remaining {} bytes", limit - used))];
            problem_with(problem, json!({"usedBytes": used, "limitBytes": limit, "sizeBytes": size}))
        }
        LibraryError::Changed => Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "The document changed since you read it",
        )
        .with_detail("read it again and repeat the change with its new ETag")
        .into_response(),
        error => {
            tracing::error!(error = %portal_host::runtime::error_chain(error), "documents failure");
            if error.is_retryable() {
                Problem::unavailable("document storage").into_response()
            } else {
                Problem::internal().into_response()
            }
        }
    }
}

async fn record(
    documents: &Documents,
    citizen: &Citizen,
    action: Action,
    kind: &str,
    id: &str,
    purpose: &str,
) -> Result<(), Response> {
    let entry = AccessEntry::new(Actor::Citizen, action, kind, id, purpose);
    documents.access_log.record(&citizen.subject, entry).await.map_err(|error| {
        tracing::error!(error = %error, "the access log could not be written");
        Problem::unavailable("storage").into_response()
    })
}

/// The citizen's document `id`, or the finished 404/5xx.
async fn owned(documents: &Documents, citizen: &Citizen, id: &str) -> Result<StoredDocument, Response> {
    match documents.load(citizen.subject.as_str(), id).await {
        Ok(Some((stored, _))) => Ok(stored),
        Ok(None) => Err(not_found()),
        Err(error) => Err(library_problem(&error)),
    }
}

fn limit_text(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes.is_multiple_of(MIB) {
        format!("at most {} MiB ({bytes} bytes)", bytes / MIB)
    } else {
        format!("at most {bytes} bytes")
    }
}

fn too_large(documents: &Documents) -> Response {
    let limit = documents.settings.max_upload_bytes;
    let mut problem = Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "The file is too large")
        .with_detail(format!("a document may have {}", limit_text(limit)));
    problem.errors = vec![FieldViolation::new("file", limit_text(limit))];
    problem_with(problem, json!({"limitBytes": limit}))
}

fn multipart_problem(documents: &Documents, error: &MultipartError) -> Response {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(documents)
    } else {
        Problem::bad_request("the multipart body is malformed").into_response()
    }
}

/// Reads the file part chunk by chunk, stopping as soon as it passes the limit.
async fn read_file(documents: &Documents, field: &mut Field<'_>) -> Result<Bytes, Response> {
    let max = usize::try_from(documents.settings.max_upload_bytes).unwrap_or(usize::MAX);
    let mut content = BytesMut::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if content.len().saturating_add(chunk.len()) > max {
                    return Err(too_large(documents));
                }
                content.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(content.freeze()),
            Err(error) => return Err(multipart_problem(documents, &error)),
        }
    }
}

struct UploadForm {
    file: Option<(String, String, Bytes)>,
    title: Option<String>,
    tags: Option<String>,
}

async fn read_form(documents: &Documents, mut multipart: Multipart) -> Result<UploadForm, Response> {
    let mut form = UploadForm { file: None, title: None, tags: None };
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(form),
            Err(error) => return Err(multipart_problem(documents, &error)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "file" => {
                if form.file.is_some() {
                    return Err(invalid_field("file", "exactly one file per upload"));
                }
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let declared = field.content_type().map(essence).unwrap_or_default();
                let content = read_file(documents, &mut field).await?;
                form.file = Some((file_name, declared, content));
            }
            "title" | "tags" => {
                let text = match field.text().await {
                    Ok(text) => text,
                    Err(error) => return Err(multipart_problem(documents, &error)),
                };
                if name == "title" { form.title = Some(text) } else { form.tags = Some(text) }
            }
            other => return Err(invalid_field(other, "unknown field; send file, title and tags")),
        }
    }
}

/// `POST /api/documents`: multipart with `file` (its part's Content-Type is
/// the declared type), optional `title` and `tags` (comma-separated).
async fn upload(
    State(documents): State<Shared>,
    citizen: Citizen,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Ok(multipart) = multipart else {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "multipart-required",
            "Send the document as multipart/form-data",
        )
        .into_response();
    };
    let form = match read_form(&documents, multipart).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let Some((raw_name, declared, content)) = form.file else {
        return invalid_field("file", "required: the document as a file part");
    };
    let allowed = &documents.settings.allowed_types;
    if !allowed.contains(&declared) {
        let mut problem = Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "This type of file is not accepted",
        )
        .with_detail(format!("accepted types: {}", allowed.join(", ")));
        problem.errors = vec![FieldViolation::new("file", format!("one of {}", allowed.join(", ")))];
        return problem.into_response();
    }
    if content.is_empty() {
        return invalid_field("file", "must not be empty");
    }
    if !content_matches(&declared, &content) {
        return Problem::validation(vec![FieldViolation::new("file", format!("content is not {declared}"))])
            .into_response();
    }
    let file_name = clean_file_name(&raw_name, &declared);
    let mut errors = Vec::new();
    let title = match form.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => Title::from_file_name(&file_name),
        Some(title) => Title::parse(title).unwrap_or_else(|rule| {
            errors.push(FieldViolation::new("title", rule));
            Title::from_file_name(&file_name)
        }),
    };
    let tags = Tags::parse_list(form.tags.as_deref().unwrap_or_default()).unwrap_or_else(|rule| {
        errors.push(FieldViolation::new("tags", rule));
        Tags::default()
    });
    if !errors.is_empty() {
        return invalid(errors);
    }
    let upload = Upload { title, file_name, media_type: declared, tags, content };
    let view = match documents.upload(citizen.subject.as_str(), upload).await {
        Ok(view) => view,
        Err(error) => return library_problem(&error),
    };
    if let Err(response) = record(&documents, &citizen, Action::Create, "document", &view.id, "nahrání dokumentu").await
    {
        return response;
    }
    let location = format!("/api/documents/{}", view.id);
    let mut response = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ListParams {
    kind: Option<String>,
    tag: Option<String>,
    page_size: Option<u32>,
    continuation: Option<String>,
}

/// `GET /api/documents?kind=&tag=&pageSize=&continuation=`: newest first.
async fn list(
    State(documents): State<Shared>,
    citizen: Citizen,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return invalid_field("query", format!("kind, tag, pageSize (1-{MAX_PAGE_SIZE}) and continuation only"));
    };
    let page_size = params.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    let mut errors = Vec::new();
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        errors.push(FieldViolation::new("pageSize", format!("1-{MAX_PAGE_SIZE}")));
    }
    if let Some(kind) = &params.kind
        && !(1..=40).contains(&kind.len())
    {
        errors.push(FieldViolation::new("kind", "1-40 characters, such as upload or receipt"));
    }
    if let Some(tag) = &params.tag
        && !is_tag(tag)
    {
        errors.push(FieldViolation::new("tag", "1-40 letters, digits, '-' or '_'"));
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let listed = documents
        .list(citizen.subject.as_str(), params.kind.as_deref(), params.tag.as_deref(), page_size, params.continuation)
        .await;
    let (items, continuation) = match listed {
        Ok(page) => page,
        Err(LibraryError::Store(StoreError::Invalid(_))) => {
            return invalid_field("continuation", "a token from the previous page of the same query");
        }
        Err(error) => return library_problem(&error),
    };
    if let Err(response) =
        record(&documents, &citizen, Action::Read, "document-list", "*", "výpis mých dokumentů").await
    {
        return response;
    }
    let mut body = json!({"items": items});
    if let Some(continuation) = continuation {
        body["continuation"] = Value::from(continuation);
    }
    Json(body).into_response()
}

fn with_etag(mut response: Response, etag: &portal_store::ETag) -> Response {
    if let Ok(value) = HeaderValue::from_str(&etag_header(etag)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// `GET /api/documents/{id}`: the metadata, with its `ETag`.
async fn show(State(documents): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let owner = citizen.subject.as_str();
    let (stored, etag) = match documents.load(owner, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(error) => return library_problem(&error),
    };
    let view = match documents.view(owner, &stored).await {
        Ok(view) => view,
        Err(error) => return library_problem(&error),
    };
    if let Err(response) =
        record(&documents, &citizen, Action::Read, "document", &stored.id, "zobrazení dokumentu").await
    {
        return response;
    }
    with_etag(Json(view).into_response(), &etag)
}

/// A download: the plain content, never sniffed, never cached.
fn file_response(content: Vec<u8>, media_type: &str, file_name: &str) -> Response {
    let length = content.len();
    let mut response = (StatusCode::OK, Body::from(content)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&served_type(media_type)).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    response
}

/// `GET /api/documents/{id}/content`: the document itself.
async fn download(State(documents): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let owner = citizen.subject.as_str();
    let stored = match owned(&documents, &citizen, &id).await {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let (content, meta) = match (documents.content(owner, &stored).await, documents.open_meta(owner, &stored).await) {
        (Ok(content), Ok(meta)) => (content, meta),
        (Err(error), _) | (_, Err(error)) => return library_problem(&error),
    };
    if let Err(response) = record(&documents, &citizen, Action::Read, "document", &stored.id, "stažení dokumentu").await
    {
        return response;
    }
    file_response(content, &stored.media_type, &meta.file_name)
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `PATCH /api/documents/{id}` with `{"title"?: "...", "tags"?: ["..."]}`;
/// `If-Match` optional.
async fn change(
    State(documents): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return invalid_field("body", "a JSON object with title, tags or both");
    };
    let mut requested = Change::default();
    let mut errors = Vec::new();
    for (key, value) in &body {
        match (key.as_str(), value) {
            ("title", Value::String(title)) => match Title::parse(title) {
                Ok(title) => requested.title = Some(title),
                Err(rule) => errors.push(FieldViolation::new("title", rule)),
            },
            ("title", _) => errors.push(FieldViolation::new("title", "a string")),
            ("tags", Value::Array(items)) => {
                let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                match texts.map(Tags::parse) {
                    Some(Ok(tags)) => requested.tags = Some(tags),
                    Some(Err(rule)) => errors.push(FieldViolation::new("tags", rule)),
                    None => errors.push(FieldViolation::new("tags", Tags::RULE)),
                }
            }
            ("tags", _) => errors.push(FieldViolation::new("tags", "an array of strings")),
            (other, _) => errors.push(FieldViolation::new(other, "unknown field; send title, tags or both")),
        }
    }
    if errors.is_empty() && requested.title.is_none() && requested.tags.is_none() {
        errors.push(FieldViolation::new("body", "title, tags or both"));
    }
    if !errors.is_empty() {
        return invalid(errors);
    }
    let if_match = if_match(&headers);
    let (view, etag) = match documents.change(citizen.subject.as_str(), &id, if_match.as_deref(), requested).await {
        Ok(changed) => changed,
        Err(error) => return library_problem(&error),
    };
    if let Err(response) = record(&documents, &citizen, Action::Update, "document", &view.id, "úprava dokumentu").await
    {
        return response;
    }
    with_etag(Json(view).into_response(), &etag)
}

/// `DELETE /api/documents/{id}`; `If-Match` optional.
async fn remove(
    State(documents): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let if_match = if_match(&headers);
    if let Err(error) = documents.delete(citizen.subject.as_str(), &id, if_match.as_deref()).await {
        return library_problem(&error);
    }
    if let Err(response) = record(&documents, &citizen, Action::Delete, "document", &id, "smazání dokumentu").await {
        return response;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /api/documents/{id}/shares` with `{"expiresInHours": 1..=max}` (24
/// when the body is empty).
async fn create_share(
    State(documents): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let max = documents.settings.share_max_hours;
    let rule = format!("a whole number of hours, 1-{max}");
    let hours = if body.iter().all(u8::is_ascii_whitespace) {
        DEFAULT_SHARE_HOURS.min(max)
    } else {
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
            return invalid_field("body", "a JSON object such as {\"expiresInHours\": 24}");
        };
        if let Some(other) = body.keys().find(|key| *key != "expiresInHours") {
            return invalid_field(other, "unknown field; send expiresInHours");
        }
        match body.get("expiresInHours") {
            None => DEFAULT_SHARE_HOURS.min(max),
            Some(value) => match value.as_u64().and_then(|h| u32::try_from(h).ok()) {
                Some(hours) if (1..=max).contains(&hours) => hours,
                _ => return invalid_field("expiresInHours", rule),
            },
        }
    };
    let stored = match owned(&documents, &citizen, &id).await {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let share = match documents.create_share(citizen.subject.as_str(), &stored, hours).await {
        Ok(share) => share,
        Err(error) => return library_problem(&error),
    };
    if let Err(response) =
        record(&documents, &citizen, Action::Create, "document-share", &share.id, "sdílení dokumentu odkazem").await
    {
        return response;
    }
    (StatusCode::CREATED, Json(share)).into_response()
}

/// `GET /api/documents/{id}/shares`.
async fn list_shares(State(documents): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let stored = match owned(&documents, &citizen, &id).await {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let shares = match documents.list_shares(citizen.subject.as_str(), &stored.id).await {
        Ok(shares) => shares,
        Err(error) => return library_problem(&error),
    };
    if let Err(response) =
        record(&documents, &citizen, Action::Read, "document-share", &stored.id, "přehled sdílení dokumentu").await
    {
        return response;
    }
    Json(json!({"items": shares})).into_response()
}

/// `DELETE /api/documents/{id}/shares/{shareId}`: the link stops at once.
async fn revoke_share(
    State(documents): State<Shared>,
    citizen: Citizen,
    Path((id, share_id)): Path<(String, String)>,
) -> Response {
    let stored = match owned(&documents, &citizen, &id).await {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    match documents.revoke_share(citizen.subject.as_str(), &stored.id, &share_id).await {
        Ok(_) => {}
        Err(LibraryError::NotFound) => return Problem::not_found("no such share of this document").into_response(),
        Err(error) => return library_problem(&error),
    }
    if let Err(response) =
        record(&documents, &citizen, Action::Delete, "document-share", &share_id, "zrušení sdíleného odkazu").await
    {
        return response;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// PUBLIC `GET /api/shared/{token}`: the shared document, or one 404 for
/// every kind of invalid link (unknown, expired, revoked, document deleted).
async fn open_shared(State(documents): State<Shared>, Path(token): Path<String>) -> Response {
    match documents.open_share(&token).await {
        Ok(Some(shared)) => {
            let mut response = file_response(shared.content, &shared.stored.media_type, &shared.meta.file_name);
            // The token is in the URL: never pass it on to another site.
            response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response
        }
        Ok(None) => Problem::not_found("this link does not exist, has expired or was revoked").into_response(),
        Err(error) => library_problem(&error),
    }
}
