//! Notifications' part of the citizen's export (`portal_security::export`):
//! `contacts.json` (the e-mail address and phone number, verified or
//! waiting for their code, never the code), `preferences.json` (which
//! notices go where) and `notifications.json` (the inbox, newest first, with
//! each notice's delivery state).

use portal_host::Problem;
use portal_security::SubjectId;
use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use portal_store::{FilterOp, Order, Query};
use serde_json::json;

use crate::{COLLECTION, Notifications, contacts, http};

impl ExportSource for Notifications {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(self.export_parts(subject.as_str()))
    }
}

fn refused(problem: Problem) -> ExportError {
    ExportError { retryable: problem.status >= 500, message: problem.title }
}

fn time(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Notifications {
    async fn export_parts(&self, owner: &str) -> Result<Vec<ExportPart>, ExportError> {
        let contacts: Vec<_> = contacts::view(self, owner)
            .await
            .map_err(|error| ExportError::of(&error))?
            .into_iter()
            .filter(|view| view.verified.is_some() || view.pending.is_some())
            .map(|view| {
                json!({
                    "channel": view.channel,
                    "value": view.verified.as_ref().map(|(value, _)| value),
                    "verifiedAt": view.verified.as_ref().map(|(_, at)| time(*at)),
                    "pending": view.pending.as_ref().map(|(value, _)| value),
                    "pendingCodeExpiresAt": view.pending.as_ref().map(|(_, at)| time(*at)),
                })
            })
            .collect();
        let (preferences, _) = http::stored_preferences(self, owner).await?;
        let preferences = http::preferences_view(self, owner, &preferences).await?;
        let mut notifications = Vec::new();
        let mut continuation = None;
        loop {
            let query = Query::default()
                .filter("type", FilterOp::Eq, "notification")
                .order_by("sortKey", Order::Descending)
                .page_size(100)
                .after(continuation.take());
            let page = self.documents.query(COLLECTION, owner, query).await?;
            for doc in &page.items {
                notifications.push(http::item(self, owner, doc, true).await.map_err(refused)?);
            }
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        Ok(vec![
            ExportPart::json("contacts.json", &contacts)?,
            ExportPart::json("preferences.json", &preferences)?,
            ExportPart::json("notifications.json", &notifications)?,
        ])
    }
}
