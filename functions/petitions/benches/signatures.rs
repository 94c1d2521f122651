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
//! The signer's details come as in the portal (`src/app.rs`,
//! `ProfileSignerDetails`): a profile sealed under the citizen's own key, read
//! and opened. Only a signed-in citizen can sign, and signing in saves that
//! profile, creating the citizen's data key; so before the clock starts every
//! citizen "signs in" here (their key and sealed profile are written), and
//! signing finds the key made, as it does in the portal.
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

/// Where the profiles are kept (identity's collection and document id).
const PROFILES: &str = "identity";
const PROFILE_DOC: &str = "profile";

/// The profiles signing in saved: one document in the citizen's partition,
/// sealed under the citizen's key (as `portal_identity::profile`).
#[derive(Debug)]
struct SealedProfiles {
    documents: Arc<EmbeddedStore>,
    sealer: Sealer,
}

impl SealedProfiles {
    /// What signing in leaves: the citizen's key and sealed profile.
    async fn sign_in(&self, subject: &SubjectId) {
        let profile = Signer {
            given_name: "Občan".into(),
            family_name: subject.as_str().to_owned(),
            residence: "Náměstí Míru 1, 999 01 Horní Lhota".into(),
        };
        let plain = serde_json::to_vec(&profile).expect("json");
        let sealed = self.sealer.encrypt(subject.as_str(), PROFILE_DOC, "profile", &plain).await.expect("seal");
        let body = serde_json::json!({"type": "profile", "sealed": base64_encode(&sealed)});
        self.documents
            .upsert(PROFILES, NewDocument::new(subject.as_str(), PROFILE_DOC, body), None)
            .await
            .expect("save");
    }
}

#[async_trait::async_trait]
impl SignerDetails for SealedProfiles {
    async fn details(&self, subject: &SubjectId) -> Result<Option<Signer>, SignerDetailsError> {
        let failed = |error: Box<dyn std::error::Error + Send + Sync>| SignerDetailsError(error);
        let Some(doc) =
            self.documents.get(PROFILES, subject.as_str(), PROFILE_DOC).await.map_err(|e| failed(e.into()))?
        else {
            return Ok(None);
        };
        let sealed = base64_decode(doc.body["sealed"].as_str().unwrap_or_default());
        let plain = self
            .sealer
            .decrypt(subject.as_str(), PROFILE_DOC, "profile", &sealed)
            .await
            .map_err(|e| failed(e.into()))?;
        serde_json::from_slice(&plain).map(Some).map_err(|e| failed(e.into()))
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default()
}

/// Runs `task` for 0..`count`, `concurrency` at a time.
async fn run_all<F, Fut>(count: u64, concurrency: u64, task: F)
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (task, next) = (task.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    task(i).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker");
    }
}

fn subject(i: u64) -> SubjectId {
    SubjectId::parse(format!("citizen-{i:06}")).expect("subject")
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
    let sealer = Sealer::new(Arc::new(CitizenKeys::new(store.clone(), keys, clock.clone())));
    let profiles = Arc::new(SealedProfiles { documents: store.clone(), sealer: sealer.clone() });
    let petitions = Petitions {
        documents: store.clone(),
        blobs: store.clone(),
        queues: store.clone(),
        sealer,
        access_log: AccessLog::new(store.clone(), clock.clone()),
        clock: clock.clone(),
        signer_details: profiles.clone(),
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

    let started = Instant::now();
    let signing_in = profiles.clone();
    run_all(signers, concurrency, move |i| {
        let profiles = signing_in.clone();
        async move { profiles.sign_in(&subject(i)).await }
    })
    .await;
    println!("signed in (key and sealed profile made): {signers} citizens in {:.1} s", started.elapsed().as_secs_f64());

    println!("signing: {signers} citizens, {concurrency} at a time, {shards} counter shards, embedded store on disk");
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (signing, signed_id, refusals) = (service.clone(), id.clone(), refused.clone());
    run_all(signers, concurrency, move |i| {
        let (service, id, refused) = (signing.clone(), signed_id.clone(), refusals.clone());
        async move {
            if let Err(refusal) = service.sign(&id, &subject(i)).await.expect("no store failure") {
                eprintln!("refused: {refusal:?}");
                refused.fetch_add(1, Ordering::Relaxed);
            }
            if (i + 1) % 10_000 == 0 {
                println!("  {} signed after {:.1} s", i + 1, started.elapsed().as_secs_f64());
            }
        }
    })
    .await;
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
