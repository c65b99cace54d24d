//! Signed off-chain actions end to end: a real `flex-keeper run` process on a devnet with its API on
//! loopback takes attested batches through `flex-keeper offchain sign` / `submit`, through a raw
//! `POST /v1/actions` and from a signed file dropped in its `offchain.files` folder; refuses a
//! replay, a forged and a stranger's batch, and late actions (`submit` stops for an API at its
//! first refusal); and scores the off-chain actions in
//! the epoch it closes (the wallets' weights through `GET /v1/wallets`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flex_e2e::deploy::{deploy, DeployOptions, Deployment};
use flex_e2e::scenario::{travel, DAY, GENESIS};
use flex_e2e::{account, bundle_path, dev, free_port, http, Devnet};
use flex_evm::EvmKey;
use flex_sources::offchain::{Domain, OffchainAction, Submission};
use serde_json::{json, Value};

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");
// Attester key (a test key, never used elsewhere).
const ATTESTER_KEY: [u8; 32] = [0x5a; 32];

struct Keeper {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl Keeper {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str) -> (u16, Value) {
        http(self.port, "GET", path, None)
            .unwrap_or_else(|| panic!("GET {path}: no answer\n{}", self.log_text()))
    }

    fn post(&self, body: &str) -> (u16, Value) {
        http(self.port, "POST", "/v1/actions", Some(body))
            .unwrap_or_else(|| panic!("POST /v1/actions: no answer\n{}", self.log_text()))
    }

    fn wait_for(&self, what: &str, secs: u64, mut f: impl FnMut(&Keeper) -> bool) {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if f(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("timed out waiting for {what}\n{}", self.log_text());
    }

    fn last_nonce(&self) -> Option<u64> {
        let (_, v) = self.get("/v1/offchain");
        v["attesters"][0]["last_nonce"].as_u64()
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(KEEPER);
    cmd.args(args);
    for p in paths {
        cmd.arg(p);
    }
    cmd.output().expect("run flex-keeper")
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn act(id: &str, wallet: &EvmKey, kind: &str, timestamp: i64) -> Value {
    json!({"action_id": id, "wallet": wallet.address().to_string(), "kind": kind, "timestamp": timestamp})
}

/// `U64F64` weight as the API prints it for small decimals.
fn weight_of(k: &Keeper, wallet: &EvmKey, epoch: u64) -> String {
    let (s, v) = k.get(&format!("/v1/wallets/{}", wallet.address()));
    assert_eq!(s, 200, "{v}");
    v["epochs"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["epoch"] == epoch))
        .and_then(|e| e["weight"].as_str())
        .unwrap_or_else(|| panic!("no epoch {epoch} for the wallet: {v}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_keeper_takes_signed_offchain_batches_over_http_and_files() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    // One keeper (Alice): quorum 1; the pool is not funded.
    let Deployment { pool, .. } = deploy(
        &chain,
        &DeployOptions {
            keepers: vec![account(&dev("alice"))],
            deposit: 0,
            ..DeployOptions::default()
        },
    )
    .await
    .expect("deploy");

    let dir = flex_e2e::repo_root()
        .join("target")
        .join("keeper-e2e")
        .join(format!("offchain-{}", devnet.port));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("signed")).unwrap();
    let w1 = EvmKey::from_hex(&flex_types::hex::encode_digits([1u8; 32]), "w1").unwrap();
    let w2 = EvmKey::from_hex(&flex_types::hex::encode_digits([2u8; 32]), "w2").unwrap();
    let attester = EvmKey::from_hex(&flex_types::hex::encode_digits(ATTESTER_KEY), "attester").unwrap();
    std::fs::write(
        dir.join("attester.key"),
        flex_types::hex::encode_digits(ATTESTER_KEY),
    )
    .unwrap();
    // Two wallets connect on day 0; W1 also swaps on chain.
    let pool_json = json!({"wallets": [
        {"address": w1.address().to_string(), "connected_at": GENESIS + 100,
         "actions": {"onchain": [{"action_id": "chain-1", "kind": "swap", "timestamp": GENESIS + 200}]}},
        {"address": w2.address().to_string(), "connected_at": GENESIS + 150},
    ]});
    std::fs::write(dir.join("pool.json"), pool_json.to_string()).unwrap();
    std::fs::write(
        dir.join("weights.toml"),
        "swap = \"2.5\"\npost = \"1\"\nlike = \"1.5\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("alice.key"), "//Alice").unwrap();
    let port = free_port();
    let cfg = dir.join("keeper.toml");
    std::fs::write(
        &cfg,
        format!(
            "[chain]\nurl = \"{}\"\ncontract = \"0x{}\"\nbundle = \"{}\"\nkey_file = \"alice.key\"\n\
             [protocol]\nweights = \"weights.toml\"\ngenesis = {GENESIS}\ngrace_seconds = 60\n\
             [input]\npool = \"pool.json\"\n[store]\npath = \"keeper.db\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
             [offchain]\nattesters = [\"{}\"]\nkinds = [\"post\", \"like\"]\nfiles = [\"signed\"]\n\
             [service]\npoll_ms = 200\nbackoff_max_ms = 1000\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
            devnet.url,
            flex_types::hex::encode_digits(pool.address.0),
            bundle_path("flex_reward_pool").display(),
            attester.address(),
        ),
    )
    .unwrap();
    let log = dir.join("keeper.log");
    let child = Command::new(KEEPER)
        .args(["run", "--config"])
        .arg(&cfg)
        .env_remove("FLEX_KEEPER_PAUSE_AT")
        .env_remove("FLEX_KEEPER_KEY")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn flex-keeper run");
    let k = Keeper { child, log, port };
    let api = format!("http://127.0.0.1:{port}");

    // The keeper learns its chain when it connects; the API then serves the signing domain.
    let genesis_hash = chain.api().genesis_hash().0;
    k.wait_for("the keeper to record its chain", 120, |k| {
        http(k.port, "GET", "/v1/offchain", None).is_some_and(|(_, v)| v["chain"].is_string())
    });
    let (_, info) = k.get("/v1/offchain");
    assert_eq!(info["chain"], flex_types::hex::encode(genesis_hash));
    assert_eq!(info["contract"], flex_types::hex::encode(pool.address.0));
    assert_eq!(info["attesters"][0]["address"], attester.address().to_string());
    assert_eq!(info["attesters"][0]["last_nonce"], Value::Null);
    let domain = Domain {
        chain: genesis_hash,
        contract: flex_types::AccountId(pool.address.0),
    };

    // 1. `offchain sign` (domain and nonce from the API) and `offchain submit`.
    std::fs::write(
        dir.join("batch1.json"),
        json!([
            act("x:post:1", &w1, "post", GENESIS + 300),
            act("x:like:1", &w2, "like", GENESIS + 400)
        ])
        .to_string(),
    )
    .unwrap();
    let b1 = dir.join("b1.json");
    let out = cli(
        &["offchain", "sign", "--api", &api, "--key"],
        &[&dir.join("attester.key")],
    );
    assert!(!out.status.success(), "no --actions: {}", text(&out));
    let mut sign = Command::new(KEEPER);
    sign.args(["offchain", "sign", "--api", &api, "--key"])
        .arg(dir.join("attester.key"))
        .arg("--actions")
        .arg(dir.join("batch1.json"))
        .arg("--out")
        .arg(&b1);
    let out = sign.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["nonce"], 1, "{printed}");
    let out = cli(&["offchain", "submit", "--api", &api], &[&b1]);
    assert!(out.status.success(), "{}", text(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["answer"]["actions_new"], 2, "{answer}");
    assert_eq!(k.last_nonce(), Some(1));
    // The same file again: the keeper holds it (409 already_accepted), so it counts as delivered.
    let out = cli(&["offchain", "submit", "--api", &api], &[&b1]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"already_accepted\""),
        "{}",
        text(&out)
    );

    // 2. A batch signed here and POSTed as raw HTTP.
    let b2 = Submission {
        attester: attester.address(),
        nonce: 2,
        expires_at: flex_sources::offchain::unix_now() + 600,
        actions: vec![
            OffchainAction {
                action_id: "x:post:2".into(),
                wallet: w1.address(),
                kind: "post".into(),
                timestamp: GENESIS + 500,
            },
            OffchainAction {
                action_id: "x:like:2".into(),
                wallet: w2.address(),
                kind: "like".into(),
                timestamp: GENESIS + 600,
            },
        ],
    }
    .sign(&attester, &domain)
    .unwrap();
    // `submit` stops for an API at its first refusal and says what it did not send there: a
    // forged file first, then the good one, which is therefore not sent.
    let mut forged_b2: Value = serde_json::from_str(&b2.to_json()).unwrap();
    forged_b2["actions"][0]["timestamp"] = json!(GENESIS + 501);
    std::fs::write(dir.join("forged.json"), forged_b2.to_string()).unwrap();
    std::fs::write(dir.join("b2.json"), b2.to_json()).unwrap();
    let out = cli(
        &["offchain", "submit", "--api", &api],
        &[&dir.join("forged.json"), &dir.join("b2.json")],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "{}",
        text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stopped at")
            && err.contains("forged.json")
            && err.contains("not sent there")
            && err.contains("b2.json"),
        "{}",
        text(&out)
    );
    assert_eq!(k.last_nonce(), Some(1));
    let (s, v) = k.post(&b2.to_json());
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["nonce"], 2);
    let (s, v) = k.post(&b2.to_json());
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("already_accepted")),
        "{v}"
    );
    // Another batch under the used nonce: a replay.
    let mut reuse = b2.submission.clone();
    reuse.actions.truncate(1);
    let (s, v) = k.post(&reuse.sign(&attester, &domain).unwrap().to_json());
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("replay")), "{v}");
    // Forged (altered after signing) and a stranger's batch.
    let mut forged: Value = serde_json::from_str(&b2.to_json()).unwrap();
    forged["nonce"] = json!(3);
    let (s, v) = k.post(&forged.to_string());
    assert_eq!((s, v["error"]["field"].as_str()), (401, Some("signature")), "{v}");
    let stranger = EvmKey::from_hex(&flex_types::hex::encode_digits([0x6b; 32]), "stranger").unwrap();
    let mut theirs = b2.submission.clone();
    theirs.attester = stranger.address();
    theirs.nonce = 3;
    let (s, v) = k.post(&theirs.sign(&stranger, &domain).unwrap().to_json());
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("unknown_attester")),
        "{v}"
    );
    assert_eq!(k.last_nonce(), Some(2));

    // 3. Signed offline into the keeper's watched folder: the keeper imports the file itself.
    std::fs::write(
        dir.join("batch3.json"),
        json!({"actions": [act("x:post:3", &w1, "post", GENESIS + 700)]}).to_string(),
    )
    .unwrap();
    let out = Command::new(KEEPER)
        .args(["offchain", "sign", "--nonce", "3", "--chain"])
        .arg(flex_types::hex::encode(genesis_hash))
        .arg("--contract")
        .arg(flex_types::hex::encode(pool.address.0))
        .arg("--key")
        .arg(dir.join("attester.key"))
        .arg("--actions")
        .arg(dir.join("batch3.json"))
        .arg("--out")
        .arg(dir.join("signed").join("b3.json"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    k.wait_for("the signed file to be imported", 60, |k| {
        k.last_nonce() == Some(3)
    });

    // Epoch 0 ends; the keeper closes it with the off-chain actions counted.
    travel(&chain, GENESIS + DAY + 120).await.expect("travel");
    k.wait_for("epoch 0 to be closed", 180, |k| k.get("/v1/epochs/0").0 == 200);
    // W1: swap 2.5 + three posts; W2: two likes of 1.5.
    assert_eq!(weight_of(&k, &w1, 0), "5.5");
    assert_eq!(weight_of(&k, &w2, 0), "3");
    let (_, e0) = k.get("/v1/epochs/0");
    assert_eq!(e0["active"], 2, "{e0}");

    // An action in the closed epoch is refused, naming it; a later one goes through.
    let late = Submission {
        attester: attester.address(),
        nonce: 4,
        expires_at: flex_sources::offchain::unix_now() + 600,
        actions: vec![
            OffchainAction {
                action_id: "x:post:4".into(),
                wallet: w1.address(),
                kind: "post".into(),
                timestamp: GENESIS + DAY + 10,
            },
            OffchainAction {
                action_id: "x:post:late".into(),
                wallet: w1.address(),
                kind: "post".into(),
                timestamp: GENESIS + 800,
            },
        ],
    };
    let (s, v) = k.post(&late.sign(&attester, &domain).unwrap().to_json());
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        (v["error"]["index"].as_u64(), v["error"]["field"].as_str()),
        (Some(1), Some("actions[1].timestamp")),
        "{v}"
    );
    let mut ok = late.clone();
    ok.actions.truncate(1);
    let (s, v) = k.post(&ok.sign(&attester, &domain).unwrap().to_json());
    assert_eq!(s, 200, "{v}");
    assert_eq!(k.last_nonce(), Some(4));
    let log = k.log_text();
    assert_eq!(log.matches("accepted an off-chain batch").count(), 4, "{log}");
    assert!(!log.contains("signed file refused"), "{log}");
}
