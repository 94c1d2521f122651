use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::unique;
use crate::{BatchOp, DocumentStore, ETag, FilterOp, ManualClock, NewDocument, Order, Query, StoreError};

/// Runs every document case.
pub async fn run_all(store: Arc<dyn DocumentStore>, clock: Arc<ManualClock>, collection: &str) {
    let store = store.as_ref();
    create_then_get_round_trips(store, collection).await;
    create_refuses_an_existing_id(store, collection).await;
    replace_needs_the_current_etag(store, collection).await;
    upsert_creates_and_honours_if_match(store, collection).await;
    delete_removes_and_honours_if_match(store, collection).await;
    concurrent_writers_with_one_etag_exactly_one_wins(store, collection).await;
    partitions_are_isolated(store, collection).await;
    query_filters_orders_and_pages(store, collection).await;
    query_text_gives_what_query_gives(store, collection).await;
    query_each_hands_over_what_query_text_gives(store, collection).await;
    ttl_hides_and_purges_expired_documents(store, &clock, collection).await;
    batch_is_all_or_nothing(store, collection).await;
    invalid_input_is_refused(store, collection).await;
}

fn doc(partition: &str, id: &str, body: Value) -> NewDocument {
    NewDocument::new(partition, id, body)
}

pub async fn create_then_get_round_trips(store: &dyn DocumentStore, collection: &str) {
    let partition = unique("p");
    let body = json!({"type": "note", "text": "Příliš žluťoučký kůň", "n": 7, "nested": {"a": [1, 2]}});
    let etag = store.create(collection, doc(&partition, "a", body.clone())).await.expect("create");
    let got = store.get(collection, &partition, "a").await.expect("get").expect("document exists");
    assert_eq!(got.body, body, "the body comes back unchanged");
    assert_eq!(got.etag, etag, "get returns the ETag of the last write");
    assert_eq!((got.partition.as_str(), got.id.as_str()), (partition.as_str(), "a"));
    assert!(store.get(collection, &partition, "missing").await.expect("get missing").is_none(), "a missing id is None");
}

pub async fn create_refuses_an_existing_id(store: &dyn DocumentStore, collection: &str) {
    let partition = unique("p");
    store.create(collection, doc(&partition, "a", json!({"v": 1}))).await.expect("first create");
    let second = store.create(collection, doc(&partition, "a", json!({"v": 2}))).await;
    assert!(matches!(second, Err(StoreError::Conflict)), "second create must conflict, got {second:?}");
    let got = store.get(collection, &partition, "a").await.expect("get").expect("exists");
    assert_eq!(got.body, json!({"v": 1}), "a refused create changes nothing");
}

pub async fn replace_needs_the_current_etag(store: &dyn DocumentStore, collection: &str) {
    let partition = unique("p");
    let first = store.create(collection, doc(&partition, "a", json!({"v": 1}))).await.expect("create");
    let second = store.replace(collection, doc(&partition, "a", json!({"v": 2})), &first).await.expect("replace");
    assert_ne!(first, second, "every write yields a new ETag");
    let stale = store.replace(collection, doc(&partition, "a", json!({"v": 3})), &first).await;
    assert!(matches!(stale, Err(StoreError::PreconditionFailed)), "stale ETag must fail, got {stale:?}");
    let missing = store.replace(collection, doc(&partition, "zz", json!({"v": 1})), &first).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "replace of a missing id is NotFound, got {missing:?}");
    let got = store.get(collection, &partition, "a").await.expect("get").expect("exists");
    assert_eq!((got.body, got.etag), (json!({"v": 2}), second));
}

pub async fn upsert_creates_and_honours_if_match(store: &dyn DocumentStore, collection: &str) {
    let partition = unique("p");
    let first = store.upsert(collection, doc(&partition, "a", json!({"v": 1})), None).await.expect("upsert creates");
    let second = store.upsert(collection, doc(&partition, "a", json!({"v": 2})), None).await.expect("upsert replaces");
    let stale = store.upsert(collection, doc(&partition, "a", json!({"v": 3})), Some(&first)).await;
    assert!(matches!(stale, Err(StoreError::PreconditionFailed)), "upsert with stale ETag must fail, got {stale:?}");
    store
        .upsert(collection, doc(&partition, "a", json!({"v": 4})), Some(&second))
        .await
        .expect("upsert with current ETag");
    let got = store.get(collection, &partition, "a").await.expect("get").expect("exists");
    assert_eq!(got.body, json!({"v": 4}));
}

pub async fn delete_removes_and_honours_if_match(store: &dyn DocumentStore, collection: &str) {
    let partition = unique("p");
    let etag = store.create(collection, doc(&partition, "a", json!({"v": 1}))).await.expect("create");
    let stale = ETag::new("\"not-the-etag\"");
    let refused = store.delete(collection, &partition, "a", Some(&stale)).await;
    assert!(
        matches!(refused, Err(StoreError::PreconditionFailed)),
        "delete with stale ETag must fail, got {refused:?}"
    );
    store.delete(collection, &partition, "a", Some(&etag)).await.expect("delete");
    assert!(store.get(collection, &partition, "a").await.expect("get").is_none(), "deleted document is gone");
    let again = store.delete(collection, &partition, "a", None).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "second delete is NotFound, got {again:?}");
}

pub async fn concurrent_writers_with_one_etag_exactly_one_wins(store: &dyn DocumentStore, collection: &str) {
    let partition = unique("p");
    let etag = store.create(collection, doc(&partition, "a", json!({"writer": "none"}))).await.expect("create");
    for round in 0..5 {
        let current = store.get(collection, &partition, "a").await.expect("get").expect("exists").etag;
        let (left, right) = futures::join!(
            store.replace(collection, doc(&partition, "a", json!({"writer": "left", "round": round})), &current),
            store.replace(collection, doc(&partition, "a", json!({"writer": "right", "round": round})), &current),
        );
        let wins = [&left, &right].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: exactly one writer wins, got {left:?} / {right:?}");
        let loser = if left.is_ok() { &right } else { &left };
        assert!(
            matches!(loser, Err(StoreError::PreconditionFailed)),
            "the loser sees PreconditionFailed, got {loser:?}"
        );
        let winner = if left.is_ok() { "left" } else { "right" };
        let got = store.get(collection, &partition, "a").await.expect("get").expect("exists");
        assert_eq!(got.body["writer"], winner, "the stored body is the winner's");
    }
    let _ = etag;
}

pub async fn partitions_are_isolated(store: &dyn DocumentStore, collection: &str) {
    let (one, two) = (unique("p"), unique("p"));
    store.create(collection, doc(&one, "same", json!({"owner": "one"}))).await.expect("create one");
    store.create(collection, doc(&two, "same", json!({"owner": "two"}))).await.expect("same id, other partition");
    let got = store.get(collection, &two, "same").await.expect("get").expect("exists");
    assert_eq!(got.body["owner"], "two");
    let page = store.query(collection, &one, Query::default()).await.expect("query");
    assert_eq!(page.items.len(), 1, "a query sees only its own partition");
    assert_eq!(page.items[0].body["owner"], "one");
}

pub async fn query_filters_orders_and_pages(store: &dyn DocumentStore, collection: &str) {
    let partition = unique("p");
    for i in 0..10_i64 {
        let kind = if i % 2 == 0 { "even" } else { "odd" };
        // Ranks repeat so that paging must break ties by id.
        let body = json!({"kind": kind, "rank": i / 3, "at": format!("2026-11-{:02}", 10 + i), "meta": {"n": i}});
        store.create(collection, doc(&partition, &format!("d{i:02}"), body)).await.expect("create");
    }
    store.create(collection, doc(&partition, "unranked", json!({"kind": "even"}))).await.expect("create");

    let evens = store
        .query(collection, &partition, Query::default().filter("kind", FilterOp::Eq, "even"))
        .await
        .expect("query");
    let ids: Vec<_> = evens.items.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["d00", "d02", "d04", "d06", "d08", "unranked"], "equality filter, id order by default");

    let range = Query::default().filter("meta.n", FilterOp::Ge, 3).filter("meta.n", FilterOp::Lt, 6);
    let ids: Vec<_> =
        store.query(collection, &partition, range).await.expect("query").items.into_iter().map(|d| d.id).collect();
    assert_eq!(ids, ["d03", "d04", "d05"], "range filter on a nested field");

    let dates = Query::default().filter("at", FilterOp::Gt, "2026-11-17");
    let ids: Vec<_> =
        store.query(collection, &partition, dates).await.expect("query").items.into_iter().map(|d| d.id).collect();
    assert_eq!(ids, ["d08", "d09"], "range filter on strings");

    for (order, expected) in [
        (Order::Ascending, (0..10).map(|i| format!("d{i:02}")).collect::<Vec<_>>()),
        (Order::Descending, (0..10).rev().map(|i| format!("d{i:02}")).collect::<Vec<_>>()),
    ] {
        let mut seen = Vec::new();
        let mut continuation = None;
        let mut pages = 0;
        loop {
            let query = Query::default().order_by("rank", order).page_size(3).after(continuation.take());
            let page = store.query(collection, &partition, query).await.expect("query page");
            assert!(page.items.len() <= 3, "a page holds at most page_size items");
            seen.extend(page.items.into_iter().map(|d| d.id));
            pages += 1;
            match page.continuation {
                Some(token) => continuation = Some(token),
                None => break,
            }
            assert!(pages < 10, "paging must end");
        }
        assert_eq!(pages, 4, "10 ranked items in pages of 3 ({order:?})");
        assert_eq!(seen, expected, "every ranked item exactly once, ordered by rank then id ({order:?})");
    }
}

/// Seven documents in a new partition: `kind` `a` or `b` (four of `b`), a
/// `rank` two of them share, text that JSON must escape. Returns the partition.
async fn seven_ranked_documents(store: &dyn DocumentStore, collection: &str) -> String {
    let partition = unique("p");
    for i in 0..7_i64 {
        let body = json!({"kind": if i % 3 == 0 { "a" } else { "b" }, "rank": i / 2, "text": format!("č{i} \"ř\"")});
        store.create(collection, doc(&partition, &format!("d{i:02}"), body)).await.expect("create");
    }
    partition
}

/// The documents of kind `b` in pages of two, by `rank` in `order` or unordered.
fn kind_b_in_pages_of_two(order: Option<Order>, after: Option<String>) -> Query {
    let query = Query::default().filter("kind", FilterOp::Eq, "b").page_size(2).after(after);
    match order {
        Some(order) => query.order_by("rank", order),
        None => query,
    }
}

/// `query_text` gives the documents, order, ETags and continuation `query`
/// gives, each body the same JSON as text, page after page.
pub async fn query_text_gives_what_query_gives(store: &dyn DocumentStore, collection: &str) {
    let partition = seven_ranked_documents(store, collection).await;
    for order in [None, Some(Order::Ascending), Some(Order::Descending)] {
        let query = |after| kind_b_in_pages_of_two(order, after);
        let (mut values, mut texts) = (None, None);
        let mut pages = 0;
        loop {
            let page = store.query(collection, &partition, query(values.take())).await.expect("query");
            let text = store.query_text(collection, &partition, query(texts.take())).await.expect("query_text");
            let ids = |ids: Vec<&str>| ids.join(",");
            assert_eq!(
                ids(text.items.iter().map(|d| d.id.as_str()).collect()),
                ids(page.items.iter().map(|d| d.id.as_str()).collect()),
                "the same documents in the same order ({order:?}, page {pages})"
            );
            for (text, value) in text.items.iter().zip(&page.items) {
                let parsed: Value = text.decode().expect("a body that parses");
                assert_eq!(parsed, value.body, "the same body, {}", value.id);
                assert_eq!((&text.etag, &text.partition), (&value.etag, &value.partition), "{}", value.id);
            }
            assert_eq!(text.continuation.is_some(), page.continuation.is_some(), "more follow in both ({order:?})");
            pages += 1;
            match (page.continuation, text.continuation) {
                (Some(value), Some(text)) => (values, texts) = (Some(value), Some(text)),
                _ => break,
            }
            assert!(pages < 10, "paging must end");
        }
        assert_eq!(pages, 2, "four documents of kind b in pages of two ({order:?})");
    }
}

/// `query_each` hands over the ids and body texts `query_text` gives, in its
/// order, with its continuation, page after page; an error from the callback
/// stops the page and comes back as it is.
pub async fn query_each_hands_over_what_query_text_gives(store: &dyn DocumentStore, collection: &str) {
    let partition = seven_ranked_documents(store, collection).await;
    for order in [None, Some(Order::Ascending), Some(Order::Descending)] {
        let query = |after| kind_b_in_pages_of_two(order, after);
        let (mut texts, mut eaches) = (None, None);
        let mut pages = 0;
        loop {
            let text = store.query_text(collection, &partition, query(texts.take())).await.expect("query_text");
            let mut handed = Vec::new();
            let mut each = |id: &str, body: &str| {
                handed.push((id.to_owned(), body.to_owned()));
                Ok(())
            };
            let next = store.query_each(collection, &partition, query(eaches.take()), &mut each).await.expect("each");
            let expected: Vec<_> = text.items.iter().map(|d| (d.id.clone(), d.body.clone())).collect();
            assert_eq!(handed, expected, "the same ids and bodies in the same order ({order:?}, page {pages})");
            assert_eq!(next.is_some(), text.continuation.is_some(), "more follow in both ({order:?})");
            pages += 1;
            match (text.continuation, next) {
                (Some(text), Some(next)) => (texts, eaches) = (Some(text), Some(next)),
                _ => break,
            }
            assert!(pages < 10, "paging must end");
        }
        assert_eq!(pages, 2, "four documents of kind b in pages of two ({order:?})");
    }
    let mut calls = 0;
    let mut refuse = |_: &str, _: &str| {
        calls += 1;
        Err(StoreError::Invalid("the caller stops here".into()))
    };
    let stopped = store.query_each(collection, &partition, Query::default(), &mut refuse).await;
    assert!(matches!(stopped, Err(StoreError::Invalid(ref why)) if why == "the caller stops here"), "{stopped:?}");
    assert_eq!(calls, 1, "nothing after the callback's error");
}

pub async fn ttl_hides_and_purges_expired_documents(store: &dyn DocumentStore, clock: &ManualClock, collection: &str) {
    let partition = unique("p");
    store
        .create(collection, doc(&partition, "short", json!({"k": "v"})).with_ttl(Duration::from_secs(60)))
        .await
        .expect("create with TTL");
    store.create(collection, doc(&partition, "keep", json!({"k": "v"}))).await.expect("create without TTL");
    let got = store.get(collection, &partition, "short").await.expect("get").expect("alive before expiry");
    assert_eq!(got.ttl, Some(Duration::from_secs(60)), "the TTL is reported");
    clock.advance(Duration::from_secs(61));
    assert!(store.get(collection, &partition, "short").await.expect("get").is_none(), "expired document is invisible");
    let ids: Vec<_> = store
        .query(collection, &partition, Query::default())
        .await
        .expect("query")
        .items
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["keep"], "queries skip expired documents");
    store.purge_expired().await.expect("purge");
    assert!(store.get(collection, &partition, "short").await.expect("get").is_none());
    store
        .create(collection, doc(&partition, "short", json!({"k": "new"})))
        .await
        .expect("an expired id can be created again");
}

pub async fn batch_is_all_or_nothing(store: &dyn DocumentStore, collection: &str) {
    let partition = unique("p");
    let existing = store.create(collection, doc(&partition, "c", json!({"v": "c"}))).await.expect("create");

    let failing = vec![
        BatchOp::Create(doc(&partition, "a", json!({"v": "a"}))),
        BatchOp::Create(doc(&partition, "b", json!({"v": "b"}))),
        BatchOp::Create(doc(&partition, "c", json!({"v": "again"}))),
    ];
    let result = store.batch(collection, &partition, failing).await;
    assert!(matches!(result, Err(StoreError::Conflict)), "the failing operation's error is returned, got {result:?}");
    for id in ["a", "b"] {
        assert!(
            store.get(collection, &partition, id).await.expect("get").is_none(),
            "{id} must not exist after a failed batch"
        );
    }

    let stale = vec![
        BatchOp::Create(doc(&partition, "a", json!({"v": "a"}))),
        BatchOp::Replace { doc: doc(&partition, "c", json!({"v": "c2"})), if_match: ETag::new("\"stale\"") },
    ];
    let result = store.batch(collection, &partition, stale).await;
    assert!(matches!(result, Err(StoreError::PreconditionFailed)), "stale ETag fails the batch, got {result:?}");
    assert!(
        store.get(collection, &partition, "a").await.expect("get").is_none(),
        "nothing of a failed batch is written"
    );

    let good = vec![
        BatchOp::Create(doc(&partition, "a", json!({"v": "a"}))),
        BatchOp::Replace { doc: doc(&partition, "c", json!({"v": "c2"})), if_match: existing },
        BatchOp::Upsert { doc: doc(&partition, "d", json!({"v": "d"})), if_match: None },
        BatchOp::Delete { id: "a".into(), if_match: None },
    ];
    let etags = store.batch(collection, &partition, good).await.expect("batch");
    assert_eq!(etags.len(), 4, "one result per operation");
    assert!(etags[0].is_some() && etags[1].is_some() && etags[2].is_some() && etags[3].is_none());
    assert!(store.get(collection, &partition, "a").await.expect("get").is_none(), "later operations see earlier ones");
    let c = store.get(collection, &partition, "c").await.expect("get").expect("c exists");
    assert_eq!(c.body, json!({"v": "c2"}));
    assert_eq!(Some(c.etag), etags[1].clone(), "the batch reports the new ETags");
}

pub async fn invalid_input_is_refused(store: &dyn DocumentStore, collection: &str) {
    let partition = unique("p");
    let not_object = store.create(collection, doc(&partition, "a", json!([1, 2]))).await;
    assert!(matches!(not_object, Err(StoreError::Invalid(_))), "a non-object body is invalid, got {not_object:?}");
    let bad_id = store.create(collection, doc(&partition, "a/b", json!({}))).await;
    assert!(matches!(bad_id, Err(StoreError::Invalid(_))), "an id with '/' is invalid, got {bad_id:?}");
    let bad_field =
        store.query(collection, &partition, Query::default().filter("x') OR 1=1 --", FilterOp::Eq, 1)).await;
    assert!(matches!(bad_field, Err(StoreError::Invalid(_))), "a field path must be an identifier, got {bad_field:?}");
    let bad_token = store.query(collection, &partition, Query::default().after(Some("garbage".into()))).await;
    assert!(
        matches!(bad_token, Err(StoreError::Invalid(_))),
        "a foreign continuation token is invalid, got {bad_token:?}"
    );
    let empty = store.batch(collection, &partition, vec![]).await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "an empty batch is invalid, got {empty:?}");
    let other = vec![BatchOp::Create(doc(&unique("p"), "a", json!({})))];
    let cross = store.batch(collection, &partition, other).await;
    assert!(matches!(cross, Err(StoreError::Invalid(_))), "a batch stays in its partition, got {cross:?}");
}
