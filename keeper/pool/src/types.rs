//! The reward pool's SCALE types: the bytes keepers vote on and the getters' answers. Field order
//! and widths are the contract's (`contracts/reward_pool`); `docs/PROTOCOL.md` defines them.

use codec::{Decode, Encode};

/// The contract's `EpochCommitment`. Keepers vote per `keccak256(SCALE)`, so every keeper must
/// produce these exact bytes (`docs/PROTOCOL.md`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EpochCommitment {
    pub epoch: u64,
    pub scores_root: [u8; 32],
    pub active_count: u64,
    pub total_weight_bits: u128,
    pub multiplier_sum: u128,
    pub pool: u128,
    pub forecast: u128,
}

impl EpochCommitment {
    pub fn hash(&self) -> [u8; 32] {
        flex_merkle::hash::keccak256(&self.encode())
    }
}

/// The contract's `MonthRoot`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MonthRoot {
    pub month_index: u32,
    pub claims_root: [u8; 32],
    pub total: u128,
    pub claim_price: u128,
}

impl MonthRoot {
    pub fn hash(&self) -> [u8; 32] {
        flex_merkle::hash::keccak256(&self.encode())
    }
}

/// One item of `claim_batch`: `claim`'s arguments, in `claim`'s order.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ClaimRequest {
    pub month_index: u32,
    pub wallet: [u8; 20],
    pub amount: u128,
    pub proof: Vec<[u8; 32]>,
    pub signature: [u8; 65],
    pub beneficiary: flex_chain::AccountId32,
}

/// A finalised epoch (`epoch` getter).
#[derive(Debug, Clone, Decode)]
pub struct EpochInfo {
    pub commitment: EpochCommitment,
    pub commitment_hash: [u8; 32],
    pub month_index: u32,
    pub wallet_index: u8,
    pub halving: u64,
    pub snapshot: u128,
    pub distributed: u128,
    pub finalized_at: u64,
}

/// A commitment voted for an epoch and its voters (`epoch_votes`' `Proposal`).
#[derive(Debug, Clone, PartialEq, Eq, Decode)]
pub struct Proposal<C> {
    pub commitment: C,
    pub voters: Vec<flex_chain::AccountId32>,
}

/// `epoch_votes`: each commitment hash voted, with the commitment and its voters.
pub type EpochVotes = Vec<([u8; 32], Proposal<EpochCommitment>)>;
/// `month_votes`: each root hash voted, with the root and its voters.
pub type MonthVotes = Vec<([u8; 32], Proposal<MonthRoot>)>;

/// A finalised month (`month` getter).
#[derive(Debug, Clone, Decode)]
pub struct MonthInfo {
    pub root: MonthRoot,
    pub commitment_hash: [u8; 32],
    pub claimed: u128,
    pub claims: u64,
    pub finalized_at: u64,
}

/// What the contract expects for the next epoch (`expected_epoch`).
#[derive(Debug, Clone, PartialEq, Eq, Decode)]
pub struct EpochPreview {
    pub epoch: u64,
    pub wallet_index: u8,
    pub halving: u64,
    pub snapshot: u128,
    pub pool: u128,
}

/// The PSP22 standard's error, as the token contracts (`flex_token`) encode it: what a token call
/// the pool or a keeper makes can fail with.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Psp22Error {
    Custom(String),
    InsufficientBalance,
    InsufficientAllowance,
    ZeroRecipientAddress,
    ZeroSenderAddress,
    SafeTransferCheckFailed(String),
}

/// The contract's `GovernanceAction`: a time-locked change (`docs/PROTOCOL.md`, "Governance").
/// Accounts are their 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum GovernanceAction {
    AddKeeper([u8; 32]),
    RemoveKeeper([u8; 32]),
    SetMinThreshold(u32),
    SetTreasury([u8; 32]),
}

/// An announced governance change (`pending_changes`): block times in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct PendingChange {
    pub action: GovernanceAction,
    pub announced_at: u64,
    pub executable_at: u64,
    pub expires_at: u64,
}
