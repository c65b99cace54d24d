//! OpenZeppelin StandardMerkleTree-compatible merkle trees for Flex commitments.
