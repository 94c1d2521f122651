use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{StoreError, StoreResult};

/// An opaque version tag. Every write produces a new one; conditional writes
/// compare it (`If-Match`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ETag(String);

impl ETag {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored document: its body plus the system properties the store keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub partition: String,
    pub id: String,
    pub body: Value,
    pub etag: ETag,
    /// Time to live from the last write, if any.
    pub ttl: Option<Duration>,
}

/// A document to write. The body must be a JSON object; `id` and `partition`
/// are kept beside it, not inside it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    pub partition: String,
    pub id: String,
    pub body: Value,
    pub ttl: Option<Duration>,
}

impl NewDocument {
    pub fn new(partition: impl Into<String>, id: impl Into<String>, body: Value) -> Self {
        Self { partition: partition.into(), id: id.into(), body, ttl: None }
    }

    /// Expire the document this long after the write.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    pub(crate) fn check(&self) -> StoreResult<()> {
        check_key("partition", &self.partition)?;
        check_key("id", &self.id)?;
        if !self.body.is_object() {
            return Err(StoreError::Invalid("a document body must be a JSON object".into()));
        }
        if let Some(ttl) = self.ttl
            && ttl.as_secs() == 0
        {
            return Err(StoreError::Invalid("a TTL must be at least one second".into()));
        }
        Ok(())
    }
}

/// Ids and partition keys: 1–255 characters, none of `/ \ ? #` (Cosmos DB's rules,
/// applied everywhere so that local data always fits in Azure).
pub(crate) fn check_key(what: &str, value: &str) -> StoreResult<()> {
    if value.is_empty()
        || value.len() > 255
        || value.contains(['/', '\\', '?', '#'])
        || value.chars().any(char::is_control)
    {
        return Err(StoreError::Invalid(format!(
            "{what} must be 1-255 characters without '/', '\\', '?', '#' or control characters"
        )));
    }
    Ok(())
}

/// A comparison in a query. Fields are top-level or dotted paths into the body
/// (`status`, `envelope.sender`), letters, digits and `_` only.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub field: String,
    pub op: FilterOp,
    pub value: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl FilterOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// A query within one partition. Results are ordered by `order_by` (then by id,
/// so that the order is total) or by id alone, and come back in pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filters: Vec<Filter>,
    pub order_by: Option<(String, Order)>,
    pub page_size: u32,
    /// The token from the previous page, if any.
    pub continuation: Option<String>,
}

impl Default for Query {
    fn default() -> Self {
        Self { filters: Vec::new(), order_by: None, page_size: 50, continuation: None }
    }
}

impl Query {
    pub const MAX_PAGE_SIZE: u32 = 1000;

    #[must_use]
    pub fn filter(mut self, field: impl Into<String>, op: FilterOp, value: impl Into<Value>) -> Self {
        self.filters.push(Filter { field: field.into(), op, value: value.into() });
        self
    }

    #[must_use]
    pub fn order_by(mut self, field: impl Into<String>, order: Order) -> Self {
        self.order_by = Some((field.into(), order));
        self
    }

    #[must_use]
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    #[must_use]
    pub fn after(mut self, continuation: Option<String>) -> Self {
        self.continuation = continuation;
        self
    }

    /// Checks field names and page size; decodes the continuation token.
    pub(crate) fn check(&self) -> StoreResult<Option<Cursor>> {
        for filter in &self.filters {
            check_field(&filter.field)?;
            if !(filter.value.is_string() || filter.value.is_number() || filter.value.is_boolean()) {
                return Err(StoreError::Invalid(format!(
                    "filter on '{}' must compare with a string, number or boolean",
                    filter.field
                )));
            }
        }
        if let Some((field, _)) = &self.order_by {
            check_field(field)?;
        }
        if self.page_size == 0 || self.page_size > Self::MAX_PAGE_SIZE {
            return Err(StoreError::Invalid(format!("page size must be 1-{}", Self::MAX_PAGE_SIZE)));
        }
        self.continuation.as_deref().map(Cursor::decode).transpose()
    }
}

/// Field paths: dot-separated identifiers. Checked before they reach any query
/// language, so they can never inject anything.
pub(crate) fn check_field(field: &str) -> StoreResult<()> {
    let ok = !field.is_empty()
        && field.len() <= 128
        && field.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !part.starts_with(|c: char| c.is_ascii_digit())
        });
    if ok { Ok(()) } else { Err(StoreError::Invalid(format!("'{field}' is not a valid field path"))) }
}

/// Keyset position after the last item of a page: the sort value and the id.
/// Backend-neutral, so a token means the same thing in SQLite and Cosmos DB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub sort_value: Option<Value>,
    #[serde(rename = "i")]
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(token: &str) -> StoreResult<Self> {
        use base64::Engine as _;
        let invalid = || StoreError::Invalid("the continuation token is not one this store issued".into());
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }

    /// The cursor after `doc` for a query ordered by `order_by`.
    pub fn after(doc: &Document, order_by: Option<&str>) -> Self {
        Self { sort_value: order_by.map(|field| lookup(&doc.body, field).clone()), id: doc.id.clone() }
    }

    /// [`after`](Self::after) for a document read as text: its body is
    /// parsed only when the query is ordered by one of its fields.
    pub fn after_text(doc: &TextDocument, order_by: Option<&str>) -> StoreResult<Self> {
        Self::after_body(&doc.id, &doc.body, order_by)
    }

    /// [`after_text`](Self::after_text) of a document's id and body text.
    pub fn after_body(id: &str, body: &str, order_by: Option<&str>) -> StoreResult<Self> {
        let sort_value = match order_by {
            Some(field) => {
                let body: Value = serde_json::from_str(body).map_err(StoreError::backend)?;
                Some(lookup(&body, field).clone())
            }
            None => None,
        };
        Ok(Self { sort_value, id: id.to_owned() })
    }
}

/// The value at a dotted path, or `null`.
pub(crate) fn lookup<'v>(body: &'v Value, path: &str) -> &'v Value {
    path.split('.').try_fold(body, |value, part| value.get(part)).unwrap_or(&Value::Null)
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Document>,
    /// Present when more items may follow.
    pub continuation: Option<String>,
}

/// A document whose body is the JSON text the store holds, for a caller that
/// decodes it into its own type: a hot read then builds no
/// `serde_json::Value` tree only to convert it again (issue 18).
#[derive(Debug, Clone, PartialEq)]
pub struct TextDocument {
    pub partition: String,
    pub id: String,
    /// A JSON object.
    pub body: String,
    pub etag: ETag,
    pub ttl: Option<Duration>,
}

impl TextDocument {
    /// The body decoded into `T`; a body that does not fit is
    /// [`StoreError::Invalid`] naming the document.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> StoreResult<T> {
        serde_json::from_str(&self.body).map_err(|e| StoreError::Invalid(format!("document {}: {e}", self.id)))
    }
}

impl From<Document> for TextDocument {
    fn from(doc: Document) -> Self {
        Self { partition: doc.partition, id: doc.id, body: doc.body.to_string(), etag: doc.etag, ttl: doc.ttl }
    }
}

/// A [`Page`] of [`TextDocument`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct TextPage {
    pub items: Vec<TextDocument>,
    /// Present when more items may follow.
    pub continuation: Option<String>,
}

/// One operation of a transactional batch.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOp {
    Create(NewDocument),
    Replace { doc: NewDocument, if_match: ETag },
    Upsert { doc: NewDocument, if_match: Option<ETag> },
    Delete { id: String, if_match: Option<ETag> },
}

impl BatchOp {
    pub(crate) fn check(&self, partition: &str) -> StoreResult<()> {
        match self {
            Self::Create(doc) | Self::Replace { doc, .. } | Self::Upsert { doc, .. } => {
                doc.check()?;
                if doc.partition != partition {
                    return Err(StoreError::Invalid(
                        "every operation of a batch must be in the batch's partition".into(),
                    ));
                }
                Ok(())
            }
            Self::Delete { id, .. } => check_key("id", id),
        }
    }
}

/// The new ETag of each operation in order (`None` for deletes).
pub type BatchResult = Vec<Option<ETag>>;

/// The most operations one batch may hold (Cosmos DB's limit).
pub const MAX_BATCH_OPERATIONS: usize = 100;

/// Partitioned JSON documents. Every operation names a collection (a Cosmos DB
/// container) and stays inside one partition.
#[async_trait]
pub trait DocumentStore: Send + Sync + fmt::Debug {
    /// The document, or `None` if it does not exist or has expired.
    async fn get(&self, collection: &str, partition: &str, id: &str) -> StoreResult<Option<Document>>;

    /// Writes a new document; [`StoreError::Conflict`] if the id is taken.
    async fn create(&self, collection: &str, doc: NewDocument) -> StoreResult<ETag>;

    /// Replaces an existing document if its ETag still matches.
    async fn replace(&self, collection: &str, doc: NewDocument, if_match: &ETag) -> StoreResult<ETag>;

    /// Creates or replaces; with `if_match`, only replaces that version.
    async fn upsert(&self, collection: &str, doc: NewDocument, if_match: Option<&ETag>) -> StoreResult<ETag>;

    /// Deletes a document; [`StoreError::NotFound`] if there is none.
    async fn delete(&self, collection: &str, partition: &str, id: &str, if_match: Option<&ETag>) -> StoreResult<()>;

    /// One page of the documents of a partition that pass every filter.
    async fn query(&self, collection: &str, partition: &str, query: Query) -> StoreResult<Page>;

    /// [`query`](Self::query) with each body left as its JSON text, for a
    /// caller that decodes it into its own type ([`TextDocument::decode`]).
    /// The same documents, order and continuation; a backend that reads
    /// text overrides it to skip the `Value` tree.
    async fn query_text(&self, collection: &str, partition: &str, query: Query) -> StoreResult<TextPage> {
        let page = self.query(collection, partition, query).await?;
        Ok(TextPage {
            items: page.items.into_iter().map(TextDocument::from).collect(),
            continuation: page.continuation,
        })
    }

    /// [`query_text`](Self::query_text) without keeping the page: each
    /// document is handed to `each` as it is read (its id and its body's JSON
    /// text, borrowed), and the continuation is returned. For a caller that
    /// decodes every body into its own type at once: the embedded store then
    /// copies no body, key or ETag out of SQLite's row (issue 18). An error
    /// from `each` stops the page and is returned as it is.
    async fn query_each(
        &self,
        collection: &str,
        partition: &str,
        query: Query,
        each: &mut (dyn for<'t> FnMut(&'t str, &'t str) -> StoreResult<()> + Send),
    ) -> StoreResult<Option<String>> {
        let page = self.query_text(collection, partition, query).await?;
        for doc in &page.items {
            each(&doc.id, &doc.body)?;
        }
        Ok(page.continuation)
    }

    /// Declares that queries of `collection` without an order filter on these
    /// field paths (as [`Query::filter`] names them). A hint for speed, never
    /// needed for the right answer: the embedded store keeps the fields in an
    /// index of the collection, so such a query reads them from there instead
    /// of parsing every document it passes; Cosmos DB indexes every path
    /// already (its indexing policy in `bicep/`), so there it does nothing.
    async fn index_filters(&self, collection: &str, fields: &[&str]) -> StoreResult<()> {
        let _ = (collection, fields);
        Ok(())
    }

    /// Runs every operation or none, within one partition.
    async fn batch(&self, collection: &str, partition: &str, ops: Vec<BatchOp>) -> StoreResult<BatchResult>;

    /// Removes documents whose TTL has passed. Backends that expire documents
    /// themselves (Cosmos DB) return 0.
    async fn purge_expired(&self) -> StoreResult<u64>;

    /// A cheap round trip that proves the store answers.
    async fn ping(&self) -> StoreResult<()>;
}

pub(crate) fn check_batch(partition: &str, ops: &[BatchOp]) -> StoreResult<()> {
    check_key("partition", partition)?;
    if ops.is_empty() || ops.len() > MAX_BATCH_OPERATIONS {
        return Err(StoreError::Invalid(format!("a batch holds 1-{MAX_BATCH_OPERATIONS} operations")));
    }
    ops.iter().try_for_each(|op| op.check(partition))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_reject_anything_but_identifiers() {
        for good in ["status", "envelope.sender", "a_1.b2"] {
            assert!(check_field(good).is_ok(), "{good}");
        }
        for bad in ["", "a..b", "a b", "x'--", "1abc", "a.\"b\"", "c.doc[0]"] {
            assert!(check_field(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn continuation_tokens_round_trip_and_reject_garbage() {
        let cursor = Cursor { sort_value: Some(Value::from(42)), id: "doc-1".into() };
        assert_eq!(Cursor::decode(&cursor.encode()).ok(), Some(cursor));
        assert!(matches!(Cursor::decode("not a token!"), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn keys_follow_cosmos_rules() {
        assert!(check_key("id", "ok-id_1").is_ok());
        assert!(check_key("id", "").is_err());
        assert!(check_key("id", "a/b").is_err());
        assert!(check_key("id", &"x".repeat(256)).is_err());
    }
}
