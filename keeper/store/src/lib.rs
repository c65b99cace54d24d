//! The keeper's storage: what a keeper knows and has done, behind a small interface ([`Store`]).
//!
//! - **Inputs**: wallets with their connection time, and actions, idempotent by `action_id` (the
//!   same id again with the same content is skipped; with other content it is an error naming it).
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

/// A 20-byte wallet address.
pub type Address = [u8; 20];
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
    /// Wallets already known (their first connection time is kept).
    pub wallets_known: u64,
    pub actions_new: u64,
    /// Actions whose `action_id` was already stored with the same content.
    pub actions_known: u64,
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

    /// Small settings the keeper pins (contract, genesis) so a database is never reused against
    /// another deployment.
    fn meta(&self, key: &str) -> Result<Option<String>>;
    fn set_meta(&self, key: &str, value: &str) -> Result<()>;
}
