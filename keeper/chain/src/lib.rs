//! The keeper's chain edge: everything that talks to the Substrate chain goes through here.
//!
//! - [`bundle`]: ink! `.contract` bundles (code, constructor/message selectors, event topics).
//! - [`client`]: a subxt client for pallet-contracts: upload + instantiate, dry-run queries, calls,
//!   and the contract events a call emitted.
//! - [`deploy`]: the Flex contracts from their bundles (tokens, the pool, its funding), for the CLI and tests.
//! - [`dev`]: chopsticks' `dev_*` RPCs that move a local chain's time and blocks.
//! - [`follow`]: a finalized-block follower with a cursor, backfill and reconnect/backoff.
//! - [`signer`]: sr25519 keys from a secret URI in an owner-only key file or an environment variable.
//! - [`token`]: PSP22 tokens: standard selectors, balances, allowances, metadata, amounts in units.
//!
//! subxt is pinned to 0.38, the version cargo-contract 5.0.3 uses, which is proven against the dev
//! runtime; calls are built dynamically from the chain's metadata, so no generated code is checked in.

pub mod bundle;
pub mod client;
pub mod deploy;
pub mod dev;
pub mod follow;
pub mod signer;
pub mod token;

pub use bundle::{BundleError, ContractBundle};
pub use client::{
    account_of, decode_message_output, CallOutcome, Chain, ChainError, ContractEvent, DryRun, Instantiated,
    Keypair, StorageDeposit, Weight,
};
pub use follow::{
    address_in, follow, AddressInError, BlockEvent, BlockHandler, ChainAddress, Cursor, CursorError,
    EventFieldError, FinalizedBlock, FollowError, FollowOptions, FollowProgress, Follower, InkEventDecoder,
};
pub use signer::{keypair_from_env, keypair_from_file, keypair_from_uri, SignerError};
pub use subxt::ext::scale_value;
pub use subxt::utils::{AccountId32, H256};
pub use token::{format_units, TokenInfo};
