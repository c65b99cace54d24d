//! The keeper's HTTP API (axum). Read-only apart from the relay and the attester intake; served
//! while the keeper runs, also when the chain is unreachable.
//!
//! - `GET /v1/wallets/{address}`: connection, score array, per-epoch score, weight, reward.
//! - `GET /v1/claims/{month}/{address}[?beneficiary=0x…]`: amount, merkle proof, the exact message
//!   to sign (with a beneficiary), the month's status and the claim's status on chain.
//! - `GET /v1/epochs/{e}`: the commitment, its figures and finalisation status.
//! - `GET /health`, `GET /metrics` (Prometheus text), `GET /v1/openapi.json`.
//! - `GET /` (the claimer page), `GET /v1/info`, `POST /v1/claims/{month}/{address}/relay`.
//! - `POST /v1/actions`, `GET /v1/offchain`: signed off-chain action batches.
//!
//! Errors are JSON `{"error": {"code", "message"}}` with a 4xx status for bad input (an address
//! that is not `0x` + 40 hex digits, a month or epoch that is not a number) and 404 for what the
//! keeper does not know. Claim proofs come from the month's claim tree held in memory (loaded from
//! the store once per month), so a claim request does no database work.
//!
//! Where things are:
//! - `routes`: the `Router`: every path with its handler, the fallback, the metrics middleware.
//! - `state`: [`Api`], what the handlers share (store, chain status, month and claim caches).
//! - `wallets`, `claims`, `epochs`, `health`: the read handlers, one module per resource, each
//!   with its typed response.
//! - `web`: the claimer page, `/v1/info` and the claim relay; `relay_stats`: its queue and counts.
//! - `offchain`: the attester intake (`POST /v1/actions`, `GET /v1/offchain`).
//! - `error`: [`ApiError`] and the JSON shape of every error answer.
//! - `metrics`: request counts and times per matched route, and the `/metrics` text.
//! - `format`: how inputs are parsed and values written (addresses, accounts, hex, decimals).
//! - `openapi`: the OpenAPI document.
//! - `tls`: serving the same router over HTTPS (rustls) when the keeper has a certificate.

mod claims;
mod epochs;
mod error;
mod format;
mod health;
mod metrics;
mod offchain;
mod openapi;
mod relay;
mod relay_stats;
mod routes;
mod state;
pub mod tls;
mod wallets;
mod web;

pub use error::ApiError;
pub use format::u64f64_decimal;
pub use state::Api;

#[cfg(test)]
mod tests;
