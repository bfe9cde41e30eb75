//! The container health check binary (`zipwire-healthcheck`, the image's HEALTHCHECK)
//! against a running server. The deployment files themselves are validated by
//! `scripts/validate-deploy.sh` (schemas and cross-references).

mod common;

use std::process::Command;

use tokio_util::sync::CancellationToken;
use zipwire::app::App;

fn healthcheck(port: u16) -> std::process::ExitStatus {
    Command::new(env!("CARGO_BIN_EXE_zipwire-healthcheck"))
        .env("QUERY_PORT", port.to_string())
        .output()
        .expect("run zipwire-healthcheck")
        .status
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_check_passes_while_healthy_and_fails_without_a_server() {
    let app = App::with_store(common::config(&[]), common::memory_store())
        .await
        .unwrap();
    let port = app.port();
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let server = tokio::spawn(app.run_until(async move { signal.cancelled().await }));

    let up = tokio::task::spawn_blocking(move || healthcheck(port))
        .await
        .unwrap();
    assert!(up.success(), "{up:?}");

    stop.cancel();
    server.await.unwrap().unwrap();
    let down = tokio::task::spawn_blocking(move || healthcheck(port))
        .await
        .unwrap();
    assert_eq!(down.code(), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_check_fails_when_storage_is_down() {
    let app = App::with_store(common::config(&[]), common::FlakyStore::failing(usize::MAX))
        .await
        .unwrap();
    let port = app.port();
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let server = tokio::spawn(app.run_until(async move { signal.cancelled().await }));

    let status = tokio::task::spawn_blocking(move || healthcheck(port))
        .await
        .unwrap();

    assert_eq!(status.code(), Some(1), "/health answers 503");
    stop.cancel();
    server.await.unwrap().unwrap();
}
