//! `SendDataMessageOnBehalf` on the ISDS simulator: a request replayed sends
//! one message; a delivery that finds the sending marker looks into the sent
//! folder before sending; refusals are told to the citizen, not retried.

mod support;

use std::sync::Arc;

use base64::Engine as _;
use portal_databox::isds::simulator::{IsdsSimulator, SimulatorSettings};
use portal_databox::isds::{Access, BoxContext, BoxId, Direction, Isds, ListQuery, MessageEnvelope, SessionContext};
use portal_databox::payments::SimulatedCreditSystem;
use portal_databox::queue::send_data_message_on_behalf::{self as on_behalf, send_on_behalf};
use portal_databox::{Databox, DataboxSettings, SimulatedBoxDirectory, functions};
use portal_events::{Event, OutgoingAttachment, OutgoingDataMessage, SealedContent, kinds};
use portal_host::Trigger;
use portal_store::{DocumentStore, NewDocument};
use portal_testkit::{Harness, JANA, START};
use serde_json::json;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

struct Setup {
    databox: Databox,
    isds: Arc<IsdsSimulator>,
    harness: Harness,
}

impl std::ops::Deref for Setup {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

fn setup() -> Setup {
    let harness = Harness::new();
    let isds = Arc::new(IsdsSimulator::seeded(harness.clock.clone(), SimulatorSettings::default()));
    let gateway = Arc::new(portal_databox::payments::simulated_gateway(harness.clock.clone()));
    let databox = Databox {
        isds: isds.clone(),
        management: isds.clone(),
        directory: Arc::new(SimulatedBoxDirectory(isds.clone())),
        payments: gateway,
        credit: Arc::new(SimulatedCreditSystem::new(isds.clone())),
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings: DataboxSettings::default(),
        simulated_payments: None,
    };
    Setup { databox, isds, harness }
}

/// Where the requester wants the outcome.
const REPLY_QUEUE: &str = "petition-hand-overs";

/// A request as the petitions capability publishes it: the PDF sealed with
/// Jana's key for `(petition-…-extract, content)`.
async fn request(setup: &Setup, request_id: &str, recipient: &str) -> Event {
    let document = format!("{request_id}-extract");
    let sealed = setup.databox.sealer.encrypt(JANA, &document, "content", PDF).await.expect("seal");
    let message = OutgoingDataMessage {
        request_id: request_id.into(),
        recipient_box_id: recipient.into(),
        subject: "Petice: Za bezpečný přechod".into(),
        source: "petitions".into(),
        attachments: vec![OutgoingAttachment {
            file_name: "petice.pdf".into(),
            media_type: "application/pdf".into(),
            sealed_document: document,
            sealed_field: "content".into(),
            content: SealedContent::Inline { sealed: base64::engine::general_purpose::STANDARD.encode(sealed) },
        }],
        reply_to: Some(REPLY_QUEUE.into()),
    };
    Event::new(kinds::SEND_DATA_MESSAGE, request_id, JANA, START, serde_json::to_value(message).expect("json"))
}

fn jana_box(setup: &Setup) -> BoxId {
    setup.isds.box_of_person("DEMO/jana-novakova").expect("box")
}

/// Jana's box in her own session.
fn jana_session(setup: &Setup) -> SessionContext {
    let citizen = support::citizen(JANA);
    SessionContext::new(jana_box(setup), Access::Simulated, &citizen)
}

/// Jana's box as a test looks into it (a job's context: it delivers nothing).
fn jana_ctx(setup: &Setup) -> BoxContext {
    BoxContext::for_job(jana_box(setup), Access::Simulated, "test")
}

async fn sent_with_reference(setup: &Setup, reference: &str) -> Vec<MessageEnvelope> {
    let query = ListQuery { from: None, to: None, statuses: Vec::new(), offset: 1, limit: 1000 };
    let sent = setup.isds.list_messages(&jana_ctx(setup), Direction::Sent, &query).await.expect("list");
    sent.into_iter().filter(|m| m.sender_ref_number.as_deref() == Some(reference)).collect()
}

#[tokio::test]
async fn a_replayed_request_sends_one_message() {
    let setup = setup();
    let request_id = "petition-0123456789abcdef0123456789abcdef";
    let event = request(&setup, request_id, "simmuhl").await;
    for _ in 0..5 {
        send_on_behalf(&setup.databox, &event).await.expect("handled");
    }
    let sent = sent_with_reference(&setup, request_id).await;
    assert_eq!(sent.len(), 1, "one message in ISDS");
    assert_eq!(sent[0].recipient_box.as_str(), "simmuhl");
    assert_eq!(sent[0].subject, "Petice: Za bezpečný přechod");
    let record = setup
        .store
        .get(portal_databox::COLLECTION, JANA, &on_behalf::sent_id(request_id))
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!(record.body["messageId"], sent[0].id.as_str());
    let events = setup.drain(portal_events::NOTIFICATIONS_QUEUE).await;
    assert_eq!(events.len(), 5, "the event again on every delivery");
    assert!(events.iter().all(|e| e["type"] == kinds::DATA_MESSAGE_SENT && e["id"] == events[0]["id"]));
    assert_eq!(events[0]["data"]["messageId"], sent[0].id.as_str());
    assert_eq!(events[0]["data"]["requestId"], request_id);
    let log = setup.access_entries(JANA).await;
    assert_eq!(log.iter().filter(|e| e.resource_type == "data-message").count(), 1);
    let outcomes = setup.drain(REPLY_QUEUE).await;
    assert_eq!(outcomes.len(), 5, "the outcome again on every delivery, one id");
    assert!(outcomes.iter().all(|e| e["type"] == kinds::DATA_MESSAGE_OUTCOME && e["id"] == outcomes[0]["id"]));
    assert_eq!(outcomes[0]["data"]["sent"], true);
    assert_eq!(outcomes[0]["data"]["messageId"], sent[0].id.as_str());
    assert_eq!(outcomes[0]["data"]["requestId"], request_id);
    assert!(outcomes.iter().all(|e| e["data"]["deliveredAt"] == outcomes[0]["data"]["deliveredAt"]), "{outcomes:?}");
    assert!(outcomes[0]["data"]["deliveredAt"].is_string(), "{outcomes:?}");
}

#[tokio::test]
async fn a_delivery_after_a_crash_past_isds_records_the_message_instead_of_sending_again() {
    let setup = setup();
    let request_id = "petition-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let event = request(&setup, request_id, "simmuhl").await;
    // The earlier delivery wrote its marker and ISDS took the message; then it died.
    let marker = NewDocument::new(
        JANA,
        on_behalf::sending_id(request_id),
        json!({"type": "sending-on-behalf", "requestId": request_id, "at": "2026-11-23T08:00:00Z"}),
    );
    setup.store.create(portal_databox::COLLECTION, marker).await.expect("marker");
    let message = portal_databox::validate::check(
        portal_databox::validate::SendRequest {
            recipient: Some("simmuhl".into()),
            subject: Some("Petice: Za bezpečný přechod".into()),
            sender_ref_number: Some(request_id.into()),
            files: vec![("petice.pdf".into(), "application/pdf".into(), bytes::Bytes::from_static(PDF))],
            ..Default::default()
        },
        100_000_000,
    )
    .expect("valid");
    let first = setup.isds.send_message(&jana_ctx(&setup), &message).await.expect("sent");

    for _ in 0..3 {
        send_on_behalf(&setup.databox, &event).await.expect("handled");
    }
    let sent = sent_with_reference(&setup, request_id).await;
    assert_eq!(sent.len(), 1, "not sent a second time");
    let record = setup
        .store
        .get(portal_databox::COLLECTION, JANA, &on_behalf::sent_id(request_id))
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!(record.body["messageId"], first.as_str());
}

#[tokio::test]
async fn a_marker_without_a_message_in_isds_sends_once() {
    let setup = setup();
    let request_id = "petition-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let event = request(&setup, request_id, "simmuhl").await;
    let marker = NewDocument::new(
        JANA,
        on_behalf::sending_id(request_id),
        json!({"type": "sending-on-behalf", "requestId": request_id, "at": "2026-11-23T08:00:00Z"}),
    );
    setup.store.create(portal_databox::COLLECTION, marker).await.expect("marker");
    send_on_behalf(&setup.databox, &event).await.expect("handled");
    send_on_behalf(&setup.databox, &event).await.expect("handled");
    assert_eq!(
        sent_with_reference(&setup, request_id).await.len(),
        1,
        "the crash happened before ISDS: sent now, once"
    );
}

#[tokio::test]
async fn refusals_are_told_to_the_citizen_and_not_retried() {
    let setup = setup();
    let unknown = request(&setup, "petition-cccccccccccccccccccccccccccccccc", "zz9zz9z").await;
    send_on_behalf(&setup.databox, &unknown).await.expect("acknowledged");
    let mut foreign = request(&setup, "petition-dddddddddddddddddddddddddddddddd", "simmuhl").await;
    foreign.subject = "DEMO%2Fjiri-dvorak".into();
    send_on_behalf(&setup.databox, &foreign).await.expect("acknowledged: not Jiří's key");
    let malformed = Event::new(kinds::SEND_DATA_MESSAGE, "x", JANA, START, json!({"a": 1}));
    assert!(matches!(
        send_on_behalf(&setup.databox, &malformed).await,
        Err(portal_host::InvocationError::Permanent(_))
    ));
    let events = setup.drain(portal_events::NOTIFICATIONS_QUEUE).await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["type"] == kinds::DATA_MESSAGE_NOT_SENT), "{events:?}");
    assert!(events[0]["data"]["reason"].as_str().is_some_and(|r| r.contains("ISDS code")), "{events:?}");
    assert!(sent_with_reference(&setup, "petition-cccccccccccccccccccccccccccccccc").await.is_empty());
    let outcomes = setup.drain(REPLY_QUEUE).await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(outcomes.iter().all(|e| e["data"]["sent"] == false && e["data"]["reason"].is_string()), "{outcomes:?}");
}

#[test]
fn the_function_listens_on_the_data_messages_queue() {
    let setup = setup();
    let declared = functions(setup.databox.clone());
    let function = declared.iter().find(|f| f.name == on_behalf::FUNCTION).expect("declared");
    assert!(
        matches!(&function.trigger, Trigger::Queue { queue, .. } if queue == portal_events::DATA_MESSAGES_QUEUE),
        "{:?}",
        function.trigger
    );
}

#[tokio::test]
async fn a_request_whose_attachment_is_a_blob_is_sent_once() {
    let setup = setup();
    let request_id = "petition-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    let mut event = request(&setup, request_id, "simmuhl").await;
    let mut message: OutgoingDataMessage = event.data_as().expect("contract");
    let attachment = &mut message.attachments[0];
    let sealed = setup.databox.sealer.encrypt(JANA, &attachment.sealed_document, "content", PDF).await.expect("seal");
    let path = portal_store::BlobPath::parse("petitions/eeee/hand-over-extract").expect("path");
    portal_store::BlobStore::put(
        setup.store.as_ref(),
        &path,
        bytes::Bytes::from(sealed),
        "application/octet-stream",
        Default::default(),
        portal_store::PutMode::Overwrite,
    )
    .await
    .expect("blob");
    attachment.content = SealedContent::Blob { path: path.as_str().to_owned() };
    event.data = serde_json::to_value(&message).expect("json");
    send_on_behalf(&setup.databox, &event).await.expect("handled");
    send_on_behalf(&setup.databox, &event).await.expect("handled");
    let sent = sent_with_reference(&setup, request_id).await;
    assert_eq!(sent.len(), 1);
    let downloaded =
        setup.isds.download_message(&jana_session(&setup), Direction::Sent, &sent[0].id).await.expect("download");
    let content = downloaded.attachments[0].content.bytes().await.expect("in memory");
    assert_eq!(content.as_ref(), PDF, "the opened content went to ISDS");
}
