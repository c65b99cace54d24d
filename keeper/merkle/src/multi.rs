//! Eight Keccak-256 hashes at once: the tree hashes millions of independent equal-length inputs,
//! so on CPUs with AVX-512 the eight states are interleaved one per 64-bit lane of 25 `zmm`
//! registers (rotations are `vprolq`, theta's 5-way xor and chi are `vpternlogq`). Elsewhere the
//! same API runs the scalar permutation eight times. Both give the exact bytes of
//! [`crate::hash::keccak256`], checked by the tests below.

use crate::hash::Hash;

/// Keccak-256 rate in bytes.
const RATE: usize = 136;

/// Eight Keccak states, lane-major: `st[j][i]` is lane `j` of state `i`.
type State8 = [[u64; 8]; 25];

#[inline(always)]
fn lane(bytes: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(bytes);
    u64::from_le_bytes(a)
}

/// Keccak-f\[1600\] on eight states.
#[inline]
fn permute8(st: &mut State8) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            unsafe { avx512::permute8(st) };
            return;
        }
    }
    permute8_scalar(st);
}

fn permute8_scalar(st: &mut State8) {
    for i in 0..8 {
        let mut s: [u64; 25] = std::array::from_fn(|j| st[j][i]);
        keccak::f1600(&mut s);
        for (lanes, l) in st.iter_mut().zip(s) {
            lanes[i] = l;
        }
    }
}

#[inline(always)]
fn squeeze8(st: &State8) -> [Hash; 8] {
    let mut out = [[0u8; 32]; 8];
    for (i, h) in out.iter_mut().enumerate() {
        for (j, o) in h.chunks_exact_mut(8).enumerate() {
            o.copy_from_slice(&st[j][i].to_le_bytes());
        }
    }
    out
}

/// Keccak-256 of eight inputs of the same length.
pub fn keccak256_x8(inputs: [&[u8]; 8]) -> [Hash; 8] {
    let len = inputs[0].len();
    debug_assert!(inputs.iter().all(|i| i.len() == len));
    let mut st: State8 = [[0u64; 8]; 25];
    let full = len / RATE;
    for b in 0..full {
        for (i, inp) in inputs.iter().enumerate() {
            for (j, c) in inp[b * RATE..(b + 1) * RATE].chunks_exact(8).enumerate() {
                st[j][i] ^= lane(c);
            }
        }
        permute8(&mut st);
    }
    let tail_start = full * RATE;
    for (i, inp) in inputs.iter().enumerate() {
        let rem = &inp[tail_start..];
        let mut lanes = rem.chunks_exact(8);
        let mut j = 0;
        for c in &mut lanes {
            st[j][i] ^= lane(c);
            j += 1;
        }
        let tail = lanes.remainder();
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        last[tail.len()] = 0x01;
        st[j][i] ^= u64::from_le_bytes(last);
        st[RATE / 8 - 1][i] ^= 0x80 << 56;
    }
    permute8(&mut st);
    squeeze8(&st)
}

/// Eight [`crate::hash::hash_pair`]s.
pub fn hash_pair_x8(pairs: [(&Hash, &Hash); 8]) -> [Hash; 8] {
    let mut st: State8 = [[0u64; 8]; 25];
    for (i, (a, b)) in pairs.iter().enumerate() {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        for (j, c) in lo.chunks_exact(8).enumerate() {
            st[j][i] = lane(c);
        }
        for (j, c) in hi.chunks_exact(8).enumerate() {
            st[4 + j][i] = lane(c);
        }
        st[8][i] = 0x01;
        st[RATE / 8 - 1][i] = 0x80 << 56;
    }
    permute8(&mut st);
    squeeze8(&st)
}

/// Eight double-hashed leaves ([`crate::hash::leaf_hash`]) of equal-length encodings.
pub fn leaf_hash_x8(encoded: [&[u8]; 8]) -> [Hash; 8] {
    let inner = keccak256_x8(encoded);
    keccak256_x8([
        &inner[0], &inner[1], &inner[2], &inner[3], &inner[4], &inner[5], &inner[6], &inner[7],
    ])
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::*;

    const RC: [u64; 24] = [
        0x0000_0000_0000_0001,
        0x0000_0000_0000_8082,
        0x8000_0000_0000_808a,
        0x8000_0000_8000_8000,
        0x0000_0000_0000_808b,
        0x0000_0000_8000_0001,
        0x8000_0000_8000_8081,
        0x8000_0000_0000_8009,
        0x0000_0000_0000_008a,
        0x0000_0000_0000_0088,
        0x0000_0000_8000_8009,
        0x0000_0000_8000_000a,
        0x0000_0000_8000_808b,
        0x8000_0000_0000_008b,
        0x8000_0000_0000_8089,
        0x8000_0000_0000_8003,
        0x8000_0000_0000_8002,
        0x8000_0000_0000_0080,
        0x0000_0000_0000_800a,
        0x8000_0000_8000_000a,
        0x8000_0000_8000_8081,
        0x8000_0000_0000_8080,
        0x0000_0000_8000_0001,
        0x8000_0000_8000_8008,
    ];

    // Safe `#[target_feature]` helpers: callable only from AVX-512F code (i.e. `permute8`).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn rol<const N: i32>(a: __m512i) -> __m512i {
        _mm512_rol_epi64::<N>(a)
    }

    /// a ^ b ^ c.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn xor3(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
        _mm512_ternarylogic_epi64::<0x96>(a, b, c)
    }

    /// a ^ (!b & c).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn chi(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
        _mm512_ternarylogic_epi64::<0xD2>(a, b, c)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn permute8(st: &mut super::State8) {
        let mut a = [_mm512_setzero_si512(); 25];
        for (v, l) in a.iter_mut().zip(st.iter()) {
            // SAFETY: `l` is 64 readable bytes; unaligned load.
            *v = unsafe { _mm512_loadu_si512(l.as_ptr().cast()) };
        }
        let mut b = [_mm512_setzero_si512(); 25];
        for rc in RC {
            // Theta.
            let c: [__m512i; 5] =
                core::array::from_fn(|x| xor3(xor3(a[x], a[x + 5], a[x + 10]), a[x + 15], a[x + 20]));
            for x in 0..5 {
                let d = _mm512_xor_si512(c[(x + 4) % 5], rol::<1>(c[(x + 1) % 5]));
                for y in 0..5 {
                    a[x + 5 * y] = _mm512_xor_si512(a[x + 5 * y], d);
                }
            }
            // Rho and pi: b[y + 5 * ((2x + 3y) % 5)] = rol(a[x + 5y], r[x + 5y]).
            b[0] = a[0];
            b[1] = rol::<44>(a[6]);
            b[2] = rol::<43>(a[12]);
            b[3] = rol::<21>(a[18]);
            b[4] = rol::<14>(a[24]);
            b[5] = rol::<28>(a[3]);
            b[6] = rol::<20>(a[9]);
            b[7] = rol::<3>(a[10]);
            b[8] = rol::<45>(a[16]);
            b[9] = rol::<61>(a[22]);
            b[10] = rol::<1>(a[1]);
            b[11] = rol::<6>(a[7]);
            b[12] = rol::<25>(a[13]);
            b[13] = rol::<8>(a[19]);
            b[14] = rol::<18>(a[20]);
            b[15] = rol::<27>(a[4]);
            b[16] = rol::<36>(a[5]);
            b[17] = rol::<10>(a[11]);
            b[18] = rol::<15>(a[17]);
            b[19] = rol::<56>(a[23]);
            b[20] = rol::<62>(a[2]);
            b[21] = rol::<55>(a[8]);
            b[22] = rol::<39>(a[14]);
            b[23] = rol::<41>(a[15]);
            b[24] = rol::<2>(a[21]);
            // Chi.
            for y in 0..5 {
                for x in 0..5 {
                    a[x + 5 * y] = chi(b[x + 5 * y], b[(x + 1) % 5 + 5 * y], b[(x + 2) % 5 + 5 * y]);
                }
            }
            // Iota.
            a[0] = _mm512_xor_si512(a[0], _mm512_set1_epi64(rc as i64));
        }
        for (v, l) in a.iter().zip(st.iter_mut()) {
            // SAFETY: `l` is 64 writable bytes; unaligned store.
            unsafe { _mm512_storeu_si512(l.as_mut_ptr().cast(), *v) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{hash_pair, keccak256, leaf_hash};

    fn data(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn permutation_matches_scalar() {
        let mut st: State8 = [[0u64; 8]; 25];
        for (j, l) in st.iter_mut().enumerate() {
            for (i, v) in l.iter_mut().enumerate() {
                *v = u64::from_le_bytes(data((j * 8 + i) as u64, 8).try_into().unwrap());
            }
        }
        let mut scalar = st;
        permute8_scalar(&mut scalar);
        permute8(&mut st);
        assert_eq!(st, scalar);
    }

    #[test]
    fn x8_hashes_match_scalar_for_all_lengths() {
        for len in 0..420 {
            let inputs: Vec<Vec<u8>> = (0..8).map(|i| data(len as u64 * 8 + i, len)).collect();
            let refs: [&[u8]; 8] = core::array::from_fn(|i| inputs[i].as_slice());
            let got = keccak256_x8(refs);
            for i in 0..8 {
                assert_eq!(got[i], keccak256(&inputs[i]), "length {len}, lane {i}");
            }
            let leaves = leaf_hash_x8(refs);
            for i in 0..8 {
                assert_eq!(leaves[i], leaf_hash(&inputs[i]), "leaf length {len}, lane {i}");
            }
        }
    }

    #[test]
    fn x8_pairs_match_scalar() {
        let hs: Vec<Hash> = (0..16).map(|i| keccak256(&data(i, 32))).collect();
        let mut pairs: [(&Hash, &Hash); 8] = core::array::from_fn(|i| (&hs[2 * i], &hs[2 * i + 1]));
        pairs[3] = (&hs[5], &hs[5]);
        let got = hash_pair_x8(pairs);
        for (i, (a, b)) in pairs.iter().enumerate() {
            assert_eq!(got[i], hash_pair(a, b), "pair {i}");
        }
    }
}
