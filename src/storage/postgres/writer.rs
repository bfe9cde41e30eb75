//! The write path: one binary `COPY` per batch, with an idempotent statement as fallback.
//!
//! A batch normally goes into `zipkin_spans` as one binary `COPY` (one round trip, one
//! commit). `COPY` is the cheapest way into PostgreSQL: rows are written in multi-row heap
//! batches with one WAL record per page, where an `INSERT ... ON CONFLICT` pays a
//! speculative insertion (an index probe and an extra WAL record) for every row. `COPY`
//! has no `ON CONFLICT`, though: a batch holding a span that is already stored fails whole
//! with a unique violation on the trace index, and then the batch is written again as a
//! single `INSERT ... SELECT FROM UNNEST(...) ON CONFLICT DO NOTHING`, which skips the
//! stored spans. So replays (Kafka redelivery, client retries, several collectors
//! receiving the same trace) never duplicate rows and cost one failed `COPY` more, and
//! concurrent writers of the same span are serialised by the unique index: the second
//! waits for the first to commit, fails, and falls back. Rows are sorted by (day, index
//! key) so overlapping batches lock in the same order; a deadlock that partition routing
//! might still provoke is answered by the fallback too.
//!
//! Name rows (`/api/v2/services` etc.) are written only for keys this process has not
//! written yet, so steady-state batches carry none; when there are some, they go in the
//! same transaction as the `COPY` (or ride along as extra CTEs of the fallback statement).
//! So do "dirty hour" marks for the dependency aggregate, only for spans older than the
//! aggregation's quiet period (late or replayed data): a mark must never be committed
//! without its spans, or the aggregation could clear it before the spans exist.

use std::collections::BTreeSet;

use super::codec::{day_of, encode_row, hour_of, SpanRow, MICROS_PER_HOUR};
use super::{db_error, now_micros, PostgresStore};
use crate::model::Span;
use crate::storage::StorageError;

/// Kinds of name rows, as keys of the name cache.
const SPAN_NAME: u8 = 0;
const REMOTE_NAME: u8 = 1;
const AUTOCOMPLETE: u8 = 2;

/// The name cache is dropped wholesale past this many entries; it is only an optimisation.
const NAME_CACHE_LIMIT: usize = 100_000;

/// Spans this much younger than the aggregation's quiet period may already be aggregated
/// by another instance with a faster clock; they mark their hour dirty too.
const CLOCK_MARGIN_MICROS: i64 = 60 * 1_000_000;

/// SQLSTATE check_violation: raised when no partition accepts a row (e.g. retention just
/// dropped it while this process still believed it existed).
const NO_PARTITION: &str = "23514";

impl PostgresStore {
    pub(super) async fn write_spans(&self, spans: &[Span]) -> Result<(), StorageError> {
        let now = now_micros();
        let search = self.options().search_enabled;
        let mut rows: Vec<SpanRow> = spans.iter().map(|s| encode_row(s, now, search)).collect();
        rows.sort_unstable_by_key(|r| (r.day, r.trace_id, r.content_hash));
        rows.dedup_by_key(|r| (r.day, r.trace_id, r.content_hash));

        let days: BTreeSet<i32> = rows.iter().map(|r| r.day).collect();
        self.ensure_partitions(&days).await?;

        let extras = self.pending_extras(spans, &rows, now);
        let result = self.insert(&rows, &extras).await;
        let result = match result {
            Err(StorageError::Internal(msg)) if msg.contains(NO_PARTITION) => {
                self.forget_partitions(&days);
                self.ensure_partitions(&days).await?;
                self.insert(&rows, &extras).await
            }
            other => other,
        };
        result?;
        self.remember_extras(extras);
        Ok(())
    }

    /// Name rows and dirty hours this batch must write (not yet in the caches).
    fn pending_extras(&self, spans: &[Span], rows: &[SpanRow], now: i64) -> Extras {
        let mut extras = Extras::default();
        if self.options().search_enabled {
            let names = self.inner.names.lock();
            let fresh = |kind: u8, a: &str, b: &str, day: i32| {
                names
                    .get(&(kind, a.to_owned(), b.to_owned()))
                    .is_none_or(|&d| d < day)
            };
            let mut span_names = BTreeSet::new();
            let mut remotes = BTreeSet::new();
            let mut tags = BTreeSet::new();
            for r in rows {
                let Some(service) = &r.local_service else {
                    continue;
                };
                let name = r.name.as_deref().unwrap_or("");
                if fresh(SPAN_NAME, service, name, r.day) {
                    span_names.insert((service.clone(), name.to_owned()));
                }
                if let Some(remote) = &r.remote_service {
                    if fresh(REMOTE_NAME, service, remote, r.day) {
                        remotes.insert((service.clone(), remote.clone()));
                    }
                }
            }
            let keys = &self.options().autocomplete_keys;
            if !keys.is_empty() {
                for span in spans {
                    let day = day_of(span.timestamp.map_or(now, |t| t as i64));
                    for (k, v) in &span.tags {
                        if keys.iter().any(|key| key == k.as_str())
                            && fresh(AUTOCOMPLETE, k, v, day)
                        {
                            tags.insert((k.to_string(), v.to_string()));
                        }
                    }
                }
            }
            let day = rows.iter().map(|r| r.day).max().unwrap_or(0);
            extras.day = day;
            extras.span_names = span_names.into_iter().collect();
            extras.remotes = remotes.into_iter().collect();
            extras.tags = tags.into_iter().collect();
        }

        // Spans older than the quiet period may land in an hour the aggregation already
        // summed up: mark that hour (and its neighbours, where the trace's root may sit)
        // for re-aggregation.
        let late_before =
            now - self.inner.config.dependency_quiet.as_micros() as i64 + CLOCK_MARGIN_MICROS;
        let mut hours = BTreeSet::new();
        for r in rows {
            if let Some(ts) = r.ts.filter(|&ts| ts < late_before) {
                let h = hour_of(ts);
                for hour in [h - 1, h, h + 1] {
                    if i64::from(hour) * MICROS_PER_HOUR < late_before {
                        hours.insert(hour);
                    }
                }
            }
        }
        extras.dirty_hours = hours.into_iter().collect();
        extras
    }

    fn remember_extras(&self, extras: Extras) {
        if !extras.span_names.is_empty() || !extras.remotes.is_empty() || !extras.tags.is_empty() {
            let mut names = self.inner.names.lock();
            if names.len() > NAME_CACHE_LIMIT {
                names.clear();
            }
            for (kind, list) in [
                (SPAN_NAME, extras.span_names),
                (REMOTE_NAME, extras.remotes),
                (AUTOCOMPLETE, extras.tags),
            ] {
                for (a, b) in list {
                    names.insert((kind, a, b), extras.day);
                }
            }
        }
    }

    /// Writes the rows and extras atomically: by `COPY`, or by the idempotent statement
    /// when the `COPY` meets a span that is already stored.
    async fn insert(&self, rows: &[SpanRow], extras: &Extras) -> Result<(), StorageError> {
        match self.copy_insert(rows, extras).await {
            Err(e) if is_conflict(&e) => self.upsert(rows, extras).await,
            other => other.map_err(db_error),
        }
    }

    /// The fast path: `COPY` alone (atomic by itself), or `COPY` and the extras in one
    /// transaction.
    async fn copy_insert(&self, rows: &[SpanRow], extras: &Extras) -> Result<(), sqlx::Error> {
        let data = copy_data(rows);
        if extras.is_empty() {
            let mut conn = self.inner.pool.acquire().await?;
            let mut copy = conn.copy_in_raw(COPY_SPANS).await?;
            copy.send(data).await?;
            copy.finish().await?;
        } else {
            let mut tx = self.inner.pool.begin().await?;
            let mut copy = tx.copy_in_raw(COPY_SPANS).await?;
            copy.send(data).await?;
            copy.finish().await?;
            let mut sql = String::from("WITH ");
            sql.push_str(&extras.ctes(1).join(", "));
            sql.push_str(" SELECT 1");
            extras.bind(sqlx::query(&sql)).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The fallback: one `INSERT ... SELECT FROM UNNEST(...) ON CONFLICT DO NOTHING`
    /// statement, extras as CTEs of the same statement.
    async fn upsert(&self, rows: &[SpanRow], extras: &Extras) -> Result<(), StorageError> {
        let n = rows.len();
        let mut trace_id_high = Vec::with_capacity(n);
        let mut trace_id = Vec::with_capacity(n);
        let mut id = Vec::with_capacity(n);
        let mut parent_id = Vec::with_capacity(n);
        let mut ts = Vec::with_capacity(n);
        let mut duration = Vec::with_capacity(n);
        let mut hash = Vec::with_capacity(n);
        let mut day = Vec::with_capacity(n);
        let mut local = Vec::with_capacity(n);
        let mut remote = Vec::with_capacity(n);
        let mut name = Vec::with_capacity(n);
        let mut key_start = Vec::with_capacity(n);
        let mut key_end = Vec::with_capacity(n);
        let mut keys: Vec<i32> = Vec::with_capacity(n * 10);
        let mut body = Vec::with_capacity(n);
        for r in rows {
            trace_id_high.push(r.trace_id_high);
            trace_id.push(r.trace_id);
            id.push(r.id);
            parent_id.push(r.parent_id);
            ts.push(r.ts);
            duration.push(r.duration);
            hash.push(r.content_hash);
            day.push(r.day);
            local.push(r.local_service.as_deref());
            remote.push(r.remote_service.as_deref());
            name.push(r.name.as_deref());
            // 1-based inclusive slice bounds into `keys`; start > end means no keys.
            key_start.push(keys.len() as i32 + 1);
            if let Some(k) = &r.search_keys {
                keys.extend_from_slice(k);
            }
            key_end.push(keys.len() as i32);
            body.push(r.body.as_slice());
        }

        let mut sql = String::from(
            "WITH spans AS (\
             INSERT INTO zipkin_spans (trace_id_high, trace_id, id, parent_id, ts, duration, \
             content_hash, day, local_service, remote_service, name, search_keys, body) \
             SELECT th, tl, id, pid, ts, dur, h, d, ls, rs, nm, \
             CASE WHEN ke >= ks THEN ($14::int4[])[ks:ke] END, body \
             FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], \
             $7::int8[], $8::int4[], $9::text[], $10::text[], $11::text[], $12::int4[], \
             $13::int4[], $15::bytea[]) \
             AS r(th, tl, id, pid, ts, dur, h, d, ls, rs, nm, ks, ke, body) \
             ON CONFLICT DO NOTHING)",
        );
        for cte in extras.ctes(16) {
            sql.push_str(", ");
            sql.push_str(&cte);
        }
        sql.push_str(" SELECT 1");

        let q = sqlx::query(&sql)
            .bind(trace_id_high)
            .bind(trace_id)
            .bind(id)
            .bind(parent_id)
            .bind(ts)
            .bind(duration)
            .bind(hash)
            .bind(day)
            .bind(local)
            .bind(remote)
            .bind(name)
            .bind(key_start)
            .bind(key_end)
            .bind(keys)
            .bind(body);
        extras
            .bind(q)
            .execute(&self.inner.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

const COPY_SPANS: &str = "COPY zipkin_spans (trace_id_high, trace_id, id, parent_id, ts, \
     duration, content_hash, day, local_service, remote_service, name, search_keys, body) \
     FROM STDIN (FORMAT binary)";

/// Errors after which the batch is written again with `ON CONFLICT DO NOTHING`:
/// unique_violation (a span of the batch is stored already) and deadlock_detected.
fn is_conflict(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(e) => matches!(e.code().as_deref(), Some("23505" | "40P01")),
        _ => false,
    }
}

/// Rows that ride along with a batch; sorted so concurrent writers lock in one order.
#[derive(Default)]
struct Extras {
    day: i32,
    span_names: Vec<(String, String)>,
    remotes: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    dirty_hours: Vec<i32>,
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

impl Extras {
    fn is_empty(&self) -> bool {
        self.span_names.is_empty()
            && self.remotes.is_empty()
            && self.tags.is_empty()
            && self.dirty_hours.is_empty()
    }

    /// The CTEs writing these rows, numbering parameters from `$first`; [`Extras::bind`]
    /// binds them in the same order.
    fn ctes(&self, first: usize) -> Vec<String> {
        let mut next = first;
        let mut ctes = Vec::new();
        for (list, table, a, b) in [
            (&self.span_names, "zipkin_span_names", "service", "name"),
            (
                &self.remotes,
                "zipkin_remote_service_names",
                "service",
                "remote_service",
            ),
            (&self.tags, "zipkin_autocomplete_tags", "key", "value"),
        ] {
            if list.is_empty() {
                continue;
            }
            ctes.push(format!(
                "{table} AS (INSERT INTO {table} ({a}, {b}, last_day) \
                 SELECT a, b, ${day} FROM UNNEST(${p1}::text[], ${p2}::text[]) AS n(a, b) \
                 ON CONFLICT ({a}, {b}) DO UPDATE SET last_day = EXCLUDED.last_day \
                 WHERE {table}.last_day < EXCLUDED.last_day)",
                p1 = next,
                p2 = next + 1,
                day = next + 2,
            ));
            next += 3;
        }
        if !self.dirty_hours.is_empty() {
            ctes.push(format!(
                "dirty AS (INSERT INTO zipkin_dependency_dirty (hour) \
                 SELECT h FROM UNNEST(${next}::int4[]) AS d(h))"
            ));
        }
        ctes
    }

    fn bind<'q>(&'q self, mut q: PgQuery<'q>) -> PgQuery<'q> {
        for list in [&self.span_names, &self.remotes, &self.tags] {
            if !list.is_empty() {
                let (a, b): (Vec<&str>, Vec<&str>) =
                    list.iter().map(|(a, b)| (a.as_str(), b.as_str())).unzip();
                q = q.bind(a).bind(b).bind(self.day);
            }
        }
        if !self.dirty_hours.is_empty() {
            q = q.bind(self.dirty_hours.as_slice());
        }
        q
    }
}

/// `rows` in `COPY`'s binary format, in the column order of [`COPY_SPANS`].
fn copy_data(rows: &[SpanRow]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(32 + rows.len() * 400);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes()); // flags
    buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for r in rows {
        buf.extend_from_slice(&13i16.to_be_bytes());
        for v in [Some(r.trace_id_high), Some(r.trace_id), Some(r.id)] {
            copy_i64(&mut buf, v);
        }
        for v in [r.parent_id, r.ts, r.duration, Some(r.content_hash)] {
            copy_i64(&mut buf, v);
        }
        buf.extend_from_slice(&4i32.to_be_bytes());
        buf.extend_from_slice(&r.day.to_be_bytes());
        for s in [&r.local_service, &r.remote_service, &r.name] {
            copy_bytes(&mut buf, s.as_ref().map(String::as_bytes));
        }
        match &r.search_keys {
            // NULL for no keys, as the fallback statement stores it.
            Some(keys) if !keys.is_empty() => {
                // One-dimensional int4[]: ndim, has-nulls, element type oid (int4 = 23),
                // length and lower bound, then (length, value) per element.
                let len = 20 + keys.len() * 8;
                buf.extend_from_slice(&(len as i32).to_be_bytes());
                for v in [1i32, 0, 23, keys.len() as i32, 1] {
                    buf.extend_from_slice(&v.to_be_bytes());
                }
                for k in keys {
                    buf.extend_from_slice(&4i32.to_be_bytes());
                    buf.extend_from_slice(&k.to_be_bytes());
                }
            }
            _ => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
        copy_bytes(&mut buf, Some(&r.body));
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    buf
}

impl PostgresStore {
    /// Benchmark baseline: writes `spans` as the very rows [`crate::storage::SpanStore::accept`] would,
    /// with one binary `COPY` in its own transaction and nothing else (no de-duplication,
    /// no names, no dependency marks). `BENCHMARKS.md` compares ingest against this.
    #[doc(hidden)]
    pub async fn copy_rows_for_benchmark(&self, spans: &[Span]) -> Result<(), StorageError> {
        let now = now_micros();
        let search = self.options().search_enabled;
        let rows: Vec<SpanRow> = spans.iter().map(|s| encode_row(s, now, search)).collect();
        let days: BTreeSet<i32> = rows.iter().map(|r| r.day).collect();
        self.ensure_partitions(&days).await?;

        let mut conn = self.inner.pool.acquire().await.map_err(db_error)?;
        let mut copy = conn.copy_in_raw(COPY_SPANS).await.map_err(db_error)?;
        copy.send(copy_data(&rows)).await.map_err(db_error)?;
        copy.finish().await.map_err(db_error)?;
        Ok(())
    }
}

fn copy_i64(buf: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => {
            buf.extend_from_slice(&8i32.to_be_bytes());
            buf.extend_from_slice(&v.to_be_bytes());
        }
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

fn copy_bytes(buf: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => {
            buf.extend_from_slice(&(v.len() as i32).to_be_bytes());
            buf.extend_from_slice(v);
        }
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}
