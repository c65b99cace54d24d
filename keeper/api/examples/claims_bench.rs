//! Fixture for the proof API benchmark: a store with one month of N claims (default 1,000,000),
//! served on loopback without a chain (claim status "unknown"; no chain I/O on the request path).
//!
//! cargo run --release -p flex-api --example claims_bench -- [N] [DIR] [LISTEN]
//! then: wrk -t2 -c64 -d20s --latency -s keeper/api/bench/claims.lua http://127.0.0.1:8099
//!
//! Wallet i (1..=N) is the address 0x000…0 followed by i as 8 big-endian bytes; month 24312.

use std::sync::Arc;
use std::time::Instant;

use flex_merkle::{ClaimLeaf, StandardMerkleTree};
use flex_sources::Status;
use flex_store::{ClaimRow, MonthRecord, Phase, SqliteStore, Store, StoredTree};

fn wallet(i: u64) -> flex_types::Address {
    let mut a = [0u8; 20];
    a[12..].copy_from_slice(&i.to_be_bytes());
    flex_types::Address(a)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = std::path::PathBuf::from(args.next().unwrap_or_else(|| "target/bench-api".into()));
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8099".into());
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(format!("claims-{n}.db"));
    let store = SqliteStore::open(&db)?;
    if store.month(24312)?.is_none() {
        let t = Instant::now();
        let leaves: Vec<ClaimLeaf> = (1..=n)
            .map(|i| ClaimLeaf {
                month_index: 24312,
                wallet: wallet(i),
                amount: u128::from(i) * 1_000,
            })
            .collect();
        let tree = StandardMerkleTree::of(leaves)?;
        let built = t.elapsed();
        let rows = tree
            .values()
            .iter()
            .enumerate()
            .map(|(v, l)| {
                Ok(ClaimRow {
                    wallet: l.wallet,
                    amount: l.amount,
                    tree_index: tree.tree_index(v)? as u32,
                })
            })
            .collect::<Result<Vec<_>, flex_merkle::MerkleError>>()?;
        let total = rows.iter().map(|r| r.amount).sum();
        let record = MonthRecord {
            month_index: 24312,
            phase: Phase::Finalized,
            root: Vec::new(),
            root_hash: [0; 32],
            claims_root: tree.root(),
            total,
            claim_price: 0,
            first_epoch: 0,
            end_epoch: 31,
            claims: n,
            voted: true,
            note: String::new(),
            updated_at: 0,
        };
        let t2 = Instant::now();
        store.save_month(
            &record,
            &StoredTree {
                root: tree.root(),
                nodes: tree.tree().to_vec(),
                leaves: rows,
            },
        )?;
        eprintln!("fixture: {n} claims, tree {:?}, store {:?}", built, t2.elapsed());
    }
    let api = flex_api::Api::new(
        Arc::new(store),
        Arc::new(Status::default()),
        flex_types::AccountId([0x11; 32]),
        None,
    );
    // Load the month's tree before serving (the first request would otherwise pay for it).
    let t = Instant::now();
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("serving {listen} (with the API limits); warming the month cache");
    let warm = tokio::spawn(async move { api.serve(listener, std::future::pending()).await });
    let _ = tokio::net::TcpStream::connect(&listen).await;
    eprintln!("ready after {:?}", t.elapsed());
    warm.await??;
    Ok(())
}
