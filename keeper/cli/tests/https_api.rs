//! The keeper's API over HTTPS and the CLI's client: an API served with a private CA's certificate
//! (`[api] tls_cert`/`tls_key`, `flex_api::tls`) takes `flex-keeper offchain submit --api https://…
//! --ca-cert ca.pem`; without the CA the client refuses the certificate and sends nothing; a
//! `--ca-cert` that holds no certificate is an error naming the file; plain HTTP to the TLS port
//! gets no answer.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use flex_api::Api;
use flex_engine::WeightTable;
use flex_evm::EvmKey;
use flex_sources::offchain::{record_chain, Domain, Intake, OffchainAction, Policy, Submission};
use flex_sources::Status;
use flex_store::{SqliteStore, Store};
use flex_types::{AccountId, Address};

const GENESIS: i64 = 1_769_644_800;
const CONTRACT: AccountId = AccountId([0x11; 32]);
const CHAIN: [u8; 32] = [0x22; 32];

fn attester() -> EvmKey {
    EvmKey::from_hex(&"5a".repeat(32), "attester").unwrap()
}

fn keeper(args: Vec<String>, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flex-keeper"))
        .args(args)
        .env_remove("FLEX_CA_CERT")
        .envs(env.iter().copied())
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

/// A keeper API with off-chain intake over HTTPS on loopback; its `https://localhost:port` URL.
async fn https_api(dir: &Path, store: Arc<dyn Store>) -> String {
    let certs = flex_e2e::tls::test_certificates(dir);
    let tls = flex_api::tls::server_config(&certs.cert, &certs.key).unwrap();
    let mut table = WeightTable::new();
    table.insert_str("post", "1").unwrap();
    let policy = Policy {
        attesters: [attester().address()].into_iter().collect(),
        kinds: None,
    };
    let api = Api::new(
        store.clone(),
        Arc::new(Status::default()),
        CONTRACT,
        Some(GENESIS),
    );
    api.set_offchain(Intake::new(store, policy, table, CONTRACT, Some(GENESIS)).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { api.serve_tls(listener, tls, std::future::pending()).await });
    format!("https://localhost:{port}")
}

fn batch_file(dir: &Path, nonce: u64) -> String {
    let signed = Submission {
        attester: attester().address(),
        nonce,
        expires_at: GENESIS + 10 * 86_400,
        actions: vec![OffchainAction {
            action_id: format!("x:post:{nonce}"),
            wallet: Address([7; 20]),
            kind: "post".into(),
            timestamp: GENESIS + 10,
        }],
    }
    .sign(
        &attester(),
        &Domain {
            chain: CHAIN,
            contract: CONTRACT,
        },
    )
    .unwrap();
    let path = dir.join(format!("batch{nonce}.json"));
    std::fs::write(&path, signed.to_json()).unwrap();
    path.display().to_string()
}

fn accepted(store: &dyn Store) -> usize {
    store.actions_between(i64::MIN, i64::MAX).unwrap().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_serves_https_and_the_cli_trusts_only_the_given_ca() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(d.join("k.db")).unwrap());
    record_chain(&*store, CHAIN).unwrap();
    let url = https_api(&d, store.clone()).await;
    let ca = d.join("ca.pem").display().to_string();
    let file = batch_file(&d, 1);
    let run = |args: Vec<String>, env: Vec<(String, String)>| {
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            keeper(args, &env)
        })
    };
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = ["offchain", "submit", "--api", &url]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push(file.clone());
        a
    };

    // The system's CAs do not know the private CA: the certificate is refused, nothing is sent.
    let out = run(args(&[]), vec![]).await.unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        err.contains("certificate") || err.contains("unknownissuer"),
        "{}",
        text(&out)
    );
    assert_eq!(accepted(&*store), 0);

    // A --ca-cert without a certificate: an error naming the file, nothing sent.
    let empty = d.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let out = run(args(&["--ca-cert", &empty.display().to_string()]), vec![])
        .await
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("--ca-cert {}", empty.display())),
        "{}",
        text(&out)
    );
    assert_eq!(accepted(&*store), 0);

    // With the CA (the flag, or FLEX_CA_CERT): accepted over HTTPS.
    let out = run(args(&["--ca-cert", &ca]), vec![]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(accepted(&*store), 1);
    let out = run(args(&[]), vec![("FLEX_CA_CERT".into(), ca.clone())])
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already_accepted"),
        "{}",
        text(&out)
    );

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = url.replace("https://", "http://");
    let out = run(
        ["offchain", "submit", "--api", &plain, &batch_file(&d, 2)]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        vec![],
    )
    .await
    .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(accepted(&*store), 1);
}

/// A certificate or key the server cannot use is an error naming the file.
#[test]
fn unusable_certificate_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let certs = flex_e2e::tls::test_certificates(d);
    let missing = d.join("missing.pem");
    let e = flex_api::tls::server_config(&missing, &certs.key)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&missing.display().to_string()), "{e}");
    let garbage = d.join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN PRIVATE KEY-----\nnot base64\n").unwrap();
    let e = flex_api::tls::server_config(&certs.cert, &garbage)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&garbage.display().to_string()), "{e}");
    // A key that is not the certificate's.
    let other = flex_e2e::tls::test_certificates(&{
        let o = d.join("other");
        std::fs::create_dir(&o).unwrap();
        o
    });
    let e = flex_api::tls::server_config(&certs.cert, &other.key)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&certs.cert.display().to_string()), "{e}");
    // No certificate in the file.
    let e = flex_api::tls::server_config(&certs.key, &certs.key)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no certificate"), "{e}");
}
