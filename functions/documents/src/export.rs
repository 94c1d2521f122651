//! Documents' part of the citizen's export (`portal_security::export`):
//! `documents.json` (every document as the API shows it), `shares.json`
//! (each document's share links, without their tokens) and
//! `files/<id>-<file name>` (each document's content, unsealed).

use portal_security::SubjectId;
use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use serde::Serialize;

use crate::{Documents, DocumentsError};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DocumentShares {
    document_id: String,
    shares: Vec<crate::shares::ShareView>,
}

impl ExportSource for Documents {
    fn name(&self) -> &'static str {
        "documents"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(async move { self.export_parts(subject.as_str()).await.map_err(|error| ExportError::of(&error)) })
    }
}

impl Documents {
    async fn export_parts(&self, owner: &str) -> Result<Vec<ExportPart>, DocumentsError> {
        let mut views = Vec::new();
        let mut continuation = None;
        loop {
            let (items, next) = self.list(owner, None, None, 100, continuation.take()).await?;
            views.extend(items);
            match next {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        let mut parts = Vec::with_capacity(views.len() + 2);
        let mut shares = Vec::new();
        for view in &views {
            let Some((stored, _)) = self.load(owner, &view.id).await? else { continue };
            match self.content(owner, &stored).await {
                Ok(content) => parts.push(ExportPart::file(format!("files/{}-{}", view.id, view.file_name), content)),
                // A filed document whose producer already removed the blob.
                Err(DocumentsError::NotFound) => {}
                Err(error) => return Err(error),
            }
            let list = self.list_shares(owner, &view.id).await?;
            if !list.is_empty() {
                shares.push(DocumentShares { document_id: view.id.clone(), shares: list });
            }
        }
        let corrupt = |error: ExportError| DocumentsError::Corrupt(error.message);
        parts.push(ExportPart::json("documents.json", &views).map_err(corrupt)?);
        parts.push(ExportPart::json("shares.json", &shares).map_err(corrupt)?);
        Ok(parts)
    }
}
