//! The keeper's shared vocabulary, one type per concept, used by every keeper crate:
//!
//! - [`Address`]: a 20-byte wallet address, `0x` + 40 hex digits (any case in, lowercase out).
//! - [`AccountId`]: a 32-byte chain account, `0x` + 64 hex digits or SS58 (any network) in,
//!   `0x` + lowercase hex out ([`AccountId::to_ss58`] for a network's form).
//! - [`hex`]: `0x` + lowercase hex out, fixed-size hex in with typed errors.
//! - [`secret`]: key files read only when no one but the owner can read them.
//! - [`url::redact`]: a URL as logs show it (no API keys in paths, queries or user info).
//!
//! Dependency-light on purpose (the merkle crate depends on it): thiserror, and bs58 and blake2
//! for SS58 only.

mod account;
mod address;
pub mod hex;
pub mod secret;
pub mod url;

pub use account::{AccountId, AccountIdError};
pub use address::{Address, AddressError};
pub use hex::HexError;
