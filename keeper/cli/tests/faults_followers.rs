//! Chain-follower faults, end to end (issue 14 item 9): four `flex-keeper run` processes on one
//! chopsticks devnet (keepers Alice, Bob, Charlie, Dave, quorum 3), each with the sample pool file
//! and an `[[evm]]` source following a local Hardhat node (`tests/evm`) whose blocks are mined by
//! hand at the scenario's times (the node's genesis is dated the day before the pool's).
//!
//! - an EVM RPC cut across an epoch's end (a TCP proxy in front of the node, cut for Alice and
//!   Bob): while their follower's cursor is before the end they never vote, `/health` says which
//!   source holds which epoch and why, the metrics say it; the others vote (no quorum without the
//!   cut keepers); once the RPC is back every keeper ends with the chain's commitment, which holds
//!   the EVM action mined just before the end while the RPC was cut;
//! - a follower stopped (a reorganisation deeper than Alice's confirmation depth, after her cursor
//!   passed the epoch's end): `/health` says `stopped` with the reason, the metrics say it, every
//!   epoch not closed is held and never voted by Alice while the others finalise them; her file
//!   source, her API and her chain connection go on; only a rebuilt database lets her follow again.
//!
//! The time from each injection to the alert and to agreement, and how long an epoch close waits
//! for a lagging follower, are printed as `figure:` lines (`--nocapture`); no timed assertion.
//! Fails (never skips) when the devnet, the contracts or `tests/evm/node_modules` are missing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flex_e2e::deploy::{deploy, DeployOptions, Deployment};
use flex_e2e::evm_node::{calldata, Arg, Hardhat, Rpc, CHAIN_ID};
use flex_e2e::proxy::Proxy;
use flex_e2e::scenario::{Contract as Deployed, CLAIM_PRICE, DAY, GENESIS};
use flex_e2e::{account, bundle_path, dev, free_port, http_get, Devnet};
use flex_evm::EvmKey;
use flex_pool::{EpochCommitment, EpochInfo};
use flex_store::{Phase, Store};
use serde_json::{json, Value};

/// `epoch_votes`: each commitment hash with the commitment and its voters.
type EpochVotes = Vec<([u8; 32], (EpochCommitment, Vec<flex_e2e::AccountId32>))>;

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");
/// The `[[evm]]` source's name in `/health` and the metrics.
const SOURCE: &str = "evm:hh";
/// The end of epoch 0.
const END0: i64 = GENESIS + DAY;
/// The keepers' grace period after an epoch's end.
const GRACE: i64 = 60;

/// The devnet with the pool, the Hardhat node with the `Swapper` contract, the sample inputs.
struct World {
    devnet: Devnet,
    chain: flex_chain::Chain,
    pool: Deployed,
    dir: PathBuf,
    wallets: Vec<EvmKey>,
    node: Hardhat,
    rpc: Rpc,
    /// A Hardhat account that sends the `stake` transactions.
    sender: [u8; 20],
    swapper: [u8; 20],
    /// The time of the last block mined by the test.
    last_time: i64,
}

impl World {
    async fn new(name: &str) -> World {
        let devnet = Devnet::start();
        let chain = devnet.connect().await;
        let Deployment { pool, .. } = deploy(&chain, &DeployOptions::default()).await.expect("deploy");
        let dir = flex_e2e::repo_root()
            .join("target")
            .join("keeper-e2e")
            .join(format!("faults-{name}-{}", devnet.port));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let wallets = flex_e2e::scenario::evm_wallets().expect("the sample wallets");
        flex_e2e::scenario::write_sample_pool(&dir, &wallets).expect("write the sample pool");
        // The EVM chain begins the day before the pool's genesis.
        let node = Hardhat::start_at(&dir.join("hardhat"), Some(GENESIS - DAY)).await;
        let rpc = Rpc::new(&node.url);
        let sender = rpc.accounts().await[1];
        let swapper = rpc.deploy(&sender, &flex_e2e::evm_node::swapper_bytecode()).await;
        let last_time = flex_e2e::evm_node::quantity(&rpc.block(rpc.head().await).await["timestamp"]) as i64;
        assert!(
            last_time < GENESIS,
            "the EVM chain starts before genesis: {last_time}"
        );
        World {
            devnet,
            chain,
            pool,
            dir,
            wallets,
            node,
            rpc,
            sender,
            swapper,
            last_time,
        }
    }

    /// Mines a block (with the pending transactions) at `t`.
    async fn mine_at(&mut self, t: i64) {
        assert!(
            t > self.last_time,
            "blocks go forward in time: {t} <= {}",
            self.last_time
        );
        self.rpc.mine_at(t).await;
        self.last_time = t;
    }

    /// A `Staked` log crediting sample wallet `i` with a stake, mined at `t`; its action id.
    async fn stake(&mut self, i: usize, t: i64) -> String {
        let data = calldata(
            "stake(address,uint256)",
            &[Arg::Address(self.wallets[i].address().0), Arg::Uint(1)],
        );
        let tx = self.rpc.send(&self.sender, Some(&self.swapper), &data).await;
        self.mine_at(t).await;
        let r = self.rpc.receipt(&tx).await;
        assert_eq!(r["status"], json!("0x1"), "stake failed: {r}");
        // The Staked log is the receipt's only log.
        format!("evm:{CHAIN_ID}:{tx}:0")
    }

    /// Mines `n` empty blocks one second apart, after `t`.
    async fn blocks_after(&mut self, t: i64, n: u64) {
        for i in 0..n as i64 {
            self.mine_at(t + 1 + i).await;
        }
    }

    async fn travel(&self, unix_s: i64) {
        flex_e2e::scenario::travel(&self.chain, unix_s)
            .await
            .expect("time travel");
    }

    async fn next_epoch(&self) -> u64 {
        self.pool.query::<u64>("next_epoch", ()).await
    }

    async fn vote_of(&self, e: u64, who: &str) -> Option<[u8; 32]> {
        self.pool
            .query::<Option<[u8; 32]>>("epoch_vote_of", (e, &account(&dev(who))))
            .await
    }
}

/// A `flex-keeper run` process.
struct KeeperProc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
    cfg: PathBuf,
    port: u16,
    db: PathBuf,
}

impl KeeperProc {
    /// Starts keeper `name` with the sample pool, `{name}.jsonl` and the `[[evm]]` source read at
    /// `evm_url` with `confirmations`: the `Staked` logs of the `Swapper` contract credit the
    /// `pool` address with a stake.
    fn start(w: &World, name: &str, evm_url: &str, confirmations: u64) -> KeeperProc {
        let port = free_port();
        let cfg = w.dir.join(format!("{name}.toml"));
        flex_types::secret::write_secret_file(
            &w.dir.join(format!("{name}.key")),
            format!("//{}{}", name[..1].to_uppercase(), &name[1..]),
        )
        .unwrap();
        let jsonl = w.dir.join(format!("{name}.jsonl"));
        if !jsonl.exists() {
            std::fs::write(&jsonl, "").unwrap();
        }
        let mut k = KeeperProc {
            name: name.into(),
            child: None,
            log: w.dir.join(format!("{name}.log")),
            cfg,
            port,
            db: w.dir.join(format!("{name}.db")),
        };
        k.configure(w, evm_url, confirmations, 0);
        k.spawn();
        k
    }

    /// Writes the keeper's config (see [`KeeperProc::start`]); the follower starts at `start_block`.
    fn configure(&self, w: &World, evm_url: &str, confirmations: u64, start_block: u64) {
        let (name, port) = (&self.name, self.port);
        std::fs::write(
            &self.cfg,
            format!(
                "[chain]\nurl = \"{url}\"\ncontract = \"{contract}\"\nbundle = \"{bundle}\"\nkey_file = \"{name}.key\"\n\
                 [protocol]\nweights = \"weights.toml\"\ngenesis = {GENESIS}\ngrace_seconds = {GRACE}\nclaim_price = \"{CLAIM_PRICE}\"\n\
                 [input]\npool = \"pool.json\"\nactions = \"{name}.jsonl\"\n[store]\npath = \"{name}.db\"\n\
                 [api]\nlisten = \"127.0.0.1:{port}\"\n[service]\npoll_ms = 200\nbackoff_max_ms = 1000\n\
                 [log]\nformat = \"json\"\nlevel = \"info\"\n\n\
                 [[evm]]\nname = \"hh\"\nurl = \"{evm_url}\"\nchain_id = {CHAIN_ID}\nconfirmations = {confirmations}\n\
                 start_block = {start_block}\npoll_ms = 100\nbatch_blocks = 50\nbackoff_max_ms = 1000\n\n\
                 [[evm.map]]\ncontract = \"{swapper}\"\n\
                 event = \"Staked(address indexed user, address indexed pool, uint256 amount)\"\n\
                 wallet = \"pool\"\nkind = \"stake\"\n",
                url = w.devnet.url,
                contract = flex_types::hex::encode(w.pool.address.0),
                bundle = bundle_path("flex_reward_pool").display(),
                swapper = flex_types::hex::encode(w.swapper),
            ),
        )
        .unwrap();
    }

    /// SIGKILL.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(KEEPER)
            .args(["run", "--config"])
            .arg(&self.cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .env_remove("FLEX_KEEPER_PAUSE_AT")
            .env_remove("FLEX_KEEPER_KEY")
            .env_remove("FLEX_EVM_HH_URL")
            .env("RUST_LOG", "info")
            .spawn()
            .expect("spawn flex-keeper run");
        self.child = Some(child);
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn store(&self) -> flex_store::SqliteStore {
        flex_store::SqliteStore::open(&self.db).expect("open keeper db")
    }

    fn phase(&self, e: u64) -> Option<(Phase, bool)> {
        self.store().epoch(e).ok().flatten().map(|r| (r.phase, r.voted))
    }

    /// `/health`, when it answers 200.
    fn health(&self) -> Option<Value> {
        match http_get(self.port, "/health") {
            Some((200, v)) => Some(v),
            _ => None,
        }
    }

    /// The EVM source's entry in `/health`.
    fn evm(&self) -> Option<Value> {
        let v = self.health()?;
        v["sources"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == SOURCE)
            .cloned()
    }

    /// A metric's value, `name` with its labels as printed.
    fn metric_f64(&self, name: &str) -> Option<f64> {
        let (_, body) = http_get(self.port, "/metrics")?;
        body.as_str()?
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
    }

    /// A counter or a whole-valued gauge.
    fn metric(&self, name: &str) -> Option<i64> {
        self.metric_f64(name).map(|v| v as i64)
    }
}

impl Drop for KeeperProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn up_metric() -> String {
    format!("flex_source_up{{kind=\"evm\",source=\"{SOURCE}\"}}")
}

fn failures_metric() -> String {
    format!("flex_source_failures_total{{kind=\"evm\",source=\"{SOURCE}\"}}")
}

fn cursor_metric() -> String {
    format!("flex_source_cursor_time_seconds{{kind=\"evm\",source=\"{SOURCE}\"}}")
}

/// Polls `f` every 250 ms until it holds; panics after `secs` with the keepers' logs.
async fn wait_until<F, Fut>(what: &str, secs: u64, keepers: &[&KeeperProc], mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let logs: String = keepers
        .iter()
        .map(|k| format!("--- {} ---\n{}\n", k.name, k.log_text()))
        .collect();
    panic!("timed out waiting for {what}\n{logs}");
}

/// Waits until each keeper's EVM follower has read up to `block`.
async fn wait_cursor(keepers: &[&KeeperProc], block: u64) {
    for k in keepers {
        wait_until(
            &format!("{}'s EVM cursor at block {block}", k.name),
            120,
            &[*k],
            || async { k.evm().is_some_and(|s| s["cursor_block"] == block) },
        )
        .await;
    }
}

/// The epoch `k` holds, with the source and the reason, as `/health` says.
fn holding(k: &KeeperProc) -> Option<(u64, String, String)> {
    let h = k.health()?["holding"].clone();
    Some((
        h["epoch"].as_u64()?,
        h["source"].as_str()?.to_string(),
        h["reason"].as_str()?.to_string(),
    ))
}

/// Whether `k`'s store holds a stake of `wallet` at `at` (the EVM action, by its content).
fn has_stake(k: &KeeperProc, wallet: &EvmKey, at: i64) -> bool {
    k.store()
        .actions_between(at, at + 1)
        .unwrap_or_default()
        .iter()
        .any(|(a, kind, ts)| *a == wallet.address() && kind == "stake" && *ts == at)
}

fn ms(since: Instant) -> u128 {
    since.elapsed().as_millis()
}

/// The EVM node becomes unreachable for Alice and Bob (their proxy is cut) before the EVM chain
/// passes the end of epoch 0; a stake is mined just before the end. Charlie and Dave close and
/// vote epoch 0 once their follower passes the end; Alice and Bob hold it, say so in `/health`
/// and the metrics, and never vote while the RPC is cut (so the epoch has no quorum). The RPC
/// comes back: they catch up, vote, the epoch is finalised and every keeper holds the chain's
/// commitment, which counts the stake mined while the RPC was cut.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_evm_rpc_cut_across_an_epoch_end_holds_the_cut_keepers_until_it_is_back() {
    const CONFIRMATIONS: u64 = 2;
    let mut w = World::new("rpc-cut").await;
    let target: SocketAddr = format!("127.0.0.1:{}", w.node.port).parse().unwrap();
    let mut proxy = Proxy::start(target).await;
    let via_proxy = format!("http://{}", proxy.addr);
    // Wallet 2 stakes early in epoch 0 (confirmed before the keepers start).
    w.stake(1, GENESIS + 3_600).await;
    w.blocks_after(GENESIS + 3_600, CONFIRMATIONS).await;

    let keepers: Vec<KeeperProc> = [
        ("alice", via_proxy.as_str()),
        ("bob", via_proxy.as_str()),
        ("charlie", w.node.url.as_str()),
        ("dave", w.node.url.as_str()),
    ]
    .iter()
    .map(|(n, url)| KeeperProc::start(&w, n, url, CONFIRMATIONS))
    .collect();
    let refs: Vec<&KeeperProc> = keepers.iter().collect();
    let (cut, direct) = (&refs[..2], &refs[2..]);
    wait_cursor(&refs, w.rpc.head().await - CONFIRMATIONS).await;

    // Chain time passes the end of epoch 0 and the grace; no EVM block at or after the end is
    // confirmed yet: every keeper waits for its EVM follower.
    w.travel(END0 + GRACE + 60).await;
    let due = Instant::now();
    for k in &refs {
        wait_until(
            "every keeper to hold epoch 0 on the EVM follower",
            120,
            &[*k],
            || async {
                holding(k)
                    .is_some_and(|(e, s, r)| e == 0 && s == SOURCE && r.contains("before the epoch's end"))
            },
        )
        .await;
    }
    let votes: EpochVotes = w.pool.query("epoch_votes", 0u64).await;
    assert!(votes.is_empty(), "a vote before the EVM chain passed the end");

    // The RPC is cut for Alice and Bob.
    proxy.down().await;
    let injected = Instant::now();
    for k in cut {
        wait_until(
            "the cut keepers' /health to report the EVM source",
            60,
            &[*k],
            || async {
                k.evm().is_some_and(|s| {
                    s["state"] == "failed"
                        && s["error"]
                            .as_str()
                            .is_some_and(|e| e.contains("EVM node unavailable"))
                })
            },
        )
        .await;
    }
    println!(
        "figure: EVM RPC cut -> /health alert (source failed) in {} ms",
        ms(injected)
    );

    // Meanwhile the EVM chain goes on: wallet 5 stakes just before the end of epoch 0, then
    // blocks after the end are confirmed.
    let late_stake = END0 - 600;
    w.stake(4, late_stake).await;
    w.blocks_after(END0, CONFIRMATIONS + 1).await;
    let passed = Instant::now();
    for k in direct {
        wait_until("Charlie and Dave to close epoch 0", 120, &[*k], || async {
            k.phase(0).is_some()
        })
        .await;
    }
    println!(
        "figure: lagging EVM follower -> epoch 0 closed {} ms after the EVM block past its end was confirmed ({} ms after the close was due by chain time)",
        ms(passed),
        ms(due)
    );
    for k in direct {
        let who = k.name.clone();
        wait_until("Charlie's and Dave's votes on epoch 0", 120, &refs, || async {
            w.vote_of(0, &who).await.is_some()
        })
        .await;
    }
    println!(
        "figure: lagging EVM follower -> both votes on chain {} ms after the EVM block past its end was confirmed",
        ms(passed)
    );

    // Alice and Bob: held, reported, no vote; without them there is no quorum.
    for k in cut {
        wait_until(
            "the cut keepers to name the EVM source holding epoch 0",
            60,
            &[*k],
            || async { holding(k).is_some_and(|(e, s, _)| e == 0 && s == SOURCE) },
        )
        .await;
        let v = k.health().unwrap();
        assert_eq!(v["status"], "degraded", "{v}");
        let evm = k.evm().unwrap();
        assert_eq!(evm["state"], "failed", "{evm}");
        assert!(evm["cursor_time"].as_i64().unwrap() < END0, "{evm}");
        assert_eq!(k.metric(&up_metric()), Some(0), "{}", k.name);
        assert!(k.metric(&failures_metric()).unwrap() >= 1);
        assert!(k.metric(&cursor_metric()).unwrap() < END0);
        assert_eq!(k.metric("flex_epoch_close_held"), Some(1));
        assert_eq!(
            w.vote_of(0, &k.name).await,
            None,
            "{} voted on partial inputs",
            k.name
        );
        assert_eq!(k.phase(0), None, "{} computed epoch 0 on partial inputs", k.name);
        assert!(!has_stake(k, &w.wallets[4], late_stake));
    }
    println!(
        "figure: completeness check of the last tick {:.0} us (two files, one EVM follower, held)",
        refs[0]
            .metric_f64("flex_completeness_check_seconds")
            .map_or(-1.0, |s| s * 1e6)
    );
    for k in direct {
        assert!(has_stake(k, &w.wallets[4], late_stake), "{}", k.name);
        assert_eq!(k.metric(&up_metric()), Some(1));
    }
    assert_eq!(w.next_epoch().await, 0, "finalised without the cut keepers");

    // The RPC is back: the cut keepers catch up and vote; every keeper holds the chain's commitment.
    proxy.up().await;
    let restored = Instant::now();
    for k in cut {
        wait_until("the cut keepers to close epoch 0", 120, &[*k], || async {
            k.phase(0).is_some()
        })
        .await;
    }
    println!(
        "figure: EVM RPC restored -> the cut keepers closed epoch 0 in {} ms",
        ms(restored)
    );
    wait_until("epoch 0 finalised at every keeper", 240, &refs, || async {
        w.next_epoch().await >= 1
            && keepers
                .iter()
                .all(|k| k.phase(0).is_some_and(|p| p.0 == Phase::Finalized))
    })
    .await;
    println!(
        "figure: EVM RPC restored -> every keeper with the chain's commitment for epoch 0 in {} ms ({} ms after the cut)",
        ms(restored),
        ms(injected)
    );
    let info: EpochInfo = w.pool.query::<Option<EpochInfo>>("epoch", 0u64).await.unwrap();
    let votes: EpochVotes = w.pool.query("epoch_votes", 0u64).await;
    assert_eq!(votes.len(), 1, "one commitment, byte-identical from every voter");
    let voters = &votes[0].1 .1;
    assert!(voters.len() >= 3, "{voters:?}");
    for name in ["charlie", "dave"] {
        assert!(voters.contains(&account(&dev(name))));
    }
    assert!(
        ["alice", "bob"]
            .iter()
            .any(|n| voters.contains(&account(&dev(n)))),
        "the quorum needs a cut keeper's vote"
    );
    // Wallets 1 and 2 (the pool file) and wallet 5 (the stake mined during the cut) are active.
    assert_eq!(info.commitment.active_count, 3, "{:?}", info.commitment);
    for k in &keepers {
        let rec = k.store().epoch(0).unwrap().expect("stored epoch 0");
        assert_eq!(rec.commitment_hash, info.commitment_hash, "{}", k.name);
        assert!(has_stake(k, &w.wallets[4], late_stake), "{}", k.name);
        assert!(has_stake(k, &w.wallets[1], GENESIS + 3_600), "{}", k.name);
    }
    for k in cut {
        wait_until("the cut keepers' health to be ok again", 60, &[*k], || async {
            k.health()
                .is_some_and(|v| v["status"] == "ok" && v["holding"].is_null())
        })
        .await;
        assert_eq!(k.metric(&up_metric()), Some(1));
        // One outage: reported once, although the follower retried many times.
        assert_eq!(k.metric(&failures_metric()), Some(1), "{}", k.name);
        assert_eq!(
            k.log_text().matches("source failed").count(),
            1,
            "{}",
            k.log_text()
        );
        assert!(k.metric(&cursor_metric()).unwrap() >= END0);
    }
    drop(proxy);
}

/// Alice reads the EVM chain one block deep, the others four: a branch that Alice has read past
/// the end of epoch 0 (with a stake before the end) is replaced before the epoch is due (a
/// reorganisation deeper than her depth, shallower than theirs), and her follower stops. Her
/// `/health` says `stopped` with the reason, her metrics say it, and epoch 0 is held although her
/// cursor's time had passed its end (what she read after the fork is not the chain's): she never
/// computes nor votes it, while the others finalise it with the canonical branch's actions. Her
/// file source, her API and her chain connection go on; neither a restart nor a new `start_block`
/// hides the fault; a rebuilt database converges to the chain's commitment, without a vote.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_evm_follower_holds_its_keeper_which_says_so_and_never_votes() {
    const SHALLOW: u64 = 1;
    const DEEP: u64 = 4;
    let mut w = World::new("stopped").await;
    w.stake(1, GENESIS + 3_600).await;
    w.blocks_after(GENESIS + 3_600, DEEP).await;
    let mut keepers: Vec<KeeperProc> = [
        ("alice", SHALLOW),
        ("bob", DEEP),
        ("charlie", DEEP),
        ("dave", DEEP),
    ]
    .iter()
    .map(|(n, c)| KeeperProc::start(&w, n, &w.node.url, *c))
    .collect();
    let head = w.rpc.head().await;
    {
        let refs: Vec<&KeeperProc> = keepers.iter().collect();
        wait_cursor(&refs[..1], head - SHALLOW).await;
        wait_cursor(&refs[1..], head - DEEP).await;
    }

    // A branch of three blocks that Alice reads as confirmed: wallet 1 stakes just before the end
    // of epoch 0, then two blocks after it. Her cursor passes the end; the others' do not.
    let snapshot = w.rpc.call("evm_snapshot", json!([])).await;
    let fork_time = w.last_time;
    let orphan_at = END0 - 300;
    w.stake(0, orphan_at).await;
    w.blocks_after(END0, 2).await;
    {
        let refs: Vec<&KeeperProc> = keepers.iter().collect();
        wait_cursor(&refs[..1], head + 3 - SHALLOW).await;
        wait_cursor(&refs[1..], head + 3 - DEEP).await;
    }
    assert!(has_stake(&keepers[0], &w.wallets[0], orphan_at));
    assert!(keepers[0].evm().unwrap()["cursor_time"].as_i64().unwrap() >= END0);

    // It is replaced (before epoch 0 is due): wallet 5 stakes instead, and the chain passes the
    // end of epoch 0. What Alice read after the fork is no longer the chain's, whatever her
    // cursor's time says.
    assert_eq!(w.rpc.call("evm_revert", json!([snapshot])).await, json!(true));
    let injected = Instant::now();
    w.last_time = fork_time;
    let canonical_at = END0 - 200;
    w.stake(4, canonical_at).await;
    w.blocks_after(END0, DEEP + 2).await;
    let alice = &keepers[0];
    wait_until(
        "Alice's /health to report the stopped follower",
        60,
        &[alice],
        || async {
            alice.evm().is_some_and(|s| {
                s["state"] == "stopped"
                    && s["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("reorganisation deeper than the confirmation depth"))
            })
        },
    )
    .await;
    println!(
        "figure: deep reorganisation -> /health alert (source stopped) in {} ms",
        ms(injected)
    );
    let refs: Vec<&KeeperProc> = keepers.iter().collect();

    // Epoch 0 is due: the others finalise it; Alice holds it on the stopped follower.
    w.travel(END0 + GRACE + 60).await;
    let due = Instant::now();
    wait_until("epoch 0 to be finalised by the others", 240, &refs, || async {
        w.next_epoch().await >= 1
    })
    .await;
    println!(
        "figure: stopped follower at one keeper -> the other three finalised epoch 0 {} ms after it was due",
        ms(due)
    );
    wait_until("Alice to say what holds epoch 0", 60, &[alice], || async {
        holding(alice).is_some_and(|(e, s, r)| e == 0 && s == SOURCE && r.contains("stopped: "))
    })
    .await;
    let v = alice.health().unwrap();
    assert_eq!(v["status"], "degraded", "{v}");
    assert_eq!(v["chain"]["connected"], true, "{v}");
    // Her cursor's time passed the end of epoch 0 before the reorganisation: it is forgotten.
    assert!(alice.evm().unwrap()["cursor_time"].is_null());
    assert_eq!(alice.metric(&up_metric()), Some(0));
    assert_eq!(alice.metric(&failures_metric()), Some(1));
    assert_eq!(alice.metric("flex_epoch_close_held"), Some(1));
    assert_eq!(w.vote_of(0, "alice").await, None, "a vote on partial inputs");
    assert_eq!(alice.phase(0), None, "epoch 0 computed on partial inputs");
    let info: EpochInfo = w.pool.query::<Option<EpochInfo>>("epoch", 0u64).await.unwrap();
    let votes: EpochVotes = w.pool.query("epoch_votes", 0u64).await;
    assert_eq!(votes.len(), 1, "one commitment");
    assert_eq!(votes[0].1 .1.len(), 3);
    assert!(!votes[0].1 .1.contains(&account(&dev("alice"))));
    // The others read only the canonical branch: wallets 1, 2 and 5 are active.
    assert_eq!(info.commitment.active_count, 3, "{:?}", info.commitment);
    for k in &keepers[1..] {
        wait_until("the others to record epoch 0", 60, &[k], || async {
            k.phase(0).is_some_and(|p| p.0 == Phase::Finalized)
        })
        .await;
        assert_eq!(
            k.store().epoch(0).unwrap().unwrap().commitment_hash,
            info.commitment_hash
        );
        assert!(has_stake(k, &w.wallets[4], canonical_at));
        assert!(!has_stake(k, &w.wallets[0], orphan_at));
    }

    // Alice's other sources, API and chain connection go on.
    let post_at = GENESIS + 2 * DAY + 100;
    std::fs::write(
        w.dir.join("alice.jsonl"),
        format!(
            "{{\"action_id\":\"file-1\",\"wallet\":\"{}\",\"kind\":\"post\",\"side\":\"onchain\",\"timestamp\":{post_at}}}\n",
            w.wallets[2].address()
        ),
    )
    .unwrap();
    wait_until("Alice to import her file", 60, &[alice], || async {
        alice
            .store()
            .actions_between(post_at, post_at + 1)
            .is_ok_and(|a| {
                a.iter()
                    .any(|(wallet, kind, _)| *wallet == w.wallets[2].address() && kind == "post")
            })
    })
    .await;
    let file = w.dir.join("alice.jsonl").display().to_string();
    let v = alice.health().unwrap();
    let entry = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == file.as_str())
        .cloned()
        .unwrap();
    assert_eq!(entry["state"], "ok", "{v}");
    assert_eq!(v["chain"]["next_epoch"], 1, "Alice reads the chain: {v}");
    let wallet = w.wallets[0].address().to_string();
    assert_eq!(
        http_get(alice.port, &format!("/v1/wallets/{wallet}")).unwrap().0,
        200
    );
    assert!(http_get(alice.port, "/metrics").is_some_and(|(s, _)| s == 200));

    // Restarted, Alice finds her stored cursor's block replaced: still stopped, still held.
    let alice = &mut keepers[0];
    alice.kill9();
    alice.spawn();
    let alice = &keepers[0];
    wait_until(
        "the restarted Alice to report the stopped follower",
        120,
        &[alice],
        || async {
            alice.evm().is_some_and(|s| {
                s["state"] == "stopped"
                    && s["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("reorganisation deeper than the confirmation depth"))
            }) && holding(alice).is_some_and(|(e, s, _)| e == 0 && s == SOURCE)
        },
    )
    .await;
    assert_eq!(w.vote_of(0, "alice").await, None);
    assert_eq!(alice.phase(0), None);

    // Deeper confirmations and a `start_block` before the fork (a new cursor key) do not make
    // the orphaned stake go away (nothing deletes it): the follower refuses to read on and says
    // to rebuild the database; epoch 0 stays held.
    let recovered = Instant::now();
    let alice = &mut keepers[0];
    alice.kill9();
    alice.configure(&w, &w.node.url, DEEP, head);
    alice.spawn();
    let alice = &keepers[0];
    wait_until("Alice to ask for a rebuilt database", 120, &[alice], || async {
        alice.evm().is_some_and(|s| {
            s["state"] == "stopped"
                && s["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("delete the database"))
        }) && holding(alice).is_some_and(|(e, s, _)| e == 0 && s == SOURCE)
    })
    .await;
    assert!(has_stake(alice, &w.wallets[0], orphan_at), "the orphan is kept");
    assert_eq!(alice.phase(0), None);
    assert_eq!(w.vote_of(0, "alice").await, None);

    // A wiped database with the deeper confirmations: every source is read again from the start
    // and epoch 0 is the chain's; finalised without her, it is compared, never voted.
    let alice = &mut keepers[0];
    alice.kill9();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", alice.db.display()));
    }
    let wiped = Instant::now();
    alice.configure(&w, &w.node.url, DEEP, 0);
    alice.spawn();
    let alice = &keepers[0];
    wait_until(
        "the rebuilt Alice to hold the chain's epoch 0",
        120,
        &[alice],
        || async {
            alice.phase(0).is_some_and(|p| p.0 == Phase::Finalized)
                && alice.health().is_some_and(|v| {
                    v["status"] == "ok"
                        && v["holding"].is_null()
                        && v["disagreements"].as_array().is_some_and(|d| d.is_empty())
                })
        },
    )
    .await;
    println!(
        "figure: deep reorganisation recovery -> wiped keeper matches the chain's epoch 0 in {} ms ({} ms from the first restart)",
        ms(wiped),
        ms(recovered)
    );
    assert_eq!(
        alice.store().epoch(0).unwrap().unwrap().commitment_hash,
        info.commitment_hash
    );
    assert!(!has_stake(alice, &w.wallets[0], orphan_at));
    assert_eq!(w.vote_of(0, "alice").await, None, "no vote after finalisation");
}
