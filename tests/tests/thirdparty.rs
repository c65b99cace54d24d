//! Issue 15's acceptance through third-party clients: `tests/thirdparty/pool_lifecycle.mjs` drives
//! the reward pool on a real devnet with polkadot.js' `api-contract` reading only the `.contract`
//! bundles (deploy of both tokens and the pool, keeper votes to quorum, a sweep after the window),
//! an ethers.js `personal_sign` over the documented claim message, and OpenZeppelin's
//! `StandardMerkleTree` for the month root; no project code runs in it. The script asserts
//! balances and events itself; this test then reads the outcome back with the project's own client
//! (the pool's getters, PSP22 balances), so the two views of the chain must agree.
//!
//! Needs `npm ci` in `tests/thirdparty` (`scripts/setup.sh` does); fails, never skips, without it.

use std::process::Command;

use flex_e2e::{
    account,
    deploy::Bundles,
    dev,
    scenario::{Contract, JANUARY_2026},
    AccountId32, Devnet,
};
use serde_json::Value;

fn account_hex(v: &Value, field: &str) -> AccountId32 {
    let s = v[field]
        .as_str()
        .unwrap_or_else(|| panic!("summary field {field} missing: {v}"));
    AccountId32(flex_types::hex::decode::<32>(s).expect("0x + 64 hex digits"))
}

fn amount(v: &Value) -> u128 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal amount: {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn polkadot_js_and_ethers_drive_the_pool_from_its_metadata() {
    let dir = flex_e2e::repo_root().join("tests").join("thirdparty");
    for pkg in ["@polkadot/api-contract", "ethers", "@openzeppelin/merkle-tree"] {
        assert!(
            dir.join("node_modules").join(pkg).exists(),
            "{pkg} is missing in {}: run `npm ci` there (scripts/setup.sh does)",
            dir.display()
        );
    }
    let bundles = Bundles::built().expect("contract bundles");
    let devnet = Devnet::start();
    let out = Command::new("node")
        .arg("pool_lifecycle.mjs")
        .arg(&devnet.url)
        .arg(&bundles.token_path)
        .arg(&bundles.pool_path)
        .current_dir(&dir)
        .output()
        .expect("cannot run `node` (scripts/setup.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "pool_lifecycle.mjs failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON summary from pool_lifecycle.mjs:\n{stdout}\n{stderr}"));
    eprintln!("third-party clients: {}", summary["clients"]);

    // The project's client reads the same chain: what the script deployed, claimed and swept.
    let chain = devnet.connect().await;
    let pool = Contract::new(&chain, &bundles.pool, account_hex(&summary, "pool"));
    let flexe = Contract::new(&chain, &bundles.token, account_hex(&summary, "flexe"));
    let pay = Contract::new(&chain, &bundles.token, account_hex(&summary, "pay"));
    let treasury = account_hex(&summary, "treasury");
    assert_eq!(summary["month_index"], JANUARY_2026);
    assert_eq!(
        pool.query::<AccountId32>("owner", ()).await,
        account(&dev("alice"))
    );
    assert_eq!(pool.query::<AccountId32>("treasury", ()).await, treasury);
    assert_eq!(
        pool.query::<[u8; 32]>("chain_genesis_hash", ()).await,
        chain.api().genesis_hash().0
    );
    assert_eq!(pool.query::<AccountId32>("reward_token", ()).await, flexe.address);

    let month: Option<flex_pool::MonthInfo> = pool.query("month", JANUARY_2026).await;
    let month = month.expect("January finalised by the script's keeper votes");
    let claimed = &summary["claimed"];
    let (claimed_amount, cost) = (amount(&claimed["amount"]), amount(&claimed["cost"]));
    let distributed = amount(&summary["distributed"]);
    assert_eq!(
        flex_types::hex::encode(month.root.claims_root),
        summary["claims_root"].as_str().unwrap(),
        "the OpenZeppelin tree's root is on chain"
    );
    assert_eq!(month.root.total, distributed);
    assert_eq!(month.claimed, claimed_amount);
    assert_eq!(month.claims, 1);
    let wallet: [u8; 20] =
        flex_types::hex::decode(claimed["wallet"].as_str().unwrap()).expect("0x + 40 hex digits");
    assert!(pool.query::<bool>("is_claimed", (JANUARY_2026, wallet)).await);

    let swept = amount(&summary["swept"]);
    assert_eq!(swept, distributed - claimed_amount);
    assert_eq!(
        pool.query::<Option<u128>>("swept", JANUARY_2026).await,
        Some(swept)
    );
    let beneficiary = account_hex(claimed, "beneficiary");
    assert_eq!(beneficiary, account(&dev("ferdie")));
    assert_eq!(flexe.balance_of(&beneficiary).await.unwrap(), claimed_amount);
    assert_eq!(flexe.balance_of(&treasury).await.unwrap(), swept);
    assert_eq!(pay.balance_of(&treasury).await.unwrap(), cost);
    assert!(cost > 0 && claimed_amount > 0 && swept > 0);
}
