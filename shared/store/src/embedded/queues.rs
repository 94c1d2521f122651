use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use time::OffsetDateTime;

use super::{EmbeddedStore, new_etag, sql_error};
use crate::error::{StoreError, StoreResult};
use crate::queue::{MESSAGE_TIME_TO_LIVE, QueueName, QueueStore, ReceivedMessage, check_message};

/// The next message's `seq`: one step down the `messages_seq` index (schema
/// version 3), never a scan of every waiting message.
macro_rules! next_seq {
    () => {
        "coalesce((SELECT max(seq) FROM messages), 0) + 1"
    };
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn time_of(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn queue_exists(conn: &rusqlite::Connection, queue: &str) -> StoreResult<bool> {
    conn.prepare_cached("SELECT 1 FROM queues WHERE name = ?1")
        .and_then(|mut statement| statement.query_row(params![queue], |_| Ok(())))
        .optional()
        .map(|found| found.is_some())
        .map_err(sql_error)
}

impl EmbeddedStore {
    pub(super) async fn purge_expired_messages(&self, now: i64) -> StoreResult<usize> {
        self.write(move |conn| {
            conn.execute("DELETE FROM messages WHERE expires_at_ms <= ?1", params![now]).map_err(sql_error)
        })
        .await
    }
}

#[async_trait]
impl QueueStore for EmbeddedStore {
    #[tracing::instrument(
        name = "queue.count",
        skip_all,
        fields(
            backend = "embedded", queue = %queue,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn approximate_count(&self, queue: &QueueName) -> StoreResult<u64> {
        let (name, now) = (queue.as_str(), self.now_ms());
        self.read(|conn| {
            if !queue_exists(conn, name)? {
                return Err(StoreError::NotFound);
            }
            conn.query_row(
                "SELECT count(*) FROM messages WHERE queue = ?1 AND expires_at_ms > ?2",
                params![name, now],
                |row| row.get::<_, i64>(0),
            )
            .map(|count| u64::try_from(count).unwrap_or(0))
            .map_err(sql_error)
        })
        .await
    }

    #[tracing::instrument(
        name = "queue.list",
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
    async fn list_queues(&self) -> StoreResult<Vec<QueueName>> {
        let names = self
            .read(|conn| {
                let mut statement = conn.prepare_cached("SELECT name FROM queues ORDER BY name").map_err(sql_error)?;
                let names = statement
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(sql_error)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sql_error)?;
                Ok(names)
            })
            .await?;
        names.into_iter().map(QueueName::parse).collect()
    }

    async fn ensure(&self, queue: &QueueName) -> StoreResult<()> {
        let name = queue.as_str().to_owned();
        self.write(move |conn| {
            conn.execute("INSERT OR IGNORE INTO queues (name) VALUES (?1)", params![name]).map(drop).map_err(sql_error)
        })
        .await
    }

    #[tracing::instrument(
        name = "queue.send",
        skip_all,
        fields(
            backend = "embedded", queue = %queue,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn send(&self, queue: &QueueName, text: &str, delay: Option<Duration>) -> StoreResult<String> {
        check_message(text)?;
        let (name, text, now) = (queue.as_str().to_owned(), text.to_owned(), self.now_ms());
        // Time-ordered (version 7): a queue's new messages go to the end of
        // its key range, not to a random leaf of the table each (which made
        // every send dirty a page of its own, written to the WAL and again by
        // the checkpoint).
        let id = uuid::Uuid::now_v7().to_string();
        let message_id = id.clone();
        self.write(move |conn| {
            if !queue_exists(conn, &name)? {
                return Err(StoreError::NotFound);
            }
            let visible = now.saturating_add(delay.map_or(0, millis));
            conn.prepare_cached(concat!(
                "INSERT INTO messages (queue, id, seq, text, dequeue_count, inserted_at_ms, expires_at_ms, visible_at_ms)
                 VALUES (?1, ?2, ",
                next_seq!(),
                ", ?3, 0, ?4, ?5, ?6)"
            ))
            .and_then(|mut statement| {
                statement.execute(params![
                    name,
                    message_id,
                    text,
                    now,
                    now.saturating_add(millis(MESSAGE_TIME_TO_LIVE)),
                    visible
                ])
            })
            .map(drop)
            .map_err(sql_error)
        })
        .await?;
        self.inner.queue_activity.notify_waiters();
        Ok(id)
    }

    #[tracing::instrument(
        name = "queue.receive",
        skip_all,
        fields(
            backend = "embedded", queue = %queue,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn receive(&self, queue: &QueueName, max: u32, visibility: Duration) -> StoreResult<Vec<ReceivedMessage>> {
        if max == 0 || max > 32 {
            return Err(StoreError::Invalid("receive takes 1-32 messages at a time".into()));
        }
        let (name, now) = (queue.as_str().to_owned(), self.now_ms());
        let visible_at = now.saturating_add(millis(visibility));
        self.write(move |tx| {
            if !queue_exists(tx, &name)? {
                return Err(StoreError::NotFound);
            }
            let candidates: Vec<(String, String, i64, i64, i64)> = {
                let mut statement = tx
                    .prepare_cached(
                        "SELECT id, text, dequeue_count, inserted_at_ms, expires_at_ms FROM messages
                         WHERE queue = ?1 AND visible_at_ms <= ?2 AND expires_at_ms > ?2 ORDER BY visible_at_ms, seq LIMIT ?3",
                    )
                    .map_err(sql_error)?;
                let rows = statement
                    .query_map(params![name, now, max], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))
                    .map_err(sql_error)?;
                rows.collect::<Result<_, _>>().map_err(sql_error)?
            };
            let mut received = Vec::with_capacity(candidates.len());
            for (id, text, dequeue_count, inserted, expires) in candidates {
                let pop_receipt = new_etag();
                tx.prepare_cached(
                    "UPDATE messages SET pop_receipt = ?1, dequeue_count = dequeue_count + 1, visible_at_ms = ?2
                     WHERE queue = ?3 AND id = ?4",
                )
                .and_then(|mut statement| statement.execute(params![pop_receipt, visible_at, name, id]))
                .map_err(sql_error)?;
                received.push(ReceivedMessage {
                    id,
                    pop_receipt,
                    text,
                    dequeue_count: u32::try_from(dequeue_count + 1).unwrap_or(u32::MAX),
                    inserted_at: time_of(inserted),
                    expires_at: time_of(expires),
                    next_visible: time_of(visible_at),
                });
            }
            Ok(received)
        })
        .await
    }

    #[tracing::instrument(
        name = "queue.release",
        skip_all,
        fields(
            backend = "embedded", queue = %queue,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn release(&self, queue: &QueueName, id: &str, pop_receipt: &str, delay: Duration) -> StoreResult<String> {
        let (name, id, receipt, now) =
            (queue.as_str().to_owned(), id.to_owned(), pop_receipt.to_owned(), self.now_ms());
        let new_receipt = new_etag();
        let returned = new_receipt.clone();
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE messages SET pop_receipt = ?1, visible_at_ms = ?2 WHERE queue = ?3 AND id = ?4 AND pop_receipt = ?5",
                    params![new_receipt, now.saturating_add(millis(delay)), name, id, receipt],
                )
                .map_err(sql_error)?;
            if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await?;
        self.inner.queue_activity.notify_waiters();
        Ok(returned)
    }

    #[tracing::instrument(
        name = "queue.delete",
        skip_all,
        fields(
            backend = "embedded", queue = %queue,
            otel.kind = "client",
            dependency.type = "SQLite",
            server.address = "embedded",
            dependency.result = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    )]
    async fn delete(&self, queue: &QueueName, id: &str, pop_receipt: &str) -> StoreResult<()> {
        let (name, id, receipt) = (queue.as_str().to_owned(), id.to_owned(), pop_receipt.to_owned());
        self.write(move |conn| {
            let changed = conn
                .execute(
                    "DELETE FROM messages WHERE queue = ?1 AND id = ?2 AND pop_receipt = ?3",
                    params![name, id, receipt],
                )
                .map_err(sql_error)?;
            if changed == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        DocumentStore::ping(self).await
    }
}

use crate::document::DocumentStore;

#[cfg(test)]
mod tests {
    /// A send numbers its message through the `seq` index, not by scanning
    /// every waiting message (with a backlog of 100,000 undelivered events the
    /// scan made archiving quadratic). The plan is of the very expression the
    /// insert uses.
    #[test]
    fn a_send_finds_the_next_sequence_number_through_an_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = std::sync::Arc::new(crate::SystemClock);
        drop(super::EmbeddedStore::open(dir.path(), clock).expect("open"));
        let conn = rusqlite::Connection::open(dir.path().join("portal.db")).expect("sqlite");
        let plan: Vec<String> = conn
            .prepare(concat!("EXPLAIN QUERY PLAN SELECT ", next_seq!()))
            .expect("prepare")
            .query_map([], |row| row.get::<_, String>(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(
            plan.iter().any(|step| step.contains("USING COVERING INDEX messages_seq")),
            "the plan searches the seq index: {plan:?}"
        );
        assert!(!plan.iter().any(|step| step.starts_with("SCAN messages")), "no message is scanned: {plan:?}");
    }
}
