//! Keccak-256 and the two hashes of OpenZeppelin's StandardMerkleTree.
//!
//! The sponge is written here over the raw Keccak-f\[1600\] permutation so that the fixed-size
//! inputs of a tree (32-byte leaf digests, 64-byte node pairs, 96/160-byte leaf encodings) compile
//! to straight-line code without buffering; `benches/keccak_backends.rs` shows why the permutation
//! comes from the `keccak` crate.

/// A 32-byte Keccak-256 digest (a tree node or a leaf hash).
pub type Hash = [u8; 32];

/// Keccak-256 rate in bytes.
const RATE: usize = 136;

/// The permutation used by every hash in this crate.
#[inline(always)]
fn permute(state: &mut [u64; 25]) {
    keccak::f1600(state);
}

#[inline(always)]
fn lane(bytes: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(bytes);
    u64::from_le_bytes(a)
}

#[inline(always)]
fn squeeze(state: &[u64; 25]) -> Hash {
    let mut out = [0u8; 32];
    for (o, l) in out.chunks_exact_mut(8).zip(state.iter()) {
        o.copy_from_slice(&l.to_le_bytes());
    }
    out
}

/// Keccak-256 (Ethereum's, with the original `0x01` padding) over any permutation; generic so the
/// backend bench can compare permutations under the very same sponge.
#[doc(hidden)]
#[inline(always)]
pub fn keccak256_with(data: &[u8], permute: impl Fn(&mut [u64; 25])) -> Hash {
    let mut s = [0u64; 25];
    let mut blocks = data.chunks_exact(RATE);
    for block in &mut blocks {
        for (l, b) in s.iter_mut().zip(block.chunks_exact(8)) {
            *l ^= lane(b);
        }
        permute(&mut s);
    }
    let rem = blocks.remainder();
    let mut lanes = rem.chunks_exact(8);
    let mut i = 0;
    for b in &mut lanes {
        s[i] ^= lane(b);
        i += 1;
    }
    let tail = lanes.remainder();
    let mut last = [0u8; 8];
    last[..tail.len()].copy_from_slice(tail);
    last[tail.len()] = 0x01;
    s[i] ^= u64::from_le_bytes(last);
    s[RATE / 8 - 1] ^= 0x80 << 56;
    permute(&mut s);
    squeeze(&s)
}

/// Keccak-256 of `data`.
#[inline(always)]
pub fn keccak256(data: &[u8]) -> Hash {
    keccak256_with(data, permute)
}

/// OpenZeppelin's `standardLeafHash`: `keccak256(keccak256(abi_encoded))`. The outer hash makes a
/// leaf's preimage 32 bytes, so no leaf can be confused with an inner node (64-byte preimage).
#[inline(always)]
pub fn leaf_hash(abi_encoded: &[u8]) -> Hash {
    keccak256(&keccak256(abi_encoded))
}

/// OpenZeppelin's `standardNodeHash`: keccak256 of the two children, the smaller one first.
#[inline(always)]
pub fn hash_pair(a: &Hash, b: &Hash) -> Hash {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut s = [0u64; 25];
    for (l, c) in s[..4].iter_mut().zip(lo.chunks_exact(8)) {
        *l = lane(c);
    }
    for (l, c) in s[4..8].iter_mut().zip(hi.chunks_exact(8)) {
        *l = lane(c);
    }
    s[8] = 0x01;
    s[RATE / 8 - 1] = 0x80 << 56;
    permute(&mut s);
    squeeze(&s)
}

/// `0x`-prefixed lowercase hex of a hash, as OpenZeppelin's `toHex` prints it.
pub fn to_hex(h: &Hash) -> String {
    flex_types::hex::encode(h)
}

/// Parses a 32-byte hash written as hex, with or without `0x`, any case.
pub fn parse_hash(s: &str) -> Option<Hash> {
    flex_types::hex::decode_prefix_optional(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiny_keccak::{Hasher, Keccak};

    fn reference(data: &[u8]) -> Hash {
        let mut k = Keccak::v256();
        k.update(data);
        let mut out = [0u8; 32];
        k.finalize(&mut out);
        out
    }

    #[test]
    fn matches_reference_keccak_for_all_lengths() {
        let data: Vec<u8> = (0..600u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for len in 0..data.len() {
            assert_eq!(keccak256(&data[..len]), reference(&data[..len]), "length {len}");
        }
    }

    #[test]
    fn known_vectors() {
        assert_eq!(
            to_hex(&keccak256(b"")),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(
            to_hex(&keccak256(b"abc")),
            "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
        );
    }

    #[test]
    fn hash_pair_is_sorted_keccak_of_the_concatenation() {
        let a = keccak256(b"a");
        let b = keccak256(b"b");
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let expected = reference(&[lo, hi].concat());
        assert_eq!(hash_pair(&a, &b), expected);
        assert_eq!(hash_pair(&b, &a), expected);
        assert_eq!(hash_pair(&a, &a), reference(&[a, a].concat()));
    }

    #[test]
    fn parse_hash_roundtrip() {
        let h = keccak256(b"x");
        assert_eq!(parse_hash(&to_hex(&h)), Some(h));
        assert_eq!(
            parse_hash(&to_hex(&h).to_uppercase().replacen("0X", "0x", 1)),
            Some(h)
        );
        assert_eq!(parse_hash("0x12"), None);
        assert_eq!(parse_hash("0xzz"), None);
    }
}
