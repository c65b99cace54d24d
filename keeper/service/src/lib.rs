//! The keeper's runner (`flex-keeper run`): reads the config, imports the input files on every
//! tick, closes each epoch once it has ended by chain time plus a grace period, submits the
//! commitment to the reward pool and follows it to finalisation, then closes each month with its
//! claim root. Sources are `flex-sources`', the contract client `flex-pool`'s.
//!
//! - [`config`]: `keeper.toml` (serde sections, unknown keys refused) with `FLEX_*` overrides.
//! - [`compute`]: an epoch and a month from the store, with the engine and the merkle trees.
//! - [`forecast`]: the next-epoch forecast committed with each epoch (and its report for the API).
//! - [`runner`]: the loop and the per-epoch / per-month state machine persisted in the store.
//!
//! Crash safety: each step is persisted before the next starts, and the chain is asked before any
//! vote (`epoch_vote_of`, `epoch`), so a restart after `kill -9` at any point resumes without
//! losing an epoch, voting twice or voting after finalisation (see [`runner`]).

pub mod compute;
pub mod config;
pub mod forecast;
pub mod runner;

use flex_pool::CallError;

pub use config::{ClaimPrices, Config, ConfigError, LogFormat};
pub use runner::Keeper;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A month's claim price is missing from the price table, or the table is unreadable.
    #[error("protocol.claim_prices: {0}")]
    ClaimPrice(flex_ingest::PriceError),
    #[error(transparent)]
    Store(#[from] flex_store::StoreError),
    #[error(transparent)]
    Ingest(#[from] flex_ingest::IngestError),
    #[error(transparent)]
    Engine(#[from] flex_engine::EngineError),
    #[error(transparent)]
    Merkle(#[from] flex_merkle::MerkleError),
    #[error(transparent)]
    Bundle(#[from] flex_chain::BundleError),
    /// The chain could not be reached or answered badly: reconnect and retry.
    #[error(transparent)]
    Chain(#[from] CallError),
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("keeper key: {0}")]
    Key(String),
    /// An activity source failed (a bad input file, a follower's store write).
    #[error(transparent)]
    Source(#[from] flex_sources::SourceError),
    // Settings that disagree with the chain or the database: the keeper stops.
    #[error("the database {path} belongs to the contract {found}, not {expected}")]
    OtherContract {
        path: String,
        found: String,
        expected: String,
    },
    #[error("{file}: protocol.genesis is {configured} but the contract's genesis is {chain}")]
    GenesisMismatch {
        file: String,
        configured: i64,
        chain: i64,
    },
    #[error("the database was filled for genesis {stored}, the contract has {chain}")]
    DatabaseGenesis { stored: String, chain: i64 },
    #[error("the contract's genesis {0} is out of range")]
    GenesisOutOfRange(u64),
    #[error(
        "chain.contract {contract} runs code {deployed}, but chain.bundle {bundle} is code {expected}: \
         the keeper would encode and decode with the wrong messages; point chain.bundle at the \
         deployed code's .contract file (or chain.contract at the pool deployed from this bundle)"
    )]
    CodeMismatch {
        contract: String,
        bundle: String,
        deployed: String,
        expected: String,
    },
    #[error("chain.contract {contract}: no contract at this account on the chain")]
    NoContract { contract: String },
    #[error("{file}: {source}")]
    OffchainPolicy {
        file: String,
        source: flex_sources::offchain::IntakeError,
    },
    // Computation limits and states that a retry does not change.
    #[error("genesis unknown before the first connection to the chain")]
    GenesisUnknown,
    #[error("epoch {0} is out of range")]
    EpochOutOfRange(u64),
    #[error("no weight table version covers epoch {0}")]
    NoWeightTable(u64),
    #[error("{0} overflows")]
    Overflow(&'static str),
    #[error("the claim tree of month {0} is too large")]
    ClaimTreeTooLarge(u32),
    #[error("forecast report: {0}")]
    ForecastReport(#[from] serde_json::Error),
    #[error("the stored {what} of {index} does not decode")]
    Undecodable { what: &'static str, index: u64 },
    /// The contract's preview answered for another epoch than the one being closed (the chain
    /// moved during the read): the close is retried on the next tick from fresh reads.
    #[error("expected_epoch answered for epoch {preview} while closing epoch {epoch}: retrying")]
    StalePreview { epoch: u64, preview: u64 },
}

impl ServiceError {
    /// Errors worth a reconnect and a retry (the node is down or restarted).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ServiceError::Chain(CallError::Chain { .. }) | ServiceError::Connect { .. }
        )
    }

    /// Errors that stop the keeper: a setting that disagrees with the chain or the database.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ServiceError::Config(_)
                | ServiceError::Key(_)
                | ServiceError::OtherContract { .. }
                | ServiceError::GenesisMismatch { .. }
                | ServiceError::DatabaseGenesis { .. }
                | ServiceError::GenesisOutOfRange(_)
                | ServiceError::OffchainPolicy { .. }
                | ServiceError::CodeMismatch { .. }
                | ServiceError::NoContract { .. }
        )
    }
}
