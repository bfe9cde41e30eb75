//! `/api/v2/dependencies`: an hourly aggregate plus on-demand linking of the rest.
//!
//! Every trace is counted once, at the time of its earliest span (spans grouped by the low
//! 64 bits of the trace id, as Zipkin's linker does). The aggregation task links quiet
//! traces in 5-minute slices (a slice is quiet once it ended `POSTGRES_DEPENDENCY_QUIET`
//! ago) and adds each slice to `zipkin_dependencies` rows of its UTC hour in the same
//! transaction that advances the watermark, so every slice is added exactly once. Spans
//! that arrive later than that for an aggregated hour (late fragments, replays, backfills)
//! mark the hour dirty; the task then re-links the whole hour and replaces its rows, so
//! replays never double-count.
//!
//! A window `[endTs - lookback, endTs]` is answered as
//! - the sum of the hourly rows of every aggregated, clean hour it overlaps: like Zipkin's
//!   aggregating backends (which bucket by UTC day), such an hour counts whole; plus
//! - exact on-demand linking (load the traces, run the linker) of the rest: the part of the
//!   window after the watermark (the last few minutes) and dirty hours.
//!
//! With nothing aggregated yet (a new store, or the task not running) every answer is
//! exact, which is what the conformance suite sees. A week of history costs ~170 small
//! rows per link instead of every span of the week.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::StreamExt;
use sqlx::Row;
use tokio_util::task::AbortOnDropHandle;

use super::codec::{day_of, decode_row_for_linking, hour_of, StoredSpan, MICROS_PER_HOUR};
use super::{db_error, PostgresStore};
use crate::model::{DependencyLink, Span};
use crate::storage::StorageError;
use crate::trace::DependencyLinker;

/// Width of an aggregation step: the on-demand part of a window ends up at most this much
/// older than the quiet period.
const SLICE_MICROS: i64 = 5 * 60 * 1_000_000;

/// Traces loaded per round trip while linking on demand.
const TRACES_PER_CHUNK: usize = 1_000;

/// Chunks loaded and linked at once: enough to keep PostgreSQL and this process busy at
/// the same time, few enough to leave the pool's other connections to ingest.
const LINK_CONCURRENCY: usize = 2;

/// A dirty mark must be this old (seconds) before its hour is re-aggregated, so a burst of
/// late spans costs one re-aggregation, not one per batch.
const DIRTY_SETTLE_SECS: i64 = 60;

/// Sums of one (parent, child) edge.
type LinkCounts = BTreeMap<(String, String), (u64, u64)>;

impl PostgresStore {
    pub(super) async fn dependencies(
        &self,
        end_ts: i64,
        lookback: i64,
    ) -> Result<Vec<DependencyLink>, StorageError> {
        let b = end_ts.saturating_mul(1000);
        let a = end_ts.saturating_sub(lookback).max(0).saturating_mul(1000);
        let (watermark, dirty) = self.aggregation_state().await?;

        let mut counts = LinkCounts::new();
        let mut ranges: Vec<(i64, i64)> = Vec::new();
        match watermark {
            Some(w) if a < w => {
                // Hours overlapping the aggregated part of the window.
                let first = hour_of(a);
                let last = hour_of(b.min(w - 1));
                let dirty_in: Vec<i32> = dirty
                    .iter()
                    .copied()
                    .filter(|&h| h >= first && h <= last)
                    .collect();
                let rows = sqlx::query(
                    "SELECT parent, child, sum(call_count)::int8, sum(error_count)::int8 \
                     FROM zipkin_dependencies WHERE hour BETWEEN $1 AND $2 AND hour <> ALL($3) \
                     GROUP BY parent, child",
                )
                .bind(first)
                .bind(last)
                .bind(&dirty_in)
                .fetch_all(&self.inner.pool)
                .await
                .map_err(db_error)?;
                for row in rows {
                    let calls: i64 = row.get(2);
                    let errors: i64 = row.get(3);
                    add(
                        &mut counts,
                        row.get(0),
                        row.get(1),
                        calls as u64,
                        errors as u64,
                    );
                }
                for h in dirty_in {
                    let start = i64::from(h) * MICROS_PER_HOUR;
                    let end = (start + MICROS_PER_HOUR - 1).min(w - 1);
                    ranges.push((a.max(start), b.min(end)));
                }
                if b >= w {
                    ranges.push((w, b));
                }
            }
            _ => ranges.push((a, b)),
        }

        for link in self.link_ranges(&merge_ranges(ranges)).await? {
            add(
                &mut counts,
                link.parent,
                link.child,
                link.call_count,
                link.error_count,
            );
        }
        Ok(counts
            .into_iter()
            .map(|((parent, child), (calls, errors))| {
                DependencyLink::new(parent, child, calls, errors)
            })
            .collect())
    }

    /// The aggregation watermark (µs; traces starting before it are aggregated) and the
    /// dirty hours.
    async fn aggregation_state(&self) -> Result<(Option<i64>, BTreeSet<i32>), StorageError> {
        let row = sqlx::query(
            "SELECT (SELECT watermark FROM zipkin_dependency_state), \
             ARRAY(SELECT DISTINCT hour FROM zipkin_dependency_dirty)",
        )
        .fetch_one(&self.inner.pool)
        .await
        .map_err(db_error)?;
        let watermark: Option<i64> = row.get(0);
        let dirty: Vec<i32> = row.get(1);
        Ok((watermark, dirty.into_iter().collect()))
    }

    /// Links the traces whose earliest timestamp lies in one of the (inclusive, µs) ranges.
    ///
    /// The trace ids come first (an index scan of the ranges), then the traces are loaded
    /// and linked in chunks, [`LINK_CONCURRENCY`] chunks at a time on their own tasks, so
    /// PostgreSQL reads the next chunks while this process decodes and links the current
    /// ones. Each trace is counted in the chunk that loads it, and only if its earliest
    /// span lies in the range that listed it, so sums over chunks are exact.
    async fn link_ranges(
        &self,
        ranges: &[(i64, i64)],
    ) -> Result<Vec<DependencyLink>, StorageError> {
        let mut chunks: Vec<(Vec<i64>, i64, i64)> = Vec::new();
        for &(lo, hi) in ranges {
            let lows: Vec<i64> = sqlx::query_scalar(
                "SELECT DISTINCT trace_id FROM zipkin_spans \
                 WHERE day BETWEEN $1 AND $2 AND ts BETWEEN $3 AND $4",
            )
            .bind(day_of(lo))
            .bind(day_of(hi))
            .bind(lo)
            .bind(hi)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(db_error)?;
            chunks.extend(
                lows.chunks(TRACES_PER_CHUNK)
                    .map(|chunk| (chunk.to_vec(), lo, hi)),
            );
        }
        let concurrency = LINK_CONCURRENCY.min(self.inner.config.max_connections.max(1) as usize);
        let mut linked = futures::stream::iter(chunks)
            .map(|(lows, lo, hi)| {
                let store = self.clone();
                // Aborted when dropped, so a request that timed out stops its loads.
                AbortOnDropHandle::new(tokio::spawn(async move {
                    store.link_chunk(&lows, lo, hi).await
                }))
            })
            .buffer_unordered(concurrency);
        let mut counts = LinkCounts::new();
        while let Some(joined) = linked.next().await {
            let links = joined
                .map_err(|e| StorageError::Internal(format!("linking task failed: {e}")))??;
            for link in links {
                add(
                    &mut counts,
                    link.parent,
                    link.child,
                    link.call_count,
                    link.error_count,
                );
            }
        }
        Ok(counts
            .into_iter()
            .map(|((parent, child), (calls, errors))| {
                DependencyLink::new(parent, child, calls, errors)
            })
            .collect())
    }

    /// Links the traces with these low ids whose earliest span lies in `[lo, hi]`.
    async fn link_chunk(
        &self,
        lows: &[i64],
        lo: i64,
        hi: i64,
    ) -> Result<Vec<DependencyLink>, StorageError> {
        let mut linker = DependencyLinker::new();
        for spans in self.load_by_low_id(lows).await?.into_values() {
            if earliest_timestamp(&spans).is_some_and(|ts| ts >= lo && ts <= hi) {
                linker.put_trace(&spans);
            }
        }
        Ok(linker.link())
    }

    /// Spans grouped by the low 64 bits of their trace id: the dependency linker's notion
    /// of a trace, whatever `STRICT_TRACE_ID` says. Only what the linker reads is selected
    /// and decoded.
    async fn load_by_low_id(&self, lows: &[i64]) -> Result<HashMap<i64, Vec<Span>>, StorageError> {
        let rows = sqlx::query(
            "SELECT trace_id_high, trace_id, id, parent_id, ts, local_service, \
             remote_service, body FROM zipkin_spans WHERE trace_id = ANY($1)",
        )
        .bind(lows)
        .fetch_all(&self.inner.pool)
        .await
        .map_err(db_error)?;
        let mut groups: HashMap<i64, Vec<Span>> = HashMap::new();
        for row in rows {
            let stored = (|| -> Result<StoredSpan, sqlx::Error> {
                Ok(StoredSpan {
                    trace_id_high: row.try_get(0)?,
                    trace_id: row.try_get(1)?,
                    id: row.try_get(2)?,
                    parent_id: row.try_get(3)?,
                    ts: row.try_get(4)?,
                    duration: None,
                    local_service: row.try_get(5)?,
                    remote_service: row.try_get(6)?,
                    name: None,
                    body: row.try_get(7)?,
                })
            })()
            .map_err(db_error)?;
            let span = decode_row_for_linking(stored)
                .map_err(|e| StorageError::Internal(e.to_string()))?;
            groups
                .entry(span.trace_id.low() as i64)
                .or_default()
                .push(span);
        }
        Ok(groups)
    }

    /// Runs the aggregation until it has caught up with `now_micros` (tests and
    /// benchmarks; the background task calls [`PostgresStore::aggregate_dependencies_step`]).
    pub async fn aggregate_dependencies(&self, now_micros: i64) -> Result<(), StorageError> {
        while self.aggregate_dependencies_step(now_micros).await? {}
        Ok(())
    }

    /// One unit of aggregation work: re-links one settled dirty hour, or links the next
    /// quiet 5-minute slice and advances the watermark. Returns whether work remains.
    /// Safe to run from several instances at once: one transaction-scoped advisory lock
    /// per schema lets only one of them work at a time.
    pub async fn aggregate_dependencies_step(&self, now_micros: i64) -> Result<bool, StorageError> {
        let quiet_before = now_micros - self.inner.config.dependency_quiet.as_micros() as i64;
        let target = quiet_before.div_euclid(SLICE_MICROS) * SLICE_MICROS;
        let mut tx = self.inner.pool.begin().await.map_err(db_error)?;
        let locked: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.zipkin_dependencies'))",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        if !locked {
            return Ok(false);
        }
        let watermark: Option<i64> =
            sqlx::query_scalar("SELECT watermark FROM zipkin_dependency_state FOR UPDATE")
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;

        // Settled dirty hours with aggregated data come first: until redone they are
        // linked on demand.
        if let Some(w) = watermark {
            let dirty: Option<i32> = sqlx::query_scalar(
                "SELECT hour FROM zipkin_dependency_dirty WHERE hour <= $1 GROUP BY hour \
                 HAVING max(marked_at) < to_timestamp($2::float8 / 1000000.0) \
                 ORDER BY hour LIMIT 1",
            )
            .bind(hour_of(w - 1))
            .bind((now_micros - DIRTY_SETTLE_SECS * 1_000_000) as f64)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            if let Some(hour) = dirty {
                let seen = self.dirty_marks(&mut tx, hour).await?;
                let start = i64::from(hour) * MICROS_PER_HOUR;
                let end = (start + MICROS_PER_HOUR).min(w);
                let links = self.link_ranges(&[(start, end - 1)]).await?;
                sqlx::query("DELETE FROM zipkin_dependencies WHERE hour = $1")
                    .bind(hour)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                add_links(&mut tx, hour, &links).await?;
                clear_marks(&mut tx, &seen).await?;
                tx.commit().await.map_err(db_error)?;
                return Ok(true);
            }
        }

        let from = watermark.unwrap_or(i64::MIN);
        if from >= target {
            return Ok(false);
        }
        // Skip time without spans: jump to the slice of the first timestamped span at or
        // after the watermark.
        let next_ts: Option<i64> =
            sqlx::query_scalar("SELECT min(ts) FROM zipkin_spans WHERE ts >= $1 AND ts < $2")
                .bind(from.max(0))
                .bind(target)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
        let new_watermark = match next_ts {
            None => target,
            Some(ts) => {
                let start = ts.div_euclid(SLICE_MICROS) * SLICE_MICROS;
                let hour = hour_of(start);
                // Marks on an hour of which nothing was aggregated yet are moot: its
                // first slice is being linked now, from current data.
                let first_of_hour = watermark.is_none_or(|w| hour_of(w - 1) < hour);
                let seen = if first_of_hour {
                    self.dirty_marks(&mut tx, hour).await?
                } else {
                    Vec::new()
                };
                let links = self
                    .link_ranges(&[(start, start + SLICE_MICROS - 1)])
                    .await?;
                add_links(&mut tx, hour, &links).await?;
                clear_marks(&mut tx, &seen).await?;
                start + SLICE_MICROS
            }
        };
        sqlx::query("UPDATE zipkin_dependency_state SET watermark = $1")
            .bind(new_watermark)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(new_watermark < target)
    }

    /// Ids of the dirty marks of an hour, read before its spans are, so that only marks
    /// this pass has accounted for are cleared.
    async fn dirty_marks(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        hour: i32,
    ) -> Result<Vec<i64>, StorageError> {
        sqlx::query_scalar("SELECT id FROM zipkin_dependency_dirty WHERE hour = $1")
            .bind(hour)
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)
    }
}

/// Adds links to an hour's rows (creating them as needed).
async fn add_links(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    hour: i32,
    links: &[DependencyLink],
) -> Result<(), StorageError> {
    if links.is_empty() {
        return Ok(());
    }
    let parents: Vec<&str> = links.iter().map(|l| l.parent.as_str()).collect();
    let children: Vec<&str> = links.iter().map(|l| l.child.as_str()).collect();
    let calls: Vec<i64> = links.iter().map(|l| l.call_count as i64).collect();
    let errors: Vec<i64> = links.iter().map(|l| l.error_count as i64).collect();
    sqlx::query(
        "INSERT INTO zipkin_dependencies (hour, parent, child, call_count, error_count) \
         SELECT $1, p, c, n, e FROM UNNEST($2::text[], $3::text[], $4::int8[], $5::int8[]) \
         AS l(p, c, n, e) \
         ON CONFLICT (hour, parent, child) DO UPDATE SET \
         call_count = zipkin_dependencies.call_count + EXCLUDED.call_count, \
         error_count = zipkin_dependencies.error_count + EXCLUDED.error_count",
    )
    .bind(hour)
    .bind(parents)
    .bind(children)
    .bind(calls)
    .bind(errors)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn clear_marks(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    ids: &[i64],
) -> Result<(), StorageError> {
    if !ids.is_empty() {
        sqlx::query("DELETE FROM zipkin_dependency_dirty WHERE id = ANY($1)")
            .bind(ids)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// The time a trace is counted at: its earliest span timestamp. Unlike the search's trace
/// timestamp (the root span's), it does not depend on which of several parentless
/// fragments comes first, so the aggregate and on-demand linking always agree.
fn earliest_timestamp(spans: &[Span]) -> Option<i64> {
    spans
        .iter()
        .filter_map(|s| s.timestamp)
        .min()
        .map(|t| t as i64)
}

fn add(counts: &mut LinkCounts, parent: String, child: String, calls: u64, errors: u64) {
    let entry = counts.entry((parent, child)).or_insert((0, 0));
    entry.0 += calls;
    entry.1 += errors;
}

/// Sorts and joins adjacent or overlapping inclusive ranges.
fn merge_ranges(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_when_adjacent_or_overlapping() {
        assert_eq!(
            merge_ranges(vec![(10, 19), (0, 9), (30, 40), (35, 50)]),
            vec![(0, 19), (30, 50)]
        );
    }
}
