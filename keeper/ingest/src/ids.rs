//! Action id namespaces (`docs/PROTOCOL.md`, "Action ids"). Ids are global in the store, so each
//! kind of source owns a part of the id space and no source can take another's ids:
//!
//! - `evm:` EVM logs and `sub:` Substrate events (the chain followers make these ids);
//! - `off:` signed off-chain batches, stored as `off:<attester>:<id>` ([`offchain_id`]): each
//!   attester has a namespace of its own, so no attester can take an id that a file, a follower or
//!   another attester uses later;
//! - every other id belongs to the input files (pool JSON, JSON lines): an id a file gives may not
//!   start with a reserved prefix ([`reserved_prefix`]).

/// The EVM follower's ids: `evm:{chain_id}:0x{transaction hash}:{index in the receipt}`.
pub const EVM_PREFIX: &str = "evm:";
/// The Substrate follower's ids: `sub:0x{genesis hash}:{block}:{event index}`.
pub const SUBSTRATE_PREFIX: &str = "sub:";
/// Off-chain batches' ids: `off:0x{attester, 40 lowercase hex digits}:{the attester's id}`.
pub const OFFCHAIN_PREFIX: &str = "off:";
/// The prefixes no file and no attester may give an id.
pub const RESERVED_PREFIXES: [&str; 3] = [EVM_PREFIX, SUBSTRATE_PREFIX, OFFCHAIN_PREFIX];

/// The reserved prefix `id` starts with, if any (case-sensitive, as ids are).
pub fn reserved_prefix(id: &str) -> Option<&'static str> {
    RESERVED_PREFIXES.into_iter().find(|p| id.starts_with(p))
}

/// The error text for a file's or an attester's id that takes a reserved prefix.
pub fn reserved_message(id: &str, prefix: &str) -> String {
    let owner = match prefix {
        EVM_PREFIX => "the EVM follower",
        SUBSTRATE_PREFIX => "the Substrate follower",
        _ => "signed off-chain batches (off:<attester>:<id>)",
    };
    format!("{id:?}: ids starting with {prefix:?} are reserved for {owner}")
}

use flex_types::Address;

/// The stored id of an attester's action: `off:0x<attester>:<id>` (the address's `Display`:
/// lowercase, `0x`-prefixed).
pub fn offchain_id(attester: &Address, id: &str) -> String {
    format!("{OFFCHAIN_PREFIX}{attester}:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_reserved_and_attesters_have_their_own_namespace() {
        assert_eq!(reserved_prefix("evm:1:0xab:0"), Some("evm:"));
        assert_eq!(reserved_prefix("sub:0x45:7:1"), Some("sub:"));
        assert_eq!(reserved_prefix("off:0xaa:x"), Some("off:"));
        for free in ["x:post:1", "EVM:1", "offline", "7", "evm", ""] {
            assert_eq!(reserved_prefix(free), None, "{free:?}");
        }
        let a = offchain_id(&Address([0xab; 20]), "x:post:1");
        assert_eq!(a, format!("off:0x{}:x:post:1", "ab".repeat(20)));
        assert_ne!(a, offchain_id(&Address([0xac; 20]), "x:post:1"));
        assert_eq!(reserved_prefix(&a), Some(OFFCHAIN_PREFIX));
    }
}
