//! `GET /v1/claims/{month}/{address}[?beneficiary=0x…]`: a wallet's claim for a month, with its
//! proof from the month's cached tree and, given a beneficiary, the exact message to sign.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use flex_engine::calendar::month_name;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::format::{parse_account, parse_address, parse_month};
use crate::Api;
use flex_types::hex;

#[derive(Deserialize)]
pub(crate) struct ClaimQuery {
    beneficiary: Option<String>,
}

/// The answer (fields in alphabetical order: the JSON keys stay sorted as clients know them).
#[derive(Serialize)]
pub(crate) struct Claim {
    amount: String,
    beneficiary: Option<String>,
    /// The chain's genesis hash (the message's `chain` line); `null` until the keeper connected.
    chain: Option<String>,
    /// `claimed`, `unclaimed` or `unknown (chain unreachable)`.
    claim_status: &'static str,
    claims_root: String,
    contract: String,
    /// The claim message of `docs/PROTOCOL.md`; `null` without a beneficiary.
    message: Option<String>,
    /// `YYYY-MM`.
    month: String,
    month_index: u32,
    proof: Vec<String>,
    root_status: &'static str,
    wallet: String,
    /// The claim window as the pool computes it (pauses extend it); `null` when the chain is
    /// unreachable.
    window: Option<Window>,
}

/// A month's claim window on chain: claims from `open` to before `close` (unix seconds).
/// `calendar_close` is the close without pauses (the 1st of month m+2); `close` is later by the
/// paused time inside the window; while `paused`, `close` is computed as if the pause ended now.
#[derive(Serialize)]
pub(crate) struct Window {
    calendar_close: i64,
    close: u64,
    open: u64,
    paused: bool,
}

pub(crate) async fn claim(
    State(api): State<Api>,
    Path((month, address)): Path<(String, String)>,
    query: Result<Query<ClaimQuery>, QueryRejection>,
) -> ApiResult {
    let m = parse_month(&month)?;
    let Query(q) = query.map_err(|e| {
        ApiError::bad(
            "bad_query",
            format!(
                "the query string is not ?beneficiary=… once: {}",
                crate::format::prefix(&e.body_text(), 120)
            ),
        )
    })?;
    let wallet = parse_address(&address)?;
    let beneficiary = q.beneficiary.as_deref().map(parse_account).transpose()?;
    let Some(cache) = api.month_cache(m).await? else {
        return Err(ApiError::not_found(
            "unknown_month",
            format!(
                "month {m} ({}) has no claim root at this keeper (not closed yet, or before genesis)",
                month_name(m)
            ),
        ));
    };
    if let Ok(r) = cache.record.read() {
        if r.0.phase == flex_store::Phase::Mismatch {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "root_mismatch",
                format!(
                    "month {m} ({}): this keeper's claim root differs from the one finalised on chain ({}); its proofs would be refused. Ask another keeper, or resync this one (flex-keeper resync)",
                    month_name(m),
                    r.0.note
                ),
            ));
        }
    }
    let Some(&(amount, index)) = cache.by_wallet.get(&wallet) else {
        return Err(ApiError::not_found(
            "no_claim",
            format!(
                "wallet {} earned nothing in month {m} ({})",
                wallet,
                month_name(m)
            ),
        ));
    };
    let proof = flex_merkle::core::get_proof(&cache.nodes, index as usize)
        .map_err(ApiError::internal)?
        .iter()
        .map(hex::encode)
        .collect();
    let (root_status, claims_root) = cache
        .record
        .read()
        .map(|r| (r.0.phase.as_str(), hex::encode(r.0.claims_root)))
        .map_err(ApiError::internal)?;
    let chain = api.chain_genesis().await?;
    let message = match beneficiary {
        Some(b) => {
            let chain = api.chain_genesis_for_claims().await?;
            Some(flex_evm::claim_message(
                &chain,
                &api.inner.contract.0,
                m,
                &wallet,
                amount,
                &b,
            ))
        }
        None => None,
    };
    let claimed = api.claimed_on_chain(m, wallet).await;
    let window = api.window_on_chain(m).await.map(|w| Window {
        calendar_close: flex_engine::calendar::month_start(m.saturating_add(2)),
        close: w.close,
        open: w.open,
        paused: w.paused,
    });
    // A finalised month's amount and proof never change; its claim status may, so shared caches
    // keep the answer as long as this keeper does (two seconds).
    let cache_control = if root_status == flex_store::Phase::Finalized.as_str() {
        "public, max-age=2"
    } else {
        "no-cache"
    };
    let body = Json(Claim {
        amount: amount.to_string(),
        beneficiary: beneficiary.map(hex::encode),
        chain: chain.map(hex::encode),
        claim_status: match claimed {
            Some(true) => "claimed",
            Some(false) => "unclaimed",
            None => "unknown (chain unreachable)",
        },
        claims_root,
        contract: hex::encode(api.inner.contract),
        message,
        month: month_name(m),
        month_index: m,
        proof,
        root_status,
        wallet: wallet.to_string(),
        window,
    });
    Ok(([(header::CACHE_CONTROL, cache_control)], body).into_response())
}
