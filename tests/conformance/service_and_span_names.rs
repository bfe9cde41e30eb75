//! Zipkin's `ITServiceAndSpanNames`: the name lists behind the UI's drop-downs
//! (`getServiceNames`, `getRemoteServiceNames`, `getSpanNames`), with default options.

use std::sync::Arc;

use zipwire::model::Endpoint;
use zipwire::storage::SpanStore;

use super::fixtures::*;

async fn service_names(store: &dyn SpanStore) -> Vec<String> {
    store
        .get_service_names()
        .await
        .expect("getServiceNames succeeds")
}

async fn remote_service_names(store: &dyn SpanStore, service: &str) -> Vec<String> {
    store
        .get_remote_service_names(service)
        .await
        .unwrap_or_else(|err| panic!("getRemoteServiceNames({service:?}) failed: {err}"))
}

async fn span_names(store: &dyn SpanStore, service: &str) -> Vec<String> {
    store
        .get_span_names(service)
        .await
        .unwrap_or_else(|err| panic!("getSpanNames({service:?}) failed: {err}"))
}

// ITServiceAndSpanNames.getLocalServiceNames_includesLocalServiceName
/// Service names are the local ones: a client span lists its own service, not the remote.
pub async fn get_local_service_names_includes_local_service_name(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getLocalServiceNames_includesLocalServiceName");
    let client = new_client_span(&suffix);

    assert_names(&service_names(&*store).await, &[], "getServiceNames()");

    accept(&*store, vec![client.clone()]).await;

    assert_names(
        &service_names(&*store).await,
        &[&local_service(&client)],
        "getServiceNames()",
    );
}

// ITServiceAndSpanNames.getLocalServiceNames_noServiceName
/// A span without a local endpoint adds no service name.
pub async fn get_local_service_names_no_service_name(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getLocalServiceNames_noServiceName");
    let span = with_changes(&span_builder(&suffix).build(), |s| s.local_endpoint = None);
    accept(&*store, vec![span]).await;

    assert_names(&service_names(&*store).await, &[], "getServiceNames()");
}

// ITServiceAndSpanNames.getRemoteServiceNames
/// Remote service names are listed under the local service that called them.
pub async fn get_remote_service_names(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getRemoteServiceNames");
    let client = new_client_span(&suffix);
    let (local, remote) = (local_service(&client), remote_service(&client));

    assert_names(
        &remote_service_names(&*store, &local).await,
        &[],
        "getRemoteServiceNames(local) before any write",
    );

    accept(&*store, vec![client]).await;

    assert_names(
        &remote_service_names(&*store, &format!("{local}1")).await,
        &[],
        "getRemoteServiceNames(another service)",
    );

    let names = remote_service_names(&*store, &local).await;
    assert!(
        names.contains(&remote),
        "getRemoteServiceNames({local:?}) returned {names:?}, which lacks {remote:?}"
    );
}

// ITServiceAndSpanNames.getRemoteServiceNames_allReturned
/// No hidden limit: all 51 remote service names are returned.
pub async fn get_remote_service_names_all_returned(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getRemoteServiceNames_allReturned");
    let spans: Vec<_> = (0..=50u64)
        .map(|i| {
            with_changes(&span_builder(&suffix).build(), |s| {
                s.id = num_id(i + 1);
                // Zipkin appends the suffix without an underscore here.
                s.remote_endpoint = Some(Endpoint::service(&format!("yak{i:02}{suffix}")));
            })
        })
        .collect();
    accept(&*store, spans.clone()).await;

    let expected: Vec<String> = spans.iter().map(remote_service).collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_names(
        &remote_service_names(&*store, &local_service(&spans[0])).await,
        &expected,
        "getRemoteServiceNames(local)",
    );
}

// ITServiceAndSpanNames.getRemoteServiceNames_dedupes
/// 51 spans calling the same remote service list it once.
pub async fn get_remote_service_names_dedupes(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getRemoteServiceNames_dedupes");
    let spans: Vec<_> = (0..=50)
        .map(|_| span_builder(&suffix).remote_endpoint(backend()).build())
        .collect();
    accept(&*store, spans.clone()).await;

    assert_names(
        &remote_service_names(&*store, &local_service(&spans[0])).await,
        &["backend"],
        "getRemoteServiceNames(local)",
    );
}

// ITServiceAndSpanNames.getRemoteServiceNames_noRemoteServiceName
/// A span without a remote endpoint adds no remote service name.
pub async fn get_remote_service_names_no_remote_service_name(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getRemoteServiceNames_noRemoteServiceName");
    let span = span_builder(&suffix).build();
    accept(&*store, vec![span.clone()]).await;

    assert_names(
        &remote_service_names(&*store, &local_service(&span)).await,
        &[],
        "getRemoteServiceNames(local)",
    );
}

// ITServiceAndSpanNames.getRemoteServiceNames_serviceNameGoesLowercase
/// The service argument is matched case-insensitively.
pub async fn get_remote_service_names_service_name_goes_lowercase(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getRemoteServiceNames_serviceNameGoesLowercase");
    let client = new_client_span(&suffix);
    accept(&*store, vec![client.clone()]).await;

    let uppercase = local_service(&client).to_uppercase();
    assert_names(
        &remote_service_names(&*store, &uppercase).await,
        &[&remote_service(&client)],
        &format!("getRemoteServiceNames({uppercase:?})"),
    );
}

// ITServiceAndSpanNames.getSpanNames_doesNotMapNameToRemoteServiceName
/// Span names belong to the local service only, never to the remote one.
pub async fn get_span_names_does_not_map_name_to_remote_service_name(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getSpanNames_doesNotMapNameToRemoteServiceName");
    let client = new_client_span(&suffix);
    accept(&*store, vec![client.clone()]).await;

    assert_names(
        &span_names(&*store, &remote_service(&client)).await,
        &[],
        "getSpanNames(remote service)",
    );
}

// ITServiceAndSpanNames.getSpanNames
/// Span names are listed under their local service only.
pub async fn get_span_names(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getSpanNames");
    let span = span_builder(&suffix).build();
    let local = local_service(&span);
    let name = span.name.as_deref().expect("named").to_owned();

    assert_names(
        &span_names(&*store, &local).await,
        &[],
        "getSpanNames(local) before any write",
    );

    accept(&*store, vec![span]).await;

    assert_names(
        &span_names(&*store, &format!("{local}1")).await,
        &[],
        "getSpanNames(another service)",
    );

    let names = span_names(&*store, &local).await;
    assert!(
        names.contains(&name),
        "getSpanNames({local:?}) returned {names:?}, which lacks {name:?}"
    );
}

// ITServiceAndSpanNames.getSpanNames_allReturned
/// No hidden limit: all 51 span names are returned.
pub async fn get_span_names_all_returned(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getSpanNames_allReturned");
    let spans: Vec<_> = (0..=50)
        .map(|i| span_builder(&suffix).name(&format!("yak{i:02}")).build())
        .collect();
    accept(&*store, spans.clone()).await;

    let expected: Vec<&str> = spans
        .iter()
        .map(|s| s.name.as_deref().expect("named"))
        .collect();
    assert_names(
        &span_names(&*store, &local_service(&spans[0])).await,
        &expected,
        "getSpanNames(local)",
    );
}

// ITServiceAndSpanNames.getSpanNames_dedupes
/// 51 spans with the same name list it once.
pub async fn get_span_names_dedupes(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getSpanNames_dedupes");
    let spans: Vec<_> = (0..=50).map(|_| span_builder(&suffix).build()).collect();
    accept(&*store, spans.clone()).await;

    assert_names(
        &span_names(&*store, &local_service(&spans[0])).await,
        &["get"],
        "getSpanNames(local)",
    );
}

// ITServiceAndSpanNames.getSpanNames_noSpanName
/// A span without a name adds no span name.
pub async fn get_span_names_no_span_name(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getSpanNames_noSpanName");
    let span = with_changes(&span_builder(&suffix).build(), |s| s.name = None);
    accept(&*store, vec![span.clone()]).await;

    assert_names(
        &span_names(&*store, &local_service(&span)).await,
        &[],
        "getSpanNames(local)",
    );
}

// ITServiceAndSpanNames.getSpanNames_serviceNameGoesLowercase
/// The service argument is matched case-insensitively.
pub async fn get_span_names_service_name_goes_lowercase(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getSpanNames_serviceNameGoesLowercase");
    let span = span_builder(&suffix).build();
    accept(&*store, vec![span.clone()]).await;

    let uppercase = local_service(&span).to_uppercase();
    assert_names(
        &span_names(&*store, &uppercase).await,
        &["get"],
        &format!("getSpanNames({uppercase:?})"),
    );
}
