//! `GET /api/petitions/{id}/attachments/{n}`: PUBLIC for a published, closed
//! or handed-over petition, the creator's only otherwise (404 to anyone
//! else, with or without a session).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_security::{Action, Citizen};

use super::{Pdf, Shared, no_such_attachment, not_found, parse_id};
use crate::attachments::{PDF, parse_index};

/// Downloads an attachment of a public petition, or of the creator's draft.
#[utoipa::path(
    get,
    path = "/api/petitions/{id}/attachments/{n}",
    operation_id = "PetitionAttachment",
    tag = "petitions",
    params(
        ("id" = String, Path, description = "The petition's id."),
        ("n" = String, Path, description = "The attachment's index, from 1."),
    ),
    security((), ("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Příloha petice (PDF).", content_type = "application/pdf", body = Pdf),
        (status = 404, description = "Taková petice nebo příloha neexistuje.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Result<Citizen, Response>,
    Path((id, n)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let id = parse_id(&id)?;
    let (petition, _) = s.load(&id).await?.ok_or_else(not_found)?;
    // A petition the public cannot see is its creator's alone; to anyone
    // else (a session or none) it does not exist.
    let public = petition.state.is_public();
    let creator = citizen.ok().filter(|c| c.subject.as_str() == petition.creator);
    if !public && creator.is_none() {
        return Err(not_found());
    }
    let index = parse_index(&n).ok_or_else(no_such_attachment)?;
    let (entry, content) = s.attachment_content(&petition, index).await?.ok_or_else(no_such_attachment)?;
    if let (false, Some(creator)) = (public, &creator) {
        let resource = format!("{id}/attachment-{index}");
        s.petitions
            .access_log
            .record_own(creator, Action::Read, "petition-attachment", &resource, "stažení přílohy návrhu petice")
            .await?;
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
    Ok(response)
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
