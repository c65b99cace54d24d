//! Flex epoch engine: pure, deterministic functions from activity to scores and rewards
//! (`../shared/SPEC.md` sections 1-5).
//!
//! No I/O happens here: no files, no clock, no environment. Callers parse their inputs (see the
//! `flex-ingest` crate), feed them in, and persist the results. Every function is deterministic:
//! the same inputs give the same outputs, whatever the order the wallets and actions came in.
//!
//! - [`Address`]: 20-byte wallet addresses (`flex-types`' type, re-exported).
//! - [`calendar`]: UTC days, months and month indexes (`YYYY-MM`).
//! - [`weight`]: decimal weight strings to `U32F32` (round to nearest, ties to even), weight tables.
//! - [`time`]: genesis and epochs.
//! - [`score`]: sections, the score table and the reward multipliers.
//! - [`pool`]: halving, wallet index and the epoch pool `P_e`.
//! - [`epoch`]: one epoch: ranking, scores, multipliers and the largest-remainder split.
//! - [`replay`]: epochs `0..n` from a wallet pool, with score arrays.

pub mod calendar;
pub mod epoch;
pub mod pool;
pub mod replay;
pub mod score;
pub mod time;
pub mod weight;

pub use calendar::Month;
pub use epoch::{ConnectionBonus, EpochOutcome, WalletEpoch};
pub use flex_types::{Address, AddressError};
pub use replay::{Action, EpochReport, Replay, ReplayConfig, Wallet};
pub use time::Genesis;
pub use weight::{Weight, WeightTable, WeightTotal};

/// Errors the engine reports about its inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// Genesis must be 00:00:00 UTC of a day.
    #[error("genesis {0} is not 00:00:00 UTC (unix seconds must be a multiple of 86400; it is {1} s past midnight)")]
    GenesisNotMidnight(i64, i64),
    /// A weight string is not a plain decimal.
    #[error("weight of kind {kind:?}: {value:?} is not a decimal such as \"2.5\"")]
    WeightSyntax { kind: String, value: String },
    /// A weight outside `[1, 10]`.
    #[error("weight of kind {kind:?}: {value} is outside [1, 10]")]
    WeightOutOfRange { kind: String, value: String },
    /// The same kind twice in a weight table.
    #[error("weight table lists kind {0:?} twice")]
    DuplicateKind(String),
    /// More kinds than fit the compact kind index.
    #[error("weight table has {0} kinds; at most 65535 are supported")]
    TooManyKinds(usize),
    /// The same wallet twice in a pool.
    #[error("wallet {0} is listed twice")]
    DuplicateWallet(Address),
    /// An action refers to a wallet position that does not exist.
    #[error("action refers to wallet #{0}, but the pool has {1} wallets")]
    UnknownWallet(u32, usize),
    /// An action refers to a kind index that does not exist.
    #[error("action refers to kind #{0}, but the weight table has {1} kinds")]
    UnknownKind(u16, usize),
    /// More wallets than fit the compact wallet index.
    #[error("{0} wallets; at most 4294967295 are supported")]
    TooManyWallets(usize),
    /// A sum of weights does not fit `U64F64` (needs more than 2^60 actions; never in practice).
    #[error("weight sum overflows U64F64")]
    WeightOverflow,
}
