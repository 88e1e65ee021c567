//! Prometheus metrics: request counts and latencies per route and status, link cache hits, job
//! outcomes and queue depth, click flushes, QR renders and actor restarts. Counters that several
//! parts of the process update live in [`METRICS`]; gauges read from the application's state at
//! each scrape.

use crate::app::AppState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    outcome: &'static str,
}

/// How a job ended, for the `linkyard_jobs_total` counter.
#[derive(Debug, Clone, Copy)]
pub enum JobOutcome {
    Succeeded,
    Failed,
    Parked,
}

impl JobOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Parked => "parked",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    jobs: Family<JobLabels, Counter>,
    gauges: Gauges,
}

/// Values copied from the application's state at each scrape.
#[derive(Default)]
struct Gauges {
    hot_hits: Counter<u64, AtomicU64>,
    hot_misses: Counter<u64, AtomicU64>,
    shared_hits: Counter<u64, AtomicU64>,
    database_reads: Counter<u64, AtomicU64>,
    click_flushes: Counter<u64, AtomicU64>,
    clicks_dropped: Counter<u64, AtomicU64>,
    actor_restarts: Counter<u64, AtomicU64>,
    qr_renders: Counter<u64, AtomicU64>,
    qr_cache_hits: Counter<u64, AtomicU64>,
    queue_depth: Gauge,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("linkyard");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 50 µs to about 3.3 s.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.00005, 2.0, 17,
            ))
        });
        let jobs = Family::<JobLabels, Counter>::default();
        let gauges = Gauges::default();

        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register("jobs", "Background jobs by kind and outcome", jobs.clone());
        registry.register(
            "link_cache_hot_hits",
            "Redirect look-ups answered by a hot cache",
            gauges.hot_hits.clone(),
        );
        registry.register(
            "link_cache_hot_misses",
            "Link look-ups that reached a shard",
            gauges.hot_misses.clone(),
        );
        registry.register(
            "link_cache_shared_hits",
            "Shard look-ups answered by the shared cache",
            gauges.shared_hits.clone(),
        );
        registry.register(
            "link_database_reads",
            "Link reads from the database",
            gauges.database_reads.clone(),
        );
        registry.register(
            "click_flushes",
            "Click batches written to the database",
            gauges.click_flushes.clone(),
        );
        registry.register(
            "clicks_dropped",
            "Clicks dropped because the aggregator was behind",
            gauges.clicks_dropped.clone(),
        );
        registry.register(
            "actor_restarts",
            "Actors restarted by the supervisor",
            gauges.actor_restarts.clone(),
        );
        registry.register(
            "qr_renders",
            "QR images rendered",
            gauges.qr_renders.clone(),
        );
        registry.register(
            "qr_cache_hits",
            "QR images served from a cache",
            gauges.qr_cache_hits.clone(),
        );
        registry.register(
            "queue_depth",
            "Jobs waiting in the outbox",
            gauges.queue_depth.clone(),
        );

        Self {
            registry,
            requests,
            latency,
            jobs,
            gauges,
        }
    }

    /// Counts one answered request.
    pub fn observe_request(
        &self,
        route: &'static str,
        method: &http::Method,
        status: u16,
        elapsed: Duration,
    ) {
        let labels = RequestLabels {
            route,
            method: method_label(method),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    pub fn job(&self, kind: &str, outcome: JobOutcome) {
        let labels = JobLabels {
            kind: kind.to_owned(),
            outcome: outcome.label(),
        };
        self.jobs.get_or_create(&labels).inc();
    }

    /// Renders every metric in the Prometheus text format, with the gauges read from `state`.
    pub async fn render(&self, state: &AppState) -> String {
        let stats = state.links.cache_stats();
        let qr = state.qr.stats();
        let gauges = &self.gauges;
        set(&gauges.hot_hits, stats.hot_hits.load(Ordering::Relaxed));
        set(&gauges.hot_misses, stats.hot_misses.load(Ordering::Relaxed));
        set(
            &gauges.shared_hits,
            stats.shared_hits.load(Ordering::Relaxed),
        );
        set(
            &gauges.database_reads,
            stats.database_reads.load(Ordering::Relaxed),
        );
        set(
            &gauges.click_flushes,
            state.click_flushes.load(Ordering::Relaxed),
        );
        set(&gauges.clicks_dropped, state.clicks.dropped());
        set(
            &gauges.actor_restarts,
            state.actor_restarts.load(Ordering::Relaxed),
        );
        set(&gauges.qr_renders, qr.renders);
        set(&gauges.qr_cache_hits, qr.cache_hits);
        if let Ok(depth) = linkyard_actors::db::outbox::count_pending(&state.db).await {
            gauges
                .queue_depth
                .set(i64::try_from(depth).unwrap_or(i64::MAX));
        }

        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            tracing::error!("encoding the metrics failed");
        }
        text
    }
}

/// Sets a counter to a total kept elsewhere. Totals only grow, so this stays monotonic.
fn set(counter: &Counter<u64, AtomicU64>, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PATCH => "PATCH",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
