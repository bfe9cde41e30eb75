//! PostgreSQL outages: the server keeps running, tells the truth and heals itself.
//!
//! A throw-away cluster (initdb in a temp dir, a free port) backs a real server on port 0.
//! While a client keeps posting spans, the database is killed (`pg_ctl -m immediate`,
//! like a crash) and started again. Throughout: `/health` turns DOWN (503) with a reason
//! while the database is away, ingest answers 503 rather than 202 for spans it could not
//! store, the store reconnects by itself, and every span acknowledged with 202 — before,
//! during and after the outage — is readable at the end.

mod pg;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use zipwire::app::App;
use zipwire::config::Config;
use zipwire::storage::postgres::{PostgresConfig, PostgresStore};
use zipwire::storage::{SpanStore, StorageOptions};

const SPANS_PER_POST: usize = 10;

/// A JSON v2 body of one new trace: a root and `SPANS_PER_POST - 1` children.
fn trace_body(trace_id: &str, now_micros: u64) -> String {
    let spans: Vec<String> = (1..=SPANS_PER_POST)
        .map(|i| {
            let parent = if i == 1 {
                String::new()
            } else {
                "\"parentId\":\"0000000000000001\",".to_string()
            };
            format!(
                "{{\"traceId\":\"{trace_id}\",{parent}\"id\":\"{i:016x}\",\"kind\":\"SERVER\",\
                 \"name\":\"get /outage\",\"timestamp\":{},\"duration\":1500,\
                 \"localEndpoint\":{{\"serviceName\":\"outage-test\",\"ipv4\":\"127.0.0.1\"}},\
                 \"tags\":{{\"n\":\"{i}\"}}}}",
                now_micros + i as u64
            )
        })
        .collect();
    format!("[{}]", spans.join(","))
}

#[derive(Default)]
struct Tally {
    acknowledged: Vec<String>,
    unavailable: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_acknowledged_across_a_database_restart_are_all_readable() {
    let Some(cluster) = pg::TempCluster::start() else {
        return;
    };
    let store = PostgresStore::connect(
        PostgresConfig {
            url: Some(cluster.url()),
            max_connections: 4,
            ..PostgresConfig::default()
        },
        StorageOptions::default(),
    )
    .await
    .expect("connect to the temporary cluster");
    let shutdown = CancellationToken::new();
    let background = store.start_background(shutdown.clone());
    let config = Config::try_parse_from(["zipwire", "--query-port", "0"]).unwrap();
    let app = App::with_store(config, Arc::new(store.clone()) as Arc<dyn SpanStore>)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let server_stop = shutdown.clone();
    let server = tokio::spawn(app.run_until(async move { server_stop.cancelled().await }));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    // The client: one new trace per POST, bounded in count, until told to stop.
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (tally, stop, http, base) = (tally.clone(), stop.clone(), http.clone(), base.clone());
        tokio::spawn(async move {
            for n in 0..5_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let trace_id = format!("{:016x}{:016x}", 0xabcdu64, n + 1);
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_micros() as u64;
                let response = http
                    .post(format!("{base}/api/v2/spans"))
                    .header("content-type", "application/json")
                    .body(trace_body(&trace_id, now))
                    .send()
                    .await
                    .expect("the server answers even while the database is down");
                match response.status().as_u16() {
                    202 => tally.lock().acknowledged.push(trace_id),
                    503 => tally.lock().unavailable += 1,
                    other => panic!("unexpected ingest status {other}"),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let acknowledged = || tally.lock().acknowledged.len();
    assert!(
        pg::eventually(Duration::from_secs(30), || async { acknowledged() >= 20 }).await,
        "ingest works before the outage"
    );

    cluster.stop_server();
    let health_down = pg::eventually(Duration::from_secs(30), || async {
        let r = http.get(format!("{base}/health")).send().await.unwrap();
        r.status().as_u16() == 503 && r.text().await.unwrap().contains("DOWN")
    })
    .await;
    assert!(
        health_down,
        "/health reports DOWN while the database is away"
    );
    let body = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("\"error\""), "the reason is given: {body}");
    assert!(
        pg::eventually(Duration::from_secs(30), || async {
            tally.lock().unavailable >= 2
        })
        .await,
        "ingest answers 503 while the database is away"
    );

    cluster.start_server();
    let before_restart = acknowledged();
    assert!(
        pg::eventually(Duration::from_secs(60), || async {
            acknowledged() >= before_restart + 20
        })
        .await,
        "ingest recovers by itself once the database is back"
    );
    let r = http.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "/health is UP again");

    stop.store(true, Ordering::Relaxed);
    client.await.unwrap();

    let (acknowledged, unavailable) = {
        let t = tally.lock();
        (t.acknowledged.clone(), t.unavailable)
    };
    assert!(unavailable > 0);
    for trace_id in &acknowledged {
        let r = http
            .get(format!("{base}/api/v2/trace/{trace_id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            200,
            "acknowledged trace {trace_id} is stored"
        );
        let spans: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            spans.as_array().map(Vec::len),
            Some(SPANS_PER_POST),
            "every span of acknowledged trace {trace_id} is stored"
        );
    }
    eprintln!(
        "outage test: {} traces acknowledged, {unavailable} posts answered 503",
        acknowledged.len()
    );

    shutdown.cancel();
    server.await.unwrap().unwrap();
    background.await.unwrap();
}
