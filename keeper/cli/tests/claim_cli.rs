//! `flex-keeper claim` as a user runs it, against a keeper (`flex-keeper run`, the only keeper of
//! its pool, relaying with Eve's key) that finalised January 2026 on a devnet: `--month 2026-01`
//! and an SS58 beneficiary; the amounts in the tokens' symbols and decimals read from the tokens;
//! the transaction hash and block, checked on chain; no signer is a clear error; a paused pool,
//! a claimed month and a closed window fail before any transaction (the signer's native balance,
//! payment-token balance and allowance to the pool unchanged); `--relay` lets the keeper pay.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flex_chain::{AccountId32, Chain, H256};
use flex_e2e::deploy::{deploy, DeployOptions, Deployment};
use flex_e2e::scenario::{
    Contract, CLAIM_PRICE, DAY, DEPOSIT, FEB_1, GENESIS, JANUARY_2026 as JAN, MAR_1, TOKEN_DECIMALS,
};
use flex_e2e::{account, bundle_path, dev, free_port, http_get, Devnet};
use flex_pool::MonthInfo;
use serde_json::Value;

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");

async fn travel(chain: &Chain, unix_s: i64) {
    flex_e2e::scenario::travel(chain, unix_s)
        .await
        .expect("time travel");
}

struct KeeperProc {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl KeeperProc {
    fn start(dir: &Path, url: &str, pool: &AccountId32) -> Self {
        let port = free_port();
        let cfg = dir.join("alice.toml");
        flex_types::secret::write_secret_file(&dir.join("alice.key"), "//Alice").unwrap();
        std::fs::write(
            &cfg,
            format!(
                "[chain]\nurl = \"{url}\"\ncontract = \"0x{}\"\nbundle = \"{}\"\nkey_file = \"alice.key\"\n\
                 [protocol]\nweights = \"weights.toml\"\ngenesis = {GENESIS}\ngrace_seconds = 60\nclaim_price = \"{CLAIM_PRICE}\"\n\
                 [input]\npool = \"pool.json\"\n[store]\npath = \"alice.db\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
                 [service]\npoll_ms = 200\nbackoff_max_ms = 1000\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
                flex_types::hex::encode_digits(pool.0),
                bundle_path("flex_reward_pool").display()
            ),
        )
        .unwrap();
        let log = dir.join("alice.log");
        let child = Command::new(KEEPER)
            .args(["run", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .env_remove("FLEX_KEEPER_PAUSE_AT")
            .env_remove("FLEX_KEEPER_KEY")
            .env("FLEX_RELAYER_KEY", "//Eve")
            .env("RUST_LOG", "info")
            .spawn()
            .expect("spawn flex-keeper run");
        KeeperProc { child, log, port }
    }
}

impl Drop for KeeperProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `flex-keeper claim` with `args` (no signer in the environment).
fn claim(args: &[String]) -> Output {
    Command::new(KEEPER)
        .arg("claim")
        .args(args)
        .env_remove("FLEX_CLAIM_SIGNER")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run flex-keeper claim")
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The signer's native balance, payment-token balance and allowance to the pool.
async fn purse(chain: &Chain, pay: &Contract, pool: &Contract, who: &AccountId32) -> (u128, u128, u128) {
    (
        chain.native_free(who).await.unwrap(),
        pay.query("PSP22::balance_of", who).await,
        pay.query("PSP22::allowance", (who, &pool.address)).await,
    )
}

/// `amount` base units with 12 decimals, written by hand: integer part, point, digits without
/// trailing zeros.
fn twelve_decimals(amount: u128) -> String {
    let unit = 10u128.pow(u32::from(TOKEN_DECIMALS));
    let frac = format!("{:012}", amount % unit);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        (amount / unit).to_string()
    } else {
        format!("{}.{frac}", amount / unit)
    }
}

/// The transaction `tx` is in block `block` (by the block's own extrinsic hashes), and the block's
/// number is `number`.
async fn on_chain(chain: &Chain, block: &str, tx: &str, number: u64) {
    let hash = H256(flex_types::hex::decode::<32>(block).expect("block hash"));
    let b = chain.api().blocks().at(hash).await.expect("the block");
    assert_eq!(u64::from(b.number()), number, "block number");
    let hashes: Vec<String> = b
        .extrinsics()
        .await
        .unwrap()
        .iter()
        .map(|e| format!("{:?}", e.hash()))
        .collect();
    assert!(hashes.iter().any(|h| h == tx), "{tx} not among {hashes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn claim_cli_checks_before_paying_and_shows_units() {
    let dir = flex_e2e::repo_root().join("target").join("claim-cli");
    let devnet = Devnet::start();
    let dir = dir.join(devnet.port.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let chain = devnet.connect().await;
    let Deployment { flexe, pay, pool, .. } = deploy(
        &chain,
        &DeployOptions {
            keepers: vec![account(&dev("alice"))],
            ..DeployOptions::default()
        },
    )
    .await
    .expect("deploy");
    let wallets = flex_e2e::scenario::evm_wallets().expect("the sample wallets");
    flex_e2e::scenario::write_sample_pool(&dir, &wallets).expect("write the sample pool");
    for i in 1u8..=3 {
        flex_types::secret::write_secret_file(
            &dir.join(format!("wallet{i}.key")),
            flex_types::hex::encode_digits([i; 32]),
        )
        .unwrap();
    }
    flex_types::secret::write_secret_file(&dir.join("dave.key"), "//Dave\n").unwrap();
    let keeper = KeeperProc::start(&dir, &devnet.url, &pool.address);
    travel(&chain, GENESIS + 3 * DAY + 120).await;
    let until = Instant::now() + Duration::from_secs(300);
    while pool.query::<Option<MonthInfo>>("month", JAN).await.is_none() {
        assert!(
            Instant::now() < until,
            "the month root was not finalised:\n{}",
            std::fs::read_to_string(&keeper.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    travel(&chain, FEB_1 + 3600).await;
    // Dave pays claims with his own key; Eve is the keeper's relayer.
    let dave = account(&dev("dave"));
    let eve = account(&dev("eve"));
    for who in [&dave, &eve] {
        pay.call(&dev("alice"), "PSP22::transfer", (who, DEPOSIT, Vec::<u8>::new()))
            .await;
    }
    let api = format!("http://127.0.0.1:{}", keeper.port);
    // The keeper's /v1/info names the same units (the claimer page shows amounts in them).
    let (_, info) = http_get(keeper.port, "/v1/info").unwrap();
    assert_eq!(
        info["tokens"]["reward"],
        serde_json::json!({"address": flex_types::hex::encode(flexe.address.0), "decimals": TOKEN_DECIMALS, "symbol": "FLEXE"}),
        "{info}"
    );
    assert_eq!(info["tokens"]["payment"]["symbol"], "PAY", "{info}");
    let ferdie = account(&dev("ferdie"));
    let args = |wallet: u8, beneficiary: &str, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec![
            "--month".into(),
            "2026-01".into(),
            "--wallet-key".into(),
            dir.join(format!("wallet{wallet}.key")).display().to_string(),
            "--beneficiary".into(),
            beneficiary.into(),
            "--api".into(),
            api.clone(),
            "--url".into(),
            devnet.url.clone(),
            "--bundle".into(),
            bundle_path("flex_reward_pool").display().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let dave_file = dir.join("dave.key").display().to_string();
    let with_dave = ["--signer-file", dave_file.as_str()];
    let ferdie_ss58 = ferdie.to_string();
    assert!(ferdie_ss58.starts_with('5'), "{ferdie_ss58}");

    // No signer and no relay: a clear error, nothing sent.
    let before = purse(&chain, &pay, &pool, &dave).await;
    let out = claim(&args(1, &ferdie_ss58, &[]));
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no signer") && err.contains("--signer-file") && err.contains("--relay"),
        "{}",
        text(&out)
    );
    assert!(out.stdout.is_empty(), "{}", text(&out));

    // A paused pool: refused before any transaction.
    pool.call(&dev("alice"), "pause", ()).await;
    let out = claim(&args(1, &ferdie_ss58, &with_dave));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("paused"),
        "{}",
        text(&out)
    );
    assert_eq!(purse(&chain, &pay, &pool, &dave).await, before, "paid nothing");
    pool.call(&dev("alice"), "unpause", ()).await;

    // The claim: `--month 2026-01`, an SS58 beneficiary, Dave's key file.
    let (_, c) = http_get(keeper.port, &format!("/v1/claims/{JAN}/{}", wallets[0].address())).unwrap();
    let amount: u128 = c["amount"].as_str().unwrap().parse().unwrap();
    let ferdie_before: u128 = flexe.query("PSP22::balance_of", &ferdie).await;
    let out = claim(&args(1, &ferdie_ss58, &with_dave));
    assert!(out.status.success(), "{}", text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("claim prints JSON");
    let cost = (amount * CLAIM_PRICE).div_ceil(10u128.pow(19));
    assert_eq!(printed["month"], "2026-01");
    assert_eq!(printed["month_index"], JAN);
    assert_eq!(printed["claimed"], true);
    assert_eq!(printed["relayed"], false);
    assert_eq!(printed["amount"], amount.to_string());
    assert_eq!(printed["cost"], cost.to_string());
    assert_eq!(printed["beneficiary"], flex_types::hex::encode(ferdie.0));
    assert_eq!(printed["beneficiary_ss58"], ferdie_ss58);
    assert_eq!(printed["submitter"], dave.to_string());
    assert_eq!(printed["reward_token"]["symbol"], "FLEXE");
    assert_eq!(printed["reward_token"]["decimals"], TOKEN_DECIMALS);
    assert_eq!(printed["payment_token"]["symbol"], "PAY");
    assert_eq!(printed["payment_token"]["decimals"], TOKEN_DECIMALS);
    assert_eq!(
        printed["amount_display"],
        format!("{} FLEXE", twelve_decimals(amount))
    );
    assert_eq!(printed["cost_display"], format!("{} PAY", twelve_decimals(cost)));
    let tx = printed["tx_hash"].as_str().expect("tx_hash").to_string();
    let block = printed["block"].as_str().expect("block").to_string();
    let number = printed["block_number"].as_u64().expect("block_number");
    on_chain(&chain, &block, &tx, number).await;
    let approve = printed["approve_tx"].as_str().expect("approve_tx");
    assert_ne!(approve, tx);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{} FLEXE", twelve_decimals(amount)))
            && err.contains(&tx)
            && err.contains(&format!("block #{number}")),
        "{}",
        text(&out)
    );
    let ferdie_after: u128 = flexe.query("PSP22::balance_of", &ferdie).await;
    assert_eq!(ferdie_after, ferdie_before + amount);

    // The same month again: refused before any transaction (the old CLI approved first).
    let before = purse(&chain, &pay, &pool, &dave).await;
    let out = claim(&args(1, &ferdie_ss58, &with_dave));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already claimed"),
        "{}",
        text(&out)
    );
    assert_eq!(purse(&chain, &pay, &pool, &dave).await, before, "paid nothing");

    // Through the keeper's relay: Eve pays, Dave nothing; the transaction is found on chain.
    let eve_pay_before: u128 = pay.query("PSP22::balance_of", &eve).await;
    let out = claim(&args(2, &flex_types::hex::encode(ferdie.0), &["--relay", &api]));
    assert!(out.status.success(), "{}", text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("claim prints JSON");
    assert_eq!(printed["claimed"], true);
    assert_eq!(printed["relayed"], true);
    assert_eq!(printed["submitter"], flex_types::hex::encode(eve.0));
    let relay_cost: u128 = printed["cost"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        pay.query::<u128>("PSP22::balance_of", &eve).await,
        eve_pay_before - relay_cost
    );
    on_chain(
        &chain,
        printed["block"].as_str().unwrap(),
        printed["tx_hash"].as_str().expect("the relayed claim's tx_hash"),
        printed["block_number"].as_u64().unwrap(),
    )
    .await;
    assert_eq!(
        purse(&chain, &pay, &pool, &dave).await,
        before,
        "Dave paid nothing"
    );

    // After the window (1 March, later by the pause): refused before any transaction.
    let (_, close) = pool
        .query::<Option<(u64, u64)>>("claim_window", JAN)
        .await
        .expect("January's window");
    assert!(close >= MAR_1 as u64);
    travel(&chain, close as i64 + 10).await;
    let out = claim(&args(3, &ferdie_ss58, &with_dave));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("closed"),
        "{}",
        text(&out)
    );
    assert_eq!(purse(&chain, &pay, &pool, &dave).await, before, "paid nothing");
}
