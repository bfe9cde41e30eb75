//! Self-tracing (`SELF_TRACING_ENABLED`): Zipwire traces its own `/api` requests and the
//! storage calls they make with the OpenTelemetry SDK, and stores the spans in itself as
//! service `zipwire`, so the UI shows where a slow query spent its time. With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set they go to that OTLP/HTTP endpoint instead.
//!
//! The pipeline: the SDK hands each finished, sampled span to [`QueueProcessor`], which
//! only enqueues it (never blocking a request); one task drains the queue in batches and
//! writes them to the *undecorated* store (or the OTLP exporter). Storing self-spans is
//! therefore never traced itself, and a full queue drops spans rather than slowing the
//! server down.
//!
//! Sampling follows Zipkin's `SELF_TRACING_*` settings: a sample rate below 1.0 keeps
//! that fraction of traces; at 1.0, `SELF_TRACING_TRACES_PER_SECOND` (default 1, 0 for no
//! limit) caps how many traces start per second.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Link, SamplingDecision, SamplingResult, SpanKind, Status, TraceContextExt,
    TraceId as OtelTraceId, TraceState, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{SpanExporter as OtlpExporter, WithExportConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SdkTracer, SdkTracerProvider, ShouldSample, SpanData, SpanExporter as _, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use parking_lot::Mutex;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::metrics::SelfTracingCounters;
use crate::model::{Endpoint, Kind, Span, SpanId, TraceId};
use crate::storage::SpanStore;

/// The service name self-traces are stored under.
pub const SERVICE_NAME: &str = "zipwire";

/// Spans waiting to be stored; past this, new spans are dropped (and counted).
const QUEUE_CAPACITY: usize = 8_192;

/// Most spans written in one storage call.
const MAX_BATCH: usize = 512;

/// Settings of the self-tracing pipeline (from `SELF_TRACING_*` and
/// `OTEL_EXPORTER_OTLP_ENDPOINT`).
#[derive(Debug, Clone)]
pub struct SelfTracingSettings {
    pub sample_rate: f64,
    pub traces_per_second: u32,
    /// Base URL of an OTLP/HTTP receiver; `/v1/traces` is appended as the OTLP spec says.
    pub otlp_endpoint: Option<String>,
}

#[derive(Debug, Error)]
pub enum SelfTracingError {
    #[error("OTEL_EXPORTER_OTLP_ENDPOINT: {0}")]
    Otlp(String),
}

/// A running self-tracing pipeline. [`SelfTracing::shutdown`] stores what is queued.
pub struct SelfTracing {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    stop: CancellationToken,
    pump: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for SelfTracing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfTracing").finish_non_exhaustive()
    }
}

impl SelfTracing {
    /// Starts the pipeline, writing spans to `store` (the undecorated store) unless an
    /// OTLP endpoint is configured. Must run inside a Tokio runtime.
    pub fn start(
        settings: &SelfTracingSettings,
        store: Arc<dyn SpanStore>,
        counters: SelfTracingCounters,
    ) -> Result<Self, SelfTracingError> {
        let sink = match &settings.otlp_endpoint {
            Some(base) => Sink::Otlp(Box::new(otlp_exporter(base)?)),
            None => Sink::Store(store),
        };
        let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
        let provider = SdkTracerProvider::builder()
            .with_sampler(SelfSampler::new(
                settings.sample_rate,
                settings.traces_per_second,
            ))
            .with_span_processor(QueueProcessor {
                queue,
                dropped: counters.spans_dropped.clone(),
            })
            .with_resource(
                Resource::builder_empty()
                    .with_service_name(SERVICE_NAME)
                    .build(),
            )
            .build();
        let tracer = provider.tracer(SERVICE_NAME);
        let stop = CancellationToken::new();
        let pump = tokio::spawn(pump(rx, sink, counters, stop.clone()));
        Ok(Self {
            provider,
            tracer,
            stop,
            pump,
        })
    }

    pub fn tracer(&self) -> SdkTracer {
        self.tracer.clone()
    }

    /// Stores (or exports) every span queued so far and stops. Call after the server has
    /// finished its requests, so their spans are complete.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.pump.await;
        // Nothing is buffered in the SDK (the processor only enqueues); this just marks
        // the provider shut down so late spans are not recorded.
        let _ = self.provider.shutdown();
    }
}

fn otlp_exporter(base: &str) -> Result<OtlpExporter, SelfTracingError> {
    let url = format!("{}/v1/traces", base.trim_end_matches('/'));
    let mut exporter = OtlpExporter::builder()
        .with_http()
        .with_endpoint(url)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| SelfTracingError::Otlp(e.to_string()))?;
    exporter.set_resource(
        &Resource::builder_empty()
            .with_service_name(SERVICE_NAME)
            .build(),
    );
    Ok(exporter)
}

/// Where batches go.
enum Sink {
    Store(Arc<dyn SpanStore>),
    Otlp(Box<OtlpExporter>),
}

impl Sink {
    async fn report(&self, batch: Vec<SpanData>, counters: &SelfTracingCounters) {
        let n = batch.len() as u64;
        let result = match self {
            Sink::Store(store) => {
                let spans: Vec<Span> = batch.iter().filter_map(to_zipkin).collect();
                store.accept(spans).await.map_err(|e| e.to_string())
            }
            Sink::Otlp(exporter) => exporter.export(batch).await.map_err(|e| e.to_string()),
        };
        match result {
            Ok(()) => {
                counters.spans_reported.inc_by(n);
            }
            Err(error) => {
                counters.spans_dropped.inc_by(n);
                // Losing self-traces is not data loss for users: a warning, not an error.
                tracing::warn!(spans = n, %error, "cannot report self-tracing spans");
            }
        }
    }
}

/// Drains the queue in batches until `stop`, then reports what is left.
async fn pump(
    mut rx: mpsc::Receiver<SpanData>,
    sink: Sink,
    counters: SelfTracingCounters,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let last = tokio::select! {
            n = rx.recv_many(&mut batch, MAX_BATCH) => n == 0,
            _ = stop.cancelled() => {
                rx.close();
                while let Ok(span) = rx.try_recv() {
                    batch.push(span);
                }
                true
            }
        };
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(MAX_BATCH));
            sink.report(std::mem::replace(&mut batch, rest), &counters)
                .await;
        }
        if last {
            return;
        }
    }
}

/// Hands finished spans to the pump without blocking the request that ended them.
#[derive(Debug)]
struct QueueProcessor {
    queue: mpsc::Sender<SpanData>,
    dropped: prometheus_client::metrics::counter::Counter,
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if span.span_context.is_sampled() && self.queue.try_send(span).is_err() {
            self.dropped.inc();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Zipkin's self-tracing sampler: children follow their parent; a new trace is kept by
/// trace id ratio when the rate is below 1.0, else by a per-second budget.
#[derive(Debug, Clone)]
struct SelfSampler {
    ratio: Option<Sampler>,
    limiter: Option<Arc<RateLimiter>>,
}

impl SelfSampler {
    fn new(rate: f64, traces_per_second: u32) -> Self {
        if rate < 1.0 {
            Self {
                ratio: Some(Sampler::TraceIdRatioBased(rate)),
                limiter: None,
            }
        } else {
            Self {
                ratio: None,
                limiter: (traces_per_second > 0)
                    .then(|| Arc::new(RateLimiter::new(traces_per_second))),
            }
        }
    }
}

impl ShouldSample for SelfSampler {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        trace_id: OtelTraceId,
        name: &str,
        kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        if let Some(parent) = parent.filter(|cx| cx.has_active_span()) {
            let span = parent.span();
            let context = span.span_context();
            return SamplingResult {
                decision: if context.is_sampled() {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                },
                attributes: Vec::new(),
                trace_state: context.trace_state().clone(),
            };
        }
        if let Some(ratio) = &self.ratio {
            return ratio.should_sample(parent, trace_id, name, kind, attributes, links);
        }
        let keep = self.limiter.as_ref().is_none_or(|l| l.try_acquire());
        SamplingResult {
            decision: if keep {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: TraceState::default(),
        }
    }
}

/// At most `per_second` acquisitions in each one-second window.
#[derive(Debug)]
struct RateLimiter {
    per_second: u32,
    window: Mutex<(Instant, u32)>,
}

impl RateLimiter {
    fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    fn try_acquire(&self) -> bool {
        let mut window = self.window.lock();
        if window.0.elapsed() >= Duration::from_secs(1) {
            *window = (Instant::now(), 0);
        }
        if window.1 < self.per_second {
            window.1 += 1;
            true
        } else {
            false
        }
    }
}

/// An OpenTelemetry span as a Zipkin span of service `zipwire`. Attributes become tags;
/// an error status becomes the `error` tag, as Zipkin's UI expects.
pub fn to_zipkin(span: &SpanData) -> Option<Span> {
    let trace_id = TraceId::from_be_bytes(&span.span_context.trace_id().to_bytes()).ok()?;
    let id = SpanId::new(u64::from_be_bytes(span.span_context.span_id().to_bytes()))?;
    let start = micros_since_epoch(span.start_time);
    let end = micros_since_epoch(span.end_time);
    let mut builder = Span::builder(trace_id, id)
        .name(&span.name)
        .timestamp(start)
        .duration(end.saturating_sub(start).max(1))
        .local_endpoint(Endpoint::service(SERVICE_NAME));
    if let Some(parent) = SpanId::new(u64::from_be_bytes(span.parent_span_id.to_bytes())) {
        builder = builder.parent_id(parent);
    }
    let kind = match span.span_kind {
        SpanKind::Server => Some(Kind::Server),
        SpanKind::Client => Some(Kind::Client),
        SpanKind::Producer => Some(Kind::Producer),
        SpanKind::Consumer => Some(Kind::Consumer),
        SpanKind::Internal => None,
    };
    if let Some(kind) = kind {
        builder = builder.kind(kind);
    }
    let mut has_error_tag = false;
    for kv in &span.attributes {
        has_error_tag |= kv.key.as_str() == "error";
        builder = builder.tag(kv.key.as_str(), &kv.value.as_str());
    }
    if let Status::Error { description } = &span.status {
        if !has_error_tag {
            let message = if description.is_empty() {
                "true"
            } else {
                description
            };
            builder = builder.tag("error", message);
        }
    }
    for event in span.events.iter() {
        builder = builder.annotation(micros_since_epoch(event.timestamp), &event.name);
    }
    Some(builder.build())
}

fn micros_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId as OtelSpanId, TraceFlags};
    use opentelemetry::InstrumentationScope;

    fn span_data(parent: u64, kind: SpanKind, status: Status) -> SpanData {
        let start = UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_000);
        SpanData {
            span_context: SpanContext::new(
                OtelTraceId::from_bytes([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]),
                OtelSpanId::from_bytes(3u64.to_be_bytes()),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: OtelSpanId::from_bytes(parent.to_be_bytes()),
            parent_span_is_remote: false,
            span_kind: kind,
            name: "GET /api/v2/services".into(),
            start_time: start,
            end_time: start + Duration::from_micros(1_500),
            attributes: vec![KeyValue::new("http.path", "/api/v2/services")],
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status,
            instrumentation_scope: InstrumentationScope::builder("zipwire").build(),
        }
    }

    #[test]
    fn otel_spans_become_zipkin_spans_of_service_zipwire() {
        let span = to_zipkin(&span_data(0, SpanKind::Server, Status::Unset)).unwrap();

        assert_eq!(
            span.trace_id.to_hex().as_str(),
            "00000000000000010000000000000002"
        );
        assert_eq!(span.id.get(), 3);
        assert_eq!(span.parent_id, None, "an all-zero parent is a root");
        assert_eq!(span.kind, Some(Kind::Server));
        assert_eq!(span.name.as_deref(), Some("get /api/v2/services"));
        assert_eq!(span.timestamp, Some(1_700_000_000_000_000));
        assert_eq!(span.duration, Some(1_500));
        assert_eq!(span.local_service_name(), Some("zipwire"));
        assert_eq!(span.tag("http.path"), Some("/api/v2/services"));
        assert_eq!(span.tag("error"), None);
    }

    #[test]
    fn errors_and_parents_are_kept() {
        let span = to_zipkin(&span_data(
            9,
            SpanKind::Internal,
            Status::error("storage unavailable: down"),
        ))
        .unwrap();

        assert_eq!(span.parent_id.map(SpanId::get), Some(9));
        assert_eq!(span.kind, None, "internal spans are local spans in Zipkin");
        assert_eq!(span.tag("error"), Some("storage unavailable: down"));
    }

    #[test]
    fn the_rate_limiter_allows_the_budget_then_refuses() {
        let limiter = RateLimiter::new(2);
        assert!(limiter.try_acquire());
        assert!(limiter.try_acquire());
        assert!(!limiter.try_acquire());
    }

    #[test]
    fn sampling_follows_zipkin_settings() {
        let never = SelfSampler::new(0.0, 1);
        let root = never.should_sample(
            None,
            OtelTraceId::from(5u128),
            "x",
            &SpanKind::Server,
            &[],
            &[],
        );
        assert_eq!(root.decision, SamplingDecision::Drop);

        let unlimited = SelfSampler::new(1.0, 0);
        for _ in 0..100 {
            let d = unlimited.should_sample(
                None,
                OtelTraceId::from(5u128),
                "x",
                &SpanKind::Server,
                &[],
                &[],
            );
            assert_eq!(d.decision, SamplingDecision::RecordAndSample);
        }

        let one_per_second = SelfSampler::new(1.0, 1);
        let first = one_per_second.should_sample(
            None,
            OtelTraceId::from(5u128),
            "x",
            &SpanKind::Server,
            &[],
            &[],
        );
        let second = one_per_second.should_sample(
            None,
            OtelTraceId::from(6u128),
            "x",
            &SpanKind::Server,
            &[],
            &[],
        );
        assert_eq!(first.decision, SamplingDecision::RecordAndSample);
        assert_eq!(second.decision, SamplingDecision::Drop);
    }
}
