//! `GET /api/shared/{token}`: PUBLIC, no session; the secret token in the
//! path is the credential.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use portal_host::Problem;

use super::{Shared, stream_response};

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "OpenSharedDocument";

/// The shared document, or one 404 for every kind of invalid link (unknown,
/// expired, revoked, document deleted), so tokens cannot be probed.
#[utoipa::path(
    get,
    path = "/api/shared/{token}",
    operation_id = OPERATION,
    tag = "documents",
    params(("token" = String, Path, description = "The link's secret token.")),
    responses(
        (status = 200, description = "Sdílený dokument v jeho typu (Content-Type), ke stažení (Content-Disposition).", content(
            (String = "application/pdf"),
            (String = "image/jpeg"),
            (String = "image/png"),
            (String = "text/plain"),
            (String = "*/*"),
        )),
        (status = 404, description = "Odkaz neexistuje, vypršel, byl zrušen, nebo dokument už není.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nahraný dokument je v karanténě: kontrola na malware ještě neskončila (`document-scan-pending`, zkuste to za minutu), nebo v něm byl nalezen malware (`document-infected`) a nikdy se nevydá.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(documents): State<Shared>, Path(token): Path<String>) -> Result<Response, Problem> {
    let shared = documents
        .open_share(&token)
        .await?
        .ok_or_else(|| Problem::not_found("this link does not exist, has expired or was revoked"))?;
    let mut response = stream_response(
        Body::from_stream(shared.content),
        shared.stored.size,
        &shared.stored.media_type,
        &shared.meta.file_name,
    );
    // The token is in the URL: never pass it on to another site.
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(response)
}
