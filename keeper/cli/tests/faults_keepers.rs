//! Keeper-side faults of issue 14 item 9 on a real devnet with four `flex-keeper run` processes
//! (keepers Alice, Bob, Charlie and Dave, quorum 3): one keeper stopped (SIGSTOP) while the
//! others finalise two epochs and the month; an off-chain batch pair delivered to two keepers and
//! later, out of nonce order, to the other two; one wallet with two `connected_at` values imported
//! in opposite orders; an attester submitting an id that a later input file line uses. In each,
//! every keeper ends with the chain's commitment, identical at all four (read from each keeper's
//! API and from the chain's `epoch` and `epoch_votes`), and reports `ok`. And one fault that
//! cannot converge: two claim prices split the month's votes 2 + 2, and every keeper reports the
//! `month_split` in `/health` and its metrics. And a vote reverted in its block (four votes held
//! in one block, the fourth after the finalisation) is read again, not taken for an outage.
//!
//! `figure:` lines give the time from the fault's injection to agreement (`docs/BENCHMARKS.md`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flex_chain::{AccountId32, Chain};
use flex_e2e::deploy::{deploy, DeployOptions, Deployment};
use flex_e2e::scenario::{Contract as Deployed, CLAIM_PRICE, DAY, GENESIS, JANUARY_2026 as JAN};
use flex_e2e::{account, bundle_path, dev, free_port, http, Devnet};
use flex_evm::EvmKey;
use flex_pool::{EpochCommitment, EpochInfo, MonthInfo, MonthRoot};
use flex_sources::offchain::{Domain, OffchainAction, SignedSubmission, Submission};
use serde_json::{json, Value};
use subxt::backend::rpc::rpc_params;

/// `epoch_votes`: each commitment hash with the commitment and its voters.
type EpochVotes = Vec<([u8; 32], (EpochCommitment, Vec<AccountId32>))>;
/// `month_votes`: each root hash with the root and its voters.
type MonthVotes = Vec<([u8; 32], (MonthRoot, Vec<AccountId32>))>;

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");
const NAMES: [&str; 4] = ["alice", "bob", "charlie", "dave"];
/// Attester key (a test key, never used elsewhere).
const ATTESTER_KEY: [u8; 32] = [0x4d; 32];

async fn travel(chain: &Chain, unix_s: i64) {
    flex_e2e::scenario::travel(chain, unix_s)
        .await
        .expect("time travel");
}

struct World {
    devnet: Devnet,
    chain: Chain,
    pool: Deployed,
    dir: PathBuf,
    wallets: Vec<EvmKey>,
}

/// Deploys the tokens and the pool (keepers Alice, Bob, Charlie, Dave, quorum 3), funds it, and
/// writes the sample activity (`pool.json`) and weight table.
async fn world(name: &str) -> World {
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
    World {
        devnet,
        chain,
        pool,
        dir,
        wallets,
    }
}

impl World {
    /// The off-chain signing domain: this chain and this pool.
    fn domain(&self) -> Domain {
        Domain {
            chain: self.chain.api().genesis_hash().0,
            contract: flex_types::AccountId(self.pool.address.0),
        }
    }

    fn attester(&self) -> EvmKey {
        EvmKey::from_hex(&flex_types::hex::encode_digits(ATTESTER_KEY), "attester").unwrap()
    }
}

struct Keeper {
    name: String,
    child: Option<Child>,
    log: PathBuf,
    port: u16,
}

impl Keeper {
    /// Starts `flex-keeper run` for dev account `name` with `input` as the `[input]` section's keys
    /// and `extra` appended to the config (another section).
    fn start(w: &World, name: &str, input: &str, extra: &str) -> Keeper {
        Self::start_priced(w, name, input, extra, CLAIM_PRICE)
    }

    /// [`Keeper::start`] with another `protocol.claim_price` (part of the month root it votes).
    fn start_priced(w: &World, name: &str, input: &str, extra: &str, claim_price: u128) -> Keeper {
        let port = free_port();
        let cfg = w.dir.join(format!("{name}.toml"));
        std::fs::write(
            w.dir.join(format!("{name}.key")),
            format!("//{}{}", name[..1].to_uppercase(), &name[1..]),
        )
        .unwrap();
        std::fs::write(
            &cfg,
            format!(
                "[chain]\nurl = \"{}\"\ncontract = \"0x{}\"\nbundle = \"{}\"\nkey_file = \"{name}.key\"\n\
                 [protocol]\nweights = \"weights.toml\"\ngenesis = {GENESIS}\ngrace_seconds = 60\nclaim_price = \"{claim_price}\"\n\
                 [input]\n{input}[store]\npath = \"{name}.db\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
                 [service]\npoll_ms = 200\nbackoff_max_ms = 1000\n[log]\nformat = \"json\"\nlevel = \"info\"\n{extra}",
                w.devnet.url,
                flex_types::hex::encode_digits(w.pool.address.0),
                bundle_path("flex_reward_pool").display()
            ),
        )
        .unwrap();
        let log = w.dir.join(format!("{name}.log"));
        let child = Command::new(KEEPER)
            .args(["run", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .env_remove("FLEX_KEEPER_PAUSE_AT")
            .env_remove("FLEX_KEEPER_KEY")
            .env("RUST_LOG", "info")
            .spawn()
            .expect("spawn flex-keeper run");
        Keeper {
            name: name.into(),
            child: Some(child),
            log,
            port,
        }
    }

    /// Sends `signal` (`STOP`, `CONT`) to the process.
    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{signal} {pid}");
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str) -> Option<Value> {
        match http(self.port, "GET", path, None) {
            Some((200, v)) => Some(v),
            _ => None,
        }
    }

    fn post(&self, signed: &SignedSubmission) -> (u16, Value) {
        http(self.port, "POST", "/v1/actions", Some(&signed.to_json()))
            .unwrap_or_else(|| panic!("{}: POST /v1/actions: no answer\n{}", self.name, self.log_text()))
    }

    /// Whether epoch `e` is finalised in this keeper's records (`GET /v1/epochs/{e}`).
    fn finalized(&self, e: u64) -> bool {
        self.get(&format!("/v1/epochs/{e}"))
            .is_some_and(|v| v["finalized"] == true)
    }

    /// `/health` is `ok`: connected, every source ok, nothing held, no disagreement.
    fn healthy(&self) -> bool {
        self.get("/health").is_some_and(|v| {
            v["status"] == "ok"
                && v["holding"].is_null()
                && v["disagreements"].as_array().is_some_and(|d| d.is_empty())
        })
    }

    /// A value of the keeper's Prometheus `/metrics` (`name` with its labels).
    fn metric(&self, name: &str) -> u64 {
        let text = self
            .get("/metrics")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{}: no {name} in /metrics:\n{text}", self.name))
    }

    /// The wallet's `/v1/wallets` answer.
    fn wallet(&self, wallet: &EvmKey) -> Option<Value> {
        self.get(&format!("/v1/wallets/{}", wallet.address()))
    }

    /// The wallet's weight in epoch `e` (decimal, as the API prints it).
    fn weight(&self, wallet: &EvmKey, e: u64) -> String {
        let v = self
            .wallet(wallet)
            .unwrap_or_else(|| panic!("{}: no answer for the wallet", self.name));
        v["epochs"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["epoch"] == e))
            .and_then(|x| x["weight"].as_str())
            .unwrap_or_else(|| panic!("{}: no epoch {e} for the wallet: {v}", self.name))
            .to_string()
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `f` every 250 ms until it holds; after `secs` fails with every keeper's log.
async fn wait_until<F, Fut>(what: &str, secs: u64, keepers: &[Keeper], mut f: F)
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

/// Waits until every keeper records epoch `e` finalised, then checks that the chain finalised one
/// commitment, voted by three distinct keepers, and that each keeper's commitment hash is the
/// chain's. Returns the hash (`0x` hex).
async fn agreed(w: &World, keepers: &[Keeper], e: u64) -> String {
    wait_until(
        &format!("epoch {e} finalised at every keeper"),
        240,
        keepers,
        || async { keepers.iter().all(|k| k.finalized(e)) },
    )
    .await;
    let info: EpochInfo = w
        .pool
        .query::<Option<EpochInfo>>("epoch", e)
        .await
        .expect("finalised on chain");
    let chain_hash = flex_types::hex::encode(info.commitment_hash);
    let votes: EpochVotes = w.pool.query("epoch_votes", e).await;
    assert_eq!(votes.len(), 1, "epoch {e}: one commitment voted");
    let voters = &votes[0].1 .1;
    let mut distinct = voters.clone();
    distinct.sort_by_key(|a| a.0);
    distinct.dedup();
    assert_eq!(
        (voters.len(), distinct.len()),
        (3, 3),
        "epoch {e}: three distinct votes"
    );
    for k in keepers {
        let v = k.get(&format!("/v1/epochs/{e}")).expect("epoch answer");
        assert_eq!(v["commitment_hash"], chain_hash, "{} epoch {e}: {v}", k.name);
    }
    chain_hash
}

/// Every keeper's `/health` is ok and its metrics show no disagreement and no hold.
async fn all_healthy(keepers: &[Keeper]) {
    wait_until("every keeper's /health to be ok", 60, keepers, || async {
        keepers.iter().all(Keeper::healthy)
    })
    .await;
    for k in keepers {
        for kind in ["epoch_mismatch", "epoch_split", "month_mismatch"] {
            assert_eq!(
                k.metric(&format!("flex_disagreements{{kind=\"{kind}\"}}")),
                0,
                "{}",
                k.name
            );
        }
        assert_eq!(k.metric("flex_epoch_close_held"), 0, "{}", k.name);
    }
}

/// Waits until every keeper has connected (it then serves the off-chain signing domain).
async fn connected(keepers: &[Keeper]) {
    wait_until("every keeper to connect", 120, keepers, || async {
        keepers
            .iter()
            .all(|k| k.get("/v1/offchain").is_some_and(|v| v["chain"].is_string()))
    })
    .await;
}

fn offchain_section(w: &World) -> String {
    format!(
        "[offchain]\nattesters = [\"{}\"]\nkinds = [\"post\"]\n",
        w.attester().address()
    )
}

fn post(id: &str, wallet: &EvmKey, timestamp: i64) -> OffchainAction {
    OffchainAction {
        action_id: id.into(),
        wallet: wallet.address(),
        kind: "post".into(),
        timestamp,
    }
}

/// Dave is stopped (SIGSTOP) after epoch 0; the three others finalise epochs 1 and 2 and the
/// January root without him. Resumed, Dave catches up: he records both epochs and the month as
/// the chain finalised them, with the chain's hashes, never votes on them (nor twice, nor
/// another commitment), reports ok, and votes on the next epoch with the others.
#[tokio::test(flavor = "multi_thread")]
async fn a_delayed_keeper_catches_up_without_voting_late_or_differently() {
    let w = world("delayed").await;
    let keepers: Vec<Keeper> = NAMES
        .iter()
        .map(|n| Keeper::start(&w, n, "pool = \"pool.json\"\n", ""))
        .collect();
    let dave = &keepers[3];
    let dave_acc = account(&dev("dave"));
    travel(&w.chain, GENESIS + DAY + 120).await;
    agreed(&w, &keepers, 0).await;

    // Dave stops; epochs 1 and 2, then the month, are finalised by the other three.
    dave.signal("STOP");
    for e in 1..3u64 {
        travel(&w.chain, GENESIS + (e as i64 + 1) * DAY + 120).await;
        wait_until(
            &format!("epoch {e} finalised without Dave"),
            240,
            &keepers[..3],
            || async { w.pool.query::<u64>("next_epoch", ()).await > e },
        )
        .await;
    }
    wait_until(
        "January's root finalised without Dave",
        240,
        &keepers[..3],
        || async { w.pool.query::<Option<MonthInfo>>("month", JAN).await.is_some() },
    )
    .await;
    // Dave did nothing meanwhile (the other three are enough).
    for e in 1..3u64 {
        assert_eq!(
            w.pool
                .query::<Option<[u8; 32]>>("epoch_vote_of", (e, &dave_acc))
                .await,
            None
        );
    }

    dave.signal("CONT");
    let resumed = Instant::now();
    wait_until("Dave to catch up", 240, &keepers[3..], || async {
        (0..3).all(|e| dave.finalized(e))
            && dave
                .get(&format!("/v1/claims/{JAN}/{}", w.wallets[0].address()))
                .is_some_and(|v| v["root_status"] == "finalized")
            && dave.healthy()
    })
    .await;
    println!(
        "figure: keeper stopped over two epochs and a month -> caught up, /health ok {} ms after SIGCONT",
        resumed.elapsed().as_millis()
    );
    for e in 0..3 {
        agreed(&w, &keepers, e).await;
    }
    for e in 1..3u64 {
        assert_eq!(
            w.pool
                .query::<Option<[u8; 32]>>("epoch_vote_of", (e, &dave_acc))
                .await,
            None,
            "Dave never votes on an epoch finalised without him"
        );
        let v = dave.get(&format!("/v1/epochs/{e}")).unwrap();
        assert_eq!(v["voted"], false, "{v}");
    }
    assert_eq!(
        w.pool
            .query::<Option<[u8; 32]>>("month_vote_of", (JAN, &dave_acc))
            .await,
        None,
        "nor on the month"
    );
    // Dave's claim proofs are the chain's root's.
    let month: MonthInfo = w.pool.query::<Option<MonthInfo>>("month", JAN).await.unwrap();
    let claim = dave
        .get(&format!("/v1/claims/{JAN}/{}", w.wallets[0].address()))
        .unwrap();
    assert_eq!(
        claim["claims_root"],
        flex_types::hex::encode(month.root.claims_root),
        "{claim}"
    );

    // The next epoch: all four close it with the same commitment.
    travel(&w.chain, GENESIS + 4 * DAY + 120).await;
    agreed(&w, &keepers, 3).await;
    all_healthy(&keepers).await;
}

/// An attester's two batches reach Alice and Bob in nonce order, then Charlie and Dave later with
/// nonce 2 before nonce 1, all before epoch 0 closes: every keeper accepts both, and all four
/// close epoch 0 with the identical commitment, the off-chain actions counted.
#[tokio::test(flavor = "multi_thread")]
async fn offchain_batches_delivered_late_and_out_of_order_give_one_commitment() {
    let w = world("offchain-order").await;
    // A wallet of its own, connected in epoch 0, with only off-chain actions.
    let solo = EvmKey::from_hex(&flex_types::hex::encode_digits([0x71u8; 32]), "solo").unwrap();
    std::fs::write(
        w.dir.join("solo.jsonl"),
        format!(
            "{{\"wallet\":\"{}\",\"connected_at\":{}}}\n",
            solo.address(),
            GENESIS + 50
        ),
    )
    .unwrap();
    let extra = offchain_section(&w);
    let keepers: Vec<Keeper> = NAMES
        .iter()
        .map(|n| Keeper::start(&w, n, "pool = \"pool.json\"\nactions = \"solo.jsonl\"\n", &extra))
        .collect();
    connected(&keepers).await;
    let (attester, domain) = (w.attester(), w.domain());
    let expires_at = GENESIS + 2 * DAY;
    let b1 = Submission {
        attester: attester.address(),
        nonce: 1,
        expires_at,
        actions: vec![
            post("p-1", &solo, GENESIS + 1000),
            post("p-2", &solo, GENESIS + 1100),
        ],
    }
    .sign(&attester, &domain)
    .unwrap();
    let b2 = Submission {
        attester: attester.address(),
        nonce: 2,
        expires_at,
        actions: vec![
            post("p-3", &solo, GENESIS + 1200),
            post("p-4", &w.wallets[0], GENESIS + 1300),
        ],
    }
    .sign(&attester, &domain)
    .unwrap();

    let injected = Instant::now();
    for k in &keepers[..2] {
        for b in [&b1, &b2] {
            let (s, v) = k.post(b);
            assert_eq!(s, 200, "{}: {v}", k.name);
        }
    }
    // Delivered again to Alice: held already, nothing changes.
    let (s, v) = keepers[0].post(&b1);
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("already_accepted")),
        "{v}"
    );
    travel(&w.chain, GENESIS + DAY / 2).await;
    for k in &keepers[2..] {
        for b in [&b2, &b1] {
            let (s, v) = k.post(b);
            assert_eq!(s, 200, "{} (nonce 2 before nonce 1): {v}", k.name);
            assert_eq!(v["actions_new"], 2, "{v}");
        }
    }
    travel(&w.chain, GENESIS + DAY + 120).await;
    let hash = agreed(&w, &keepers, 0).await;
    println!(
        "figure: off-chain batches at two keepers, later at two more out of nonce order -> four identical \
         commitments {} ms after the first delivery (epoch close included)",
        injected.elapsed().as_millis()
    );
    println!("epoch 0 commitment {hash}");
    for k in &keepers {
        // Three posts (weight 1 each); wallet 0: its swap (2.5) and one post.
        assert_eq!(k.weight(&solo, 0), "3", "{}", k.name);
        assert_eq!(k.weight(&w.wallets[0], 0), "3.5", "{}", k.name);
    }
    all_healthy(&keepers).await;
}

/// One wallet has two connection times in two input files. Alice and Bob import the earlier
/// first (the later file arrives mid-run), Charlie and Dave the later first (their files listed
/// in the opposite order too). The earliest wins at every keeper, whatever the order: one
/// commitment for epoch 0, which holds the wallet's action of that epoch.
#[tokio::test(flavor = "multi_thread")]
async fn a_wallet_connected_twice_gives_one_commitment_in_either_import_order() {
    let w = world("connected-at").await;
    let wallet = EvmKey::from_hex(&flex_types::hex::encode_digits([0x72u8; 32]), "twice").unwrap();
    let (early_at, late_at) = (GENESIS + 100, GENESIS + DAY + 100);
    let swap = format!(
        "{{\"action_id\":\"twice-swap\",\"wallet\":\"{}\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":{}}}\n",
        wallet.address(),
        GENESIS + 5000
    );
    let line = |at: i64| {
        format!(
            "{{\"wallet\":\"{}\",\"connected_at\":{at}}}\n{swap}",
            wallet.address()
        )
    };
    let file = |n: &str, which: &str| w.dir.join(format!("{n}-{which}.jsonl"));
    let mut keepers = Vec::new();
    for (i, n) in NAMES.iter().enumerate() {
        let early_first = i < 2;
        let (first, second) = if early_first {
            ("early", "late")
        } else {
            ("late", "early")
        };
        std::fs::write(file(n, first), line(if early_first { early_at } else { late_at })).unwrap();
        std::fs::write(file(n, second), "").unwrap();
        keepers.push(Keeper::start(
            &w,
            n,
            &format!("pool = \"pool.json\"\nactions = [\"{n}-{first}.jsonl\", \"{n}-{second}.jsonl\"]\n"),
            "",
        ));
    }
    let connected_at = |k: &Keeper| k.wallet(&wallet).and_then(|v| v["connected_at"].as_i64());
    wait_until("every keeper to import its first file", 120, &keepers, || async {
        keepers.iter().all(|k| connected_at(k).is_some())
    })
    .await;
    for (i, k) in keepers.iter().enumerate() {
        let first = if i < 2 { early_at } else { late_at };
        assert_eq!(connected_at(k), Some(first), "{}", k.name);
    }
    // The second file arrives at each keeper.
    let injected = Instant::now();
    for (i, n) in NAMES.iter().enumerate() {
        let (second, at) = if i < 2 {
            ("late", late_at)
        } else {
            ("early", early_at)
        };
        let path = file(n, second);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, line(at)).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }
    wait_until(
        "the earliest connection to win at every keeper",
        120,
        &keepers,
        || async { keepers.iter().all(|k| connected_at(k) == Some(early_at)) },
    )
    .await;
    println!(
        "figure: one wallet, two connected_at, opposite import orders -> the same connection at four keepers {} ms \
         after the second file",
        injected.elapsed().as_millis()
    );
    travel(&w.chain, GENESIS + DAY + 120).await;
    agreed(&w, &keepers, 0).await;
    for k in &keepers {
        assert_eq!(k.weight(&wallet, 0), "2.5", "{}", k.name);
        assert_eq!(k.wallet(&wallet).unwrap()["connection_epoch"], 0, "{}", k.name);
    }
    all_healthy(&keepers).await;
}

/// The attester submits an action with the id `act-42` to every keeper; later a line of the
/// input file uses `act-42` for another action. The attester's id lives in its namespace
/// (`off:0x<attester>:act-42`): no conflict, the file imports at every keeper, both actions
/// count, and the four commit the same epoch 0.
#[tokio::test(flavor = "multi_thread")]
async fn an_attester_cannot_take_a_later_files_id() {
    let w = world("attester-id").await;
    std::fs::write(w.dir.join("actions.jsonl"), "").unwrap();
    let extra = offchain_section(&w);
    let keepers: Vec<Keeper> = NAMES
        .iter()
        .map(|n| {
            Keeper::start(
                &w,
                n,
                "pool = \"pool.json\"\nactions = \"actions.jsonl\"\n",
                &extra,
            )
        })
        .collect();
    connected(&keepers).await;
    let (attester, domain) = (w.attester(), w.domain());
    let taken = Submission {
        attester: attester.address(),
        nonce: 1,
        expires_at: GENESIS + 2 * DAY,
        actions: vec![post("act-42", &w.wallets[0], GENESIS + 1500)],
    }
    .sign(&attester, &domain)
    .unwrap();
    for k in &keepers {
        let (s, v) = k.post(&taken);
        assert_eq!(s, 200, "{}: {v}", k.name);
    }
    let before: Vec<u64> = keepers
        .iter()
        .map(|k| k.metric("flex_imported_actions_total"))
        .collect();

    // The file's own act-42: another wallet, kind and time.
    let path = w.dir.join("actions.jsonl");
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        format!(
            "{{\"action_id\":\"act-42\",\"wallet\":\"{}\",\"kind\":\"swap\",\"side\":\"onchain\",\"timestamp\":{}}}\n",
            w.wallets[1].address(),
            GENESIS + 1600
        ),
    )
    .unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let injected = Instant::now();
    let name = path.display().to_string();
    wait_until(
        "the file to be imported at every keeper",
        120,
        &keepers,
        || async {
            keepers.iter().zip(&before).all(|(k, b)| {
                k.metric("flex_imported_actions_total") == b + 1
                    && k.get("/health").is_some_and(|v| {
                        v["sources"].as_array().is_some_and(|s| {
                            s.iter().any(|s| s["name"] == name.as_str() && s["state"] == "ok")
                        })
                    })
            })
        },
    )
    .await;
    println!(
        "figure: input line reusing an attester's id -> imported cleanly at four keepers in {} ms",
        injected.elapsed().as_millis()
    );
    for k in &keepers {
        let v = k.get("/health").unwrap();
        let src = v["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name.as_str())
            .unwrap()
            .clone();
        assert_eq!(
            (&src["failures"], &src["error"]),
            (&json!(0), &Value::Null),
            "{}: {src}",
            k.name
        );
    }
    travel(&w.chain, GENESIS + DAY + 120).await;
    agreed(&w, &keepers, 0).await;
    println!(
        "figure: attester id taken -> four identical commitments {} ms after the file line (epoch close included)",
        injected.elapsed().as_millis()
    );
    for k in &keepers {
        // Wallet 0: its swap (2.5) and the attester's post; wallet 1: its post (1) and the file's swap.
        assert_eq!(k.weight(&w.wallets[0], 0), "3.5", "{}", k.name);
        assert_eq!(k.weight(&w.wallets[1], 0), "3.5", "{}", k.name);
    }
    all_healthy(&keepers).await;
}

/// Alice and Bob are configured with another claim price than Charlie and Dave: the epochs agree,
/// but January's roots differ (same total), and the month's votes split 2 + 2 with quorum 3, so
/// no root can ever be finalised. Every keeper reads the month's votes and reports the split:
/// `/health` degraded with a `month_split` naming its root and both roots with their votes, the
/// metric `flex_disagreements{kind="month_split"}` is 1, logged once at error level.
#[tokio::test(flavor = "multi_thread")]
async fn a_split_month_vote_is_reported_by_every_keeper() {
    let w = world("month-split").await;
    let keepers: Vec<Keeper> = NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let price = if i < 2 { CLAIM_PRICE } else { CLAIM_PRICE / 2 };
            Keeper::start_priced(&w, n, "pool = \"pool.json\"\n", "", price)
        })
        .collect();
    for e in 0..3u64 {
        travel(&w.chain, GENESIS + (e as i64 + 1) * DAY + 120).await;
        agreed(&w, &keepers, e).await;
    }
    wait_until("four votes on January's root", 240, &keepers, || async {
        let votes: MonthVotes = w.pool.query("month_votes", JAN).await;
        votes.iter().map(|v| v.1 .1.len()).sum::<usize>() == 4
    })
    .await;
    let split_at = Instant::now();
    let votes: MonthVotes = w.pool.query("month_votes", JAN).await;
    assert_eq!(votes.len(), 2, "two roots");
    assert!(votes.iter().all(|v| v.1 .1.len() == 2), "2 + 2");
    assert!(w.pool.query::<Option<MonthInfo>>("month", JAN).await.is_none());
    let month_split = |k: &Keeper| {
        k.get("/health").and_then(|v| {
            (v["status"] == "degraded")
                .then(|| {
                    v["disagreements"]
                        .as_array()?
                        .iter()
                        .find(|d| d["kind"] == "month_split" && d["index"] == u64::from(JAN))
                        .cloned()
                })
                .flatten()
        })
    };
    wait_until("every keeper to report the split month", 60, &keepers, || async {
        keepers.iter().all(|k| month_split(k).is_some())
    })
    .await;
    println!(
        "figure: month votes split 2 + 2 -> month_split at four keepers {} ms after the fourth vote was seen",
        split_at.elapsed().as_millis()
    );
    let hex32 = |h: &[u8; 32]| flex_types::hex::encode(h);
    let mut listed: Vec<String> = votes.iter().map(|v| format!("{}:2", hex32(&v.0))).collect();
    listed.sort();
    for (k, n) in keepers.iter().zip(NAMES) {
        let d = month_split(k).unwrap();
        let me = account(&dev(n));
        let mine = votes.iter().find(|v| v.1 .1.contains(&me)).expect("voted");
        assert_eq!(d["ours"], hex32(&mine.0), "{}: {d}", k.name);
        let mut chain: Vec<String> = d["chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect();
        chain.sort();
        assert_eq!(chain, listed, "{}: {d}", k.name);
        assert_eq!(
            k.metric("flex_disagreements{kind=\"month_split\"}"),
            1,
            "{}",
            k.name
        );
        assert_eq!(
            k.log_text()
                .matches("this keeper disagrees with the chain")
                .count(),
            1,
            "{}: reported once over every tick\n{}",
            k.name,
            k.log_text()
        );
    }
}

/// chopsticks' block building: `Manual` holds every extrinsic in the pool until `dev_newBlock`.
async fn block_mode(chain: &Chain, mode: &str) {
    let _: Value = chain
        .rpc()
        .request("dev_setBlockBuildMode", rpc_params![mode])
        .await
        .expect("dev_setBlockBuildMode");
}

/// Four keepers vote epoch 0 while blocks are held: every dry run passes, and the four votes
/// land in one block, where the fourth fails (`ContractReverted`: the third finalised the epoch).
/// That keeper is told the vote did not land and reads the chain again, keeping its connection
/// (no "chain unavailable", no reconnect): it records the chain's commitment, not voted, and
/// reports ok.
#[tokio::test(flavor = "multi_thread")]
async fn a_vote_reverted_in_its_block_is_read_again_not_taken_for_an_outage() {
    let w = world("reverted").await;
    let keepers: Vec<Keeper> = NAMES
        .iter()
        .map(|n| Keeper::start(&w, n, "pool = \"pool.json\"\n", ""))
        .collect();
    connected(&keepers).await;
    block_mode(&w.chain, "Manual").await;
    travel(&w.chain, GENESIS + DAY + 120).await;
    wait_until("the four votes to wait in the pool", 240, &keepers, || async {
        let pending: Value = w
            .chain
            .rpc()
            .request("author_pendingExtrinsics", rpc_params![])
            .await
            .expect("author_pendingExtrinsics");
        pending.as_array().is_some_and(|p| p.len() == 4)
    })
    .await;
    flex_e2e::scenario::travel(&w.chain, GENESIS + DAY + 180)
        .await
        .expect("the block with the four votes");
    let built = Instant::now();
    block_mode(&w.chain, "Instant").await;
    agreed(&w, &keepers, 0).await;
    println!(
        "figure: vote reverted in its block -> the keeper records the chain's commitment {} ms after the block",
        built.elapsed().as_millis()
    );
    let late: Vec<&Keeper> = keepers
        .iter()
        .filter(|k| k.get("/v1/epochs/0").is_some_and(|v| v["voted"] == false))
        .collect();
    assert_eq!(late.len(), 1, "one vote failed in the block");
    let k = late[0];
    let log = k.log_text();
    assert!(
        log.contains("vote did not land") && log.contains("ContractReverted"),
        "{}:\n{log}",
        k.name
    );
    assert!(!log.contains("chain unavailable"), "{}:\n{log}", k.name);
    assert_eq!(k.metric("flex_chain_reconnects_total"), 0, "{}", k.name);
    assert!(k.metric("flex_errors_total") >= 1, "{}: counted", k.name);
    all_healthy(&keepers).await;
}
