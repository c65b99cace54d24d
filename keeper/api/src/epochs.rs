//! `GET /v1/epochs/{epoch}`: a closed epoch's commitment, figures and finalisation status.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::format::{parse_epoch, u64f64_decimal};
use crate::Api;
use flex_types::hex;

/// The answer (fields in alphabetical order: the JSON keys stay sorted as clients know them).
/// u128 figures are decimal strings; `U64F64` values come as raw bits and as an exact decimal.
#[derive(Serialize)]
pub(crate) struct Epoch {
    active: u64,
    /// The SCALE-encoded commitment, hex.
    commitment: String,
    commitment_hash: String,
    distributed: String,
    epoch: u64,
    finalized: bool,
    forecast: String,
    /// How the forecast was made: the next epoch, the history used, what was published (the best
    /// baseline, or none) with its held-out error, and per target every baseline's error and
    /// forecast and the model's (reported, never committed: docs/PROTOCOL.md). `null` if none.
    forecast_detail: Value,
    forecast_value: String,
    halving: u64,
    month_index: u32,
    multiplier_sum: String,
    note: String,
    pool: String,
    ranked: u64,
    scores_root: String,
    snapshot: String,
    status: &'static str,
    total_weight: String,
    total_weight_bits: String,
    voted: bool,
    wallet_index: u8,
    wallets: u64,
}

pub(crate) async fn epoch(State(api): State<Api>, Path(e): Path<String>) -> ApiResult {
    let n = parse_epoch(&e)?;
    let Some(r) = api.with_store(move |s| s.epoch(n)).await? else {
        return Err(ApiError::not_found(
            "unknown_epoch",
            format!("epoch {n} is not closed at this keeper"),
        ));
    };
    // A finalised epoch never changes: caches may keep it for good.
    let cache_control = if r.phase == flex_store::Phase::Finalized {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let body = Json(Epoch {
        active: r.active,
        commitment: hex::encode(&r.commitment),
        commitment_hash: hex::encode(r.commitment_hash),
        distributed: r.distributed.to_string(),
        epoch: r.epoch,
        finalized: r.phase == flex_store::Phase::Finalized,
        forecast: r.forecast.to_string(),
        // Kept as stored (a JSON text written by the keeper); an empty or unreadable one is null.
        forecast_detail: serde_json::from_str(&r.forecast_detail).unwrap_or(Value::Null),
        forecast_value: u64f64_decimal(r.forecast),
        halving: r.halving,
        month_index: r.month_index,
        multiplier_sum: r.multiplier_sum.to_string(),
        note: r.note,
        pool: r.pool.to_string(),
        ranked: r.ranked,
        scores_root: hex::encode(r.scores_root),
        snapshot: r.snapshot.to_string(),
        status: r.phase.as_str(),
        total_weight: u64f64_decimal(r.total_weight),
        total_weight_bits: r.total_weight.to_string(),
        voted: r.voted,
        wallet_index: r.wallet_index,
        wallets: r.wallets,
    });
    Ok(([(header::CACHE_CONTROL, cache_control)], body).into_response())
}
