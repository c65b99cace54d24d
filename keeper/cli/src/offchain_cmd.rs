//! `flex-keeper offchain`: signed off-chain action batches (`docs/PROTOCOL.md`, "Off-chain
//! submissions").
//!
//! - `sign`: reads a list of actions, signs it as a batch with an attester's EVM key and writes the
//!   signed file (the JSON envelope). The domain (chain genesis hash, contract) and the next nonce
//!   come from a keeper's `GET /v1/offchain`, or from `--chain`, `--contract` and `--nonce` to sign
//!   offline.
//! - `submit`: posts signed files to one or more keepers (`POST /v1/actions`); every keeper must
//!   receive every batch (any order) before the epochs it touches close. After a refusal (or an
//!   unreachable API) it sends nothing more to that API, says which files it did not send there,
//!   goes on with the other APIs, and fails. A batch the keeper already holds counts as delivered.
//! - `archive`: writes the batches a keeper accepted (its store keeps each envelope) as JSON
//!   lines, one envelope a line.
//! - `reimport`: a keeper rebuilding its history takes such an archive back: signatures,
//!   attesters and kinds are checked, the closed-epoch rules are not.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use flex_evm::EvmKey;
use flex_ingest::TimestampError;
use flex_service::Config;
use flex_sources::offchain::{
    read_signed_file, record_chain, Domain, Intake, OffchainAction, Policy, SignedSubmission, Submission,
    CHAIN_META,
};
use flex_store::{SqliteStore, Store};
use flex_types::{hex, AccountId};
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct OffchainArgs {
    #[command(subcommand)]
    command: OffchainCommand,
}

#[derive(Debug, Subcommand)]
enum OffchainCommand {
    /// Sign a batch of off-chain actions with an attester's key and write the signed file.
    Sign(SignArgs),
    /// POST signed files to keepers' APIs.
    Submit(SubmitArgs),
    /// Write the signed batches a keeper accepted as JSON lines (one envelope a line).
    Archive(ArchiveArgs),
    /// Re-import archived batches into a keeper's store (rebuilding its history): signatures are
    /// checked, closed epochs are not.
    Reimport(ReimportArgs),
}

#[derive(Debug, Args)]
struct ArchiveArgs {
    /// The keeper's configuration (its `store.path`; FLEX_* overrides apply).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "store",
        required_unless_present = "store"
    )]
    config: Option<PathBuf>,
    /// The database, without --config.
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,
    /// Where to write the archive (default: standard output).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ReimportArgs {
    /// The rebuilding keeper's configuration: its store, attesters, kinds, contract and genesis.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The chain's genesis hash (0x + 64 hex digits) the batches are signed for, when the store
    /// has not recorded it yet (a new store, before the keeper first connected).
    #[arg(long, value_name = "HASH")]
    chain: Option<String>,
    /// Archives (JSON lines, as `archive` writes them), in any order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct SignArgs {
    /// File holding the attester's secp256k1 private key (64 hex digits).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The actions: a JSON list (or {"actions": [...]}) of {action_id, wallet, kind, timestamp};
    /// timestamp in unix seconds or RFC 3339, action_id a string or an integer.
    #[arg(long, value_name = "FILE")]
    actions: PathBuf,
    /// Where to write the signed file (default: standard output).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The batch's nonce, one the attester has not used (default: the attester's highest accepted
    /// nonce at --api, plus one).
    #[arg(long)]
    nonce: Option<u64>,
    /// When the batch expires (unix seconds or RFC 3339; default: now + --ttl).
    #[arg(long, value_name = "TIME")]
    expires_at: Option<String>,
    /// Seconds the batch stays valid when --expires-at is not given.
    #[arg(long, default_value_t = 3600)]
    ttl: i64,
    /// A keeper's API, asked for the domain and the nonce unless --chain, --contract and --nonce
    /// are all given.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    #[command(flatten)]
    tls: crate::http::TlsArgs,
    /// The chain's genesis hash (0x + 64 hex digits), to sign offline.
    #[arg(long, value_name = "HASH", requires = "contract")]
    chain: Option<String>,
    /// The reward pool contract's account (0x + 64 hex digits, or SS58), to sign offline.
    #[arg(long, value_name = "ACCOUNT", requires = "chain")]
    contract: Option<String>,
}

#[derive(Debug, Args)]
struct SubmitArgs {
    /// Keepers' APIs; each gets every file (repeat the option for several keepers).
    #[arg(long = "api", default_value = "http://127.0.0.1:8080")]
    apis: Vec<String>,
    #[command(flatten)]
    tls: crate::http::TlsArgs,
    /// Signed files, sent in the order given (any order is accepted).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

pub fn run(args: OffchainArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match args.command {
        OffchainCommand::Sign(a) => runtime.block_on(sign(a)),
        OffchainCommand::Submit(a) => runtime.block_on(submit(a)),
        OffchainCommand::Archive(a) => archive(a),
        OffchainCommand::Reimport(a) => reimport(a),
    }
}

/// A chain's genesis hash: `0x` + 64 hex digits.
fn hash32(s: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    hex::decode(s.trim()).map_err(|e| anyhow!("{what}: {s:?}: {e}"))
}

/// A contract account: `0x` + 64 hex digits or SS58 (any network).
fn account32(s: &str, what: &str) -> anyhow::Result<AccountId> {
    s.trim()
        .parse::<AccountId>()
        .map_err(|e| anyhow!("{what}: {s:?} is {e}"))
}

/// Why an action's `timestamp` is not a time.
#[derive(Debug, thiserror::Error)]
enum TimeError {
    #[error("{0} is not whole unix seconds")]
    NotWhole(serde_json::Number),
    #[error("{0:?} is out of range")]
    OutOfRange(String),
    #[error(transparent)]
    Rfc3339(#[from] TimestampError),
    #[error("{0} is not a time")]
    NotATime(Value),
}

fn time_value(v: &Value) -> Result<i64, TimeError> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| TimeError::NotWhole(n.clone())),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(|_| TimeError::OutOfRange(s.clone()))
        }
        Value::String(s) => Ok(flex_ingest::parse_rfc3339(s)?),
        other => Err(TimeError::NotATime(other.clone())),
    }
}

/// Reads the unsigned actions; errors name the file, the action and the field.
fn read_actions(path: &Path) -> anyhow::Result<Vec<OffchainAction>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("{file}: cannot read"))?;
    let v: Value = serde_json::from_str(&text).with_context(|| format!("{file}: not JSON"))?;
    let list = match &v {
        Value::Array(a) => a,
        Value::Object(o) => o
            .get("actions")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("{file}: no \"actions\" list"))?,
        _ => bail!("{file}: not a list of actions or an object with \"actions\""),
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        let at = |field: &str, m: String| anyhow!("{file}: actions[{i}].{field}: {m}");
        let o = a
            .as_object()
            .ok_or_else(|| at("action_id", "the action is not an object".into()))?;
        let action_id = match o.get("action_id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            _ => return Err(at("action_id", "missing, or not a string or an integer".into())),
        };
        let wallet = o
            .get("wallet")
            .and_then(Value::as_str)
            .ok_or_else(|| at("wallet", "missing or not a string".into()))?;
        let wallet = wallet
            .parse::<flex_types::Address>()
            .map_err(|e| at("wallet", format!("{wallet:?}: {e}")))?;
        let kind = o
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| at("kind", "missing or not a string".into()))?
            .to_string();
        let timestamp = time_value(o.get("timestamp").unwrap_or(&Value::Null))
            .map_err(|e| at("timestamp", e.to_string()))?;
        out.push(OffchainAction {
            action_id,
            wallet,
            kind,
            timestamp,
        });
    }
    Ok(out)
}

async fn get_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    let resp = http.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("GET {url}: not JSON"))?;
    if !status.is_success() {
        bail!(
            "GET {url}: {status}: {}",
            body["error"]["message"].as_str().unwrap_or("?")
        );
    }
    Ok(body)
}

async fn sign(args: SignArgs) -> anyhow::Result<()> {
    let key = EvmKey::from_file(&args.key)?;
    let attester = key.address();
    let actions = read_actions(&args.actions)?;
    let offline = args.chain.is_some() && args.contract.is_some() && args.nonce.is_some();
    let info = if offline {
        None
    } else {
        let url = format!("{}/v1/offchain", args.api.trim_end_matches('/'));
        Some(get_json(&crate::http::client(&args.tls)?, &url).await?)
    };
    let domain = match (&args.chain, &args.contract, &info) {
        (Some(c), Some(k), _) => Domain {
            chain: hash32(c, "--chain")?,
            contract: account32(k, "--contract")?,
        },
        (_, _, Some(info)) => {
            let chain = info["chain"].as_str().ok_or_else(|| {
                anyhow!(
                    "the keeper at {} has not connected to its chain yet (no genesis hash to sign for); \
                     try again, or give --chain and --contract",
                    args.api
                )
            })?;
            Domain {
                chain: hash32(chain, "the API's chain")?,
                contract: account32(
                    info["contract"].as_str().unwrap_or_default(),
                    "the API's contract",
                )?,
            }
        }
        _ => bail!("give --chain and --contract, or an --api to ask"),
    };
    let nonce = match (args.nonce, &info) {
        (Some(n), _) => n,
        (None, Some(info)) => {
            let me = attester.to_string();
            let entry = info["attesters"]
                .as_array()
                .and_then(|a| a.iter().find(|e| e["address"].as_str() == Some(me.as_str())))
                .ok_or_else(|| {
                    anyhow!(
                        "the keeper at {} does not accept the attester {me} (offchain.attesters)",
                        args.api
                    )
                })?;
            match entry["last_nonce"].as_u64() {
                Some(n) => n
                    .checked_add(1)
                    .ok_or_else(|| anyhow!("the attester's nonce is exhausted"))?,
                None => 1,
            }
        }
        (None, None) => bail!("give --nonce, or an --api to ask"),
    };
    let expires_at = match &args.expires_at {
        Some(t) => time_value(&Value::String(t.clone())).map_err(|m| anyhow!("--expires-at: {m}"))?,
        None => flex_sources::offchain::unix_now()
            .checked_add(args.ttl)
            .ok_or_else(|| anyhow!("--ttl: out of range"))?,
    };
    let submission = Submission {
        attester,
        nonce,
        expires_at,
        actions,
    };
    let signed = submission
        .sign(&key, &domain)
        .map_err(|e| anyhow!("{}: {e}", args.actions.display()))?;
    let text = signed.to_json();
    match &args.out {
        Some(out) => {
            // Written whole, then renamed: a keeper watching the folder never reads half a file.
            let tmp = out.with_extension("json.tmp");
            std::fs::write(&tmp, format!("{text}\n"))
                .with_context(|| format!("{}: cannot write", tmp.display()))?;
            std::fs::rename(&tmp, out).with_context(|| format!("{}: cannot write", out.display()))?;
            println!(
                "{}",
                json!({
                    "file": out.display().to_string(),
                    "attester": attester.to_string(),
                    "nonce": nonce,
                    "expires_at": expires_at,
                    "actions": signed.submission.actions.len(),
                    "digest": hex::encode(signed.submission.digest(&domain)),
                })
            );
        }
        None => println!("{text}"),
    }
    Ok(())
}

async fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let mut batches: Vec<(PathBuf, SignedSubmission)> = Vec::new();
    for f in &args.files {
        let s = read_signed_file(f).map_err(|e| anyhow!("{}: {e}", f.display()))?;
        batches.push((f.clone(), s));
    }
    let client = crate::http::client(&args.tls)?;
    // Per API, the file it stopped at (after a refusal or a failed request).
    let mut stopped: Vec<(String, usize)> = Vec::new();
    for api in &args.apis {
        let url = format!("{}/v1/actions", api.trim_end_matches('/'));
        for (i, (file, signed)) in batches.iter().enumerate() {
            let sent = client
                .post(&url)
                .header("content-type", "application/json")
                .body(signed.to_json())
                .send()
                .await;
            let (status, answer) = match sent {
                Ok(resp) => {
                    let status = resp.status();
                    (Some(status), resp.json::<Value>().await.unwrap_or(Value::Null))
                }
                Err(e) => (
                    None,
                    json!({"error": {"code": "unreachable", "message": crate::http::error_chain(&e)}}),
                ),
            };
            println!(
                "{}",
                json!({
                    "file": file.display().to_string(),
                    "api": api,
                    "status": status.map(|s| s.as_u16()),
                    "answer": answer,
                })
            );
            // This very batch, accepted before: delivered.
            let delivered = status.is_some_and(|s| s.is_success())
                || answer["error"]["code"].as_str() == Some("already_accepted");
            if !delivered {
                let why = match status {
                    Some(s) => format!("refused ({s})"),
                    None => "could not be reached".to_string(),
                };
                eprintln!(
                    "{}: {url} {why}: {}",
                    file.display(),
                    answer["error"]["message"].as_str().unwrap_or("?")
                );
                stopped.push((api.clone(), i));
                break;
            }
        }
    }
    if stopped.is_empty() {
        return Ok(());
    }
    for (api, i) in &stopped {
        let unsent: Vec<String> = batches[i + 1..]
            .iter()
            .map(|(f, _)| f.display().to_string())
            .collect();
        eprintln!(
            "{api}: stopped at {} (not delivered); not sent there: {}",
            batches[*i].0.display(),
            if unsent.is_empty() {
                "none".to_string()
            } else {
                unsent.join(", ")
            }
        );
    }
    bail!(
        "{} of {} API(s) did not take every batch (each stopped at its first refusal; see above)",
        stopped.len(),
        args.apis.len()
    )
}

fn archive(args: ArchiveArgs) -> anyhow::Result<()> {
    let path = match (&args.config, &args.store) {
        (Some(c), _) => Config::load(c)?.store_path,
        (None, Some(s)) => s.clone(),
        (None, None) => bail!("give --config or --store"),
    };
    let store = SqliteStore::open(&path)?;
    // Streamed: an archive can be larger than memory.
    let (mut out, tmp): (Box<dyn Write>, Option<PathBuf>) = match &args.out {
        Some(out) => {
            let tmp = out.with_extension("jsonl.tmp");
            let f =
                std::fs::File::create(&tmp).with_context(|| format!("{}: cannot write", tmp.display()))?;
            (Box::new(BufWriter::new(f)), Some(tmp))
        }
        None => (Box::new(BufWriter::new(std::io::stdout().lock())), None),
    };
    let (mut written, mut without) = (0u64, 0u64);
    store.offchain_archive(&mut |b| {
        match b.envelope {
            Some(e) => {
                writeln!(out, "{e}").map_err(|e| e.to_string())?;
                written += 1;
            }
            None => {
                without += 1;
                eprintln!(
                    "{}: batch {} of {} was accepted before the store kept envelopes (schema 8): not in the archive",
                    path.display(),
                    b.nonce,
                    b.attester
                );
            }
        }
        Ok(())
    })?;
    out.flush()?;
    drop(out);
    if let (Some(tmp), Some(dest)) = (tmp, &args.out) {
        // Written whole, then renamed: a reader never sees half an archive.
        std::fs::rename(&tmp, dest).with_context(|| format!("{}: cannot write", dest.display()))?;
        println!(
            "{}",
            json!({"file": dest.display().to_string(), "batches": written, "without_envelope": without})
        );
    }
    Ok(())
}

fn reimport(args: ReimportArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.store_path)?);
    let contract = hex::encode(config.contract);
    if let Some(c) = store.meta("contract")? {
        if c != contract {
            bail!(
                "the database {} belongs to the contract {c}, not {contract}",
                config.store_path.display()
            );
        }
    }
    if let Some(chain) = &args.chain {
        let chain = hash32(chain, "--chain")?;
        match store.meta(CHAIN_META)? {
            Some(h) if h != hex::encode(chain) => bail!(
                "--chain: the store {} records the chain {h}",
                config.store_path.display()
            ),
            _ => record_chain(&*store, chain)?,
        }
    }
    let intake = Intake::new(
        store,
        Policy {
            attesters: config.offchain_attesters.iter().copied().collect(),
            kinds: config
                .offchain_kinds
                .as_ref()
                .map(|k| k.iter().cloned().collect()),
        },
        config.known_kinds()?,
        config.contract,
        config.genesis,
    )
    .map_err(|m| anyhow!("{}: {m}", args.config.display()))?;
    let mut refused = 0usize;
    for f in &args.files {
        let file = std::fs::File::open(f).with_context(|| format!("{}: cannot read", f.display()))?;
        let name = f.display().to_string();
        let st = intake
            .reimport(&mut BufReader::new(file), &name)
            .map_err(|e| anyhow!("{name}: {e}"))?;
        for (line, why) in &st.refused {
            eprintln!("{name}:{line}: refused: {why}");
        }
        refused += st.refused.len();
        println!(
            "{}",
            json!({
                "file": name,
                "accepted": st.accepted,
                "known": st.known,
                "refused": st.refused.len(),
                "actions_new": st.actions_new,
            })
        );
    }
    if refused > 0 {
        bail!("{refused} archived batch(es) refused (see above)");
    }
    Ok(())
}
