//! Wiring: builds the store, the collector and the router from a [`Config`], binds the
//! listener, and serves until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api::{self, AdminState, ApiState, QuerySettings};
use crate::collector::grpc::GrpcCollector;
use crate::collector::http::HttpCollector;
use crate::collector::{self, Collector, CollectorMetrics, Transport};
use crate::config::Config;
use crate::storage::memory::MemoryStore;
use crate::storage::{SpanStore, StorageOptions};
use crate::ui::{self, UiConfig};

/// A bound, ready-to-serve Zipwire.
pub struct App {
    listener: TcpListener,
    router: Router,
    store: Arc<dyn SpanStore>,
}

impl App {
    /// Creates the configured store and binds `QUERY_PORT` (0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = build_store(&config).await?;
        Self::with_store(config, store).await
    }

    /// Like [`App::build`] with a given store (tests use this to inject failures).
    pub async fn with_store(config: Config, store: Arc<dyn SpanStore>) -> anyhow::Result<Self> {
        let metrics = Arc::new(CollectorMetrics::default());
        let router = router(&config, store.clone(), metrics);
        let addr = SocketAddr::new(config.query_bind_address, config.query_port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (QUERY_PORT)"))?;
        Ok(Self {
            listener,
            router,
            store,
        })
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn store(&self) -> Arc<dyn SpanStore> {
        self.store.clone()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("http server failed")
    }

    /// Serves until SIGTERM or SIGINT.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

async fn build_store(config: &Config) -> anyhow::Result<Arc<dyn SpanStore>> {
    let options = StorageOptions {
        strict_trace_id: config.strict_trace_id,
        search_enabled: config.search_enabled,
        autocomplete_keys: config.autocomplete_keys.clone(),
    };
    match config.storage_type.as_str() {
        "mem" => Ok(Arc::new(MemoryStore::new(
            options,
            config.mem_max_spans as usize,
        ))),
        other => anyhow::bail!("STORAGE_TYPE={other} is not supported by this build"),
    }
}

/// The whole HTTP surface for a configuration; pure, so tests can drive it with `oneshot`.
pub fn router(
    config: &Config,
    store: Arc<dyn SpanStore>,
    metrics: Arc<CollectorMetrics>,
) -> Router {
    let mut app = Router::new();

    let collector = Arc::new(Collector::new(
        store.clone(),
        config.collector_sample_rate,
        metrics.clone(),
    ));
    if config.collector_grpc_enabled {
        app = app.merge(collector::grpc::router(GrpcCollector {
            collector: collector.clone(),
            max_body_size: config.collector_max_body_size,
            max_decompressed_size: config.collector_max_decompressed_size,
        }));
    }
    if config.http_collector_enabled() {
        app = app.merge(collector::http::router(HttpCollector {
            collector,
            max_body_size: config.collector_max_body_size,
            max_decompressed_size: config.collector_max_decompressed_size,
        }));
    } else {
        app = app.merge(collector::http::disabled_router());
    }

    if config.query_enabled {
        let mut autocomplete_keys = config.autocomplete_keys.clone();
        autocomplete_keys.sort_unstable();
        autocomplete_keys.dedup();
        let timeout = (!config.query_timeout.is_zero()).then_some(config.query_timeout);
        app = app.merge(api::query_router(ApiState {
            store: store.clone(),
            settings: Arc::new(QuerySettings {
                default_lookback: config.query_lookback,
                timeout,
                names_max_age: config.query_names_max_age,
                autocomplete_keys,
            }),
            service_count: Arc::new(AtomicUsize::new(0)),
        }));
    }

    if config.ui_enabled() {
        app = app.merge(ui::router(UiConfig {
            base_path: "/zipkin".into(),
            default_lookback_ms: 15 * 60 * 1000,
            query_limit: 10,
            search_enabled: config.search_enabled,
            dependency_enabled: true,
            environment: String::new(),
        }));
    }

    app = app.merge(api::admin_router(AdminState {
        store,
        metrics,
        transports: vec![Transport::Http, Transport::Grpc],
    }));

    app.layer(cors_layer(&config.allowed_origins))
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(2048))),
        )
        .layer(middleware::from_fn(reject_trace_method))
}

/// Zipkin blocks the TRACE method everywhere (cross-site tracing, openzipkin/zipkin#2286).
async fn reject_trace_method(request: Request, next: Next) -> Response {
    if request.method() == Method::TRACE {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    next.run(request).await
}

/// CORS as Zipkin configures it: `*` by default (no `Vary`), or an explicit origin list.
fn cors_layer(origins: &[String]) -> CorsLayer {
    let any = origins.is_empty() || origins.iter().any(|o| o == "*");
    let (allow_origin, vary) = if any {
        // The answer is the same for every origin, so caches need no Vary (Zipkin sends none).
        (AllowOrigin::any(), vec![])
    } else {
        let list = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok());
        (AllowOrigin::list(list), vec![header::ORIGIN])
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .vary(vary)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            HeaderName::from_static("content-type"),
            HeaderName::from_static("x-grpc-web"),
        ])
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("armeria.grpc.throwableproto-bin"),
        ])
}

/// Completes on SIGTERM (container stop) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}
