//! Request counts and handling time per route, recorded by one middleware ([`track`]) for every
//! request, and the `/metrics` text (Prometheus exposition format, written by hand for now).
//!
//! Routes are labelled by their matched path template (`/v1/wallets/{address}`), never by the URI:
//! one series per route whatever the address asked, so the label set stays small. Requests no
//! route matched share the label [`UNMATCHED`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use flex_sources::{DisagreementKind, SourceKind};

use crate::Api;

/// The `route` label of requests no route matched (the 404 fallback).
pub(crate) const UNMATCHED: &str = "unmatched";

/// Status classes counted per route, in label order.
const CLASSES: [&str; 3] = ["2xx", "4xx", "5xx"];

#[derive(Default)]
struct RouteStats {
    /// Per class of [`CLASSES`].
    requests: [AtomicU64; 3],
    /// Total handling time, microseconds.
    micros: AtomicU64,
}

/// Per route label. Counters are atomics, so a request takes only the read lock; the write lock
/// is for registering routes (once, when the router is built).
pub(crate) struct Metrics {
    routes: RwLock<BTreeMap<String, RouteStats>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut routes = BTreeMap::new();
        routes.insert(UNMATCHED.to_string(), RouteStats::default());
        Self {
            routes: RwLock::new(routes),
        }
    }
}

impl Metrics {
    /// Lists `route` with zero counts, so that every route is exported before its first request.
    pub(crate) fn register(&self, route: &str) {
        // Counters stay valid whatever panicked while holding the lock: poisoning is ignored.
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        routes.entry(route.to_string()).or_default();
    }

    fn record(&self, route: &str, status: StatusCode, took: Duration) {
        let class = match status.as_u16() {
            200..=399 => 0,
            400..=499 => 1,
            _ => 2,
        };
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let add = |s: &RouteStats| {
            s.requests[class].fetch_add(1, Ordering::Relaxed);
            s.micros.fetch_add(micros, Ordering::Relaxed);
        };
        {
            let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(s) = routes.get(route) {
                add(s);
                return;
            }
        }
        // A route the router did not register (none today): listed from its first request.
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        add(routes.entry(route.to_string()).or_default());
    }

    /// The `flex_api_*` series, routes in path order.
    fn render(&self, out: &mut String) {
        let routes = self.routes.read().unwrap_or_else(PoisonError::into_inner);
        out.push_str(
            "# HELP flex_api_requests_total API requests by route and status class.\n\
             # TYPE flex_api_requests_total counter\n",
        );
        for (route, s) in routes.iter() {
            for (class, n) in CLASSES.iter().zip(&s.requests) {
                let n = n.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "flex_api_requests_total{{route=\"{route}\",status=\"{class}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP flex_api_request_seconds_sum Time spent handling API requests.\n\
             # TYPE flex_api_request_seconds_sum counter\n",
        );
        for (route, s) in routes.iter() {
            let us = s.micros.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "flex_api_request_seconds_sum{{route=\"{route}\"}} {}.{:06}",
                us / 1_000_000,
                us % 1_000_000
            );
        }
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

/// Per source: up (1 ok, 0 failed or stopped), failures, cursor time; per kind of disagreement
/// with the chain: how many, and the epoch (or month) of the latest.
fn sources_and_disagreements(api: &Api, out: &mut String) {
    let st = &api.inner.status;
    let sources = st.sources();
    out.push_str("# HELP flex_source_up 1 when the source imports cleanly (0: failed or stopped).\n# TYPE flex_source_up gauge\n");
    for s in &sources {
        let _ = writeln!(
            out,
            "flex_source_up{{source=\"{}\",kind=\"{}\"}} {}",
            label(&s.name),
            kind_label(s.kind),
            u64::from(s.state == "ok")
        );
    }
    out.push_str("# HELP flex_source_failures_total Source failures (each change of error counts once).\n# TYPE flex_source_failures_total counter\n");
    for s in &sources {
        let _ = writeln!(
            out,
            "flex_source_failures_total{{source=\"{}\",kind=\"{}\"}} {}",
            label(&s.name),
            kind_label(s.kind),
            s.failures
        );
    }
    out.push_str("# HELP flex_source_cursor_time_seconds Block time a chain follower has read up to.\n# TYPE flex_source_cursor_time_seconds gauge\n");
    for s in &sources {
        if let Some(t) = s.cursor_time {
            let _ = writeln!(
                out,
                "flex_source_cursor_time_seconds{{source=\"{}\",kind=\"{}\"}} {t}",
                label(&s.name),
                kind_label(s.kind)
            );
        }
    }
    let disagreements = st.disagreements();
    out.push_str("# HELP flex_disagreements Epochs or months where this keeper differs from the chain, by kind.\n# TYPE flex_disagreements gauge\n");
    for kind in DisagreementKind::ALL {
        let n = disagreements.iter().filter(|d| d.kind == kind).count();
        let _ = writeln!(out, "flex_disagreements{{kind=\"{}\"}} {n}", kind.as_str());
    }
}

/// The pool's pending governance changes by action, and the earliest time one can take effect.
fn governance(api: &Api, out: &mut String) {
    let pending = api.inner.status.governance();
    out.push_str("# HELP flex_governance_pending Announced governance changes not yet executed or cancelled, by action.\n# TYPE flex_governance_pending gauge\n");
    for action in ["add_keeper", "remove_keeper", "set_min_threshold", "set_treasury"] {
        let n = pending.iter().filter(|p| p.action == action).count();
        let _ = writeln!(out, "flex_governance_pending{{action=\"{action}\"}} {n}");
    }
    if let Some(eta) = pending.iter().map(|p| p.eta).min() {
        let _ = write!(
            out,
            "# HELP flex_governance_next_eta_seconds Earliest block time a pending governance change can be executed.\n\
             # TYPE flex_governance_next_eta_seconds gauge\nflex_governance_next_eta_seconds {}\n",
            eta / 1000
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

/// A label value with `\\`, `"` and newlines escaped (Prometheus text format).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics`: the keeper's status and the API's request series.
pub(crate) async fn metrics(State(api): State<Api>) -> Response {
    let st = &api.inner.status;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, v: u64| {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
    };
    gauge(
        "flex_chain_connected",
        "1 when the keeper is connected to the chain.",
        "gauge",
        u64::from(st.chain_connected.load(Ordering::Relaxed)),
    );
    gauge(
        "flex_chain_time_seconds",
        "Latest block time seen.",
        "gauge",
        st.chain_time_ms.load(Ordering::Relaxed) / 1000,
    );
    gauge(
        "flex_next_epoch",
        "The contract's next unfinalised epoch.",
        "gauge",
        st.next_epoch.load(Ordering::Relaxed),
    );
    gauge(
        "flex_epochs_closed_total",
        "Epochs computed and stored.",
        "counter",
        st.epochs_closed.load(Ordering::Relaxed),
    );
    gauge(
        "flex_epoch_votes_total",
        "Epoch commitments voted.",
        "counter",
        st.epoch_votes.load(Ordering::Relaxed),
    );
    gauge(
        "flex_month_votes_total",
        "Month roots voted.",
        "counter",
        st.month_votes.load(Ordering::Relaxed),
    );
    gauge(
        "flex_chain_reconnects_total",
        "Chain reconnect attempts.",
        "counter",
        st.reconnects.load(Ordering::Relaxed),
    );
    gauge(
        "flex_errors_total",
        "Failed keeper steps.",
        "counter",
        st.errors.load(Ordering::Relaxed),
    );
    gauge(
        "flex_imported_actions_total",
        "Actions newly imported.",
        "counter",
        st.imported_actions.load(Ordering::Relaxed),
    );
    gauge(
        "flex_last_epoch_close_milliseconds",
        "Duration of the last epoch close (compute + store).",
        "gauge",
        st.last_close_ms.load(Ordering::Relaxed),
    );
    gauge(
        "flex_completeness_check_microseconds",
        "Duration of the last tick's completeness check (input files' fingerprints, every source's position).",
        "gauge",
        st.last_check_us.load(Ordering::Relaxed),
    );
    gauge(
        "flex_is_keeper",
        "1 when this account is in the contract's keeper set.",
        "gauge",
        u64::from(st.is_keeper.load(Ordering::Relaxed)),
    );
    let hold = st.hold();
    gauge(
        "flex_epoch_close_held",
        "1 while an epoch due to close waits for a source (see /health holding).",
        "gauge",
        u64::from(hold.is_some()),
    );
    sources_and_disagreements(&api, &mut out);
    governance(&api, &mut out);
    api.inner.metrics.render(&mut out);
    let balances = api.relay_balances().await;
    api.inner.relay.render(&mut out, balances);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
