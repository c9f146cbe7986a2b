//! What the server counts, for Prometheus: requests by route, method and status, their
//! latency, the outcome of every write, the writer's batch sizes and commit latency, and
//! the open queue's depth. Served as text at `GET /metrics` on `metrics_listen`, no token.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The server's counters, registered once.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub outcomes: IntCounterVec,
    pub batch_size: Histogram,
    pub commit_seconds: Histogram,
    pub queue_open: IntGauge,
}

/// The outcome of a write, put on its response for the counters (`created`, `merged`,
/// `edit-conflict`, ...).
#[derive(Debug, Clone, Copy)]
pub struct WriteOutcome(pub &'static str);

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "syncdesk_requests_total",
                "Requests answered, by route, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("a valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "syncdesk_request_seconds",
                "Time to answer a request, by route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["route"],
        )
        .expect("a valid metric");
        let outcomes = IntCounterVec::new(
            Opts::new("syncdesk_write_outcomes_total", "Writes by outcome"),
            &["outcome"],
        )
        .expect("a valid metric");
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("syncdesk_writer_batch_size", "Writes committed together")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
        )
        .expect("a valid metric");
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new("syncdesk_commit_seconds", "Time to commit a batch (fsync)")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]),
        )
        .expect("a valid metric");
        let queue_open = IntGauge::new("syncdesk_queue_open", "Open conflicts in the queue")
            .expect("a valid metric");
        for metric in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(outcomes.clone()),
            Box::new(batch_size.clone()),
            Box::new(commit_seconds.clone()),
            Box::new(queue_open.clone()),
        ] {
            registry.register(metric).expect("registered once");
        }
        Self {
            registry,
            requests,
            latency,
            outcomes,
            batch_size,
            commit_seconds,
            queue_open,
        }
    }

    /// The Prometheus text format of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// One route's counters, resolved when the router is built: a request then costs no
/// label lookup (the count for a status is found by index once it exists).
pub struct RouteMetrics {
    requests: IntCounterVec,
    outcomes: IntCounterVec,
    route: &'static str,
    method: &'static str,
    latency: Histogram,
    by_status: Box<[std::sync::OnceLock<prometheus::IntCounter>]>,
}

impl RouteMetrics {
    pub fn new(metrics: &Metrics, method: &'static str, route: &'static str) -> Self {
        Self {
            requests: metrics.requests.clone(),
            outcomes: metrics.outcomes.clone(),
            route,
            method,
            latency: metrics.latency.with_label_values(&[route]),
            by_status: (0..600).map(|_| std::sync::OnceLock::new()).collect(),
        }
    }

    /// Counts one answered request.
    pub fn count(&self, status: u16, seconds: f64, outcome: Option<WriteOutcome>) {
        self.latency.observe(seconds);
        match self.by_status.get(usize::from(status)) {
            Some(slot) => slot
                .get_or_init(|| {
                    self.requests
                        .with_label_values(&[self.route, self.method, &status.to_string()])
                })
                .inc(),
            None => self
                .requests
                .with_label_values(&[self.route, self.method, &status.to_string()])
                .inc(),
        }
        if let Some(WriteOutcome(name)) = outcome {
            self.outcomes.with_label_values(&[name]).inc();
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
