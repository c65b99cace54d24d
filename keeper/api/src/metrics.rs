//! `/metrics` through the Prometheus client crate (`prometheus`, classic text format 0.0.4,
//! `promtool check metrics` clean): per route request counts and a latency histogram recorded by
//! one middleware ([`track`]), the process's own series (RSS, file descriptors, CPU), and the
//! keeper's status read at each scrape (chain, epochs, votes, sources and their lag, holds,
//! disagreements, governance, the keeper key's balance, the relay).
//!
//! Routes are labelled by their matched path template (`/v1/wallets/{address}`), never by the URI:
//! one series per route whatever the address asked, so the label set stays small. Requests no
//! route matched share the label [`UNMATCHED`]. Units are in the names (`_seconds`, `_bytes`);
//! counters end in `_total`.

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder as _, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};

use flex_sources::{DisagreementKind, SourceKind};

use crate::Api;

/// The `route` label of requests no route matched (the 404 fallback).
pub(crate) const UNMATCHED: &str = "unmatched";

/// Status classes counted per route.
const CLASSES: [&str; 3] = ["2xx", "4xx", "5xx"];

/// Latency buckets, seconds: proofs answer in well under a millisecond, the relay takes blocks.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

/// The API's own series and the process collector, in one registry.
pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        // Names, labels and buckets are constants: these cannot fail.
        let requests = IntCounterVec::new(
            Opts::new(
                "flex_api_requests_total",
                "API requests by route and status class.",
            ),
            &["route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "flex_api_request_duration_seconds",
                "Time to answer an API request, by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(latency.clone()))
            .expect("registered once");
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("registered once");
        let m = Self {
            registry,
            requests,
            latency,
        };
        m.register(UNMATCHED);
        m
    }
}

impl Metrics {
    /// Lists `route` with zero counts, so that every route is exported before its first request.
    pub(crate) fn register(&self, route: &str) {
        for class in CLASSES {
            self.requests.with_label_values(&[route, class]);
        }
        self.latency.with_label_values(&[route]);
    }

    fn record(&self, route: &str, status: StatusCode, took: std::time::Duration) {
        let class = match status.as_u16() {
            200..=399 => CLASSES[0],
            400..=499 => CLASSES[1],
            _ => CLASSES[2],
        };
        self.requests.with_label_values(&[route, class]).inc();
        self.latency
            .with_label_values(&[route])
            .observe(took.as_secs_f64());
    }
}

/// The middleware: times the request and counts its answer under the matched route. It runs
/// after routing (it is a `Router::layer`), so `MatchedPath` is known.
pub(crate) async fn track(State(api): State<Api>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let resp = next.run(req).await;
    let label = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    api.inner.metrics.record(label, resp.status(), started.elapsed());
    resp
}

/// Families built at each scrape from values the keeper maintains elsewhere (its [`Status`]
/// atomics, the relay's counts): each made with the crate's own types, so names, types and
/// escaping are the crate's.
///
/// [`Status`]: flex_sources::Status
#[derive(Default)]
pub(crate) struct Scrape {
    families: Vec<MetricFamily>,
}

impl Scrape {
    pub(crate) fn gauge(&mut self, name: &str, help: &str, v: f64) {
        let g = Gauge::new(name, help).expect("valid metric");
        g.set(v);
        self.families.extend(prometheus::core::Collector::collect(&g));
    }

    pub(crate) fn counter(&mut self, name: &str, help: &str, v: u64) {
        let c = IntCounter::new(name, help).expect("valid metric");
        c.inc_by(v);
        self.families.extend(prometheus::core::Collector::collect(&c));
    }

    /// A gauge with labels: one series per `(label values, value)`; none when `series` is empty.
    pub(crate) fn gauges(&mut self, name: &str, help: &str, labels: &[&str], series: &[(Vec<&str>, f64)]) {
        if series.is_empty() {
            return;
        }
        let g = GaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
        for (values, v) in series {
            g.with_label_values(values).set(*v);
        }
        self.families.extend(prometheus::core::Collector::collect(&g));
    }

    /// The families in the text format (tests).
    #[cfg(test)]
    pub(crate) fn text(&self) -> String {
        let mut s = String::new();
        TextEncoder::new()
            .encode_utf8(&self.families, &mut s)
            .expect("encodable");
        s
    }

    /// A counter with labels, as [`Scrape::gauges`].
    pub(crate) fn counters(&mut self, name: &str, help: &str, labels: &[&str], series: &[(Vec<&str>, u64)]) {
        if series.is_empty() {
            return;
        }
        let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
        for (values, v) in series {
            c.with_label_values(values).inc_by(*v);
        }
        self.families.extend(prometheus::core::Collector::collect(&c));
    }
}

/// Per source: up (1 ok, 0 failed or stopped), failures, cursor time and lag behind the chain's
/// time; per kind of disagreement with the chain: how many.
fn sources_and_disagreements(api: &Api, out: &mut Scrape) {
    let st = &api.inner.status;
    let sources = st.sources();
    let chain_time = st.chain_time_ms.load(Ordering::Relaxed) / 1000;
    fn label(s: &flex_sources::SourceState) -> Vec<&str> {
        vec![s.name.as_str(), kind_label(s.kind)]
    }
    out.gauges(
        "flex_source_up",
        "1 when the source imports cleanly (0: failed or stopped).",
        &["source", "kind"],
        &sources
            .iter()
            .map(|s| (label(s), f64::from(u8::from(s.state == "ok"))))
            .collect::<Vec<_>>(),
    );
    out.counters(
        "flex_source_failures_total",
        "Source failures (each change of error counts once).",
        &["source", "kind"],
        &sources.iter().map(|s| (label(s), s.failures)).collect::<Vec<_>>(),
    );
    let followers: Vec<_> = sources
        .iter()
        .filter_map(|s| s.cursor_time.map(|t| (s, t)))
        .collect();
    out.gauges(
        "flex_source_cursor_time_seconds",
        "Block time a chain follower has read up to (unix seconds).",
        &["source", "kind"],
        &followers
            .iter()
            .map(|(s, t)| (label(s), *t as f64))
            .collect::<Vec<_>>(),
    );
    out.gauges(
        "flex_source_lag_seconds",
        "How far a chain follower's block time is behind the reward pool chain's latest block time (0 when ahead); an epoch closes only once every source has passed its end.",
        &["source", "kind"],
        &followers
            .iter()
            .map(|(s, t)| (label(s), chain_time.saturating_sub(*t as u64) as f64))
            .collect::<Vec<_>>(),
    );
    let disagreements = st.disagreements();
    out.gauges(
        "flex_disagreements",
        "Epochs or months where this keeper differs from the chain, by kind.",
        &["kind"],
        &DisagreementKind::ALL
            .iter()
            .map(|k| {
                let n = disagreements.iter().filter(|d| d.kind == *k).count();
                (vec![k.as_str()], n as f64)
            })
            .collect::<Vec<_>>(),
    );
}

/// The pool's pending governance changes by action, and the earliest time one can take effect.
fn governance(api: &Api, out: &mut Scrape) {
    let pending = api.inner.status.governance();
    out.gauges(
        "flex_governance_pending",
        "Announced governance changes not yet executed or cancelled, by action.",
        &["action"],
        &["add_keeper", "remove_keeper", "set_min_threshold", "set_treasury"]
            .iter()
            .map(|a| {
                let n = pending.iter().filter(|p| p.action == *a).count();
                (vec![*a], n as f64)
            })
            .collect::<Vec<_>>(),
    );
    if let Some(eta) = pending.iter().map(|p| p.eta).min() {
        out.gauge(
            "flex_governance_next_eta_seconds",
            "Earliest block time a pending governance change can be executed (unix seconds).",
            (eta / 1000) as f64,
        );
    }
}

fn kind_label(k: SourceKind) -> &'static str {
    match k {
        SourceKind::File => "file",
        SourceKind::Evm => "evm",
        SourceKind::Substrate => "substrate",
        SourceKind::Offchain => "offchain",
    }
}

/// `GET /metrics`: the keeper's status and the API's request series.
pub(crate) async fn metrics(State(api): State<Api>) -> Response {
    let st = &api.inner.status;
    let mut out = Scrape::default();
    let flag = |b: bool| f64::from(u8::from(b));
    let conns = &api.inner.conns;
    out.gauge(
        "flex_api_connections_open",
        "API connections open now.",
        conns.open.load(Ordering::Relaxed) as f64,
    );
    out.counter(
        "flex_api_connections_refused_total",
        "API connections refused at the connection cap (api.max_connections).",
        conns.refused.load(Ordering::Relaxed),
    );
    out.counter(
        "flex_api_connections_idle_closed_total",
        "API connections closed by the idle timeout (api.idle_timeout_ms).",
        conns.idle_closed.load(Ordering::Relaxed),
    );
    out.gauge(
        "flex_api_month_cache_bytes",
        "Claim trees held in memory, bytes (at most api.month_cache_bytes, or the latest tree).",
        api.inner.months.bytes() as f64,
    );
    out.counter(
        "flex_api_month_loads_total",
        "Claim trees loaded from the store into the month cache.",
        api.inner.months.loads(),
    );
    out.gauge(
        "flex_chain_connected",
        "1 when the keeper is connected to the chain.",
        flag(st.chain_connected.load(Ordering::Relaxed)),
    );
    out.gauge(
        "flex_chain_time_seconds",
        "Latest block time seen (unix seconds).",
        (st.chain_time_ms.load(Ordering::Relaxed) / 1000) as f64,
    );
    let next = st.next_epoch.load(Ordering::Relaxed);
    out.gauge(
        "flex_next_epoch",
        "The contract's next unfinalised epoch.",
        next as f64,
    );
    if next > 0 {
        out.gauge(
            "flex_last_finalized_epoch",
            "The contract's latest finalised epoch.",
            (next - 1) as f64,
        );
    }
    out.counter(
        "flex_epochs_closed_total",
        "Epochs computed and stored.",
        st.epochs_closed.load(Ordering::Relaxed),
    );
    out.counter(
        "flex_epoch_votes_total",
        "Epoch commitments voted.",
        st.epoch_votes.load(Ordering::Relaxed),
    );
    out.counter(
        "flex_month_votes_total",
        "Month roots voted.",
        st.month_votes.load(Ordering::Relaxed),
    );
    out.counter(
        "flex_chain_reconnects_total",
        "Chain reconnect attempts.",
        st.reconnects.load(Ordering::Relaxed),
    );
    out.counter(
        "flex_errors_total",
        "Failed keeper steps.",
        st.errors.load(Ordering::Relaxed),
    );
    out.counter(
        "flex_imported_actions_total",
        "Actions newly imported.",
        st.imported_actions.load(Ordering::Relaxed),
    );
    out.gauge(
        "flex_last_epoch_close_seconds",
        "Duration of the last epoch close (compute + store).",
        st.last_close_ms.load(Ordering::Relaxed) as f64 / 1e3,
    );
    out.gauge(
        "flex_completeness_check_seconds",
        "Duration of the last tick's completeness check (input files' fingerprints, every source's position).",
        st.last_check_us.load(Ordering::Relaxed) as f64 / 1e6,
    );
    out.gauge(
        "flex_is_keeper",
        "1 when this account is in the contract's keeper set.",
        flag(st.is_keeper.load(Ordering::Relaxed)),
    );
    out.gauge(
        "flex_epoch_close_held",
        "1 while an epoch due to close waits for a source (see /health holding).",
        flag(st.hold().is_some()),
    );
    out.gauge(
        "flex_month_root_held",
        "1 while a month's root waits for its claim price (see /health month_holding).",
        flag(st.month_hold().is_some()),
    );
    if let Some(b) = st.key_balance() {
        // Native base units; f64 keeps 53 bits, plenty for an alert threshold.
        out.gauge(
            "flex_key_balance",
            "The keeper key's free native balance (base units); it pays every vote's fee.",
            b.free as f64,
        );
        out.gauge(
            "flex_key_balance_floor",
            "chain.min_balance: the keeper key's balance floor (base units, 0 = none).",
            b.floor as f64,
        );
        out.gauge(
            "flex_key_balance_low",
            "1 when the keeper key's balance is below chain.min_balance.",
            flag(b.low),
        );
    }
    sources_and_disagreements(&api, &mut out);
    governance(&api, &mut out);
    let balances = api.relay_balances().await;
    api.inner.relay.families(&mut out, balances);
    let mut families = api.inner.metrics.registry.gather();
    families.append(&mut out.families);
    families.sort_by(|a, b| a.name().cmp(b.name()));
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    if let Err(e) = encoder.encode(&families, &mut body) {
        tracing::error!(error = %e, "encoding the metrics");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, encoder.format_type().to_string())], body).into_response()
}
