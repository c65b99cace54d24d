//! `flex-keeper offchain archive`, `reimport` and `submit` against real stores and APIs: a keeper's
//! accepted batches are written as JSON lines and re-imported by a keeper rebuilding its history
//! (a new store), which ends with the same batches and the same actions; a second re-import adds
//! nothing; a store that does not know its chain refuses until `--chain` is given. `submit` to
//! three APIs stops for each at its first refusal (or no answer) and goes on with the others.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use flex_api::Api;
use flex_engine::WeightTable;
use flex_evm::EvmKey;
use flex_sources::offchain::{
    record_chain, Domain, Intake, OffchainAction, Policy, SignedSubmission, Submission,
};
use flex_sources::Status;
use flex_store::{SqliteStore, Store};

const GENESIS: i64 = 1_769_644_800;
const CONTRACT: flex_types::AccountId = flex_types::AccountId([0x11; 32]);
const CHAIN: [u8; 32] = [0x22; 32];

fn key() -> EvmKey {
    EvmKey::from_hex(&"5a".repeat(32), "attester").unwrap()
}

fn keeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flex-keeper"))
        .args(args)
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

fn config(dir: &Path, name: &str, db: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "[chain]\ncontract = \"0x{}\"\nbundle = \"pool.contract\"\n[store]\npath = \"{db}\"\n\
             [protocol]\nweights = \"w.toml\"\ngenesis = {GENESIS}\n\
             [offchain]\nattesters = [\"{}\"]\n",
            flex_types::hex::encode_digits(CONTRACT),
            key().address()
        ),
    )
    .unwrap();
    p
}

fn actions(store: &dyn Store) -> Vec<(flex_types::Address, String, i64)> {
    let mut a = store.actions_between(i64::MIN, i64::MAX).unwrap();
    a.sort();
    a
}

fn batches(store: &dyn Store) -> Vec<(u64, [u8; 32])> {
    let mut out = Vec::new();
    store
        .offchain_archive(&mut |b| {
            out.push((b.nonce, b.digest));
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn archived_batches_rebuild_another_keepers_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("w.toml"), "post = \"1\"\nlike = \"1.5\"\n").unwrap();
    // Keeper A accepts three batches, out of nonce order.
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(d.join("a.db")).unwrap());
    record_chain(&*a, CHAIN).unwrap();
    let mut table = WeightTable::new();
    table.insert_str("post", "1").unwrap();
    table.insert_str("like", "1.5").unwrap();
    let policy = Policy {
        attesters: [key().address()].into_iter().collect(),
        kinds: None,
    };
    let intake = Intake::new(a.clone(), policy, table, CONTRACT, Some(GENESIS)).unwrap();
    let domain = Domain {
        chain: CHAIN,
        contract: CONTRACT,
    };
    for nonce in [3u64, 1, 2] {
        let s = Submission {
            attester: key().address(),
            nonce,
            expires_at: GENESIS + 3 * 86_400,
            actions: vec![OffchainAction {
                action_id: format!("x:post:{nonce}"),
                wallet: flex_types::Address([nonce as u8; 20]),
                kind: if nonce == 2 { "like" } else { "post" }.into(),
                timestamp: GENESIS + nonce as i64 * 1000,
            }],
        }
        .sign(&key(), &domain)
        .unwrap();
        intake.accept(&s, "http").unwrap();
    }

    let archive = d.join("archive.jsonl");
    let out = keeper(&[
        "offchain",
        "archive",
        "--store",
        d.join("a.db").to_str().unwrap(),
        "--out",
        archive.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&archive).unwrap().lines().count(), 3);

    // Keeper B rebuilds from a new store: without the chain's genesis hash it cannot check the
    // signatures and refuses; with --chain it takes every batch.
    let b_toml = config(d, "b.toml", "b.db");
    let reimport = |extra: &[&str]| {
        let mut args = vec!["offchain", "reimport", "--config", b_toml.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(archive.to_str().unwrap());
        keeper(&args)
    };
    let out = reimport(&[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not connected to the chain"),
        "{}",
        text(&out)
    );
    let chain = flex_types::hex::encode(CHAIN);
    let out = reimport(&["--chain", &chain]);
    assert!(out.status.success(), "{}", text(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (line["accepted"].as_u64(), line["refused"].as_u64()),
        (Some(3), Some(0)),
        "{line}"
    );
    let b = SqliteStore::open(d.join("b.db")).unwrap();
    assert_eq!(batches(&b), batches(&*a));
    assert_eq!(actions(&b), actions(&*a));
    // Again: everything known, nothing added.
    let out = reimport(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (line["accepted"].as_u64(), line["known"].as_u64()),
        (Some(0), Some(3)),
        "{line}"
    );
    // A store recording another chain is not silently re-pointed.
    let out = reimport(&["--chain", &format!("0x{}", "33".repeat(32))]);
    assert!(!out.status.success(), "{}", text(&out));
}

fn intake(store: Arc<dyn Store>) -> Intake {
    let mut table = WeightTable::new();
    table.insert_str("post", "1").unwrap();
    let policy = Policy {
        attesters: [key().address()].into_iter().collect(),
        kinds: None,
    };
    Intake::new(store, policy, table, CONTRACT, Some(GENESIS)).unwrap()
}

fn signed(nonce: u64, timestamp: i64) -> SignedSubmission {
    Submission {
        attester: key().address(),
        nonce,
        expires_at: GENESIS + 10 * 86_400,
        actions: vec![OffchainAction {
            action_id: format!("x:post:{nonce}"),
            wallet: flex_types::Address([nonce as u8; 20]),
            kind: "post".into(),
            timestamp,
        }],
    }
    .sign(
        &key(),
        &Domain {
            chain: CHAIN,
            contract: CONTRACT,
        },
    )
    .unwrap()
}

/// A keeper's API on loopback over its own store.
async fn api(dir: &Path, name: &str) -> (Arc<dyn Store>, String) {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.join(name)).unwrap());
    record_chain(&*store, CHAIN).unwrap();
    let api = Api::new(
        store.clone(),
        Arc::new(Status::default()),
        CONTRACT,
        Some(GENESIS),
    );
    api.set_offchain(intake(store.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { api.serve(listener, std::future::pending()).await });
    (store, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_stops_for_an_api_at_its_first_refusal_and_goes_on_with_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, api_a) = api(d, "a.db").await;
    let (b, api_b) = api(d, "b.db").await;
    // B has closed epoch 0, so it refuses the first batch (an action in epoch 0).
    b.save_epoch(
        &flex_store::EpochRecord {
            epoch: 0,
            month_index: 24312,
            phase: flex_store::Phase::Computed,
            commitment: vec![],
            commitment_hash: [0; 32],
            scores_root: [0; 32],
            active: 0,
            ranked: 0,
            multiplier_sum: 0,
            total_weight: 0,
            pool: 0,
            distributed: 0,
            wallet_index: 0,
            halving: 0,
            snapshot: 0,
            forecast: 0,
            forecast_detail: String::new(),
            wallets: 0,
            voted: false,
            note: String::new(),
            updated_at: 0,
        },
        &[],
    )
    .unwrap();
    // Nothing listens there.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    // A already holds batch 2: a second delivery counts as delivered.
    intake(a.clone())
        .accept(&signed(2, GENESIS + 86_400 + 20), "http")
        .unwrap();
    let files: Vec<PathBuf> = [
        signed(1, GENESIS + 10),
        signed(2, GENESIS + 86_400 + 20),
        signed(3, GENESIS + 86_400 + 30),
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| {
        let p = d.join(format!("b{}.json", i + 1));
        std::fs::write(&p, s.to_json()).unwrap();
        p
    })
    .collect();
    let mut args: Vec<String> = [
        "offchain", "submit", "--api", &dead, "--api", &api_a, "--api", &api_b,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(files.iter().map(|f| f.display().to_string()));
    let out =
        tokio::task::spawn_blocking(move || keeper(&args.iter().map(String::as_str).collect::<Vec<_>>()))
            .await
            .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    // A took all three (the second already held); B and the dead API stopped at the first file.
    let nonces = |s: &dyn Store| batches(s).into_iter().map(|b| b.0).collect::<Vec<_>>();
    assert_eq!(nonces(&*a), [1, 2, 3]);
    assert_eq!(nonces(&*b), Vec::<u64>::new());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1 + 3 + 1, "{}", text(&out));
    assert!(stdout.contains("already_accepted"), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for api in [&dead, &api_b] {
        assert!(
            err.contains(&format!("{api}: stopped at {}", files[0].display())),
            "{}",
            text(&out)
        );
    }
    assert!(!err.contains(&format!("{api_a}: stopped")), "{}", text(&out));
    assert!(err.contains("2 of 3 API(s)"), "{}", text(&out));
}
