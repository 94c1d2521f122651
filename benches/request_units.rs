//! Cosmos DB request units of the main endpoints, counted rather than guessed:
//! the whole app answers in process over the embedded store wrapped in a meter
//! that records every document operation a request makes (kind, collection,
//! item size, items a query returned). The request units per operation then
//! come from Microsoft's published table ("Understand request unit
//! consumption", learn.microsoft.com/azure/cosmos-db/understand-request-unit-consumption:
//! a point read of 1 KB is 1.00 RU, a write of 1 KB 4.95 RU, 2 KB 6.29 RU,
//! 4 KB 6.67, 8 KB 7.04, 16 KB 9.52, 32 KB 11.23, session consistency, default
//! indexing). What that table does not give is labelled as our assumption in
//! the output: a delete costs a write of the item's size; a single-partition
//! query costs 2.5 RU plus a read's cost per KB it returns; a transactional
//! batch costs the sum of its operations.
//!
//! `cargo bench --bench request_units` prints, per endpoint, the operations and
//! the request units, and the load at the seed's peak (800 requests a second of
//! the mix below) against the autoscale ceiling in `bicep/main.bicep`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use portal::app::{self, Services, Stores};
use portal_config::Settings;
use portal_store::embedded::EmbeddedStore;
use portal_store::{
    BatchOp, BatchResult, Document, DocumentStore, ETag, NewDocument, Page, Query, StoreResult, SystemClock,
};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// One document operation as Cosmos DB would bill it.
#[derive(Debug, Clone)]
struct Metered {
    kind: &'static str,
    collection: String,
    /// Bytes of the item written or read (for a query: of all items returned).
    bytes: usize,
    items: usize,
}

#[derive(Debug)]
struct Meter {
    inner: Arc<dyn DocumentStore>,
    log: Mutex<Vec<Metered>>,
}

impl Meter {
    fn record(&self, kind: &'static str, collection: &str, bytes: usize, items: usize) {
        let entry = Metered { kind, collection: collection.to_owned(), bytes, items };
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(entry);
    }

    fn take(&self) -> Vec<Metered> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

fn size(body: &Value) -> usize {
    serde_json::to_vec(body).map_or(0, |bytes| bytes.len())
}

#[async_trait]
impl DocumentStore for Meter {
    async fn get(&self, collection: &str, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        let found = self.inner.get(collection, partition, id).await?;
        self.record("read", collection, found.as_ref().map_or(0, |doc| size(&doc.body)), 1);
        Ok(found)
    }
    async fn create(&self, collection: &str, doc: NewDocument) -> StoreResult<ETag> {
        self.record("write", collection, size(&doc.body), 1);
        self.inner.create(collection, doc).await
    }
    async fn replace(&self, collection: &str, doc: NewDocument, if_match: &ETag) -> StoreResult<ETag> {
        self.record("write", collection, size(&doc.body), 1);
        self.inner.replace(collection, doc, if_match).await
    }
    async fn upsert(&self, collection: &str, doc: NewDocument, if_match: Option<&ETag>) -> StoreResult<ETag> {
        self.record("write", collection, size(&doc.body), 1);
        self.inner.upsert(collection, doc, if_match).await
    }
    async fn delete(&self, collection: &str, partition: &str, id: &str, if_match: Option<&ETag>) -> StoreResult<()> {
        let bytes = self.inner.get(collection, partition, id).await?.map_or(0, |doc| size(&doc.body));
        self.record("delete", collection, bytes, 1);
        self.inner.delete(collection, partition, id, if_match).await
    }
    async fn query(&self, collection: &str, partition: &str, query: Query) -> StoreResult<Page> {
        let page = self.inner.query(collection, partition, query).await?;
        self.record("query", collection, page.items.iter().map(|doc| size(&doc.body)).sum(), page.items.len());
        Ok(page)
    }
    async fn batch(&self, collection: &str, partition: &str, ops: Vec<BatchOp>) -> StoreResult<BatchResult> {
        let bytes: usize = ops
            .iter()
            .map(|op| match op {
                BatchOp::Create(doc) | BatchOp::Replace { doc, .. } | BatchOp::Upsert { doc, .. } => size(&doc.body),
                BatchOp::Delete { .. } => 0,
            })
            .sum();
        self.record("batch", collection, bytes, ops.len());
        self.inner.batch(collection, partition, ops).await
    }
    async fn purge_expired(&self) -> StoreResult<u64> {
        self.inner.purge_expired().await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
}

/// Microsoft's table: (KB, read RU, write RU).
const TABLE: &[(f64, f64, f64)] = &[
    (1.0, 1.00, 4.95),
    (2.0, 1.04, 6.29),
    (4.0, 1.14, 6.67),
    (8.0, 1.33, 7.04),
    (16.0, 1.67, 9.52),
    (32.0, 2.19, 11.23),
    (64.0, 4.76, 22.67),
];

/// The table's figure for the first size at or above `bytes`.
fn from_table(bytes: usize, write: bool) -> f64 {
    let kb = bytes as f64 / 1024.0;
    let row = TABLE.iter().find(|(size, _, _)| kb <= *size).unwrap_or(&TABLE[TABLE.len() - 1]);
    if write { row.2 } else { row.1 }
}

/// Our assumption for a single-partition query (see the module comment).
const QUERY_BASE_RU: f64 = 2.5;

fn request_units(op: &Metered) -> f64 {
    match op.kind {
        "read" => from_table(op.bytes, false),
        "write" | "delete" => from_table(op.bytes, true),
        "query" => QUERY_BASE_RU + op.bytes.div_ceil(1024) as f64 * from_table(1024, false),
        // Each operation of a batch as a write of the batch's average size.
        _ => op.items as f64 * from_table(op.bytes / op.items.max(1), true),
    }
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

struct Browser {
    cookie: String,
    csrf: String,
}

impl Browser {
    fn get(&self, path: &str) -> Request<Body> {
        Request::get(path).header(header::COOKIE, &self.cookie).body(Body::empty()).expect("request")
    }

    fn write(&self, method: Method, path: &str, body: Value) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    }
}

async fn log_in(router: &Router, citizen: &str) -> Browser {
    let form = format!("citizen={citizen}&loa=substantial&returnTo=%2F");
    let request = Request::post("/api/auth/dev/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .expect("request");
    let (status, headers, _) = send(router, request).await;
    assert!(status.is_redirection(), "the development login redirects: {status}");
    let cookie = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-portal_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let request = Request::get("/api/auth/session").header(header::COOKIE, &cookie).body(Body::empty()).expect("req");
    let (_, _, session) = send(router, request).await;
    Browser { cookie, csrf: session["csrfToken"].as_str().expect("csrf token").to_owned() }
}

struct Report {
    rows: Vec<(String, Vec<Metered>)>,
}

impl Report {
    fn add(&mut self, name: &str, ops: Vec<Metered>) -> f64 {
        let total = ops.iter().map(request_units).sum();
        self.rows.push((name.to_owned(), ops));
        total
    }

    fn print(&self) {
        println!("| endpoint | document operations (collection: kind × count, bytes) | RU |");
        println!("|---|---|---:|");
        for (name, ops) in &self.rows {
            let mut grouped: BTreeMap<(String, &str), (usize, usize)> = BTreeMap::new();
            for op in ops {
                let entry = grouped.entry((op.collection.clone(), op.kind)).or_default();
                entry.0 += 1;
                entry.1 += op.bytes;
            }
            let detail: Vec<String> = grouped
                .iter()
                .map(|((collection, kind), (count, bytes))| format!("{collection}: {kind} ×{count} ({bytes} B)"))
                .collect();
            let total: f64 = ops.iter().map(request_units).sum();
            println!("| {name} | {} | {total:.1} |", detail.join("; "));
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let clock = Arc::new(SystemClock);
    let embedded: Arc<dyn DocumentStore> = Arc::new(EmbeddedStore::in_memory(clock.clone()).expect("store"));
    let meter = Arc::new(Meter { inner: embedded.clone(), log: Mutex::new(Vec::new()) });
    let mut stores = Stores::embedded(EmbeddedStore::in_memory(clock.clone()).expect("store"), clock);
    stores.documents = meter.clone();
    let mut settings = Settings::from_lookup(|_| None).expect("defaults");
    settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
    let services = Services::with_stores(stores, &settings).await.expect("services");
    let router = app::app(&services, &settings, None).expect("app").router();
    let mut report = Report { rows: Vec::new() };

    let jana = log_in(&router, "jana").await;
    report.add("login (development provider, first of the day)", meter.take());

    for day in 1..=20 {
        let event = json!({"title": format!("Termín {day}"), "date": format!("2027-01-{day:02}")});
        let (status, _, body) = send(&router, jana.write(Method::POST, "/api/calendar/events", event)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let create = meter.take();
    let per_event: Vec<Metered> = create.iter().take(create.len() / 20).cloned().collect();
    let create_ru = report.add("POST /api/calendar/events (one of 20)", per_event);

    // The first page read warms the key and session caches; the second is what
    // a citizen's every later page costs.
    let (status, _, _) = send(&router, jana.get("/api/calendar/events")).await;
    assert_eq!(status, StatusCode::OK);
    report.add("GET /api/calendar/events (first read: keys and session not cached)", meter.take());
    let (status, _, page) = send(&router, jana.get("/api/calendar/events")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let page_ops = meter.take();
    let (log_ops, read_ops): (Vec<Metered>, Vec<Metered>) =
        page_ops.into_iter().partition(|op| op.collection == "access-log");
    let page_ru = report.add("GET /api/calendar/events (page of 20 sealed events, warm)", read_ops);
    let log_ru = report.add("  … its access-log entry", log_ops);

    let (status, _, _) = send(&router, jana.get("/api/documents")).await;
    assert_eq!(status, StatusCode::OK);
    meter.take();
    let (status, _, _) = send(&router, jana.get("/api/databox/messages")).await;
    assert!(status.is_success());
    let databox_ru = report.add("GET /api/databox/messages (warm)", meter.take());

    report.print();
    let mix = 0.8 * (page_ru + log_ru) + 0.15 * databox_ru + 0.05 * create_ru;
    println!();
    println!(
        "model: a single-partition query = {QUERY_BASE_RU} RU + 1 RU per KB returned; delete = write (our assumptions)"
    );
    println!(
        "peak mix (80 % page reads with their log entry, 15 % data-box listings, 5 % event writes): {mix:.1} RU a request, \
         {:.0} RU/s at 800 requests a second",
        mix * 800.0
    );
}
