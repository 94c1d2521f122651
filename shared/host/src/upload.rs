//! How a file upload (`multipart/form-data`) is refused, with the same
//! statuses and wording by every capability that takes files: 415 for a body
//! that is not multipart or a file of a type not accepted, 413 for a file
//! over the limit, 400 for a body that cannot be read. A problem about the
//! file names the field `file`.

use axum::http::StatusCode;

use crate::problem::{FieldViolation, Problem};

/// 415: the body is not `multipart/form-data`; `what` is what should have
/// come that way (`document`, `attachment`, `application`, `message`).
pub fn multipart_required(what: &str) -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "multipart-required",
        format!("Send the {what} as multipart/form-data"),
    )
}

/// 400: the multipart body cannot be read.
pub fn malformed() -> Problem {
    Problem::bad_request("the multipart body is malformed")
}

/// 415: the file's declared type is none of `accepted` (as the citizen
/// reads them: `application/pdf, image/png`).
pub fn unsupported_type(accepted: &str) -> Problem {
    let mut problem =
        Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "This type of file is not accepted")
            .with_detail(format!("accepted types: {accepted}"));
    problem.errors = vec![FieldViolation::new("file", format!("one of {accepted}"))];
    problem
}

/// 413: the file is larger than `limit` bytes; `each` says what may be that
/// large (`a document`, `an attachment`).
pub fn too_large(each: &str, limit: u64) -> Problem {
    let mut problem = Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "The file is too large")
        .with_detail(format!("{each} may have {}", limit_text(limit)));
    problem.errors = vec![FieldViolation::new("file", limit_text(limit))];
    problem
}

/// `at most 5 MiB (5242880 bytes)` for whole mebibytes, else `at most 1000 bytes`.
pub fn limit_text(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes.is_multiple_of(MIB) {
        format!("at most {} MiB ({bytes} bytes)", bytes / MIB)
    } else {
        format!("at most {bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_names_the_file_and_its_rule() {
        let large = too_large("a document", 10 * 1024 * 1024);
        assert_eq!((large.status, large.kind.as_str()), (413, "/problems/payload-too-large"));
        assert_eq!(large.detail.as_deref(), Some("a document may have at most 10 MiB (10485760 bytes)"));
        assert_eq!(large.errors, vec![FieldViolation::new("file", "at most 10 MiB (10485760 bytes)")]);
        assert_eq!(limit_text(1000), "at most 1000 bytes");

        let unsupported = unsupported_type("application/pdf, image/png");
        assert_eq!((unsupported.status, unsupported.kind.as_str()), (415, "/problems/unsupported-media-type"));
        assert_eq!(unsupported.detail.as_deref(), Some("accepted types: application/pdf, image/png"));
        assert_eq!(unsupported.errors, vec![FieldViolation::new("file", "one of application/pdf, image/png")]);

        let required = multipart_required("attachment");
        assert_eq!((required.status, required.title.as_str()), (415, "Send the attachment as multipart/form-data"));
        assert_eq!(malformed().detail.as_deref(), Some("the multipart body is malformed"));
    }
}
