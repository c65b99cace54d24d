//! The signed off-chain batch (`docs/PROTOCOL.md`, "Off-chain submissions"): its canonical bytes,
//! its signature and its JSON envelope. The keeper's checks and store write are the intake's
//! (`flex_sources::offchain`).
//!
//! - [`Submission`]: a batch of actions by one attester with a `nonce` and an `expires_at`;
//!   [`Submission::encode`] gives its canonical bytes, bound to a [`Domain`] (the chain's genesis
//!   hash and the reward pool contract), and [`Submission::sign`] signs their keccak256 with
//!   EIP-191 `personal_sign`.
//! - [`SignedSubmission`]: the JSON envelope served over HTTP (`POST /v1/actions`) and written as a
//!   signed file (`flex-keeper offchain sign`); [`SignedSubmission::from_json`] names the field at
//!   fault.

use std::collections::HashSet;
use std::path::Path;

use flex_evm::EvmKey;
use flex_store::StoreError;
use flex_types::{hex, AccountId, Address};
use serde::Serialize;
use serde_json::Value;

/// The version tag that starts the canonical bytes and names the envelope format.
pub const VERSION: &str = "flex-offchain-v1";
/// Most actions in one batch.
pub const MAX_ACTIONS: usize = 10_000;
/// Largest envelope accepted (HTTP body or signed file), bytes.
pub const MAX_ENVELOPE_BYTES: usize = 4 * 1024 * 1024;
/// Longest `action_id`, bytes of UTF-8.
pub const MAX_ACTION_ID_BYTES: usize = 128;
/// Longest `kind`, bytes of UTF-8.
pub const MAX_KIND_BYTES: usize = 64;

/// What a signature is bound to: one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Domain {
    /// The chain's genesis block hash.
    pub chain: [u8; 32],
    /// The reward pool contract's account.
    pub contract: AccountId,
}

/// One attested off-chain action (`side` is always `offchain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffchainAction {
    pub action_id: String,
    pub wallet: Address,
    pub kind: String,
    /// Unix seconds.
    pub timestamp: i64,
}

/// A batch of actions by one attester.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub attester: Address,
    /// Not used by the attester before (nonces are a set per attester, any order).
    pub nonce: u64,
    /// Unix seconds; the batch is refused once a keeper has closed the epoch holding it.
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
    /// `expires_at` is before genesis, or in an epoch this keeper has closed (422): expiry is
    /// counted in epochs, not by a keeper's clock.
    #[error("field expires_at: the batch expired at {expires_at} (unix seconds): {}",
        match (epoch, last_closed) {
            (Some(e), Some(l)) => format!("it is in epoch {e}, which this keeper has closed (it has closed epochs up to {l})"),
            _ => "it is before genesis".to_string(),
        })]
    Expired {
        expires_at: i64,
        /// The epoch of `expires_at` (`None`: before genesis).
        epoch: Option<u64>,
        /// The last epoch this keeper has closed.
        last_closed: Option<u64>,
    },
    /// The attester used this nonce before (409): for this very batch (`already_accepted`, nothing
    /// to do) or for another one (`replay`).
    #[error("field nonce: {}", if *same_batch {
        format!("nonce {nonce}: this exact batch was accepted before (nothing changed)")
    } else {
        format!("replay: the attester's nonce {nonce} was used by another batch, accepted before")
    })]
    Replay { nonce: u64, same_batch: bool },
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
            OffchainError::Replay { same_batch: true, .. } => "already_accepted",
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
        out.extend_from_slice(&domain.contract.0);
        out.extend_from_slice(&self.attester.0);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        out.extend_from_slice(&(self.actions.len() as u32).to_be_bytes());
        for a in &self.actions {
            put_bytes(&mut out, a.action_id.as_bytes());
            out.extend_from_slice(&a.wallet.0);
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
            check_text(&a.action_id, MAX_ACTION_ID_BYTES).map_err(|e| bad("action_id", e.to_string()))?;
            // Stored as `off:<attester>:<id>`, so no id an attester gives can collide with another
            // source's; a reserved prefix is refused all the same, so a stored id reads one way
            // only (`off:0xA…:off:0xB…:x` would look like B's).
            if let Some(prefix) = crate::ids::reserved_prefix(&a.action_id) {
                return Err(bad(
                    "action_id",
                    crate::ids::reserved_message(&a.action_id, prefix),
                ));
            }
            check_text(&a.kind, MAX_KIND_BYTES).map_err(|e| bad("kind", e.to_string()))?;
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
                key.address(),
                self.attester
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

/// Why an action's text field (`action_id`, `kind`) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum TextError {
    #[error("empty")]
    Empty,
    #[error("{len} bytes; at most {max}")]
    TooLong { len: usize, max: usize },
    #[error("{0:?} holds a control character")]
    Control(String),
}

fn check_text(s: &str, max: usize) -> Result<(), TextError> {
    if s.is_empty() {
        return Err(TextError::Empty);
    }
    if s.len() > max {
        return Err(TextError::TooLong { len: s.len(), max });
    }
    if s.chars().any(char::is_control) {
        return Err(TextError::Control(s.to_string()));
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

/// An address field's message names the text it was given.
fn address_message(s: &str, e: flex_types::AddressError) -> String {
    format!("{s:?}: {e}")
}

impl SignedSubmission {
    /// The signer's address, recovered over this batch and `domain`.
    pub fn signer(&self, domain: &Domain) -> Result<Address, OffchainError> {
        flex_evm::recover_personal(&self.submission.digest(domain), &self.signature)
            .map_err(|e| OffchainError::BadSignature(e.to_string()))
    }

    /// Checks that the attester signed this batch for `domain`.
    pub fn verify(&self, domain: &Domain) -> Result<(), OffchainError> {
        let signer = self.signer(domain)?;
        if signer != self.submission.attester {
            return Err(OffchainError::BadSignature(format!(
                "not the attester's signature over this batch for this deployment (chain {}, contract {}): \
                 it recovers to {}; the batch was altered, signed for another deployment, or by another key",
                hex::encode(domain.chain),
                hex::encode(domain.contract),
                signer
            )));
        }
        Ok(())
    }

    /// The JSON envelope (keys in the documented order, addresses lowercase).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.envelope()).unwrap_or_default()
    }

    /// The JSON envelope on one line (the archive's form, `flex-keeper offchain archive`).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(&self.envelope()).unwrap_or_default()
    }

    fn envelope(&self) -> EnvelopeOut<'_> {
        let s = &self.submission;
        EnvelopeOut {
            version: VERSION,
            attester: s.attester.to_string(),
            nonce: s.nonce,
            expires_at: s.expires_at,
            actions: s
                .actions
                .iter()
                .map(|a| ActionOut {
                    action_id: &a.action_id,
                    wallet: a.wallet.to_string(),
                    kind: &a.kind,
                    timestamp: a.timestamp,
                })
                .collect(),
            signature: hex::encode(self.signature),
        }
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
        let missing = |k: &str| field(k, "missing");
        if let Some(ver) = obj.get("version") {
            if ver.as_str() != Some(VERSION) {
                return Err(field("version", format!("{ver} is not \"{VERSION}\"")));
            }
        }
        let attester = obj.get("attester").ok_or_else(|| missing("attester"))?;
        let attester = attester
            .as_str()
            .ok_or_else(|| field("attester", "not a string"))?;
        let attester: Address = attester
            .parse()
            .map_err(|e| field("attester", address_message(attester, e)))?;
        let nonce = match obj.get("nonce").ok_or_else(|| missing("nonce"))? {
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
        let expires_at = obj
            .get("expires_at")
            .ok_or_else(|| missing("expires_at"))?
            .as_i64()
            .ok_or_else(|| field("expires_at", "not an integer (unix seconds)"))?;
        let signature = obj.get("signature").ok_or_else(|| missing("signature"))?;
        let signature = signature
            .as_str()
            .filter(|s| s.starts_with("0x"))
            .and_then(|s| hex::decode::<65>(s).ok())
            .ok_or_else(|| {
                OffchainError::BadSignature("not 0x followed by 130 hex digits (65 bytes r || s || v)".into())
            })?;
        let list = obj
            .get("actions")
            .ok_or_else(|| missing("actions"))?
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
            let wallet_text = text("wallet")?;
            let wallet: Address = wallet_text
                .parse()
                .map_err(|e| bad("wallet", address_message(&wallet_text, e)))?;
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
