//! The EVM log follower (`flex-keeper follow-evm`, the same followers `flex-keeper run` starts)
//! against a real local Hardhat node (`tests/evm`, installed by `scripts/setup.sh`): the `Swapper`
//! contract compiled by solc-js is deployed twice, transactions are sent and blocks mined by hand,
//! and the store's actions are compared with what the node's own receipts say (action id from the
//! transaction hash and the log's index in its receipt, wallet from the mapped topic, kind, block
//! timestamp) up to exactly `head - confirmations`.
//!
//! - confirmed logs only, ranged `eth_getLogs`, unmapped events and contracts ignored; a restart
//!   resumes from the stored cursor without reading a block twice;
//! - a running follower through a reorganisation shallower than the depth (`evm_snapshot` /
//!   `evm_revert`): the orphaned logs never counted, the new canonical ones picked up; then the
//!   node cut off by a TCP proxy: exponential backoff, recovery, nothing lost;
//! - a reorganisation deeper than the depth: the running follower and a restarted one stop with a
//!   clear error and the store does not change.
//! - `flex-keeper run` runs the follower in the background (here beside an unreachable chain).
//!
//! Fails (never skips) when `tests/evm/node_modules` is missing.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flex_e2e::evm_node::{calldata, quantity, Arg, Hardhat, Rpc, CHAIN_ID};
use flex_e2e::proxy::Proxy;
use flex_store::{ActionRow, SqliteStore, Store};
use serde_json::{json, Value};

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");
const CONFIRMATIONS: u64 = 3;

const SWAPPED: &str = "Swapped(address,uint256)";
const STAKED: &str = "Staked(address,address,uint256)";

/// One stored (or expected) action: wallet, kind, side, timestamp, source.
type Row = ([u8; 20], String, String, i64, String);

fn out_dir(name: &str) -> PathBuf {
    let dir = flex_e2e::repo_root().join("target").join("evm-e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test output dir");
    dir
}

/// The node, the two deployed contracts and the keeper's config.
struct Setup {
    node: Hardhat,
    rpc: Rpc,
    dir: PathBuf,
    accounts: Vec<[u8; 20]>,
    /// Mapped: `Swapped.trader` -> swap, `Staked.user` -> stake.
    swapper: [u8; 20],
    /// Mapped: `Staked.pool` (topic 2) -> stake only; its `Swapped` is not an action.
    other: [u8; 20],
    config: PathBuf,
    /// Every transaction sent (the oracle reads their receipts).
    sent: Vec<String>,
}

fn hex20(a: &[u8; 20]) -> String {
    flex_types::hex::encode(a)
}

impl Setup {
    async fn new(name: &str) -> Setup {
        let dir = out_dir(name);
        let node = Hardhat::start(&dir).await;
        let rpc = Rpc::new(&node.url);
        let accounts = rpc.accounts().await;
        assert!(accounts.len() >= 16, "hardhat has {} accounts", accounts.len());
        let code = flex_e2e::evm_node::swapper_bytecode();
        let swapper = rpc.deploy(&accounts[0], &code).await;
        let other = rpc.deploy(&accounts[0], &code).await;
        std::fs::write(dir.join("weights.toml"), "swap = \"2\"\nstake = \"3\"\n").expect("weights");
        let config = dir.join("keeper.toml");
        let toml = format!(
            r#"[chain]
contract = "0x1111111111111111111111111111111111111111111111111111111111111111"
bundle = "unused.contract"
[protocol]
weights = "weights.toml"
[store]
path = "keeper.db"

[[evm]]
name = "hh"
url = "{url}"
chain_id = {CHAIN_ID}
confirmations = {CONFIRMATIONS}
poll_ms = 100
batch_blocks = 4
backoff_max_ms = 1000

[[evm.map]]
contract = "{swapper}"
event = "Swapped(address indexed trader, uint256 amount)"
wallet = "trader"
kind = "swap"

[[evm.map]]
contract = "{swapper}"
event = "Staked(address indexed user, address indexed pool, uint256 amount)"
wallet = "user"
kind = "stake"

[[evm.map]]
contract = "{other}"
event = "Staked(address,address,uint256)"
wallet = 2
kind = "stake"
"#,
            url = node.url,
            swapper = hex20(&swapper),
            other = hex20(&other),
        );
        std::fs::write(&config, toml).expect("keeper.toml");
        Setup {
            node,
            rpc,
            dir,
            accounts,
            swapper,
            other,
            config,
            sent: Vec::new(),
        }
    }

    async fn swap(&mut self, from: usize, amount: u128) {
        let data = calldata("swap(uint256)", &[Arg::Uint(amount)]);
        let tx = self
            .rpc
            .send(&self.accounts[from], Some(&self.swapper), &data)
            .await;
        self.sent.push(tx);
    }

    async fn call(&mut self, from: usize, contract: [u8; 20], data: String) {
        let tx = self.rpc.send(&self.accounts[from], Some(&contract), &data).await;
        self.sent.push(tx);
    }

    fn db(&self) -> PathBuf {
        self.dir.join("keeper.db")
    }

    /// What the store must hold once blocks `..=upto` are read, from the node's receipts.
    async fn expected(&self, upto: u64) -> BTreeMap<String, Row> {
        let topic = |sig: &str| flex_types::hex::encode(flex_evm::keccak256(sig.as_bytes()));
        let maps = [
            (hex20(&self.swapper), topic(SWAPPED), 1usize, "swap"),
            (hex20(&self.swapper), topic(STAKED), 1, "stake"),
            (hex20(&self.other), topic(STAKED), 2, "stake"),
        ];
        let mut out = BTreeMap::new();
        for tx in &self.sent {
            let r = self.rpc.receipt(tx).await;
            if r.is_null() {
                continue; // not on the canonical chain
            }
            let block = quantity(&r["blockNumber"]);
            if block > upto {
                continue;
            }
            let ts = quantity(&self.rpc.block(block).await["timestamp"]) as i64;
            for (pos, log) in r["logs"].as_array().expect("logs").iter().enumerate() {
                let address = log["address"].as_str().expect("address").to_lowercase();
                let topics: Vec<String> = log["topics"]
                    .as_array()
                    .expect("topics")
                    .iter()
                    .map(|t| t.as_str().expect("topic").to_lowercase())
                    .collect();
                for (c, t0, w, kind) in &maps {
                    if *c == address && topics.first() == Some(t0) {
                        let wallet = flex_types::hex::decode_prefix_optional::<20>(&topics[*w][26..])
                            .expect("topic hex");
                        let id = format!(
                            "evm:{CHAIN_ID}:{}:{pos}",
                            r["transactionHash"].as_str().expect("hash")
                        );
                        out.insert(
                            id,
                            (
                                wallet,
                                kind.to_string(),
                                "onchain".to_string(),
                                ts,
                                "evm:hh".to_string(),
                            ),
                        );
                    }
                }
            }
        }
        out
    }

    async fn safe_head(&self) -> u64 {
        self.rpc.head().await - CONFIRMATIONS
    }

    async fn block_hash(&self, n: u64) -> String {
        self.rpc.block(n).await["hash"]
            .as_str()
            .expect("hash")
            .to_string()
    }
}

/// The store as the keeper reads it (through `flex_store::Store`, whatever its schema): the
/// multiset of (wallet, kind, timestamp) of its actions.
fn stored(db: &Path) -> Vec<([u8; 20], String, i64)> {
    let store = SqliteStore::open(db).expect("open the store");
    let mut rows: Vec<([u8; 20], String, i64)> = store
        .actions_between(i64::MIN, i64::MAX)
        .expect("actions")
        .into_iter()
        .map(|(wallet, kind, at)| (wallet.0, kind, at))
        .collect();
    rows.sort();
    rows
}

/// The store holds exactly `want`, ids included: same multiset of (wallet, kind, timestamp), and
/// importing `want` again under the follower's source finds every id known with the same content.
fn assert_store_is(db: &Path, want: &BTreeMap<String, Row>, what: &str) {
    let mut expected: Vec<([u8; 20], String, i64)> = want.values().map(|r| (r.0, r.1.clone(), r.3)).collect();
    expected.sort();
    assert_eq!(stored(db), expected, "{what}: store vs the node's receipts");
    let store = SqliteStore::open(db).expect("open the store");
    let rows: Vec<ActionRow> = want
        .iter()
        .map(|(id, r)| ActionRow {
            action_id: id.clone(),
            wallet: flex_types::Address(r.0),
            kind: r.1.clone(),
            side: r.2.clone(),
            timestamp: r.3,
        })
        .collect();
    let stats = store
        .import("evm:hh", &[], &rows)
        .unwrap_or_else(|e| panic!("{what}: an action id stored with other content: {e}"));
    assert_eq!(
        (stats.actions_new, stats.actions_known),
        (0, want.len() as u64),
        "{what}: action ids differ from the receipts'"
    );
}

/// The stored cursor `(block, hash)`, if any.
fn stored_cursor(s: &Setup) -> Option<(u64, String)> {
    if !s.db().exists() {
        return None;
    }
    let config = flex_service::Config::load(&s.config).expect("keeper.toml");
    let table = config.known_kinds().expect("weights");
    let sources = flex_sources::evm::sources(&config.evm, &table).expect("[[evm]]");
    let store = SqliteStore::open(s.db()).expect("open the store");
    let v = store.meta(&sources[0].cursor_key()).expect("meta")?;
    let (n, h) = v.split_once(':').expect("cursor n:hash");
    Some((n.parse().expect("cursor block"), h.to_string()))
}

/// (action id, kind) of a wallet's expected actions.
fn wallets_of(rows: &BTreeMap<String, Row>, wallet: &[u8; 20]) -> Vec<(String, String)> {
    rows.iter()
        .filter(|(_, r)| r.0 == *wallet)
        .map(|(id, r)| (id.clone(), r.1.clone()))
        .collect()
}

/// A wallet's stored actions.
fn stored_of(db: &Path, wallet: &[u8; 20]) -> usize {
    stored(db).iter().filter(|r| r.0 == *wallet).count()
}

fn follow_once(s: &Setup, env: &[(&str, &str)]) -> (Output, Vec<Value>) {
    let out = Command::new(KEEPER)
        .args(["follow-evm", "--once", "--config"])
        .arg(&s.config)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .output()
        .expect("run flex-keeper follow-evm");
    let summaries = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON summary line"))
        .collect();
    (out, summaries)
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "follow-evm failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn follows_confirmed_logs_and_resumes_without_reading_twice() {
    let mut s = Setup::new("resume").await;
    let a = s.accounts.clone();
    // Block: three swaps.
    for i in 1..=3 {
        s.swap(i, 100 + i as u128).await;
    }
    s.rpc.mine().await;
    // Block: Noise, Swapped, Swapped in one transaction (receipt logs 1 and 2); a stake; noise only.
    let twice = calldata("swapTwice(uint256,uint256)", &[Arg::Uint(7), Arg::Uint(8)]);
    s.call(4, s.swapper, twice).await;
    let stake = calldata("stake(address,uint256)", &[Arg::Address(a[6]), Arg::Uint(9)]);
    s.call(5, s.swapper, stake).await;
    s.call(1, s.swapper, calldata("noise(uint256)", &[Arg::Uint(1)]))
        .await;
    s.rpc.mine().await;
    // Block, other contract: its Swapped is not mapped; its Staked counts for the pool (topic 2).
    let other = s.other;
    s.call(7, other, calldata("swap(uint256)", &[Arg::Uint(5)])).await;
    let stake = calldata("stake(address,uint256)", &[Arg::Address(a[8]), Arg::Uint(9)]);
    s.call(7, other, stake).await;
    s.rpc.mine().await;
    // Eight more blocks of one swap each (more than two 4-block ranges).
    for i in 0..8 {
        s.swap(9 + i % 3, 1).await;
        s.rpc.mine().await;
    }

    let safe = s.safe_head().await;
    let (out, sum) = follow_once(&s, &[]);
    assert_ok(&out);
    assert_eq!(sum.len(), 1, "{sum:?}");
    let sum = &sum[0];
    assert_eq!(sum["name"], "hh");
    assert!(sum["resumed_from"].is_null(), "{sum}");
    assert_eq!(
        sum["cursor"]["block"],
        json!(safe),
        "reads exactly up to head - confirmations: {sum}"
    );
    assert_eq!(sum["cursor"]["hash"], json!(s.block_hash(safe).await));
    assert!(
        sum["batches"].as_u64().unwrap() >= safe / 4,
        "ranges of at most 4 blocks: {sum}"
    );

    let want = s.expected(safe).await;
    assert_store_is(&s.db(), &want, "first run");
    let got = want.clone();
    assert_eq!(sum["actions_new"], json!(want.len()));
    // By hand: the three unconfirmed blocks are not read; the rest as designed.
    let all = s.expected(safe + CONFIRMATIONS).await;
    assert_eq!(
        all.len(),
        want.len() + 3,
        "the last three blocks hold one swap each"
    );
    let twice = wallets_of(&got, &a[4]);
    assert_eq!(twice.len(), 2, "{twice:?}");
    assert!(
        twice[0].0.ends_with(":1") || twice[1].0.ends_with(":1"),
        "{twice:?}"
    );
    assert!(twice.iter().any(|t| t.0.ends_with(":2")), "{twice:?}");
    assert_eq!(wallets_of(&got, &a[5]).len(), 1);
    assert_eq!(wallets_of(&got, &a[5])[0].1, "stake");
    assert_eq!(
        wallets_of(&got, &a[6]).len(),
        0,
        "the swapper's Staked maps the user"
    );
    assert_eq!(
        wallets_of(&got, &a[7]).len(),
        0,
        "the other contract's Swapped is not mapped"
    );
    assert_eq!(
        wallets_of(&got, &a[8]).len(),
        1,
        "the other contract's Staked maps the pool"
    );
    assert_eq!(wallets_of(&got, &a[1]).len(), 1, "Noise is not an action");
    assert_eq!(stored_cursor(&s), Some((safe, s.block_hash(safe).await)));

    // Restart after more blocks: resumes from the cursor, reads no block twice.
    s.swap(12, 3).await;
    s.rpc.mine().await;
    s.swap(12, 4).await;
    s.rpc.mine().await;
    s.rpc.mine_n(3).await;
    let safe2 = s.safe_head().await;
    let (out, sum2) = follow_once(&s, &[]);
    assert_ok(&out);
    let sum2 = &sum2[0];
    assert_eq!(sum2["resumed_from"], sum["cursor"], "{sum2}");
    assert_eq!(sum2["cursor"]["block"], json!(safe2));
    assert_eq!(sum2["actions_known"], json!(0), "a block read twice: {sum2}");
    let want2 = s.expected(safe2).await;
    assert_eq!(sum2["actions_new"], json!(want2.len() - want.len()));
    assert_store_is(&s.db(), &want2, "second run");
    assert_eq!(wallets_of(&want2, &a[12]).len(), 2);

    // Nothing new: nothing read.
    let (out, sum3) = follow_once(&s, &[]);
    assert_ok(&out);
    assert_eq!(sum3[0]["batches"], json!(0), "{}", sum3[0]);
    assert_store_is(&s.db(), &want2, "third run");
}

/// `flex-keeper follow-evm` following the head in the background; stopped by SIGINT.
struct Running {
    child: Child,
    stderr: PathBuf,
}

impl Running {
    fn start(s: &Setup, name: &str, env: &[(&str, &str)]) -> Running {
        let stderr = s.dir.join(format!("{name}.log"));
        let child = Command::new(KEEPER)
            .args(["follow-evm", "--config"])
            .arg(&s.config)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("log file"))
            .spawn()
            .expect("run flex-keeper follow-evm");
        Running { child, stderr }
    }

    /// Its log, without terminal colours.
    fn log(&self) -> String {
        let raw = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // CSI: ESC [ ... final byte in @..~
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) && d != '[' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// SIGINT, then the exit status and the summary lines.
    fn stop(self) -> (std::process::ExitStatus, String, String) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        self.wait()
    }

    fn wait(mut self) -> (std::process::ExitStatus, String, String) {
        let started = Instant::now();
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("follow-evm did not stop:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stdout = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            pipe.read_to_string(&mut stdout).expect("follower output");
        }
        (status, stdout, self.log())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the stored cursor is `block` (the follower caught up with `head - confirmations`).
async fn wait_for_cursor(s: &Setup, f: &Running, block: u64) {
    let started = Instant::now();
    loop {
        if stored_cursor(s).map(|c| c.0) == Some(block) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the follower's cursor is {:?}, not {block}, after 60 s:\n{}",
            stored_cursor(s),
            f.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_running_follower_survives_a_shallow_reorg_and_an_outage() {
    let mut s = Setup::new("reorg").await;
    let a = s.accounts.clone();
    let target: SocketAddr = format!("127.0.0.1:{}", s.node.port).parse().expect("addr");
    let mut proxy = Proxy::start(target).await;
    let via_proxy = format!("http://{}", proxy.addr);
    for i in 1..=3 {
        s.swap(i, 1).await;
        s.rpc.mine().await;
    }
    s.rpc.mine_n(3).await;
    // The URL comes from the environment override, through the proxy.
    let f = Running::start(&s, "follower", &[("FLEX_EVM_HH_URL", &via_proxy)]);
    wait_for_cursor(&s, &f, s.safe_head().await).await;
    assert_store_is(&s.db(), &s.expected(s.safe_head().await).await, "caught up");

    // A branch of two blocks (shallower than three confirmations) that will be orphaned.
    let head = s.rpc.head().await;
    let snap = s.rpc.call("evm_snapshot", json!([])).await;
    s.swap(9, 1).await;
    s.rpc.mine().await;
    s.swap(9, 2).await;
    s.rpc.mine().await;
    let orphans: Vec<String> = s.sent[s.sent.len() - 2..].to_vec();
    for tx in &orphans {
        assert!(!s.rpc.receipt(tx).await.is_null(), "the orphan-to-be is mined");
    }
    wait_for_cursor(&s, &f, head + 2 - CONFIRMATIONS).await;
    tokio::time::sleep(Duration::from_millis(800)).await; // several polls at the same head
    assert_eq!(stored_cursor(&s).map(|c| c.0), Some(head + 2 - CONFIRMATIONS));
    assert_eq!(stored_of(&s.db(), &a[9]), 0, "unconfirmed logs imported");

    // Reorganise: back to `head`, another branch with other logs, then confirmed.
    assert_eq!(s.rpc.call("evm_revert", json!([snap])).await, json!(true));
    assert_eq!(s.rpc.head().await, head);
    for tx in &orphans {
        assert!(
            s.rpc.receipt(tx).await.is_null(),
            "the orphan is gone after the revert"
        );
    }
    s.swap(10, 3).await;
    s.rpc.mine().await;
    s.swap(10, 4).await;
    s.swap(11, 4).await;
    s.rpc.mine().await;
    s.rpc.mine_n(CONFIRMATIONS).await;
    wait_for_cursor(&s, &f, s.safe_head().await).await;
    assert_store_is(&s.db(), &s.expected(s.safe_head().await).await, "after the reorg");
    assert_eq!(stored_of(&s.db(), &a[9]), 0, "orphaned logs counted");
    assert_eq!(stored_of(&s.db(), &a[10]), 2, "new canonical logs missed");
    assert_eq!(stored_of(&s.db(), &a[11]), 1);

    // The node becomes unreachable while the chain goes on; then it is back.
    proxy.down().await;
    for i in 0..4 {
        s.swap(13, i).await;
        s.rpc.mine().await;
    }
    s.rpc.mine_n(CONFIRMATIONS).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(stored_of(&s.db(), &a[13]), 0, "read through a cut proxy?");
    proxy.up().await;
    wait_for_cursor(&s, &f, s.safe_head().await).await;
    assert_store_is(
        &s.db(),
        &s.expected(s.safe_head().await).await,
        "after the outage",
    );
    assert_eq!(stored_of(&s.db(), &a[13]), 4);

    let (status, stdout, log) = f.stop();
    assert!(status.success(), "{status}\n{log}");
    let sum: Value = serde_json::from_str(stdout.trim()).expect("summary");
    assert!(sum["retries"].as_u64().unwrap() >= 3, "{sum}\n{log}");
    // Exponential backoff: 250 ms, 500 ms, then 1000 ms (backoff_max_ms).
    let waits: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("EVM node unavailable; backing off"))
        .filter_map(|l| l.split("retry_in_ms=").nth(1))
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(waits.len() >= 3, "{waits:?}\n{log}");
    assert_eq!(&waits[..3], &[250, 500, 1000], "{log}");
    assert!(waits.iter().all(|w| *w <= 1000), "{waits:?}");
    drop(proxy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reorg_deeper_than_the_confirmations_stops_the_follower_and_changes_nothing() {
    let mut s = Setup::new("deep").await;
    let a = s.accounts.clone();
    s.swap(1, 1).await;
    s.rpc.mine().await;
    s.rpc.mine_n(3).await;
    let (out, _) = follow_once(&s, &[]);
    assert_ok(&out);

    // Blocks head+1..=head+6, read up to head+3 by a running follower.
    let head = s.rpc.head().await;
    let snap = s.rpc.call("evm_snapshot", json!([])).await;
    s.swap(2, 1).await;
    s.rpc.mine().await;
    s.rpc.mine_n(5).await;
    let f = Running::start(&s, "follower", &[]);
    wait_for_cursor(&s, &f, head + 3).await;
    let before = stored(&s.db());
    let cursor = stored_cursor(&s);
    assert_eq!(stored_of(&s.db(), &a[2]), 1);
    let old_hash = s.block_hash(head + 3).await;

    // Replace six blocks (and more): block head+3, already read, changes.
    assert_eq!(s.rpc.call("evm_revert", json!([snap])).await, json!(true));
    s.swap(3, 1).await;
    s.rpc.mine().await;
    s.rpc.mine_n(7).await;
    assert_ne!(
        s.block_hash(head + 3).await,
        old_hash,
        "the reorg must change block head+3"
    );
    let (status, _, log) = f.wait();
    assert!(!status.success(), "the running follower must stop:\n{log}");
    let deep = format!(
        "reorganisation deeper than the confirmation depth: block {}",
        head + 3
    );
    assert!(log.contains(&deep), "{log}");

    // A restarted follower finds the stored cursor's block replaced and stops too.
    let (out, sum) = follow_once(&s, &[]);
    assert!(!out.status.success());
    assert!(sum.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&deep) && err.contains("evm hh"), "{err}");
    assert!(
        err.contains(&old_hash),
        "the message names the block as read: {err}"
    );

    assert_eq!(stored(&s.db()), before, "the store changed");
    assert_eq!(stored_cursor(&s), cursor);
    assert_eq!(stored_of(&s.db(), &a[3]), 0);
}

/// The reward pool's bundle, where `flex_e2e::bundle` finds it (`scripts/build-contracts.sh`).
fn pool_bundle_path() -> PathBuf {
    let path = flex_e2e::bundle_path("flex_reward_pool");
    assert!(
        path.exists(),
        "{} is missing: build the contracts first (scripts/build-contracts.sh)",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flex_keeper_run_follows_evm_logs_in_the_background() {
    let mut s = Setup::new("run").await;
    for i in 1..=4 {
        s.swap(i, 1).await;
        s.rpc.mine().await;
    }
    s.rpc.mine_n(CONFIRMATIONS).await;
    // The keeper's chain is unreachable (it backs off); the EVM follower runs beside it all the same.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let text = std::fs::read_to_string(&s.config).expect("keeper.toml");
    let text = text
        .replace(
            "[chain]\n",
            &format!("[chain]\nurl = \"ws://127.0.0.1:{closed}\"\n"),
        )
        .replace(
            "bundle = \"unused.contract\"",
            &format!("bundle = \"{}\"", pool_bundle_path().display()),
        );
    std::fs::write(&s.config, text).expect("keeper.toml");
    let log = s.dir.join("run.log");
    let mut child = Command::new(KEEPER)
        .args(["run", "--config"])
        .arg(&s.config)
        .env("FLEX_KEEPER_KEY", "//Alice")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("run flex-keeper run");
    let safe = s.safe_head().await;
    let started = Instant::now();
    while stored_cursor(&s).map(|c| c.0) != Some(safe) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "flex-keeper run exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "flex-keeper run did not follow the EVM node in 60 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let want = s.expected(safe).await;
    assert_eq!(want.len(), 4);
    assert_store_is(&s.db(), &want, "flex-keeper run");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait for flex-keeper run");
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{status}\n{log}");
    assert!(log.contains("EVM follower stopped"), "{log}");
}
