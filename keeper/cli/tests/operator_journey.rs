//! The operator's journey on a devnet, through the CLI only, as a user types it (issue 16's
//! acceptance): `flex-keeper deploy` the tokens and a pool with one keeper, `flex-keeper admin`
//! registers two more through the time-locked steps, three `flex-keeper run` serve their APIs over
//! HTTPS (a private CA) with month prices from a price table, close January and vote its root to
//! quorum; a wallet claims with `flex-keeper claim --month 2026-01` against a keeper's HTTPS API;
//! a real Prometheus server (Debian's `prometheus`) scrapes the three keepers over HTTPS with the
//! shipped alert rules: every rule evaluates, nothing fires while all is well, and a stopped
//! keeper turns `FlexKeeperDown` pending. Each keeper's `/metrics` passes `promtool check metrics`.
//!
//! The test's only other hand on the chain is its clock (`travel`), which stands for time passing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flex_chain::AccountId32;
use flex_e2e::scenario::{travel, Contract, DAY, DEPOSIT, FEB_1, GENESIS, GOVERNANCE_DELAY};
use flex_e2e::{account, bundle, bundle_path, dev, free_port, http_get, repo_root, Devnet};
use serde_json::Value;

const KEEPER: &str = env!("CARGO_BIN_EXE_flex-keeper");
const PRICE: u128 = 500_000_000_000_000_000;

fn keeper(args: &[&str]) -> Output {
    Command::new(KEEPER)
        .args(args)
        .env_remove("FLEX_ADMIN_KEY")
        .env_remove("FLEX_CLAIM_SIGNER")
        .env_remove("FLEX_CA_CERT")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run flex-keeper")
}

fn ok_json(o: &Output) -> Value {
    let text = format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn account_of(v: &Value) -> AccountId32 {
    AccountId32(flex_types::hex::decode(v["hex"].as_str().expect("hex")).unwrap())
}

/// A running process, killed when dropped.
struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Proc {
            name: name.into(),
            child: Some(child),
            log,
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log_text(&self) -> String {
        format!(
            "--- {} ---\n{}",
            self.name,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn wait_for<F, Fut>(what: &str, secs: u64, procs: &[&Proc], mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let logs: String = procs.iter().map(|p| p.log_text()).collect();
    panic!("timed out waiting for {what}\n{logs}");
}

/// `curl --cacert` (a client the keeper did not write) fetches an HTTPS URL.
fn curl(ca: &Path, url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(ca)
        .arg(url)
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn promtool_check_metrics(text: &str) {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (scripts/setup.sh installs Debian's prometheus package)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "promtool: {said}");
}

/// Prometheus' HTTP API: `data` of a successful answer.
fn prom(port: u16, path: &str) -> Option<Value> {
    let (status, v) = http_get(port, path)?;
    (status == 200 && v["status"] == "success").then(|| v["data"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_register_run_claim_over_https_and_watch_it() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let url = devnet.url.clone();
    let dir = repo_root()
        .join("target")
        .join("keeper-e2e")
        .join(format!("journey-{}", devnet.port));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.as_path();
    let path = |name: &str| d.join(name).display().to_string();
    // Three days before genesis: the keepers are registered before January's first epoch.
    travel(&chain, GENESIS - 3 * DAY).await.expect("time travel");

    // The owner's key and the keepers' keys, owner-only files.
    for (file, uri) in [
        ("owner.key", "//Alice"),
        ("alice.key", "//Alice"),
        ("bob.key", "//Bob"),
        ("charlie.key", "//Charlie"),
        ("payer.key", "//Alice"),
    ] {
        flex_types::secret::write_secret_file(&d.join(file), uri).unwrap();
    }
    let (alice, bob, charlie, ferdie) = (
        account(&dev("alice")),
        account(&dev("bob")),
        account(&dev("charlie")),
        account(&dev("ferdie")),
    );

    // 1. Deploy: FLEXE, PAY and the pool with one keeper, funded.
    std::fs::write(
        d.join("deploy.toml"),
        format!(
            "[reward_token]\nsymbol = \"FLEXE\"\nname = \"Flex FLEXE\"\ndecimals = 12\nsupply = \"{}\"\n\
             [payment_token]\nsymbol = \"PAY\"\ndecimals = 12\nsupply = \"{}\"\n\
             [pool]\ntreasury = \"{ferdie}\"\ngenesis = \"2026-01-29\"\nkeepers = [\"{alice}\"]\n\
             governance_delay = {GOVERNANCE_DELAY}\ndeposit = \"{DEPOSIT}\"\n",
            10 * DEPOSIT,
            10 * DEPOSIT
        ),
    )
    .unwrap();
    let token_bundle = bundle_path("flex_token").display().to_string();
    let pool_bundle = bundle_path("flex_reward_pool").display().to_string();
    let deployed = ok_json(&keeper(&[
        "deploy",
        "--url",
        &url,
        "--key-file",
        &path("owner.key"),
        "--config",
        &path("deploy.toml"),
        "--token-bundle",
        &token_bundle,
        "--pool-bundle",
        &pool_bundle,
    ]));
    let pool_address = account_of(&deployed["pool"]["address"]);
    let pool_ss58 = deployed["pool"]["address"]["ss58"].as_str().unwrap().to_string();
    let flexe = Contract::new(
        &chain,
        &bundle("flex_token"),
        account_of(&deployed["reward_token"]["address"]),
    );

    // 2. Register Bob and Charlie: announce, wait out the delay, execute.
    let admin = |action: &[&str]| {
        let mut a = vec![
            "admin",
            "--url",
            &url,
            "--pool",
            &pool_ss58,
            "--bundle",
            &pool_bundle,
        ];
        let key = path("owner.key");
        if action[0] != "status" {
            a.extend(["--key-file", &key]);
            a.extend(action);
            return ok_json(&keeper(&a));
        }
        a.extend(action);
        ok_json(&keeper(&a))
    };
    let mut ids = Vec::new();
    for k in [&bob, &charlie] {
        let out = admin(&["announce", "add-keeper", &k.to_string()]);
        ids.push(out["announced"]["id"].as_u64().expect("the change's id"));
    }
    travel(&chain, GENESIS - 3 * DAY + GOVERNANCE_DELAY as i64 + 600)
        .await
        .expect("time travel");
    for id in &ids {
        admin(&["execute", &id.to_string()]);
    }
    let status = admin(&["status"]);
    let keepers: Vec<AccountId32> = status["keepers"]
        .as_array()
        .unwrap()
        .iter()
        .map(account_of)
        .collect();
    assert_eq!(
        keepers,
        vec![alice.clone(), bob.clone(), charlie.clone()],
        "{status}"
    );

    // 3. Three keepers over the sample month, their APIs over HTTPS, prices from a table.
    let wallets = flex_e2e::scenario::evm_wallets().expect("the sample wallets");
    flex_e2e::scenario::write_sample_pool(d, &wallets).expect("write the sample pool");
    flex_types::secret::write_secret_file(&d.join("wallet1.key"), flex_types::hex::encode_digits([1u8; 32]))
        .unwrap();
    std::fs::write(
        d.join("prices.toml"),
        format!(
            "# trailing average of the previous month, 18-decimal fixed point\n\"2026-01\" = \"{PRICE}\"\n"
        ),
    )
    .unwrap();
    let certs = flex_e2e::tls::test_certificates(d);
    let mut procs = Vec::new();
    let mut ports = Vec::new();
    for name in ["alice", "bob", "charlie"] {
        let port = free_port();
        ports.push(port);
        let cfg = d.join(format!("{name}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[chain]\nurl = \"{url}\"\ncontract = \"{pool_ss58}\"\nbundle = \"{pool_bundle}\"\nkey_file = \"{name}.key\"\n\
                 [protocol]\nweights = \"weights.toml\"\ngrace_seconds = 60\nclaim_prices = \"prices.toml\"\n\
                 [input]\npool = \"pool.json\"\n[store]\npath = \"{name}.db\"\n\
                 [api]\nlisten = \"127.0.0.1:{port}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\
                 [service]\npoll_ms = 250\nbackoff_max_ms = 1000\n[log]\nformat = \"json\"\nlevel = \"info\"\n",
                certs.cert.display(),
                certs.key.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(KEEPER);
        cmd.args(["run", "--config"])
            .arg(&cfg)
            .env_remove("FLEX_KEEPER_KEY")
            .env_remove("FLEX_KEEPER_PAUSE_AT")
            .env("RUST_LOG", "info");
        procs.push(Proc::spawn(name, cmd, d.join(format!("{name}.log"))));
    }

    // 4. Prometheus scrapes the three keepers over HTTPS with the shipped rules.
    let prom_port = free_port();
    let rules = repo_root().join("ops/prometheus/flex-alerts.yml");
    let targets: Vec<String> = ports.iter().map(|p| format!("\"localhost:{p}\"")).collect();
    std::fs::write(
        d.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: flex-keeper\n    scheme: https\n    tls_config:\n      ca_file: {}\n\
             \x20   static_configs:\n      - targets: [{}]\n",
            rules.display(),
            certs.ca.display(),
            targets.join(", ")
        ),
    )
    .unwrap();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", path("prometheus.yml")))
        .arg(format!("--storage.tsdb.path={}", path("prometheus-data")))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let prometheus = Proc::spawn("prometheus", cmd, d.join("prometheus.log"));
    let up_query = "/api/v1/query?query=up%7Bjob%3D%22flex-keeper%22%7D%3D%3D1";
    {
        // Scraped before any vote, so the vote counters' increase is seen.
        let mut all: Vec<&Proc> = procs.iter().collect();
        all.push(&prometheus);
        wait_for("Prometheus to scrape three keepers", 60, &all, || async {
            prom(prom_port, up_query).and_then(|d| d["result"].as_array().map(Vec::len)) == Some(3)
        })
        .await;
    }

    // January's three epochs end; the keepers close them and vote the month root.
    travel(&chain, GENESIS + 3 * DAY + 120)
        .await
        .expect("time travel");
    let pool = Contract::new(&chain, &bundle("flex_reward_pool"), pool_address.clone());
    let jan = 2026 * 12;
    {
        let refs: Vec<&Proc> = procs.iter().collect();
        wait_for("January's root to be finalised", 300, &refs, || async {
            pool.query::<Option<flex_pool::MonthInfo>>("month", jan)
                .await
                .is_some()
        })
        .await;
    }
    let month: flex_pool::MonthInfo = pool
        .query::<Option<flex_pool::MonthInfo>>("month", jan)
        .await
        .unwrap();
    assert_eq!(month.root.claim_price, PRICE, "the table's price is in the root");

    // Every keeper's /metrics over HTTPS passes promtool and counts its three epoch votes.
    for (name, port) in ["alice", "bob", "charlie"].iter().zip(&ports) {
        let text = curl(&certs.ca, &format!("https://localhost:{port}/metrics"));
        promtool_check_metrics(&text);
        assert!(
            text.lines().any(|l| l == "flex_epoch_votes_total 3"),
            "{name}: {text}"
        );
        assert!(text.lines().any(|l| l == "flex_month_votes_total 1"), "{name}");
    }

    // 5. February: the wallet claims over HTTPS; Alice's account pays the claim cost.
    travel(&chain, FEB_1 + 3600).await.expect("time travel");
    let before: u128 = flexe.query("PSP22::balance_of", &ferdie).await;
    let api = format!("https://localhost:{}", ports[1]);
    let claimed = ok_json(&keeper(&[
        "claim",
        "--month",
        "2026-01",
        "--wallet-key",
        &path("wallet1.key"),
        "--beneficiary",
        &ferdie.to_string(),
        "--api",
        &api,
        "--ca-cert",
        &certs.ca.display().to_string(),
        "--url",
        &url,
        "--signer-file",
        &path("payer.key"),
        "--bundle",
        &pool_bundle,
    ]));
    let amount: u128 = claimed["amount"].as_str().unwrap().parse().unwrap();
    assert!(amount > 0, "{claimed}");
    assert_eq!(claimed["month"], "2026-01");
    assert_eq!(
        flexe.query::<u128>("PSP22::balance_of", &ferdie).await,
        before + amount,
        "the beneficiary received the claim"
    );
    assert!(
        claimed["tx_hash"].as_str().is_some_and(|h| h.starts_with("0x")),
        "{claimed}"
    );

    // 6. Prometheus: three targets up, every rule evaluates, nothing fires.
    let mut all: Vec<&Proc> = procs.iter().collect();
    all.push(&prometheus);
    wait_for("Prometheus to scrape three keepers", 60, &all, || async {
        prom(prom_port, up_query).and_then(|d| d["result"].as_array().map(Vec::len)) == Some(3)
    })
    .await;
    wait_for("every rule to be evaluated", 60, &all, || async {
        prom(prom_port, "/api/v1/rules").is_some_and(|d| {
            let rules: Vec<&Value> = d["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().into_iter().flatten())
                .collect();
            rules.len() == 11 && rules.iter().all(|r| r["health"] == "ok")
        })
    })
    .await;
    // Nothing fires, and nothing is pending but the proof latency: on this devnet a claim's first
    // GET waits seconds for the chain's dry run of its claim status (chopsticks), which the
    // rule (p99 above 50 ms for 10 minutes) sees as pending.
    let alerts = prom(prom_port, "/api/v1/alerts").expect("alerts");
    for a in alerts["alerts"].as_array().unwrap() {
        assert!(
            a["state"] == "pending" && a["labels"]["alertname"] == "FlexProofLatencyHigh",
            "nothing fires: {alerts}"
        );
    }
    let votes = prom(
        prom_port,
        "/api/v1/query?query=sum(flex_epoch_votes_total%7Bjob%3D%22flex-keeper%22%7D)",
    )
    .expect("votes");
    assert_eq!(votes["result"][0]["value"][1], "9", "{votes}");

    // A keeper stops: its target goes down and FlexKeeperDown is pending for it.
    drop(all);
    procs[2].stop();
    let charlie_instance = format!("localhost:{}", ports[2]);
    let all: Vec<&Proc> = procs.iter().chain([&prometheus]).collect();
    wait_for(
        "FlexKeeperDown pending for the stopped keeper",
        60,
        &all,
        || async {
            prom(prom_port, "/api/v1/alerts").is_some_and(|d| {
                d["alerts"].as_array().into_iter().flatten().any(|a| {
                    a["labels"]["alertname"] == "FlexKeeperDown"
                        && a["labels"]["instance"] == charlie_instance.as_str()
                        && a["state"] == "pending"
                })
            })
        },
    )
    .await;
}
