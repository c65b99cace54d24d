//! Keccak-256 backend comparison on the input sizes a tree hashes (single thread).
//!
//! `cargo bench -p flex-merkle --bench keccak_backends` (or run the built binary directly).
//! Every backend is checked against the others before timing.

use std::hint::black_box;
use std::time::Instant;

use flex_merkle::hash::keccak256_with;

type Hash = [u8; 32];
type HashFn = fn(&[u8]) -> Hash;

fn tiny_hasher(data: &[u8]) -> Hash {
    use tiny_keccak::{Hasher, Keccak};
    let mut k = Keccak::v256();
    k.update(data);
    let mut out = [0u8; 32];
    k.finalize(&mut out);
    out
}

fn sha3_digest(data: &[u8]) -> Hash {
    use sha3::Digest;
    sha3::Keccak256::digest(data).into()
}

fn asm_digest(data: &[u8]) -> Hash {
    keccak_asm::Keccak256::digest(data).into()
}

fn sponge_keccak_crate(data: &[u8]) -> Hash {
    keccak256_with(data, keccak::f1600)
}

fn sponge_tiny_keccakf(data: &[u8]) -> Hash {
    keccak256_with(data, tiny_keccak::keccakf)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_000_000);
    let backends: [(&str, HashFn); 5] = [
        ("tiny-keccak Keccak::v256 hasher", tiny_hasher),
        ("sha3 0.10 Keccak256::digest", sha3_digest),
        ("keccak-asm 0.1 (cryptogams x86_64)", asm_digest),
        ("own sponge + keccak::f1600", sponge_keccak_crate),
        ("own sponge + tiny_keccak::keccakf", sponge_tiny_keccakf),
    ];
    for len in [32usize, 64, 96, 160] {
        let input: Vec<u8> = (0..len as u8).collect();
        let expected = tiny_hasher(&input);
        for (name, f) in &backends {
            assert_eq!(f(&input), expected, "{name} disagrees at length {len}");
        }
        println!("input {len} bytes, {n} hashes, 1 thread:");
        for (name, f) in &backends {
            let mut buf = [0u8; 160];
            buf[..len].copy_from_slice(&input);
            let t = Instant::now();
            for i in 0..n {
                buf[0] = i as u8;
                let h = f(black_box(&buf[..len]));
                buf[1] ^= h[0];
            }
            black_box(buf);
            let dt = t.elapsed().as_secs_f64();
            println!(
                "  {name:<38} {:>7.1} ns/hash  {:>6.2} M hashes/s",
                dt * 1e9 / n as f64,
                n as f64 / dt / 1e6
            );
        }
        let mut bufs = [[0u8; 160]; 8];
        for b in &mut bufs {
            b[..len].copy_from_slice(&input);
        }
        let x8 = flex_merkle::multi::keccak256_x8(std::array::from_fn(|i| &bufs[i][..len]));
        assert_eq!(x8[7], expected, "keccak256_x8 disagrees at length {len}");
        let t = Instant::now();
        for i in 0..n / 8 {
            bufs[0][0] = i as u8;
            let h = flex_merkle::multi::keccak256_x8(std::array::from_fn(|k| black_box(&bufs[k][..len])));
            bufs[1][1] ^= h[7][0];
        }
        black_box(bufs);
        let dt = t.elapsed().as_secs_f64();
        let name = "flex_merkle::multi::keccak256_x8 (8 at once)";
        println!(
            "  {name:<38} {:>7.1} ns/hash  {:>6.2} M hashes/s",
            dt * 1e9 / n as f64,
            n as f64 / dt / 1e6
        );
    }
}
