//! Notice boards' part of the citizen's export (`portal_security::export`):
//! `watches.json`, every watch the citizen keeps, oldest first, opened from
//! its seal (keywords, case number, place, boards) with when it was made.
//!
//! What the watches found is not kept here: each match becomes a notice in
//! the citizen's inbox (`Nové na úřední desce: …`, naming the watch and the
//! item), exported in the notifications' part; the harvester's reads of a
//! watch are lines of the access log, exported in identity's part. The
//! boards and their items are public and nobody's personal data.
//!
//! Like every source it only reads: the export as a whole is in the access
//! log (requested, downloaded), so this part writes no line of its own and
//! a rebuilt archive is the same archive.

use portal_security::SubjectId;
use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};

use crate::http::WatchView;
use crate::{NoticeBoardError, NoticeBoards};

impl ExportSource for NoticeBoards {
    fn name(&self) -> &'static str {
        "noticeboards"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(async move {
            let watches = self.export_watches(subject.as_str()).await.map_err(|error| ExportError::of(&error))?;
            Ok(vec![ExportPart::json("watches.json", &watches)?])
        })
    }
}

impl NoticeBoards {
    async fn export_watches(&self, owner: &str) -> Result<Vec<WatchView>, NoticeBoardError> {
        let mut watches = Vec::new();
        for doc in self.watch_documents(owner).await? {
            let watch = self.open_watch(owner, &doc).await?;
            let created_at = doc.body["createdAt"].as_str().unwrap_or_default().to_owned();
            watches.push(WatchView::new(doc.id, watch, created_at));
        }
        Ok(watches)
    }
}
