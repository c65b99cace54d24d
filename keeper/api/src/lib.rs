//! The keeper's HTTP API (axum). Read-only; served while the keeper runs, also when the chain is
//! unreachable.
//!
//! - `GET /v1/wallets/{address}`: connection, score array, per-epoch score, weight, reward.
//! - `GET /v1/claims/{month}/{address}[?beneficiary=0x…]`: amount, merkle proof, the exact message
//!   to sign (with a beneficiary), the month's status and the claim's status on chain.
//! - `GET /v1/epochs/{e}`: the commitment, its figures and finalisation status.
//! - `GET /health`, `GET /metrics` (Prometheus text), `GET /v1/openapi.json`.
//! - `POST /v1/actions`, `GET /v1/offchain`: signed off-chain action batches (`offchain`).
//!
//! Errors are JSON `{"error": {"code", "message"}}` with a 4xx status for bad input (an address
//! that is not `0x` + 40 hex digits, a month or epoch that is not a number) and 404 for what the
//! keeper does not know. Claim proofs come from the month's claim tree held in memory (loaded from
//! the store once per month), so a claim request does no database work.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use flex_service::Status;
use flex_store::{MonthRecord, Store};
use serde::Deserialize;
use serde_json::{json, Value};

mod offchain;
mod openapi;
mod web;

/// Shared state of the API.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    status: Arc<Status>,
    contract: [u8; 32],
    genesis: Option<i64>,
    months: RwLock<HashMap<u32, Arc<MonthCache>>>,
    claimed: Mutex<ClaimedCache>,
    metrics: Metrics,
    started: Instant,
    /// Submits relayed claims and pays their cost (`web`).
    relayer: std::sync::OnceLock<flex_chain::Keypair>,
    /// Accepts signed off-chain batches (`offchain`).
    offchain: std::sync::OnceLock<flex_service::offchain::Intake>,
}

/// `(month, wallet)` -> (claimed, when asked).
type ClaimedCache = HashMap<(u32, [u8; 20]), (bool, Instant)>;

struct MonthCache {
    record: RwLock<(MonthRecord, Instant)>,
    nodes: Vec<[u8; 32]>,
    by_wallet: HashMap<[u8; 20], (u128, u32)>,
}

const ROUTES: [&str; 6] = ["wallets", "claims", "epochs", "health", "metrics", "openapi"];

#[derive(Default)]
struct Metrics {
    /// Per route: 2xx, 4xx, 5xx.
    requests: [[AtomicU64; 3]; 6],
    /// Per route: total handling time, microseconds.
    micros: [AtomicU64; 6],
}

impl Metrics {
    fn record(&self, route: usize, status: StatusCode, started: Instant) {
        let class = match status.as_u16() {
            200..=399 => 0,
            400..=499 => 1,
            _ => 2,
        };
        self.requests[route][class].fetch_add(1, Ordering::Relaxed);
        self.micros[route].fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
}

/// An API error: status, code and message, rendered as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error (see the keeper's log)",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn parse_address(s: &str) -> Result<[u8; 20], ApiError> {
    let bad = || {
        ApiError::bad(
            "bad_address",
            format!("{s:?} is not an address (0x followed by 40 hex digits)"),
        )
    };
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(bad)?;
    if digits.len() != 40 {
        return Err(bad());
    }
    let bytes = hex::decode(digits).map_err(|_| bad())?;
    <[u8; 20]>::try_from(bytes).map_err(|_| bad())
}

fn parse_account(s: &str) -> Result<[u8; 32], ApiError> {
    let bad = || {
        ApiError::bad(
            "bad_beneficiary",
            format!("{s:?} is not an account (0x followed by 64 hex digits)"),
        )
    };
    let digits = s.strip_prefix("0x").ok_or_else(bad)?;
    let bytes = hex::decode(digits).map_err(|_| bad())?;
    <[u8; 32]>::try_from(bytes).map_err(|_| bad())
}

fn hex20(a: &[u8; 20]) -> String {
    format!("0x{}", hex::encode(a))
}

fn hex32(a: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(a))
}

/// `U64F64` bits as an exact decimal (64 fractional bits are exactly representable in at most 64
/// decimal digits; trailing zeros dropped).
pub fn u64f64_decimal(bits: u128) -> String {
    let int = bits >> 64;
    let mut frac = bits & u128::from(u64::MAX);
    if frac == 0 {
        return int.to_string();
    }
    let mut s = format!("{int}.");
    // frac / 2^64: multiply by 10 repeatedly; frac < 2^64 so frac*10 < 2^68 fits u128.
    while frac != 0 {
        frac *= 10;
        s.push(char::from(b'0' + (frac >> 64) as u8));
        frac &= u128::from(u64::MAX);
    }
    s
}

use flex_engine::calendar::month_name;

impl Api {
    /// `genesis` (unix seconds) is used for connection epochs in wallet answers.
    pub fn new(store: Arc<dyn Store>, status: Arc<Status>, contract: [u8; 32], genesis: Option<i64>) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                status,
                contract,
                genesis,
                months: RwLock::new(HashMap::new()),
                claimed: Mutex::new(HashMap::new()),
                metrics: Metrics::default(),
                started: Instant::now(),
                relayer: std::sync::OnceLock::new(),
                offchain: std::sync::OnceLock::new(),
            }),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/wallets/{address}", get(wallet))
            .route("/v1/claims/{month}/{address}", get(claim))
            .route("/v1/epochs/{epoch}", get(epoch))
            .route("/health", get(health))
            .route("/metrics", get(metrics))
            .route("/v1/openapi.json", get(openapi))
            .merge(web::routes())
            .merge(offchain::routes())
            .fallback(|| async {
                ApiError::not_found("not_found", "no such endpoint (see /v1/openapi.json)")
            })
            .with_state(self.clone())
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    fn month_cache(&self, m: u32) -> Result<Option<Arc<MonthCache>>, ApiError> {
        if let Some(c) = self.inner.months.read().ok().and_then(|map| map.get(&m).cloned()) {
            let stale = c
                .record
                .read()
                .map(|r| r.1.elapsed() > Duration::from_secs(1))
                .unwrap_or(true);
            if stale {
                if let Some(rec) = self.inner.store.month(m).map_err(ApiError::internal)? {
                    if let Ok(mut r) = c.record.write() {
                        *r = (rec, Instant::now());
                    }
                }
            }
            return Ok(Some(c));
        }
        let Some(rec) = self.inner.store.month(m).map_err(ApiError::internal)? else {
            return Ok(None);
        };
        let tree = self.inner.store.claim_tree(m).map_err(ApiError::internal)?;
        let (nodes, leaves) = tree.map(|t| (t.nodes, t.leaves)).unwrap_or_default();
        let by_wallet = leaves
            .iter()
            .map(|l| (l.wallet, (l.amount, l.tree_index)))
            .collect();
        let cache = Arc::new(MonthCache {
            record: RwLock::new((rec, Instant::now())),
            nodes,
            by_wallet,
        });
        if let Ok(mut map) = self.inner.months.write() {
            map.insert(m, cache.clone());
        }
        Ok(Some(cache))
    }

    /// The claim's status on chain: `Some(claimed)`, or `None` when the chain is unreachable.
    /// A `true` is kept; a `false` is asked again after two seconds.
    async fn claimed_on_chain(&self, m: u32, wallet: [u8; 20]) -> Option<bool> {
        if let Ok(map) = self.inner.claimed.lock() {
            if let Some((c, at)) = map.get(&(m, wallet)) {
                if *c || at.elapsed() < Duration::from_secs(2) {
                    return Some(*c);
                }
            }
        }
        let client = self.inner.status.client()?;
        let answer = tokio::time::timeout(Duration::from_secs(2), client.is_claimed(m, wallet)).await;
        match answer {
            Ok(Ok(c)) => {
                if let Ok(mut map) = self.inner.claimed.lock() {
                    map.insert((m, wallet), (c, Instant::now()));
                }
                Some(c)
            }
            _ => None,
        }
    }
}

async fn timed(api: &Api, route: usize, f: impl std::future::Future<Output = ApiResult>) -> Response {
    let started = Instant::now();
    let resp = match f.await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    api.inner.metrics.record(route, resp.status(), started);
    resp
}

async fn wallet(State(api): State<Api>, Path(address): Path<String>) -> Response {
    let a = api.clone();
    timed(&api, 0, async move {
        let wallet = parse_address(&address)?;
        let store = &a.inner.store;
        let Some(row) = store.wallet(&wallet).map_err(ApiError::internal)? else {
            return Err(ApiError::not_found(
                "unknown_wallet",
                format!("wallet {} is not known to this keeper", hex20(&wallet)),
            ));
        };
        let connection_epoch = a.inner.genesis.map(|g| {
            if row.connected_at < g {
                0
            } else {
                ((row.connected_at - g) / 86_400) as u64
            }
        });
        let rows = store
            .wallet_epochs(&wallet, 0, u64::MAX)
            .map_err(ApiError::internal)?;
        let array: String = rows
            .iter()
            .map(|r| {
                char::from_digit(u32::from(r.score), 16)
                    .unwrap_or('?')
                    .to_ascii_uppercase()
            })
            .collect();
        let total: u128 = rows.iter().map(|r| r.reward).sum();
        let epochs: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "epoch": r.epoch,
                    "score": format!("{:X}", r.score),
                    "weight": u64f64_decimal(r.weight),
                    "weight_bits": r.weight.to_string(),
                    "reward": r.reward.to_string(),
                })
            })
            .collect();
        Ok(Json(json!({
            "address": hex20(&wallet),
            "connected_at": row.connected_at,
            "connection_epoch": connection_epoch,
            "scores": array,
            "total_reward": total.to_string(),
            "epochs": epochs,
        }))
        .into_response())
    })
    .await
}

#[derive(Deserialize)]
struct ClaimQuery {
    beneficiary: Option<String>,
}

async fn claim(
    State(api): State<Api>,
    Path((month, address)): Path<(String, String)>,
    Query(q): Query<ClaimQuery>,
) -> Response {
    let a = api.clone();
    timed(&api, 1, async move {
        let m: u32 = month.parse().map_err(|_| {
            ApiError::bad(
                "bad_month",
                format!("{month:?} is not a month index (year*12 + month-1)"),
            )
        })?;
        let wallet = parse_address(&address)?;
        let beneficiary = q.beneficiary.as_deref().map(parse_account).transpose()?;
        let Some(cache) = a.month_cache(m)? else {
            return Err(ApiError::not_found(
                "unknown_month",
                format!(
                    "month {m} ({}) has no claim root at this keeper (not closed yet, or before genesis)",
                    month_name(m)
                ),
            ));
        };
        let Some(&(amount, index)) = cache.by_wallet.get(&wallet) else {
            return Err(ApiError::not_found(
                "no_claim",
                format!(
                    "wallet {} earned nothing in month {m} ({})",
                    hex20(&wallet),
                    month_name(m)
                ),
            ));
        };
        let proof: Vec<String> = flex_merkle::core::get_proof(&cache.nodes, index as usize)
            .map_err(ApiError::internal)?
            .iter()
            .map(hex32)
            .collect();
        let (phase, claims_root) = cache
            .record
            .read()
            .map(|r| (r.0.phase.as_str(), hex32(&r.0.claims_root)))
            .map_err(ApiError::internal)?;
        let message = beneficiary.map(|b| flex_evm::claim_message(&a.inner.contract, m, &wallet, amount, &b));
        let claimed = a.claimed_on_chain(m, wallet).await;
        Ok(Json(json!({
            "month_index": m,
            "month": month_name(m),
            "wallet": hex20(&wallet),
            "amount": amount.to_string(),
            "proof": proof,
            "claims_root": claims_root,
            "root_status": phase,
            "contract": hex32(&a.inner.contract),
            "beneficiary": beneficiary.map(|b| hex32(&b)),
            "message": message,
            "claim_status": match claimed {
                Some(true) => "claimed",
                Some(false) => "unclaimed",
                None => "unknown (chain unreachable)",
            },
        }))
        .into_response())
    })
    .await
}

async fn epoch(State(api): State<Api>, Path(e): Path<String>) -> Response {
    let a = api.clone();
    timed(&api, 2, async move {
        let n: u64 = e
            .parse()
            .map_err(|_| ApiError::bad("bad_epoch", format!("{e:?} is not an epoch number")))?;
        let Some(r) = a.inner.store.epoch(n).map_err(ApiError::internal)? else {
            return Err(ApiError::not_found(
                "unknown_epoch",
                format!("epoch {n} is not closed at this keeper"),
            ));
        };
        Ok(Json(json!({
            "epoch": r.epoch,
            "month_index": r.month_index,
            "status": r.phase.as_str(),
            "finalized": r.phase == flex_store::Phase::Finalized,
            "voted": r.voted,
            "commitment_hash": hex32(&r.commitment_hash),
            "commitment": format!("0x{}", hex::encode(&r.commitment)),
            "scores_root": hex32(&r.scores_root),
            "active": r.active,
            "ranked": r.ranked,
            "wallets": r.wallets,
            "multiplier_sum": r.multiplier_sum.to_string(),
            "total_weight": u64f64_decimal(r.total_weight),
            "total_weight_bits": r.total_weight.to_string(),
            "pool": r.pool.to_string(),
            "distributed": r.distributed.to_string(),
            "wallet_index": r.wallet_index,
            "halving": r.halving,
            "snapshot": r.snapshot.to_string(),
            "forecast": r.forecast.to_string(),
            "forecast_value": u64f64_decimal(r.forecast),
            // How it was made: the next epoch, the history used, what was published (the best
            // baseline, or none) with its held-out error, and per target every baseline's error
            // and forecast and the model's (reported, never committed: docs/PROTOCOL.md).
            "forecast_detail": serde_json::from_str::<serde_json::Value>(&r.forecast_detail)
                .unwrap_or(serde_json::Value::Null),
            "note": r.note,
        }))
        .into_response())
    })
    .await
}

async fn health(State(api): State<Api>) -> Response {
    let a = api.clone();
    timed(&api, 3, async move {
        let st = &a.inner.status;
        let last = a.inner.store.last_epoch();
        let connected = st.chain_connected.load(Ordering::Relaxed);
        let (code, store) = match &last {
            Ok(_) => (StatusCode::OK, "ok".to_string()),
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        };
        let body = json!({
            "status": if code != StatusCode::OK { "down" } else if connected { "ok" } else { "degraded" },
            "chain": {
                "connected": connected,
                "time_ms": st.chain_time_ms.load(Ordering::Relaxed),
                "next_epoch": st.next_epoch.load(Ordering::Relaxed),
            },
            "store": store,
            "last_epoch": last.ok().flatten(),
            "uptime_s": a.inner.started.elapsed().as_secs(),
        });
        Ok((code, Json(body)).into_response())
    })
    .await
}

async fn metrics(State(api): State<Api>) -> Response {
    let a = api.clone();
    timed(&api, 4, async move {
        let st = &a.inner.status;
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, v: u64| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"));
        };
        gauge("flex_chain_connected", "1 when the keeper is connected to the chain.", "gauge", u64::from(st.chain_connected.load(Ordering::Relaxed)));
        gauge("flex_chain_time_seconds", "Latest block time seen.", "gauge", st.chain_time_ms.load(Ordering::Relaxed) / 1000);
        gauge("flex_next_epoch", "The contract's next unfinalised epoch.", "gauge", st.next_epoch.load(Ordering::Relaxed));
        gauge("flex_epochs_closed_total", "Epochs computed and stored.", "counter", st.epochs_closed.load(Ordering::Relaxed));
        gauge("flex_epoch_votes_total", "Epoch commitments voted.", "counter", st.epoch_votes.load(Ordering::Relaxed));
        gauge("flex_month_votes_total", "Month roots voted.", "counter", st.month_votes.load(Ordering::Relaxed));
        gauge("flex_chain_reconnects_total", "Chain reconnect attempts.", "counter", st.reconnects.load(Ordering::Relaxed));
        gauge("flex_errors_total", "Failed keeper steps.", "counter", st.errors.load(Ordering::Relaxed));
        gauge("flex_imported_actions_total", "Actions newly imported.", "counter", st.imported_actions.load(Ordering::Relaxed));
        gauge("flex_last_epoch_close_milliseconds", "Duration of the last epoch close (compute + store).", "gauge", st.last_close_ms.load(Ordering::Relaxed));
        out.push_str("# HELP flex_api_requests_total API requests by route and status class.\n# TYPE flex_api_requests_total counter\n");
        for (i, route) in ROUTES.iter().enumerate() {
            for (j, class) in ["2xx", "4xx", "5xx"].iter().enumerate() {
                let v = a.inner.metrics.requests[i][j].load(Ordering::Relaxed);
                out.push_str(&format!("flex_api_requests_total{{route=\"{route}\",status=\"{class}\"}} {v}\n"));
            }
        }
        out.push_str("# HELP flex_api_request_seconds_sum Time spent handling API requests.\n# TYPE flex_api_request_seconds_sum counter\n");
        for (i, route) in ROUTES.iter().enumerate() {
            let us = a.inner.metrics.micros[i].load(Ordering::Relaxed);
            out.push_str(&format!("flex_api_request_seconds_sum{{route=\"{route}\"}} {}.{:06}\n", us / 1_000_000, us % 1_000_000));
        }
        Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
    })
    .await
}

async fn openapi(State(api): State<Api>) -> Response {
    timed(&api, 5, async {
        let mut doc = openapi::document();
        web::openapi_extend(&mut doc);
        offchain::openapi_extend(&mut doc);
        Ok(Json(doc).into_response())
    })
    .await
}

#[cfg(test)]
mod tests;
