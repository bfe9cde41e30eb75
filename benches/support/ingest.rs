//! The benches' HTTP ingest client: POSTs JSON v2 bodies to a running Zipwire.
//!
//! Use from any bench with `#[path = "support/ingest.rs"] mod ingest;`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// POSTs every body to `{base}/api/v2/spans` over `connections` concurrent connections,
/// each taking the next unsent body; every answer must be 202.
pub async fn post_all(base: &str, bodies: &[Vec<u8>], connections: usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let bodies: Arc<Vec<bytes::Bytes>> = Arc::new(
        bodies
            .iter()
            .map(|b| bytes::Bytes::from(b.clone()))
            .collect(),
    );
    let url = format!("{base}/api/v2/spans");
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, next, bodies, url) =
                (client.clone(), next.clone(), bodies.clone(), url.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let response = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("post");
                    assert_eq!(response.status().as_u16(), 202, "ingest failed");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}
