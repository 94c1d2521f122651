use std::sync::Arc;
use std::time::Duration;

use super::unique;
use crate::{QueueName, QueueStore, StoreError};

const LEASE: Duration = Duration::from_secs(30);

/// Runs every queue case.
pub async fn run_all(store: Arc<dyn QueueStore>) {
    let store = store.as_ref();
    send_receive_delete(store).await;
    texts_survive_unchanged(store).await;
    release_makes_a_message_visible_again(store).await;
    delayed_messages_stay_hidden(store).await;
    receive_takes_at_most_max(store).await;
    missing_queue_is_not_found(store).await;
    counts_and_lists_queues(store).await;
}

async fn fresh(store: &dyn QueueStore) -> QueueName {
    let queue = QueueName::parse(unique("q")).expect("valid queue name");
    store.ensure(&queue).await.expect("ensure queue");
    store.ensure(&queue).await.expect("ensure is idempotent");
    queue
}

pub async fn send_receive_delete(store: &dyn QueueStore) {
    let queue = fresh(store).await;
    let id = store.send(&queue, r#"{"id":"1"}"#, None).await.expect("send");
    let received = store.receive(&queue, 1, LEASE).await.expect("receive");
    assert_eq!(received.len(), 1, "the sent message is received");
    let message = &received[0];
    assert_eq!((message.id.as_str(), message.text.as_str(), message.dequeue_count), (id.as_str(), r#"{"id":"1"}"#, 1));
    assert!(message.next_visible > message.inserted_at, "a received message is leased");
    assert!(store.receive(&queue, 1, LEASE).await.expect("receive").is_empty(), "a leased message is invisible");
    store.delete(&queue, &message.id, &message.pop_receipt).await.expect("delete");
    let again = store.delete(&queue, &message.id, &message.pop_receipt).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "a deleted message is NotFound, got {again:?}");
}

pub async fn texts_survive_unchanged(store: &dyn QueueStore) {
    let queue = fresh(store).await;
    // "abcd" and "test1234" are valid base64: a careless encoding layer corrupts them.
    let texts = ["abcd", "test1234", "Žádost o výpis z rejstříku trestů ✓", "\"quoted\"", "  spaces  "];
    for text in texts {
        store.send(&queue, text, None).await.expect("send");
    }
    let mut got: Vec<String> =
        store.receive(&queue, 32, LEASE).await.expect("receive").into_iter().map(|m| m.text).collect();
    got.sort();
    let mut want: Vec<String> = texts.iter().map(|t| (*t).to_owned()).collect();
    want.sort();
    assert_eq!(got, want, "texts come back byte for byte");
}

pub async fn release_makes_a_message_visible_again(store: &dyn QueueStore) {
    let queue = fresh(store).await;
    store.send(&queue, "retry me", None).await.expect("send");
    let first = store.receive(&queue, 1, LEASE).await.expect("receive").pop().expect("one message");
    let receipt = store.release(&queue, &first.id, &first.pop_receipt, Duration::ZERO).await.expect("release");
    assert_ne!(receipt, first.pop_receipt, "release issues a new pop receipt");
    let stale = store.delete(&queue, &first.id, &first.pop_receipt).await;
    assert!(matches!(stale, Err(StoreError::NotFound)), "the old pop receipt is stale, got {stale:?}");
    let second = store.receive(&queue, 1, LEASE).await.expect("receive").pop().expect("visible again");
    assert_eq!((second.id.as_str(), second.dequeue_count), (first.id.as_str(), 2), "the dequeue count grows");
    store.delete(&queue, &second.id, &second.pop_receipt).await.expect("delete with the newest receipt");
}

pub async fn delayed_messages_stay_hidden(store: &dyn QueueStore) {
    let queue = fresh(store).await;
    store.send(&queue, "later", Some(Duration::from_secs(3600))).await.expect("send delayed");
    assert!(store.receive(&queue, 32, LEASE).await.expect("receive").is_empty(), "a delayed message is invisible");
}

pub async fn receive_takes_at_most_max(store: &dyn QueueStore) {
    let queue = fresh(store).await;
    for i in 0..5 {
        store.send(&queue, &format!("m{i}"), None).await.expect("send");
    }
    let first = store.receive(&queue, 3, LEASE).await.expect("receive");
    assert_eq!(first.len(), 3, "at most max messages");
    let rest = store.receive(&queue, 32, LEASE).await.expect("receive");
    assert_eq!(rest.len(), 2, "the rest, never a leased one twice");
    let mut ids: Vec<_> = first.iter().chain(&rest).map(|m| m.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "five distinct messages");
}

pub async fn missing_queue_is_not_found(store: &dyn QueueStore) {
    let queue = QueueName::parse(unique("missing")).expect("valid queue name");
    let result = store.send(&queue, "x", None).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "sending to a missing queue is NotFound, got {result:?}");
}

pub async fn counts_and_lists_queues(store: &dyn QueueStore) {
    let queue = fresh(store).await;
    assert_eq!(store.approximate_count(&queue).await.expect("count"), 0, "a new queue is empty");
    store.send(&queue, "one", None).await.expect("send");
    store.send(&queue, "two", Some(Duration::from_secs(60))).await.expect("send");
    assert_eq!(store.approximate_count(&queue).await.expect("count"), 2, "delayed messages count");
    let received = store.receive(&queue, 1, LEASE).await.expect("receive");
    assert_eq!(store.approximate_count(&queue).await.expect("count"), 2, "leased messages count");
    store.delete(&queue, &received[0].id, &received[0].pop_receipt).await.expect("delete");
    assert_eq!(store.approximate_count(&queue).await.expect("count"), 1, "deleted messages do not count");
    let listed = store.list_queues().await.expect("list");
    assert!(listed.contains(&queue), "{queue} is listed among {listed:?}");
    let missing = QueueName::parse(unique("missing")).expect("valid queue name");
    let result = store.approximate_count(&missing).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "counting a missing queue is NotFound, got {result:?}");
    assert!(!store.list_queues().await.expect("list").contains(&missing), "a missing queue is not listed");
}
