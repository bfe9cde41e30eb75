//! Zipkin's `/api/v2` read endpoints (`ZipkinQueryApiV2`).

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::Ordering;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::params::Params;
use super::{ApiError, ApiState};
use crate::codec::json_v2;
use crate::model::{QueryRequest, TraceId};
use crate::storage::StorageError;

/// Zipkin splits `traceIds` into at most this many ids.
const MAX_TRACE_IDS: usize = 1000;
/// Name lists are cacheable once there are more than this many entries.
const CACHE_NAMES_ABOVE: usize = 3;

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v2/services", get(get_service_names))
        .route("/api/v2/spans", get(get_span_names))
        .route("/api/v2/remoteServices", get(get_remote_service_names))
        .route("/api/v2/traces", get(get_traces))
        .route("/api/v2/trace/{trace_id}", get(get_trace))
        .route("/api/v2/traceMany", get(get_trace_many))
        .route("/api/v2/dependencies", get(get_dependencies))
        .route("/api/v2/autocompleteKeys", get(get_autocomplete_keys))
        .route("/api/v2/autocompleteValues", get(get_autocomplete_values))
        .with_state(state)
}

/// Runs a storage read under `QUERY_TIMEOUT` (Zipkin answers 500 when it expires).
async fn read<T>(
    state: &ApiState,
    fut: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, ApiError> {
    match state.settings.timeout {
        Some(limit) => tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| ApiError::Timeout)?,
        None => fut.await,
    }
    .map_err(ApiError::from)
}

fn json(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn names_response(state: &ApiState, names: &[String], cacheable: bool) -> Response {
    let mut body = Vec::with_capacity(16 * names.len() + 2);
    json_v2::encode_strings(names, &mut body);
    let mut response = json(body);
    if cacheable {
        let value = format!("max-age={}, must-revalidate", state.settings.names_max_age);
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(header::CACHE_CONTROL, value);
        }
    }
    response
}

fn services_are_many(state: &ApiState) -> bool {
    state.service_count.load(Ordering::Relaxed) > CACHE_NAMES_ABOVE
}

/// Zipkin API `GET /api/v2/services`: local service names, sorted.
async fn get_service_names(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let names = read(&state, state.store.get_service_names()).await?;
    state.service_count.store(names.len(), Ordering::Relaxed);
    Ok(names_response(
        &state,
        &names,
        names.len() > CACHE_NAMES_ABOVE,
    ))
}

/// Zipkin API `GET /api/v2/spans?serviceName=`: span names of a service, sorted.
async fn get_span_names(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let service = params.required("serviceName")?;
    let names = read(&state, state.store.get_span_names(service)).await?;
    Ok(names_response(&state, &names, services_are_many(&state)))
}

/// `GET /api/v2/remoteServices?serviceName=`: remote service names a service called.
async fn get_remote_service_names(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let service = params.required("serviceName")?;
    let names = read(&state, state.store.get_remote_service_names(service)).await?;
    Ok(names_response(&state, &names, services_are_many(&state)))
}

/// Zipkin API `GET /api/v2/traces`: search. Every parameter is optional.
async fn get_traces(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let request = query_request(&state, &params)?;
    let traces = read(&state, state.store.get_traces(&request)).await?;
    let mut body = Vec::with_capacity(traces.iter().map(|t| t.len() * 512).sum::<usize>() + 2);
    json_v2::encode_traces(&traces, &mut body);
    Ok(json(body))
}

fn query_request(state: &ApiState, params: &Params) -> Result<QueryRequest, ApiError> {
    let mut builder = QueryRequest::builder()
        .end_ts(params.i64("endTs")?.unwrap_or_else(now_millis))
        .lookback(
            params
                .i64("lookback")?
                .unwrap_or(state.settings.default_lookback),
        );
    if let Some(v) = params.get("serviceName") {
        builder = builder.service_name(v);
    }
    if let Some(v) = params.get("remoteServiceName") {
        builder = builder.remote_service_name(v);
    }
    if let Some(v) = params.get("spanName") {
        builder = builder.span_name(v);
    }
    if let Some(v) = params.get("annotationQuery") {
        builder = builder.parse_annotation_query(v);
    }
    if let Some(v) = params.i64("minDuration")? {
        builder = builder.min_duration(v);
    }
    if let Some(v) = params.i64("maxDuration")? {
        builder = builder.max_duration(v);
    }
    if let Some(v) = params.i64("limit")? {
        builder = builder.limit(v);
    }
    Ok(builder.build()?)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Zipkin API `GET /api/v2/trace/{traceId}`: every span of a trace, or 404.
async fn get_trace(
    State(state): State<ApiState>,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let trace_id = TraceId::parse(raw.trim())?;
    let spans = read(&state, state.store.get_trace(trace_id)).await?;
    if spans.is_empty() {
        return Err(ApiError::NotFound(format!("{trace_id} not found")));
    }
    let mut body = Vec::with_capacity(spans.len() * 512 + 2);
    json_v2::encode_spans(&spans, &mut body);
    Ok(json(body))
}

/// Zipkin API `GET /api/v2/traceMany?traceIds=a,b`: several traces; unknown ids are absent.
async fn get_trace_many(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let raw = params.get("traceIds").unwrap_or("");
    if raw.trim().is_empty() {
        return Err(ApiError::BadRequest("traceIds parameter is empty".into()));
    }
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for part in raw.splitn(MAX_TRACE_IDS, ',') {
        let id = TraceId::parse(part.trim())?;
        if !seen.insert(id) {
            return Err(ApiError::BadRequest(format!("redundant traceId: {part}")));
        }
        ids.push(id);
    }
    if ids.len() == 1 {
        return Err(ApiError::BadRequest(
            "Use /api/v2/trace/{traceId} endpoint to retrieve a single trace".into(),
        ));
    }
    let traces = read(&state, state.store.get_traces_by_ids(&ids)).await?;
    let mut body = Vec::new();
    json_v2::encode_traces(&traces, &mut body);
    Ok(json(body))
}

/// Zipkin API `GET /api/v2/dependencies?endTs=&lookback=`: service dependency links.
async fn get_dependencies(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let end_ts = params
        .i64("endTs")?
        .ok_or_else(|| ApiError::BadRequest("Required parameter endTs is missing".into()))?;
    let lookback = params
        .i64("lookback")?
        .unwrap_or(state.settings.default_lookback);
    let links = read(&state, state.store.get_dependencies(end_ts, lookback)).await?;
    let mut body = Vec::new();
    json_v2::encode_dependency_links(&links, &mut body);
    Ok(json(body))
}

/// Zipkin API `GET /api/v2/autocompleteKeys`: the configured `AUTOCOMPLETE_KEYS`.
async fn get_autocomplete_keys(State(state): State<ApiState>) -> Response {
    names_response(&state, &state.settings.autocomplete_keys, true)
}

/// Zipkin API `GET /api/v2/autocompleteValues?key=`: stored values of a configured key.
async fn get_autocomplete_values(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let key = params.required("key")?;
    let values = read(&state, state.store.get_autocomplete_values(key)).await?;
    let cacheable = values.len() > CACHE_NAMES_ABOVE;
    Ok(names_response(&state, &values, cacheable))
}
