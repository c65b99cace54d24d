//! The keeper's HTTP API (axum). Read-only apart from the relay and the attester intake; served
//! while the keeper runs, also when the chain is unreachable.
//!
//! - `GET /v1/wallets/{address}`: connection, score array, per-epoch score, weight, reward;
//!   `GET /v1/wallets/{address}/claims`: every month the wallet can claim, with amount and status.
//! - `GET /v1/claims/{month}/{address}[?beneficiary=0x…]`: amount, merkle proof, the exact message
//!   to sign (with a beneficiary), the month's status and the claim's status on chain.
//! - `GET /v1/epochs/{e}`: the commitment, its figures and finalisation status.
//! - `GET /v1/months/{m}/tree`: a finalised month's whole claim tree (OpenZeppelin's dump).
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
//! - `routes`: the `Router`: every path with its handler, the fallback, the middleware (JSON
//!   errors, request limits, CORS for reads, metrics).
//! - `limits`: [`Limits`] (timeouts, connection and request caps, cache sizes) and their defaults;
//!   `serve`: the connection loop that applies them (plain HTTP and TLS).
//! - `cache`: the bounded month cache (LRU by bytes, one load at a time) and claim-status cache.
//! - `state`: [`Api`], what the handlers share (store, chain status, month and claim caches).
//! - `wallets`, `claims`, `epochs`, `months`, `health`: the read handlers, one module per
//!   resource, each with its typed response.
//! - `web`: the claimer page, `/v1/info` and the claim relay; `relay_stats`: its queue and counts.
//! - `offchain`: the attester intake (`POST /v1/actions`, `GET /v1/offchain`).
//! - `error`: [`ApiError`] and the JSON shape of every error answer.
//! - `metrics`: request counts and times per matched route, and the `/metrics` text.
//! - `format`: how inputs are parsed and values written (addresses, accounts, hex, decimals).
//! - `openapi`: the OpenAPI document.
//! - `tls`: serving the same router over HTTPS (rustls) when the keeper has a certificate.

// The OpenAPI document is one large `json!` (openapi.rs); its expansion needs more than 128.
#![recursion_limit = "256"]

mod cache;
mod claims;
mod epochs;
mod error;
mod format;
mod health;
pub mod limits;
mod metrics;
mod months;
mod offchain;
mod openapi;
mod relay;
mod relay_stats;
mod routes;
mod serve;
mod state;
pub mod tls;
mod wallets;
mod web;

pub use error::ApiError;
pub use format::u64f64_decimal;
pub use limits::Limits;
pub use months::{stored_claim_tree, TreeError};
pub use state::Api;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_limits;
