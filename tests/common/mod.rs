//! Shared helpers for integration tests: building apps, stores that fail on purpose,
//! and small span fixtures.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, Response};
use axum::Router;
use clap::Parser;
use http_body_util::BodyExt;
use tower::ServiceExt;
use zipwire::collector::CollectorMetrics;
use zipwire::config::Config;
use zipwire::model::{DependencyLink, Endpoint, Kind, QueryRequest, Span, SpanId, TraceId};
use zipwire::storage::memory::MemoryStore;
use zipwire::storage::{SpanStore, StorageError, StorageOptions};

/// A configuration from flags only (port 0), as `zipwire <args>` would parse it.
pub fn config(args: &[&str]) -> Config {
    let mut argv = vec!["zipwire", "--query-port", "0"];
    argv.extend_from_slice(args);
    Config::try_parse_from(argv).expect("valid test flags")
}

pub fn memory_store() -> Arc<dyn SpanStore> {
    Arc::new(MemoryStore::new(StorageOptions::default(), 500_000))
}

/// A router over a fresh memory store, plus the store and the collector metrics.
pub fn app(args: &[&str]) -> (Router, Arc<dyn SpanStore>, Arc<CollectorMetrics>) {
    let config = config(args);
    let options = StorageOptions {
        strict_trace_id: config.strict_trace_id,
        search_enabled: config.search_enabled,
        autocomplete_keys: config.autocomplete_keys.clone(),
    };
    let store: Arc<dyn SpanStore> =
        Arc::new(MemoryStore::new(options, config.mem_max_spans as usize));
    let metrics = Arc::new(CollectorMetrics::default());
    let router = zipwire::app::router(&config, store.clone(), metrics.clone());
    (router, store, metrics)
}

pub fn app_with_store(args: &[&str], store: Arc<dyn SpanStore>) -> Router {
    zipwire::app::router(&config(args), store, Arc::new(CollectorMetrics::default()))
}

/// A response with its body read.
pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response: Response<Body> = router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible router");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub async fn get(router: &Router, uri: &str) -> Reply {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

pub async fn post(router: &Router, uri: &str, content_type: &str, body: impl Into<Body>) -> Reply {
    let request = Request::post(uri)
        .header("content-type", content_type)
        .body(body.into())
        .unwrap();
    send(router, request).await
}

pub fn trace_id(hex: &str) -> TraceId {
    TraceId::parse(hex).unwrap()
}

pub fn span_id(hex: &str) -> SpanId {
    SpanId::parse(hex).unwrap()
}

/// Epoch microseconds of "now", for fixtures that must fall in default lookbacks.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// A CLIENT span frontend → backend, timestamped now.
pub fn client_span(trace: &str, id: &str, service: &str) -> Span {
    Span::builder(trace_id(trace), span_id(id))
        .kind(Kind::Client)
        .name("get /foo")
        .timestamp(now_micros() - 1_000)
        .duration(200)
        .local_endpoint(Endpoint::service(service).with_ip("127.0.0.1"))
        .remote_endpoint(
            Endpoint::service("backend")
                .with_ip("192.168.99.101")
                .with_port(9000),
        )
        .tag("http.method", "GET")
        .tag("http.path", "/foo")
        .build()
}

/// Wraps a store; fails (or stalls) its calls while `failures` is positive.
pub struct FlakyStore {
    pub inner: Arc<dyn SpanStore>,
    pub failures: AtomicUsize,
    pub delay: Option<Duration>,
}

impl FlakyStore {
    pub fn failing(times: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: memory_store(),
            failures: AtomicUsize::new(times),
            delay: None,
        })
    }
    pub fn slow(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            inner: memory_store(),
            failures: AtomicUsize::new(0),
            delay: Some(delay),
        })
    }
    async fn gate(&self) -> Result<(), StorageError> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let left = self.failures.load(Ordering::SeqCst);
        if left > 0 {
            self.failures.store(left - 1, Ordering::SeqCst);
            return Err(StorageError::Unavailable("connection refused".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl SpanStore for FlakyStore {
    async fn accept(&self, spans: Vec<Span>) -> Result<(), StorageError> {
        self.gate().await?;
        self.inner.accept(spans).await
    }
    async fn get_traces(&self, r: &QueryRequest) -> Result<Vec<Vec<Span>>, StorageError> {
        self.gate().await?;
        self.inner.get_traces(r).await
    }
    async fn get_trace(&self, id: TraceId) -> Result<Vec<Span>, StorageError> {
        self.gate().await?;
        self.inner.get_trace(id).await
    }
    async fn get_traces_by_ids(&self, ids: &[TraceId]) -> Result<Vec<Vec<Span>>, StorageError> {
        self.gate().await?;
        self.inner.get_traces_by_ids(ids).await
    }
    async fn get_service_names(&self) -> Result<Vec<String>, StorageError> {
        self.gate().await?;
        self.inner.get_service_names().await
    }
    async fn get_remote_service_names(&self, s: &str) -> Result<Vec<String>, StorageError> {
        self.gate().await?;
        self.inner.get_remote_service_names(s).await
    }
    async fn get_span_names(&self, s: &str) -> Result<Vec<String>, StorageError> {
        self.gate().await?;
        self.inner.get_span_names(s).await
    }
    async fn get_dependencies(&self, e: i64, l: i64) -> Result<Vec<DependencyLink>, StorageError> {
        self.gate().await?;
        self.inner.get_dependencies(e, l).await
    }
    async fn get_autocomplete_keys(&self) -> Result<Vec<String>, StorageError> {
        self.gate().await?;
        self.inner.get_autocomplete_keys().await
    }
    async fn get_autocomplete_values(&self, k: &str) -> Result<Vec<String>, StorageError> {
        self.gate().await?;
        self.inner.get_autocomplete_values(k).await
    }
    async fn check(&self) -> Result<(), StorageError> {
        self.gate().await
    }
    fn name(&self) -> String {
        "FlakyStore{}".into()
    }
}
