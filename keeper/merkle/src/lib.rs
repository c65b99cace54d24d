//! OpenZeppelin StandardMerkleTree-compatible merkle trees for Flex commitments (SPEC section 6),
//! compatible with `@openzeppelin/merkle-tree` 1.x and Solidity's `MerkleProof`.
//!
//! - [`hash`]: keccak256, the double-hashed leaf and the sorted pair hash.
//! - [`multi`]: eight hashes at once (AVX-512 when the CPU has it), for building trees.
//! - [`leaf`]: the claim and score leaves, their `abi.encode` and JSON forms ([`value`]).
//! - [`core`]: OZ's array-level algorithms (layout, proofs, multiproofs, validation).
//! - [`tree`]: `StandardMerkleTree` (sorted leaves, values, proofs by value index).
//! - [`dump`]: the `standard-v1` dump, written and loaded.
//! - [`input`]: the keeper's JSON input arrays of leaf objects.

pub mod core;
pub mod dump;
pub mod error;
pub mod hash;
pub mod input;
pub mod leaf;
pub mod multi;
pub mod tree;
pub mod value;

pub use crate::core::MultiProof;
pub use dump::{load, load_any, AnyTree};
pub use error::{MerkleError, ValueError};
pub use hash::Hash;
pub use leaf::{Address, ClaimLeaf, Leaf, ScoreLeaf};
pub use tree::{verify, verify_multi_proof, StandardMerkleTree};
