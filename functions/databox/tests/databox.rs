//! The data box capability in process, on the ISDS simulator: the mailbox as a
//! citizen uses it, sending with ISDS's rules, archiving (twice, and after a
//! crash), buying credit (a message replayed 100 times) and deemed-delivery
//! warnings.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use portal_databox::isds::simulator::{IsdsSimulator, SimulatorSettings};
use portal_databox::isds::{Access, BoxContext, BoxId, Direction, Isds, ListQuery, MessageStatus};
use portal_databox::payments::{SimulatedCreditSystem, SimulatedPaymentGateway};
use portal_databox::queue::purchase_credit::purchase_credit;
use portal_databox::timer::warn_before_deemed_delivery as warnings;
use portal_databox::{Databox, DataboxSettings, SimulatedBoxDirectory, archive, credit, functions};
use portal_store::embedded::EmbeddedStore;
use portal_store::{BlobStore, Clock, DocumentStore, FilterOp, Query};
use portal_testkit::{Harness, JANA, JIRI, Login, PETR, Part, START, anonymous, call, get, json_of, multipart, write};
use serde_json::{Value, json};

struct Portal {
    router: Router,
    databox: Databox,
    isds: Arc<IsdsSimulator>,
    gateway: Arc<SimulatedPaymentGateway>,
    harness: Harness,
}

impl std::ops::Deref for Portal {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

/// The capability on the ISDS simulator and simulated payments, with the
/// harness's stores, keys and clock.
fn portal_on(harness: Harness, settings: DataboxSettings) -> Portal {
    let isds = Arc::new(IsdsSimulator::seeded(
        harness.clock.clone(),
        SimulatorSettings { max_message_bytes: settings.max_message_bytes, ..SimulatorSettings::default() },
    ));
    let gateway = Arc::new(portal_databox::payments::simulated_gateway(harness.clock.clone()));
    let databox = Databox {
        isds: isds.clone(),
        management: isds.clone(),
        directory: Arc::new(SimulatedBoxDirectory(isds.clone())),
        payments: gateway.clone(),
        credit: Arc::new(SimulatedCreditSystem::new(isds.clone())),
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings,
        simulated_payments: Some(gateway.clone()),
    };
    let router = harness.router(functions(databox.clone()));
    Portal { router, databox, isds, gateway, harness }
}

fn portal_with(settings: DataboxSettings) -> Portal {
    portal_on(Harness::new(), settings)
}

fn portal() -> Portal {
    portal_with(DataboxSettings::default())
}

/// Sends a data message: text fields and `(file name, type, content)` attachments.
fn send_request(login: &Login, fields: &[(&str, &str)], files: &[(&str, &str, Vec<u8>)]) -> Request<Body> {
    let mut parts: Vec<Part<'_>> = fields.iter().map(|(name, value)| Part::field(name, value)).collect();
    parts.extend(files.iter().map(|(name, mime, content)| Part::file("attachment", name, mime, content)));
    let mut request = multipart("/api/databox/messages", login, &parts);
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let key = format!("test-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    request.headers_mut().insert("idempotency-key", key.parse().expect("header"));
    request
}

/// The same, with the given `Idempotency-Key` (or none).
fn send_request_keyed(
    login: &Login,
    key: Option<&str>,
    fields: &[(&str, &str)],
    files: &[(&str, &str, Vec<u8>)],
) -> Request<Body> {
    let mut request = send_request(login, fields, files);
    request.headers_mut().remove("idempotency-key");
    if let Some(key) = key {
        request.headers_mut().insert("idempotency-key", key.parse().expect("header"));
    }
    request
}

#[tokio::test]
async fn a_citizen_reads_and_downloads_messages() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (status, _, body) =
        call(&portal.router, get("/api/databox/messages?folder=received&pageSize=100", &jana)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let list = json_of(&body);
    assert_eq!(list["simulated"], true, "simulator data is labelled");
    let items = list["items"].as_array().expect("items");
    assert!(items.len() >= 8, "messages in many statuses: {}", items.len());
    let (_, _, sent) = call(&portal.router, get("/api/databox/messages?folder=sent", &jana)).await;
    assert!(!json_of(&sent)["items"].as_array().expect("items").is_empty(), "sent messages too");

    let readable = items.iter().find(|m| m["status"].as_u64() == Some(4)).expect("a delivered, unopened message");
    let id = readable["id"].as_str().expect("id");
    let (status, _, detail) = call(&portal.router, get(&format!("/api/databox/messages/received/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    let detail = json_of(&detail);
    assert!(detail["attachments"].as_array().is_some_and(|a| !a.is_empty()), "{detail}");
    // The simulator's ZFO verifies against the simulator's CA, and says it is simulated.
    let signature = &detail["signature"];
    assert_eq!(signature["verified"], true, "{detail}");
    assert!(signature["signedBy"].as_str().is_some_and(|s| s.contains("SIMULATED")), "{signature}");
    assert_eq!(signature["timeStamp"]["verified"], true, "{signature}");
    assert!(signature.get("reason").is_none(), "{signature}");
    let (status, headers, content) =
        call(&portal.router, get(&format!("/api/databox/messages/received/{id}/attachments/0"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_DISPOSITION].to_str().expect("ascii").starts_with("attachment;"));
    assert!(!content.is_empty());
    let (status, headers, zfo) =
        call(&portal.router, get(&format!("/api/databox/messages/received/{id}/zfo"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/vnd.software602.filler.form-xml-zip");
    let content = portal_databox::isds::zfo_verify::signed_content(&zfo).expect("a CMS SignedData");
    assert!(content.starts_with(b"SIMULATED-ZFO"), "the simulator's ZFO says what it is");

    let (status, _, _) =
        call(&portal.router, get("/api/databox/messages/received/99999999999/attachments/0", &jana)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another box's or an unknown message");

    let reads = portal.access_entries(JANA).await;
    let kinds: Vec<&str> = reads.iter().map(|e| e.resource_type.as_str()).collect();
    for kind in ["data-message-list", "data-message", "data-message-attachment", "data-message-zfo"] {
        assert!(kinds.contains(&kind), "{kind} reads are in the access log: {kinds:?}");
    }
}

#[tokio::test]
async fn sending_follows_the_isds_rules_field_by_field() {
    let portal = portal_with(DataboxSettings { max_message_bytes: 10_000, ..DataboxSettings::default() });
    let jana = portal.login(JANA).await;
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let good = [("recipient", "simmuhl"), ("subject", "Žádost o vydání rozhodnutí")];
    let (status, _, body) =
        call(&portal.router, send_request(&jana, &good, &[("zadost.pdf", "application/pdf", pdf.clone())])).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let (_, _, sent) = call(&portal.router, get("/api/databox/messages?folder=sent&pageSize=100", &jana)).await;
    assert!(
        json_of(&sent)["items"].as_array().expect("items").iter().any(|m| m["id"] == id.as_str()),
        "it is in the sent folder"
    );

    type Files<'a> = Vec<(&'a str, &'a str, Vec<u8>)>;
    type Case<'a> = (Vec<(&'a str, &'a str)>, Files<'a>, &'a str);
    let cases: Vec<Case> = vec![
        (vec![("recipient", "abc"), ("subject", "x")], vec![("a.pdf", "application/pdf", pdf.clone())], "recipient"),
        (good.to_vec(), vec![("setup.exe", "application/x-msdownload", b"MZ".to_vec())], "attachments[0].name"),
        (good.to_vec(), (0..51).map(|_| ("a.txt", "text/plain", b"x".to_vec())).collect(), "attachments"),
        (good.to_vec(), vec![("big.pdf", "application/pdf", vec![b'x'; 20_000])], "attachments"),
        (good.to_vec(), vec![], "attachments"),
    ];
    for (fields, files, field) in cases {
        let (status, headers, body) = call(&portal.router, send_request(&jana, &fields, &files)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", String::from_utf8_lossy(&body));
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let problem = json_of(&body);
        assert!(problem["errors"].as_array().expect("errors").iter().any(|e| e["field"] == field), "{problem}");
    }
    let refused = [("recipient", "zz9zz9z"), ("subject", "x")];
    let (status, _, body) =
        call(&portal.router, send_request(&jana, &refused, &[("a.pdf", "application/pdf", pdf)])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown box is refused by ISDS");
    assert!(
        json_of(&body)["detail"].as_str().unwrap_or("").contains("ISDS code"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

/// Jana's box as a test looks into it (a job's context: it delivers nothing).
fn jana_ctx(portal: &Portal) -> BoxContext {
    BoxContext::for_job(portal.isds.box_of_person("DEMO/jana-novakova").expect("box"), Access::Simulated, "test")
}

/// The messages of Jana's box that an archive taking messages delivered at
/// least `days` ago must take now.
async fn due(portal: &Portal, days: i64) -> Vec<String> {
    let due_before = portal.clock.now() - time::Duration::days(days);
    // Only what ISDS has delivered: 5, 6 and 7, accepted long enough ago.
    let statuses = vec![MessageStatus::DeemedDelivered, MessageStatus::AcceptedByLogin, MessageStatus::Read];
    let query = ListQuery { from: None, to: Some(due_before), statuses, offset: 1, limit: 1000 };
    let mut ids: Vec<String> = portal
        .isds
        .list_messages(&jana_ctx(portal), Direction::Received, &query)
        .await
        .expect("list")
        .into_iter()
        .filter(|m| m.acceptance_time.is_some_and(|t| t <= due_before))
        .map(|m| m.id.as_str().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn archived(store: &dyn DocumentStore) -> Vec<String> {
    let query = Query::default().filter("type", FilterOp::Eq, "archived-message").page_size(1000);
    let mut ids: Vec<String> = store
        .query("databox", JANA, query)
        .await
        .expect("query")
        .items
        .into_iter()
        .map(|d| d.body["messageId"].as_str().unwrap_or("").to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_archive_takes_each_due_message_exactly_once() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    // Linking happens at first use.
    assert_eq!(call(&portal.router, get("/api/databox/box", &jana)).await.0, StatusCode::OK);
    let expected = due(&portal, 80).await;
    assert!(!expected.is_empty(), "the seed has a message past the archive age");

    let first = archive::run(&portal.databox).await.expect("first run");
    assert_eq!(first.messages_archived as usize, expected.len());
    assert_eq!(archived(portal.store.as_ref()).await, expected);
    let second = archive::run(&portal.databox).await.expect("second run");
    assert_eq!(
        (second.messages_archived, second.messages_already_archived as usize),
        (0, expected.len()),
        "nothing twice"
    );
    assert_eq!(archived(portal.store.as_ref()).await, expected);

    let (status, _, body) = call(&portal.router, get("/api/databox/messages?folder=archived", &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json_of(&body)["items"].as_array().map(Vec::len),
        Some(expected.len()),
        "the archived folder shows them"
    );
    let id = &expected[0];
    let (status, _, zfo) = call(&portal.router, get(&format!("/api/databox/messages/archived/{id}/zfo"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    let content = portal_databox::isds::zfo_verify::signed_content(&zfo).expect("a CMS SignedData");
    assert!(content.starts_with(b"SIMULATED-ZFO"), "the archived ZFO opens with the citizen's key");
    let (_, _, detail) = call(&portal.router, get(&format!("/api/databox/messages/archived/{id}"), &jana)).await;
    assert_eq!(json_of(&detail)["signature"]["verified"], true, "the archived ZFO still verifies");
    let (status, _, _) =
        call(&portal.router, get(&format!("/api/databox/messages/archived/{id}/attachments/0"), &jana)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, report) = call(&portal.router, anonymous("/api/databox/jobs/archive")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&report)["citizensDone"], 1);

    // Blobs hold only ciphertext, sealed in chunks (format 2), so Documents
    // streams their downloads.
    let blobs = portal_store::BlobStore::list(portal.store.as_ref(), "databox/").await.expect("list");
    assert!(!blobs.is_empty());
    for blob in &blobs {
        let (_, stream) = portal_store::BlobStore::get(portal.store.as_ref(), &blob.path).await.expect("blob");
        let sealed: Vec<bytes::Bytes> = futures::TryStreamExt::try_collect(stream).await.expect("read");
        let sealed = sealed.concat();
        assert!(portal_crypto::stream::is_streamed(&sealed), "{} is sealed in chunks", blob.path.as_str());
        assert!(!sealed.windows(13).any(|w| w == b"SIMULATED-ZFO"), "{} holds no plaintext", blob.path.as_str());
    }
    let events = portal.drain("document-filed").await;
    assert!(
        events.iter().filter(|e| e["type"] == "document.archived-data-message").count() >= expected.len(),
        "Documents hears of each"
    );
}

#[tokio::test]
async fn a_purchase_message_replayed_100_times_credits_once() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let before = portal.isds.credit_info(&jana_ctx(&portal)).await.expect("credit").current_hellers;

    let request = write(Method::POST, "/api/databox/credit/purchases", &jana, Some(json!({"amountCzk": 200})));
    let (status, _, body) = call(&portal.router, request).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let payment_id = json_of(&body)["paymentId"].as_str().expect("id").to_owned();
    let message = credit::PurchaseMessage { payment_id: payment_id.clone(), subject: JANA.into() };
    assert!(
        purchase_credit(&portal.databox, &message).await.is_err(),
        "an unpaid purchase is retried later, not credited"
    );

    portal.gateway.settle(&payment_id, true).expect("settle");
    let runs = futures::future::join_all((0..100).map(|_| purchase_credit(&portal.databox, &message))).await;
    assert!(runs.iter().all(Result::is_ok), "every replay is acknowledged");
    let after = portal.isds.credit_info(&jana_ctx(&portal)).await.expect("credit").current_hellers;
    assert_eq!(after - before, 20_000, "credited exactly once");
    assert_eq!(credit::ledger_total(&portal.databox, JANA).await.expect("ledger"), 20_000, "the ledger balances");
    // Replays publish again (a crash after settling must not lose the events), always with the same id, on which
    // the consumers deduplicate.
    let events = portal.drain("send-notification").await;
    let confirmed: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "databox.credit-purchase-confirmed")
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(confirmed.len(), 1, "one confirmation, whatever the number of replays: {confirmed:?}");
    let receipts = portal.drain("document-filed").await;
    let ids: std::collections::BTreeSet<&str> = receipts.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), 1, "one receipt: {ids:?}");
    let filed: portal_events::FiledDocument =
        serde_json::from_value(receipts[0]["data"].clone()).expect("a FiledDocument");
    let portal_events::SealedContent::Inline { sealed } = &filed.content else { panic!("inline receipt") };
    use base64::Engine as _;
    let sealed = base64::engine::general_purpose::STANDARD.decode(sealed).expect("base64");
    let text = portal.databox.sealer.decrypt(JANA, &filed.document_id, "content", &sealed).await.expect("opens");
    let text = String::from_utf8(text).expect("utf-8");
    assert!(text.contains("200,00 Kč") && text.contains(&payment_id) && text.contains("SIMULÁTOR"), "{text}");
    assert_eq!(filed.size, text.len() as u64);

    let bad = write(Method::POST, "/api/databox/credit/purchases", &jana, Some(json!({"amountCzk": 137})));
    let (status, _, body) = call(&portal.router, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(&body)["errors"][0]["field"], "amountCzk");
}

#[tokio::test]
async fn a_declined_or_expired_payment_credits_nothing() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let before = portal.isds.credit_info(&jana_ctx(&portal)).await.expect("credit").current_hellers;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let request = write(Method::POST, "/api/databox/credit/purchases", &jana, Some(json!({"amountCzk": 100})));
        ids.push(json_of(&call(&portal.router, request).await.2)["paymentId"].as_str().expect("id").to_owned());
    }
    portal.gateway.settle(&ids[0], false).expect("decline");
    portal.clock.advance(Duration::from_secs(31 * 60));
    let jana = portal.login(JANA).await;
    for id in &ids {
        let message = credit::PurchaseMessage { payment_id: id.clone(), subject: JANA.into() };
        purchase_credit(&portal.databox, &message).await.expect("settled");
        let (_, _, purchase) = call(&portal.router, get(&format!("/api/databox/credit/purchases/{id}"), &jana)).await;
        assert!(
            matches!(json_of(&purchase)["state"].as_str(), Some("declined" | "expired")),
            "{}",
            String::from_utf8_lossy(&purchase)
        );
    }
    assert_eq!(portal.isds.credit_info(&jana_ctx(&portal)).await.expect("credit").current_hellers, before);
    assert_eq!(credit::ledger_total(&portal.databox, JANA).await.expect("ledger"), 0);
    let events = portal.drain("send-notification").await;
    assert_eq!(
        events.iter().filter(|e| e["type"] == "databox.credit-purchase-declined").count(),
        2,
        "the citizen is told"
    );
}

#[tokio::test]
async fn unopened_messages_warn_once_before_deemed_delivery() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    assert_eq!(call(&portal.router, get("/api/databox/box", &jana)).await.0, StatusCode::OK);
    let first = warnings::run(&portal.databox).await.expect("run");
    assert!(first.warned >= 1, "the seed has a message unopened for 7 days: {first:?}");
    let second = warnings::run(&portal.databox).await.expect("run again");
    assert_eq!(second.warned, 0, "each message warns once");
    let events = portal.drain("send-notification").await;
    let warnings: Vec<&Value> = events.iter().filter(|e| e["type"] == "databox.deemed-delivery-warning").collect();
    assert_eq!(warnings.len() as u64, first.warned);
    assert!(warnings[0]["data"]["deemedDeliveredAt"].is_string());
    let mut ids: Vec<&str> = warnings.iter().filter_map(|e| e["id"].as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), warnings.len(), "event ids are unique per message");
    let announced = events.iter().filter(|e| e["type"] == "databox.new-message").count();
    assert!(announced >= 1, "new messages are announced");

    // A new message from an authority is announced at the next run, once.
    let jana_box = portal.isds.box_of_person("DEMO/jana-novakova").expect("box");
    let notice = portal_databox::isds::OutgoingMessage {
        recipient: jana_box,
        subject: "Výzva k doplnění podání".into(),
        sender_ref_number: None,
        sender_ident: None,
        recipient_ref_number: None,
        recipient_ident: None,
        to_hands: None,
        personal_delivery: false,
        commercial: false,
        attachments: vec![portal_databox::isds::Attachment {
            name: "vyzva.pdf".into(),
            mime_type: "application/pdf".into(),
            meta_type: portal_databox::isds::FileMetaType::Main,
            content: bytes::Bytes::from_static(b"%PDF-1.4 simulated"),
        }],
    };
    let sender = BoxId::parse(portal_databox::isds::simulator::MUNICIPAL_OFFICE_BOX).expect("box");
    portal.isds.deliver_incoming(&sender, &notice).expect("deliver");
    warnings::run(&portal.databox).await.expect("run");
    warnings::run(&portal.databox).await.expect("run");
    let events = portal.drain("send-notification").await;
    assert_eq!(events.iter().filter(|e| e["type"] == "databox.new-message").count(), 1, "announced exactly once");
}

#[tokio::test]
async fn spending_credit_below_the_threshold_tells_the_citizen() {
    let portal = portal_with(DataboxSettings { credit_low_hellers: 4_500, ..DataboxSettings::default() });
    let jana = portal.login(JANA).await;
    let fields =
        [("recipient", portal_databox::isds::simulator::COMPANY_BOX), ("subject", "Reklamace"), ("commercial", "true")];
    let (status, _, body) =
        call(&portal.router, send_request(&jana, &fields, &[("reklamace.txt", "text/plain", b"Dobry den".to_vec())]))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let events = portal.drain("send-notification").await;
    let low: Vec<&Value> = events.iter().filter(|e| e["type"] == "databox.credit-low").collect();
    assert_eq!(low.len(), 1, "50 Kč less 10 Kč is under 45 Kč: {events:?}");
    assert_eq!(low[0]["data"]["creditHellers"], 4_000);
}

#[tokio::test]
async fn a_citizen_can_archive_now_and_sees_the_archived_folder() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let request = write(Method::POST, "/api/databox/archive", &jana, None);
    let (status, _, body) = call(&portal.router, request).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let archived_now = json_of(&body)["messagesArchived"].as_u64().expect("count");
    assert!(archived_now >= 1);
    let (_, _, list) = call(&portal.router, get("/api/databox/messages?folder=archived", &jana)).await;
    assert_eq!(json_of(&list)["items"].as_array().map(|a| a.len() as u64), Some(archived_now));
}

/// A blob store that reports every put on stdout, so the parent of a child
/// process knows when to kill it mid-run.
#[derive(Debug)]
struct ReportingBlobs(Arc<EmbeddedStore>);

#[async_trait::async_trait]
impl portal_store::BlobStore for ReportingBlobs {
    async fn put(
        &self,
        path: &portal_store::BlobPath,
        content: bytes::Bytes,
        content_type: &str,
        metadata: std::collections::BTreeMap<String, String>,
        mode: portal_store::PutMode,
    ) -> portal_store::StoreResult<portal_store::BlobInfo> {
        let info = self.0.put(path, content, content_type, metadata, mode).await?;
        println!("blob-put {path}");
        Ok(info)
    }
    async fn get(
        &self,
        path: &portal_store::BlobPath,
    ) -> portal_store::StoreResult<(portal_store::BlobInfo, portal_store::BlobStream)> {
        portal_store::BlobStore::get(self.0.as_ref(), path).await
    }
    async fn delete(&self, path: &portal_store::BlobPath) -> portal_store::StoreResult<()> {
        portal_store::BlobStore::delete(self.0.as_ref(), path).await
    }
    async fn list(&self, prefix: &str) -> portal_store::StoreResult<Vec<portal_store::BlobInfo>> {
        self.0.list(prefix).await
    }
    async fn ping(&self) -> portal_store::StoreResult<()> {
        portal_store::BlobStore::ping(self.0.as_ref()).await
    }
}

/// Child mode of [`killing_the_archive_midway_leaves_no_duplicate_and_no_gap`]:
/// archives with more due messages than the seed has, reporting each blob.
async fn archive_child(data: &std::path::Path, keys: &std::path::Path) {
    let harness = Harness::on_disk(data, keys, START);
    let mut portal = portal_on(harness, DataboxSettings { archive_after_days: 1, ..DataboxSettings::default() });
    portal.databox.blobs = Arc::new(ReportingBlobs(portal.store.clone()));
    let jana = portal.login(JANA).await;
    assert_eq!(call(&portal.router, get("/api/databox/box", &jana)).await.0, StatusCode::OK);
    archive::run(&portal.databox).await.expect("run");
    println!("run-finished");
}

#[tokio::test]
async fn killing_the_archive_midway_leaves_no_duplicate_and_no_gap() {
    use std::io::BufRead as _;
    if let (Ok(data), Ok(keys)) =
        (std::env::var("PORTAL_ARCHIVE_CHILD_DATA"), std::env::var("PORTAL_ARCHIVE_CHILD_KEYS"))
    {
        archive_child(std::path::Path::new(&data), std::path::Path::new(&keys)).await;
        return;
    }
    let (data, keys) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "killing_the_archive_midway_leaves_no_duplicate_and_no_gap",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PORTAL_ARCHIVE_CHILD_DATA", data.path())
        .env("PORTAL_ARCHIVE_CHILD_KEYS", keys.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the archiving child");
    let stdout = child.stdout.take().expect("stdout");
    let mut puts = 0;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("read");
        assert_ne!(line, "run-finished", "the child finished before it could be killed");
        if line.starts_with("blob-put ") {
            puts += 1;
            // Several messages in, in the middle of one (after its ZFO, before its attachments).
            if puts == 7 {
                break;
            }
        }
    }
    child.kill().expect("SIGKILL mid-run");
    child.wait().expect("reap");

    // The next run, in this process, on the same data and keys.
    let harness = Harness::on_disk(data.path(), keys.path(), START);
    let portal = portal_on(harness, DataboxSettings { archive_after_days: 1, ..DataboxSettings::default() });
    let before = archived(portal.store.as_ref()).await;
    let expected = due(&portal, 1).await;
    assert!(before.len() < expected.len(), "the kill interrupted the run ({} of {})", before.len(), expected.len());
    let report = archive::run(&portal.databox).await.expect("the next run");
    assert_eq!(report.messages_already_archived as usize, before.len(), "what was archived is not archived again");
    let after = archived(portal.store.as_ref()).await;
    assert_eq!(after, expected, "every due message exactly once: no duplicate, no gap");
    let jana = portal.login(JANA).await;
    for id in &after {
        let (status, _, _) =
            call(&portal.router, get(&format!("/api/databox/messages/archived/{id}/attachments/0"), &jana)).await;
        assert_eq!(status, StatusCode::OK, "{id} opens whole");
    }
}

#[tokio::test]
async fn a_data_box_request_is_also_a_filing_with_a_fixed_id() {
    let portal = portal();
    // A citizen the ISDS simulator has no box for.
    let who = portal.login("DEMO%2Fbez-schranky").await;
    let request = write(Method::POST, "/api/databox/box-requests", &who, None);
    let (status, _, body) = call(&portal.router, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    // Showing the request publishes the filing again, with the same id (the consumer drops the repeat).
    let show = get(&format!("/api/databox/box-requests/{id}"), &who);
    let (status, _, _) = call(&portal.router, show).await;
    assert_eq!(status, StatusCode::OK);

    let all = portal.drain(portal_events::FILINGS_QUEUE).await;
    // Showing it also asked ISDS at once: the request is in progress, a filing state of its own.
    assert_eq!(all.iter().filter(|e| e["data"]["status"] == "in-progress").count(), 1, "{all:?}");
    let filings: Vec<Value> = all.into_iter().filter(|e| e["data"]["status"] == "submitted").collect();
    assert_eq!(filings.len(), 2, "{filings:?}");
    assert!(filings.iter().all(|e| e["id"] == filings[0]["id"]), "one fact, one id: {filings:?}");
    assert_eq!(filings[0]["subject"], "DEMO%2Fbez-schranky");
    let record: portal_events::FilingRecord = serde_json::from_value(filings[0]["data"].clone()).expect("contract");
    assert_eq!((record.kind.as_str(), record.status.as_str()), ("data-box-request", "submitted"));
    assert_eq!(record.filing_id, format!("box-request-{id}"));
}

#[tokio::test]
async fn erasure_deletes_a_citizens_records_archive_and_index_entry_and_a_replay_succeeds() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let jiri = portal.login(JIRI).await;
    for who in [&jana, &jiri] {
        assert_eq!(call(&portal.router, get("/api/databox/box", who)).await.0, StatusCode::OK, "linked");
    }
    let report = archive::run(&portal.databox).await.expect("archive");
    assert!(report.messages_archived >= 1);
    let folder = |subject: &str| format!("databox/{}/", archive::citizen_folder(subject));
    let jana_blobs = BlobStore::list(portal.store.as_ref(), &folder(JANA)).await.expect("list");
    assert!(!jana_blobs.is_empty(), "her archive has blobs");
    let jiri_blobs = BlobStore::list(portal.store.as_ref(), &folder(JIRI)).await.expect("list").len();
    let jiri_docs = portal.store.query("databox", JIRI, Query::default().page_size(1000)).await.expect("q").items.len();
    assert!(jiri_docs >= 1);

    let at = portal.clock.now();
    portal.databox.sealer.keys().shred(JANA).await.expect("the erasure shreds her key first");
    let event = portal_events::Event::new("account.erased", &format!("{JANA}:1"), JANA, at, json!({}));
    for _ in 0..2 {
        portal_databox::queue::erase_databox_data::erase(&portal.databox, &event).await.expect("erased");
    }
    let left = portal.store.query("databox", JANA, Query::default()).await.expect("query");
    assert!(left.items.is_empty(), "nothing of hers is left: {:?}", left.items);
    assert!(BlobStore::list(portal.store.as_ref(), &folder(JANA)).await.expect("list").is_empty());
    let indexed = portal_databox::index::all(portal.store.as_ref()).await.expect("index");
    assert_eq!(indexed, vec![JIRI.to_owned()], "only Jiří is still walked by the timers");
    assert_eq!(BlobStore::list(portal.store.as_ref(), &folder(JIRI)).await.expect("list").len(), jiri_blobs);
    let after = portal.store.query("databox", JIRI, Query::default().page_size(1000)).await.expect("q").items.len();
    assert_eq!(after, jiri_docs, "Jiří's records are untouched");
}

/// The ids of Jana's received messages in status 4, as her list shows them.
async fn received_in_status_4(portal: &Portal, jana: &Login) -> Vec<String> {
    let (status, _, body) = call(&portal.router, get("/api/databox/messages?folder=received&pageSize=100", jana)).await;
    assert_eq!(status, StatusCode::OK);
    let items = json_of(&body)["items"].as_array().cloned().unwrap_or_default();
    let mut waiting: Vec<String> =
        items.iter().filter(|m| m["status"] == 4).filter_map(|m| m["id"].as_str().map(str::to_owned)).collect();
    waiting.sort();
    waiting
}

/// Issue 14's acceptance, as a new user would try it: Jana's messages in
/// status 4 stay in status 4 after her own archive request, the archive timer
/// and the deemed-delivery warnings, and none of them is archived. Every call
/// the jobs made is recorded by the simulator with its caller; none of a job's
/// calls delivered anything, then or 85 days later.
#[tokio::test]
async fn archiving_and_warnings_never_deliver_a_message() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let waiting = received_in_status_4(&portal, &jana).await;
    assert!(waiting.len() >= 3, "the seed has messages in status 4: {waiting:?}");

    let (status, _, body) = call(&portal.router, write(Method::POST, "/api/databox/archive", &jana, None)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    warnings::run(&portal.databox).await.expect("warnings");
    archive::run(&portal.databox).await.expect("archive");

    assert_eq!(received_in_status_4(&portal, &jana).await, waiting, "the same messages are still in status 4");
    let archived_now = archived(portal.store.as_ref()).await;
    assert!(waiting.iter().all(|id| !archived_now.contains(id)), "none of them is archived: {archived_now:?}");
    assert!(portal.isds.deliveries_by_jobs().is_empty(), "{:?}", portal.isds.deliveries_by_jobs());
    let job_operations: std::collections::BTreeSet<&str> = portal
        .isds
        .calls()
        .iter()
        .filter(|c| matches!(c.caller, portal_databox::isds::Caller::Job(_)))
        .map(|c| c.operation)
        .collect();
    assert!(job_operations.contains("GetListOfReceivedMessages"), "the jobs did run: {job_operations:?}");

    // 85 days on: the ordinary messages were deemed delivered by time and
    // are archived; the court's summons (no substitute delivery) is still
    // waiting for Jana's own login, and no job delivered anything.
    portal.clock.advance(Duration::from_secs(85 * 24 * 3600));
    let jana = portal.login(JANA).await;
    warnings::run(&portal.databox).await.expect("warnings");
    let report = archive::run(&portal.databox).await.expect("archive");
    assert!(report.messages_archived >= 2, "{report:?}");
    let still_waiting = received_in_status_4(&portal, &jana).await;
    assert_eq!(still_waiting.len(), 1, "the court's summons: {still_waiting:?}");
    assert!(!archived(portal.store.as_ref()).await.contains(&still_waiting[0]));
    assert!(portal.isds.deliveries_by_jobs().is_empty(), "{:?}", portal.isds.deliveries_by_jobs());
    let downloads_by_jobs = portal
        .isds
        .calls()
        .into_iter()
        .filter(|c| matches!(c.caller, portal_databox::isds::Caller::Job(_)) && c.operation == "SignedMessageDownload")
        .count();
    assert!(downloads_by_jobs >= 2, "the archive downloaded only delivered messages");

    // Jana opens the summons herself: that delivers it, in her session.
    let (status, _, _) =
        call(&portal.router, get(&format!("/api/databox/messages/received/{}", still_waiting[0]), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(received_in_status_4(&portal, &jana).await.is_empty());
    let delivering: Vec<_> = portal.isds.calls().into_iter().filter(|c| !c.delivered.is_empty()).collect();
    assert_eq!(delivering.len(), 1, "{delivering:?}");
    assert_eq!(delivering[0].caller, portal_databox::isds::Caller::Citizen);
}

/// The simulator with faults: a send ISDS takes and then times out before
/// answering; a download of one message that fails.
#[derive(Debug)]
struct FaultyIsds {
    inner: Arc<IsdsSimulator>,
    sends: std::sync::atomic::AtomicUsize,
    timeout_after_send: bool,
    fail_download_of: std::sync::Mutex<Option<String>>,
}

impl FaultyIsds {
    fn new(inner: Arc<IsdsSimulator>, timeout_after_send: bool) -> Self {
        Self { inner, sends: Default::default(), timeout_after_send, fail_download_of: Default::default() }
    }
}

#[async_trait::async_trait]
impl Isds for FaultyIsds {
    async fn list_messages(
        &self,
        ctx: &BoxContext,
        direction: Direction,
        query: &ListQuery,
    ) -> portal_databox::isds::IsdsResult<Vec<portal_databox::isds::MessageEnvelope>> {
        self.inner.list_messages(ctx, direction, query).await
    }
    async fn download_message(
        &self,
        ctx: &portal_databox::isds::SessionContext,
        direction: Direction,
        id: &portal_databox::isds::MessageId,
    ) -> portal_databox::isds::IsdsResult<portal_databox::isds::SignedMessage> {
        self.inner.download_message(ctx, direction, id).await
    }
    async fn download_delivered(
        &self,
        ctx: &BoxContext,
        message: &portal_databox::isds::DeliveredMessage,
        stash: &portal_databox::isds::Stash,
    ) -> portal_databox::isds::IsdsResult<portal_databox::isds::SignedMessage> {
        if self.fail_download_of.lock().expect("lock").as_deref() == Some(message.id().as_str()) {
            return Err(portal_databox::isds::IsdsError::Unavailable("the download failed".into()));
        }
        self.inner.download_delivered(ctx, message, stash).await
    }
    async fn send_message(
        &self,
        ctx: &BoxContext,
        message: &portal_databox::isds::OutgoingMessage,
    ) -> portal_databox::isds::IsdsResult<portal_databox::isds::MessageId> {
        self.sends.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let sent = self.inner.send_message(ctx, message).await?;
        if !self.timeout_after_send {
            return Ok(sent);
        }
        Err(portal_databox::isds::IsdsError::Unavailable("the answer timed out after ISDS accepted the message".into()))
    }
    async fn upload_attachment(
        &self,
        ctx: &BoxContext,
        upload: portal_databox::isds::AttachmentUpload,
    ) -> portal_databox::isds::IsdsResult<portal_databox::isds::UploadedAttachment> {
        self.inner.upload_attachment(ctx, upload).await
    }
    async fn create_big_message(
        &self,
        ctx: &BoxContext,
        message: &portal_databox::isds::OutgoingMessage,
        files: &[portal_databox::isds::BigFile],
    ) -> portal_databox::isds::IsdsResult<portal_databox::isds::MessageId> {
        self.sends.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let sent = self.inner.create_big_message(ctx, message, files).await?;
        if !self.timeout_after_send {
            return Ok(sent);
        }
        Err(portal_databox::isds::IsdsError::Unavailable("the answer timed out after ISDS accepted the message".into()))
    }
    async fn download_big_message(
        &self,
        ctx: &portal_databox::isds::SessionContext,
        direction: Direction,
        id: &portal_databox::isds::MessageId,
        stash: &portal_databox::isds::Stash,
    ) -> portal_databox::isds::IsdsResult<portal_databox::isds::SignedMessage> {
        self.inner.download_big_message(ctx, direction, id, stash).await
    }
    async fn mark_downloaded(
        &self,
        ctx: &portal_databox::isds::SessionContext,
        id: &portal_databox::isds::MessageId,
    ) -> portal_databox::isds::IsdsResult<()> {
        self.inner.mark_downloaded(ctx, id).await
    }
    async fn state_changes(
        &self,
        ctx: &BoxContext,
        from: time::OffsetDateTime,
        to: time::OffsetDateTime,
    ) -> portal_databox::isds::IsdsResult<Vec<portal_databox::isds::StateChange>> {
        self.inner.state_changes(ctx, from, to).await
    }
    async fn box_info(&self, ctx: &BoxContext) -> portal_databox::isds::IsdsResult<portal_databox::isds::BoxInfo> {
        self.inner.box_info(ctx).await
    }
    async fn credit_info(
        &self,
        ctx: &BoxContext,
    ) -> portal_databox::isds::IsdsResult<portal_databox::isds::CreditInfo> {
        self.inner.credit_info(ctx).await
    }
    async fn credit_history(
        &self,
        ctx: &BoxContext,
        from: time::Date,
        to: time::Date,
    ) -> portal_databox::isds::IsdsResult<Vec<portal_databox::isds::CreditEvent>> {
        self.inner.credit_history(ctx, from, to).await
    }
    async fn find_personal_boxes(
        &self,
        ctx: &BoxContext,
        person: &portal_databox::isds::PersonQuery,
    ) -> portal_databox::isds::IsdsResult<Vec<BoxId>> {
        self.inner.find_personal_boxes(ctx, person).await
    }
    async fn vault_info(&self, ctx: &BoxContext) -> portal_databox::isds::IsdsResult<portal_databox::isds::VaultInfo> {
        self.inner.vault_info(ctx).await
    }
    async fn find_boxes(
        &self,
        ctx: &BoxContext,
        query: &portal_databox::isds::BoxSearch,
    ) -> portal_databox::isds::IsdsResult<Vec<portal_databox::isds::BoxInfo>> {
        self.inner.find_boxes(ctx, query).await
    }
}

/// Jana's sent messages with this subject.
async fn sent_with_subject(portal: &Portal, subject: &str) -> Vec<String> {
    let query = ListQuery::default();
    let sent = portal.isds.list_messages(&jana_ctx(portal), Direction::Sent, &query).await.expect("list");
    sent.into_iter().filter(|m| m.subject == subject).map(|m| m.id.as_str().to_owned()).collect()
}

#[tokio::test]
async fn sending_needs_an_idempotency_key_and_sends_once_per_key() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let files = [("zadost.pdf", "application/pdf", pdf.clone())];
    let fields = [("recipient", "simmuhl"), ("subject", "Žádost poslaná jednou")];

    let (status, headers, body) = call(&portal.router, send_request_keyed(&jana, None, &fields, &files)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert!(json_of(&body)["detail"].as_str().unwrap_or("").contains("Idempotency-Key"), "{}", json_of(&body));
    assert!(sent_with_subject(&portal, "Žádost poslaná jednou").await.is_empty(), "nothing was sent");

    let first = call(&portal.router, send_request_keyed(&jana, Some("k-1"), &fields, &files)).await;
    let second = call(&portal.router, send_request_keyed(&jana, Some("k-1"), &fields, &files)).await;
    assert_eq!((first.0, second.0), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(json_of(&first.2)["id"], json_of(&second.2)["id"], "the same key answers the first result");
    assert_eq!(sent_with_subject(&portal, "Žádost poslaná jednou").await.len(), 1, "one message in ISDS");

    // The same key for another message is refused, naming the header.
    let other = [("recipient", "simmuhl"), ("subject", "Jiná žádost")];
    let (status, _, body) = call(&portal.router, send_request_keyed(&jana, Some("k-1"), &other, &files)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(&body)["errors"][0]["field"], "Idempotency-Key");
    assert!(sent_with_subject(&portal, "Jiná žádost").await.is_empty());
}

#[tokio::test]
async fn a_message_isds_took_before_its_answer_timed_out_is_found_not_sent_again() {
    let portal = portal();
    let isds = Arc::new(FaultyIsds::new(portal.isds.clone(), true));
    let mut databox = portal.databox.clone();
    databox.isds = isds.clone();
    let router = portal.harness.router(functions(databox));
    let jana = portal.login(JANA).await;
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let files = [("zadost.pdf", "application/pdf", pdf)];
    let fields = [("recipient", "simfuhl"), ("subject", "Žádost, jejíž odpověď se ztratila")];

    let (status, _, _) = call(&router, send_request_keyed(&jana, Some("lost-answer"), &fields, &files)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the answer timed out");
    let taken = sent_with_subject(&portal, "Žádost, jejíž odpověď se ztratila").await;
    assert_eq!(taken.len(), 1, "but ISDS took it");

    // At once: the first request may still be running.
    let (status, _, _) = call(&router, send_request_keyed(&jana, Some("lost-answer"), &fields, &files)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Later, the retry finds the message in ISDS instead of sending it again.
    portal.clock.advance(Duration::from_secs(7 * 60));
    let (status, _, body) = call(&router, send_request_keyed(&jana, Some("lost-answer"), &fields, &files)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["id"], taken[0].as_str());
    assert_eq!(isds.sends.load(std::sync::atomic::Ordering::SeqCst), 1, "ISDS was asked once");
    assert_eq!(sent_with_subject(&portal, "Žádost, jejíž odpověď se ztratila").await.len(), 1);
    let (status, _, body) = call(&router, send_request_keyed(&jana, Some("lost-answer"), &fields, &files)).await;
    assert_eq!((status, json_of(&body)["id"].clone()), (StatusCode::CREATED, serde_json::json!(taken[0])));
}

#[tokio::test]
async fn one_failing_message_does_not_stop_the_rest_and_is_retried() {
    let mut portal = portal_with(DataboxSettings { archive_after_days: 1, ..DataboxSettings::default() });
    let jana = portal.login(JANA).await;
    assert_eq!(call(&portal.router, get("/api/databox/box", &jana)).await.0, StatusCode::OK);
    let due = due(&portal, 1).await;
    assert!(due.len() >= 3, "{due:?}");
    // The message read 85 days ago: ISDS deletes it in 5 days.
    let list = portal.isds.list_messages(&jana_ctx(&portal), Direction::Received, &ListQuery::default()).await;
    let old = list
        .expect("list")
        .into_iter()
        .find(|m| {
            m.status == MessageStatus::Read
                && m.acceptance_time.is_some_and(|t| portal.clock.now() - t > time::Duration::days(80))
        })
        .expect("an old read message");
    let isds = Arc::new(FaultyIsds::new(portal.isds.clone(), false));
    *isds.fail_download_of.lock().expect("lock") = Some(old.id.as_str().to_owned());
    portal.databox.isds = isds.clone();

    let first = archive::run(&portal.databox).await.expect("run");
    assert_eq!((first.messages_failed, first.messages_at_risk, first.citizens_failed), (1, 1, 0), "{first:?}");
    assert_eq!(first.messages_archived as usize, due.len() - 1, "the rest is archived");
    let subject = portal_security::SubjectId::parse(JANA).expect("subject");
    let kept = archive::failures(&portal.databox, &subject).await.expect("failures");
    assert_eq!(
        (kept.len(), kept[0]["messageId"].as_str(), kept[0]["attempts"].as_u64()),
        (1, Some(old.id.as_str()), Some(1))
    );

    let second = archive::run(&portal.databox).await.expect("run");
    assert_eq!((second.messages_failed, second.messages_archived), (1, 0), "retried, still failing");
    assert_eq!(archive::failures(&portal.databox, &subject).await.expect("failures")[0]["attempts"], 2);

    *isds.fail_download_of.lock().expect("lock") = None;
    let third = archive::run(&portal.databox).await.expect("run");
    assert_eq!((third.messages_failed, third.messages_archived), (0, 1));
    assert!(archive::failures(&portal.databox, &subject).await.expect("failures").is_empty());
    assert_eq!(archived(portal.store.as_ref()).await, due);
}

/// Issue 14 §6: Petr, a demo citizen without a box, requests one; the
/// simulated ISDS creates it five minutes later (the clock's); he sees the
/// box id, gets a notification and a calendar entry for the first login, and
/// the box is his. Every step survives a repeat.
#[tokio::test]
async fn a_citizen_without_a_box_requests_one_and_sees_it_created() {
    let portal = portal();
    let petr = portal.login(PETR).await;
    assert_eq!(call(&portal.router, get("/api/databox/box", &petr)).await.0, StatusCode::NOT_FOUND, "no box yet");
    let (status, _, body) = call(&portal.router, write(Method::POST, "/api/databox/box-requests", &petr, None)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    let show = |login: &Login| get(&format!("/api/databox/box-requests/{id}"), login);

    // The request went to ISDS at once; the timer finds it still in progress.
    assert_eq!(json_of(&body)["state"], "in-progress");
    let advance = portal_databox::box_requests::advance_all;
    let first = advance(&portal.databox).await.expect("run");
    assert_eq!((first.pending, first.submitted, first.created), (1, 0, 0));
    assert_eq!(json_of(&call(&portal.router, show(&petr)).await.2)["state"], "in-progress");
    advance(&portal.databox).await.expect("run again: nothing new");
    assert_eq!(json_of(&call(&portal.router, show(&petr)).await.2)["state"], "in-progress");

    // The simulated ISDS takes five minutes of the clock; looking at the
    // request then asks ISDS at once.
    portal.clock.advance(Duration::from_secs(5 * 60));
    let request = json_of(&call(&portal.router, show(&petr)).await.2);
    assert_eq!(request["state"], "created", "{request}");
    let box_id = request["boxId"].as_str().expect("the box id is shown").to_owned();
    assert!(request["firstLoginBy"].is_string());
    let (status, _, body) = call(&portal.router, get("/api/databox/box", &petr)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["box"]["id"], box_id.as_str());
    // Looking at the box in the portal is its first login (the portal logs in
    // to it for Petr), and a box becomes accessible at its first login.
    assert_eq!(json_of(&body)["box"]["state"], "accessible");
    // Nothing is left for the timer; showing it again changes nothing.
    assert_eq!(advance(&portal.databox).await.expect("run").pending, 0);
    assert_eq!(json_of(&call(&portal.router, show(&petr)).await.2)["boxId"], box_id.as_str());

    let notices = portal.drain("send-notification").await;
    assert_eq!(notices.iter().filter(|e| e["type"] == "databox.box-created").count(), 1, "{notices:?}");
    let calendar = portal.drain("calendar-entry").await;
    let first_login: Vec<&Value> =
        calendar.iter().filter(|e| e["data"]["entryId"] == format!("box-first-login-{id}").as_str()).collect();
    assert_eq!(first_login.len(), 1, "{calendar:?}");
    let filings = portal.drain("filing-recorded").await;
    let states: Vec<&str> = filings.iter().filter_map(|e| e["data"]["status"].as_str()).collect();
    assert!(states.contains(&"in-progress") && states.contains(&"created"), "{states:?}");

    // A second request is refused: he has a box.
    let (status, _, _) = call(&portal.router, write(Method::POST, "/api/databox/box-requests", &petr, None)).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_credit_ledger_is_reconciled_with_isds_and_a_difference_is_reported() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    // A purchase through the whole flow: gateway, PurchaseCredit, the credit system.
    let request = write(Method::POST, "/api/databox/credit/purchases", &jana, Some(json!({"amountCzk": 200})));
    let (status, _, body) = call(&portal.router, request).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let payment_id = json_of(&body)["paymentId"].as_str().expect("payment id").to_owned();
    portal.gateway.settle(&payment_id, true).expect("settled");
    let message = credit::PurchaseMessage { payment_id: payment_id.clone(), subject: JANA.into() };
    purchase_credit(&portal.databox, &message).await.expect("credited");

    let clean = portal_databox::reconcile::run(&portal.databox).await.expect("run");
    assert_eq!((clean.entries_checked, clean.differences), (1, 0), "{clean:?}");

    // A ledger entry the credit system never carried out (as when a top-up
    // was recorded before it succeeded): the next run reports it.
    let lost = portal_store::NewDocument::new(
        JANA,
        "ledger-lost",
        json!({"type": "credit-ledger", "paymentId": "lost", "boxId": "sim4jan", "amountHellers": 50_000,
               "at": portal.clock.now().unix_timestamp()}),
    );
    portal.documents.create("databox", lost).await.expect("ledger entry");
    let report = portal_databox::reconcile::run(&portal.databox).await.expect("run");
    assert_eq!((report.entries_checked, report.differences), (2, 1), "{report:?}");
    assert!(report.details[0].contains("payment lost") && report.details[0].contains("no top-up in ISDS"));
    assert!(!report.details[0].contains("jana"), "no names in the report");
}

/// Follows `nextCursor` from `first` to the end: the ids in order, and how many pages.
async fn all_pages(portal: &Portal, login: &Login, first: &str) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut path) = (Vec::new(), 0, first.to_owned());
    loop {
        let (status, _, body) = call(&portal.router, get(&path, login)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&body));
        let page = json_of(&body);
        pages += 1;
        ids.extend(page["items"].as_array().expect("items").iter().map(|m| m["id"].as_str().expect("id").to_owned()));
        let Some(next) = page["nextCursor"].as_str() else { return (ids, pages) };
        path = format!("{first}&cursor={next}");
        assert!(pages < 100, "the cursor moves on");
    }
}

#[tokio::test]
async fn folders_page_through_isds_and_the_archive_with_cursors() {
    let portal = portal_with(DataboxSettings { archive_after_days: 1, ..DataboxSettings::default() });
    let jana = portal.login(JANA).await;
    let (whole, _) = all_pages(&portal, &jana, "/api/databox/messages?folder=received&pageSize=100").await;
    assert!(whole.len() >= 10, "{whole:?}");

    // Page by page: the same messages in the same order, each once, one ISDS
    // list call a page, each asking for one more than a page.
    let before = portal.isds.calls().len();
    let (paged, pages) = all_pages(&portal, &jana, "/api/databox/messages?folder=received&pageSize=3").await;
    assert_eq!(paged, whole);
    assert_eq!(pages, whole.len().div_ceil(3));
    let lists = portal.isds.calls()[before..].iter().filter(|c| c.operation == "GetListOfReceivedMessages").count();
    assert_eq!(lists, pages);

    // A filter ISDS cannot apply (text) is the portal's, still a page at a time.
    let (found, _) = all_pages(&portal, &jana, "/api/databox/messages?folder=received&pageSize=1&q=v%C3%BDzva").await;
    assert!(!found.is_empty() && found.len() < whole.len(), "{found:?}");
    // Unread is ISDS's status filter (4-6).
    let (unread, _) = all_pages(&portal, &jana, "/api/databox/messages?folder=received&pageSize=2&unread=true").await;
    assert!(!unread.is_empty() && unread.len() < whole.len());

    // The archive pages through the store the same way.
    archive::run(&portal.databox).await.expect("archive");
    let (archived_all, _) = all_pages(&portal, &jana, "/api/databox/messages?folder=archived&pageSize=100").await;
    assert!(archived_all.len() >= 3, "{archived_all:?}");
    let (archived_paged, pages) = all_pages(&portal, &jana, "/api/databox/messages?folder=archived&pageSize=2").await;
    assert_eq!(archived_paged, archived_all);
    assert!(pages >= 2);

    let (status, _, body) =
        call(&portal.router, get("/api/databox/messages?folder=received&cursor=not-a-cursor", &jana)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json_of(&body)["errors"][0]["field"], "cursor");
}

/// The identity provider's data of the demo citizens, for the directory.
#[derive(Debug)]
struct Identities;

#[async_trait::async_trait]
impl portal_databox::CitizenIdentities for Identities {
    async fn person(&self, subject: &portal_security::SubjectId) -> Option<portal_databox::isds::PersonQuery> {
        let (first, last, born) = match subject.as_str() {
            JANA => ("Jana", "Nováková", time::macros::date!(1985 - 03 - 14)),
            // The identity provider spells her name with more diacritics than the box does.
            "DEMO%2Fludmila-stastna-zdarska" => ("Ludmila", "Šťastná Žďárská", time::macros::date!(1949 - 06 - 30)),
            // Someone with Jana's name, born another day.
            "DEMO%2Fjina-jana" => ("Jana", "Nováková", time::macros::date!(1990 - 01 - 01)),
            _ => return None,
        };
        Some(portal_databox::isds::PersonQuery { first_name: first.into(), last_name: last.into(), birth_date: born })
    }
}

#[tokio::test]
async fn a_citizen_is_linked_to_the_box_isds_finds_for_their_identity() {
    let portal = portal();
    let search_in = BoxContext::for_job(
        BoxId::parse(portal_databox::isds::simulator::SYSTEM_BOX).expect("box"),
        Access::Simulated,
        "box link lookup",
    );
    let directory = portal_databox::IsdsPersonDirectory {
        isds: portal.isds.clone(),
        identities: Arc::new(Identities),
        search_in: Some(search_in),
    };
    let subject = |s: &str| portal_security::SubjectId::parse(s).expect("subject");
    use portal_databox::BoxDirectory as _;
    assert_eq!(directory.box_of(&subject(JANA)).await.map(String::from), Some("sim4jan".into()));
    assert_eq!(
        directory.box_of(&subject("DEMO%2Fludmila-stastna-zdarska")).await.map(String::from),
        Some("sim4lud".into())
    );
    assert_eq!(directory.box_of(&subject("DEMO%2Fjina-jana")).await, None, "same name, another birth date");
    assert_eq!(directory.box_of(&subject(PETR)).await, None, "no identity data, no link");
    let calls = portal.isds.calls();
    assert_eq!(calls.iter().filter(|c| c.operation == "FindPersonalDataBox").count(), 3);
    assert!(calls.iter().all(|c| c.box_id.as_str() == portal_databox::isds::simulator::SYSTEM_BOX));
    // Without the operator's box to search in, nothing links.
    let none = portal_databox::IsdsPersonDirectory { search_in: None, ..directory };
    assert_eq!(none.box_of(&subject(JANA)).await, None);
}

// ---------------------------------------------------------------------------
// Big messages (VoDZ, over 20 MB; issue 14 §4)

/// How many calls of `operation` the simulator answered.
fn count(portal: &Portal, operation: &str) -> usize {
    portal.isds.calls().iter().filter(|c| c.operation == operation).count()
}

/// A made-up PDF of `size` bytes (ISDS checks the extension, not the content).
fn pdf_of(size: usize, fill: u8) -> Vec<u8> {
    let mut content = b"%PDF-1.7\n".to_vec();
    content.resize(size, fill);
    content
}

#[tokio::test]
async fn a_message_over_20_mb_goes_by_the_vodz_services_and_arrives_once_per_key() {
    let portal = portal();
    let jana = portal.login(JANA).await;
    let (main, enclosure) = (pdf_of(14_000_000, b'a'), pdf_of(7_000_000, b'b'));
    let files =
        [("zadost.pdf", "application/pdf", main.clone()), ("priloha.pdf", "application/pdf", enclosure.clone())];
    let fields = [("recipient", "simmuhl"), ("subject", "Velká žádost se dvěma přílohami")];

    let (status, _, body) = call(&portal.router, send_request_keyed(&jana, Some("big-1"), &fields, &files)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    assert_eq!(json_of(&body)["simulated"], true);
    // 21 MB together: each file uploaded, then the message created; no CreateMessage.
    assert_eq!((count(&portal, "UploadAttachment"), count(&portal, "CreateBigMessage")), (2, 1));
    assert_eq!(count(&portal, "CreateMessage"), 0);

    // The office has it: a big message of 21 MB.
    let office = BoxContext::for_job(BoxId::parse("simmuhl").expect("box"), Access::Simulated, "test");
    let received = portal.isds.list_messages(&office, Direction::Received, &ListQuery::default()).await.expect("list");
    let arrived = received.iter().find(|m| m.id.as_str() == id).expect("the message arrived");
    assert!(arrived.big, "{arrived:?}");
    assert_eq!(arrived.status, MessageStatus::Delivered);
    assert_eq!(arrived.attachment_size_kb, 21_000_000_u64.div_ceil(1024));

    // Jana opens it in her sent folder: the standard download refuses a big
    // message, the big one serves it, with both files byte for byte.
    let (status, _, detail) = call(&portal.router, get(&format!("/api/databox/messages/sent/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&detail));
    assert_eq!(json_of(&detail)["big"], true, "{}", json_of(&detail));
    let (status, _, content) =
        call(&portal.router, get(&format!("/api/databox/messages/sent/{id}/attachments/1"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content[..] == enclosure[..], "the enclosure arrives as sent");
    assert!(count(&portal, "SignedSentBigMessageDownload") >= 2);

    // The same key answers the first result: nothing uploaded or sent again.
    let (status, _, body) = call(&portal.router, send_request_keyed(&jana, Some("big-1"), &fields, &files)).await;
    assert_eq!((status, json_of(&body)["id"].as_str()), (StatusCode::CREATED, Some(id.as_str())));
    assert_eq!((count(&portal, "UploadAttachment"), count(&portal, "CreateBigMessage")), (2, 1));
    assert_eq!(sent_with_subject(&portal, "Velká žádost se dvěma přílohami").await, [id]);
}

#[tokio::test]
async fn a_message_over_the_configured_limit_is_refused_naming_the_attachments() {
    let portal = portal_with(DataboxSettings { max_message_bytes: 25_000_000, ..DataboxSettings::default() });
    let jana = portal.login(JANA).await;
    let fields = [("recipient", "simmuhl"), ("subject", "Příliš velká žádost")];
    // Over the limit but within the form's slack (limit + 1 MB), and far over it.
    for size in [25_000_001, 27_000_000] {
        let files = [("zadost.pdf", "application/pdf", pdf_of(size, b'x'))];
        let (status, headers, body) = call(&portal.router, send_request(&jana, &fields, &files)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{size}: {}", String::from_utf8_lossy(&body));
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        let problem = json_of(&body);
        let error = &problem["errors"][0];
        assert_eq!(error["field"], "attachments", "{problem}");
        assert!(error["rule"].as_str().is_some_and(|r| r.contains("at most 25 MB")), "{problem}");
    }
    assert_eq!(count(&portal, "UploadAttachment") + count(&portal, "CreateBigMessage"), 0, "nothing reached ISDS");
    // Just under the limit it goes, as a big message.
    let files = [("zadost.pdf", "application/pdf", pdf_of(25_000_000, b'x'))];
    let (status, _, body) = call(&portal.router, send_request(&jana, &fields, &files)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(count(&portal, "CreateBigMessage"), 1);
}

#[tokio::test]
async fn a_big_message_isds_took_before_its_answer_timed_out_is_found_not_sent_again() {
    let portal = portal();
    let isds = Arc::new(FaultyIsds::new(portal.isds.clone(), true));
    let mut databox = portal.databox.clone();
    databox.isds = isds.clone();
    let router = portal.harness.router(functions(databox));
    let jana = portal.login(JANA).await;
    let files = [("plany.pdf", "application/pdf", pdf_of(20_000_001, b'p'))];
    let fields = [("recipient", "simfuhl"), ("subject", "Velká žádost, jejíž odpověď se ztratila")];
    let send = |login: &Login| call(&router, send_request_keyed(login, Some("big-lost"), &fields, &files));

    assert_eq!(send(&jana).await.0, StatusCode::SERVICE_UNAVAILABLE, "the answer timed out");
    let taken = sent_with_subject(&portal, "Velká žádost, jejíž odpověď se ztratila").await;
    assert_eq!(taken.len(), 1, "but ISDS took it");
    // A big message's send may take 30 minutes: after 7 it is still in flight.
    portal.clock.advance(Duration::from_secs(7 * 60));
    assert_eq!(send(&jana).await.0, StatusCode::CONFLICT);
    portal.clock.advance(Duration::from_secs(25 * 60));
    // (Her session has lapsed meanwhile: she logs in again.)
    let jana = portal.login(JANA).await;
    let (status, _, body) = send(&jana).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["id"], taken[0].as_str(), "found in ISDS");
    assert_eq!(isds.sends.load(std::sync::atomic::Ordering::SeqCst), 1, "ISDS was asked to create it once");
    assert_eq!(count(&portal, "UploadAttachment"), 1, "and its file uploaded once");
}

/// A big message from the municipal office to Jana, sent through the VoDZ
/// services as any sender would.
async fn big_message_to_jana(portal: &Portal, size: usize) -> portal_databox::isds::MessageId {
    use portal_databox::isds::{Attachment, AttachmentUpload, BigFile, FileMetaType, OutgoingMessage};
    let office = BoxContext::for_job(BoxId::parse("simmuhl").expect("box"), Access::Simulated, "office");
    let attachment = Attachment {
        name: "územní plán.pdf".into(),
        mime_type: "application/pdf".into(),
        meta_type: FileMetaType::Main,
        content: bytes::Bytes::from(pdf_of(size, b'u')),
    };
    let uploaded = portal.isds.upload_attachment(&office, AttachmentUpload::of(&attachment, 1 << 20)).await;
    let files = [BigFile { meta_type: FileMetaType::Main, uploaded: uploaded.expect("uploaded") }];
    let message = OutgoingMessage {
        recipient: jana_ctx(portal).box_id().clone(),
        subject: "Územní plán (velká zpráva)".into(),
        sender_ref_number: None,
        sender_ident: None,
        recipient_ref_number: None,
        recipient_ident: None,
        to_hands: None,
        personal_delivery: false,
        commercial: false,
        attachments: Vec::new(),
    };
    portal.isds.create_big_message(&office, &message, &files).await.expect("sent")
}

#[tokio::test]
async fn a_big_received_message_is_delivered_only_when_the_citizen_opens_it_and_is_archived() {
    let portal = portal_with(DataboxSettings { archive_after_days: 1, ..DataboxSettings::default() });
    let jana = portal.login(JANA).await;
    assert_eq!(call(&portal.router, get("/api/databox/box", &jana)).await.0, StatusCode::OK);
    let id = big_message_to_jana(&portal, 22_000_000).await;
    // A job never delivers it: the archive takes only delivered messages.
    archive::run(&portal.databox).await.expect("archive");
    assert!(portal.isds.deliveries_by_jobs().is_empty());

    let (status, _, detail) = call(&portal.router, get(&format!("/api/databox/messages/received/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&detail));
    let detail = json_of(&detail);
    assert_eq!(detail["big"], true, "{detail}");
    assert_eq!(detail["signature"]["verified"], true, "the simulator's ZFO of a big message verifies");
    let delivering: Vec<_> = portal.isds.calls().into_iter().filter(|c| !c.delivered.is_empty()).collect();
    assert_eq!(delivering.len(), 1, "{delivering:?}");
    assert_eq!(delivering[0].operation, "SignedBigMessageDownload");
    assert_eq!(delivering[0].caller, portal_databox::isds::Caller::Citizen);
    let (status, headers, content) =
        call(&portal.router, get(&format!("/api/databox/messages/received/{id}/attachments/0"), &jana)).await;
    assert_eq!((status, content.len()), (StatusCode::OK, 22_000_000));
    assert_eq!(headers[header::CONTENT_LENGTH], "22000000", "streamed with its length");
    // Each opening's ZFO and files were sealed blobs of a stash, deleted once
    // its answer was done.
    assert_eq!(stash_left(&portal).await, 0, "no stash is left after the answers");

    // Delivered now, so the archive takes it through the big download, as a job.
    portal.clock.advance(Duration::from_secs(2 * 24 * 3600));
    archive::run(&portal.databox).await.expect("archive");
    assert!(archived(portal.store.as_ref()).await.contains(&id.as_str().to_owned()), "archived");
    assert_eq!(stash_left(&portal).await, 0, "nor after the archive's download");
    // The archive's copy, re-sealed from the stash as it streamed, opens into
    // the same bytes, streamed from the archive (in a new session: two days
    // passed).
    let jana = portal.login(JANA).await;
    let (status, _, from_archive) =
        call(&portal.router, get(&format!("/api/databox/messages/archived/{id}/attachments/0"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(from_archive == content, "the archived file byte for byte");
    let (status, _, detail) = call(&portal.router, get(&format!("/api/databox/messages/archived/{id}"), &jana)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&detail)["signature"]["verified"], true, "the archived ZFO verifies as it streams");
    let by_job = portal.isds.calls().into_iter().filter(|c| c.caller != portal_databox::isds::Caller::Citizen);
    assert!(by_job.clone().any(|c| c.operation == "SignedBigMessageDownload"), "the archive used the big download");
    assert!(portal.isds.deliveries_by_jobs().is_empty(), "and delivered nothing");
}

/// The blobs left under the spool's prefix (where a download's stash is)
/// once the deleting tasks are done (or a minute passed).
async fn stash_left(portal: &Portal) -> usize {
    let left = || async { portal.store.list("databox-spool/").await.expect("list").len() };
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        while left().await > 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    left().await
}

#[tokio::test]
async fn the_simulator_takes_an_upload_once_in_its_own_box_within_a_day() {
    use portal_databox::isds::{Attachment, AttachmentUpload, BigFile, FileMetaType, IsdsError};
    let portal = portal();
    let office = BoxContext::for_job(BoxId::parse("simmuhl").expect("box"), Access::Simulated, "office");
    let court = BoxContext::for_job(BoxId::parse("simoshl").expect("box"), Access::Simulated, "court");
    let file = |content: &[u8]| Attachment {
        name: "a.pdf".into(),
        mime_type: "application/pdf".into(),
        meta_type: FileMetaType::Main,
        content: bytes::Bytes::copy_from_slice(content),
    };
    let upload = |content: &[u8]| AttachmentUpload::of(&file(content), 3);
    let message = portal_databox::isds::OutgoingMessage {
        recipient: jana_ctx(&portal).box_id().clone(),
        subject: "Zkouška".into(),
        sender_ref_number: None,
        sender_ident: None,
        recipient_ref_number: None,
        recipient_ident: None,
        to_hands: None,
        personal_delivery: false,
        commercial: false,
        attachments: Vec::new(),
    };
    let main = |uploaded| [BigFile { meta_type: FileMetaType::Main, uploaded }];
    let refused = |result: portal_databox::isds::IsdsResult<portal_databox::isds::MessageId>| match result {
        Err(IsdsError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    };

    let uploaded = portal.isds.upload_attachment(&office, upload(b"%PDF-1.7 one")).await.expect("upload");
    assert_eq!((uploaded.hash1.algorithm.as_str(), uploaded.hash2.algorithm.as_str()), ("SHA-256", "SHA-512"));
    // Another box cannot use it; wrong hashes do not match it.
    assert_eq!(refused(portal.isds.create_big_message(&court, &message, &main(uploaded.clone())).await), "9005");
    let mut forged = uploaded.clone();
    forged.hash1.value = "00".repeat(32);
    assert_eq!(refused(portal.isds.create_big_message(&office, &message, &main(forged)).await), "9005");
    // Its own box uses it, once.
    portal.isds.create_big_message(&office, &message, &main(uploaded.clone())).await.expect("sent");
    assert_eq!(refused(portal.isds.create_big_message(&office, &message, &main(uploaded)).await), "9005");
    // An upload older than a day is gone.
    let late = portal.isds.upload_attachment(&office, upload(b"%PDF-1.7 two")).await.expect("upload");
    portal.clock.advance(Duration::from_secs(24 * 3600 + 1));
    assert_eq!(refused(portal.isds.create_big_message(&office, &message, &main(late)).await), "9005");
    // A file that is not the declared size is refused.
    let mut short = upload(b"%PDF-1.7 three");
    short.size += 1;
    assert!(matches!(portal.isds.upload_attachment(&office, short).await, Err(IsdsError::Refused { .. })));
}
