//! Where the keeper's activity comes from. Every source is a [`Follower`]: it brings wallets and
//! actions into the store, idempotently (by address and `action_id`), and reports one
//! [`FollowSummary`].
//!
//! - [`files`]: input files (the docs' pool JSON, JSON-lines logs), each imported in one
//!   transaction; an unchanged file is not read again.
//! - [`evm`]: EVM contract logs followed at a confirmation depth (`[[evm]]` sections).
//! - [`substrate`]: events of a Substrate chain's finalized blocks (`[[substrate]]` sections).
//! - [`offchain`]: the intake of signed off-chain batches (HTTP through the API, or signed files).
//! - [`follower`]: the interface, the summary, and [`follower::spawn`] for background followers.
//! - [`status`]: what the running keeper shares with its API (chain connection, counters, each
//!   source's state and position, the epoch it waits on, its disagreements with the chain).
//!
//! The parsers are `flex-ingest`'s; this crate does the I/O around them. Data flows one way:
//! sources -> store -> the runner's epoch close -> chain.

pub mod error;
pub mod evm;
pub mod files;
pub mod follower;
pub mod offchain;
pub mod status;
pub mod substrate;

pub use error::SourceError;
pub use follower::{FollowSummary, Follower, Position, Until};
pub use status::{
    Disagreement, DisagreementKind, Hold, KeyBalance, MonthHold, PendingGovernance, SourceKind, SourceState,
    Status,
};
