//! OpenZeppelin StandardMerkleTree compatible claim leaves and proofs (SPEC section 6).

use ink::env::hash::Keccak256;

/// `keccak256(data)` through the contract environment (a host function on chain).
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    ink::env::hash_bytes::<Keccak256>(data, &mut out);
    out
}

/// The monthly claim leaf `keccak256(keccak256(abi.encode(uint32 month_index, address wallet,
/// uint128 amount)))`; `abi.encode` left-pads each value to a 32-byte word.
pub fn claim_leaf(month_index: u32, wallet: &[u8; 20], amount: u128) -> [u8; 32] {
    let mut encoded = [0u8; 96];
    encoded[28..32].copy_from_slice(&month_index.to_be_bytes());
    encoded[44..64].copy_from_slice(wallet);
    encoded[80..96].copy_from_slice(&amount.to_be_bytes());
    keccak256(&keccak256(&encoded))
}

/// OpenZeppelin's commutative pair hash: `keccak256(min(a, b) || max(a, b))`.
pub fn hash_pair(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut buf = [0u8; 64];
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    buf[..32].copy_from_slice(lo);
    buf[32..].copy_from_slice(hi);
    keccak256(&buf)
}

/// OpenZeppelin `MerkleProof.processProof`: fold the proof into the leaf with sorted pairs.
pub fn process_proof(leaf: [u8; 32], proof: &[[u8; 32]]) -> [u8; 32] {
    proof.iter().fold(leaf, |node, sibling| hash_pair(&node, sibling))
}

/// OpenZeppelin `MerkleProof.verify`.
pub fn verify(proof: &[[u8; 32]], root: &[u8; 32], leaf: [u8; 32]) -> bool {
    process_proof(leaf, proof) == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(hex: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    // Known vectors from OpenZeppelin's own JS library (@openzeppelin/merkle-tree 1.0.8, installed
    // in tests/oz), reproducible with `vectors/oz_vectors.js` next to this file:
    // `StandardMerkleTree.of(values, ["uint32", "address", "uint128"])`, `.leafHash`, `.root`,
    // `.getProof`.
    const LEAF_1111_1000: &str = "eb854bc5fd9091c3f8926c2e2044d5cefee572dd0e5ee14642187db9bf96071d";
    const ROOT_3: &str = "25fee077b9ce44520d565123a162935c0ec87412f3eaf2b8cf80af62aeb5f754";

    #[test]
    fn single_leaf_matches_openzeppelin() {
        let leaf = claim_leaf(24_311, &[0x11; 20], 1_000);
        assert_eq!(leaf, h(LEAF_1111_1000));
        // A one-leaf tree's root is the leaf and its proof is empty.
        assert!(verify(&[], &leaf, leaf));
    }

    #[test]
    fn three_leaf_tree_matches_openzeppelin() {
        let root = h(ROOT_3);
        let p1 = [
            h("e28a49c8a343191416091760445ea13c38fc013178b8fb398d5b5006841c6aed"),
            h("f8ae1fb0cb5d78672bc3c55d500e7db5de5aa9396e267a1a0f12fdd5b4bd05d3"),
        ];
        let p2 = [h(
            "68fd7c95aa26403aeef5941c1d7ed34f1121401dba28778e00b751bc9cfc98b4",
        )];
        let p3 = [h(LEAF_1111_1000), p1[1]];
        assert!(verify(&p1, &root, claim_leaf(24_311, &[0x11; 20], 1_000)));
        assert!(verify(&p2, &root, claim_leaf(24_311, &[0x22; 20], 2_500)));
        assert!(verify(&p3, &root, claim_leaf(24_311, &[0x33; 20], 7)));
        // Any change to the leaf or the proof fails.
        assert!(!verify(&p1, &root, claim_leaf(24_311, &[0x11; 20], 1_001)));
        assert!(!verify(&p1, &root, claim_leaf(24_312, &[0x11; 20], 1_000)));
        assert!(!verify(&p2, &root, claim_leaf(24_311, &[0x11; 20], 1_000)));
        assert!(!verify(&p1[..1], &root, claim_leaf(24_311, &[0x11; 20], 1_000)));
    }

    #[test]
    fn pair_hash_is_commutative() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(hash_pair(&a, &b), hash_pair(&b, &a));
        let mut cat = [0u8; 64];
        cat[..32].copy_from_slice(&a);
        cat[32..].copy_from_slice(&b);
        assert_eq!(hash_pair(&b, &a), keccak256(&cat));
    }
}
