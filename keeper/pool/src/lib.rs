//! The reward pool contract as the keeper sees it.
//!
//! - [`types`]: the contract's SCALE types: `EpochCommitment` and `MonthRoot` (keepers vote on the
//!   keccak256 of their encoding, so every keeper must produce these exact bytes), and the getters'
//!   answers (`EpochInfo`, `MonthInfo`, `EpochPreview`, `PendingChange` with its `GovernanceAction`),
//!   and the tokens' `Psp22Error`.
//! - [`client`]: [`PoolClient`], typed queries and calls over a `flex_chain::Chain`, with the
//!   contract's errors decoded by name ([`CallError`]); `claim_batch` with each item's outcome
//!   ([`BatchOutcome`]).
//!
//! The runner, the API, the CLI and the end-to-end tests all reach the contract through this crate.

pub mod client;
pub mod types;

pub use client::{BatchOutcome, CallError, ItemOutcome, PoolClient, Vote};
pub use types::{
    ClaimRequest, EpochCommitment, EpochInfo, EpochPreview, EpochVotes, GovernanceAction, MonthInfo,
    MonthRoot, MonthVotes, PendingChange, Proposal, Psp22Error,
};
