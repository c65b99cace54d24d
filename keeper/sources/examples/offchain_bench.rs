//! Off-chain intake: signing, parsing, verifying and storing signed batches of N actions (default
//! 10,000, the most one batch may hold), B batches in a row (default 20) into a fresh SQLite store.
//! Prints where the time goes per batch and actions per second.
//!
//! cargo run --release -p flex-sources --example offchain_bench -- [N] [B] [DIR]

use std::sync::Arc;
use std::time::{Duration, Instant};

use flex_engine::WeightTable;
use flex_evm::EvmKey;
use flex_sources::offchain::{
    record_chain, Domain, Intake, OffchainAction, Policy, SignedSubmission, Submission,
};
use flex_store::{SqliteStore, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10_000);
    let batches: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/bench-offchain".into()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("offchain.db");
    for f in ["offchain.db", "offchain.db-wal", "offchain.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let store = Arc::new(SqliteStore::open(&db)?);
    let domain = Domain {
        chain: [0x22; 32],
        contract: flex_types::AccountId([0x11; 32]),
    };
    record_chain(&*store, domain.chain)?;
    let key = EvmKey::from_hex(&flex_types::hex::encode([0x5a; 32]), "bench")?;
    let mut table = WeightTable::new();
    table.insert_str("post", "1")?;
    table.insert_str("like", "1.5")?;
    let policy = Policy {
        attesters: [key.address()].into_iter().collect(),
        kinds: None,
    };
    let genesis = 1_769_644_800i64;
    let intake = Intake::new(store.clone(), policy, table, domain.contract, Some(genesis))?;
    let (mut sign, mut encode, mut parse, mut accept) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut bytes = 0usize;
    let started = Instant::now();
    for b in 0..batches {
        let actions = (0..n)
            .map(|i| OffchainAction {
                action_id: format!("x:{b}:{i}"),
                wallet: {
                    let mut w = [0u8; 20];
                    w[..8].copy_from_slice(&(i as u64).to_be_bytes());
                    flex_types::Address(w)
                },
                kind: if i % 3 == 0 { "like" } else { "post" }.into(),
                timestamp: genesis + (i as i64 % 86_400),
            })
            .collect();
        let s = Submission {
            attester: key.address(),
            nonce: b + 1,
            expires_at: 4_000_000_000,
            actions,
        };
        let t = Instant::now();
        let signed = s.sign(&key, &domain)?;
        sign += t.elapsed();
        let t = Instant::now();
        let json = signed.to_json();
        encode += t.elapsed();
        bytes += json.len();
        let t = Instant::now();
        let parsed = SignedSubmission::from_json(json.as_bytes())?;
        parse += t.elapsed();
        let t = Instant::now();
        let a = intake.accept(&parsed, "bench")?;
        accept += t.elapsed();
        assert_eq!(a.actions_new, n as u64);
    }
    let total = started.elapsed();
    let per = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0 / batches as f64);
    println!(
        "{batches} batches of {n} actions ({:.2} MB of JSON each): sign {}, to JSON {}, parse {}, \
         verify + check + store {} per batch; {:.0} actions/s end to end; store holds {} actions",
        bytes as f64 / batches as f64 / 1e6,
        per(sign),
        per(encode),
        per(parse),
        per(accept),
        (n as f64 * batches as f64) / total.as_secs_f64(),
        store.input_counts()?.1
    );
    Ok(())
}
