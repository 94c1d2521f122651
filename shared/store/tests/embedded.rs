//! The embedded adapter against the shared conformance suite, plus what only
//! the embedded adapter promises: data survives a reopen and a `kill -9`.

use std::sync::Arc;
use std::time::Duration;

use portal_store::embedded::EmbeddedStore;
use portal_store::{
    Clock, DocumentStore, FilterOp, ManualClock, NewDocument, Query, QueueName, QueueStore, conformance,
};
use serde_json::json;
use time::macros::datetime;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)))
}

#[tokio::test]
async fn documents_conform_in_memory() {
    let clock = clock();
    let store = EmbeddedStore::in_memory(clock.clone()).expect("open");
    conformance::documents::run_all(Arc::new(store), clock, "conformance").await;
}

#[tokio::test]
async fn documents_conform_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = clock();
    let store = EmbeddedStore::open(dir.path(), clock.clone()).expect("open");
    conformance::documents::run_all(Arc::new(store), clock, "conformance").await;
}

#[tokio::test]
async fn documents_conform_with_filter_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = clock();
    let store = EmbeddedStore::open(dir.path(), clock.clone()).expect("open");
    store.index_filters("conformance", &["kind", "meta.n", "at"]).await.expect("index");
    conformance::documents::run_all(Arc::new(store), clock, "conformance").await;
}

/// Bodies whose fields differ in kind (text, whole and decimal numbers,
/// booleans, null, objects, arrays, absent), for comparing answers.
fn assorted(i: usize) -> serde_json::Value {
    let kind = match i % 9 {
        0 => json!("a"),
        1 => json!("b"),
        2 => json!(1),
        3 => json!(2.5),
        4 => json!(true),
        5 => json!(null),
        6 => json!({"x": 1}),
        7 => json!(["a"]),
        _ => serde_json::Value::Null,
    };
    let mut body = json!({"kind": kind, "day": format!("2026-12-{:02}", 1 + i % 28), "meta": {"n": i % 7}});
    if i % 9 == 8 {
        body.as_object_mut().expect("object").remove("kind");
    }
    body
}

#[tokio::test]
async fn filtered_queries_answer_alike_with_a_filter_index_declared_before_or_after_the_data() {
    let clock = clock();
    let plain = EmbeddedStore::in_memory(clock.clone()).expect("open");
    let before = EmbeddedStore::in_memory(clock.clone()).expect("open");
    let after = EmbeddedStore::in_memory(clock.clone()).expect("open");
    before.index_filters("things", &["kind", "day", "meta.n"]).await.expect("index");
    for store in [&plain, &before, &after] {
        for i in 0..120 {
            store.create("things", NewDocument::new("p", format!("t{i:03}"), assorted(i))).await.expect("create");
            store.create("others", NewDocument::new("p", format!("o{i:03}"), assorted(i))).await.expect("create");
        }
    }
    after.index_filters("things", &["kind", "day", "meta.n"]).await.expect("index");

    async fn ids(store: &EmbeddedStore, filters: &[(&str, FilterOp, serde_json::Value)]) -> Vec<String> {
        let (mut ids, mut continuation) = (vec![], None);
        loop {
            let mut query = Query::default().page_size(7).after(continuation.take());
            for (field, op, value) in filters {
                query = query.filter(*field, *op, value.clone());
            }
            let page = store.query("things", "p", query).await.expect("query");
            ids.extend(page.items.into_iter().map(|doc| doc.id));
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => return ids,
            }
        }
    }
    let values =
        [json!("a"), json!("b"), json!(1), json!(2), json!(2.5), json!(true), json!(false), json!("2026-12-10")];
    let ops = [FilterOp::Eq, FilterOp::Lt, FilterOp::Le, FilterOp::Gt, FilterOp::Ge];
    let mut compared = 0;
    for field in ["kind", "day", "meta.n"] {
        for op in ops {
            for value in &values {
                let filters = [(field, op, value.clone()), ("day", FilterOp::Ge, json!("2026-12-05"))];
                let expected = ids(&plain, &filters).await;
                assert_eq!(ids(&before, &filters).await, expected, "{field} {op:?} {value}, index first");
                assert_eq!(ids(&after, &filters).await, expected, "{field} {op:?} {value}, index after the data");
                compared += usize::from(!expected.is_empty());
            }
        }
    }
    assert!(compared > 60, "most comparisons select something: {compared}");
}

#[tokio::test]
async fn declaring_other_fields_replaces_the_collections_filter_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path(), clock()).expect("open");
    store.index_filters("things", &["kind"]).await.expect("index");
    store.index_filters("others", &["kind"]).await.expect("index");
    store.index_filters("things", &["kind", "day"]).await.expect("index");
    store.index_filters("things", &["kind", "day"]).await.expect("the same again");
    let conn = rusqlite::Connection::open(dir.path().join("portal.db")).expect("database");
    let mut names = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'filters:%'")
        .expect("statement")
        .query_map([], |row| row.get::<_, String>(0))
        .expect("names")
        .collect::<Result<Vec<_>, _>>()
        .expect("names");
    names.sort();
    assert_eq!(names, ["filters:others:kind", "filters:things:kind,day"]);
    assert!(store.index_filters("things", &[]).await.is_err(), "no field");
    assert!(store.index_filters("things", &["a;b"]).await.is_err(), "not a field path");
    assert!(store.index_filters("a/b", &["kind"]).await.is_err(), "not a collection");
}

#[tokio::test]
async fn blobs_conform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path(), clock()).expect("open");
    conformance::blobs::run_all(Arc::new(store)).await;
}

#[tokio::test]
async fn queues_conform() {
    let store = EmbeddedStore::in_memory(clock()).expect("open");
    conformance::queues::run_all(Arc::new(store)).await;
}

/// A queue's messages are keyed by their ids (`messages`, `WITHOUT ROWID`):
/// ids in sending order put each new message at the end of the key range,
/// where random ones put every send on a leaf page of its own (written to the
/// WAL and again by the checkpoint; the archive bench wrote 28 % more).
#[tokio::test]
async fn a_queues_message_ids_follow_the_order_of_sending() {
    let store = EmbeddedStore::in_memory(clock()).expect("open");
    let queue = QueueName::parse("ordered-ids").expect("name");
    store.ensure(&queue).await.expect("ensure");
    let mut ids = Vec::new();
    for n in 0..200 {
        ids.push(store.send(&queue, &format!("m{n}"), None).await.expect("send"));
    }
    assert!(ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()), "ids stay GUIDs, as Azure Queue Storage's");
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "each id sorts after the one sent before it");
}

#[tokio::test]
async fn an_expired_lease_makes_the_message_visible_again() {
    let clock = clock();
    let store = EmbeddedStore::in_memory(clock.clone()).expect("open");
    let queue = QueueName::parse("lease-test").expect("name");
    store.ensure(&queue).await.expect("ensure");
    store.send(&queue, "m", None).await.expect("send");
    let first = store.receive(&queue, 1, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(first.len(), 1);
    clock.advance(Duration::from_secs(29));
    assert!(store.receive(&queue, 1, Duration::from_secs(30)).await.expect("receive").is_empty(), "lease still held");
    clock.advance(Duration::from_secs(2));
    let second = store.receive(&queue, 1, Duration::from_secs(30)).await.expect("receive");
    assert_eq!(second.first().map(|m| m.dequeue_count), Some(2), "redelivered after the lease ran out");
    clock.advance(Duration::from_secs(8 * 24 * 3600));
    let purged = store.purge_expired().await.expect("purge");
    assert_eq!(purged, 1, "a message past its time to live is purged");
}

#[tokio::test]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn Clock> = clock();
    {
        let store = EmbeddedStore::open(dir.path(), clock.clone()).expect("open");
        store.create("c", NewDocument::new("p", "a", json!({"v": 1}))).await.expect("create");
    }
    let store = EmbeddedStore::open(dir.path(), clock).expect("reopen");
    let got = store.get("c", "p", "a").await.expect("get").expect("still there");
    assert_eq!(got.body, json!({"v": 1}));
}

/// Child mode of [`batches_survive_kill_9`]: writes numbered batches of ten
/// documents forever, printing each committed batch number.
fn crash_writer(dir: &str) -> ! {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = EmbeddedStore::open(std::path::Path::new(dir), Arc::new(portal_store::SystemClock)).expect("open");
        for batch in 0_u64.. {
            let ops = (0..10)
                .map(|i| {
                    portal_store::BatchOp::Create(NewDocument::new(
                        "crash",
                        format!("b{batch:06}-{i}"),
                        json!({"batch": batch}),
                    ))
                })
                .collect();
            store.batch("c", "crash", ops).await.expect("batch");
            println!("committed {batch}");
        }
    });
    unreachable!("the writer loops until it is killed")
}

#[test]
fn batches_survive_kill_9() {
    use std::io::BufRead as _;

    if let Ok(dir) = std::env::var("PORTAL_CRASH_WRITER_DIR") {
        crash_writer(&dir);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["batches_survive_kill_9", "--exact", "--nocapture", "--test-threads=1"])
        .env("PORTAL_CRASH_WRITER_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn writer");
    let stdout = child.stdout.take().expect("stdout");
    let mut last_committed = None;
    // Reads to the end: a report still in the pipe when the writer died was
    // made, so it counts (stopping at the kill would miss it and see "too many"
    // batches committed).
    for line in std::io::BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Some(Ok(n)) = line.strip_prefix("committed ").map(str::parse::<u64>) else { continue };
        last_committed = Some(n);
        if n == 40 {
            child.kill().expect("SIGKILL the writer mid-write");
        }
    }
    assert!(last_committed >= Some(40), "the writer died before the kill");
    child.wait().expect("reap");
    let last_committed = last_committed.expect("the writer committed batches");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = EmbeddedStore::open(dir.path(), Arc::new(portal_store::SystemClock)).expect("reopen after kill");
        let mut counts = std::collections::BTreeMap::<u64, usize>::new();
        let mut continuation = None;
        loop {
            let page = store
                .query("c", "crash", Query::default().page_size(1000).after(continuation.take()))
                .await
                .expect("query");
            for doc in &page.items {
                *counts.entry(doc.body["batch"].as_u64().expect("batch number")).or_default() += 1;
            }
            match page.continuation {
                Some(token) => continuation = Some(token),
                None => break,
            }
        }
        for (batch, count) in &counts {
            assert_eq!(*count, 10, "batch {batch} is whole, not half-written");
        }
        for batch in 0..=last_committed {
            assert_eq!(counts.get(&batch), Some(&10), "committed batch {batch} survived the kill");
        }
        let highest = counts.keys().max().copied().unwrap_or(0);
        assert!(highest <= last_committed + 1, "at most one batch committed after the last report");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits_but_fail_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(dir.path(), clock()).expect("open");
    store.create("c", NewDocument::new("p", "taken", json!({}))).await.expect("seed");
    // 64 writers at once: every odd one's batch ends in a conflict, so it must
    // vanish whole while the even ones committed with it stay.
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut ops: Vec<_> = (0..5)
                    .map(|j| portal_store::BatchOp::Create(NewDocument::new("p", format!("w{i}-{j}"), json!({"w": i}))))
                    .collect();
                if i % 2 == 1 {
                    ops.push(portal_store::BatchOp::Create(NewDocument::new("p", "taken", json!({}))));
                }
                (i, store.batch("c", "p", ops).await)
            })
        })
        .collect();
    for task in tasks {
        let (i, result) = task.await.expect("task");
        if i % 2 == 1 {
            assert!(matches!(result, Err(portal_store::StoreError::Conflict)), "writer {i}: {result:?}");
        } else {
            assert_eq!(result.expect("even writers commit").len(), 5);
        }
        // Acknowledged means readable at once, from any read connection.
        for j in 0..5 {
            let found = store.get("c", "p", &format!("w{i}-{j}")).await.expect("get");
            assert_eq!(found.is_some(), i % 2 == 0, "writer {i}, document {j}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_replaces_in_one_group_let_exactly_one_win() {
    let store = EmbeddedStore::in_memory(clock()).expect("open");
    let etag = store.create("c", NewDocument::new("p", "counter", json!({"n": 0}))).await.expect("seed");
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (store, etag) = (store.clone(), etag.clone());
            tokio::spawn(
                async move { store.replace("c", NewDocument::new("p", "counter", json!({"n": i})), &etag).await },
            )
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => won += 1,
            Err(portal_store::StoreError::PreconditionFailed) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1, "one If-Match version, one winner");
}

/// Writers of [`group_commits_survive_kill_9_under_load`]: per writer, batches
/// of ten documents in the writer's own partition, printing each acknowledged
/// one; every seventh batch ends in a conflict and must leave nothing behind.
const LOAD_WRITERS: u64 = 16;

fn load_writer(dir: &str) -> ! {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = EmbeddedStore::open(std::path::Path::new(dir), Arc::new(portal_store::SystemClock)).expect("open");
        let tasks: Vec<_> = (0..LOAD_WRITERS)
            .map(|writer| {
                let store = store.clone();
                tokio::spawn(async move {
                    let partition = format!("w{writer}");
                    store
                        .create("c", NewDocument::new(partition.clone(), "taken", json!({"batch": -1})))
                        .await
                        .expect("seed");
                    for batch in 0_u64.. {
                        let mut ops: Vec<_> = (0..10)
                            .map(|i| {
                                portal_store::BatchOp::Create(NewDocument::new(
                                    partition.clone(),
                                    format!("b{batch:06}-{i}"),
                                    json!({"batch": batch}),
                                ))
                            })
                            .collect();
                        if batch % 7 == 3 {
                            ops.push(portal_store::BatchOp::Create(NewDocument::new(
                                partition.clone(),
                                "taken",
                                json!({}),
                            )));
                            let refused = store.batch("c", &partition, ops).await;
                            assert!(matches!(refused, Err(portal_store::StoreError::Conflict)), "{refused:?}");
                        } else {
                            store.batch("c", &partition, ops).await.expect("batch");
                            println!("committed {writer} {batch}");
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("writer");
        }
    });
    unreachable!("the writers loop until they are killed")
}

#[test]
fn group_commits_survive_kill_9_under_load() {
    use std::io::BufRead as _;

    if let Ok(dir) = std::env::var("PORTAL_LOAD_WRITER_DIR") {
        load_writer(&dir);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["group_commits_survive_kill_9_under_load", "--exact", "--nocapture", "--test-threads=1"])
        .env("PORTAL_LOAD_WRITER_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn writers");
    let stdout = child.stdout.take().expect("stdout");
    let mut acknowledged = std::collections::BTreeMap::<u64, Vec<u64>>::new();
    let mut seen = 0;
    // Reads to the end: what the writers reported before they died counts as
    // acknowledged too, even if it was still in the pipe at the kill.
    for line in std::io::BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let Some((writer, batch)) = line.strip_prefix("committed ").and_then(|rest| rest.split_once(' ')) else {
            continue;
        };
        let (Ok(writer), Ok(batch)) = (writer.parse(), batch.parse()) else { continue };
        acknowledged.entry(writer).or_default().push(batch);
        seen += 1;
        // Well into the run, every writer busy: kill mid-group.
        if seen == 2_000 {
            child.kill().expect("SIGKILL the writers mid-commit");
        }
    }
    assert!(seen >= 2_000, "the writers died before the kill");
    child.wait().expect("reap");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = EmbeddedStore::open(dir.path(), Arc::new(portal_store::SystemClock)).expect("reopen after kill");
        for writer in 0..LOAD_WRITERS {
            let mut counts = std::collections::BTreeMap::<i64, usize>::new();
            let mut continuation = None;
            loop {
                let page = store
                    .query("c", &format!("w{writer}"), Query::default().page_size(1000).after(continuation.take()))
                    .await
                    .expect("query");
                for doc in &page.items {
                    *counts.entry(doc.body["batch"].as_i64().expect("batch number")).or_default() += 1;
                }
                match page.continuation {
                    Some(token) => continuation = Some(token),
                    None => break,
                }
            }
            counts.remove(&-1);
            for (batch, count) in &counts {
                assert_eq!(*count, 10, "writer {writer}: batch {batch} is whole, not half-written");
                assert_ne!(batch % 7, 3, "writer {writer}: refused batch {batch} left nothing behind");
            }
            let acknowledged = acknowledged.get(&writer).map(Vec::as_slice).unwrap_or_default();
            for batch in acknowledged {
                let batch = i64::try_from(*batch).expect("small");
                assert_eq!(counts.get(&batch), Some(&10), "writer {writer}: acknowledged batch {batch} survived");
            }
            // Each writer has one write in flight: at most one batch committed
            // that it had not yet reported.
            let last = acknowledged.last().map_or(-1, |b| i64::try_from(*b).expect("small"));
            let unreported = counts.keys().filter(|batch| **batch > last).count();
            assert!(unreported <= 1, "writer {writer}: {unreported} batches beyond its last report");
        }
        assert_eq!(acknowledged.len() as u64, LOAD_WRITERS, "every writer committed something before the kill");
    });
}

/// A new database has 8 KiB pages (a sealed document of up to about 2 KB fits
/// its leaf; `PAGE_SIZE` in `embedded/mod.rs`), a rowid blob table and the
/// latest schema version.
#[test]
fn a_new_database_has_8_kib_pages_and_rowid_blob_and_document_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(EmbeddedStore::open(dir.path(), clock()).expect("open"));
    let conn = rusqlite::Connection::open(dir.path().join("portal.db")).expect("sqlite");
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0)).expect("page size");
    assert_eq!(page_size, 8192);
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).expect("version");
    assert_eq!(version, 5);
    for table in ["blobs", "documents"] {
        conn.query_row(&format!("SELECT count(rowid) FROM {table}"), [], |row| row.get::<_, i64>(0))
            .unwrap_or_else(|e| panic!("{table}: a rowid table (a table without rowid has no rowid column): {e}"));
    }
}

/// A data folder written by the first release (schema version 1: every blob a
/// file, no `content` column, the blob table without rowid) opens with its
/// blobs intact and then keeps new small blobs inline, the file an inline
/// overwrite replaces is removed, and the blob table has become a rowid table.
#[tokio::test]
async fn a_version_1_database_is_migrated_in_place() {
    use bytes::Bytes;
    use futures::TryStreamExt as _;
    use portal_store::{BlobPath, BlobStore, PutMode};

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("blobs/data")).expect("blob folder");
    std::fs::create_dir_all(dir.path().join("blobs/tmp")).expect("blob folder");
    std::fs::write(dir.path().join("blobs/data/f1"), b"from version 1").expect("blob file");
    {
        let conn = rusqlite::Connection::open(dir.path().join("portal.db")).expect("sqlite");
        conn.execute_batch(
            "CREATE TABLE documents (collection TEXT NOT NULL, pk TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
                 etag TEXT NOT NULL, ttl_ms INTEGER, expires_at_ms INTEGER, PRIMARY KEY (collection, pk, id)) WITHOUT ROWID;
             CREATE TABLE blobs (path TEXT PRIMARY KEY, file TEXT NOT NULL, content_type TEXT NOT NULL,
                 size INTEGER NOT NULL, etag TEXT NOT NULL, metadata TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE queues (name TEXT PRIMARY KEY) WITHOUT ROWID;
             CREATE TABLE messages (queue TEXT NOT NULL REFERENCES queues (name), id TEXT NOT NULL,
                 seq INTEGER NOT NULL, text TEXT NOT NULL, pop_receipt TEXT,
                 dequeue_count INTEGER NOT NULL DEFAULT 0, inserted_at_ms INTEGER NOT NULL,
                 expires_at_ms INTEGER NOT NULL, visible_at_ms INTEGER NOT NULL, PRIMARY KEY (queue, id)) WITHOUT ROWID;
             INSERT INTO blobs VALUES ('old/one.txt', 'f1', 'text/plain', 14, 'e1', '{}');
             INSERT INTO documents VALUES ('things', 'p1', 'kept', '{\"kind\":\"a\"}', 'e2', NULL, NULL);
             INSERT INTO documents VALUES ('things', 'p1', 'expiring', '{\"kind\":\"b\"}', 'e3', 60000, 1);
             PRAGMA user_version = 1;",
        )
        .expect("a version 1 database");
    }
    let store = EmbeddedStore::open(dir.path(), clock()).expect("open migrates");
    let path = BlobPath::parse("old/one.txt").expect("path");
    let read = |store: EmbeddedStore, path: BlobPath| async move {
        let (_, stream) = BlobStore::get(&store, &path).await.expect("get");
        stream.try_collect::<Vec<Bytes>>().await.expect("read").concat()
    };
    assert_eq!(read(store.clone(), path.clone()).await, b"from version 1", "an old file blob still reads");
    store
        .put(&path, Bytes::from_static(b"now inline"), "text/plain", Default::default(), PutMode::Overwrite)
        .await
        .expect("overwrite");
    assert_eq!(read(store.clone(), path.clone()).await, b"now inline");
    assert!(!dir.path().join("blobs/data/f1").exists(), "the replaced file is removed");
    let kept =
        DocumentStore::get(&store, "things", "p1", "kept").await.expect("get").expect("an old document still reads");
    assert_eq!((kept.body, kept.etag.as_str()), (json!({"kind": "a"}), "e2"), "copied with its etag");
    assert_eq!(store.purge_expired().await.expect("purge"), 1, "the expiry index is made again and swept");
    store.index_filters("things", &["kind"]).await.expect("a filter index on the migrated table");
    let found = store.query("things", "p1", Query::default().filter("kind", FilterOp::Eq, "a")).await.expect("query");
    assert_eq!(found.items.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["kept"]);
    store.create("things", NewDocument::new("p1", "kept", json!({}))).await.expect_err("the key is still unique");
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("portal.db")).expect("sqlite");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).expect("version");
    assert_eq!(version, 5, "the schema version is raised");
    let rows: i64 = conn
        .query_row("SELECT count(rowid) FROM blobs WHERE path = 'old/one.txt'", [], |row| row.get(0))
        .expect("a rowid table (a table without rowid has no rowid column)");
    assert_eq!(rows, 1, "the blob's row was copied once");
    let rows: i64 = conn
        .query_row("SELECT count(rowid) FROM documents WHERE collection = 'things'", [], |row| row.get(0))
        .expect("a rowid table (a table without rowid has no rowid column)");
    assert_eq!(rows, 1, "the document kept (the expired one purged) was copied once");
}
