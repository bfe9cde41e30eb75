"""Interop tests: real tracing client libraries report to a running Zipwire, and every
trace is read back through GET /api/v2/trace/{id} and compared field by field with what
the client recorded.

Run by run.sh, which starts the server and sets ZIPWIRE_URL. Prints one line per test
and a closing "N passed, N failed"; exits non-zero on any failure.
"""

import gzip
import json
import os
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

BASE = os.environ.get("ZIPWIRE_URL", "http://127.0.0.1:9411").rstrip("/")
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# --- HTTP helpers -----------------------------------------------------------------------


def http(method, path, body=None, headers=None):
    req = urllib.request.Request(BASE + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def wait_for_trace(trace_id, count, deadline_s=10.0):
    """Polls until the trace has `count` spans (storage is asynchronous to the POST)."""
    deadline = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < deadline:
        status, body = http("GET", "/api/v2/trace/" + trace_id)
        if status == 200:
            last = json.loads(body)
            if len(last) >= count:
                return last
        time.sleep(0.05)
    raise AssertionError(f"trace {trace_id}: wanted {count} spans, got {last}")


def by_id_and_kind(spans):
    return {(s["id"], s.get("kind")): s for s in spans}


def eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


# --- OpenTelemetry ----------------------------------------------------------------------


def otel_trace(exporter, service):
    """Records a small trace with the OpenTelemetry SDK and returns the finished spans."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, Status, StatusCode

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("zipwire-interop")
    with tracer.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.method", "GET")
        root.set_attribute("http.status_code", 200)
        root.set_attribute("retry", True)
        root.add_event("cache miss")
        with tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT) as child:
            child.set_attribute("peer.service", "payments")
            child.set_status(Status(StatusCode.ERROR, "card declined"))
        with tracer.start_as_current_span("publish order", kind=SpanKind.PRODUCER):
            pass
        with tracer.start_as_current_span("render", kind=SpanKind.INTERNAL):
            pass
    provider.force_flush()
    provider.shutdown()
    return memory.get_finished_spans()


def usec(nanos):
    return (nanos + 500) // 1000


def check_otel(finished, service, v1=False):
    trace_id = format(finished[0].context.trace_id, "032x")
    stored = wait_for_trace(trace_id, len(finished))
    eq(len(stored), len(finished), "span count")
    by_id = {s["id"]: s for s in stored}
    kinds = {"SpanKind.SERVER": "SERVER", "SpanKind.CLIENT": "CLIENT",
             "SpanKind.PRODUCER": "PRODUCER", "SpanKind.INTERNAL": None}
    for span in finished:
        sid = format(span.context.span_id, "016x")
        got = by_id[sid]
        eq(got["traceId"], trace_id, f"{span.name} traceId (128-bit)")
        parent = format(span.parent.span_id, "016x") if span.parent else None
        eq(got.get("parentId"), parent, f"{span.name} parentId")
        eq(got.get("name"), span.name.lower(), f"{span.name} name")
        # The exporter's v1 encoding writes no core annotations, so there is no kind to
        # recover (Zipkin's V1SpanConverter gives none either).
        eq(got.get("kind"), None if v1 else kinds[str(span.kind)], f"{span.name} kind")
        # The exporters round nanoseconds to the nearest microsecond.
        eq(got["timestamp"], usec(span.start_time), f"{span.name} timestamp")
        eq(got["duration"], max(1, usec(span.end_time - span.start_time)), f"{span.name} duration")
        eq(got["localEndpoint"].get("serviceName"), service, f"{span.name} service")
    root = by_id[format(finished[-1].context.span_id, "016x")]
    eq(root["tags"].get("http.method"), "GET", "string attribute")
    eq(root["tags"].get("http.status_code"), "200", "int attribute")
    eq(root["tags"].get("retry"), "true", "bool attribute")
    values = [a["value"] for a in root.get("annotations", [])]
    if not any("cache miss" in v for v in values):
        raise AssertionError(f"event not stored as annotation: {values}")
    client = by_id[format(finished[0].context.span_id, "016x")]
    eq(client["tags"].get("otel.status_code"), "ERROR", "error status")
    eq(client["tags"].get("error"), "card declined", "error description")


@test
def opentelemetry_zipkin_json_exporter():
    from opentelemetry.exporter.zipkin.json import ZipkinExporter

    exporter = ZipkinExporter(endpoint=BASE + "/api/v2/spans")
    check_otel(otel_trace(exporter, "otel-json"), "otel-json")


@test
def opentelemetry_zipkin_json_exporter_v1():
    from opentelemetry.exporter.zipkin.encoder import Protocol
    from opentelemetry.exporter.zipkin.json import ZipkinExporter

    # The exporter's V1 encoder fails without an explicit tag length limit.
    exporter = ZipkinExporter(
        version=Protocol.V1, endpoint=BASE + "/api/v1/spans", max_tag_value_length=1024
    )
    finished = otel_trace(exporter, "otel-json-v1")
    # v1 has no kind field: the exporter writes core annotations and we must turn them
    # back into kinds, timestamps and durations.
    check_otel(finished, "otel-json-v1", v1=True)


@test
def opentelemetry_zipkin_proto_http_exporter():
    from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter

    exporter = ZipkinExporter(endpoint=BASE + "/api/v2/spans")
    check_otel(otel_trace(exporter, "otel-proto"), "otel-proto")


# --- py_zipkin --------------------------------------------------------------------------


def py_zipkin_trace(encoding, service):
    from py_zipkin import Kind
    from py_zipkin.transport import SimpleHTTPTransport
    from py_zipkin.zipkin import zipkin_span

    class Transport(SimpleHTTPTransport):
        """py_zipkin's HTTP transport (its choice of path and content type per encoding),
        except that JSON payloads are sent as bytes: 0.20 hands urllib a str, which
        Python 3 refuses."""

        def send(self, payload):
            path, content_type = self._get_path_content_type(payload)
            data = payload.encode("utf-8") if isinstance(payload, str) else payload
            url = f"http://{self.address}:{self.port}{path}"
            request = urllib.request.Request(url, data, {"Content-Type": content_type})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 202, response.status

    host, port = BASE.split("//")[1].split(":")
    transport = Transport(host, int(port))
    with zipkin_span(service_name=service, span_name="GET /Orders", transport_handler=transport,
                     sample_rate=100.0, encoding=encoding, kind=Kind.SERVER) as root:
        root.update_binary_annotations({"http.path": "/orders", "count": "3"})
        root.add_annotation("cache.hit")
        with zipkin_span(service_name=service, span_name="select", kind=Kind.CLIENT) as child:
            child.add_sa_binary_annotation(port=5432, service_name="postgres", host="10.1.2.3")
            child.update_binary_annotations({"db.statement": "SELECT 1"})
            child_id = child.zipkin_attrs.span_id
        attrs = root.zipkin_attrs
    return attrs, child_id


def check_py_zipkin(encoding, service):
    attrs, child_id = py_zipkin_trace(encoding, service)
    stored = wait_for_trace(attrs.trace_id, 2)
    spans = {s["id"]: s for s in stored}
    root = spans[attrs.span_id.rjust(16, "0")]
    child = spans[child_id.rjust(16, "0")]
    eq(root.get("kind"), "SERVER", "root kind")
    eq(root.get("name"), "get /orders", "root name (lower-cased)")
    eq(root["localEndpoint"].get("serviceName"), service, "root service")
    eq(root["tags"].get("http.path"), "/orders", "root tag")
    eq(root["tags"].get("count"), "3", "second tag")
    if not any(a["value"] == "cache.hit" for a in root.get("annotations", [])):
        raise AssertionError(f"annotation lost: {root}")
    if "timestamp" not in root or "duration" not in root:
        raise AssertionError(f"root lost its timing: {root}")
    eq(child.get("kind"), "CLIENT", "child kind")
    eq(child.get("parentId"), root["id"], "child parentId")
    eq(child["remoteEndpoint"].get("serviceName"), "postgres", "remote service")
    eq(child["remoteEndpoint"].get("port"), 5432, "remote port")
    eq(child["remoteEndpoint"].get("ipv4"), "10.1.2.3", "remote ipv4")
    eq(child["tags"].get("db.statement"), "SELECT 1", "child tag")


@test
def py_zipkin_v1_thrift():
    from py_zipkin.encoding import Encoding

    check_py_zipkin(Encoding.V1_THRIFT, "pyz-thrift")


@test
def py_zipkin_v1_json():
    from py_zipkin.encoding import Encoding

    check_py_zipkin(Encoding.V1_JSON, "pyz-json-v1")


@test
def py_zipkin_v2_json():
    from py_zipkin.encoding import Encoding

    check_py_zipkin(Encoding.V2_JSON, "pyz-json-v2")


@test
def py_zipkin_v2_proto3():
    from py_zipkin.encoding import Encoding

    check_py_zipkin(Encoding.V2_PROTO3, "pyz-proto3")


# --- gRPC -------------------------------------------------------------------------------


@test
def grpc_span_service_report():
    import grpc
    # The zipkin.proto messages, as generated by protoc from Zipkin's own zipkin.proto and
    # shipped in py_zipkin. (grpcio-tools cannot be installed beside the protobuf 3.x that
    # OpenTelemetry's proto exporter pins.)
    from py_zipkin.encoding.protobuf import zipkin_pb2 as pb

    trace = bytes.fromhex("5af7183fb1d4cf5f" + "6b221d5bc9e6496c")
    now = int(time.time() * 1e6)
    server = pb.Span(
        trace_id=trace, id=bytes.fromhex("0000000000000002"), parent_id=bytes.fromhex("0000000000000001"),
        kind=pb.Span.SERVER, name="Report", timestamp=now, duration=1500, shared=True,
        local_endpoint=pb.Endpoint(service_name="grpc-server", ipv4=bytes([10, 0, 0, 2]), port=9411),
        remote_endpoint=pb.Endpoint(service_name="grpc-client", ipv6=bytes.fromhex("20010db8" + "0" * 20 + "c001")),
        annotations=[pb.Annotation(timestamp=now + 10, value="received")],
        tags={"rpc.system": "grpc", "empty": ""},
    )
    client = pb.Span(
        trace_id=trace, id=bytes.fromhex("0000000000000002"), parent_id=bytes.fromhex("0000000000000001"),
        kind=pb.Span.CLIENT, name="report", timestamp=now - 100, duration=2000, debug=True,
        local_endpoint=pb.Endpoint(service_name="grpc-client"),
    )
    host = BASE.split("//")[1]
    with grpc.insecure_channel(host) as channel:
        report = channel.unary_unary(
            "/zipkin.proto3.SpanService/Report",
            request_serializer=pb.ListOfSpans.SerializeToString,
            response_deserializer=lambda raw: raw,
        )
        # The reply is an empty ReportResponse: zero bytes.
        eq(report(pb.ListOfSpans(spans=[server, client]), timeout=10), b"", "reply")
        # An empty report is fine too (ITZipkinGrpcCollector.report_emptyIsOk).
        report(pb.ListOfSpans(), timeout=10)
        try:
            channel.unary_unary("/zipkin.proto3.SpanService/Report")(b"\x0a\x05\x01", timeout=10)
            raise AssertionError("malformed message was accepted")
        except grpc.RpcError as err:
            eq(err.code(), grpc.StatusCode.INVALID_ARGUMENT, "malformed status")
    stored = by_id_and_kind(wait_for_trace(trace.hex(), 2))
    s = stored[("0000000000000002", "SERVER")]
    eq(s["traceId"], trace.hex(), "traceId")
    eq(s.get("parentId"), "0000000000000001", "parentId")
    eq(s.get("name"), "report", "name")
    eq(s["timestamp"], now, "timestamp")
    eq(s["duration"], 1500, "duration")
    eq(s.get("shared"), True, "shared")
    eq(s["localEndpoint"], {"serviceName": "grpc-server", "ipv4": "10.0.0.2", "port": 9411}, "local endpoint")
    eq(s["remoteEndpoint"], {"serviceName": "grpc-client", "ipv6": "2001:db8::c001"}, "remote endpoint")
    eq(s["annotations"], [{"timestamp": now + 10, "value": "received"}], "annotations")
    eq(s["tags"], {"empty": "", "rpc.system": "grpc"}, "tags")
    c = stored[("0000000000000002", "CLIENT")]
    eq(c.get("debug"), True, "debug")
    eq(c["duration"], 2000, "client duration")


# --- malformed input --------------------------------------------------------------------


@test
def malformed_bodies_answer_400_and_store_nothing():
    cases = [
        ("/api/v2/spans", "application/json", b"hello", "Expected a JSON_V2 encoded list\n"),
        ("/api/v2/spans", "application/x-protobuf", b"\x0a\x40\x01", "Truncated"),
        ("/api/v1/spans", "application/json", b"[{\"traceId\":", "Malformed reading List<Span> from json"),
        ("/api/v1/spans", "application/x-thrift", b"\x0c\x00\x00\x00\x01\x0a", "reading List<Span> from TBinary"),
        ("/api/v2/spans", "application/json",
         b'[{"traceId":"1","id":"1","binaryAnnotations":[]}]',
         "Expected a JSON_V2 encoded list, but received: JSON_V1\n"),
        ("/api/v1/spans", "application/json",
         b'[{"traceId":"1","id":"1","localEndpoint":{"serviceName":"x"}}]',
         "Expected a JSON_V1 encoded list, but received: JSON_V2\n"),
    ]
    for path, content_type, body, message in cases:
        status, answer = http("POST", path, body, {"Content-Type": content_type})
        eq(status, 400, f"{path} {content_type} {body!r} status")
        if message not in answer.decode("utf-8", "replace"):
            raise AssertionError(f"{path} {content_type}: {answer!r} lacks {message!r}")
    status, _ = http("POST", "/api/v2/spans", b"\x01\x02\x03\x04",
                     {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    eq(status, 400, "bad gzip")
    status, _ = http("POST", "/api/v1/spans", gzip.compress(b"[]"),
                     {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    eq(status, 202, "gzipped empty list")
    status, body = http("GET", "/api/v2/trace/0000000000000001")
    eq(status, 404, "nothing stored from malformed input")


def run_one(name):
    """Runs one test in this process; the exit code tells the parent the outcome."""
    fn = next(t for t in TESTS if t.__name__ == name)
    try:
        fn()
    except Exception:  # noqa: BLE001 - every failure is reported, then counted
        traceback.print_exc()
        sys.exit(1)


def main():
    if len(sys.argv) == 2:
        run_one(sys.argv[1])
        return
    # Each test runs in its own interpreter: OpenTelemetry's and py_zipkin's generated
    # zipkin.proto modules cannot be loaded into one protobuf descriptor pool.
    passed = failed = 0
    for fn in TESTS:
        result = subprocess.run([sys.executable, __file__, fn.__name__], check=False)
        if result.returncode == 0:
            passed += 1
            print(f"ok   {fn.__name__}", flush=True)
        else:
            failed += 1
            print(f"FAIL {fn.__name__}", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
