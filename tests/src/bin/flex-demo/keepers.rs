//! The demo's month with real keeper processes: three `flex-keeper run` (Alice, Bob, Charlie) over
//! the shipped sample pool close January's epochs and the month root on their own while this
//! process only moves chain time and reports what they did (from the chain, their API and their
//! logs); W1 then claims with `flex-keeper claim` against a keeper's API.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, ensure, Context, Result};
use flex_e2e::{
    account,
    scenario::{
        claim_tree, commitment_of, travel, Activity, EpochCommitment, EpochInfo, MonthInfo, MonthRoot,
        Proposal, CLAIM_PRICE, DAY, FEB_1, GENESIS, JANUARY_2026,
    },
    AccountId32,
};
use flex_engine::calendar::{month_name, utc};
use flex_engine::EpochReport;
use flex_evm::EvmKey;
use serde_json::Value;

use crate::narrate::{
    decimal, hundredths, label, narrate_day, narrate_wallets, say, section, tokens, utc_s, Balances,
};
use crate::{repo_root, Args, Cast, Chain, Deployment, MonthOutcome};

/// The keepers that run (Dave is registered on the pool but runs none): display name, file stem.
const RUNNING: [(&str, &str); 3] = [("Alice", "alice"), ("Bob", "bob"), ("Charlie", "charlie")];
/// The template's grace period (`protocol.grace_seconds`).
const GRACE_S: i64 = 60;
/// How long the demo waits for the keepers to finish a step.
const STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// What Alice gives Eve (the relayer) for claim costs, in PAY base units: 1,000 PAY.
const RELAYER_PAY: u128 = 1_000_000_000_000_000;

/// Where the keepers' binary, the shipped sample and the work dir are.
pub struct KeeperPaths {
    keeper_bin: PathBuf,
    demo_dir: PathBuf,
    work_dir: PathBuf,
    bundle: PathBuf,
}

impl KeeperPaths {
    pub fn resolve(args: &Args, pool_bundle: &Path, demo_dir: PathBuf) -> Result<Self> {
        let keeper_bin = match &args.keeper_bin {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .context("cannot find this binary's path")?
                .with_file_name("flex-keeper"),
        };
        ensure!(
            keeper_bin.is_file(),
            "no flex-keeper binary at {} (build it: cargo build --release -p flex-keeper, or pass --keeper-bin)",
            keeper_bin.display()
        );
        let demo_dir = fs::canonicalize(&demo_dir)
            .with_context(|| format!("the shipped sample dir {} is missing", demo_dir.display()))?;
        let bundle = fs::canonicalize(pool_bundle)
            .with_context(|| format!("the reward pool bundle {} is missing", pool_bundle.display()))?;
        let work_dir = args
            .work_dir
            .clone()
            .unwrap_or_else(|| repo_root().join("target").join("demo-keepers"));
        Ok(Self {
            keeper_bin,
            demo_dir,
            work_dir,
            bundle,
        })
    }
}

/// Checks that the shipped `pool.json` and `weights.toml` hold exactly the sample activity the
/// demo narrates (and replays itself to check the keepers' figures).
pub fn check_shipped_sample(demo_dir: &Path, activity: &Activity) -> Result<()> {
    let table = flex_ingest::read_weight_table(&demo_dir.join("weights.toml"))?;
    let pool = flex_ingest::read_pool(&demo_dir.join("pool.json"), &table)?;
    ensure!(
        pool.wallets == activity.wallets,
        "{}: the wallets differ from the demo's sample",
        demo_dir.join("pool.json").display()
    );
    let named = |kind: u16| -> Result<String> {
        table
            .name(kind)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("kind {kind} has no name"))
    };
    let shipped: BTreeSet<(u32, String, i64)> = pool
        .actions
        .iter()
        .map(|a| Ok((a.wallet, named(a.kind)?, a.timestamp)))
        .collect::<Result<_>>()?;
    let sample: BTreeSet<(u32, String, i64)> = activity
        .actions
        .iter()
        .map(|a| {
            let name = activity
                .kinds
                .iter()
                .find(|(id, _)| *id == a.kind)
                .map(|(_, n)| n.to_string())
                .ok_or_else(|| anyhow!("kind {} has no name", a.kind))?;
            Ok((a.wallet, name, a.timestamp))
        })
        .collect::<Result<_>>()?;
    ensure!(
        shipped == sample && pool.actions.len() == activity.actions.len(),
        "{}: the actions differ from the demo's sample",
        demo_dir.join("pool.json").display()
    );
    for (kind, weight) in flex_e2e::scenario::SAMPLE_KINDS {
        let id = table
            .kind(kind)
            .with_context(|| format!("weights.toml has no {kind}"))?;
        let mut expected = flex_engine::WeightTable::new();
        let e = expected.insert_str(kind, weight)?;
        ensure!(
            table.weight(id) == expected.weight(e),
            "weights.toml: {kind} is not {weight}"
        );
    }
    Ok(())
}

/// One `flex-keeper run` process; killed if still running when dropped (a failed demo leaves no
/// keeper behind).
struct Keeper {
    name: &'static str,
    config: PathBuf,
    log: PathBuf,
    api: String,
    child: Option<Child>,
    /// How much of the log has been narrated.
    log_read: usize,
}

impl Keeper {
    fn spawn(bin: &Path, name: &'static str, stem: &str, dir: &Path, port: u16) -> Result<Self> {
        let config = dir.join(format!("{stem}.toml"));
        let log = dir.join(format!("{stem}.log"));
        let log_file = fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = Command::new(bin);
        cmd.arg("run")
            .arg("--config")
            .arg(&config)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        // The configs say everything: no FLEX_* overrides or RUST_LOG from the caller's environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("FLEX_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env_remove("RUST_LOG");
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {} run", bin.display()))?;
        Ok(Self {
            name,
            config,
            log,
            api: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            log_read: 0,
        })
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Fails if the process has exited.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut() {
            if let Some(status) = child.try_wait().context("waiting for a keeper")? {
                self.child = None;
                bail!(
                    "{}'s keeper exited ({status}); its log:\n{}",
                    self.name,
                    self.log_tail(30)
                );
            }
        }
        Ok(())
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The log's events since the last call, one line each: `message (key=value, ...)`.
    fn new_events(&mut self) -> Vec<String> {
        let text = self.log_text();
        let fresh = text.get(self.log_read..).unwrap_or_default();
        // Only whole lines.
        let upto = fresh.rfind('\n').map_or(0, |i| i + 1);
        let events = fresh[..upto].lines().filter_map(event_line).collect();
        self.log_read += upto;
        events
    }

    /// SIGTERM (the keeper's graceful shutdown), then SIGKILL after 15 s.
    fn stop(&mut self) -> Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(15);
        if matches!(term, Ok(s) if s.success()) {
            while Instant::now() < until {
                if let Some(status) = child.try_wait().context("waiting for a keeper")? {
                    return Ok(Some(status));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        child.kill().context("cannot kill a keeper")?;
        Ok(Some(child.wait().context("waiting for a keeper")?))
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A keeper's JSON log line as `message (field=value, ...)`, without timestamps, long paths and
/// account ids; `None` for lines that are not events.
fn event_line(line: &str) -> Option<String> {
    let v: Value = serde_json::from_str(line).ok()?;
    let fields = v.get("fields")?.as_object()?;
    let message = fields.get("message")?.as_str()?;
    let level = v.get("level").and_then(Value::as_str).unwrap_or("INFO");
    let mut parts = Vec::new();
    for (k, val) in fields {
        if matches!(
            k.as_str(),
            "message" | "keeper" | "store" | "source" | "url" | "contract"
        ) {
            continue;
        }
        let text = match val {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let text = if text.len() > 20 && text.starts_with("0x") {
            format!("{}..{}", &text[..10], &text[text.len() - 4..])
        } else {
            text
        };
        parts.push(format!("{k}={text}"));
    }
    let level = if level == "INFO" {
        String::new()
    } else {
        format!("[{level}] ")
    };
    Some(if parts.is_empty() {
        format!("{level}{message}")
    } else {
        format!("{level}{message} ({})", parts.join(", "))
    })
}

/// The three keepers.
struct Keepers(Vec<Keeper>);

impl Keepers {
    /// Fails when a keeper died; otherwise waits a moment (the step's deadline is the caller's).
    async fn tick(&mut self, what: &str, started: Instant) -> Result<()> {
        for k in &mut self.0 {
            k.check_alive()?;
        }
        if started.elapsed() > STEP_TIMEOUT {
            let logs: Vec<String> = self
                .0
                .iter()
                .map(|k| format!("--- {} ({}) ---\n{}", k.name, k.log.display(), k.log_tail(20)))
                .collect();
            bail!(
                "timed out after {} s waiting for {what}; the keepers' logs end with:\n{}",
                STEP_TIMEOUT.as_secs(),
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        Ok(())
    }

    /// Prints what each keeper logged since the last call.
    fn narrate_logs(&mut self) {
        for k in &mut self.0 {
            for event in k.new_events() {
                say(&format!("    {:<7} | {event}", k.name));
            }
        }
    }
}

/// GET `base` + `path`: the status and the JSON body.
async fn api_get(http: &reqwest::Client, base: &str, path: &str) -> Result<(u16, Value)> {
    let url = format!("{base}{path}");
    let resp = http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status().as_u16();
    let body = resp
        .json()
        .await
        .with_context(|| format!("GET {url}: not JSON"))?;
    Ok((status, body))
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v[key]
        .as_str()
        .with_context(|| format!("the API answer has no {key}: {v}"))
}

fn u128_field(v: &Value, key: &str) -> Result<u128> {
    str_field(v, key)?
        .parse()
        .with_context(|| format!("the API answer's {key} is not an integer: {v}"))
}

fn u64_field(v: &Value, key: &str) -> Result<u64> {
    v[key]
        .as_u64()
        .with_context(|| format!("the API answer has no {key}: {v}"))
}

/// The keepers' names for the given accounts, in order.
fn names(cast: &Cast, voters: &[AccountId32]) -> Vec<&'static str> {
    voters
        .iter()
        .map(|v| {
            cast.keepers()
                .into_iter()
                .find(|(_, k)| &account(k) == v)
                .map_or("someone else", |(n, _)| n)
        })
        .collect()
}

/// Sections 4 to 7 with three keeper processes. Returns what the sweep needs.
#[allow(clippy::too_many_arguments)]
pub async fn month(
    url: &str,
    chain: &Chain,
    cast: &Cast,
    d: &Deployment,
    activity: &Activity,
    keys: &[EvmKey],
    reports: &[EpochReport],
    paths: &KeeperPaths,
) -> Result<MonthOutcome> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the HTTP client")?;
    let threshold: u32 = d.pool.try_query("threshold", ()).await?;
    let eve = account(&cast.eve);
    // Alice's keeper signs with Alice's account, so Alice's own transfer goes first.
    d.pay
        .try_call(
            &cast.alice,
            "PSP22::transfer",
            (&eve, RELAYER_PAY, Vec::<u8>::new()),
        )
        .await?;
    say(&format!(
        "Alice gives Eve, the relayer, {} for claim costs (before Alice's keeper starts signing with her account).",
        tokens(RELAYER_PAY, "PAY")
    ));

    section("4. Three keeper processes start");
    let work = &paths.work_dir;
    if work.exists() {
        fs::remove_dir_all(work).with_context(|| format!("cannot empty {}", work.display()))?;
    }
    fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    let work = fs::canonicalize(work).with_context(|| format!("{}", work.display()))?;
    let template_path = paths.demo_dir.join("keeper.toml.in");
    let template = fs::read_to_string(&template_path)
        .with_context(|| format!("cannot read {}", template_path.display()))?;
    let mut keepers = Keepers(Vec::new());
    for (name, stem) in RUNNING {
        let port = free_port()?;
        let config = template
            .replace("@URL@", url)
            .replace("@CONTRACT@", &flex_types::hex::encode(d.pool.address.0))
            .replace("@BUNDLE@", &paths.bundle.display().to_string())
            .replace("@NAME@", stem)
            .replace("@DEMO_DIR@", &paths.demo_dir.display().to_string())
            .replace("@GENESIS@", &GENESIS.to_string())
            .replace("@CLAIM_PRICE@", &CLAIM_PRICE.to_string())
            .replace("@API_PORT@", &port.to_string());
        if let Some(i) = config.find('@') {
            let rest: String = config[i..].chars().take(20).collect();
            bail!("{}: unfilled placeholder at {rest:?}", template_path.display());
        }
        fs::write(work.join(format!("{stem}.toml")), config).context("cannot write a keeper config")?;
        fs::write(work.join(format!("{stem}.key")), format!("//{name}\n"))
            .context("cannot write a keeper key")?;
        keepers
            .0
            .push(Keeper::spawn(&paths.keeper_bin, name, stem, &work, port)?);
    }
    say(&format!(
        "From {} the demo writes one config per keeper into {} and starts:",
        template_path.display(),
        work.display()
    ));
    for k in &keepers.0 {
        say(&format!(
            "  {:<7} flex-keeper run --config {}   (pid {}, API {}, log {})",
            k.name,
            k.config
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            k.pid(),
            k.api,
            k.log
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
    }
    say(&format!(
        "Each signs with its dev account's key (<name>.key), keeps its own SQLite store, reads the same pool \
         and weights, and closes an epoch {GRACE_S} s after it ends."
    ));
    say("Dave is a registered keeper but runs no process: quorum 3 of 4 needs all three of them.");
    let started = Instant::now();
    for i in 0..keepers.0.len() {
        loop {
            let health = api_get(&http, &keepers.0[i].api, "/health").await.ok();
            if health.is_some_and(|(s, v)| s == 200 && v["status"] == "ok") {
                break;
            }
            keepers.tick("the keepers' /health to say ok", started).await?;
        }
    }
    // Each has imported the pool before it answers; wait for the log line to narrate it.
    loop {
        if keepers
            .0
            .iter()
            .all(|k| k.log_text().contains("connected to the chain"))
        {
            break;
        }
        keepers.tick("the keepers to connect", started).await?;
    }
    say(&format!(
        "All three answer /health with \"ok\" after {:.1} s. What they logged:",
        started.elapsed().as_secs_f64()
    ));
    keepers.narrate_logs();

    section("5. Epochs: chain time moves, the keepers close, vote and finalise");
    let alice_api = keepers.0[0].api.clone();
    let mut distributed = 0u128;
    for report in reports {
        let e = report.epoch;
        let (_, end) = narrate_day(activity, e)?;
        if e == 0 {
            travel(chain, end - 3600).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            let votes: Vec<([u8; 32], Proposal<EpochCommitment>)> =
                d.pool.try_query("epoch_votes", e).await?;
            let (status, _) = api_get(&http, &alice_api, &format!("/v1/epochs/{e}")).await?;
            ensure!(
                votes.is_empty() && status == 404,
                "a keeper acted on epoch {e} before it ended"
            );
            say(&format!(
                "  at {} the day is not over: no keeper votes (epoch_votes is empty), the API answers 404 for epoch {e}.",
                utc(end - 3600)
            ));
        }
        let at = end + GRACE_S + 60;
        travel(chain, at).await?;
        say(&format!(
            "  chain clock moved to {}: the epoch has ended and the grace period is over.",
            utc(at)
        ));
        let t0 = Instant::now();
        let info = loop {
            let info: Option<EpochInfo> = d.pool.try_query("epoch", e).await?;
            if let Some(info) = info {
                break info;
            }
            keepers.tick(&format!("epoch {e} to be finalised"), t0).await?;
        };
        let votes: Vec<([u8; 32], Proposal<EpochCommitment>)> = d.pool.try_query("epoch_votes", e).await?;
        ensure!(
            votes.len() == 1,
            "epoch {e}: {} different commitments were voted",
            votes.len()
        );
        let voters = names(cast, &votes[0].1.voters);
        say(&format!(
            "  finalised {:.1} s later. Votes on chain: {} -> one commitment, byte-identical from all three;",
            t0.elapsed().as_secs_f64(),
            voters.join(", ")
        ));
        say(&format!(
            "  quorum {threshold} of 4 reached with {}'s vote. Commitment hash 0x{}.",
            voters.last().copied().unwrap_or("?"),
            flex_types::hex::encode_digits(info.commitment_hash)
        ));
        // Every keeper records the finalisation.
        loop {
            let mut all = true;
            for k in &keepers.0 {
                let (s, v) = api_get(&http, &k.api, &format!("/v1/epochs/{e}")).await?;
                all &= s == 200 && v["finalized"] == true && v["voted"] == true;
            }
            if all {
                break;
            }
            keepers
                .tick(&format!("every keeper to record epoch {e} as finalised"), t0)
                .await?;
        }
        say("  What the keepers logged:");
        keepers.narrate_logs();
        let (_, v) = api_get(&http, &alice_api, &format!("/v1/epochs/{e}")).await?;
        say(&format!(
            "  Alice's API, GET /v1/epochs/{e}: status {}, {} active, {} ranked; Wi = {} ({}% of P_t), H = {};",
            str_field(&v, "status")?,
            u64_field(&v, "active")?,
            u64_field(&v, "ranked")?,
            u64_field(&v, "wallet_index")?,
            hundredths(u8::try_from(u64_field(&v, "wallet_index")?).context("wallet index")?),
            u64_field(&v, "halving")?
        ));
        say(&format!(
            "      P_t = {}, P_e = {}, multiplier sum {}, distributed {}",
            tokens(u128_field(&v, "snapshot")?, "FLEXE"),
            tokens(u128_field(&v, "pool")?, "FLEXE"),
            str_field(&v, "multiplier_sum")?,
            tokens(u128_field(&v, "distributed")?, "FLEXE")
        ));
        narrate_wallets(activity, report, (end - DAY)..end);
        // The demo's own engine run over the same activity must give the same bytes.
        let own = commitment_of(report)?;
        ensure!(
            info.commitment == own && info.distributed == report.distributed,
            "epoch {e}: the keepers' commitment differs from the demo's own replay of the sample"
        );
        // The contract agrees with the engine on the epoch's wallet index and hashes the
        // commitment as the keepers do (SCALE, keccak).
        ensure!(
            info.wallet_index == report.wallet_index && info.commitment_hash == own.hash(),
            "epoch {e}: the contract recorded Wi = {} and hash 0x{} for the demo's Wi = {} and hash 0x{}",
            info.wallet_index,
            flex_types::hex::encode_digits(info.commitment_hash),
            report.wallet_index,
            flex_types::hex::encode_digits(own.hash())
        );
        ensure!(
            str_field(&v, "commitment_hash")? == flex_types::hex::encode(own.hash()),
            "epoch {e}: Alice's API shows another commitment"
        );
        let unallocated: u128 = d.pool.try_query("unallocated", ()).await?;
        say(&format!(
            "  The demo's own engine replay gives the same commitment. Recorded on chain: month {}, distributed {}; unallocated now {}.",
            month_name(info.month_index),
            tokens(info.distributed, "FLEXE"),
            tokens(unallocated, "FLEXE")
        ));
        distributed += info.distributed;
    }
    println!();
    say(&format!(
        "January's three epochs distributed {} in total; {} stay unallocated.",
        tokens(distributed, "FLEXE"),
        tokens(d.pool.try_query("unallocated", ()).await?, "FLEXE")
    ));

    section("6. The month's claim root");
    say("With all of January's epochs final, each keeper builds the month's claim tree and votes its root.");
    let t0 = Instant::now();
    let month = loop {
        let month: Option<MonthInfo> = d.pool.try_query("month", JANUARY_2026).await?;
        if let Some(m) = month {
            break m;
        }
        keepers.tick("the month root to be finalised", t0).await?;
    };
    let votes: Vec<([u8; 32], Proposal<MonthRoot>)> = d.pool.try_query("month_votes", JANUARY_2026).await?;
    ensure!(
        votes.len() == 1,
        "{} different month roots were voted",
        votes.len()
    );
    let voters = names(cast, &votes[0].1.voters);
    // Let every keeper see the finalisation before narrating their logs.
    loop {
        let mut all = true;
        for k in &keepers.0 {
            let (s, v) = api_get(
                &http,
                &k.api,
                &format!("/v1/claims/{JANUARY_2026}/{}", keys[0].address()),
            )
            .await?;
            all &= s == 200 && v["root_status"] == "finalized";
        }
        if all {
            break;
        }
        keepers
            .tick("every keeper to record the month as finalised", t0)
            .await?;
    }
    say(&format!(
        "Finalised {:.1} s after the last epoch. Votes on chain: {}; quorum reached with {}'s vote.",
        t0.elapsed().as_secs_f64(),
        voters.join(", "),
        voters.last().copied().unwrap_or("?")
    ));
    say("What the keepers logged:");
    keepers.narrate_logs();
    let tree = claim_tree(reports, JANUARY_2026)?;
    ensure!(
        month.root.claims_root == tree.root()
            && month.root.total == distributed
            && month.root.claim_price == CLAIM_PRICE,
        "the finalised month root differs from the demo's own claim tree"
    );
    say("Each wallet's January total is a leaf (month, wallet, amount) of the claim tree:");
    for leaf in tree.values() {
        say(&format!(
            "  {} {}  {}",
            label(activity, &leaf.wallet),
            leaf.wallet,
            tokens(leaf.amount, "FLEXE")
        ));
    }
    say(&format!(
        "Claims root 0x{} (the demo's own tree has the same root)",
        flex_types::hex::encode_digits(month.root.claims_root)
    ));
    say(&format!(
        "Total {}; claim price {} PAY per FLEXE (the claim cost is 10% of amount x price).",
        tokens(month.root.total, "FLEXE"),
        decimal(month.root.claim_price, 18)
    ));
    let (open, close): (u64, u64) = d
        .pool
        .try_query::<Option<(u64, u64)>>("claim_window", JANUARY_2026)
        .await?
        .context("no claim window for January")?;
    say(&format!(
        "Claim window: from {} until {}.",
        utc_s(open)?,
        utc_s(close)?
    ));

    section("7. A wallet claims through the keeper API (February)");
    travel(chain, FEB_1 + 3600).await?;
    say(&format!("Chain clock moved to {}.", utc(FEB_1 + 3600)));
    let ferdie = account(&cast.ferdie);
    let w1 = keys[0].address().to_string();
    let key_file = work.join("w1.key");
    // The sample wallets' keys are public test keys: W1's is 32 bytes of 0x01.
    fs::write(&key_file, flex_types::hex::encode_digits([1u8; 32])).context("cannot write W1's key file")?;
    ensure!(
        EvmKey::from_file(&key_file)?.address() == keys[0].address(),
        "w1.key is not W1's key"
    );
    let beneficiary = flex_types::hex::encode(ferdie.0);
    let claim_path = format!("/v1/claims/{JANUARY_2026}/{w1}?beneficiary={beneficiary}");
    let (status, v) = api_get(&http, &alice_api, &claim_path).await?;
    ensure!(status == 200, "GET {claim_path}: {status} {v}");
    let amount = u128_field(&v, "amount")?;
    let proof_len = v["proof"].as_array().map_or(0, Vec::len);
    say(&format!(
        "W1 ({w1}) asks Alice's keeper: GET /v1/claims/{JANUARY_2026}/{w1}?beneficiary=<Ferdie>"
    ));
    say(&format!(
        "  amount {}, {proof_len}-hash proof, root {}, claim status {}; the message to sign:",
        tokens(amount, "FLEXE"),
        str_field(&v, "root_status")?,
        str_field(&v, "claim_status")?
    ));
    let message = str_field(&v, "message")?;
    for line in message.lines() {
        say(&format!("    | {line}"));
    }
    let on_chain: Vec<u8> = d
        .pool
        .try_query(
            "claim_message",
            (JANUARY_2026, keys[0].address().0, amount, &ferdie),
        )
        .await?;
    ensure!(
        on_chain == message.as_bytes(),
        "the contract builds another claim message than Alice's API"
    );
    let before = Balances::read(d, cast).await?;
    let claim_args = |api: &str| -> Vec<String> {
        vec![
            "claim".into(),
            "--month".into(),
            JANUARY_2026.to_string(),
            "--wallet-key".into(),
            key_file.display().to_string(),
            "--beneficiary".into(),
            beneficiary.clone(),
            "--api".into(),
            api.to_string(),
            "--url".into(),
            url.to_string(),
            "--signer".into(),
            "//Eve".into(),
            "--bundle".into(),
            paths.bundle.display().to_string(),
        ]
    };
    let cli_args = claim_args(&alice_api);
    say("Eve relays the claim for W1 and pays its cost:");
    say(&format!(
        "  $ flex-keeper claim --month {JANUARY_2026} --wallet-key w1.key --beneficiary <Ferdie> --api {alice_api} --url {url} --signer //Eve"
    ));
    let out = run_keeper_cli(&paths.keeper_bin, &cli_args).await?;
    ensure!(
        out.status.success(),
        "flex-keeper claim failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let printed: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "flex-keeper claim printed no JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    say("  It fetched the proof, rebuilt and checked the message, signed it with W1's key (EIP-191),");
    say("  approved the claim cost from Eve's PAY and submitted the claim. It prints:");
    let pretty = serde_json::to_string_pretty(&printed).context("cannot print the claim's answer")?;
    for line in pretty.lines() {
        say(&format!("    {line}"));
    }
    let cost = u128_field(&printed, "cost")?;
    ensure!(
        printed["claimed"] == true && u128_field(&printed, "amount")? == amount,
        "flex-keeper claim reports another outcome: {printed}"
    );
    let after = Balances::read(d, cast).await?;
    say(&format!(
        "  Ferdie's FLEXE: {} -> {} (+{})",
        tokens(before.ferdie_flexe, "FLEXE"),
        tokens(after.ferdie_flexe, "FLEXE"),
        tokens(after.ferdie_flexe.saturating_sub(before.ferdie_flexe), "FLEXE")
    ));
    say(&format!(
        "  Eve's PAY: {} -> {} (she paid the cost, {})",
        tokens(before.eve_pay, "PAY"),
        tokens(after.eve_pay, "PAY"),
        tokens(cost, "PAY")
    ));
    say(&format!(
        "  Treasury's PAY: {} -> {}",
        tokens(before.treasury_pay, "PAY"),
        tokens(after.treasury_pay, "PAY")
    ));
    say(&format!(
        "  Pool's FLEXE: {} -> {}",
        tokens(before.pool_flexe, "FLEXE"),
        tokens(after.pool_flexe, "FLEXE")
    ));
    ensure!(
        after.ferdie_flexe == before.ferdie_flexe + amount
            && after.eve_pay + cost == before.eve_pay
            && after.treasury_pay == before.treasury_pay + cost,
        "the claim moved other amounts than expected"
    );
    let (_, v) = api_get(&http, &keepers.0[1].api, &claim_path).await?;
    ensure!(
        v["claim_status"] == "claimed",
        "Bob's API does not show the claim: {v}"
    );
    say("  Bob's keeper API now shows W1's claim status as \"claimed\".");

    let again = run_keeper_cli(&paths.keeper_bin, &claim_args(&keepers.0[2].api)).await?;
    let stderr = String::from_utf8_lossy(&again.stderr);
    ensure!(
        !again.status.success() && stderr.contains("AlreadyClaimed"),
        "a second claim did not fail with AlreadyClaimed: {} {stderr}",
        again.status
    );
    // The error line (a backtrace may follow it when RUST_BACKTRACE is set).
    let reason = stderr
        .lines()
        .find(|l| l.contains("AlreadyClaimed"))
        .unwrap_or_default()
        .trim();
    let code = again
        .status
        .code()
        .map_or_else(|| again.status.to_string(), |c| format!("code {c}"));
    say(&format!(
        "The same claim again, through Charlie's API: flex-keeper claim exits with {code}:"
    ));
    say(&format!("    {reason}"));
    ensure!(
        d.flexe.balance_of(&ferdie).await? == after.ferdie_flexe,
        "the second claim changed Ferdie's balance"
    );

    println!();
    say("The month is settled; the demo stops the three keepers (SIGTERM):");
    for k in &mut keepers.0 {
        let status = k.stop()?;
        let status = status.map_or_else(|| "not running".to_string(), |s| s.to_string());
        say(&format!("  {:<7} stopped: {status}", k.name));
    }
    keepers.narrate_logs();
    say(&format!(
        "Their configs, databases and logs stay in {}.",
        work.display()
    ));
    Ok(MonthOutcome {
        tree,
        distributed,
        claimed: amount,
    })
}

async fn run_keeper_cli(bin: &Path, args: &[String]) -> Result<std::process::Output> {
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FLEX_") {
            cmd.env_remove(&key);
        }
    }
    cmd.output()
        .await
        .with_context(|| format!("cannot run {} claim", bin.display()))
}

fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .context("no free loopback port for a keeper's API")
}
