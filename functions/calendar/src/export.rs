//! Calendar's part of the citizen's export (`portal_security::export`):
//! `events.json`, every item (own events and entries other capabilities
//! filed) as the API shows it, opened; `feed.json`, whether an iCalendar
//! feed link exists and since when (never its secret token).

use portal_security::SubjectId;
use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use serde_json::json;
use time::{Date, Month};

use crate::item::item_json;
use crate::{Calendar, CalendarError};

impl ExportSource for Calendar {
    fn name(&self) -> &'static str {
        "calendar"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(self.export_parts(subject))
    }
}

impl Calendar {
    async fn export_parts(&self, owner: &SubjectId) -> Result<Vec<ExportPart>, ExportError> {
        let first = Date::from_calendar_date(1, Month::January, 1).unwrap_or(Date::MIN);
        let last = Date::from_calendar_date(9999, Month::December, 31).unwrap_or(Date::MAX);
        let items = self.items_between(owner.as_str(), first, last).await?;
        let events: Vec<_> = items.iter().map(item_json).collect();
        let feed = self.feed_state(owner).await?;
        let feed = json!({
            "exists": feed.is_some(),
            "createdAt": feed.and_then(|f| f.created_at.format(&time::format_description::well_known::Rfc3339).ok()),
        });
        Ok(vec![ExportPart::json("events.json", &events)?, ExportPart::json("feed.json", &feed)?])
    }
}

impl From<CalendarError> for ExportError {
    fn from(error: CalendarError) -> Self {
        ExportError::of(&error)
    }
}
