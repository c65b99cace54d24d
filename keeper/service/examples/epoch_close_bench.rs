//! Epoch close for N wallets (default 1,000,000), end to end minus the chain: import into a fresh
//! SQLite store, then the keeper's epoch close (read inputs, engine, scores tree, one-transaction
//! store) and the month close (totals, claim tree, store). Prints where the time goes.
//! (Submitting a commitment is one fixed-size extrinsic whatever N is; its latency is measured on
//! the devnet by the keeper e2e tests' logs.)
//!
//! cargo run --release -p flex-service --example epoch_close_bench -- [N] [DIR]

use std::time::Instant;

use flex_engine::{ConnectionBonus, Genesis, WeightTable};
use flex_service::compute::{self, PoolFigures};
use flex_store::{ActionRow, SqliteStore, Store, WalletRow};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/bench-epoch".into()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(format!("epoch-{n}.db"));
    let _ = std::fs::remove_file(&db);
    let _ = std::fs::remove_file(dir.join(format!("epoch-{n}.db-wal")));
    let g = Genesis::new(1_769_644_800)?;
    let mut table = WeightTable::new();
    for (k, w) in [("swap", "2.5"), ("stake", "4"), ("post", "1")] {
        table.insert_str(k, w)?;
    }
    let kinds = ["swap", "stake", "post"];
    // Wallets connect before genesis; wallet i does (i % 4) actions in epoch 0 (~1.5 per wallet).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let t = Instant::now();
    let mut wallets = Vec::with_capacity(n as usize);
    let mut actions = Vec::new();
    for i in 0..n {
        let mut a = [0u8; 20];
        a[..8].copy_from_slice(&rnd().to_be_bytes());
        a[12..].copy_from_slice(&i.to_be_bytes());
        let a = flex_engine::Address(a);
        wallets.push(WalletRow {
            address: a,
            connected_at: g.unix_seconds() - 3600,
        });
        for k in 0..(i % 4) {
            actions.push(ActionRow {
                action_id: format!("{i}-{k}"),
                wallet: a,
                kind: kinds[(rnd() % 3) as usize].to_string(),
                side: "onchain".into(),
                timestamp: g.unix_seconds() + (rnd() % 86_400) as i64,
            });
        }
    }
    let gen = t.elapsed();
    let store = SqliteStore::open(&db)?;
    let t = Instant::now();
    store.import("bench", &wallets, &actions)?;
    let import = t.elapsed();
    let t = Instant::now();
    store.checkpoint()?;
    let checkpoint = t.elapsed();
    let n_actions = actions.len();
    drop(wallets);
    drop(actions);

    let t = Instant::now();
    let w = store.wallets_connected_before(g.unix_seconds() + 86_400)?;
    let t_wallets = t.elapsed();
    let t = Instant::now();
    let a = store.actions_between(g.unix_seconds(), g.unix_seconds() + 86_400)?;
    let t_actions = t.elapsed();
    eprintln!(
        "  store reads: {} wallets {t_wallets:?}, {} actions {t_actions:?}",
        w.len(),
        a.len()
    );
    drop((w, a));
    let t = Instant::now();
    let inputs = compute::epoch_inputs(&store, g, &table, 0)?;
    let read = t.elapsed();
    // A second read, warm (what a restart after a crash during compute pays again).
    let t = Instant::now();
    let again = compute::epoch_inputs(&store, g, &table, 0)?;
    let read_warm = t.elapsed();
    drop(again);
    let active = inputs.active();
    let figures = PoolFigures {
        wallet_index: 1,
        halving: 0,
        snapshot: 1_000_000_000_000_000_000,
        pool: 100_000_000_000_000,
    };
    let t = Instant::now();
    let closed = compute::close_epoch(0, g, &inputs, figures, ConnectionBonus::Active)?;
    let engine_tree = t.elapsed();
    let t = Instant::now();
    store.save_epoch(&closed.record, &closed.rows)?;
    let save = t.elapsed();
    let t = Instant::now();
    let month = compute::close_month(&store, 24312, 0, 1, 0)?;
    let month_compute = t.elapsed();
    let t = Instant::now();
    store.save_month(&month.record, &month.tree)?;
    let month_save = t.elapsed();
    let db_size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(dir.join(format!("epoch-{n}.db-wal")))
            .map(|m| m.len())
            .unwrap_or(0);
    println!(
        "wallets {n}, actions {n_actions}, listed {}, active {active}, claims {}",
        closed.record.wallets, month.record.claims
    );
    println!("generate inputs        {gen:?}");
    println!("import (1 transaction) {import:?}");
    println!("WAL checkpoint         {checkpoint:?}");
    println!("epoch close: read inputs       {read:?} (warm: {read_warm:?})");
    println!("epoch close: engine + scores tree {engine_tree:?}");
    println!("epoch close: store (1 tx)      {save:?}");
    println!("epoch close total (excl. submit) {:?}", read + engine_tree + save);
    println!("month close: totals + claim tree {month_compute:?}");
    println!("month close: store (1 tx)      {month_save:?}");
    println!("database size {} MiB", db_size >> 20);
    Ok(())
}
