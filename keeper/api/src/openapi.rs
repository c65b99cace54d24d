//! The OpenAPI 3.1 document served at `/v1/openapi.json`.

use serde_json::{json, Value};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn address_param() -> Value {
    json!({"name": "address", "in": "path", "required": true, "description": "EVM wallet address, 0x + 40 hex digits (any case)",
           "schema": {"type": "string", "pattern": "^0[xX][0-9a-fA-F]{40}$"}})
}

pub fn document() -> Value {
    let uint = json!({"type": "string", "pattern": "^[0-9]+$", "description": "unsigned integer as a decimal string"});
    let hash = json!({"type": "string", "pattern": "^0x[0-9a-f]{64}$"});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Flex keeper API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Scores, epoch commitments and claim proofs computed by a Flex keeper. Amounts are token base units as decimal strings."},
        "paths": {
            "/v1/wallets/{address}": {"get": {
                "summary": "A wallet's score array and per-epoch scores, weights and rewards",
                "parameters": [address_param()],
                "responses": {
                    "200": {"description": "the wallet", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Wallet"}}}},
                    "400": error_response("bad_address"),
                    "404": error_response("unknown_wallet")
                }}},
            "/v1/claims/{month}/{address}": {"get": {
                "summary": "A wallet's claim for a month: amount, proof, the message to sign, status",
                "parameters": [
                    {"name": "month", "in": "path", "required": true, "description": "month index, year*12 + month-1", "schema": {"type": "integer", "minimum": 0}},
                    address_param(),
                    {"name": "beneficiary", "in": "query", "required": false, "description": "the 32-byte account to pay, 0x + 64 hex digits or SS58 of any network (written back in hex); when given, `message` is the exact text to personal_sign",
                     "schema": {"type": "string", "pattern": "^(0[xX][0-9a-fA-F]{64}|[1-9A-HJ-NP-Za-km-z]{46,50})$"}}
                ],
                "responses": {
                    "200": {"description": "the claim", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Claim"}}}},
                    "400": error_response("bad_month, bad_address or bad_beneficiary"),
                    "404": error_response("unknown_month or no_claim"),
                    "503": error_response("not_ready: a beneficiary was given but the keeper has not connected to the chain yet (the message binds its genesis hash)")
                }}},
            "/v1/epochs/{epoch}": {"get": {
                "summary": "An epoch's commitment, totals and finalisation status",
                "parameters": [{"name": "epoch", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 0}}],
                "responses": {
                    "200": {"description": "the epoch", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Epoch"}}}},
                    "400": error_response("bad_epoch"),
                    "404": error_response("unknown_epoch")
                }}},
            "/health": {"get": {"summary": "Liveness: store and chain connection", "responses": {
                "200": {"description": "ok (status ok, or degraded when the chain is unreachable)"},
                "503": {"description": "the store is unavailable"}}}},
            "/metrics": {"get": {"summary": "Prometheus text metrics", "responses": {"200": {"description": "text/plain; version=0.0.4"}}}},
            "/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
            "Wallet": {"type": "object", "properties": {
                "address": {"type": "string"}, "connected_at": {"type": "integer"}, "connection_epoch": {"type": ["integer", "null"]},
                "scores": {"type": "string", "description": "score array: one hex digit per closed epoch from the connection epoch on"},
                "total_reward": uint,
                "epochs": {"type": "array", "items": {"type": "object", "properties": {
                    "epoch": {"type": "integer"}, "score": {"type": "string"}, "weight": {"type": "string", "description": "exact decimal"},
                    "weight_bits": uint, "reward": uint}}}}},
            "Claim": {"type": "object", "properties": {
                "month_index": {"type": "integer"}, "month": {"type": "string"}, "wallet": {"type": "string"}, "amount": uint,
                "proof": {"type": "array", "items": hash}, "claims_root": hash,
                "root_status": {"type": "string", "enum": ["computed", "submitting", "voted", "finalized", "mismatch"]},
                "contract": hash, "beneficiary": {"type": ["string", "null"]},
                "chain": {"type": ["string", "null"], "description": "the chain's genesis hash (the message's chain line); null until the keeper connected"},
                "message": {"type": ["string", "null"], "description": "the exact claim message of docs/PROTOCOL.md"},
                "claim_status": {"type": "string", "enum": ["claimed", "unclaimed", "unknown (chain unreachable)"]},
                "window": {"type": ["object", "null"], "description": "the claim window as the pool computes it (unix seconds; pauses extend close beyond calendar_close; while paused, close is computed as if the pause ended now); null when the chain is unreachable",
                    "properties": {"open": {"type": "integer"}, "close": {"type": "integer"}, "calendar_close": {"type": "integer"}, "paused": {"type": "boolean"}}}}},
            "Epoch": {"type": "object", "properties": {
                "epoch": {"type": "integer"}, "month_index": {"type": "integer"}, "status": {"type": "string"}, "finalized": {"type": "boolean"},
                "voted": {"type": "boolean"}, "commitment_hash": hash, "commitment": {"type": "string", "description": "SCALE bytes, hex"},
                "scores_root": hash, "active": {"type": "integer"}, "ranked": {"type": "integer"}, "wallets": {"type": "integer"},
                "multiplier_sum": uint, "total_weight": {"type": "string"}, "total_weight_bits": uint, "pool": uint, "distributed": uint,
                "wallet_index": {"type": "integer"}, "halving": {"type": "integer"}, "snapshot": uint,
                "forecast": {"type": "string", "description": "the committed next-epoch task reward forecast, U64F64 raw bits (0: none)"},
                "forecast_value": {"type": "string", "description": "the same as a decimal"},
                "forecast_detail": {"type": ["object", "null"], "description": "epoch, history_epochs, first_epoch, min_history, target, published (a baseline's name or none), published_value, fixed_bits, published_mse, targets: [{target, baselines: [{name, mse, forecast}], best_baseline, best_baseline_forecast, model: {forecast, mse, beats_best_baseline, train_samples, test_samples, seconds} or null, model_note}]"},
                "note": {"type": "string"}}}
        }}
    })
}

/// `GET /v1/openapi.json`: this document with the page's, the relay's and the intake's paths.
pub(crate) async fn openapi() -> axum::Json<Value> {
    let mut doc = document();
    crate::web::openapi_extend(&mut doc);
    crate::offchain::openapi_extend(&mut doc);
    crate::months::openapi_extend(&mut doc);
    axum::Json(doc)
}
