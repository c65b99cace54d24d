//! `flex-keeper deploy`: uploads and instantiates the reward and payment tokens (or takes
//! existing PSP22 tokens) and the reward pool from their `.contract` bundles, and optionally funds
//! the pool, on any chain with pallet-contracts. Constructor values come from a TOML file
//! (`--config`) and/or flags (flags win). Prints every address in SS58 and hex, the code hashes
//! (checked against the chain's), the transactions and blocks, as JSON.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use flex_chain::deploy::{PoolSpec, TokenSpec};
use flex_chain::{AccountId32, Chain, ContractBundle, Instantiated, Keypair};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::contract_args::{account_json, default_bundle, hash_json, parse_account, ChainArgs};

/// The contract's minimum governance delay (two days), the default.
const DEFAULT_GOVERNANCE_DELAY: u64 = 2 * 86_400;

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// A TOML file with `[reward_token]`, `[payment_token]` and `[pool]` (docs/OPERATING.md, "Deploy").
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The reward token: an existing PSP22 token's account, or `new:SYMBOL:DECIMALS:SUPPLY` to
    /// deploy a flex_token minting SUPPLY base units to the signer.
    #[arg(long, value_name = "ACCOUNT|new:SYMBOL:DECIMALS:SUPPLY")]
    reward_token: Option<String>,
    /// The payment token (claim costs), as --reward-token.
    #[arg(long, value_name = "ACCOUNT|new:SYMBOL:DECIMALS:SUPPLY")]
    payment_token: Option<String>,
    /// The account that receives claim costs and sweeps.
    #[arg(long, value_name = "ACCOUNT")]
    treasury: Option<String>,
    /// The pool's genesis: YYYY-MM-DD (00:00:00 UTC) or unix seconds at 00:00:00 UTC.
    #[arg(long, value_name = "DATE|UNIX")]
    genesis: Option<String>,
    /// A keeper account (repeat for each; replaces the file's list).
    #[arg(long = "keeper", value_name = "ACCOUNT")]
    keepers: Vec<String>,
    /// Seconds between a governance announcement and its execution (two days to ninety days).
    #[arg(long, value_name = "SECONDS")]
    governance_delay: Option<u64>,
    /// Reward-token base units the signer approves and deposits into the new pool (0: none).
    #[arg(long, value_name = "BASE_UNITS")]
    deposit: Option<u128>,
    /// The pool's instantiation salt (another salt gives another address for the same values).
    #[arg(long, value_name = "TEXT")]
    pool_salt: Option<String>,
    /// flex_token's bundle (default: <ink dir>/flex_token/flex_token.contract).
    #[arg(long, value_name = "FILE")]
    token_bundle: Option<PathBuf>,
    /// The reward pool's bundle (default: <ink dir>/flex_reward_pool/flex_reward_pool.contract).
    #[arg(long, value_name = "FILE")]
    pool_bundle: Option<PathBuf>,
}

/// The TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployFile {
    reward_token: Option<TokenSection>,
    payment_token: Option<TokenSection>,
    #[serde(default)]
    pool: PoolSection,
}

/// `[reward_token]` / `[payment_token]`: `address` of an existing token, or the new token's
/// constructor values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSection {
    address: Option<String>,
    symbol: Option<String>,
    name: Option<String>,
    decimals: Option<u8>,
    /// Base units, a decimal string (TOML integers stop at 2^63).
    supply: Option<String>,
    salt: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolSection {
    treasury: Option<String>,
    genesis: Option<toml::Value>,
    keepers: Option<Vec<String>>,
    governance_delay: Option<u64>,
    salt: Option<String>,
    /// Base units, a decimal string.
    deposit: Option<String>,
}

/// A token to use or deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenPlan {
    Existing(AccountId32),
    New { spec: TokenSpec, salt: Vec<u8> },
}

/// Everything checked, before any transaction.
#[derive(Debug)]
struct Plan {
    reward: TokenPlan,
    payment: TokenPlan,
    treasury: AccountId32,
    genesis: u64,
    keepers: Vec<AccountId32>,
    governance_delay: u64,
    salt: Vec<u8>,
    deposit: u128,
}

fn parse_u128(s: &str, what: &str) -> anyhow::Result<u128> {
    s.trim()
        .replace('_', "")
        .parse()
        .map_err(|_| anyhow!("{what}: {s:?} is not a whole number of base units"))
}

/// `YYYY-MM-DD` or unix seconds, at 00:00:00 UTC (the contract refuses other times).
fn parse_genesis(s: &str, what: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let secs: i64 = match s.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            let num = |t: &str| {
                t.parse::<u32>()
                    .map_err(|_| anyhow!("{what}: {s:?} is not YYYY-MM-DD"))
            };
            let (y, m, d) = (num(y)?, num(m)?, num(d)?);
            if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
                bail!("{what}: {s:?} is not a date");
            }
            let days = flex_engine::calendar::days_from_civil(i64::from(y), m, d);
            // 2026-02-30 would silently become 2026-03-02: refuse dates that do not round-trip.
            if flex_engine::calendar::date(days * 86_400) != s {
                bail!("{what}: {s:?} is not a date");
            }
            days * 86_400
        }
        _ => s
            .parse()
            .map_err(|_| anyhow!("{what}: {s:?} is neither YYYY-MM-DD nor unix seconds"))?,
    };
    if secs < 0 || secs % 86_400 != 0 {
        bail!("{what}: {s:?} is not 00:00:00 UTC of a day (the pool counts epochs from midnight)");
    }
    Ok(secs as u64)
}

fn token_from_flag(s: &str, what: &str) -> anyhow::Result<TokenPlan> {
    match s.strip_prefix("new:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.split(':').collect();
            let [symbol, decimals, supply] = parts.as_slice() else {
                bail!("{what}: {s:?} is not new:SYMBOL:DECIMALS:SUPPLY");
            };
            let decimals: u8 = decimals
                .parse()
                .map_err(|_| anyhow!("{what}: decimals {decimals:?} is not 0..255"))?;
            if symbol.is_empty() {
                bail!("{what}: the symbol is empty");
            }
            Ok(TokenPlan::New {
                spec: TokenSpec {
                    supply: parse_u128(supply, what)?,
                    name: Some(symbol.to_string()),
                    symbol: Some(symbol.to_string()),
                    decimals,
                },
                salt: symbol.as_bytes().to_vec(),
            })
        }
        None => Ok(TokenPlan::Existing(parse_account(s, what)?)),
    }
}

fn token_from_file(t: &TokenSection, section: &str, file: &str) -> anyhow::Result<TokenPlan> {
    let key = |k: &str| format!("{file}: {section}.{k}");
    if let Some(address) = &t.address {
        if t.symbol.is_some()
            || t.name.is_some()
            || t.decimals.is_some()
            || t.supply.is_some()
            || t.salt.is_some()
        {
            bail!(
                "{}: an existing token (address) takes no constructor values (symbol, name, decimals, supply, salt)",
                key("address")
            );
        }
        return Ok(TokenPlan::Existing(parse_account(address, &key("address"))?));
    }
    let symbol = t.symbol.clone().ok_or_else(|| {
        anyhow!(
            "{}: missing (or give address for an existing token)",
            key("symbol")
        )
    })?;
    let decimals = t
        .decimals
        .ok_or_else(|| anyhow!("{}: missing", key("decimals")))?;
    let supply = t
        .supply
        .as_deref()
        .ok_or_else(|| anyhow!("{}: missing (base units, a decimal string)", key("supply")))?;
    Ok(TokenPlan::New {
        spec: TokenSpec {
            supply: parse_u128(supply, &key("supply"))?,
            name: Some(t.name.clone().unwrap_or_else(|| symbol.clone())),
            symbol: Some(symbol.clone()),
            decimals,
        },
        salt: t.salt.clone().unwrap_or(symbol).into_bytes(),
    })
}

impl DeployArgs {
    /// The file's values with the flags over them, all checked.
    fn plan(&self) -> anyhow::Result<Plan> {
        let (file, name) = match &self.config {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path).with_context(|| format!("{name}: cannot read"))?;
                let parsed: DeployFile = toml::from_str(&text).map_err(|e| anyhow!("{name}: {e}"))?;
                (parsed, name)
            }
            None => (DeployFile::default(), "(no --config)".to_string()),
        };
        let token =
            |flag: &Option<String>, section: &Option<TokenSection>, key: &str| -> anyhow::Result<TokenPlan> {
                match (flag, section) {
                    (Some(f), _) => token_from_flag(f, &format!("--{}", key.replace('_', "-"))),
                    (None, Some(t)) => token_from_file(t, key, &name),
                    (None, None) => bail!(
                    "the {} is missing: give [{key}] in --config or --{} ACCOUNT|new:SYMBOL:DECIMALS:SUPPLY",
                    key.replace('_', " "),
                    key.replace('_', "-")
                ),
                }
            };
        let reward = token(&self.reward_token, &file.reward_token, "reward_token")?;
        let payment = token(&self.payment_token, &file.payment_token, "payment_token")?;
        if let (TokenPlan::New { salt: a, .. }, TokenPlan::New { salt: b, .. }) = (&reward, &payment) {
            if a == b {
                bail!("the reward and payment tokens have the same salt {:?}: give one a salt (or symbol) of its own", String::from_utf8_lossy(a));
            }
        }
        let pool = &file.pool;
        let treasury = match (&self.treasury, &pool.treasury) {
            (Some(t), _) => parse_account(t, "--treasury")?,
            (None, Some(t)) => parse_account(t, &format!("{name}: pool.treasury"))?,
            (None, None) => {
                bail!("the treasury is missing: give pool.treasury in --config or --treasury ACCOUNT")
            }
        };
        let genesis = match (&self.genesis, &pool.genesis) {
            (Some(g), _) => parse_genesis(g, "--genesis")?,
            (None, Some(toml::Value::String(g))) => parse_genesis(g, &format!("{name}: pool.genesis"))?,
            (None, Some(toml::Value::Integer(g))) => {
                parse_genesis(&g.to_string(), &format!("{name}: pool.genesis"))?
            }
            (None, Some(other)) => {
                bail!("{name}: pool.genesis: {other} is neither \"YYYY-MM-DD\" nor unix seconds")
            }
            (None, None) => {
                bail!("the genesis is missing: give pool.genesis in --config or --genesis YYYY-MM-DD")
            }
        };
        let keepers: Vec<AccountId32> = if !self.keepers.is_empty() {
            self.keepers
                .iter()
                .map(|k| parse_account(k, "--keeper"))
                .collect::<anyhow::Result<_>>()?
        } else {
            pool.keepers
                .as_deref()
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, k)| parse_account(k, &format!("{name}: pool.keepers[{i}]")))
                .collect::<anyhow::Result<_>>()?
        };
        if keepers.is_empty() {
            bail!("no keepers: give pool.keepers in --config or --keeper ACCOUNT (repeated)");
        }
        for (i, k) in keepers.iter().enumerate() {
            if keepers[..i].contains(k) {
                bail!("keeper {k} is listed twice");
            }
        }
        let deposit = match (self.deposit, &pool.deposit) {
            (Some(d), _) => d,
            (None, Some(d)) => parse_u128(d, &format!("{name}: pool.deposit"))?,
            (None, None) => 0,
        };
        Ok(Plan {
            reward,
            payment,
            treasury,
            genesis,
            keepers,
            governance_delay: self
                .governance_delay
                .or(pool.governance_delay)
                .unwrap_or(DEFAULT_GOVERNANCE_DELAY),
            salt: self
                .pool_salt
                .clone()
                .or_else(|| pool.salt.clone())
                .unwrap_or_else(|| "pool".into())
                .into_bytes(),
            deposit,
        })
    }
}

fn load_bundle(given: &Option<PathBuf>, name: &str) -> anyhow::Result<(ContractBundle, PathBuf)> {
    let path = given.clone().unwrap_or_else(|| default_bundle(name));
    let bundle = ContractBundle::load(&path)?;
    Ok((bundle, path))
}

async fn tx_json(chain: &Chain, block: flex_chain::H256, tx: flex_chain::H256) -> anyhow::Result<Value> {
    Ok(json!({
        "tx_hash": format!("{tx:?}"),
        "block": format!("{block:?}"),
        "block_number": chain.block_number(block).await?,
    }))
}

/// Deploys or checks one token; its JSON.
async fn token(
    chain: &Chain,
    signer: &Keypair,
    bundle: &ContractBundle,
    plan: &TokenPlan,
    what: &str,
) -> anyhow::Result<(AccountId32, Value)> {
    let me = flex_chain::account_of(signer);
    match plan {
        TokenPlan::Existing(address) => {
            let info = chain.token_info(&me, address).await.with_context(|| {
                format!("the {what} {address} does not answer PSP22Metadata (not a PSP22 token?)")
            })?;
            let code_hash = chain.contract_code_hash(address).await?;
            Ok((
                address.clone(),
                json!({
                    "deployed": false,
                    "address": account_json(address),
                    "code_hash": code_hash.map(hash_json),
                    "symbol": info.symbol,
                    "decimals": info.decimals,
                }),
            ))
        }
        TokenPlan::New { spec, salt } => {
            let Instantiated {
                address,
                block_hash,
                extrinsic_hash,
                ..
            } = flex_chain::deploy::deploy_token(chain, signer, bundle, spec, salt).await?;
            Ok((
                address.clone(),
                json!({
                    "deployed": true,
                    "address": account_json(&address),
                    "code_hash": hash_json(bundle.code_hash),
                    "symbol": spec.symbol,
                    "name": spec.name,
                    "decimals": spec.decimals,
                    "supply": spec.supply.to_string(),
                    "salt": String::from_utf8_lossy(salt),
                    "transaction": tx_json(chain, block_hash, extrinsic_hash).await?,
                }),
            ))
        }
    }
}

pub fn run(args: DeployArgs) -> anyhow::Result<()> {
    // Everything offline first: a bad value or a missing key sends nothing.
    let plan = args.plan()?;
    let url = args.chain.checked_url()?.to_string();
    let signer = args.chain.signer()?;
    let (token_bundle, token_path) = load_bundle(&args.token_bundle, "flex_token")?;
    let (pool_bundle, pool_path) = load_bundle(&args.pool_bundle, "flex_reward_pool")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let chain = Chain::connect(&url).await?;
        let me = flex_chain::account_of(&signer);
        let (reward_token, reward_json) = token(&chain, &signer, &token_bundle, &plan.reward, "reward token").await?;
        let (payment_token, payment_json) = token(&chain, &signer, &token_bundle, &plan.payment, "payment token").await?;
        let spec = PoolSpec {
            reward_token: reward_token.clone(),
            payment_token,
            treasury: plan.treasury.clone(),
            genesis: plan.genesis,
            keepers: plan.keepers.clone(),
            governance_delay: plan.governance_delay,
            chain: chain.api().genesis_hash().0,
        };
        let pool = flex_chain::deploy::deploy_pool(&chain, &signer, &pool_bundle, &spec, &plan.salt).await?;
        let deposit = if plan.deposit > 0 {
            let funded = flex_chain::deploy::fund_pool(
                &chain,
                &signer,
                &pool_bundle,
                &pool.address,
                &reward_token,
                plan.deposit,
            )
            .await?;
            let approve = match &funded.approve {
                Some(a) => Some(tx_json(&chain, a.block_hash, a.extrinsic_hash).await?),
                None => None,
            };
            json!({
                "amount": plan.deposit.to_string(),
                "approve": approve,
                "transaction": tx_json(&chain, funded.deposit.block_hash, funded.deposit.extrinsic_hash).await?,
            })
        } else {
            Value::Null
        };
        let out = json!({
            "chain": {"url": flex_types::url::redact(&url), "genesis_hash": hash_json(spec.chain)},
            "deployer": account_json(&me),
            "reward_token": reward_json,
            "payment_token": payment_json,
            "pool": {
                "address": account_json(&pool.address),
                "code_hash": hash_json(pool_bundle.code_hash),
                "owner": account_json(&me),
                "treasury": account_json(&spec.treasury),
                "genesis": spec.genesis,
                "genesis_date": flex_engine::calendar::date(spec.genesis as i64),
                "keepers": spec.keepers.iter().map(account_json).collect::<Vec<_>>(),
                "governance_delay": spec.governance_delay,
                "salt": String::from_utf8_lossy(&plan.salt),
                "transaction": tx_json(&chain, pool.block_hash, pool.extrinsic_hash).await?,
            },
            "deposit": deposit,
            "bundles": {"token": token_path.display().to_string(), "pool": pool_path.display().to_string()},
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(())
    })
}

/// For tests of the file format: the plan of a TOML text with no flags.
#[cfg(test)]
fn plan_of(text: &str, flags: &[&str]) -> anyhow::Result<Plan> {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        deploy: DeployArgs,
    }
    let dir = std::env::temp_dir().join(format!("flex-deploy-{}-{}", std::process::id(), text.len()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("deploy.toml");
    std::fs::write(&file, text)?;
    let mut argv = vec![
        "deploy".to_string(),
        "--config".into(),
        file.display().to_string(),
    ];
    argv.extend(flags.iter().map(|s| s.to_string()));
    let cli = Cli::try_parse_from(argv)?;
    let plan = cli.deploy.plan();
    let _ = std::fs::remove_dir_all(&dir);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    const BOB_HEX: &str = "0x8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48";

    fn file(pool: &str) -> String {
        format!(
            "[reward_token]\nsymbol = \"FLEXE\"\ndecimals = 12\nsupply = \"10_000_000_000_000_000_000\"\n\
             [payment_token]\naddress = \"{BOB_HEX}\"\n[pool]\n{pool}"
        )
    }

    #[test]
    fn a_file_with_flags_over_it() {
        let p = plan_of(
            &file(&format!(
                "treasury = \"{ALICE}\"\ngenesis = \"2026-01-29\"\nkeepers = [\"{ALICE}\", \"{BOB_HEX}\"]\ndeposit = \"5\"\n"
            )),
            &[],
        )
        .unwrap();
        assert_eq!(p.genesis, 1_769_644_800);
        assert_eq!(p.keepers.len(), 2);
        assert_eq!(p.keepers[1].0, flex_types::hex::decode::<32>(BOB_HEX).unwrap());
        assert_eq!(p.deposit, 5);
        assert_eq!(p.governance_delay, DEFAULT_GOVERNANCE_DELAY);
        assert_eq!(p.salt, b"pool");
        assert!(
            matches!(&p.reward, TokenPlan::New { spec, salt } if spec.supply == 10u128.pow(19) && spec.decimals == 12 && salt == b"FLEXE")
        );
        assert!(matches!(&p.payment, TokenPlan::Existing(_)));
        // Flags win.
        let p = plan_of(
            &file(&format!(
                "treasury = \"{ALICE}\"\ngenesis = 1769644800\nkeepers = [\"{ALICE}\"]\n"
            )),
            &[
                "--keeper",
                BOB_HEX,
                "--genesis",
                "2026-02-01",
                "--payment-token",
                "new:PAY:6:1000",
                "--deposit",
                "7",
            ],
        )
        .unwrap();
        assert_eq!(p.keepers.len(), 1);
        assert_eq!(p.genesis, 1_769_904_000);
        assert_eq!(p.deposit, 7);
        assert!(
            matches!(&p.payment, TokenPlan::New { spec, .. } if spec.decimals == 6 && spec.supply == 1000)
        );
    }

    /// Bad input names the file and the key, or the flag.
    #[test]
    fn bad_values_are_named() {
        let cases = [
            (file("treasury = \"5Grw\"\ngenesis = \"2026-01-29\"\nkeepers = []\n"), "pool.treasury"),
            (file(&format!("treasury = \"{ALICE}\"\ngenesis = \"2026-01-29\"\nkeepers = []\n")), "no keepers"),
            (file(&format!("treasury = \"{ALICE}\"\ngenesis = \"2026-02-30\"\nkeepers = [\"{ALICE}\"]\n")), "pool.genesis"),
            (file(&format!("treasury = \"{ALICE}\"\ngenesis = 1769644801\nkeepers = [\"{ALICE}\"]\n")), "00:00:00 UTC"),
            (file(&format!("treasury = \"{ALICE}\"\ngenesis = \"2026-01-29\"\nkeepers = [\"{ALICE}\", \"0x12\"]\n")), "pool.keepers[1]"),
            (file(&format!("treasury = \"{ALICE}\"\ngenesis = \"2026-01-29\"\nkeepers = [\"{ALICE}\", \"{ALICE}\"]\n")), "listed twice"),
            (file(&format!("treasury = \"{ALICE}\"\ngenesis = \"2026-01-29\"\nkeeper = [\"{ALICE}\"]\n")), "unknown field `keeper`"),
            (file(&format!("treasury = \"{ALICE}\"\ngenesis = \"2026-01-29\"\nkeepers = [\"{ALICE}\"]\ndeposit = \"1.5\"\n")), "pool.deposit"),
            (
                format!("[reward_token]\nsymbol = \"X\"\ndecimals = 1\n[payment_token]\naddress = \"{ALICE}\"\n"),
                "reward_token.supply",
            ),
        ];
        for (text, want) in cases {
            let e = plan_of(&text, &[]).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
        let e = plan_of(&file(""), &["--reward-token", "new:X:300:1"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--reward-token") && e.contains("decimals"), "{e}");
        let e = plan_of(
            &file(""),
            &["--reward-token", "new:PAY:1:1", "--payment-token", "new:PAY:1:1"],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("same salt"), "{e}");
    }
}
