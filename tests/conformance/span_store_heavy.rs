//! Zipkin's `ITSpanStoreHeavy`: searches over more data than one page of results.

use std::sync::Arc;

use zipwire::model::Span;
use zipwire::storage::SpanStore;

use super::fixtures::*;

// ITSpanStoreHeavy.traceWithManySpans
/// The limit counts traces, not spans: a 101-span trace comes back whole.
pub async fn trace_with_many_spans(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("traceWithManySpans");
    let root = span_builder(&suffix).build();
    let mut spans = vec![root.clone()];
    spans.extend((1..=100).map(|i| {
        with_changes(&root, |s| {
            s.parent_id = Some(root.id);
            s.id = num_id(i);
            s.timestamp = Some(micros(today() + i as i64));
            s.duration = Some(10);
        })
    }));

    accept(&*store, spans.clone()).await;

    assert_get_traces_returns(&*store, request_builder(), vec![spans.clone()]).await;
    assert_get_trace_returns(&*store, root.trace_id, spans).await;
}

// ITSpanStoreHeavy.getTraces_manyTraces
/// 1000 single-span traces are all found, whichever criteria select them.
pub async fn get_traces_many_traces(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_manyTraces");
    let first = span_builder(&suffix).build();
    let (tag_key, tag_value) = first.tags[0].clone();
    let trace_count: usize = 1000;

    let mut traces: Vec<Span> = vec![first.clone()];
    traces.extend((1..trace_count).map(|i| {
        span_builder(&suffix)
            .timestamp(micros(today() + i as i64))
            .duration(10)
            .build()
    }));

    accept(&*store, traces).await;

    let limit = trace_count as i64;
    assert_get_traces_returns_count(&*store, request_builder().limit(limit), trace_count).await;

    // Zipkin grows one builder query by query.
    let builder = request_builder()
        .limit(limit)
        .service_name(local_service(&first));
    assert_get_traces_returns_count(&*store, builder.clone(), trace_count).await;

    // Zipkin next adds `remoteServiceName(span.remoteServiceName())`, which is null for this
    // span: no criterion, so that query repeats the previous one and is not written again.

    let builder = builder.span_name(first.name.as_deref().expect("named"));
    assert_get_traces_returns_count(&*store, builder.clone(), trace_count).await;

    let builder = builder.parse_annotation_query(&format!("{tag_key}={tag_value}"));
    assert_get_traces_returns_count(&*store, builder, trace_count).await;
}
