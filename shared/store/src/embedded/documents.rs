use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::Value;

use super::filter_index::{FilterIndex, drop_sql};
use super::writer::Undo;
use super::{EmbeddedStore, new_etag, sql_error};
use crate::document::{
    BatchOp, BatchResult, Cursor, Document, DocumentStore, ETag, NewDocument, Order, Page, Query, TextDocument,
    TextPage, check_batch, check_field, check_key,
};
use crate::error::{StoreError, StoreResult};

/// Column list shared by every SELECT, in the order `row_to_document` reads it.
macro_rules! columns {
    () => {
        "pk, id, body, etag, ttl_ms"
    };
}
const COLUMNS: &str = columns!();

const GET: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM documents WHERE collection = ?1 AND pk = ?2 AND id = ?3
     AND (expires_at_ms IS NULL OR expires_at_ms > ?4)"
);

/// A stored row as read: partition, id, body (JSON text), ETag, TTL in milliseconds.
type StoredRow = (String, String, String, String, Option<i64>);

fn row_to_document(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
}

fn ttl_of(ttl_ms: Option<i64>) -> Option<Duration> {
    ttl_ms.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
}

fn into_text_document((partition, id, body, etag, ttl_ms): StoredRow) -> TextDocument {
    TextDocument { partition, id, body, etag: ETag::new(etag), ttl: ttl_of(ttl_ms) }
}

fn into_document((partition, id, body, etag, ttl_ms): StoredRow) -> StoreResult<Document> {
    Ok(Document {
        partition,
        id,
        body: serde_json::from_str(&body).map_err(StoreError::backend)?,
        etag: ETag::new(etag),
        ttl: ttl_of(ttl_ms),
    })
}

/// SQL value for a JSON scalar, as `json_extract` returns it.
fn sql_value(value: &Value) -> SqlValue {
    match value {
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => {
            n.as_i64().map_or_else(|| SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)), SqlValue::Integer)
        }
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Null | Value::Array(_) | Value::Object(_) => SqlValue::Null,
    }
}

/// `json_extract` of a validated field path (as filters, orders and filter
/// indexes write it: an index serves a filter only if both spell it alike).
pub(super) fn extract(field: &str) -> String {
    let mut sql = String::new();
    push_extract(&mut sql, field);
    sql
}

/// Appends [`extract`] of `field` to `sql`.
fn push_extract(sql: &mut String, field: &str) {
    sql.push_str("json_extract(body, '$.");
    sql.push_str(field);
    sql.push_str("')");
}

/// The SELECT of a query page and its arguments: through `index` when one
/// serves the query ([`FilterIndex`]), through the primary key otherwise.
fn select(
    collection: &str,
    partition: &str,
    query: &Query,
    cursor: Option<&Cursor>,
    index: Option<&FilterIndex>,
    now: i64,
) -> StoreResult<(String, Vec<SqlValue>)> {
    // Built in one buffer: a page's query is made on every request.
    let mut sql = String::with_capacity(512);
    let mut args = Vec::with_capacity(3 + query.filters.len());
    sql.push_str("SELECT ");
    sql.push_str(COLUMNS);
    match index {
        Some(index) => {
            sql.push_str(" FROM ");
            index.push_source_sql(&mut sql);
            sql.push_str(" AND");
        }
        None => {
            sql.push_str(" FROM documents WHERE collection = ? AND");
            args.push(collection.to_owned().into());
        }
    }
    sql.push_str(" pk = ? AND (expires_at_ms IS NULL OR expires_at_ms > ?)");
    args.extend([partition.to_owned().into(), now.into()]);
    for filter in &query.filters {
        sql.push_str(" AND ");
        push_extract(&mut sql, &filter.field);
        sql.push(' ');
        sql.push_str(filter.op.sql());
        sql.push_str(" ?");
        args.push(sql_value(&filter.value));
    }
    let (sort, direction) = match &query.order_by {
        Some((field, order)) => (Some(extract(field)), *order),
        None => (None, Order::Ascending),
    };
    let (cmp, dir) = match direction {
        Order::Ascending => (">", "ASC"),
        Order::Descending => ("<", "DESC"),
    };
    if let Some(sort) = &sort {
        // Documents without the sort field are not part of an ordered query
        // (as in Cosmos DB without a composite index on it).
        sql.push_str(&format!(" AND {sort} IS NOT NULL"));
    }
    if let Some(cursor) = cursor {
        match (&sort, &cursor.sort_value) {
            (Some(sort), Some(value)) => {
                sql.push_str(&format!(" AND ({sort} {cmp} ? OR ({sort} = ? AND id {cmp} ?))"));
                args.extend([sql_value(value), sql_value(value), cursor.id.clone().into()]);
            }
            (None, None) => {
                sql.push_str(&format!(" AND id {cmp} ?"));
                args.push(cursor.id.clone().into());
            }
            _ => return Err(StoreError::Invalid("the continuation token belongs to another query".into())),
        }
    }
    match &sort {
        Some(sort) => sql.push_str(&format!(" ORDER BY {sort} {dir}, id {dir}")),
        None => sql.push_str(&format!(" ORDER BY id {dir}")),
    }
    // A literal, not a parameter: SQLite recompiles an ORDER BY ... LIMIT ?
    // statement on every run (measured: 47 µs against 27 µs for a page),
    // and the page size is a checked number with few distinct values.
    sql.push_str(" LIMIT ");
    sql.push_str(itoa::Buffer::new().format(u64::from(query.page_size) + 1));
    Ok((sql, args))
}

/// The current, unexpired row's ETag.
fn current_etag(
    conn: &Connection,
    collection: &str,
    partition: &str,
    id: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    conn.prepare_cached(
        "SELECT etag FROM documents WHERE collection = ?1 AND pk = ?2 AND id = ?3
         AND (expires_at_ms IS NULL OR expires_at_ms > ?4)",
    )
    .and_then(|mut statement| statement.query_row(params![collection, partition, id, now], |row| row.get(0)))
    .optional()
    .map_err(sql_error)
}

/// Writes the body as it will be stored: serialised here, on the calling task,
/// so the writer thread spends its time on SQLite only.
struct Row {
    partition: String,
    id: String,
    body: String,
    ttl_ms: Option<i64>,
}

impl Row {
    fn of(doc: NewDocument) -> Self {
        Self {
            body: doc.body.to_string(),
            partition: doc.partition,
            id: doc.id,
            ttl_ms: doc.ttl.map(|ttl| i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)),
        }
    }
}

fn write(conn: &Connection, collection: &str, row: &Row, now: i64) -> StoreResult<ETag> {
    let etag = new_etag();
    let expires = row.ttl_ms.map(|ttl| now.saturating_add(ttl));
    conn.prepare_cached(
        "INSERT INTO documents (collection, pk, id, body, etag, ttl_ms, expires_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (collection, pk, id) DO UPDATE SET
           body = excluded.body, etag = excluded.etag, ttl_ms = excluded.ttl_ms, expires_at_ms = excluded.expires_at_ms",
    )
    .and_then(|mut statement| {
        statement.execute(params![collection, row.partition, row.id, row.body, etag, row.ttl_ms, expires])
    })
    .map_err(sql_error)?;
    Ok(ETag::new(etag))
}

/// Inserts a new row in one statement: a live row with the same key makes it a
/// conflict, an expired one (not yet purged) is replaced. One statement, not a
/// look-up and a write: every access-log entry is a create.
fn create(conn: &Connection, collection: &str, row: &Row, now: i64) -> StoreResult<ETag> {
    let etag = new_etag();
    let expires = row.ttl_ms.map(|ttl| now.saturating_add(ttl));
    let changed = conn
        .prepare_cached(
            "INSERT INTO documents (collection, pk, id, body, etag, ttl_ms, expires_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (collection, pk, id) DO UPDATE SET
               body = excluded.body, etag = excluded.etag, ttl_ms = excluded.ttl_ms, expires_at_ms = excluded.expires_at_ms
             WHERE documents.expires_at_ms IS NOT NULL AND documents.expires_at_ms <= ?8",
        )
        .and_then(|mut statement| {
            statement.execute(params![collection, row.partition, row.id, row.body, etag, row.ttl_ms, expires, now])
        })
        .map_err(sql_error)?;
    if changed == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(ETag::new(etag))
}

/// A batch operation with its body already serialised.
enum RowOp {
    Create(Row),
    Replace { row: Row, if_match: ETag },
    Upsert { row: Row, if_match: Option<ETag> },
    Delete { id: String, if_match: Option<ETag> },
}

impl RowOp {
    fn of(op: BatchOp) -> Self {
        match op {
            BatchOp::Create(doc) => Self::Create(Row::of(doc)),
            BatchOp::Replace { doc, if_match } => Self::Replace { row: Row::of(doc), if_match },
            BatchOp::Upsert { doc, if_match } => Self::Upsert { row: Row::of(doc), if_match },
            BatchOp::Delete { id, if_match } => Self::Delete { id, if_match },
        }
    }
}

/// One operation; the writer keeps or undoes it. It changes at most one row,
/// in one statement that is its last step that can fail (a look-up of the
/// current version may come first), so a lone operation needs no savepoint
/// ([`Undo::Statement`]); a batch of several runs in one.
fn apply(conn: &Connection, collection: &str, partition: &str, op: &RowOp, now: i64) -> StoreResult<Option<ETag>> {
    match op {
        RowOp::Create(row) => create(conn, collection, row, now).map(Some),
        RowOp::Replace { row, if_match } => match current_etag(conn, collection, &row.partition, &row.id, now)? {
            None => Err(StoreError::NotFound),
            Some(etag) if etag != if_match.as_str() => Err(StoreError::PreconditionFailed),
            Some(_) => write(conn, collection, row, now).map(Some),
        },
        RowOp::Upsert { row, if_match } => {
            if let Some(expected) = if_match {
                match current_etag(conn, collection, &row.partition, &row.id, now)? {
                    None => return Err(StoreError::NotFound),
                    Some(etag) if etag != expected.as_str() => return Err(StoreError::PreconditionFailed),
                    Some(_) => {}
                }
            }
            write(conn, collection, row, now).map(Some)
        }
        RowOp::Delete { id, if_match } => {
            match current_etag(conn, collection, partition, id, now)? {
                None => return Err(StoreError::NotFound),
                Some(etag) if if_match.as_ref().is_some_and(|expected| expected.as_str() != etag) => {
                    return Err(StoreError::PreconditionFailed);
                }
                Some(_) => {}
            }
            conn.prepare_cached("DELETE FROM documents WHERE collection = ?1 AND pk = ?2 AND id = ?3")
                .and_then(|mut statement| statement.execute(params![collection, partition, id]))
                .map_err(sql_error)?;
            Ok(None)
        }
    }
}

impl EmbeddedStore {
    /// Runs operations as one write of a group commit: all or nothing. One
    /// operation changes at most one row in one statement, its last step
    /// ([`apply`]), so it needs no savepoint of its own.
    async fn transact(&self, collection: &str, partition: &str, ops: Vec<BatchOp>) -> StoreResult<BatchResult> {
        let (collection, partition, now) = (collection.to_owned(), partition.to_owned(), self.now_ms());
        let ops: Vec<RowOp> = ops.into_iter().map(RowOp::of).collect();
        let undo = if ops.len() == 1 { Undo::Statement } else { Undo::Savepoint };
        self.write_undone(
            move |conn| ops.iter().map(|op| apply(conn, &collection, &partition, op, now)).collect(),
            undo,
        )
        .await
    }

    /// One page of a query: each of its rows handed to `on_row` as it is
    /// read, and whether more follow (the page size plus one are read, the
    /// extra one only says so). The one span of `query`, `query_text` and
    /// `query_each`.
    #[tracing::instrument(
        name = "store.query",
        skip_all,
        fields(
            backend = "embedded", collection = %collection,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn query_rows(
        &self,
        collection: &str,
        partition: &str,
        query: &Query,
        mut on_row: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<()> + Send,
    ) -> StoreResult<bool> {
        check_key("partition", partition)?;
        let cursor = query.check()?;
        let now = self.now_ms();
        let index = self.inner.filter_indexes.serving(collection, query);
        let (sql, args) = select(collection, partition, query, cursor.as_ref(), index.as_deref(), now)?;
        let page_size = query.page_size as usize;
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&sql).map_err(sql_error)?;
            let mut rows = statement.query(params_from_iter(args)).map_err(sql_error)?;
            let mut read = 0;
            while let Some(row) = rows.next().map_err(sql_error)? {
                if read == page_size {
                    return Ok(true);
                }
                on_row(row)?;
                read += 1;
            }
            Ok(false)
        })
        .await
    }

    /// The rows of one page, copied out, and whether more follow.
    async fn stored_rows(
        &self,
        collection: &str,
        partition: &str,
        query: &Query,
    ) -> StoreResult<(Vec<StoredRow>, bool)> {
        let mut rows = Vec::new();
        let more = self
            .query_rows(collection, partition, query, |row| {
                rows.push(row_to_document(row).map_err(sql_error)?);
                Ok(())
            })
            .await?;
        Ok((rows, more))
    }

    async fn single(&self, collection: &str, partition: &str, op: BatchOp) -> StoreResult<ETag> {
        let mut results = self.transact(collection, partition, vec![op]).await?;
        results.pop().flatten().ok_or_else(|| StoreError::Invalid("operation produced no version".into()))
    }
}

#[async_trait]
impl DocumentStore for EmbeddedStore {
    #[tracing::instrument(
        name = "store.get",
        skip_all,
        fields(
            backend = "embedded", collection = %collection,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn get(&self, collection: &str, partition: &str, id: &str) -> StoreResult<Option<Document>> {
        check_key("partition", partition)?;
        check_key("id", id)?;
        let now = self.now_ms();
        let row = self
            .read(|conn| {
                conn.prepare_cached(GET)
                    .and_then(|mut statement| {
                        statement.query_row(params![collection, partition, id, now], row_to_document)
                    })
                    .optional()
                    .map_err(sql_error)
            })
            .await?;
        row.map(into_document).transpose()
    }

    #[tracing::instrument(
        name = "store.create",
        skip_all,
        fields(
            backend = "embedded", collection = %collection,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn create(&self, collection: &str, doc: NewDocument) -> StoreResult<ETag> {
        doc.check()?;
        let partition = doc.partition.clone();
        self.single(collection, &partition, BatchOp::Create(doc)).await
    }

    #[tracing::instrument(
        name = "store.replace",
        skip_all,
        fields(
            backend = "embedded", collection = %collection,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn replace(&self, collection: &str, doc: NewDocument, if_match: &ETag) -> StoreResult<ETag> {
        doc.check()?;
        let partition = doc.partition.clone();
        self.single(collection, &partition, BatchOp::Replace { doc, if_match: if_match.clone() }).await
    }

    #[tracing::instrument(
        name = "store.upsert",
        skip_all,
        fields(
            backend = "embedded", collection = %collection,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn upsert(&self, collection: &str, doc: NewDocument, if_match: Option<&ETag>) -> StoreResult<ETag> {
        doc.check()?;
        let partition = doc.partition.clone();
        self.single(collection, &partition, BatchOp::Upsert { doc, if_match: if_match.cloned() }).await
    }

    #[tracing::instrument(
        name = "store.delete",
        skip_all,
        fields(
            backend = "embedded", collection = %collection,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn delete(&self, collection: &str, partition: &str, id: &str, if_match: Option<&ETag>) -> StoreResult<()> {
        check_key("partition", partition)?;
        let op = BatchOp::Delete { id: id.to_owned(), if_match: if_match.cloned() };
        op.check(partition)?;
        self.transact(collection, partition, vec![op]).await.map(drop)
    }

    async fn query(&self, collection: &str, partition: &str, query: Query) -> StoreResult<Page> {
        let (rows, more) = self.stored_rows(collection, partition, &query).await?;
        let items = rows.into_iter().map(into_document).collect::<StoreResult<Vec<_>>>()?;
        let order_field = query.order_by.as_ref().map(|(field, _)| field.as_str());
        let continuation = if more { items.last().map(|last| Cursor::after(last, order_field).encode()) } else { None };
        Ok(Page { items, continuation })
    }

    async fn query_text(&self, collection: &str, partition: &str, query: Query) -> StoreResult<TextPage> {
        let (rows, more) = self.stored_rows(collection, partition, &query).await?;
        let items: Vec<TextDocument> = rows.into_iter().map(into_text_document).collect();
        let order_field = query.order_by.as_ref().map(|(field, _)| field.as_str());
        let continuation = match items.last() {
            Some(last) if more => Some(Cursor::after_text(last, order_field)?.encode()),
            _ => None,
        };
        Ok(TextPage { items, continuation })
    }

    async fn query_each(
        &self,
        collection: &str,
        partition: &str,
        query: Query,
        each: &mut (dyn for<'t> FnMut(&'t str, &'t str) -> StoreResult<()> + Send),
    ) -> StoreResult<Option<String>> {
        let order_field = query.order_by.as_ref().map(|(field, _)| field.as_str());
        let page_size = query.page_size as usize;
        let (mut read, mut last) = (0, None);
        let more = self
            .query_rows(collection, partition, &query, |row| {
                let text = |column| row.get_ref(column).and_then(|value| Ok(value.as_str()?)).map_err(sql_error);
                let (id, body) = (text(1)?, text(2)?);
                each(id, body)?;
                read += 1;
                if read == page_size {
                    last = Some(Cursor::after_body(id, body, order_field)?);
                }
                Ok(())
            })
            .await?;
        Ok(if more { last.map(|cursor| cursor.encode()) } else { None })
    }

    async fn index_filters(&self, collection: &str, fields: &[&str]) -> StoreResult<()> {
        check_key("collection", collection)?;
        if fields.is_empty() {
            return Err(StoreError::Invalid("a filter index needs at least one field".into()));
        }
        for field in fields {
            check_field(field)?;
        }
        let index = FilterIndex::new(collection, fields);
        let (prefix, name, create) = (index.collection_prefix(), index.name.clone(), index.create_sql());
        self.write(move |conn| {
            // The collection's index of another field list, from an earlier
            // version: its upkeep would only slow the collection's writes.
            let stale = conn
                .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'documents'")
                .and_then(|mut statement| {
                    statement.query_map([], |row| row.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(sql_error)?
                .into_iter()
                .filter(|old: &String| old.starts_with(&prefix) && *old != name);
            for old in stale {
                conn.execute_batch(&drop_sql(&old)).map_err(sql_error)?;
            }
            conn.execute_batch(&create).map_err(sql_error)
        })
        .await?;
        self.inner.filter_indexes.insert(index);
        Ok(())
    }

    #[tracing::instrument(
        name = "store.batch",
        skip_all,
        fields(
            backend = "embedded", collection = %collection, operations = ops.len(),
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn batch(&self, collection: &str, partition: &str, ops: Vec<BatchOp>) -> StoreResult<BatchResult> {
        check_batch(partition, &ops)?;
        self.transact(collection, partition, ops).await
    }

    #[tracing::instrument(
        name = "store.purge_expired",
        skip_all,
        fields(
            backend = "embedded",
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn purge_expired(&self) -> StoreResult<u64> {
        let now = self.now_ms();
        let documents = self
            .write(move |conn| {
                conn.execute(
                    "DELETE FROM documents WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= ?1",
                    params![now],
                )
                .map_err(sql_error)
            })
            .await?;
        let messages = self.purge_expired_messages(now).await?;
        let files = self.purge_orphan_blob_files().await?;
        Ok(u64::try_from(documents + messages + files).unwrap_or(u64::MAX))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(sql_error)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FilterOp;

    /// Each `json_extract` the page's statement calls, as `EXPLAIN` lists
    /// its program, and the plan's lines.
    fn program(index: Option<&FilterIndex>, query: &Query) -> (usize, String) {
        let conn = Connection::open_in_memory().expect("database");
        conn.execute_batch(super::super::SCHEMA).expect("schema");
        if let Some(index) = index {
            conn.execute_batch(&index.create_sql()).expect("index");
        }
        let (sql, args) = select("calendar", "jana", query, None, index, 0).expect("select");
        let mut explain = conn.prepare(&format!("EXPLAIN {sql}")).expect("explain");
        let calls = explain
            .query_map(params_from_iter(args.clone()), |row| {
                Ok((row.get::<_, String>(1)?, row.get::<_, Option<String>>(5)?))
            })
            .expect("program")
            .filter_map(Result::ok)
            .filter(|(opcode, p4)| {
                opcode.starts_with("Function") && p4.as_deref().is_some_and(|f| f.contains("json_extract"))
            })
            .count();
        let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("plan");
        let plan = plan
            .query_map(params_from_iter(args), |row| row.get::<_, String>(3))
            .expect("plan")
            .filter_map(Result::ok)
            .collect::<Vec<_>>()
            .join("; ");
        (calls, plan)
    }

    #[test]
    fn a_filter_index_spares_the_page_every_json_parse_of_its_fields() {
        let index = FilterIndex::new("calendar", &["type", "date", "endDate"]);
        let page = Query::default()
            .filter("type", FilterOp::Eq, "calendar-item")
            .filter("endDate", FilterOp::Ge, "2026-01-01")
            .filter("date", FilterOp::Le, "2026-12-31");
        let (calls, plan) = program(Some(&index), &page);
        assert_eq!(calls, 0, "every filter compared in the index: {plan}");
        assert!(plan.contains("USING COVERING INDEX filters:calendar:type,date,endDate "), "no table read: {plan}");

        let (calls, _) = program(None, &page);
        assert_eq!(calls, 3, "without the index, each filter extracts from the body");
        let (calls, _) = program(Some(&index), &page.clone().filter("title", FilterOp::Eq, "x"));
        assert_eq!(calls, 1, "a field the index does not keep is still read from the body");
    }
}
