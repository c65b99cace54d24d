//! flex-merkle benchmark (no timed assertions: it prints figures).
//!
//! Build once (`cargo bench -p flex-merkle --bench merkle --no-run`), then run the binary from
//! target/release/deps directly:
//!
//!   merkle-<hash> all          1M and 10M claim trees vs raw keccak, proofs/s, 1M proofs streamed
//!                              to a file, thread-count independence, and OZ JS on the same 100k
//!   merkle-<hash> build N      only build N claim leaves (for `/usr/bin/time -v`: bytes per leaf)
//!   merkle-<hash> oz N         only the side-by-side with OZ JS (needs tests/oz/node_modules)

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use flex_merkle::hash::{hash_pair, keccak256, to_hex};
use flex_merkle::multi::{hash_pair_x8, keccak256_x8};
use flex_merkle::{Address, ClaimLeaf, Leaf, StandardMerkleTree};
use rayon::prelude::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn claims(n: usize, seed: u64) -> Vec<ClaimLeaf> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let mut wallet = [0u8; 20];
            for c in wallet.chunks_mut(8) {
                let r = rng.next().to_le_bytes();
                c.copy_from_slice(&r[..c.len()]);
            }
            ClaimLeaf {
                month_index: 24311,
                wallet: Address(wallet),
                amount: u128::from(rng.next() >> 4),
            }
        })
        .collect()
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// The keccak work of a claim tree without the tree: n hashes of 96 bytes, n of 32 and n - 1 of
/// 64, spread over the same thread pool.
fn raw_keccak(n: usize) -> f64 {
    let t = Instant::now();
    let acc = (0..n)
        .into_par_iter()
        .with_min_len(1 << 12)
        .map(|i| {
            let mut enc = [0u8; 96];
            enc[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let inner = keccak256(&enc);
            let leaf = keccak256(&inner);
            let node = if i + 1 < n { hash_pair(&leaf, &inner) } else { leaf };
            u64::from(node[0])
        })
        .sum::<u64>();
    black_box(acc);
    secs(t)
}

/// The same calls with the 8-way hashes the tree uses (groups of eight; the limit to compare with).
fn raw_keccak_x8(n: usize) -> f64 {
    let t = Instant::now();
    let acc = (0..n.div_ceil(8))
        .into_par_iter()
        .with_min_len(1 << 9)
        .map(|g| {
            let enc: [[u8; 96]; 8] = std::array::from_fn(|i| {
                let mut e = [0u8; 96];
                e[..8].copy_from_slice(&((8 * g + i) as u64).to_le_bytes());
                e
            });
            let inner = keccak256_x8(std::array::from_fn(|i| &enc[i][..]));
            let leaf = keccak256_x8(std::array::from_fn(|i| &inner[i][..]));
            let node = hash_pair_x8(std::array::from_fn(|i| (&leaf[i], &inner[i])));
            u64::from(node[0][0])
        })
        .sum::<u64>();
    black_box(acc);
    secs(t)
}

fn build(values: Vec<ClaimLeaf>) -> (StandardMerkleTree<ClaimLeaf>, f64) {
    let t = Instant::now();
    let tree = StandardMerkleTree::of(values).expect("non-empty");
    (tree, secs(t))
}

fn tree_vs_raw(n: usize) -> StandardMerkleTree<ClaimLeaf> {
    let values = claims(n, n as u64);
    let raw = raw_keccak(n);
    let raw8 = raw_keccak_x8(n);
    let (tree, b) = build(values);
    let raw8 = raw8.min(raw_keccak_x8(n));
    println!(
        "build {n:>9} claim leaves: {b:>7.3} s   root {}",
        to_hex(&tree.root())
    );
    println!(
        "  raw keccak, same {} calls, same pool: 8-way {raw8:>7.3} s (build/raw {:.2}x)   scalar {raw:>7.3} s (build/raw {:.2}x)",
        3 * n - 1,
        b / raw8,
        b / raw
    );
    tree
}

fn proofs_per_second(tree: &StandardMerkleTree<ClaimLeaf>) {
    let n = tree.len();
    let q = 1_000_000;
    let mut rng = Rng(7);
    let idx: Vec<usize> = (0..q).map(|_| (rng.next() % n as u64) as usize).collect();
    let t = Instant::now();
    let mut total = 0usize;
    for &i in &idx {
        total += tree.get_proof(i).map(|p| p.len()).unwrap_or(0);
    }
    let dt = secs(t);
    black_box(total);
    println!(
        "proofs on demand ({n} leaves, random values, 1 thread): {:.2} M proofs/s",
        q as f64 / dt / 1e6
    );
}

fn stream_proofs(tree: &StandardMerkleTree<ClaimLeaf>, path: &Path) -> std::io::Result<()> {
    let t = Instant::now();
    let mut out = std::io::BufWriter::with_capacity(1 << 22, std::fs::File::create(path)?);
    let mut line = Vec::with_capacity(4096);
    let mut hex = *b"\"0x0000000000000000000000000000000000000000000000000000000000000000\"";
    for (i, v) in tree.values().iter().enumerate() {
        line.clear();
        line.extend_from_slice(b"{\"value\":");
        v.write_json(&mut line)?;
        line.extend_from_slice(b",\"proof\":[");
        let proof = tree.get_proof(i).map_err(std::io::Error::other)?;
        for (k, h) in proof.iter().enumerate() {
            if k > 0 {
                line.push(b',');
            }
            flex_types::hex::encode_to_slice(h, &mut hex[3..67]);
            line.extend_from_slice(&hex);
        }
        line.extend_from_slice(b"]}\n");
        out.write_all(&line)?;
    }
    out.flush()?;
    drop(out);
    let size = std::fs::metadata(path)?.len();
    println!(
        "streamed all {} proofs (JSON lines: value + proof) to {}: {:.3} s, {:.0} MB",
        tree.len(),
        path.display(),
        secs(t),
        size as f64 / 1e6
    );
    std::fs::remove_file(path)
}

fn thread_independence(n: usize) {
    let values = claims(n, 99);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let four = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .expect("pool");
    let a = one
        .install(|| StandardMerkleTree::of(values.clone()))
        .expect("tree");
    let b = four
        .install(|| StandardMerkleTree::of(values.clone()))
        .expect("tree");
    let c = StandardMerkleTree::of(values).expect("tree");
    assert!(a == b && b == c, "trees differ with the thread count");
    println!(
        "{n} leaves built with 1, 4 and the default threads: identical trees ({})",
        to_hex(&a.root())
    );
}

fn oz_side_by_side(n: usize) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oz");
    if !dir.join("node_modules").is_dir() {
        println!("OZ side by side skipped: run scripts/setup.sh to install tests/oz");
        return;
    }
    let values = claims(n, 100_000);
    let file = std::env::temp_dir().join(format!("flex-merkle-bench-{}.json", std::process::id()));
    let mut json = Vec::with_capacity(n * 100);
    json.push(b'[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        let _ = v.write_json(&mut json);
    }
    json.push(b']');
    if let Err(e) = std::fs::write(&file, &json) {
        println!("OZ side by side skipped: {e}");
        return;
    }
    let (tree, b) = build(values);
    let t = Instant::now();
    let mut total = 0usize;
    for i in 0..n {
        total += tree.get_proof(i).map(|p| p.len()).unwrap_or(0);
    }
    let p = secs(t);
    let out = std::process::Command::new("node")
        .arg(dir.join("bench.js"))
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let oz: serde_json::Value = match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).unwrap_or_default(),
        other => {
            println!("OZ side by side failed: {other:?}");
            return;
        }
    };
    let ozb = oz["build_s"].as_f64().unwrap_or(f64::NAN);
    let ozp = oz["proofs_s"].as_f64().unwrap_or(f64::NAN);
    let same = oz["root"] == to_hex(&tree.root()) && oz["proof_hashes"] == total;
    println!("OZ JS vs Rust on the same {n} claim leaves (roots and proof sizes equal: {same}):");
    println!(
        "  tree build:     OZ {ozb:>8.3} s   Rust {b:>8.4} s   {:>6.0}x",
        ozb / b
    );
    println!(
        "  all {n} proofs: OZ {ozp:>8.3} s   Rust {p:>8.4} s   {:>6.0}x",
        ozp / p
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let n_arg = |k: usize, d: usize| args.get(k).and_then(|s| s.parse().ok()).unwrap_or(d);
    println!("threads: {}", rayon::current_num_threads());
    match args.first().map(String::as_str) {
        Some("build") => {
            let n = n_arg(1, 10_000_000);
            let values = claims(n, n as u64);
            let (tree, b) = build(values);
            let leaf_bytes = std::mem::size_of::<ClaimLeaf>();
            println!(
                "built {n} leaves in {b:.3} s, root {} (tree {} B/leaf, values {leaf_bytes} B/leaf, index maps 8 B/leaf)",
                to_hex(&tree.root()),
                std::mem::size_of_val(tree.tree()) / n
            );
        }
        Some("oz") => oz_side_by_side(n_arg(1, 100_000)),
        _ => {
            let t1 = tree_vs_raw(1_000_000);
            proofs_per_second(&t1);
            let path = std::env::temp_dir().join("flex-merkle-bench-proofs.jsonl");
            if let Err(e) = stream_proofs(&t1, &path) {
                println!("streaming proofs failed: {e}");
            }
            drop(t1);
            thread_independence(1_000_000);
            drop(tree_vs_raw(10_000_000));
            oz_side_by_side(100_000);
        }
    }
    black_box(ClaimLeaf::ENCODING);
}
