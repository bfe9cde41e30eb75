//! The storage conformance suite: Zipkin's storage integration tests (`zipkin-tests`,
//! `zipkin2.storage.IT*`) ported to our `SpanStore`, run against every backend.
//!
//! Each case is a `pub async fn case(store: Arc<dyn SpanStore>)` that keeps its Java test's
//! name (in snake case, with the original in a comment above it). Cases live in one module
//! per Zipkin suite; [`fixtures`] holds Zipkin's test objects and read-back assertions.
//!
//! A backend runs the suite from its own integration-test binary:
//!
//! ```ignore
//! #[macro_use]
//! mod conformance;
//!
//! conformance_suite!(|options: StorageOptions| async move {
//!     Arc::new(MyStore::new(options)) as Arc<dyn SpanStore>
//! });
//! ```
//!
//! The factory gets the options each case needs and must return an empty store; a backend
//! that shares a server between tests isolates them inside the factory (e.g. one schema
//! per call). Every case gets its own store.

pub mod autocomplete_tags;
pub mod dependencies;
pub mod dependencies_heavy;
pub mod fixtures;
pub mod search_enabled_false;
pub mod service_and_span_names;
pub mod span_store;
pub mod span_store_heavy;
pub mod strict_trace_id_false;
pub mod traces;

/// One `#[tokio::test]` running a case against a fresh store from the backend's factory.
/// Implementation detail of [`conformance_suite!`].
macro_rules! __conformance_case {
    ($suite:ident, $case:ident, $options:ident) => {
        #[tokio::test]
        async fn $case() {
            let store =
                super::conformance_store(crate::conformance::fixtures::options::$options()).await;
            crate::conformance::$suite::$case(store).await;
        }
    };
}

/// Expands one `#[tokio::test]` per conformance case, grouped in one module per Zipkin
/// suite (`span_store::get_traces_limit`, `traces::get_trace_deduplicates`, ...).
///
/// The argument is the store factory: an expression callable as
/// `factory(options: StorageOptions)` returning a future of `Arc<dyn SpanStore>` (or of an
/// `Arc` of a concrete store). It may name items imported where the macro is invoked.
///
/// Every backend runs every case: there is deliberately no way to skip one. A backend that
/// cannot meet a case is not conformant yet. The test binary must declare this module as
/// `#[macro_use] mod conformance;` at its root.
macro_rules! conformance_suite {
    ($factory:expr $(,)?) => {
        /// The backend's factory, shared by every generated test.
        async fn conformance_store(
            options: ::zipwire::storage::StorageOptions,
        ) -> ::std::sync::Arc<dyn ::zipwire::storage::SpanStore> {
            let factory = $factory;
            factory(options).await
        }

        /// `ITSpanStore`
        mod span_store {
            __conformance_case!(span_store, all_should_work_when_empty, default);
            __conformance_case!(
                span_store,
                all_should_work_when_no_indexable_data_yet,
                default
            );
            __conformance_case!(span_store, consumer_implements_call_execute, default);
            __conformance_case!(span_store, consumer_implements_call_submit, default);
            __conformance_case!(span_store, get_traces_groups_traces_together, default);
            __conformance_case!(span_store, get_traces_considers_bits_above_64bit, default);
            __conformance_case!(
                span_store,
                get_traces_filtering_matches_most_recent_traces,
                default
            );
            __conformance_case!(span_store, get_traces_service_names, default);
            __conformance_case!(
                span_store,
                get_traces_service_names_mixed_trace_id_length,
                default
            );
            __conformance_case!(span_store, get_traces_span_name, default);
            __conformance_case!(
                span_store,
                get_traces_span_name_mixed_trace_id_length,
                default
            );
            __conformance_case!(span_store, get_traces_tags, default);
            __conformance_case!(span_store, get_traces_min_duration, default);
            __conformance_case!(span_store, get_traces_late_duration, default);
            __conformance_case!(span_store, get_traces_max_duration, default);
            __conformance_case!(span_store, readback_minimal_error_span, default);
            __conformance_case!(span_store, reads_back_large_values, default);
            __conformance_case!(span_store, span_with_problematic_data, default);
            __conformance_case!(span_store, get_traces_duration, default);
            __conformance_case!(span_store, get_traces_absent_when_no_timestamp, default);
            __conformance_case!(
                span_store,
                get_traces_differentiates_debug_from_shared,
                default
            );
            __conformance_case!(span_store, get_traces_annotation, default);
            __conformance_case!(
                span_store,
                get_traces_multiple_annotations_become_and_filter,
                default
            );
            __conformance_case!(
                span_store,
                get_traces_differentiate_on_service_name,
                default
            );
            __conformance_case!(span_store, get_traces_limit, default);
            __conformance_case!(span_store, get_traces_end_ts_and_lookback, default);
            __conformance_case!(span_store, names_go_lowercase, default);
            __conformance_case!(span_store, get_traces_end_ts_inside_the_trace, default);
        }

        /// `ITTraces`
        mod traces {
            __conformance_case!(traces, get_trace_returns_empty_on_not_found, default);
            __conformance_case!(traces, get_trace_differentiates_debug_from_shared, default);
            __conformance_case!(traces, get_traces_only_returns_traces_that_match, default);
            __conformance_case!(traces, get_traces_differentiates_debug_from_shared, default);
            __conformance_case!(traces, get_traces_returns_empty_on_not_found, default);
            __conformance_case!(traces, get_trace_deduplicates, default);
            __conformance_case!(traces, get_trace_deduplicates_large_trace, default);
        }

        /// `ITServiceAndSpanNames`
        mod service_and_span_names {
            __conformance_case!(
                service_and_span_names,
                get_local_service_names_includes_local_service_name,
                default
            );
            __conformance_case!(
                service_and_span_names,
                get_local_service_names_no_service_name,
                default
            );
            __conformance_case!(service_and_span_names, get_remote_service_names, default);
            __conformance_case!(
                service_and_span_names,
                get_remote_service_names_all_returned,
                default
            );
            __conformance_case!(
                service_and_span_names,
                get_remote_service_names_dedupes,
                default
            );
            __conformance_case!(
                service_and_span_names,
                get_remote_service_names_no_remote_service_name,
                default
            );
            __conformance_case!(
                service_and_span_names,
                get_remote_service_names_service_name_goes_lowercase,
                default
            );
            __conformance_case!(
                service_and_span_names,
                get_span_names_does_not_map_name_to_remote_service_name,
                default
            );
            __conformance_case!(service_and_span_names, get_span_names, default);
            __conformance_case!(service_and_span_names, get_span_names_all_returned, default);
            __conformance_case!(service_and_span_names, get_span_names_dedupes, default);
            __conformance_case!(service_and_span_names, get_span_names_no_span_name, default);
            __conformance_case!(
                service_and_span_names,
                get_span_names_service_name_goes_lowercase,
                default
            );
        }

        /// `ITAutocompleteTags`
        mod autocomplete_tags {
            __conformance_case!(
                autocomplete_tags,
                ignores_when_key_not_in_autocomplete_tags,
                autocomplete_http_host
            );
            __conformance_case!(
                autocomplete_tags,
                get_tags_and_values,
                autocomplete_http_host
            );
        }

        /// `ITStrictTraceIdFalse`
        mod strict_trace_id_false {
            __conformance_case!(
                strict_trace_id_false,
                get_traces_128_bit_trace_id,
                strict_trace_id_false
            );
            __conformance_case!(
                strict_trace_id_false,
                get_traces_128_bit_trace_id_mixed,
                strict_trace_id_false
            );
            __conformance_case!(
                strict_trace_id_false,
                get_trace_retrieves_by_64_or_128_bit_trace_id,
                strict_trace_id_false
            );
            __conformance_case!(
                strict_trace_id_false,
                get_trace_retrieves_by_64_or_128_bit_trace_id_mixed,
                strict_trace_id_false
            );
            __conformance_case!(
                strict_trace_id_false,
                get_traces_retrieves_by_64_or_128_bit_trace_id,
                strict_trace_id_false
            );
        }

        /// `ITSearchEnabledFalse`
        mod search_enabled_false {
            __conformance_case!(
                search_enabled_false,
                get_traces_index_data_returns_nothing,
                search_enabled_false
            );
            __conformance_case!(
                search_enabled_false,
                get_service_names_is_empty,
                search_enabled_false
            );
            __conformance_case!(
                search_enabled_false,
                get_remote_service_names_is_empty,
                search_enabled_false
            );
            __conformance_case!(
                search_enabled_false,
                get_span_names_is_empty,
                search_enabled_false
            );
        }

        /// `ITDependencies`
        mod dependencies {
            __conformance_case!(dependencies, get_dependencies, default);
            __conformance_case!(dependencies, get_dependencies_links_mixed_trace_id, default);
            __conformance_case!(dependencies, replay_overwrites, default);
            __conformance_case!(dependencies, empty, default);
            __conformance_case!(dependencies, get_dependencies_all_instrumented, default);
            __conformance_case!(dependencies, dependencies_loopback, default);
            __conformance_case!(dependencies, dependencies_headless_trace, default);
            __conformance_case!(dependencies, looks_back_indefinitely, default);
            __conformance_case!(dependencies, end_ts_inside_the_trace, default);
            __conformance_case!(dependencies, end_time_before_data, default);
            __conformance_case!(dependencies, lookback_after_data, default);
            __conformance_case!(dependencies, not_instrumented_client_and_server, default);
            __conformance_case!(dependencies, end_ts_and_lookback_must_be_positive, default);
            __conformance_case!(dependencies, instrumented_client_and_server, default);
            __conformance_case!(dependencies, instrumented_producer_and_consumer, default);
            __conformance_case!(dependencies, missing_intermediate_span, default);
            __conformance_case!(
                dependencies,
                can_search_for_intervals_besides_today,
                default
            );
            __conformance_case!(
                dependencies,
                span_kind_is_not_required_when_endpoints_are_present,
                default
            );
            __conformance_case!(dependencies, unnamed_endpoints_are_skipped, default);
            __conformance_case!(dependencies, intermediate_spans, default);
            __conformance_case!(dependencies, duplicate_address, default);
            __conformance_case!(dependencies, oneway, default);
            __conformance_case!(dependencies, annotation_named_error_isnt_error, default);
            __conformance_case!(dependencies, oneway_no_client, default);
        }

        /// `ITSpanStoreHeavy`
        mod span_store_heavy {
            __conformance_case!(span_store_heavy, trace_with_many_spans, default);
            __conformance_case!(span_store_heavy, get_traces_many_traces, default);
        }

        /// `ITDependenciesHeavy`
        mod dependencies_heavy {
            __conformance_case!(dependencies_heavy, many_links, default);
        }
    };
}
