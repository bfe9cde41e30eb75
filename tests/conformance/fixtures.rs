//! The harness every conformance case shares: Zipkin's test fixtures (`TestObjects`) and the
//! `ITStorage` read-back assertions, rebuilt on our model.
//!
//! Fixture values (service names, addresses, timestamps, durations, tags) are Zipkin's, so a
//! case reads like the Java test it ports. Times follow Zipkin's harness: `today()` is the
//! current UTC midnight, because stores with retention or day buckets only look at recent data.
//!
//! The assertion helpers are plain functions returning futures rather than `async fn`s:
//! `#[track_caller]` has no effect on an `async fn`, but a plain function records its caller
//! before the future runs, so every failure message names the line of the case that failed.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::panic::Location;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use zipwire::model::{
    DependencyLink, Endpoint, Kind, QueryRequest, QueryRequestBuilder, Span, SpanBuilder, SpanId,
    TraceId,
};
use zipwire::storage::SpanStore;

/// One day in milliseconds, the unit of query windows.
pub const DAY: i64 = 24 * 60 * 60 * 1000;

/// Zipkin's harness writes in batches of this many spans (`ITStorage.accept`).
const WRITE_BATCH: usize = 100;

static TODAY: LazyLock<i64> = LazyLock::new(|| {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis();
    let now = i64::try_from(now).expect("milliseconds since 1970 fit in i64");
    now - now.rem_euclid(DAY)
});

/// Today's UTC midnight in epoch milliseconds (`TestObjects.TODAY`), fixed for the process.
pub fn today() -> i64 {
    *TODAY
}

/// Epoch milliseconds as span microseconds.
pub fn micros(millis: i64) -> u64 {
    u64::try_from(millis * 1000).expect("fixture times are after 1970")
}

/// The storage options each suite runs with (Zipkin's `configureStorageForTest`).
pub mod options {
    use zipwire::storage::StorageOptions;

    pub fn default() -> StorageOptions {
        StorageOptions::default()
    }

    /// `ITStrictTraceIdFalse`.
    pub fn strict_trace_id_false() -> StorageOptions {
        StorageOptions {
            strict_trace_id: false,
            ..StorageOptions::default()
        }
    }

    /// `ITSearchEnabledFalse`.
    pub fn search_enabled_false() -> StorageOptions {
        StorageOptions {
            search_enabled: false,
            ..StorageOptions::default()
        }
    }

    /// `ITAutocompleteTags`.
    pub fn autocomplete_http_host() -> StorageOptions {
        StorageOptions {
            autocomplete_keys: vec!["http.host".to_owned()],
            ..StorageOptions::default()
        }
    }
}

// ---------------------------------------------------------------------------------------
// TestObjects

pub fn frontend() -> Endpoint {
    Endpoint::service("frontend").with_ip("127.0.0.1")
}

pub fn backend() -> Endpoint {
    Endpoint::service("backend")
        .with_ip("192.168.99.101")
        .with_port(9000)
}

pub fn db() -> Endpoint {
    Endpoint::service("db")
        .with_ip("2001:db8::c001")
        .with_port(3036)
}

pub fn kafka() -> Endpoint {
    Endpoint::service("kafka")
}

/// Zipkin's `ITStorage.testSuffix`: the lower-cased Java test name, at most its last 48
/// characters. Suffixed service names keep cases apart in backends that share data.
pub fn test_suffix(java_test_name: &str) -> String {
    let lower = java_test_name.to_lowercase();
    let skip = lower.chars().count().saturating_sub(48);
    lower.chars().skip(skip).collect()
}

/// `TestObjects.appendSuffix`: `name_suffix`, or `name` when the suffix is empty.
pub fn append_suffix(name: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        name.to_owned()
    } else {
        format!("{name}_{suffix}")
    }
}

/// `TestObjects.suffixServiceName`: the endpoint with its service name suffixed.
pub fn suffix_service_name(endpoint: Endpoint, suffix: &str) -> Endpoint {
    let name = service_name(&endpoint);
    let mut endpoint = endpoint;
    endpoint.set_service_name(&append_suffix(&name, suffix));
    endpoint
}

/// The service name of a fixture endpoint (they all have one).
pub fn service_name(endpoint: &Endpoint) -> String {
    endpoint
        .service_name
        .as_deref()
        .expect("fixture endpoints have a service name")
        .to_owned()
}

/// The local service name of a fixture span.
pub fn local_service(span: &Span) -> String {
    span.local_service_name()
        .expect("fixture span has a local service name")
        .to_owned()
}

/// The remote service name of a fixture span.
pub fn remote_service(span: &Span) -> String {
    span.remote_service_name()
        .expect("fixture span has a remote service name")
        .to_owned()
}

/// A random 128-bit trace id (`TestObjects.newTraceId`). Both halves are non-zero so the
/// 64-bit view (`to_64`) is a valid, different id, as the mixed-length cases need.
pub fn new_trace_id() -> TraceId {
    loop {
        let (high, low) = (rand::random::<u64>(), rand::random::<u64>());
        if high != 0 && low != 0 {
            return TraceId::from_parts(high, low).expect("non-zero");
        }
    }
}

/// A random 64-bit trace id, as `traceId(0L, random)` in Zipkin's tests.
pub fn new_64_bit_trace_id() -> TraceId {
    loop {
        if let Some(id) = TraceId::from_parts(0, rand::random::<u64>()) {
            return id;
        }
    }
}

/// A span id written in hex, as Zipkin's fixtures write them (`id("10")` is 0x10).
pub fn hex_id(hex: &str) -> SpanId {
    SpanId::parse(hex).expect("fixture span ids are valid hex")
}

/// A span id given as a number, as `id(23L)` in Zipkin's fixtures.
pub fn num_id(value: u64) -> SpanId {
    SpanId::new(value).expect("fixture span ids are non-zero")
}

fn random_span_id() -> SpanId {
    loop {
        if let Some(id) = SpanId::new(rand::random::<u64>()) {
            return id;
        }
    }
}

/// `TestObjects.spanBuilder(suffix)`: a "get" span of `frontend_<suffix>` at today's
/// midnight + 100µs, 200ms long, tagged `environment=test`, in a new trace.
///
/// Zipkin's shared builder happens to carry a random span id left over from initialising
/// another fixture; a random id per span keeps the same meaning (an arbitrary id).
pub fn span_builder(suffix: &str) -> SpanBuilder {
    Span::builder(new_trace_id(), random_span_id())
        .name("get")
        .timestamp(micros(today()) + 100)
        .duration(200_000)
        .local_endpoint(suffix_service_name(frontend(), suffix))
        .tag("environment", "test")
}

/// `TestObjects.newClientSpan(suffix)`: a CLIENT "get /foo" from `frontend_<suffix>` to
/// `backend<suffix>` (Zipkin appends this one without an underscore), tagged only with
/// `http.method=GET` and `http.path=/foo`.
pub fn new_client_span(suffix: &str) -> Span {
    let mut remote = backend();
    remote.set_service_name(&format!("backend{suffix}"));
    let span = span_builder(suffix)
        .kind(Kind::Client)
        .remote_endpoint(remote)
        .name("get /foo")
        .build();
    with_changes(&span, |s| {
        s.tags = vec![
            ("http.method".into(), "GET".into()),
            ("http.path".into(), "/foo".into()),
        ];
    })
}

/// `TestObjects.newTrace(suffix)`: four spans of one new 128-bit trace: a frontend SERVER
/// root, its CLIENT call to backend, backend's shared SERVER half of that call, and a
/// backend CLIENT call to db tagged `error`. Its links are [`links`].
pub fn new_trace(suffix: &str) -> Vec<Span> {
    new_trace_with_id(new_trace_id(), suffix)
}

pub fn new_trace_with_id(trace_id: TraceId, suffix: &str) -> Vec<Span> {
    let frontend = suffix_service_name(frontend(), suffix);
    let backend = suffix_service_name(backend(), suffix);
    let db = suffix_service_name(db(), suffix);
    let today = today();
    vec![
        Span::builder(trace_id, hex_id("1"))
            .name("get")
            .kind(Kind::Server)
            .local_endpoint(frontend.clone())
            .timestamp(micros(today))
            .duration(350_000)
            .build(),
        Span::builder(trace_id, hex_id("2"))
            .parent_id(hex_id("1"))
            .name("get")
            .kind(Kind::Client)
            .local_endpoint(frontend)
            .remote_endpoint(backend.clone())
            .timestamp(micros(today + 50))
            .duration(200_000)
            .annotation(micros(today + 100), "foo")
            .tag("http.path", "/api")
            .tag("clnt/finagle.version", "6.45.0")
            .build(),
        Span::builder(trace_id, hex_id("2"))
            .parent_id(hex_id("1"))
            .shared(true)
            .name("get")
            .kind(Kind::Server)
            .local_endpoint(backend.clone())
            .timestamp(micros(today + 100))
            .duration(150_000)
            .build(),
        Span::builder(trace_id, hex_id("3"))
            .parent_id(hex_id("2"))
            .name("query")
            .kind(Kind::Client)
            .local_endpoint(backend)
            .remote_endpoint(db)
            .timestamp(micros(today + 150))
            .duration(50_000)
            .annotation(micros(today + 190), "⻩")
            .tag("error", "💩")
            .build(),
    ]
}

/// The links of [`new_trace`] (`ITDependencies.links`).
pub fn links(suffix: &str) -> Vec<DependencyLink> {
    let frontend = append_suffix("frontend", suffix);
    let backend = append_suffix("backend", suffix);
    let db = append_suffix("db", suffix);
    vec![
        DependencyLink::new(frontend, backend.clone(), 1, 0),
        DependencyLink::new(backend, db, 1, 1),
    ]
}

/// `TestObjects.startTs`: the first span's timestamp in milliseconds.
pub fn trace_start_ts(trace: &[Span]) -> i64 {
    let micros = trace[0]
        .timestamp
        .expect("first fixture span has a timestamp");
    i64::try_from(micros / 1000).expect("fits")
}

/// `TestObjects.endTs`: the first span's end in milliseconds.
pub fn trace_end_ts(trace: &[Span]) -> i64 {
    let duration = trace[0].duration.unwrap_or(0);
    trace_start_ts(trace) + i64::try_from(duration / 1000).expect("fits")
}

/// Zipkin's `span.toBuilder()...build()`: a changed copy of a span, normalised again.
pub fn with_changes(span: &Span, change: impl FnOnce(&mut Span)) -> Span {
    let mut copy = span.clone();
    change(&mut copy);
    copy.normalize();
    copy
}

/// Zipkin's `putTag` on a copy: normalisation keeps the last value of a repeated key.
pub fn put_tag(span: &mut Span, key: &str, value: &str) {
    span.tags.push((key.into(), value.into()));
}

/// `ITStorage.requestBuilder()`: everything from yesterday's midnight to tomorrow's,
/// up to 100 traces.
pub fn request_builder() -> QueryRequestBuilder {
    QueryRequest::builder()
        .end_ts(today() + DAY)
        .lookback(2 * DAY)
        .limit(100)
}

// ---------------------------------------------------------------------------------------
// ITStorage: writes and read-back assertions

/// `ITStorage.accept`: stores spans in batches of 100, as Zipkin's harness does.
#[track_caller]
pub fn accept(store: &dyn SpanStore, spans: Vec<Span>) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        for batch in spans.chunks(WRITE_BATCH) {
            if let Err(err) = store.accept(batch.to_vec()).await {
                panic!("{caller}: accept failed: {err}");
            }
        }
    }
}

/// `assertGetTracesReturns(request, traces...)`: the search result contains every expected
/// trace, each compared span by span after sorting. Other traces may be present.
#[track_caller]
pub fn assert_get_traces_returns(
    store: &dyn SpanStore,
    request: QueryRequestBuilder,
    expected: Vec<Vec<Span>>,
) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        let request = build_request(request, caller);
        let actual = get_traces(store, &request, caller).await;
        let context = format!("getTraces({request:?})");
        assert_contains_traces(&actual, expected, &context, caller);
    }
}

/// [`assert_get_traces_returns`] and nothing else: exactly the expected traces.
///
/// Zipkin's helper tolerates extra traces, which leaves cases about exclusion (the limit,
/// the window bounds, duration by service) unable to fail when a store returns too much.
/// Every case gets a fresh store, so their exact answer is known; those cases use this.
#[track_caller]
pub fn assert_get_traces_returns_exactly(
    store: &dyn SpanStore,
    request: QueryRequestBuilder,
    expected: Vec<Vec<Span>>,
) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        let request = build_request(request, caller);
        let actual = get_traces(store, &request, caller).await;
        let context = format!("getTraces({request:?})");
        let expected_ids: HashSet<TraceId> = expected
            .iter()
            .flat_map(|trace| trace.iter().map(|s| s.trace_id))
            .collect();
        let expected_count = expected.len();
        assert_contains_traces(&actual, expected, &context, caller);
        if actual.len() != expected_count {
            let extra: Vec<Vec<Span>> = actual
                .iter()
                .filter(|trace| !trace.iter().any(|s| expected_ids.contains(&s.trace_id)))
                .cloned()
                .collect();
            panic!(
                "{caller}: {context} returned {} traces, expected exactly {expected_count}; \
                 the unexpected ones:\n{}",
                actual.len(),
                describe_traces(&extra)
            );
        }
    }
}

/// `assertGetTracesReturnsEmpty(request)`.
#[track_caller]
pub fn assert_get_traces_returns_empty(
    store: &dyn SpanStore,
    request: QueryRequestBuilder,
) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        let request = build_request(request, caller);
        let actual = get_traces(store, &request, caller).await;
        if !actual.is_empty() {
            panic!(
                "{caller}: expected no traces for getTraces({request:?}), got {}:\n{}",
                actual.len(),
                describe_traces(&actual)
            );
        }
    }
}

/// `assertGetTracesReturnsCount(request, count)`: exactly `count` traces.
#[track_caller]
pub fn assert_get_traces_returns_count(
    store: &dyn SpanStore,
    request: QueryRequestBuilder,
    count: usize,
) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        let request = build_request(request, caller);
        let actual = get_traces(store, &request, caller).await;
        assert!(
            actual.len() == count,
            "{caller}: expected {count} traces for getTraces({request:?}), got {}",
            actual.len()
        );
    }
}

/// `assertGetTraceReturns(traceId, spans)`: the trace contains every expected span. Its
/// spans must also sort without ties, so a span stored twice fails here (as in Zipkin).
#[track_caller]
pub fn assert_get_trace_returns(
    store: &dyn SpanStore,
    trace_id: TraceId,
    expected: Vec<Span>,
) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        let actual = match store.get_trace(trace_id).await {
            Ok(spans) => spans,
            Err(err) => panic!("{caller}: getTrace({trace_id}) failed: {err}"),
        };
        let context = format!("getTrace({trace_id})");
        let actual = sort_trace(actual, &context, caller);
        let expected = sort_trace(expected, "the expected trace", caller);
        let missing: Vec<&Span> = expected.iter().filter(|s| !actual.contains(s)).collect();
        if !missing.is_empty() {
            let mut message = format!(
                "{caller}: {context} lacks {} of the {} expected span(s)\n",
                missing.len(),
                expected.len()
            );
            for span in missing {
                let _ = writeln!(message, "  missing: {}", describe(span));
            }
            let _ = write!(message, "{}", diff_spans(&expected, &actual));
            panic!("{message}");
        }
    }
}

/// `assertGetTraceReturnsEmpty(traceId)`.
#[track_caller]
pub fn assert_get_trace_returns_empty(
    store: &dyn SpanStore,
    trace_id: TraceId,
) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        let actual = match store.get_trace(trace_id).await {
            Ok(spans) => spans,
            Err(err) => panic!("{caller}: getTrace({trace_id}) failed: {err}"),
        };
        if !actual.is_empty() {
            let mut message = format!(
                "{caller}: expected no spans for getTrace({trace_id}), got {}:\n",
                actual.len()
            );
            for span in &actual {
                let _ = writeln!(message, "  {}", describe(span));
            }
            panic!("{message}");
        }
    }
}

/// `assertGetTracesReturns(traceIds, traces...)`: `Traces.getTraces(ids)` contains every
/// expected trace, each compared span by span after sorting.
#[track_caller]
pub fn assert_get_traces_by_ids_returns(
    store: &dyn SpanStore,
    trace_ids: Vec<TraceId>,
    expected: Vec<Vec<Span>>,
) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        let actual = get_traces_by_ids(store, &trace_ids, caller).await;
        let context = format!("getTraces(ids {})", join_ids(&trace_ids));
        assert_contains_traces(&actual, expected, &context, caller);
    }
}

/// `assertGetTracesReturnsEmpty(traceIds)`.
#[track_caller]
pub fn assert_get_traces_by_ids_returns_empty(
    store: &dyn SpanStore,
    trace_ids: Vec<TraceId>,
) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        let actual = get_traces_by_ids(store, &trace_ids, caller).await;
        if !actual.is_empty() {
            panic!(
                "{caller}: expected no traces for getTraces(ids {}), got {}:\n{}",
                join_ids(&trace_ids),
                actual.len(),
                describe_traces(&actual)
            );
        }
    }
}

/// `getDependencies(endTs, lookback)` returns exactly these links, in any order
/// (Zipkin's `containsOnly` / `containsExactlyInAnyOrderElementsOf`).
#[track_caller]
pub fn assert_dependencies(
    store: &dyn SpanStore,
    end_ts: i64,
    lookback: i64,
    expected: Vec<DependencyLink>,
) -> impl Future<Output = ()> + '_ {
    let caller = Location::caller();
    async move {
        let mut actual = match store.get_dependencies(end_ts, lookback).await {
            Ok(links) => links,
            Err(err) => panic!("{caller}: getDependencies({end_ts}, {lookback}) failed: {err}"),
        };
        let mut expected = expected;
        actual.sort();
        expected.sort();
        if actual != expected {
            panic!(
                "{caller}: getDependencies(endTs={end_ts}, lookback={lookback}) returned \
                 other links\n  expected: {}\n  actual:   {}",
                describe_links(&expected),
                describe_links(&actual)
            );
        }
    }
}

/// Sorted, de-duplicated names compared with the expected set, for the name calls.
#[track_caller]
pub fn assert_names(actual: &[String], expected: &[&str], call: &str) {
    let mut expected: Vec<&str> = expected.to_vec();
    expected.sort_unstable();
    let mut sorted: Vec<&str> = actual.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    assert!(
        sorted == expected,
        "{call} returned {actual:?}, expected exactly {expected:?}"
    );
}

fn build_request(request: QueryRequestBuilder, caller: &Location<'_>) -> QueryRequest {
    match request.build() {
        Ok(request) => request,
        Err(err) => panic!("{caller}: the case built an invalid request: {err}"),
    }
}

async fn get_traces(
    store: &dyn SpanStore,
    request: &QueryRequest,
    caller: &Location<'_>,
) -> Vec<Vec<Span>> {
    match store.get_traces(request).await {
        Ok(traces) => traces,
        Err(err) => panic!("{caller}: getTraces({request:?}) failed: {err}"),
    }
}

async fn get_traces_by_ids(
    store: &dyn SpanStore,
    trace_ids: &[TraceId],
    caller: &Location<'_>,
) -> Vec<Vec<Span>> {
    match store.get_traces_by_ids(trace_ids).await {
        Ok(traces) => traces,
        Err(err) => panic!(
            "{caller}: getTraces(ids {}) failed: {err}",
            join_ids(trace_ids)
        ),
    }
}

fn assert_contains_traces(
    actual: &[Vec<Span>],
    expected: Vec<Vec<Span>>,
    context: &str,
    caller: &Location<'_>,
) {
    let actual: Vec<Vec<Span>> = actual
        .iter()
        .map(|trace| sort_trace(trace.clone(), context, caller))
        .collect();
    for trace in expected {
        let trace = sort_trace(trace, "the expected trace", caller);
        if !actual.contains(&trace) {
            panic!(
                "{caller}: {context}: {}",
                explain_missing_trace(&trace, &actual)
            );
        }
    }
}

/// Zipkin's `ITStorage.sortTrace` order: trace id, span id, shared last, name, timestamp,
/// duration. Spans are not returned in any particular order, so both sides are sorted.
type SortKey<'a> = (TraceId, SpanId, bool, Option<&'a str>, u64, u64);

fn sort_key(span: &Span) -> SortKey<'_> {
    (
        span.trace_id,
        span.id,
        span.shared,
        span.name.as_deref(),
        span.timestamp.unwrap_or(0),
        span.duration.unwrap_or(0),
    )
}

/// Sorts a trace; two spans with the same sort key fail the case, as Zipkin's comparator
/// does: in a result it means a span came back twice, in expected data it means the test
/// data cannot be compared reliably.
fn sort_trace(mut trace: Vec<Span>, context: &str, caller: &Location<'_>) -> Vec<Span> {
    trace.sort_by(|l, r| sort_key(l).cmp(&sort_key(r)));
    if let Some(pair) = trace
        .windows(2)
        .find(|pair| sort_key(&pair[0]) == sort_key(&pair[1]))
    {
        panic!(
            "{caller}: {context} holds two spans with the same (traceId, id, shared, name, \
             timestamp, duration); a span was returned twice, or the test data is \
             ambiguous:\n  {}\n  {}",
            describe(&pair[0]),
            describe(&pair[1])
        );
    }
    trace
}

/// Why an expected trace is not among the results: a span-by-span diff against the result
/// trace that shares a span with it, or the list of what came back instead.
fn explain_missing_trace(expected: &[Span], actual: &[Vec<Span>]) -> String {
    let keys: HashSet<(TraceId, SpanId)> = expected.iter().map(|s| (s.trace_id, s.id)).collect();
    let label = expected
        .first()
        .map_or_else(|| "<empty>".to_owned(), |s| s.trace_id.to_string());
    let candidate = actual
        .iter()
        .find(|trace| trace.iter().any(|s| keys.contains(&(s.trace_id, s.id))));
    match candidate {
        Some(found) => format!(
            "trace {label} came back different from what was stored\n{}",
            diff_spans(expected, found)
        ),
        None => format!(
            "trace {label} ({} span(s)) is missing; the result holds {} trace(s):\n{}",
            expected.len(),
            actual.len(),
            describe_traces(actual)
        ),
    }
}

fn diff_spans(expected: &[Span], actual: &[Span]) -> String {
    let mut out = format!(
        "  expected {} span(s), got {} (both sorted):\n",
        expected.len(),
        actual.len()
    );
    for i in 0..expected.len().max(actual.len()) {
        let (e, a) = (expected.get(i), actual.get(i));
        if e == a {
            let _ = writeln!(out, "  [{i}] same:     {}", describe(e.expect("present")));
            continue;
        }
        let show = |s: Option<&Span>| s.map_or_else(|| "<none>".to_owned(), describe);
        let _ = writeln!(out, "  [{i}] expected: {}", show(e));
        let _ = writeln!(out, "  [{i}] actual:   {}", show(a));
    }
    out
}

fn describe_traces(traces: &[Vec<Span>]) -> String {
    let mut out = String::new();
    for (i, trace) in traces.iter().enumerate().take(20) {
        let _ = writeln!(out, "  trace #{i} ({} span(s)):", trace.len());
        for span in trace.iter().take(10) {
            let _ = writeln!(out, "    {}", describe(span));
        }
        if trace.len() > 10 {
            let _ = writeln!(out, "    ... {} more", trace.len() - 10);
        }
    }
    if traces.len() > 20 {
        let _ = writeln!(out, "  ... {} more traces", traces.len() - 20);
    }
    out
}

fn describe_links(links: &[DependencyLink]) -> String {
    let parts: Vec<String> = links
        .iter()
        .map(|l| {
            format!(
                "{}->{} (calls {}, errors {})",
                l.parent, l.child, l.call_count, l.error_count
            )
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

fn join_ids(ids: &[TraceId]) -> String {
    let parts: Vec<String> = ids.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// A one-line rendering in Zipkin's JSON field order; long values are shortened but keep
/// their length, so a truncated value still shows.
pub fn describe(span: &Span) -> String {
    let mut out = format!("{{traceId={}", span.trace_id);
    if let Some(parent) = span.parent_id {
        let _ = write!(out, " parentId={parent}");
    }
    let _ = write!(out, " id={}", span.id);
    if let Some(kind) = span.kind {
        let _ = write!(out, " kind={}", kind.as_str());
    }
    if let Some(name) = &span.name {
        let _ = write!(out, " name={:?}", shorten(name));
    }
    if let Some(ts) = span.timestamp {
        let _ = write!(out, " timestamp={ts}");
    }
    if let Some(duration) = span.duration {
        let _ = write!(out, " duration={duration}");
    }
    if let Some(local) = &span.local_endpoint {
        let _ = write!(out, " local={}", describe_endpoint(local));
    }
    if let Some(remote) = &span.remote_endpoint {
        let _ = write!(out, " remote={}", describe_endpoint(remote));
    }
    if !span.annotations.is_empty() {
        let parts: Vec<String> = span
            .annotations
            .iter()
            .map(|a| format!("{}:{:?}", a.timestamp, shorten(&a.value)))
            .collect();
        let _ = write!(out, " annotations=[{}]", parts.join(", "));
    }
    if !span.tags.is_empty() {
        let parts: Vec<String> = span
            .tags
            .iter()
            .map(|(k, v)| format!("{:?}={:?}", shorten(k), shorten(v)))
            .collect();
        let _ = write!(out, " tags={{{}}}", parts.join(", "));
    }
    if span.debug {
        out.push_str(" debug");
    }
    if span.shared {
        out.push_str(" shared");
    }
    out.push('}');
    out
}

fn describe_endpoint(e: &Endpoint) -> String {
    let mut out = e.service_name.as_deref().unwrap_or("").to_owned();
    if let Some(v4) = e.ipv4 {
        let _ = write!(out, "@{v4}");
    }
    if let Some(v6) = e.ipv6 {
        let _ = write!(out, "@[{v6}]");
    }
    if let Some(port) = e.port {
        let _ = write!(out, ":{port}");
    }
    out
}

fn shorten(value: &str) -> String {
    const MAX: usize = 48;
    let chars = value.chars().count();
    if chars <= MAX {
        value.to_owned()
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head}…({chars} chars)")
    }
}
