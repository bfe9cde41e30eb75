//! Day partitions, retention and the background loop.
//!
//! `zipkin_spans` is range-partitioned by UTC day (`zipkin_spans_YYYYMMDD`). Partitions
//! for today and the next two days are created ahead by the background loop, so the write
//! path normally issues no DDL; a span of any other day (late data, backfills, clock skew)
//! creates its partition on demand. Retention drops whole partitions: no row deletes, no
//! vacuum debt.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::codec::day_of;
use super::{db_error, now_micros, PostgresStore};
use crate::storage::StorageError;

/// How often the background loop runs.
const TICK: Duration = Duration::from_secs(60);

/// Days created ahead of today.
const DAYS_AHEAD: i32 = 2;

impl PostgresStore {
    /// Creates the partitions of `days` that this process has not seen yet.
    pub(super) async fn ensure_partitions(&self, days: &BTreeSet<i32>) -> Result<(), StorageError> {
        let missing: Vec<i32> = {
            let known = self.inner.partitions.lock();
            days.iter()
                .copied()
                .filter(|d| !known.contains(d))
                .collect()
        };
        for day in missing {
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF zipkin_spans FOR VALUES FROM ({day}) TO ({})",
                partition_name(day),
                day + 1
            );
            match sqlx::query(&sql).execute(&self.inner.pool).await {
                Ok(_) => {}
                // Another writer created it between our check and our statement:
                // duplicate_table, or unique_violation on the catalog.
                Err(sqlx::Error::Database(e))
                    if matches!(e.code().as_deref(), Some("42P07") | Some("23505")) => {}
                Err(e) => return Err(db_error(e)),
            }
            debug!(day, "partition ready");
            self.inner.partitions.lock().insert(day);
        }
        Ok(())
    }

    pub(super) fn forget_partitions(&self, days: &BTreeSet<i32>) {
        let mut known = self.inner.partitions.lock();
        for d in days {
            known.remove(d);
        }
    }

    /// Loads the existing partitions into the cache and creates today's and the next
    /// days' ones.
    pub(super) async fn ensure_partitions_ahead(&self) -> Result<(), StorageError> {
        let existing = self.list_partitions().await?;
        self.inner.partitions.lock().extend(existing);
        let today = day_of(now_micros());
        let days: BTreeSet<i32> = (today..=today + DAYS_AHEAD).collect();
        self.ensure_partitions(&days).await
    }

    /// Day numbers (days since 1970-01-01 UTC) of the existing `zipkin_spans` partitions.
    pub async fn list_partitions(&self) -> Result<Vec<i32>, StorageError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'zipkin_spans'::regclass",
        )
        .fetch_all(&self.inner.pool)
        .await
        .map_err(db_error)?;
        Ok(rows
            .iter()
            .filter_map(|(name,)| parse_partition_name(name))
            .collect())
    }

    /// Drops every day partition that ended more than `STORAGE_RETENTION` ago, and the
    /// names, autocomplete values and dependency hours that only they referenced.
    /// Returns the dropped days. A no-op without retention.
    pub async fn apply_retention(&self) -> Result<Vec<i32>, StorageError> {
        let Some(retention) = self.inner.config.retention else {
            return Ok(Vec::new());
        };
        self.apply_retention_at(now_micros(), retention).await
    }

    /// [`PostgresStore::apply_retention`] as if the time were `now_micros` (tests).
    pub async fn apply_retention_at(
        &self,
        now_micros: i64,
        retention: Duration,
    ) -> Result<Vec<i32>, StorageError> {
        // Keep a day while any part of it is younger than the retention.
        let cutoff_day = day_of(now_micros - retention.as_micros() as i64);
        let mut dropped = Vec::new();
        for day in self.list_partitions().await? {
            if day >= cutoff_day {
                continue;
            }
            let mut tx = self.inner.pool.begin().await.map_err(db_error)?;
            // Dropping a partition briefly locks the parent; never queue behind a long
            // query for it, the next round will try again.
            sqlx::query("SET LOCAL lock_timeout = '5s'")
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query(&format!("DROP TABLE IF EXISTS {}", partition_name(day)))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            self.forget_partitions(&BTreeSet::from([day]));
            info!(day = %format_day(day), "dropped expired span partition");
            dropped.push(day);
        }
        let cutoff_hour = cutoff_day.saturating_mul(24);
        for (sql, arg) in [
            (
                "DELETE FROM zipkin_span_names WHERE last_day < $1",
                cutoff_day,
            ),
            (
                "DELETE FROM zipkin_remote_service_names WHERE last_day < $1",
                cutoff_day,
            ),
            (
                "DELETE FROM zipkin_autocomplete_tags WHERE last_day < $1",
                cutoff_day,
            ),
            (
                "DELETE FROM zipkin_dependencies WHERE hour < $1",
                cutoff_hour,
            ),
            (
                "DELETE FROM zipkin_dependency_dirty WHERE hour < $1",
                cutoff_hour,
            ),
        ] {
            sqlx::query(sql)
                .bind(arg)
                .execute(&self.inner.pool)
                .await
                .map_err(db_error)?;
        }
        if !dropped.is_empty() {
            // Names cached with an old last_day must be written again to survive.
            self.inner.names.lock().clear();
        }
        Ok(dropped)
    }

    pub(super) async fn background_loop(&self, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            if let Err(e) = self.ensure_partitions_ahead().await {
                warn!(error = %e, "could not create span partitions ahead");
            }
            if let Err(e) = self.apply_retention().await {
                warn!(error = %e, "retention failed");
            }
            // Aggregation works in bounded steps; keep going while there is a backlog,
            // but give shutdown a chance between steps.
            loop {
                if shutdown.is_cancelled() {
                    break;
                }
                match self.aggregate_dependencies_step(now_micros()).await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) => {
                        warn!(error = %e, "dependency aggregation failed");
                        break;
                    }
                }
            }
        }
        debug!("postgres background task stopped");
    }
}

/// `zipkin_spans_YYYYMMDD` for a day number.
pub(super) fn partition_name(day: i32) -> String {
    format!("zipkin_spans_{}", format_day(day).replace('-', ""))
}

fn parse_partition_name(name: &str) -> Option<i32> {
    let digits = name.strip_prefix("zipkin_spans_")?;
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, md) = digits.split_at(digits.len() - 4);
    let (m, d) = md.split_at(2);
    Some(days_from_civil(
        y.parse().ok()?,
        m.parse().ok()?,
        d.parse().ok()?,
    ))
}

/// `YYYY-MM-DD` of a UTC day number.
pub(super) fn format_day(day: i32) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day number.
fn civil_from_days(z: i32) -> (i64, u32, u32) {
    let z = i64::from(z) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip_through_day_numbers() {
        assert_eq!(partition_name(0), "zipkin_spans_19700101");
        assert_eq!(format_day(19_675), "2023-11-14");
        for day in [0, 59, 60, 11_016, 19_675, 20_415, 100_000] {
            assert_eq!(parse_partition_name(&partition_name(day)), Some(day));
        }
        assert_eq!(parse_partition_name("zipkin_spans_default"), None);
        assert_eq!(parse_partition_name("other_20240101"), None);
    }
}
