//! `flex-keeper claim`: a wallet claims its month's reward. Fetches the amount and proof from a
//! keeper's API, checks the message against `docs/PROTOCOL.md`, signs it with the wallet's EVM key
//! (EIP-191), checks on chain everything that would make the pool refuse (paused, the claim
//! window, the month's root against the proof, already claimed, the submitter's payment-token
//! balance), and only then pays: the submitting account approves the claim cost on the payment
//! token (when its allowance is short) and submits the claim. With `--relay` a keeper's relay
//! submits and pays instead. Amounts are shown in the tokens' units (their `PSP22Metadata`).

use crate::pool_reader::PoolReader;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use flex_chain::{AccountId32, Chain, ChainError, ContractBundle, Keypair, TokenInfo, H256};
use flex_engine::calendar::{month_name, utc, Month};
use flex_evm::EvmKey;
use flex_merkle::ClaimLeaf;
use flex_pool::MonthInfo;
use flex_types::{hex, AccountId};
use serde_json::{json, Value};

/// The signer's secret URI when neither `--signer` nor `--signer-file` is given.
const SIGNER_ENV: &str = "FLEX_CLAIM_SIGNER";

/// A claim whose window closes within this many seconds of the chain's latest block is not sent:
/// it could land after the close and pay for a refusal (the relay keeps the same margin).
const WINDOW_MARGIN_SECS: u64 = 60;

/// How long the relay may take to answer (it waits for finalisation).
const RELAY_TIMEOUT: Duration = Duration::from_secs(240);

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// The month: `YYYY-MM` (2026-01) or its index (year*12 + month-1, 24312).
    #[arg(long, value_name = "MONTH")]
    month: Month,
    /// File holding the wallet's secp256k1 private key (64 hex digits).
    #[arg(long, value_name = "FILE")]
    wallet_key: PathBuf,
    /// The 32-byte account that receives the tokens (0x + 64 hex digits, or SS58 of any network).
    #[arg(long, value_name = "ACCOUNT")]
    beneficiary: String,
    /// A keeper's API (`https://` with the system's CAs, or --ca-cert).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    #[command(flatten)]
    tls: crate::http::TlsArgs,
    /// The chain's WebSocket RPC (ws:// or wss://).
    #[arg(long, default_value = "ws://127.0.0.1:9944")]
    url: String,
    /// Secret URI of the account that submits the claim and pays its cost and fees (visible to
    /// other local users in the process list: prefer --signer-file or FLEX_CLAIM_SIGNER).
    #[arg(long, value_name = "SECRET_URI", conflicts_with_all = ["signer_file", "relay"])]
    signer: Option<String>,
    /// File holding the submitter's secret URI (readable by its owner only: chmod 600).
    #[arg(long, value_name = "FILE", conflicts_with = "relay")]
    signer_file: Option<PathBuf>,
    /// Let this keeper's relay (`POST /v1/claims/{month}/{address}/relay`) submit the claim and
    /// pay its cost, instead of a signer of your own.
    #[arg(long, value_name = "URL")]
    relay: Option<String>,
    /// The reward pool's .contract bundle (default: $FLEX_INK_DIR, $CARGO_TARGET_DIR/ink or target/ink).
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
}

/// Who submits the claim.
enum Submitter {
    Signer(Box<Keypair>),
    Relay(String),
}

impl ClaimArgs {
    /// `--signer`, `--signer-file`, `FLEX_CLAIM_SIGNER` or `--relay`: exactly one, never a default.
    fn submitter(&self) -> anyhow::Result<Submitter> {
        if let Some(relay) = &self.relay {
            return Ok(Submitter::Relay(relay.trim_end_matches('/').to_string()));
        }
        if let Some(uri) = &self.signer {
            return Ok(Submitter::Signer(Box::new(flex_chain::keypair_from_uri(
                uri, "--signer",
            )?)));
        }
        if let Some(file) = &self.signer_file {
            return Ok(Submitter::Signer(Box::new(
                flex_chain::keypair_from_file(file).map_err(|e| anyhow!("--signer-file {e}"))?,
            )));
        }
        match flex_chain::keypair_from_env(SIGNER_ENV)? {
            Some(k) => Ok(Submitter::Signer(Box::new(k))),
            None => bail!(
                "no signer: the claim is a transaction someone pays for. Give --signer-file FILE (a secret \
                 URI, chmod 600), {SIGNER_ENV}=SECRET_URI or --signer SECRET_URI for an account of yours \
                 that holds the claim cost and fees, or --relay URL to let a keeper's relay submit and pay"
            ),
        }
    }
}

fn hex_bytes<const N: usize>(v: &Value, what: &str) -> anyhow::Result<[u8; N]> {
    let s = v
        .as_str()
        .ok_or_else(|| anyhow!("the API answer has no {what}"))?;
    hex::decode_prefix_optional(s).map_err(|e| anyhow!("{what}: {s:?}: {e}"))
}

/// `--beneficiary`: `0x` + 64 hex digits or SS58 (any network).
fn parse_beneficiary(s: &str) -> anyhow::Result<[u8; 32]> {
    s.trim()
        .parse::<AccountId>()
        .map(|a| a.0)
        .map_err(|e| anyhow!("--beneficiary: {s:?} is {e}"))
}

impl PoolReader {
    /// A contract error's name from a reverted output.
    fn error_name(&self, output: &[u8]) -> String {
        self.bundle
            .error_variant("Error", output)
            .unwrap_or_else(|| format!("undecodable error 0x{}", hex::encode_digits(output)))
    }
}

/// What the claim is, as the API gave it and we checked it.
struct Claim {
    month: u32,
    wallet: flex_evm::Address,
    amount: u128,
    proof: Vec<[u8; 32]>,
    beneficiary: [u8; 32],
    signature: [u8; 65],
}

fn token_json(t: &TokenInfo) -> Value {
    json!({
        "address": hex::encode(t.address.0),
        "symbol": t.symbol,
        "decimals": t.decimals,
    })
}

pub fn run(args: ClaimArgs) -> anyhow::Result<()> {
    // Everything offline first: a missing signer or a bad input sends nothing anywhere.
    let submitter = args.submitter()?;
    let key = EvmKey::from_file(&args.wallet_key)?;
    let beneficiary = parse_beneficiary(&args.beneficiary)?;
    let month = args.month.0;
    let bundle_path = args
        .bundle
        .clone()
        .unwrap_or_else(|| crate::contract_args::default_bundle("flex_reward_pool"));
    let bundle = ContractBundle::load(&bundle_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let wallet = key.address();
        let http = crate::http::client(&args.tls)?;
        let url = format!(
            "{}/v1/claims/{month}/{wallet}?beneficiary={}",
            args.api.trim_end_matches('/'),
            hex::encode(beneficiary)
        );
        let resp = http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {}", flex_types::url::redact(&url)))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .with_context(|| format!("GET {}: not JSON", flex_types::url::redact(&url)))?;
        if !status.is_success() {
            bail!(
                "the keeper API refused ({status}): {}",
                body["error"]["message"].as_str().unwrap_or("?")
            );
        }
        let amount: u128 = body["amount"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| anyhow!("the API answer has no amount"))?;
        let contract: [u8; 32] = hex_bytes(&body["contract"], "contract")?;
        let proof = body["proof"]
            .as_array()
            .ok_or_else(|| anyhow!("the API answer has no proof"))?
            .iter()
            .map(|h| hex_bytes::<32>(h, "proof element"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let chain = Chain::connect(&args.url).await?;
        let origin = match &submitter {
            Submitter::Signer(k) => flex_chain::account_of(k),
            Submitter::Relay(_) => AccountId32(beneficiary),
        };
        let pool = PoolReader {
            chain: chain.clone(),
            bundle,
            address: AccountId32(contract),
            origin: origin.clone(),
        };
        // The message binds the chain: the genesis hash of the chain we submit to, which must
        // be the one the pool was deployed for.
        let genesis_hash = chain.api().genesis_hash().0;
        let pool_chain: [u8; 32] = pool.query("chain_genesis_hash", ()).await?;
        if pool_chain != genesis_hash {
            bail!(
                "the pool 0x{} was deployed for chain 0x{}, but {} is chain 0x{}; not signing",
                hex::encode_digits(contract),
                hex::encode_digits(pool_chain),
                flex_types::url::redact(&args.url),
                hex::encode_digits(genesis_hash)
            );
        }
        // Sign only the message we build ourselves; the API's copy must match it.
        let message = flex_evm::claim_message(&genesis_hash, &contract, month, &wallet, amount, &beneficiary);
        if body["message"].as_str() != Some(message.as_str()) {
            bail!("the API's claim message differs from docs/PROTOCOL.md's; not signing");
        }
        let claim = Claim {
            month,
            wallet,
            amount,
            proof,
            beneficiary,
            signature: key.sign_personal(message.as_bytes())?,
        };
        let cost = check_claimable(&pool, &claim).await?;
        let reward_token: AccountId32 = pool.query("reward_token", ()).await?;
        let payment_token: AccountId32 = pool.query("payment_token", ()).await?;
        let reward = chain
            .token_info(&origin, &reward_token)
            .await
            .context("the reward token's metadata")?;
        let payment = chain
            .token_info(&origin, &payment_token)
            .await
            .context("the payment token's metadata")?;
        let done = match &submitter {
            Submitter::Signer(signer) => submit(&pool, signer, &claim, cost, &payment).await?,
            Submitter::Relay(relay) => relayed(&http, relay, &chain, &claim).await?,
        };
        let block_number = chain.block_number(done.block).await?;
        let claimed: bool = pool.query("is_claimed", (month, wallet.0)).await?;
        let beneficiary_id = AccountId32(beneficiary);
        eprintln!(
            "{} {} of wallet {wallet} for {} to {beneficiary_id}; claim cost {} paid by {}; \
             transaction {:?} in block #{block_number} ({:?})",
            if claimed {
                "claimed"
            } else {
                "submitted (not claimed on chain!)"
            },
            reward.display(amount),
            month_name(month),
            payment.display(done.cost),
            done.submitter,
            done.tx_hash,
            done.block,
        );
        println!(
            "{}",
            json!({
                "month": month_name(month),
                "month_index": month,
                "wallet": wallet.to_string(),
                "amount": amount.to_string(),
                "amount_display": reward.display(amount),
                "reward_token": token_json(&reward),
                "beneficiary": hex::encode(beneficiary),
                "beneficiary_ss58": beneficiary_id.to_string(),
                "cost": done.cost.to_string(),
                "cost_display": payment.display(done.cost),
                "payment_token": token_json(&payment),
                "submitter": done.submitter,
                "relayed": matches!(submitter, Submitter::Relay(_)),
                "approve_tx": done.approve_tx.map(|h| format!("{h:?}")),
                "tx_hash": done.tx_hash.map(|h| format!("{h:?}")),
                "block": format!("{:?}", done.block),
                "block_number": block_number,
                "claimed": claimed,
            })
        );
        if !claimed {
            bail!("the claim's transaction landed but the pool does not show the claim");
        }
        Ok(())
    })
}

/// Everything the pool checks that the chain can tell before a transaction: not paused, the
/// beneficiary not the pool, the window open (with [`WINDOW_MARGIN_SECS`]), the month finalised
/// with a root the proof proves the leaf against, not claimed yet. Returns the claim cost.
async fn check_claimable(pool: &PoolReader, claim: &Claim) -> anyhow::Result<u128> {
    let m = claim.month;
    let name = month_name(m);
    let nothing = "nothing was sent";
    let paused: bool = pool.query("is_paused", ()).await?;
    if paused {
        bail!("the pool is paused: claims are refused until its owner unpauses it (the window is extended by the pause); {nothing}");
    }
    if claim.beneficiary == pool.address.0 {
        bail!("--beneficiary is the pool itself (the pool refuses it: InvalidBeneficiary); {nothing}");
    }
    let window: Option<(u64, u64)> = pool.query("claim_window", m).await?;
    let Some((open, close)) = window else {
        bail!("month {name} has no claim window in this pool (before its genesis); {nothing}");
    };
    let now = pool.chain.timestamp_ms().await? / 1000;
    let when = |t: u64| utc(i64::try_from(t).unwrap_or(i64::MAX));
    if now < open {
        bail!(
            "the claim window of {name} opens at {} (chain time {}): ClaimWindowNotOpen; {nothing}",
            when(open),
            when(now)
        );
    }
    if now.saturating_add(WINDOW_MARGIN_SECS) >= close {
        bail!(
            "the claim window of {name} closed at {} (chain time {}; a claim needs {WINDOW_MARGIN_SECS} s left): ClaimWindowClosed; {nothing}",
            when(close),
            when(now)
        );
    }
    let info: Option<MonthInfo> = pool.query("month", m).await?;
    let Some(info) = info else {
        bail!("month {name} has no finalised root on chain yet: MonthNotFinalized; {nothing}");
    };
    let leaf = ClaimLeaf {
        month_index: m,
        wallet: claim.wallet,
        amount: claim.amount,
    };
    if !flex_merkle::verify(&info.root.claims_root, &leaf, &claim.proof) {
        bail!(
            "the keeper's proof does not prove {} for wallet {} against the chain's root 0x{} of {name}: InvalidProof (ask another keeper); {nothing}",
            claim.amount,
            claim.wallet,
            hex::encode_digits(info.root.claims_root)
        );
    }
    let claimed: bool = pool.query("is_claimed", (m, claim.wallet.0)).await?;
    if claimed {
        bail!(
            "wallet {} already claimed {name} (the pool's is_claimed; it would refuse with AlreadyClaimed); {nothing}",
            claim.wallet
        );
    }
    let cost: Result<u128, ()> = pool.query("claim_cost", (m, claim.amount)).await?;
    cost.map_err(|_| anyhow!("the pool cannot price the claim (CostOverflow); {nothing}"))
}

/// A landed claim.
struct Done {
    submitter: String,
    cost: u128,
    approve_tx: Option<H256>,
    tx_hash: Option<H256>,
    block: H256,
}

/// Approves the cost (when the allowance is short) and submits the claim as `signer`.
async fn submit(
    pool: &PoolReader,
    signer: &Keypair,
    claim: &Claim,
    cost: u128,
    payment: &TokenInfo,
) -> anyhow::Result<Done> {
    let me = flex_chain::account_of(signer);
    let chain = &pool.chain;
    let mut approve_tx = None;
    if cost > 0 {
        let balance = chain.token_balance(&payment.address, &me).await?;
        if balance < cost {
            bail!(
                "the signer {me} holds {} but the claim costs {}; nothing was sent",
                payment.display(balance),
                payment.display(cost)
            );
        }
        let allowance = chain
            .token_allowance(&payment.address, &me, &pool.address)
            .await?;
        if allowance < cost {
            let data = flex_chain::token::call_data("PSP22::approve", (&pool.address, cost));
            let approved = chain
                .call(signer, &payment.address, 0, &data)
                .await
                .context("approving the claim cost on the payment token")?;
            approve_tx = Some(approved.extrinsic_hash);
        }
    }
    let data = pool.data(
        "claim",
        (
            claim.month,
            claim.wallet.0,
            claim.amount,
            &claim.proof,
            claim.signature,
            AccountId32(claim.beneficiary),
        ),
    )?;
    let outcome = match chain.call(signer, &pool.address, 0, &data).await {
        Ok(o) => o,
        Err(ChainError::Reverted { output, .. }) => {
            bail!(
                "the pool refused the claim in its dry run: {} (no claim transaction was sent)",
                pool.error_name(&output)
            )
        }
        Err(e) => return Err(e).context("submitting the claim"),
    };
    Ok(Done {
        submitter: me.to_string(),
        cost,
        approve_tx,
        tx_hash: Some(outcome.extrinsic_hash),
        block: outcome.block_hash,
    })
}

/// Asks the keeper's relay to submit and pay; finds the claim's transaction in the block it
/// names (the only one carrying this signature).
async fn relayed(http: &reqwest::Client, relay: &str, chain: &Chain, claim: &Claim) -> anyhow::Result<Done> {
    let url = format!("{relay}/v1/claims/{}/{}/relay", claim.month, claim.wallet);
    let shown = flex_types::url::redact(&url);
    let resp = http
        .post(&url)
        .timeout(RELAY_TIMEOUT)
        .json(&json!({
            "signature": hex::encode(claim.signature),
            "beneficiary": hex::encode(claim.beneficiary),
        }))
        .send()
        .await
        .with_context(|| format!("POST {shown}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .with_context(|| format!("POST {shown}: not JSON"))?;
    if !status.is_success() {
        bail!(
            "the relay refused ({status}, {}): {}",
            body["error"]["code"].as_str().unwrap_or("?"),
            body["error"]["message"].as_str().unwrap_or("?")
        );
    }
    let block: [u8; 32] = hex_bytes(&body["block"], "block")?;
    let block = H256(block);
    let cost = body["cost"]
        .as_str()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow!("the relay's answer has no cost"))?;
    let tx_hash = chain.find_extrinsic(block, &claim.signature).await?;
    Ok(Done {
        submitter: body["submitter"].as_str().unwrap_or("?").to_string(),
        cost,
        approve_tx: None,
        tx_hash,
        block,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        claim: ClaimArgs,
    }

    fn parse(extra: &[&str]) -> Result<Cli, clap::Error> {
        let mut argv = vec!["claim", "--wallet-key", "w.key", "--beneficiary", "0x00"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv)
    }

    fn beneficiary_of(value: &str) -> anyhow::Result<[u8; 32]> {
        let cli = Cli::try_parse_from([
            "claim",
            "--month",
            "24312",
            "--wallet-key",
            "w.key",
            "--beneficiary",
            value,
        ])?;
        parse_beneficiary(&cli.claim.beneficiary)
    }

    /// `--beneficiary` takes the account in hex or in SS58 (any network), the same bytes either way.
    #[test]
    fn beneficiary_in_hex_or_ss58() {
        let alice_hex = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
        let alice: [u8; 32] = hex::decode(alice_hex).unwrap();
        assert_eq!(beneficiary_of(alice_hex).unwrap(), alice);
        assert_eq!(
            beneficiary_of("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").unwrap(),
            alice
        );
        assert_eq!(
            beneficiary_of("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5").unwrap(),
            alice
        );
        let e = beneficiary_of("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--beneficiary: ") && e.contains("checksum"), "{e}");
        let e = beneficiary_of("0x1234").unwrap_err().to_string();
        assert!(e.contains("64 hex digits"), "{e}");
    }

    /// `--month` is `YYYY-MM` or the index; anything else is refused naming the flag.
    #[test]
    fn month_as_name_or_index() {
        assert_eq!(parse(&["--month", "2026-01"]).unwrap().claim.month, Month(24312));
        assert_eq!(parse(&["--month", "24312"]).unwrap().claim.month, Month(24312));
        assert_eq!(parse(&["--month", "2026-12"]).unwrap().claim.month, Month(24323));
        for bad in ["2026-13", "2026-1", "Jan", "12x", "2026-00"] {
            let e = parse(&["--month", bad]).unwrap_err().to_string();
            assert!(e.contains("--month") && e.contains("not a month"), "{bad}: {e}");
        }
    }

    /// No default signer: without one (and without --relay) the command names the ways to give
    /// one; a signer and the relay together are refused by clap.
    #[test]
    fn a_submitter_is_required() {
        std::env::remove_var(SIGNER_ENV);
        let cli = parse(&["--month", "2026-01"]).unwrap();
        let e = cli.claim.submitter().err().unwrap().to_string();
        assert!(
            e.starts_with("no signer") && e.contains("--signer-file") && e.contains("--relay"),
            "{e}"
        );
        let cli = parse(&["--month", "2026-01", "--signer", "//Eve"]).unwrap();
        assert!(matches!(cli.claim.submitter().unwrap(), Submitter::Signer(_)));
        let cli = parse(&["--month", "2026-01", "--relay", "http://k:8080/"]).unwrap();
        assert!(matches!(cli.claim.submitter().unwrap(), Submitter::Relay(r) if r == "http://k:8080"));
        let e = parse(&["--month", "2026-01", "--signer", "//Eve", "--relay", "http://k"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot be used with"), "{e}");
        let cli = parse(&["--month", "2026-01", "--signer", "not a uri at all"]).unwrap();
        let e = cli.claim.submitter().err().unwrap().to_string();
        assert!(e.starts_with("--signer"), "{e}");
    }
}
