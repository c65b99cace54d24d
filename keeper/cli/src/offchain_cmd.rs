//! `flex-keeper offchain`: signed off-chain action batches (`docs/PROTOCOL.md`, "Off-chain
//! submissions").
//!
//! - `sign`: reads a list of actions, signs it as a batch with an attester's EVM key and writes the
//!   signed file (the JSON envelope). The domain (chain genesis hash, contract) and the next nonce
//!   come from a keeper's `GET /v1/offchain`, or from `--chain`, `--contract` and `--nonce` to sign
//!   offline.
//! - `submit`: posts signed files to one or more keepers (`POST /v1/actions`); every keeper must
//!   receive every batch, in nonce order.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use flex_evm::EvmKey;
use flex_ingest::TimestampError;
use flex_sources::offchain::{read_signed_file, Domain, OffchainAction, SignedSubmission, Submission};
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
    /// The batch's nonce (default: the attester's last accepted nonce at --api, plus one).
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
    /// Signed files, applied in the order given (give them in nonce order).
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
    }
}

/// A chain's genesis hash: `0x` + 64 hex digits.
fn hash32(s: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    hex::decode(s.trim()).map_err(|e| anyhow!("{what}: {s:?}: {e}"))
}

/// A contract account: `0x` + 64 hex digits or SS58 (any network).
fn account32(s: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    s.trim()
        .parse::<AccountId>()
        .map(|a| a.0)
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

async fn get_json(url: &str) -> anyhow::Result<Value> {
    let resp = reqwest::get(url).await.with_context(|| format!("GET {url}"))?;
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
        Some(get_json(&url).await?)
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
    let client = reqwest::Client::new();
    let mut failed = 0usize;
    for (file, signed) in &batches {
        let body = signed.to_json();
        for api in &args.apis {
            let url = format!("{}/v1/actions", api.trim_end_matches('/'));
            let resp = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .with_context(|| format!("POST {url}"))?;
            let status = resp.status();
            let answer: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                failed += 1;
                eprintln!(
                    "{}: {url} refused ({status}): {}",
                    file.display(),
                    answer["error"]["message"].as_str().unwrap_or("?")
                );
            }
            println!(
                "{}",
                json!({
                    "file": file.display().to_string(),
                    "api": api,
                    "status": status.as_u16(),
                    "answer": answer,
                })
            );
        }
    }
    if failed > 0 {
        bail!("{failed} submission(s) refused");
    }
    Ok(())
}
