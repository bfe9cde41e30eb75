//! `/prometheus` after known traffic: Zipkin's collector counters, the HTTP request
//! histogram with route templates, storage and process metrics, and the metrics the
//! Grafana dashboard in `deploy/` queries.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{get, post, Reply};
use zipwire::collector::CollectorMetrics;
use zipwire::telemetry::Telemetry;

const TRACE_A: &str = "463ac35c9f6413ad48485a3953bb6124";
const TRACE_B: &str = "0000000000000000a1b2c3d4e5f60718";

fn spans_json(trace: &str, ids: &[&str]) -> String {
    let now = common::now_micros();
    let spans: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"traceId":"{trace}","id":"{id}","name":"get","timestamp":{now},"duration":10,"localEndpoint":{{"serviceName":"frontend"}}}}"#
            )
        })
        .collect();
    format!("[{}]", spans.join(","))
}

/// The value of one sample line (`name{labels} value`), if present.
#[track_caller]
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

#[track_caller]
fn value(text: &str, series: &str) -> f64 {
    sample(text, series).unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
}

async fn scrape(router: &axum::Router) -> String {
    let reply: Reply = get(router, "/prometheus").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    reply.text()
}

#[tokio::test]
async fn prometheus_counts_collector_traffic_like_zipkin() {
    let (router, _store, _metrics) = common::app(&[]);
    let first = spans_json(
        TRACE_A,
        &["48485a3953bb6124", "48485a3953bb6125", "48485a3953bb6126"],
    );
    let second = spans_json(TRACE_B, &["0000000000000001", "0000000000000002"]);
    let malformed = "[{\"traceId\":";

    for body in [&first, &second] {
        let reply = post(&router, "/api/v2/spans", "application/json", body.clone()).await;
        assert_eq!(reply.status, 202, "{}", reply.text());
    }
    let reply = post(&router, "/api/v2/spans", "application/json", malformed).await;
    assert_eq!(reply.status, 400);

    let text = scrape(&router).await;
    let bytes = (first.len() + second.len() + malformed.len()) as f64;
    assert_eq!(
        value(&text, "zipkin_collector_messages_total{transport=\"http\"}"),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "zipkin_collector_messages_dropped_total{transport=\"http\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&text, "zipkin_collector_bytes_total{transport=\"http\"}"),
        bytes
    );
    assert_eq!(
        value(&text, "zipkin_collector_spans_total{transport=\"http\"}"),
        5.0
    );
    assert_eq!(
        value(
            &text,
            "zipkin_collector_spans_dropped_total{transport=\"http\"}"
        ),
        0.0
    );
    assert_eq!(
        value(&text, "zipkin_collector_message_spans{transport=\"http\"}"),
        2.0
    );
    assert_eq!(
        value(&text, "zipkin_collector_messages_total{transport=\"grpc\"}"),
        0.0
    );
    // The write path is timed once per stored message, and acknowledged spans counted.
    assert_eq!(
        value(
            &text,
            "zipwire_storage_operation_seconds_count{operation=\"accept\",outcome=\"success\"}"
        ),
        2.0
    );
    assert_eq!(value(&text, "zipwire_storage_spans_accepted_total"), 5.0);
    assert_eq!(
        value(
            &text,
            "zipwire_storage_operations_in_flight{operation=\"accept\"}"
        ),
        0.0
    );

    // /metrics reads the same atomics, in Zipkin's flat JSON shape.
    let json = get(&router, "/metrics").await.json();
    assert_eq!(json["counter.zipkin_collector.messages.http"], 3);
    assert_eq!(json["counter.zipkin_collector.spans.http"], 5);
    assert_eq!(json["counter.zipkin_collector.bytes.http"], bytes as u64);
}

#[tokio::test]
async fn http_requests_are_recorded_by_route_template_never_by_raw_path() {
    let (router, _store, _metrics) = common::app(&[]);
    let body = spans_json(TRACE_A, &["48485a3953bb6124"]);
    assert_eq!(
        post(&router, "/api/v2/spans", "application/json", body)
            .await
            .status,
        202
    );

    assert_eq!(
        get(&router, &format!("/api/v2/trace/{TRACE_A}"))
            .await
            .status,
        200
    );
    assert_eq!(
        get(&router, &format!("/zipkin/api/v2/trace/{TRACE_A}"))
            .await
            .status,
        200
    );
    assert_eq!(
        get(&router, &format!("/api/v2/trace/{TRACE_B}"))
            .await
            .status,
        404
    );
    assert_eq!(get(&router, "/api/v2/services").await.status, 200);
    assert_eq!(get(&router, "/zipkin/api/v2/services").await.status, 200);
    assert_eq!(
        get(&router, "/api/v2/spans").await.status,
        400,
        "serviceName is required"
    );
    // Not recorded: admin endpoints and the UI.
    for path in [
        "/health",
        "/info",
        "/metrics",
        "/prometheus",
        "/zipkin/",
        "/zipkin/config.json",
    ] {
        get(&router, path).await;
    }

    let text = scrape(&router).await;
    let count = |labels: &str| {
        value(
            &text,
            &format!("http_server_requests_seconds_count{{{labels}}}"),
        )
    };
    assert_eq!(
        count(r#"method="POST",uri="/api/v2/spans",status="202""#),
        1.0
    );
    assert_eq!(
        count(r#"method="GET",uri="/api/v2/trace/{traceId}",status="200""#),
        2.0
    );
    assert_eq!(count(r#"method="GET",uri="NOT_FOUND",status="404""#), 1.0);
    assert_eq!(
        count(r#"method="GET",uri="/api/v2/services",status="200""#),
        2.0
    );
    assert_eq!(
        count(r#"method="GET",uri="/api/v2/spans",status="400""#),
        1.0
    );
    assert!(
        text.contains(r#"http_server_requests_seconds_bucket{le="+Inf",method="GET",uri="/api/v2/services",status="200"} 2"#)
            || text.contains(r#"http_server_requests_seconds_bucket{method="GET",uri="/api/v2/services",status="200",le="+Inf"} 2"#),
        "a histogram with buckets:\n{text}"
    );

    let uris: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_server_requests_seconds_count"))
        .filter_map(|l| l.split("uri=\"").nth(1)?.split('"').next())
        .collect();
    let expected: BTreeSet<&str> = [
        "/api/v2/spans",
        "/api/v2/trace/{traceId}",
        "/api/v2/services",
        "NOT_FOUND",
    ]
    .into();
    assert_eq!(uris, expected, "only API routes, as templates");
    for id in [TRACE_A, TRACE_B] {
        assert!(!text.contains(id), "a raw trace id leaked into the metrics");
    }
}

#[tokio::test]
async fn process_and_storage_read_metrics_are_exported() {
    let (router, _store, _metrics) = common::app(&[]);
    get(&router, "/api/v2/services").await;

    let text = scrape(&router).await;

    assert_eq!(
        value(&text, "zipwire_storage_operation_seconds_count{operation=\"get_service_names\",outcome=\"success\"}"),
        1.0
    );
    if cfg!(target_os = "linux") {
        assert!(value(&text, "process_resident_memory_bytes") > 0.0);
        assert!(value(&text, "process_threads") >= 1.0);
        assert!(value(&text, "process_open_fds") >= 3.0);
        assert!(sample(&text, "process_cpu_seconds_total").is_some());
        assert!(value(&text, "process_start_time_seconds") > 1.6e9);
    }
    assert!(text.ends_with("# EOF\n"));
}

/// Every metric the provisioned Grafana dashboard queries must exist, so the dashboard
/// cannot silently show "No data" after a rename.
#[tokio::test]
async fn every_metric_in_the_grafana_dashboard_is_exported() {
    let dashboard_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/grafana/dashboards/zipwire.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dashboard_path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 8, "the dashboard has panels with queries");

    let telemetry = Telemetry::new(Arc::new(CollectorMetrics::default()));
    // Kafka lag exists once a consumer reports it.
    telemetry.metrics.kafka_consumer_lag("zipkin", 0).set(3);
    let config = common::config(&[]);
    let router = zipwire::app::router_with_telemetry(&config, common::memory_store(), &telemetry);
    let body = spans_json(TRACE_A, &["48485a3953bb6124"]);
    post(&router, "/api/v2/spans", "application/json", body).await;
    get(&router, "/api/v2/services").await;
    let text = scrape(&router).await;
    let exported: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();

    let mut referenced = BTreeSet::new();
    for expr in &exprs {
        for name in metric_names(expr) {
            referenced.insert(name);
        }
    }
    assert!(referenced.contains("zipkin_collector_spans_total"));
    let missing: Vec<_> = referenced
        .iter()
        .filter(|name| !exported.contains(name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "dashboard queries unknown metrics {missing:?}"
    );
}

fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                if key == "expr" {
                    out.extend(v.as_str().map(str::to_owned));
                } else {
                    collect_exprs(v, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// Identifiers in a PromQL expression that name Zipwire metrics (functions, label names
/// and label values are skipped by their position or prefix).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic() || c == '_') {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        let word = &tail[..end];
        let prefixes = ["zipkin_", "zipwire_", "http_server_", "process_"];
        let preceded_by_quote = rest[..start].ends_with('"');
        if prefixes.iter().any(|p| word.starts_with(p)) && !preceded_by_quote {
            names.push(word.to_owned());
        }
        rest = &tail[end..];
    }
    names
}
