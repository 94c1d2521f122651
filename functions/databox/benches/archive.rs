//! Archiving at national scale: 100,000 messages of 10,000 citizens on the
//! embedded store (on disk, WAL, synchronous=FULL), then the same run again
//! (everything already archived). Results go to `docs/benchmarks.md`.
//!
//! `cargo bench -p portal-databox --bench archive` (set `ARCHIVE_BENCH_CITIZENS`
//! and `ARCHIVE_BENCH_PER_CITIZEN` for other sizes).
//!
//! ISDS here is a fixed in-memory stand-in serving pre-built messages, so the
//! figure measures the portal's own archive path: listing, sealing with each
//! citizen's key, blob and document writes, events and the access log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use portal_crypto::{CitizenKeys, LocalKeyFile, Sealer};
use portal_databox::isds::*;
use portal_databox::payments::NotConnected;
use portal_databox::{BoxDirectory, Databox, DataboxSettings, archive, index};
use portal_security::{AccessLog, SubjectId};
use portal_store::embedded::EmbeddedStore;
use portal_store::{DocumentStore, NewDocument, SystemClock};
use serde_json::json;
use time::OffsetDateTime;

/// The portal binary's allocator (`src/main.rs`), so the figure is the
/// shipped store path's: with glibc's malloc the bench's own heap (the
/// fixture's half a gigabyte) made frees dearer as the run grew.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug)]
struct FixedIsds {
    messages: HashMap<BoxId, Vec<SignedMessage>>,
}

#[async_trait]
impl Isds for FixedIsds {
    async fn list_messages(
        &self,
        ctx: &BoxContext,
        _: Direction,
        query: &ListQuery,
    ) -> IsdsResult<Vec<MessageEnvelope>> {
        let all = self.messages.get(ctx.box_id()).map(Vec::as_slice).unwrap_or_default();
        let start = query.offset.saturating_sub(1) as usize;
        Ok(all.iter().skip(start).take(query.limit as usize).map(|m| m.envelope.clone()).collect())
    }
    async fn download_message(&self, _: &SessionContext, _: Direction, _: &MessageId) -> IsdsResult<SignedMessage> {
        Err(IsdsError::Invalid("not in this benchmark".into()))
    }
    async fn download_delivered(
        &self,
        ctx: &BoxContext,
        message: &DeliveredMessage,
        _: &Stash,
    ) -> IsdsResult<SignedMessage> {
        self.messages
            .get(ctx.box_id())
            .and_then(|list| list.iter().find(|m| &m.envelope.id == message.id()))
            .cloned()
            .ok_or(IsdsError::NotFound)
    }
    async fn send_message(&self, _: &BoxContext, _: &OutgoingMessage) -> IsdsResult<MessageId> {
        Err(IsdsError::Invalid("not in this benchmark".into()))
    }
    async fn mark_downloaded(&self, _: &SessionContext, _: &MessageId) -> IsdsResult<()> {
        Ok(())
    }
    async fn state_changes(
        &self,
        _: &BoxContext,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> IsdsResult<Vec<StateChange>> {
        Ok(Vec::new())
    }
    async fn box_info(&self, _: &BoxContext) -> IsdsResult<BoxInfo> {
        Err(IsdsError::NotFound)
    }
    async fn credit_info(&self, _: &BoxContext) -> IsdsResult<CreditInfo> {
        Ok(CreditInfo { current_hellers: 0 })
    }
    async fn credit_history(&self, _: &BoxContext, _: time::Date, _: time::Date) -> IsdsResult<Vec<CreditEvent>> {
        Ok(Vec::new())
    }
    async fn find_personal_boxes(&self, _: &BoxContext, _: &PersonQuery) -> IsdsResult<Vec<BoxId>> {
        Ok(Vec::new())
    }
    async fn vault_info(&self, _: &BoxContext) -> IsdsResult<VaultInfo> {
        Err(IsdsError::NotFound)
    }
    async fn find_boxes(&self, _: &BoxContext, _: &BoxSearch) -> IsdsResult<Vec<BoxInfo>> {
        Ok(Vec::new())
    }
}

#[derive(Debug)]
struct Directory;

#[async_trait]
impl BoxDirectory for Directory {
    async fn box_of(&self, subject: &SubjectId) -> Option<BoxId> {
        let n: u32 = subject.as_str().strip_prefix("bench-")?.parse().ok()?;
        BoxId::parse(&format!("b{n:06}")).ok()
    }
}

fn message(box_id: &BoxId, n: u64, delivered: OffsetDateTime) -> SignedMessage {
    let id = MessageId::parse(&format!("{}", 2_000_000_000 + n)).expect("id");
    let sender = BoxId::parse("simmuhl").expect("box");
    let envelope = MessageEnvelope {
        id,
        sender_box: sender,
        sender_name: "Městský úřad (benchmark)".into(),
        sender_address: None,
        recipient_box: box_id.clone(),
        recipient_name: "Občan".into(),
        recipient_address: None,
        subject: format!("Rozhodnutí č. {n}"),
        sender_ref_number: Some(format!("MU/{n}/2026")),
        sender_ident: None,
        recipient_ref_number: None,
        recipient_ident: None,
        to_hands: None,
        personal_delivery: false,
        allow_subst_delivery: true,
        status: MessageStatus::Read,
        message_type: Some("V".into()),
        delivery_time: Some(delivered),
        acceptance_time: Some(delivered),
        attachment_size_kb: 2,
        big: false,
    };
    let attachment = ReceivedFile {
        name: "rozhodnuti.pdf".into(),
        mime_type: "application/pdf".into(),
        meta_type: FileMetaType::Main,
        content: Content::from(Bytes::from(vec![b'x'; 2048])),
    };
    SignedMessage { envelope, attachments: vec![attachment], zfo: Content::from(Bytes::from(vec![b'z'; 3072])) }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let citizens: u32 = std::env::var("ARCHIVE_BENCH_CITIZENS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let per_citizen: u64 = std::env::var("ARCHIVE_BENCH_PER_CITIZEN").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(SystemClock);
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("data"), clock.clone()).expect("store"));
    let keys = Arc::new(LocalKeyFile::open(dir.path().join("keys")).expect("keys"));
    let delivered = OffsetDateTime::now_utc() - time::Duration::days(85);
    let mut messages = HashMap::new();
    let mut n = 0;
    for c in 0..citizens {
        let box_id = BoxId::parse(&format!("b{c:06}")).expect("box");
        let list = (0..per_citizen)
            .map(|_| {
                n += 1;
                message(&box_id, n, delivered)
            })
            .collect();
        messages.insert(box_id, list);
    }
    let databox = Databox {
        isds: Arc::new(FixedIsds { messages }),
        management: Arc::new(portal_databox::box_requests::NotConnected),
        directory: Arc::new(Directory),
        payments: Arc::new(portal_databox::payments::simulated_gateway(clock.clone())),
        credit: Arc::new(NotConnected),
        documents: store.clone(),
        blobs: store.clone(),
        queues: store.clone(),
        sealer: Sealer::new(Arc::new(CitizenKeys::new(store.clone(), keys, clock.clone()))),
        access_log: AccessLog::new(store.clone(), clock.clone()),
        clock,
        settings: DataboxSettings::default(),
        simulated_payments: None,
    };
    runtime.block_on(async {
        for c in 0..citizens {
            let subject = format!("bench-{c}");
            let link =
                NewDocument::new(subject.as_str(), "link", json!({"type": "box-link", "boxId": format!("b{c:06}")}));
            store.create("databox", link).await.expect("link");
            index::register(store.as_ref(), &subject).await.expect("index");
        }
    });
    let total = u64::from(citizens) * per_citizen;
    println!("archiving {total} messages of {citizens} citizens (embedded store on disk, synchronous=FULL)");
    let started = Instant::now();
    let first = runtime.block_on(archive::run(&databox)).expect("first run");
    let first_time = started.elapsed();
    assert_eq!(first.messages_archived, total, "every message archived");
    let started = Instant::now();
    let second = runtime.block_on(archive::run(&databox)).expect("second run");
    let second_time = started.elapsed();
    assert_eq!(
        (second.messages_archived, second.messages_already_archived),
        (0, total),
        "the second run archives nothing"
    );
    let db_bytes = std::fs::metadata(dir.path().join("data/portal.db")).map(|m| m.len()).unwrap_or(0);
    println!("| run | messages | time | messages/s |");
    println!("|---|---|---|---|");
    println!(
        "| first (archives all) | {} | {:.1} s | {:.0} |",
        first.messages_archived,
        first_time.as_secs_f64(),
        first.messages_archived as f64 / first_time.as_secs_f64()
    );
    println!(
        "| second (all already archived) | {} | {:.1} s | {:.0} |",
        second.messages_already_archived,
        second_time.as_secs_f64(),
        second.messages_already_archived as f64 / second_time.as_secs_f64()
    );
    println!(
        "sealed bytes stored: {:.1} MB; SQLite file: {:.1} MB; peak RSS: {:.0} MiB",
        first.bytes as f64 / 1e6,
        db_bytes as f64 / 1e6,
        peak_rss_mib()
    );
}
