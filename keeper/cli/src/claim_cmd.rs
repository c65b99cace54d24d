//! `flex-keeper claim`: a wallet claims its month's reward. Fetches the amount and proof from a
//! keeper's API, checks the message against `docs/PROTOCOL.md`, signs it with the wallet's EVM key
//! (EIP-191), pays the claim cost from the submitting account and submits the claim.

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use flex_chain::{AccountId32, Chain, ContractBundle, Keypair};
use flex_evm::EvmKey;
use flex_pool::PoolClient;
use flex_types::{hex, AccountId};
use serde_json::{json, Value};
use subxt_signer::SecretUri;

/// `PSP22::approve` (the PSP22 standard's selector, as `flex_token` implements it).
const PSP22_APPROVE: [u8; 4] = [0xb2, 0x0f, 0x1b, 0xbd];

#[derive(Debug, Args)]
pub struct ClaimArgs {
    /// Month index (year*12 + month-1).
    #[arg(long)]
    month: u32,
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
    /// The chain's WebSocket RPC.
    #[arg(long, default_value = "ws://127.0.0.1:9944")]
    url: String,
    /// Secret URI of the account that submits the claim and pays its cost (a dev account by default).
    #[arg(
        long,
        default_value = "//Alice",
        env = "FLEX_CLAIM_SIGNER",
        hide_env_values = true
    )]
    signer: String,
    /// The reward pool's .contract bundle (default: $FLEX_INK_DIR, $CARGO_TARGET_DIR/ink or target/ink).
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
}

fn default_bundle() -> PathBuf {
    let dir = std::env::var_os("FLEX_INK_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("ink")))
        .unwrap_or_else(|| PathBuf::from("target/ink"));
    dir.join("flex_reward_pool/flex_reward_pool.contract")
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

pub fn run(args: ClaimArgs) -> anyhow::Result<()> {
    let key = EvmKey::from_file(&args.wallet_key)?;
    let beneficiary = parse_beneficiary(&args.beneficiary)?;
    let uri = SecretUri::from_str(&args.signer).map_err(|_| anyhow!("--signer: not a secret URI"))?;
    let signer = Keypair::from_uri(&uri).map_err(|_| anyhow!("--signer: not a valid sr25519 secret"))?;
    let bundle_path = args.bundle.clone().unwrap_or_else(default_bundle);
    let bundle = ContractBundle::load(&bundle_path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let wallet = key.address();
        let url = format!(
            "{}/v1/claims/{}/{}?beneficiary={}",
            args.api.trim_end_matches('/'),
            args.month,
            wallet,
            hex::encode(beneficiary)
        );
        let http = crate::http::client(&args.tls)?;
        let resp = http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .with_context(|| format!("GET {url}: not JSON"))?;
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
        let pool = PoolClient {
            chain: chain.clone(),
            bundle,
            address: AccountId32(contract),
            signer: signer.clone(),
        };
        // The message binds the chain: the genesis hash of the chain we submit to, which must
        // be the one the pool was deployed for.
        let genesis_hash = chain.api().genesis_hash().0;
        let pool_chain: [u8; 32] = pool.query("chain_genesis_hash", ()).await?;
        if pool_chain != genesis_hash {
            bail!(
                "the pool 0x{} was deployed for chain 0x{}, but {} is chain 0x{}; not signing",
                hex::encode(contract),
                hex::encode(pool_chain),
                args.url,
                hex::encode(genesis_hash)
            );
        }
        // Sign only the message we build ourselves; the API's copy must match it.
        let message = flex_evm::claim_message(
            &genesis_hash,
            &contract,
            args.month,
            &wallet,
            amount,
            &beneficiary,
        );
        if body["message"].as_str() != Some(message.as_str()) {
            bail!("the API's claim message differs from docs/PROTOCOL.md's; not signing");
        }
        let signature = key.sign_personal(message.as_bytes())?;
        let cost: Result<u128, ()> = pool.query("claim_cost", (args.month, amount)).await?;
        let cost = cost.map_err(|_| anyhow!("month {} is not finalised on chain", args.month))?;
        if cost > 0 {
            let token: AccountId32 = pool.query("payment_token", ()).await?;
            let mut data = PSP22_APPROVE.to_vec();
            codec::Encode::encode_to(&(&pool.address, cost), &mut data);
            chain
                .call(&signer, &token, 0, &data)
                .await
                .context("approving the claim cost on the payment token")?;
        }
        let block = pool
            .call(
                "claim",
                (
                    args.month,
                    wallet.0,
                    amount,
                    proof,
                    signature,
                    AccountId32(beneficiary),
                ),
            )
            .await?;
        let claimed = pool.is_claimed(args.month, wallet.0).await?;
        println!(
            "{}",
            json!({
                "month_index": args.month,
                "wallet": wallet.to_string(),
                "amount": amount.to_string(),
                "beneficiary": hex::encode(beneficiary),
                "cost": cost.to_string(),
                "submitter": flex_chain::account_of(&signer).to_string(),
                "block": block,
                "claimed": claimed,
            })
        );
        Ok(())
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
}
