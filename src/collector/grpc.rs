//! gRPC collector: `zipkin.proto3.SpanService/Report` (Zipkin's `ZipkinGrpcCollector`),
//! served on the HTTP port over HTTP/2 like Zipkin's Armeria server.
//!
//! A hand-written unary handler rather than tonic: the service has one method whose
//! request is the same `ListOfSpans` the HTTP collector already decodes, so the gRPC layer
//! is only the 5-byte message framing, `grpc-status` trailers and status mapping. That
//! keeps one decode path (and one set of metrics) for proto3, needs no code generation
//! and no second HTTP stack beside axum.

use std::convert::Infallible;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use http_body::Frame;

use super::{Collector, Transport};
use crate::codec::proto3;
use crate::storage::StorageError;

/// The method's path: package `zipkin.proto3`, service `SpanService`, method `Report`.
pub const REPORT_PATH: &str = "/zipkin.proto3.SpanService/Report";

/// Messages larger than this are decoded with `block_in_place` (see the HTTP collector).
const OFFLOAD_DECODE_BYTES: usize = 128 * 1024;

/// Shared state of the gRPC route.
#[derive(Clone)]
pub struct GrpcCollector {
    pub collector: Arc<Collector>,
    /// Largest accepted request (framing included), as for HTTP bodies.
    pub max_body_size: usize,
    /// Largest message after `grpc-encoding: gzip` decompression.
    pub max_decompressed_size: usize,
}

/// The gRPC route; mounted when `COLLECTOR_GRPC_ENABLED` is true (the default).
pub fn router(state: GrpcCollector) -> Router {
    let limit = state.max_body_size;
    Router::new()
        .route(REPORT_PATH, post(report))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// gRPC status codes used here (google.rpc.Code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    Ok = 0,
    InvalidArgument = 3,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
}

/// `SpanService.Report`: stores the spans of a `ListOfSpans` and replies with an empty
/// `ReportResponse`. An empty message is fine. Undecodable input is `INVALID_ARGUMENT`
/// with Zipkin's decoder message; a storage outage is `UNAVAILABLE` so clients retry.
async fn report(
    State(state): State<GrpcCollector>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let is_grpc = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if !is_grpc {
        // Not a gRPC call at all: plain HTTP semantics, as the gRPC spec asks.
        return StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
    }
    let counters = state.collector.metrics().transport(Transport::Grpc);
    counters.increment_messages();
    let result = match body {
        Ok(body) => unframe(&state, &headers, &body),
        Err(_) => Err((Code::ResourceExhausted, "request too large".to_owned())),
    };
    let message = match result {
        Ok(message) => message,
        Err((code, text)) => {
            counters.increment_messages_dropped();
            return status_only(code, &text);
        }
    };
    counters.add_bytes(message.len());
    let decode = || proto3::decode_list(&message);
    let decoded = if message.len() > OFFLOAD_DECODE_BYTES {
        tokio::task::block_in_place(decode)
    } else {
        decode()
    };
    let spans = match decoded {
        Ok(spans) => spans,
        Err(err) => {
            counters.increment_messages_dropped();
            return status_only(Code::InvalidArgument, &err.message);
        }
    };
    if !spans.is_empty() {
        if let Err(err) = state.collector.accept(Transport::Grpc, spans).await {
            let code = match err {
                StorageError::InvalidArgument(_) => Code::InvalidArgument,
                StorageError::Unavailable(_) => Code::Unavailable,
                StorageError::Internal(_) => Code::Internal,
            };
            return status_only(code, &err.to_string());
        }
    }
    ok_reply()
}

/// The single length-prefixed message of a unary call, decompressed if flagged.
fn unframe(
    state: &GrpcCollector,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Bytes, (Code, String)> {
    if body.is_empty() {
        // No message at all; proto3 makes that an empty ListOfSpans.
        return Ok(Bytes::new());
    }
    let malformed = |what: &str| (Code::Internal, format!("malformed gRPC framing: {what}"));
    if body.len() < 5 {
        return Err(malformed("truncated message prefix"));
    }
    let compressed = body[0];
    let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if body.len() - 5 != length {
        return Err(malformed("length prefix does not match the body"));
    }
    let message = body.slice(5..);
    match compressed {
        0 => Ok(message),
        1 => {
            let encoding = headers
                .get("grpc-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("identity");
            if encoding != "gzip" {
                return Err((
                    Code::Unimplemented,
                    format!("message compression {encoding} is not supported"),
                ));
            }
            let limit = state.max_decompressed_size;
            let mut out = Vec::with_capacity((message.len() * 4).min(limit));
            flate2::read::GzDecoder::new(&message[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|_| (Code::InvalidArgument, "Cannot gunzip spans".to_owned()))?;
            if out.len() > limit {
                return Err((
                    Code::ResourceExhausted,
                    format!("decompressed message exceeds {limit} bytes"),
                ));
            }
            Ok(out.into())
        }
        _ => Err(malformed("invalid compression flag")),
    }
}

/// A successful reply: one empty `ReportResponse` message, then `grpc-status: 0`.
fn ok_reply() -> Response {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let body = UnaryBody {
        // Uncompressed flag and a zero length: the empty ReportResponse.
        data: Some(Bytes::from_static(&[0, 0, 0, 0, 0])),
        trailers: Some(trailers),
    };
    let mut response = Response::new(Body::new(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    response
}

/// A "Trailers-Only" reply: the status in the headers and no body, which is how gRPC
/// answers a call that fails before producing a message.
fn status_only(code: Code, message: &str) -> Response {
    debug_assert_ne!(code, Code::Ok);
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from(code as u16));
    if let Ok(value) = HeaderValue::from_str(&percent_encode(message)) {
        headers.insert("grpc-message", value);
    }
    response
}

/// `grpc-message` is percent-encoded UTF-8 (gRPC over HTTP/2 spec): printable ASCII other
/// than `%` stays, everything else becomes `%XX`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response body of one data frame followed by trailers.
struct UnaryBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for UnaryBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(
            percent_encode("Truncated: 100% \n é"),
            "Truncated: 100%25 %0A %C3%A9"
        );
    }
}
