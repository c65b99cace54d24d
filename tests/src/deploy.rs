//! The one deployment fixture of the end-to-end tests and the demo: FLEXE and the payment token
//! (both `flex_token`, [`TOKEN_SUPPLY`] minted to the deployer, 12 decimals), the reward pool with
//! its keepers and genesis [`GENESIS`], funded with a deposit.
//!
//! ```ignore
//! let d = deploy(&chain, &DeployOptions::default()).await?;            // 4 keepers, funded
//! let d = deploy(&chain, &DeployOptions { keepers: vec![account(&dev("alice"))], deposit: 0,
//!                                         ..DeployOptions::default() }).await?;
//! let tokens = deploy_tokens(&chain, &DeployOptions::default()).await?; // tokens only, then
//! let pool = tokens.deploy_pool(&keepers, b"pool-2", DEPOSIT).await?;   // as many pools as needed
//! ```
//!
//! The instantiations themselves are `flex_chain::deploy`'s (what `flex-keeper deploy` runs).
//! Everything is deployed and paid by Alice: FLEXE with salt `flexe`, PAY with salt `pay`, the pool
//! (salt `pool` unless told otherwise) with treasury [`TREASURY`]; funding is Alice's
//! `PSP22::approve` of the deposit to the pool, then `deposit`.

use std::path::{Path, PathBuf};

use flex_chain::{AccountId32, Chain, ContractBundle, ContractEvent, Keypair};

use crate::scenario::{
    travel, Contract, ScenarioError, DAY, DEPOSIT, GENESIS, GOVERNANCE_DELAY, TOKEN_DECIMALS, TOKEN_SUPPLY,
    TREASURY,
};
use crate::{account, dev, ink_dir};

type Result<T, E = ScenarioError> = std::result::Result<T, E>;

/// The token's and the pool's bundles, with the files they were read from (keeper configs and
/// `flex-keeper claim --bundle` name the pool's).
#[derive(Clone)]
pub struct Bundles {
    pub token: ContractBundle,
    pub pool: ContractBundle,
    pub token_path: PathBuf,
    pub pool_path: PathBuf,
}

impl Bundles {
    /// Loads `<dir>/flex_token/flex_token.contract` and `<dir>/flex_reward_pool/flex_reward_pool.contract`.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = |name: &str| dir.join(name).join(format!("{name}.contract"));
        let (token_path, pool_path) = (path("flex_token"), path("flex_reward_pool"));
        let load = |path: &Path| {
            ContractBundle::load(path).map_err(|e| {
                ScenarioError::Unexpected(format!(
                    "{e} (build the contracts first: scripts/build-contracts.sh)"
                ))
            })
        };
        Ok(Self {
            token: load(&token_path)?,
            pool: load(&pool_path)?,
            token_path,
            pool_path,
        })
    }

    /// The bundles where `scripts/build-contracts.sh` puts them ([`ink_dir`]).
    pub fn built() -> Result<Self> {
        Self::load(&ink_dir())
    }
}

/// What [`deploy`] and [`deploy_tokens`] do. The default is what the tests and the demo use: the
/// chain clock set to the day before genesis, keepers Alice, Bob, Charlie and Dave (quorum 3),
/// salt `pool`, funded with [`DEPOSIT`], the bundles `scripts/build-contracts.sh` built.
#[derive(Clone)]
pub struct DeployOptions {
    /// Chain time (unix seconds) set before deploying; `None` leaves the clock alone.
    pub clock: Option<i64>,
    /// The pool's keepers.
    pub keepers: Vec<AccountId32>,
    /// What Alice deposits into the pool after deploying it; 0: the pool is not funded.
    pub deposit: u128,
    /// The pool's instantiation salt.
    pub pool_salt: Vec<u8>,
    /// The bundles to deploy; `None`: [`Bundles::built`].
    pub bundles: Option<Bundles>,
    /// The pool's governance delay, seconds ([`GOVERNANCE_DELAY`]: the contract's minimum).
    pub governance_delay: u64,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            clock: Some(GENESIS - DAY),
            keepers: ["alice", "bob", "charlie", "dave"]
                .iter()
                .map(|k| account(&dev(k)))
                .collect(),
            deposit: DEPOSIT,
            pool_salt: b"pool".to_vec(),
            bundles: None,
            governance_delay: GOVERNANCE_DELAY,
        }
    }
}

/// The deployed tokens and the pool.
#[derive(Clone)]
pub struct Deployment {
    pub bundles: Bundles,
    /// The reward token.
    pub flexe: Contract,
    /// The payment token (claim costs).
    pub pay: Contract,
    pub pool: Contract,
    pub treasury: AccountId32,
    pub keepers: Vec<AccountId32>,
}

/// Sets the clock, deploys FLEXE, PAY and the pool, and funds it ([`DeployOptions`]).
pub async fn deploy(chain: &Chain, options: &DeployOptions) -> Result<Deployment> {
    let tokens = deploy_tokens(chain, options).await?;
    let pool = tokens
        .deploy_pool_with(
            &options.keepers,
            &options.pool_salt,
            options.deposit,
            options.governance_delay,
        )
        .await?;
    let Tokens {
        bundles,
        flexe,
        pay,
        treasury,
    } = tokens;
    Ok(Deployment {
        bundles,
        flexe,
        pay,
        pool,
        treasury,
        keepers: options.keepers.clone(),
    })
}

/// The two tokens, before any pool: for tests that deploy several pools ([`Tokens::deploy_pool`]).
#[derive(Clone)]
pub struct Tokens {
    pub bundles: Bundles,
    pub flexe: Contract,
    pub pay: Contract,
    pub treasury: AccountId32,
}

/// Sets the clock and deploys FLEXE and PAY ([`DeployOptions`]'s `clock` and `bundles`; the pool's
/// options are for [`Tokens::deploy_pool`]).
pub async fn deploy_tokens(chain: &Chain, options: &DeployOptions) -> Result<Tokens> {
    let bundles = match &options.bundles {
        Some(bundles) => bundles.clone(),
        None => Bundles::built()?,
    };
    if let Some(at) = options.clock {
        travel(chain, at).await?;
    }
    let alice = dev("alice");
    let flexe = token(chain, &alice, &bundles.token, &TokenSpec::flex("FLEXE"), b"flexe")
        .await?
        .contract;
    let pay = token(chain, &alice, &bundles.token, &TokenSpec::flex("PAY"), b"pay")
        .await?
        .contract;
    Ok(Tokens {
        bundles,
        flexe,
        pay,
        treasury: AccountId32(TREASURY),
    })
}

impl Tokens {
    /// Deploys a reward pool (genesis [`GENESIS`], these tokens, the treasury, the governance
    /// delay [`GOVERNANCE_DELAY`], the chain's genesis hash) with `keepers` and `salt`; Alice
    /// approves and deposits `deposit` unless it is 0.
    pub async fn deploy_pool(&self, keepers: &[AccountId32], salt: &[u8], deposit: u128) -> Result<Contract> {
        self.deploy_pool_with(keepers, salt, deposit, GOVERNANCE_DELAY)
            .await
    }

    /// [`Tokens::deploy_pool`] with another governance delay (seconds).
    pub async fn deploy_pool_with(
        &self,
        keepers: &[AccountId32],
        salt: &[u8],
        deposit: u128,
        governance_delay: u64,
    ) -> Result<Contract> {
        let alice = dev("alice");
        let bundle = &self.bundles.pool;
        let chain = &self.flexe.chain;
        let spec = flex_chain::deploy::PoolSpec {
            reward_token: self.flexe.address.clone(),
            payment_token: self.pay.address.clone(),
            treasury: self.treasury.clone(),
            genesis: GENESIS as u64,
            keepers: keepers.to_vec(),
            governance_delay,
            chain: chain.api().genesis_hash().0,
        };
        let deployed = flex_chain::deploy::deploy_pool(chain, &alice, bundle, &spec, salt)
            .await
            .map_err(deploy_err)?;
        let pool = Contract::new(chain, bundle, deployed.address);
        if deposit > 0 {
            self.flexe
                .try_call(&alice, "PSP22::approve", (&pool.address, deposit))
                .await?;
            pool.try_call(&alice, "deposit", deposit).await?;
        }
        Ok(pool)
    }
}

/// A [`flex_chain::deploy::DeployError`] as the scenario reports errors.
fn deploy_err(e: flex_chain::deploy::DeployError) -> ScenarioError {
    use flex_chain::deploy::DeployError;
    match e {
        DeployError::Bundle(e) => ScenarioError::Bundle(e),
        DeployError::Chain { what, source } => ScenarioError::Chain { what, source },
        DeployError::Refused { what, error } => ScenarioError::Reverted { what, error },
        other => ScenarioError::Unexpected(other.to_string()),
    }
}

/// A `flex_token` constructor's arguments.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub supply: u128,
    pub name: String,
    pub symbol: String,
    pub decimals: u8,
}

impl TokenSpec {
    /// `Flex <symbol>`, [`TOKEN_SUPPLY`], [`TOKEN_DECIMALS`]: FLEXE and PAY.
    pub fn flex(symbol: &str) -> Self {
        Self {
            supply: TOKEN_SUPPLY,
            name: format!("Flex {symbol}"),
            symbol: symbol.to_string(),
            decimals: TOKEN_DECIMALS,
        }
    }
}

/// A contract just deployed, with the events its constructor emitted.
pub struct Instance {
    pub contract: Contract,
    pub events: Vec<ContractEvent>,
}

/// Deploys one `flex_token` from `bundle` as `spec` says, `spec.supply` minted to `signer`.
pub async fn token(
    chain: &Chain,
    signer: &Keypair,
    bundle: &ContractBundle,
    spec: &TokenSpec,
    salt: &[u8],
) -> Result<Instance> {
    let token = flex_chain::deploy::TokenSpec {
        supply: spec.supply,
        name: Some(spec.name.clone()),
        symbol: Some(spec.symbol.clone()),
        decimals: spec.decimals,
    };
    let deployed = flex_chain::deploy::deploy_token(chain, signer, bundle, &token, salt)
        .await
        .map_err(deploy_err)?;
    Ok(Instance {
        contract: Contract::new(chain, bundle, deployed.address),
        events: deployed.events,
    })
}
