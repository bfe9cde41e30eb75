//! PostgreSQL storage (`STORAGE_TYPE=postgres`): spans in day-partitioned tables, search
//! through indexed columns, dependency links aggregated per hour in the background.
//!
//! Module map:
//! - [`config`]: `POSTGRES_*` settings ([`PostgresConfig`]), password redaction.
//! - `codec`: one span <-> one `zipkin_spans` row (typed columns + compact binary body).
//! - `writer`: batched, idempotent writes (one binary `COPY` per batch, falling back to one
//!   `INSERT ... SELECT FROM UNNEST ... ON CONFLICT DO NOTHING` when a span is already
//!   stored; names and dependency bookkeeping in the same transaction).
//! - `read`: trace lookups and `/api/v2/traces` search.
//! - `dependencies`: the hourly link aggregate and on-demand linking of the rest.
//! - `maintenance`: partitions ahead of time, retention, the background loop.
//!
//! The schema is `migrations/0001_init.sql`; its comments say which query each index
//! serves. Errors that mean "the database is not reachable" become
//! [`StorageError::Unavailable`] (503), everything else [`StorageError::Internal`].

pub mod config;

mod codec;
mod dependencies;
mod maintenance;
mod read;
mod writer;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow, PgSslMode};
use sqlx::{ConnectOptions, Postgres, Row};
use tokio_util::sync::CancellationToken;

pub use self::config::{ConfigError, PostgresConfig};

/// The search key stored for a `key=value` tag (benchmarks compare against raw SQL).
#[doc(hidden)]
pub fn search_key_for_tag(key: &str, value: &str) -> i32 {
    codec::search_key_tag(key, value)
}
use super::{check_dependency_window, SpanStore, StorageError, StorageOptions};
use crate::model::{DependencyLink, QueryRequest, Span, TraceId};

/// How long a request waits for a pooled connection before answering 503. Short, so an
/// outage turns into fast 503s instead of piled-up requests.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The PostgreSQL backend. Cheap to clone; clones share the pool and caches.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    options: StorageOptions,
    config: PostgresConfig,
    /// Day partitions known to exist, so the write path issues DDL only for new days.
    partitions: Mutex<HashSet<i32>>,
    /// Name rows already written for (kind, a, b) with their `last_day`, so steady-state
    /// batches write no name rows at all.
    names: Mutex<HashMap<(u8, String, String), i32>>,
    /// Connections kept out of the pool for reads, with when they were taken (see
    /// [`PostgresStore::fetch_all`]).
    readers: Mutex<Vec<(Instant, PoolConnection<Postgres>)>>,
    /// How many of them to keep: none for pools too small to spare one.
    readers_kept: usize,
}

/// A kept read connection goes back to the pool after this long, so the pool's own
/// lifetime and idle rules still apply to it eventually.
const READER_KEPT_FOR: Duration = Duration::from_secs(60);

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

impl PostgresStore {
    /// Connects, applies the migrations (unless `ensure_schema` is off) and returns the
    /// store. Fails with `Unavailable` when the database cannot be reached.
    ///
    /// Background work (partitions ahead, retention, dependency aggregation) is not
    /// started here: call [`PostgresStore::start_background`].
    pub async fn connect(
        config: PostgresConfig,
        options: StorageOptions,
    ) -> Result<PostgresStore, StorageError> {
        let connect_options = connect_options(&config)?;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A ping per checkout would cost a round trip per request; broken connections
            // surface as I/O errors instead, are dropped by the pool and retried once.
            .test_before_acquire(false)
            .idle_timeout(Some(Duration::from_secs(300)))
            .connect_lazy_with(connect_options);

        if config.ensure_schema {
            if let Some(schema) = &config.schema {
                // The identifier was validated by the config, so splicing is safe.
                sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                    .execute(&pool)
                    .await
                    .map_err(db_error)?;
            }
            sqlx::migrate!("./migrations")
                .run(&pool)
                .await
                .map_err(|e| match e {
                    sqlx::migrate::MigrateError::Execute(e) => db_error(e),
                    other => StorageError::Internal(format!("schema migration failed: {other}")),
                })?;
        } else {
            // Fail fast on a wrong address or a missing schema, as ensure_schema would.
            sqlx::query("SELECT 1 FROM zipkin_dependency_state")
                .execute(&pool)
                .await
                .map_err(db_error)?;
        }

        let readers_kept = usize::from(config.max_connections >= 3);
        let store = PostgresStore {
            inner: Arc::new(Inner {
                pool,
                options,
                config,
                partitions: Mutex::new(HashSet::new()),
                names: Mutex::new(HashMap::new()),
                readers: Mutex::new(Vec::new()),
                readers_kept,
            }),
        };
        store.ensure_partitions_ahead().await?;
        Ok(store)
    }

    /// Starts the background task: day partitions created ahead, retention (when
    /// configured) and dependency aggregation. It stops when `shutdown` is cancelled;
    /// await the handle to wait for it.
    pub fn start_background(&self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move { store.background_loop(shutdown).await })
    }

    /// The connection pool (for benchmarks and tests that look at the tables directly).
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    fn options(&self) -> &StorageOptions {
        &self.inner.options
    }

    /// Runs a read statement (built by `query`, perhaps twice) and returns its rows.
    ///
    /// A read takes one of the connections this store keeps out of the pool, and keeps it
    /// afterwards. sqlx pings every connection returned to its pool (one more round trip
    /// and a spawned task per statement) and arms a timer per checkout; for a small read
    /// such as a trace by id that was as much CPU as the statement itself. If the kept
    /// connection turns out to be broken (the database restarted since), the statement is
    /// repeated once on a fresh pooled connection, so outages look as they do for pooled
    /// reads.
    pub(super) async fn fetch_all<'q>(
        &self,
        query: impl Fn() -> PgQuery<'q>,
    ) -> Result<Vec<PgRow>, StorageError> {
        let kept = self.inner.readers.lock().pop();
        if let Some((since, mut conn)) = kept {
            match query().fetch_all(&mut *conn).await {
                Ok(rows) => {
                    self.keep_reader(since, conn);
                    return Ok(rows);
                }
                Err(e) => {
                    // Back to the pool, which tests it and closes it if it is broken.
                    drop(conn);
                    let err = db_error(e);
                    if !is_connection_error(&err) {
                        return Err(err);
                    }
                }
            }
        }
        let mut conn = self.inner.pool.acquire().await.map_err(db_error)?;
        let rows = query().fetch_all(&mut *conn).await.map_err(db_error)?;
        self.keep_reader(Instant::now(), conn);
        Ok(rows)
    }

    fn keep_reader(&self, since: Instant, conn: PoolConnection<Postgres>) {
        if since.elapsed() < READER_KEPT_FOR {
            let mut readers = self.inner.readers.lock();
            if readers.len() < self.inner.readers_kept {
                readers.push((since, conn));
            }
        }
        // Otherwise `conn` drops here and returns to the pool.
    }
}

fn connect_options(config: &PostgresConfig) -> Result<PgConnectOptions, StorageError> {
    let mut opts = match &config.url {
        Some(url) => PgConnectOptions::from_str(url).map_err(|e| {
            // The parse error may echo the URL; print the redacted form only.
            StorageError::InvalidArgument(format!(
                "POSTGRES_URL {} is not a valid connection URL: {}",
                config::redact_url(url),
                match e {
                    sqlx::Error::Configuration(_) => "bad syntax",
                    _ => "unsupported",
                }
            ))
        })?,
        None => {
            let mut o = PgConnectOptions::new()
                .host(&config.host)
                .port(config.port)
                .database(&config.database);
            if let Some(user) = &config.user {
                o = o.username(user);
            }
            o
        }
    };
    if let Some(password) = &config.password {
        opts = opts.password(password);
    }
    if config.use_ssl {
        opts = opts.ssl_mode(PgSslMode::Require);
    }
    if let Some(schema) = &config.schema {
        opts = opts.options([("search_path", schema.as_str())]);
    }
    Ok(opts.application_name("zipwire").disable_statement_logging())
}

/// Maps a driver error onto the storage error the API answers with. Connection-level
/// failures (refused, reset, pool exhausted, server shutting down) are `Unavailable`.
pub(crate) fn db_error(err: sqlx::Error) -> StorageError {
    match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StorageError::Unavailable(err.to_string()),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // Class 08: connection exception; 57P01-57P03: admin shutdown, crash
            // shutdown, cannot connect now; 53300: too many connections.
            if code.starts_with("08")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
            {
                StorageError::Unavailable(format!("{} ({code})", db.message()))
            } else {
                StorageError::Internal(format!("{} ({code})", db.message()))
            }
        }
        _ => StorageError::Internal(err.to_string()),
    }
}

/// Whether an error means the connection broke, so repeating an idempotent statement on
/// a fresh connection is worthwhile.
fn is_connection_error(err: &StorageError) -> bool {
    matches!(err, StorageError::Unavailable(_))
}

pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

#[async_trait]
impl SpanStore for PostgresStore {
    async fn accept(&self, spans: Vec<Span>) -> Result<(), StorageError> {
        if spans.is_empty() {
            return Ok(());
        }
        // Writes are idempotent, so a statement that died with its connection (e.g. right
        // after the database restarted) is repeated once on a fresh one.
        match self.write_spans(&spans).await {
            Err(e) if is_connection_error(&e) => self.write_spans(&spans).await,
            other => other,
        }
    }

    async fn get_traces(&self, request: &QueryRequest) -> Result<Vec<Vec<Span>>, StorageError> {
        if !self.options().search_enabled {
            return Ok(Vec::new());
        }
        self.search(request).await
    }

    async fn get_trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StorageError> {
        self.load_trace(trace_id).await
    }

    async fn get_traces_by_ids(
        &self,
        trace_ids: &[TraceId],
    ) -> Result<Vec<Vec<Span>>, StorageError> {
        self.load_traces(trace_ids).await
    }

    async fn get_service_names(&self) -> Result<Vec<String>, StorageError> {
        if !self.options().search_enabled {
            return Ok(Vec::new());
        }
        self.names_query(
            "SELECT DISTINCT service FROM zipkin_span_names ORDER BY 1",
            None,
        )
        .await
    }

    async fn get_remote_service_names(
        &self,
        service_name: &str,
    ) -> Result<Vec<String>, StorageError> {
        if !self.options().search_enabled || service_name.is_empty() {
            return Ok(Vec::new());
        }
        self.names_query(
            "SELECT remote_service FROM zipkin_remote_service_names WHERE service = $1 ORDER BY 1",
            Some(&service_name.to_lowercase()),
        )
        .await
    }

    async fn get_span_names(&self, service_name: &str) -> Result<Vec<String>, StorageError> {
        if !self.options().search_enabled || service_name.is_empty() {
            return Ok(Vec::new());
        }
        self.names_query(
            "SELECT name FROM zipkin_span_names WHERE service = $1 AND name <> '' ORDER BY 1",
            Some(&service_name.to_lowercase()),
        )
        .await
    }

    async fn get_dependencies(
        &self,
        end_ts: i64,
        lookback: i64,
    ) -> Result<Vec<DependencyLink>, StorageError> {
        check_dependency_window(end_ts, lookback)?;
        self.dependencies(end_ts, lookback).await
    }

    async fn get_autocomplete_keys(&self) -> Result<Vec<String>, StorageError> {
        let keys = &self.options().autocomplete_keys;
        if !self.options().search_enabled || keys.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT key FROM zipkin_autocomplete_tags WHERE key = ANY($1) ORDER BY 1",
        )
        .bind(keys)
        .fetch_all(&self.inner.pool)
        .await
        .map_err(db_error)?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    async fn get_autocomplete_values(&self, key: &str) -> Result<Vec<String>, StorageError> {
        if key.is_empty() {
            return Err(StorageError::InvalidArgument("key was empty".into()));
        }
        if !self.options().search_enabled
            || !self.options().autocomplete_keys.iter().any(|k| k == key)
        {
            return Ok(Vec::new());
        }
        self.names_query(
            "SELECT value FROM zipkin_autocomplete_tags WHERE key = $1 ORDER BY 1",
            Some(key),
        )
        .await
    }

    async fn check(&self) -> Result<(), StorageError> {
        let ping = sqlx::query("SELECT 1").execute(&self.inner.pool);
        match tokio::time::timeout(ACQUIRE_TIMEOUT + Duration::from_secs(1), ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(db_error(e)),
            Err(_) => Err(StorageError::Unavailable(
                "timed out waiting for PostgreSQL".into(),
            )),
        }
    }

    async fn close(&self) -> Result<(), StorageError> {
        // Kept read connections go back to the pool, which closes them when dropped.
        self.inner.readers.lock().clear();
        Ok(())
    }

    fn name(&self) -> String {
        format!(
            "PostgresStorage{{url={}}}",
            self.inner.config.redacted_url()
        )
    }
}

impl PostgresStore {
    async fn names_query(&self, sql: &str, arg: Option<&str>) -> Result<Vec<String>, StorageError> {
        let rows = self
            .fetch_all(|| {
                let q = sqlx::query(sql);
                match arg {
                    Some(arg) => q.bind(arg),
                    None => q,
                }
            })
            .await?;
        // Sorted again in Rust: Zipkin sorts by Java string order (UTF-16 code units),
        // which for the names seen in practice equals byte order, unlike a database
        // collation.
        let mut names: Vec<String> = rows
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(db_error)?;
        names.sort_unstable();
        Ok(names)
    }
}
