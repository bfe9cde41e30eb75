//! The PostgreSQL backend (`STORAGE_TYPE=postgres`): the whole storage conformance suite,
//! unchanged, plus what only this backend has (partitions, retention, the dependency
//! aggregate, concurrent writers).
//!
//! Every store lives in its own new schema on the shared server (see `pg/mod.rs`); runs
//! drop schemas older than an hour left by earlier runs.

#[macro_use]
mod conformance;
mod pg;

use std::collections::BTreeSet;
use std::time::Duration;

use zipwire::model::{DependencyLink, Endpoint, Kind, Span, SpanId, TraceId};
use zipwire::storage::postgres::PostgresConfig;
use zipwire::storage::{SpanStore, StorageOptions};

conformance_suite!(pg::conformance_store);

const HOUR_MICROS: i64 = 3_600_000_000;
const DAY_MICROS: i64 = 24 * HOUR_MICROS;

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

fn random_trace_id() -> TraceId {
    TraceId::from_parts(rand::random::<u64>() | 1, rand::random::<u64>() | 1).unwrap()
}

/// A frontend -> backend call (root, client span, shared server span) at `ts` µs, the
/// server half tagged `error` when `error`.
fn call(trace_id: TraceId, ts: i64, frontend: &str, backend: &str, error: bool) -> Vec<Span> {
    let ts = ts as u64;
    let root = SpanId::new(1).unwrap();
    let child = SpanId::new(2).unwrap();
    let client = Span::builder(trace_id, child)
        .parent_id(root)
        .kind(Kind::Client)
        .name("get")
        .timestamp(ts + 10)
        .duration(100)
        .local_endpoint(Endpoint::service(frontend))
        .remote_endpoint(Endpoint::service(backend));
    let mut server = Span::builder(trace_id, child)
        .parent_id(root)
        .kind(Kind::Server)
        .shared(true)
        .name("get")
        .timestamp(ts + 20)
        .duration(50)
        .local_endpoint(Endpoint::service(backend));
    if error {
        server = server.tag("error", "boom");
    }
    vec![
        Span::builder(trace_id, root)
            .kind(Kind::Server)
            .name("get")
            .timestamp(ts)
            .duration(200)
            .local_endpoint(Endpoint::service(frontend))
            .build(),
        client.build(),
        server.build(),
    ]
}

fn sorted(mut links: Vec<DependencyLink>) -> Vec<DependencyLink> {
    links.sort();
    links
}

async fn count_rows(store: &zipwire::storage::postgres::PostgresStore, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .expect("count query")
}

#[tokio::test]
async fn retention_drops_expired_day_partitions_and_keeps_recent_data() {
    let Some(store) = pg::store(StorageOptions::default()).await else {
        return;
    };
    let now = now_micros();
    let old = random_trace_id();
    let recent = random_trace_id();
    store
        .accept(call(old, now - 10 * DAY_MICROS, "web", "api", false))
        .await
        .unwrap();
    store
        .accept(call(recent, now - DAY_MICROS, "web", "api", false))
        .await
        .unwrap();
    let before = store.list_partitions().await.unwrap();

    let dropped = store
        .apply_retention_at(now, Duration::from_secs(7 * 86_400))
        .await
        .unwrap();

    let old_day = ((now - 10 * DAY_MICROS) / DAY_MICROS) as i32;
    assert_eq!(dropped, vec![old_day]);
    assert!(before.contains(&old_day));
    assert!(!store.list_partitions().await.unwrap().contains(&old_day));
    assert!(store.get_trace(old).await.unwrap().is_empty());
    assert_eq!(store.get_trace(recent).await.unwrap().len(), 3);
    // Writing into the dropped day again recreates its partition rather than failing.
    store
        .accept(call(old, now - 10 * DAY_MICROS, "web", "api", false))
        .await
        .unwrap();
    assert_eq!(store.get_trace(old).await.unwrap().len(), 3);
}

#[tokio::test]
async fn retention_is_off_unless_configured() {
    let Some(store) = pg::store(StorageOptions::default()).await else {
        return;
    };
    let id = random_trace_id();
    store
        .accept(call(
            id,
            now_micros() - 400 * DAY_MICROS,
            "web",
            "api",
            false,
        ))
        .await
        .unwrap();
    assert!(store.apply_retention().await.unwrap().is_empty());
    assert_eq!(store.get_trace(id).await.unwrap().len(), 3);
}

#[tokio::test]
async fn aggregated_dependencies_equal_on_demand_linking_and_rerunning_changes_nothing() {
    let Some(store) = pg::store(StorageOptions::default()).await else {
        return;
    };
    let now = now_micros();
    // Traces every 70 minutes over three days, starting at an hour boundary, some with
    // errors.
    let anchor = (now - 3 * DAY_MICROS).div_euclid(HOUR_MICROS) * HOUR_MICROS;
    let mut all = Vec::new();
    for i in 0..60i64 {
        let ts = anchor + i * 70 * 60 * 1_000_000;
        let web = call(random_trace_id(), ts, "web", "api", i % 7 == 0);
        let api = call(random_trace_id(), ts + 1_000, "api", "db", false);
        all.extend(web.iter().cloned().chain(api.iter().cloned()));
        store.accept(web).await.unwrap();
        store.accept(api).await.unwrap();
    }
    let hour_ms = 3_600_000;
    let anchor_ms = anchor / 1000;
    let (odd_start, odd_end) = (
        anchor_ms + 10 * hour_ms + 1_800_000,
        anchor_ms + 40 * hour_ms + 1_200_000,
    );
    let odd_lookback = odd_end - odd_start;
    // One trace just outside each edge, inside the edge's hour.
    for ts_ms in [odd_start - 1_000, odd_end + 1_000] {
        store
            .accept(call(random_trace_id(), ts_ms * 1000, "edge", "api", false))
            .await
            .unwrap();
    }
    let end_ms = now / 1000;
    let week = 7 * 86_400_000;
    let on_demand = sorted(store.get_dependencies(end_ms, week).await.unwrap());
    assert_eq!(
        on_demand,
        vec![
            DependencyLink::new("api", "db", 60, 0),
            DependencyLink::new("edge", "api", 2, 0),
            DependencyLink::new("web", "api", 60, 9),
        ]
    );
    // A window whose edges fall inside hours: once aggregated, it counts the hours it
    // overlaps whole (as Zipkin's aggregating backends do with days), i.e. what on-demand
    // linking answers for the window widened to whole hours.
    let widened_start = odd_start - odd_start.rem_euclid(hour_ms);
    let widened_end = odd_end - odd_end.rem_euclid(hour_ms) + hour_ms - 1;
    let on_demand_widened = sorted(
        store
            .get_dependencies(widened_end, widened_end - widened_start)
            .await
            .unwrap(),
    );
    let on_demand_exact = sorted(store.get_dependencies(odd_end, odd_lookback).await.unwrap());

    store.aggregate_dependencies(now).await.unwrap();
    assert!(count_rows(&store, "SELECT count(*) FROM zipkin_dependencies").await > 0);
    assert_eq!(
        sorted(store.get_dependencies(end_ms, week).await.unwrap()),
        on_demand
    );
    let aggregated_odd = sorted(store.get_dependencies(odd_end, odd_lookback).await.unwrap());
    assert_eq!(aggregated_odd, on_demand_widened);
    assert_ne!(
        on_demand_exact, on_demand_widened,
        "the fixture puts traces between the window's edges and the hour boundaries"
    );

    // Replaying every span and aggregating again (later) must not double-count.
    store.accept(all).await.unwrap();
    assert!(count_rows(&store, "SELECT count(*) FROM zipkin_dependency_dirty").await > 0);
    store
        .aggregate_dependencies(now + HOUR_MICROS)
        .await
        .unwrap();
    store
        .aggregate_dependencies(now + HOUR_MICROS)
        .await
        .unwrap();
    assert_eq!(
        sorted(store.get_dependencies(end_ms, week).await.unwrap()),
        on_demand
    );
    assert_eq!(
        count_rows(&store, "SELECT count(*) FROM zipkin_dependency_dirty").await,
        0
    );
}

#[tokio::test]
async fn late_spans_in_an_aggregated_hour_are_counted_before_and_after_reaggregation() {
    let Some(store) = pg::store(StorageOptions::default()).await else {
        return;
    };
    let now = now_micros();
    let ts = now - 5 * HOUR_MICROS;
    store
        .accept(call(random_trace_id(), ts, "web", "api", false))
        .await
        .unwrap();
    store.aggregate_dependencies(now).await.unwrap();
    let end_ms = now / 1000;
    assert_eq!(
        store.get_dependencies(end_ms, 86_400_000).await.unwrap(),
        vec![DependencyLink::new("web", "api", 1, 0)]
    );

    // A late trace in the same, already aggregated hour, and a replay of it.
    let late = call(random_trace_id(), ts + 1_000, "web", "api", true);
    store.accept(late.clone()).await.unwrap();
    store.accept(late).await.unwrap();
    let expected = vec![DependencyLink::new("web", "api", 2, 1)];
    assert_eq!(
        store.get_dependencies(end_ms, 86_400_000).await.unwrap(),
        expected
    );
    assert!(count_rows(&store, "SELECT count(*) FROM zipkin_dependency_dirty").await > 0);

    // Once the marks settled, the aggregation redoes the hour and clears them.
    store
        .aggregate_dependencies(now + 10 * 60 * 1_000_000)
        .await
        .unwrap();
    assert_eq!(
        count_rows(&store, "SELECT count(*) FROM zipkin_dependency_dirty").await,
        0
    );
    assert_eq!(
        store.get_dependencies(end_ms, 86_400_000).await.unwrap(),
        expected
    );
}

#[tokio::test]
async fn concurrent_writers_of_the_same_spans_store_each_span_once() {
    let Some(store) = pg::store(StorageOptions::default()).await else {
        return;
    };
    let now = now_micros();
    let spans: Vec<Span> = (0..50)
        .flat_map(|i| call(random_trace_id(), now - i * 1_000_000, "web", "api", false))
        .collect();
    let mut tasks = Vec::new();
    for round in 0..6 {
        let store = store.clone();
        let mut batch = spans.clone();
        // Different orders, so writers would deadlock without sorted inserts.
        if round % 2 == 1 {
            batch.reverse();
        }
        tasks.push(tokio::spawn(async move { store.accept(batch).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        count_rows(&store, "SELECT count(*) FROM zipkin_spans").await,
        spans.len() as i64
    );
}

#[tokio::test]
async fn a_batch_mixing_stored_and_new_spans_stores_the_new_ones_once() {
    let Some(store) = pg::store(StorageOptions::default()).await else {
        return;
    };
    // The second batch repeats the first (so its COPY meets stored rows) and adds a trace.
    let now = now_micros();
    let old = call(random_trace_id(), now - 1_000_000, "web", "api", false);
    let new_id = random_trace_id();
    let new = call(new_id, now, "web", "db", false);
    store.accept(old.clone()).await.unwrap();
    store.accept([old.clone(), new].concat()).await.unwrap();
    assert_eq!(
        count_rows(&store, "SELECT count(*) FROM zipkin_spans").await,
        (old.len() * 2) as i64
    );
    assert_eq!(store.get_trace(new_id).await.unwrap().len(), 3);
    assert!(store
        .get_remote_service_names("web")
        .await
        .unwrap()
        .contains(&"db".to_owned()));
}

#[tokio::test]
async fn spans_of_any_day_get_a_partition_on_demand() {
    let Some(store) = pg::store(StorageOptions::default()).await else {
        return;
    };
    let id = random_trace_id();
    let long_ago = 86_400_000_000i64 * 365; // 1971
    store
        .accept(call(id, long_ago, "web", "api", false))
        .await
        .unwrap();
    assert_eq!(store.get_trace(id).await.unwrap().len(), 3);
    let partitions: BTreeSet<i32> = store.list_partitions().await.unwrap().into_iter().collect();
    assert!(partitions.contains(&365));
}

#[tokio::test]
async fn without_ensure_schema_a_missing_schema_is_reported_at_connect() {
    if !pg::server_available().await {
        return;
    }
    let config = PostgresConfig {
        ensure_schema: false,
        ..pg::config_in_new_schema()
    };
    let err = zipwire::storage::postgres::PostgresStore::connect(config, StorageOptions::default())
        .await
        .err()
        .expect("no tables in a new schema");
    assert!(err.to_string().contains("zipkin_dependency_state"), "{err}");
}

#[tokio::test]
async fn the_store_name_shows_where_it_connects_but_no_password() {
    let config = PostgresConfig {
        url: Some("postgres://zipkin:hunter2@127.0.0.1:1/zipkin".into()),
        ..PostgresConfig::default()
    };
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2"));
    // Nothing listens on port 1: connecting fails as unavailable, without the password.
    let err = zipwire::storage::postgres::PostgresStore::connect(config, StorageOptions::default())
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(
        matches!(err, zipwire::storage::StorageError::Unavailable(_)),
        "{err:?}"
    );
    assert!(!err.to_string().contains("hunter2"));
}
