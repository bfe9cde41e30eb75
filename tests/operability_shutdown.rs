//! Graceful shutdown: in-flight requests finish, a hung one cannot hold the exit past
//! `SHUTDOWN_TIMEOUT`, and the real binary, stopped by SIGTERM during sustained ingest
//! into PostgreSQL, exits 0 with every span it answered 202 readable after a restart.

mod common;
mod pg;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use common::FlakyStore;
use parking_lot::Mutex;
use sqlx::Connection;
use tokio_util::sync::CancellationToken;
use zipwire::app::App;
use zipwire::storage::SpanStore;

fn one_span(trace: &str, id: u64) -> String {
    format!(
        r#"[{{"traceId":"{trace}","id":"{id:016x}","name":"ingest","timestamp":{},"duration":7,"localEndpoint":{{"serviceName":"loadgen"}}}}]"#,
        common::now_micros()
    )
}

/// Polls `/prometheus` until a storage write is in flight.
async fn wait_for_write_in_flight(http: &reqwest::Client, base: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = http
            .get(format!("{base}/prometheus"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains("zipwire_storage_operations_in_flight{operation=\"accept\"} 1\n") {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the write never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_in_flight_request_finishes_and_is_stored_during_shutdown() {
    let store = FlakyStore::slow(Duration::from_millis(500));
    let app = App::with_store(
        common::config(&["--shutdown-timeout", "20s"]),
        store.clone() as Arc<dyn SpanStore>,
    )
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let server = tokio::spawn(app.run_until(async move { signal.cancelled().await }));
    let http = reqwest::Client::new();
    let trace = "5af7183fb1d4cf5f0000000000000001";
    let request = {
        let (http, url) = (http.clone(), format!("{base}/api/v2/spans"));
        tokio::spawn(async move {
            http.post(url)
                .header("content-type", "application/json")
                .body(one_span(trace, 1))
                .send()
                .await
        })
    };
    wait_for_write_in_flight(&http, &base).await;

    stop.cancel();

    let reply = request
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(reply.status(), 202);
    tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("shutdown ends")
        .unwrap()
        .unwrap();
    let stored = store
        .inner
        .get_trace(common::trace_id(trace))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "answered 202, so stored");
    assert!(
        http.get(format!("{base}/health")).send().await.is_err(),
        "no longer accepting connections"
    );
}

#[tokio::test]
async fn a_hung_request_cannot_hold_the_shutdown_past_its_timeout() {
    // A write that never returns (storage hung): only SHUTDOWN_TIMEOUT ends the wait.
    let store = FlakyStore::slow(Duration::from_secs(3_600));
    let app = App::with_store(
        common::config(&["--shutdown-timeout", "1s"]),
        store as Arc<dyn SpanStore>,
    )
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let server = tokio::spawn(app.run_until(async move { signal.cancelled().await }));
    let http = reqwest::Client::new();
    let request = {
        let (http, url) = (http.clone(), format!("{base}/api/v2/spans"));
        tokio::spawn(async move {
            http.post(url)
                .header("content-type", "application/json")
                .body(one_span("5af7183fb1d4cf5f0000000000000002", 1))
                .send()
                .await
        })
    };
    wait_for_write_in_flight(&http, &base).await;

    stop.cancel();

    // A generous guard: without the timeout this would wait for an hour.
    let result = tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("shutdown gave up on the hung request");
    result.unwrap().unwrap();
    request.abort();
}

/// A database created for one test and dropped afterwards (even when the test fails).
struct TempDatabase {
    admin_url: String,
    name: String,
}

impl TempDatabase {
    async fn create() -> TempDatabase {
        let admin_url = pg::server_url();
        let name = format!(
            "zw_shutdown_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        );
        let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        TempDatabase { admin_url, name }
    }

    fn url(&self) -> String {
        let (server, _db) = self
            .admin_url
            .rsplit_once('/')
            .expect("a URL with a database");
        format!("{server}/{}", self.name)
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async code: a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// The `zipwire` binary, killed if the test fails before it exits.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
    base: String,
}

const SECRET: &str = "hunter2-must-not-be-logged";

impl Server {
    fn start(database_url: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zipwire"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("STORAGE_TYPE", "postgres")
            .env("POSTGRES_URL", database_url)
            // Trust authentication ignores it; it is here to prove it is never logged.
            .env("POSTGRES_PASS", SECRET)
            .env("POSTGRES_MAX_CONNECTIONS", "8")
            .env("QUERY_PORT", "0")
            .env("QUERY_BIND_ADDRESS", "127.0.0.1")
            .env("LOG_FORMAT", "json")
            .env("SHUTDOWN_TIMEOUT", "20s")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the zipwire binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let all = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                all.lock().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let mut server = Server {
            child,
            lines,
            log,
            base: String::new(),
        };
        let serving = server.wait_for_line(|l| l["message"] == "serving the Zipkin API and UI");
        server.base = format!("http://{}", serving["address"].as_str().unwrap());
        server
    }

    #[track_caller]
    fn wait_for_line(&mut self, matches: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!("log line not seen; log so far: {:#?}", self.log.lock())
                });
            let json: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            if matches(&json) {
                return json;
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (a deadline, not a timing assertion).
    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "zipwire did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn full_log(&self) -> Vec<String> {
        self.log.lock().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_sustained_ingest_exits_zero_and_loses_no_acknowledged_span() {
    if !pg::server_available().await {
        return;
    }
    let database = TempDatabase::create().await;
    let mut server = Server::start(&database.url());

    // The start-up line carries the effective configuration, secrets masked.
    let log = server.full_log();
    let first: serde_json::Value = serde_json::from_str(&log[0]).unwrap();
    assert_eq!(first["message"], "starting zipwire", "{log:#?}");
    assert!(first["config"]
        .as_str()
        .unwrap()
        .contains("storage_type: \"postgres\""));
    assert!(
        first["postgres"].as_str().unwrap().contains("<redacted>"),
        "{first}"
    );

    // Sustained ingest: several clients, one trace each, one span per request.
    const CLIENTS: u64 = 4;
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let refused_after_signal = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, base, acked) = (http.clone(), server.base.clone(), acked.clone());
        let refused = refused_after_signal.clone();
        let trace = format!("{:016x}{:016x}", std::process::id(), client + 1);
        clients.push(tokio::spawn(async move {
            // Bounded: stops at the first refused request, or after 20 000 spans.
            for id in 1..=20_000u64 {
                let reply = http
                    .post(format!("{base}/api/v2/spans"))
                    .header("content-type", "application/json")
                    .body(one_span(&trace, id))
                    .send()
                    .await;
                match reply {
                    Ok(r) if r.status() == 202 => acked.lock().push((trace.clone(), id)),
                    _ => {
                        refused.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().len() < 300 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "ingest too slow to start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    server.signal("TERM");

    let status = tokio::task::spawn_blocking(move || {
        let status = server.wait_exit();
        (status, server)
    })
    .await
    .unwrap();
    let (status, server) = status;
    assert_eq!(status.code(), Some(0), "log: {:#?}", server.full_log());
    for client in clients {
        client.await.unwrap();
    }
    assert!(
        refused_after_signal.load(Ordering::Relaxed),
        "clients saw the server go"
    );
    let log = server.full_log();
    assert!(
        log.iter().any(|l| l.contains("shutdown complete")),
        "{log:#?}"
    );
    drop(server);

    // Restart on the same database: every acknowledged span is there.
    let mut restarted = Server::start(&database.url());
    let acked = acked.lock().clone();
    let traces: BTreeSet<&String> = acked.iter().map(|(t, _)| t).collect();
    let mut stored = BTreeSet::new();
    for trace in &traces {
        let spans: Vec<serde_json::Value> = http
            .get(format!("{}/api/v2/trace/{trace}", restarted.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for span in spans {
            let id = u64::from_str_radix(span["id"].as_str().unwrap(), 16).unwrap();
            stored.insert((span["traceId"].as_str().unwrap().to_owned(), id));
        }
    }
    let missing: Vec<_> = acked.iter().filter(|a| !stored.contains(*a)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged spans lost: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)]
    );
    println!(
        "{} spans acknowledged before SIGTERM, all readable after restart",
        acked.len()
    );

    // SIGINT (Ctrl-C) stops it the same way.
    restarted.signal("INT");
    let status = tokio::task::spawn_blocking(move || {
        let status = restarted.wait_exit();
        (status, restarted)
    })
    .await
    .unwrap();
    assert_eq!(status.0.code(), Some(0));
    for line in log.iter().chain(status.1.full_log().iter()) {
        assert!(!line.contains(SECRET), "a secret was logged: {line}");
    }
}
