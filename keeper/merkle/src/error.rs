//! Library errors.

/// Everything that can go wrong building, proving, verifying or loading a tree.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MerkleError {
    /// OpenZeppelin refuses empty trees ("Expected non-zero number of leaves").
    #[error("a merkle tree needs at least one leaf")]
    Empty,
    /// The tree array layout limits indices to `u32`.
    #[error("too many leaves: {0} (at most 2^31)")]
    TooManyLeaves(usize),
    /// A tree index that is not a leaf ("Index is not a leaf").
    #[error("tree index {0} is not a leaf")]
    NotALeaf(usize),
    /// A value index past the end ("Index out of bounds").
    #[error("value index {index} is out of bounds ({len} values)")]
    ValueOutOfBounds { index: usize, len: usize },
    /// A multiproof asked twice for the same leaf ("Cannot prove duplicated index").
    #[error("cannot prove duplicated index {0}")]
    DuplicateIndex(usize),
    /// A multiproof that is malformed or does not consume exactly its inputs.
    #[error("invalid multiproof: {0}")]
    InvalidMultiProof(&'static str),
    /// A dump that is not a valid standard-v1 dump of one of our leaf kinds.
    #[error("invalid dump: {0}")]
    InvalidDump(String),
    /// A leaf value that cannot be read.
    #[error(transparent)]
    Value(#[from] ValueError),
}

/// A bad field in one leaf value; `index` is the position in the input array or dump `values`.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("value [{index}], field `{field}`: {reason}")]
pub struct ValueError {
    pub index: usize,
    pub field: &'static str,
    pub reason: String,
}
