//! The data box's part of the citizen's export (`portal_security::export`):
//! `archive.json` (every message held in the portal's archive: its envelope
//! and files, opened), `archive/<message>/message.zfo` and
//! `archive/<message>/<n>-<name>` (the signed message and its attachments),
//! and `records.json` (the other records kept for the citizen, all plain:
//! the box link, settings, box requests, credit purchases, messages sent on
//! their behalf, notices sent). Messages still only in ISDS are ISDS's to
//! export, not the portal's.

use portal_security::SubjectId;
use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use portal_store::Query;
use serde_json::json;

use crate::{COLLECTION, Databox, archive};

impl ExportSource for Databox {
    fn name(&self) -> &'static str {
        "databox"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(async move { export_parts(self, subject).await })
    }
}

async fn export_parts(databox: &Databox, subject: &SubjectId) -> Result<Vec<ExportPart>, ExportError> {
    let failed = |error: archive::ArchiveError| ExportError::of(&error);
    let mut parts = Vec::new();
    let mut messages = Vec::new();
    let mut records = Vec::new();
    let mut continuation = None;
    loop {
        let query = Query::default().page_size(100).after(continuation.take());
        let page = databox.documents.query(COLLECTION, subject.as_str(), query).await?;
        for doc in page.items {
            if doc.body["type"] != "archived-message" {
                records.push(json!({"id": doc.id, "record": doc.body}));
                continue;
            }
            let Some(id) = doc.body["messageId"].as_str().map(str::to_owned) else { continue };
            let Some((envelope, files, zfo)) = archive::load(databox, subject, &id).await.map_err(failed)? else {
                continue;
            };
            let content = archive::open_blob(databox, subject, &id, archive::ZFO_FIELD, &zfo).await.map_err(failed)?;
            parts.push(ExportPart::file(format!("archive/{id}/message.zfo"), content));
            for (index, file) in files.iter().enumerate() {
                let field = format!("attachment-{index}");
                let content = archive::open_blob(databox, subject, &id, &field, &file.blob).await.map_err(failed)?;
                parts.push(ExportPart::file(format!("archive/{id}/{index}-{}", file.name), content));
            }
            messages.push(json!({"messageId": id, "envelope": envelope, "files": files}));
        }
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    parts.push(ExportPart::json("archive.json", &messages)?);
    parts.push(ExportPart::json("records.json", &records)?);
    Ok(parts)
}
