//! Signed off-chain action submissions (`docs/PROTOCOL.md`, "Off-chain submissions").
//!
//! - `POST /v1/actions`: a signed batch (the JSON envelope of `flex_ingest::offchain`). Answers
//!   200 with what was stored, or a JSON error naming the field: 400 malformed, 401 bad signature,
//!   403 unknown attester (or no attesters configured), 409 `already_accepted` (this very batch
//!   before) or `replay` (its nonce used by another batch), 413 body too large, 422 expired (the
//!   epoch of `expires_at` closed at this keeper) or a bad action (`index` and `field`), 503
//!   before the keeper knows its chain.
//! - `GET /v1/offchain`: what a signer needs: the domain (chain genesis hash, contract), the
//!   attesters with their highest accepted nonce, the kinds accepted and the limits.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use flex_sources::offchain::{OffchainError, SignedSubmission, MAX_ACTIONS, MAX_ENVELOPE_BYTES, VERSION};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::ApiError;
use crate::Api;
use flex_types::hex;

/// The largest body `POST /v1/actions` reads (`routes` sets the limit; larger answers 413).
pub(crate) const MAX_BODY_BYTES: usize = MAX_ENVELOPE_BYTES;

/// `POST /v1/actions` accepted a batch (fields in alphabetical order: the JSON keys stay sorted
/// as attesters know them).
#[derive(Serialize)]
pub(crate) struct BatchAccepted {
    accepted: bool,
    /// Already stored with the same content.
    actions_known: u64,
    actions_new: u64,
    attester: String,
    digest: String,
    nonce: u64,
}

/// `GET /v1/offchain` (fields in alphabetical order, as above).
#[derive(Serialize)]
pub(crate) struct OffchainInfo {
    attesters: Vec<AttesterInfo>,
    /// The chain's genesis hash; `null` until the keeper connected.
    chain: Option<String>,
    contract: String,
    enabled: bool,
    kinds: Vec<String>,
    max_actions: usize,
    max_body_bytes: usize,
    version: &'static str,
}

#[derive(Serialize)]
pub(crate) struct AttesterInfo {
    address: String,
    last_nonce: Option<u64>,
}

impl Api {
    /// Accepts signed off-chain batches with `intake`'s checks. Without one, `POST /v1/actions`
    /// answers 403. Only the first call takes effect.
    pub fn set_offchain(&self, intake: flex_sources::offchain::Intake) {
        let _ = self.inner.offchain.set(intake);
    }
}

fn error(
    status: u16,
    code: &'static str,
    message: String,
    field: Option<String>,
    index: Option<usize>,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError::new(status, code, message)
        .at(field, index)
        .into_response()
}

fn refused(e: &OffchainError) -> Response {
    if e.status() >= 500 {
        tracing::error!(error = %e, "off-chain submission failed");
        let message = match e {
            OffchainError::NotReady(m) => m.clone(),
            _ => "internal error (see the keeper's log)".into(),
        };
        return error(e.status(), e.code(), message, None, None);
    }
    // Once and briefly: the message may quote what was sent, the log keeps a short prefix.
    let message = e.to_string();
    tracing::info!(
        code = e.code(),
        field = crate::format::prefix(e.field().as_deref().unwrap_or(""), 64),
        error = crate::format::prefix(&message, 160),
        "off-chain submission refused"
    );
    error(e.status(), e.code(), message, e.field(), e.index())
}

/// The attester a body names, read in one pass without building its JSON tree (`Ok(None)`: none
/// that is an address, or not an object: the full parse names the fault). `Err`: not JSON.
fn claimed_attester(body: &[u8]) -> Result<Option<flex_types::Address>, String> {
    #[derive(Deserialize)]
    struct Attester {
        attester: Option<String>,
    }
    match serde_json::from_slice::<Attester>(body) {
        Ok(a) => Ok(a.attester.and_then(|a| a.parse().ok())),
        Err(e) if e.is_syntax() || e.is_eof() => Err(format!("field body: not JSON: {e}")),
        Err(_) => Ok(None),
    }
}

pub(crate) async fn submit(State(api): State<Api>, req: Request) -> Response {
    // Cheap checks first, before a byte of the body is read: the media type, the intake, the
    // announced length.
    if let Err(e) = crate::format::require_json(req.headers()) {
        return e.into_response();
    }
    let Some(intake) = api.inner.offchain.get().cloned() else {
        return refused(&OffchainError::Disabled);
    };
    let too_large = || {
        error(
            413,
            "too_large",
            format!("the body is over {MAX_ENVELOPE_BYTES} bytes; split the batch"),
            Some("body".into()),
            None,
        )
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    // Who claims to sign, read without a JSON tree: an unknown attester is refused before the
    // envelope is parsed.
    match claimed_attester(&body) {
        Err(m) => return error(400, "bad_request", m, Some("body".into()), None),
        Ok(Some(a)) if !intake.policy().attesters.contains(&a) => {
            return refused(&OffchainError::UnknownAttester(a.to_string()));
        }
        Ok(_) => {}
    }
    let signed = match SignedSubmission::from_json(&body) {
        Ok(s) => s,
        Err(e) => return refused(&e),
    };
    // SQLite writes (and their fsync) off the async workers.
    let result = tokio::task::spawn_blocking(move || intake.accept(&signed, "http")).await;
    match result {
        Ok(Ok(a)) => {
            api.inner
                .status
                .imported_actions
                .fetch_add(a.actions_new, std::sync::atomic::Ordering::Relaxed);
            Json(BatchAccepted {
                accepted: true,
                actions_known: a.actions_known,
                actions_new: a.actions_new,
                attester: a.attester.to_string(),
                digest: hex::encode(a.digest),
                nonce: a.nonce,
            })
            .into_response()
        }
        Ok(Err(e)) => refused(&e),
        Err(e) => error(
            500,
            "internal",
            format!("the submission task failed: {e}"),
            None,
            None,
        ),
    }
}

pub(crate) async fn info(State(api): State<Api>) -> Response {
    let Some(intake) = api.inner.offchain.get() else {
        return Json(OffchainInfo {
            attesters: Vec::new(),
            chain: None,
            contract: hex::encode(api.inner.contract),
            enabled: false,
            kinds: Vec::new(),
            max_actions: MAX_ACTIONS,
            max_body_bytes: MAX_ENVELOPE_BYTES,
            version: VERSION,
        })
        .into_response();
    };
    let reading = intake.clone();
    // Store reads off the async workers.
    let read = tokio::task::spawn_blocking(move || {
        let chain = reading.chain()?;
        let mut attesters = Vec::new();
        for a in &reading.policy().attesters {
            attesters.push(AttesterInfo {
                address: a.to_string(),
                last_nonce: reading.last_nonce(a)?,
            });
        }
        Ok::<_, OffchainError>((chain, attesters))
    })
    .await;
    let (chain, attesters) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return refused(&e),
        Err(e) => return error(500, "internal", format!("the store task failed: {e}"), None, None),
    };
    Json(OffchainInfo {
        enabled: !attesters.is_empty(),
        attesters,
        chain: chain.map(hex::encode),
        contract: hex::encode(intake.contract()),
        kinds: intake.kinds(),
        max_actions: MAX_ACTIONS,
        max_body_bytes: MAX_ENVELOPE_BYTES,
        version: VERSION,
    })
    .into_response()
}

/// Adds the two routes and their schemas to the OpenAPI document.
pub(crate) fn openapi_extend(doc: &mut serde_json::Value) {
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SubmissionError"}}}});
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        paths.insert("/v1/actions".into(), json!({"post": {
            "operationId": "submitActions",
            "summary": "Submit a batch of off-chain actions signed by an attester (docs/PROTOCOL.md, \"Off-chain submissions\"). Same-origin only (no CORS). The media type, the intake and the announced length are checked before the body is read; an unknown attester is refused before the envelope is parsed",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignedBatch"}}}},
            "responses": {
                "200": {"description": "stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchAccepted"}}}},
                "400": err("bad_request: the envelope is malformed (field names it)"),
                "401": err("bad_signature: not the attester's signature over this batch and this keeper's chain and contract"),
                "403": err("unknown_attester, or offchain_disabled (no attesters configured)"),
                "409": err("already_accepted: this very batch was accepted before (nothing changed; a client may count it as delivered), or replay: the attester's nonce was used by another batch"),
                "413": err("too_large: the body is over max_body_bytes"),
                "415": err("unsupported_media_type: the body is not sent as application/json"),
                "422": err("expired (expires_at is before genesis or in an epoch this keeper has closed) or bad_action (index and field name the action: unknown kind, a closed epoch, a reserved action_id prefix, an action_id the attester gave before with other content, ...)"),
                "503": err("not_ready: the keeper has not connected to its chain yet; or busy")
            }}}));
        paths.insert("/v1/offchain".into(), json!({"get": {
            "operationId": "getOffchainInfo",
            "summary": "What an attester needs to sign: the domain, its highest accepted nonce, the kinds accepted, the limits",
            "responses": {"200": {"description": "the intake's settings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OffchainInfo"}}}}}}}));
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|p| p.as_object_mut())
    {
        let address = json!({"type": "string", "pattern": "^0[xX][0-9a-fA-F]{40}$"});
        let lower_address = json!({"type": "string", "pattern": "^0x[0-9a-f]{40}$"});
        let hash = json!({"type": "string", "pattern": "^0x[0-9a-f]{64}$"});
        let u64_ = json!({"type": "integer", "minimum": 0, "maximum": u64::MAX});
        let i64_ = json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX});
        // Text without control characters (char::is_control), as the intake checks it.
        let text = |max: usize, d: &str| {
            json!({"type": "string", "minLength": 1, "maxLength": max,
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]+$", "description": d})
        };
        schemas.insert("SignedBatch".into(), json!({"type": "object", "additionalProperties": false,
            "required": ["attester", "nonce", "expires_at", "actions", "signature"], "properties": {
            "version": {"type": "string", "const": VERSION},
            "attester": address.clone(),
            "nonce": {"description": "u64 the attester has not used before, in any order (an integer, or a string of digits)",
                      "oneOf": [u64_.clone(), {"type": "string", "pattern": "^[0-9]{1,20}$"}]},
            "expires_at": {"allOf": [i64_.clone()], "description": "unix seconds; refused once the keeper has closed the epoch holding it"},
            "actions": {"type": "array", "minItems": 1, "maxItems": MAX_ACTIONS, "items": {"type": "object", "additionalProperties": false,
                "required": ["action_id", "wallet", "kind", "timestamp"], "properties": {
                "action_id": text(128, "at most 128 bytes, unique in the batch, not starting with evm:, sub: or off:; stored as off:<attester>:<action_id>"),
                "wallet": address,
                "kind": text(64, "a kind of the weight table (and of offchain.kinds when set); another is 422 bad_action"),
                "timestamp": {"allOf": [i64_], "description": "unix seconds"}}}},
            "signature": {"type": "string", "pattern": "^0x[0-9a-fA-F]{130}$",
                          "description": "EIP-191 personal_sign by the attester over keccak256 of the canonical bytes (docs/PROTOCOL.md)"}}}));
        schemas.insert("BatchAccepted".into(), json!({"type": "object", "additionalProperties": false,
            "required": ["accepted", "actions_known", "actions_new", "attester", "digest", "nonce"], "properties": {
            "accepted": {"type": "boolean"}, "attester": lower_address.clone(), "nonce": u64_.clone(), "digest": hash.clone(),
            "actions_new": u64_.clone(), "actions_known": {"allOf": [u64_.clone()], "description": "already stored with the same content"}}}));
        schemas.insert(
            "SubmissionError".into(),
            json!({"$ref": "#/components/schemas/Error"}),
        );
        schemas.insert("OffchainInfo".into(), json!({"type": "object", "additionalProperties": false,
            "required": ["attesters", "chain", "contract", "enabled", "kinds", "max_actions", "max_body_bytes", "version"], "properties": {
            "version": {"type": "string", "const": VERSION}, "enabled": {"type": "boolean"},
            "chain": {"type": ["string", "null"], "pattern": "^0x[0-9a-f]{64}$", "description": "the chain's genesis hash (null until the keeper connected)"},
            "contract": hash,
            "attesters": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["address", "last_nonce"], "properties": {
                "address": lower_address, "last_nonce": {"type": ["integer", "null"], "minimum": 0, "description": "the highest nonce accepted"}}}},
            "kinds": {"type": "array", "items": {"type": "string"}},
            "max_actions": {"type": "integer", "const": MAX_ACTIONS}, "max_body_bytes": {"type": "integer", "const": MAX_ENVELOPE_BYTES}}}));
    }
}

#[cfg(test)]
mod tests;
