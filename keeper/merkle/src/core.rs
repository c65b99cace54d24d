//! OpenZeppelin's array-level algorithms (`core.ts` of `@openzeppelin/merkle-tree` 1.x), over
//! leaf hashes: the tree is the heap array of length `2n - 1`, node `i` hashing `2i + 1` and
//! `2i + 2`, and the `n` leaves at the end in reverse order (leaf `k` at `len - 1 - k`).

use rayon::prelude::*;

use crate::error::MerkleError;
use crate::hash::{hash_pair, Hash};
use crate::multi::hash_pair_x8;

/// Levels smaller than this are hashed on the calling thread.
const PAR_MIN: usize = 1 << 12;

/// An OpenZeppelin multiproof: the leaves it proves (in the order the verifier consumes them),
/// the sibling hashes and the flags (`true`: combine two queued hashes, `false`: take from proof).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiProof<T> {
    pub leaves: Vec<T>,
    pub proof: Vec<Hash>,
    pub proof_flags: Vec<bool>,
}

pub(crate) fn sibling(i: usize) -> usize {
    if i % 2 == 1 {
        i + 1
    } else {
        i - 1
    }
}

pub(crate) fn parent(i: usize) -> usize {
    (i - 1) / 2
}

/// Whether `i` is a leaf of a tree array of length `len` (OZ's `isLeafNode`).
pub fn is_leaf(len: usize, i: usize) -> bool {
    i < len && 2 * i + 1 >= len
}

/// OZ's `makeMerkleTree`: leaves in the given order (sorting is the caller's business).
pub fn make_tree(leaves: &[Hash]) -> Result<Vec<Hash>, MerkleError> {
    if leaves.is_empty() {
        return Err(MerkleError::Empty);
    }
    let len = 2 * leaves.len() - 1;
    let mut tree = vec![[0u8; 32]; len];
    for (i, l) in leaves.iter().enumerate() {
        tree[len - 1 - i] = *l;
    }
    fill_inner_nodes(&mut tree);
    Ok(tree)
}

/// Computes nodes `0..n-1` of a tree array whose leaves are in place, level by level from the
/// deepest, each level in parallel. Every node is a pure function of its children, so the result
/// does not depend on the number of threads.
pub(crate) fn fill_inner_nodes(tree: &mut [Hash]) {
    let len = tree.len();
    if len < 3 {
        return;
    }
    let n = len.div_ceil(2);
    let last_inner = n - 2;
    let max_depth = (last_inner + 1).ilog2();
    for d in (0..=max_depth).rev() {
        let lo = (1usize << d) - 1;
        let next = (1usize << (d + 1)) - 1; // first index of the level below
        let hi = last_inner.min(next - 1);
        let (upper, lower) = tree.split_at_mut(next);
        let parents = &mut upper[lo..=hi];
        // Children of node lo + j are lower[2j] and lower[2j + 1].
        let hash_range = |start: usize, out: &mut [Hash]| hash_children(&lower[2 * start..], out);
        if parents.len() < PAR_MIN {
            hash_range(0, parents);
        } else {
            parents
                .par_chunks_mut(PAR_MIN)
                .enumerate()
                .for_each(|(c, out)| hash_range(c * PAR_MIN, out));
        }
    }
}

/// `out[k] = hash_pair(children[2k], children[2k + 1])`, eight at a time.
#[inline]
fn hash_children(children: &[Hash], out: &mut [Hash]) {
    let mut groups = out.chunks_exact_mut(8);
    let mut k = 0;
    for g in &mut groups {
        let c = &children[2 * k..2 * k + 16];
        g.copy_from_slice(&hash_pair_x8(std::array::from_fn(|i| (&c[2 * i], &c[2 * i + 1]))));
        k += 8;
    }
    for p in groups.into_remainder() {
        *p = hash_pair(&children[2 * k], &children[2 * k + 1]);
        k += 1;
    }
}

/// OZ's `getProof`: the sibling hashes from the leaf at tree index `index` up to the root.
pub fn get_proof(tree: &[Hash], index: usize) -> Result<Vec<Hash>, MerkleError> {
    if !is_leaf(tree.len(), index) {
        return Err(MerkleError::NotALeaf(index));
    }
    let mut proof = Vec::with_capacity(usize::BITS as usize - tree.len().leading_zeros() as usize);
    let mut i = index;
    while i > 0 {
        proof.push(tree[sibling(i)]);
        i = parent(i);
    }
    Ok(proof)
}

/// OZ's `processProof`: the root implied by a leaf hash and its proof.
pub fn process_proof(leaf: &Hash, proof: &[Hash]) -> Hash {
    proof.iter().fold(*leaf, |acc, p| hash_pair(&acc, p))
}

/// OZ's `getMultiProof` for the leaves at the given tree indices. `leaves` of the result are tree
/// indices, in the order OZ returns them (descending tree index).
pub fn get_multi_proof(tree: &[Hash], indices: &[usize]) -> Result<MultiProof<usize>, MerkleError> {
    for &i in indices {
        if !is_leaf(tree.len(), i) {
            return Err(MerkleError::NotALeaf(i));
        }
    }
    let mut sorted = indices.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(MerkleError::DuplicateIndex(w[0]));
    }
    let mut stack: std::collections::VecDeque<usize> = sorted.iter().copied().collect();
    let mut proof = Vec::new();
    let mut proof_flags = Vec::new();
    while let Some(&j) = stack.front() {
        if j == 0 {
            break;
        }
        stack.pop_front();
        let s = sibling(j);
        let p = parent(j);
        if stack.front() == Some(&s) {
            proof_flags.push(true);
            stack.pop_front();
        } else {
            proof_flags.push(false);
            proof.push(tree[s]);
        }
        stack.push_back(p);
    }
    if sorted.is_empty() {
        proof.push(tree[0]);
    }
    Ok(MultiProof {
        leaves: sorted,
        proof,
        proof_flags,
    })
}

/// OZ's `processMultiProof` with the checks of OpenZeppelin Contracts >= 4.9.2
/// (advisory GHSA-wprv-93r4-jj2p): `leaves + proof == flags + 1`, no hash is read before it is
/// computed, and every proof element is consumed. Returns the implied root.
pub fn process_multi_proof(
    leaves: &[Hash],
    proof: &[Hash],
    proof_flags: &[bool],
) -> Result<Hash, MerkleError> {
    if leaves.len() + proof.len() != proof_flags.len() + 1 {
        return Err(MerkleError::InvalidMultiProof(
            "leaves and proof are not compatible with the flags (leaves + proof != flags + 1)",
        ));
    }
    let total = proof_flags.len();
    let mut hashes: Vec<Hash> = Vec::with_capacity(total);
    let (mut leaf_pos, mut hash_pos, mut proof_pos) = (0usize, 0usize, 0usize);
    for &flag in proof_flags {
        // Both operands come from the queue "leaves, then computed hashes"; reading a hash that
        // has not been computed yet is exactly the forgery of the advisory.
        let mut next_queued = |hashes: &Vec<Hash>| -> Result<Hash, MerkleError> {
            if leaf_pos < leaves.len() {
                leaf_pos += 1;
                Ok(leaves[leaf_pos - 1])
            } else if hash_pos < hashes.len() {
                hash_pos += 1;
                Ok(hashes[hash_pos - 1])
            } else {
                Err(MerkleError::InvalidMultiProof(
                    "a flag reads a hash that is not computed yet",
                ))
            }
        };
        let a = next_queued(&hashes)?;
        let b = if flag {
            next_queued(&hashes)?
        } else {
            let p = proof.get(proof_pos).ok_or(MerkleError::InvalidMultiProof(
                "more false flags than proof elements",
            ))?;
            proof_pos += 1;
            *p
        };
        hashes.push(hash_pair(&a, &b));
    }
    if total > 0 {
        if proof_pos != proof.len() {
            return Err(MerkleError::InvalidMultiProof(
                "not every proof element was consumed",
            ));
        }
        // With the length check and the full proof consumed, exactly one hash is left: the last.
        return Ok(hashes[total - 1]);
    }
    Ok(leaves.first().or(proof.first()).copied().unwrap_or_default())
}

/// OZ's `isValidMerkleTree`: every node is the hash of its children and the shape is a heap of
/// odd length (checked in parallel).
pub fn is_valid_tree(tree: &[Hash]) -> bool {
    let len = tree.len();
    if len == 0 || len.is_multiple_of(2) {
        return false;
    }
    let inner = len / 2;
    tree[..inner].par_chunks(PAR_MIN).enumerate().all(|(c, nodes)| {
        let start = c * PAR_MIN;
        let mut expected = vec![[0u8; 32]; nodes.len()];
        hash_children(&tree[2 * start + 1..], &mut expected);
        expected == nodes
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::keccak256;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| keccak256(&i.to_be_bytes())).collect()
    }

    /// OZ's sequential loop, for comparison with the level-parallel one.
    fn make_tree_sequential(leaves: &[Hash]) -> Vec<Hash> {
        let len = 2 * leaves.len() - 1;
        let mut tree = vec![[0u8; 32]; len];
        for (i, l) in leaves.iter().enumerate() {
            tree[len - 1 - i] = *l;
        }
        for i in (0..len - leaves.len()).rev() {
            tree[i] = hash_pair(&tree[2 * i + 1], &tree[2 * i + 2]);
        }
        tree
    }

    #[test]
    fn level_parallel_build_matches_oz_loop() {
        for n in [1, 2, 3, 4, 5, 7, 8, 9, 100, 4095, 4096, 4097, 9000, 20_001] {
            let l = leaves(n);
            let tree = make_tree(&l).unwrap();
            assert_eq!(tree, make_tree_sequential(&l), "n = {n}");
            assert!(is_valid_tree(&tree));
        }
    }

    #[test]
    fn empty_tree_is_an_error_and_single_leaf_is_its_own_root() {
        assert_eq!(make_tree(&[]), Err(MerkleError::Empty));
        let l = leaves(1);
        let tree = make_tree(&l).unwrap();
        assert_eq!(tree, l);
        assert_eq!(get_proof(&tree, 0).unwrap(), Vec::<Hash>::new());
        assert_eq!(process_proof(&l[0], &[]), l[0]);
        let mp = get_multi_proof(&tree, &[0]).unwrap();
        assert_eq!(mp.leaves, vec![0]);
        assert!(mp.proof.is_empty() && mp.proof_flags.is_empty());
        assert_eq!(process_multi_proof(&l, &[], &[]), Ok(l[0]));
        assert!(!is_valid_tree(&[]));
    }

    #[test]
    fn every_proof_and_multiproof_verifies() {
        for n in [2, 3, 5, 16, 33] {
            let tree = make_tree(&leaves(n)).unwrap();
            let len = tree.len();
            for i in n - 1..len {
                assert_eq!(process_proof(&tree[i], &get_proof(&tree, i).unwrap()), tree[0]);
            }
            assert_eq!(get_proof(&tree, 0), Err(MerkleError::NotALeaf(0)));
            let subsets: Vec<Vec<usize>> = vec![
                vec![],
                vec![n - 1],
                (n - 1..len).collect(),
                (n - 1..len).step_by(2).collect(),
                (n - 1..len).rev().step_by(3).collect(),
            ];
            for idx in subsets {
                let mp = get_multi_proof(&tree, &idx).unwrap();
                let hashes: Vec<Hash> = mp.leaves.iter().map(|&i| tree[i]).collect();
                assert_eq!(
                    process_multi_proof(&hashes, &mp.proof, &mp.proof_flags),
                    Ok(tree[0])
                );
            }
            assert_eq!(
                get_multi_proof(&tree, &[len - 1, len - 1]),
                Err(MerkleError::DuplicateIndex(len - 1))
            );
        }
    }

    /// GHSA-wprv-93r4-jj2p: with a node of value 0 just under the root, OZ Contracts < 4.9.2
    /// accepted `leaves = [anything], proof = [other child, junk], flags = [true, false]`, the
    /// first flag reading the not-yet-written (zero) hash slot.
    #[test]
    fn advisory_multiproof_forgery_is_rejected() {
        let zero = [0u8; 32];
        let other = keccak256(b"right subtree");
        let root = hash_pair(&zero, &other);
        let forged_leaf = keccak256(b"leaf the attacker wants to prove");
        let junk = keccak256(b"junk");
        // What the vulnerable code computed: hashes[1] = hash(hashes[1] == 0, proof[0]) == root.
        assert_eq!(hash_pair(&zero, &other), root);
        assert!(process_multi_proof(&[forged_leaf], &[other, junk], &[true, false]).is_err());
        // The lengths alone pass (1 + 2 == 2 + 1): the rejection comes from the reading rules.
        assert!(process_multi_proof(&[forged_leaf], &[other, junk], &[false, true]).is_err());
        // And an unconsumed proof element is rejected even when hashes are read in order.
        let a = keccak256(b"a");
        let b = keccak256(b"b");
        let ok = process_multi_proof(&[a, b], &[], &[true]).unwrap();
        assert_eq!(ok, hash_pair(&a, &b));
        assert!(process_multi_proof(&[a, b], &[junk], &[true]).is_err());
        assert!(process_multi_proof(&[a], &[b, junk], &[false]).is_err());
        assert!(process_multi_proof(&[], &[], &[]).is_err());
        assert!(process_multi_proof(&[], &[a], &[]) == Ok(a));
    }
}
