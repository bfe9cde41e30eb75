//! Trace lookups and `/api/v2/traces` search.
//!
//! Search is two-phase. Candidate rows come from an index scan ordered by timestamp,
//! newest first (`(local_service, ts)` with a service, `(ts)` without), restricted to the
//! window and to rows that satisfy at least one criterion; each candidate row carries one
//! boolean per criterion so a trace becomes a candidate once its rows together satisfy all
//! of them (criteria may be met by different spans, as in Zipkin). Candidates are then
//! loaded whole and checked with [`QueryRequest::test`], which also settles the window on
//! the trace timestamp and any hash collision of the tag index. The scan stops as soon as
//! `limit` traces passed, so a typical search reads a few hundred index entries.

use std::collections::{HashMap, HashSet, VecDeque};

use sqlx::Row;

use super::codec::{day_of, decode_row, search_key_tag, search_key_term, StoredSpan};
use super::{db_error, PostgresStore};
use crate::model::{trace_timestamp, QueryRequest, Span, TraceId};
use crate::storage::StorageError;

const TRACES_BY_LOW_IDS: &str = "SELECT trace_id_high, trace_id, id, parent_id, ts, \
     duration, local_service, remote_service, name, body FROM zipkin_spans \
     WHERE trace_id = ANY($1)";
const TRACE_BY_ID: &str = "SELECT trace_id_high, trace_id, id, parent_id, ts, duration, \
     local_service, remote_service, name, body FROM zipkin_spans \
     WHERE trace_id = $1 AND trace_id_high = $2";
const TRACE_BY_LOW_ID: &str = "SELECT trace_id_high, trace_id, id, parent_id, ts, duration, \
     local_service, remote_service, name, body FROM zipkin_spans WHERE trace_id = $1";

/// Candidate rows fetched by the first page of a search, and at most per page.
const FIRST_PAGE: i64 = 100;
const MAX_PAGE: i64 = 5_000;

/// Trace ids per `= ANY($1)` lookup.
const IDS_PER_LOOKUP: usize = 1_000;

/// What groups spans into a trace: the full id, or its low 64 bits when
/// `STRICT_TRACE_ID=false`.
type TraceKey = (i64, i64);

impl PostgresStore {
    fn trace_key(&self, high: i64, low: i64) -> TraceKey {
        if self.options().strict_trace_id {
            (high, low)
        } else {
            (0, low)
        }
    }

    /// Loads the requested traces; unknown ids are absent from the result.
    pub(super) async fn load_traces(
        &self,
        ids: &[TraceId],
    ) -> Result<Vec<Vec<Span>>, StorageError> {
        let wanted: Vec<TraceKey> = ids
            .iter()
            .map(|id| self.trace_key(id.high() as i64, id.low() as i64))
            .collect();
        let mut groups = self.load_groups(&wanted).await?;
        let mut out = Vec::with_capacity(wanted.len());
        let mut seen = HashSet::new();
        for key in wanted {
            if seen.insert(key) {
                if let Some(spans) = groups.remove(&key) {
                    out.push(spans);
                }
            }
        }
        Ok(out)
    }

    /// One trace (`GET /api/v2/trace/{id}`): the lookup of [`PostgresStore::load_groups`]
    /// as one small statement, with the high bits compared by PostgreSQL.
    pub(super) async fn load_trace(&self, id: TraceId) -> Result<Vec<Span>, StorageError> {
        let strict = self.options().strict_trace_id;
        let rows = self
            .fetch_all(|| {
                if strict {
                    sqlx::query(TRACE_BY_ID)
                        .bind(id.low() as i64)
                        .bind(id.high() as i64)
                } else {
                    sqlx::query(TRACE_BY_LOW_ID).bind(id.low() as i64)
                }
            })
            .await?;
        rows.iter().map(span_from_row).collect()
    }

    /// Spans of the given trace keys, grouped by key.
    pub(super) async fn load_groups(
        &self,
        keys: &[TraceKey],
    ) -> Result<HashMap<TraceKey, Vec<Span>>, StorageError> {
        let wanted: HashSet<TraceKey> = keys.iter().copied().collect();
        let mut lows: Vec<i64> = keys.iter().map(|k| k.1).collect();
        lows.sort_unstable();
        lows.dedup();
        let mut groups: HashMap<TraceKey, Vec<Span>> = HashMap::new();
        for chunk in lows.chunks(IDS_PER_LOOKUP) {
            let rows = self
                .fetch_all(|| sqlx::query(TRACES_BY_LOW_IDS).bind(chunk))
                .await?;
            for row in rows {
                let span = span_from_row(&row)?;
                let key = self.trace_key(span.trace_id.high() as i64, span.trace_id.low() as i64);
                if wanted.contains(&key) {
                    groups.entry(key).or_default().push(span);
                }
            }
        }
        Ok(groups)
    }

    pub(super) async fn search(
        &self,
        request: &QueryRequest,
    ) -> Result<Vec<Vec<Span>>, StorageError> {
        let start = request.start_micros();
        let end = request.end_micros();
        if end < start || end < 0 {
            return Ok(Vec::new());
        }
        let plan = SearchPlan::new(request);
        let mut binds = Binds::default();
        let day_lo = binds.push_i32(day_of(start.max(0)));
        let day_hi = binds.push_i32(day_of(end));
        let ts_lo = binds.push_i64(start);
        let mut where_ = format!("day BETWEEN ${day_lo} AND ${day_hi} AND ts >= ${ts_lo}");
        if let Some(service) = &request.service_name {
            let p = binds.push_text(service.clone());
            where_.push_str(&format!(" AND local_service = ${p}"));
        }
        let mut flags = Vec::new();
        for criterion in &plan.criteria {
            flags.push(criterion.sql(&mut binds));
        }
        if !flags.is_empty() {
            where_.push_str(&format!(" AND ({})", flags.join(" OR ")));
        }
        let flag_columns: String = flags.iter().map(|f| format!(", {f}")).collect();
        let cursor_param = binds.next_index();
        let base = format!(
            "SELECT trace_id_high, trace_id, ts{flag_columns} FROM zipkin_spans WHERE {where_}"
        );
        // Page: rows strictly older than the cursor, newest first. A page that ends inside
        // a run of equal timestamps is cut before that run, and a run longer than a page
        // is read whole with `ts = cursor`, so no row is skipped.
        let page_sql = format!(
            "{base} AND ts <= ${cursor_param} ORDER BY ts DESC LIMIT ${}",
            cursor_param + 1
        );
        let tie_sql = format!("{base} AND ts = ${cursor_param}");

        let full_mask: u64 = if plan.criteria.is_empty() {
            0
        } else {
            (1u64 << plan.criteria.len()) - 1
        };
        let mut masks: HashMap<TraceKey, u64> = HashMap::new();
        let mut checked: HashSet<TraceKey> = HashSet::new();
        let mut found: Vec<(u64, Vec<Span>)> = Vec::new();
        let mut queue: VecDeque<TraceKey> = VecDeque::new();
        let mut cursor = end;
        // Small first page (most searches are satisfied by the newest rows), doubling
        // while more are needed.
        let mut page =
            FIRST_PAGE.max(request.limit.saturating_mul(4).min(MAX_PAGE as usize) as i64);

        loop {
            let rows = self
                .fetch_all(|| binds.apply(sqlx::query(&page_sql)).bind(cursor).bind(page))
                .await?;
            let exhausted = (rows.len() as i64) < page;
            let (rows, next_cursor) = if exhausted {
                (rows, None)
            } else {
                let last_ts: i64 = rows.last().expect("page is full").get(2);
                let first_ts: i64 = rows[0].get(2);
                if first_ts == last_ts {
                    // One timestamp fills the page: read all of its rows.
                    let all = self
                        .fetch_all(|| binds.apply(sqlx::query(&tie_sql)).bind(last_ts))
                        .await?;
                    (all, Some(last_ts - 1))
                } else {
                    let keep = rows
                        .iter()
                        .take_while(|r| r.get::<i64, _>(2) > last_ts)
                        .count();
                    let mut rows = rows;
                    rows.truncate(keep);
                    (rows, Some(last_ts))
                }
            };

            // Traces completed by this page join the queue in the order their newest row
            // appeared.
            for row in &rows {
                let key = self.trace_key(row.get(0), row.get(1));
                if checked.contains(&key) {
                    continue;
                }
                let mut mask = 0u64;
                for i in 0..plan.criteria.len() {
                    if row.get::<Option<bool>, _>(3 + i).unwrap_or(false) {
                        mask |= 1 << i;
                    }
                }
                let m = masks.entry(key).or_insert(0);
                *m |= mask;
                if *m == full_mask {
                    checked.insert(key);
                    masks.remove(&key);
                    queue.push_back(key);
                }
            }
            // Verify only as many candidates as may still be needed (most pass), so a
            // search for 10 traces loads about 10 traces.
            while found.len() < request.limit && !queue.is_empty() {
                let want = (request.limit - found.len()).saturating_add(2);
                let chunk: Vec<TraceKey> = queue.drain(..want.min(queue.len())).collect();
                let mut groups = self.load_groups(&chunk).await?;
                for key in chunk {
                    let Some(spans) = groups.remove(&key) else {
                        continue;
                    };
                    if request.test(&spans) {
                        let ts = trace_timestamp(&spans).unwrap_or(0);
                        found.push((ts, spans));
                    }
                }
            }
            if found.len() >= request.limit {
                break;
            }
            page = (page * 2).min(MAX_PAGE);
            match next_cursor {
                Some(c) => cursor = c,
                None => break,
            }
        }
        found.sort_by_key(|(ts, _)| std::cmp::Reverse(*ts));
        found.truncate(request.limit);
        Ok(found.into_iter().map(|(_, spans)| spans).collect())
    }
}

/// The per-span criteria of a request, besides service and window.
struct SearchPlan {
    criteria: Vec<Criterion>,
}

enum Criterion {
    Remote(String),
    Name(String),
    Duration(i64, Option<i64>),
    /// Any of these search keys (a hash of the term).
    Key(i32),
}

impl SearchPlan {
    fn new(request: &QueryRequest) -> Self {
        let mut criteria = Vec::new();
        if let Some(r) = &request.remote_service_name {
            criteria.push(Criterion::Remote(r.clone()));
        }
        if let Some(n) = &request.span_name {
            criteria.push(Criterion::Name(n.clone()));
        }
        if let Some(min) = request.min_duration {
            criteria.push(Criterion::Duration(
                min as i64,
                request.max_duration.map(|m| m as i64),
            ));
        }
        for (key, value) in &request.annotation_query {
            let hash = if value.is_empty() {
                search_key_term(key)
            } else {
                search_key_tag(key, value)
            };
            criteria.push(Criterion::Key(hash));
        }
        // A mask holds at most 64 criteria; Zipkin caps annotation terms at 100, so keep
        // the first 63 in SQL and leave the rest to the exact re-check.
        criteria.truncate(63);
        Self { criteria }
    }
}

impl Criterion {
    fn sql(&self, binds: &mut Binds) -> String {
        match self {
            Criterion::Remote(r) => format!("(remote_service = ${})", binds.push_text(r.clone())),
            Criterion::Name(n) => format!("(name = ${})", binds.push_text(n.clone())),
            Criterion::Duration(min, max) => {
                let p = binds.push_i64(*min);
                match max {
                    Some(max) => format!("(duration BETWEEN ${p} AND ${})", binds.push_i64(*max)),
                    None => format!("(duration >= ${p})"),
                }
            }
            Criterion::Key(hash) => {
                format!("(search_keys @> ${})", binds.push_keys(vec![*hash]))
            }
        }
    }
}

/// Positional parameters collected while building a statement.
#[derive(Default)]
struct Binds {
    values: Vec<Bind>,
}

enum Bind {
    I32(i32),
    I64(i64),
    Text(String),
    Keys(Vec<i32>),
}

impl Binds {
    fn next_index(&self) -> usize {
        self.values.len() + 1
    }
    fn push(&mut self, b: Bind) -> usize {
        self.values.push(b);
        self.values.len()
    }
    fn push_i32(&mut self, v: i32) -> usize {
        self.push(Bind::I32(v))
    }
    fn push_i64(&mut self, v: i64) -> usize {
        self.push(Bind::I64(v))
    }
    fn push_text(&mut self, v: String) -> usize {
        self.push(Bind::Text(v))
    }
    fn push_keys(&mut self, v: Vec<i32>) -> usize {
        self.push(Bind::Keys(v))
    }
    fn apply<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        for v in &self.values {
            q = match v {
                Bind::I32(v) => q.bind(*v),
                Bind::I64(v) => q.bind(*v),
                Bind::Text(v) => q.bind(v.as_str()),
                Bind::Keys(v) => q.bind(v.as_slice()),
            };
        }
        q
    }
}

pub(super) fn span_from_row(row: &sqlx::postgres::PgRow) -> Result<Span, StorageError> {
    let get = || -> Result<StoredSpan, sqlx::Error> {
        Ok(StoredSpan {
            trace_id_high: row.try_get(0)?,
            trace_id: row.try_get(1)?,
            id: row.try_get(2)?,
            parent_id: row.try_get(3)?,
            ts: row.try_get(4)?,
            duration: row.try_get(5)?,
            local_service: row.try_get(6)?,
            remote_service: row.try_get(7)?,
            name: row.try_get(8)?,
            body: row.try_get(9)?,
        })
    };
    let stored = get().map_err(db_error)?;
    decode_row(stored).map_err(|e| StorageError::Internal(e.to_string()))
}
