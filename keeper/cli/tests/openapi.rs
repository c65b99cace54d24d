//! The OpenAPI document against a live keeper: three `flex-keeper run` processes on a devnet reach
//! quorum on the sample month, then schemathesis (a third-party tester, installed by
//! `scripts/setup.sh` into `$FLEX_CACHE/venv`) drives one keeper's API from its own
//! `/v1/openapi.json`, with every check, and must find nothing. The document it reads is the
//! keeper's, given the real wallet, month and epoch as explicit examples, and the keeper's metrics
//! must show that wallets, claims and epochs were answered 200, not only refused.
//!
//! Fails (never skips) without schemathesis.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flex_chain::AccountId32;
use flex_e2e::deploy::{deploy, DeployOptions, Deployment};
use flex_e2e::scenario::{CLAIM_PRICE, DAY, GENESIS, JANUARY_2026 as JAN};
use flex_e2e::{account, bundle_path, dev, free_port, http_get, Devnet};
use flex_pool::MonthInfo;
use serde_json::{json, Value};

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");
/// The most schemathesis may take (the test fails past it).
const SCHEMATHESIS_LIMIT: Duration = Duration::from_secs(240);

fn schemathesis() -> PathBuf {
    let cache = std::env::var_os("FLEX_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/flex"));
    let bin = cache.join("venv").join("bin").join("schemathesis");
    assert!(
        bin.exists(),
        "{} is missing: scripts/setup.sh installs schemathesis into $FLEX_CACHE/venv",
        bin.display()
    );
    bin
}

struct KeeperProc {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl KeeperProc {
    fn start(dir: &Path, url: &str, pool: &AccountId32, name: &str) -> Self {
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
        let child = Command::new(KEEPER)
            .args(["run", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(file)
            .env_remove("FLEX_KEEPER_PAUSE_AT")
            .env_remove("FLEX_KEEPER_KEY")
            .env_remove("FLEX_RELAYER_KEY")
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

fn logs(keepers: &[KeeperProc]) -> String {
    keepers
        .iter()
        .map(|k| {
            format!(
                "--- {} ---\n{}\n",
                k.log.display(),
                std::fs::read_to_string(&k.log).unwrap_or_default()
            )
        })
        .collect()
}

/// Sets `example` on every parameter named `name` in `doc`.
fn example(doc: &mut Value, name: &str, value: Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for op in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            for p in params.iter_mut().filter(|p| p["name"] == name) {
                p["example"] = value.clone();
            }
        }
    }
}

/// `flex_api_requests_total{route=…,status="2xx"}` from the keeper's metrics.
fn answered_2xx(metrics: &str, route: &str) -> u64 {
    let key = format!("flex_api_requests_total{{route=\"{route}\",status=\"2xx\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn metrics_text(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_against_a_live_keeper() {
    let st = schemathesis();
    let out = flex_e2e::repo_root().join("target").join("openapi-e2e");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let Deployment { pool, .. } = deploy(&chain, &DeployOptions::default()).await.expect("deploy");
    let wallets = flex_e2e::scenario::evm_wallets().expect("the sample wallets");
    flex_e2e::scenario::write_sample_pool(&out, &wallets).expect("write the sample pool");
    let keepers: Vec<KeeperProc> = ["alice", "bob", "charlie"]
        .iter()
        .map(|n| KeeperProc::start(&out, &devnet.url, &pool.address, n))
        .collect();
    flex_e2e::scenario::travel(&chain, GENESIS + 3 * DAY + 120)
        .await
        .expect("time travel");
    let until = Instant::now() + Duration::from_secs(240);
    while pool.query::<Option<MonthInfo>>("month", JAN).await.is_none() {
        assert!(
            Instant::now() < until,
            "the month root was not finalised:\n{}",
            logs(&keepers)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let port = keepers[0].port;
    let wallet = wallets[0].address().to_string();
    // The keeper holds the finalised month and the wallet's epochs.
    let until = Instant::now() + Duration::from_secs(60);
    let epoch = loop {
        let (s, c) = http_get(port, &format!("/v1/claims/{JAN}/{wallet}")).unwrap();
        if s == 200 && c["root_status"] == "finalized" {
            let (s, w) = http_get(port, &format!("/v1/wallets/{wallet}")).unwrap();
            assert_eq!(s, 200, "{w}");
            break w["epochs"][0]["epoch"].as_u64().expect("an epoch");
        }
        assert!(Instant::now() < until, "{c}\n{}", logs(&keepers));
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // The keeper's own document, with the real wallet, month and epoch as its examples.
    let (s, mut doc) = http_get(port, "/v1/openapi.json").unwrap();
    assert_eq!(s, 200, "{doc}");
    example(&mut doc, "address", json!(wallet));
    example(&mut doc, "month", json!(JAN));
    example(&mut doc, "epoch", json!(epoch));
    example(
        &mut doc,
        "beneficiary",
        json!(flex_types::hex::encode(account(&dev("ferdie")).0)),
    );
    let schema = out.join("openapi.json");
    std::fs::write(&schema, serde_json::to_string_pretty(&doc).unwrap()).unwrap();

    // Bounded: 60 examples an operation (603 cases, 15 s on 2 cores; the whole test 71 s); a run past SCHEMATHESIS_LIMIT
    // is killed and fails the test.
    let report = out.join("schemathesis.txt");
    let mut child = Command::new(&st)
        .arg("run")
        .arg(&schema)
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .args(["--checks", "all", "--phases", "examples,coverage,fuzzing"])
        // One worker: hypothesis parses lambdas with `ast`, which CPython 3.11 does not do safely
        // from two threads ("AST constructor recursion depth mismatch").
        .args(["--max-examples", "60", "--seed", "18", "--workers", "1"])
        .args(["--request-timeout", "20", "--continue-on-failure"])
        .args(["--report", "junit", "--report-dir"])
        .arg(out.join("report"))
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .current_dir(&out)
        .stdout(std::fs::File::create(&report).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run schemathesis");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for schemathesis") {
            break Some(status);
        }
        if started.elapsed() > SCHEMATHESIS_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    println!("{text}");
    let Some(status) = status else {
        panic!("schemathesis ran past {SCHEMATHESIS_LIMIT:?}:\n{text}");
    };
    println!("schemathesis took {:.1} s", started.elapsed().as_secs_f64());
    assert!(status.success(), "schemathesis found failures:\n{text}");

    // It reached real data: wallets, claims and epochs answered 200, not only 4xx.
    let metrics = metrics_text(port);
    for route in [
        "/v1/wallets/{address}",
        "/v1/claims/{month}/{address}",
        "/v1/epochs/{epoch}",
    ] {
        assert!(
            answered_2xx(&metrics, route) > 0,
            "schemathesis got no 200 from {route}:\n{metrics}"
        );
    }
}
