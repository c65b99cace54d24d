//! Off-chain (social) actions submitted by attesters as signed batches, with replay protection
//! (`docs/PROTOCOL.md`, "Off-chain submissions").
//!
//! - [`Submission`]: a batch of actions by one attester with a `nonce` and an `expires_at`;
//!   [`Submission::encode`] gives its canonical bytes, bound to a [`Domain`] (the chain's genesis
//!   hash and the reward pool contract), and [`Submission::sign`] signs their keccak256 with
//!   EIP-191 `personal_sign`.
//! - [`SignedSubmission`]: the JSON envelope served over HTTP (`POST /v1/actions`) and written as a
//!   signed file (`flex-keeper offchain sign`); [`SignedSubmission::from_json`] names the field at
//!   fault.
//! - [`Intake`]: the keeper's checks (configured attester, signature, expiry, nonce above the last
//!   accepted one, actions valid and in an epoch this keeper has not closed) and the store write,
//!   which raises the nonce and adds the actions in one transaction.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flex_engine::{Genesis, WeightTable};
use flex_evm::{address_hex, EvmAddress, EvmKey};
use flex_store::{ActionRow, OffchainBatch, OffchainImport, Store, StoreError};
use serde::Serialize;
use serde_json::Value;

use crate::ServiceError;

/// The version tag that starts the canonical bytes and names the envelope format.
pub const VERSION: &str = "flex-offchain-v1";
/// Most actions in one batch.
pub const MAX_ACTIONS: usize = 10_000;
/// Largest envelope accepted (HTTP body or signed file), bytes.
pub const MAX_ENVELOPE_BYTES: usize = 4 * 1024 * 1024;
/// Longest `action_id`, bytes of UTF-8.
pub const MAX_ACTION_ID_BYTES: usize = 128;
/// Action id prefixes of the chain followers (`evm:` EVM logs, `sub:` Substrate events), refused
/// in off-chain batches.
pub const RESERVED_ID_PREFIXES: [&str; 2] = ["evm:", "sub:"];
/// Longest `kind`, bytes of UTF-8.
pub const MAX_KIND_BYTES: usize = 64;
/// The store's meta key holding the chain's genesis hash (`0x` + 64 hex digits), recorded by the
/// keeper when it connects ([`record_chain`]).
pub const CHAIN_META: &str = "chain_genesis_hash";

/// What a signature is bound to: one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Domain {
    /// The chain's genesis block hash.
    pub chain: [u8; 32],
    /// The reward pool contract's account.
    pub contract: [u8; 32],
}

/// One attested off-chain action (`side` is always `offchain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffchainAction {
    pub action_id: String,
    pub wallet: EvmAddress,
    pub kind: String,
    /// Unix seconds.
    pub timestamp: i64,
}

/// A batch of actions by one attester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub attester: EvmAddress,
    /// Must be above the attester's last accepted nonce at the keeper.
    pub nonce: u64,
    /// Unix seconds; the batch is refused from this instant on.
    pub expires_at: i64,
    pub actions: Vec<OffchainAction>,
}

/// A [`Submission`] with the attester's signature: 65 bytes `r || s || v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedSubmission {
    pub submission: Submission,
    pub signature: [u8; 65],
}

/// Why a submission was refused. [`OffchainError::status`] is the HTTP status the API answers.
#[derive(Debug, thiserror::Error)]
pub enum OffchainError {
    /// The envelope is malformed (400).
    #[error("field {field}: {message}")]
    Field { field: String, message: String },
    /// An action is malformed or cannot be accepted (422).
    #[error("{}: {message}", action_path(*index, field))]
    Action {
        index: usize,
        /// The action's field (empty: the action as a whole).
        field: String,
        message: String,
    },
    /// The attester is not configured (403).
    #[error("field attester: {0} is not an attester of this keeper (offchain.attesters)")]
    UnknownAttester(String),
    /// This keeper accepts no submissions (403).
    #[error("this keeper accepts no off-chain submissions (offchain.attesters is empty)")]
    Disabled,
    /// The signature is not the attester's over this batch and this deployment (401).
    #[error("field signature: {0}")]
    BadSignature(String),
    /// `expires_at` has passed (422).
    #[error("field expires_at: the batch expired at {expires_at} (unix seconds; now {now})")]
    Expired { expires_at: i64, now: i64 },
    /// The nonce is not above the attester's last accepted one (409).
    #[error("field nonce: replay: nonce {nonce} is not above the attester's last accepted nonce {last_nonce}{}",
        if *same_batch { " (this exact batch was accepted before)" } else { "" })]
    Replay {
        nonce: u64,
        last_nonce: u64,
        same_batch: bool,
    },
    /// The keeper does not know its domain yet (503).
    #[error("{0}")]
    NotReady(String),
    #[error("signing failed: {0}")]
    Sign(String),
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl OffchainError {
    /// The HTTP status for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            OffchainError::Field { .. } => 400,
            OffchainError::BadSignature(_) => 401,
            OffchainError::UnknownAttester(_) | OffchainError::Disabled => 403,
            OffchainError::Replay { .. } => 409,
            OffchainError::Action { .. } | OffchainError::Expired { .. } => 422,
            OffchainError::NotReady(_) => 503,
            OffchainError::Sign(_) | OffchainError::Store(_) => 500,
        }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            OffchainError::Field { .. } => "bad_request",
            OffchainError::Action { .. } => "bad_action",
            OffchainError::UnknownAttester(_) => "unknown_attester",
            OffchainError::Disabled => "offchain_disabled",
            OffchainError::BadSignature(_) => "bad_signature",
            OffchainError::Expired { .. } => "expired",
            OffchainError::Replay { .. } => "replay",
            OffchainError::NotReady(_) => "not_ready",
            OffchainError::Sign(_) | OffchainError::Store(_) => "internal",
        }
    }

    /// The field at fault, as a path into the envelope (`nonce`, `actions[3].kind`).
    pub fn field(&self) -> Option<String> {
        match self {
            OffchainError::Field { field, .. } => Some(field.clone()),
            OffchainError::Action { index, field, .. } => Some(action_path(*index, field)),
            OffchainError::UnknownAttester(_) => Some("attester".into()),
            OffchainError::BadSignature(_) => Some("signature".into()),
            OffchainError::Expired { .. } => Some("expires_at".into()),
            OffchainError::Replay { .. } => Some("nonce".into()),
            _ => None,
        }
    }

    /// The index of the action at fault.
    pub fn index(&self) -> Option<usize> {
        match self {
            OffchainError::Action { index, .. } => Some(*index),
            _ => None,
        }
    }
}

fn action_path(index: usize, field: &str) -> String {
    if field.is_empty() {
        format!("actions[{index}]")
    } else {
        format!("actions[{index}].{field}")
    }
}

fn field(field: impl Into<String>, message: impl Into<String>) -> OffchainError {
    OffchainError::Field {
        field: field.into(),
        message: message.into(),
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Lengths are checked far below u32::MAX before anything is encoded or signed.
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

impl Submission {
    /// The canonical bytes (`docs/PROTOCOL.md`, "Off-chain submissions"): the ASCII tag
    /// `flex-offchain-v1`, the chain's genesis hash, the contract account, the attester, the nonce
    /// (u64) and `expires_at` (i64), the action count (u32), then per action its `action_id`
    /// (u32 length + UTF-8), wallet (20 bytes), `kind` (u32 length + UTF-8) and `timestamp` (i64);
    /// integers big-endian.
    pub fn encode(&self, domain: &Domain) -> Vec<u8> {
        let mut out = Vec::with_capacity(120 + self.actions.len() * 64);
        out.extend_from_slice(VERSION.as_bytes());
        out.extend_from_slice(&domain.chain);
        out.extend_from_slice(&domain.contract);
        out.extend_from_slice(&self.attester);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        out.extend_from_slice(&(self.actions.len() as u32).to_be_bytes());
        for a in &self.actions {
            put_bytes(&mut out, a.action_id.as_bytes());
            out.extend_from_slice(&a.wallet);
            put_bytes(&mut out, a.kind.as_bytes());
            out.extend_from_slice(&a.timestamp.to_be_bytes());
        }
        out
    }

    /// keccak256 of [`Submission::encode`]: the 32 bytes the attester signs.
    pub fn digest(&self, domain: &Domain) -> [u8; 32] {
        flex_evm::keccak256(&self.encode(domain))
    }

    /// Checks the shape (count, lengths, duplicate ids), as [`SignedSubmission::from_json`] does.
    pub fn check_shape(&self) -> Result<(), OffchainError> {
        if self.actions.is_empty() {
            return Err(field("actions", "empty: a batch holds at least one action"));
        }
        if self.actions.len() > MAX_ACTIONS {
            return Err(field(
                "actions",
                format!(
                    "{} actions; a batch holds at most {MAX_ACTIONS}",
                    self.actions.len()
                ),
            ));
        }
        let mut seen = HashSet::with_capacity(self.actions.len());
        for (index, a) in self.actions.iter().enumerate() {
            let bad = |field: &str, message: String| OffchainError::Action {
                index,
                field: field.to_string(),
                message,
            };
            check_text(&a.action_id, MAX_ACTION_ID_BYTES).map_err(|m| bad("action_id", m))?;
            // The chain followers' ids: an attester who could take one ahead of its follower
            // (a pending EVM transaction's id is known before it is confirmed) would make the
            // follower's import a conflict and stop it.
            if let Some(prefix) = RESERVED_ID_PREFIXES.iter().find(|p| a.action_id.starts_with(**p)) {
                return Err(bad(
                    "action_id",
                    format!(
                        "{:?}: ids starting with {prefix:?} are reserved for the chain followers",
                        a.action_id
                    ),
                ));
            }
            check_text(&a.kind, MAX_KIND_BYTES).map_err(|m| bad("kind", m))?;
            if !seen.insert(a.action_id.as_str()) {
                return Err(bad(
                    "action_id",
                    format!("{:?} appears twice in the batch", a.action_id),
                ));
            }
        }
        Ok(())
    }

    /// Signs with EIP-191 `personal_sign` over the 32-byte [`Submission::digest`]. The key must be
    /// the attester's.
    pub fn sign(&self, key: &EvmKey, domain: &Domain) -> Result<SignedSubmission, OffchainError> {
        self.check_shape()?;
        if key.address() != self.attester {
            return Err(OffchainError::Sign(format!(
                "the key is {}'s, not the attester {}'s",
                address_hex(&key.address()),
                address_hex(&self.attester)
            )));
        }
        let signature = key
            .sign_personal(&self.digest(domain))
            .map_err(|e| OffchainError::Sign(e.to_string()))?;
        Ok(SignedSubmission {
            submission: self.clone(),
            signature,
        })
    }
}

fn check_text(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty".into());
    }
    if s.len() > max {
        return Err(format!("{} bytes; at most {max}", s.len()));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("{s:?} holds a control character"));
    }
    Ok(())
}

#[derive(Serialize)]
struct EnvelopeOut<'a> {
    version: &'static str,
    attester: String,
    nonce: u64,
    expires_at: i64,
    actions: Vec<ActionOut<'a>>,
    signature: String,
}

#[derive(Serialize)]
struct ActionOut<'a> {
    action_id: &'a str,
    wallet: String,
    kind: &'a str,
    timestamp: i64,
}

fn parse_address(s: &str) -> Result<EvmAddress, String> {
    s.parse::<flex_engine::Address>()
        .map(|a| a.0)
        .map_err(|e| format!("{s:?}: {e}"))
}

fn get<'a>(obj: &'a serde_json::Map<String, Value>, key: &str, path: &str) -> Result<&'a Value, String> {
    obj.get(key).ok_or_else(|| format!("{path}{key}"))
}

impl SignedSubmission {
    /// The signer's address, recovered over this batch and `domain`.
    pub fn signer(&self, domain: &Domain) -> Result<EvmAddress, OffchainError> {
        flex_evm::recover_personal(&self.submission.digest(domain), &self.signature)
            .map_err(|e| OffchainError::BadSignature(e.to_string()))
    }

    /// Checks that the attester signed this batch for `domain`.
    pub fn verify(&self, domain: &Domain) -> Result<(), OffchainError> {
        let signer = self.signer(domain)?;
        if signer != self.submission.attester {
            return Err(OffchainError::BadSignature(format!(
                "not the attester's signature over this batch for this deployment (chain 0x{}, contract 0x{}): \
                 it recovers to {}; the batch was altered, signed for another deployment, or by another key",
                hex::encode(domain.chain),
                hex::encode(domain.contract),
                address_hex(&signer)
            )));
        }
        Ok(())
    }

    /// The JSON envelope (keys in the documented order, addresses lowercase).
    pub fn to_json(&self) -> String {
        let s = &self.submission;
        let env = EnvelopeOut {
            version: VERSION,
            attester: address_hex(&s.attester),
            nonce: s.nonce,
            expires_at: s.expires_at,
            actions: s
                .actions
                .iter()
                .map(|a| ActionOut {
                    action_id: &a.action_id,
                    wallet: address_hex(&a.wallet),
                    kind: &a.kind,
                    timestamp: a.timestamp,
                })
                .collect(),
            signature: format!("0x{}", hex::encode(self.signature)),
        };
        serde_json::to_string_pretty(&env).unwrap_or_default()
    }

    /// Parses the JSON envelope; errors name the field (`nonce`, `actions[2].wallet`). Unknown
    /// fields are refused (nothing outside the signed bytes may look meaningful).
    pub fn from_json(bytes: &[u8]) -> Result<Self, OffchainError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(field(
                "body",
                format!(
                    "{} bytes; an envelope is at most {MAX_ENVELOPE_BYTES}",
                    bytes.len()
                ),
            ));
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| field("body", format!("not JSON: {e}")))?;
        let obj = v.as_object().ok_or_else(|| field("body", "not a JSON object"))?;
        const KEYS: [&str; 6] = [
            "version",
            "attester",
            "nonce",
            "expires_at",
            "actions",
            "signature",
        ];
        if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(field(
                k.clone(),
                "unknown field (known: version, attester, nonce, expires_at, actions, signature)",
            ));
        }
        let missing = |k: String| field(k, "missing");
        if let Some(ver) = obj.get("version") {
            if ver.as_str() != Some(VERSION) {
                return Err(field("version", format!("{ver} is not \"{VERSION}\"")));
            }
        }
        let attester = get(obj, "attester", "").map_err(missing)?;
        let attester = attester
            .as_str()
            .ok_or_else(|| "not a string".to_string())
            .and_then(parse_address)
            .map_err(|m| field("attester", m))?;
        let nonce = match get(obj, "nonce", "").map_err(missing)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            field(
                "nonce",
                "not an unsigned 64-bit integer (a JSON integer or a string of digits)",
            )
        })?;
        let expires_at = get(obj, "expires_at", "")
            .map_err(missing)?
            .as_i64()
            .ok_or_else(|| field("expires_at", "not an integer (unix seconds)"))?;
        let signature = get(obj, "signature", "").map_err(missing)?;
        let signature = signature
            .as_str()
            .and_then(|s| s.strip_prefix("0x"))
            .and_then(|d| hex::decode(d).ok())
            .and_then(|b| <[u8; 65]>::try_from(b).ok())
            .ok_or_else(|| {
                OffchainError::BadSignature("not 0x followed by 130 hex digits (65 bytes r || s || v)".into())
            })?;
        let list = get(obj, "actions", "")
            .map_err(missing)?
            .as_array()
            .ok_or_else(|| field("actions", "not a list"))?;
        if list.len() > MAX_ACTIONS {
            return Err(field(
                "actions",
                format!("{} actions; a batch holds at most {MAX_ACTIONS}", list.len()),
            ));
        }
        let mut actions = Vec::with_capacity(list.len());
        for (index, a) in list.iter().enumerate() {
            let bad = |field: &str, message: String| OffchainError::Action {
                index,
                field: field.to_string(),
                message,
            };
            let o = a
                .as_object()
                .ok_or_else(|| bad("", "the action is not a JSON object".into()))?;
            const ACTION_KEYS: [&str; 4] = ["action_id", "wallet", "kind", "timestamp"];
            if let Some(k) = o.keys().find(|k| !ACTION_KEYS.contains(&k.as_str())) {
                return Err(bad(
                    k,
                    "unknown field (known: action_id, wallet, kind, timestamp)".into(),
                ));
            }
            let text = |f: &'static str| -> Result<String, OffchainError> {
                o.get(f)
                    .ok_or_else(|| bad(f, "missing".into()))?
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| bad(f, "not a string".into()))
            };
            let action_id = text("action_id")?;
            let wallet = parse_address(&text("wallet")?).map_err(|m| bad("wallet", m))?;
            let kind = text("kind")?;
            let timestamp = o
                .get("timestamp")
                .ok_or_else(|| bad("timestamp", "missing".into()))?
                .as_i64()
                .ok_or_else(|| bad("timestamp", "not an integer (unix seconds)".into()))?;
            actions.push(OffchainAction {
                action_id,
                wallet,
                kind,
                timestamp,
            });
        }
        let submission = Submission {
            attester,
            nonce,
            expires_at,
            actions,
        };
        submission.check_shape()?;
        Ok(Self {
            submission,
            signature,
        })
    }
}

/// Who may submit, and what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The attesters' EVM addresses (`offchain.attesters`). Empty: no submissions.
    pub attesters: BTreeSet<EvmAddress>,
    /// The kinds attesters may submit (`offchain.kinds`); `None`: every kind of the weight table.
    pub kinds: Option<BTreeSet<String>>,
}

/// What an accepted batch added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub attester: EvmAddress,
    pub nonce: u64,
    pub digest: [u8; 32],
    pub actions_new: u64,
    /// Actions whose `action_id` was already stored with the same content.
    pub actions_known: u64,
}

/// Signed files imported in one pass ([`Intake::import_files`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    pub accepted: u64,
    /// Files holding a batch this keeper accepted before (by HTTP or from another file).
    pub known: u64,
    pub rejected: u64,
    pub actions_new: u64,
}

/// Records the chain's genesis hash in the store, the chain half of the [`Domain`]. Called by
/// the keeper on every connection; a change (the keeper now follows another chain) is logged.
pub fn record_chain(store: &dyn Store, genesis_hash: [u8; 32]) -> Result<(), StoreError> {
    let hash = format!("0x{}", hex::encode(genesis_hash));
    match store.meta(CHAIN_META)? {
        Some(h) if h == hash => Ok(()),
        old => {
            if let Some(old) = old {
                tracing::warn!(old = %old, new = %hash, "the chain's genesis hash changed: off-chain batches signed for the old chain are now refused");
            }
            store.set_meta(CHAIN_META, &hash)
        }
    }
}

/// The keeper's intake of signed batches: the checks and the store write.
#[derive(Clone)]
pub struct Intake {
    store: Arc<dyn Store>,
    policy: Policy,
    table: WeightTable,
    contract: [u8; 32],
    genesis: Option<i64>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("policy", &self.policy)
            .field("contract", &hex::encode(self.contract))
            .field("genesis", &self.genesis)
            .finish()
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Intake {
    /// `genesis` (unix seconds) when configured; otherwise the one the keeper recorded from the
    /// contract (meta `genesis`) is used. Every kind of `policy.kinds` must be in `table`.
    pub fn new(
        store: Arc<dyn Store>,
        policy: Policy,
        table: WeightTable,
        contract: [u8; 32],
        genesis: Option<i64>,
    ) -> Result<Self, String> {
        if let Some(kinds) = &policy.kinds {
            if let Some(k) = kinds.iter().find(|k| table.kind(k).is_none()) {
                return Err(format!("offchain.kinds: {k:?} is not in the weight table"));
            }
        }
        Ok(Self {
            store,
            policy,
            table,
            contract,
            genesis,
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The kinds attesters may submit.
    pub fn kinds(&self) -> Vec<String> {
        match &self.policy.kinds {
            Some(k) => k.iter().cloned().collect(),
            None => {
                let mut v: Vec<String> = (0..self.table.len())
                    .filter_map(|i| u16::try_from(i).ok().and_then(|i| self.table.name(i)))
                    .map(str::to_string)
                    .collect();
                v.sort();
                v
            }
        }
    }

    pub fn contract(&self) -> [u8; 32] {
        self.contract
    }

    /// The chain's genesis hash, once the keeper has connected.
    pub fn chain(&self) -> Result<Option<[u8; 32]>, OffchainError> {
        let Some(h) = self.store.meta(CHAIN_META)? else {
            return Ok(None);
        };
        let b = h
            .strip_prefix("0x")
            .and_then(|d| hex::decode(d).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(StoreError::Corrupt {
                what: "meta chain_genesis_hash",
            })?;
        Ok(Some(b))
    }

    /// The domain signatures must be bound to.
    pub fn domain(&self) -> Result<Domain, OffchainError> {
        let chain = self.chain()?.ok_or_else(|| {
            OffchainError::NotReady(
                "this keeper has not connected to the chain yet, so it does not know the chain's genesis hash \
                 that signatures are bound to; try again later"
                    .into(),
            )
        })?;
        Ok(Domain {
            chain,
            contract: self.contract,
        })
    }

    /// An attester's last accepted nonce.
    pub fn last_nonce(&self, attester: &EvmAddress) -> Result<Option<u64>, OffchainError> {
        Ok(self.store.offchain_nonce(attester)?)
    }

    fn genesis(&self) -> Result<Option<Genesis>, OffchainError> {
        let g = match self.genesis {
            Some(g) => Some(g),
            None => self.store.meta("genesis")?.and_then(|g| g.parse::<i64>().ok()),
        };
        Ok(g.and_then(|g| Genesis::new(g).ok()))
    }

    /// Checks `signed` and stores its actions; `via` says how it came (`http`, a file) and `now` is
    /// unix seconds. Checks, in order: an attester of this keeper (403), the signature over this
    /// keeper's domain (401), not expired (422), the nonce above the attester's last (409), each
    /// action's kind and epoch (422); then the nonce and the actions are stored in one transaction
    /// (a conflicting `action_id` is a 422 naming the action, and nothing is stored).
    pub fn accept(&self, signed: &SignedSubmission, via: &str, now: i64) -> Result<Accepted, OffchainError> {
        let s = &signed.submission;
        if self.policy.attesters.is_empty() {
            return Err(OffchainError::Disabled);
        }
        if !self.policy.attesters.contains(&s.attester) {
            return Err(OffchainError::UnknownAttester(address_hex(&s.attester)));
        }
        let domain = self.domain()?;
        s.check_shape()?;
        signed.verify(&domain)?;
        if s.expires_at <= now {
            return Err(OffchainError::Expired {
                expires_at: s.expires_at,
                now,
            });
        }
        let digest = s.digest(&domain);
        let replay = |last_nonce: u64| -> Result<OffchainError, OffchainError> {
            let same_batch = self.store.offchain_batch(&s.attester, s.nonce)? == Some(digest);
            Ok(OffchainError::Replay {
                nonce: s.nonce,
                last_nonce,
                same_batch,
            })
        };
        if let Some(last) = self.store.offchain_nonce(&s.attester)? {
            if s.nonce <= last {
                return Err(replay(last)?);
            }
        }
        let genesis = self.genesis()?;
        let last_closed = self.store.last_epoch()?;
        let mut rows = Vec::with_capacity(s.actions.len());
        for (index, a) in s.actions.iter().enumerate() {
            let bad = |field: &str, message: String| OffchainError::Action {
                index,
                field: field.to_string(),
                message,
            };
            if self.table.kind(&a.kind).is_none() {
                return Err(bad("kind", format!("{:?} is not in the weight table", a.kind)));
            }
            if let Some(kinds) = &self.policy.kinds {
                if !kinds.contains(&a.kind) {
                    return Err(bad(
                        "kind",
                        format!("{:?} is not a kind attesters may submit (offchain.kinds)", a.kind),
                    ));
                }
            }
            if let Some(g) = genesis {
                let Some(e) = g.epoch_of(a.timestamp) else {
                    return Err(bad(
                        "timestamp",
                        format!("{} is before genesis ({})", a.timestamp, g.unix_seconds()),
                    ));
                };
                if last_closed.is_some_and(|l| e <= l) {
                    return Err(bad(
                        "timestamp",
                        format!(
                            "{} is in epoch {e}, which this keeper has already closed",
                            a.timestamp
                        ),
                    ));
                }
            }
            rows.push(ActionRow {
                action_id: a.action_id.clone(),
                wallet: a.wallet,
                kind: a.kind.clone(),
                side: "offchain".into(),
                timestamp: a.timestamp,
            });
        }
        let source = format!("offchain:{}:{}", address_hex(&s.attester), s.nonce);
        let batch = OffchainBatch {
            attester: s.attester,
            nonce: s.nonce,
            digest,
            source: &source,
            via,
        };
        let stats = match self.store.import_offchain(&batch, &rows) {
            Ok(OffchainImport::Accepted(stats)) => stats,
            Ok(OffchainImport::Stale { last_nonce }) => return Err(replay(last_nonce)?),
            Err(StoreError::ActionConflict { id, field, .. }) => {
                let index = s.actions.iter().position(|a| a.action_id == id).unwrap_or(0);
                return Err(OffchainError::Action {
                    index,
                    field: match field {
                        "wallet" | "kind" | "timestamp" => field,
                        _ => "action_id",
                    }
                    .to_string(),
                    message: format!(
                        "action_id {id:?} is already stored with another {field} (another action, or the same id \
                         on chain)"
                    ),
                });
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(
            attester = %address_hex(&s.attester),
            nonce = s.nonce,
            actions_new = stats.actions_new,
            actions_known = stats.actions_known,
            via,
            "accepted an off-chain batch"
        );
        Ok(Accepted {
            attester: s.attester,
            nonce: s.nonce,
            digest,
            actions_new: stats.actions_new,
            actions_known: stats.actions_known,
        })
    }

    /// Imports signed files (`offchain.files`: files, or folders whose `*.json` files are read),
    /// with the same checks as [`Intake::accept`]. A file is read again only when its size or
    /// modification time changed. Batches are applied in nonce order per attester, whatever the
    /// file names. A refused file is logged (file and reason) and skipped until it changes; a batch
    /// this keeper already holds (the same bytes) counts as known. Nothing is read before the
    /// keeper knows its domain (its first connection to the chain).
    pub fn import_files(&self, paths: &[PathBuf], now: i64) -> Result<FileStats, ServiceError> {
        let mut stats = FileStats::default();
        if paths.is_empty() || self.chain().map_err(offchain_to_service)?.is_none() {
            return Ok(stats);
        }
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                let rd = std::fs::read_dir(p).map_err(|e| {
                    ServiceError::Input(format!(
                        "offchain.files: {}: cannot read the folder: {e}",
                        p.display()
                    ))
                })?;
                let mut found: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "json"))
                    .collect();
                found.sort();
                files.extend(found);
            } else if p.is_file() {
                files.push(p.clone());
            } else {
                // Logged on every pass, not fatal: a missing folder must not stop the keeper
                // closing epochs.
                tracing::warn!(path = %p.display(), "offchain.files: no such file or folder");
            }
        }
        let mut todo: Vec<(PathBuf, Option<String>, Result<SignedSubmission, OffchainError>)> = Vec::new();
        for f in files {
            let fp = fingerprint(&f);
            if fp.is_some() && self.store.meta(&file_key(&f))? == fp {
                continue;
            }
            todo.push((f.clone(), fp, read_signed_file(&f)));
        }
        // Per attester in nonce order; unreadable files first (they only get logged).
        todo.sort_by_key(|(f, _, r)| match r {
            Ok(s) => (1, s.submission.attester, s.submission.nonce, f.clone()),
            Err(_) => (0, [0; 20], 0, f.clone()),
        });
        for (f, fp, parsed) in todo {
            let file = f.display().to_string();
            let outcome = parsed.and_then(|s| self.accept(&s, &file, now));
            match outcome {
                Ok(a) => {
                    stats.accepted += 1;
                    stats.actions_new += a.actions_new;
                }
                Err(OffchainError::Replay { same_batch: true, .. }) => {
                    stats.known += 1;
                    tracing::debug!(file = %file, "signed file: batch already accepted");
                }
                Err(e @ (OffchainError::Store(_) | OffchainError::NotReady(_) | OffchainError::Sign(_))) => {
                    return Err(offchain_to_service(e));
                }
                Err(e) => {
                    stats.rejected += 1;
                    tracing::error!(file = %file, code = e.code(), error = %e, "signed file refused; skipped until it changes");
                }
            }
            if let Some(fp) = fp {
                self.store.set_meta(&file_key(&f), &fp)?;
            }
        }
        Ok(stats)
    }
}

fn offchain_to_service(e: OffchainError) -> ServiceError {
    match e {
        OffchainError::Store(s) => ServiceError::Store(s),
        other => ServiceError::Input(other.to_string()),
    }
}

fn file_key(f: &Path) -> String {
    format!("offchain-file:{}", f.display())
}

fn fingerprint(path: &Path) -> Option<String> {
    let md = std::fs::metadata(path).ok()?;
    let mtime = md.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{}:{}", md.len(), mtime.as_nanos()))
}

/// Reads a signed file (the JSON envelope); errors name the file.
pub fn read_signed_file(path: &Path) -> Result<SignedSubmission, OffchainError> {
    let name = path.display().to_string();
    let len = std::fs::metadata(path)
        .map_err(|e| field("file", format!("{name}: cannot read: {e}")))?
        .len();
    if len > MAX_ENVELOPE_BYTES as u64 {
        return Err(field(
            "file",
            format!("{name}: {len} bytes; an envelope is at most {MAX_ENVELOPE_BYTES}"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| field("file", format!("{name}: cannot read: {e}")))?;
    SignedSubmission::from_json(&bytes)
}

#[cfg(test)]
mod tests;
