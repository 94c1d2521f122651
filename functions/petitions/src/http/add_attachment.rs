//! `POST /api/petitions/{id}/attachments`: the creator adds a PDF to their
//! draft, as multipart with one part `file`.
//!
//! Uploads are refused the way the documents capability refuses them, with
//! the same statuses and wording, each problem naming `file`: 415 for a body
//! that is not multipart or a file not declared `application/pdf`, 413 for a
//! file over the limit (also when the whole body passes the function's body
//! limit), 422 for bytes that are not a PDF, 400 for the other rules (a
//! missing or second file, an empty one, a sixth attachment).

use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, State};
use axum::http::{StatusCode, header};
use bytes::{Bytes, BytesMut};
use portal_host::{FieldViolation, Problem, upload};
use portal_security::{Action, Citizen};
use utoipa::ToSchema;

use super::{Shared, invalid_field, own, parse_id, published_cannot_be_edited, too_many_attachments};
use crate::attachments::{FileRefusal, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, PDF, PdfFile, essence};
use crate::model::{Attachment, State as PetitionState};

/// What a multipart upload may carry beyond the file itself (boundary and
/// part headers).
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// The function's body limit: a larger body gets the 413 problem.
pub(crate) const UPLOAD_BODY_LIMIT: usize = (MAX_ATTACHMENT_BYTES + MULTIPART_OVERHEAD) as usize;

/// The upload: one part `file`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the multipart body `read_form` reads
pub struct AttachmentUpload {
    /// A PDF (declared `application/pdf`, starting with `%PDF-`), at most
    /// 5 MiB; its file name becomes the attachment's name (`.pdf` added).
    #[schema(value_type = String, format = Binary, content_media_type = "application/pdf")]
    file: Vec<u8>,
}

fn too_large() -> Problem {
    upload::too_large("an attachment", MAX_ATTACHMENT_BYTES)
}

impl From<FileRefusal> for Problem {
    fn from(refusal: FileRefusal) -> Self {
        match refusal {
            FileRefusal::NotPdfType => upload::unsupported_type(PDF),
            FileRefusal::Empty => invalid_field("file", "must not be empty"),
            FileRefusal::TooLarge => too_large(),
            FileRefusal::NotPdfContent => {
                Problem::validation(vec![FieldViolation::new("file", format!("content is not {PDF}"))])
            }
        }
    }
}

fn multipart_problem(error: &MultipartError) -> Problem {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE { too_large() } else { upload::malformed() }
}

/// Reads the file part chunk by chunk, stopping as soon as it passes the limit.
async fn read_file(field: &mut Field<'_>) -> Result<Bytes, Problem> {
    let max = usize::try_from(MAX_ATTACHMENT_BYTES).unwrap_or(usize::MAX);
    let mut content = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(|error| multipart_problem(&error))? {
        if content.len().saturating_add(chunk.len()) > max {
            return Err(too_large());
        }
        content.extend_from_slice(&chunk);
    }
    Ok(content.freeze())
}

/// The one `file` part: (file name, declared type, content).
async fn read_form(mut multipart: Multipart) -> Result<(String, String, Bytes), Problem> {
    let mut file = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|error| multipart_problem(&error))? {
        match field.name().unwrap_or_default() {
            "file" => {
                if file.is_some() {
                    return Err(invalid_field("file", "exactly one file per upload"));
                }
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let declared = field.content_type().map(essence).unwrap_or_default();
                // The type before the bytes: a wrong type is not read at all.
                if declared != PDF {
                    return Err(upload::unsupported_type(PDF));
                }
                let content = read_file(&mut field).await?;
                file = Some((file_name, declared, content));
            }
            other => {
                let other = other.to_owned();
                return Err(invalid_field(&other, "unknown field; send only file"));
            }
        }
    }
    file.ok_or_else(|| invalid_field("file", "required: the attachment as a file part"))
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "AddPetitionAttachment";

/// Adds a PDF attachment to the creator's draft (at most five).
#[utoipa::path(
    post,
    path = "/api/petitions/{id}/attachments",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Příloha je přidána k návrhu petice.", body = Attachment,
            headers(("Location" = String, description = "Adresa přílohy: /api/petitions/{id}/attachments/{n}"))),
        (status = 400, description = "Chybí soubor, je prázdný, jsou dva, nebo má petice už pět příloh.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Takový váš návrh petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Petice je zveřejněna; přílohy už nelze měnit.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Soubor je větší než 5 MiB.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Pošlete soubor PDF jako multipart/form-data.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Soubor není PDF.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<Attachment>), Problem> {
    let id = parse_id(&id)?;
    // Whose petition first: another citizen learns nothing, whatever they send.
    let petition = own(&s, &citizen, &id, Action::Create).await?;
    if petition.state != PetitionState::Draft {
        return Err(published_cannot_be_edited());
    }
    if petition.attachments.len() >= MAX_ATTACHMENTS {
        return Err(too_many_attachments());
    }
    let multipart = multipart.map_err(|_| upload::multipart_required("attachment"))?;
    let (raw_name, declared, content) = read_form(multipart).await?;
    let file = PdfFile::parse(&raw_name, &declared, content)?;
    let entry = s.add_attachment(&id, &citizen.subject, file).await??;
    let resource = format!("{id}/attachment-{}", entry.index);
    s.petitions
        .access_log
        .record_own(&citizen, Action::Create, "petition-attachment", &resource, "přiložení souboru k návrhu petice")
        .await?;
    let location = format!("/api/petitions/{id}/attachments/{}", entry.index);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(entry)))
}
