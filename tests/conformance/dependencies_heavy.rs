//! Zipkin's `ITDependenciesHeavy`: more links than any page size.

use std::sync::Arc;

use zipwire::model::{DependencyLink, Kind, Span};
use zipwire::storage::SpanStore;

use super::fixtures::*;

// ITDependenciesHeavy.manyLinks
/// 256 traces of web-i → app-i → db-i give 512 links, each called once: no result limit.
///
/// Zipkin only checks the count and that every call count is 1; the exact expected set is
/// just as easy to state and also catches misattributed names.
pub async fn many_links(store: Arc<dyn SpanStore>) {
    let count = 256; // Larger than 10, the default Elasticsearch page that once hid links.
    let mut spans: Vec<Span> = Vec::with_capacity(count * 3);
    let mut expected: Vec<DependencyLink> = Vec::with_capacity(count * 2);
    for i in 1..=count {
        let trace_id = new_trace_id();
        let mut web = frontend();
        web.set_service_name(&format!("web-{i}"));
        let mut app = backend();
        app.set_service_name(&format!("app-{i}"));
        let mut db = db();
        db.set_service_name(&format!("db-{i}"));

        spans.push(
            Span::builder(trace_id, hex_id("10"))
                .name("get")
                .timestamp(micros(today() + 50))
                .duration(250_000)
                .kind(Kind::Client)
                .local_endpoint(web.clone())
                .build(),
        );
        spans.push(
            Span::builder(trace_id, hex_id("10"))
                .name("get")
                .shared(true)
                .timestamp(micros(today() + 100))
                .duration(150_000)
                .kind(Kind::Server)
                .local_endpoint(app.clone())
                .build(),
        );
        spans.push(
            Span::builder(trace_id, hex_id("11"))
                .parent_id(hex_id("10"))
                .name("get")
                .timestamp(micros(today() + 150))
                .duration(50_000)
                .kind(Kind::Client)
                .local_endpoint(app.clone())
                .remote_endpoint(db.clone())
                .build(),
        );
        expected.push(DependencyLink::new(
            format!("web-{i}"),
            format!("app-{i}"),
            1,
            0,
        ));
        expected.push(DependencyLink::new(
            format!("app-{i}"),
            format!("db-{i}"),
            1,
            0,
        ));
    }

    // `processDependencies` writes everything in one call.
    let end_ts = trace_end_ts(&spans);
    store.accept(spans).await.expect("accept succeeds");

    assert_dependencies(&*store, end_ts, DAY, expected).await;
}
