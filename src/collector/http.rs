//! HTTP collector: `POST /api/v2/spans` and `POST /api/v1/spans` (Zipkin's
//! `ZipkinHttpCollector`).

use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

use super::{Collector, Transport};
use crate::api::ApiError;
use crate::codec::detect::{self, Encoding};
use crate::model::Span;

/// Bodies larger than this are decoded with `block_in_place`, so one huge POST does not
/// stall the other requests scheduled on the same async worker.
const OFFLOAD_DECODE_BYTES: usize = 128 * 1024;

/// Shared state of the HTTP collector routes.
#[derive(Clone)]
pub struct HttpCollector {
    pub collector: Arc<Collector>,
    pub max_body_size: usize,
    pub max_decompressed_size: usize,
}

/// The collector routes; mounted only when `COLLECTOR_HTTP_ENABLED` is true.
pub fn router(state: HttpCollector) -> Router {
    let limit = state.max_body_size;
    Router::new()
        .route("/api/v2/spans", post(post_spans_v2))
        .route("/api/v1/spans", post(post_spans_v1))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// With the HTTP collector disabled, POSTs are 404 as in Zipkin (not 405, which the GET
/// route sharing the path would otherwise cause).
pub fn disabled_router() -> Router {
    Router::new()
        .route("/api/v2/spans", post(|| async { StatusCode::NOT_FOUND }))
        .route("/api/v1/spans", post(|| async { StatusCode::NOT_FOUND }))
}

/// Zipkin API `POST /api/v2/spans`: a JSON v2 list of spans, or a proto3 `ListOfSpans`
/// with `Content-Type: application/x-protobuf`. Answers 202 once the spans are stored (an
/// empty body or `[]` is accepted and ignored), 400 with Zipkin's message for undecodable
/// input, 413 for oversized bodies, and 503 when storage fails so the sender can retry.
async fn post_spans_v2(
    State(state): State<HttpCollector>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let encoding = if has_content_type(&headers, "application/x-protobuf") {
        Encoding::Proto3
    } else {
        Encoding::JsonV2
    };
    post_spans(state, headers, body, encoding).await
}

/// Zipkin API `POST /api/v1/spans` (legacy): a Thrift (TBinaryProtocol) list of v1 spans
/// with `Content-Type: application/x-thrift`, else a JSON v1 list. Answers as
/// `POST /api/v2/spans` does.
async fn post_spans_v1(
    State(state): State<HttpCollector>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let encoding = if has_content_type(&headers, "application/x-thrift") {
        Encoding::Thrift
    } else {
        Encoding::JsonV1
    };
    post_spans(state, headers, body, encoding).await
}

/// Whether the request's media type (parameters ignored) is `media_type`. Any other or no
/// content type selects the endpoint's JSON decoder, as in Zipkin.
fn has_content_type(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

async fn post_spans(
    state: HttpCollector,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    encoding: Encoding,
) -> Result<StatusCode, ApiError> {
    let counters = state.collector.metrics().transport(Transport::Http);
    counters.increment_messages();
    let spans = match read_body(&state, &headers, body).and_then(|body| decode(encoding, body)) {
        Ok(spans) => spans,
        Err(err) => {
            counters.increment_messages_dropped();
            return Err(err);
        }
    };
    let Some(spans) = spans else {
        return Ok(StatusCode::ACCEPTED);
    };
    state.collector.accept(Transport::Http, spans).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The request body, gunzipped when `Content-Encoding` names gzip, with `[]` mapped to
/// empty (Zipkin counts it as zero bytes). Counts the decoded size.
fn read_body(
    state: &HttpCollector,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(format!(
            "request body exceeds the limit of {} bytes (COLLECTOR_MAX_BODY_SIZE)",
            state.max_body_size
        )),
        _ => ApiError::BadRequest(rejection.body_text()),
    })?;
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"));
    let body = if gzipped && !body.is_empty() {
        gunzip(&body, state.max_decompressed_size)?
    } else {
        body
    };
    let body = if body.as_ref() == b"[]" {
        Bytes::new()
    } else {
        body
    };
    state
        .collector
        .metrics()
        .transport(Transport::Http)
        .add_bytes(body.len());
    Ok(body)
}

/// Decompresses at most `limit` bytes; a larger result is refused rather than buffered, so
/// a small gzip bomb cannot exhaust memory.
fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, ApiError> {
    let mut out = Vec::with_capacity((body.len() * 4).min(limit));
    let mut decoder = flate2::read::GzDecoder::new(body).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|_| ApiError::BadRequest("Cannot gunzip spans".into()))?;
    if out.len() > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "decompressed body exceeds the limit of {limit} bytes (COLLECTOR_MAX_DECOMPRESSED_SIZE)"
        )));
    }
    Ok(out.into())
}

/// Decodes a body in the endpoint's encoding; `None` for an empty one. Zipkin's sniffing
/// comes first: the body must look like a span list, and a JSON body must not be the other
/// JSON version (the two are ambiguous on minimal spans, so decoding one as the other
/// would silently lose data).
fn decode(encoding: Encoding, body: Bytes) -> Result<Option<Vec<Span>>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    detect::check_http_body(encoding, &body)?;
    let decode = || detect::decode_list(encoding, &body);
    let spans = if body.len() > OFFLOAD_DECODE_BYTES {
        tokio::task::block_in_place(decode)
    } else {
        decode()
    }?;
    Ok(Some(spans))
}
