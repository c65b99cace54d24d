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

pub use config::{Config, ConfigError, LogFormat};
pub use runner::Keeper;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] flex_store::StoreError),
    #[error(transparent)]
    Ingest(#[from] flex_ingest::IngestError),
    #[error("{0}")]
    Input(String),
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
    /// A setting disagrees with the chain or with the database: the keeper stops.
    #[error("{0}")]
    Fatal(String),
    #[error("{0}")]
    Invalid(String),
    /// An activity source failed (a bad input file, a follower's store write).
    #[error(transparent)]
    Source(#[from] flex_sources::SourceError),
}

impl ServiceError {
    /// Errors worth a reconnect and a retry (the node is down or restarted).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ServiceError::Chain(CallError::Chain { .. }) | ServiceError::Connect { .. }
        )
    }
}
