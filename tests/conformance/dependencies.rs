//! Zipkin's `ITDependencies`: service links aggregated from stored traces
//! (`getDependencies(endTs, lookback)`, both in epoch milliseconds), default options.
//!
//! Zipkin lets backends with a separate aggregation job override `processDependencies`;
//! ours aggregate on read, so processing is just writing the spans.

use std::sync::Arc;

use zipwire::model::{Annotation, DependencyLink, Endpoint, Kind, Span, TraceId};
use zipwire::storage::{SpanStore, StorageError};

use super::fixtures::*;

/// `ITDependencies.processDependencies`: writes the spans in one call.
async fn process_dependencies(store: &dyn SpanStore, spans: Vec<Span>) {
    assert!(!spans.is_empty(), "a case must process at least one span");
    store.accept(spans).await.expect("accept succeeds");
}

fn link(parent: &Endpoint, child: &Endpoint, calls: u64, errors: u64) -> DependencyLink {
    DependencyLink::new(service_name(parent), service_name(child), calls, errors)
}

// ITDependencies.getDependencies
/// The canonical trace yields frontend→backend and backend→db (with one error).
pub async fn get_dependencies(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getDependencies");
    let trace = new_trace(&suffix);

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(&*store, trace_end_ts(&trace), DAY, links(&suffix)).await;
}

// ITDependencies.getDependencies_linksMixedTraceId
/// Linking groups spans by the low 64 bits of the trace id, so a server that dropped the
/// high bits still links to its 128-bit caller.
pub async fn get_dependencies_links_mixed_trace_id(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getDependencies_linksMixedTraceId");
    let trace_id = new_trace_id();
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);

    let mixed_trace = vec![
        Span::builder(trace_id, hex_id("1"))
            .name("get")
            .kind(Kind::Server)
            .timestamp(micros(today()))
            .duration(350_000)
            .local_endpoint(frontend.clone())
            .build(),
        // The server dropped the high bits of the trace id.
        Span::builder(trace_id.to_64(), hex_id("2"))
            .parent_id(hex_id("1"))
            .name("get")
            .kind(Kind::Server)
            .shared(true)
            .timestamp(micros(today() + 100))
            .duration(250_000)
            .local_endpoint(backend.clone())
            .build(),
        Span::builder(trace_id, hex_id("2"))
            .parent_id(hex_id("1"))
            .kind(Kind::Client)
            .timestamp(micros(today() + 50))
            .duration(300_000)
            .local_endpoint(frontend.clone())
            .build(),
    ];

    process_dependencies(&*store, mixed_trace.clone()).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&mixed_trace),
        DAY,
        vec![link(&frontend, &backend, 1, 0)],
    )
    .await;
}

// ITDependencies.replayOverwrites
/// Processing the same trace twice does not double the counts.
pub async fn replay_overwrites(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("replayOverwrites");
    let trace = new_trace(&suffix);

    process_dependencies(&*store, trace.clone()).await;
    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(&*store, trace_end_ts(&trace), DAY, links(&suffix)).await;
}

// ITDependencies.empty
/// No data, no links (and no error).
pub async fn empty(store: Arc<dyn SpanStore>) {
    assert_dependencies(&*store, today(), DAY, vec![]).await;
}

// ITDependencies.getDependenciesAllInstrumented
/// When every service is instrumented, local endpoints name the services; different ports
/// of one service do not split it.
pub async fn get_dependencies_all_instrumented(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getDependenciesAllInstrumented");
    let trace_id = new_trace_id();
    let one = Endpoint::service(&append_suffix("frontend", &suffix)).with_ip("127.0.0.1");
    let one_port_3001 = one.clone().with_port(3001);
    let two = Endpoint::service(&append_suffix("backend", &suffix)).with_ip("127.0.0.2");
    let two_port_3002 = two.clone().with_port(3002);
    let three = Endpoint::service(&append_suffix("db", &suffix)).with_ip("127.0.0.3");

    let trace = vec![
        Span::builder(trace_id, hex_id("10"))
            .name("get")
            .kind(Kind::Server)
            .timestamp(micros(today()))
            .duration(350_000)
            .local_endpoint(one.clone())
            .build(),
        Span::builder(trace_id, hex_id("20"))
            .parent_id(hex_id("10"))
            .name("get")
            .kind(Kind::Client)
            .timestamp(micros(today() + 50))
            .duration(250_000)
            .local_endpoint(one_port_3001)
            .build(),
        Span::builder(trace_id, hex_id("20"))
            .parent_id(hex_id("10"))
            .name("get")
            .shared(true)
            .kind(Kind::Server)
            .timestamp(micros(today() + 100))
            .duration(150_000)
            .local_endpoint(two.clone())
            .build(),
        Span::builder(trace_id, hex_id("30"))
            .parent_id(hex_id("20"))
            .name("query")
            .kind(Kind::Client)
            .timestamp(micros(today() + 150))
            .duration(50_000)
            .local_endpoint(two_port_3002)
            .build(),
        Span::builder(trace_id, hex_id("30"))
            .parent_id(hex_id("20"))
            .name("query")
            .shared(true)
            .kind(Kind::Server)
            .timestamp(micros(today() + 160))
            .duration(20_000)
            .local_endpoint(three.clone())
            .build(),
    ];

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        DAY,
        vec![link(&one, &two, 1, 0), link(&two, &three, 1, 0)],
    )
    .await;
}

// ITDependencies.dependencies_loopback
/// A service calling itself is a link from the service to itself.
pub async fn dependencies_loopback(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("dependencies_loopback");
    let trace = new_trace(&suffix);
    let frontend = trace[0]
        .local_endpoint
        .clone()
        .expect("root has an endpoint");

    let trace_with_loopback = vec![
        trace[0].clone(),
        with_changes(&trace[1], |s| s.remote_endpoint = Some(frontend.clone())),
    ];

    process_dependencies(&*store, trace_with_loopback).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        DAY,
        vec![link(&frontend, &frontend, 1, 0)],
    )
    .await;
}

// ITDependencies.dependencies_headlessTrace
/// Without its root span a trace still yields the links below the root.
pub async fn dependencies_headless_trace(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("dependencies_headlessTrace");
    let mut trace = new_trace(&suffix);
    trace.remove(0);

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(&*store, trace_end_ts(&trace), DAY, links(&suffix)).await;
}

// ITDependencies.looksBackIndefinitely
pub async fn looks_back_indefinitely(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("looksBackIndefinitely");
    let trace = new_trace(&suffix);

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(&*store, trace_end_ts(&trace), DAY, links(&suffix)).await;
}

// ITDependencies.endTsInsideTheTrace
/// A trace is aggregated whole even when it ends after `endTs`.
pub async fn end_ts_inside_the_trace(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("endTsInsideTheTrace");
    let trace = new_trace(&suffix);

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(&*store, trace_start_ts(&trace) + 100, 200, links(&suffix)).await;
}

// ITDependencies.endTimeBeforeData
pub async fn end_time_before_data(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("endTimeBeforeData");
    let trace = new_trace(&suffix);

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(&*store, trace_start_ts(&trace) - 1000, 1000, vec![]).await;
}

// ITDependencies.lookbackAfterData
pub async fn lookback_after_data(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("lookbackAfterData");
    let trace = new_trace(&suffix);

    process_dependencies(&*store, trace).await;

    assert_dependencies(&*store, today() + 2 * DAY, DAY, vec![]).await;
}

// ITDependencies.notInstrumentedClientAndServer
/// Remote endpoints reveal an uninstrumented caller before the trace and an uninstrumented
/// server at its end.
pub async fn not_instrumented_client_and_server(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("notInstrumentedClientAndServer");
    let trace_id = new_trace_id();
    let kafka = suffix_service_name(kafka(), &suffix);
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);
    let db = suffix_service_name(db(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("20"))
            .name("get")
            .timestamp(micros(today()))
            .duration(350_000)
            .kind(Kind::Server)
            .local_endpoint(frontend.clone())
            .remote_endpoint(kafka.clone())
            .build(),
        Span::builder(trace_id, hex_id("21"))
            .parent_id(hex_id("20"))
            .name("get")
            .timestamp(micros(today() + 50))
            .duration(250_000)
            .kind(Kind::Client)
            .local_endpoint(frontend.clone())
            .build(),
        Span::builder(trace_id, hex_id("21"))
            .parent_id(hex_id("20"))
            .name("get")
            .shared(true)
            .timestamp(micros(today() + 250))
            .duration(50_000)
            .kind(Kind::Server)
            .local_endpoint(backend.clone())
            .build(),
        Span::builder(trace_id, hex_id("22"))
            .parent_id(hex_id("21"))
            .name("get")
            .timestamp(micros(today() + 150))
            .duration(50_000)
            .kind(Kind::Client)
            .local_endpoint(backend.clone())
            .remote_endpoint(db.clone())
            .build(),
    ];

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        DAY,
        vec![
            link(&kafka, &frontend, 1, 0),
            link(&frontend, &backend, 1, 0),
            link(&backend, &db, 1, 0),
        ],
    )
    .await;
}

// ITDependencies.endTsAndLookbackMustBePositive
/// Non-positive bounds are the caller's error, with Zipkin's messages. (Zipkin also checks
/// that the error comes before the call executes; a Rust future has no separate step.)
pub async fn end_ts_and_lookback_must_be_positive(store: Arc<dyn SpanStore>) {
    match store.get_dependencies(0, DAY).await {
        Err(StorageError::InvalidArgument(message)) => assert_eq!(message, "endTs <= 0"),
        other => panic!("getDependencies(0, DAY) should be InvalidArgument(endTs <= 0): {other:?}"),
    }

    match store.get_dependencies(today(), 0).await {
        Err(StorageError::InvalidArgument(message)) => assert_eq!(message, "lookback <= 0"),
        other => {
            panic!("getDependencies(TODAY, 0) should be InvalidArgument(lookback <= 0): {other:?}")
        }
    }
}

// ITDependencies.instrumentedClientAndServer
pub async fn instrumented_client_and_server(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("instrumentedClientAndServer");
    let trace_id = new_trace_id();
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);
    let db = suffix_service_name(db(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("10"))
            .name("get")
            .timestamp(micros(today() + 50))
            .duration(250_000)
            .kind(Kind::Client)
            .local_endpoint(frontend.clone())
            .build(),
        Span::builder(trace_id, hex_id("10"))
            .name("get")
            .shared(true)
            .timestamp(micros(today() + 100))
            .duration(150_000)
            .kind(Kind::Server)
            .local_endpoint(backend.clone())
            .build(),
        Span::builder(trace_id, hex_id("11"))
            .parent_id(hex_id("10"))
            .name("get")
            .timestamp(micros(today() + 150))
            .duration(50_000)
            .kind(Kind::Client)
            .local_endpoint(backend.clone())
            .remote_endpoint(db.clone())
            .build(),
    ];

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        DAY,
        vec![link(&frontend, &backend, 1, 0), link(&backend, &db, 1, 0)],
    )
    .await;
}

// ITDependencies.instrumentedProducerAndConsumer
/// Messaging links go through the broker: producer→broker and broker→consumer.
pub async fn instrumented_producer_and_consumer(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("instrumentedProducerAndConsumer");
    let trace_id = new_trace_id();
    let kafka = suffix_service_name(kafka(), &suffix);
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("10"))
            .name("send")
            .timestamp(micros(today() + 50))
            .duration(1)
            .kind(Kind::Producer)
            .local_endpoint(frontend.clone())
            .remote_endpoint(kafka.clone())
            .build(),
        Span::builder(trace_id, hex_id("11"))
            .parent_id(hex_id("10"))
            .name("receive")
            .timestamp(micros(today() + 100))
            .duration(1)
            .kind(Kind::Consumer)
            .remote_endpoint(kafka.clone())
            .local_endpoint(backend.clone())
            .build(),
    ];

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        DAY,
        vec![link(&frontend, &kafka, 1, 0), link(&kafka, &backend, 1, 0)],
    )
    .await;
}

// ITDependencies.missingIntermediateSpan
/// A missing parent still yields a link where the local service changes.
pub async fn missing_intermediate_span(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("missingIntermediateSpan");
    let trace_id = new_trace_id();
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("20"))
            .name("get")
            .timestamp(micros(today()))
            .duration(350_000)
            .kind(Kind::Server)
            .local_endpoint(frontend.clone())
            .build(),
        // Span 21 is missing.
        Span::builder(trace_id, hex_id("22"))
            .parent_id(hex_id("21"))
            .name("get")
            .timestamp(micros(today() + 150))
            .duration(50_000)
            .kind(Kind::Client)
            .local_endpoint(backend.clone())
            .build(),
    ];

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        DAY,
        vec![link(&frontend, &backend, 1, 0)],
    )
    .await;
}

// ITDependencies.canSearchForIntervalsBesidesToday
/// Links can be read for other windows than today: yesterday's alone, or both days summed.
pub async fn can_search_for_intervals_besides_today(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("canSearchForIntervalsBesidesToday");
    let trace = new_trace(&suffix);

    // Two days of data, processed separately.
    process_dependencies(&*store, subtract_day(&trace)).await;
    process_dependencies(&*store, trace.clone()).await;

    // Today's links, with the smallest lookback that covers the trace.
    let lookback =
        i64::try_from(trace[0].duration.expect("root has a duration") / 1000).expect("fits");
    assert_dependencies(&*store, trace_end_ts(&trace), lookback, links(&suffix)).await;

    // Yesterday's links.
    assert_dependencies(&*store, trace_end_ts(&trace) - DAY, DAY, links(&suffix)).await;

    // Both days.
    let frontend = append_suffix("frontend", &suffix);
    let backend = append_suffix("backend", &suffix);
    let db = append_suffix("db", &suffix);
    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        2 * DAY,
        vec![
            DependencyLink::new(frontend, backend.clone(), 2, 0),
            DependencyLink::new(backend, db, 2, 2),
        ],
    )
    .await;
}

/// `ITDependencies.subtractDay`: the trace a day earlier under a new 64-bit trace id.
/// As in Zipkin, shifted copies of the annotations are added next to the originals.
fn subtract_day(trace: &[Span]) -> Vec<Span> {
    let trace_id: TraceId = new_64_bit_trace_id();
    let day_micros = micros(DAY);
    trace
        .iter()
        .map(|span| {
            with_changes(span, |s| {
                s.trace_id = trace_id;
                s.timestamp = s.timestamp.map(|ts| ts - day_micros);
                let shifted: Vec<Annotation> = s
                    .annotations
                    .iter()
                    .map(|a| Annotation::new(a.timestamp - day_micros, a.value.clone()))
                    .collect();
                s.annotations.extend(shifted);
            })
        })
        .collect()
}

// ITDependencies.spanKindIsNotRequiredWhenEndpointsArePresent
/// Spans without a kind link local to remote service when both are named.
pub async fn span_kind_is_not_required_when_endpoints_are_present(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("spanKindIsNotRequiredWhenEndpointsArePresent");
    let trace_id = new_trace_id();
    let kafka = suffix_service_name(kafka(), &suffix);
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);
    let db = suffix_service_name(db(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("20"))
            .name("get")
            .timestamp(micros(today()))
            .duration(350_000)
            .local_endpoint(kafka.clone())
            .remote_endpoint(frontend.clone())
            .build(),
        Span::builder(trace_id, hex_id("21"))
            .parent_id(hex_id("20"))
            .name("get")
            .timestamp(micros(today() + 50))
            .duration(250_000)
            .local_endpoint(frontend.clone())
            .remote_endpoint(backend.clone())
            .build(),
        Span::builder(trace_id, hex_id("22"))
            .parent_id(hex_id("21"))
            .name("get")
            .timestamp(micros(today() + 150))
            .duration(50_000)
            .local_endpoint(backend.clone())
            .remote_endpoint(db.clone())
            .build(),
    ];

    process_dependencies(&*store, trace).await;

    assert_dependencies(
        &*store,
        today() + 1000,
        1000,
        vec![
            link(&kafka, &frontend, 1, 0),
            link(&frontend, &backend, 1, 0),
            link(&backend, &db, 1, 0),
        ],
    )
    .await;
}

// ITDependencies.unnamedEndpointsAreSkipped
/// An endpoint with only an address names no service, so it never appears in a link (and
/// no link has an empty name).
pub async fn unnamed_endpoints_are_skipped(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("unnamedEndpointsAreSkipped");
    let trace_id = new_trace_id();
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);
    let db = suffix_service_name(db(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("20"))
            .name("get")
            .timestamp(micros(today()))
            .duration(350_000)
            .local_endpoint(Endpoint::default().with_ip("172.17.0.4"))
            .remote_endpoint(frontend.clone())
            .build(),
        Span::builder(trace_id, hex_id("21"))
            .parent_id(hex_id("20"))
            .name("get")
            .timestamp(micros(today() + 50))
            .duration(250_000)
            .local_endpoint(frontend.clone())
            .remote_endpoint(backend.clone())
            .build(),
        Span::builder(trace_id, hex_id("22"))
            .parent_id(hex_id("21"))
            .name("get")
            .timestamp(micros(today() + 150))
            .duration(50_000)
            .local_endpoint(backend.clone())
            .remote_endpoint(db.clone())
            .build(),
    ];

    process_dependencies(&*store, trace).await;

    assert_dependencies(
        &*store,
        today() + 1000,
        1000,
        vec![link(&frontend, &backend, 1, 0), link(&backend, &db, 1, 0)],
    )
    .await;
}

// ITDependencies.intermediateSpans
/// Local (kind-less) spans between the RPC spans do not break or add links.
pub async fn intermediate_spans(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("intermediateSpans");
    let trace_id = new_trace_id();
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);
    let db = suffix_service_name(db(), &suffix);

    // Zipkin writes the deeper ids as numbers (23, 24, 25) and the first ones as hex
    // strings ("20", "21", "22"); the parent links below keep that mix.
    let trace = vec![
        Span::builder(trace_id, hex_id("20"))
            .name("get")
            .timestamp(micros(today()))
            .duration(350_000)
            .kind(Kind::Server)
            .local_endpoint(frontend.clone())
            .build(),
        Span::builder(trace_id, hex_id("21"))
            .parent_id(hex_id("20"))
            .name("call")
            .timestamp(micros(today() + 25))
            .duration(325_000)
            .local_endpoint(frontend.clone())
            .build(),
        Span::builder(trace_id, hex_id("22"))
            .parent_id(hex_id("21"))
            .name("get")
            .timestamp(micros(today() + 50))
            .duration(250_000)
            .kind(Kind::Client)
            .local_endpoint(frontend.clone())
            .build(),
        Span::builder(trace_id, hex_id("22"))
            .parent_id(hex_id("21"))
            .name("get")
            .timestamp(micros(today() + 100))
            .duration(150_000)
            .shared(true)
            .kind(Kind::Server)
            .local_endpoint(backend.clone())
            .build(),
        Span::builder(trace_id, num_id(23))
            .parent_id(hex_id("22"))
            .timestamp(micros(today() + 110))
            .duration(130_000)
            .name("depth4")
            .local_endpoint(backend.clone())
            .build(),
        Span::builder(trace_id, num_id(24))
            .parent_id(num_id(23))
            .timestamp(micros(today() + 125))
            .duration(105_000)
            .name("depth5")
            .local_endpoint(backend.clone())
            .build(),
        Span::builder(trace_id, num_id(25))
            .parent_id(num_id(24))
            .name("get")
            .timestamp(micros(today() + 150))
            .duration(50_000)
            .kind(Kind::Client)
            .local_endpoint(backend.clone())
            .remote_endpoint(db.clone())
            .build(),
    ];

    process_dependencies(&*store, trace).await;

    assert_dependencies(
        &*store,
        today() + 1000,
        1000,
        vec![link(&frontend, &backend, 1, 0), link(&backend, &db, 1, 0)],
    )
    .await;
}

// ITDependencies.duplicateAddress
/// v1 spans whose "ca" and "sa" address annotations name the span's own service must not
/// create extra (loopback) links.
///
/// Zipkin builds two v1 spans and converts them with `V1SpanConverter`. We have no v1 model
/// in storage, so these are the v2 spans that converter produces (read from its source):
/// - span 20 (sr/ss by frontend, ca = sa = frontend): a frontend SERVER span with the v1
///   timestamp and duration; "ca" equals the server's own endpoint so no remote endpoint is
///   set, and with no "cs" the "sa" is ignored.
/// - span 22 (cs/cr by frontend, ca = sa = backend, parent 21): a frontend CLIENT span with
///   the v1 timestamp and duration and remote endpoint backend (from "sa"); with no
///   "sr"/"ss" the "ca" is ignored.
pub async fn duplicate_address(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("duplicateAddress");
    let trace_id = new_trace_id();
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("20"))
            .name("get")
            .kind(Kind::Server)
            .local_endpoint(frontend.clone())
            .timestamp(micros(today()))
            .duration(350_000)
            .build(),
        Span::builder(trace_id, hex_id("22"))
            .parent_id(hex_id("21"))
            .name("get")
            .kind(Kind::Client)
            .local_endpoint(frontend.clone())
            .remote_endpoint(backend.clone())
            .timestamp(micros(today() + 50))
            .duration(250_000)
            .build(),
    ];

    process_dependencies(&*store, trace).await;

    assert_dependencies(
        &*store,
        today() + 1000,
        1000,
        vec![link(&frontend, &backend, 1, 0)],
    )
    .await;
}

// ITDependencies.oneway
/// A call that starts on one host and ends on the other (no response, no duration) links.
pub async fn oneway(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("oneway");
    let trace_id = new_trace_id();
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("10"))
            .timestamp(micros(today() + 50))
            .kind(Kind::Client)
            .local_endpoint(frontend.clone())
            .build(),
        Span::builder(trace_id, hex_id("10"))
            .shared(true)
            .timestamp(micros(today() + 100))
            .kind(Kind::Server)
            .local_endpoint(backend.clone())
            .build(),
    ];

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        DAY,
        vec![link(&frontend, &backend, 1, 0)],
    )
    .await;
}

// ITDependencies.annotationNamedErrorIsntError
/// An annotation named "error" is an event, not a failure: only an `error` tag counts.
pub async fn annotation_named_error_isnt_error(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("annotationNamedErrorIsntError");
    let trace_id = new_trace_id();
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("10"))
            .timestamp(micros(today() + 50))
            .kind(Kind::Client)
            .local_endpoint(frontend.clone())
            .build(),
        Span::builder(trace_id, hex_id("10"))
            .shared(true)
            .timestamp(micros(today() + 100))
            .kind(Kind::Server)
            .local_endpoint(backend.clone())
            .annotation(micros(today() + 72), "error")
            .build(),
    ];

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        DAY,
        vec![link(&frontend, &backend, 1, 0)],
    )
    .await;
}

// ITDependencies.oneway_noClient
/// An asynchronous call from an uninstrumented source links from the remote endpoint.
pub async fn oneway_no_client(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("oneway_noClient");
    let trace_id = new_trace_id();
    let backend = suffix_service_name(backend(), &suffix);
    let kafka = suffix_service_name(kafka(), &suffix);

    let trace = vec![
        Span::builder(trace_id, hex_id("10"))
            .name("receive")
            .timestamp(micros(today()))
            .kind(Kind::Server)
            .local_endpoint(backend.clone())
            .remote_endpoint(kafka.clone())
            .build(),
        Span::builder(trace_id, hex_id("11"))
            .parent_id(hex_id("10"))
            .name("process")
            .timestamp(micros(today() + 25))
            .duration(325_000)
            .local_endpoint(backend.clone())
            .build(),
    ];

    process_dependencies(&*store, trace.clone()).await;

    assert_dependencies(
        &*store,
        trace_end_ts(&trace),
        DAY,
        vec![link(&kafka, &backend, 1, 0)],
    )
    .await;
}
