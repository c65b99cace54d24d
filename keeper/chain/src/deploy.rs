//! Deploying the Flex contracts from their bundles: a `flex_token` (PSP22 with metadata), the
//! reward pool, and funding the pool (the reward token's `PSP22::approve`, then the pool's
//! `deposit`). Shared by `flex-keeper deploy`, the end-to-end tests and the demo, so all three
//! deploy with the same constructor arguments in the same encoding.

use codec::Encode;
use subxt::utils::AccountId32;

use crate::bundle::{BundleError, ContractBundle};
use crate::client::{CallOutcome, Chain, ChainError, Instantiated, Keypair};

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{what}: {source}")]
    Chain {
        what: String,
        #[source]
        source: ChainError,
    },
    /// The contract refused (a constructor's or a message's `Err`), by the error's name.
    #[error("{what} was refused by the contract: {error}")]
    Refused { what: String, error: String },
    #[error("{what}: the chain stores code 0x{got} at the new contract, but the bundle's is 0x{expected}")]
    CodeMismatch {
        what: String,
        expected: String,
        got: String,
    },
}

/// A `flex_token` constructor's arguments: `supply` is minted to the deployer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    pub supply: u128,
    pub name: Option<String>,
    pub symbol: Option<String>,
    pub decimals: u8,
}

/// The reward pool constructor's arguments (`contracts/reward_pool`, `new`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    pub reward_token: AccountId32,
    pub payment_token: AccountId32,
    pub treasury: AccountId32,
    /// Unix seconds, 00:00:00 UTC.
    pub genesis: u64,
    pub keepers: Vec<AccountId32>,
    /// Seconds between a governance announcement and its execution.
    pub governance_delay: u64,
    /// The genesis hash of the chain the pool is deployed on (claim messages bind it).
    pub chain: [u8; 32],
}

fn chain_err(what: &str) -> impl FnOnce(ChainError) -> DeployError + '_ {
    move |e| refused_or(what, None, e)
}

/// A reverted dry run as the contract's error name (decoded with `bundle`), anything else as is.
fn refused_or(what: &str, bundle: Option<&ContractBundle>, e: ChainError) -> DeployError {
    match (e, bundle) {
        (ChainError::Reverted { output, .. }, Some(bundle)) => DeployError::Refused {
            what: what.to_string(),
            error: bundle.error_variant("Error", &output).unwrap_or_else(|| {
                format!(
                    "an undecodable error (output 0x{})",
                    flex_types::hex::encode_digits(&output)
                )
            }),
        },
        (source, _) => DeployError::Chain {
            what: what.to_string(),
            source,
        },
    }
}

/// Instantiates `bundle` with constructor `new` and `args`, uploading the code unless the chain
/// has it, and checks that the new contract runs the bundle's code.
pub async fn instantiate_new(
    chain: &Chain,
    signer: &Keypair,
    bundle: &ContractBundle,
    args: impl Encode,
    salt: &[u8],
    what: &str,
) -> Result<Instantiated, DeployError> {
    let mut data = bundle.constructor("new")?.to_vec();
    args.encode_to(&mut data);
    let deployed = chain
        .instantiate(signer, bundle, &data, salt)
        .await
        .map_err(|e| refused_or(what, Some(bundle), e))?;
    let on_chain = chain
        .contract_code_hash(&deployed.address)
        .await
        .map_err(chain_err(what))?;
    if on_chain != Some(bundle.code_hash) {
        return Err(DeployError::CodeMismatch {
            what: what.to_string(),
            expected: flex_types::hex::encode_digits(bundle.code_hash),
            got: on_chain.map(flex_types::hex::encode_digits).unwrap_or_default(),
        });
    }
    Ok(deployed)
}

/// Deploys a `flex_token` as `spec` says.
pub async fn deploy_token(
    chain: &Chain,
    signer: &Keypair,
    bundle: &ContractBundle,
    spec: &TokenSpec,
    salt: &[u8],
) -> Result<Instantiated, DeployError> {
    let what = format!(
        "deploying token {}",
        spec.symbol.as_deref().unwrap_or("(no symbol)")
    );
    instantiate_new(
        chain,
        signer,
        bundle,
        (spec.supply, &spec.name, &spec.symbol, spec.decimals),
        salt,
        &what,
    )
    .await
}

/// Deploys a reward pool as `spec` says; the signer becomes its owner.
pub async fn deploy_pool(
    chain: &Chain,
    signer: &Keypair,
    bundle: &ContractBundle,
    spec: &PoolSpec,
    salt: &[u8],
) -> Result<Instantiated, DeployError> {
    instantiate_new(
        chain,
        signer,
        bundle,
        (
            &spec.reward_token,
            &spec.payment_token,
            &spec.treasury,
            spec.genesis,
            &spec.keepers,
            spec.governance_delay,
            spec.chain,
        ),
        salt,
        "deploying the reward pool",
    )
    .await
}

/// A pool funded by [`fund_pool`]: the approval (when one was needed) and the deposit.
#[derive(Debug, Clone)]
pub struct Funded {
    pub approve: Option<CallOutcome>,
    pub deposit: CallOutcome,
}

/// The signer approves `amount` of `reward_token` to the pool (when its allowance is short) and
/// deposits it (`deposit`, a message of `pool_bundle`).
pub async fn fund_pool(
    chain: &Chain,
    signer: &Keypair,
    pool_bundle: &ContractBundle,
    pool: &AccountId32,
    reward_token: &AccountId32,
    amount: u128,
) -> Result<Funded, DeployError> {
    let me = crate::account_of(signer);
    let allowance = chain
        .token_allowance(reward_token, &me, pool)
        .await
        .map_err(chain_err("reading the reward token's allowance"))?;
    let approve = if allowance < amount {
        let data = crate::token::call_data("PSP22::approve", (pool, amount));
        Some(
            chain
                .call(signer, reward_token, 0, &data)
                .await
                .map_err(chain_err("approving the deposit on the reward token"))?,
        )
    } else {
        None
    };
    let mut data = pool_bundle.message("deposit")?.to_vec();
    amount.encode_to(&mut data);
    let deposit = chain
        .call(signer, pool, 0, &data)
        .await
        .map_err(|e| refused_or("depositing into the pool", Some(pool_bundle), e))?;
    Ok(Funded { approve, deposit })
}
