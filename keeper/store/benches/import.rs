//! The store's side of a bulk import: N actions (default 1,000,000) already parsed, in batches,
//! into a fresh SQLite database with `Store::import_stream`, then the same again (all known).
//! The file side (JSON lines parsing, and both together) is `flex-service`'s `import` bench.
//!
//! cargo bench -p flex-store --bench import -- [N] [DIR] [--ids=act|padded|int|hash]

use std::time::Instant;

use flex_store::{ActionSide, Address, ImportBatch, SqliteStore, Store, WalletRow};

const BATCH: u64 = 16_384;

/// This thread's time on a CPU so far (Linux; `None` elsewhere): a figure that the other
/// processes of a busy machine disturb less than the wall clock.
fn cpu_time() -> Option<std::time::Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}

fn cpu_note(before: Option<std::time::Duration>) -> String {
    match (before, cpu_time()) {
        (Some(a), Some(b)) => format!(" (this thread on a CPU {:.2} s)", (b - a).as_secs_f64()),
        _ => String::new(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let ids = args
        .iter()
        .find_map(|a| a.strip_prefix("--ids="))
        .unwrap_or("act")
        .to_string();
    let mut pos = args.iter().filter(|a| !a.starts_with("--"));
    let n: u64 = pos.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let dir = std::path::PathBuf::from(pos.next().map_or("target/bench-import", String::as_str));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join(format!("store-{n}.db"));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    let wallets = (n / 4).max(1);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let kinds = ["swap", "stake", "post", "vote"];
    let t = Instant::now();
    let mut batches = Vec::new();
    let mut b = ImportBatch::with_kinds(kinds);
    let mut id = String::new();
    for i in 0..n {
        let w = rnd() % wallets;
        let mut addr = [0u8; 20];
        addr[..8].copy_from_slice(&w.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        addr[12..].copy_from_slice(&w.to_be_bytes());
        let addr = Address(addr);
        if i < wallets {
            b.wallets.push(WalletRow {
                address: addr,
                connected_at: 1_769_644_800 - 3600,
            });
        }
        id.clear();
        {
            use std::fmt::Write;
            let _ = match ids.as_str() {
                "hash" => write!(id, "0x{:016x}{:016x}{:016x}{:016x}", rnd(), rnd(), rnd(), rnd()),
                "int" => write!(id, "{i}"),
                "padded" => write!(id, "act-{i:010}"),
                _ => write!(id, "act-{i}"),
            };
        }
        let side = if rnd() % 4 == 0 {
            ActionSide::Offchain
        } else {
            ActionSide::Onchain
        };
        // About 30 days of activity, in time order.
        let ts = 1_769_644_800 + (i * 30 * 86_400 / n) as i64;
        b.push_action(&id, addr, (rnd() % 4) as u16, side, ts, i + 1)?;
        if b.len() as u64 == BATCH {
            batches.push(std::mem::replace(&mut b, ImportBatch::with_kinds(kinds)));
        }
    }
    if !b.is_empty() {
        batches.push(b);
    }
    eprintln!("generated {n} actions in {:.2?}", t.elapsed());
    let store = SqliteStore::open(&db)?;
    let (t, c) = (Instant::now(), cpu_time());
    let st = store.import_stream("bench", &mut batches.iter().cloned().map(Ok))?;
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(st.actions_new, n);
    println!(
        "insert {n} new actions ({} ids): {secs:.2} s, {:.0} actions/s{}",
        ids,
        n as f64 / secs,
        cpu_note(c)
    );
    let (t, c) = (Instant::now(), cpu_time());
    let st = store.import_stream("bench", &mut batches.iter().cloned().map(Ok))?;
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(st.actions_known, n);
    println!(
        "re-import {n} known actions: {secs:.2} s, {:.0} actions/s{}",
        n as f64 / secs,
        cpu_note(c)
    );
    let (t, c) = (Instant::now(), cpu_time());
    store.checkpoint()?;
    println!("checkpoint: {:.2} s{}", t.elapsed().as_secs_f64(), cpu_note(c));
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(format!("{}-wal", db.display()))
            .map(|m| m.len())
            .unwrap_or(0);
    println!("database + WAL: {:.0} MB", size as f64 / 1e6);
    drop(store);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    Ok(())
}
