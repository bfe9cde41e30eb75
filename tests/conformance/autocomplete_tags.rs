//! Zipkin's `ITAutocompleteTags`: tag values indexed for the UI's autocomplete, with
//! `autocomplete_keys = ["http.host"]`.

use std::sync::Arc;

use zipwire::storage::SpanStore;

use super::fixtures::*;

// ITAutocompleteTags.ignores_when_key_not_in_autocompleteTags
/// Tags whose key is not configured are not offered for autocomplete.
pub async fn ignores_when_key_not_in_autocomplete_tags(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("ignores_when_key_not_in_autocompleteTags");
    accept(
        &*store,
        vec![span_builder(&suffix).tag("http.method", "GET").build()],
    )
    .await;

    let keys = store
        .get_autocomplete_keys()
        .await
        .expect("getKeys succeeds");
    assert!(
        !keys.iter().any(|k| k == "http.method"),
        "getKeys() returned {keys:?}, which must not offer the unconfigured key http.method"
    );

    let values = store
        .get_autocomplete_values("http.method")
        .await
        .expect("getValues succeeds");
    assert!(
        values.is_empty(),
        "getValues(\"http.method\") returned {values:?} for an unconfigured key"
    );
}

// ITAutocompleteTags.getTagsAndValues
/// A configured key with a stored value is offered once, and so is the value, however many
/// spans carry it.
pub async fn get_tags_and_values(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTagsAndValues");
    for _ in 0..2 {
        let span = span_builder(&suffix)
            .tag("http.method", "GET")
            .tag("http.host", "host1")
            .build();
        accept(&*store, vec![span]).await;
    }

    let keys = store
        .get_autocomplete_keys()
        .await
        .expect("getKeys succeeds");
    assert!(
        keys.iter().filter(|k| *k == "http.host").count() == 1,
        "getKeys() returned {keys:?}; it should offer http.host exactly once"
    );

    let values = store
        .get_autocomplete_values("http.host")
        .await
        .expect("getValues succeeds");
    assert!(
        values.iter().filter(|v| *v == "host1").count() == 1,
        "getValues(\"http.host\") returned {values:?}; it should offer host1 exactly once"
    );
}
