//! The `ZIPKIN_UI_*` settings end to end through the application router: what
//! `config.json` says, where the UI and the API it calls are mounted.

mod common;

use common::*;

#[tokio::test]
async fn ui_settings_reach_config_json() {
    let (router, _, _) = app(&[
        "--ui-environment",
        "staging",
        "--ui-query-limit",
        "25",
        "--ui-default-lookback",
        "3600000",
        "--ui-logs-url",
        "https://logs.example/?q={traceId}",
        "--ui-support-url",
        "https://help.example/",
        "--ui-archive-post-url",
        "http://archive:9411/api/v2/spans",
        "--ui-archive-url",
        "http://archive:9411/zipkin/traces/{traceId}",
        "--ui-dependency-enabled",
        "false",
        "--ui-dependency-low-error-rate",
        "0.25",
        "--ui-dependency-high-error-rate",
        "0.9",
    ]);
    let reply = get(&router, "/zipkin/config.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        serde_json::json!({
            "environment": "staging",
            "queryLimit": 25,
            "defaultLookback": 3600000,
            "searchEnabled": true,
            "logsUrl": "https://logs.example/?q={traceId}",
            "supportUrl": "https://help.example/",
            "archivePostUrl": "http://archive:9411/api/v2/spans",
            "archiveUrl": "http://archive:9411/zipkin/traces/{traceId}",
            "dependency": {"enabled": false, "lowErrorRate": 0.25, "highErrorRate": 0.9}
        })
    );
}

#[tokio::test]
async fn a_custom_base_path_serves_the_ui_and_its_api_there_and_at_zipkin() {
    let (router, store, _) = app(&["--ui-basepath", "/tracing/ui/"]);
    store
        .accept(vec![client_span("463ac35c9f6413ad", "a", "frontend")])
        .await
        .unwrap();

    let redirect = get(&router, "/").await;
    assert_eq!(redirect.status, 302);
    assert_eq!(redirect.header("location"), Some("/tracing/ui/"));
    for path in [
        "/tracing/ui/",
        "/tracing/ui/traces/463ac35c9f6413ad",
        "/zipkin/",
    ] {
        let page = get(&router, path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.text().contains("<base href=\"/tracing/ui/\">"),
            "{path}"
        );
    }
    // The UI calls the API relative to its base; Zipkin's own mounts stay.
    for prefix in ["/tracing/ui", "/zipkin", ""] {
        let services = get(&router, &format!("{prefix}/api/v2/services")).await;
        assert_eq!(services.status, 200, "{prefix}");
        assert_eq!(services.json(), serde_json::json!(["frontend"]), "{prefix}");
    }
    assert_eq!(get(&router, "/tracing/ui/config.json").await.status, 200);
    assert_eq!(get(&router, "/tracing/ui/api/v2/nope").await.status, 404);

    // All three mounts are timed, under Zipkin's one label for the route.
    let metrics = get(&router, "/prometheus").await.text();
    let count = metrics
        .lines()
        .find(|l| {
            l.starts_with("http_server_requests_seconds_count")
                && l.contains(r#"uri="/api/v2/services""#)
                && l.contains(r#"status="200""#)
        })
        .unwrap_or_else(|| panic!("no count for /api/v2/services in:\n{metrics}"));
    assert!(count.ends_with(" 3"), "{count}");
}

#[tokio::test]
async fn a_base_path_under_zipkin_and_a_root_base_path_both_route() {
    let (nested, _, _) = app(&["--ui-basepath", "/zipkin/ui"]);
    assert_eq!(get(&nested, "/zipkin/ui/api/v2/services").await.status, 200);
    assert_eq!(get(&nested, "/zipkin/api/v2/services").await.status, 200);
    assert!(get(&nested, "/zipkin/ui/traces/abc")
        .await
        .text()
        .contains("<base href=\"/zipkin/ui/\">"));

    let (root, _, _) = app(&["--ui-basepath", "/"]);
    assert!(get(&root, "/").await.text().contains("<base href=\"/\">"));
    assert_eq!(get(&root, "/api/v2/services").await.status, 200);
    assert_eq!(get(&root, "/health").await.status, 200);
    assert_eq!(get(&root, "/zipkin/api/v2/services").await.status, 200);
}

#[tokio::test]
async fn without_the_ui_the_base_path_mounts_no_api() {
    let (router, _, _) = app(&["--ui-enabled", "false", "--ui-basepath", "/tracing"]);
    assert_eq!(get(&router, "/tracing/api/v2/services").await.status, 404);
    assert_eq!(get(&router, "/api/v2/services").await.status, 200);
}
