//! Signing at national scale: 100,000 different citizens sign one petition
//! on the embedded store (on disk, WAL, synchronous=FULL), through the
//! capability's own signing path called in process (not over HTTP: sessions
//! and routing are measured elsewhere). Each signature is the whole path:
//! the petition read, the duplicate check, the signer's details, sealing them
//! with the petition's key, the batch (signature create + counter shard
//! increment under its ETag), the signer's access-log entry, the burst
//! detector and the catalogue's snapshot refresh. Results go to
//! `docs/benchmarks.md`.
//!
//! `cargo bench -p portal-petitions --bench signatures` (`PETITION_BENCH_SIGNERS`
//! and `PETITION_BENCH_CONCURRENCY` for other sizes).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use portal_crypto::{CitizenKeys, LocalKeyFile, Sealer};
use portal_petitions::model::{Addressee, COLLECTION, Draft, PETITION_DOC, Petition, PetitionId, State};
use portal_petitions::{PetitionService, Petitions, PetitionsSettings, Signer, SignerDetails, SignerDetailsError};
use portal_security::{AccessLog, SubjectId};
use portal_store::embedded::EmbeddedStore;
use portal_store::{DocumentStore, NewDocument, SystemClock};

/// The portal binary's allocator (`src/main.rs`), so the figure is the
/// shipped signing path's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug)]
struct GeneratedProfiles;

#[async_trait::async_trait]
impl SignerDetails for GeneratedProfiles {
    async fn details(&self, subject: &SubjectId) -> Result<Option<Signer>, SignerDetailsError> {
        Ok(Some(Signer {
            given_name: "Občan".into(),
            family_name: subject.as_str().to_owned(),
            residence: "Náměstí Míru 1, 999 01 Horní Lhota".into(),
        }))
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let signers = env_number("PETITION_BENCH_SIGNERS", 100_000);
    let concurrency = env_number("PETITION_BENCH_CONCURRENCY", 64).max(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(SystemClock);
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("store"), clock.clone()).expect("store"));
    let keys = Arc::new(LocalKeyFile::open(dir.path().join("keys")).expect("keys"));
    let petitions = Petitions {
        documents: store.clone(),
        blobs: store.clone(),
        queues: store.clone(),
        sealer: Sealer::new(Arc::new(CitizenKeys::new(store.clone(), keys, clock.clone()))),
        access_log: AccessLog::new(store.clone(), clock.clone()),
        clock: clock.clone(),
        signer_details: Arc::new(GeneratedProfiles),
        directory: std::sync::Arc::new(portal_petitions::directory::SimulatedDirectory::default()),
        settings: PetitionsSettings::default(),
    };
    let service = Arc::new(PetitionService::new(petitions));

    let id = PetitionId::new();
    let now = time::OffsetDateTime::now_utc();
    let draft = Draft {
        title: "Benchmark".into(),
        summary: "s".into(),
        text: "t".into(),
        addressee: Addressee { name: "Úřad".into(), box_id: "simmuhl".into() },
        committee: Vec::new(),
        ends_on: service.today() + time::Duration::days(30),
    };
    let petition = Petition::new_draft(&id, "DEMO%2Fjana-novakova", draft, None, now);
    let doc = NewDocument::new(id.partition(), PETITION_DOC, serde_json::to_value(&petition).expect("json"));
    store.create(COLLECTION, doc).await.expect("create");
    let shards = service.petitions.settings.counter_shards;
    service
        .update(&id, |p| {
            p.state = State::Published;
            p.published_at = Some(now);
            p.shards = shards;
            Ok::<(), ()>(())
        })
        .await
        .expect("publish")
        .expect("allowed")
        .expect("exists");

    println!("signing: {signers} citizens, {concurrency} at a time, {shards} counter shards, embedded store on disk");
    let next = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (service, id, next, refused) = (service.clone(), id.clone(), next.clone(), refused.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= signers {
                        return;
                    }
                    let subject = SubjectId::parse(format!("citizen-{i:06}")).expect("subject");
                    match service.sign(&id, &subject).await.expect("no store failure") {
                        Ok(_) => {}
                        Err(refusal) => {
                            eprintln!("refused: {refusal:?}");
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if (i + 1) % 10_000 == 0 {
                        println!("  {} signed after {:.1} s", i + 1, started.elapsed().as_secs_f64());
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let count = service.count(&id, shards).await.expect("count");
    let snapshot = store
        .get(COLLECTION, "catalogue", id.as_str())
        .await
        .expect("catalogue")
        .and_then(|doc| doc.body["signatures"].as_u64());
    println!(
        "signed {signers} in {elapsed:.1} s: {:.0} signatures/s; refused {}; exact count {count}; catalogue snapshot {snapshot:?}",
        signers as f64 / elapsed,
        refused.load(Ordering::Relaxed),
    );
    let started = Instant::now();
    let (petition, _) = service.load(&id).await.expect("load").expect("exists");
    let extract = service.extract(&petition).await.expect("extract");
    println!(
        "opened every signer for the extract: {} in {:.1} s",
        extract.signers.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(count, signers, "the count is exact");
    assert_eq!(snapshot, Some(signers), "the list's snapshot settles on the exact count");
    assert_eq!(extract.signers.len() as u64, signers, "every signature opens");
}
