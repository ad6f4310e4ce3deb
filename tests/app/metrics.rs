//! Prometheus metrics on the separate listener, never on the public port.

use crate::support::TestApp;

#[tokio::test]
async fn metrics_cover_requests_pools_and_the_process() {
    let app = TestApp::spawn().await;
    app.get("/").await;
    app.get("/health/ready").await;
    app.get("/no/such/page").await;
    let metrics = app.metrics().await;
    for needle in [
        "pierre_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",status=\"2xx\"",
        "pierre_http_request_duration_seconds_count{method=\"GET\",route=\"/health/ready\",status=\"2xx\"}",
        "route=\"unmatched\",status=\"4xx\"",
        "pierre_http_requests_in_flight",
        "pierre_db_pool_connections",
        "pierre_db_pool_idle_connections",
        "pierre_db_pool_waiting_requests",
        "pierre_process_resident_memory_bytes",
        "pierre_process_cpu_seconds_total",
    ] {
        assert!(metrics.contains(needle), "missing {needle} in:\n{metrics}");
    }
    // The raw path never becomes a label (cardinality).
    assert!(!metrics.contains("/no/such/page"));
}

#[tokio::test]
async fn metrics_are_not_served_on_the_public_port() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/metrics").await.status(), 404);
}
