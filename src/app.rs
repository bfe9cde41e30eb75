//! Wiring: builds the store, the collector and the router from a [`Config`], binds the
//! listener, and serves until shutdown.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api::{self, AdminState, ApiState, QuerySettings};
use crate::collector::grpc::GrpcCollector;
use crate::collector::http::HttpCollector;
use crate::collector::kafka::Kafka;
use crate::collector::{self, Collector, CollectorMetrics, Transport};
use crate::config::Config;
use crate::storage::memory::MemoryStore;
use crate::storage::postgres::PostgresStore;
use crate::storage::{SpanStore, StorageOptions};
use crate::telemetry::{self, SelfTracing, SelfTracingSettings, Telemetry};
use crate::ui::{self, UiConfig};

/// A bound, ready-to-serve Zipwire.
pub struct App {
    listener: TcpListener,
    router: Router,
    store: Arc<dyn SpanStore>,
    /// Whether `store` was built here (and so is closed at shutdown); an injected store
    /// belongs to the caller.
    owns_store: bool,
    telemetry: Telemetry,
    self_tracing: Option<SelfTracing>,
    shutdown_timeout: Duration,
    /// Cancelled once the last request has finished: background work (PostgreSQL
    /// maintenance; broker consumers, which commit the offsets of what was stored) stops.
    background: CancellationToken,
    /// Background tasks awaited at shutdown, within `SHUTDOWN_TIMEOUT`.
    tasks: TaskTracker,
}

impl App {
    /// Creates the configured store and binds `QUERY_PORT` (0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let background = CancellationToken::new();
        let tasks = TaskTracker::new();
        let store = build_store(&config, &background, &tasks).await?;
        let mut app = Self::assemble(config, store, background, tasks).await?;
        app.owns_store = true;
        Ok(app)
    }

    /// Like [`App::build`] with a given store (tests use this to inject failures). The
    /// store is not closed at shutdown: it belongs to the caller.
    pub async fn with_store(config: Config, store: Arc<dyn SpanStore>) -> anyhow::Result<Self> {
        Self::assemble(config, store, CancellationToken::new(), TaskTracker::new()).await
    }

    async fn assemble(
        config: Config,
        store: Arc<dyn SpanStore>,
        background: CancellationToken,
        tasks: TaskTracker,
    ) -> anyhow::Result<Self> {
        let mut telemetry = Telemetry::new(Arc::new(CollectorMetrics::default()));
        let self_tracing = if config.self_tracing_enabled {
            let settings = SelfTracingSettings {
                sample_rate: config.self_tracing_sample_rate,
                traces_per_second: config.self_tracing_traces_per_second,
                otlp_endpoint: config.otel_exporter_otlp_endpoint.clone(),
            };
            // The undecorated store: writing self-spans must not be traced itself.
            let self_tracing = SelfTracing::start(
                &settings,
                store.clone(),
                telemetry.metrics.self_tracing().clone(),
            )?;
            telemetry = telemetry.with_tracer(self_tracing.tracer());
            Some(self_tracing)
        } else {
            None
        };
        let addr = SocketAddr::new(config.query_bind_address, config.query_port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (QUERY_PORT)"))?;
        // Kafka consumers run on `tasks` and stop on `background`, committing the
        // offsets of what they stored; the forwarder replaces storage for HTTP and gRPC.
        let lag_metrics = telemetry.metrics.clone();
        let kafka = Kafka::start(
            &config,
            telemetry.instrument(store.clone()),
            telemetry.metrics.collector().clone(),
            Some(Arc::new(move |topic: &str, partition: i32, lag: i64| {
                lag_metrics.kafka_consumer_lag(topic, partition).set(lag);
            })),
            background.child_token(),
            &tasks,
        )?;
        let router = router_with_kafka(&config, store.clone(), &telemetry, kafka.as_ref());
        Ok(Self {
            listener,
            router,
            store,
            owns_store: false,
            telemetry,
            self_tracing,
            shutdown_timeout: config.shutdown_timeout,
            background,
            tasks,
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

    /// The metric families and tracer the router records into.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Serves until `shutdown` completes, then shuts down gracefully within
    /// `SHUTDOWN_TIMEOUT`: stops accepting connections, lets in-flight requests finish
    /// (every 202 already means "stored"), stores queued self-traces, stops background
    /// tasks and closes the store. Past the deadline it returns anyway (with a warning),
    /// so the process exits in bounded time.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let timeout = self.shutdown_timeout;
        let (deadline_tx, mut deadline_rx) = watch::channel(None::<Instant>);
        let signal = async move {
            shutdown.await;
            let _ = deadline_tx.send(Some(Instant::now() + timeout));
            tracing::info!(timeout = ?timeout, "shutting down: no new connections, finishing in-flight requests");
        };
        let server = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(signal)
            .into_future();
        let deadline_passed = async {
            // Copied out at once: the watch guard is not Send and must not live across
            // the `.await` below (tests spawn `run_until`).
            let changed = deadline_rx.wait_for(Option::is_some).await.map(|d| *d);
            let deadline = match changed {
                Ok(deadline) => deadline.unwrap_or_else(Instant::now),
                // The server ended without a signal; it is returning, nothing to time.
                Err(_) => return std::future::pending().await,
            };
            tokio::time::sleep_until(deadline).await;
        };
        tokio::select! {
            result = server => result.context("http server failed")?,
            () = deadline_passed => tracing::warn!(
                "in-flight requests did not finish within SHUTDOWN_TIMEOUT; abandoning them"
            ),
        }
        let deadline = deadline_rx
            .borrow()
            .unwrap_or_else(|| Instant::now() + timeout);

        let (store, owns_store) = (self.store, self.owns_store);
        let (background, tasks) = (self.background, self.tasks);
        let self_tracing = self.self_tracing;
        let flush = async move {
            if let Some(self_tracing) = self_tracing {
                self_tracing.shutdown().await;
            }
            background.cancel();
            tasks.close();
            tasks.wait().await;
            if owns_store {
                store.close().await
            } else {
                Ok(())
            }
        };
        match tokio::time::timeout_at(deadline, flush).await {
            Ok(Ok(())) => tracing::info!("shutdown complete"),
            Ok(Err(error)) => tracing::error!(%error, "closing the store failed"),
            Err(_) => tracing::warn!("flushing did not finish within SHUTDOWN_TIMEOUT"),
        }
        Ok(())
    }

    /// Serves until SIGTERM or SIGINT.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

async fn build_store(
    config: &Config,
    background: &CancellationToken,
    tasks: &TaskTracker,
) -> anyhow::Result<Arc<dyn SpanStore>> {
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
        "postgres" => {
            let pg = config.postgres()?;
            let store = PostgresStore::connect(pg, options)
                .await
                .context("cannot open the PostgreSQL store (STORAGE_TYPE=postgres)")?;
            let maintenance = store.start_background(background.child_token());
            tasks.spawn(async move {
                let _ = maintenance.await;
            });
            Ok(Arc::new(store))
        }
        other => anyhow::bail!("STORAGE_TYPE={other} is not supported by this build"),
    }
}

/// The whole HTTP surface for a configuration; pure, so tests can drive it with `oneshot`.
pub fn router(
    config: &Config,
    store: Arc<dyn SpanStore>,
    metrics: Arc<CollectorMetrics>,
) -> Router {
    router_with_telemetry(config, store, &Telemetry::new(metrics))
}

/// [`router`] recording into given telemetry (metric families, self-tracing tracer).
pub fn router_with_telemetry(
    config: &Config,
    store: Arc<dyn SpanStore>,
    telemetry: &Telemetry,
) -> Router {
    router_with_kafka(config, store, telemetry, None)
}

/// [`router_with_telemetry`] with the Kafka side: the forwarder takes the place of storage
/// for the HTTP and gRPC collectors; consumers add a `/health` component and the `kafka`
/// transport to `/metrics`.
pub fn router_with_kafka(
    config: &Config,
    store: Arc<dyn SpanStore>,
    telemetry: &Telemetry,
    kafka: Option<&Kafka>,
) -> Router {
    let metrics = telemetry.metrics.collector().clone();
    let store = telemetry.instrument(store);
    let mut app = Router::new();

    let collector = Arc::new(match kafka.and_then(Kafka::forwarder) {
        Some(forwarder) => Collector::forwarding(
            forwarder.clone(),
            config.collector_sample_rate,
            metrics.clone(),
        ),
        None => Collector::new(store.clone(), config.collector_sample_rate, metrics.clone()),
    });
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
        let state = ApiState {
            store: store.clone(),
            settings: Arc::new(QuerySettings {
                default_lookback: config.query_lookback,
                timeout,
                names_max_age: config.query_names_max_age,
                autocomplete_keys,
            }),
            service_count: Arc::new(AtomicUsize::new(0)),
        };
        // The UI calls the API relative to its base path, so the API is mounted there too.
        let ui_base = config.ui_enabled().then_some(config.ui_basepath.as_str());
        app = app.merge(api::query_router(state, ui_base));
    }

    if config.ui_enabled() {
        app = app.merge(ui::router(UiConfig {
            base_path: config.ui_basepath.clone(),
            default_lookback_ms: config.ui_default_lookback,
            query_limit: config.ui_query_limit as usize,
            search_enabled: config.search_enabled,
            dependency_enabled: config.ui_dependency_enabled,
            environment: config.ui_environment.clone(),
            logs_url: config.ui_logs_url.clone(),
            support_url: config.ui_support_url.clone(),
            archive_post_url: config.ui_archive_post_url.clone(),
            archive_url: config.ui_archive_url.clone(),
            dependency_low_error_rate: config.ui_dependency_low_error_rate,
            dependency_high_error_rate: config.ui_dependency_high_error_rate,
        }));
    }

    let mut transports = vec![Transport::Http, Transport::Grpc];
    if kafka.is_some_and(Kafka::consuming) {
        transports.push(Transport::Kafka);
    }
    app = app.merge(api::admin_router(AdminState {
        store,
        metrics,
        transports: transports.clone(),
        checks: kafka.map(Kafka::health_checks).unwrap_or_default(),
    }));
    app = app.merge(telemetry.prometheus_router(transports));

    app.route_layer(middleware::from_fn(telemetry::http::remember_route))
        .layer(middleware::from_fn_with_state(
            telemetry.http().with_ui_base(&config.ui_basepath),
            telemetry::http::observe,
        ))
        .layer(cors_layer(&config.allowed_origins))
        .layer(
            // The fastest level: on a 100k-span trace the default level costs about a
            // second of server CPU for a few percent smaller responses.
            CompressionLayer::new()
                .quality(CompressionLevel::Fastest)
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
