//! `flex-keeper admin`: the reward pool's owner messages (and a read-only `status`) against any
//! ws:// or wss:// node: the time-locked governance (announce, execute, cancel a keeper's
//! addition or removal, the minimum threshold, the treasury), pause and unpause, deposits, and the
//! two-step ownership transfer. Each transaction is checked first (the signer is the owner, a
//! change exists and its delay has passed, ...) and dry-run, so a refusal costs nothing; the
//! output (JSON) names the transaction and its block, and the pool's state after it.

use crate::pool_reader::PoolReader as Pool;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use codec::{Decode, Encode};
use flex_chain::{AccountId32, Chain, ChainError, ContractBundle, Keypair};
use flex_engine::calendar::utc;
use flex_pool::{GovernanceAction, PendingChange};
use serde_json::{json, Value};

use crate::contract_args::{account_json, default_bundle, parse_account, ChainArgs};

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The reward pool's account (SS58 or 0x + 64 hex digits).
    #[arg(long, value_name = "ACCOUNT")]
    pool: String,
    /// The reward pool's bundle (default: <ink dir>/flex_reward_pool/flex_reward_pool.contract).
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// The pool's owner, keepers, threshold, treasury, tokens, pause and pending changes (no key needed).
    Status,
    /// Announce a time-locked governance change; it can be executed after the pool's delay.
    Announce {
        #[command(subcommand)]
        change: Change,
    },
    /// Execute an announced change whose delay has passed.
    Execute {
        id: u64,
    },
    /// Cancel an announced change.
    Cancel {
        id: u64,
    },
    /// Stop votes, finalisations, claims and sweeps (claim windows are extended by the pause).
    Pause,
    Unpause,
    /// Approve and deposit reward tokens (base units) into the pool.
    Deposit {
        amount: u128,
    },
    /// Start a two-step ownership transfer; the new owner runs accept-ownership.
    TransferOwnership {
        new_owner: String,
    },
    /// Become the owner (the pending owner's key).
    AcceptOwnership,
}

#[derive(Debug, Subcommand)]
enum Change {
    /// Add a keeper.
    AddKeeper { account: String },
    /// Remove a keeper.
    RemoveKeeper { account: String },
    /// The owner's minimum threshold (0: the BFT threshold alone).
    MinThreshold { votes: u32 },
    /// The account that receives claim costs and sweeps.
    Treasury { account: String },
}

impl Change {
    fn action(&self) -> anyhow::Result<GovernanceAction> {
        Ok(match self {
            Change::AddKeeper { account } => {
                GovernanceAction::AddKeeper(parse_account(account, "the keeper")?.0)
            }
            Change::RemoveKeeper { account } => {
                GovernanceAction::RemoveKeeper(parse_account(account, "the keeper")?.0)
            }
            Change::MinThreshold { votes } => GovernanceAction::SetMinThreshold(*votes),
            Change::Treasury { account } => {
                GovernanceAction::SetTreasury(parse_account(account, "the treasury")?.0)
            }
        })
    }
}

fn action_json(a: &GovernanceAction) -> Value {
    match a {
        GovernanceAction::AddKeeper(k) => json!({"add_keeper": account_json(&AccountId32(*k))}),
        GovernanceAction::RemoveKeeper(k) => json!({"remove_keeper": account_json(&AccountId32(*k))}),
        GovernanceAction::SetMinThreshold(n) => json!({"min_threshold": n}),
        GovernanceAction::SetTreasury(t) => json!({"treasury": account_json(&AccountId32(*t))}),
    }
}

fn ms_utc(ms: u64) -> String {
    utc(i64::try_from(ms / 1000).unwrap_or(i64::MAX))
}

fn change_json(id: u64, c: &PendingChange) -> Value {
    json!({
        "id": id,
        "action": action_json(&c.action),
        "announced_at": ms_utc(c.announced_at),
        "executable_at": ms_utc(c.executable_at),
        "expires_at": ms_utc(c.expires_at),
    })
}

impl Pool {
    /// Dry-runs then submits `message`; a refusal names the contract's error (nothing sent).
    async fn call(
        &self,
        signer: &Keypair,
        message: &str,
        args: impl Encode,
    ) -> anyhow::Result<(Vec<u8>, Value)> {
        let data = self.data(message, args)?;
        match self.chain.call(signer, &self.address, 0, &data).await {
            Ok(o) => Ok((o.dry_run.output.clone(), tx_json(&self.chain, &o).await?)),
            Err(ChainError::Reverted { output, .. }) => bail!(
                "the pool refused {message} in its dry run: {}; nothing was sent",
                self.bundle
                    .error_variant("Error", &output)
                    .unwrap_or_else(|| format!(
                        "undecodable error 0x{}",
                        flex_types::hex::encode_digits(&output)
                    ))
            ),
            Err(e) => Err(e).with_context(|| format!("submitting {message}")),
        }
    }

    async fn status(&self) -> anyhow::Result<Value> {
        let owner: AccountId32 = self.query("owner", ()).await?;
        let pending_owner: Option<AccountId32> = self.query("pending_owner", ()).await?;
        let keepers: Vec<AccountId32> = self.query("keepers", ()).await?;
        let threshold: u32 = self.query("threshold", ()).await?;
        let min_threshold: u32 = self.query("min_threshold", ()).await?;
        let treasury: AccountId32 = self.query("treasury", ()).await?;
        let paused: bool = self.query("is_paused", ()).await?;
        let delay: u64 = self.query("governance_delay", ()).await?;
        let genesis: u64 = self.query("genesis", ()).await?;
        let unallocated: u128 = self.query("unallocated", ()).await?;
        let reward: AccountId32 = self.query("reward_token", ()).await?;
        let payment: AccountId32 = self.query("payment_token", ()).await?;
        let pending: Vec<(u64, PendingChange)> = self.query("pending_changes", ()).await?;
        let reward_info = self.chain.token_info(&self.origin, &reward).await.ok();
        Ok(json!({
            "pool": account_json(&self.address),
            "owner": account_json(&owner),
            "pending_owner": pending_owner.as_ref().map(account_json),
            "keepers": keepers.iter().map(account_json).collect::<Vec<_>>(),
            "threshold": threshold,
            "min_threshold": min_threshold,
            "treasury": account_json(&treasury),
            "paused": paused,
            "governance_delay": delay,
            "genesis": genesis,
            "unallocated": unallocated.to_string(),
            "unallocated_display": reward_info.as_ref().map(|t| t.display(unallocated)),
            "reward_token": account_json(&reward),
            "payment_token": account_json(&payment),
            "pending_changes": pending.iter().map(|(id, c)| change_json(*id, c)).collect::<Vec<_>>(),
            "chain_time": ms_utc(self.chain.timestamp_ms().await?),
        }))
    }

    /// Owner-only messages: refused here, naming both accounts, when the signer is not the owner.
    async fn ensure_owner(&self, signer: &AccountId32) -> anyhow::Result<()> {
        let owner: AccountId32 = self.query("owner", ()).await?;
        if &owner != signer {
            bail!(
                "the signer {signer} ({}) is not the pool's owner {owner} ({}); nothing was sent",
                flex_types::hex::encode(signer.0),
                flex_types::hex::encode(owner.0)
            );
        }
        Ok(())
    }

    async fn pending(&self, id: u64) -> anyhow::Result<PendingChange> {
        let change: Option<PendingChange> = self.query("pending_change", id).await?;
        change.ok_or_else(|| {
            anyhow!("no pending change {id} (never announced, executed or cancelled); nothing was sent")
        })
    }
}

async fn tx_json(chain: &Chain, o: &flex_chain::CallOutcome) -> anyhow::Result<Value> {
    Ok(json!({
        "tx_hash": format!("{:?}", o.extrinsic_hash),
        "block": format!("{:?}", o.block_hash),
        "block_number": chain.block_number(o.block_hash).await?,
    }))
}

pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let url = args.chain.checked_url()?.to_string();
    let address = parse_account(&args.pool, "--pool")?;
    let signer = match args.action {
        Action::Status => None,
        _ => Some(args.chain.signer()?),
    };
    let action = match &args.action {
        Action::Announce { change } => Some(change.action()?),
        _ => None,
    };
    let new_owner = match &args.action {
        Action::TransferOwnership { new_owner } => Some(parse_account(new_owner, "the new owner")?),
        _ => None,
    };
    let bundle = ContractBundle::load(
        args.bundle
            .clone()
            .unwrap_or_else(|| default_bundle("flex_reward_pool")),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let chain = Chain::connect(&url).await?;
        if chain.contract_code_hash(&address).await?.is_none() {
            bail!("--pool {address}: no contract at this account on {}", flex_types::url::redact(&url));
        }
        let origin = signer.as_ref().map(flex_chain::account_of).unwrap_or_else(|| address.clone());
        let pool = Pool {
            chain: chain.clone(),
            bundle,
            address,
            origin: origin.clone(),
        };
        let Some(signer) = signer else {
            println!("{}", serde_json::to_string_pretty(&pool.status().await?)?);
            return Ok(());
        };
        let me = origin;
        let now_ms = chain.timestamp_ms().await?;
        let mut out = json!({"signer": account_json(&me)});
        match &args.action {
            Action::Status => unreachable!("handled above"),
            Action::Announce { .. } => {
                let action = action.ok_or_else(|| anyhow!("no change"))?;
                pool.ensure_owner(&me).await?;
                let (output, tx) = pool.call(&signer, "announce", &action).await?;
                // Result<u64, Error> in Result<_, LangError>: 00 00 <id>.
                let id: u64 = match output.as_slice() {
                    [0, 0, rest @ ..] => u64::decode(&mut &rest[..]).map_err(|e| anyhow!("announce's id: {e}"))?,
                    _ => bail!("announce answered 0x{}", flex_types::hex::encode_digits(&output)),
                };
                let change = pool.pending(id).await?;
                out["announced"] = change_json(id, &change);
                out["transaction"] = tx;
            }
            Action::Execute { id } => {
                pool.ensure_owner(&me).await?;
                let change = pool.pending(*id).await?;
                if now_ms < change.executable_at {
                    bail!(
                        "change {id} can be executed from {} (chain time {}): ChangeNotReady; nothing was sent",
                        ms_utc(change.executable_at),
                        ms_utc(now_ms)
                    );
                }
                if now_ms >= change.expires_at {
                    bail!(
                        "change {id} expired at {} (chain time {}): ChangeExpired; cancel it and announce it again; nothing was sent",
                        ms_utc(change.expires_at),
                        ms_utc(now_ms)
                    );
                }
                let (_, tx) = pool.call(&signer, "execute", id).await?;
                out["executed"] = change_json(*id, &change);
                out["transaction"] = tx;
            }
            Action::Cancel { id } => {
                pool.ensure_owner(&me).await?;
                let change = pool.pending(*id).await?;
                let (_, tx) = pool.call(&signer, "cancel", id).await?;
                out["cancelled"] = change_json(*id, &change);
                out["transaction"] = tx;
            }
            Action::Pause | Action::Unpause => {
                let pause = matches!(args.action, Action::Pause);
                pool.ensure_owner(&me).await?;
                let paused: bool = pool.query("is_paused", ()).await?;
                if paused == pause {
                    bail!(
                        "the pool is {} already; nothing was sent",
                        if paused { "paused" } else { "not paused" }
                    );
                }
                let (_, tx) = pool.call(&signer, if pause { "pause" } else { "unpause" }, ()).await?;
                out["transaction"] = tx;
            }
            Action::Deposit { amount } => {
                let reward: AccountId32 = pool.query("reward_token", ()).await?;
                let token = chain.token_info(&me, &reward).await?;
                let balance = chain.token_balance(&reward, &me).await?;
                if balance < *amount {
                    bail!(
                        "the signer holds {} but the deposit is {}; nothing was sent",
                        token.display(balance),
                        token.display(*amount)
                    );
                }
                let funded = flex_chain::deploy::fund_pool(&chain, &signer, &pool.bundle, &pool.address, &reward, *amount)
                    .await?;
                out["deposited"] = json!({"amount": amount.to_string(), "display": token.display(*amount)});
                if let Some(a) = &funded.approve {
                    out["approve"] = tx_json(&chain, a).await?;
                }
                out["transaction"] = tx_json(&chain, &funded.deposit).await?;
            }
            Action::TransferOwnership { .. } => {
                let new_owner = new_owner.ok_or_else(|| anyhow!("no new owner"))?;
                pool.ensure_owner(&me).await?;
                let (_, tx) = pool.call(&signer, "transfer_ownership", &new_owner).await?;
                out["pending_owner"] = account_json(&new_owner);
                out["transaction"] = tx;
            }
            Action::AcceptOwnership => {
                let pending: Option<AccountId32> = pool.query("pending_owner", ()).await?;
                if pending.as_ref() != Some(&me) {
                    bail!(
                        "the signer {me} is not the pool's pending owner ({}); nothing was sent",
                        pending.map(|p| p.to_string()).unwrap_or_else(|| "none".into())
                    );
                }
                let (_, tx) = pool.call(&signer, "accept_ownership", ()).await?;
                out["transaction"] = tx;
            }
        }
        out["status"] = pool.status().await?;
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        admin: AdminArgs,
    }

    fn parse(args: &[&str]) -> Result<AdminArgs, clap::Error> {
        let mut argv = vec![
            "admin",
            "--pool",
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        ];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|c| c.admin)
    }

    /// Accounts in SS58 (any network) or hex encode to the contract's `GovernanceAction`.
    #[test]
    fn changes_take_ss58_or_hex() {
        let alice = [
            0xd4, 0x35, 0x93, 0xc7, 0x15, 0xfd, 0xd3, 0x1c, 0x61, 0x14, 0x1a, 0xbd, 0x04, 0xa9, 0x9f, 0xd6,
            0x82, 0x2c, 0x85, 0x58, 0x85, 0x4c, 0xcd, 0xe3, 0x9a, 0x56, 0x84, 0xe7, 0xa5, 0x6d, 0xa2, 0x7d,
        ];
        for who in [
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
            "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5",
            "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
        ] {
            let a = parse(&["announce", "add-keeper", who]).unwrap();
            let Action::Announce { change } = a.action else {
                panic!()
            };
            assert_eq!(change.action().unwrap(), GovernanceAction::AddKeeper(alice));
        }
        let a = parse(&["announce", "min-threshold", "3"]).unwrap();
        let Action::Announce { change } = a.action else {
            panic!()
        };
        assert_eq!(change.action().unwrap().encode(), vec![2, 3, 0, 0, 0]);
        let a = parse(&["announce", "remove-keeper", "0x12"]).unwrap();
        let Action::Announce { change } = a.action else {
            panic!()
        };
        let e = change.action().unwrap_err().to_string();
        assert!(e.starts_with("the keeper: \"0x12\""), "{e}");
        assert!(parse(&["execute", "x"]).is_err());
    }

    #[test]
    fn only_ws_urls() {
        let a = parse(&["--url", "http://127.0.0.1:9944", "status"]).unwrap();
        let e = a.chain.checked_url().unwrap_err().to_string();
        assert!(e.contains("not a ws:// or wss:// URL"), "{e}");
        let a = parse(&["--url", "wss://rpc.example:443", "status"]).unwrap();
        assert!(a.chain.checked_url().is_ok());
    }
}
