//! [`DocumentStore`] on Azure Cosmos DB (NoSQL API) with `azure_data_cosmos`.
//!
//! One Cosmos DB container per collection, partition key path `/pk`. An item is
//! `{"id", "pk", "doc": <body>, "ttl"?, "expiresAt"?}`: the body stays apart from
//! the keys so that nothing in it can collide with Cosmos DB's own properties.
//!
//! Expiry: a document with a TTL gets Cosmos DB's per-item `ttl` (the service
//! deletes it) and `expiresAt` (unix seconds, millisecond precision), which the
//! adapter checks against its [`Clock`] on every read and query. So a document
//! is gone on time even before the service's background delete, or where the
//! emulator ignores `ttl`, and tests can move a `ManualClock`.
//!
//! Ordered queries sort by the field alone (`ORDER BY c.doc["f"]`, served by
//! the default range index, no composite index needed) and break ties by id in
//! the adapter; a page boundary that falls inside a run of equal values costs
//! one more query for that value.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::Secret;
use azure_core::http::Etag;
use azure_data_cosmos::clients::{ContainerClient, DatabaseClient};
use azure_data_cosmos::feed::FeedScope;
use azure_data_cosmos::models::{ContainerProperties, PartitionKeyDefinition, ResponseHeaders, TimeToLive};
use azure_data_cosmos::options::{
    BatchDeleteOptions, BatchReplaceOptions, BinaryEncodingOptions, ConnectionPoolOptions, ItemWriteOptions,
    MaxItemCountHint, Precondition, QueryOptions, ServerCertificateValidation,
};
use azure_data_cosmos::{
    AccountEndpoint, AccountReference, CosmosClient, CosmosClientBuilder, CosmosError, CosmosRuntime, RoutingStrategy,
    TransactionalBatch,
};
use futures::TryStreamExt as _;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::{AzureSettings, SharedClients};
use crate::clock::Clock;
use crate::document::{
    BatchOp, BatchResult, Cursor, Document, DocumentStore, ETag, NewDocument, Order, Page, Query, check_batch,
    check_key, lookup,
};
use crate::error::{StoreError, StoreResult};

/// Partitioned JSON documents in Cosmos DB containers.
pub struct CosmosDocumentStore {
    client: CosmosClient,
    database: DatabaseClient,
    database_name: String,
    containers: Mutex<HashMap<String, ContainerClient>>,
    clock: Arc<dyn Clock>,
    /// The emulator neither expires items nor runs batches atomically, so the
    /// adapter reads ahead and checks preconditions itself before writing.
    emulator: bool,
}

impl fmt::Debug for CosmosDocumentStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosmosDocumentStore")
            .field("endpoint", &self.client.endpoint().as_str())
            .field("database", &self.database_name)
            .field("emulator", &self.emulator)
            .finish_non_exhaustive()
    }
}

/// The stored item, as written.
#[derive(Serialize)]
struct ItemOut<'a> {
    id: &'a str,
    pk: &'a str,
    doc: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u64>,
    #[serde(rename = "expiresAt", skip_serializing_if = "Option::is_none")]
    expires_at: Option<f64>,
}

/// The stored item, as read back (system properties other than `_etag` ignored).
#[derive(Deserialize)]
struct ItemIn {
    id: String,
    pk: String,
    doc: Value,
    #[serde(default)]
    ttl: Option<u64>,
    #[serde(rename = "expiresAt", default)]
    expires_at: Option<f64>,
    #[serde(rename = "_etag")]
    etag: String,
}

impl ItemIn {
    fn live_at(&self, now: f64) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }

    fn into_document(self) -> Document {
        Document {
            partition: self.pk,
            id: self.id,
            body: self.doc,
            etag: ETag::new(self.etag),
            ttl: self.ttl.map(Duration::from_secs),
        }
    }
}

/// What the store held for an id before a write, as far as this adapter knows.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    Absent,
    /// Stored but past its `expiresAt`: logically gone.
    Expired(String),
    /// Live with this ETag.
    Live(String),
    /// Written earlier in the same batch; its new ETag is not known yet.
    Rewritten,
}

impl Slot {
    fn live(&self) -> bool {
        matches!(self, Self::Live(_) | Self::Rewritten)
    }

    fn matches(&self, if_match: &ETag) -> bool {
        matches!(self, Self::Live(etag) if etag == if_match.as_str())
    }
}

/// Applies the port's rules for one operation to what the store holds,
/// returning the operation to send (an upsert with `if_match` becomes a
/// replace; a create over an expired item replaces that item) and the new slot.
fn check_op(slot: &Slot, op: BatchOp) -> StoreResult<(BatchOp, Slot)> {
    match op {
        BatchOp::Create(doc) => match slot {
            Slot::Live(_) | Slot::Rewritten => Err(StoreError::Conflict),
            Slot::Expired(etag) => Ok((BatchOp::Replace { doc, if_match: ETag::new(etag.clone()) }, Slot::Rewritten)),
            Slot::Absent => Ok((BatchOp::Create(doc), Slot::Rewritten)),
        },
        BatchOp::Replace { doc, if_match } | BatchOp::Upsert { doc, if_match: Some(if_match) } => {
            if !slot.live() {
                Err(StoreError::NotFound)
            } else if !slot.matches(&if_match) {
                Err(StoreError::PreconditionFailed)
            } else {
                Ok((BatchOp::Replace { doc, if_match }, Slot::Rewritten))
            }
        }
        BatchOp::Upsert { doc, if_match: None } => Ok((BatchOp::Upsert { doc, if_match: None }, Slot::Rewritten)),
        BatchOp::Delete { id, if_match } => {
            if !slot.live() {
                Err(StoreError::NotFound)
            } else if if_match.as_ref().is_some_and(|etag| !slot.matches(etag)) {
                Err(StoreError::PreconditionFailed)
            } else {
                Ok((BatchOp::Delete { id, if_match }, Slot::Absent))
            }
        }
    }
}

fn op_id(op: &BatchOp) -> &str {
    match op {
        BatchOp::Create(doc) | BatchOp::Replace { doc, .. } | BatchOp::Upsert { doc, .. } => &doc.id,
        BatchOp::Delete { id, .. } => id,
    }
}

fn unix_seconds(at: OffsetDateTime) -> f64 {
    // Millisecond precision, as a JSON number Cosmos DB compares natively.
    (at.unix_timestamp_nanos() / 1_000_000) as f64 / 1000.0
}

fn etag_from(headers: &ResponseHeaders) -> StoreResult<ETag> {
    headers.etag().map(|etag| ETag::new(etag.to_string())).ok_or_else(|| StoreError::backend(MissingEtag))
}

#[derive(Debug, thiserror::Error)]
#[error("Cosmos DB returned no ETag for a write")]
struct MissingEtag;

#[derive(Debug, thiserror::Error)]
#[error("the Cosmos DB container '{0}' does not exist")]
struct MissingCollection(String);

/// Maps a Cosmos DB failure to a [`StoreError`].
fn cosmos_error(error: CosmosError) -> StoreError {
    let status = u16::from(error.status().status_code());
    let mapped = match status {
        404 => StoreError::NotFound,
        409 => StoreError::Conflict,
        412 => StoreError::PreconditionFailed,
        429 => StoreError::Throttled {
            retry_after: error.response().and_then(|r| r.headers().retry_after_ms).map(Duration::from_millis),
        },
        400 => {
            tracing::warn!(error = %error, "Cosmos DB rejected the request");
            StoreError::Invalid("Cosmos DB rejected the request".into())
        }
        408 | 410 | 449 | 500..=599 => StoreError::unavailable(error),
        _ => StoreError::backend(error),
    };
    crate::telemetry::record_error(&status.to_string(), &mapped);
    mapped
}

fn status_error(status: u16) -> StoreError {
    let mapped = match status {
        404 => StoreError::NotFound,
        409 => StoreError::Conflict,
        412 => StoreError::PreconditionFailed,
        429 => StoreError::Throttled { retry_after: None },
        400 => StoreError::Invalid("Cosmos DB rejected a batch operation".into()),
        _ => StoreError::backend(BatchOperationFailed(status)),
    };
    crate::telemetry::record_error(&status.to_string(), &mapped);
    mapped
}

#[derive(Debug, thiserror::Error)]
#[error("a batch operation failed with status {0}")]
struct BatchOperationFailed(u16);

fn is_status(error: &CosmosError, status: u16) -> bool {
    u16::from(error.status().status_code()) == status
}

/// `c.doc["a"]["b"]` for the validated field path `a.b`.
fn doc_path(field: &str) -> String {
    field.split('.').fold(String::from("c.doc"), |mut path, part| {
        path.push_str("[\"");
        path.push_str(part);
        path.push_str("\"]");
        path
    })
}

/// Cosmos DB's order of JSON values: null < booleans < numbers < strings.
fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(value: &Value) -> u8 {
        match value {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(f64::NAN).partial_cmp(&y.as_f64().unwrap_or(f64::NAN)).unwrap_or(Ordering::Equal)
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// A parameterised SQL query under construction.
#[derive(Debug, Default)]
struct Sql {
    text: String,
    params: Vec<(String, Value)>,
}

impl Sql {
    fn param(&mut self, value: Value) -> String {
        let name = format!("@p{}", self.params.len());
        self.params.push((name.clone(), value));
        name
    }

    fn into_query(self) -> StoreResult<azure_data_cosmos::Query> {
        self.params.into_iter().try_fold(azure_data_cosmos::Query::from(self.text), |query, (name, value)| {
            query.with_parameter(name, value).map_err(StoreError::backend)
        })
    }
}

/// The query for one page: filters, expiry, keyset position, and for ordered
/// queries either the whole ordering (`tie: None`) or only the documents whose
/// sort value equals `tie`, in id order.
fn page_sql(
    partition: &str,
    query: &Query,
    cursor: Option<&Cursor>,
    now: f64,
    tie: Option<&Value>,
) -> StoreResult<Sql> {
    let mut sql = Sql::default();
    let pk = sql.param(Value::from(partition));
    let now = sql.param(Value::from(now));
    sql.text = format!("SELECT * FROM c WHERE c.pk = {pk} AND (NOT IS_DEFINED(c.expiresAt) OR c.expiresAt > {now})");
    for filter in &query.filters {
        let value = sql.param(filter.value.clone());
        sql.text.push_str(&format!(" AND {} {} {value}", doc_path(&filter.field), filter.op.sql()));
    }
    let order = query.order_by.as_ref().map(|(field, _)| doc_path(field));
    let (cmp, dir) = match query.order_by.as_ref().map_or(Order::Ascending, |(_, order)| *order) {
        Order::Ascending => (">", "ASC"),
        Order::Descending => ("<", "DESC"),
    };
    if let Some(sort) = &order {
        // Documents without the sort field are not part of an ordered query.
        sql.text.push_str(&format!(" AND IS_DEFINED({sort}) AND NOT IS_NULL({sort})"));
    }
    if let Some(cursor) = cursor {
        let id = sql.param(Value::from(cursor.id.clone()));
        match (&order, &cursor.sort_value) {
            (Some(sort), Some(value)) if !value.is_null() => {
                let value = sql.param(value.clone());
                sql.text.push_str(&format!(" AND ({sort} {cmp} {value} OR ({sort} = {value} AND c.id {cmp} {id}))"));
            }
            (None, None) => sql.text.push_str(&format!(" AND c.id {cmp} {id}")),
            _ => {
                return Err(StoreError::Invalid("the continuation token belongs to another query".into()));
            }
        }
    }
    match (&order, tie) {
        (Some(sort), Some(tie)) => {
            let tie = sql.param(tie.clone());
            sql.text.push_str(&format!(" AND {sort} = {tie} ORDER BY c.id {dir}"));
        }
        (Some(sort), None) => sql.text.push_str(&format!(" ORDER BY {sort} {dir}")),
        (None, _) => sql.text.push_str(&format!(" ORDER BY c.id {dir}")),
    }
    Ok(sql)
}

impl CosmosDocumentStore {
    /// Connects to the account and database in `settings` (key auth if
    /// `cosmos_key` is set, else the configured Entra ID credential).
    pub async fn connect(settings: &AzureSettings, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        let shared = SharedClients::build(settings).await?;
        Self::connect_with(settings, &shared, clock).await
    }

    pub(crate) async fn connect_with(
        settings: &AzureSettings,
        shared: &SharedClients,
        clock: Arc<dyn Clock>,
    ) -> StoreResult<Self> {
        let endpoint: AccountEndpoint = settings
            .cosmos_endpoint
            .parse()
            .map_err(|_| StoreError::Invalid(format!("'{}' is not a Cosmos DB endpoint", settings.cosmos_endpoint)))?;
        let account = match &settings.cosmos_key {
            Some(key) => {
                AccountReference::with_authentication_key(endpoint, Secret::new(key.expose_secret().to_owned()))
            }
            None => AccountReference::with_credential(endpoint, shared.credential.clone()),
        };
        let routing = match &settings.cosmos_region {
            Some(region) => RoutingStrategy::ProximityTo(region.clone().into()),
            None => RoutingStrategy::PreferredRegions(Vec::new()),
        };
        let mut builder = CosmosClientBuilder::new();
        if settings.emulator {
            let pool = ConnectionPoolOptions::builder()
                .with_is_http2_allowed(false)
                .with_server_certificate_validation(ServerCertificateValidation::RequiredUnlessEmulator)
                .build()
                .map_err(StoreError::backend)?;
            let runtime =
                CosmosRuntime::builder().with_connection_pool(pool).build().await.map_err(StoreError::backend)?;
            builder = builder
                .with_runtime(runtime)
                .with_binary_encoding_options(BinaryEncodingOptions::new().with_enabled(false));
        }
        let client = builder.build(account, routing).await.map_err(cosmos_error)?;
        let database = client.database_client(&settings.cosmos_database);
        Ok(Self {
            client,
            database,
            database_name: settings.cosmos_database.clone(),
            containers: Mutex::new(HashMap::new()),
            clock,
            emulator: settings.emulator,
        })
    }

    /// Creates the database and one container per name (partition key `/pk`,
    /// per-item TTL on) where missing. For emulators and tests; in Azure the
    /// infrastructure templates create them.
    #[tracing::instrument(
        name = "store.ensure_collections",
        skip_all,
        fields(
            backend = "cosmos", count = names.len(),
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    pub async fn ensure_collections(&self, names: &[&str]) -> StoreResult<()> {
        match self.client.create_database(&self.database_name, None).await {
            Ok(_) => {}
            Err(error) if is_status(&error, 409) => {}
            Err(error) => return Err(cosmos_error(error)),
        }
        for name in names {
            check_key("collection", name)?;
            let properties = ContainerProperties::new((*name).to_owned(), PartitionKeyDefinition::from("/pk"))
                .with_default_ttl(TimeToLive::NoDefault);
            match self.database.create_container(properties, None).await {
                Ok(_) => {}
                Err(error) if is_status(&error, 409) => {}
                Err(error) => return Err(cosmos_error(error)),
            }
        }
        Ok(())
    }

    async fn container(&self, collection: &str) -> StoreResult<ContainerClient> {
        check_key("collection", collection)?;
        if let Some(client) = self.containers.lock().unwrap_or_else(|p| p.into_inner()).get(collection) {
            return Ok(client.clone());
        }
        let client = match self.database.container_client(collection, None).await {
            Ok(client) => client,
            // A missing container is a deployment fault, not a missing document.
            Err(error) if is_status(&error, 404) => {
                return Err(StoreError::backend(MissingCollection(collection.to_owned())));
            }
            Err(error) => return Err(cosmos_error(error)),
        };
        self.containers.lock().unwrap_or_else(|p| p.into_inner()).insert(collection.to_owned(), client.clone());
        Ok(client)
    }

    fn now(&self) -> f64 {
        unix_seconds(self.clock.now())
    }

    fn item_for<'a>(&self, doc: &'a NewDocument) -> ItemOut<'a> {
        let ttl = doc.ttl.map(|ttl| ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0));
        let expires_at = doc.ttl.map(|ttl| unix_seconds(self.clock.now() + ttl));
        ItemOut { id: &doc.id, pk: &doc.partition, doc: &doc.body, ttl, expires_at }
    }

    /// The stored item, expired or not.
    async fn read_item(&self, container: &ContainerClient, partition: &str, id: &str) -> StoreResult<Option<ItemIn>> {
        match container.read_item(partition.to_owned(), id, None).await {
            Ok(response) => response.into_model::<ItemIn>().map(Some).map_err(StoreError::backend),
            Err(error) if is_status(&error, 404) => Ok(None),
            Err(error) => Err(cosmos_error(error)),
        }
    }

    async fn slot(&self, container: &ContainerClient, partition: &str, id: &str) -> StoreResult<Slot> {
        let now = self.now();
        Ok(match self.read_item(container, partition, id).await? {
            None => Slot::Absent,
            Some(item) if item.live_at(now) => Slot::Live(item.etag),
            Some(item) => Slot::Expired(item.etag),
        })
    }

    /// With the emulator, checks the operations against what is stored (in
    /// order, each seeing the ones before) so that a batch that would fail
    /// writes nothing and expired items count as absent.
    async fn emulate_preconditions(
        &self,
        container: &ContainerClient,
        partition: &str,
        ops: Vec<BatchOp>,
    ) -> StoreResult<Vec<BatchOp>> {
        let mut slots: HashMap<String, Slot> = HashMap::new();
        let mut checked = Vec::with_capacity(ops.len());
        for op in ops {
            let id = op_id(&op).to_owned();
            let slot = match slots.get(&id) {
                Some(slot) => slot.clone(),
                None => self.slot(container, partition, &id).await?,
            };
            let (op, next) = check_op(&slot, op)?;
            slots.insert(id, next);
            checked.push(op);
        }
        Ok(checked)
    }

    async fn single(&self, collection: &str, partition: &str, op: BatchOp) -> StoreResult<Option<ETag>> {
        let container = self.container(collection).await?;
        let op = if self.emulator {
            check_op(&self.slot(&container, partition, op_id(&op)).await?, op)?.0
        } else {
            match op {
                BatchOp::Upsert { doc, if_match: Some(if_match) } => BatchOp::Replace { doc, if_match },
                op => op,
            }
        };
        let pk = partition.to_owned();
        let write = |precondition: Option<&ETag>| {
            let options = ItemWriteOptions::default();
            match precondition {
                Some(etag) => options.with_precondition(Precondition::if_match(Etag::from(etag.as_str()))),
                None => options,
            }
        };
        match op {
            BatchOp::Create(doc) => match container.create_item(pk.clone(), &doc.id, self.item_for(&doc), None).await {
                Ok(response) => etag_from(response.headers()).map(Some),
                Err(error) if is_status(&error, 409) => self.create_over_expired(&container, &doc).await.map(Some),
                Err(error) => Err(cosmos_error(error)),
            },
            BatchOp::Replace { doc, if_match } => container
                .replace_item(pk, &doc.id, self.item_for(&doc), Some(write(Some(&if_match))))
                .await
                .map_err(cosmos_error)
                .and_then(|response| etag_from(response.headers()))
                .map(Some),
            BatchOp::Upsert { doc, if_match } => container
                .upsert_item(pk, &doc.id, self.item_for(&doc), Some(write(if_match.as_ref())))
                .await
                .map_err(cosmos_error)
                .and_then(|response| etag_from(response.headers()))
                .map(Some),
            BatchOp::Delete { id, if_match } => {
                container.delete_item(pk, &id, Some(write(if_match.as_ref()))).await.map(|_| None).map_err(cosmos_error)
            }
        }
    }

    /// A create found the id taken. If the item there has expired (the
    /// service has not deleted it yet, or never will in the emulator), the
    /// create replaces exactly that version; anything else is a conflict.
    async fn create_over_expired(&self, container: &ContainerClient, doc: &NewDocument) -> StoreResult<ETag> {
        let Some(existing) = self.read_item(container, &doc.partition, &doc.id).await? else {
            return Err(StoreError::Conflict);
        };
        if existing.live_at(self.now()) {
            return Err(StoreError::Conflict);
        }
        let options = ItemWriteOptions::default().with_precondition(Precondition::if_match(Etag::from(existing.etag)));
        match container.replace_item(doc.partition.clone(), &doc.id, self.item_for(doc), Some(options)).await {
            Ok(response) => etag_from(response.headers()),
            Err(error) if is_status(&error, 404) || is_status(&error, 412) => Err(StoreError::Conflict),
            Err(error) => Err(cosmos_error(error)),
        }
    }

    /// Runs one query and returns up to `limit` live items in server order.
    async fn fetch(
        &self,
        container: &ContainerClient,
        partition: &str,
        sql: Sql,
        limit: u32,
    ) -> StoreResult<Vec<ItemIn>> {
        let max = std::num::NonZeroU32::new(limit).map_or(MaxItemCountHint::ServerDecides, MaxItemCountHint::Limit);
        let options = QueryOptions::default().with_max_item_count(max);
        let mut items = container
            .query_items::<ItemIn>(sql.into_query()?, FeedScope::partition(partition.to_owned()), Some(options))
            .await
            .map_err(cosmos_error)?;
        let now = self.now();
        let mut out = Vec::new();
        while out.len() < limit as usize {
            match items.try_next().await.map_err(cosmos_error)? {
                Some(item) if item.live_at(now) => out.push(item),
                Some(_) => {}
                None => break,
            }
        }
        Ok(out)
    }

    async fn run_batch(
        &self,
        container: &ContainerClient,
        partition: &str,
        ops: Vec<BatchOp>,
    ) -> StoreResult<BatchResult> {
        let mut batch = TransactionalBatch::new(partition.to_owned());
        let mut deletes = Vec::with_capacity(ops.len());
        for op in &ops {
            deletes.push(matches!(op, BatchOp::Delete { .. }));
            batch = match op {
                BatchOp::Create(doc) => batch.create_item(self.item_for(doc)),
                BatchOp::Replace { doc, if_match } | BatchOp::Upsert { doc, if_match: Some(if_match) } => {
                    let precondition = Precondition::if_match(Etag::from(if_match.as_str()));
                    batch.replace_item(
                        doc.id.clone(),
                        self.item_for(doc),
                        Some(BatchReplaceOptions::default().with_precondition(precondition)),
                    )
                }
                BatchOp::Upsert { doc, if_match: None } => batch.upsert_item(self.item_for(doc), None),
                BatchOp::Delete { id, if_match } => Ok(batch.delete_item(
                    id.clone(),
                    if_match.as_ref().map(|etag| {
                        BatchDeleteOptions::default()
                            .with_precondition(Precondition::if_match(Etag::from(etag.as_str())))
                    }),
                )),
            }
            .map_err(StoreError::backend)?;
        }
        let response = container.execute_transactional_batch(batch, None).await.map_err(cosmos_error)?;
        let results = response.into_model().map_err(StoreError::backend)?;
        let results = results.results();
        // Some gateways answer 207 Multi-Status: the failing operation has its
        // own status and every other one 424 Failed Dependency.
        if let Some(failed) = results.iter().find(|r| !r.is_success() && r.status_code() != 424) {
            return Err(status_error(failed.status_code()));
        }
        if results.len() != deletes.len() || results.iter().any(|r| !r.is_success()) {
            return Err(StoreError::backend(BatchOperationFailed(424)));
        }
        results
            .iter()
            .zip(deletes)
            .map(|(result, delete)| match (delete, result.etag()) {
                (true, _) => Ok(None),
                (false, Some(etag)) => Ok(Some(ETag::new(etag))),
                (false, None) => Err(StoreError::backend(MissingEtag)),
            })
            .collect()
    }
}

#[async_trait]
impl DocumentStore for CosmosDocumentStore {
    #[tracing::instrument(
        name = "store.get",
        skip_all,
        fields(
            backend = "cosmos", collection = %collection,
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn get(&self, collection: &str, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        check_key("partition", partition)?;
        check_key("id", id)?;
        let container = self.container(collection).await?;
        let now = self.now();
        Ok(self.read_item(&container, partition, id).await?.filter(|item| item.live_at(now)).map(ItemIn::into_document))
    }

    #[tracing::instrument(
        name = "store.create",
        skip_all,
        fields(
            backend = "cosmos", collection = %collection,
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn create(&self, collection: &str, doc: NewDocument) -> StoreResult<ETag> {
        doc.check()?;
        let partition = doc.partition.clone();
        self.single(collection, &partition, BatchOp::Create(doc)).await?.ok_or_else(|| StoreError::backend(MissingEtag))
    }

    #[tracing::instrument(
        name = "store.replace",
        skip_all,
        fields(
            backend = "cosmos", collection = %collection,
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn replace(&self, collection: &str, doc: NewDocument, if_match: &ETag) -> StoreResult<ETag> {
        doc.check()?;
        let partition = doc.partition.clone();
        self.single(collection, &partition, BatchOp::Replace { doc, if_match: if_match.clone() })
            .await?
            .ok_or_else(|| StoreError::backend(MissingEtag))
    }

    #[tracing::instrument(
        name = "store.upsert",
        skip_all,
        fields(
            backend = "cosmos", collection = %collection,
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn upsert(&self, collection: &str, doc: NewDocument, if_match: Option<&ETag>) -> StoreResult<ETag> {
        doc.check()?;
        let partition = doc.partition.clone();
        self.single(collection, &partition, BatchOp::Upsert { doc, if_match: if_match.cloned() })
            .await?
            .ok_or_else(|| StoreError::backend(MissingEtag))
    }

    #[tracing::instrument(
        name = "store.delete",
        skip_all,
        fields(
            backend = "cosmos", collection = %collection,
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn delete(&self, collection: &str, partition: &str, id: &str, if_match: Option<&ETag>) -> StoreResult<()> {
        check_key("partition", partition)?;
        let op = BatchOp::Delete { id: id.to_owned(), if_match: if_match.cloned() };
        op.check(partition)?;
        self.single(collection, partition, op).await.map(drop)
    }

    #[tracing::instrument(
        name = "store.query",
        skip_all,
        fields(
            backend = "cosmos", collection = %collection, items = tracing::field::Empty,
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn query(&self, collection: &str, partition: &str, query: Query) -> StoreResult<Page> {
        check_key("partition", partition)?;
        let cursor = query.check()?;
        let container = self.container(collection).await?;
        let page_size = query.page_size as usize;
        let order_field = query.order_by.as_ref().map(|(field, _)| field.as_str());
        let descending = matches!(query.order_by, Some((_, Order::Descending)));
        let now = self.now();

        let first = page_sql(partition, &query, cursor.as_ref(), now, None)?;
        let mut items = self.fetch(&container, partition, first, query.page_size + 1).await?;
        if let Some(field) = order_field {
            // The server orders by the field only. If the page ends inside a
            // run of equal values, fetch that run in id order.
            let boundary_tie = items.len() > page_size
                && lookup(&items[page_size - 1].doc, field) == lookup(&items[page_size].doc, field);
            if boundary_tie {
                let tie = lookup(&items[page_size - 1].doc, field).clone();
                items.retain(|item| lookup(&item.doc, field) != &tie);
                let wanted = u32::try_from(page_size + 1 - items.len()).unwrap_or(u32::MAX);
                let run = page_sql(partition, &query, cursor.as_ref(), now, Some(&tie))?;
                items.extend(self.fetch(&container, partition, run, wanted).await?);
            }
            items.sort_by(|a, b| {
                let order = compare_values(lookup(&a.doc, field), lookup(&b.doc, field)).then_with(|| a.id.cmp(&b.id));
                if descending { order.reverse() } else { order }
            });
        }
        let more = items.len() > page_size;
        let items: Vec<Document> = items.into_iter().take(page_size).map(ItemIn::into_document).collect();
        let continuation = if more { items.last().map(|last| Cursor::after(last, order_field).encode()) } else { None };
        tracing::Span::current().record("items", items.len());
        Ok(Page { items, continuation })
    }

    #[tracing::instrument(
        name = "store.batch",
        skip_all,
        fields(
            backend = "cosmos", collection = %collection, operations = ops.len(),
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn batch(&self, collection: &str, partition: &str, ops: Vec<BatchOp>) -> StoreResult<BatchResult> {
        check_batch(partition, &ops)?;
        let container = self.container(collection).await?;
        let ops = if self.emulator { self.emulate_preconditions(&container, partition, ops).await? } else { ops };
        self.run_batch(&container, partition, ops).await
    }

    /// Cosmos DB deletes expired items itself (per-item `ttl`).
    #[tracing::instrument(
        name = "store.purge_expired",
        skip_all,
        fields(
            backend = "cosmos",
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn purge_expired(&self) -> StoreResult<u64> {
        Ok(0)
    }

    #[tracing::instrument(
        name = "store.ping",
        skip_all,
        fields(
            backend = "cosmos",
            otel.kind = "client",
            dependency.type = "Azure DocumentDB",
            db.namespace = %self.database_name,
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn ping(&self) -> StoreResult<()> {
        self.database.read(None).await.map(drop).map_err(cosmos_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::FilterOp;
    use serde_json::json;

    fn doc(id: &str) -> NewDocument {
        NewDocument::new("p", id, json!({}))
    }

    #[test]
    fn field_paths_become_bracketed_property_access() {
        assert_eq!(doc_path("status"), r#"c.doc["status"]"#);
        assert_eq!(doc_path("envelope.sender"), r#"c.doc["envelope"]["sender"]"#);
    }

    #[test]
    fn page_queries_are_parameterised() {
        let query = Query::default().filter("meta.n", FilterOp::Ge, 3).order_by("rank", Order::Descending);
        let cursor = Cursor { sort_value: Some(json!(2)), id: "d07".into() };
        let sql = page_sql("p1", &query, Some(&cursor), 1.5, None).expect("sql");
        assert_eq!(
            sql.text,
            r#"SELECT * FROM c WHERE c.pk = @p0 AND (NOT IS_DEFINED(c.expiresAt) OR c.expiresAt > @p1) AND c.doc["meta"]["n"] >= @p2 AND IS_DEFINED(c.doc["rank"]) AND NOT IS_NULL(c.doc["rank"]) AND (c.doc["rank"] < @p4 OR (c.doc["rank"] = @p4 AND c.id < @p3)) ORDER BY c.doc["rank"] DESC"#
        );
        let values: Vec<_> = sql.params.iter().map(|(_, v)| v.clone()).collect();
        assert_eq!(values, [json!("p1"), json!(1.5), json!(3), json!("d07"), json!(2)]);

        let tie = page_sql("p1", &query, None, 1.5, Some(&json!(2))).expect("sql");
        assert!(tie.text.ends_with(r#"AND c.doc["rank"] = @p3 ORDER BY c.id DESC"#), "{}", tie.text);

        let plain = page_sql("p1", &Query::default(), Some(&Cursor { sort_value: None, id: "x".into() }), 0.0, None)
            .expect("sql");
        assert!(plain.text.ends_with("AND c.id > @p2 ORDER BY c.id ASC"), "{}", plain.text);
        let foreign = page_sql("p1", &Query::default(), Some(&cursor), 0.0, None);
        assert!(matches!(foreign, Err(StoreError::Invalid(_))));
    }

    #[test]
    fn values_order_like_cosmos() {
        assert_eq!(compare_values(&json!(2), &json!(10)), Ordering::Less);
        assert_eq!(compare_values(&json!("b"), &json!("a")), Ordering::Greater);
        assert_eq!(compare_values(&json!(true), &json!(1)), Ordering::Less);
        assert_eq!(compare_values(&json!(1.0), &json!(1)), Ordering::Equal);
    }

    #[test]
    fn preconditions_follow_the_port() {
        let live = Slot::Live("e1".into());
        let e1 = ETag::new("e1");
        let e2 = ETag::new("e2");
        assert!(matches!(check_op(&live, BatchOp::Create(doc("a"))), Err(StoreError::Conflict)));
        assert!(matches!(
            check_op(&Slot::Expired("old".into()), BatchOp::Create(doc("a"))),
            Ok((BatchOp::Replace { if_match, .. }, Slot::Rewritten)) if if_match.as_str() == "old"
        ));
        assert!(matches!(
            check_op(&Slot::Absent, BatchOp::Replace { doc: doc("a"), if_match: e1.clone() }),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            check_op(&live, BatchOp::Replace { doc: doc("a"), if_match: e2.clone() }),
            Err(StoreError::PreconditionFailed)
        ));
        assert!(matches!(
            check_op(&live, BatchOp::Upsert { doc: doc("a"), if_match: Some(e1.clone()) }),
            Ok((BatchOp::Replace { .. }, Slot::Rewritten))
        ));
        assert!(matches!(
            check_op(&Slot::Expired("e1".into()), BatchOp::Upsert { doc: doc("a"), if_match: Some(e1.clone()) }),
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            check_op(&Slot::Rewritten, BatchOp::Delete { id: "a".into(), if_match: None }),
            Ok((BatchOp::Delete { .. }, Slot::Absent))
        ));
        assert!(matches!(
            check_op(&Slot::Rewritten, BatchOp::Delete { id: "a".into(), if_match: Some(e1) }),
            Err(StoreError::PreconditionFailed)
        ));
        assert!(matches!(
            check_op(&Slot::Expired("x".into()), BatchOp::Delete { id: "a".into(), if_match: None }),
            Err(StoreError::NotFound)
        ));
    }
}
