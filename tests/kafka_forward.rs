//! The Kafka-buffered ingest tier (`COLLECTOR_FORWARD=kafka`): an HTTP front-end
//! publishes what it accepts to the topic, an ingester in the consumer group stores it.
//! Runs on librdkafka's mock cluster and on tansu (see `tests/kafka/mod.rs`).

mod common;
mod kafka;

use kafka::{kafka_args, memory_store, read_topic, unique, Broker, Running};
use zipwire::codec::{detect, json_v2, proto3};
use zipwire::model::{Endpoint, Kind, Span, SpanId, TraceId};

broker_tests!(forwarding_tier_round_trips_a_post_through_kafka_into_the_store);

fn trace(spans: u64) -> Vec<Span> {
    let trace_id = TraceId::from_parts(rand::random(), rand::random::<u64>() | 1).unwrap();
    let now = common::now_micros();
    (1..=spans)
        .map(|i| {
            Span::builder(trace_id, SpanId::new(i).unwrap())
                .name("post /orders")
                .kind(Kind::Server)
                .timestamp(now - 10_000 + i)
                .duration(50 * i)
                .local_endpoint(Endpoint::service("orders").with_ip("10.0.0.1"))
                .build()
        })
        .collect()
}

fn args(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

async fn post(app: &Running, content_type: &str, body: Vec<u8>) -> u16 {
    reqwest::Client::new()
        .post(app.url("/api/v2/spans"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST /api/v2/spans")
        .status()
        .as_u16()
}

/// A POST to a front-end is answered 202 once Kafka has it, and lands in the ingester's
/// store; the front-end stores nothing itself. Messages hold one trace each, keyed by the
/// trace id, so a trace's spans share a partition.
async fn forwarding_tier_round_trips_a_post_through_kafka_into_the_store(broker: &dyn Broker) {
    let (topic, group) = (unique("zipkin"), unique("group"));
    broker.create_topic(&topic, 4);
    let bootstrap = broker.bootstrap();
    let front_store = memory_store();
    let front = Running::start(
        &[
            "--kafka-bootstrap-servers",
            &bootstrap,
            "--kafka-topic",
            &topic,
            "--collector-forward",
            "kafka",
            "--collector-kafka-enabled",
            "false",
        ],
        front_store.clone(),
    )
    .await;
    let store = memory_store();
    let mut flags = kafka_args(&bootstrap, &topic, &group);
    flags.extend(["--collector-http-enabled".to_owned(), "false".to_owned()]);
    let ingester = Running::start(&args(&flags), store.clone()).await;

    // Three traces interleaved in one JSON body, a fourth as proto3.
    let traces: Vec<Vec<Span>> = (0..4).map(|_| trace(3)).collect();
    let mut mixed: Vec<Span> = Vec::new();
    for i in 0..3 {
        for t in &traces[..3] {
            mixed.push(t[i].clone());
        }
    }
    let mut json = Vec::new();
    json_v2::encode_spans(&mixed, &mut json);
    assert_eq!(post(&front, "application/json", json).await, 202);
    assert_eq!(
        post(
            &front,
            "application/x-protobuf",
            proto3::encode_list(&traces[3])
        )
        .await,
        202
    );

    for t in &traces {
        let id = t[0].trace_id;
        let stored = eventually!(format!("trace {id} stored ({})", broker.name()), {
            let stored = store.get_trace(id).await.unwrap();
            (stored.len() == 3).then_some(stored)
        });
        let mut stored = stored;
        stored.sort_by_key(|s| s.id.get());
        assert_eq!(&stored, t);
        assert!(front_store.get_trace(id).await.unwrap().is_empty());
    }
    let (status, health) = front.health().await;
    assert_eq!(status, 200, "{health}");
    assert!(health.to_string().contains("KafkaForwarder{"), "{health}");

    let published = read_topic(&bootstrap, &topic, 4).await;
    for message in &published {
        let spans = detect::decode_message(&message.payload).expect("proto3 list");
        let low = spans[0].trace_id.low();
        assert!(
            spans.iter().all(|s| s.trace_id.low() == low),
            "one trace per message"
        );
        let key = String::from_utf8(message.key.clone().expect("keyed")).unwrap();
        assert_eq!(key, format!("{low:016x}"));
    }
    assert_eq!(ingester.kafka().messages, 4);
    assert_eq!(ingester.kafka().spans, 12);
    ingester.stop().await;
    front.stop().await;
}

/// No acknowledgement, no 202: with Kafka unreachable the front-end answers 503 so the
/// sender retries, and `/health` is DOWN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_answers_503_when_kafka_does_not_acknowledge() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bootstrap = format!("127.0.0.1:{port}");
    let front = Running::start(
        &[
            "--kafka-bootstrap-servers",
            &bootstrap,
            "--collector-forward",
            "kafka",
            "--collector-kafka-enabled",
            "false",
            "--kafka-property",
            "message.timeout.ms=1000",
        ],
        memory_store(),
    )
    .await;
    let mut json = Vec::new();
    json_v2::encode_spans(&trace(2), &mut json);
    assert_eq!(post(&front, "application/json", json).await, 503);
    let http = front
        .metrics
        .transport(zipwire::collector::Transport::Http)
        .snapshot();
    assert_eq!((http.messages, http.spans, http.spans_dropped), (1, 2, 2));
    let (status, _) = front.health().await;
    assert_eq!(status, 503);
    front.stop().await;
}
