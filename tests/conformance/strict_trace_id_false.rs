//! Zipkin's `ITStrictTraceIdFalse`: with `strict_trace_id = false`, spans are grouped and
//! looked up by the low 64 bits of their trace id, so 64-bit and 128-bit instrumentation
//! can share a trace.

use std::sync::Arc;

use zipwire::model::Span;
use zipwire::storage::SpanStore;

use super::fixtures::*;

// ITStrictTraceIdFalse.getTraces_128BitTraceId
/// Fully 128-bit traces remain searchable.
pub async fn get_traces_128_bit_trace_id(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_128BitTraceId");
    let trace = accept_128_bit_trace(&*store, &suffix).await;
    searches_find_the_whole_trace(&*store, trace, &suffix).await;
}

// ITStrictTraceIdFalse.getTraces_128BitTraceId_mixed
/// A trace whose later spans carry the 64-bit form of its id is searched as one trace.
pub async fn get_traces_128_bit_trace_id_mixed(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_128BitTraceId_mixed");
    let trace = accept_mixed_trace(&*store, &suffix).await;
    searches_find_the_whole_trace(&*store, trace, &suffix).await;
}

async fn searches_find_the_whole_trace(store: &dyn SpanStore, trace: Vec<Span>, suffix: &str) {
    assert_get_traces_returns(store, request_builder(), vec![trace.clone()]).await;

    // By data of the 128-bit side...
    assert_get_traces_returns(
        store,
        request_builder()
            .service_name(append_suffix("frontend", suffix))
            .parse_annotation_query("foo"),
        vec![trace.clone()],
    )
    .await;

    // ...and by data of the side that may carry the 64-bit id.
    assert_get_traces_returns(
        store,
        request_builder()
            .service_name(append_suffix("backend", suffix))
            .parse_annotation_query("error"),
        vec![trace],
    )
    .await;
}

// ITStrictTraceIdFalse.getTrace_retrievesBy64Or128BitTraceId
/// A 128-bit trace is found by its full id and by its low 64 bits.
pub async fn get_trace_retrieves_by_64_or_128_bit_trace_id(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTrace_retrievesBy64Or128BitTraceId");
    let trace = accept_128_bit_trace(&*store, &suffix).await;
    retrieves_by_64_or_128_bit_trace_id(&*store, trace).await;
}

// ITStrictTraceIdFalse.getTrace_retrievesBy64Or128BitTraceId_mixed
/// A mixed-length trace is found whole by either form of its id.
pub async fn get_trace_retrieves_by_64_or_128_bit_trace_id_mixed(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTrace_retrievesBy64Or128BitTraceId_mixed");
    let trace = accept_mixed_trace(&*store, &suffix).await;
    retrieves_by_64_or_128_bit_trace_id(&*store, trace).await;
}

async fn retrieves_by_64_or_128_bit_trace_id(store: &dyn SpanStore, trace: Vec<Span>) {
    let trace_id = trace
        .iter()
        .map(|s| s.trace_id)
        .find(|id| id.is_128())
        .expect("the trace has a 128-bit span");

    assert_get_trace_returns(store, trace_id, trace.clone()).await;
    assert_get_trace_returns(store, trace_id.to_64(), trace).await;
}

/// `accept128BitTrace`: `newTrace` written in reverse, in one call.
async fn accept_128_bit_trace(store: &dyn SpanStore, suffix: &str) -> Vec<Span> {
    let mut trace = new_trace(suffix);
    trace.reverse();
    store.accept(trace.clone()).await.expect("accept succeeds");
    trace
}

/// `acceptMixedTrace`: `newTrace` where the spans after the outbound client call carry the
/// 64-bit id, as from a server that dropped the high bits; written in reverse.
async fn accept_mixed_trace(store: &dyn SpanStore, suffix: &str) -> Vec<Span> {
    let mut trace = new_trace(suffix);
    let downgraded = trace[0].trace_id.to_64();
    for span in &mut trace[2..] {
        span.trace_id = downgraded;
    }
    trace.reverse();
    accept(store, trace.clone()).await;
    trace
}

// ITStrictTraceIdFalse.getTraces_retrievesBy64Or128BitTraceId
/// `getTraces(ids)` finds each pair of 128-bit and 64-bit spans as one trace, whichever
/// form of the id is asked for.
pub async fn get_traces_retrieves_by_64_or_128_bit_trace_id(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_retrievesBy64Or128BitTraceId");
    let pair = |short_id: &str| {
        let with_128 = span_builder(&suffix).build();
        let with_64 = with_changes(&with_128, |s| {
            s.trace_id = with_128.trace_id.to_64();
            s.id = hex_id(short_id);
            s.timestamp = Some(with_128.timestamp.expect("timestamped") + 1000);
        });
        (with_128, with_64)
    };
    let (with_128_1, with_64_1) = pair("a");
    let (with_128_2, with_64_2) = pair("b");
    let (with_128_3, with_64_3) = pair("c");

    accept(
        &*store,
        vec![
            with_128_1.clone(),
            with_64_1.clone(),
            with_128_2,
            with_64_2,
            with_128_3.clone(),
            with_64_3.clone(),
        ],
    )
    .await;

    let traces_1_and_3 = vec![
        vec![with_128_1.clone(), with_64_1.clone()],
        vec![with_128_3.clone(), with_64_3.clone()],
    ];

    assert_get_traces_by_ids_returns(
        &*store,
        vec![
            with_128_1.trace_id,
            with_64_1.trace_id,
            with_128_3.trace_id,
            with_64_3.trace_id,
        ],
        traces_1_and_3.clone(),
    )
    .await;

    assert_get_traces_by_ids_returns(
        &*store,
        vec![with_64_1.trace_id, with_64_3.trace_id],
        traces_1_and_3.clone(),
    )
    .await;

    assert_get_traces_by_ids_returns(
        &*store,
        vec![with_128_1.trace_id, with_128_3.trace_id],
        traces_1_and_3,
    )
    .await;
}
