//! The Kafka collector against real Kafka-protocol brokers: every case runs on librdkafka's
//! mock cluster and on a tansu broker process (see `tests/kafka/mod.rs`). Cases are
//! Zipkin's `ITKafkaCollector` where it has one, plus the at-least-once guarantees
//! Zipwire adds (offsets stored only after storage accepted, pause and resume, commits at
//! shutdown and rebalance).

mod common;
mod kafka;

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka::{
    committed, kafka_args, memory_store, read_topic, unique, Broker, GatedStore, Producer, Running,
};
use zipwire::codec::{detect, json_v1, json_v2, proto3, thrift};
use zipwire::model::{Endpoint, Kind, Span, SpanId, TraceId};
use zipwire::storage::SpanStore;

broker_tests!(
    each_encoding_is_stored,
    multiple_topics_comma_delimited,
    skips_malformed_data,
    dead_letter_topic_receives_undecodable_messages_with_headers,
    storage_failing_then_recovering_loses_nothing_and_commits_nothing_early,
    restarted_consumer_resumes_from_the_committed_offset,
    two_consumers_split_the_partitions_and_one_takes_over_when_the_other_stops,
    several_streams_in_one_process_share_the_partitions,
    health_reports_a_missing_topic_until_it_is_created,
);

/// A trace of `spans` spans (a server root and client children) with a random 128-bit id.
fn trace(spans: u64) -> Vec<Span> {
    let trace_id = TraceId::from_parts(rand::random(), rand::random::<u64>() | 1).unwrap();
    let now = common::now_micros();
    (1..=spans)
        .map(|i| {
            let mut span = Span::builder(trace_id, SpanId::new(i).unwrap())
                .name("get /api")
                .kind(if i == 1 { Kind::Server } else { Kind::Client })
                .timestamp(now - 10_000 + i)
                .duration(100 * i)
                .local_endpoint(Endpoint::service("frontend").with_ip("127.0.0.1"))
                .tag("http.method", "GET");
            if i > 1 {
                span = span.parent_id(SpanId::new(1).unwrap());
            }
            span.build()
        })
        .collect()
}

fn json_v2_list(spans: &[Span]) -> Vec<u8> {
    let mut out = Vec::new();
    json_v2::encode_spans(spans, &mut out);
    out
}

fn sorted(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| s.id.get());
    spans
}

fn args(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

async fn stored_count(store: &dyn SpanStore, traces: &[Vec<Span>]) -> usize {
    let mut n = 0;
    for t in traces {
        if kafka::has_trace(store, t[0].trace_id, t.len()).await {
            n += 1;
        }
    }
    n
}

/// ITKafkaCollector.messageWithMultipleSpans_{json2,proto3,json,thrift} and
/// messageWithSingleThriftSpan: each encoding, detected from the bytes, is stored.
async fn each_encoding_is_stored(broker: &dyn Broker) {
    let (topic, group) = (unique("zipkin"), unique("group"));
    broker.create_topic(&topic, 1);
    let store = memory_store();
    let app = Running::start(
        &args(&kafka_args(&broker.bootstrap(), &topic, &group)),
        store.clone(),
    )
    .await;
    let traces: Vec<Vec<Span>> = (0..5).map(|_| trace(3)).collect();
    let messages = [
        json_v2_list(&traces[0]),
        proto3::encode_list(&traces[1]),
        json_v1::encode_list(&traces[2]),
        thrift::encode_list(&traces[3]),
        thrift::encode_one(&traces[4][0]),
    ];
    let producer = Producer::new(&broker.bootstrap());
    for message in &messages {
        producer.send(&topic, None, None, message).await;
    }

    for (i, message) in messages.iter().enumerate() {
        let expected = detect::decode_message(message).expect("fixture decodes");
        let id = expected[0].trace_id;
        let stored = eventually!(format!("message {i} stored ({})", broker.name()), {
            let t = store.get_trace(id).await.unwrap();
            (t.len() == expected.len()).then_some(t)
        });
        assert_eq!(sorted(stored), sorted(expected), "message {i}");
    }
    let kafka = app.kafka();
    assert_eq!(kafka.messages, 5);
    assert_eq!(kafka.messages_dropped, 0);
    assert_eq!(kafka.spans, 4 * 3 + 1);
    assert_eq!(kafka.spans_dropped, 0);
    // Everything is stored, so the partition's lag drops to zero.
    let gauge = format!("zipwire_kafka_consumer_lag{{topic=\"{topic}\",partition=\"0\"}} 0\n");
    eventually!("lag 0 on /prometheus", {
        let text = reqwest::get(app.url("/prometheus"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.contains(&gauge).then_some(())
    });
    app.stop().await;
}

/// ITKafkaCollector.multipleTopicsCommaDelimited: KAFKA_TOPIC lists several topics.
async fn multiple_topics_comma_delimited(broker: &dyn Broker) {
    let (one, two, group) = (unique("zipkin"), unique("zipkin"), unique("group"));
    broker.create_topic(&one, 1);
    broker.create_topic(&two, 1);
    let store = memory_store();
    let topics = format!("{one},{two}");
    let app = Running::start(
        &args(&kafka_args(&broker.bootstrap(), &topics, &group)),
        store.clone(),
    )
    .await;
    let traces = [trace(1), trace(1)];
    let producer = Producer::new(&broker.bootstrap());
    producer
        .send(&one, None, None, &proto3::encode_list(&traces[0]))
        .await;
    producer
        .send(&two, None, None, &json_v2_list(&traces[1]))
        .await;
    eventually!("a trace from each topic stored", {
        (stored_count(store.as_ref(), &traces).await == 2).then_some(())
    });
    app.stop().await;
}

/// ITKafkaCollector.skipsMalformedData: an empty message is ignored, malformed ones are
/// dropped and counted, and neither blocks the messages after them.
async fn skips_malformed_data(broker: &dyn Broker) {
    let (topic, group) = (unique("zipkin"), unique("group"));
    broker.create_topic(&topic, 1);
    let store = memory_store();
    let app = Running::start(
        &args(&kafka_args(&broker.bootstrap(), &topic, &group)),
        store.clone(),
    )
    .await;
    let (first, second) = (trace(2), trace(2));
    let (first_bytes, second_bytes) = (thrift::encode_list(&first), thrift::encode_list(&second));
    let producer = Producer::new(&broker.bootstrap());
    for message in [
        first_bytes.as_slice(),
        b"",
        b"[\"='",
        b"malformed",
        second_bytes.as_slice(),
    ] {
        producer.send(&topic, None, None, message).await;
    }

    let both = [first, second];
    eventually!("both lists stored", {
        (stored_count(store.as_ref(), &both).await == 2).then_some(())
    });
    // The last message is counted before it is stored, so the counters are final here.
    let kafka = app.kafka();
    assert_eq!(kafka.messages, 5);
    assert_eq!(kafka.messages_dropped, 2);
    assert_eq!(
        kafka.bytes,
        (first_bytes.len() + second_bytes.len() + 4 + 9) as u64
    );
    assert_eq!(kafka.spans, 4);
    assert_eq!(kafka.spans_dropped, 0);
    let metrics: serde_json::Value = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metrics["counter.zipkin_collector.messages.kafka"], 5);
    assert_eq!(
        metrics["counter.zipkin_collector.messages_dropped.kafka"],
        2
    );
    // Bad messages are done with too: the group's offset moves past all five.
    eventually!("offset 5 committed", {
        (committed(&broker.bootstrap(), &group, &topic, 1).await == [Some(5)]).then_some(())
    });
    app.stop().await;
}

/// Undecodable messages are copied to KAFKA_DLT_TOPIC with their key and headers, plus
/// headers naming the error and the source position; the partition moves on.
async fn dead_letter_topic_receives_undecodable_messages_with_headers(broker: &dyn Broker) {
    let (topic, group, dlt) = (unique("zipkin"), unique("group"), unique("dlt"));
    broker.create_topic(&topic, 1);
    broker.create_topic(&dlt, 1);
    let store = memory_store();
    let mut flags = kafka_args(&broker.bootstrap(), &topic, &group);
    flags.extend(["--kafka-dlt-topic".to_owned(), dlt.clone()]);
    let app = Running::start(&args(&flags), store.clone()).await;
    let (first, second) = (trace(1), trace(1));
    let producer = Producer::new(&broker.bootstrap());
    producer
        .send(&topic, None, None, &proto3::encode_list(&first))
        .await;
    producer
        .send_with_headers(
            &topic,
            None,
            Some(b"k1"),
            b"malformed",
            &[("origin", "test")],
        )
        .await;
    producer.send(&topic, None, None, b"[\"='").await;
    producer
        .send(&topic, None, None, &proto3::encode_list(&second))
        .await;

    let both = [first, second];
    eventually!("valid messages stored", {
        (stored_count(store.as_ref(), &both).await == 2).then_some(())
    });
    let letters = read_topic(&broker.bootstrap(), &dlt, 2).await;
    assert_eq!(letters[0].payload, b"malformed");
    assert_eq!(letters[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(letters[0].header("origin"), Some("test"));
    assert_eq!(letters[1].payload, b"[\"='");
    for (letter, offset) in letters.iter().zip(["1", "2"]) {
        assert_eq!(letter.header("zipwire.source.topic"), Some(topic.as_str()));
        assert_eq!(letter.header("zipwire.source.partition"), Some("0"));
        assert_eq!(letter.header("zipwire.source.offset"), Some(offset));
        let error = letter.header("zipwire.error").unwrap_or_default();
        assert!(!error.is_empty(), "{letter:?}");
    }
    assert_eq!(app.kafka().messages_dropped, 2);
    app.stop().await;
}

/// At-least-once: while storage refuses, the consumer pauses and retries the same
/// message, commits nothing past it, and once storage is back stores everything.
async fn storage_failing_then_recovering_loses_nothing_and_commits_nothing_early(
    broker: &dyn Broker,
) {
    let (topic, group) = (unique("zipkin"), unique("group"));
    broker.create_topic(&topic, 1);
    let store = GatedStore::closed();
    let app = Running::start(
        &args(&kafka_args(&broker.bootstrap(), &topic, &group)),
        store.clone(),
    )
    .await;
    let traces: Vec<Vec<Span>> = (0..5).map(|_| trace(2)).collect();
    let producer = Producer::new(&broker.bootstrap());
    for t in &traces {
        producer
            .send(&topic, None, None, &proto3::encode_list(t))
            .await;
    }

    // Three refusals of the first message span several auto-commit intervals (100 ms).
    eventually!("storage refused three times", {
        (store.refused() >= 3).then_some(())
    });
    assert_eq!(
        committed(&broker.bootstrap(), &group, &topic, 1).await,
        [None],
        "nothing is committed while the first message is not stored"
    );
    let (status, health) = app.health().await;
    assert_eq!(status, 200, "{health}");
    let kafka_component = health["zipkin"]["details"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(name, _)| name.starts_with("KafkaCollector"))
        .map(|(_, c)| c.clone())
        .expect("kafka component");
    assert!(
        kafka_component["details"]["paused"]
            .as_str()
            .is_some_and(|p| p.contains("storage")),
        "{health}"
    );
    let kafka = app.kafka();
    assert_eq!(
        kafka.messages, 1,
        "the first message is retried, not skipped"
    );
    assert_eq!(kafka.spans_dropped, 0);

    store.open();
    eventually!("all traces stored after recovery", {
        (stored_count(store.as_ref(), &traces).await == 5).then_some(())
    });
    eventually!("offset 5 committed", {
        (committed(&broker.bootstrap(), &group, &topic, 1).await == [Some(5)]).then_some(())
    });
    let kafka = app.kafka();
    assert_eq!(kafka.messages, 5);
    assert_eq!(kafka.spans, 10);
    assert_eq!(kafka.spans_dropped, 0);
    app.stop().await;
}

/// A consumer stopped gracefully commits what it stored; the next one in the group starts
/// after it and reads only the new messages.
async fn restarted_consumer_resumes_from_the_committed_offset(broker: &dyn Broker) {
    let (topic, group) = (unique("zipkin"), unique("group"));
    broker.create_topic(&topic, 1);
    let store = memory_store();
    let flags = kafka_args(&broker.bootstrap(), &topic, &group);
    let producer = Producer::new(&broker.bootstrap());

    let before: Vec<Vec<Span>> = (0..3).map(|_| trace(1)).collect();
    let first = Running::start(&args(&flags), store.clone()).await;
    for t in &before {
        producer
            .send(&topic, None, None, &proto3::encode_list(t))
            .await;
    }
    eventually!("first batch stored", {
        (stored_count(store.as_ref(), &before).await == 3).then_some(())
    });
    first.stop().await;
    assert_eq!(
        committed(&broker.bootstrap(), &group, &topic, 1).await,
        [Some(3)]
    );

    let after: Vec<Vec<Span>> = (0..2).map(|_| trace(1)).collect();
    for t in &after {
        producer
            .send(&topic, None, None, &proto3::encode_list(t))
            .await;
    }
    let second = Running::start(&args(&flags), store.clone()).await;
    eventually!("second batch stored", {
        (stored_count(store.as_ref(), &after).await == 2).then_some(())
    });
    assert_eq!(
        second.kafka().messages,
        2,
        "only messages after the commit are read"
    );
    second.stop().await;
}

/// Two instances in one group over a four-partition topic share the partitions; when one
/// stops, the other takes all of them over and nothing is lost.
async fn two_consumers_split_the_partitions_and_one_takes_over_when_the_other_stops(
    broker: &dyn Broker,
) {
    let (topic, group) = (unique("zipkin"), unique("group"));
    broker.create_topic(&topic, 4);
    let store = memory_store();
    let flags = kafka_args(&broker.bootstrap(), &topic, &group);
    let a = Running::start(&args(&flags), store.clone()).await;
    let b = Running::start(&args(&flags), store.clone()).await;

    let (mine, theirs) = eventually!("partitions split two and two", {
        let (x, y) = (a.assignment().await, b.assignment().await);
        (x.len() == 2 && y.len() == 2).then_some((x, y))
    });
    let all: BTreeSet<String> = mine.iter().chain(&theirs).cloned().collect();
    assert_eq!(all.len(), 4, "{mine:?} and {theirs:?} overlap");

    let producer = Producer::new(&broker.bootstrap());
    let batch = |n: usize| (0..n).map(|_| trace(1)).collect::<Vec<_>>();
    let first = batch(8);
    for (i, t) in first.iter().enumerate() {
        producer
            .send(&topic, Some(i as i32 % 4), None, &proto3::encode_list(t))
            .await;
    }
    eventually!("first batch stored", {
        (stored_count(store.as_ref(), &first).await == 8).then_some(())
    });
    let (from_a, from_b) = (a.kafka().messages, b.kafka().messages);
    assert_eq!((from_a, from_b), (4, 4), "each reads its two partitions");

    a.stop().await;
    eventually!("the survivor holds all four partitions", {
        (b.assignment().await.len() == 4).then_some(())
    });
    let second = batch(8);
    for (i, t) in second.iter().enumerate() {
        producer
            .send(&topic, Some(i as i32 % 4), None, &proto3::encode_list(t))
            .await;
    }
    eventually!("second batch stored", {
        (stored_count(store.as_ref(), &second).await == 8).then_some(())
    });
    assert_eq!(
        stored_count(store.as_ref(), &first).await,
        8,
        "nothing from before the takeover is lost"
    );
    // At least the new messages; re-reading some earlier ones is allowed (at-least-once).
    // Real Kafka accepts the commits a revoked member makes while the group rebalances;
    // the mock cluster refuses them (REBALANCE_IN_PROGRESS), so there the survivor re-reads
    // what it had stored but not yet committed.
    assert!(b.kafka().messages >= from_b + 8);
    b.stop().await;
}

/// KAFKA_STREAMS consumers in one process are separate group members
/// (ITKafkaCollector.messagesDistributedAcrossMultipleThreadsSuccessfully).
async fn several_streams_in_one_process_share_the_partitions(broker: &dyn Broker) {
    let (topic, group) = (unique("zipkin"), unique("group"));
    broker.create_topic(&topic, 4);
    let store = memory_store();
    let mut flags = kafka_args(&broker.bootstrap(), &topic, &group);
    flags.extend(["--kafka-streams".to_owned(), "2".to_owned()]);
    let app = Running::start(&args(&flags), store.clone()).await;
    eventually!("four partitions over two streams", {
        (app.assignment().await.len() == 4).then_some(())
    });
    let traces: Vec<Vec<Span>> = (0..8).map(|_| trace(2)).collect();
    let producer = Producer::new(&broker.bootstrap());
    for (i, t) in traces.iter().enumerate() {
        producer
            .send(&topic, Some(i as i32 % 4), None, &json_v2_list(t))
            .await;
    }
    eventually!("all traces stored", {
        (stored_count(store.as_ref(), &traces).await == 8).then_some(())
    });
    assert_eq!(app.kafka().messages, 8);
    app.stop().await;
}

/// Zipkin waits for a topic that does not exist yet; `/health` says so meanwhile.
async fn health_reports_a_missing_topic_until_it_is_created(broker: &dyn Broker) {
    let (topic, group) = (unique("zipkin"), unique("group"));
    let store = memory_store();
    let app = Running::start(
        &args(&kafka_args(&broker.bootstrap(), &topic, &group)),
        store.clone(),
    )
    .await;
    let body = eventually!("health DOWN naming the topic", {
        let (status, body) = app.health().await;
        (status == 503 && body.to_string().contains(&topic)).then_some(body)
    });
    assert_eq!(body["status"], "DOWN");

    broker.create_topic(&topic, 1);
    eventually!("health UP with the partition assigned", {
        let (status, _) = app.health().await;
        (status == 200 && app.assignment().await.len() == 1).then_some(())
    });
    let t = trace(1);
    Producer::new(&broker.bootstrap())
        .send(&topic, None, None, &proto3::encode_list(&t))
        .await;
    eventually!("message stored", {
        kafka::has_trace(store.as_ref(), t[0].trace_id, 1)
            .await
            .then_some(())
    });
    app.stop().await;
}

/// ITKafkaCollector.checkFailsOnInvalidBootstrap, in spirit: with no broker answering,
/// `/health` is DOWN (503) rather than the process failing, and shutdown is still prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_down_while_kafka_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bootstrap = format!("127.0.0.1:{port}");
    let store: Arc<dyn SpanStore> = memory_store();
    let app = Running::start(&args(&kafka_args(&bootstrap, "zipkin", "zipkin")), store).await;
    let (status, body) = app.health().await;
    assert_eq!(status, 503, "{body}");
    let text = body.to_string();
    assert!(text.contains("KafkaCollector{bootstrapServers="), "{text}");
    assert!(text.contains("\"status\":\"DOWN\""), "{text}");
    assert!(text.contains("cannot reach the Kafka cluster"), "{text}");
    app.stop().await;
}
