//! `flex-keeper follow-substrate` (the followers `flex-keeper run` starts in the background) on a
//! real devnet: balances transfers become `transfer` actions of the senders' wallets with the ids
//! the chain's events give; `--once` stops at the finalized head and a second `--once` resumes after
//! the cursor; a follower killed with SIGKILL while following resumes with nothing lost or doubled;
//! `flex-keeper run` runs the same follower in the background;
//! a kind missing from the weight table is refused with the key named and nothing imported.
//! (`tests/tests/substrate_follower.rs` covers contract events, timestamps, node outages and
//! cursor checks in process.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use flex_chain::{Chain, Keypair};
use flex_e2e::{account, dev, AccountId32, Devnet};
use flex_sources::substrate::wallet_of_account;
use flex_store::{ActionRow, SqliteStore, Store};
use serde_json::Value;
use subxt::dynamic::Value as Dyn;

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");

fn out_dir(name: &str) -> PathBuf {
    let dir = flex_e2e::repo_root()
        .join("target")
        .join("substrate-e2e")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test output dir");
    dir
}

fn write_config(dir: &Path, url: &str, kind: &str) -> PathBuf {
    std::fs::write(dir.join("weights.toml"), "transfer = \"1\"\n").expect("weights");
    let config = dir.join("keeper.toml");
    std::fs::write(
        &config,
        format!(
            r#"[chain]
contract = "0x1111111111111111111111111111111111111111111111111111111111111111"
bundle = "unused.contract"
[protocol]
weights = "weights.toml"
[store]
path = "keeper.db"

[[substrate]]
name = "devnet"
url = "{url}"
start_block = 1
poll_ms = 500

[[substrate.map]]
pallet = "Balances"
event = "Transfer"
wallet = "from"
kind = "{kind}"
"#
        ),
    )
    .expect("config");
    config
}

fn follow_once(config: &Path) -> Output {
    Command::new(KEEPER)
        .args(["follow-substrate", "--once", "--config"])
        .arg(config)
        .output()
        .expect("run flex-keeper")
}

fn summary(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "flex-keeper follow-substrate failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().expect("a summary line");
    serde_json::from_str(line).expect("summary JSON")
}

/// A balances transfer; returns the expected action id.
async fn transfer(chain: &Chain, from: &Keypair, to: &AccountId32) -> String {
    let tx = subxt::dynamic::tx(
        "Balances",
        "transfer_keep_alive",
        vec![
            Dyn::unnamed_variant("Id", [Dyn::from_bytes(to.0)]),
            Dyn::u128(1_000_000_000_000),
        ],
    );
    let (block, events) = chain.submit(&tx, from).await.expect("transfer");
    let index = events
        .iter()
        .map(|e| e.expect("event"))
        .find(|e| e.pallet_name() == "Balances" && e.variant_name() == "Transfer")
        .map(|e| e.index())
        .expect("a Balances.Transfer");
    let number: u64 = chain
        .api()
        .blocks()
        .at(block)
        .await
        .expect("block")
        .number()
        .into();
    format!(
        "sub:0x{}:{number}:{index}",
        flex_types::hex::encode_digits(chain.api().genesis_hash().0)
    )
}

/// The stored actions' wallets, kinds and sides, sorted.
fn stored(dir: &Path) -> Vec<(flex_types::Address, String)> {
    let store = SqliteStore::open(dir.join("keeper.db")).expect("store");
    let mut rows: Vec<(flex_types::Address, String)> = store
        .actions_between(0, i64::MAX)
        .expect("actions")
        .into_iter()
        .map(|(w, k, _)| (w, k))
        .collect();
    rows.sort();
    rows
}

fn wallet(k: &Keypair) -> flex_types::Address {
    wallet_of_account(&account(k).0)
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_substrate_cli() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let dir = out_dir("cli");
    let (bob, charlie, dave, eve) = (dev("bob"), dev("charlie"), dev("dave"), dev("eve"));

    // A kind the weight table lacks: refused before anything is read, the key named.
    let bad = write_config(&dir, &devnet.url, "swap");
    let out = follow_once(&bad);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("substrate[0].map[0].kind") && stderr.contains("not in the weight table"),
        "{stderr}"
    );
    assert!(!dir.join("keeper.db").exists(), "nothing opened");

    let config = write_config(&dir, &devnet.url, "transfer");
    let mut ids = vec![
        transfer(&chain, &bob, &account(&eve)).await,
        transfer(&chain, &charlie, &account(&eve)).await,
    ];
    let first = summary(&follow_once(&config));
    let head: u64 = chain
        .api()
        .blocks()
        .at_latest()
        .await
        .expect("head")
        .number()
        .into();
    assert_eq!(first["resumed_from"], Value::Null);
    assert_eq!(first["first_block"], 1);
    assert_eq!(first["cursor"]["block"], head);
    assert_eq!(
        (first["actions_new"].as_u64(), first["actions_known"].as_u64()),
        (Some(2), Some(0))
    );

    // A second --once resumes after the cursor.
    ids.push(transfer(&chain, &dave, &account(&eve)).await);
    let second = summary(&follow_once(&config));
    assert_eq!(second["resumed_from"], first["cursor"]);
    assert_eq!(second["first_block"], head + 1);
    assert_eq!(
        (second["actions_new"].as_u64(), second["actions_known"].as_u64()),
        (Some(1), Some(0))
    );

    // Following, killed with SIGKILL, then resumed: every transfer once.
    let mut child = Command::new(KEEPER)
        .args(["follow-substrate", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start follow-substrate");
    ids.push(transfer(&chain, &bob, &account(&dave)).await);
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored(&dir).len() < 4 {
        assert!(
            Instant::now() < deadline,
            "the running follower did not import the transfer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    ids.push(transfer(&chain, &eve, &account(&bob)).await);
    let third = summary(&follow_once(&config));
    assert_eq!(
        (third["actions_new"].as_u64(), third["actions_known"].as_u64()),
        (Some(1), Some(0))
    );

    // The same follower in the background of `flex-keeper run` (its keeper loop has no pool
    // contract to talk to here and keeps retrying; the follower does not depend on it).
    let pool_bundle = flex_e2e::bundle_path("flex_reward_pool");
    let text = std::fs::read_to_string(&config).expect("config");
    let run_config = dir.join("keeper-run.toml");
    std::fs::write(
        &run_config,
        text.replace(
            "bundle = \"unused.contract\"",
            &format!("bundle = {:?}", pool_bundle.display().to_string()),
        ),
    )
    .expect("run config");
    let mut keeper = Command::new(KEEPER)
        .args(["run", "--config"])
        .arg(&run_config)
        .env("FLEX_KEEPER_KEY", "//Ferdie")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("run.log")).expect("run log"))
        .spawn()
        .expect("start flex-keeper run");
    ids.push(transfer(&chain, &charlie, &account(&bob)).await);
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored(&dir).len() < 6 {
        if let Ok(Some(status)) = keeper.try_wait() {
            let log = std::fs::read_to_string(dir.join("run.log")).unwrap_or_default();
            panic!("flex-keeper run exited ({status}):\n{log}");
        }
        assert!(
            Instant::now() < deadline,
            "flex-keeper run did not import the transfer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    keeper.kill().expect("stop flex-keeper run");
    let _ = keeper.wait();

    let mut expected = vec![
        (wallet(&charlie), "transfer".to_string()),
        (wallet(&bob), "transfer".to_string()),
        (wallet(&charlie), "transfer".to_string()),
        (wallet(&dave), "transfer".to_string()),
        (wallet(&bob), "transfer".to_string()),
        (wallet(&eve), "transfer".to_string()),
    ];
    expected.sort();
    assert_eq!(stored(&dir), expected);
    // Each id is stored for its sender: the same id with another timestamp conflicts on exactly
    // that field (wallet, side and kind are compared first), never imports as new.
    let store = SqliteStore::open(dir.join("keeper.db")).expect("store");
    let senders = [&bob, &charlie, &dave, &bob, &eve, &charlie];
    for (id, sender) in ids.iter().zip(senders) {
        let probe = ActionRow {
            action_id: id.clone(),
            wallet: wallet(sender),
            kind: "transfer".into(),
            side: "onchain".into(),
            timestamp: -1,
        };
        let err = store
            .import("probe", &[], &[probe])
            .expect_err("the id is stored");
        assert!(err.to_string().contains("another timestamp"), "{id}: {err}");
    }
    drop(devnet);
}
