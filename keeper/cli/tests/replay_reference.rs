//! `flex-keeper replay` against an independent reference of SPEC sections 1-5
//! (`tests/reference/replay_ref.py`, written from the spec text alone), byte for byte, on seeded random
//! pools: section scores at up to 300 wallets, ties, duplicates, both connection-bonus modes,
//! `--epochs`, the first halving, the wallet-index cap, and a u128::MAX balance.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python(args: &[&str]) -> Vec<u8> {
    let out = Command::new("python3")
        .args(args)
        .output()
        .expect("python3 is required for this test");
    assert!(
        out.status.success(),
        "python3 {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn cross_check(mode: &str, seed: u64, balance: &str, bonus: &str, epochs: Option<u32>) {
    let dir = std::env::temp_dir().join(format!("flex-replay-ref-{}-{mode}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pool, weights) = (dir.join("pool.json"), dir.join("weights.json"));
    let (pool_s, weights_s) = (pool.to_str().unwrap(), weights.to_str().unwrap());
    let gen = repo().join("tests/reference/gen_pool.py");
    python(&[gen.to_str().unwrap(), mode, &seed.to_string(), pool_s, weights_s]);

    let reference = repo().join("tests/reference/replay_ref.py");
    let epochs_s = epochs.map(|e| e.to_string());
    let mut ref_args = vec![
        reference.to_str().unwrap(),
        pool_s,
        weights_s,
        "1767225600",
        balance,
        bonus,
    ];
    if let Some(e) = &epochs_s {
        ref_args.push(e);
    }
    let expected = python(&ref_args);

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flex-keeper"));
    cmd.args([
        "replay",
        "--pool",
        pool_s,
        "--weights",
        weights_s,
        "--genesis",
        "1767225600",
    ]);
    cmd.args(["--balance", balance, "--connection-bonus", bonus]);
    if let Some(e) = &epochs_s {
        cmd.args(["--epochs", e]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout == expected,
        "{mode} seed {seed}: flex-keeper replay and the reference differ (inputs kept in {})",
        dir.display()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn random_pools_match_the_reference() {
    for seed in 1..=30u64 {
        let bonus = if seed % 3 == 0 { "always" } else { "active" };
        let balance = ((seed * 7919) % 1_000_000_007).to_string() + "000000000";
        let epochs = (seed % 5 == 0).then_some((seed % 4 + 1) as u32);
        cross_check("mixed", seed, &balance, bonus, epochs);
    }
}

#[test]
fn long_runs_cross_the_halving_and_reach_the_wallet_index_cap() {
    cross_check("long", 1, &u128::MAX.to_string(), "active", None);
    cross_check("cap", 7, "1000000000000000000000", "always", None);
}
