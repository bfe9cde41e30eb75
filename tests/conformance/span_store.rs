//! Zipkin's `ITSpanStore`: writing spans and searching traces (`getTraces(QueryRequest)`),
//! with default storage options.

use std::sync::Arc;

use zipwire::model::{Annotation, Endpoint, Kind, Span, TraceId};
use zipwire::storage::SpanStore;

use super::fixtures::*;

// ITSpanStore.allShouldWorkWhenEmpty
/// A store that was just created or purged answers every search with nothing, not an error.
pub async fn all_should_work_when_empty(store: Arc<dyn SpanStore>) {
    searches_find_nothing(&*store).await;
}

// ITSpanStore.allShouldWorkWhenNoIndexableDataYet
/// A span with nothing but ids (instrumentation sending empty spans) is accepted and
/// matches no search.
pub async fn all_should_work_when_no_indexable_data_yet(store: Arc<dyn SpanStore>) {
    let empty = Span::builder(new_trace_id(), hex_id("1")).build();
    accept(&*store, vec![empty]).await;

    searches_find_nothing(&*store).await;
}

/// Zipkin reuses one builder here, so each query adds a criterion to the previous one.
async fn searches_find_nothing(store: &dyn SpanStore) {
    let q = request_builder().service_name("service");
    assert_get_traces_returns_empty(store, q.clone()).await;
    let q = q.remote_service_name("remotey");
    assert_get_traces_returns_empty(store, q.clone()).await;
    let q = q.span_name("methodcall");
    assert_get_traces_returns_empty(store, q.clone()).await;
    let q = q.parse_annotation_query("custom");
    assert_get_traces_returns_empty(store, q.clone()).await;
    let q = q.parse_annotation_query("BAH=BEH");
    assert_get_traces_returns_empty(store, q).await;
}

// ITSpanStore.consumer_implementsCall_execute
/// Zipkin's `Call` does no I/O until `execute()`. Our `accept` returns a future, so the
/// equivalent is: nothing is stored before the future is awaited, and the span is readable
/// once it completes.
///
/// Zipkin also checks that a second `execute()` throws and that `clone().execute()` works.
/// A Rust future is consumed by `.await`, so running the same write twice cannot compile;
/// the clone's counterpart is a fresh `accept` of the same spans, which must succeed.
pub async fn consumer_implements_call_execute(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("consumer_implementsCall_execute");
    let span = span_builder(&suffix).build();

    let call = store.accept(vec![span.clone()]);

    assert_get_trace_returns_empty(&*store, span.trace_id).await;
    call.await
        .expect("awaiting the accept future stores the span");

    assert_get_trace_returns(&*store, span.trace_id, vec![span.clone()]).await;

    store
        .accept(vec![span])
        .await
        .expect("a fresh accept of the same spans succeeds");
}

// ITSpanStore.consumer_implementsCall_submit
/// Zipkin's asynchronous `enqueue(callback)`: the write runs on another task. Nothing is
/// stored before the task runs, and the span is readable once it has completed. (The
/// "second enqueue throws" half has no equivalent, as in `consumer_implements_call_execute`.)
pub async fn consumer_implements_call_submit(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("consumer_implementsCall_submit");
    let span = span_builder(&suffix).build();

    let writer = Arc::clone(&store);
    let spans = vec![span.clone()];
    let call = async move { writer.accept(spans).await };

    assert_get_trace_returns_empty(&*store, span.trace_id).await;

    tokio::spawn(call)
        .await
        .expect("the write task completes")
        .expect("the spawned accept stores the span");

    assert_get_trace_returns(&*store, span.trace_id, vec![span.clone()]).await;

    store
        .accept(vec![span])
        .await
        .expect("a fresh accept of the same spans succeeds");
}

// ITSpanStore.getTraces_groupsTracesTogether
/// Spans written interleaved come back grouped by trace id.
pub async fn get_traces_groups_traces_together(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_groupsTracesTogether");
    let a1 = span_builder(&suffix).timestamp(micros(today() + 1)).build();
    let a2 = with_changes(&a1, |s| {
        s.id = hex_id("2");
        s.timestamp = Some(micros(today() + 2));
    });
    let trace_b = new_trace_id();
    let b1 = with_changes(&a1, |s| s.trace_id = trace_b);
    let b2 = with_changes(&a2, |s| s.trace_id = trace_b);

    accept(
        &*store,
        vec![a1.clone(), b1.clone(), a2.clone(), b2.clone()],
    )
    .await;

    assert_get_traces_returns(&*store, request_builder(), vec![vec![a1, a2], vec![b1, b2]]).await;
}

// ITSpanStore.getTraces_considersBitsAbove64bit
/// A 64-bit trace id, a 128-bit id ending in it, and another 128-bit id ending in it are
/// three different traces when trace ids are strict.
pub async fn get_traces_considers_bits_above_64bit(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_considersBitsAbove64bit");
    let trace_id = new_trace_id();
    let frontend = suffix_service_name(frontend(), &suffix);

    let span1 = Span::builder(trace_id.to_64(), hex_id("1"))
        .tag("foo", "1")
        .timestamp(micros(today()))
        .local_endpoint(frontend.clone())
        .build();
    let span2 = with_changes(&span1, |s| {
        s.trace_id = trace_id;
        put_tag(s, "foo", "2");
    });
    // "1" followed by the 16 hex digits: 17 characters, padded to a 128-bit id.
    let id3 = TraceId::parse(&format!("1{}", span1.trace_id)).expect("valid hex");
    let span3 = with_changes(&span1, |s| {
        s.trace_id = id3;
        put_tag(s, "foo", "3");
    });

    accept(&*store, vec![span1.clone(), span2.clone(), span3.clone()]).await;

    for span in [span1, span2, span3] {
        let term = format!("foo={}", span.tag("foo").expect("tagged"));
        assert_get_traces_returns(
            &*store,
            request_builder()
                .service_name(service_name(&frontend))
                .parse_annotation_query(&term),
            vec![vec![span]],
        )
        .await;
    }
}

// ITSpanStore.getTraces_filteringMatchesMostRecentTraces
/// The limit keeps the traces nearest to `endTs`, and the window selects early or late ones.
pub async fn get_traces_filtering_matches_most_recent_traces(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_filteringMatchesMostRecentTraces");
    let endpoints: Vec<Endpoint> = (1..=10)
        .map(|i| {
            Endpoint::service(&append_suffix(&format!("service{i}"), &suffix)).with_ip("127.0.0.1")
        })
        .collect();
    let gap_between_spans = 100;

    let early: Vec<Span> = (1..=10u64)
        .map(|i| {
            Span::builder(new_trace_id(), num_id(i))
                .name("early")
                .timestamp(micros(today() - i as i64))
                .duration(1)
                .local_endpoint(endpoints[i as usize - 1].clone())
                .build()
        })
        .collect();
    let late: Vec<Span> = (1..=10u64)
        .map(|i| {
            Span::builder(new_trace_id(), num_id(i + 10))
                .name("late")
                .timestamp(micros(today() + gap_between_spans - i as i64))
                .duration(1)
                .local_endpoint(endpoints[i as usize - 1].clone())
                .build()
        })
        .collect();

    accept(&*store, early.clone()).await;
    accept(&*store, late.clone()).await;

    let early_traces: Vec<Vec<Span>> = early.into_iter().map(|s| vec![s]).collect();
    let late_traces: Vec<Vec<Span>> = late.into_iter().map(|s| vec![s]).collect();

    assert_get_traces_returns_count(&*store, request_builder(), 20).await;

    // Exact results: which traces the limit and the window leave out is the point here.

    assert_get_traces_returns_exactly(&*store, request_builder().limit(10), late_traces.clone())
        .await;

    assert_get_traces_returns_exactly(
        &*store,
        request_builder()
            .end_ts(today() + gap_between_spans)
            .lookback(gap_between_spans),
        late_traces,
    )
    .await;

    assert_get_traces_returns_exactly(&*store, request_builder().end_ts(today()), early_traces)
        .await;
}

// ITSpanStore.getTraces_serviceNames
/// Searches by local service name, then by local and remote service name.
pub async fn get_traces_service_names(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_serviceNames");
    service_name_searches(&*store, new_client_span(&suffix)).await;
}

async fn service_name_searches(store: &dyn SpanStore, client: Span) {
    accept(store, vec![client.clone()]).await;
    let (local, remote) = (local_service(&client), remote_service(&client));

    assert_get_traces_returns_empty(store, request_builder().service_name(format!("{local}1")))
        .await;

    assert_get_traces_returns(
        store,
        request_builder().service_name(&local),
        vec![vec![client.clone()]],
    )
    .await;

    assert_get_traces_returns_empty(
        store,
        request_builder()
            .service_name(&local)
            .remote_service_name(format!("{remote}1")),
    )
    .await;

    assert_get_traces_returns(
        store,
        request_builder()
            .service_name(&local)
            .remote_service_name(&remote),
        vec![vec![client]],
    )
    .await;
}

// ITSpanStore.getTraces_serviceNames_mixedTraceIdLength
/// A trace whose id is the 64-bit truncation of another, with other service names, is
/// neither returned with nor mistaken for the 128-bit trace.
pub async fn get_traces_service_names_mixed_trace_id_length(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_serviceNames_mixedTraceIdLength");
    let client = new_client_span(&suffix);

    let truncated = with_changes(&span_builder(&suffix).build(), |s| {
        s.trace_id = client.trace_id.to_64();
        s.local_endpoint = Some(Endpoint::service(&append_suffix("foo", &suffix)));
        s.remote_endpoint = Some(Endpoint::service(&append_suffix("bar", &suffix)));
    });
    accept(&*store, vec![truncated]).await;

    service_name_searches(&*store, client).await;
}

// ITSpanStore.getTraces_spanName
/// Searches by span name, alone and with the service name.
pub async fn get_traces_span_name(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_spanName");
    span_name_searches(&*store, new_client_span(&suffix)).await;
}

async fn span_name_searches(store: &dyn SpanStore, client: Span) {
    accept(store, vec![client.clone()]).await;
    let local = local_service(&client);
    let name = client.name.as_deref().expect("named").to_owned();

    assert_get_traces_returns_empty(store, request_builder().span_name(format!("{name}1"))).await;

    assert_get_traces_returns_empty(
        store,
        request_builder()
            .service_name(&local)
            .span_name(format!("{name}1")),
    )
    .await;

    assert_get_traces_returns(
        store,
        request_builder().span_name(&name),
        vec![vec![client.clone()]],
    )
    .await;

    assert_get_traces_returns(
        store,
        request_builder().service_name(&local).span_name(&name),
        vec![vec![client]],
    )
    .await;
}

// ITSpanStore.getTraces_spanName_mixedTraceIdLength
/// As `get_traces_span_name`, next to a 64-bit-truncated copy of the span named "bar".
pub async fn get_traces_span_name_mixed_trace_id_length(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_spanName_mixedTraceIdLength");
    let client = new_client_span(&suffix);

    let truncated = with_changes(&client, |s| {
        s.trace_id = client.trace_id.to_64();
        s.name = Some("bar".into());
    });
    accept(&*store, vec![truncated]).await;

    span_name_searches(&*store, client).await;
}

// ITSpanStore.getTraces_tags
/// Tag terms must all match.
pub async fn get_traces_tags(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_tags");
    let client = new_client_span(&suffix);

    accept(&*store, vec![client.clone()]).await;

    assert_get_traces_returns_empty(
        &*store,
        request_builder().annotation_query([("foo", "bar")]),
    )
    .await;

    let tags: Vec<(String, String)> = client
        .tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_get_traces_returns(
        &*store,
        request_builder().annotation_query(tags),
        vec![vec![client]],
    )
    .await;
}

// ITSpanStore.getTraces_minDuration
/// The minimum duration is inclusive.
pub async fn get_traces_min_duration(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_minDuration");
    let client = new_client_span(&suffix);
    let duration = duration_of(&client);

    accept(&*store, vec![client.clone()]).await;

    assert_get_traces_returns_empty(&*store, request_builder().min_duration(duration + 1)).await;

    assert_get_traces_returns(
        &*store,
        request_builder().min_duration(duration),
        vec![vec![client]],
    )
    .await;
}

// ITSpanStore.getTraces_lateDuration
/// A duration reported in a later fragment (same trace and span id, only timestamp,
/// duration and endpoint) is searchable, and both fragments are returned.
pub async fn get_traces_late_duration(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_lateDuration");
    let client = new_client_span(&suffix);
    let duration = duration_of(&client);
    let missing_duration = with_changes(&client, |s| s.duration = None);
    let late_duration = Span::builder(client.trace_id, client.id)
        .timestamp(client.timestamp.expect("timestamped"))
        .duration(client.duration.expect("has duration"))
        .local_endpoint(client.local_endpoint.clone().expect("has local endpoint"))
        .build();

    accept(&*store, vec![missing_duration.clone()]).await;
    accept(&*store, vec![late_duration.clone()]).await;

    assert_get_traces_returns_empty(&*store, request_builder().min_duration(duration + 1)).await;

    assert_get_traces_returns(
        &*store,
        request_builder().min_duration(duration),
        vec![vec![late_duration, missing_duration]],
    )
    .await;
}

// ITSpanStore.getTraces_maxDuration
/// The maximum duration is inclusive.
pub async fn get_traces_max_duration(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_maxDuration");
    let client = new_client_span(&suffix);
    let duration = duration_of(&client);

    accept(&*store, vec![client.clone()]).await;

    assert_get_traces_returns_empty(
        &*store,
        request_builder()
            .min_duration(duration - 2)
            .max_duration(duration - 1),
    )
    .await;

    assert_get_traces_returns(
        &*store,
        request_builder()
            .min_duration(duration)
            .max_duration(duration),
        vec![vec![client]],
    )
    .await;
}

// ITSpanStore.readback_minimalErrorSpan
/// The skeletal error span of dependency linking reads back, and an empty tag value
/// survives: `error` matches it, `error=1` does not.
pub async fn readback_minimal_error_span(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("readback_minimalErrorSpan");
    let service = append_suffix("isao01", &suffix);
    let error_span = Span::builder(new_trace_id(), hex_id("1"))
        .timestamp(micros(today()))
        .local_endpoint(Endpoint::service(&service))
        .kind(Kind::Client)
        .tag("error", "")
        .build();
    accept(&*store, vec![error_span.clone()]).await;

    // Zipkin reuses one builder: the annotation query replaces the previous one.
    let q = request_builder().service_name(&service);
    assert_get_traces_returns(&*store, q.clone(), vec![vec![error_span.clone()]]).await;

    let q = q.parse_annotation_query("error");
    assert_get_traces_returns(&*store, q.clone(), vec![vec![error_span.clone()]]).await;

    let q = q.parse_annotation_query("error=1");
    assert_get_traces_returns_empty(&*store, q).await;

    assert_get_trace_returns(&*store, error_span.trace_id, vec![error_span]).await;
}

// ITSpanStore.readsBackLargeValues
/// A span over 1 KiB (a 1024-character tag) reads back untruncated.
pub async fn reads_back_large_values(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("readsBackLargeValues");
    let kilobyte_of_text = "a".repeat(1024);
    let span = span_builder(&suffix)
        .name("big")
        .tag("a", &kilobyte_of_text)
        .build();

    accept(&*store, vec![span.clone()]).await;

    assert_get_traces_returns(&*store, request_builder(), vec![vec![span.clone()]]).await;
    assert_get_trace_returns(&*store, span.trace_id, vec![span]).await;
}

// ITSpanStore.spanWithProblematicData
/// JSON in a span name and tag keys with nested dots, written as two fragments of one span.
pub async fn span_with_problematic_data(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("spanWithProblematicData");
    let part1 = span_builder(&suffix).tag("http.path", "/api").build();
    accept(&*store, vec![part1.clone()]).await;

    let json = r#"{"foo":"bar"}"#;
    let part2 = with_changes(&part1, |s| {
        s.name = Some(json.into());
        s.tags = vec![("http.path.morepath".into(), "/api/api".into())];
    });
    accept(&*store, vec![part2.clone()]).await;

    assert_get_traces_returns(
        &*store,
        request_builder()
            .service_name(local_service(&part1))
            .span_name(json),
        vec![vec![part2.clone(), part1.clone()]],
    )
    .await;

    assert_get_trace_returns(&*store, part1.trace_id, vec![part2, part1]).await;
}

// ITSpanStore.getTraces_duration
/// Duration bounds apply to the spans of the queried service (not only the root), together
/// with the remote service and span name criteria. Results are checked exactly (Zipkin
/// checks containment), since which traces are left out is the point of the case.
pub async fn get_traces_duration(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_duration");
    let frontend = append_suffix("frontend", &suffix);
    let backend = append_suffix("backend", &suffix);
    let db = append_suffix("db", &suffix);

    let (trace1, trace2, trace3) = setup_duration_data(&*store, &suffix).await;

    // Zipkin mutates one builder through the whole case, so each query keeps the criteria
    // of the previous ones unless it overrides them. The window ends at midnight, because
    // the data sits 3ms before it.
    let q = request_builder().end_ts(today()).lookback(DAY);

    // Min duration is inclusive and applies per service.
    let q = q.service_name(&frontend).min_duration(200_000);
    assert_get_traces_returns_exactly(&*store, q.clone(), vec![trace1.clone()]).await;

    let q = q.service_name(&db).min_duration(200_000);
    assert_get_traces_returns_exactly(&*store, q.clone(), vec![trace2.clone()]).await;

    // Duration bounds apply to every span of the service in a trace, not only the root.
    let q = q
        .service_name(&backend)
        .min_duration(50_000)
        .max_duration(150_000);
    assert_get_traces_returns_exactly(
        &*store,
        q.clone(),
        vec![trace1.clone(), trace2.clone(), trace3.clone()],
    )
    .await;

    // The remote service name narrows the duration filter (minimum still 50ms).
    let q = q
        .service_name(&frontend)
        .remote_service_name(&backend)
        .max_duration(50_000);
    assert_get_traces_returns_exactly(&*store, q.clone(), vec![trace2]).await;

    // So does the span name (remote service still backend).
    let q = q
        .service_name(&backend)
        .span_name("zip")
        .max_duration(50_000);
    assert_get_traces_returns_exactly(&*store, q.clone(), vec![trace3.clone()]).await;

    // The maximum filters out longer spans of the same service.
    let q = q
        .service_name(&backend)
        .min_duration(50_000)
        .max_duration(50_000);
    assert_get_traces_returns_exactly(&*store, q, vec![trace3]).await;
}

/// `ITSpanStore.setupDurationData`: three traces 3ms before midnight whose spans vary in
/// service, remote service and duration.
async fn setup_duration_data(
    store: &dyn SpanStore,
    suffix: &str,
) -> (Vec<Span>, Vec<Span>, Vec<Span>) {
    let frontend = suffix_service_name(frontend(), suffix);
    let backend = suffix_service_name(backend(), suffix);
    let db = suffix_service_name(db(), suffix);
    let (id1, id2, id3) = (new_trace_id(), new_trace_id(), new_trace_id());
    let offset = micros(today() - 3);

    let targz = Span::builder(id1, num_id(1))
        .name("targz")
        .timestamp(offset + 100)
        .duration(200_000)
        .local_endpoint(frontend.clone())
        .remote_endpoint(db.clone())
        .tag("lc", "archiver")
        .build();
    let tar = Span::builder(id1, num_id(2))
        .parent_id(num_id(1))
        .name("tar")
        .timestamp(offset + 200)
        .duration(150_000)
        .local_endpoint(backend.clone())
        .remote_endpoint(backend.clone())
        .tag("lc", "archiver")
        .build();
    let gz = Span::builder(id1, num_id(3))
        .parent_id(num_id(1))
        .name("gz")
        .timestamp(offset + 250)
        .duration(50_000)
        .local_endpoint(db.clone())
        .remote_endpoint(frontend.clone())
        .tag("lc", "archiver")
        .build();
    let zip = Span::builder(id3, num_id(3))
        .name("zip")
        .timestamp(offset + 130)
        .duration(50_000)
        .annotation(offset + 130, "zip")
        .local_endpoint(backend.clone())
        .remote_endpoint(backend.clone())
        .tag("lc", "archiver")
        .build();

    let trace2 = vec![
        with_changes(&targz, |s| {
            s.trace_id = id2;
            s.timestamp = Some(offset + 110);
            s.local_endpoint = Some(db.clone());
            s.remote_endpoint = Some(frontend.clone());
            put_tag(s, "lc", "archiver-v2");
        }),
        with_changes(&tar, |s| {
            s.trace_id = id2;
            s.timestamp = Some(offset + 210);
            s.local_endpoint = Some(backend.clone());
            s.remote_endpoint = Some(backend.clone());
            put_tag(s, "lc", "archiver");
        }),
        with_changes(&gz, |s| {
            s.trace_id = id2;
            s.timestamp = Some(offset + 260);
            s.local_endpoint = Some(frontend.clone());
            s.remote_endpoint = Some(backend.clone());
            put_tag(s, "lc", "archiver");
        }),
    ];
    let trace1 = vec![targz, tar, gz];
    let trace3 = vec![zip];

    accept(store, trace1.clone()).await;
    accept(store, trace2.clone()).await;
    accept(store, trace3.clone()).await;
    (trace1, trace2, trace3)
}

// ITSpanStore.getTraces_absentWhenNoTimestamp
/// A trace without any timestamp is not searchable; once a timestamped fragment arrives,
/// both fragments are returned.
pub async fn get_traces_absent_when_no_timestamp(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_absentWhenNoTimestamp");
    let span = span_builder(&suffix).build();
    let local = local_service(&span);
    let name = span.name.as_deref().expect("named").to_owned();
    let without_timestamp = with_changes(&span, |s| {
        s.timestamp = None;
        s.duration = None;
    });

    // Index the service name, but no timestamp of any sort.
    accept(&*store, vec![without_timestamp.clone()]).await;

    // Zipkin also queries with `spanName(span.remoteServiceName())`; this span has no remote
    // service, so that query has no span-name criterion and equals the first one.
    assert_get_traces_returns_empty(&*store, request_builder().service_name(&local)).await;

    assert_get_traces_returns_empty(
        &*store,
        request_builder().service_name(&local).span_name(&name),
    )
    .await;

    // Now store the timestamped span.
    accept(&*store, vec![span.clone()]).await;

    let both = vec![without_timestamp, span];
    // As above, `remoteServiceName(null)` in Zipkin adds no criterion: one query covers it.
    assert_get_traces_returns(
        &*store,
        request_builder().service_name(&local),
        vec![both.clone()],
    )
    .await;

    assert_get_traces_returns(
        &*store,
        request_builder().service_name(&local).span_name(&name),
        vec![both],
    )
    .await;
}

// ITSpanStore.getTraces_differentiatesDebugFromShared
/// A debug CLIENT span and a shared SERVER span with the same ids come back as two spans
/// with their flags intact.
pub async fn get_traces_differentiates_debug_from_shared(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_differentiatesDebugFromShared");
    let client = with_changes(&new_client_span(&suffix), |s| s.debug = true);
    let server = with_changes(&client, |s| {
        s.kind = Some(Kind::Server);
        s.debug = false;
        s.shared = true;
    });

    accept(&*store, vec![client.clone(), server.clone()]).await;

    assert_get_traces_returns(&*store, request_builder(), vec![vec![client, server]]).await;
}

// ITSpanStore.getTraces_annotation
/// A trace is found by an annotation value and by a `key=value` tag term.
pub async fn get_traces_annotation(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_annotation");
    // Zipkin timestamps this annotation with the bare millisecond value of midnight.
    let today_as_micros = u64::try_from(today()).expect("after 1970");
    let client = with_changes(&new_client_span(&suffix), |s| {
        s.annotations.push(Annotation::new(today_as_micros, "foo"));
    });
    let local = local_service(&client);

    accept(&*store, vec![client.clone()]).await;

    let annotation = client.annotations[0].value.to_string();
    assert_get_traces_returns(
        &*store,
        request_builder()
            .service_name(&local)
            .parse_annotation_query(&annotation),
        vec![vec![client.clone()]],
    )
    .await;

    let (key, value) = &client.tags[0];
    assert_get_traces_returns(
        &*store,
        request_builder()
            .service_name(&local)
            .parse_annotation_query(&format!("{key}={value}")),
        vec![vec![client.clone()]],
    )
    .await;
}

// ITSpanStore.getTraces_multipleAnnotationsBecomeAndFilter
/// Terms joined by `and` must all match; a bare term matches a tag key too.
pub async fn get_traces_multiple_annotations_become_and_filter(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_multipleAnnotationsBecomeAndFilter");
    let frontend = suffix_service_name(frontend(), &suffix);
    let at = |ms: i64| micros(today() + ms);

    let only_foo = Span::builder(new_trace_id(), num_id(1))
        .name("call1")
        .timestamp(at(1))
        .local_endpoint(frontend.clone())
        .annotation(at(1), "foo")
        .build();
    // Would be "foo bar", but "bar" sorts first.
    let bar_and_foo = Span::builder(new_trace_id(), num_id(2))
        .name("call2")
        .timestamp(at(2))
        .local_endpoint(frontend.clone())
        .annotation(at(2), "bar")
        .annotation(at(2), "foo")
        .build();
    let foo_and_baz_and_qux = Span::builder(new_trace_id(), num_id(3))
        .name("call3")
        .timestamp(at(3))
        .local_endpoint(frontend.clone())
        .annotation(at(3), "foo")
        .tag("baz", "qux")
        .build();
    let bar_and_foo_and_baz_and_qux = Span::builder(new_trace_id(), num_id(4))
        .name("call4")
        .timestamp(at(4))
        .local_endpoint(frontend.clone())
        .annotation(at(4), "bar")
        .annotation(at(4), "foo")
        .tag("baz", "qux")
        .build();

    accept(
        &*store,
        vec![
            only_foo.clone(),
            bar_and_foo.clone(),
            foo_and_baz_and_qux.clone(),
            bar_and_foo_and_baz_and_qux.clone(),
        ],
    )
    .await;

    let service = service_name(&frontend);
    let query = |terms: &str| {
        request_builder()
            .service_name(&service)
            .parse_annotation_query(terms)
    };

    assert_get_traces_returns(
        &*store,
        query("foo"),
        vec![
            vec![only_foo],
            vec![bar_and_foo.clone()],
            vec![foo_and_baz_and_qux.clone()],
            vec![bar_and_foo_and_baz_and_qux.clone()],
        ],
    )
    .await;

    assert_get_traces_returns(
        &*store,
        query("foo and bar"),
        vec![vec![bar_and_foo], vec![bar_and_foo_and_baz_and_qux.clone()]],
    )
    .await;

    assert_get_traces_returns(
        &*store,
        query("foo and bar and baz=qux"),
        vec![vec![bar_and_foo_and_baz_and_qux.clone()]],
    )
    .await;

    // A bare term can match a tag key alone.
    assert_get_traces_returns(
        &*store,
        query("baz"),
        vec![vec![foo_and_baz_and_qux], vec![bar_and_foo_and_baz_and_qux]],
    )
    .await;
}

// ITSpanStore.getTraces_differentiateOnServiceName
/// Annotation and tag criteria must be met by spans of the queried service, not by another
/// service in the same trace.
pub async fn get_traces_differentiate_on_service_name(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_differentiateOnServiceName");
    let frontend = suffix_service_name(frontend(), &suffix);
    let backend = suffix_service_name(backend(), &suffix);

    let trace1 = Span::builder(new_trace_id(), num_id(1))
        .name("1")
        .kind(Kind::Client)
        .timestamp(micros(today() + 1))
        .duration(3000)
        .local_endpoint(frontend.clone())
        .annotation(micros(today() + 1) + 500, "web")
        .tag("local", "web")
        .tag("web-b", "web")
        .build();
    let trace1_server = Span::builder(trace1.trace_id, num_id(1))
        .name("1")
        .kind(Kind::Server)
        .shared(true)
        .local_endpoint(backend.clone())
        .timestamp(micros(today() + 2))
        .duration(1000)
        .build();
    let trace2 = Span::builder(new_trace_id(), num_id(2))
        .name("2")
        .timestamp(micros(today() + 11))
        .duration(3000)
        .kind(Kind::Client)
        .local_endpoint(backend.clone())
        .annotation(micros(today() + 11) + 500, "app")
        .tag("local", "app")
        .tag("app-b", "app")
        .build();
    let trace2_server = Span::builder(trace2.trace_id, num_id(2))
        .name("2")
        .shared(true)
        .kind(Kind::Server)
        .local_endpoint(frontend.clone())
        .timestamp(micros(today() + 12))
        .duration(1000)
        .build();

    accept(
        &*store,
        vec![
            trace1.clone(),
            trace1_server.clone(),
            trace2.clone(),
            trace2_server.clone(),
        ],
    )
    .await;
    let first = vec![trace1.clone(), trace1_server];
    let second = vec![trace2.clone(), trace2_server];

    // Sanity check
    assert_get_trace_returns(&*store, trace1.trace_id, first.clone()).await;
    assert_get_trace_returns(&*store, trace2.trace_id, second.clone()).await;
    assert_get_traces_returns(
        &*store,
        request_builder(),
        vec![first.clone(), second.clone()],
    )
    .await;

    let (frontend, backend) = (service_name(&frontend), service_name(&backend));
    let query = |service: &str, terms: &str| {
        request_builder()
            .service_name(service)
            .parse_annotation_query(terms)
    };

    // Only traces where the named service recorded the queried data are returned:
    // annotations,
    assert_get_traces_returns(&*store, query(&frontend, "web"), vec![first.clone()]).await;
    assert_get_traces_returns_empty(&*store, query(&backend, "web")).await;
    assert_get_traces_returns(&*store, query(&backend, "app"), vec![second.clone()]).await;
    assert_get_traces_returns_empty(&*store, query(&frontend, "app")).await;

    // tag keys,
    assert_get_traces_returns(&*store, query(&frontend, "web-b"), vec![first.clone()]).await;
    assert_get_traces_returns_empty(&*store, query(&backend, "web-b")).await;
    assert_get_traces_returns(&*store, query(&backend, "app-b"), vec![second.clone()]).await;
    assert_get_traces_returns_empty(&*store, query(&frontend, "app-b")).await;

    // and tag values.
    assert_get_traces_returns(&*store, query(&frontend, "local=web"), vec![first]).await;
    assert_get_traces_returns_empty(&*store, query(&backend, "local=web")).await;
    assert_get_traces_returns(&*store, query(&backend, "local=app"), vec![second]).await;
    assert_get_traces_returns_empty(&*store, query(&frontend, "local=app")).await;
}

// ITSpanStore.getTraces_limit
/// The limit keeps the traces closest to `endTs`. Checked exactly (Zipkin checks
/// containment, which a store ignoring the limit would pass).
pub async fn get_traces_limit(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_limit");
    let span1 = span_builder(&suffix).build();
    let span2 = with_changes(&span1, |s| {
        s.trace_id = new_trace_id();
        s.timestamp = Some(micros(today() + 2));
    });
    accept(&*store, vec![span1.clone(), span2.clone()]).await;

    assert_get_traces_returns_exactly(
        &*store,
        request_builder()
            .service_name(local_service(&span1))
            .limit(1),
        vec![vec![span2]],
    )
    .await;
}

// ITSpanStore.getTraces_endTsAndLookback
/// Traces whose root timestamp lies in `[endTs - lookback, endTs]` are returned; both
/// bounds are inclusive. Checked exactly (Zipkin checks containment, which a store ignoring
/// the lookback would pass).
pub async fn get_traces_end_ts_and_lookback(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_endTsAndLookback");
    let span1 = span_builder(&suffix).timestamp(micros(today() + 1)).build();
    let span2 = with_changes(&span1, |s| {
        s.trace_id = new_trace_id();
        s.timestamp = Some(micros(today() + 2));
    });
    accept(&*store, vec![span1.clone(), span2.clone()]).await;
    let (one, two) = (vec![span1], vec![span2]);
    let today = today();

    assert_get_traces_returns_empty(&*store, request_builder().end_ts(today)).await;

    assert_get_traces_returns_exactly(
        &*store,
        request_builder().end_ts(today + 1),
        vec![one.clone()],
    )
    .await;

    assert_get_traces_returns_exactly(
        &*store,
        request_builder().end_ts(today + 2),
        vec![one.clone(), two.clone()],
    )
    .await;

    assert_get_traces_returns_exactly(
        &*store,
        request_builder().end_ts(today + 3),
        vec![one.clone(), two.clone()],
    )
    .await;

    assert_get_traces_returns_empty(&*store, request_builder().end_ts(today)).await;

    assert_get_traces_returns_exactly(
        &*store,
        request_builder().end_ts(today + 1).lookback(1),
        vec![one.clone()],
    )
    .await;

    assert_get_traces_returns_exactly(
        &*store,
        request_builder().end_ts(today + 2).lookback(1),
        vec![one, two.clone()],
    )
    .await;

    assert_get_traces_returns_exactly(
        &*store,
        request_builder().end_ts(today + 3).lookback(1),
        vec![two],
    )
    .await;
}

// ITSpanStore.names_goLowercase
/// Remote service and span names in a search are matched case-insensitively.
pub async fn names_go_lowercase(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("names_goLowercase");
    let client = new_client_span(&suffix);
    let local = local_service(&client);
    let remote_upper = remote_service(&client).to_uppercase();
    let name_upper = client.name.as_deref().expect("named").to_uppercase();

    accept(&*store, vec![client.clone()]).await;

    assert_get_traces_returns(
        &*store,
        request_builder()
            .service_name(&local)
            .remote_service_name(&remote_upper),
        vec![vec![client.clone()]],
    )
    .await;

    assert_get_traces_returns(
        &*store,
        request_builder()
            .service_name(&local)
            .span_name(&name_upper),
        vec![vec![client.clone()]],
    )
    .await;

    assert_get_traces_returns(
        &*store,
        request_builder()
            .service_name(&local)
            .remote_service_name(&remote_upper),
        vec![vec![client]],
    )
    .await;
}

// ITSpanStore.getTraces_endTsInsideTheTrace
/// A trace is returned whole even when it ends after `endTs`.
pub async fn get_traces_end_ts_inside_the_trace(store: Arc<dyn SpanStore>) {
    let suffix = test_suffix("getTraces_endTsInsideTheTrace");
    let trace = new_trace(&suffix);

    accept(&*store, trace.clone()).await;

    // The smallest lookback that still covers the root avoids implementation windowing.
    let lookback = duration_of(&trace[0]) / 1000;
    assert_get_traces_returns(
        &*store,
        request_builder()
            .end_ts(trace_end_ts(&trace))
            .lookback(lookback),
        vec![trace],
    )
    .await;
}

fn duration_of(span: &Span) -> i64 {
    i64::try_from(span.duration.expect("fixture span has a duration")).expect("fits")
}
