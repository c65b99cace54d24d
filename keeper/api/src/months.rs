//! `GET /v1/months/{month}/tree`: a finalised month's whole claim tree as OpenZeppelin's
//! `standard-v1` dump, so that a wallet or an auditor can check every leaf and the root without
//! trusting this API (`flex-keeper merkle verify --dump`, or OZ's `StandardMerkleTree.load`).
//!
//! The dump is the one `flex-keeper merkle dump` writes for the month's leaves in the keeper's
//! order (by wallet); [`stored_claim_tree`] rebuilds it from the store, checks every node and the
//! root, and `flex-keeper merkle dump --store` uses it too.

use std::io;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use flex_engine::calendar::month_name;
use flex_merkle::{ClaimLeaf, MerkleError, StandardMerkleTree};
use flex_store::{MonthRecord, Phase, Store, StoreError};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::error::{ApiError, ApiResult};
use crate::format::parse_month;
use crate::Api;

/// Trees built and streamed at once; more answer 429 (each holds the month's tree in memory).
pub(crate) const TREE_DOWNLOADS: usize = 2;

/// Why a month's stored claim tree could not be published.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("month {month}: the stored claim tree is not a valid tree of its leaves: {source}")]
    Invalid { month: u32, source: MerkleError },
    #[error("month {month}: the stored claim tree's root {tree} is not the month's claims root {record}")]
    RootDiffers {
        month: u32,
        tree: String,
        record: String,
    },
}

/// Month `m`'s record and claim tree as the store holds them, checked: every node is the hash of
/// its children, every leaf the hash of its value, and the root the record's claims root. `None`
/// when the store has no record of the month or the month has no claims (its root is zero).
pub fn stored_claim_tree(
    store: &dyn Store,
    m: u32,
) -> Result<Option<(MonthRecord, StandardMerkleTree<ClaimLeaf>)>, TreeError> {
    let Some(record) = store.month(m)? else {
        return Ok(None);
    };
    let Some(stored) = store.claim_tree(m)? else {
        return Ok(None);
    };
    if stored.leaves.is_empty() {
        return Ok(None);
    }
    let mut values = Vec::with_capacity(stored.leaves.len());
    let mut indexes = Vec::with_capacity(stored.leaves.len());
    for l in &stored.leaves {
        values.push(ClaimLeaf {
            month_index: m,
            wallet: l.wallet,
            amount: l.amount,
        });
        indexes.push(l.tree_index as usize);
    }
    let tree = StandardMerkleTree::from_parts(stored.nodes, values, indexes)
        .map_err(|source| TreeError::Invalid { month: m, source })?;
    if tree.root() != record.claims_root {
        return Err(TreeError::RootDiffers {
            month: m,
            tree: flex_types::hex::encode(tree.root()),
            record: flex_types::hex::encode(record.claims_root),
        });
    }
    Ok(Some((record, tree)))
}

/// `GET /v1/months/{month}/tree`.
pub(crate) async fn tree(State(api): State<Api>, Path(month): Path<String>) -> ApiResult {
    let m = parse_month(&month)?;
    let record = api.with_store(move |s| s.month(m)).await?;
    let Some(record) = record else {
        return Err(ApiError::not_found(
            "unknown_month",
            format!(
                "month {m} ({}) has no claim root at this keeper (not closed yet, or before genesis)",
                month_name(m)
            ),
        ));
    };
    match record.phase {
        Phase::Finalized => {}
        Phase::Mismatch => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "root_mismatch",
                format!(
                    "month {m} ({}): this keeper's claim root differs from the one finalised on chain; ask another keeper",
                    month_name(m)
                ),
            ))
        }
        phase => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not_finalized",
                format!(
                    "month {m} ({}) is {} at this keeper: its tree is published once the chain has finalised its root",
                    month_name(m),
                    phase.as_str()
                ),
            ))
        }
    }
    if record.claims == 0 {
        return Err(ApiError::not_found(
            "no_claims",
            format!("month {m} ({}) has no claims (its root is zero)", month_name(m)),
        ));
    }
    let permit = api
        .inner
        .tree_downloads
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "busy",
                format!("{TREE_DOWNLOADS} tree downloads are running; try again shortly"),
            )
        })?;
    let (_, tree) = api
        .with_store(move |s| stored_claim_tree(s, m))
        .await?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "month {m} is finalised with claims but the store has no claim tree for it"
            ))
        })?;
    let root = flex_types::hex::encode(tree.root());
    // Written on a blocking thread as the client reads it: the body is never whole in memory.
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        if let Err(e) = tree.write_dump(ChannelWriter(tx)) {
            tracing::debug!(month = m, error = %e, "tree download ended early");
        }
    });
    let name = month_name(m);
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            // A finalised month's tree never changes; its root names it.
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_string(),
            ),
            (header::ETAG, format!("\"{root}\"")),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"flex-claims-{name}.json\""),
            ),
        ],
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
        .into_response())
}

/// Sends each write as one chunk of the response body (the dump writer buffers 1 MiB).
struct ChannelWriter(mpsc::Sender<io::Result<Bytes>>);

impl io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The paths of this module in the OpenAPI document (`openapi.rs`'s conventions: canonical
/// parameters, closed schemas with every field required).
pub(crate) fn openapi_extend(doc: &mut Value) {
    use crate::openapi::{address_param, error_response, json_response, month_param};
    doc["paths"]["/v1/months/{month}/tree"] = json!({"get": {
    "operationId": "getMonthTree",
    "summary": "A finalised month's whole claim tree: OpenZeppelin's standard-v1 dump (leaf encoding uint32 month_index, address wallet, uint128 amount), for checking every leaf and the root",
    "parameters": [month_param()],
    "responses": {
        "200": json_response("the dump (streamed; cacheable for ever, the ETag is the claims root)", "TreeDump"),
        "400": error_response("bad_month"),
        "404": error_response("unknown_month or no_claims"),
        "409": error_response("not_finalized (the chain has not finalised the month's root) or root_mismatch"),
        "429": error_response("busy: too many tree downloads at once")
    }}});
    doc["paths"]["/v1/wallets/{address}/claims"] = json!({"get": {
    "operationId": "getWalletClaims",
    "summary": "Every month in which a wallet has a claim, with its amount and status (the proof is at /v1/claims/{month}/{address})",
    "parameters": [address_param()],
    "responses": {
        "200": json_response("the wallet's claims, by month", "WalletClaims"),
        "400": error_response("bad_address"),
        "404": error_response("unknown_wallet")
    }}});
    let hash = json!({"type": "string", "pattern": "^0x[0-9a-f]{64}$"});
    doc["components"]["schemas"]["TreeDump"] = json!({"type": "object", "additionalProperties": false,
        "required": ["format", "leafEncoding", "tree", "values"], "properties": {
        "format": {"const": "standard-v1"},
        "leafEncoding": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
        "tree": {"type": "array", "items": hash, "minItems": 1},
        "values": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["value", "treeIndex"], "properties": {
            "value": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
            "treeIndex": {"type": "integer", "minimum": 0}}}}}});
    doc["components"]["schemas"]["WalletClaims"] = json!({"type": "object", "additionalProperties": false,
        "required": ["wallet", "claims"], "properties": {
        "wallet": {"type": "string", "pattern": "^0x[0-9a-f]{40}$"},
        "claims": {"type": "array", "items": {"type": "object", "additionalProperties": false,
            "required": ["amount", "claim_status", "claims_root", "month", "month_index", "root_status", "url"],
            "properties": {
                "amount": {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"},
                "claim_status": {"type": "string", "enum": ["claimed", "unclaimed", "unknown (chain unreachable)"]},
                "claims_root": hash,
                "month": {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"},
                "month_index": {"type": "integer", "minimum": 0, "maximum": u32::MAX},
                "root_status": {"type": "string", "enum": ["computed", "submitting", "voted", "finalized", "mismatch"]},
                "url": {"type": "string", "description": "the claim with its proof"}}}}}});
}

/// The permits of [`TREE_DOWNLOADS`].
pub(crate) fn tree_downloads() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(TREE_DOWNLOADS))
}
