//! The edge of [`crate::attachments`]:
//! - `POST /api/petitions/{id}/attachments` (the creator, a draft only):
//!   multipart with one part `file`;
//! - `GET /api/petitions/{id}/attachments/{n}`: PUBLIC for a published,
//!   closed or handed-over petition, the creator's only otherwise (404 to
//!   anyone else, with or without a session);
//! - `DELETE /api/petitions/{id}/attachments/{n}` (the creator, a draft only).
//!
//! Uploads are refused the way the documents capability refuses them, with
//! the same statuses and wording, each problem naming `file`: 415 for a body
//! that is not multipart or a file not declared `application/pdf`, 413 for a
//! file over the limit (also when the whole body passes the function's body
//! limit), 422 for bytes that are not a PDF, 400 for the other rules (a
//! missing or second file, an empty one, a sixth attachment).

use axum::Json;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{Multipart, Path, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use portal_host::{FieldViolation, Problem};
use portal_security::{Action, Citizen};
use serde_json::json;

use super::{Shared, not_found, own, parse_id, published_cannot_be_edited, record, service_problem};
use crate::attachments::{
    AttachmentRefusal, FileRefusal, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, PDF, PdfFile, essence, parse_index,
};
use crate::model::State;

/// What a multipart upload may carry beyond the file itself (boundary and
/// part headers).
const MULTIPART_OVERHEAD: u64 = 64 * 1024;
/// The function's body limit: a larger body gets the 413 problem.
pub(super) const UPLOAD_BODY_LIMIT: usize = (MAX_ATTACHMENT_BYTES + MULTIPART_OVERHEAD) as usize;

/// 400 with the broken rule of `field`.
fn invalid_field(field: &str, rule: impl Into<String>) -> Response {
    let mut problem = Problem::new(StatusCode::BAD_REQUEST, "validation", "The input breaks one or more rules");
    problem.errors = vec![FieldViolation::new(field, rule)];
    problem.into_response()
}

fn limit_text(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes.is_multiple_of(MIB) {
        format!("at most {} MiB ({bytes} bytes)", bytes / MIB)
    } else {
        format!("at most {bytes} bytes")
    }
}

fn too_large() -> Response {
    let mut problem = Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "The file is too large")
        .with_detail(format!("an attachment may have {}", limit_text(MAX_ATTACHMENT_BYTES)));
    problem.errors = vec![FieldViolation::new("file", limit_text(MAX_ATTACHMENT_BYTES))];
    problem.into_response()
}

fn not_a_pdf_type() -> Response {
    let mut problem =
        Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "This type of file is not accepted")
            .with_detail(format!("accepted types: {PDF}"));
    problem.errors = vec![FieldViolation::new("file", format!("one of {PDF}"))];
    problem.into_response()
}

fn too_many() -> Response {
    invalid_field("file", format!("at most {MAX_ATTACHMENTS} attachments per petition; delete one first"))
}

fn file_problem(refusal: FileRefusal) -> Response {
    match refusal {
        FileRefusal::NotPdfType => not_a_pdf_type(),
        FileRefusal::Empty => invalid_field("file", "must not be empty"),
        FileRefusal::TooLarge => too_large(),
        FileRefusal::NotPdfContent => {
            Problem::validation(vec![FieldViolation::new("file", format!("content is not {PDF}"))]).into_response()
        }
    }
}

fn refusal_problem(refusal: AttachmentRefusal) -> Response {
    match refusal {
        AttachmentRefusal::NotFound => not_found(),
        AttachmentRefusal::NotDraft(_) => published_cannot_be_edited(),
        AttachmentRefusal::TooMany => too_many(),
        AttachmentRefusal::NoSuchAttachment => no_such_attachment(),
    }
}

fn no_such_attachment() -> Response {
    Problem::not_found("no such attachment").into_response()
}

fn multipart_problem(error: &MultipartError) -> Response {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        Problem::bad_request("the multipart body is malformed").into_response()
    }
}

/// Reads the file part chunk by chunk, stopping as soon as it passes the limit.
async fn read_file(field: &mut Field<'_>) -> Result<Bytes, Response> {
    let max = usize::try_from(MAX_ATTACHMENT_BYTES).unwrap_or(usize::MAX);
    let mut content = BytesMut::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if content.len().saturating_add(chunk.len()) > max {
                    return Err(too_large());
                }
                content.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(content.freeze()),
            Err(error) => return Err(multipart_problem(&error)),
        }
    }
}

/// The one `file` part: (file name, declared type, content).
async fn read_form(mut multipart: Multipart) -> Result<(String, String, Bytes), Response> {
    let mut file = None;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Err(multipart_problem(&error)),
        };
        match field.name().unwrap_or_default() {
            "file" => {
                if file.is_some() {
                    return Err(invalid_field("file", "exactly one file per upload"));
                }
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let declared = field.content_type().map(essence).unwrap_or_default();
                // The type before the bytes: a wrong type is not read at all.
                if declared != PDF {
                    return Err(not_a_pdf_type());
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

/// `POST /api/petitions/{id}/attachments`.
pub(super) async fn upload(
    AxumState(s): AxumState<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    // Whose petition first: another citizen learns nothing, whatever they send.
    let petition = match own(&s, &citizen, &id).await {
        Ok(petition) => petition,
        Err(response) => return response,
    };
    if petition.state != State::Draft {
        return published_cannot_be_edited();
    }
    if petition.attachments.len() >= MAX_ATTACHMENTS {
        return too_many();
    }
    let Ok(multipart) = multipart else {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "multipart-required",
            "Send the attachment as multipart/form-data",
        )
        .into_response();
    };
    let (raw_name, declared, content) = match read_form(multipart).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let file = match PdfFile::parse(&raw_name, &declared, content) {
        Ok(file) => file,
        Err(refusal) => return file_problem(refusal),
    };
    let entry = match s.add_attachment(&id, &citizen.subject, file).await {
        Ok(Ok(entry)) => entry,
        Ok(Err(refusal)) => return refusal_problem(refusal),
        Err(error) => return service_problem(&error),
    };
    let resource = format!("{id}/attachment-{}", entry.index);
    if let Err(response) = record(
        &s,
        &citizen.subject,
        Action::Create,
        "petition-attachment",
        &resource,
        "přiložení souboru k návrhu petice",
    )
    .await
    {
        return response;
    }
    let mut response = (StatusCode::CREATED, Json(json!(entry))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/petitions/{id}/attachments/{}", entry.index)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `DELETE /api/petitions/{id}/attachments/{n}`.
pub(super) async fn remove(
    AxumState(s): AxumState<Shared>,
    citizen: Citizen,
    Path((id, n)): Path<(String, String)>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    if let Err(response) = own(&s, &citizen, &id).await {
        return response;
    }
    let Some(index) = parse_index(&n) else { return no_such_attachment() };
    match s.remove_attachment(&id, &citizen.subject, index).await {
        Ok(Ok(())) => {}
        Ok(Err(refusal)) => return refusal_problem(refusal),
        Err(error) => return service_problem(&error),
    }
    let resource = format!("{id}/attachment-{index}");
    if let Err(response) =
        record(&s, &citizen.subject, Action::Delete, "petition-attachment", &resource, "odebrání přílohy návrhu petice")
            .await
    {
        return response;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /api/petitions/{id}/attachments/{n}`: PUBLIC once the petition is.
pub(super) async fn download(
    AxumState(s): AxumState<Shared>,
    citizen: Result<Citizen, Response>,
    Path((id, n)): Path<(String, String)>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let petition = match s.load(&id).await {
        Ok(Some((petition, _))) => petition,
        Ok(None) => return not_found(),
        Err(error) => return service_problem(&error),
    };
    // A petition the public cannot see is its creator's alone; to anyone
    // else (a session or none) it does not exist.
    let public = petition.state.is_public();
    let creator = citizen.ok().filter(|c| c.subject.as_str() == petition.creator);
    if !public && creator.is_none() {
        return not_found();
    }
    let Some(index) = parse_index(&n) else { return no_such_attachment() };
    let (entry, content) = match s.attachment_content(&petition, index).await {
        Ok(Some(found)) => found,
        Ok(None) => return no_such_attachment(),
        Err(error) => return service_problem(&error),
    };
    if let (false, Some(creator)) = (public, &creator) {
        let resource = format!("{id}/attachment-{index}");
        if let Err(response) = record(
            &s,
            &creator.subject,
            Action::Read,
            "petition-attachment",
            &resource,
            "stažení přílohy návrhu petice",
        )
        .await
        {
            return response;
        }
    }
    let mut response = content.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PDF));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let cache = if public { "public, max-age=300" } else { "private, no-store" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&entry.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`
/// (RFC 6266 §4.3, RFC 5987 §3.2): browsers that know `filename*` show the
/// real name (`Podpisy – přechod.pdf`); older ones the fallback with the
/// Czech diacritics removed and anything else non-ASCII as `_`.
pub(crate) fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii() => c,
            c => fold(c).unwrap_or('_'),
        })
        .collect();
    let mut encoded = String::with_capacity(file_name.len() * 3);
    for byte in file_name.bytes() {
        // RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Czech and Slovak letters without their diacritics.
fn fold(c: char) -> Option<char> {
    const PAIRS: [(&str, char); 28] = [
        ("áä", 'a'),
        ("ÁÄ", 'A'),
        ("č", 'c'),
        ("Č", 'C'),
        ("ď", 'd'),
        ("Ď", 'D'),
        ("éě", 'e'),
        ("ÉĚ", 'E'),
        ("í", 'i'),
        ("Í", 'I'),
        ("ĺľ", 'l'),
        ("ĹĽ", 'L'),
        ("ň", 'n'),
        ("Ň", 'N'),
        ("óôö", 'o'),
        ("ÓÔÖ", 'O'),
        ("řŕ", 'r'),
        ("ŘŔ", 'R'),
        ("š", 's'),
        ("Š", 'S'),
        ("ť", 't'),
        ("Ť", 'T'),
        ("úůü", 'u'),
        ("ÚŮÜ", 'U'),
        ("ý", 'y'),
        ("Ý", 'Y'),
        ("ž", 'z'),
        ("Ž", 'Z'),
    ];
    PAIRS.iter().find(|(accented, _)| accented.contains(c)).map(|(_, plain)| *plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_czech_file_name_arrives_intact_with_an_ascii_fallback() {
        assert_eq!(
            content_disposition("Podpisy \"přechod\".pdf"),
            "attachment; filename=\"Podpisy _prechod_.pdf\"; filename*=UTF-8''Podpisy%20%22p%C5%99echod%22.pdf"
        );
        assert_eq!(
            content_disposition("Žádost – mapa.pdf"),
            "attachment; filename=\"Zadost _ mapa.pdf\"; filename*=UTF-8''%C5%BD%C3%A1dost%20%E2%80%93%20mapa.pdf"
        );
    }
}
