//! Fees' part of the citizen's export (`portal_security::export`):
//! `payments.json`, every fee payment the citizen started through the
//! portal, oldest first, with its state, times and the municipality's
//! answer, and what it paid for (fee, period, amount, variable symbol, due
//! date, municipality) opened from its seal. A paid payment names its
//! receipt (`receiptDocumentId`): the PDF itself is filed in Documents and
//! exported there (`documents/files/fee-receipt-<payment>-…`), opened.
//!
//! Not exported: the lock documents (`fee-<hash>`, a hash of a fee id
//! pointing at the current payment, which `payments.json` already shows)
//! and the payment → citizen lookup (the citizen's own id). The fee
//! catalogue and the obligations are the municipality's records, read live
//! (`GET /api/fees`), never kept by the portal.
//!
//! Like every source it only reads: the export as a whole is in the access
//! log (requested, downloaded), so this part writes no line of its own and
//! a rebuilt archive is the same archive.

use portal_security::SubjectId;
use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use portal_store::{FilterOp, Order, Query};
use serde::Serialize;

use crate::http::{amount, iso_date, rfc3339};
use crate::municipal::FeeKind;
use crate::payment::{self, MunicipalityAnswer, PaymentRecord, PaymentState};
use crate::{COLLECTION, Fees, FeesError, corrupt};

/// One payment, opened.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedPayment {
    id: String,
    state: PaymentState,
    state_name: &'static str,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    paid_at: Option<String>,
    /// The gateway's page where the payment is (or was) paid.
    pay_url: String,
    /// `recorded` or `refused` (paid twice: an operator refunds it), once told.
    #[serde(skip_serializing_if = "Option::is_none")]
    municipality_answer: Option<MunicipalityAnswer>,
    /// The receipt in Documents, once filed.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt_document_id: Option<String>,
    simulated: bool,
    fee_id: String,
    kind: FeeKind,
    title: &'static str,
    period: i32,
    detail: String,
    amount_hellers: i64,
    amount: String,
    variable_symbol: String,
    due_date: String,
    municipality: ExportedMunicipality,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportedMunicipality {
    code: String,
    name: String,
    office: String,
    iban: String,
}

impl ExportSource for Fees {
    fn name(&self) -> &'static str {
        "fees"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(async move {
            let payments = self.export_payments(subject.as_str()).await.map_err(|error| ExportError::of(&error))?;
            Ok(vec![ExportPart::json("payments.json", &payments)?])
        })
    }
}

impl Fees {
    async fn export_payments(&self, owner: &str) -> Result<Vec<ExportedPayment>, FeesError> {
        let mut payments = Vec::new();
        let mut continuation = None;
        loop {
            let query = Query::default()
                .filter("type", FilterOp::Eq, "fee-payment")
                .order_by("createdAtNanos", Order::Ascending)
                .page_size(100)
                .after(continuation.take());
            let page = self.documents.query(COLLECTION, owner, query).await?;
            for doc in page.items {
                let record: PaymentRecord = serde_json::from_value(doc.body).map_err(corrupt)?;
                let details = payment::details(self, owner, &record).await?;
                payments.push(ExportedPayment {
                    state_name: record.state.czech_name(),
                    created_at: rfc3339(record.created_at),
                    updated_at: rfc3339(record.updated_at),
                    paid_at: record.paid_at.map(rfc3339),
                    pay_url: record.pay_url.clone(),
                    municipality_answer: record.municipality,
                    receipt_document_id: record.receipt_filed.then(|| payment::receipt_id(&record.id)),
                    simulated: record.simulated,
                    title: details.kind.czech_name(),
                    kind: details.kind,
                    period: details.period,
                    amount: amount(details.amount_hellers),
                    amount_hellers: details.amount_hellers,
                    variable_symbol: details.variable_symbol,
                    due_date: iso_date(details.due_date),
                    detail: details.detail,
                    fee_id: details.fee_id,
                    municipality: ExportedMunicipality {
                        code: details.municipality.code,
                        name: details.municipality.name,
                        office: details.municipality.office,
                        iban: details.municipality.iban,
                    },
                    state: record.state,
                    id: record.id,
                });
            }
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        Ok(payments)
    }
}
