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

/// `GET /v1/wallets/{address}/claims` (fields in alphabetical order).
#[derive(Serialize)]
pub(crate) struct WalletClaims {
    /// By month, oldest first; months in which the wallet earned nothing are left out.
    claims: Vec<WalletClaim>,
    wallet: String,
}

#[derive(Serialize)]
pub(crate) struct WalletClaim {
    amount: String,
    /// As in `GET /v1/claims/{month}/{address}`.
    claim_status: &'static str,
    claims_root: String,
    /// `YYYY-MM`.
    month: String,
    month_index: u32,
    root_status: &'static str,
    /// The claim with its proof and the message to sign.
    url: String,
}

pub(crate) async fn claims(
    State(api): State<Api>,
    Path(address): Path<String>,
) -> ApiResult<Json<WalletClaims>> {
    let wallet = parse_address(&address)?;
    let store = api.inner.store.clone();
    let rows = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        if store.wallet(&wallet).map_err(ApiError::internal)?.is_none() {
            return Ok(None);
        }
        let mut rows = Vec::new();
        for month in store.months().map_err(ApiError::internal)? {
            if let Some(claim) = store
                .claim(month.month_index, &wallet)
                .map_err(ApiError::internal)?
            {
                rows.push((month, claim.amount));
            }
        }
        Ok(Some(rows))
    })
    .await
    .map_err(ApiError::internal)??;
    let Some(mut rows) = rows else {
        return Err(ApiError::not_found(
            "unknown_wallet",
            format!("wallet {} is not known to this keeper", wallet),
        ));
    };
    rows.sort_by_key(|(m, _)| m.month_index);
    // The months' claimed flags, asked of the chain side by side (each cached by `Api`).
    let mut asks = tokio::task::JoinSet::new();
    for (m, _) in &rows {
        let (api, m) = (api.clone(), m.month_index);
        asks.spawn(async move { (m, api.claimed_on_chain(m, wallet).await) });
    }
    let mut claimed = std::collections::HashMap::new();
    while let Some(answer) = asks.join_next().await {
        if let Ok((m, c)) = answer {
            claimed.insert(m, c);
        }
    }
    let claims = rows
        .into_iter()
        .map(|(m, amount)| WalletClaim {
            amount: amount.to_string(),
            claim_status: match claimed.get(&m.month_index).copied().flatten() {
                Some(true) => "claimed",
                Some(false) => "unclaimed",
                None => "unknown (chain unreachable)",
            },
            claims_root: flex_types::hex::encode(m.claims_root),
            month: flex_engine::calendar::month_name(m.month_index),
            month_index: m.month_index,
            root_status: m.phase.as_str(),
            url: format!("/v1/claims/{}/{}", m.month_index, wallet),
        })
        .collect();
    Ok(Json(WalletClaims {
        claims,
        wallet: wallet.to_string(),
    }))
}
