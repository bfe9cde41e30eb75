//! HTTP server telemetry: the `http_server_requests_seconds` histogram and, with
//! self-tracing on, one server span per request.
//!
//! As in Zipkin, only `/api/...` and `/zipkin/api/...` requests are recorded (health,
//! metrics, the UI and the gRPC path are not), `/zipkin/api/...` is recorded as
//! `/api/...` (so is the API under a custom `ZIPKIN_UI_BASEPATH`, where the UI calls it),
//! and the `uri` label is the route template: `/api/v2/trace/{traceId}`,
//! `NOT_FOUND` for 404s and `REDIRECTION` for 3xx, never a raw path.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::trace::{FutureExt, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use super::metrics::HttpLabels;

/// State of [`observe`].
#[derive(Clone)]
pub struct HttpTelemetry {
    pub requests: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pub tracer: Option<SdkTracer>,
    /// A UI base path other than `/zipkin` (`ZIPKIN_UI_BASEPATH`): the API is mounted
    /// under it too, and recorded as `/api/...` like the `/zipkin` mount.
    pub ui_base: Option<Arc<str>>,
}

impl HttpTelemetry {
    /// Also records the API mounted under the UI's base path `base`.
    pub fn with_ui_base(mut self, base: &str) -> Self {
        self.ui_base = (base != "/zipkin" && !base.is_empty()).then(|| Arc::from(base));
        self
    }

    fn base(&self) -> &str {
        self.ui_base.as_deref().unwrap_or("/zipkin")
    }
}

/// A route layer (runs after routing): copies the matched route template onto the
/// response, where [`observe`], which wraps the whole router, can read it.
pub async fn remember_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}

/// Times `/api` requests and, when self-tracing is on, traces them.
pub async fn observe(
    State(telemetry): State<HttpTelemetry>,
    request: Request,
    next: Next,
) -> Response {
    if !is_api_path(request.uri().path(), telemetry.base()) {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = match &telemetry.tracer {
        Some(tracer) => traced(tracer, &method, telemetry.base(), request, next).await,
        None => next.run(request).await,
    };
    let status = response.status().as_u16();
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    telemetry
        .requests
        .get_or_create(&HttpLabels {
            method,
            uri: uri_label(status, route, telemetry.base()).into_owned(),
            status: status.to_string(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Runs the request inside a server span named after its route (`get /api/v2/services`),
/// tagged like Zipkin's self-traces (`http.method`, `http.path`, `http.route`,
/// `http.status_code`).
async fn traced(
    tracer: &SdkTracer,
    method: &str,
    base: &str,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let span = tracer
        .span_builder(format!("{method} {path}"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.method", method.to_owned()),
            KeyValue::new("http.path", path),
        ])
        .start(tracer);
    let cx = Context::current_with_span(span);
    let response = next.run(request).with_context(cx.clone()).await;

    let span = cx.span();
    let status = response.status().as_u16();
    if let Some(route) = response.extensions().get::<MatchedPath>() {
        let route = api_route(route.as_str(), base);
        span.update_name(format!("{method} {route}"));
        span.set_attribute(KeyValue::new("http.route", route.into_owned()));
    }
    span.set_attribute(KeyValue::new("http.status_code", status.to_string()));
    if status >= 500 {
        span.set_status(Status::error(status.to_string()));
    }
    span.end();
    response
}

/// Whether `path` is the API at the root, under `/zipkin` or under the UI base path.
fn is_api_path(path: &str, base: &str) -> bool {
    let under = |path: &str, prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    under(path, "/api")
        || ["/zipkin", base]
            .iter()
            .any(|b| path.strip_prefix(b).is_some_and(|rest| under(rest, "/api")))
}

/// The `uri` label of a response: Zipkin's `REDIRECTION` and `NOT_FOUND` buckets, else the
/// route template with the UI's prefix (`/zipkin` or `base`) removed.
pub fn uri_label(status: u16, route: Option<&str>, base: &str) -> Cow<'static, str> {
    if (300..400).contains(&status) {
        return Cow::Borrowed("REDIRECTION");
    }
    if status == 404 {
        return Cow::Borrowed("NOT_FOUND");
    }
    match route {
        Some(route) => Cow::Owned(api_route(route, base).into_owned()),
        // Answered before routing (e.g. a method refused by a layer): no template to use,
        // and the raw path may hold ids.
        None => Cow::Borrowed("UNKNOWN"),
    }
}

/// `/zipkin/api/v2/trace/{trace_id}` → `/api/v2/trace/{traceId}` (Zipkin's label); the
/// same for the API under the UI base path `base`.
fn api_route<'a>(route: &'a str, base: &str) -> Cow<'a, str> {
    let route = ["/zipkin", base]
        .iter()
        .find_map(|b| route.strip_prefix(b).filter(|r| r.starts_with("/api/")))
        .unwrap_or(route);
    if route.contains("{trace_id}") {
        Cow::Owned(route.replace("{trace_id}", "{traceId}"))
    } else {
        Cow::Borrowed(route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_labels_are_templates_never_raw_paths() {
        assert_eq!(
            uri_label(200, Some("/api/v2/trace/{trace_id}"), "/zipkin"),
            "/api/v2/trace/{traceId}"
        );
        assert_eq!(
            uri_label(200, Some("/zipkin/api/v2/trace/{trace_id}"), "/zipkin"),
            "/api/v2/trace/{traceId}"
        );
        assert_eq!(
            uri_label(200, Some("/zipkin/api/v2/services"), "/zipkin"),
            "/api/v2/services"
        );
        assert_eq!(
            uri_label(404, Some("/api/v2/trace/{trace_id}"), "/zipkin"),
            "NOT_FOUND"
        );
        assert_eq!(uri_label(302, None, "/zipkin"), "REDIRECTION");
        assert_eq!(uri_label(405, None, "/zipkin"), "UNKNOWN");
        // The API under a custom UI base path is labelled like the root API.
        assert_eq!(
            uri_label(
                200,
                Some("/tracing/ui/api/v2/trace/{trace_id}"),
                "/tracing/ui"
            ),
            "/api/v2/trace/{traceId}"
        );
        assert_eq!(
            uri_label(200, Some("/zipkin/api/v2/services"), "/tracing/ui"),
            "/api/v2/services"
        );
    }

    #[test]
    fn only_api_paths_are_recorded() {
        assert!(is_api_path("/api/v2/services", "/zipkin"));
        assert!(is_api_path("/zipkin/api/v2/traces", "/zipkin"));
        assert!(is_api_path("/api", "/zipkin"));
        assert!(!is_api_path("/apix", "/zipkin"));
        assert!(!is_api_path("/health", "/zipkin"));
        assert!(!is_api_path("/prometheus", "/zipkin"));
        assert!(!is_api_path("/zipkin/", "/zipkin"));
        assert!(!is_api_path("/zipkin.proto3.SpanService/Report", "/zipkin"));
        assert!(is_api_path("/tracing/ui/api/v2/traces", "/tracing/ui"));
        assert!(is_api_path("/zipkin/api/v2/traces", "/tracing/ui"));
        assert!(!is_api_path("/tracing/ui/", "/tracing/ui"));
        assert!(!is_api_path("/tracing/uiapi/v2/traces", "/tracing/ui"));
    }
}
