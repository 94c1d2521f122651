//! First figures for the foundation: the envelope round trip, embedded point
//! reads and writes, and the embedded store under concurrency (durable writers
//! that share commits, reads while writes commit). Run with
//! `cargo bench --bench foundation`; results go to `docs/benchmarks.md`. Each case
//! runs in rounds on this machine in one process, and the report gives the median
//! round, so ratios between cases are fair.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use portal_host::envelope::InvocationRequest;
use portal_host::envelope::host_side::{QueueMessageProperties, queue_invocation};
use portal_host::runtime::LogFailures;
use portal_host::{Function, Outcome, QueueInvocation, Runtime};
use portal_store::embedded::EmbeddedStore;
use portal_store::{DocumentStore, NewDocument, Order, Query, SystemClock};
use serde_json::json;
use time::macros::datetime;
use tower::ServiceExt as _;

const ROUNDS: usize = 7;

fn properties() -> QueueMessageProperties {
    QueueMessageProperties {
        id: "8d7a1c55-0b7e-4f3e-9a55-61f3c2e0d4a2".into(),
        pop_receipt: "AgAAAAMAAAAAAAAAc2Lr1kNb3QE=".into(),
        dequeue_count: 1,
        insertion_time: datetime!(2026-11-20 09:15:02 UTC),
        expiration_time: datetime!(2026-11-27 09:15:02 UTC),
        next_visible_time: datetime!(2026-11-20 09:25:03 UTC),
    }
}

const MESSAGE: &str = r#"{"id":"6f1c2b1e-3a57-4c36-9b0e-2f5d0b8f9a10","type":"credit.purchase-requested","subject":"AAAAc2VwLXBzZXVkb255bQ","amountCzk":200,"requestedAt":"2026-11-20T09:15:00Z"}"#;

/// Median time per operation over `ROUNDS` rounds of `ops` operations.
fn measure(ops: usize, mut round: impl FnMut(usize)) -> Duration {
    round(ops.min(100)); // warm-up
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            round(ops);
            start.elapsed() / u32::try_from(ops).unwrap_or(u32::MAX)
        })
        .collect();
    times.sort();
    times[ROUNDS / 2]
}

fn report(name: &str, per_op: Duration) {
    let ns = per_op.as_nanos();
    let per_second = 1_000_000_000_u128.checked_div(ns).unwrap_or(0);
    println!("| {name} | {:.2} µs | {per_second} |", ns as f64 / 1000.0);
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Purchase {
    id: String,
    #[serde(rename = "amountCzk")]
    amount_czk: u32,
}

fn body() -> serde_json::Value {
    json!({"type": "document", "schemaVersion": 1, "owner": "p-1", "title": "Výpis z rejstříku trestů", "size": 48213})
}

/// `n` creates spread over `writers` concurrent tasks, each awaiting its own
/// durable commit before the next.
async fn concurrent_creates(store: &EmbeddedStore, writers: usize, n: usize, next: &Arc<AtomicUsize>) {
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (store, next) = (store.clone(), Arc::clone(next));
            let share = n / writers + usize::from(w < n % writers);
            tokio::spawn(async move {
                for _ in 0..share {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    let doc = NewDocument::new(format!("p-{}", id % 64), format!("w{id}"), body());
                    store.create("bench", doc).await.expect("create");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
}

/// Writers that create documents until stopped, for the read-under-load cases.
/// Returns their tasks and how many writes they committed.
fn background_writers(
    runtime: &tokio::runtime::Runtime,
    store: &EmbeddedStore,
    writers: usize,
    stop: &Arc<AtomicBool>,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<AtomicUsize>) {
    let written = Arc::new(AtomicUsize::new(0));
    let tasks = (0..writers)
        .map(|w| {
            let (store, stop, written) = (store.clone(), Arc::clone(stop), Arc::clone(&written));
            runtime.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let doc = NewDocument::new(format!("bg-{w}"), uuid::Uuid::new_v4().to_string(), body());
                    store.create("bench", doc).await.expect("background create");
                    written.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    (tasks, written)
}

/// `n` reads spread over `readers` concurrent tasks: point reads of the 20
/// documents of partition `page`, or the whole page of 20 in date order.
async fn concurrent_reads(store: &EmbeddedStore, readers: usize, n: usize, whole_page: bool) {
    let tasks: Vec<_> = (0..readers)
        .map(|r| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..n / readers {
                    if whole_page {
                        let query = Query::default().order_by("date", Order::Ascending).page_size(20);
                        let page = store.query("bench", "page", query).await.expect("query");
                        assert_eq!(black_box(page).items.len(), 20);
                    } else {
                        let id = format!("e{}", (i + r) % 20);
                        black_box(store.get("bench", "page", &id).await.expect("get").expect("exists"));
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("reader");
    }
}

/// Durable writers sharing commits, and reads while writes commit, on disk.
fn concurrency_cases(runtime: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path(), Arc::new(SystemClock)).expect("store");
    let next = Arc::new(AtomicUsize::new(0));
    for writers in [1, 8, 64] {
        report(
            &format!("embedded durable create, on disk, {writers} concurrent writers"),
            measure(2_000, |n| runtime.block_on(concurrent_creates(&store, writers, n, &next))),
        );
    }

    runtime.block_on(async {
        for i in 0..20 {
            let event = json!({"title": format!("Událost {i}"), "date": format!("2026-12-{:02}", 31 - i), "sealed": "x".repeat(300)});
            store.create("bench", NewDocument::new("page", format!("e{i}"), event)).await.expect("seed");
        }
    });
    for (what, whole_page, ops) in [("point read (get)", false, 20_000), ("page of 20 (query, by date)", true, 4_000)] {
        report(
            &format!("embedded {what}, on disk, 4 concurrent readers, no writes"),
            measure(ops, |n| runtime.block_on(concurrent_reads(&store, 4, n, whole_page))),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let (writers, written) = background_writers(runtime, &store, 8, &stop);
        let start = Instant::now();
        let per_read = measure(ops, |n| runtime.block_on(concurrent_reads(&store, 4, n, whole_page)));
        let write_rate = written.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        runtime.block_on(async {
            for writer in writers {
                writer.await.expect("writer");
            }
        });
        report(
            &format!(
                "embedded {what}, on disk, 4 concurrent readers while 8 writers commit ({write_rate:.0} writes/s)"
            ),
            per_read,
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!("| case | time per operation (median of {ROUNDS} rounds) | operations per second |");
    println!("|---|---|---|");

    let envelope = serde_json::to_vec(&queue_invocation(
        "PurchaseCredit",
        "message",
        MESSAGE,
        &properties(),
        datetime!(2026-11-20 09:15:03 UTC),
    ))
    .expect("serialise");
    report(
        "queue envelope: encode as the host does + serialise",
        measure(20_000, |n| {
            for _ in 0..n {
                let request = queue_invocation(
                    "PurchaseCredit",
                    "message",
                    MESSAGE,
                    &properties(),
                    datetime!(2026-11-20 09:15:03 UTC),
                );
                black_box(serde_json::to_vec(&request).expect("serialise"));
            }
        }),
    );
    report(
        "queue envelope: parse + decode text and metadata",
        measure(20_000, |n| {
            for _ in 0..n {
                let request = InvocationRequest::parse(black_box(&envelope)).expect("parse");
                black_box((
                    request.queue_message_text("message").expect("text"),
                    request.queue_metadata().expect("meta"),
                ));
            }
        }),
    );

    let functions = vec![Function::queue(
        "PurchaseCredit",
        "purchase-credit",
        |invocation: QueueInvocation<Purchase>| async move {
            Ok(Outcome::done().log(format!("{} CZK", invocation.message.amount_czk)))
        },
    )];
    let router = Runtime::new(functions, Arc::new(LogFailures)).expect("runtime").router();
    report(
        "queue invocation through the router (in process, typed handler, response envelope)",
        measure(10_000, |n| {
            runtime.block_on(async {
                for _ in 0..n {
                    let request = Request::post("/PurchaseCredit").body(Body::from(envelope.clone())).expect("request");
                    let response = router.clone().oneshot(request).await.expect("infallible");
                    assert!(response.status().is_success());
                    black_box(axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body"));
                }
            });
        }),
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let stores: [(&str, EmbeddedStore); 2] = [
        ("in memory", EmbeddedStore::in_memory(Arc::new(SystemClock)).expect("store")),
        ("on disk, WAL, synchronous=FULL", EmbeddedStore::open(dir.path(), Arc::new(SystemClock)).expect("store")),
    ];
    let body = body();
    for (label, store) in &stores {
        let mut next = 0_usize;
        report(
            &format!("embedded point write (create), {label}"),
            measure(2_000, |n| {
                runtime.block_on(async {
                    for _ in 0..n {
                        next += 1;
                        let doc = NewDocument::new("p-1", format!("d{next}"), body.clone());
                        store.create("bench", doc).await.expect("create");
                    }
                });
            }),
        );
        let written = next;
        let mut i = 0_usize;
        report(
            &format!("embedded point read (get), {label}"),
            measure(10_000, |n| {
                runtime.block_on(async {
                    for _ in 0..n {
                        i = i % written + 1;
                        black_box(store.get("bench", "p-1", &format!("d{i}")).await.expect("get").expect("exists"));
                    }
                });
            }),
        );
    }
    concurrency_cases(&runtime);
}
