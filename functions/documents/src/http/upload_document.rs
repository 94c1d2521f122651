//! `POST /api/documents`: an upload, as multipart with `file` (its part's
//! Content-Type is the declared type), optional `title` and `tags`
//! (comma-separated). A delegate with a grant's `documents-write` scope
//! uploads into the principal's storage (`X-Acting-For`), under the
//! principal's quota; their idempotency keys are their own, apart from the
//! principal's.

use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use portal_host::{FieldViolation, Problem, upload};
use portal_security::delegation::scope::DocumentsWrite;
use portal_security::{AccessEntry, ActingFor, Action, Actor};
use portal_store::StoreError;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{Shared, invalid, invalid_field};
use crate::content::{clean_file_name, essence, name_for_type};
use crate::document::{DocumentView, Tags, Title};
use crate::library::{Incoming, Staged, UploadFailure, Uploaded};
use crate::{Documents, DocumentsError, DocumentsSettings};

/// What a multipart upload may carry beyond the file itself (boundaries,
/// part headers, title and tags).
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// The body limit of the upload function: the largest file and its form.
pub(crate) fn body_limit(settings: &DocumentsSettings) -> usize {
    usize::try_from(settings.max_upload_bytes.saturating_add(MULTIPART_OVERHEAD)).unwrap_or(usize::MAX)
}

/// The upload form (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the form that `read_form` reads part by part
pub struct UploadForm {
    /// The document. The part's Content-Type is its declared type
    /// (application/pdf, image/jpeg, image/png or text/plain), which must
    /// match its content; the part's file name becomes the document's.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// 1–200 characters without control characters (default: the file name).
    title: Option<String>,
    /// Comma-separated, at most 20, each 1–40 letters, digits, `-` or `_`.
    #[schema(example = "bydlení, smlouvy")]
    tags: Option<String>,
}

/// Why an upload is refused: a problem, which for a file too large or a
/// full storage carries the numbers as extension members (RFC 9457 §3.2:
/// `limitBytes`, `usedBytes`, `sizeBytes`) for the front end to show.
#[derive(Debug)]
pub struct Refused {
    problem: Problem,
    members: Map<String, Value>,
}

impl From<Problem> for Refused {
    fn from(problem: Problem) -> Self {
        Self { problem, members: Map::new() }
    }
}

impl Refused {
    fn with(problem: Problem, members: &[(&str, u64)]) -> Self {
        let members = members.iter().map(|(name, value)| ((*name).to_owned(), Value::from(*value))).collect();
        Self { problem, members }
    }
}

impl From<DocumentsError> for Refused {
    fn from(error: DocumentsError) -> Self {
        match error {
            DocumentsError::QuotaExceeded { used, limit, size } => {
                let members = [("usedBytes", used), ("limitBytes", limit), ("sizeBytes", size)];
                Self::with(error.into(), &members)
            }
            error => Problem::from(error).into(),
        }
    }
}

impl From<Box<Problem>> for Refused {
    fn from(problem: Box<Problem>) -> Self {
        (*problem).into()
    }
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        Problem::from(error).into()
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        if self.members.is_empty() {
            return self.problem.into_response();
        }
        let status = self.problem.status_code();
        let mut body = serde_json::to_value(&self.problem).unwrap_or_default();
        if let Some(body) = body.as_object_mut() {
            body.extend(self.members);
        }
        let mut response = (status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(portal_host::problem::CONTENT_TYPE));
        response
    }
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "UploadDocument";

/// Uploads a document (PDF, JPEG, PNG or plain text) into the citizen's storage.
///
/// Under a grant with `documents-write` (`X-Acting-For`), into the principal's storage and quota.
#[utoipa::path(
    post,
    path = "/api/documents",
    operation_id = OPERATION,
    tag = "documents",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "1–255 viditelných znaků ASCII (např. UUID), jeden na nahrání: opakování se stejným klíčem (ztracená odpověď, chyba 503) vrátí tentýž dokument a nevytvoří druhý."),
        ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to upload into the storage of the person who authorised you, or whom you represent (scope `documents-write`)."),
    ),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Dokument je uložen.", body = DocumentView,
            headers(("Location" = String, description = "Adresa nového dokumentu."))),
        (status = 400, description = "Formulář je poškozený, chybí soubor, nebo název či štítky porušují pravidla; `errors` jmenuje pole.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Úložiště je plné (`usedBytes`, `limitBytes`, `sizeBytes`; nejdřív smažte některé nahrané dokumenty), nebo byl Idempotency-Key použit pro jiné nahrání.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Soubor je příliš velký (`limitBytes`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Tělo není multipart/form-data, nebo tento typ souboru nelze nahrát.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Obsah souboru neodpovídá jeho typu (kontroluje se celá struktura PDF, JPEG a PNG), přípona názvu neodpovídá typu, nebo název označuje program (.exe, .bat, .js…).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(documents): State<Shared>,
    acting: ActingFor<DocumentsWrite>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<DocumentView>), Refused> {
    let idempotency_key = idempotency_key(&headers).map_err(Refused::from)?;
    let multipart = multipart.map_err(|_| upload::multipart_required("document"))?;
    let keyed = idempotency_key.is_some();
    // A delegate's keys never meet the principal's own (nor another delegate's).
    let idempotency_key = match &acting.mandate {
        None => idempotency_key,
        Some(mandate) => idempotency_key.map(|key| format!("{}\u{0}{key}", mandate.grant)),
    };
    let owner = acting.owner().as_str();
    let form = read_form(&documents, owner, idempotency_key, multipart).await?;
    let Some(staged) = form.file else {
        return Err(invalid_field("file", "required: the document as a file part").into());
    };
    let file_name = match &staged {
        Staged::Stored(file) => file.file_name().to_owned(),
        Staged::Repeated(view) => view.file_name.clone(),
    };
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
        if let Staged::Stored(file) = &staged {
            documents.discard_staged(file).await;
        }
        return Err(invalid(errors).into());
    }
    let uploaded = match staged {
        Staged::Stored(file) => documents.finish_upload(owner, file, title, tags).await?,
        Staged::Repeated(view) => Uploaded::Repeated(view),
    };
    let view = uploaded.view().clone();
    let entry = AccessEntry::new(Actor::Citizen, Action::Create, "document", &view.id, "nahrání dokumentu");
    let logged = acting.record(&documents.access_log, entry).await;
    if let Err(error) = logged {
        // Never a stored file the citizen's log does not show, nor one a
        // retry duplicates: a keyed upload stays for the retry with the same
        // key (which logs it then); an unkeyed one is taken back.
        if !keyed
            && matches!(uploaded, Uploaded::Created(_))
            && let Err(undo) = documents.delete(owner, &view.id, None).await
        {
            tracing::error!(error = %undo, "an upload whose access-log entry failed could not be taken back");
        }
        return Err(Problem::from(error).into());
    }
    let location = format!("/api/documents/{}", view.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(view)))
}

/// The `Idempotency-Key` header, if sent: 1-255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Box<Problem>> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let text = value.to_str().unwrap_or_default().trim();
    if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Box::new(invalid_field("Idempotency-Key", "1-255 visible ASCII characters (a UUID, for example)")));
    }
    Ok(Some(text.to_owned()))
}

fn too_large(documents: &Documents) -> Refused {
    let limit = documents.settings.max_upload_bytes;
    Refused::with(upload::too_large("a document", limit), &[("limitBytes", limit)])
}

fn multipart_problem(documents: &Documents, error: &MultipartError) -> Refused {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large(documents) } else { upload::malformed().into() }
}

/// The file part's content as it arrives.
fn file_stream<'a>(
    field: Field<'a>,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = Result<Bytes, MultipartError>> + Send + 'a>> {
    Box::pin(futures::stream::unfold(Some(field), |field| async move {
        let mut field = field?;
        match field.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(field))),
            Ok(None) => None,
            Err(error) => Some((Err(error), None)),
        }
    }))
}

/// Checks the file part's name and type, then stores its content as it
/// arrives ([`Documents::stage_upload`]): the size limit, the quota and the
/// type's structure are checked on the way, and a refusal stores nothing.
async fn stage_file(
    documents: &Documents,
    owner: &str,
    idempotency_key: Option<String>,
    field: Field<'_>,
) -> Result<Staged, Refused> {
    let raw_name = field.file_name().unwrap_or_default().to_owned();
    let declared = field.content_type().map(essence).unwrap_or_default();
    let allowed = &documents.settings.allowed_types;
    if !allowed.contains(&declared) {
        return Err(upload::unsupported_type(&allowed.join(", ")).into());
    }
    let file_name = name_for_type(&clean_file_name(&raw_name, &declared), &declared)
        .map_err(|rule| Refused::from(Problem::validation(vec![FieldViolation::new("file", rule)])))?;
    let incoming = Incoming {
        file_name,
        media_type: declared,
        content: file_stream(field),
        idempotency_key,
        max_bytes: documents.settings.max_upload_bytes,
    };
    documents.stage_upload(owner, incoming).await.map_err(|failure| match failure {
        UploadFailure::Incoming(error) => multipart_problem(documents, &error),
        UploadFailure::TooLarge => too_large(documents),
        UploadFailure::Empty => invalid_field("file", "must not be empty").into(),
        UploadFailure::Content(rule) => Problem::validation(vec![FieldViolation::new("file", rule)]).into(),
        UploadFailure::Documents(error) => error.into(),
    })
}

/// The parts of an upload as they arrived: the file (stored as it arrived),
/// the title and the tags.
struct Parts {
    file: Option<Staged>,
    title: Option<String>,
    tags: Option<String>,
}

async fn read_form(
    documents: &Documents,
    owner: &str,
    mut idempotency_key: Option<String>,
    mut multipart: Multipart,
) -> Result<Parts, Refused> {
    let mut form = Parts { file: None, title: None, tags: None };
    let read = async {
        while let Some(field) = multipart.next_field().await.map_err(|error| multipart_problem(documents, &error))? {
            let name = field.name().unwrap_or_default().to_owned();
            match name.as_str() {
                "file" => {
                    if form.file.is_some() {
                        return Err(invalid_field("file", "exactly one file per upload").into());
                    }
                    form.file = Some(stage_file(documents, owner, idempotency_key.take(), field).await?);
                }
                "title" | "tags" => {
                    let text = field.text().await.map_err(|error| multipart_problem(documents, &error))?;
                    if name == "title" { form.title = Some(text) } else { form.tags = Some(text) }
                }
                other => return Err(invalid_field(other, "unknown field; send file, title and tags").into()),
            }
        }
        Ok(())
    }
    .await;
    if let Err(refused) = read {
        // A file stored before a later part broke the form is taken back.
        if let Some(Staged::Stored(file)) = &form.file {
            documents.discard_staged(file).await;
        }
        return Err(refused);
    }
    Ok(form)
}
