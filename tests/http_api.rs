//! The HTTP API end to end through the router: every endpoint, status code and Zipkin
//! error message of spec §1, driven with `oneshot` (no socket needed).

mod common;

use std::io::Write;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::*;
use zipwire::codec::json_v2;
use zipwire::collector::Transport;
use zipwire::model::Span;

const JSON: &str = "application/json";
const TRACE_A: &str = "463ac35c9f6413ad48485a3953bb6124";

fn encode(spans: &[Span]) -> Vec<u8> {
    let mut out = Vec::new();
    json_v2::encode_spans(spans, &mut out);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn post_gzip(router: &axum::Router, body: Vec<u8>) -> Reply {
    let request = Request::post("/api/v2/spans")
        .header("content-type", JSON)
        .header("content-encoding", "gzip")
        .body(Body::from(body))
        .unwrap();
    send(router, request).await
}

#[tokio::test]
async fn posted_spans_are_readable_byte_for_byte() {
    let (router, _, _) = app(&[]);
    let span = client_span(TRACE_A, "a", "frontend");
    let posted = post(
        &router,
        "/api/v2/spans",
        JSON,
        encode(std::slice::from_ref(&span)),
    )
    .await;
    assert_eq!(posted.status, 202, "{}", posted.text());
    assert!(posted.body.is_empty());

    let reply = get(&router, &format!("/api/v2/trace/{TRACE_A}")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body, encode(&[span]));
}

#[tokio::test]
async fn ingest_accepts_empty_bodies_and_missing_content_type() {
    let (router, _, metrics) = app(&[]);
    assert_eq!(post(&router, "/api/v2/spans", JSON, "").await.status, 202);
    assert_eq!(post(&router, "/api/v2/spans", JSON, "[]").await.status, 202);
    let span = client_span(TRACE_A, "a", "frontend");
    let request = Request::post("/api/v2/spans")
        .body(Body::from(encode(&[span])))
        .unwrap();
    assert_eq!(
        send(&router, request).await.status,
        202,
        "no content type means JSON v2"
    );
    let http = metrics.transport(Transport::Http).snapshot();
    assert_eq!(http.messages, 3);
    assert_eq!(http.messages_dropped, 0);
    assert_eq!(http.spans, 1);
}

#[tokio::test]
async fn ingest_rejects_non_lists_with_zipkins_messages() {
    let (router, store, metrics) = app(&[]);
    for body in ["hello", r#"{"traceId":"1","id":"1"}"#] {
        let reply = post(&router, "/api/v2/spans", JSON, body).await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.text(), "Expected a JSON_V2 encoded list\n");
    }
    let v1 = r#"[{"traceId":"1","id":"1","name":"a","binaryAnnotations":[]}]"#;
    let reply = post(&router, "/api/v2/spans", JSON, v1).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.text(),
        "Expected a JSON_V2 encoded list, but received: JSON_V1\n"
    );

    let reply = post(&router, "/api/v2/spans", JSON, "[malformed").await;
    assert_eq!(reply.status, 400);
    assert!(reply.text().starts_with("Malformed"), "{}", reply.text());

    let reply = post(
        &router,
        "/api/v2/spans",
        JSON,
        r#"[{"traceId":"0e8b46e1-81b","id":"1"}]"#,
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply
            .text()
            .contains("0e8b46e1-81b should be lower-hex encoded with no prefix"),
        "{}",
        reply.text()
    );

    let snapshot = metrics.transport(Transport::Http).snapshot();
    assert_eq!(snapshot.messages, 5);
    assert_eq!(snapshot.messages_dropped, 5);
    assert!(store.get_service_names().await.unwrap().is_empty());
}

#[tokio::test]
async fn one_bad_span_rejects_the_whole_list() {
    let (router, store, _) = app(&[]);
    let good = client_span(TRACE_A, "a", "frontend");
    let mut body = encode(&[good]);
    body.pop();
    body.extend_from_slice(br#",{"traceId":"1","id":"2","annotations":[{"value":"x"}]}]"#);
    let reply = post(&router, "/api/v2/spans", JSON, body).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.text().contains("Incomplete annotation"),
        "{}",
        reply.text()
    );
    assert!(store.get_trace(trace_id(TRACE_A)).await.unwrap().is_empty());
}

#[tokio::test]
async fn gzip_bodies_are_decompressed_and_bad_gzip_is_a_400() {
    let (router, store, metrics) = app(&[]);
    let span = client_span(TRACE_A, "a", "frontend");
    let plain = encode(&[span]);
    let reply = post_gzip(&router, gzip(&plain)).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(store.get_trace(trace_id(TRACE_A)).await.unwrap().len(), 1);
    assert_eq!(
        metrics.transport(Transport::Http).snapshot().bytes,
        plain.len() as u64,
        "bytes count the decompressed size"
    );

    let reply = post_gzip(&router, vec![1, 2, 3, 4]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.text(), "Cannot gunzip spans");
}

#[tokio::test]
async fn oversized_and_gzip_bomb_bodies_are_413() {
    let (router, _, metrics) = app(&[
        "--collector-max-body-size",
        "1KiB",
        "--collector-max-decompressed-size",
        "4KiB",
    ]);
    let reply = post(&router, "/api/v2/spans", JSON, vec![b' '; 2048]).await;
    assert_eq!(reply.status, 413, "{}", reply.text());

    let bomb = gzip(&vec![b' '; 512 << 10]);
    assert!(bomb.len() < 1024, "the bomb itself fits the body limit");
    let reply = post_gzip(&router, bomb).await;
    assert_eq!(reply.status, 413, "{}", reply.text());
    assert!(reply.text().contains("COLLECTOR_MAX_DECOMPRESSED_SIZE"));
    assert_eq!(
        metrics
            .transport(Transport::Http)
            .snapshot()
            .messages_dropped,
        2
    );
}

#[tokio::test]
async fn storage_failure_on_ingest_is_503_not_202() {
    let store = FlakyStore::failing(1);
    let router = app_with_store(&[], store.clone());
    let body = encode(&[client_span(TRACE_A, "a", "frontend")]);
    let reply = post(&router, "/api/v2/spans", JSON, body.clone()).await;
    assert_eq!(reply.status, 503);
    assert!(
        !reply.text().contains("connection refused"),
        "5xx bodies are opaque"
    );
    // The client retries and the span is stored.
    assert_eq!(post(&router, "/api/v2/spans", JSON, body).await.status, 202);
    assert_eq!(
        store
            .inner
            .get_trace(trace_id(TRACE_A))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn sampling_drops_whole_traces_and_counts_them() {
    let (router, store, metrics) = app(&["--collector-sample-rate", "0"]);
    let body = encode(&[client_span(TRACE_A, "a", "frontend")]);
    assert_eq!(post(&router, "/api/v2/spans", JSON, body).await.status, 202);
    assert!(store.get_trace(trace_id(TRACE_A)).await.unwrap().is_empty());
    let snapshot = metrics.transport(Transport::Http).snapshot();
    assert_eq!((snapshot.spans, snapshot.spans_dropped), (1, 1));
}

#[tokio::test]
async fn get_trace_normalises_the_id_and_answers_404_or_400() {
    let (router, store, _) = app(&[]);
    store
        .accept(vec![client_span("48485a3953bb6124", "a", "frontend")])
        .await
        .unwrap();

    assert_eq!(
        get(&router, "/api/v2/trace/48485a3953bb6124%20")
            .await
            .status,
        200,
        "trailing space"
    );
    assert_eq!(
        get(&router, "/api/v2/trace/000000000000000048485a3953bb6124")
            .await
            .status,
        200
    );

    let reply = get(&router, "/api/v2/trace/abcd").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.text(), "000000000000abcd not found");

    let reply = get(&router, "/api/v2/trace/0e8b46e1-81b").await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.text(),
        "0e8b46e1-81b should be lower-hex encoded with no prefix"
    );
    let reply = get(&router, "/api/v2/trace/48485A3953BB6124").await;
    assert_eq!(reply.status, 400);
    let reply = get(&router, &format!("/api/v2/trace/{}", "a".repeat(33))).await;
    assert_eq!(reply.text(), "traceId.length > 32");
    let reply = get(&router, "/api/v2/trace/0000").await;
    assert_eq!(reply.text(), "traceId is all zeros");
}

#[tokio::test]
async fn trace_many_returns_found_traces_and_validates_ids() {
    let (router, store, _) = app(&[]);
    let span = client_span(TRACE_A, "a", "frontend");
    store.accept(vec![span.clone()]).await.unwrap();

    let reply = get(
        &router,
        &format!("/api/v2/traceMany?traceIds=abcd,{TRACE_A}"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let mut expected = Vec::new();
    json_v2::encode_traces(&[vec![span]], &mut expected);
    assert_eq!(reply.body, expected);

    for (query, message) in [
        ("traceIds=", "traceIds parameter is empty"),
        ("", "traceIds parameter is empty"),
        (
            "traceIds=abcd",
            "Use /api/v2/trace/{traceId} endpoint to retrieve a single trace",
        ),
        (
            "traceIds=abcd,000000000000abcd",
            "redundant traceId: 000000000000abcd",
        ),
        (
            "traceIds=abcd,0e8b46e1-81b",
            "0e8b46e1-81b should be lower-hex encoded with no prefix",
        ),
    ] {
        let reply = get(&router, &format!("/api/v2/traceMany?{query}")).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.text(), message, "{query}");
    }
    let reply = get(&router, "/api/v2/traceMany?traceIds=abcd,beef").await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "[]"));
}

#[tokio::test]
async fn traces_query_requires_no_parameters() {
    let (router, store, _) = app(&[]);
    let span = client_span(TRACE_A, "a", "frontend");
    store.accept(vec![span.clone()]).await.unwrap();
    let reply = get(&router, "/api/v2/traces").await;
    assert_eq!(reply.status, 200);
    let mut expected = Vec::new();
    json_v2::encode_traces(&[vec![span]], &mut expected);
    assert_eq!(reply.body, expected);
    let reply = get(&router, "/zipkin/api/v2/traces").await;
    assert_eq!(reply.status, 200, "the UI's prefix serves the same API");
    assert_eq!(reply.body, expected);
}

#[tokio::test]
async fn traces_query_filters_by_criteria() {
    let (router, store, _) = app(&[]);
    store
        .accept(vec![client_span(TRACE_A, "a", "frontend")])
        .await
        .unwrap();
    let found = |q: &'static str| {
        let router = router.clone();
        async move {
            let reply = get(&router, &format!("/api/v2/traces?{q}")).await;
            assert_eq!(reply.status, 200, "{q}: {}", reply.text());
            reply.json().as_array().unwrap().len()
        }
    };
    assert_eq!(found("serviceName=frontend").await, 1);
    assert_eq!(found("serviceName=FRONTEND&spanName=GET%20/foo").await, 1);
    assert_eq!(found("serviceName=backend").await, 0);
    assert_eq!(found("remoteServiceName=backend").await, 1);
    assert_eq!(
        found("annotationQuery=http.method%3DGET%20and%20http.path").await,
        1
    );
    assert_eq!(found("annotationQuery=http.method%3DPOST").await, 0);
    assert_eq!(found("minDuration=200&maxDuration=200").await, 1);
    assert_eq!(found("minDuration=201").await, 0);
    assert_eq!(found("spanName=all").await, 1);
}

#[tokio::test]
async fn traces_query_rejects_bad_parameters_with_zipkins_messages() {
    let (router, _, _) = app(&[]);
    for (query, message) in [
        ("endTs=0", "endTs <= 0"),
        ("lookback=0", "lookback <= 0"),
        ("limit=0", "limit <= 0"),
        ("minDuration=0", "minDuration <= 0"),
        (
            "maxDuration=5",
            "maxDuration is only valid with minDuration",
        ),
        ("minDuration=5&maxDuration=4", "maxDuration < minDuration"),
    ] {
        let reply = get(&router, &format!("/api/v2/traces?{query}")).await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.text(), message, "{query}");
    }
    let reply = get(&router, "/api/v2/traces?limit=ten").await;
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("limit"), "{}", reply.text());
}

#[tokio::test]
async fn name_endpoints_are_sorted_and_cached_only_above_three_services() {
    let (router, store, _) = app(&[]);
    store
        .accept(vec![client_span(TRACE_A, "a", "foo")])
        .await
        .unwrap();
    let reply = get(&router, "/api/v2/services").await;
    assert_eq!(reply.text(), r#"["foo"]"#);
    assert_eq!(reply.header("cache-control"), None);
    for path in [
        "/api/v2/spans?serviceName=foo",
        "/api/v2/remoteServices?serviceName=foo",
    ] {
        assert_eq!(
            get(&router, path).await.header("cache-control"),
            None,
            "{path}"
        );
    }
    assert_eq!(
        get(&router, "/api/v2/spans?serviceName=foo").await.text(),
        r#"["get /foo"]"#
    );
    assert_eq!(
        get(&router, "/api/v2/remoteServices?serviceName=foo")
            .await
            .text(),
        r#"["backend"]"#
    );

    for (i, name) in ["quz", "bar", "baz"].iter().enumerate() {
        let trace = format!("{:016x}", i + 1);
        store
            .accept(vec![client_span(&trace, "a", name)])
            .await
            .unwrap();
    }
    let reply = get(&router, "/api/v2/services").await;
    assert_eq!(reply.text(), r#"["bar","baz","foo","quz"]"#);
    assert_eq!(
        reply.header("cache-control"),
        Some("max-age=300, must-revalidate")
    );
    for path in [
        "/api/v2/spans?serviceName=foo",
        "/api/v2/remoteServices?serviceName=foo",
    ] {
        let reply = get(&router, path).await;
        assert_eq!(
            reply.header("cache-control"),
            Some("max-age=300, must-revalidate"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn name_endpoints_require_service_name_and_accept_unicode() {
    let (router, store, _) = app(&[]);
    assert_eq!(get(&router, "/api/v2/spans").await.status, 400);
    assert_eq!(get(&router, "/api/v2/remoteServices").await.status, 400);
    let reply = get(
        &router,
        "/api/v2/spans?serviceName=%E4%B8%AA%E4%BA%BA%E4%BF%A1%E6%81%AF%E6%9C%8D%E5%8A%A1",
    )
    .await;
    assert_eq!(reply.status, 200);
    let reply = get(
        &router,
        "/api/v2/remoteServices?serviceName=%E4%B8%AA%E4%BA%BA",
    )
    .await;
    assert_eq!(reply.status, 200);

    let mut span = client_span(TRACE_A, "a", "frontend");
    span.remote_endpoint
        .as_mut()
        .unwrap()
        .set_service_name("foo\tbar");
    store.accept(vec![span]).await.unwrap();
    let reply = get(&router, "/api/v2/remoteServices?serviceName=frontend").await;
    assert_eq!(reply.text(), r#"["foo\tbar"]"#);
}

#[tokio::test]
async fn dependencies_validate_parameters_and_link_spans() {
    let (router, store, _) = app(&[]);
    assert_eq!(
        get(&router, "/api/v2/dependencies").await.status,
        400,
        "endTs is required"
    );
    let reply = get(&router, "/api/v2/dependencies?endTs=0").await;
    assert_eq!((reply.status, reply.text().as_str()), (400, "endTs <= 0"));
    let reply = get(&router, "/api/v2/dependencies?endTs=1&lookback=0").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (400, "lookback <= 0")
    );

    let mut span = client_span(TRACE_A, "a", "frontend");
    span.tags.push(("error".into(), "".into()));
    span.normalize();
    store.accept(vec![span]).await.unwrap();
    let end = now_micros() / 1000 + 1000;
    let reply = get(&router, &format!("/api/v2/dependencies?endTs={end}")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.text(),
        r#"[{"parent":"frontend","child":"backend","callCount":1,"errorCount":1}]"#
    );
}

#[tokio::test]
async fn autocomplete_keys_are_always_cached_and_values_above_three() {
    let (router, store, _) = app(&["--autocomplete-keys", "http.host,environment"]);
    let reply = get(&router, "/api/v2/autocompleteKeys").await;
    assert_eq!(reply.text(), r#"["environment","http.host"]"#);
    assert_eq!(
        reply.header("cache-control"),
        Some("max-age=300, must-revalidate")
    );

    assert_eq!(get(&router, "/api/v2/autocompleteValues").await.status, 400);
    let reply = get(&router, "/api/v2/autocompleteValues?key=").await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (400, "key was empty")
    );

    for (i, host) in ["a", "b", "c"].iter().enumerate() {
        let mut span = client_span(&format!("{:016x}", i + 1), "a", "frontend");
        span.tags.push(("http.host".into(), (*host).into()));
        span.normalize();
        store.accept(vec![span]).await.unwrap();
    }
    let reply = get(&router, "/api/v2/autocompleteValues?key=http.host").await;
    assert_eq!(reply.text(), r#"["a","b","c"]"#);
    assert_eq!(reply.header("cache-control"), None);
    let mut span = client_span("beef", "a", "frontend");
    span.tags.push(("http.host".into(), "d".into()));
    span.normalize();
    store.accept(vec![span]).await.unwrap();
    let reply = get(&router, "/api/v2/autocompleteValues?key=http.host").await;
    assert_eq!(
        reply.header("cache-control"),
        Some("max-age=300, must-revalidate")
    );
}

#[tokio::test]
async fn cors_allows_any_origin_by_default() {
    let (router, _, _) = app(&[]);
    let request = Request::get("/api/v2/services")
        .header("origin", "http://foo.example.com")
        .body(Body::empty())
        .unwrap();
    let reply = send(&router, request).await;
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert_eq!(reply.header("access-control-allow-credentials"), None);
    assert_eq!(reply.header("vary"), None);
}

#[tokio::test]
async fn cors_echoes_configured_origins_and_ignores_others() {
    let (router, _, _) = app(&["--allowed-origins", "http://foo.example.com"]);
    let preflight = |origin: &str, method: &str, path: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri(path)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap()
    };
    for (method, path) in [("GET", "/api/v2/traces"), ("POST", "/api/v2/spans")] {
        let reply = send(&router, preflight("http://foo.example.com", method, path)).await;
        assert!(reply.status < 300, "{method} {path}: {}", reply.status);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("http://foo.example.com")
        );
        assert!(reply
            .header("access-control-allow-methods")
            .unwrap()
            .contains(method));
        assert!(reply
            .header("access-control-allow-headers")
            .unwrap()
            .contains("content-type"));
        assert!(reply
            .header("vary")
            .unwrap_or("")
            .to_lowercase()
            .contains("origin"));
    }
    let reply = send(
        &router,
        preflight("http://bar.example.com", "GET", "/api/v2/traces"),
    )
    .await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn trace_method_is_not_allowed_anywhere() {
    let (router, _, _) = app(&[]);
    for path in ["/", "/api/v2/traces", "/whatever/and/not"] {
        let request = Request::builder()
            .method("TRACE")
            .uri(path)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&router, request).await.status, 405, "{path}");
    }
}

#[tokio::test]
async fn health_is_up_with_zipkins_body_and_down_when_storage_fails() {
    let (router, _, _) = app(&[]);
    let reply = get(&router, "/health").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = reply.json();
    assert_eq!(body["status"], "UP");
    assert_eq!(
        body["zipkin"]["details"]["InMemoryStorage{}"]["status"],
        "UP"
    );
    let reply = get(&router, "/actuator/health").await;
    assert_eq!(reply.status, 200);

    let router = app_with_store(&[], FlakyStore::failing(1));
    let reply = get(&router, "/health").await;
    assert_eq!(reply.status, 503);
    let body = reply.json();
    assert_eq!(body["status"], "DOWN");
    let details = &body["zipkin"]["details"]["FlakyStore{}"];
    assert_eq!(details["status"], "DOWN");
    assert!(details["details"]["error"]
        .as_str()
        .unwrap()
        .contains("connection refused"));
}

#[tokio::test]
async fn info_reports_the_version() {
    let (router, _, _) = app(&[]);
    let reply = get(&router, "/info").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(reply.json()["zipkin"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn metrics_use_zipkins_flat_keys_and_count_messages() {
    let (router, _, _) = app(&[]);
    let body = encode(&[
        client_span(TRACE_A, "a", "frontend"),
        client_span(TRACE_A, "b", "frontend"),
    ]);
    post(&router, "/api/v2/spans", JSON, body.clone()).await;
    post(&router, "/api/v2/spans", JSON, body.clone()).await;
    post(&router, "/api/v2/spans", JSON, "[malformed").await;
    let metrics = get(&router, "/metrics").await.json();
    let metrics = metrics.as_object().unwrap();
    assert_eq!(metrics.len(), 14, "{metrics:?}");
    assert_eq!(metrics["counter.zipkin_collector.messages.http"], 3);
    assert_eq!(metrics["counter.zipkin_collector.messages_dropped.http"], 1);
    assert_eq!(metrics["counter.zipkin_collector.spans.http"], 4);
    assert_eq!(metrics["counter.zipkin_collector.spans_dropped.http"], 0);
    assert_eq!(metrics["gauge.zipkin_collector.message_spans.http"], 2);
    assert_eq!(metrics["counter.zipkin_collector.messages.grpc"], 0);

    // Errors on reads don't count as collector traffic.
    get(&router, "/api/v2/trace/0e8b46e1-81b").await;
    let after = get(&router, "/metrics").await.json();
    assert_eq!(after["counter.zipkin_collector.messages.http"], 3);
}

#[tokio::test]
async fn disabling_the_http_collector_hides_post_only() {
    let (router, _, _) = app(&["--collector-http-enabled", "false"]);
    let reply = post(&router, "/api/v2/spans", JSON, "[]").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        get(&router, "/api/v2/spans?serviceName=unknown")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn disabling_the_query_api_hides_reads_and_ui_but_not_health() {
    let (router, _, _) = app(&["--query-enabled", "false"]);
    assert_eq!(get(&router, "/api/v2/traces").await.status, 404);
    assert_eq!(get(&router, "/zipkin/index.html").await.status, 404);
    assert_eq!(get(&router, "/health").await.status, 200);
    assert_eq!(post(&router, "/api/v2/spans", JSON, "[]").await.status, 202);
}

#[tokio::test]
async fn reads_that_exceed_the_query_timeout_are_500() {
    let router = app_with_store(
        &["--query-timeout", "50ms"],
        FlakyStore::slow(Duration::from_millis(500)),
    );
    let reply = get(&router, &format!("/api/v2/trace/{TRACE_A}")).await;
    assert_eq!(reply.status, 500);
}

#[tokio::test]
async fn large_json_responses_are_gzip_compressed_when_asked() {
    let (router, store, _) = app(&[]);
    let spans: Vec<Span> = (1..40)
        .map(|i| client_span(TRACE_A, &format!("{i:x}"), "frontend"))
        .collect();
    store.accept(spans).await.unwrap();
    let request = Request::get(format!("/api/v2/trace/{TRACE_A}"))
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .unwrap();
    let reply = send(&router, request).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-encoding"), Some("gzip"));
}
