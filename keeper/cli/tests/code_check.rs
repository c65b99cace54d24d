//! `flex-keeper run` checks at start that `chain.contract` runs the code of `chain.bundle` (its
//! code hash, `Contracts::ContractInfoOf`): a pool deployed from other code, or an account with no
//! contract, stops the keeper with a message naming both, before it votes or serves anything from
//! the chain.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use flex_e2e::deploy::{deploy, DeployOptions, Deployment};
use flex_e2e::{account, bundle_path, dev, Devnet};

/// Runs the keeper with `contract` until it exits, or (`until`) its log shows that line; its exit
/// status (`None`: stopped by the test) and log.
fn run_keeper(dir: &Path, url: &str, contract: &[u8; 32], until: Option<&str>) -> (Option<bool>, String) {
    std::fs::copy(bundle_path("flex_reward_pool"), dir.join("pool.contract")).unwrap();
    std::fs::write(dir.join("weights.toml"), "swap = 1\n").unwrap();
    flex_types::secret::write_secret_file(&dir.join("alice.key"), "//Alice").unwrap();
    let config = dir.join("keeper.toml");
    std::fs::write(
        &config,
        format!(
            "[chain]\nurl = \"{url}\"\ncontract = \"{}\"\nbundle = \"pool.contract\"\nkey_file = \"alice.key\"\n\
             [protocol]\nweights = \"weights.toml\"\ngenesis = 1769644800\n[store]\npath = \"k.db\"\n",
            flex_types::hex::encode(contract)
        ),
    )
    .unwrap();
    let log_path = dir.join("keeper.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flex-keeper"))
        .args(["run", "--config"])
        .arg(&config)
        .env_remove("FLEX_KEEPER_KEY")
        .env_remove("FLEX_RELAYER_KEY")
        .env("RUST_BACKTRACE", "0")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s.success());
        }
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if until.is_some_and(|u| text.contains(u)) {
            break None;
        }
        assert!(
            Instant::now() < deadline,
            "the keeper neither exited nor logged {until:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    (status, std::fs::read_to_string(&log_path).unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contract_of_other_code_or_none_stops_the_keeper() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let Deployment { pool, flexe, .. } = deploy(
        &chain,
        &DeployOptions {
            keepers: vec![account(&dev("alice"))],
            deposit: 0,
            ..DeployOptions::default()
        },
    )
    .await
    .expect("deploy");
    let dir = tempfile::tempdir().unwrap();
    let url = devnet.url.clone();

    // The token's account with the pool's bundle: refused, naming both code hashes.
    let token = flexe.address.0;
    let d = dir.path().join("token");
    std::fs::create_dir(&d).unwrap();
    let u = url.clone();
    let (status, err) = tokio::task::spawn_blocking(move || run_keeper(&d, &u, &token, None))
        .await
        .unwrap();
    assert_eq!(status, Some(false), "{err}");
    let pool_code = flex_types::hex::encode(
        flex_chain::ContractBundle::load(bundle_path("flex_reward_pool"))
            .unwrap()
            .code_hash,
    );
    let token_code = flex_types::hex::encode(
        flex_chain::ContractBundle::load(bundle_path("flex_token"))
            .unwrap()
            .code_hash,
    );
    assert!(
        err.contains(&format!("runs code {token_code}")) && err.contains(&format!("is code {pool_code}")),
        "{err}"
    );

    // An account with no contract.
    let d = dir.path().join("none");
    std::fs::create_dir(&d).unwrap();
    let u = url.clone();
    let (status, err) = tokio::task::spawn_blocking(move || run_keeper(&d, &u, &[0x77; 32], None))
        .await
        .unwrap();
    assert_eq!(status, Some(false), "{err}");
    assert!(err.contains("no contract at this account"), "{err}");

    // The pool itself passes the check: the keeper runs until stopped.
    let d = dir.path().join("pool");
    std::fs::create_dir(&d).unwrap();
    let address = pool.address.0;
    let (status, log) =
        tokio::task::spawn_blocking(move || run_keeper(&d, &url, &address, Some("connected to the chain")))
            .await
            .unwrap();
    assert_eq!(status, None, "{log}");
    assert!(!log.contains("runs code"), "{log}");
}
