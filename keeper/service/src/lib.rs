//! The keeper service (`flex-keeper run`): imports activity into the store, closes each epoch once
//! it has ended by chain time plus a grace period, submits the commitment to the reward pool and
//! follows it to finalisation, then closes each month with its claim root.
//!
//! - [`config`]: `keeper.toml` with `FLEX_*` environment overrides.
//! - [`source`]: activity sources (pool JSON, JSON-lines log) imported idempotently.
//! - [`evm_source`]: EVM contract logs followed at a confirmation depth, mapped to actions.
//! - [`substrate_source`]: Substrate finalized blocks followed, events mapped to actions.
//! - [`compute`]: an epoch and a month from the store, with the engine and the merkle trees.
//! - [`forecast`]: the next-epoch forecast committed with each epoch (and its report for the API).
//! - [`offchain`]: signed off-chain action batches from attesters (HTTP or signed files).
//! - [`runner`]: the loop and the per-epoch / per-month state machine persisted in the store.
//!
//! Crash safety: each step is persisted before the next starts, and the chain is asked before any
//! vote (`epoch_vote_of`, `epoch`), so a restart after `kill -9` at any point resumes without
//! losing an epoch, voting twice or voting after finalisation (see [`runner`]).

pub mod compute;
pub mod config;
pub mod evm_source;
pub mod forecast;
pub mod offchain;
pub mod runner;
pub mod source;
pub mod substrate_source;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;

pub use config::{Config, ConfigError, LogFormat};
use flex_pool::{CallError, PoolClient};
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
    /// An EVM follower stopped (deep reorganisation, wrong chain, bad endpoint).
    #[error(transparent)]
    Evm(#[from] flex_evm::follow::FollowError),
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

/// What the running keeper shares with the API: chain connection, progress, counters.
#[derive(Debug, Default)]
pub struct Status {
    pub chain_connected: AtomicBool,
    /// Latest block time seen, unix milliseconds.
    pub chain_time_ms: AtomicU64,
    /// The contract's next unfinalised epoch.
    pub next_epoch: AtomicU64,
    pub epochs_closed: AtomicU64,
    pub epoch_votes: AtomicU64,
    pub month_votes: AtomicU64,
    pub reconnects: AtomicU64,
    pub errors: AtomicU64,
    pub imported_actions: AtomicU64,
    /// Duration of the last epoch close (compute + store), milliseconds.
    pub last_close_ms: AtomicU64,
    /// The connected pool client (for the API's claim status), if any.
    pub client: RwLock<Option<PoolClient>>,
}

impl Status {
    pub fn client(&self) -> Option<PoolClient> {
        self.client.read().ok().and_then(|c| c.clone())
    }

    pub fn set_client(&self, client: Option<PoolClient>) {
        self.chain_connected.store(client.is_some(), Ordering::Relaxed);
        if let Ok(mut slot) = self.client.write() {
            *slot = client;
        }
    }
}
