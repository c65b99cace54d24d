//! `StandardMerkleTree` (OZ's `standard.ts` + `merkletree.ts`): values, their leaf hashes sorted
//! ascending (OZ's default `sortLeaves: true`, ties kept in input order like JS's stable sort), the
//! tree array, and proofs addressed by value index.

use rayon::prelude::*;

use crate::core::{self, MultiProof};
use crate::error::MerkleError;
use crate::hash::Hash;
use crate::leaf::Leaf;
use crate::multi::leaf_hash_x8;

/// Values per parallel task.
const CHUNK: usize = 1 << 12;

/// The (leaf hash, value index) of up to eight values starting at `base`, hashed together;
/// missing slots (past the end) repeat the last value and are cut off by the caller.
fn leaf_group<L: Leaf>(values: &[L], base: usize) -> [(Hash, u32); 8] {
    let last = values.len() - 1;
    let enc: [L::Encoded; 8] = std::array::from_fn(|i| values[i.min(last)].abi_encode());
    let hashes = leaf_hash_x8(std::array::from_fn(|i| enc[i].as_ref()));
    std::array::from_fn(|i| (hashes[i], (base + i) as u32))
}

/// A built (or loaded) tree over values of one leaf kind.
///
/// Memory: the tree array (`(2n - 1) * 32` bytes), the values, and two `u32` index maps
/// (value -> tree index, leaf position -> value); building also holds `n * 36` bytes of
/// (hash, index) pairs while sorting.
#[derive(Debug, Clone, PartialEq)]
pub struct StandardMerkleTree<L: Leaf> {
    tree: Vec<Hash>,
    values: Vec<L>,
    /// `tree_index[v]`: where value `v`'s leaf hash sits in `tree`.
    tree_index: Vec<u32>,
    /// `leaf_value[k]`: the value at tree index `len - 1 - k`.
    leaf_value: Vec<u32>,
    /// Whether the leaves are sorted (always for built trees; a loaded dump may not be).
    sorted: bool,
}

impl<L: Leaf> StandardMerkleTree<L> {
    /// OZ's `StandardMerkleTree.of(values, leafEncoding)`.
    pub fn of(values: Vec<L>) -> Result<Self, MerkleError> {
        let n = values.len();
        if n == 0 {
            return Err(MerkleError::Empty);
        }
        if n > 1 << 31 {
            return Err(MerkleError::TooManyLeaves(n));
        }
        // Written once, straight from the hashing threads (no zero-filled buffer first).
        let mut keyed: Vec<(Hash, u32)> = values
            .par_chunks(8)
            .with_min_len(CHUNK / 8)
            .enumerate()
            .map(|(g, vals)| leaf_group(vals, 8 * g))
            .collect::<Vec<_>>()
            .into_flattened();
        keyed.truncate(n);
        // (hash, index) pairs are distinct, so the unstable sort is deterministic and equals JS's
        // stable sort by hash.
        keyed.par_sort_unstable();
        let len = 2 * n - 1;
        let mut tree = vec![[0u8; 32]; len];
        let mut leaf_value = vec![0u32; n];
        // Leaf k (k-th smallest hash) goes to tree index len - 1 - k, i.e. the tail in reverse.
        tree[n - 1..]
            .par_iter_mut()
            .rev()
            .zip(leaf_value.par_iter_mut())
            .zip(keyed.par_iter())
            .with_min_len(1 << 12)
            .for_each(|((slot, lv), (h, v))| {
                *slot = *h;
                *lv = *v;
            });
        drop(keyed);
        let mut tree_index = vec![0u32; n];
        for (k, &v) in leaf_value.iter().enumerate() {
            tree_index[v as usize] = (len - 1 - k) as u32;
        }
        core::fill_inner_nodes(&mut tree);
        Ok(StandardMerkleTree {
            tree,
            values,
            tree_index,
            leaf_value,
            sorted: true,
        })
    }

    /// Assembles a tree from a dump's parts (or a store's: nodes, values and their tree indexes),
    /// checking everything OZ's `load` + `validate` check, and more: every value sits on its own
    /// leaf and every leaf has a value.
    pub fn from_parts(tree: Vec<Hash>, values: Vec<L>, tree_index: Vec<usize>) -> Result<Self, MerkleError> {
        let bad = |m: String| Err(MerkleError::InvalidDump(m));
        if tree.is_empty() {
            return bad("the tree is empty".into());
        }
        if tree.len().is_multiple_of(2) {
            return bad(format!("the tree has an even number of nodes ({})", tree.len()));
        }
        let len = tree.len();
        let n = len.div_ceil(2);
        if n > 1 << 31 {
            return Err(MerkleError::TooManyLeaves(n));
        }
        if values.len() != n || tree_index.len() != n {
            return bad(format!("{} values for a tree of {n} leaves", values.len()));
        }
        let mut leaf_value = vec![u32::MAX; n];
        for (v, &ti) in tree_index.iter().enumerate() {
            if !core::is_leaf(len, ti) {
                return bad(format!(
                    "values[{v}].treeIndex {ti} is not a leaf of a tree of {len} nodes"
                ));
            }
            let k = len - 1 - ti;
            if leaf_value[k] != u32::MAX {
                return bad(format!(
                    "values[{v}] and values[{}] share treeIndex {ti}",
                    leaf_value[k]
                ));
            }
            leaf_value[k] = v as u32;
        }
        let mismatch = values
            .par_iter()
            .zip(tree_index.par_iter())
            .with_min_len(1 << 12)
            .position_first(|(v, &ti)| v.leaf_hash() != tree[ti]);
        if let Some(v) = mismatch {
            return bad(format!("values[{v}] does not hash to the node at its treeIndex"));
        }
        if !core::is_valid_tree(&tree) {
            return bad("a node is not the hash of its children".into());
        }
        let sorted = tree[n - 1..].par_windows(2).all(|w| w[0] >= w[1]);
        let tree_index = tree_index.into_iter().map(|t| t as u32).collect();
        Ok(StandardMerkleTree {
            tree,
            values,
            tree_index,
            leaf_value,
            sorted,
        })
    }

    pub fn root(&self) -> Hash {
        self.tree[0]
    }

    /// The number of values (= leaves).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always false: trees are never empty.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The tree array, OZ's layout.
    pub fn tree(&self) -> &[Hash] {
        &self.tree
    }

    /// The values, in input order.
    pub fn values(&self) -> &[L] {
        &self.values
    }

    /// Where value `v` sits in the tree array (OZ's `treeIndex`).
    pub fn tree_index(&self, v: usize) -> Result<usize, MerkleError> {
        self.tree_index
            .get(v)
            .map(|&t| t as usize)
            .ok_or(MerkleError::ValueOutOfBounds {
                index: v,
                len: self.values.len(),
            })
    }

    /// The leaf hash of value `v` (as stored in the tree).
    pub fn leaf_hash_at(&self, v: usize) -> Result<Hash, MerkleError> {
        Ok(self.tree[self.tree_index(v)?])
    }

    /// OZ's `leafLookup`: the index of a value with this leaf's hash, if any.
    pub fn leaf_lookup(&self, leaf: &L) -> Option<usize> {
        let h = leaf.leaf_hash();
        let n = self.values.len();
        let leaves = &self.tree[n - 1..];
        let pos = if self.sorted {
            // Tree tail is descending; binary search on the reversed order.
            let k = leaves.partition_point(|x| *x > h);
            (k < n && leaves[k] == h).then_some(k)
        } else {
            leaves.iter().position(|x| *x == h)
        }?;
        // pos counts from tree index n - 1; leaf_value counts from the end.
        Some(self.leaf_value[n - 1 - pos] as usize)
    }

    /// OZ's `getProof(valueIndex)`.
    pub fn get_proof(&self, v: usize) -> Result<Vec<Hash>, MerkleError> {
        core::get_proof(&self.tree, self.tree_index(v)?)
    }

    /// OZ's `getMultiProof(valueIndices)`; `leaves` are the values, in OZ's order.
    pub fn get_multi_proof(&self, value_indices: &[usize]) -> Result<MultiProof<L>, MerkleError> {
        let ti = value_indices
            .iter()
            .map(|&v| self.tree_index(v))
            .collect::<Result<Vec<_>, _>>()?;
        let mp = core::get_multi_proof(&self.tree, &ti)?;
        let len = self.tree.len();
        Ok(MultiProof {
            leaves: mp
                .leaves
                .iter()
                .map(|&t| self.values[self.leaf_value[len - 1 - t] as usize].clone())
                .collect(),
            proof: mp.proof,
            proof_flags: mp.proof_flags,
        })
    }

    /// OZ's instance `verify(valueIndex, proof)`.
    pub fn verify(&self, v: usize, proof: &[Hash]) -> Result<bool, MerkleError> {
        Ok(core::process_proof(&self.leaf_hash_at(v)?, proof) == self.root())
    }

    /// Writes OZ's standard-v1 dump (see [`crate::dump`]).
    pub fn write_dump(&self, out: impl std::io::Write) -> std::io::Result<()> {
        crate::dump::write_dump(self, out)
    }
}

/// OZ's static `StandardMerkleTree.verify(root, leafEncoding, leaf, proof)`.
pub fn verify<L: Leaf>(root: &Hash, leaf: &L, proof: &[Hash]) -> bool {
    core::process_proof(&leaf.leaf_hash(), proof) == *root
}

/// OZ's static `StandardMerkleTree.verifyMultiProof(root, leafEncoding, multiproof)`; malformed
/// multiproofs (including the GHSA-wprv-93r4-jj2p forgery) are simply invalid.
pub fn verify_multi_proof<L: Leaf>(root: &Hash, mp: &MultiProof<L>) -> bool {
    let leaves: Vec<Hash> = mp.leaves.iter().map(Leaf::leaf_hash).collect();
    core::process_multi_proof(&leaves, &mp.proof, &mp.proof_flags).is_ok_and(|r| r == *root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{hash_pair, keccak256};
    use crate::leaf::{Address, ClaimLeaf};

    fn claims(n: usize) -> Vec<ClaimLeaf> {
        (0..n)
            .map(|i| ClaimLeaf {
                month_index: 24311,
                wallet: Address([(i % 251) as u8; 20]),
                amount: i as u128 * 1000,
            })
            .collect()
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(
            StandardMerkleTree::<ClaimLeaf>::of(vec![]),
            Err(MerkleError::Empty)
        );
        let c = claims(1);
        let t = StandardMerkleTree::of(c.clone()).unwrap();
        assert_eq!(t.root(), c[0].leaf_hash());
        assert_eq!(t.get_proof(0).unwrap(), Vec::<Hash>::new());
        assert!(verify(&t.root(), &c[0], &[]));
        assert_eq!(t.tree_index(0), Ok(0));
        assert_eq!(
            t.get_proof(1),
            Err(MerkleError::ValueOutOfBounds { index: 1, len: 1 })
        );
    }

    #[test]
    fn proofs_lookup_and_multiproofs() {
        for n in [2, 3, 4, 7, 100] {
            let c = claims(n);
            let t = StandardMerkleTree::of(c.clone()).unwrap();
            for (i, v) in c.iter().enumerate() {
                let p = t.get_proof(i).unwrap();
                assert!(verify(&t.root(), v, &p));
                assert!(t.verify(i, &p).unwrap());
                assert_eq!(t.leaf_lookup(v), Some(i));
            }
            let absent = ClaimLeaf {
                month_index: 1,
                wallet: Address([0; 20]),
                amount: 0,
            };
            assert_eq!(t.leaf_lookup(&absent), None);
            let mp = t.get_multi_proof(&(0..n).step_by(2).collect::<Vec<_>>()).unwrap();
            assert!(verify_multi_proof(&t.root(), &mp));
            let mut wrong = mp.clone();
            wrong.leaves[0] = absent;
            assert!(!verify_multi_proof(&t.root(), &wrong));
        }
    }

    #[test]
    fn leaves_are_sorted_and_duplicates_keep_input_order() {
        let mut c = claims(10);
        c.push(c[3]);
        c.push(c[3]);
        let t = StandardMerkleTree::of(c.clone()).unwrap();
        let tail = &t.tree()[c.len() - 1..];
        assert!(tail.windows(2).all(|w| w[0] >= w[1]));
        // Equal hashes: the earlier value gets the higher tree index (it sorts first).
        let (a, b, d) = (
            t.tree_index(3).unwrap(),
            t.tree_index(10).unwrap(),
            t.tree_index(11).unwrap(),
        );
        assert!(a > b && b > d, "{a} {b} {d}");
    }

    /// Double hashing: an inner node is keccak256 of 64 bytes, a leaf keccak256 of a 32-byte
    /// digest, so the 64-byte preimage of an inner node, taken as a leaf's encoding, hashes to
    /// something else and its proof fails; only with single hashing would it pass.
    #[test]
    fn inner_node_preimage_cannot_pass_as_a_leaf() {
        let c = claims(8);
        let t = StandardMerkleTree::of(c).unwrap();
        let tree = t.tree();
        for i in 1..7 {
            let (l, r) = (tree[2 * i + 1], tree[2 * i + 2]);
            let (lo, hi) = if l <= r { (l, r) } else { (r, l) };
            let preimage = [lo, hi].concat();
            assert_eq!(
                keccak256(&preimage),
                tree[i],
                "node {i} is the single hash of its preimage"
            );
            assert_eq!(hash_pair(&l, &r), tree[i]);
            let as_leaf = crate::hash::leaf_hash(&preimage);
            assert_ne!(as_leaf, tree[i]);
            // The proof of node i (its siblings up to the root) proves node i itself...
            let mut proof = Vec::new();
            let mut j = i;
            while j > 0 {
                proof.push(tree[crate::core::sibling(j)]);
                j = crate::core::parent(j);
            }
            assert_eq!(crate::core::process_proof(&tree[i], &proof), t.root());
            // ...but the leaf built from its preimage does not verify.
            assert_ne!(crate::core::process_proof(&as_leaf, &proof), t.root());
        }
    }
}
