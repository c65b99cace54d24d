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
    std::fs::write(dir.join("wallet1.key"), hex::encode([1u8; 32])).unwrap();
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
    fn config(w: &World, name: &str, url: &str, port: u16) -> PathBuf {
        let cfg = w.dir.join(format!("{name}.toml"));
        std::fs::write(
            w.dir.join(format!("{name}.key")),
            format!("//{}{}", name[..1].to_uppercase(), &name[1..]),
        )
        .unwrap();
        let bundle = bundle_path("flex_reward_pool");
        std::fs::write(
            &cfg,
            format!(
                "[chain]\nurl = \"{url}\"\ncontract = \"0x{}\"\nbundle = \"{}\"\nkey_file = \"{name}.key\"\n\
                 [protocol]\nweights = \"weights.toml\"\ngenesis = {GENESIS}\ngrace_seconds = 60\nclaim_price = \"{CLAIM_PRICE}\"\n\
                 [input]\npool = \"pool.json\"\n[store]\npath = \"{name}.db\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
                 [service]\npoll_ms = 200\nbackoff_max_ms = 1000\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
                hex::encode(w.pool.address.0),
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
        let port = free_port();
        let cfg = Self::config(w, name, url, port);
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
        .args(["--beneficiary", &format!("0x{}", hex::encode(ferdie.0))])
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
        .args(["--beneficiary", &format!("0x{}", hex::encode(ferdie.0))])
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

/// Reads a counter from the keeper's Prometheus `/metrics`.
fn metric(port: u16, name: &str) -> u64 {
    let (_, body) = http_get(port, "/metrics").expect("metrics answer");
    let text = body.as_str().unwrap_or_default().to_string();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{text}"))
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
