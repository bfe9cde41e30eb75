//! Connection and behaviour settings of the PostgreSQL backend, read from Zipkin-style
//! names (`POSTGRES_*`, mirroring Zipkin's `MYSQL_*`).
//!
//! The password is held apart from everything printable: `Debug` and [`PostgresConfig::redacted_url`]
//! never show it, so the config can be logged whole.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

/// A setting that could not be understood; the message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

/// How to reach PostgreSQL and how the store behaves there.
#[derive(Clone)]
pub struct PostgresConfig {
    /// `POSTGRES_URL` or `DATABASE_URL`; when set it wins over the parts below.
    pub url: Option<String>,
    /// `POSTGRES_HOST` (localhost).
    pub host: String,
    /// `POSTGRES_TCP_PORT` (5432).
    pub port: u16,
    /// `POSTGRES_USER` (none: the driver's default, the OS user).
    pub user: Option<String>,
    /// `POSTGRES_PASS`; never printed.
    pub password: Option<String>,
    /// `POSTGRES_DB` (zipkin).
    pub database: String,
    /// `POSTGRES_SCHEMA`: tables live in this schema (created if missing) instead of the
    /// connection's default `search_path`. Lets several deployments (or tests) share a
    /// database.
    pub schema: Option<String>,
    /// `POSTGRES_MAX_CONNECTIONS` (10).
    pub max_connections: u32,
    /// `POSTGRES_USE_SSL` (false): require TLS.
    pub use_ssl: bool,
    /// `POSTGRES_ENSURE_SCHEMA` (true): apply the embedded migrations at start-up.
    pub ensure_schema: bool,
    /// `STORAGE_RETENTION` (off): drop day partitions older than this.
    pub retention: Option<Duration>,
    /// `POSTGRES_DEPENDENCY_QUIET` (5m): how long after a 5-minute slice ends before its
    /// traces are linked into the dependency aggregate; until then they are linked on
    /// demand. Spans older than this when they arrive mark their hour for re-linking.
    pub dependency_quiet: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: None,
            host: "localhost".into(),
            port: 5432,
            user: None,
            password: None,
            database: "zipkin".into(),
            schema: None,
            max_connections: 10,
            use_ssl: false,
            ensure_schema: true,
            retention: None,
            dependency_quiet: Duration::from_secs(300),
        }
    }
}

impl PostgresConfig {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (environment names; a flag layer can map
    /// `--postgres-url` etc. onto the same names). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config = Self {
            url: get("POSTGRES_URL").or_else(|| get("DATABASE_URL")),
            ..Self::default()
        };
        if let Some(host) = get("POSTGRES_HOST") {
            config.host = host;
        }
        if let Some(port) = get("POSTGRES_TCP_PORT") {
            config.port = parse_number("POSTGRES_TCP_PORT", &port)?;
        }
        config.user = get("POSTGRES_USER");
        config.password = lookup("POSTGRES_PASS").filter(|p| !p.is_empty());
        if let Some(db) = get("POSTGRES_DB") {
            config.database = db;
        }
        config.schema = get("POSTGRES_SCHEMA");
        if let Some(schema) = &config.schema {
            check_identifier("POSTGRES_SCHEMA", schema)?;
        }
        if let Some(n) = get("POSTGRES_MAX_CONNECTIONS") {
            config.max_connections = parse_number("POSTGRES_MAX_CONNECTIONS", &n)?;
            if config.max_connections == 0 {
                return Err(ConfigError {
                    name: "POSTGRES_MAX_CONNECTIONS",
                    message: "must be at least 1".into(),
                });
            }
        }
        if let Some(v) = get("POSTGRES_USE_SSL") {
            config.use_ssl = parse_bool("POSTGRES_USE_SSL", &v)?;
        }
        if let Some(v) = get("POSTGRES_ENSURE_SCHEMA") {
            config.ensure_schema = parse_bool("POSTGRES_ENSURE_SCHEMA", &v)?;
        }
        if let Some(v) = get("STORAGE_RETENTION") {
            config.retention = parse_retention("STORAGE_RETENTION", &v)?;
        }
        if let Some(v) = get("POSTGRES_DEPENDENCY_QUIET") {
            config.dependency_quiet = parse_duration("POSTGRES_DEPENDENCY_QUIET", &v)?;
        }
        Ok(config)
    }

    /// The connection target without the password, for logs and `/health`.
    pub fn redacted_url(&self) -> String {
        match &self.url {
            Some(url) => redact_url(url),
            None => format!(
                "postgres://{}{}:{}/{}",
                self.user
                    .as_deref()
                    .map(|u| format!("{u}@"))
                    .unwrap_or_default(),
                self.host,
                self.port,
                self.database
            ),
        }
    }
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &self.redacted_url())
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("use_ssl", &self.use_ssl)
            .field("ensure_schema", &self.ensure_schema)
            .field("retention", &self.retention)
            .field("dependency_quiet", &self.dependency_quiet)
            .finish()
    }
}

/// Replaces the password of a `postgres://user:pass@host/db` URL (and any `password=`
/// query parameter) with `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (base, query) = out.split_at(q + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect();
        out = format!("{base}{}", redacted.join("&"));
    }
    out
}

fn parse_number<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError {
        name,
        message: format!("not a number: {value:?}"),
    })
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError {
            name,
            message: format!("expected true or false, got {value:?}"),
        }),
    }
}

/// `7d`, `12h`, `30m`, `45s` or plain seconds.
fn parse_duration(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let v = value.trim();
    let (digits, unit) = match v.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| ConfigError {
        name,
        message: format!("expected a duration such as 7d, 12h or 30m, got {value:?}"),
    })?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => None,
    }
    .ok_or_else(|| ConfigError {
        name,
        message: format!("expected a duration such as 7d, 12h or 30m, got {value:?}"),
    })?;
    Ok(Duration::from_secs(secs))
}

/// Retention is kept in whole days because whole day partitions are dropped; `0`, `off`
/// and `false` disable it.
fn parse_retention(name: &'static str, value: &str) -> Result<Option<Duration>, ConfigError> {
    let v = value.trim().to_ascii_lowercase();
    if matches!(v.as_str(), "0" | "off" | "false" | "none") {
        return Ok(None);
    }
    let d = parse_duration(name, &v)?;
    if d.as_secs() < 86_400 {
        return Err(ConfigError {
            name,
            message: format!(
                "must be at least 1d (whole day partitions are dropped), got {value:?}"
            ),
        });
    }
    Ok(Some(d))
}

/// Schema names are spliced into `search_path`, so only plain identifiers are accepted.
fn check_identifier(name: &'static str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !value.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ConfigError {
            name,
            message: format!("must be a lower-case identifier ([a-z_][a-z0-9_]*), got {value:?}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<PostgresConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PostgresConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_mirror_zipkin_mysql_settings() {
        let c = config(&[]).unwrap();
        assert_eq!(c.host, "localhost");
        assert_eq!(c.port, 5432);
        assert_eq!(c.database, "zipkin");
        assert_eq!(c.max_connections, 10);
        assert!(!c.use_ssl);
        assert!(c.ensure_schema);
        assert_eq!(c.retention, None);
    }

    #[test]
    fn parts_and_flags_are_read_by_their_env_names() {
        let c = config(&[
            ("POSTGRES_HOST", "db.internal"),
            ("POSTGRES_TCP_PORT", "6543"),
            ("POSTGRES_USER", "zipkin"),
            ("POSTGRES_PASS", "s3cret"),
            ("POSTGRES_DB", "traces"),
            ("POSTGRES_MAX_CONNECTIONS", "4"),
            ("POSTGRES_USE_SSL", "true"),
            ("POSTGRES_ENSURE_SCHEMA", "false"),
            ("STORAGE_RETENTION", "7d"),
        ])
        .unwrap();
        assert_eq!(c.port, 6543);
        assert_eq!(c.max_connections, 4);
        assert!(c.use_ssl);
        assert!(!c.ensure_schema);
        assert_eq!(c.retention, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(
            c.redacted_url(),
            "postgres://zipkin@db.internal:6543/traces"
        );
    }

    #[test]
    fn postgres_url_wins_over_database_url() {
        let c = config(&[
            ("DATABASE_URL", "postgres://a@h/one"),
            ("POSTGRES_URL", "postgres://b@h/two"),
        ])
        .unwrap();
        assert_eq!(c.url.as_deref(), Some("postgres://b@h/two"));
        let c = config(&[("DATABASE_URL", "postgres://a@h/one")]).unwrap();
        assert_eq!(c.url.as_deref(), Some("postgres://a@h/one"));
    }

    #[test]
    fn passwords_never_appear_in_debug_output() {
        let c = config(&[
            (
                "POSTGRES_URL",
                "postgres://zipkin:hunter2@db:5432/zipkin?password=hunter2&sslmode=require",
            ),
            ("POSTGRES_PASS", "hunter2"),
        ])
        .unwrap();
        let printed = format!("{c:?} {}", c.redacted_url());
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(
            printed.contains("postgres://zipkin:***@db:5432/zipkin"),
            "{printed}"
        );
        assert!(printed.contains("sslmode=require"), "{printed}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("POSTGRES_TCP_PORT", "lots")]).unwrap_err();
        assert_eq!(err.name, "POSTGRES_TCP_PORT");
        let err = config(&[("STORAGE_RETENTION", "3h")]).unwrap_err();
        assert_eq!(err.name, "STORAGE_RETENTION");
        let err = config(&[("POSTGRES_SCHEMA", "x; drop")]).unwrap_err();
        assert_eq!(err.name, "POSTGRES_SCHEMA");
        assert_eq!(
            config(&[("STORAGE_RETENTION", "off")]).unwrap().retention,
            None
        );
    }
}
