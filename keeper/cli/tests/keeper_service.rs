//! The keeper service end to end on a real devnet: three `flex-keeper run` processes over the same
//! sample activity reach quorum on every epoch and on the month root; a wallet claims through the
//! API and `flex-keeper claim`; keepers killed with SIGKILL while computing, right after a vote
//! and while waiting for quorum resume with nothing lost and no second vote; the API keeps serving
//! with the chain down; keepers ride out a node restart (stopped under them, resumed with its state)
//! and go on without voting twice; the API's error cases on a live keeper.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flex_chain::{AccountId32, Chain};
use flex_e2e::deploy::{deploy, DeployOptions, Deployment};
use flex_e2e::scenario::{
    Contract as Deployed, CLAIM_PRICE, DAY, DEPOSIT, FEB_1, GENESIS, JANUARY_2026 as JAN,
};
use flex_e2e::{account, bundle_path, dev, free_port, http_get, Devnet};
use flex_evm::EvmKey;
use flex_pool::{EpochCommitment, EpochInfo, MonthInfo};
use serde_json::Value;

/// `epoch_votes`: each commitment hash with the commitment and its voters.
type EpochVotes = Vec<([u8; 32], (EpochCommitment, Vec<AccountId32>))>;

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");

async fn travel(chain: &Chain, unix_s: i64) {
    flex_e2e::scenario::travel(chain, unix_s)
        .await
        .expect("time travel");
}

struct World {
    devnet: Devnet,
    chain: Chain,
    flexe: Deployed,
    pay: Deployed,
    pool: Deployed,
    dir: PathBuf,
    wallets: Vec<EvmKey>,
}

/// Deploys FLEXE, a payment token and the pool (the fixture's default: keepers Alice, Bob, Charlie,
/// Dave, quorum 3), funds the pool, and writes the sample activity and weight table.
async fn world(name: &str) -> World {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let Deployment { flexe, pay, pool, .. } =
        deploy(&chain, &DeployOptions::default()).await.expect("deploy");

    let dir = flex_e2e::repo_root()
        .join("target")
        .join("keeper-e2e")
        .join(format!("{name}-{}", devnet.port));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let wallets = flex_e2e::scenario::evm_wallets().expect("the sample wallets");
    flex_e2e::scenario::write_sample_pool(&dir, &wallets).expect("write the sample pool");
    flex_types::secret::write_secret_file(
        &dir.join("wallet1.key"),
        flex_types::hex::encode_digits([1u8; 32]),
    )
    .unwrap();
    World {
        devnet,
        chain,
        flexe,
        pay,
        pool,
        dir,
        wallets,
    }
}

struct KeeperProc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
    port: u16,
    db: PathBuf,
}

impl KeeperProc {
    /// The config with `input` as the `[input]` section's keys.
    fn config_with(w: &World, name: &str, url: &str, port: u16, input: &str) -> PathBuf {
        let cfg = w.dir.join(format!("{name}.toml"));
        flex_types::secret::write_secret_file(
            &w.dir.join(format!("{name}.key")),
            format!("//{}{}", name[..1].to_uppercase(), &name[1..]),
        )
        .unwrap();
        let bundle = bundle_path("flex_reward_pool");
        std::fs::write(
            &cfg,
            format!(
                "[chain]\nurl = \"{url}\"\ncontract = \"0x{}\"\nbundle = \"{}\"\nkey_file = \"{name}.key\"\n\
                 [protocol]\nweights = \"weights.toml\"\ngenesis = {GENESIS}\ngrace_seconds = 60\nclaim_price = \"{CLAIM_PRICE}\"\n\
                 [input]\n{input}[store]\npath = \"{name}.db\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
                 [service]\npoll_ms = 200\nbackoff_max_ms = 1000\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
                flex_types::hex::encode_digits(w.pool.address.0),
                bundle.display()
            ),
        )
        .unwrap();
        cfg
    }

    fn start(w: &World, name: &str, pause_at: Option<&str>) -> KeeperProc {
        Self::start_at(w, name, &w.devnet.url, pause_at)
    }

    fn start_at(w: &World, name: &str, url: &str, pause_at: Option<&str>) -> KeeperProc {
        Self::start_with(w, name, url, pause_at, "pool = \"pool.json\"\n")
    }

    /// Starts a keeper whose `[input]` section is `input`.
    fn start_with(w: &World, name: &str, url: &str, pause_at: Option<&str>, input: &str) -> KeeperProc {
        let port = free_port();
        let cfg = Self::config_with(w, name, url, port, input);
        let mut k = KeeperProc {
            name: name.into(),
            child: None,
            log: w.dir.join(format!("{name}.log")),
            port,
            db: w.dir.join(format!("{name}.db")),
        };
        k.spawn(&cfg, pause_at);
        k
    }

    fn spawn(&mut self, cfg: &Path, pause_at: Option<&str>) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(KEEPER);
        cmd.args(["run", "--config"])
            .arg(cfg)
            .stdout(Stdio::null())
            .stderr(log);
        cmd.env_remove("FLEX_KEEPER_PAUSE_AT")
            .env_remove("FLEX_KEEPER_KEY")
            .env("RUST_LOG", "info");
        if let Some(p) = pause_at {
            cmd.env("FLEX_KEEPER_PAUSE_AT", p);
        }
        self.child = Some(cmd.spawn().expect("spawn flex-keeper run"));
    }

    fn restart(&mut self, w: &World, pause_at: Option<&str>) {
        let cfg = w.dir.join(format!("{}.toml", self.name));
        self.spawn(&cfg, pause_at);
    }

    /// SIGKILL: no cleanup, no flush, like a crash.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, needle: &str, secs: u64) {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if self.log_text().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{}: no {needle:?} in the log after {secs} s:\n{}",
            self.name,
            self.log_text()
        );
    }

    fn store(&self) -> flex_store::SqliteStore {
        flex_store::SqliteStore::open(&self.db).expect("open keeper db")
    }
}

impl Drop for KeeperProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

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

fn phase_of(k: &KeeperProc, e: u64) -> Option<(flex_store::Phase, bool)> {
    use flex_store::Store;
    k.store().epoch(e).ok().flatten().map(|r| (r.phase, r.voted))
}

#[tokio::test(flavor = "multi_thread")]
async fn three_keepers_reach_quorum_and_a_wallet_claims() {
    let w = world("quorum").await;
    let keepers: Vec<KeeperProc> = ["alice", "bob", "charlie"]
        .iter()
        .map(|n| KeeperProc::start(&w, n, None))
        .collect();
    let refs: Vec<&KeeperProc> = keepers.iter().collect();
    // All three epochs of January have ended (plus the grace period).
    travel(&w.chain, GENESIS + 3 * DAY + 120).await;
    wait_until("the month root to be finalised", 240, &refs, || async {
        w.pool.query::<Option<MonthInfo>>("month", JAN).await.is_some()
    })
    .await;
    assert_eq!(w.pool.query::<u64>("next_epoch", ()).await, 3);
    let mut distributed = 0u128;
    for e in 0..3u64 {
        let info: EpochInfo = w
            .pool
            .query::<Option<EpochInfo>>("epoch", e)
            .await
            .expect("finalised");
        distributed += info.distributed;
        let votes: EpochVotes = w.pool.query("epoch_votes", e).await;
        assert_eq!(votes.len(), 1, "one commitment, byte-identical from all keepers");
        // The three keepers, each once (Dave never runs).
        assert_eq!(votes[0].1 .1.len(), 3, "epoch {e}: three votes");
        for k in &keepers {
            use flex_store::Store;
            let rec = k.store().epoch(e).unwrap().expect("stored epoch");
            assert_eq!(rec.phase, flex_store::Phase::Finalized, "{} epoch {e}", k.name);
            assert!(rec.voted);
            assert_eq!(rec.commitment_hash, info.commitment_hash);
        }
    }
    assert!(distributed > 0);
    let month: MonthInfo = w.pool.query::<Option<MonthInfo>>("month", JAN).await.unwrap();
    assert_eq!(month.root.total, distributed);
    assert_eq!(month.root.claim_price, CLAIM_PRICE);

    // The API on a live keeper: epochs, wallets, claims, errors.
    let port = keepers[0].port;
    let wallet = w.wallets[0].address().to_string();
    let (s, v) = http_get(port, "/v1/epochs/1").unwrap();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["finalized"], true);
    // Two epochs of history are below the forecast's minimum: nothing is published.
    assert_eq!(v["forecast"], "0");
    assert_eq!(v["forecast_detail"]["published"], "none");
    assert_eq!(v["forecast_detail"]["history_epochs"], 2);
    let (s, v) = http_get(port, &format!("/v1/wallets/{wallet}")).unwrap();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["scores"].as_str().unwrap().len(), 3);
    assert!(v["scores"].as_str().unwrap().starts_with('F'));
    let (s, v) = http_get(port, &format!("/v1/claims/{JAN}/{wallet}")).unwrap();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["root_status"], "finalized");
    assert_eq!(v["claim_status"], "unclaimed");
    let amount: u128 = v["amount"].as_str().unwrap().parse().unwrap();
    for (path, code) in [
        (format!("/v1/claims/{JAN}/0x1234"), 400),
        (format!("/v1/claims/{}/{wallet}", JAN + 1), 404),
        (format!("/v1/wallets/{wallet}x"), 400),
        ("/v1/epochs/99".to_string(), 404),
    ] {
        let (s, v) = http_get(port, &path).unwrap();
        assert_eq!(s, code, "{path}: {v}");
        assert!(v["error"]["code"].is_string(), "{path}: {v}");
    }
    let (s, v) = http_get(port, "/health").unwrap();
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    let metrics = http_get(port, "/metrics").unwrap().1;
    assert!(
        metrics.as_str().unwrap().contains("flex_epoch_votes_total 3"),
        "{metrics}"
    );

    // A wallet claims in February through the API and the claim CLI; Eve submits and pays.
    travel(&w.chain, FEB_1 + 3600).await;
    let eve = account(&dev("eve"));
    w.pay
        .call(
            &dev("alice"),
            "PSP22::transfer",
            (&eve, DEPOSIT, Vec::<u8>::new()),
        )
        .await;
    let ferdie = account(&dev("ferdie"));
    let before: u128 = w.flexe.query("PSP22::balance_of", &ferdie).await;
    let out = Command::new(KEEPER)
        .args(["claim", "--month", &JAN.to_string(), "--wallet-key"])
        .arg(w.dir.join("wallet1.key"))
        .args(["--beneficiary", &flex_types::hex::encode(ferdie.0)])
        .args([
            "--api",
            &format!("http://127.0.0.1:{port}"),
            "--url",
            &w.devnet.url,
            "--signer",
            "//Eve",
        ])
        .arg("--bundle")
        .arg(bundle_path("flex_reward_pool"))
        .output()
        .expect("run flex-keeper claim");
    assert!(
        out.status.success(),
        "claim failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("claim prints JSON");
    assert_eq!(printed["claimed"], true);
    assert_eq!(printed["amount"], amount.to_string());
    let cost: u128 = printed["cost"].as_str().unwrap().parse().unwrap();
    assert_eq!(cost, (amount * CLAIM_PRICE).div_ceil(10u128.pow(19)));
    let after: u128 = w.flexe.query("PSP22::balance_of", &ferdie).await;
    assert_eq!(after, before + amount, "the beneficiary received the amount");
    let (_, v) = http_get(port, &format!("/v1/claims/{JAN}/{wallet}")).unwrap();
    assert_eq!(v["claim_status"], "claimed");
    // A second claim is refused by the contract; the CLI fails with its error name.
    let again = Command::new(KEEPER)
        .args(["claim", "--month", &JAN.to_string(), "--wallet-key"])
        .arg(w.dir.join("wallet1.key"))
        .args(["--beneficiary", &flex_types::hex::encode(ferdie.0)])
        .args([
            "--api",
            &format!("http://127.0.0.1:{port}"),
            "--url",
            &w.devnet.url,
            "--signer",
            "//Eve",
        ])
        .arg("--bundle")
        .arg(bundle_path("flex_reward_pool"))
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("AlreadyClaimed"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_keepers_resume_without_losing_or_repeating_votes() {
    use flex_store::Phase;
    let w = world("crash").await;
    let alice_acc = account(&dev("alice"));
    let bob_acc = account(&dev("bob"));
    // Epoch 0 has ended; Alice is killed in the middle of closing it (computed, not stored).
    travel(&w.chain, GENESIS + DAY + 120).await;
    let mut alice = KeeperProc::start(&w, "alice", Some("compute"));
    alice.wait_log("pause point reached", 120);
    alice.kill9();
    assert_eq!(phase_of(&alice, 0), None, "a crash during compute stores nothing");
    assert_eq!(
        w.pool
            .query::<Option<[u8; 32]>>("epoch_vote_of", (0u64, &alice_acc))
            .await,
        None
    );
    alice.restart(&w, None);
    wait_until("Alice's vote on epoch 0", 120, &[&alice], || async {
        phase_of(&alice, 0) == Some((Phase::Voted, true))
    })
    .await;

    // Bob is killed right after his vote landed, before he recorded it.
    let mut bob = KeeperProc::start(&w, "bob", Some("submitted"));
    bob.wait_log("pause point reached", 120);
    bob.kill9();
    assert_eq!(
        phase_of(&bob, 0),
        Some((Phase::Submitting, false)),
        "the vote was sent, not recorded"
    );
    assert!(w
        .pool
        .query::<Option<[u8; 32]>>("epoch_vote_of", (0u64, &bob_acc))
        .await
        .is_some());
    bob.restart(&w, None);
    wait_until("Bob to find his vote on chain", 120, &[&bob], || async {
        phase_of(&bob, 0) == Some((Phase::Voted, true))
    })
    .await;

    // Alice is killed while waiting for quorum; Charlie's vote finalises epoch 0 meanwhile.
    alice.kill9();
    let charlie = KeeperProc::start(&w, "charlie", None);
    wait_until("epoch 0 to be finalised", 120, &[&charlie, &bob], || async {
        w.pool.query::<u64>("next_epoch", ()).await >= 1
    })
    .await;
    alice.restart(&w, None);
    wait_until("Alice to see epoch 0 finalised", 120, &[&alice], || async {
        phase_of(&alice, 0) == Some((Phase::Finalized, true))
    })
    .await;
    // Each keeper voted once; nobody voted after finalisation.
    let votes: EpochVotes = w.pool.query("epoch_votes", 0u64).await;
    assert_eq!(votes.len(), 1);
    let voters = &votes[0].1 .1;
    assert_eq!(voters.len(), 3, "{voters:?}");
    assert!(voters.contains(&alice_acc) && voters.contains(&bob_acc));

    // And the three go on: epoch 1 closes after the restarts too.
    travel(&w.chain, GENESIS + 2 * DAY + 120).await;
    wait_until(
        "epoch 1 to be finalised",
        120,
        &[&alice, &bob, &charlie],
        || async { w.pool.query::<u64>("next_epoch", ()).await >= 2 },
    )
    .await;
    for k in [&alice, &bob, &charlie] {
        wait_until("keeper DBs to record epoch 1", 60, &[k], || async {
            phase_of(k, 1) == Some((Phase::Finalized, true))
        })
        .await;
        assert_eq!(phase_of(k, 0), Some((Phase::Finalized, true)), "{}", k.name);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_keeps_serving_while_the_chain_is_down() {
    let w = world("nodedown").await;
    // Point a keeper at a port where nothing listens.
    let dead = format!("ws://127.0.0.1:{}", free_port());
    let k = KeeperProc::start_at(&w, "alice", &dead, None);
    let until = Instant::now() + Duration::from_secs(60);
    let mut health = None;
    while Instant::now() < until {
        if let Some((200, v)) = http_get(k.port, "/health") {
            if v["status"] == "degraded" {
                health = Some(v);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let health = health.unwrap_or_else(|| panic!("no degraded health answer:\n{}", k.log_text()));
    assert_eq!(health["chain"]["connected"], false);
    k.wait_log("chain unavailable", 30);
    // Retries with backoff: the reconnect counter grows.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let metrics = http_get(k.port, "/metrics").unwrap().1;
    let line = metrics
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.starts_with("flex_chain_reconnects_total "))
        .unwrap()
        .to_string();
    let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 2, "{line}");
    // The imported wallets are served meanwhile.
    let wallet = w.wallets[0].address().to_string();
    let (s, v) = http_get(k.port, &format!("/v1/wallets/{wallet}")).unwrap();
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["scores"], "");
    let _ = &w.chain;
}

/// Reads a series without labels from the keeper's Prometheus `/metrics`.
fn metric_f64(port: u16, name: &str) -> f64 {
    let (_, body) = http_get(port, "/metrics").expect("metrics answer");
    let text = body.as_str().unwrap_or_default().to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
}

/// A counter or a whole-valued gauge from `/metrics`.
fn metric(port: u16, name: &str) -> u64 {
    metric_f64(port, name) as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn keepers_ride_out_a_node_restart() {
    use flex_store::Phase;
    let w = world("restart").await;
    let alice_acc = account(&dev("alice"));
    let bob_acc = account(&dev("bob"));
    // Epoch 0 has ended; Alice and Bob vote (quorum is 3: it waits for a third keeper).
    travel(&w.chain, GENESIS + DAY + 120).await;
    let alice = KeeperProc::start(&w, "alice", None);
    let bob = KeeperProc::start(&w, "bob", None);
    wait_until(
        "Alice's and Bob's votes on epoch 0",
        180,
        &[&alice, &bob],
        || async {
            phase_of(&alice, 0) == Some((Phase::Voted, true))
                && phase_of(&bob, 0) == Some((Phase::Voted, true))
        },
    )
    .await;
    let reconnects_before = metric(alice.port, "flex_chain_reconnects_total");

    // The node goes down under the running keepers: they keep serving and report it.
    w.devnet.stop();
    let wallet = w.wallets[0].address().to_string();
    wait_until(
        "Alice's health to report the chain down",
        60,
        &[&alice],
        || async {
            matches!(http_get(alice.port, "/health"), Some((200, v)) if v["chain"]["connected"] == false)
        },
    )
    .await;
    let (s, v) = http_get(alice.port, &format!("/v1/wallets/{wallet}")).expect("wallet answer");
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["scores"].as_str().map(|s| s.len()),
        Some(1),
        "epoch 0 is served while the node is down: {v}"
    );
    let (s, v) = http_get(bob.port, "/v1/epochs/0").expect("epoch answer");
    assert_eq!(s, 200, "{v}");

    // It comes back with its state (the contract, both votes) on the same port.
    w.devnet.resume();
    let chain = w.devnet.connect().await;
    let pool = Deployed::new(&chain, &w.pool.bundle, w.pool.address.clone());
    assert_eq!(pool.query::<u64>("next_epoch", ()).await, 0);
    for who in [&alice_acc, &bob_acc] {
        assert!(
            pool.query::<Option<[u8; 32]>>("epoch_vote_of", (0u64, who))
                .await
                .is_some(),
            "the votes survive the restart"
        );
    }
    wait_until("Alice and Bob to reconnect", 120, &[&alice, &bob], || async {
        [&alice, &bob]
            .iter()
            .all(|k| matches!(http_get(k.port, "/health"), Some((200, v)) if v["chain"]["connected"] == true))
    })
    .await;
    assert!(metric(alice.port, "flex_chain_reconnects_total") > reconnects_before);

    // Charlie's vote finalises epoch 0; Alice and Bob follow it without voting again.
    let charlie = KeeperProc::start(&w, "charlie", None);
    wait_until(
        "epoch 0 to be finalised",
        120,
        &[&alice, &bob, &charlie],
        || async { pool.query::<u64>("next_epoch", ()).await >= 1 },
    )
    .await;
    for k in [&alice, &bob, &charlie] {
        wait_until("the keepers to record epoch 0 finalised", 60, &[k], || async {
            phase_of(k, 0) == Some((Phase::Finalized, true))
        })
        .await;
    }
    let votes: EpochVotes = pool.query("epoch_votes", 0u64).await;
    assert_eq!(votes.len(), 1, "one commitment");
    assert_eq!(votes[0].1 .1.len(), 3, "one vote per keeper: {:?}", votes[0].1 .1);

    // And the next epoch closes on the restarted node as usual.
    travel(&chain, GENESIS + 2 * DAY + 120).await;
    wait_until(
        "epoch 1 to be finalised after the restart",
        120,
        &[&alice, &bob, &charlie],
        || async { pool.query::<u64>("next_epoch", ()).await >= 2 },
    )
    .await;
    for k in [&alice, &bob, &charlie] {
        wait_until("the keepers to record epoch 1 finalised", 60, &[k], || async {
            phase_of(k, 1) == Some((Phase::Finalized, true))
        })
        .await;
    }
}

/// The keeper's `/health` answer, when it answers 200.
fn health(k: &KeeperProc) -> Option<Value> {
    match http_get(k.port, "/health") {
        Some((200, v)) => Some(v),
        _ => None,
    }
}

/// Replaces a file's content in one step (a keeper never reads it half written).
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn count_in_log(k: &KeeperProc, needle: &str) -> usize {
    k.log_text().matches(needle).count()
}

/// A bad line appended to one keeper's input file while it runs: within a bounded time its
/// `/health` names the file, the line and the epoch it holds back, and its metrics count it; it
/// never votes on that epoch (the others finalise it); its API and the finalised epochs go on;
/// the error is logged once, not on every tick; once the file is fixed it closes the epoch with
/// the chain's commitment.
#[tokio::test(flavor = "multi_thread")]
async fn a_bad_input_line_holds_only_that_keeper_and_is_reported() {
    use flex_store::Phase;
    let w = world("badline").await;
    let names = ["alice", "bob", "charlie", "dave"];
    for n in names {
        std::fs::write(w.dir.join(format!("{n}.jsonl")), "").unwrap();
    }
    let keepers: Vec<KeeperProc> = names
        .iter()
        .map(|n| {
            KeeperProc::start_with(
                &w,
                n,
                &w.devnet.url,
                None,
                &format!("pool = \"pool.json\"\nactions = \"{n}.jsonl\"\n"),
            )
        })
        .collect();
    let refs: Vec<&KeeperProc> = keepers.iter().collect();
    let alice = &keepers[0];
    travel(&w.chain, GENESIS + DAY + 120).await;
    wait_until("epoch 0 to be finalised at every keeper", 240, &refs, || async {
        keepers
            .iter()
            .all(|k| phase_of(k, 0).is_some_and(|p| p.0 == Phase::Finalized))
    })
    .await;
    assert_eq!(health(alice).unwrap()["status"], "ok");

    // The bad line: a wallet that is not an address.
    let file = w.dir.join("alice.jsonl");
    write_atomically(
        &file,
        "{\"action_id\":\"x-1\",\"wallet\":\"0x12\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":1769731300}\n",
    );
    let injected = Instant::now();
    let file_name = file.display().to_string();
    wait_until("Alice's health to report the bad line", 60, &[alice], || async {
        health(alice).is_some_and(|v| {
            v["status"] == "degraded"
                && v["sources"].as_array().is_some_and(|s| {
                    s.iter().any(|s| {
                        s["name"] == file_name.as_str()
                            && s["state"] == "failed"
                            && s["error"]
                                .as_str()
                                .is_some_and(|e| e.contains("alice.jsonl:1: field \"wallet\""))
                    })
                })
        })
    })
    .await;
    let alert_ms = injected.elapsed().as_millis();
    println!("figure: bad input line -> /health alert in {alert_ms} ms");
    assert!(metric(alice.port, "flex_errors_total") >= 1);

    // Epoch 1 ends: the other three finalise it; Alice holds it back, naming the file.
    travel(&w.chain, GENESIS + 2 * DAY + 120).await;
    wait_until("epoch 1 to be finalised by the others", 240, &refs, || async {
        w.pool.query::<u64>("next_epoch", ()).await >= 2
    })
    .await;
    wait_until("Alice to say what holds epoch 1", 60, &[alice], || async {
        health(alice)
            .is_some_and(|v| v["holding"]["epoch"] == 1 && v["holding"]["source"] == file_name.as_str())
    })
    .await;
    let alice_acc = account(&dev("alice"));
    assert_eq!(
        w.pool
            .query::<Option<[u8; 32]>>("epoch_vote_of", (1u64, &alice_acc))
            .await,
        None,
        "no vote on partial inputs"
    );
    assert_eq!(
        phase_of(alice, 1),
        None,
        "epoch 1 is not computed on partial inputs"
    );
    // The API goes on.
    let (s, v) = http_get(alice.port, "/v1/epochs/0").unwrap();
    assert_eq!((s, &v["finalized"]), (200, &Value::Bool(true)), "{v}");
    let wallet = w.wallets[0].address().to_string();
    assert_eq!(
        http_get(alice.port, &format!("/v1/wallets/{wallet}")).unwrap().0,
        200
    );
    assert!(
        metric(alice.port, "flex_epoch_close_held") == 1,
        "the hold is in the metrics"
    );
    println!(
        "figure: completeness check of the last tick {:.0} us (two files, no follower)",
        metric_f64(alice.port, "flex_completeness_check_seconds") * 1e6
    );
    // Logged once, although the keeper ticks every 200 ms.
    assert_eq!(count_in_log(alice, "source failed"), 1, "{}", alice.log_text());
    assert_eq!(count_in_log(alice, "epoch close waits for a source"), 1);

    // Fixed: Alice closes epoch 1 from the chain's figures, with the chain's commitment.
    write_atomically(&file, "");
    wait_until(
        "Alice to close epoch 1 once the file is fixed",
        120,
        &[alice],
        || async { phase_of(alice, 1).is_some_and(|p| p.0 == Phase::Finalized) },
    )
    .await;
    let info: EpochInfo = w.pool.query::<Option<EpochInfo>>("epoch", 1u64).await.unwrap();
    {
        use flex_store::Store;
        let rec = alice.store().epoch(1).unwrap().unwrap();
        assert_eq!(rec.commitment_hash, info.commitment_hash);
        assert!(!rec.voted);
    }
    wait_until("Alice's health to be ok again", 60, &[alice], || async {
        health(alice).is_some_and(|v| v["status"] == "ok" && v["holding"].is_null())
    })
    .await;
}

/// A keeper whose input lacks one action commits another hash for epoch 0; the three others
/// finalise theirs. It reports `degraded` with the epoch and both hashes (logged at error level
/// once) and in its metrics; once its input is fixed it recomputes the epoch by itself and
/// converges, without a fresh database.
#[tokio::test(flavor = "multi_thread")]
async fn a_keeper_in_the_minority_says_so_and_converges_once_its_input_is_fixed() {
    use flex_store::{Phase, Store};
    let w = world("minority").await;
    // Dave's pool lacks act-1 (wallet 1's post in epoch 0).
    let full = std::fs::read_to_string(w.dir.join("pool.json")).unwrap();
    let mut pool: Value = serde_json::from_str(&full).unwrap();
    for wallet in pool["wallets"].as_array_mut().unwrap() {
        if let Some(list) = wallet["actions"]["onchain"].as_array_mut() {
            list.retain(|a| a["action_id"] != "act-1");
        }
    }
    std::fs::write(w.dir.join("dave.json"), pool.to_string()).unwrap();
    let mut keepers: Vec<KeeperProc> = ["alice", "bob", "charlie"]
        .iter()
        .map(|n| KeeperProc::start(&w, n, None))
        .collect();
    keepers.push(KeeperProc::start_with(
        &w,
        "dave",
        &w.devnet.url,
        None,
        "pool = \"dave.json\"\n",
    ));
    let refs: Vec<&KeeperProc> = keepers.iter().collect();
    let dave = &keepers[3];
    travel(&w.chain, GENESIS + DAY + 120).await;
    wait_until("epoch 0 to be finalised", 240, &refs, || async {
        w.pool.query::<u64>("next_epoch", ()).await >= 1
    })
    .await;
    let finalised = Instant::now();
    let info: EpochInfo = w.pool.query::<Option<EpochInfo>>("epoch", 0u64).await.unwrap();
    let chain_hash = flex_types::hex::encode(info.commitment_hash);
    wait_until("Dave to report the mismatch", 60, &[dave], || async {
        health(dave).is_some_and(|v| {
            v["status"] == "degraded"
                && v["disagreements"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| d["kind"] == "epoch_mismatch" && d["index"] == 0))
        })
    })
    .await;
    println!(
        "figure: minority keeper -> /health alert {} ms after the finalisation was seen",
        finalised.elapsed().as_millis()
    );
    let v = health(dave).unwrap();
    let d = v["disagreements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "epoch_mismatch")
        .unwrap()
        .clone();
    let ours = dave.store().epoch(0).unwrap().unwrap();
    assert_eq!(ours.phase, Phase::Mismatch);
    assert_eq!(d["ours"], flex_types::hex::encode(ours.commitment_hash));
    assert_eq!(d["chain"][0], chain_hash.as_str());
    assert_ne!(d["ours"], d["chain"][0]);
    let (_, m) = http_get(dave.port, "/metrics").unwrap();
    assert!(
        m.as_str()
            .unwrap()
            .lines()
            .any(|l| l == "flex_disagreements{kind=\"epoch_mismatch\"} 1"),
        "{m}"
    );
    // The others agree with the chain.
    for k in &keepers[..3] {
        wait_until("the majority to record epoch 0", 60, &[k], || async {
            phase_of(k, 0) == Some((Phase::Finalized, true))
        })
        .await;
    }
    // Dave's input is fixed (the missing action arrives): he recomputes epoch 0 by himself.
    write_atomically(&w.dir.join("dave.json"), &full);
    let fixed = Instant::now();
    wait_until("Dave to converge", 120, &[dave], || async {
        phase_of(dave, 0).is_some_and(|p| p.0 == Phase::Finalized)
            && health(dave).is_some_and(|v| v["disagreements"].as_array().is_some_and(|d| d.is_empty()))
    })
    .await;
    println!(
        "figure: minority keeper converged {} ms after its input was fixed",
        fixed.elapsed().as_millis()
    );
    let rec = dave.store().epoch(0).unwrap().unwrap();
    assert_eq!(rec.commitment_hash, info.commitment_hash);
    // Reported once at error level over all the ticks in between, then resolved.
    assert_eq!(
        count_in_log(dave, "this keeper disagrees with the chain"),
        1,
        "{}",
        dave.log_text()
    );
    assert_eq!(count_in_log(dave, "disagreement resolved"), 1);
}

/// One keeper's database is wiped: `flex-keeper resync` rebuilds its results from its inputs and
/// the chain (the chain's commitments, nothing voted), and once restarted it votes the next epoch
/// with the others, every commitment identical.
#[tokio::test(flavor = "multi_thread")]
async fn a_wiped_keeper_resyncs_to_the_chains_commitments() {
    use flex_store::{Phase, Store};
    let w = world("wiped").await;
    let mut keepers: Vec<KeeperProc> = ["alice", "bob", "charlie"]
        .iter()
        .map(|n| KeeperProc::start(&w, n, None))
        .collect();
    let refs: Vec<&KeeperProc> = keepers.iter().collect();
    travel(&w.chain, GENESIS + DAY + 120).await;
    wait_until("epoch 0 to be finalised at every keeper", 240, &refs, || async {
        keepers
            .iter()
            .all(|k| phase_of(k, 0) == Some((Phase::Finalized, true)))
    })
    .await;
    let charlie = &mut keepers[2];
    charlie.kill9();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", charlie.db.display()));
    }
    let out = Command::new(KEEPER)
        .args(["resync", "--config"])
        .arg(w.dir.join("charlie.toml"))
        .output()
        .expect("run flex-keeper resync");
    assert!(
        out.status.success(),
        "resync failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("resync prints JSON");
    assert_eq!(report["epochs"], serde_json::json!([0]), "{report}");
    assert_eq!(report["epochs_matching"], serde_json::json!([0]), "{report}");
    assert_eq!(report["still_differing"], serde_json::json!([]), "{report}");
    let info0: EpochInfo = w.pool.query::<Option<EpochInfo>>("epoch", 0u64).await.unwrap();
    let rec = charlie.store().epoch(0).unwrap().unwrap();
    assert_eq!(rec.commitment_hash, info0.commitment_hash);
    assert_eq!((rec.phase, rec.voted), (Phase::Finalized, true));

    charlie.restart(&w, None);
    travel(&w.chain, GENESIS + 2 * DAY + 120).await;
    let refs: Vec<&KeeperProc> = keepers.iter().collect();
    wait_until("epoch 1 to be finalised at every keeper", 240, &refs, || async {
        keepers
            .iter()
            .all(|k| phase_of(k, 1) == Some((Phase::Finalized, true)))
    })
    .await;
    let votes: EpochVotes = w.pool.query("epoch_votes", 1u64).await;
    assert_eq!(votes.len(), 1, "one commitment for epoch 1");
    assert_eq!(votes[0].1 .1.len(), 3);
    for k in &keepers {
        for e in 0..2u64 {
            let info: EpochInfo = w.pool.query::<Option<EpochInfo>>("epoch", e).await.unwrap();
            assert_eq!(
                k.store().epoch(e).unwrap().unwrap().commitment_hash,
                info.commitment_hash,
                "{} epoch {e}",
                k.name
            );
        }
    }
}

/// A keeper whose month prices come from the table `prices.toml` (`protocol.claim_prices`).
fn start_with_price_table(w: &World, name: &str) -> KeeperProc {
    let port = free_port();
    let cfg = KeeperProc::config_with(w, name, &w.devnet.url, port, "pool = \"pool.json\"\n");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!("claim_price = \"{CLAIM_PRICE}\""),
        "claim_prices = \"prices.toml\"",
    );
    assert!(text.contains("claim_prices"), "{text}");
    std::fs::write(&cfg, text).unwrap();
    let mut k = KeeperProc {
        name: name.into(),
        child: None,
        log: w.dir.join(format!("{name}.log")),
        port,
        db: w.dir.join(format!("{name}.db")),
    };
    k.spawn(&cfg, None);
    k
}

/// Claim prices from a table by month (issue 16 item 4): January is missing from the table when
/// its epochs finalise, so no keeper builds or votes its root (never a default price); each says
/// so in `/health` (`month_holding` names the month and the file) and in its metrics. Once the
/// operators add January's line, every keeper reads the table again, votes the root with that
/// price and reports healthy again.
#[tokio::test(flavor = "multi_thread")]
async fn a_month_missing_from_the_price_table_waits_and_is_voted_once_priced() {
    const PRICE: u128 = 123_456_789_000;
    let w = world("prices").await;
    let table = w.dir.join("prices.toml");
    write_atomically(&table, "\"2025-12\" = \"1\"\n");
    let keepers: Vec<KeeperProc> = ["alice", "bob", "charlie"]
        .iter()
        .map(|n| start_with_price_table(&w, n))
        .collect();
    let refs: Vec<&KeeperProc> = keepers.iter().collect();
    travel(&w.chain, GENESIS + 3 * DAY + 120).await;
    wait_until(
        "every keeper to hold January for its price",
        240,
        &refs,
        || async {
            keepers
                .iter()
                .all(|k| health(k).is_some_and(|v| v["month_holding"]["month"] == "2026-01"))
        },
    )
    .await;
    assert!(
        w.pool.query::<Option<EpochInfo>>("epoch", 2u64).await.is_some(),
        "January's epochs are finalised"
    );
    for k in &keepers {
        let v = health(k).unwrap();
        assert_eq!(v["status"], "degraded", "{}: {v}", k.name);
        assert_eq!(v["month_holding"]["month_index"], JAN, "{v}");
        let reason = v["month_holding"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("prices.toml") && reason.contains("2026-01"),
            "{reason}"
        );
        assert_eq!(metric(k.port, "flex_month_root_held"), 1, "{}", k.name);
        use flex_store::Store;
        assert!(
            k.store().month(JAN).unwrap().is_none(),
            "{}: no root built",
            k.name
        );
        assert_eq!(
            count_in_log(k, "\"the month's root waits\""),
            1,
            "{}: logged once",
            k.name
        );
    }
    // Give them a few more ticks: still nothing is voted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(w.pool.query::<Option<MonthInfo>>("month", JAN).await.is_none());

    write_atomically(&table, "\"2025-12\" = \"1\"\n\"2026-01\" = \"123456789000\"\n");
    wait_until("January's root, priced from the table", 120, &refs, || async {
        w.pool.query::<Option<MonthInfo>>("month", JAN).await.is_some()
    })
    .await;
    let month: MonthInfo = w.pool.query::<Option<MonthInfo>>("month", JAN).await.unwrap();
    assert_eq!(month.root.claim_price, PRICE);
    wait_until("every keeper healthy again", 60, &refs, || async {
        keepers
            .iter()
            .all(|k| health(k).is_some_and(|v| v["status"] == "ok" && v["month_holding"].is_null()))
    })
    .await;
    for k in &keepers {
        assert_eq!(metric(k.port, "flex_month_root_held"), 0, "{}", k.name);
        use flex_store::Store;
        let m = k.store().month(JAN).unwrap().expect("stored month");
        assert_eq!(m.claim_price, PRICE, "{}", k.name);
    }
}
