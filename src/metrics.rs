//! Prometheus metrics, served on the separate `METRICS_ADDR` listener.
//!
//! Request metrics are recorded by [`track_requests`], labelled by the matched
//! route *pattern* (never the raw path, which would explode cardinality) and
//! the status class. Pool gauges are read from every connection pool when the
//! metrics are scraped.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{
    Encoder as _, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use sqlx::PgPool;

use crate::db::DbPools;

/// All metrics of one running instance.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    request_duration: HistogramVec,
    requests_total: IntCounterVec,
    in_flight: IntGauge,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    pool_waiting: IntGauge,
    pool_max: IntGauge,
    pools: DbPools,
    jobs_waiting: IntGaugeVec,
    jobs_dead: IntGauge,
    jobs_oldest_due: Gauge,
    /// Where the queue gauges are read from at scrape time (none: not reported).
    queue: Option<PgPool>,
}

/// How long a scrape waits for the queue query before reporting the last values.
const QUEUE_QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl Metrics {
    /// Create the registry and every metric.
    ///
    /// # Errors
    /// Only if two metrics were registered under one name (a programming error).
    pub fn new(pools: DbPools) -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("pierre".to_owned()), None)?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route pattern and status class",
            )
            .buckets(vec![
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "route", "status"],
        )?;
        let requests_total = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route pattern and status class",
            ),
            &["method", "route", "status"],
        )?;
        let in_flight = IntGauge::new(
            "http_requests_in_flight",
            "HTTP requests being answered now",
        )?;
        let pool_size = IntGauge::new(
            "db_pool_connections",
            "Open database connections, all pools",
        )?;
        let pool_idle = IntGauge::new(
            "db_pool_idle_connections",
            "Idle database connections, all pools",
        )?;
        let pool_waiting = IntGauge::new(
            "db_pool_waiting_requests",
            "Requests waiting for a database connection",
        )?;
        let pool_max = IntGauge::new(
            "db_pool_max_connections",
            "Configured maximum database connections, all pools",
        )?;
        let jobs_waiting = IntGaugeVec::new(
            Opts::new(
                "jobs_waiting",
                "Queued background jobs (due or not), by kind",
            ),
            &["kind"],
        )?;
        let jobs_dead = IntGauge::new(
            "jobs_dead",
            "Background jobs that ran out of attempts (retry them on /admin/jobs)",
        )?;
        let jobs_oldest_due = Gauge::new(
            "jobs_oldest_due_age_seconds",
            "Seconds since the oldest queued job became due (0 when none is due)",
        )?;
        registry.register(Box::new(jobs_waiting.clone()))?;
        registry.register(Box::new(jobs_dead.clone()))?;
        registry.register(Box::new(jobs_oldest_due.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(requests_total.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(pool_size.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        registry.register(Box::new(pool_waiting.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::new(
                std::process::id().cast_signed(),
                "pierre",
            ),
        ))?;
        Ok(Self {
            registry,
            request_duration,
            requests_total,
            in_flight,
            pool_size,
            pool_idle,
            pool_waiting,
            pool_max,
            pools,
            jobs_waiting,
            jobs_dead,
            jobs_oldest_due,
            queue: None,
        })
    }

    /// Report the job queue, read from `pool` at each scrape (one query).
    #[must_use]
    pub fn with_queue(mut self, pool: PgPool) -> Self {
        self.queue = Some(pool);
        self
    }

    /// Refresh the queue gauges; on a database error or timeout they keep their
    /// last values (the scrape still answers).
    async fn refresh_queue(&self) {
        let Some(pool) = &self.queue else {
            return;
        };
        let read = async {
            let mut conn = pool.acquire().await?;
            crate::db::jobs::queue_stats(&mut conn).await
        };
        match tokio::time::timeout(QUEUE_QUERY_TIMEOUT, read).await {
            Ok(Ok(stats)) => {
                for kind in crate::db::jobs::KINDS {
                    self.jobs_waiting.with_label_values(&[*kind]).set(0);
                }
                for (kind, n) in &stats.waiting {
                    self.jobs_waiting
                        .with_label_values(&[kind.as_str()])
                        .set(*n);
                }
                self.jobs_dead.set(stats.dead);
                self.jobs_oldest_due.set(stats.oldest_due_secs);
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "could not read the job queue for metrics");
            }
            Err(_) => tracing::warn!("reading the job queue for metrics timed out"),
        }
    }

    /// The registry, for subsystems that add their own metrics.
    #[must_use]
    pub const fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Render every metric in the Prometheus text format.
    pub async fn render(&self) -> String {
        self.refresh_queue().await;
        let stats = self.pools.stats();
        self.pool_size.set(i64::from(stats.size));
        self.pool_idle
            .set(i64::try_from(stats.idle).unwrap_or(i64::MAX));
        self.pool_waiting.set(stats.waiting);
        self.pool_max.set(i64::from(stats.max));
        let mut buffer = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %err, "could not encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let labels = [method, route, class];
        self.request_duration
            .with_label_values(&labels)
            .observe(seconds);
        self.requests_total.with_label_values(&labels).inc();
    }
}

/// Provider and job metrics, recorded by the OAuth client, the provider API
/// clients and the job worker; shared (in an `Arc`) by every worker.
#[derive(Clone, Debug)]
pub struct ProviderMetrics {
    /// OAuth flows ended, by provider and outcome (`connected`, `denied`,
    /// `invalid_state`, `missing_scope`, `token_error`, …).
    pub oauth_outcomes: IntCounterVec,
    /// Outgoing provider calls, by provider, endpoint name and status
    /// (HTTP status code, or `timeout` / `error`).
    pub provider_calls: IntCounterVec,
    /// Jobs finished, by kind and outcome (`done`, `retry`, `dead`).
    pub jobs_finished: IntCounterVec,
    /// Seconds from when a job was due to when a worker claimed it.
    pub job_wait: HistogramVec,
    /// Seconds a job ran.
    pub job_run: HistogramVec,
}

impl ProviderMetrics {
    /// Create the metrics and register them.
    ///
    /// # Errors
    /// Only if a name is registered twice (a programming error).
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let oauth_outcomes = IntCounterVec::new(
            Opts::new(
                "oauth_flows_total",
                "OAuth connect flows ended, by provider and outcome",
            ),
            &["provider", "outcome"],
        )?;
        let provider_calls = IntCounterVec::new(
            Opts::new(
                "provider_calls_total",
                "Calls to provider APIs, by provider, endpoint and status",
            ),
            &["provider", "endpoint", "status"],
        )?;
        let jobs_finished = IntCounterVec::new(
            Opts::new(
                "jobs_finished_total",
                "Background jobs finished, by kind and outcome",
            ),
            &["kind", "outcome"],
        )?;
        let buckets = vec![
            0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
        ];
        let job_wait = HistogramVec::new(
            HistogramOpts::new(
                "job_wait_seconds",
                "Seconds from a job being due to being claimed",
            )
            .buckets(buckets.clone()),
            &["kind"],
        )?;
        let job_run = HistogramVec::new(
            HistogramOpts::new("job_run_seconds", "Seconds a background job ran").buckets(buckets),
            &["kind"],
        )?;
        registry.register(Box::new(oauth_outcomes.clone()))?;
        registry.register(Box::new(provider_calls.clone()))?;
        registry.register(Box::new(jobs_finished.clone()))?;
        registry.register(Box::new(job_wait.clone()))?;
        registry.register(Box::new(job_run.clone()))?;
        Ok(Self {
            oauth_outcomes,
            provider_calls,
            jobs_finished,
            job_wait,
            job_run,
        })
    }

    /// Count one OAuth flow outcome.
    pub fn oauth(&self, provider: &str, outcome: &str) {
        self.oauth_outcomes
            .with_label_values(&[provider, outcome])
            .inc();
    }

    /// Count one provider call.
    pub fn call(&self, provider: &str, endpoint: &str, status: &str) {
        self.provider_calls
            .with_label_values(&[provider, endpoint, status])
            .inc();
    }
}

/// Middleware: time every request and count requests in flight.
///
/// # Errors
/// Passes through the inner service's error unchanged.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(metrics) = req
        .app_data::<web::Data<Metrics>>()
        .cloned()
        .map(web::Data::into_inner)
    else {
        return next.call(req).await;
    };
    let method = req.method().as_str().to_owned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    metrics.in_flight.inc();
    let _in_flight = InFlight(Arc::clone(&metrics));
    let result = next.call(req).await;
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(err) => err.as_response_error().status_code().as_u16(),
    };
    metrics.observe(&method, &route, status, started.elapsed().as_secs_f64());
    result
}

/// Decrements the in-flight gauge however the request ends (even if dropped).
struct InFlight(Arc<Metrics>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

/// `GET /metrics` on the metrics listener.
pub async fn metrics_endpoint(metrics: web::Data<Metrics>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render().await)
}
