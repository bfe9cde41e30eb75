//! Test support for the PostgreSQL backend: a schema per store on the shared server, and
//! a throw-away cluster (initdb on a free port) for tests that stop the database.
//!
//! The shared server is `ZIPWIRE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it is unreachable the tests fail
//! under `CI=true` and are skipped with a printed reason otherwise.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgPoolOptions;
use sqlx::Connection;
use tokio::sync::OnceCell;
use zipwire::storage::postgres::{PostgresConfig, PostgresStore};
use zipwire::storage::{SpanStore, StorageOptions};

/// Prefix of the schemas tests create; old ones are dropped by later runs.
const SCHEMA_PREFIX: &str = "zwtest_";

/// Schemas older than this (from crashed or interrupted runs) are dropped.
const STALE_AFTER_SECS: u64 = 3_600;

pub fn server_url() -> String {
    std::env::var("ZIPWIRE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

static REACHABLE: OnceCell<bool> = OnceCell::const_new();

/// Whether the shared server can be used; panics in CI when it cannot.
pub async fn server_available() -> bool {
    *REACHABLE
        .get_or_init(|| async {
            match sqlx::PgConnection::connect(&server_url()).await {
                Ok(mut conn) => {
                    drop_stale_schemas(&mut conn).await;
                    let _ = conn.close().await;
                    true
                }
                Err(e) if in_ci() => panic!(
                    "PostgreSQL at {} is unreachable and CI=true: {e}",
                    server_url()
                ),
                Err(e) => {
                    eprintln!(
                        "skipping PostgreSQL test: {} is unreachable ({e}); set CI=true to fail instead",
                        server_url()
                    );
                    false
                }
            }
        })
        .await
}

/// Drops schemas left behind by earlier runs (their names carry their creation time).
async fn drop_stale_schemas(conn: &mut sqlx::PgConnection) {
    let now = unix_secs();
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'zwtest\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let created: Option<u64> = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|t| t.parse().ok());
        if created.is_some_and(|t| t + STALE_AFTER_SECS < now) {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .execute(&mut *conn)
                .await;
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fresh schema name, unique across processes and runs.
pub fn unique_schema() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{SCHEMA_PREFIX}{}_{}_{}",
        unix_secs(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Settings for a store in its own new schema on the shared server.
pub fn config_in_new_schema() -> PostgresConfig {
    PostgresConfig {
        url: Some(server_url()),
        schema: Some(unique_schema()),
        max_connections: 4,
        ..PostgresConfig::default()
    }
}

/// A store in its own new schema, or `None` when the server is unavailable outside CI.
pub async fn store(options: StorageOptions) -> Option<PostgresStore> {
    if !server_available().await {
        return None;
    }
    Some(store_with(config_in_new_schema(), options).await)
}

pub async fn store_with(config: PostgresConfig, options: StorageOptions) -> PostgresStore {
    PostgresStore::connect(config, options)
        .await
        .expect("connect to the test PostgreSQL")
}

/// A store that panics with the skip reason when the server is unavailable: the
/// conformance factory has no way to skip, so a skipped run aborts each case early with a
/// clear message instead (only outside CI; in CI `server_available` already panicked).
pub async fn conformance_store(options: StorageOptions) -> Arc<dyn SpanStore> {
    match store(options).await {
        Some(s) => Arc::new(s),
        None => panic!("PostgreSQL unavailable: start it or set ZIPWIRE_TEST_POSTGRES_URL"),
    }
}

/// A throw-away PostgreSQL cluster in a temporary directory, run as the `postgres` OS
/// user when the tests run as root (initdb refuses root). Stopped and deleted on drop.
pub struct TempCluster {
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

impl TempCluster {
    /// Finds the server binaries (`/usr/lib/postgresql/<v>/bin`, or `PG_BIN`).
    fn bin_dir() -> Option<PathBuf> {
        if let Ok(dir) = std::env::var("PG_BIN") {
            return Some(PathBuf::from(dir));
        }
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    }

    /// Initialises and starts a cluster; `None` (with a printed reason) when PostgreSQL
    /// is not installed, which fails instead under `CI=true`.
    pub fn start() -> Option<TempCluster> {
        let Some(bin) = Self::bin_dir() else {
            if in_ci() {
                panic!("PostgreSQL server binaries (initdb, pg_ctl) not found and CI=true");
            }
            eprintln!("skipping: PostgreSQL server binaries (initdb, pg_ctl) not found");
            return None;
        };
        let as_postgres = is_root();
        let dir =
            std::env::temp_dir().join(format!("zipwire-pg-{}-{}", std::process::id(), unix_secs()));
        std::fs::create_dir_all(&dir).unwrap();
        if as_postgres {
            run(Command::new("chown").args(["postgres:postgres", dir.to_str().unwrap()]));
        }
        let port = free_port();
        let cluster = TempCluster {
            dir,
            port,
            bin,
            as_postgres,
        };
        let data = cluster.data_dir();
        cluster.pg(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "--auth=trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
            cluster.dir.display()
        );
        let conf_path = data.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path).unwrap();
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing).unwrap();
        cluster.start_server();
        Some(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn start_server(&self) {
        let data = self.data_dir();
        let log = self.dir.join("log");
        self.pg(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server immediately (`-m immediate`: like a crash, no shutdown
    /// checkpoint), the harshest outage for the store.
    pub fn stop_server(&self) {
        let data = self.data_dir();
        self.pg(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    fn pg(&self, tool: &str, args: &[&str]) {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--", path.to_str().unwrap()]);
            cmd.args(args);
            run(&mut cmd);
        } else {
            run(Command::new(path).args(args));
        }
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        let path = self.bin.join("pg_ctl");
        let args = ["-D", data.to_str().unwrap(), "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--", path.to_str().unwrap()])
                .args(args)
                .output()
        } else {
            Command::new(path).args(args).output()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a PostgreSQL tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A pool straight onto a server, for looking at tables in tests.
pub async fn raw_pool(url: &str, schema: &str) -> sqlx::PgPool {
    let url = format!("{url}?options=-csearch_path%3D{schema}");
    PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("connect")
}
