//! Cross-check against OpenZeppelin's own `@openzeppelin/merkle-tree` (JS), pinned in `tests/oz`.
//!
//! Requires `node` and `tests/oz/node_modules` (`npm ci` in tests/oz, done by scripts/setup.sh);
//! without them this test fails rather than skipping.

use std::path::{Path, PathBuf};
use std::process::Command;

use flex_merkle::hash::to_hex;
use flex_merkle::{load, Address, ClaimLeaf, Hash, Leaf, MultiProof, ScoreLeaf, StandardMerkleTree};
use serde_json::{json, Value};

fn oz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oz")
}

fn node(args: &[&str]) -> Value {
    let dir = oz_dir();
    assert!(
        dir.join("node_modules/@openzeppelin/merkle-tree/package.json")
            .is_file(),
        "run scripts/setup.sh to install tests/oz (missing {}/node_modules; `npm ci` there)",
        dir.display()
    );
    let out = Command::new("node")
        .arg(dir.join("oz.js"))
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (run scripts/setup.sh to install tests/oz): {e}"));
    assert!(
        out.status.success(),
        "node oz.js {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("node printed JSON")
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("flex-merkle-oz-{}-{name}", std::process::id()))
}

/// SplitMix64: a seeded generator, so every run checks the same cases.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Integers of every width, including 0 and the maximum.
    fn uint(&mut self, bits: u32) -> u128 {
        let v = (u128::from(self.next()) << 64) | u128::from(self.next());
        let v = if bits == 128 { v } else { v & ((1u128 << bits) - 1) };
        match self.below(8) {
            0 => 0,
            1 => {
                if bits == 128 {
                    u128::MAX
                } else {
                    (1u128 << bits) - 1
                }
            }
            _ => v >> self.below(u64::from(bits)),
        }
    }
    fn wallet(&mut self) -> Address {
        let mut w = [0u8; 20];
        for b in &mut w {
            *b = self.next() as u8;
        }
        Address(w)
    }
    fn claim(&mut self) -> ClaimLeaf {
        ClaimLeaf {
            month_index: self.uint(32) as u32,
            wallet: self.wallet(),
            amount: self.uint(128),
        }
    }
    fn score(&mut self) -> ScoreLeaf {
        ScoreLeaf {
            epoch: self.uint(64) as u64,
            wallet: self.wallet(),
            score: if self.below(10) == 0 {
                self.uint(8) as u8
            } else {
                self.below(16) as u8
            },
            weight_bits: self.uint(128),
            reward: self.uint(128),
        }
    }
}

fn json_of<L: Leaf>(v: &L) -> Value {
    let mut out = Vec::new();
    v.write_json(&mut out).unwrap();
    serde_json::from_slice(&out).unwrap()
}

fn hexes(hs: &[Hash]) -> Value {
    hs.iter().map(to_hex).collect()
}

struct Case<L: Leaf> {
    values: Vec<L>,
    multi: Vec<Vec<usize>>,
    mixed: bool,
}

fn make_case<L: Leaf>(rng: &mut Rng, n: usize, gen: fn(&mut Rng) -> L, mixed: bool) -> Case<L> {
    let mut values: Vec<L> = (0..n).map(|_| gen(rng)).collect();
    // Some duplicates, to pin down how equal leaf hashes are ordered.
    if n >= 5 {
        for _ in 0..2 {
            let i = rng.below(n as u64) as usize;
            let j = rng.below(n as u64) as usize;
            values[j] = values[i].clone();
        }
    }
    let mut multi = vec![vec![], (0..n).collect::<Vec<_>>()];
    if n > 0 {
        multi.push(vec![n - 1]);
        for _ in 0..4 {
            let mut idx: Vec<usize> = (0..n).filter(|_| rng.below(3) == 0).collect();
            // OZ sorts the indices itself; hand them over shuffled.
            for k in (1..idx.len()).rev() {
                idx.swap(k, rng.below(k as u64 + 1) as usize);
            }
            multi.push(idx);
        }
    }
    Case { values, multi, mixed }
}

fn request<L: Leaf>(kind: &str, c: &Case<L>) -> Value {
    json!({
        "kind": kind,
        "values": c.values.iter().map(json_of).collect::<Vec<_>>(),
        "multi": c.multi,
        "mixed": c.mixed,
    })
}

fn dump_string<L: Leaf>(t: &StandardMerkleTree<L>) -> String {
    let mut out = Vec::new();
    t.write_dump(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn multi_json<L: Leaf>(mp: &MultiProof<L>) -> Value {
    json!({
        "leaves": mp.leaves.iter().map(json_of).collect::<Vec<_>>(),
        "proof": hexes(&mp.proof),
        "proofFlags": mp.proof_flags,
    })
}

fn check<L: Leaf>(label: &str, c: &Case<L>, oz: &Value) {
    let n = c.values.len();
    let ours = StandardMerkleTree::of(c.values.clone());
    let Ok(t) = ours else {
        assert_eq!(n, 0, "{label}: {ours:?}");
        assert!(oz["error"].is_string(), "{label}: OZ built an empty tree: {oz}");
        return;
    };
    assert!(oz.get("error").is_none(), "{label}: OZ failed: {oz}");
    assert_eq!(oz["root"], to_hex(&t.root()), "{label}: root");
    for i in 0..n {
        assert_eq!(
            oz["proofs"][i],
            hexes(&t.get_proof(i).unwrap()),
            "{label}: proof of value {i}"
        );
    }
    for (k, idx) in c.multi.iter().enumerate() {
        let mp = t.get_multi_proof(idx).unwrap();
        assert!(
            flex_merkle::verify_multi_proof(&t.root(), &mp),
            "{label}: multiproof {k}"
        );
        let ozmp = &oz["multi"][k];
        if c.mixed {
            // OZ hands back the values as given (numbers, hex); compare the proof parts.
            assert_eq!(ozmp["proof"], hexes(&mp.proof), "{label}: multiproof {k} proof");
            assert_eq!(
                ozmp["proofFlags"],
                json!(mp.proof_flags),
                "{label}: multiproof {k} flags"
            );
        } else {
            assert_eq!(*ozmp, multi_json(&mp), "{label}: multiproof {k} of {idx:?}");
        }
    }
    // OZ's dump loads in Rust, as the same tree.
    let oz_dump = oz["dump"].as_str().expect("dump string");
    let loaded =
        load::<L>(oz_dump.as_bytes()).unwrap_or_else(|e| panic!("{label}: our load of OZ's dump: {e}"));
    assert_eq!(loaded, t, "{label}: OZ's dump loaded");
    if !c.mixed {
        // And ours is byte for byte JSON.stringify(OZ's dump).
        assert_eq!(dump_string(&t), oz_dump, "{label}: dump bytes");
    }
}

const SIZES: [usize; 14] = [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 33, 127, 1000, 1001];

#[test]
fn roots_proofs_multiproofs_and_dumps_match_openzeppelin() {
    let mut rng = Rng(0x5eed_f1e8);
    let mut claims = Vec::new();
    let mut scores = Vec::new();
    let mut req = Vec::new();
    for &n in &SIZES {
        let c = make_case(&mut rng, n, Rng::claim, false);
        req.push(request("claim", &c));
        claims.push(c);
        let s = make_case(&mut rng, n, Rng::score, false);
        req.push(request("score", &s));
        scores.push(s);
    }
    for n in [1, 6, 33] {
        let c = make_case(&mut rng, n, Rng::claim, true);
        req.push(request("claim", &c));
        claims.push(c);
        let s = make_case(&mut rng, n, Rng::score, true);
        req.push(request("score", &s));
        scores.push(s);
    }
    let file = temp_file("cases.json");
    std::fs::write(&file, serde_json::to_vec(&req).unwrap()).unwrap();
    let oz = node(&["cases", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    for (k, (c, s)) in claims.iter().zip(&scores).enumerate() {
        let n = c.values.len();
        check(
            &format!("claim case {k} (n = {n}, mixed = {})", c.mixed),
            c,
            &oz[2 * k],
        );
        check(
            &format!("score case {k} (n = {n}, mixed = {})", s.mixed),
            s,
            &oz[2 * k + 1],
        );
    }
}

fn oz_validates<L: Leaf>(name: &str, values: Vec<L>) {
    let t = StandardMerkleTree::of(values).unwrap();
    let file = temp_file(name);
    std::fs::write(&file, dump_string(&t)).unwrap();
    let res = node(&["validate", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(res["root"], to_hex(&t.root()));
    assert_eq!(res["length"], t.len());
    assert_eq!(res["proofs"], t.len());
}

#[test]
fn openzeppelin_loads_and_validates_our_dumps() {
    let mut rng = Rng(42);
    for n in [1, 2, 3, 1000, 4097] {
        oz_validates(&format!("claim-{n}.json"), (0..n).map(|_| rng.claim()).collect());
        oz_validates(&format!("score-{n}.json"), (0..n).map(|_| rng.score()).collect());
    }
}
