//! Filter indexes ([`DocumentStore::index_filters`]): for a collection whose
//! unordered queries filter on known fields, a partial index of the documents
//! table on `(collection, pk, id, json_extract(body, '$.<field>'), ...)`
//! that holds only that collection's rows.
//!
//! Without it, a filtered query makes SQLite parse each document of the
//! partition it passes (`json_extract` turns the text into its binary form
//! first): a tenth of the CPU of a calendar page (issue 18). With it, the
//! query walks the index in the same `(collection, pk, id)` order a page needs,
//! compares the field values the index keeps, and takes the row of each one
//! that passes from the index too: the index holds the whole row (a covering
//! index), so the table is not read at all, for the price of keeping the
//! collection's rows twice. The query names the index (`INDEXED BY`, so the
//! planner cannot prefer the primary key for want of statistics) and the
//! collection as a literal, which is what lets SQLite match the partial index.
//! An index costs its collection's writes one parse and one more row each;
//! other collections' writes (the access log's) do not touch it.
//!
//! [`DocumentStore::index_filters`]: crate::DocumentStore::index_filters

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::document::Query;

/// Names of filter indexes start with this, then the collection, `:` and the
/// fields joined by `,`: a new field list is a new index, and the old one is
/// dropped when it is declared.
const NAME_PREFIX: &str = "filters:";

/// One declared index.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct FilterIndex {
    pub name: String,
    pub collection: String,
    pub fields: Vec<String>,
    /// `name` and `collection` as SQL writes them, quoted once here rather
    /// than on every query.
    quoted_name: String,
    quoted_collection: String,
}

impl FilterIndex {
    /// For checked names: a collection key and field paths.
    pub fn new(collection: &str, fields: &[&str]) -> Self {
        let name = format!("{NAME_PREFIX}{collection}:{}", fields.join(","));
        Self {
            quoted_name: identifier(&name),
            quoted_collection: literal(collection),
            name,
            collection: collection.to_owned(),
            fields: fields.iter().map(|field| (*field).to_owned()).collect(),
        }
    }

    /// The name of this collection's filter indexes, whatever their fields.
    pub fn collection_prefix(&self) -> String {
        format!("{NAME_PREFIX}{}:", self.collection)
    }

    pub fn create_sql(&self) -> String {
        let columns: Vec<String> = self.fields.iter().map(|field| super::documents::extract(field)).collect();
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON documents (collection, pk, id, {}, body, etag, ttl_ms, expires_at_ms) \
             WHERE collection = {}",
            identifier(&self.name),
            columns.join(", "),
            literal(&self.collection),
        )
    }

    /// Appends the table as a query that uses this index names it.
    pub fn push_source_sql(&self, sql: &mut String) {
        sql.push_str("documents INDEXED BY ");
        sql.push_str(&self.quoted_name);
        sql.push_str(" WHERE collection = ");
        sql.push_str(&self.quoted_collection);
    }

    /// Whether `query` gains from this index: no order of its own (the index
    /// gives the id order) and a filter on one of its fields.
    pub fn serves(&self, query: &Query) -> bool {
        query.order_by.is_none() && query.filters.iter().any(|filter| self.fields.contains(&filter.field))
    }
}

/// The indexes declared in this process, by collection.
#[derive(Debug, Default)]
pub(super) struct FilterIndexes(RwLock<HashMap<String, Arc<FilterIndex>>>);

impl FilterIndexes {
    pub fn insert(&self, index: FilterIndex) {
        let mut indexes = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        indexes.insert(index.collection.clone(), Arc::new(index));
    }

    /// The index of `collection` that serves `query`, if one does.
    pub fn serving(&self, collection: &str, query: &Query) -> Option<Arc<FilterIndex>> {
        let indexes = self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        indexes.get(collection).filter(|index| index.serves(query)).cloned()
    }
}

/// Drops the index `name`.
pub(super) fn drop_sql(name: &str) -> String {
    format!("DROP INDEX {}", identifier(name))
}

/// An SQL identifier in double quotes.
fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::FilterOp;

    #[test]
    fn names_and_quoting_keep_the_collection_and_fields_apart() {
        let index = FilterIndex::new("it's", &["type", "a.b"]);
        assert_eq!(index.name, "filters:it's:type,a.b");
        assert_eq!(index.collection_prefix(), "filters:it's:");
        assert_eq!(
            index.create_sql(),
            "CREATE INDEX IF NOT EXISTS \"filters:it's:type,a.b\" ON documents (collection, pk, id, \
             json_extract(body, '$.type'), json_extract(body, '$.a.b'), body, etag, ttl_ms, expires_at_ms) \
             WHERE collection = 'it''s'"
        );
        let mut source = String::new();
        index.push_source_sql(&mut source);
        assert_eq!(source, "documents INDEXED BY \"filters:it's:type,a.b\" WHERE collection = 'it''s'");
        assert_eq!(drop_sql("a\"b"), "DROP INDEX \"a\"\"b\"");
    }

    #[test]
    fn an_index_serves_unordered_queries_that_filter_on_one_of_its_fields() {
        let index = FilterIndex::new("calendar", &["type", "date"]);
        assert!(index.serves(&Query::default().filter("date", FilterOp::Le, "2026-12-31")));
        assert!(!index.serves(&Query::default()), "no filter");
        assert!(!index.serves(&Query::default().filter("title", FilterOp::Eq, "x")), "another field");
        let ordered = Query::default().filter("type", FilterOp::Eq, "x").order_by("date", crate::Order::Ascending);
        assert!(!index.serves(&ordered), "its own order");
    }
}
