//! One configuration tree: Zipkin's environment variable names, equivalent `--flags`,
//! defaults in code, validated at start-up with errors that name the variable.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::Parser;

use crate::storage::postgres::config::redact_url;
use crate::storage::postgres::{ConfigError as PgConfigError, PostgresConfig};

/// Zipwire, a Zipkin-compatible tracing server. Every flag can also be set with the
/// environment variable shown (Zipkin's names, so existing deployments keep working).
#[derive(Debug, Clone, Parser)]
#[command(name = "zipwire", version, about, max_term_width = 100)]
pub struct Config {
    /// Port of the HTTP API, UI and collectors.
    #[arg(long, env = "QUERY_PORT", default_value_t = 9411)]
    pub query_port: u16,

    /// Address to listen on.
    #[arg(long, env = "QUERY_BIND_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub query_bind_address: IpAddr,

    /// Storage backend: `mem` (in-memory, the default) or `postgres`.
    #[arg(long, env = "STORAGE_TYPE", default_value = "mem", value_parser = ["mem", "postgres"])]
    pub storage_type: String,

    /// PostgreSQL connection URL (`postgres://user:password@host:port/database`); wins over
    /// the --postgres-host etc. parts. DATABASE_URL is read when it is unset.
    #[arg(
        long,
        env = "POSTGRES_URL",
        hide_env_values = true,
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_url: Option<String>,

    /// Same as POSTGRES_URL (the name sqlx and many platforms use).
    #[arg(long, env = "DATABASE_URL", hide = true)]
    pub database_url: Option<String>,

    /// PostgreSQL host.
    #[arg(
        long,
        env = "POSTGRES_HOST",
        default_value = "localhost",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_host: String,

    /// PostgreSQL port.
    #[arg(
        long,
        env = "POSTGRES_TCP_PORT",
        default_value = "5432",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_tcp_port: String,

    /// PostgreSQL user (default: the driver's, the OS user).
    #[arg(
        long,
        env = "POSTGRES_USER",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_user: Option<String>,

    /// PostgreSQL password; never logged. Prefer the variable: flags are visible to other
    /// users of the host.
    #[arg(
        long,
        env = "POSTGRES_PASS",
        hide_env_values = true,
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_pass: Option<String>,

    /// PostgreSQL database.
    #[arg(
        long,
        env = "POSTGRES_DB",
        default_value = "zipkin",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_db: String,

    /// Schema holding the tables (created if missing; a lower-case identifier) instead of
    /// the first schema of the connection's search_path, so several deployments or tests
    /// can share one database.
    #[arg(
        long,
        env = "POSTGRES_SCHEMA",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_schema: Option<String>,

    /// Most connections the PostgreSQL store opens.
    #[arg(
        long,
        env = "POSTGRES_MAX_CONNECTIONS",
        default_value = "10",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_max_connections: String,

    /// Require TLS for PostgreSQL connections.
    #[arg(
        long,
        env = "POSTGRES_USE_SSL",
        default_value = "false",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_use_ssl: String,

    /// Apply the embedded schema migrations at start-up; `false` for teams that migrate
    /// separately.
    #[arg(
        long,
        env = "POSTGRES_ENSURE_SCHEMA",
        default_value = "true",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_ensure_schema: String,

    /// Drop PostgreSQL day partitions once they ended this long ago (`7d`, whole days, at
    /// least `1d`); `off` keeps everything.
    #[arg(
        long,
        env = "STORAGE_RETENTION",
        default_value = "off",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub storage_retention: String,

    /// Age (`5m`, `30s`, `1h`) at which a 5-minute slice of traces is linked into the
    /// PostgreSQL dependency aggregate; younger traces are linked on each
    /// /api/v2/dependencies request, and spans arriving older than this mark their hour
    /// for re-linking.
    #[arg(
        long,
        env = "POSTGRES_DEPENDENCY_QUIET",
        default_value = "5m",
        help_heading = "PostgreSQL storage (STORAGE_TYPE=postgres)"
    )]
    pub postgres_dependency_quiet: String,

    /// Maximum spans kept by the in-memory store; the oldest traces are evicted first.
    #[arg(long, env = "MEM_MAX_SPANS", default_value_t = 500_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub mem_max_spans: u64,

    /// When false, traces are grouped and looked up by the low 64 bits of their id, for
    /// sites mixing 64- and 128-bit trace ids.
    #[arg(long, env = "STRICT_TRACE_ID", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub strict_trace_id: bool,

    /// When false, nothing is indexed for search; lookups by trace id still work.
    #[arg(long, env = "SEARCH_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub search_enabled: bool,

    /// Comma-separated tag keys whose values are offered for autocomplete.
    // `std::vec::Vec` (not `Vec`) tells clap this is one comma-separated value, not a
    // repeated flag.
    #[arg(long, env = "AUTOCOMPLETE_KEYS", default_value = "", value_parser = parse_list)]
    pub autocomplete_keys: std::vec::Vec<String>,

    /// Default lookback of searches and dependency queries, in milliseconds.
    #[arg(long, env = "QUERY_LOOKBACK", default_value_t = 86_400_000, value_parser = clap::value_parser!(i64).range(1..))]
    pub query_lookback: i64,

    /// Timeout of each read request (`11s`, `500ms`, or milliseconds); 0 disables it.
    #[arg(long, env = "QUERY_TIMEOUT", default_value = "11s", value_parser = parse_duration)]
    pub query_timeout: Duration,

    /// Seconds that name lists may be cached by browsers (Cache-Control max-age).
    #[arg(long, env = "QUERY_NAMES_MAX_AGE", default_value_t = 300)]
    pub query_names_max_age: u32,

    /// Serve the query API (`/api/v2` reads) and the UI.
    #[arg(long, env = "QUERY_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub query_enabled: bool,

    /// Serve the web UI at /zipkin/ (defaults to QUERY_ENABLED).
    #[arg(long, env = "UI_ENABLED", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub ui_enabled: Option<bool>,

    /// Label shown in the UI header, to tell environments apart (e.g. `production`).
    #[arg(
        long,
        env = "ZIPKIN_UI_ENVIRONMENT",
        value_name = "ZIPKIN_UI_ENVIRONMENT",
        default_value = "",
        help_heading = "UI"
    )]
    pub ui_environment: String,

    /// Number of traces a UI search asks for unless the user changes it.
    #[arg(long, env = "ZIPKIN_UI_QUERY_LIMIT", value_name = "ZIPKIN_UI_QUERY_LIMIT", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..), help_heading = "UI")]
    pub ui_query_limit: u32,

    /// Lookback of a UI search unless the user changes it, in milliseconds (15 minutes).
    #[arg(long, env = "ZIPKIN_UI_DEFAULT_LOOKBACK", value_name = "ZIPKIN_UI_DEFAULT_LOOKBACK", default_value_t = 900_000, value_parser = clap::value_parser!(u64).range(1..), help_heading = "UI")]
    pub ui_default_lookback: u64,

    /// Path of the UI, written into its `<base href>` (`/` or empty: the root). The UI and
    /// the API are served there and, as Zipkin does, at /zipkin/ too, so a reverse proxy
    /// that maps this path onto /zipkin/ keeps working.
    #[arg(long, env = "ZIPKIN_UI_BASEPATH", value_name = "ZIPKIN_UI_BASEPATH", default_value = "/zipkin", value_parser = parse_base_path, help_heading = "UI")]
    pub ui_basepath: String,

    /// Logs search for a trace, linked from the trace page; `{traceId}` is replaced by
    /// the trace ID (e.g. `https://kibana/app/discover#/?_a=(query:'{traceId}')`).
    #[arg(
        long,
        env = "ZIPKIN_UI_LOGS_URL",
        value_name = "ZIPKIN_UI_LOGS_URL",
        help_heading = "UI"
    )]
    pub ui_logs_url: Option<String>,

    /// Where users ask for help, linked from the UI header.
    #[arg(
        long,
        env = "ZIPKIN_UI_SUPPORT_URL",
        value_name = "ZIPKIN_UI_SUPPORT_URL",
        help_heading = "UI"
    )]
    pub ui_support_url: Option<String>,

    /// Offers "Archive trace" on the trace page, which POSTs the trace's spans (JSON v2)
    /// here, e.g. another Zipwire or Zipkin with longer retention: `https://longterm/api/v2/spans`.
    #[arg(
        long,
        env = "ZIPKIN_UI_ARCHIVE_POST_URL",
        value_name = "ZIPKIN_UI_ARCHIVE_POST_URL",
        help_heading = "UI"
    )]
    pub ui_archive_post_url: Option<String>,

    /// Where an archived trace can be viewed, shown after archiving; `{traceId}` is
    /// replaced (e.g. `https://longterm/zipkin/traces/{traceId}`).
    #[arg(
        long,
        env = "ZIPKIN_UI_ARCHIVE_URL",
        value_name = "ZIPKIN_UI_ARCHIVE_URL",
        help_heading = "UI"
    )]
    pub ui_archive_url: Option<String>,

    /// Offer the Dependencies page.
    #[arg(long, env = "ZIPKIN_UI_DEPENDENCY_ENABLED", value_name = "ZIPKIN_UI_DEPENDENCY_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, help_heading = "UI")]
    pub ui_dependency_enabled: bool,

    /// Error rate (0.5 = 50% of calls) from which a dependency link is drawn in the
    /// warning colour; above 1 turns that colour off.
    #[arg(long, env = "ZIPKIN_UI_DEPENDENCY_LOW_ERROR_RATE", value_name = "ZIPKIN_UI_DEPENDENCY_LOW_ERROR_RATE", default_value_t = 0.5, value_parser = parse_error_rate, help_heading = "UI")]
    pub ui_dependency_low_error_rate: f64,

    /// Error rate from which a dependency link is drawn in the error colour; above 1
    /// turns that colour off.
    #[arg(long, env = "ZIPKIN_UI_DEPENDENCY_HIGH_ERROR_RATE", value_name = "ZIPKIN_UI_DEPENDENCY_HIGH_ERROR_RATE", default_value_t = 0.75, value_parser = parse_error_rate, help_heading = "UI")]
    pub ui_dependency_high_error_rate: f64,

    /// CORS origins allowed to call the API, comma-separated; `*` allows any.
    #[arg(long, env = "ZIPKIN_QUERY_ALLOWED_ORIGINS", default_value = "*", value_parser = parse_list)]
    pub allowed_origins: std::vec::Vec<String>,

    /// Accept spans on POST /api/v2/spans and /api/v1/spans (alias HTTP_COLLECTOR_ENABLED).
    #[arg(long, env = "COLLECTOR_HTTP_ENABLED", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub collector_http_enabled: Option<bool>,

    /// Accept spans over gRPC (`zipkin.proto3.SpanService/Report`) on the HTTP port.
    #[arg(long, env = "COLLECTOR_GRPC_ENABLED", default_value_t = true, value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub collector_grpc_enabled: bool,

    /// Fraction of traces to keep (0.0 to 1.0), decided by trace id so a trace is kept or
    /// dropped whole; debug spans are always kept.
    #[arg(long, env = "COLLECTOR_SAMPLE_RATE", default_value_t = 1.0, value_parser = parse_rate)]
    pub collector_sample_rate: f64,

    /// Largest accepted request body (bytes; `KiB`/`MiB` suffixes allowed); larger bodies
    /// are answered 413.
    #[arg(long, env = "COLLECTOR_MAX_BODY_SIZE", default_value = "10MiB", value_parser = parse_size)]
    pub collector_max_body_size: usize,

    /// Largest body after gzip decompression; larger ones are answered 413.
    #[arg(long, env = "COLLECTOR_MAX_DECOMPRESSED_SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub collector_max_decompressed_size: usize,

    /// Kafka bootstrap servers (`host:port,...`); when set, spans are consumed from
    /// KAFKA_TOPIC (unless COLLECTOR_KAFKA_ENABLED=false).
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub kafka_bootstrap_servers: Option<String>,

    /// Consume spans from Kafka when KAFKA_BOOTSTRAP_SERVERS is set.
    #[arg(long, env = "COLLECTOR_KAFKA_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub collector_kafka_enabled: bool,

    /// Kafka topics to consume, comma-separated; COLLECTOR_FORWARD=kafka publishes to the
    /// first.
    #[arg(long, env = "KAFKA_TOPIC", default_value = "zipkin", value_parser = parse_list)]
    pub kafka_topic: std::vec::Vec<String>,

    /// Kafka consumer group; instances sharing it split the topic's partitions.
    #[arg(long, env = "KAFKA_GROUP_ID", default_value = "zipkin")]
    pub kafka_group_id: String,

    /// Kafka consumers in this process (each a group member).
    #[arg(long, env = "KAFKA_STREAMS", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub kafka_streams: u16,

    /// Extra librdkafka properties for every Kafka client, as `key=value,key=value`; a
    /// part without `=` continues the previous value (`bootstrap.servers=a:9092,b:9092`).
    #[arg(long, env = "KAFKA_OVERRIDES", default_value = "", value_parser = parse_kafka_overrides)]
    pub kafka_overrides: std::vec::Vec<(String, String)>,

    /// One extra librdkafka property (`key=value`); repeatable, wins over KAFKA_OVERRIDES.
    #[arg(long = "kafka-property", value_name = "KEY=VALUE", value_parser = parse_kafka_property)]
    pub kafka_properties: Vec<(String, String)>,

    /// Copy undecodable Kafka messages to this topic, with headers naming the error and
    /// the source topic, partition and offset.
    #[arg(long, env = "KAFKA_DLT_TOPIC")]
    pub kafka_dlt_topic: Option<String>,

    /// Where the HTTP and gRPC collectors send accepted spans: `store`, or `kafka` to
    /// publish them to KAFKA_TOPIC for consumer-group ingesters (202 once acknowledged).
    #[arg(long, env = "COLLECTOR_FORWARD", default_value = "store", value_parser = ["store", "kafka"])]
    pub collector_forward: String,

    /// Log format: `text` (human) or `json`.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// Log filter in `RUST_LOG` syntax (e.g. `info`, `zipwire=debug`).
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Longest wait after SIGTERM or SIGINT for in-flight requests to finish and buffered
    /// data to be flushed; the process then exits (code 0) regardless.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,

    /// Trace Zipwire's own API requests and storage calls, stored in itself as service
    /// `zipwire`.
    #[arg(long, env = "SELF_TRACING_ENABLED", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub self_tracing_enabled: bool,

    /// Fraction of API requests that self-tracing traces (0.0 to 1.0). At 1.0,
    /// SELF_TRACING_TRACES_PER_SECOND limits them instead.
    #[arg(long, env = "SELF_TRACING_SAMPLE_RATE", default_value_t = 1.0, value_parser = parse_rate)]
    pub self_tracing_sample_rate: f64,

    /// Most self-traces started per second when SELF_TRACING_SAMPLE_RATE is 1.0; 0 traces
    /// every request.
    #[arg(long, env = "SELF_TRACING_TRACES_PER_SECOND", default_value_t = 1)]
    pub self_tracing_traces_per_second: u32,

    /// Send self-traces to this OTLP/HTTP endpoint (e.g. `http://otel-collector:4318`)
    /// instead of storing them; OTEL_EXPORTER_OTLP_HEADERS adds request headers.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otel_exporter_otlp_endpoint: Option<String>,
}

/// Environment variables read by [`Config`]. Zipkin treats an empty value as unset (e.g.
/// `STORAGE_TYPE=` in a compose file means the default), so these are cleared when empty
/// before parsing.
const ENV_NAMES: &[&str] = &[
    "QUERY_PORT",
    "QUERY_BIND_ADDRESS",
    "STORAGE_TYPE",
    "POSTGRES_URL",
    "DATABASE_URL",
    "POSTGRES_HOST",
    "POSTGRES_TCP_PORT",
    "POSTGRES_USER",
    "POSTGRES_PASS",
    "POSTGRES_DB",
    "POSTGRES_SCHEMA",
    "POSTGRES_MAX_CONNECTIONS",
    "POSTGRES_USE_SSL",
    "POSTGRES_ENSURE_SCHEMA",
    "STORAGE_RETENTION",
    "POSTGRES_DEPENDENCY_QUIET",
    "MEM_MAX_SPANS",
    "STRICT_TRACE_ID",
    "SEARCH_ENABLED",
    "AUTOCOMPLETE_KEYS",
    "QUERY_LOOKBACK",
    "QUERY_TIMEOUT",
    "QUERY_NAMES_MAX_AGE",
    "QUERY_ENABLED",
    "UI_ENABLED",
    "ZIPKIN_UI_ENVIRONMENT",
    "ZIPKIN_UI_QUERY_LIMIT",
    "ZIPKIN_UI_DEFAULT_LOOKBACK",
    "ZIPKIN_UI_BASEPATH",
    "ZIPKIN_UI_LOGS_URL",
    "ZIPKIN_UI_SUPPORT_URL",
    "ZIPKIN_UI_ARCHIVE_POST_URL",
    "ZIPKIN_UI_ARCHIVE_URL",
    "ZIPKIN_UI_DEPENDENCY_ENABLED",
    "ZIPKIN_UI_DEPENDENCY_LOW_ERROR_RATE",
    "ZIPKIN_UI_DEPENDENCY_HIGH_ERROR_RATE",
    "ZIPKIN_QUERY_ALLOWED_ORIGINS",
    "COLLECTOR_HTTP_ENABLED",
    "HTTP_COLLECTOR_ENABLED",
    "COLLECTOR_GRPC_ENABLED",
    "COLLECTOR_SAMPLE_RATE",
    "COLLECTOR_MAX_BODY_SIZE",
    "COLLECTOR_MAX_DECOMPRESSED_SIZE",
    "KAFKA_BOOTSTRAP_SERVERS",
    "COLLECTOR_KAFKA_ENABLED",
    "KAFKA_TOPIC",
    "KAFKA_GROUP_ID",
    "KAFKA_STREAMS",
    "KAFKA_OVERRIDES",
    "KAFKA_DLT_TOPIC",
    "COLLECTOR_FORWARD",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "SHUTDOWN_TIMEOUT",
    "SELF_TRACING_ENABLED",
    "SELF_TRACING_SAMPLE_RATE",
    "SELF_TRACING_TRACES_PER_SECOND",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

impl Config {
    /// Reads flags and environment. Exits with clap's message (naming the flag and its
    /// variable) on invalid input, as a CLI should.
    pub fn load() -> Self {
        for name in ENV_NAMES {
            if std::env::var_os(name).is_some_and(|v| v.is_empty()) {
                std::env::remove_var(name);
            }
        }
        let mut config = Config::parse();
        if config.collector_http_enabled.is_none() {
            config.collector_http_enabled = std::env::var("HTTP_COLLECTOR_ENABLED")
                .ok()
                .and_then(|v| parse_bool(&v));
        }
        if let Err(message) = config.check_ui() {
            <Config as clap::CommandFactory>::command()
                .error(clap::error::ErrorKind::ArgumentConflict, message)
                .exit();
        }
        config
    }

    /// Defaults only (no flags, no environment), for tests.
    pub fn defaults() -> Self {
        Config::parse_from(["zipwire"])
    }

    /// The PostgreSQL settings, validated (errors name the variable). Flags and variables
    /// arrive here as text so that one parser, [`PostgresConfig::from_lookup`], checks
    /// both.
    pub fn postgres(&self) -> Result<PostgresConfig, PgConfigError> {
        PostgresConfig::from_lookup(|name| match name {
            "POSTGRES_URL" => self.postgres_url.clone(),
            "DATABASE_URL" => self.database_url.clone(),
            "POSTGRES_HOST" => Some(self.postgres_host.clone()),
            "POSTGRES_TCP_PORT" => Some(self.postgres_tcp_port.clone()),
            "POSTGRES_USER" => self.postgres_user.clone(),
            "POSTGRES_PASS" => self.postgres_pass.clone(),
            "POSTGRES_DB" => Some(self.postgres_db.clone()),
            "POSTGRES_SCHEMA" => self.postgres_schema.clone(),
            "POSTGRES_MAX_CONNECTIONS" => Some(self.postgres_max_connections.clone()),
            "POSTGRES_USE_SSL" => Some(self.postgres_use_ssl.clone()),
            "POSTGRES_ENSURE_SCHEMA" => Some(self.postgres_ensure_schema.clone()),
            "STORAGE_RETENTION" => Some(self.storage_retention.clone()),
            "POSTGRES_DEPENDENCY_QUIET" => Some(self.postgres_dependency_quiet.clone()),
            _ => None,
        })
    }

    /// The configuration as logged at start-up, secrets masked: credentials in the OTLP
    /// endpoint URL and the PostgreSQL URL, the PostgreSQL password, Kafka secrets.
    pub fn redacted(&self) -> Self {
        let mut config = self.clone();
        config.postgres_url = config.postgres_url.as_deref().map(redact_url);
        config.database_url = config.database_url.as_deref().map(redact_url);
        config.postgres_pass = config.postgres_pass.map(|_| "***".into());
        config.otel_exporter_otlp_endpoint = config
            .otel_exporter_otlp_endpoint
            .map(|url| mask_userinfo(&url));
        mask_kafka_secrets(&mut config.kafka_overrides);
        mask_kafka_secrets(&mut config.kafka_properties);
        config
    }

    pub fn ui_enabled(&self) -> bool {
        self.ui_enabled.unwrap_or(self.query_enabled)
    }

    pub fn http_collector_enabled(&self) -> bool {
        self.collector_http_enabled.unwrap_or(true)
    }

    /// Checks across UI settings, which clap validates one at a time.
    pub fn check_ui(&self) -> Result<(), String> {
        let low = self.ui_dependency_low_error_rate;
        let high = self.ui_dependency_high_error_rate;
        // A low rate above 1 switches the warning colour off (Zipkin's convention), so it
        // may exceed the high rate; otherwise the warning colour would never be shown.
        if low > high && low <= 1.0 {
            return Err(format!(
                "ZIPKIN_UI_DEPENDENCY_LOW_ERROR_RATE ({low}) is above \
                 ZIPKIN_UI_DEPENDENCY_HIGH_ERROR_RATE ({high}); set it above 1 to turn the \
                 warning colour off"
            ));
        }
        Ok(())
    }
}

/// `scheme://user:secret@host/...` → `scheme://***@host/...`.
fn mask_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &url[scheme_end + at..]),
        None => url.to_owned(),
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// librdkafka properties whose values are credentials (passwords, secrets, JAAS lines,
/// inline PEM keys).
fn mask_kafka_secrets(properties: &mut [(String, String)]) {
    for (key, value) in properties {
        let key = key.to_ascii_lowercase();
        if ["password", "secret", "jaas", ".pem"]
            .iter()
            .any(|word| key.contains(word))
        {
            *value = "***".into();
        }
    }
}

/// `key=value`, for `--kafka-property`.
fn parse_kafka_property(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("'{value}' is not a key=value librdkafka property")),
    }
}

/// `KAFKA_OVERRIDES`: comma-separated `key=value`; a part without `=` belongs to the
/// previous value, so lists like `bootstrap.servers=a:9092,b:9092` survive.
fn parse_kafka_overrides(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut properties: Vec<(String, String)> = Vec::new();
    for part in value.split(',').filter(|p| !p.trim().is_empty()) {
        if part.contains('=') {
            properties.push(parse_kafka_property(part)?);
        } else if let Some((_, previous)) = properties.last_mut() {
            previous.push(',');
            previous.push_str(part.trim());
        } else {
            return Err(format!("'{part}' is not a key=value librdkafka property"));
        }
    }
    Ok(properties)
}

fn parse_list(value: &str) -> Result<Vec<String>, String> {
    Ok(value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

fn parse_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value
        .parse()
        .map_err(|_| format!("'{value}' is not a number"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!("{rate} is outside 0.0 to 1.0"))
    }
}

/// A dependency error-rate threshold: a fraction from 0, where above 1 means "never"
/// (Zipkin documents `>1` as the way to turn a colour off).
fn parse_error_rate(value: &str) -> Result<f64, String> {
    let rate: f64 = value
        .parse()
        .map_err(|_| format!("'{value}' is not a number"))?;
    if rate.is_finite() && rate >= 0.0 {
        Ok(rate)
    } else {
        Err(format!(
            "{value} is not a rate from 0.0 (above 1 turns the colour off)"
        ))
    }
}

/// First path segments the UI must not take: they belong to the API and admin endpoints,
/// which the UI's catch-all route would otherwise answer with its page.
const RESERVED_UI_PATHS: &[&str] = &[
    "api",
    "health",
    "info",
    "metrics",
    "prometheus",
    "actuator",
    "favicon.ico",
];

/// `ZIPKIN_UI_BASEPATH`: `/` or empty is the root (kept as `""`), and trailing slashes are
/// dropped (`/tracing/` is `/tracing`). Segments are limited to URL-safe characters
/// because the path is also written into HTML and into route patterns.
fn parse_base_path(value: &str) -> Result<String, String> {
    let path = value.trim_end_matches('/');
    if path.is_empty() {
        return Ok(String::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("'{value}' must start with '/' (e.g. /zipkin)"));
    };
    for segment in rest.split('/') {
        let plain = segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
        if segment.is_empty() || segment == "." || segment == ".." || !plain {
            return Err(format!(
                "'{value}' is not a path of plain segments (letters, digits, '-', '.', '_', '~') like /zipkin"
            ));
        }
    }
    let first = rest.split('/').next().unwrap_or(rest);
    if RESERVED_UI_PATHS.contains(&first) {
        return Err(format!(
            "'{value}' would hide the server's /{first} endpoints"
        ));
    }
    Ok(path.to_owned())
}

/// Parses `11s`, `500ms`, `2m`, `1h`, `1d`, or a bare number of milliseconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{value}' is not a duration like 11s or 500ms"))?;
    let millis = match unit.trim() {
        "" | "ms" => n,
        "s" => n * 1_000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        other => {
            return Err(format!(
                "unknown duration unit '{other}' (use ms, s, m, h or d)"
            ))
        }
    };
    Ok(Duration::from_millis(millis))
}

/// Parses a byte size: a number with an optional `B`, `KiB`, `MiB` or `GiB` suffix.
pub fn parse_size(value: &str) -> Result<usize, String> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let n: usize = number
        .parse()
        .map_err(|_| format!("'{value}' is not a size like 10MiB"))?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "K" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        other => {
            return Err(format!(
                "unknown size unit '{other}' (use B, KiB, MiB or GiB)"
            ))
        }
    };
    n.checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{value}' is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_zipkin() {
        let c = Config::defaults();
        assert_eq!(c.query_port, 9411);
        assert_eq!(c.storage_type, "mem");
        assert_eq!(c.mem_max_spans, 500_000);
        assert!(c.strict_trace_id);
        assert!(c.search_enabled);
        assert_eq!(c.query_lookback, 86_400_000);
        assert_eq!(c.query_timeout, Duration::from_secs(11));
        assert_eq!(c.allowed_origins, vec!["*"]);
        assert!(c.http_collector_enabled());
        assert!(c.ui_enabled());
        assert_eq!(c.collector_max_body_size, 10 << 20);
    }

    #[test]
    fn flags_are_parsed_and_validated() {
        let c = Config::try_parse_from([
            "zipwire",
            "--autocomplete-keys",
            "http.host, env,",
            "--strict-trace-id",
            "false",
            "--query-enabled",
            "false",
        ])
        .unwrap();
        assert_eq!(c.autocomplete_keys, vec!["http.host", "env"]);
        assert!(!c.strict_trace_id);
        assert!(!c.ui_enabled());
        let err =
            Config::try_parse_from(["zipwire", "--collector-sample-rate", "1.5"]).unwrap_err();
        assert!(err.to_string().contains("COLLECTOR_SAMPLE_RATE"), "{err}");
        let err = Config::try_parse_from(["zipwire", "--mem-max-spans", "0"]).unwrap_err();
        assert!(err.to_string().contains("MEM_MAX_SPANS"), "{err}");
        let err = Config::try_parse_from(["zipwire", "--storage-type", "cassandra"]).unwrap_err();
        assert!(err.to_string().contains("STORAGE_TYPE"), "{err}");
    }

    #[test]
    fn operability_settings_have_zipkin_defaults_and_mask_secrets() {
        let c = Config::defaults();
        assert!(!c.self_tracing_enabled);
        assert_eq!(c.self_tracing_sample_rate, 1.0);
        assert_eq!(c.self_tracing_traces_per_second, 1);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(20));
        assert_eq!(c.otel_exporter_otlp_endpoint, None);

        let c = Config::try_parse_from([
            "zipwire",
            "--otel-exporter-otlp-endpoint",
            "https://user:s3cret@otlp.example:4318/base",
            "--shutdown-timeout",
            "5s",
        ])
        .unwrap();
        assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
        let logged = format!("{:?}", c.redacted());
        assert!(!logged.contains("s3cret"), "{logged}");
        assert!(
            logged.contains("https://***@otlp.example:4318/base"),
            "{logged}"
        );
        assert_eq!(
            mask_userinfo("http://collector:4318"),
            "http://collector:4318"
        );
        let err =
            Config::try_parse_from(["zipwire", "--self-tracing-sample-rate", "2"]).unwrap_err();
        assert!(
            err.to_string().contains("SELF_TRACING_SAMPLE_RATE"),
            "{err}"
        );
    }

    #[test]
    fn kafka_settings_parse_and_mask_credentials() {
        let c = Config::defaults();
        assert_eq!(c.kafka_bootstrap_servers, None);
        assert!(c.collector_kafka_enabled);
        assert_eq!(c.kafka_topic, vec!["zipkin"]);
        assert_eq!(c.kafka_group_id, "zipkin");
        assert_eq!(c.kafka_streams, 1);
        assert_eq!(c.collector_forward, "store");

        let c = Config::try_parse_from([
            "zipwire",
            "--kafka-topic",
            "a, b",
            "--kafka-overrides",
            "bootstrap.servers=x:1,y:2,sasl.password=s3cret",
            "--kafka-property",
            "fetch.min.bytes=10",
            "--kafka-property",
            "ssl.key.password=k3y",
        ])
        .unwrap();
        assert_eq!(c.kafka_topic, vec!["a", "b"]);
        assert_eq!(
            c.kafka_overrides,
            vec![
                ("bootstrap.servers".to_owned(), "x:1,y:2".to_owned()),
                ("sasl.password".to_owned(), "s3cret".to_owned()),
            ]
        );
        assert_eq!(c.kafka_properties.len(), 2);
        let logged = format!("{:?}", c.redacted());
        assert!(
            !logged.contains("s3cret") && !logged.contains("k3y"),
            "{logged}"
        );
        assert!(logged.contains("x:1,y:2"), "{logged}");

        let err = Config::try_parse_from(["zipwire", "--kafka-property", "novalue"]).unwrap_err();
        assert!(err.to_string().contains("key=value"), "{err}");
        let err = Config::try_parse_from(["zipwire", "--kafka-streams", "0"]).unwrap_err();
        assert!(err.to_string().contains("KAFKA_STREAMS"), "{err}");
        let err = Config::try_parse_from(["zipwire", "--collector-forward", "s3"]).unwrap_err();
        assert!(err.to_string().contains("COLLECTOR_FORWARD"), "{err}");
    }

    #[test]
    fn postgres_settings_are_flags_too_with_the_store_defaults() {
        let pg = Config::defaults().postgres().unwrap();
        let want = PostgresConfig::default();
        assert_eq!(
            format!("{pg:?} {}", pg.redacted_url()),
            format!("{want:?} {}", want.redacted_url())
        );

        let c = Config::try_parse_from([
            "zipwire",
            "--postgres-url",
            "postgres://zipkin:s3cret@db:5432/traces",
            "--postgres-pass",
            "p4ss",
            "--postgres-schema",
            "team_a",
            "--postgres-dependency-quiet",
            "2m",
            "--storage-retention",
            "7d",
            "--postgres-max-connections",
            "4",
        ])
        .unwrap();
        let pg = c.postgres().unwrap();
        assert_eq!(pg.schema.as_deref(), Some("team_a"));
        assert_eq!(pg.dependency_quiet, Duration::from_secs(120));
        assert_eq!(pg.retention, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(pg.max_connections, 4);
        assert_eq!(pg.password.as_deref(), Some("p4ss"));
        let logged = format!("{:?}", c.redacted());
        assert!(
            !logged.contains("s3cret") && !logged.contains("p4ss"),
            "{logged}"
        );

        let bad = Config::try_parse_from(["zipwire", "--postgres-schema", "Team-A"]).unwrap();
        assert_eq!(bad.postgres().unwrap_err().name, "POSTGRES_SCHEMA");
        let bad = Config::try_parse_from(["zipwire", "--postgres-dependency-quiet", "soon"]);
        assert_eq!(
            bad.unwrap().postgres().unwrap_err().name,
            "POSTGRES_DEPENDENCY_QUIET"
        );
    }

    #[test]
    fn durations_and_sizes_accept_units() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_size("64KiB").unwrap(), 65_536);
        assert!(parse_size("0").is_err());
        assert!(parse_size("1TB").is_err());
    }

    #[test]
    fn ui_settings_have_zipkin_defaults() {
        let c = Config::defaults();
        assert_eq!(c.ui_environment, "");
        assert_eq!(c.ui_query_limit, 10);
        assert_eq!(c.ui_default_lookback, 900_000);
        assert_eq!(c.ui_basepath, "/zipkin");
        assert_eq!(c.ui_logs_url, None);
        assert_eq!(c.ui_support_url, None);
        assert_eq!(c.ui_archive_post_url, None);
        assert_eq!(c.ui_archive_url, None);
        assert!(c.ui_dependency_enabled);
        assert_eq!(c.ui_dependency_low_error_rate, 0.5);
        assert_eq!(c.ui_dependency_high_error_rate, 0.75);
        assert_eq!(c.check_ui(), Ok(()));
    }

    #[test]
    fn ui_settings_are_parsed() {
        let c = Config::try_parse_from([
            "zipwire",
            "--ui-environment",
            "staging",
            "--ui-query-limit",
            "25",
            "--ui-default-lookback",
            "3600000",
            "--ui-basepath",
            "/tracing/ui/",
            "--ui-logs-url",
            "https://logs/?q={traceId}",
            "--ui-dependency-enabled",
            "false",
            "--ui-dependency-low-error-rate",
            "0.1",
            "--ui-dependency-high-error-rate",
            "1",
        ])
        .unwrap();
        assert_eq!(c.ui_environment, "staging");
        assert_eq!(c.ui_query_limit, 25);
        assert_eq!(c.ui_default_lookback, 3_600_000);
        assert_eq!(c.ui_basepath, "/tracing/ui", "trailing slash dropped");
        assert_eq!(c.ui_logs_url.as_deref(), Some("https://logs/?q={traceId}"));
        assert!(!c.ui_dependency_enabled);
        assert_eq!(c.ui_dependency_low_error_rate, 0.1);
        assert_eq!(c.ui_dependency_high_error_rate, 1.0);
        assert_eq!(c.check_ui(), Ok(()));
    }

    #[test]
    fn ui_base_path_is_normalised_or_refused() {
        for (given, want) in [
            ("/zipkin", "/zipkin"),
            ("/zipkin/", "/zipkin"),
            ("/", ""),
            ("", ""),
            ("/a/b_c-d.e~f", "/a/b_c-d.e~f"),
            ("/zipkin/ui", "/zipkin/ui"),
        ] {
            assert_eq!(parse_base_path(given).as_deref(), Ok(want), "{given}");
        }
        for bad in [
            "zipkin",
            "/a//b",
            "/a/../b",
            "/a b",
            "/a\"b",
            "/{id}",
            "/api",
            "/api/ui",
            "/health",
            "/favicon.ico",
        ] {
            assert!(parse_base_path(bad).is_err(), "{bad}");
        }
        let err = Config::try_parse_from(["zipwire", "--ui-basepath", "ui"]).unwrap_err();
        assert!(err.to_string().contains("ZIPKIN_UI_BASEPATH"), "{err}");
    }

    #[test]
    fn ui_limits_and_error_rates_are_validated() {
        for (flag, value, name) in [
            ("--ui-query-limit", "0", "ZIPKIN_UI_QUERY_LIMIT"),
            ("--ui-default-lookback", "0", "ZIPKIN_UI_DEFAULT_LOOKBACK"),
            (
                "--ui-dependency-low-error-rate",
                "-0.1",
                "ZIPKIN_UI_DEPENDENCY_LOW_ERROR_RATE",
            ),
            (
                "--ui-dependency-high-error-rate",
                "NaN",
                "ZIPKIN_UI_DEPENDENCY_HIGH_ERROR_RATE",
            ),
            (
                "--ui-dependency-enabled",
                "maybe",
                "ZIPKIN_UI_DEPENDENCY_ENABLED",
            ),
        ] {
            // `--flag=value`: a value such as -0.1 would otherwise read as a flag.
            let arg = format!("{flag}={value}");
            let err = Config::try_parse_from(["zipwire", arg.as_str()]).unwrap_err();
            assert!(err.to_string().contains(name), "{flag} {value}: {err}");
        }

        let crossed = Config::try_parse_from([
            "zipwire",
            "--ui-dependency-low-error-rate",
            "0.9",
            "--ui-dependency-high-error-rate",
            "0.6",
        ])
        .unwrap();
        let err = crossed.check_ui().unwrap_err();
        assert!(
            err.contains("ZIPKIN_UI_DEPENDENCY_LOW_ERROR_RATE")
                && err.contains("ZIPKIN_UI_DEPENDENCY_HIGH_ERROR_RATE"),
            "{err}"
        );

        // Zipkin turns a colour off with a rate above 1; the warning colour alone may go.
        let warning_off = Config::try_parse_from([
            "zipwire",
            "--ui-dependency-low-error-rate",
            "2",
            "--ui-dependency-high-error-rate",
            "0.6",
        ])
        .unwrap();
        assert_eq!(warning_off.check_ui(), Ok(()));
    }
}
