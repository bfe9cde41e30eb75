//! Every Zipkin wire format end to end through the router: proto3 and JSON v2 on
//! `POST /api/v2/spans`, JSON v1 and Thrift on `POST /api/v1/spans`, proto3 over gRPC
//! (`zipkin.proto3.SpanService/Report`), each read back through `GET /api/v2/trace/{id}`;
//! plus Zipkin's sniffing and confusion errors, and malformed input of every format
//! answered 400 with nothing stored.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{app, get, post, send};
use http_body_util::BodyExt;
use tower::ServiceExt;
use zipwire::codec::{json_v1, json_v2, proto3, thrift};
use zipwire::collector::Transport;
use zipwire::model::{Endpoint, Kind, Span, SpanId, TraceId};

/// A client span, the shared server span of the same RPC and a producer span: what the
/// v1 formats express with core and address annotations.
fn trace(trace_hex: &str) -> Vec<Span> {
    let trace = TraceId::parse(trace_hex).unwrap();
    let now = common::now_micros() - 10_000;
    let rpc = SpanId::parse("2").unwrap();
    vec![
        Span::builder(trace, rpc)
            .parent_id(SpanId::parse("1").unwrap())
            .name("get /api")
            .kind(Kind::Client)
            .timestamp(now)
            .duration(2_000)
            .local_endpoint(Endpoint::service("frontend").with_ip("172.17.0.13"))
            .remote_endpoint(Endpoint::service("backend").with_port(9000))
            .annotation(now + 100, "ws")
            .tag("http.path", "/api")
            .build(),
        Span::builder(trace, rpc)
            .parent_id(SpanId::parse("1").unwrap())
            .name("get /api")
            .kind(Kind::Server)
            .shared(true)
            .timestamp(now + 300)
            .duration(1_400)
            .local_endpoint(
                Endpoint::service("backend")
                    .with_ip("2001:db8::c001")
                    .with_port(9000),
            )
            .tag("error", "")
            .build(),
        Span::builder(trace, SpanId::parse("3").unwrap())
            .parent_id(rpc)
            .name("send")
            .kind(Kind::Producer)
            .timestamp(now + 500)
            .duration(100)
            .local_endpoint(Endpoint::service("backend"))
            .remote_endpoint(Endpoint::service("kafka"))
            .build(),
    ]
}

type Encoder = fn(&[Span]) -> Vec<u8>;

fn json_v2_bytes(spans: &[Span]) -> Vec<u8> {
    let mut out = Vec::new();
    json_v2::encode_spans(spans, &mut out);
    out
}

#[track_caller]
fn assert_same_spans(mut got: Vec<Span>, mut want: Vec<Span>) {
    let key = |s: &Span| (s.id, s.kind, s.shared);
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
}

async fn read_trace(router: &axum::Router, trace_hex: &str) -> Vec<Span> {
    let reply = get(router, &format!("/api/v2/trace/{trace_hex}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    json_v2::decode_spans(&reply.body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_http_format_round_trips_through_storage() {
    let cases: [(&str, &str, Encoder, &str); 4] = [
        (
            "/api/v2/spans",
            "application/json",
            json_v2_bytes,
            "0000000000000000000000000000000a",
        ),
        (
            "/api/v2/spans",
            "application/x-protobuf",
            proto3::encode_list,
            "463ac35c9f6413ad48485a3953bb6124",
        ),
        (
            "/api/v1/spans",
            "application/json",
            json_v1::encode_list,
            "463ac35c9f6413ad48485a3953bb6125",
        ),
        (
            "/api/v1/spans",
            "application/x-thrift",
            thrift::encode_list,
            "463ac35c9f6413ad48485a3953bb6126",
        ),
    ];
    let (router, _, metrics) = app(&[]);
    for (path, content_type, encode, trace_hex) in cases {
        let spans = trace(trace_hex);
        let reply = post(&router, path, content_type, encode(&spans)).await;
        assert_eq!(reply.status, 202, "{path} {content_type}: {}", reply.text());
        let stored_hex = spans[0].trace_id.to_string();
        assert_same_spans(read_trace(&router, &stored_hex).await, spans);
    }
    let http = metrics.transport(Transport::Http).snapshot();
    assert_eq!(http.messages, 4);
    assert_eq!(http.spans, 12);
    assert_eq!(http.messages_dropped, 0);
}

#[tokio::test]
async fn content_type_parameters_do_not_change_the_decoder() {
    let (router, _, _) = app(&[]);
    let spans = trace("463ac35c9f6413ad48485a3953bb6127");
    let reply = post(
        &router,
        "/api/v2/spans",
        "application/x-protobuf; proto=zipkin.proto3.ListOfSpans",
        proto3::encode_list(&spans),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
}

#[tokio::test]
async fn json_versions_are_not_confused() {
    // ZipkinHttpCollector: testForUnexpectedFormat
    let (router, _, _) = app(&[]);
    let v1 = json_v1::encode_list(&trace("1"));
    let reply = post(&router, "/api/v2/spans", "application/json", v1).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.text(),
        "Expected a JSON_V2 encoded list, but received: JSON_V1\n"
    );
    let v2 = json_v2_bytes(&trace("1"));
    let reply = post(&router, "/api/v1/spans", "application/json", v2).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.text(),
        "Expected a JSON_V1 encoded list, but received: JSON_V2\n"
    );
    // A minimal span is valid in both versions.
    let minimal = r#"[{"traceId":"1","id":"1","name":"test"}]"#;
    for path in ["/api/v1/spans", "/api/v2/spans"] {
        let reply = post(&router, path, "application/json", minimal).await;
        assert_eq!(reply.status, 202, "{path}: {}", reply.text());
    }
}

#[tokio::test]
async fn malformed_input_of_every_format_is_400_and_stores_nothing() {
    // ITZipkinHttpCollector.malformedNotOk, and a truncated message of each format.
    let spans = trace("463ac35c9f6413ad48485a3953bb6128");
    let truncated = |bytes: Vec<u8>| bytes[..bytes.len() / 2].to_vec();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "/api/v2/spans",
            "application/json",
            vec![1, 2, 3, 4],
            "Expected a JSON_V2 encoded list\n",
        ),
        (
            "/api/v2/spans",
            "application/x-protobuf",
            vec![1, 2, 3, 4],
            "Expected a PROTO3 encoded list\n",
        ),
        (
            "/api/v1/spans",
            "application/json",
            vec![1, 2, 3, 4],
            "Expected a JSON_V1 encoded list\n",
        ),
        (
            "/api/v1/spans",
            "application/x-thrift",
            vec![1, 2, 3, 4],
            "Expected a THRIFT encoded list\n",
        ),
        (
            "/api/v2/spans",
            "application/json",
            truncated(json_v2_bytes(&spans)),
            " reading List<Span> from json",
        ),
        (
            "/api/v2/spans",
            "application/x-protobuf",
            truncated(proto3::encode_list(&spans)),
            "Truncated: length ",
        ),
        (
            "/api/v1/spans",
            "application/json",
            truncated(json_v1::encode_list(&spans)),
            " reading List<Span> from json",
        ),
        (
            "/api/v1/spans",
            "application/x-thrift",
            truncated(thrift::encode_list(&spans)),
            " reading List<Span> from TBinary",
        ),
    ];
    let (router, store, metrics) = app(&[]);
    let count = cases.len() as u64;
    for (path, content_type, body, message) in cases {
        let reply = post(&router, path, content_type, body).await;
        assert_eq!(reply.status, 400, "{path} {content_type}");
        assert!(
            reply.text().contains(message),
            "{path} {content_type}: {:?} lacks {message:?}",
            reply.text()
        );
    }
    let trace = store
        .get_trace(spans[0].trace_id)
        .await
        .expect("store answers");
    assert!(trace.is_empty(), "malformed input stored {trace:?}");
    let http = metrics.transport(Transport::Http).snapshot();
    assert_eq!(http.messages_dropped, count);
    assert_eq!(http.spans, 0);
}

#[tokio::test]
async fn v1_spans_are_disabled_with_the_http_collector() {
    let (router, _, _) = app(&["--collector-http-enabled", "false"]);
    let reply = post(&router, "/api/v1/spans", "application/json", "[]").await;
    assert_eq!(reply.status, 404);
}

/// A unary gRPC request: one uncompressed length-prefixed message.
fn grpc_request(message: &[u8]) -> Request<Body> {
    let mut framed = vec![0];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(message);
    Request::post("/zipkin.proto3.SpanService/Report")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Body::from(framed))
        .unwrap()
}

/// The `grpc-status` of a reply, from its trailers or (Trailers-Only) its headers, and
/// its data bytes.
async fn grpc_call(router: &axum::Router, request: Request<Body>) -> (String, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.unwrap();
    let status = collected
        .trailers()
        .and_then(|t| t.get("grpc-status"))
        .or_else(|| headers.get("grpc-status"))
        .expect("grpc-status")
        .to_str()
        .unwrap()
        .to_owned();
    (status, collected.to_bytes().to_vec())
}

#[tokio::test]
async fn grpc_report_stores_spans_and_replies_with_an_empty_message() {
    // ITZipkinGrpcCollector.report_trace, report_emptyIsOk
    let (router, _, metrics) = app(&[]);
    let spans = trace("463ac35c9f6413ad48485a3953bb6129");
    let (status, data) = grpc_call(&router, grpc_request(&proto3::encode_list(&spans))).await;
    assert_eq!(status, "0");
    assert_eq!(data, [0, 0, 0, 0, 0], "one empty ReportResponse");
    assert_same_spans(
        read_trace(&router, &spans[0].trace_id.to_string()).await,
        spans,
    );

    let (status, _) = grpc_call(&router, grpc_request(&[])).await;
    assert_eq!(status, "0");

    let grpc = metrics.transport(Transport::Grpc).snapshot();
    assert_eq!(grpc.messages, 2);
    assert_eq!(grpc.spans, 3);
    assert_eq!(metrics.transport(Transport::Http).snapshot().messages, 0);
}

#[tokio::test]
async fn grpc_report_of_malformed_message_is_invalid_argument() {
    let (router, store, metrics) = app(&[]);
    let (status, data) = grpc_call(&router, grpc_request(&[0x0a, 0x40, 0x01])).await;
    assert_eq!(status, "3");
    assert!(data.is_empty());
    let response = router
        .clone()
        .oneshot(grpc_request(&[0x0a, 0x40, 0x01]))
        .await
        .unwrap();
    let message = response.headers()["grpc-message"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        message,
        "Truncated: length 64 > bytes available 1 reading List<Span> from proto3"
    );
    assert_eq!(
        metrics
            .transport(Transport::Grpc)
            .snapshot()
            .messages_dropped,
        2
    );
    assert!(store
        .get_trace(TraceId::parse("1").unwrap())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn grpc_can_be_disabled() {
    let (router, _, _) = app(&["--collector-grpc-enabled", "false"]);
    let response = router.clone().oneshot(grpc_request(&[])).await.unwrap();
    assert_ne!(response.status(), 200);
}

#[tokio::test]
async fn gzip_compressed_grpc_messages_are_accepted() {
    use std::io::Write;
    let (router, _, _) = app(&[]);
    let spans = trace("463ac35c9f6413ad48485a3953bb612a");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&proto3::encode_list(&spans)).unwrap();
    let message = gz.finish().unwrap();
    let mut framed = vec![1];
    framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
    framed.extend_from_slice(&message);
    let request = Request::post("/zipkin.proto3.SpanService/Report")
        .header("content-type", "application/grpc+proto")
        .header("grpc-encoding", "gzip")
        .body(Body::from(framed))
        .unwrap();
    let (status, _) = grpc_call(&router, request).await;
    assert_eq!(status, "0");
    assert_same_spans(
        read_trace(&router, &spans[0].trace_id.to_string()).await,
        spans,
    );
}

#[tokio::test]
async fn plain_http_to_the_grpc_path_is_unsupported_media_type() {
    let (router, _, _) = app(&[]);
    let reply = send(
        &router,
        Request::post("/zipkin.proto3.SpanService/Report")
            .header("content-type", "application/json")
            .body(Body::from("[]"))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 415);
}

/// Bytes written by independent encoders, captured once: Google's protobuf runtime with the
/// zipkin.proto classes py_zipkin ships, and thriftpy2 with py_zipkin's zipkinCore.thrift.
mod golden {
    use super::*;

    const PROTO3: &str =
        "0aa3010a10463ac35c9f6413ad48485a3953bb6124120800000000000000011a08000000000000000220012a\
        034745543158a6ab5e343b05003898d10c42100a0866726f6e74656e6412047f0000014a120a076261636b65\
        6e641204c0a8636520a846520e09b03eac5e343b05001203666f6f5a110a09687474702e7061746812042f61\
        70695a1e0a14636c6e742f66696e61676c652e76657273696f6e1206362e34352e30";

    const THRIFT: &str =
        "0c000000010a000148485a3953bb61240b0003000000034745540a000400000000000000020a000500000000\
        000000010f00060c000000030a000100053b345eaba6580b00020000000263730c00030800017f0000010600\
        0200000b00030000000866726f6e74656e6400000a000100053b345eac3eb00b000200000003666f6f0c0003\
        0800017f00000106000200000b00030000000866726f6e74656e6400000a000100053b345eaecef00b000200\
        00000263720c00030800017f00000106000200000b00030000000866726f6e74656e6400000f00080c000000\
        020b000100000009687474702e706174680b0002000000042f617069080003000000060c00040800017f0000\
        0106000200000b00030000000866726f6e74656e6400000b00010000000273610b0002000000010108000300\
        0000000c0004080001c0a8636506000223280b0003000000076261636b656e640000020009000a000a00053b\
        345eaba6580a000b00000000000328980a000c463ac35c9f6413ad00";

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn expected() -> Span {
        Span::builder(
            TraceId::parse("463ac35c9f6413ad48485a3953bb6124").unwrap(),
            SpanId::parse("2").unwrap(),
        )
        .parent_id(SpanId::parse("1").unwrap())
        .name("get")
        .kind(Kind::Client)
        .timestamp(1_472_470_996_199_000)
        .duration(207_000)
        .local_endpoint(Endpoint::service("frontend").with_ip("127.0.0.1"))
        .remote_endpoint(
            Endpoint::service("backend")
                .with_ip("192.168.99.101")
                .with_port(9000),
        )
        .annotation(1_472_470_996_238_000, "foo")
        .tag("http.path", "/api")
        .build()
    }

    #[test]
    fn protobuf_runtime_bytes_decode_field_by_field() {
        let spans = proto3::decode_list(&hex(PROTO3)).unwrap();
        let want = Span {
            tags: vec![
                ("clnt/finagle.version".into(), "6.45.0".into()),
                ("http.path".into(), "/api".into()),
            ],
            ..expected()
        };
        assert_eq!(spans, vec![want]);
    }

    #[test]
    fn thriftpy2_bytes_decode_to_the_same_span() {
        // cs/cr with the span's own timestamp and duration, an "sa" address: one CLIENT
        // span whose remote endpoint is the server.
        let spans = thrift::decode_list(&hex(THRIFT)).unwrap();
        assert_eq!(spans, vec![expected()]);
    }
}
