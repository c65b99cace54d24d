//! `GET /health`: liveness of the store and the chain connection, each source's state, the epoch
//! the keeper waits on, its disagreements with the chain and the pool's pending governance changes.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use flex_sources::{Disagreement, Hold, KeyBalance, MonthHold, PendingGovernance, SourceState};
use serde::Serialize;

use crate::Api;

/// The answer (fields in alphabetical order: the JSON keys stay sorted as clients know them).
#[derive(Serialize)]
pub(crate) struct Health {
    chain: HealthChain,
    /// Where this keeper's results differ from the chain's: an epoch or month the chain finalised
    /// with another hash (`epoch_mismatch`, `month_mismatch`), or an epoch or month whose votes are
    /// split so that no commitment can reach the quorum (`epoch_split`, `month_split`); each with
    /// both hashes.
    disagreements: Vec<Disagreement>,
    /// The pool's time-locked changes announced by the owner and not yet executed or cancelled.
    governance: HealthGovernance,
    /// The epoch the keeper waits to close and the source holding it back; `null` when none.
    holding: Option<Hold>,
    last_epoch: Option<u64>,
    /// The keeper key's free native balance, `chain.min_balance` and whether it is below it (which
    /// degrades the status); `null` before the first read.
    key_balance: Option<KeyBalance>,
    /// The earliest month whose root waits (its claim price is missing from the price table) and
    /// why; `null` when none. Degrades the status.
    month_holding: Option<MonthHold>,
    /// The claim relay's account and balances; `null` without a relayer.
    relay: Option<HealthRelay>,
    /// Every source: its kind, state (`ok`, `failed`, `stopped`), last error, failures counted,
    /// and (chain followers) the block read up to and its time.
    sources: Vec<SourceState>,
    /// `ok`; `degraded` (no chain, a source failed or stopped, a disagreement with the chain, a
    /// month's root waiting, the keeper key's balance below its floor, or the relayer's balance
    /// low); `down` (no store).
    status: &'static str,
    /// `ok`, or the store's error.
    store: String,
    uptime_s: u64,
}

#[derive(Serialize)]
pub(crate) struct HealthChain {
    connected: bool,
    /// Whether this account is in the contract's keeper set (it votes).
    is_keeper: bool,
    next_epoch: u64,
    time_ms: u64,
}

/// The relayer (fields in alphabetical order). Balances in base units as decimal strings (they
/// may exceed 2^53); `null` when never read (no chain yet).
#[derive(Serialize)]
pub(crate) struct HealthRelay {
    account: String,
    /// Transaction fees the relayer paid since the keeper started.
    fees_spent: String,
    /// The native balance is below `min_balance`: top the relayer up, or relays will fail.
    low_balance: bool,
    /// Why the keeper is degraded when `low_balance`, naming the account and both figures;
    /// `null` otherwise.
    message: Option<String>,
    /// `api.relay_min_balance` (0: never low).
    min_balance: String,
    native_balance: Option<String>,
    /// Of the pool's payment token, which pays claim costs.
    payment_balance: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct HealthGovernance {
    /// Each change with its `id`, `action`, `target`, `eta` (block time from which the owner can
    /// execute it, unix ms), `expires`, `announced_at` and whether it adds or removes this keeper
    /// (`this_keeper`). A pending change does not degrade the status: it is the warning.
    pending: Vec<PendingGovernance>,
}

/// 200 while the store answers (also without a chain: the API serves from the store), else 503.
pub(crate) async fn health(State(api): State<Api>) -> (StatusCode, Json<Health>) {
    let st = &api.inner.status;
    // Off the async workers, as every store call of the API.
    let store = api.inner.store.clone();
    let last = tokio::task::spawn_blocking(move || store.last_epoch().map_err(|e| e.to_string()))
        .await
        .unwrap_or_else(|e| Err(format!("the store task failed: {e}")));
    let connected = st.chain_connected.load(Ordering::Relaxed);
    let (code, store) = match &last {
        Ok(_) => (StatusCode::OK, "ok".to_string()),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.clone()),
    };
    let sources = st.sources();
    let disagreements = st.disagreements();
    let month_holding = st.month_hold();
    let key_balance = st.key_balance();
    let relay = match api.inner.relayer.get() {
        None => None,
        Some(key) => {
            let balances = api.relay_balances().await;
            let stats = &api.inner.relay;
            let account = flex_types::hex::encode(flex_chain::account_of(key).0);
            let low = balances.filter(|b| stats.is_low(b));
            Some(HealthRelay {
                message: low.map(|b| {
                    format!(
                        "the relayer {account}'s native balance {} is below api.relay_min_balance {}: \
                         top it up, or relayed claims will fail for want of fees",
                        b.native,
                        stats.min_balance()
                    )
                }),
                account,
                fees_spent: stats.fees_spent().to_string(),
                low_balance: low.is_some(),
                min_balance: stats.min_balance().to_string(),
                native_balance: balances.map(|b| b.native.to_string()),
                payment_balance: balances.and_then(|b| b.payment).map(|p| p.to_string()),
            })
        }
    };
    let relay_low = relay.as_ref().is_some_and(|r| r.low_balance);
    let status = if code != StatusCode::OK {
        "down"
    } else if connected
        && !relay_low
        && disagreements.is_empty()
        && month_holding.is_none()
        && !key_balance.is_some_and(|b| b.low)
        && sources.iter().all(|s| s.state == "ok")
    {
        "ok"
    } else {
        "degraded"
    };
    let body = Health {
        chain: HealthChain {
            connected,
            is_keeper: st.is_keeper.load(Ordering::Relaxed),
            next_epoch: st.next_epoch.load(Ordering::Relaxed),
            time_ms: st.chain_time_ms.load(Ordering::Relaxed),
        },
        disagreements,
        governance: HealthGovernance {
            pending: st.governance(),
        },
        holding: st.hold(),
        last_epoch: last.ok().flatten(),
        key_balance,
        month_holding,
        relay,
        sources,
        status,
        store,
        uptime_s: api.inner.started.elapsed().as_secs(),
    };
    (code, Json(body))
}
