//! The claimer page and the claim relay.
//!
//! - `GET /` (and `/app.js`, `/claim.js`, `/style.css`): a static page bundled into the binary
//!   (`keeper/api/web/`), served from the API's origin. It shows a wallet's score array, monthly
//!   totals and claim status, the latest epochs, and claims through the relay.
//! - `GET /v1/info`: the pool contract, genesis, the relayer's account and the latest epoch.
//! - `POST /v1/claims/{month}/{address}/relay` with `{"signature": "0x…65 bytes", "beneficiary":
//!   "0x…32 bytes"}`: checks everything the contract checks before the relayer pays anything:
//!   offline first (known leaf, finalised root, the signature in the contract's one accepted form
//!   and by the wallet over the `docs/PROTOCOL.md` message), then on chain in the contract's order
//!   (not paused, beneficiary not the pool, window open with a margin, month finalised, not
//!   claimed, the proof against the chain's root), then in batches through the pool's
//!   `claim_batch` (the `relay` module). The relayer's key is [`Api::set_relayer`]'s
//!   (`flex-keeper run`: `FLEX_RELAYER_KEY`, opt-in, never the voting key); it pays the claim
//!   cost and the transaction fees.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use flex_chain::Keypair;
use flex_engine::calendar::month_name;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::format::{parse_account, parse_address, parse_month};
use crate::Api;
use flex_types::hex;

/// The largest relay body read (`routes` sets the limit): a signature and a beneficiary take
/// about 250 bytes.
pub(crate) const RELAY_BODY_BYTES: usize = 4096;

const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const CLAIM_JS: &str = include_str!("../web/claim.js");
const STYLE_CSS: &str = include_str!("../web/style.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

// The page and its assets (routes in `routes`).
pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub(crate) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

pub(crate) async fn claim_js() -> Response {
    asset("text/javascript; charset=utf-8", CLAIM_JS)
}

pub(crate) async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

impl Api {
    /// The account that submits relayed claims and pays their cost. Without one the relay
    /// answers 503. Only the first call takes effect.
    pub fn set_relayer(&self, relayer: Keypair) {
        let _ = self.inner.relayer.set(relayer);
    }
}

/// `GET /v1/info` (fields in alphabetical order: the JSON keys stay sorted as clients know them).
#[derive(Serialize)]
pub(crate) struct Info {
    chain: InfoChain,
    contract: String,
    genesis: Option<i64>,
    last_epoch: Option<u64>,
    /// The relayer's account; `null` without one (the relay answers 503).
    relayer: Option<String>,
    /// The reward and payment tokens with the symbol and decimals amounts are shown in; `null`
    /// until the keeper has read them from the chain.
    tokens: Option<crate::state::PoolTokens>,
}

#[derive(Serialize)]
pub(crate) struct InfoChain {
    connected: bool,
    time_ms: u64,
}

pub(crate) async fn info(State(api): State<Api>) -> Json<Info> {
    let st = &api.inner.status;
    let last = api.with_store(|s| s.last_epoch()).await.ok().flatten();
    Json(Info {
        chain: InfoChain {
            connected: st.chain_connected.load(std::sync::atomic::Ordering::Relaxed),
            time_ms: st.chain_time_ms.load(std::sync::atomic::Ordering::Relaxed),
        },
        contract: hex::encode(api.inner.contract),
        genesis: api.inner.genesis,
        last_epoch: last,
        relayer: api
            .inner
            .relayer
            .get()
            .map(|k| hex::encode(flex_chain::account_of(k).0)),
        tokens: api.tokens_on_chain().await,
    })
}

/// The relay's answer (fields in alphabetical order: the JSON keys stay sorted as clients know
/// them).
#[derive(Serialize)]
pub(crate) struct RelayResult {
    pub(crate) amount: String,
    pub(crate) beneficiary: String,
    /// The block that included the claim.
    pub(crate) block: String,
    pub(crate) claim_status: &'static str,
    pub(crate) claimed: bool,
    /// The claim cost the relayer paid, token base units.
    pub(crate) cost: String,
    pub(crate) month: String,
    pub(crate) month_index: u32,
    pub(crate) submitter: String,
    pub(crate) wallet: String,
}

#[derive(Deserialize)]
pub(crate) struct RelayBody {
    signature: String,
    beneficiary: String,
}

fn parse_signature(s: &str) -> Result<[u8; 65], ApiError> {
    let bad = || {
        ApiError::bad(
            "bad_signature",
            "signature is not 0x followed by 130 hex digits (65 bytes r || s || v)",
        )
    };
    if !s.starts_with("0x") {
        return Err(bad());
    }
    hex::decode(s).map_err(|_| bad())
}

pub(crate) async fn relay(
    State(api): State<Api>,
    path: Path<(String, String)>,
    body: Result<Json<RelayBody>, JsonRejection>,
) -> ApiResult<Json<RelayResult>> {
    let result = relay_checked(&api, path, body).await;
    api.inner.relay.count(result.as_ref().map(|_| ()));
    result
}

async fn relay_checked(
    api: &Api,
    Path((month, address)): Path<(String, String)>,
    body: Result<Json<RelayBody>, JsonRejection>,
) -> ApiResult<Json<RelayResult>> {
    let m = parse_month(&month)?;
    let wallet = parse_address(&address)?;
    let Json(body) = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is over {RELAY_BODY_BYTES} bytes (a signature and a beneficiary)"),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ),
        _ => ApiError::bad(
            "bad_body",
            format!(
                "expected JSON {{\"signature\": \"0x…\", \"beneficiary\": \"0x…\"}}: {}",
                crate::format::prefix(&e.body_text(), 120)
            ),
        ),
    })?;
    let signature = parse_signature(body.signature.trim())?;
    // Well-formed (65 bytes) but refused: an authentication failure, 401 as at `POST /v1/actions`.
    flex_evm::check_signature_form(&signature).map_err(|e| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            format!("the reward pool would refuse this signature: {e}"),
        )
    })?;
    let beneficiary = parse_account(body.beneficiary.trim())?;
    let Some(cache) = api.month_cache(m).await? else {
        return Err(ApiError::not_found(
            "unknown_month",
            format!("month {m} ({}) has no claim root at this keeper", month_name(m)),
        ));
    };
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
    let finalized = cache
        .record
        .read()
        .map(|r| r.0.phase == flex_store::Phase::Finalized)
        .map_err(ApiError::internal)?;
    if !finalized {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "root_not_finalized",
            format!("the claim root of month {m} is not finalised on chain yet"),
        ));
    }
    let chain = api.chain_genesis_for_claims().await?;
    let message = flex_evm::claim_message(&chain, &api.inner.contract.0, m, &wallet, amount, &beneficiary);
    let signer = flex_evm::recover_personal(message.as_bytes(), &signature).map_err(|e| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            format!("the signature cannot be recovered: {e}"),
        )
    })?;
    if signer != wallet {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "signer_mismatch",
            format!(
                "the signature is by {}, not by the wallet {} over this claim's message (month, amount, beneficiary)",
                signer,
                wallet
            ),
        ));
    }
    let Some(relayer) = api.inner.relayer.get().cloned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_relayer",
            "this keeper has no relayer key",
        ));
    };
    let Some(client) = api.inner.status.client() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "chain_unavailable",
            "the keeper is not connected to the chain; try again later",
        ));
    };
    let pool = flex_pool::PoolClient {
        signer: relayer,
        ..client
    };
    let proof = flex_merkle::core::get_proof(&cache.nodes, index as usize).map_err(ApiError::internal)?;
    let _place = api.inner.relay.admit(wallet)?;
    crate::relay::relay_claim(
        api,
        pool,
        crate::relay::RelayClaim {
            m,
            wallet,
            amount,
            proof,
            signature,
            beneficiary,
        },
    )
    .await
    .map(Json)
}

/// Adds the page, `/v1/info` and the relay to the OpenAPI document.
pub(crate) fn openapi_extend(doc: &mut serde_json::Value) {
    use crate::openapi::{address_param, error_response as err, json_response, month_param};
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        paths.insert(
            "/".into(),
            json!({"get": {"operationId": "getPage", "summary": "The claimer page (HTML; /app.js, /claim.js, /style.css)",
            "responses": {"200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}}}}}),
        );
        paths.insert("/v1/info".into(), json!({"get": {"operationId": "getInfo",
            "summary": "The pool contract, genesis, the relayer's account, chain time and the latest closed epoch",
            "responses": {"200": json_response("info", "Info")}}}));
        paths.insert("/v1/claims/{month}/{address}/relay".into(), json!({"post": {
            "operationId": "relayClaim",
            "summary": "Submit a wallet's signed claim on chain; the keeper's relayer pays the claim cost and fees. Same-origin only (no CORS)",
            "parameters": [month_param(), address_param()],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RelayRequest"}}}},
            "responses": {
                "200": json_response("the claim transaction's result", "RelayResult"),
                "400": err("bad_month, bad_address, bad_body, bad_signature (not 0x + 130 hex digits) or bad_beneficiary"),
                "401": err("bad_signature (65 bytes the pool would refuse: high s, v not 27/28, r or s zero) or signer_mismatch (the signature is not the wallet's over this claim's message)"),
                "404": err("unknown_month or no_claim"),
                "409": err("root_not_finalized, already_claimed or claim_refused (the contract's error name in the message)"),
                "413": err(&format!("too_large: the body is over {RELAY_BODY_BYTES} bytes")),
                "415": err("unsupported_media_type: the body is not sent as application/json"),
                "502": err("chain_error"),
                "503": err("chain_unavailable, no_relayer, not_ready or busy"),
                "504": err("chain_timeout")
            }}}));
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|p| p.as_object_mut())
    {
        let uint = json!({"type": "string", "pattern": "^(0|[1-9][0-9]*)$"});
        let hash = json!({"type": "string", "pattern": "^0x[0-9a-f]{64}$"});
        schemas.insert("Info".into(), json!({"type": "object", "additionalProperties": false,
            "required": ["chain", "contract", "genesis", "last_epoch", "relayer", "tokens"], "properties": {
            "contract": hash.clone(), "genesis": {"type": ["integer", "null"]},
            "relayer": {"type": ["string", "null"], "description": "the relayer's account (SS58); null without one (the relay answers 503)"},
            "chain": {"type": "object", "additionalProperties": false, "required": ["connected", "time_ms"],
                "properties": {"connected": {"type": "boolean"}, "time_ms": {"type": "integer", "minimum": 0}}},
            "last_epoch": {"type": ["integer", "null"], "minimum": 0},
            "tokens": {"type": ["object", "null"], "description": "the pool's tokens (null until read from the chain); amounts are base units, shown as amount / 10^decimals symbol",
                "additionalProperties": false, "required": ["payment", "reward"],
                "properties": {"reward": {"$ref": "#/components/schemas/TokenUnit"}, "payment": {"$ref": "#/components/schemas/TokenUnit"}}}}}));
        schemas.insert(
            "TokenUnit".into(),
            json!({"type": "object", "additionalProperties": false,
            "required": ["address", "decimals", "symbol"], "properties": {
            "address": hash.clone(), "decimals": {"type": "integer", "minimum": 0, "maximum": 255},
            "symbol": {"type": ["string", "null"]}}}),
        );
        schemas.insert("RelayRequest".into(), json!({"type": "object", "required": ["signature", "beneficiary"], "properties": {
            "signature": {"type": "string", "pattern": "^0x[0-9a-fA-F]{130}$", "description": "65 bytes r || s || v, EIP-191 personal_sign over the claim message"},
            "beneficiary": {"type": "string", "pattern": "^0[xX][0-9a-fA-F]{64}$", "description": "the 32-byte account to pay: 0x + 64 hex digits (or SS58 of any network, checksum checked)"}}}));
        schemas.insert("RelayResult".into(), json!({"type": "object", "additionalProperties": false,
            "required": ["amount", "beneficiary", "block", "claim_status", "claimed", "cost", "month", "month_index", "submitter", "wallet"], "properties": {
            "month_index": {"type": "integer", "minimum": 0, "maximum": u32::MAX}, "month": {"type": "string"},
            "wallet": {"type": "string", "pattern": "^0x[0-9a-f]{40}$"}, "amount": uint.clone(),
            "beneficiary": hash, "cost": uint, "submitter": {"type": "string"}, "block": {"type": "string"},
            "claimed": {"type": "boolean"}, "claim_status": {"type": "string", "enum": ["claimed", "unclaimed"]}}}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_65_bytes_of_hex() {
        let good = format!("0x{}", "ab".repeat(65));
        assert_eq!(parse_signature(&good).map(|s| s[64]).ok(), Some(0xab));
        for bad in [
            "",
            "0x",
            &"ab".repeat(65),
            &format!("0x{}", "ab".repeat(64)),
            &format!("0x{}zz", "ab".repeat(64)),
        ] {
            assert!(parse_signature(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_openapi_document_lists_the_relay() {
        let mut doc = crate::openapi::document();
        openapi_extend(&mut doc);
        assert!(doc
            .pointer("/paths/~1v1~1claims~1{month}~1{address}~1relay/post")
            .is_some());
        assert!(doc.pointer("/components/schemas/RelayRequest").is_some());
        assert!(doc.pointer("/paths/~1v1~1info/get").is_some());
    }

    /// The relay's answer byte for byte as the page has always read it: the expected text is
    /// the `json!` object the relay answered before `RelayResult`, with the same values.
    #[test]
    fn the_relay_result_keeps_its_json() {
        let r = RelayResult {
            amount: 42u128.to_string(),
            beneficiary: "0x22".into(),
            block: "0xb10c".into(),
            claim_status: "claimed",
            claimed: true,
            cost: 7u128.to_string(),
            month: month_name(24312),
            month_index: 24312,
            submitter: "0x33".into(),
            wallet: "0xaa".into(),
        };
        assert_eq!(
            serde_json::to_string(&r).ok().as_deref(),
            Some(
                r#"{"amount":"42","beneficiary":"0x22","block":"0xb10c","claim_status":"claimed","claimed":true,"cost":"7","month":"2026-01","month_index":24312,"submitter":"0x33","wallet":"0xaa"}"#
            )
        );
    }

    #[test]
    fn the_page_links_only_bundled_assets() {
        for asset in ["/style.css", "/claim.js", "/app.js"] {
            assert!(INDEX_HTML.contains(asset), "{asset}");
        }
        for text in [INDEX_HTML, APP_JS, CLAIM_JS, STYLE_CSS] {
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "no external resources"
            );
        }
    }
}
