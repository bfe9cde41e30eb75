//! Zipkin's `ITSearchEnabledFalse`: with `search_enabled = false` nothing is indexed, so
//! searches and name lists answer empty (lookups by id keep working).

use std::sync::Arc;

use zipwire::storage::SpanStore;

use super::fixtures::*;

// ITSearchEnabledFalse.getTraces_indexDataReturnsNothing
/// Every kind of search answers empty, even for data that would match.
pub async fn get_traces_index_data_returns_nothing(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_indexDataReturnsNothing");
    let client = new_client_span(&suffix);
    accept(&*store, vec![client.clone()]).await;

    assert_get_traces_returns_empty(&*store, request_builder()).await;

    assert_get_traces_returns_empty(
        &*store,
        request_builder().service_name(local_service(&client)),
    )
    .await;

    assert_get_traces_returns_empty(
        &*store,
        request_builder().span_name(client.name.as_deref().expect("named")),
    )
    .await;

    let tags: Vec<(String, String)> = client
        .tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_get_traces_returns_empty(&*store, request_builder().annotation_query(tags)).await;

    let duration = i64::try_from(client.duration.expect("has duration")).expect("fits");
    assert_get_traces_returns_empty(&*store, request_builder().min_duration(duration)).await;
}

// ITSearchEnabledFalse.getServiceNames_isEmpty
pub async fn get_service_names_is_empty(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getServiceNames_isEmpty");
    accept(&*store, vec![span_builder(&suffix).build()]).await;

    let names = store
        .get_service_names()
        .await
        .expect("getServiceNames succeeds");
    assert!(
        names.is_empty(),
        "getServiceNames() returned {names:?} with search disabled"
    );
}

// ITSearchEnabledFalse.getRemoteServiceNames_isEmpty
/// Zipkin writes `spanBuilder(suffix)` here, which has no remote service, so its check
/// could not fail; a client span (with a remote service) makes it meaningful.
pub async fn get_remote_service_names_is_empty(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getRemoteServiceNames_isEmpty");
    let span = new_client_span(&suffix);
    accept(&*store, vec![span.clone()]).await;

    let names = store
        .get_remote_service_names(&local_service(&span))
        .await
        .expect("getRemoteServiceNames succeeds");
    assert!(
        names.is_empty(),
        "getRemoteServiceNames() returned {names:?} with search disabled"
    );
}

// ITSearchEnabledFalse.getSpanNames_isEmpty
pub async fn get_span_names_is_empty(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getSpanNames_isEmpty");
    let span = span_builder(&suffix).build();
    accept(&*store, vec![span.clone()]).await;

    let names = store
        .get_span_names(&local_service(&span))
        .await
        .expect("getSpanNames succeeds");
    assert!(
        names.is_empty(),
        "getSpanNames() returned {names:?} with search disabled"
    );
}
