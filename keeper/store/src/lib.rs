//! The keeper's storage: what a keeper knows and has done, behind a small interface ([`Store`]).
//!
//! - **Inputs**: wallets with their connection time (the earliest of all imports, whatever their
//!   order), and actions, idempotent by `action_id` (the
//!   same id again with the same content is skipped; with other content it is an error naming it).
//! - **Off-chain batches**: per attester the set of nonces used, each accepted batch's digest and
//!   its signed envelope, written in the same transaction as the batch's actions
//!   ([`Store::import_offchain`]); [`Store::offchain_archive`] gives them back for a rebuild.
//! - **Epochs**: per epoch the computed figures, the SCALE commitment and its hash, and the keeper's
//!   state machine for it ([`Phase`]); per wallet and epoch the score leaf (score, weight bits,
//!   reward), which is what the epoch's scores tree is built from.
//! - **Months**: the month root, its claim leaves (amount and position in the claim tree) and the
//!   tree's nodes, so that proofs are served without rebuilding the tree.
//!
//! [`SqliteStore`] is the implementation: one file, WAL journal, migrations by `PRAGMA
//! user_version`. Everything an epoch close writes goes in one transaction. The interface speaks in
//! plain bytes and integers (20-byte addresses, `u128` amounts), not in engine types, so another
//! backend (PostgreSQL) implements the same trait without touching the keeper.

mod sqlite;

pub use sqlite::SqliteStore;

pub use flex_types::Address;
/// A 32-byte hash.
pub type Hash = [u8; 32];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database schema version {found} is newer than this keeper knows ({known}); upgrade the keeper")]
    TooNew { found: i64, known: i64 },
    #[error("action_id {id:?} was imported before with another {field} (now from {source_name})")]
    ActionConflict {
        id: String,
        field: &'static str,
        source_name: String,
    },
    #[error("corrupt value in {what}")]
    Corrupt { what: &'static str },
    /// An input the store cannot hold (an unknown side, too many kinds in a batch).
    #[error("{0}")]
    Invalid(String),
    /// An [`Store::import_stream`] whose producer failed: nothing was written.
    #[error("import of {source_name} abandoned, nothing written: {reason}")]
    Aborted { source_name: String, reason: String },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A wallet as imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletRow {
    pub address: Address,
    /// Unix seconds.
    pub connected_at: i64,
}

/// An action as imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRow {
    pub action_id: String,
    pub wallet: Address,
    pub kind: String,
    /// `onchain` or `offchain`.
    pub side: String,
    /// Unix seconds.
    pub timestamp: i64,
}

/// What an import added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportStats {
    pub wallets_new: u64,
    /// Wallets already known (each keeps the earliest `connected_at` of all its imports).
    pub wallets_known: u64,
    /// Of `wallets_known`, those whose stored `connected_at` this import moved earlier.
    pub wallets_earlier: u64,
    pub actions_new: u64,
    /// Actions whose `action_id` was already stored with the same content.
    pub actions_known: u64,
}

/// An accepted off-chain batch as [`Store::import_offchain`] records it (`docs/PROTOCOL.md`,
/// "Off-chain submissions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffchainBatch<'a> {
    /// The attester's EVM address.
    pub attester: Address,
    pub nonce: u64,
    /// The keccak256 of the batch's canonical bytes.
    pub digest: Hash,
    /// The actions' `source`.
    pub source: &'a str,
    /// How it arrived (`http`, or the signed file's path).
    pub via: &'a str,
    /// The signed batch whole (its JSON envelope), kept for a rebuild ([`Store::offchain_archive`]).
    pub envelope: &'a str,
}

/// What [`Store::import_offchain`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffchainImport {
    /// The attester had not used the nonce: the batch and its actions are stored.
    Accepted(ImportStats),
    /// The attester's nonce was used before, by the batch with this digest: nothing was written.
    Seen { digest: Hash },
}

/// An accepted off-chain batch as kept ([`Store::offchain_archive`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedBatch {
    pub attester: Address,
    pub nonce: u64,
    pub digest: Hash,
    /// The JSON envelope; `None` for a batch accepted before the store kept them (schema 8).
    pub envelope: Option<String>,
    pub via: String,
    /// Unix seconds.
    pub accepted_at: i64,
}

/// Which list an action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionSide {
    Onchain,
    Offchain,
}

impl ActionSide {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionSide::Onchain => "onchain",
            ActionSide::Offchain => "offchain",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "onchain" => Some(ActionSide::Onchain),
            "offchain" => Some(ActionSide::Offchain),
            _ => None,
        }
    }
}

/// Activity packed for a bulk import ([`Store::import_stream`]): wallets as rows; actions with
/// their ids back to back in one text buffer and their kinds as indices into the batch's kind
/// list, so a batch of thousands of actions is a few allocations, reused with [`clear`].
///
/// [`clear`]: ImportBatch::clear
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportBatch {
    pub wallets: Vec<WalletRow>,
    kinds: Vec<String>,
    ids: String,
    actions: Vec<PackedAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackedAction {
    /// End of the id in `ids` (it starts where the previous one ends).
    id_end: usize,
    wallet: Address,
    kind: u16,
    side: ActionSide,
    timestamp: i64,
    line: u64,
}

/// One action of an [`ImportBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionView<'a> {
    pub action_id: &'a str,
    pub wallet: Address,
    pub kind: &'a str,
    /// `kind`'s index in the batch's kind list.
    pub kind_index: u16,
    pub side: ActionSide,
    /// Unix seconds.
    pub timestamp: i64,
    /// Where the action was read (a line number; 0: unknown), named in conflict errors.
    pub line: u64,
}

impl ImportBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// A batch whose kind indices ([`ImportBatch::push_action`]) index `kinds`.
    pub fn with_kinds<S: Into<String>>(kinds: impl IntoIterator<Item = S>) -> Self {
        Self {
            kinds: kinds.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// The index of `kind` in the batch's kind list, added when new.
    pub fn kind_index(&mut self, kind: &str) -> Result<u16> {
        if let Some(i) = self.kinds.iter().position(|k| k == kind) {
            return Ok(i as u16);
        }
        let i = u16::try_from(self.kinds.len())
            .map_err(|_| StoreError::Invalid(format!("more than {} kinds in one batch", u16::MAX)))?;
        self.kinds.push(kind.to_string());
        Ok(i)
    }

    /// The batch's kind list.
    pub fn kinds(&self) -> &[String] {
        &self.kinds
    }

    /// Adds an action; `kind` indexes [`ImportBatch::kinds`].
    pub fn push_action(
        &mut self,
        action_id: &str,
        wallet: Address,
        kind: u16,
        side: ActionSide,
        timestamp: i64,
        line: u64,
    ) -> Result<()> {
        if usize::from(kind) >= self.kinds.len() {
            return Err(StoreError::Invalid(format!(
                "kind index {kind} out of the batch's {} kinds",
                self.kinds.len()
            )));
        }
        self.ids.push_str(action_id);
        self.actions.push(PackedAction {
            id_end: self.ids.len(),
            wallet,
            kind,
            side,
            timestamp,
            line,
        });
        Ok(())
    }

    /// Adds an [`ActionRow`] (its side must be `onchain` or `offchain`).
    pub fn push_row(&mut self, a: &ActionRow, line: u64) -> Result<()> {
        let side = ActionSide::parse(&a.side).ok_or_else(|| {
            StoreError::Invalid(format!(
                "action_id {:?}: side {:?} is neither \"onchain\" nor \"offchain\"",
                a.action_id, a.side
            ))
        })?;
        let kind = self.kind_index(&a.kind)?;
        self.push_action(&a.action_id, a.wallet, kind, side, a.timestamp, line)
    }

    /// Actions in the batch.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// No wallets and no actions.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.wallets.is_empty()
    }

    /// The actions, in the order they were added.
    pub fn actions(&self) -> impl ExactSizeIterator<Item = ActionView<'_>> + '_ {
        self.actions.iter().enumerate().map(move |(i, a)| {
            let start = if i == 0 { 0 } else { self.actions[i - 1].id_end };
            ActionView {
                action_id: &self.ids[start..a.id_end],
                wallet: a.wallet,
                kind: self.kinds.get(usize::from(a.kind)).map_or("", String::as_str),
                kind_index: a.kind,
                side: a.side,
                timestamp: a.timestamp,
                line: a.line,
            }
        })
    }

    /// Empties the batch, keeping its kind list and its buffers' capacity.
    pub fn clear(&mut self) {
        self.wallets.clear();
        self.ids.clear();
        self.actions.clear();
    }
}

/// Where the keeper is with an epoch or a month: a state machine persisted with each step, so a
/// restart resumes where the process died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Results, tree and commitment are stored; no vote was sent.
    Computed,
    /// The vote is about to be (or was) sent; on restart the chain says whether it landed.
    Submitting,
    /// Our vote is on chain; waiting for quorum.
    Voted,
    /// Finalised on chain with our commitment.
    Finalized,
    /// Finalised on chain with another commitment than ours (an alert: our inputs differ).
    Mismatch,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Computed => "computed",
            Phase::Submitting => "submitting",
            Phase::Voted => "voted",
            Phase::Finalized => "finalized",
            Phase::Mismatch => "mismatch",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        Some(match s {
            "computed" => Phase::Computed,
            "submitting" => Phase::Submitting,
            "voted" => Phase::Voted,
            "finalized" => Phase::Finalized,
            "mismatch" => Phase::Mismatch,
            _ => return None,
        })
    }

    /// Nothing more to do on chain.
    pub fn is_done(self) -> bool {
        matches!(self, Phase::Finalized | Phase::Mismatch)
    }
}

/// One computed epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochRecord {
    pub epoch: u64,
    pub month_index: u32,
    pub phase: Phase,
    /// The SCALE-encoded `EpochCommitment` exactly as submitted.
    pub commitment: Vec<u8>,
    /// `keccak256(commitment)`: how the contract counts votes.
    pub commitment_hash: Hash,
    pub scores_root: Hash,
    pub active: u64,
    pub ranked: u64,
    pub multiplier_sum: u128,
    /// Raw `U64F64` bits.
    pub total_weight: u128,
    /// `P_e`.
    pub pool: u128,
    pub distributed: u128,
    /// The chain's `Wi` (hundredths), `H` and `P_t` for this epoch.
    pub wallet_index: u8,
    pub halving: u64,
    pub snapshot: u128,
    /// The published next-epoch forecast, raw `U64F64` bits (0: none).
    pub forecast: u128,
    /// How the forecast was made (JSON, `flex-service`'s `forecast` module; empty: none).
    pub forecast_detail: String,
    /// Wallets listed (leaves of the scores tree).
    pub wallets: u64,
    /// Whether this keeper's vote is on chain.
    pub voted: bool,
    /// Last note (a transaction's block, a chain error, the hash the chain finalised instead).
    pub note: String,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

/// One wallet's leaf in an epoch's scores tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreRow {
    pub wallet: Address,
    pub score: u8,
    /// Raw `U64F64` bits.
    pub weight: u128,
    pub reward: u128,
}

/// One wallet's epoch in its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletEpochRow {
    pub epoch: u64,
    pub score: u8,
    pub weight: u128,
    pub reward: u128,
}

/// One month root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRecord {
    pub month_index: u32,
    pub phase: Phase,
    /// The SCALE-encoded `MonthRoot` exactly as submitted.
    pub root: Vec<u8>,
    pub root_hash: Hash,
    pub claims_root: Hash,
    pub total: u128,
    pub claim_price: u128,
    /// Epochs `[first_epoch, end_epoch)`.
    pub first_epoch: u64,
    pub end_epoch: u64,
    pub claims: u64,
    pub voted: bool,
    pub note: String,
    pub updated_at: i64,
}

/// A claim leaf and its position in the month's claim tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRow {
    pub wallet: Address,
    pub amount: u128,
    /// Index of the leaf's node in the tree's node array.
    pub tree_index: u32,
}

/// A month's claim tree as stored: its nodes (OpenZeppelin's layout) and its leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTree {
    pub root: Hash,
    pub nodes: Vec<Hash>,
    pub leaves: Vec<ClaimRow>,
}

/// The keeper's storage. Implementations must make each method atomic: a crash leaves either all
/// or none of what one call writes.
pub trait Store: Send + Sync {
    /// Adds wallets and actions; idempotent (see [`ImportStats`]). `source` names the input in
    /// errors. All or nothing.
    fn import(&self, source: &str, wallets: &[WalletRow], actions: &[ActionRow]) -> Result<ImportStats>;
    /// [`Store::import`] for a stream of batches (a large file), as one transaction: the stream
    /// ending (`None`) commits; an `Err` item (the producer failed: a bad line) or a refused batch
    /// (a conflict) writes nothing, and the producer should stop when the stream is dropped.
    /// Conflicts name the action's line when the batch has it (`source:line`). The default
    /// collects the stream and calls [`Store::import`].
    fn import_stream(
        &self,
        source: &str,
        batches: &mut dyn Iterator<Item = std::result::Result<ImportBatch, String>>,
    ) -> Result<ImportStats> {
        let mut wallets = Vec::new();
        let mut actions = Vec::new();
        for b in batches {
            let b = b.map_err(|reason| StoreError::Aborted {
                source_name: source.to_string(),
                reason,
            })?;
            wallets.extend_from_slice(&b.wallets);
            actions.extend(b.actions().map(|a| ActionRow {
                action_id: a.action_id.to_string(),
                wallet: a.wallet,
                kind: a.kind.to_string(),
                side: a.side.as_str().to_string(),
                timestamp: a.timestamp,
            }));
        }
        self.import(source, &wallets, &actions)
    }
    /// Wallets and actions stored.
    fn input_counts(&self) -> Result<(u64, u64)>;
    /// Wallets connected before `before` (unix seconds), by ascending address.
    fn wallets_connected_before(&self, before: i64) -> Result<Vec<WalletRow>>;
    /// Actions with `start <= timestamp < end`: `(wallet, kind, timestamp)`.
    fn actions_between(&self, start: i64, end: i64) -> Result<Vec<(Address, String, i64)>>;
    /// A wallet's connection time, if known.
    fn wallet(&self, address: &Address) -> Result<Option<WalletRow>>;

    /// Stores an epoch's record and its score leaves in one transaction (replacing an earlier
    /// computation of the same epoch that was never voted).
    fn save_epoch(&self, record: &EpochRecord, rows: &[ScoreRow]) -> Result<()>;
    fn epoch(&self, epoch: u64) -> Result<Option<EpochRecord>>;
    /// The highest stored epoch.
    fn last_epoch(&self) -> Result<Option<u64>>;
    /// Epochs whose phase is not done, ascending.
    fn open_epochs(&self) -> Result<Vec<u64>>;
    fn set_epoch_phase(&self, epoch: u64, phase: Phase, voted: bool, note: &str) -> Result<()>;
    /// A wallet's rows in `[from, to)` epochs, ascending.
    fn wallet_epochs(&self, address: &Address, from: u64, to: u64) -> Result<Vec<WalletEpochRow>>;
    /// Each wallet's reward summed over epochs `[first, end)`, by ascending address (zero totals
    /// included).
    fn reward_totals(&self, first: u64, end: u64) -> Result<Vec<(Address, u128)>>;

    /// Stores a month root, its claim leaves and the tree's nodes in one transaction.
    fn save_month(&self, record: &MonthRecord, tree: &StoredTree) -> Result<()>;
    fn month(&self, month_index: u32) -> Result<Option<MonthRecord>>;
    fn months(&self) -> Result<Vec<MonthRecord>>;
    fn set_month_phase(&self, month_index: u32, phase: Phase, voted: bool, note: &str) -> Result<()>;
    /// One claim leaf.
    fn claim(&self, month_index: u32, wallet: &Address) -> Result<Option<ClaimRow>>;
    /// The whole claim tree of a month.
    fn claim_tree(&self, month_index: u32) -> Result<Option<StoredTree>>;

    /// Stores an off-chain batch's actions (as [`Store::import`], without wallets), the batch
    /// (its digest and envelope) under `(attester, nonce)`, and raises the attester's highest
    /// nonce, in one transaction, only if the attester has not used `batch.nonce` before;
    /// otherwise writes nothing and answers [`OffchainImport::Seen`]. Nonces are a set per
    /// attester, not a sequence: any unused nonce is accepted, in any order. An action conflict
    /// is an error and writes nothing.
    fn import_offchain(&self, batch: &OffchainBatch<'_>, actions: &[ActionRow]) -> Result<OffchainImport>;
    /// An attester's highest accepted nonce (none before its first batch).
    fn offchain_nonce(&self, attester: &Address) -> Result<Option<u64>>;
    /// The digest of the attester's batch accepted with `nonce`, if any.
    fn offchain_batch(&self, attester: &Address, nonce: u64) -> Result<Option<Hash>>;
    /// Every accepted batch, by attester then nonce, handed to `visit` one at a time (an archive
    /// can be larger than memory). An `Err` from `visit` stops the walk: [`StoreError::Aborted`].
    fn offchain_archive(
        &self,
        visit: &mut dyn FnMut(ArchivedBatch) -> std::result::Result<(), String>,
    ) -> Result<()>;

    /// Small settings the keeper pins (contract, genesis) so a database is never reused against
    /// another deployment.
    fn meta(&self, key: &str) -> Result<Option<String>>;
    fn set_meta(&self, key: &str, value: &str) -> Result<()>;
}
