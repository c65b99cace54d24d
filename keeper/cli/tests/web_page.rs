//! The claimer page served by `flex-keeper run` at `/`, in headless Chromium against three real
//! keepers on a devnet: a wallet's score array renders as one cell per epoch, the page builds the
//! `docs/PROTOCOL.md` claim message, an injected EIP-1193 provider signs it with a real secp256k1
//! key, the claim goes through the keeper's relay (`POST /v1/claims/{month}/{address}/relay`) and
//! the page shows it claimed; after a pause inside the claim window, the page shows the pool's
//! extended close; the owner's announcement of a keeper removal shows in every keeper's /health. Also: the page's JS claim message against `flex_evm::claim_message`
//! vectors, and the relay's 4xx answers.
//!
//! Needs Debian's `chromium` and `npm ci` in `tests/web` (both installed by `scripts/setup.sh`);
//! the tests fail, never skip, without them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flex_chain::{AccountId32, Chain};
use flex_e2e::deploy::{deploy, DeployOptions, Deployment};
use flex_e2e::scenario::{CLAIM_PRICE, DAY, DEPOSIT, FEB_1, GENESIS, JANUARY_2026 as JAN, MAR_1};
use flex_e2e::{account, bundle_path, dev, free_port, http, Devnet};
use flex_pool::MonthInfo;
use serde_json::{json, Value};

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");

fn web_dir() -> PathBuf {
    flex_e2e::repo_root().join("tests").join("web")
}

/// Fails (never skips) when the browser or the npm packages are missing.
fn require_browser_tools() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "/usr/bin/chromium is missing: install Debian's `chromium` package (scripts/setup.sh does)"
    );
    let pw = web_dir().join("node_modules").join("playwright-core");
    let ethers = web_dir().join("node_modules").join("ethers");
    assert!(
        pw.exists() && ethers.exists(),
        "{} is missing: run `npm ci` in tests/web (scripts/setup.sh does)",
        pw.display()
    );
}

fn out_dir(name: &str) -> PathBuf {
    let dir = flex_e2e::repo_root().join("target").join("web-e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test output dir");
    dir
}

fn node(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = Command::new("node");
    cmd.args(args).current_dir(web_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .expect("cannot run `node` (scripts/setup.sh installs it)")
}

/// chain, contract, month, wallet, amount, beneficiary.
type Vector = ([u8; 32], [u8; 32], u32, [u8; 20], u128, [u8; 32]);

/// The page's claim message (keeper/api/web/claim.js, run by node) equals the Rust reference.
#[test]
fn the_pages_claim_message_matches_flex_evm() {
    let cases: [Vector; 5] = [
        ([0x33; 32], [0x11; 32], 24311, [0xaa; 20], 1000, [0x22; 32]),
        ([0; 32], [0; 32], 24312, [0; 20], 0, [0; 32]),
        (
            [0xff; 32],
            [0xff; 32],
            u32::MAX,
            [0xff; 20],
            u128::MAX,
            [0xff; 32],
        ),
        (
            [0xc3; 32],
            [0x5a; 32],
            2026 * 12 + 11,
            [0x0f; 20],
            1_234_567_890_123_456_789,
            [0xa5; 32],
        ),
        ([0x9e; 32], [0x01; 32], 0, [0x10; 20], 7, [0x02; 32]),
    ];
    let vectors: Vec<Value> = cases
        .iter()
        .map(|(g, c, m, w, a, b)| {
            json!({
                "chain": flex_types::hex::encode(g),
                "contract": flex_types::hex::encode(c),
                "month_index": m,
                "wallet": flex_evm::Address(*w).to_string(),
                "amount": a.to_string(),
                "beneficiary": flex_types::hex::encode(b),
                "message": flex_evm::claim_message(g, c, *m, &flex_evm::Address(*w), *a, b),
            })
        })
        .collect();
    // SS58 (prefix 42, as subxt writes it) of dev accounts and a few byte patterns.
    let mut accounts: Vec<AccountId32> = ["alice", "bob", "eve", "ferdie"]
        .iter()
        .map(|n| account(&dev(n)))
        .collect();
    accounts.extend([
        AccountId32([0; 32]),
        AccountId32([0xff; 32]),
        AccountId32([0x22; 32]),
    ]);
    let ss58: Vec<Value> = accounts
        .iter()
        .map(|a| json!({"ss58": a.to_string(), "hex": flex_types::hex::encode(a.0)}))
        .collect();
    // Amounts in a token's units: the page's formatUnits against flex_chain::format_units (the CLI's).
    let units: Vec<Value> = [
        (0u128, 12u8),
        (1, 12),
        (1_500_000_000_000, 12),
        (2_000_000_000_000, 12),
        (123, 0),
        (1230, 3),
        (999_999_999_999_999, 12),
        (u128::MAX, 18),
        (u128::MAX, 0),
        (7, 40),
    ]
    .iter()
    .map(|(a, d)| json!({"amount": a.to_string(), "decimals": d, "text": flex_chain::format_units(*a, *d)}))
    .collect();
    let dir = out_dir("claim-message");
    let file = dir.join("vectors.json");
    std::fs::write(
        &file,
        json!({"messages": vectors, "ss58": ss58, "units": units}).to_string(),
    )
    .unwrap();
    let out = node(&["claim_message.mjs", &file.display().to_string()], &[]);
    assert!(
        out.status.success(),
        "the page's claim message differs from flex_evm::claim_message:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{}", String::from_utf8_lossy(&out.stdout).trim());
}

async fn travel(chain: &Chain, unix_s: i64) {
    flex_e2e::scenario::travel(chain, unix_s)
        .await
        .expect("time travel");
}

struct KeeperProc {
    name: String,
    child: Child,
    log: PathBuf,
    port: u16,
}

impl KeeperProc {
    /// `flex-keeper run` as `name` (its key `//Name`); `relayer`: `FLEX_RELAYER_KEY`.
    fn start(dir: &Path, url: &str, pool: &AccountId32, name: &str, relayer: Option<&str>) -> Self {
        let port = free_port();
        let cfg = dir.join(format!("{name}.toml"));
        flex_types::secret::write_secret_file(
            &dir.join(format!("{name}.key")),
            format!("//{}{}", name[..1].to_uppercase(), &name[1..]),
        )
        .unwrap();
        std::fs::write(
            &cfg,
            format!(
                "[chain]\nurl = \"{url}\"\ncontract = \"0x{}\"\nbundle = \"{}\"\nkey_file = \"{name}.key\"\n\
                 [protocol]\nweights = \"weights.toml\"\ngenesis = {GENESIS}\ngrace_seconds = 60\nclaim_price = \"{CLAIM_PRICE}\"\n\
                 [input]\npool = \"pool.json\"\n[store]\npath = \"{name}.db\"\n[api]\nlisten = \"127.0.0.1:{port}\"\n\
                 [service]\npoll_ms = 200\nbackoff_max_ms = 1000\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
                flex_types::hex::encode_digits(pool.0),
                bundle_path("flex_reward_pool").display()
            ),
        )
        .unwrap();
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(KEEPER);
        cmd.args(["run", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(file)
            .env_remove("FLEX_KEEPER_PAUSE_AT")
            .env_remove("FLEX_KEEPER_KEY")
            .env_remove("FLEX_RELAYER_KEY")
            .env("RUST_LOG", "info");
        if let Some(r) = relayer {
            cmd.env("FLEX_RELAYER_KEY", r);
        }
        KeeperProc {
            name: name.into(),
            child: cmd.spawn().expect("spawn flex-keeper run"),
            log,
            port,
        }
    }
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for KeeperProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn logs(keepers: &[KeeperProc]) -> String {
    keepers
        .iter()
        .map(|k| format!("--- {} ---\n{}\n", k.name, k.log_text()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn claimer_page_in_headless_chromium() {
    require_browser_tools();
    let out = out_dir("claimer-page");
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let Deployment { flexe, pay, pool, .. } =
        deploy(&chain, &DeployOptions::default()).await.expect("deploy");
    let wallets = flex_e2e::scenario::evm_wallets().expect("the sample wallets");
    flex_e2e::scenario::write_sample_pool(&out, &wallets).expect("write the sample pool");

    // Three keepers; Alice's API relays claims with Eve's key (Eve holds the payment token).
    let keepers: Vec<KeeperProc> = ["alice", "bob", "charlie"]
        .iter()
        .map(|n| {
            let relayer = (*n == "alice").then_some("//Eve");
            KeeperProc::start(&out, &devnet.url, &pool.address, n, relayer)
        })
        .collect();
    travel(&chain, GENESIS + 3 * DAY + 120).await;
    let until = Instant::now() + Duration::from_secs(240);
    while pool.query::<Option<MonthInfo>>("month", JAN).await.is_none() {
        assert!(
            Instant::now() < until,
            "the month root was not finalised:\n{}",
            logs(&keepers)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    travel(&chain, FEB_1 + 3600).await;
    // A four-hour pause inside January's window: the pool extends it, and the page must show the
    // pool's close, not the calendar's (1 March).
    pool.call(&dev("alice"), "pause", ()).await;
    travel(&chain, FEB_1 + 5 * 3600).await;
    pool.call(&dev("alice"), "unpause", ()).await;
    let (open, window_close) = pool
        .query::<Option<(u64, u64)>>("claim_window", JAN)
        .await
        .expect("January's window");
    assert_eq!(open, FEB_1 as u64);
    assert!(
        window_close >= MAR_1 as u64 + 4 * 3600 - 60 && window_close < MAR_1 as u64 + 4 * 3600 + 120,
        "extended by the pause: {window_close}"
    );
    let eve = account(&dev("eve"));
    pay.call(
        &dev("alice"),
        "PSP22::transfer",
        (&eve, DEPOSIT, Vec::<u8>::new()),
    )
    .await;

    let port = keepers[0].port;
    let wallet = wallets[0].address().to_string();
    let ferdie = account(&dev("ferdie"));
    let beneficiary = flex_types::hex::encode(ferdie.0);
    // The page and its assets come from the keeper.
    let (s, page) = http(port, "GET", "/", None).unwrap();
    assert_eq!(s, 200);
    assert!(page.as_str().unwrap_or("").contains("<title>Flex rewards"));
    let (s, v) = http(port, "GET", &format!("/v1/wallets/{wallet}"), None).unwrap();
    assert_eq!(s, 200, "{v}");
    let scores = v["scores"].as_str().unwrap().to_string();
    // The sample month's known array for wallet 1: three epochs, scores F, F, 8.
    assert_eq!(scores, "FF8", "{v}");
    let epochs: Vec<u64> = v["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["epoch"].as_u64().unwrap())
        .collect();
    let (s, c) = http(
        port,
        "GET",
        &format!("/v1/claims/{JAN}/{wallet}?beneficiary={beneficiary}"),
        None,
    )
    .unwrap();
    assert_eq!(s, 200, "{c}");
    let amount: u128 = c["amount"].as_str().unwrap().parse().unwrap();
    let genesis_hash = chain.api().genesis_hash().0;
    // The published distribution: every keeper serves the same tree, and OpenZeppelin's own
    // loader (tests/oz) validates it, checks every proof and finds the root finalised on chain.
    let month = pool
        .query::<Option<MonthInfo>>("month", JAN)
        .await
        .expect("January is finalised");
    let tree_path = format!("/v1/months/{JAN}/tree");
    // Each keeper serves it once it has seen the chain finalise its root (a tick at most).
    let published = |port: u16| {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let (s, tree) = http(port, "GET", &tree_path, None).unwrap();
            if s == 200 || Instant::now() > until {
                return (s, tree);
            }
            assert_eq!(
                (s, &tree["error"]["code"]),
                (409, &json!("not_finalized")),
                "{tree}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    let (s, tree) = published(port);
    assert_eq!(s, 200, "{tree}");
    for k in &keepers[1..] {
        assert_eq!(published(k.port), (200, tree.clone()));
    }
    let dump_file = out.join("january-tree.json");
    std::fs::write(&dump_file, tree.to_string()).unwrap();
    let oz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oz/oz.js");
    let checked = Command::new("node")
        .arg(&oz)
        .arg("validate")
        .arg(&dump_file)
        .output()
        .expect("run node tests/oz/oz.js");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let checked: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(checked["root"], flex_types::hex::encode(month.root.claims_root));
    let leaves = tree["values"].as_array().map(Vec::len).unwrap_or(0) as u64;
    assert!(leaves > 0);
    assert_eq!(checked["proofs"].as_u64(), Some(leaves));
    let (s, listed) = http(port, "GET", &format!("/v1/wallets/{wallet}/claims"), None).unwrap();
    assert_eq!(s, 200, "{listed}");
    assert_eq!(listed["claims"][0]["month_index"], JAN);
    assert_eq!(listed["claims"][0]["amount"], amount.to_string());
    assert_eq!(listed["claims"][0]["root_status"], "finalized");
    assert_eq!(c["chain"], flex_types::hex::encode(genesis_hash));
    let message = flex_evm::claim_message(
        &genesis_hash,
        &pool.address.0,
        JAN,
        &wallets[0].address(),
        amount,
        &ferdie.0,
    );
    assert_eq!(c["message"], message.as_str());
    assert_eq!(
        c["window"],
        json!({"calendar_close": MAR_1, "close": window_close, "open": FEB_1, "paused": false}),
        "the API answers the pool's window"
    );

    // The relay's input checks (4xx JSON, nothing submitted).
    let good_sig = format!(
        "0x{}",
        flex_types::hex::encode_digits(wallets[0].sign_personal(message.as_bytes()).unwrap())
    );
    let other_sig = format!(
        "0x{}",
        flex_types::hex::encode_digits(wallets[1].sign_personal(message.as_bytes()).unwrap())
    );
    let relay = format!("/v1/claims/{JAN}/{wallet}/relay");
    for (path, body, code, err) in [
        (relay.clone(), "not json".to_string(), 400, "bad_body"),
        (
            relay.clone(),
            json!({"signature": "0x12", "beneficiary": beneficiary}).to_string(),
            400,
            "bad_signature",
        ),
        // An SS58 beneficiary is read (as hex is): Alice's is another account than the signed one.
        (
            relay.clone(),
            json!({"signature": good_sig, "beneficiary": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"})
                .to_string(),
            401,
            "signer_mismatch",
        ),
        // A wrong SS58 checksum is not an account.
        (
            relay.clone(),
            json!({"signature": good_sig, "beneficiary": "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ"})
                .to_string(),
            400,
            "bad_beneficiary",
        ),
        (
            relay.clone(),
            json!({"signature": good_sig, "beneficiary": "0x1234"}).to_string(),
            400,
            "bad_beneficiary",
        ),
        (
            relay.clone(),
            json!({"signature": other_sig, "beneficiary": beneficiary}).to_string(),
            401,
            "signer_mismatch",
        ),
        (
            relay.clone(),
            json!({"signature": good_sig, "beneficiary": flex_types::hex::encode([9u8; 32])}).to_string(),
            401,
            "signer_mismatch",
        ),
        (
            format!("/v1/claims/{}/{wallet}/relay", JAN + 1),
            json!({"signature": good_sig, "beneficiary": beneficiary}).to_string(),
            404,
            "unknown_month",
        ),
        (
            format!("/v1/claims/{JAN}/0x12/relay"),
            json!({"signature": good_sig, "beneficiary": beneficiary}).to_string(),
            400,
            "bad_address",
        ),
    ] {
        let (s, v) = http(port, "POST", &path, Some(&body)).unwrap();
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (code, Some(err)),
            "{path} {body}: {v}"
        );
    }

    // What the pool would refuse is refused before the relayer (Eve) pays anything: signatures
    // ethers still recovers (high s, v = 4/31/37), the pool as beneficiary, a paused pool.
    let eve_native = chain.native_free(&eve).await.unwrap();
    let eve_pay: u128 = pay.query("PSP22::balance_of", &eve).await;
    let sig = wallets[0].sign_personal(message.as_bytes()).unwrap();
    let mut refused: Vec<(String, u16, &str)> = [4u8, 31, 37]
        .iter()
        .map(|v| {
            let mut s = sig;
            s[64] = *v;
            (flex_types::hex::encode(s), 401, "bad_signature")
        })
        .collect();
    let n: [u8; 32] =
        flex_types::hex::decode("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
            .unwrap();
    let mut high = sig;
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(n[i]) - i16::from(sig[32 + i]) - borrow;
        borrow = i16::from(d < 0);
        high[32 + i] = (d + 256 * borrow) as u8;
    }
    high[64] = if sig[64] == 27 { 28 } else { 27 };
    assert_eq!(
        flex_evm::recover_personal(message.as_bytes(), &high).unwrap(),
        wallets[0].address(),
        "ethers recovers the high-s twin"
    );
    refused.push((flex_types::hex::encode(high), 401, "bad_signature"));
    for (signature, code, err) in &refused {
        let (s, v) = http(
            port,
            "POST",
            &relay,
            Some(&json!({"signature": signature, "beneficiary": beneficiary}).to_string()),
        )
        .unwrap();
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (*code, Some(*err)),
            "{signature}: {v}"
        );
    }
    let to_pool = flex_evm::claim_message(
        &genesis_hash,
        &pool.address.0,
        JAN,
        &wallets[0].address(),
        amount,
        &pool.address.0,
    );
    let to_pool_sig = flex_types::hex::encode(wallets[0].sign_personal(to_pool.as_bytes()).unwrap());
    let (s, v) = http(
        port,
        "POST",
        &relay,
        Some(
            &json!({"signature": to_pool_sig, "beneficiary": flex_types::hex::encode(pool.address.0)})
                .to_string(),
        ),
    )
    .unwrap();
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_beneficiary")),
        "{v}"
    );
    pool.call(&dev("alice"), "pause", ()).await;
    let (s, v) = http(
        port,
        "POST",
        &relay,
        Some(&json!({"signature": good_sig, "beneficiary": beneficiary}).to_string()),
    )
    .unwrap();
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("paused")), "{v}");
    pool.call(&dev("alice"), "unpause", ()).await;
    // That pause moved the close again (by its few seconds): the page shows the chain's close.
    let (_, moved) = pool
        .query::<Option<(u64, u64)>>("claim_window", JAN)
        .await
        .expect("January's window");
    assert!(moved >= window_close, "{moved} < {window_close}");
    let window_close = moved;
    assert_eq!(
        chain.native_free(&eve).await.unwrap(),
        eve_native,
        "the relayer paid no fee"
    );
    let eve_pay_now: u128 = pay.query("PSP22::balance_of", &eve).await;
    assert_eq!(eve_pay_now, eve_pay, "nor any claim cost");

    // The browser: render, sign with the injected provider, claim through the relay.
    let before: u128 = flexe.query("PSP22::balance_of", &ferdie).await;
    let pay_before: u128 = pay.query("PSP22::balance_of", &eve).await;
    // /v1/info names the tokens' units, read from the tokens; the page shows amounts in them.
    let (s, info) = http(port, "GET", "/v1/info", None).unwrap();
    assert_eq!(s, 200, "{info}");
    assert_eq!(
        info["tokens"]["reward"],
        json!({"address": flex_types::hex::encode(flexe.address.0), "decimals": 12, "symbol": "FLEXE"})
    );
    assert_eq!(
        info["tokens"]["payment"],
        json!({"address": flex_types::hex::encode(pay.address.0), "decimals": 12, "symbol": "PAY"})
    );
    let job = json!({
        "amount_display": format!("{} FLEXE", flex_chain::format_units(amount, 12)),
        "base": format!("http://127.0.0.1:{port}"),
        "wallet": wallet,
        "key": flex_types::hex::encode([1u8; 32]),
        "scores": scores,
        "epochs": epochs,
        "month": JAN,
        "beneficiary": beneficiary,
        "beneficiary_ss58": ferdie.to_string(),
        "message": message,
        "window_close": window_close,
        "out": out.display().to_string(),
    });
    let run =
        tokio::task::spawn_blocking(move || node(&["claim_page.mjs"], &[("FLEX_WEB_JOB", job.to_string())]))
            .await
            .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(
        run.status.success(),
        "the browser test failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&run.stderr),
        logs(&keepers)
    );
    let result: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|_| panic!("the browser test printed no JSON: {stdout}"));
    assert_eq!(result["month_status"], "claimed");
    let after: u128 = flexe.query("PSP22::balance_of", &ferdie).await;
    assert_eq!(after, before + amount, "the beneficiary received the amount");
    let cost = (amount * CLAIM_PRICE).div_ceil(10u128.pow(19));
    let pay_after: u128 = pay.query("PSP22::balance_of", &eve).await;
    assert_eq!(
        pay_after,
        pay_before - cost,
        "the relayer (Eve) paid the claim cost"
    );
    assert!(
        pool.query::<bool>("is_claimed", (JAN, wallets[0].address().0))
            .await
    );
    // A second relay is refused before anything is submitted.
    let (s, v) = http(
        port,
        "POST",
        &relay,
        Some(&json!({"signature": good_sig, "beneficiary": beneficiary}).to_string()),
    )
    .unwrap();
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("already_claimed")),
        "{v}"
    );
    for shot in result["screenshots"].as_array().unwrap() {
        let path = shot.as_str().unwrap();
        assert!(Path::new(path).exists(), "{path}");
        println!("screenshot: {path}");
    }
    println!("browser result: {result}");

    // The keepers' view of governance: the owner announces Charlie's removal; every keeper's
    // /health lists it with the chain's eta (Charlie's as touching itself), its metrics count it,
    // and each keeper logs the announcement at warn level.
    let charlie = account(&dev("charlie"));
    pool.call(
        &dev("alice"),
        "announce",
        flex_pool::GovernanceAction::RemoveKeeper(charlie.0),
    )
    .await;
    let on_chain: Vec<(u64, flex_pool::PendingChange)> = pool.query("pending_changes", ()).await;
    assert_eq!(on_chain.len(), 1);
    let (id, change) = &on_chain[0];
    let until = Instant::now() + Duration::from_secs(60);
    for k in &keepers {
        let pending = loop {
            let (_, h) = http(k.port, "GET", "/health", None).unwrap();
            let p = h["governance"]["pending"].clone();
            if p.as_array().is_some_and(|a| !a.is_empty()) {
                break p;
            }
            assert!(
                Instant::now() < until,
                "{}'s /health shows no pending change: {h}",
                k.name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(
            pending,
            json!([{
                "action": "remove_keeper",
                "announced_at": change.announced_at,
                "eta": change.executable_at,
                "expires": change.expires_at,
                "id": id,
                "target": flex_types::hex::encode(charlie.0),
                "this_keeper": k.name == "charlie",
            }]),
            "{}",
            k.name
        );
        let (_, m) = http(k.port, "GET", "/metrics", None).unwrap();
        let text = m.as_str().unwrap_or_default();
        assert!(
            text.lines()
                .any(|l| l == "flex_governance_pending{action=\"remove_keeper\"} 1"),
            "{text}"
        );
        let log = k.log_text();
        assert!(
            log.lines()
                .any(|l| l.contains("WARN") && l.contains("governance change announced")),
            "{}'s log has no warning:\n{log}",
            k.name
        );
    }
}
