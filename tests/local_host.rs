//! The local host against a real handler on a loopback port, with a manual
//! clock: queue delivery, retries, poison, and timers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use portal::local_host::{Delivery, LocalHost};
use portal_host::PoisonRecord;
use portal_host::{Function, InvocationError, Outcome, QueueInvocation, Runtime};
use portal_store::embedded::EmbeddedStore;
use portal_store::{Clock, ManualClock, QueueName, QueueStore};
use serde_json::json;
use time::macros::datetime;

#[derive(Debug, serde::Deserialize)]
struct Job {
    fail_times: u32,
}

struct Harness {
    host: LocalHost,
    store: EmbeddedStore,
    clock: Arc<ManualClock>,
    calls: Arc<AtomicU32>,
    ticks: Arc<AtomicU32>,
    past_due: Arc<AtomicU32>,
}

async fn harness() -> Harness {
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00:30 UTC)));
    let store = EmbeddedStore::in_memory(clock.clone()).expect("store");
    let (calls, ticks, past_due) =
        (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let functions = {
        let (calls, ticks, past_due) = (calls.clone(), ticks.clone(), past_due.clone());
        vec![
            Function::queue("DoJob", "jobs", move |invocation: QueueInvocation<Job>| {
                let calls = calls.clone();
                async move {
                    let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
                    if invocation.meta.dequeue_count <= invocation.message.fail_times {
                        Err(InvocationError::retryable(format!("failing on purpose, call {call}")))
                    } else {
                        Ok(Outcome::done().log("job done"))
                    }
                }
            }),
            Function::timer("EveryMinute", "0 * * * * *", move |invocation| {
                let (ticks, past_due) = (ticks.clone(), past_due.clone());
                async move {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    if invocation.info.is_past_due {
                        past_due.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Outcome::done())
                }
            }),
        ]
    };
    let shared = Arc::new(store.clone());
    let failures = Arc::new(portal::app::StoredFailures { documents: shared.clone(), queues: shared.clone() });
    let runtime = Runtime::new(functions, failures).expect("runtime");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let router = runtime.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let host = LocalHost::new(&base, &runtime, shared.clone(), shared, clock.clone()).expect("local host");
    host.prepare().await.expect("queues");
    Harness { host, store, clock, calls, ticks, past_due }
}

fn jobs() -> QueueName {
    QueueName::parse("jobs").expect("name")
}

#[tokio::test]
async fn a_message_is_delivered_once_and_deleted() {
    let h = harness().await;
    h.store.send(&jobs(), &json!({"fail_times": 0}).to_string(), None).await.expect("send");
    let function = h.host.queue_functions()[0].clone();
    let delivery = h.host.deliver(&function).await.expect("deliver");
    assert_eq!(delivery, Delivery { received: 1, succeeded: 1, retried: 0, poisoned: 0 });
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(h.host.deliver(&function).await.expect("deliver").received, 0, "deleted after success");
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_message_is_retried_after_the_visibility_timeout_then_succeeds() {
    let h = harness().await;
    h.store.send(&jobs(), &json!({"fail_times": 2}).to_string(), None).await.expect("send");
    let function = h.host.queue_functions()[0].clone();
    assert_eq!(h.host.deliver(&function).await.expect("deliver").retried, 1);
    assert_eq!(h.host.deliver(&function).await.expect("deliver").received, 0, "hidden during the visibility timeout");
    h.clock.advance(Duration::from_secs(10));
    assert_eq!(h.host.deliver(&function).await.expect("deliver").retried, 1);
    h.clock.advance(Duration::from_secs(10));
    let third = h.host.deliver(&function).await.expect("deliver");
    assert_eq!(third.succeeded, 1, "the third try succeeds (dequeue count 3)");
    assert_eq!(h.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_message_that_keeps_failing_goes_to_the_poison_queue_after_five_tries() {
    let h = harness().await;
    let text = json!({"fail_times": 99}).to_string();
    h.store.send(&jobs(), &text, None).await.expect("send");
    let function = h.host.queue_functions()[0].clone();
    let mut poisoned = 0;
    let mut retried = 0;
    for _ in 0..5 {
        let delivery = h.host.deliver(&function).await.expect("deliver");
        (poisoned, retried) = (poisoned + delivery.poisoned, retried + delivery.retried);
        h.clock.advance(Duration::from_secs(10));
    }
    assert_eq!((h.calls.load(Ordering::SeqCst), retried), (5, 4), "five tries, four of them retried");
    assert_eq!(poisoned, 0, "the handler itself keeps the last failure; the host has nothing to move");
    assert_eq!(h.host.deliver(&function).await.expect("deliver").received, 0, "gone from the queue");
    let poison = QueueName::parse("jobs-poison").expect("name");
    let moved = h.store.receive(&poison, 32, Duration::from_secs(30)).await.expect("receive poison");
    assert_eq!(moved.len(), 1);
    let record = PoisonRecord::parse(&moved[0].text).expect("the one poison-record shape");
    assert_eq!(record.message, text, "the poison record keeps the original text whole");
    assert_eq!((record.queue.as_str(), record.function.as_str(), record.dequeue_count), ("jobs", "DoJob", 5));
    assert!(record.reason.contains("last try") && record.reason.contains("failing on purpose"), "{}", record.reason);
}

#[tokio::test]
async fn replay_poison_puts_each_message_back_on_its_queue_unchanged() {
    let h = harness().await;
    let text = json!({"fail_times": 5}).to_string();
    h.store.send(&jobs(), &text, None).await.expect("send");
    let function = h.host.queue_functions()[0].clone();
    for _ in 0..5 {
        h.host.deliver(&function).await.expect("deliver");
        h.clock.advance(Duration::from_secs(10));
    }
    // The host's raw copy (the handler never answered) is replayed as well.
    let poison = QueueName::parse("jobs-poison").expect("name");
    let raw = json!({"fail_times": 0, "raw": true}).to_string();
    h.store.send(&poison, &raw, None).await.expect("raw copy");
    // A record of another queue stays where it is.
    let stray = PoisonRecord::new("other", "Other", "x", 1, h.clock.now(), "{}");
    h.store.send(&poison, &stray.to_text(), None).await.expect("stray");

    let done = portal::replay::replay_poison(&h.store, "jobs").await.expect("replay");
    assert_eq!((done.replayed, done.left), (2, 1));
    assert!(portal::replay::replay_poison(&h.store, "jobs-poison").await.is_err(), "name the target queue");
    let back = h.store.receive(&jobs(), 32, Duration::from_secs(30)).await.expect("receive");
    let mut texts: Vec<&str> = back.iter().map(|m| m.text.as_str()).collect();
    texts.sort_unstable();
    let mut expected = vec![text.as_str(), raw.as_str()];
    expected.sort_unstable();
    assert_eq!(texts, expected, "the originals, whole");
    for message in &back {
        h.store.release(&jobs(), &message.id, &message.pop_receipt, Duration::ZERO).await.expect("release");
    }
    let delivery = h.host.deliver(&function).await.expect("deliver");
    assert_eq!((delivery.succeeded, delivery.retried), (1, 1), "both run again, each from its first try");
}

#[tokio::test]
async fn timers_fire_on_schedule_and_once_when_past_due() {
    let h = harness().await;
    let (runs, next) = h.host.fire_due_timers().await.expect("first round");
    assert!(runs.is_empty(), "the first start only records the schedule (runOnStartup is false)");
    assert_eq!(next, Some(datetime!(2026-11-23 08:01:00 UTC)));

    h.clock.set(datetime!(2026-11-23 08:01:00 UTC));
    let (runs, next) = h.host.fire_due_timers().await.expect("on time");
    assert_eq!(runs.len(), 1);
    assert!(!runs[0].past_due && runs[0].succeeded);
    assert_eq!(next, Some(datetime!(2026-11-23 08:02:00 UTC)));
    let (runs, _) = h.host.fire_due_timers().await.expect("same instant again");
    assert!(runs.is_empty(), "an occurrence fires once");

    // The process was down for three hours: one past-due run, not 180.
    h.clock.set(datetime!(2026-11-23 11:01:30 UTC));
    let (runs, next) = h.host.fire_due_timers().await.expect("late");
    assert_eq!(runs.len(), 1);
    assert!(runs[0].past_due);
    assert_eq!(next, Some(datetime!(2026-11-23 11:02:00 UTC)));
    assert_eq!((h.ticks.load(Ordering::SeqCst), h.past_due.load(Ordering::SeqCst)), (2, 1));
}
