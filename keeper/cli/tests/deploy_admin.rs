//! `flex-keeper deploy` and `flex-keeper admin` as an operator runs them on a devnet: deploy two
//! new tokens and a pool from a TOML file (accounts in SS58 and hex), funded; the chain holds what
//! the output says (addresses, code hashes, constructor values, the deposit); `admin` announces a
//! keeper's addition, refuses to execute it before the delay and a non-owner's pause without
//! sending anything, executes it after the delay (the devnet's clock moved), pauses and unpauses,
//! each checked on chain. Key files readable by others are refused.

use std::path::Path;
use std::process::{Command, Output};

use flex_chain::{AccountId32, Chain, H256};
use flex_e2e::scenario::{travel, Contract, GENESIS};
use flex_e2e::{account, bundle, bundle_path, dev, Devnet};
use flex_pool::PendingChange;
use serde_json::Value;

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");

fn keeper(args: &[&str]) -> Output {
    Command::new(KEEPER)
        .args(args)
        .env_remove("FLEX_ADMIN_KEY")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run flex-keeper")
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok_json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn fails_with(o: &Output, want: &str) {
    assert!(!o.status.success(), "{}", text(o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(want),
        "want {want:?}: {}",
        text(o)
    );
}

/// A printed `{"ss58", "hex"}` as an account, both forms agreeing.
fn printed_account(v: &Value) -> AccountId32 {
    let hex: [u8; 32] = flex_types::hex::decode(v["hex"].as_str().expect("hex")).unwrap();
    let a = AccountId32(hex);
    assert_eq!(v["ss58"], a.to_string(), "{v}");
    a
}

/// The printed transaction is in the printed block, whose number is the printed one.
async fn on_chain(chain: &Chain, tx: &Value) {
    let block = H256(flex_types::hex::decode::<32>(tx["block"].as_str().expect("block")).unwrap());
    let b = chain.api().blocks().at(block).await.expect("the block");
    assert_eq!(Some(u64::from(b.number())), tx["block_number"].as_u64(), "{tx}");
    let hashes: Vec<String> = b
        .extrinsics()
        .await
        .unwrap()
        .iter()
        .map(|e| format!("{:?}", e.hash()))
        .collect();
    let want = tx["tx_hash"].as_str().expect("tx_hash");
    assert!(hashes.iter().any(|h| h == want), "{want} not among {hashes:?}");
}

fn secret(dir: &Path, name: &str, uri: &str) -> String {
    let path = dir.join(name);
    flex_types::secret::write_secret_file(&path, uri).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_then_govern_with_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let url = devnet.url.as_str();
    let alice_key = secret(d, "alice.key", "//Alice\n");
    let bob_key = secret(d, "bob.key", "//Bob");
    let (alice, bob, charlie, ferdie) = (
        account(&dev("alice")),
        account(&dev("bob")),
        account(&dev("charlie")),
        account(&dev("ferdie")),
    );
    let supply: u128 = 10_000_000_000_000_000_000;
    let deposit: u128 = 1_000_000_000_000_000;
    let config = d.join("deploy.toml");
    std::fs::write(
        &config,
        format!(
            "[reward_token]\nsymbol = \"FLEXE\"\nname = \"Flex FLEXE\"\ndecimals = 12\nsupply = \"{supply}\"\n\
             [payment_token]\nsymbol = \"PAY\"\ndecimals = 6\nsupply = \"1_000_000_000_000\"\n\
             [pool]\ntreasury = \"{ferdie}\"\ngenesis = \"2026-01-29\"\nkeepers = [\"{alice}\", \"0x{}\"]\n\
             deposit = \"{deposit}\"\n",
            flex_types::hex::encode_digits(bob.0)
        ),
    )
    .unwrap();
    let token_bundle = bundle_path("flex_token").display().to_string();
    let pool_bundle = bundle_path("flex_reward_pool").display().to_string();
    let cfg = config.display().to_string();
    let deploy_args = |key: &str| -> Vec<String> {
        [
            "deploy",
            "--url",
            url,
            "--key-file",
            key,
            "--config",
            &cfg,
            "--token-bundle",
            &token_bundle,
            "--pool-bundle",
            &pool_bundle,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        keeper(&refs)
    };

    // No key, or a key file others can read: refused before connecting.
    let out = keeper(&["deploy", "--url", url, "--config", &cfg]);
    fails_with(&out, "no signing key: give --key-file");
    let exposed = d.join("exposed.key");
    std::fs::write(&exposed, "//Alice").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exposed, std::fs::Permissions::from_mode(0o644)).unwrap();
        fails_with(&run(deploy_args(&exposed.display().to_string())), "chmod 600");
    }

    // The deployment, checked on chain.
    let out = ok_json(&run(deploy_args(&alice_key)));
    assert_eq!(printed_account(&out["deployer"]), alice);
    let pool_address = printed_account(&out["pool"]["address"]);
    let flexe_address = printed_account(&out["reward_token"]["address"]);
    let pay_address = printed_account(&out["payment_token"]["address"]);
    let pool_bundle_loaded = bundle("flex_reward_pool");
    let token_bundle_loaded = bundle("flex_token");
    assert_eq!(
        out["pool"]["code_hash"],
        flex_types::hex::encode(pool_bundle_loaded.code_hash)
    );
    assert_eq!(
        out["reward_token"]["code_hash"],
        flex_types::hex::encode(token_bundle_loaded.code_hash)
    );
    assert_eq!(
        chain.contract_code_hash(&pool_address).await.unwrap(),
        Some(pool_bundle_loaded.code_hash)
    );
    for t in [&flexe_address, &pay_address] {
        assert_eq!(
            chain.contract_code_hash(t).await.unwrap(),
            Some(token_bundle_loaded.code_hash)
        );
    }
    for tx in [
        &out["reward_token"]["transaction"],
        &out["payment_token"]["transaction"],
        &out["pool"]["transaction"],
        &out["deposit"]["transaction"],
    ] {
        on_chain(&chain, tx).await;
    }
    let pool = Contract::new(&chain, &pool_bundle_loaded, pool_address.clone());
    let flexe = Contract::new(&chain, &token_bundle_loaded, flexe_address.clone());
    let pay = Contract::new(&chain, &token_bundle_loaded, pay_address.clone());
    assert_eq!(
        pool.query::<Vec<AccountId32>>("keepers", ()).await,
        vec![alice.clone(), bob.clone()]
    );
    assert_eq!(pool.query::<AccountId32>("treasury", ()).await, ferdie);
    assert_eq!(pool.query::<AccountId32>("owner", ()).await, alice);
    assert_eq!(pool.query::<u64>("genesis", ()).await, GENESIS as u64);
    assert_eq!(pool.query::<AccountId32>("reward_token", ()).await, flexe_address);
    assert_eq!(pool.query::<AccountId32>("payment_token", ()).await, pay_address);
    assert_eq!(pool.query::<u128>("unallocated", ()).await, deposit);
    assert_eq!(
        pool.query::<[u8; 32]>("chain_genesis_hash", ()).await,
        chain.api().genesis_hash().0
    );
    assert_eq!(
        flexe
            .query::<Option<String>>("PSP22Metadata::token_symbol", ())
            .await
            .as_deref(),
        Some("FLEXE")
    );
    assert_eq!(pay.query::<u8>("PSP22Metadata::token_decimals", ()).await, 6);
    assert_eq!(
        flexe.query::<u128>("PSP22::balance_of", &alice).await,
        supply - deposit
    );

    let pool_ss58 = pool_address.to_string();
    let admin = |key: Option<&str>, action: &[&str]| {
        let mut a: Vec<String> = [
            "admin",
            "--url",
            url,
            "--pool",
            &pool_ss58,
            "--bundle",
            &pool_bundle,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(k) = key {
            a.extend(["--key-file".to_string(), k.to_string()]);
        }
        a.extend(action.iter().map(|s| s.to_string()));
        run(a)
    };

    // status needs no key.
    let status = ok_json(&admin(None, &["status"]));
    assert_eq!(status["keepers"].as_array().unwrap().len(), 2);
    assert_eq!(status["paused"], false);
    assert_eq!(printed_account(&status["owner"]), alice);

    // Announce Charlie's addition (SS58); executing it before the delay is refused unsent.
    let out = ok_json(&admin(
        Some(&alice_key),
        &["announce", "add-keeper", &charlie.to_string()],
    ));
    on_chain(&chain, &out["transaction"]).await;
    let id = out["announced"]["id"].as_u64().expect("the change's id");
    let pending: Vec<(u64, PendingChange)> = pool.query("pending_changes", ()).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].0, id);
    assert_eq!(
        pending[0].1.action,
        flex_pool::GovernanceAction::AddKeeper(charlie.0)
    );
    let alice_native = chain.native_free(&alice).await.unwrap();
    let out = admin(Some(&alice_key), &["execute", &id.to_string()]);
    fails_with(&out, "ChangeNotReady");
    assert_eq!(
        chain.native_free(&alice).await.unwrap(),
        alice_native,
        "nothing was sent"
    );
    assert_eq!(pool.query::<Vec<AccountId32>>("keepers", ()).await.len(), 2);

    // Bob is not the owner: his pause is refused unsent.
    let bob_native = chain.native_free(&bob).await.unwrap();
    fails_with(&admin(Some(&bob_key), &["pause"]), "is not the pool's owner");
    assert_eq!(
        chain.native_free(&bob).await.unwrap(),
        bob_native,
        "nothing was sent"
    );
    assert!(!pool.query::<bool>("is_paused", ()).await);

    // After the delay: executed; Charlie is a keeper.
    travel(&chain, (pending[0].1.executable_at / 1000) as i64 + 60)
        .await
        .expect("time travel");
    let out = ok_json(&admin(Some(&alice_key), &["execute", &id.to_string()]));
    on_chain(&chain, &out["transaction"]).await;
    assert_eq!(
        pool.query::<Vec<AccountId32>>("keepers", ()).await,
        vec![alice.clone(), bob.clone(), charlie.clone()]
    );
    assert!(pool
        .query::<Vec<(u64, PendingChange)>>("pending_changes", ())
        .await
        .is_empty());
    assert_eq!(out["status"]["keepers"].as_array().unwrap().len(), 3);

    // Pause and unpause, each on chain.
    let out = ok_json(&admin(Some(&alice_key), &["pause"]));
    on_chain(&chain, &out["transaction"]).await;
    assert!(pool.query::<bool>("is_paused", ()).await);
    fails_with(&admin(Some(&alice_key), &["pause"]), "paused already");
    let out = ok_json(&admin(Some(&alice_key), &["unpause"]));
    on_chain(&chain, &out["transaction"]).await;
    assert!(!pool.query::<bool>("is_paused", ()).await);
}
