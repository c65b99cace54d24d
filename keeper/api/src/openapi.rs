//! The OpenAPI 3.1 document served at `/v1/openapi.json`: every operation with its `operationId`,
//! every parameter with its bounds and pattern (one canonical form: what the schema allows is
//! what the server accepts), every answer with its exact schema (required fields, formats, no
//! other properties). Checked against a live keeper by schemathesis (`keeper/cli/tests/openapi.rs`).

use serde_json::{json, Map, Value};

/// An error answer's description and schema.
pub(crate) fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// A JSON answer of schema `name`.
pub(crate) fn json_response(description: &str, name: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}})
}

/// The answers every operation may give under the API's limits (README.md, "API limits").
pub(crate) fn limit_responses(responses: &mut Value) {
    if let Some(r) = responses.as_object_mut() {
        r.entry("408").or_insert_with(|| {
            error_response(
                "request_timeout: the request was not read and answered within api.request_timeout_ms",
            )
        });
        r.entry("503").or_insert_with(|| {
            error_response("busy: more requests in flight than api.max_in_flight (Retry-After: 1)")
        });
    }
}

/// The canonical path parameter of a wallet.
pub(crate) fn address_param() -> Value {
    json!({"name": "address", "in": "path", "required": true,
           "description": "EVM wallet address, 0x + 40 hex digits (any case; answers write it in lower case)",
           "schema": {"type": "string", "pattern": "^0[xX][0-9a-fA-F]{40}$"},
           "example": "0x0000000000000000000000000000000000000001"})
}

/// The canonical path parameter of a month: decimal digits, no sign or leading zero, `u32`.
pub(crate) fn month_param() -> Value {
    json!({"name": "month", "in": "path", "required": true,
           "description": "month index, year*12 + month-1 (2026-01 is 24312), in decimal without sign or leading zeros",
           "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX},
           "example": 24312})
}

pub fn document() -> Value {
    let uint = json!({"type": "string", "pattern": "^(0|[1-9][0-9]*)$", "description": "unsigned integer as a decimal string"});
    let decimal = json!({"type": "string", "pattern": "^(0|[1-9][0-9]*)(\\.[0-9]*[1-9])?$", "description": "exact decimal"});
    let hash = json!({"type": "string", "pattern": "^0x[0-9a-f]{64}$"});
    let hex = json!({"type": "string", "pattern": "^0x([0-9a-f]{2})*$"});
    let wallet = json!({"type": "string", "pattern": "^0x[0-9a-f]{40}$"});
    let u64_ = json!({"type": "integer", "minimum": 0, "maximum": u64::MAX});
    let u32_ = json!({"type": "integer", "minimum": 0, "maximum": u32::MAX});
    let i64_ = json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX});
    let month_name =
        json!({"type": "string", "pattern": "^[0-9]{4,}-(0[1-9]|1[0-2])$", "description": "YYYY-MM"});
    let phase =
        json!({"type": "string", "enum": ["computed", "submitting", "voted", "finalized", "mismatch"]});
    // The claim relay in `/health` (its own value: one json! call has a recursion limit).
    let health_relay = json!({"type": ["object", "null"], "additionalProperties": false,
                    "description": "the claim relay's account and balances (base units, decimal strings); absent without a relayer",
                    "required": ["account", "fees_spent", "low_balance", "message", "min_balance", "native_balance", "payment_balance"],
                    "properties": {"account": {"type": "string", "pattern": "^0x[0-9a-f]{64}$"},
                        "fees_spent": {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"}, "low_balance": {"type": "boolean"},
                        "message": {"type": ["string", "null"]}, "min_balance": {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"},
                        "native_balance": {"type": ["string", "null"], "pattern": "^(0|[1-9][0-9]*)$"},
                        "payment_balance": {"type": ["string", "null"], "pattern": "^(0|[1-9][0-9]*)$"}}});
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Flex keeper API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Scores, epoch commitments and claim proofs computed by a Flex keeper. Amounts are token base units as decimal strings. Every error is JSON {\"error\": {\"code\", \"message\"}}; a method a path does not serve is 405 with Allow. Reads may come from any origin (Access-Control-Allow-Origin: *)."},
        "paths": {
            "/v1/wallets/{address}": {"get": {
                "operationId": "getWallet",
                "summary": "A wallet's score array and per-epoch scores, weights and rewards",
                "parameters": [address_param()],
                "responses": {
                    "200": json_response("the wallet", "Wallet"),
                    "400": error_response("bad_address"),
                    "404": error_response("unknown_wallet")
                }}},
            "/v1/claims/{month}/{address}": {"get": {
                "operationId": "getClaim",
                "summary": "A wallet's claim for a month: amount, proof, the message to sign, status. Cache-Control: public, max-age=2 once the month is finalised (the claim status may change), else no-cache",
                "parameters": [
                    month_param(),
                    address_param(),
                    {"name": "beneficiary", "in": "query", "required": false, "description": "the 32-byte account to pay, 0x + 64 hex digits (or SS58 of any network, not described by this pattern: its checksum is checked); written back in hex; when given, `message` is the exact text to personal_sign",
                     "schema": {"type": "string", "pattern": "^0[xX][0-9a-fA-F]{64}$"}}
                ],
                "responses": {
                    "200": json_response("the claim", "Claim"),
                    "400": error_response("bad_month, bad_address, bad_beneficiary or bad_query (a parameter given twice)"),
                    "404": error_response("unknown_month or no_claim"),
                    "409": error_response("root_mismatch: this keeper's claim root differs from the one finalised on chain"),
                    "503": error_response("not_ready: a beneficiary was given but the keeper has not connected to the chain yet (the message binds its genesis hash); or busy")
                }}},
            "/v1/epochs/{epoch}": {"get": {
                "operationId": "getEpoch",
                "summary": "An epoch's commitment, totals and finalisation status. Cache-Control: public, max-age=31536000, immutable once finalised, else no-cache",
                "parameters": [{"name": "epoch", "in": "path", "required": true,
                    "description": "epoch number, in decimal without sign or leading zeros",
                    "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": u64::MAX}, "example": 0}],
                "responses": {
                    "200": json_response("the epoch", "Epoch"),
                    "400": error_response("bad_epoch"),
                    "404": error_response("unknown_epoch")
                }}},
            "/health": {"get": {"operationId": "getHealth", "summary": "Liveness: store and chain connection, sources, disagreements, pending governance", "responses": {
                "200": json_response("ok (status ok, or degraded when the chain is unreachable, a source failed or a disagreement is known)", "Health"),
                "503": {"description": "the store is unavailable (status down), or busy", "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": "#/components/schemas/Health"}, {"$ref": "#/components/schemas/Error"}]}}}}}}},
            "/metrics": {"get": {"operationId": "getMetrics", "summary": "Prometheus text metrics", "responses": {
                "200": {"description": "Prometheus exposition format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/v1/openapi.json": {"get": {"operationId": "getOpenApi", "summary": "This document", "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object", "required": ["openapi", "info", "paths"]}}}}}}}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "additionalProperties": false, "required": ["error"], "properties": {"error": {
                "type": "object", "additionalProperties": false, "required": ["code", "message"], "properties": {
                "code": {"type": "string", "pattern": "^[a-z_]+$"},
                "message": {"type": "string", "minLength": 1, "maxLength": 401, "description": "at most 400 characters (and an ellipsis): never more than a short prefix of what was sent"},
                "field": {"type": "string", "maxLength": 65, "description": "the field at fault: nonce, signature, actions[3].kind, ..."},
                "index": {"type": "integer", "minimum": 0, "description": "the action at fault"}}}}},
            "Wallet": {"type": "object", "additionalProperties": false,
                "required": ["address", "connected_at", "connection_epoch", "epochs", "scores", "total_reward"], "properties": {
                "address": wallet.clone(), "connected_at": i64_.clone(),
                "connection_epoch": {"type": ["integer", "null"], "minimum": 0, "description": "null when the keeper has no genesis"},
                "scores": {"type": "string", "pattern": "^[0-9A-F]*$", "description": "score array: one upper-case hex digit per closed epoch"},
                "total_reward": uint.clone(),
                "epochs": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["epoch", "reward", "score", "weight", "weight_bits"], "properties": {
                    "epoch": u64_.clone(), "score": {"type": "string", "pattern": "^[0-9A-F]$"}, "weight": decimal.clone(),
                    "weight_bits": uint.clone(), "reward": uint.clone()}}}}},
            "Claim": {"type": "object", "additionalProperties": false,
                "required": ["amount", "beneficiary", "chain", "claim_status", "claims_root", "contract", "message", "month", "month_index", "proof", "root_status", "wallet", "window"], "properties": {
                "month_index": u32_.clone(), "month": month_name.clone(), "wallet": wallet.clone(), "amount": uint.clone(),
                "proof": {"type": "array", "items": hash.clone()}, "claims_root": hash.clone(),
                "root_status": phase.clone(),
                "contract": hash.clone(), "beneficiary": {"type": ["string", "null"], "pattern": "^0x[0-9a-f]{64}$"},
                "chain": {"type": ["string", "null"], "pattern": "^0x[0-9a-f]{64}$", "description": "the chain's genesis hash (the message's chain line); null until the keeper connected"},
                "message": {"type": ["string", "null"], "description": "the exact claim message of docs/PROTOCOL.md; null without a beneficiary"},
                "claim_status": {"type": "string", "enum": ["claimed", "unclaimed", "unknown (chain unreachable)"]},
                "window": {"type": ["object", "null"], "additionalProperties": false, "required": ["open", "close", "calendar_close", "paused"],
                    "description": "the claim window as the pool computes it (unix seconds; pauses extend close beyond calendar_close; while paused, close is computed as if the pause ended now); null when the chain is unreachable",
                    "properties": {"open": u64_.clone(), "close": u64_.clone(), "calendar_close": i64_.clone(), "paused": {"type": "boolean"}}}}},
            "Epoch": {"type": "object", "additionalProperties": false,
                "required": ["active", "commitment", "commitment_hash", "distributed", "epoch", "finalized", "forecast", "forecast_detail", "forecast_value", "halving", "month_index", "multiplier_sum", "note", "pool", "ranked", "scores_root", "snapshot", "status", "total_weight", "total_weight_bits", "voted", "wallet_index", "wallets"],
                "properties": {
                "epoch": u64_.clone(), "month_index": u32_.clone(), "status": phase, "finalized": {"type": "boolean"},
                "voted": {"type": "boolean"}, "commitment_hash": hash.clone(), "commitment": {"allOf": [hex.clone()], "description": "SCALE bytes, hex"},
                "scores_root": hash.clone(), "active": u64_.clone(), "ranked": u64_.clone(), "wallets": u64_.clone(),
                "multiplier_sum": uint.clone(), "total_weight": decimal.clone(), "total_weight_bits": uint.clone(), "pool": uint.clone(), "distributed": uint.clone(),
                "wallet_index": {"type": "integer", "minimum": 0, "maximum": 255}, "halving": u64_.clone(), "snapshot": uint.clone(),
                "forecast": {"allOf": [uint.clone()], "description": "the committed next-epoch task reward forecast, U64F64 raw bits (0: none)"},
                "forecast_value": {"allOf": [decimal], "description": "the same as a decimal"},
                "forecast_detail": {"type": ["object", "null"], "description": "epoch, history_epochs, first_epoch, min_history, target, published (a baseline's name or none), published_value, fixed_bits, published_mse, targets: [{target, baselines: [{name, mse, forecast}], best_baseline, best_baseline_forecast, model: {forecast, mse, beats_best_baseline, train_samples, test_samples, seconds} or null, model_note}]"},
                "note": {"type": "string"}}},
            "Health": {"type": "object", "additionalProperties": false,
                "required": ["chain", "disagreements", "governance", "holding", "key_balance", "last_epoch", "month_holding", "relay", "sources", "status", "store", "uptime_s"], "properties": {
                "chain": {"type": "object", "additionalProperties": false, "required": ["connected", "is_keeper", "next_epoch", "time_ms"], "properties": {
                    "connected": {"type": "boolean"}, "is_keeper": {"type": "boolean"}, "next_epoch": u64_.clone(), "time_ms": u64_.clone()}},
                "disagreements": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["index", "kind", "ours", "chain", "note"], "properties": {
                    "index": u64_.clone(), "kind": {"type": "string", "enum": ["epoch_mismatch", "epoch_split", "month_mismatch", "month_split"]},
                    "ours": {"type": "string"}, "chain": {"type": "array", "items": {"type": "string"}}, "note": {"type": "string"}}}},
                "governance": {"type": "object", "additionalProperties": false, "required": ["pending"], "properties": {"pending": {"type": "array", "items": {
                    "type": "object", "additionalProperties": false, "required": ["action", "announced_at", "eta", "expires", "id", "target", "this_keeper"], "properties": {
                    "action": {"type": "string", "enum": ["add_keeper", "remove_keeper", "set_min_threshold", "set_treasury"]},
                    "announced_at": u64_.clone(), "eta": u64_.clone(), "expires": u64_.clone(), "id": u64_.clone(),
                    "target": {"type": "string"}, "this_keeper": {"type": "boolean"}}}}}},
                "holding": {"type": ["object", "null"], "additionalProperties": false, "required": ["epoch", "reason", "source"], "properties": {
                    "epoch": u64_.clone(), "reason": {"type": "string"}, "source": {"type": "string"}}},
                "key_balance": {"type": ["object", "null"], "additionalProperties": false, "required": ["floor", "free", "low"],
                    "description": "the keeper key's free native balance and chain.min_balance (base units); null before the first read",
                    "properties": {"floor": {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"}, "free": {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"}, "low": {"type": "boolean"}}},
                "last_epoch": {"type": ["integer", "null"], "minimum": 0},
                "month_holding": {"type": ["object", "null"], "additionalProperties": false, "required": ["month", "month_index", "reason"],
                    "description": "the month whose root waits for its claim price; null when none",
                    "properties": {"month": {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}, "month_index": {"type": "integer", "minimum": 0, "maximum": u32::MAX}, "reason": {"type": "string"}}},
                "relay": health_relay,
                "sources": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["cursor_block", "cursor_time", "error", "failures", "kind", "name", "state"], "properties": {
                    "cursor_block": {"type": ["integer", "null"], "minimum": 0}, "cursor_time": {"type": ["integer", "null"]},
                    "error": {"type": ["string", "null"]}, "failures": u64_.clone(), "kind": {"type": "string", "enum": ["file", "evm", "substrate", "offchain"]}, "name": {"type": "string"},
                    "state": {"type": "string", "enum": ["ok", "failed", "stopped"]}}}},
                "status": {"type": "string", "enum": ["ok", "degraded", "down"]},
                "store": {"type": "string"},
                "uptime_s": u64_}}
        }}
    });
    for_each_operation(&mut doc, |op| {
        if let Some(r) = op.get_mut("responses") {
            limit_responses(r);
        }
    });
    doc
}

/// Calls `f` on every operation of `doc`.
pub(crate) fn for_each_operation(doc: &mut Value, mut f: impl FnMut(&mut Map<String, Value>)) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in item.values_mut().filter_map(Value::as_object_mut) {
                f(op);
            }
        }
    }
}

/// This document with the page's, the relay's and the intake's paths, as served.
pub(crate) fn full_document() -> Value {
    let mut doc = document();
    crate::web::openapi_extend(&mut doc);
    crate::offchain::openapi_extend(&mut doc);
    crate::months::openapi_extend(&mut doc);
    for_each_operation(&mut doc, |op| {
        if let Some(r) = op.get_mut("responses") {
            limit_responses(r);
        }
    });
    doc
}

/// `GET /v1/openapi.json`: [`full_document`].
pub(crate) async fn openapi() -> axum::Json<Value> {
    axum::Json(full_document())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// Every object with `properties` in `v` lists them all as required and allows no other.
    fn closed_objects(v: &Value, at: &str) {
        match v {
            Value::Object(m) => {
                if let Some(props) = m.get("properties").and_then(Value::as_object) {
                    assert_eq!(m.get("additionalProperties"), Some(&json!(false)), "{at}");
                    let required: BTreeSet<&str> = m["required"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{at}: no required"))
                        .iter()
                        .filter_map(Value::as_str)
                        .collect();
                    let optional = ["field", "index"]; // the error's, present when they apply
                    for k in props.keys().filter(|k| !optional.contains(&k.as_str())) {
                        assert!(required.contains(k.as_str()), "{at}: {k} is not required");
                    }
                }
                for (k, v) in m {
                    closed_objects(v, &format!("{at}/{k}"));
                }
            }
            Value::Array(a) => a.iter().for_each(|v| closed_objects(v, at)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_exact() {
        let doc = full_document();
        let mut ids = BTreeSet::new();
        let mut answers = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{at}: no operationId"));
                assert!(ids.insert(id.to_string()), "{at}: operationId {id} twice");
                for code in ["408", "503"] {
                    assert!(op["responses"].get(code).is_some(), "{at}: no {code}");
                }
                for p in op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let s = &p["schema"];
                    match s["type"].as_str() {
                        Some("integer") => assert!(
                            s.get("minimum").is_some() && s.get("maximum").is_some(),
                            "{at}: {} has no bounds",
                            p["name"]
                        ),
                        Some("string") => {
                            assert!(s.get("pattern").is_some(), "{at}: {} has no pattern", p["name"])
                        }
                        t => panic!("{at}: {} is a {t:?}", p["name"]),
                    }
                    if p["in"] == "path" {
                        assert_eq!(p["required"], true, "{at}");
                        // A brace in the path for each path parameter.
                        assert!(path.contains(&format!("{{{}}}", p["name"].as_str().unwrap())));
                    }
                }
                answers.push(op["responses"].clone());
            }
        }
        // Every reference resolves, and every answer's object schema is closed and required.
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in &all {
            let ptr = r.strip_prefix('#').expect("a local reference");
            assert!(doc.pointer(ptr).is_some(), "{r} does not resolve");
        }
        let mut answered = Vec::new();
        for a in &answers {
            refs(a, &mut answered);
        }
        let mut seen = BTreeSet::new();
        while let Some(r) = answered.pop() {
            if seen.insert(r) {
                let schema = doc.pointer(&r[1..]).unwrap();
                closed_objects(schema, r);
                refs(schema, &mut answered);
            }
        }
        assert!(seen.contains("#/components/schemas/Claim"), "{seen:?}");
    }
}
