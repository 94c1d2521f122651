//! Timer `WarnBeforeDeemedDelivery` (hourly): announces new messages once,
//! and warns the citizen about a message nobody has opened by day 7 of its 10
//! days, because on day 10 it counts as delivered (doručení fikcí, deemed
//! delivery) whether read or not ([`crate::delivery::deemed_delivery_at`]).
//!
//! It runs without the citizen, so it uses only what does not deliver
//! (`docs/architecture.md`, "Data box: delivery and background jobs"): the
//! envelope list `GetListOfReceivedMessages` in a job's [`BoxContext`], which
//! the port's delivering operations do not accept. A message the citizen has
//! accepted meanwhile is no longer in status 4 and is not warned about. Each message warns once: a marker
//! document is written after the event (whose id is fixed, so a repeat after a
//! crash is dropped by the consumer).

use std::sync::Arc;

use portal_events::{DeemedDeliveryWarning, NewMessage, Notice};
use portal_host::{Function, Outcome};
use portal_security::SubjectId;
use portal_store::{NewDocument, StoreError};
use serde_json::json;

use crate::delivery::deemed_delivery_at;
use crate::events::{self, Event};
use crate::isds::{BoxContext, Direction, ListQuery, MessageStatus};
use crate::{COLLECTION, Databox, index};

/// The function's name.
pub const JOB: &str = "WarnBeforeDeemedDelivery";
/// Hourly, at minute 20.
pub const SCHEDULE: &str = "0 20 * * * *";
/// Warn this many days before the deemed delivery (from day 7 of 10).
pub const WARN_DAYS_BEFORE: i64 = 3;
pub use crate::delivery::DEEMED_AFTER_DAYS;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WarningReport {
    pub citizens: u64,
    pub warned: u64,
    pub failed: u64,
}

/// `WarnBeforeDeemedDelivery` on its hourly schedule.
pub fn function(databox: Arc<Databox>) -> Function {
    Function::timer(JOB, SCHEDULE, move |_| {
        let databox = databox.clone();
        async move {
            let report = run(&databox).await?;
            Ok(Outcome::done().returning(serde_json::to_value(report).unwrap_or_default()))
        }
    })
}

/// One run over every citizen with a linked box.
pub async fn run(databox: &Databox) -> Result<WarningReport, StoreError> {
    let mut report = WarningReport::default();
    let now = databox.clock.now();
    for subject in index::all(databox.documents.as_ref()).await? {
        report.citizens += 1;
        let Ok(subject_id) = SubjectId::parse(&subject) else { continue };
        match warn_citizen(databox, &subject_id, now).await {
            Ok(warned) => report.warned += warned,
            Err(error) => {
                report.failed += 1;
                tracing::warn!(error = %error, "deemed-delivery check failed for one citizen; retried next run");
            }
        }
    }
    tracing::info!(
        citizens = report.citizens,
        warned = report.warned,
        failed = report.failed,
        "deemed-delivery warnings done"
    );
    Ok(report)
}

async fn warn_citizen(
    databox: &Databox,
    subject: &SubjectId,
    now: time::OffsetDateTime,
) -> Result<u64, crate::archive::ArchiveError> {
    let ctx = databox.job_context(subject, JOB).await?;
    // Dodána within the last 11 days covers every message not yet deemed delivered.
    let query = ListQuery {
        from: Some(now - time::Duration::days(DEEMED_AFTER_DAYS + 1)),
        to: Some(now),
        statuses: vec![MessageStatus::Delivered],
        offset: 1,
        limit: 0,
    };
    announce_new_messages(databox, subject, &ctx, now).await?;
    let mut warned = 0;
    for envelope in databox.isds.list_messages(&ctx, Direction::Received, &query).await? {
        let Some(delivered) = envelope.delivery_time else { continue };
        let deemed_at = deemed_delivery_at(delivered);
        let due = now >= deemed_at - time::Duration::days(WARN_DAYS_BEFORE) && now < deemed_at;
        if envelope.status != MessageStatus::Delivered || !envelope.allow_subst_delivery || !due {
            continue;
        }
        let marker = format!("warned-{}", envelope.id);
        if databox.documents.get(COLLECTION, subject.as_str(), &marker).await?.is_some() {
            continue;
        }
        let notice = Notice::DeemedDeliveryWarning(DeemedDeliveryWarning {
            message_id: envelope.id.as_str().to_owned(),
            sender: envelope.sender_name.clone(),
            subject: envelope.subject.clone(),
            deemed_delivered_at: deemed_at,
        });
        let key = format!("{}:{}", ctx.box_id(), envelope.id);
        portal_events::publish_notice(databox.queues.as_ref(), &notice, &key, subject.as_str(), now).await?;
        let doc = NewDocument::new(
            subject.as_str(),
            marker,
            json!({"type": "deemed-delivery-warning", "messageId": envelope.id.as_str()}),
        )
        .with_ttl(std::time::Duration::from_secs(120 * 24 * 3600));
        match databox.documents.create(COLLECTION, doc).await {
            Ok(_) | Err(StoreError::Conflict) => warned += 1,
            Err(error) => return Err(error.into()),
        }
    }
    Ok(warned)
}

/// A new message event for every received message delivered in the last 10
/// days that has not been announced yet (marker `announced-<id>`, written after
/// the event, whose id is fixed).
async fn announce_new_messages(
    databox: &Databox,
    subject: &SubjectId,
    ctx: &BoxContext,
    now: time::OffsetDateTime,
) -> Result<(), crate::archive::ArchiveError> {
    let box_id = ctx.box_id();
    let query = ListQuery {
        from: Some(now - time::Duration::days(DEEMED_AFTER_DAYS + 1)),
        to: Some(now),
        statuses: vec![MessageStatus::Delivered],
        offset: 1,
        limit: 0,
    };
    for envelope in databox.isds.list_messages(ctx, Direction::Received, &query).await? {
        let marker = format!("announced-{}", envelope.id);
        if databox.documents.get(COLLECTION, subject.as_str(), &marker).await?.is_some() {
            continue;
        }
        let notice = Notice::NewMessage(NewMessage {
            message_id: envelope.id.as_str().to_owned(),
            sender: envelope.sender_name.clone(),
            subject: envelope.subject.clone(),
        });
        let key = format!("{}:{}", box_id, envelope.id);
        portal_events::publish_notice(databox.queues.as_ref(), &notice, &key, subject.as_str(), now).await?;
        if let Some(delivered) = envelope.delivery_time.filter(|_| envelope.allow_subst_delivery) {
            // The day the message counts as delivered unless the citizen logs in first.
            let entry = portal_events::CalendarEntry {
                entry_id: format!("deemed-{}-{}", box_id, envelope.id),
                kind: "deemed-delivery".into(),
                title: format!("Doručení fikcí, pokud zprávu nepřevezmete dříve: {}", envelope.subject),
                date: portal_host::prague::date(deemed_delivery_at(delivered)),
                document: None,
                source: "databox".into(),
                source_ref: envelope.id.as_str().to_owned(),
                cancelled: false,
            };
            let data = serde_json::to_value(&entry).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let event = Event::new(
                events::DEEMED_DELIVERY_DATE,
                &format!("{}:{}", box_id, envelope.id),
                subject.as_str(),
                now,
                data,
            );
            events::publish(databox.queues.as_ref(), events::CALENDAR_QUEUE, &event).await?;
        }
        let doc = NewDocument::new(subject.as_str(), marker, json!({"type": "new-message-announced"}))
            .with_ttl(std::time::Duration::from_secs(120 * 24 * 3600));
        match databox.documents.create(COLLECTION, doc).await {
            Ok(_) | Err(StoreError::Conflict) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}
