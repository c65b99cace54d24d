//! `GET /health`: liveness of the store and the chain connection.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::Api;

/// The answer (fields in alphabetical order: the JSON keys stay sorted as clients know them).
#[derive(Serialize)]
pub(crate) struct Health {
    chain: HealthChain,
    last_epoch: Option<u64>,
    /// `ok`, `degraded` (no chain) or `down` (no store).
    status: &'static str,
    /// `ok`, or the store's error.
    store: String,
    uptime_s: u64,
}

#[derive(Serialize)]
pub(crate) struct HealthChain {
    connected: bool,
    next_epoch: u64,
    time_ms: u64,
}

/// 200 while the store answers (also without a chain: the API serves from the store), else 503.
pub(crate) async fn health(State(api): State<Api>) -> (StatusCode, Json<Health>) {
    let st = &api.inner.status;
    let last = api.inner.store.last_epoch();
    let connected = st.chain_connected.load(Ordering::Relaxed);
    let (code, store) = match &last {
        Ok(_) => (StatusCode::OK, "ok".to_string()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let status = if code != StatusCode::OK {
        "down"
    } else if connected {
        "ok"
    } else {
        "degraded"
    };
    let body = Health {
        chain: HealthChain {
            connected,
            next_epoch: st.next_epoch.load(Ordering::Relaxed),
            time_ms: st.chain_time_ms.load(Ordering::Relaxed),
        },
        last_epoch: last.ok().flatten(),
        status,
        store,
        uptime_s: api.inner.started.elapsed().as_secs(),
    };
    (code, Json(body))
}
