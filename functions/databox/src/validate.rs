//! A message to send, checked the way ISDS checks it, before it leaves the
//! portal: every broken rule is a [`FieldViolation`] naming the field.

use portal_host::FieldViolation;

use crate::isds::{Attachment, BoxId, FileMetaType, OutgoingMessage};

/// Formats ISDS accepts, by file-name extension (vyhláška 194/2009 Sb.,
/// příloha 3, with the 2024 additions).
pub const ALLOWED_EXTENSIONS: &[&str] = &[
    "pdf", "xml", "fo", "zfo", "html", "htm", "odt", "ods", "odp", "txt", "rtf", "doc", "docx", "xls", "xlsx", "ppt",
    "pptx", "jpg", "jpeg", "jfif", "png", "tif", "tiff", "gif", "mpeg", "mpeg1", "mpeg2", "wav", "mp2", "mp3", "isdoc",
    "isdocx", "edi", "dwg", "shp", "shx", "dbf", "prj", "qpj", "cpg", "dgn", "gml", "gfs", "xsd", "p7s", "p7m", "p7f",
    "p7c", "cer", "crt", "der", "tsr", "tst", "zip", "asice", "asics", "sce", "scs", "json", "mp4", "m4a", "m4v",
    "heic", "heif",
];

/// MIME types ISDS refuses whatever the extension.
pub const BLOCKED_MIME_TYPES: &[&str] = &["application/x-zip-compressed", "application/x-msdownload"];

pub const MAX_ATTACHMENTS: usize = 50;
pub const MAX_SUBJECT: usize = 255;
pub const MAX_REFERENCE: usize = 50;
pub const MAX_FILE_NAME: usize = 255;

/// The fields of a send request as the client gave them.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub recipient: Option<String>,
    pub subject: Option<String>,
    pub sender_ref_number: Option<String>,
    pub sender_ident: Option<String>,
    pub recipient_ref_number: Option<String>,
    pub recipient_ident: Option<String>,
    pub to_hands: Option<String>,
    pub personal_delivery: bool,
    pub commercial: bool,
    /// (file name, MIME type, content)
    pub files: Vec<(String, String, bytes::Bytes)>,
}

fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty()).then(|| ext.to_ascii_lowercase())
}

fn optional_text(errors: &mut Vec<FieldViolation>, field: &str, value: &Option<String>, max: usize) -> Option<String> {
    let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
    if value.chars().count() > max {
        errors.push(FieldViolation::new(field, format!("at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        errors.push(FieldViolation::new(field, "no control characters"));
    }
    Some(value.to_owned())
}

/// Checks everything ISDS would, and builds the message; otherwise every
/// violation, field by field.
pub fn check(request: SendRequest, max_total_bytes: u64) -> Result<OutgoingMessage, Vec<FieldViolation>> {
    let mut request = request;
    let files = std::mem::take(&mut request.files)
        .into_iter()
        .map(|(name, mime, content)| {
            let content_rules = if !content.is_empty() && crate::containers::is_container(name.trim()) {
                crate::containers::check(&content)
            } else {
                Vec::new()
            };
            ReceivedFile { name, mime, size: content.len() as u64, content_rules, content }
        })
        .collect();
    let (mut message, files) = check_received(request, files, max_total_bytes)?;
    message.attachments = files
        .into_iter()
        .map(|file| Attachment {
            name: file.name,
            mime_type: file.mime_type,
            meta_type: file.meta_type,
            content: file.content,
        })
        .collect();
    Ok(message)
}

/// A file of a form as it arrived: what the client named it, the size, the
/// rules its content broke (a container's, [`crate::containers`]), and its
/// content, held or where it was put aside (`C`).
#[derive(Debug, Clone)]
pub struct ReceivedFile<C> {
    pub name: String,
    pub mime: String,
    pub size: u64,
    pub content_rules: Vec<String>,
    pub content: C,
}

/// A file that passed: its name and type as ISDS gets them, and its role.
#[derive(Debug, Clone)]
pub struct CheckedFile<C> {
    pub name: String,
    pub mime_type: String,
    pub meta_type: FileMetaType,
    pub content: C,
}

/// [`check`] of a form whose files were checked as they arrived (size and
/// content rules known, the content somewhere else): the message (its
/// `attachments` empty) and its files in order; otherwise every violation,
/// field by field. `request.files` is ignored.
pub fn check_received<C>(
    request: SendRequest,
    files: Vec<ReceivedFile<C>>,
    max_total_bytes: u64,
) -> Result<(OutgoingMessage, Vec<CheckedFile<C>>), Vec<FieldViolation>> {
    let mut errors = Vec::new();
    let recipient = match request.recipient.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldViolation::new("recipient", "required: the recipient's data box id"));
            None
        }
        Some(id) => match BoxId::parse(id) {
            Ok(id) => Some(id),
            Err(rule) => {
                errors.push(FieldViolation::new("recipient", rule));
                None
            }
        },
    };
    let subject = optional_text(&mut errors, "subject", &request.subject, MAX_SUBJECT);
    if subject.is_none() {
        errors.push(FieldViolation::new("subject", "required: the subject (Věc), at most 255 characters"));
    }
    let sender_ref_number = optional_text(&mut errors, "senderRefNumber", &request.sender_ref_number, MAX_REFERENCE);
    let sender_ident = optional_text(&mut errors, "senderIdent", &request.sender_ident, MAX_REFERENCE);
    let recipient_ref_number =
        optional_text(&mut errors, "recipientRefNumber", &request.recipient_ref_number, MAX_REFERENCE);
    let recipient_ident = optional_text(&mut errors, "recipientIdent", &request.recipient_ident, MAX_REFERENCE);
    let to_hands = optional_text(&mut errors, "toHands", &request.to_hands, 50);

    if files.is_empty() {
        errors.push(FieldViolation::new("attachments", "at least one attachment is required"));
    }
    if files.len() > MAX_ATTACHMENTS {
        errors.push(FieldViolation::new("attachments", format!("at most {MAX_ATTACHMENTS} attachments")));
    }
    let total: u64 = files.iter().map(|file| file.size).sum();
    if total > max_total_bytes {
        errors.push(FieldViolation::new(
            "attachments",
            format!(
                "together at most {} MB (these are {:.1} MB)",
                max_total_bytes / 1_000_000,
                total as f64 / 1_000_000.0
            ),
        ));
    }
    let mut checked = Vec::with_capacity(files.len());
    for (i, file) in files.into_iter().enumerate() {
        let field = format!("attachments[{i}]");
        let name = file.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_FILE_NAME || name.contains(['/', '\\']) {
            errors.push(FieldViolation::new(
                format!("{field}.name"),
                "a file name of 1-255 characters without '/' or '\\'",
            ));
        }
        match extension(&name) {
            Some(ext) if ALLOWED_EXTENSIONS.contains(&ext.as_str()) => {}
            Some(ext) => errors.push(FieldViolation::new(
                format!("{field}.name"),
                format!("'.{ext}' is not a format ISDS accepts (vyhláška 194/2009 Sb., příloha 3)"),
            )),
            None => errors.push(FieldViolation::new(format!("{field}.name"), "the file name needs an extension")),
        }
        let mime =
            if file.mime.is_empty() { "application/octet-stream".to_owned() } else { file.mime.to_ascii_lowercase() };
        if BLOCKED_MIME_TYPES.contains(&mime.as_str()) {
            errors.push(FieldViolation::new(format!("{field}.type"), format!("ISDS refuses '{mime}'")));
        }
        if file.size == 0 {
            errors.push(FieldViolation::new(format!("{field}.content"), "an attachment cannot be empty"));
        }
        for rule in file.content_rules {
            errors.push(FieldViolation::new(format!("{field}.content"), rule));
        }
        let meta_type = if i == 0 { FileMetaType::Main } else { FileMetaType::Enclosure };
        checked.push(CheckedFile { name, mime_type: mime, meta_type, content: file.content });
    }
    match (errors.is_empty(), recipient, subject) {
        (true, Some(recipient), Some(subject)) => Ok((
            OutgoingMessage {
                recipient,
                subject,
                sender_ref_number,
                sender_ident,
                recipient_ref_number,
                recipient_ident,
                to_hands,
                personal_delivery: request.personal_delivery,
                commercial: request.commercial,
                attachments: Vec::new(),
            },
            checked,
        )),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn request() -> SendRequest {
        SendRequest {
            recipient: Some("abc1234".into()),
            subject: Some("Žádost o informace".into()),
            files: vec![("zadost.pdf".into(), "application/pdf".into(), Bytes::from_static(b"%PDF-1.7"))],
            ..SendRequest::default()
        }
    }

    fn fields(result: Result<OutgoingMessage, Vec<FieldViolation>>) -> Vec<String> {
        result.expect_err("refused").into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn a_good_message_passes_and_the_first_file_is_main() {
        let message = check(request(), 100_000_000).expect("valid");
        assert_eq!(message.recipient.as_str(), "abc1234");
        assert_eq!(message.attachments[0].meta_type, FileMetaType::Main);
    }

    #[test]
    fn each_rule_names_its_field() {
        let mut r = request();
        r.recipient = Some("abc12".into());
        assert_eq!(fields(check(r, 100)), ["recipient"]);

        let mut r = request();
        r.files = vec![("setup.exe".into(), "application/x-msdownload".into(), Bytes::from_static(b"MZ"))];
        assert_eq!(fields(check(r, 100)), ["attachments[0].name", "attachments[0].type"]);

        let mut r = request();
        r.files = (0..51).map(|i| (format!("f{i}.txt"), "text/plain".into(), Bytes::from_static(b"x"))).collect();
        assert_eq!(fields(check(r, 1000)), ["attachments"]);

        let mut r = request();
        r.files = vec![("big.pdf".into(), "application/pdf".into(), Bytes::from(vec![0_u8; 2_000_001]))];
        let errors = check(r, 2_000_000).expect_err("too big");
        assert!(errors[0].rule.contains("at most 2 MB"), "{:?}", errors[0]);

        let mut r = request();
        r.subject = Some("x".repeat(256));
        r.sender_ref_number = Some("č".repeat(51));
        r.files = vec![];
        assert_eq!(fields(check(r, 100)), ["subject", "senderRefNumber", "attachments"]);

        let mut r = request();
        r.recipient = None;
        r.subject = Some("   ".into());
        assert_eq!(fields(check(r, 100)), ["recipient", "subject"]);
    }
}
