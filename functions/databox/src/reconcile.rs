//! Timer `ReconcileDataboxCredit` (daily at 04:30 UTC): the portal's credit
//! ledger against the credit ISDS reports. Every top-up the ledger records
//! in the last [`WINDOW_DAYS`] days must appear in the box's credit history
//! (`DataBoxCreditInfo` with a date range) as a charge (type 1) with the
//! same transaction id (the payment id the credit system was given) and the
//! same amount. A ledger entry ISDS does not show, or shows with another
//! amount, is a difference: logged as `data box credit differs from the
//! ledger` (the alert rule `alert-…-credit-mismatch` counts them) and kept in
//! the run's report. Credit spent or bought outside the portal is no
//! difference: the check goes from the ledger to ISDS.
//!
//! Read only, in a job's box context (no delivering operation), so a repeat
//! or a crash changes nothing.

use std::sync::Arc;

use portal_host::{Function, Outcome};
use portal_security::SubjectId;
use portal_store::{FilterOp, Query, StoreError};
use serde::Serialize;
use time::OffsetDateTime;

use crate::isds::{CreditEvent, IsdsError};
use crate::{COLLECTION, Databox, index};

pub const JOB: &str = "ReconcileDataboxCredit";
/// Daily at 04:30 UTC.
pub const SCHEDULE: &str = "0 30 4 * * *";
/// Ledger entries of the last this many days are checked each run.
pub const WINDOW_DAYS: i64 = 35;
/// The log message the alert rule counts.
pub const MISMATCH_LOG: &str = "data box credit differs from the ledger";

/// What one run found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    pub citizens: u64,
    pub entries_checked: u64,
    pub differences: u64,
    /// Citizens whose check failed (retried next run).
    pub failed: u64,
    /// Which payments differ and how (payment ids, no names).
    pub details: Vec<String>,
}

/// `ReconcileDataboxCredit` on its daily schedule.
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
pub async fn run(databox: &Databox) -> Result<ReconcileReport, StoreError> {
    let mut report = ReconcileReport::default();
    let now = databox.clock.now();
    for subject in index::all(databox.documents.as_ref()).await? {
        report.citizens += 1;
        if let Err(error) = reconcile_citizen(databox, &subject, now, &mut report).await {
            report.failed += 1;
            tracing::warn!(error = %error, "credit reconciliation failed for one citizen; retried next run");
        }
    }
    tracing::info!(
        citizens = report.citizens,
        checked = report.entries_checked,
        differences = report.differences,
        "credit reconciliation done"
    );
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Isds(#[from] IsdsError),
    #[error(transparent)]
    Link(#[from] crate::LinkError),
}

struct Entry {
    payment_id: String,
    amount_hellers: i64,
    at: OffsetDateTime,
}

async fn reconcile_citizen(
    databox: &Databox,
    subject: &str,
    now: OffsetDateTime,
    report: &mut ReconcileReport,
) -> Result<(), ReconcileError> {
    let since = now - time::Duration::days(WINDOW_DAYS);
    let mut entries = Vec::new();
    let mut continuation = None;
    loop {
        let query = Query::default()
            .filter("type", FilterOp::Eq, "credit-ledger")
            .filter("at", FilterOp::Ge, since.unix_timestamp())
            .page_size(500)
            .after(continuation.take());
        let page = databox.documents.query(COLLECTION, subject, query).await?;
        entries.extend(page.items.iter().filter_map(|d| {
            Some(Entry {
                payment_id: d.body["paymentId"].as_str()?.to_owned(),
                amount_hellers: d.body["amountHellers"].as_i64()?,
                at: OffsetDateTime::from_unix_timestamp(d.body["at"].as_i64()?).ok()?,
            })
        }));
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    if entries.is_empty() {
        return Ok(());
    }
    let subject_id = SubjectId::parse(subject).map_err(|_| StoreError::Invalid("bad subject in the index".into()))?;
    let ctx = databox.job_context(&subject_id, JOB).await?;
    let first = entries.iter().map(|e| e.at).min().unwrap_or(since);
    // A day either side: the ledger's time and ISDS's may fall on different days.
    let from = portal_host::prague::date(first) - time::Duration::days(1);
    let to = portal_host::prague::date(now) + time::Duration::days(1);
    let history = databox.isds.credit_history(&ctx, from, to).await?;
    let who = &crate::archive::citizen_folder(subject)[..12];
    for entry in &entries {
        report.entries_checked += 1;
        let charged: Vec<&CreditEvent> = history
            .iter()
            .filter(|e| e.kind == CreditEvent::CHARGED && e.transaction_id.as_deref() == Some(&entry.payment_id))
            .collect();
        let difference = match charged.as_slice() {
            [] => Some(format!(
                "payment {}: {} hellers in the ledger, no top-up in ISDS",
                entry.payment_id, entry.amount_hellers
            )),
            [one] if one.change_hellers == entry.amount_hellers => None,
            [one] => Some(format!(
                "payment {}: {} hellers in the ledger, {} in ISDS",
                entry.payment_id, entry.amount_hellers, one.change_hellers
            )),
            many => Some(format!("payment {}: topped up {} times in ISDS", entry.payment_id, many.len())),
        };
        if let Some(detail) = difference {
            report.differences += 1;
            tracing::error!(metric = "databox_credit_mismatch", citizen = who, detail = %detail, "{MISMATCH_LOG}");
            report.details.push(format!("{who}: {detail}"));
        }
    }
    Ok(())
}
