//! The EVM log follower's lag behind the head under a steady event load, on a local Hardhat node
//! (`tests/evm`, installed by `scripts/setup.sh`).
//!
//! A load task sends `--tps` `Swapper.swap` transactions a second from Hardhat's 20 accounts for
//! `--seconds`; blocks are mined one per transaction (`--block-ms 0`, automine) or every
//! `--block-ms`. The keeper's follower (`flex_sources::evm`, the code `flex-keeper run`
//! runs) imports into a fresh SQLite store with `--confirmations` and `--poll-ms`. A watcher samples
//! the node's head and the stored cursor every 5 ms and prints, beyond the configured
//! confirmations:
//!
//! - per block, milliseconds from the moment the block became confirmed (the head reached
//!   `block + confirmations`, as seen by the watcher) to the moment its logs were in the store;
//! - per sample, confirmed blocks not yet imported.
//!
//! At the end the load stops, the chain is confirmed and the store must hold one action per
//! transaction sent (the bench fails otherwise).
//!
//!     cargo bench -p flex-e2e --bench evm_lag -- --tps 50 --seconds 30 --block-ms 0

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use flex_e2e::evm_node::{calldata, Arg, Hardhat, Rpc, CHAIN_ID};
use flex_sources::evm::EvmSource;
use flex_sources::Until;
use flex_store::{SqliteStore, Store};
use serde_json::json;

#[derive(Parser, Debug)]
struct Args {
    /// Transactions (one Swapped event each) a second.
    #[arg(long, default_value_t = 50)]
    tps: u32,
    /// Length of the steady load.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// 0: a block per transaction (automine); otherwise a block every this many ms.
    #[arg(long, default_value_t = 0)]
    block_ms: u64,
    #[arg(long, default_value_t = 3)]
    confirmations: u64,
    /// The follower's pause when caught up.
    #[arg(long, default_value_t = 100)]
    poll_ms: u64,
    /// `cargo bench` passes this.
    #[arg(long, hide = true)]
    bench: bool,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = flex_e2e::repo_root().join("target").join("evm-bench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let node = Hardhat::start(&dir).await;
    let rpc = Rpc::new(&node.url);
    let accounts = rpc.accounts().await;
    let swapper = rpc
        .deploy(&accounts[0], &flex_e2e::evm_node::swapper_bytecode())
        .await;
    if args.block_ms == 0 {
        rpc.call("evm_setAutomine", json!([true])).await;
    } else {
        rpc.call("evm_setIntervalMining", json!([args.block_ms])).await;
    }

    std::fs::write(dir.join("weights.toml"), "swap = \"2\"\n")?;
    let toml = format!(
        r#"[chain]
contract = "0x1111111111111111111111111111111111111111111111111111111111111111"
bundle = "unused.contract"
[protocol]
weights = "weights.toml"
[store]
path = "keeper.db"
[[evm]]
name = "bench"
url = "{url}"
chain_id = {CHAIN_ID}
confirmations = {conf}
poll_ms = {poll}
[[evm.map]]
contract = "0x{swapper}"
event = "Swapped(address indexed trader, uint256 amount)"
wallet = "trader"
kind = "swap"
"#,
        url = node.url,
        conf = args.confirmations,
        poll = args.poll_ms,
        swapper = flex_types::hex::encode_digits(swapper),
    );
    let config_path = dir.join("keeper.toml");
    std::fs::write(&config_path, toml)?;
    let config = flex_service::Config::load(&config_path)?;
    let table = config.known_kinds()?;
    let source: EvmSource = flex_sources::evm::sources(&config.evm, &table)?.remove(0);
    let key = source.cursor_key();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.store_path)?);

    // The follower, as `flex-keeper run` runs it.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let follower = {
        let store = store.clone();
        let source = source.clone();
        tokio::spawn(async move {
            let stop = async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            };
            source.follow(store, None, Until::Stopped, stop).await
        })
    };

    // Watcher: head first seen, cursor advances, confirmed-but-not-imported samples.
    let (wstop_tx, wstop_rx) = tokio::sync::watch::channel(false);
    let watcher = {
        let rpc = rpc.clone();
        let store = store.clone();
        let key = key.clone();
        let conf = args.confirmations;
        tokio::spawn(async move {
            let mut seen: BTreeMap<u64, Instant> = BTreeMap::new();
            let mut imported: BTreeMap<u64, Instant> = BTreeMap::new();
            let mut waiting: Vec<u64> = Vec::new();
            let mut cursor: Option<u64> = None;
            let mut head_seen: Option<u64> = None;
            while !*wstop_rx.borrow() {
                if let Ok(v) = rpc.try_call("eth_blockNumber", json!([])).await {
                    let head = flex_e2e::evm_node::quantity(&v);
                    let now = Instant::now();
                    let from = head_seen.map_or(0, |h| h + 1);
                    for b in from..=head {
                        seen.entry(b).or_insert(now);
                    }
                    head_seen = Some(head_seen.map_or(head, |h| h.max(head)));
                    let c = store
                        .meta(&key)
                        .ok()
                        .flatten()
                        .and_then(|v| v.split_once(':').and_then(|(n, _)| n.parse::<u64>().ok()));
                    let now = Instant::now();
                    if let Some(c) = c {
                        let from = cursor.map_or(0, |p| p + 1);
                        for b in from..=c {
                            imported.entry(b).or_insert(now);
                        }
                        cursor = Some(c);
                    }
                    if let Some(c) = cursor {
                        waiting.push(head.saturating_sub(conf).saturating_sub(c));
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            (seen, imported, waiting)
        })
    };

    // Steady load.
    let started = Instant::now();
    let data = calldata("swap(uint256)", &[Arg::Uint(1)]);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.tps.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = args.tps as u64 * args.seconds;
    let mut sent = 0u64;
    let mut late_sends = 0u64;
    let load_start_head = rpc.head().await;
    while sent < total {
        tick.tick().await;
        let t = Instant::now();
        rpc.send(
            &accounts[(sent % accounts.len() as u64) as usize],
            Some(&swapper),
            &data,
        )
        .await;
        if t.elapsed() > Duration::from_secs_f64(1.0 / f64::from(args.tps.max(1))) {
            late_sends += 1;
        }
        sent += 1;
    }
    let load_s = started.elapsed().as_secs_f64();
    let load_end_head = rpc.head().await;
    // Let the watcher see the follower catch up with the last loaded blocks, then confirm them.
    tokio::time::sleep(Duration::from_millis(args.poll_ms * 3 + args.block_ms + 500)).await;
    let _ = wstop_tx.send(true);
    let (seen, imported, waiting) = watcher.await?;
    if args.block_ms == 0 {
        rpc.call("hardhat_mine", json!([format!("0x{:x}", args.confirmations + 1)]))
            .await;
    } else {
        tokio::time::sleep(Duration::from_millis(args.block_ms * (args.confirmations + 2))).await;
    }
    let final_head = rpc.head().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = store
            .meta(&key)?
            .and_then(|v| v.split_once(':').and_then(|(n, _)| n.parse::<u64>().ok()));
        if c >= Some(final_head - args.confirmations) {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the follower did not catch up: cursor {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    let summary = follower.await??;
    let (_, actions) = store.input_counts()?;
    anyhow::ensure!(
        actions == sent,
        "the store holds {actions} actions for {sent} transactions"
    );

    // Lag per block, over the blocks of the load.
    let mut lag_ms: Vec<u64> = Vec::new();
    for b in load_start_head + 1..=load_end_head {
        if let (Some(imp), Some(conf)) = (imported.get(&b), seen.get(&(b + args.confirmations))) {
            lag_ms.push(imp.saturating_duration_since(*conf).as_millis() as u64);
        }
    }
    lag_ms.sort_unstable();
    let mut waiting = waiting;
    waiting.sort_unstable();
    let blocks = load_end_head - load_start_head;
    println!(
        "evm_lag: {sent} tx in {load_s:.1} s ({:.1} tx/s, {late_sends} sends slower than the pace), {blocks} blocks ({}), confirmations {}, poll {} ms",
        sent as f64 / load_s,
        if args.block_ms == 0 { "automine: one per tx".to_string() } else { format!("every {} ms", args.block_ms) },
        args.confirmations,
        args.poll_ms
    );
    println!(
        "evm_lag: beyond confirmations, ms from confirmed to stored, per block ({} blocks): p50 {} p99 {} max {}",
        lag_ms.len(),
        percentile(&lag_ms, 0.50),
        percentile(&lag_ms, 0.99),
        lag_ms.last().copied().unwrap_or(0)
    );
    println!(
        "evm_lag: beyond confirmations, confirmed blocks not yet stored, per 5 ms sample ({} samples): p50 {} p99 {} max {}",
        waiting.len(),
        percentile(&waiting, 0.50),
        percentile(&waiting, 0.99),
        waiting.last().copied().unwrap_or(0)
    );
    println!(
        "evm_lag: follower: {} batches, {} logs, {} actions stored, {} RPC retries",
        summary.batches, summary.events, summary.actions_new, summary.retries
    );
    drop(node);
    Ok(())
}
