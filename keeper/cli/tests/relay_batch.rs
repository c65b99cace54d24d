//! The claim relay batches (issue 18): claims that wait for the relayer while it is busy are
//! submitted together in one `claim_batch`, each HTTP caller getting its own claim's answer; the
//! relayer's fees and balances are in `/metrics`, and `/health` says when its native balance is
//! below `api.relay_min_balance`. One keeper (the pool's only keeper, threshold 1) relays with
//! Eve's key on a devnet.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flex_chain::AccountId32;
use flex_e2e::deploy::{deploy, DeployOptions, Deployment};
use flex_e2e::scenario::{CLAIM_PRICE, DAY, DEPOSIT, FEB_1, GENESIS, JANUARY_2026 as JAN};
use flex_e2e::{account, bundle_path, dev, free_port, http, Devnet};
use flex_pool::MonthInfo;
use serde_json::{json, Value};

struct KeeperProc {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for KeeperProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `flex-keeper run` as Alice, relaying with Eve's key, `api.relay_min_balance = min_balance`.
fn start(dir: &Path, url: &str, pool: &AccountId32, port: u16, min_balance: u128) -> KeeperProc {
    flex_types::secret::write_secret_file(&dir.join("alice.key"), "//Alice").unwrap();
    let cfg = dir.join("alice.toml");
    std::fs::write(
        &cfg,
        format!(
            "[chain]\nurl = \"{url}\"\ncontract = \"0x{}\"\nbundle = \"{}\"\nkey_file = \"alice.key\"\n\
             [protocol]\nweights = \"weights.toml\"\ngenesis = {GENESIS}\ngrace_seconds = 60\nclaim_price = \"{CLAIM_PRICE}\"\n\
             [input]\npool = \"pool.json\"\n[store]\npath = \"alice.db\"\n\
             [api]\nlisten = \"127.0.0.1:{port}\"\nrelay_min_balance = \"{min_balance}\"\n\
             [service]\npoll_ms = 200\nbackoff_max_ms = 1000\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
            flex_types::hex::encode_digits(pool.0),
            bundle_path("flex_reward_pool").display()
        ),
    )
    .unwrap();
    let log = dir.join("alice.log");
    let child = Command::new(env!("CARGO_BIN_EXE_flex-keeper"))
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
    KeeperProc { child, log }
}

/// The value of the series `name` (no labels) in a `/metrics` text.
fn series(text: &str, name: &str) -> Option<u128> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// A gauge as Prometheus stores it (float64): a balance is exact to 53 bits, so it is compared
/// within a relative 1e-12.
fn gauge_is(text: &str, name: &str, want: u128) -> bool {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
        .is_some_and(|v| (v - want as f64).abs() <= want as f64 * 1e-12)
}

fn metrics(port: u16) -> String {
    let (s, m) = http(port, "GET", "/metrics", None).unwrap();
    assert_eq!(s, 200);
    m.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_claims_go_in_one_batch_and_the_relayer_is_accounted() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start();
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
    flex_e2e::scenario::write_sample_pool(dir.path(), &wallets).expect("write the sample pool");
    let eve = account(&dev("eve"));
    pay.call(
        &dev("alice"),
        "PSP22::transfer",
        (&eve, DEPOSIT, Vec::<u8>::new()),
    )
    .await;
    // The threshold sits one unit below Eve's balance before she relays: any fee makes it low.
    let eve_start = chain.native_free(&eve).await.unwrap();
    let port = free_port();
    let keeper = start(dir.path(), &devnet.url, &pool.address, port, eve_start - 1);
    let log = || std::fs::read_to_string(&keeper.log).unwrap_or_default();

    flex_e2e::scenario::travel(&chain, GENESIS + 3 * DAY + 120)
        .await
        .unwrap();
    let until = Instant::now() + Duration::from_secs(240);
    while pool.query::<Option<MonthInfo>>("month", JAN).await.is_none() {
        assert!(
            Instant::now() < until,
            "the month root was not finalised:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    flex_e2e::scenario::travel(&chain, FEB_1 + 3600).await.unwrap();

    // Before any relay: balances as the chain has them, nothing spent, not low.
    let until = Instant::now() + Duration::from_secs(60);
    let health = loop {
        let (_, h) = http(port, "GET", "/health", None).unwrap();
        if h["relay"]["native_balance"].is_string() {
            break h;
        }
        assert!(
            Instant::now() < until,
            "/health shows no relayer balance: {h}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(health["relay"]["account"], flex_types::hex::encode(eve.0));
    assert_eq!(health["relay"]["native_balance"], eve_start.to_string());
    assert_eq!(health["relay"]["payment_balance"], DEPOSIT.to_string());
    assert_eq!(health["relay"]["fees_spent"], "0");
    assert_eq!(health["relay"]["low_balance"], false, "{health}");
    assert!(health["relay"]["message"].is_null(), "{health}");
    assert_eq!(health["relay"]["min_balance"], (eve_start - 1).to_string());

    // Every sample wallet with a January reward signs its claim; all relay at once.
    let mut claims = Vec::new();
    for (i, w) in wallets.iter().enumerate() {
        let beneficiary = AccountId32([0xb0 + i as u8; 32]);
        let (s, c) = http(
            port,
            "GET",
            &format!(
                "/v1/claims/{JAN}/{}?beneficiary={}",
                w.address(),
                flex_types::hex::encode(beneficiary.0)
            ),
            None,
        )
        .unwrap();
        if s != 200 {
            continue;
        }
        let message = c["message"].as_str().unwrap().to_string();
        let signature = flex_types::hex::encode(w.sign_personal(message.as_bytes()).unwrap());
        let amount: u128 = c["amount"].as_str().unwrap().parse().unwrap();
        claims.push((w.address(), beneficiary, amount, signature));
    }
    assert!(claims.len() >= 3, "{} claims", claims.len());
    let relay = |wallet: flex_types::Address, beneficiary: &AccountId32, signature: &str| {
        let body = json!({"signature": signature, "beneficiary": flex_types::hex::encode(beneficiary.0)});
        http(
            port,
            "POST",
            &format!("/v1/claims/{JAN}/{wallet}/relay"),
            Some(&body.to_string()),
        )
        .unwrap()
    };
    // A claim the relay refuses offline (signed for another beneficiary) never reaches the queue.
    let (first_wallet, first_beneficiary, first_amount, first_signature) = claims[0].clone();
    let (s, v) = relay(first_wallet, &AccountId32([0xee; 32]), &first_signature);
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("signer_mismatch")),
        "{v}"
    );
    // The first wallet claims alone (a batch of one), and then relays the same claim again
    // together with every other wallet's: that item is refused on chain's word (already
    // claimed) without costing the relayer anything, and the others are paid in batches.
    let (s, v) = relay(first_wallet, &first_beneficiary, &first_signature);
    assert_eq!(s, 200, "{v}\n{}", log());
    assert_eq!(v["claimed"], true, "{v}");
    assert_eq!(v["amount"], first_amount.to_string());
    let eve_pay_before: u128 = pay.query("PSP22::balance_of", &eve).await;
    let mut callers = Vec::new();
    for (wallet, beneficiary, _, signature) in claims.iter().cloned() {
        callers.push(std::thread::spawn(move || {
            let body = json!({"signature": signature, "beneficiary": flex_types::hex::encode(beneficiary.0)});
            http(
                port,
                "POST",
                &format!("/v1/claims/{JAN}/{wallet}/relay"),
                Some(&body.to_string()),
            )
            .unwrap()
        }));
    }
    let answers: Vec<(u16, Value)> = callers.into_iter().map(|c| c.join().unwrap()).collect();
    assert_eq!(
        (answers[0].0, answers[0].1["error"]["code"].as_str()),
        (409, Some("already_claimed")),
        "{:?}",
        answers[0]
    );

    let mut blocks = std::collections::BTreeMap::<String, usize>::new();
    let mut costs = 0u128;
    for ((wallet, beneficiary, amount, _), (s, v)) in claims.iter().zip(&answers).skip(1) {
        assert_eq!(*s, 200, "{wallet}: {v}\n{}", log());
        assert_eq!(v["claimed"], true, "{v}");
        assert_eq!(v["wallet"], wallet.to_string());
        assert_eq!(v["beneficiary"], flex_types::hex::encode(beneficiary.0));
        assert_eq!(v["amount"], amount.to_string());
        let cost = (amount * CLAIM_PRICE).div_ceil(10u128.pow(19));
        assert_eq!(v["cost"], cost.to_string());
        costs += cost;
        assert!(pool.query::<bool>("is_claimed", (JAN, wallet.0)).await);
        let paid: u128 = flexe.query("PSP22::balance_of", beneficiary).await;
        assert_eq!(paid, *amount, "{wallet}'s beneficiary");
        *blocks
            .entry(v["block"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let paid: u128 = flexe.query("PSP22::balance_of", &first_beneficiary).await;
    assert_eq!(paid, first_amount, "paid once");
    // The relayer paid exactly the costs of the claims paid: nothing for the refused one.
    let eve_pay_after: u128 = pay.query("PSP22::balance_of", &eve).await;
    assert_eq!(eve_pay_before - eve_pay_after, costs);
    // The first caller's claim may go alone (the relayer was idle); the ones that arrived while
    // it was on chain waited and went together.
    assert!(
        blocks.len() < claims.len() - 1 && blocks.values().any(|n| *n >= 2),
        "claims per block: {blocks:?}\n{}",
        log()
    );
    let month: MonthInfo = pool.query::<Option<MonthInfo>>("month", JAN).await.unwrap();
    assert_eq!(month.claims, claims.len() as u64);

    // Fees: counted, and the balance gauges are the chain's (read fresh after the relay paid).
    let text = metrics(port);
    let fees = series(&text, "flex_relay_fees_spent_total").expect("fees series");
    let eve_now = chain.native_free(&eve).await.unwrap();
    assert!(fees > 0, "{text}");
    // Eve paid the fees and the claims' storage deposits, nothing else.
    assert!(
        fees <= eve_start - eve_now,
        "fees {fees}, spent {}",
        eve_start - eve_now
    );
    assert!(
        gauge_is(&text, "flex_relay_native_balance", eve_now),
        "{eve_now}: {text}"
    );
    let eve_pay: u128 = pay.query("PSP22::balance_of", &eve).await;
    assert!(
        gauge_is(&text, "flex_relay_payment_balance", eve_pay),
        "{eve_pay}: {text}"
    );
    assert_eq!(series(&text, "flex_relay_low_balance"), Some(1), "{text}");
    assert_eq!(
        series(&text, "flex_relay_claims_total"),
        Some(claims.len() as u128),
        "{text}"
    );
    assert!(
        text.contains("flex_relay_refused_total{reason=\"already_claimed\"} 1\n")
            && text.contains("flex_relay_refused_total{reason=\"signer_mismatch\"} 1\n"),
        "{text}"
    );
    let (_, h) = http(port, "GET", "/health", None).unwrap();
    assert_eq!(h["relay"]["low_balance"], true, "{h}");
    let message = h["relay"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("below api.relay_min_balance") && message.contains(&eve_now.to_string()),
        "{h}"
    );
    assert_eq!(h["relay"]["native_balance"], eve_now.to_string());
    assert_eq!(h["relay"]["fees_spent"], fees.to_string());
    assert_eq!(
        h["status"], "degraded",
        "a low relayer balance degrades the keeper: {h}"
    );
    let batches = log()
        .lines()
        .filter(|l| l.contains("relayed a batch of claims"))
        .count();
    assert_eq!(batches, blocks.len() + 1, "{}", log());
}
