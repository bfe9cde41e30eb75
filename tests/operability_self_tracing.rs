//! Self-tracing: Zipwire's own API requests and storage calls stored in itself as service
//! `zipwire` (Zipkin's ITZipkinSelfTracing), without tracing the storing of its own
//! spans, sampled by `SELF_TRACING_*`, or exported over OTLP instead.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use parking_lot::Mutex;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use zipwire::app::App;
use zipwire::storage::SpanStore;

struct Running {
    base: String,
    store: Arc<dyn SpanStore>,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    http: reqwest::Client,
}

impl Running {
    async fn start(args: &[&str]) -> Running {
        let store = common::memory_store();
        let app = App::with_store(common::config(args), store.clone())
            .await
            .unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let stop = CancellationToken::new();
        let signal = stop.clone();
        let server = tokio::spawn(app.run_until(async move { signal.cancelled().await }));
        Running {
            base,
            store,
            stop,
            server,
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// Stops the server; self-traces still queued are stored before this returns.
    async fn stop(self) -> Arc<dyn SpanStore> {
        self.stop.cancel();
        self.server.await.unwrap().unwrap();
        self.store
    }
}

/// Polls a search until it finds a trace, or fails after a deadline.
async fn find_trace(running: &Running, query: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let traces: Vec<Vec<Value>> = running
            .get(&format!("/api/v2/traces?{query}"))
            .await
            .json()
            .await
            .unwrap();
        if let Some(trace) = traces.into_iter().next() {
            return trace;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no self-trace matched {query}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn by_name<'a>(trace: &'a [Value], name: &str) -> &'a Value {
    trace
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {trace:#?}"))
}

#[tokio::test]
async fn api_requests_are_traced_into_the_store_as_service_zipwire() {
    let running = Running::start(&[
        "--self-tracing-enabled",
        "true",
        "--self-tracing-traces-per-second",
        "0",
    ])
    .await;

    assert_eq!(running.get("/api/v2/services").await.status(), 200);

    // Zipkin's own check: findable by span name and the http.path tag.
    let trace = find_trace(
        &running,
        "serviceName=zipwire&spanName=get-service-names&annotationQuery=http.path%3D%2Fapi%2Fv2%2Fservices",
    )
    .await;
    let server = by_name(&trace, "get /api/v2/services");
    let storage = by_name(&trace, "get-service-names");
    assert_eq!(server["kind"], "SERVER");
    assert_eq!(server["localEndpoint"]["serviceName"], "zipwire");
    assert_eq!(server["tags"]["http.method"], "GET");
    assert_eq!(server["tags"]["http.route"], "/api/v2/services");
    assert_eq!(server["tags"]["http.status_code"], "200");
    assert_eq!(server.get("parentId"), None, "the request is the root");
    assert_eq!(
        storage["parentId"], server["id"],
        "the storage call is its child"
    );
    assert_eq!(storage["traceId"], server["traceId"]);
    running.stop().await;
}

#[tokio::test]
async fn storing_self_traces_is_not_traced_or_timed_itself() {
    let running = Running::start(&[
        "--self-tracing-enabled",
        "true",
        "--self-tracing-traces-per-second",
        "0",
    ])
    .await;
    let span = format!(
        r#"[{{"traceId":"86154a4ba6e91385","id":"86154a4ba6e91385","name":"checkout","timestamp":{},"duration":5,"localEndpoint":{{"serviceName":"shop"}}}}]"#,
        common::now_micros()
    );
    let reply = running
        .http
        .post(format!("{}/api/v2/spans", running.base))
        .header("content-type", "application/json")
        .body(span)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 202);

    // The ingest request is traced down to its storage write...
    let trace = find_trace(&running, "serviceName=zipwire&spanName=accept-spans").await;
    let accept = by_name(&trace, "accept-spans");
    assert_eq!(
        accept["parentId"],
        by_name(&trace, "post /api/v2/spans")["id"]
    );

    // ...but the writes that stored self-spans went around the instrumented store: the
    // only timed write is the client's, and no trace starts at a storage call.
    let metrics = running.get("/prometheus").await.text().await.unwrap();
    assert!(
        metrics.contains(
            "zipwire_storage_operation_seconds_count{operation=\"accept\",outcome=\"success\"} 1\n"
        ),
        "{metrics}"
    );
    let store = running.stop().await;
    let request = zipwire::model::QueryRequest::builder()
        .service_name("zipwire")
        .end_ts(common::now_micros() as i64 / 1000 + 60_000)
        .lookback(3_600_000)
        .limit(1_000)
        .build()
        .unwrap();
    let traces = store.get_traces(&request).await.unwrap();
    assert!(!traces.is_empty());
    for trace in &traces {
        let roots: Vec<_> = trace.iter().filter(|s| s.parent_id.is_none()).collect();
        assert_eq!(roots.len(), 1, "{trace:#?}");
        assert_eq!(
            roots[0].kind,
            Some(zipwire::model::Kind::Server),
            "{trace:#?}"
        );
    }
}

#[tokio::test]
async fn a_zero_sample_rate_records_nothing() {
    let running = Running::start(&[
        "--self-tracing-enabled",
        "true",
        "--self-tracing-sample-rate",
        "0.0",
    ])
    .await;
    for _ in 0..20 {
        assert_eq!(running.get("/api/v2/services").await.status(), 200);
    }

    // Stopping stores whatever was queued, so an empty store means nothing was sampled.
    let store = running.stop().await;
    assert!(store.get_service_names().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_default_budget_starts_one_trace_per_second() {
    let running = Running::start(&["--self-tracing-enabled", "true"]).await;
    let started = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(running.get("/api/v2/services").await.status(), 200);
    }
    let seconds = started.elapsed().as_secs() as usize;

    let store = running.stop().await;
    let request = zipwire::model::QueryRequest::builder()
        .service_name("zipwire")
        .end_ts(common::now_micros() as i64 / 1000 + 60_000)
        .lookback(3_600_000)
        .limit(100)
        .build()
        .unwrap();
    let traces = store.get_traces(&request).await.unwrap();
    // One trace per one-second window: the requests touched at most `seconds + 2`
    // windows (whatever the machine's speed), and the first one is always traced.
    assert!(!traces.is_empty(), "the first request is traced");
    assert!(
        traces.len() <= seconds + 2,
        "{} traces in {seconds}s",
        traces.len()
    );
}

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, Bytes)>>>);

async fn otlp_receiver(State(received): State<Received>, headers: HeaderMap, body: Bytes) {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    received.0.lock().push((content_type, body));
}

#[tokio::test]
async fn with_an_otlp_endpoint_self_traces_are_exported_instead_of_stored() {
    // A stand-in OTLP/HTTP receiver on the loopback interface.
    let received = Received::default();
    let receiver = Router::new()
        .route("/v1/traces", post(otlp_receiver))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let receiver = tokio::spawn(async move { axum::serve(listener, receiver).await });

    let running = Running::start(&[
        "--self-tracing-enabled",
        "true",
        "--self-tracing-traces-per-second",
        "0",
        "--otel-exporter-otlp-endpoint",
        &endpoint,
    ])
    .await;
    assert_eq!(running.get("/api/v2/services").await.status(), 200);
    let store = running.stop().await;

    let batches = received.0.lock().clone();
    assert!(!batches.is_empty(), "nothing was exported");
    let (content_type, body) = &batches[0];
    assert_eq!(content_type, "application/x-protobuf");
    let contains = |needle: &[u8]| {
        batches
            .iter()
            .any(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
    };
    assert!(contains(b"get-service-names"), "{body:?}");
    assert!(contains(b"zipwire"), "the service.name resource");
    assert!(
        store.get_service_names().await.unwrap().is_empty(),
        "exported, not stored"
    );
    receiver.abort();
}
