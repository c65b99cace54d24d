//! `GET /v1/wallets/{address}`: a wallet's connection, score array and per-epoch figures.

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::format::{parse_address, u64f64_decimal};
use crate::Api;

/// The answer (fields in alphabetical order: the JSON keys stay sorted as clients know them).
#[derive(Serialize)]
pub(crate) struct Wallet {
    address: String,
    /// Unix seconds.
    connected_at: i64,
    /// `null` when the keeper has no genesis.
    connection_epoch: Option<u64>,
    epochs: Vec<WalletEpoch>,
    /// One upper-case hex digit per closed epoch.
    scores: String,
    total_reward: String,
}

#[derive(Serialize)]
pub(crate) struct WalletEpoch {
    epoch: u64,
    reward: String,
    score: String,
    /// Exact decimal of `weight_bits`.
    weight: String,
    /// Raw `U64F64` bits.
    weight_bits: String,
}

pub(crate) async fn wallet(State(api): State<Api>, Path(address): Path<String>) -> ApiResult<Json<Wallet>> {
    let wallet = parse_address(&address)?;
    let found = api
        .with_store(move |s| match s.wallet(&wallet)? {
            Some(row) => Ok(Some((row, s.wallet_epochs(&wallet, 0, u64::MAX)?))),
            None => Ok::<_, flex_store::StoreError>(None),
        })
        .await?;
    let Some((row, rows)) = found else {
        return Err(ApiError::not_found(
            "unknown_wallet",
            format!("wallet {} is not known to this keeper", wallet),
        ));
    };
    let connection_epoch = api.inner.genesis.map(|g| {
        if row.connected_at < g {
            0
        } else {
            ((row.connected_at - g) / 86_400) as u64
        }
    });
    let scores: String = rows
        .iter()
        .map(|r| {
            char::from_digit(u32::from(r.score), 16)
                .unwrap_or('?')
                .to_ascii_uppercase()
        })
        .collect();
    let total: u128 = rows.iter().map(|r| r.reward).sum();
    let epochs = rows
        .iter()
        .map(|r| WalletEpoch {
            epoch: r.epoch,
            reward: r.reward.to_string(),
            score: format!("{:X}", r.score),
            weight: u64f64_decimal(r.weight),
            weight_bits: r.weight.to_string(),
        })
        .collect();
    Ok(Json(Wallet {
        address: wallet.to_string(),
        connected_at: row.connected_at,
        connection_epoch,
        epochs,
        scores,
        total_reward: total.to_string(),
    }))
}
