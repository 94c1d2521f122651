//! Sending puts a message's files aside as they arrive (the spool,
//! `portal_databox::spool`): whatever the answer, and when it is dropped, the
//! request leaves no file there; a send cut off while uploading is sent once on
//! a retry with its key, and what a dead process left is collected later or
//! erased; a ZIP larger than the kept tail is checked from the spool
//! as it is checked whole, against archives Python's `zipfile` made.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use portal_databox::isds::simulator::{IsdsSimulator, SimulatorSettings};
use portal_databox::isds::{
    AttachmentUpload, BigFile, BoxContext, BoxId, BoxInfo, BoxSearch, CreditEvent, CreditInfo, DeliveredMessage,
    Direction, Isds, IsdsResult, ListQuery, MessageEnvelope, MessageId, OutgoingMessage, PersonQuery, SessionContext,
    SignedMessage, Stash, StateChange, UploadedAttachment, VaultInfo,
};
use portal_databox::{Databox, DataboxSettings, SimulatedBoxDirectory, containers, functions, spool};
use portal_store::BlobStore;
use portal_testkit::{Harness, JANA, Login, Part, call, json_of, multipart};

/// The simulator, but the first `UploadAttachment` (when `stall` is set)
/// never answers: the request is stuck there until it is dropped.
#[derive(Debug)]
struct Stalling {
    inner: Arc<IsdsSimulator>,
    stall: AtomicBool,
    stalled: tokio::sync::Notify,
    creations: AtomicUsize,
}

#[async_trait::async_trait]
impl Isds for Stalling {
    async fn list_messages(&self, ctx: &BoxContext, d: Direction, q: &ListQuery) -> IsdsResult<Vec<MessageEnvelope>> {
        self.inner.list_messages(ctx, d, q).await
    }
    async fn download_message(&self, ctx: &SessionContext, d: Direction, id: &MessageId) -> IsdsResult<SignedMessage> {
        self.inner.download_message(ctx, d, id).await
    }
    async fn download_delivered(&self, ctx: &BoxContext, m: &DeliveredMessage, s: &Stash) -> IsdsResult<SignedMessage> {
        self.inner.download_delivered(ctx, m, s).await
    }
    async fn send_message(&self, ctx: &BoxContext, m: &OutgoingMessage) -> IsdsResult<MessageId> {
        self.inner.send_message(ctx, m).await
    }
    async fn upload_attachment(&self, ctx: &BoxContext, upload: AttachmentUpload) -> IsdsResult<UploadedAttachment> {
        if self.stall.swap(false, Ordering::SeqCst) {
            self.stalled.notify_one();
            futures::future::pending::<()>().await;
        }
        self.inner.upload_attachment(ctx, upload).await
    }
    async fn create_big_message(&self, ctx: &BoxContext, m: &OutgoingMessage, f: &[BigFile]) -> IsdsResult<MessageId> {
        self.creations.fetch_add(1, Ordering::SeqCst);
        self.inner.create_big_message(ctx, m, f).await
    }
    async fn download_big_message(
        &self,
        ctx: &SessionContext,
        d: Direction,
        id: &MessageId,
        s: &Stash,
    ) -> IsdsResult<SignedMessage> {
        self.inner.download_big_message(ctx, d, id, s).await
    }
    async fn mark_downloaded(&self, ctx: &SessionContext, id: &MessageId) -> IsdsResult<()> {
        self.inner.mark_downloaded(ctx, id).await
    }
    async fn state_changes(
        &self,
        ctx: &BoxContext,
        from: time::OffsetDateTime,
        to: time::OffsetDateTime,
    ) -> IsdsResult<Vec<StateChange>> {
        self.inner.state_changes(ctx, from, to).await
    }
    async fn box_info(&self, ctx: &BoxContext) -> IsdsResult<BoxInfo> {
        self.inner.box_info(ctx).await
    }
    async fn credit_info(&self, ctx: &BoxContext) -> IsdsResult<CreditInfo> {
        self.inner.credit_info(ctx).await
    }
    async fn credit_history(&self, ctx: &BoxContext, from: time::Date, to: time::Date) -> IsdsResult<Vec<CreditEvent>> {
        self.inner.credit_history(ctx, from, to).await
    }
    async fn vault_info(&self, ctx: &BoxContext) -> IsdsResult<VaultInfo> {
        self.inner.vault_info(ctx).await
    }
    async fn find_personal_boxes(&self, ctx: &BoxContext, person: &PersonQuery) -> IsdsResult<Vec<BoxId>> {
        self.inner.find_personal_boxes(ctx, person).await
    }
    async fn find_boxes(&self, ctx: &BoxContext, query: &BoxSearch) -> IsdsResult<Vec<BoxInfo>> {
        self.inner.find_boxes(ctx, query).await
    }
}

struct Portal {
    router: Router,
    databox: Databox,
    isds: Arc<Stalling>,
    simulator: Arc<IsdsSimulator>,
    harness: Harness,
}

fn portal() -> Portal {
    let harness = Harness::new();
    let settings = DataboxSettings::default();
    let simulator = Arc::new(IsdsSimulator::seeded(
        harness.clock.clone(),
        SimulatorSettings { max_message_bytes: settings.max_message_bytes, ..SimulatorSettings::default() },
    ));
    let isds = Arc::new(Stalling {
        inner: simulator.clone(),
        stall: AtomicBool::new(false),
        stalled: tokio::sync::Notify::new(),
        creations: AtomicUsize::new(0),
    });
    let databox = Databox {
        settings,
        ..support::databox_on(
            &harness,
            isds.clone(),
            simulator.clone(),
            Arc::new(SimulatedBoxDirectory(simulator.clone())),
        )
    };
    let router = harness.router(functions(databox.clone()));
    Portal { router, databox, isds, simulator, harness }
}

fn send(login: &Login, key: &str, fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Request<Body> {
    let mut parts: Vec<Part<'_>> = fields.iter().map(|(name, value)| Part::field(name, value)).collect();
    parts.extend(files.iter().map(|(name, mime, content)| Part::file("attachment", name, mime, content)));
    let mut request = multipart("/api/databox/messages", login, &parts);
    request.headers_mut().insert("idempotency-key", key.parse().expect("header"));
    request
}

async fn spooled(portal: &Portal) -> Vec<String> {
    let listed = portal.harness.store.list(spool::PREFIX).await.expect("list");
    listed.into_iter().map(|info| info.path.as_str().to_owned()).collect()
}

fn pdf_of(size: usize, fill: u8) -> Vec<u8> {
    let mut content = b"%PDF-1.7\n".to_vec();
    content.resize(size, fill);
    content
}

async fn sent_with_subject(portal: &Portal, subject: &str) -> usize {
    let jana_box = portal.databox.box_of(&portal_security::SubjectId::parse(JANA).expect("subject")).await;
    let ctx = BoxContext::for_job(jana_box.expect("box"), portal.databox.access(), "test");
    let query = ListQuery { limit: 1000, offset: 1, ..ListQuery::default() };
    let sent = portal.simulator.list_messages(&ctx, Direction::Sent, &query).await.expect("list");
    sent.iter().filter(|m| m.subject == subject).count()
}

#[tokio::test]
async fn a_refused_failed_or_sent_message_leaves_nothing_in_the_spool() {
    let portal = portal();
    let jana = portal.harness.login(JANA).await;
    let pdf = pdf_of(300_000, b'a');
    let good = [("recipient", "simmuhl"), ("subject", "Žádost")];

    // Refused by our rules after the files were put aside: a bad recipient.
    let bad_recipient = [("recipient", "abc"), ("subject", "Žádost")];
    let (status, _, body) =
        call(&portal.router, send(&jana, "k1", &bad_recipient, &[("a.pdf", "application/pdf", &pdf)])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["errors"][0]["field"], "recipient");
    assert_eq!(spooled(&portal).await, Vec::<String>::new());

    // Over the limit while the second file arrives (the first was stored).
    let big = pdf_of(60_000_000, b'b');
    let files = [("a.pdf", "application/pdf", &big[..]), ("b.pdf", "application/pdf", &big[..])];
    let (status, _, body) = call(&portal.router, send(&jana, "k2", &good, &files)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&body));
    assert!(json_of(&body)["errors"][0]["rule"].as_str().is_some_and(|r| r.contains("at most 100 MB")));
    assert_eq!(spooled(&portal).await, Vec::<String>::new());

    // Refused by ISDS (a box that does not exist).
    let nobody = [("recipient", "abc1234"), ("subject", "Žádost")];
    let (status, _, body) =
        call(&portal.router, send(&jana, "k3", &nobody, &[("a.pdf", "application/pdf", &pdf)])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["type"].as_str().map(|t| t.ends_with("isds-refused")), Some(true), "{}", json_of(&body));
    assert_eq!(spooled(&portal).await, Vec::<String>::new());

    // Sent, standard and big: the file arrives as it was sent, and nothing stays.
    let (status, _, body) = call(&portal.router, send(&jana, "k4", &good, &[("a.pdf", "application/pdf", &pdf)])).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let big = pdf_of(20_500_000, b'c');
    let (status, _, body) = call(&portal.router, send(&jana, "k5", &good, &[("b.pdf", "application/pdf", &big)])).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();
    assert_eq!(spooled(&portal).await, Vec::<String>::new());
    let (status, _, content) =
        call(&portal.router, portal_testkit::get(&format!("/api/databox/messages/sent/{id}/attachments/0"), &jana))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert!(content == big, "the big file arrived byte for byte from the spool");
}

/// What a process that died while sending leaves: the form's file in a spool
/// folder of its own, never deleted.
async fn left_by_a_dead_process(portal: &Portal, content: &[u8]) {
    let mut spool = spool::Spool::new(&portal.databox, JANA);
    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> =
        content.chunks(64 * 1024).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    spool.add(&portal.databox, futures::stream::iter(pieces), u64::MAX, false).await.expect("spooled");
}

/// Lets the tasks a dropped request started run until the spool is empty.
async fn spool_emptied(portal: &Portal) -> bool {
    for _ in 0..1000 {
        if spooled(portal).await.is_empty() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    false
}

#[tokio::test]
async fn a_send_that_crashed_between_spool_and_isds_is_sent_once_on_a_retry_and_its_spool_collected() {
    let portal = portal();
    let jana = portal.harness.login(JANA).await;
    let subject = "Velká žádost, jejíž odeslání spadlo";
    let fields = [("recipient", "simmuhl"), ("subject", subject)];
    let big = pdf_of(20_000_001, b'p');
    let files = [("plany.pdf", "application/pdf", &big[..])];

    // The request is dropped while the file is being uploaded (the client
    // went away): its key stays in flight, its spool is deleted.
    portal.isds.stall.store(true, Ordering::SeqCst);
    let router = portal.router.clone();
    let request = send(&jana, "crash-1", &fields, &files);
    let stuck = tokio::spawn(async move { call(&router, request).await });
    portal.isds.stalled.notified().await;
    assert_eq!(spooled(&portal).await.len(), 1, "the file is in the spool while it is uploaded");
    stuck.abort();
    assert!(stuck.await.is_err_and(|e| e.is_cancelled()));
    assert!(spool_emptied(&portal).await, "a dropped request deletes its spool");
    assert_eq!(sent_with_subject(&portal, subject).await, 0);
    // And a process that died at the same point left its files behind.
    left_by_a_dead_process(&portal, &big).await;
    let left = spooled(&portal).await;
    assert_eq!(left.len(), 1);

    // Retried with the same key once the send can no longer be in flight.
    portal.harness.clock.advance(Duration::from_secs(32 * 60));
    let jana = portal.harness.login(JANA).await;
    let (status, _, body) = call(&portal.router, send(&jana, "crash-1", &fields, &files)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let (status, _, again) = call(&portal.router, send(&jana, "crash-1", &fields, &files)).await;
    assert_eq!((status, json_of(&again)["id"].clone()), (StatusCode::CREATED, json_of(&body)["id"].clone()));
    assert_eq!(sent_with_subject(&portal, subject).await, 1, "one message in ISDS");
    assert_eq!(portal.isds.creations.load(Ordering::SeqCst), 1, "created once");
    // Only the dead process's file is left, until it is old enough.
    assert_eq!(spooled(&portal).await, left);
    assert_eq!(spool::collect(&portal.databox).await.expect("collect"), 0);
    assert_eq!(spooled(&portal).await, left);
    portal.harness.clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(spool::collect(&portal.databox).await.expect("collect"), 1);
    assert_eq!(spooled(&portal).await, Vec::<String>::new());
}

/// Archives over the spool's kept tail (4 MiB), made by Python's zipfile.
const MAKE: &str = r#"
import sys, zipfile, os
d = sys.argv[1]
payload = os.urandom(9 * 1024 * 1024)
def make(name, entries):
    with zipfile.ZipFile(os.path.join(d, name), "w", zipfile.ZIP_STORED) as z:
        for entry, data in entries:
            z.writestr(entry, data)
make("inner.zip", [("x.txt", "x")])
inner = open(os.path.join(d, "inner.zip"), "rb").read()
make("big-ok.zip", [("plany/vykres.bin", payload)] + [(f"f{i}.txt", "x") for i in range(998)] + [("z.txt", payload)])
make("big-nested.zip", [("a.bin", payload), ("slozka/inner.zip", inner), ("b.bin", payload)])
make("big-too-many.zip", [("a.bin", payload)] + [(f"f{i}.txt", "x") for i in range(1001)])
with open(os.path.join(d, "big-garbage.zip"), "wb") as f:
    f.write(payload)
"#;

#[tokio::test]
async fn a_large_container_is_checked_from_the_spool_as_it_is_checked_whole() {
    let Some(python) = portal_testkit::test_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let made = Command::new(&python).arg("-c").arg(MAKE).arg(dir.path()).status().expect("python runs");
    assert!(made.success(), "python made the archives");
    let portal = portal();
    let jana = portal.harness.login(JANA).await;
    let fields = [("recipient", "simmuhl"), ("subject", "Podklady")];
    for (n, name) in ["big-ok.zip", "big-nested.zip", "big-too-many.zip", "big-garbage.zip"].into_iter().enumerate() {
        let content = std::fs::read(dir.path().join(name)).expect("archive");
        let whole = containers::check(&content);
        let files = [("podklady.zip", "application/zip", &content[..])];
        let (status, _, body) = call(&portal.router, send(&jana, &format!("zip-{n}"), &fields, &files)).await;
        let rules: Vec<String> = json_of(&body)["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["rule"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        assert_eq!(rules, whole, "{name}: the same rules as the whole file's check");
        let expected = if whole.is_empty() { StatusCode::CREATED } else { StatusCode::UNPROCESSABLE_ENTITY };
        assert_eq!(status, expected, "{name}: {}", String::from_utf8_lossy(&body));
    }
    assert!(containers::check(&std::fs::read(dir.path().join("big-ok.zip")).expect("zip")).is_empty());
    assert_eq!(spooled(&portal).await, Vec::<String>::new());
}

#[tokio::test]
async fn erasure_deletes_what_a_crashed_send_left_in_the_spool() {
    let portal = portal();
    left_by_a_dead_process(&portal, &pdf_of(100_000, b'e')).await;
    assert_eq!(spooled(&portal).await.len(), 1);

    portal.databox.sealer.keys().shred(JANA).await.expect("the erasure shreds her key first");
    let at = portal_store::Clock::now(portal.harness.clock.as_ref());
    let event = portal_events::Event::new("account.erased", &format!("{JANA}:1"), JANA, at, serde_json::json!({}));
    portal_databox::queue::erase_databox_data::erase(&portal.databox, &event).await.expect("erased");
    assert_eq!(spooled(&portal).await, Vec::<String>::new(), "nothing of hers is left in the spool");
}
