//! Requests to create a data box for a natural person (žádost o zřízení
//! datové schránky). A request is recorded as `submitted` in the citizen's
//! partition (`box-request-<id>`) and is also a filing (podání) in the
//! citizen's list, where the filings capability dates the Ministry's legal
//! deadline. Handing it to the Digital and Information Agency and following
//! its decision is not built yet (no such interface is described).

use portal_store::StoreError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::Databox;

/// A request to create a data box, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataBoxRequest)]
pub struct BoxRequest {
    /// Always `box-request`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    /// `dbType` of the box asked for: 40, a natural person's box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_type: Option<u8>,
    /// `submitted` (nothing follows it yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// When the citizen asked, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    /// True when the request was made in local mode, where nothing is sent anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated: Option<bool>,
}

/// The store id of request `id`.
pub fn document_id(id: &str) -> String {
    format!("box-request-{id}")
}

/// Publishes the request as a filing of the citizen. Safe to repeat: the
/// event id is fixed by the request.
pub async fn record_filing(
    databox: &Databox,
    subject: &str,
    id: &str,
    submitted_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let filing = portal_events::FilingRecord {
        filing_id: document_id(id),
        kind: "data-box-request".into(),
        title: "Žádost o zřízení datové schránky".into(),
        agency: portal_events::FilingAgency { name: "Ministerstvo vnitra".into(), box_id: None },
        status: "submitted".into(),
        status_note: None,
        at: submitted_at,
        legal_deadline: None,
        source: "databox".into(),
        source_ref: id.to_owned(),
        simulated: databox.settings.simulated,
    };
    let data = serde_json::to_value(&filing).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let event = portal_events::Event::new(
        portal_events::FILING_RECORDED,
        &format!("box-request-{id}:submitted"),
        subject,
        submitted_at,
        data,
    );
    portal_events::publish(databox.queues.as_ref(), portal_events::FILINGS_QUEUE, &event).await
}
