//! The reward-pool month as reusable pieces, shared by the end-to-end test
//! (`tests/tests/reward_pool.rs`) and the narrated demo (`flex-demo`).
//!
//! The scenario: FLEXE and a payment token (both `flex_token`, 12 decimals), a pool with four
//! keepers and genesis on 2026-01-29, so January 2026 has three epochs; five EVM wallets whose
//! sample activity the keeper's engine replays; each epoch's commitment is the engine's report with
//! the root of its scores tree; the month's claim tree holds each wallet's January total. The
//! contracts are deployed by [`crate::deploy`].
//!
//! Everything that can fail at run time returns a [`ScenarioError`]; [`Contract`]'s `query`,
//! `call` and `call_fails` are panicking shorthands for tests, `try_*` are the fallible versions.

use std::{collections::BTreeMap, path::Path};

use codec::{Decode, Encode};
use flex_chain::{AccountId32, BundleError, Chain, ChainError, ContractBundle, DryRun, Keypair};
use flex_engine::{
    Action, Address, ConnectionBonus, EngineError, EpochReport, Genesis, Replay, ReplayConfig, Wallet,
    WeightTable,
};
use flex_evm::{EvmError, EvmKey};
use flex_merkle::{ClaimLeaf, MerkleError, ScoreLeaf, StandardMerkleTree};

use crate::{account, call_data, dev};

pub const DAY: i64 = 86_400;
/// 2026-01-29 00:00:00 UTC: January then has three epochs (29th, 30th, 31st).
pub const GENESIS: i64 = 1_769_644_800;
/// `month_index` of January 2026 (`year*12 + month-1`).
pub const JANUARY_2026: u32 = 2026 * 12;
/// 2026-02-01 00:00:00 UTC: January's claim window opens.
pub const FEB_1: i64 = 1_769_904_000;
/// 2026-03-01 00:00:00 UTC: January's claim window closes.
pub const MAR_1: i64 = 1_772_323_200;
/// What Alice deposits into the pool: 1,000,000 FLEXE.
pub const DEPOSIT: u128 = 1_000_000_000_000_000_000;
/// Initial supply of each token, minted to the deployer.
pub const TOKEN_SUPPLY: u128 = 10 * DEPOSIT;
/// Both tokens' decimals.
pub const TOKEN_DECIMALS: u8 = 12;
/// 0.5 payment-token units per FLEXE unit (both tokens have 12 decimals), 18-decimal fixed point.
pub const CLAIM_PRICE: u128 = 500_000_000_000_000_000;
pub const TREASURY: [u8; 32] = [7; 32];
/// The pools' governance delay, seconds: the contract's minimum, two days.
pub const GOVERNANCE_DELAY: u64 = 2 * DAY as u64;
/// Weights of the sample's action kinds (kind, decimal weight).
pub const SAMPLE_KINDS: [(&str, &str); 3] = [("swap", "2.5"), ("stake", "4"), ("post", "1")];

/// Something in the scenario failed.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{what}: {source}")]
    Chain {
        what: String,
        #[source]
        source: ChainError,
    },
    /// A contract message returned `Err`; `error` is the variant's name.
    #[error("{what} failed with the contract error {error}")]
    Reverted { what: String, error: String },
    #[error("{what} succeeded, but it should have failed with {expected}")]
    UnexpectedSuccess { what: String, expected: String },
    #[error("{what} failed with {got}, but it should have failed with {expected}")]
    WrongError {
        what: String,
        expected: String,
        got: String,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    #[error(transparent)]
    Evm(#[from] EvmError),
    #[error("{0}")]
    Unexpected(String),
}

type Result<T, E = ScenarioError> = std::result::Result<T, E>;

fn chain_err(what: impl Into<String>) -> impl FnOnce(ChainError) -> ScenarioError {
    let what = what.into();
    move |source| ScenarioError::Chain { what, source }
}

/// The contract's SCALE types are the keeper's own (`flex_pool`): the demo and the tests
/// vote with exactly the bytes the keeper service does.
pub use flex_pool::{EpochCommitment, EpochInfo, EpochPreview, MonthInfo, MonthRoot};

/// A commitment and the keepers who voted for it, in voting order (`epoch_votes`, `month_votes`).
#[derive(Debug, Clone, Decode)]
pub struct Proposal<C> {
    pub commitment: C,
    pub voters: Vec<AccountId32>,
}

/// A deployed contract and its bundle, with small call helpers. Queries are dry runs from Alice.
#[derive(Clone)]
pub struct Contract {
    pub chain: Chain,
    pub bundle: ContractBundle,
    pub address: AccountId32,
}

impl Contract {
    pub fn new(chain: &Chain, bundle: &ContractBundle, address: AccountId32) -> Self {
        Self {
            chain: chain.clone(),
            bundle: bundle.clone(),
            address,
        }
    }

    /// The call data of `message` with `args`.
    pub fn data(&self, message: &str, args: impl Encode) -> Result<Vec<u8>> {
        Ok(call_data(self.bundle.message(message)?, args))
    }

    /// The name of the contract error in a reverted message's output (`PaymentFailed` and
    /// `TokenTransferFailed` with their `PSP22Error`, e.g. `PaymentFailed(InsufficientAllowance)`).
    pub fn error_name(&self, output: &[u8]) -> String {
        match self.bundle.error_variant("Error", output) {
            Some(name) => match output.get(3) {
                Some(&inner) if name == "PaymentFailed" || name == "TokenTransferFailed" => {
                    match self.bundle.variant_name("PSP22Error", inner) {
                        Some(inner) => format!("{name}({inner})"),
                        None => name,
                    }
                }
                _ => name,
            },
            None => format!(
                "an undecodable error (output 0x{})",
                flex_types::hex::encode_digits(output)
            ),
        }
    }

    pub async fn try_query<T: Decode>(&self, message: &str, args: impl Encode) -> Result<T> {
        let data = self.data(message, args)?;
        self.chain
            .query(&account(&dev("alice")), &self.address, &data)
            .await
            .map_err(chain_err(format!("query {message}")))
    }

    /// Calls a message that returns `Result<_, Error>`; returns its dry run once the call is
    /// finalised, or the contract's error ([`ScenarioError::Reverted`], nothing submitted).
    pub async fn try_call(&self, signer: &Keypair, message: &str, args: impl Encode) -> Result<DryRun> {
        let data = self.data(message, args)?;
        match self.chain.call(signer, &self.address, 0, &data).await {
            Ok(outcome) => Ok(outcome.dry_run),
            Err(ChainError::Reverted { output, .. }) => Err(ScenarioError::Reverted {
                what: message.to_string(),
                error: self.error_name(&output),
            }),
            Err(e) => Err(chain_err(message)(e)),
        }
    }

    /// Calls a message that must fail with a contract error and returns that error's name
    /// (nothing is submitted). A success is an error ([`ScenarioError::UnexpectedSuccess`]).
    pub async fn call_error(&self, signer: &Keypair, message: &str, args: impl Encode) -> Result<String> {
        match self.try_call(signer, message, args).await {
            Err(ScenarioError::Reverted { error, .. }) => Ok(error),
            Ok(_) => Err(ScenarioError::UnexpectedSuccess {
                what: message.to_string(),
                expected: "a contract error".into(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Calls a message that must fail with the contract error `expected` (nothing is submitted).
    /// `expected` is a variant name (`PaymentFailed`) or, for `PaymentFailed` and
    /// `TokenTransferFailed`, may name the token's error too (`PaymentFailed(InsufficientAllowance)`).
    pub async fn try_call_fails(
        &self,
        signer: &Keypair,
        message: &str,
        args: impl Encode,
        expected: &str,
    ) -> Result<()> {
        match self.try_call(signer, message, args).await {
            Err(ScenarioError::Reverted { error, .. })
                if error == expected || error.split('(').next() == Some(expected) =>
            {
                Ok(())
            }
            Err(ScenarioError::Reverted { error, .. }) => Err(ScenarioError::WrongError {
                what: message.to_string(),
                expected: expected.to_string(),
                got: error,
            }),
            Ok(_) => Err(ScenarioError::UnexpectedSuccess {
                what: message.to_string(),
                expected: expected.to_string(),
            }),
            Err(e) => Err(e),
        }
    }

    /// PSP22 balance of `who` (for token contracts).
    pub async fn balance_of(&self, who: &AccountId32) -> Result<u128> {
        self.try_query("PSP22::balance_of", who).await
    }

    /// [`Contract::try_query`] for tests: panics on failure.
    pub async fn query<T: Decode>(&self, message: &str, args: impl Encode) -> T {
        self.try_query(message, args)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Contract::try_call`] for tests: panics on failure.
    pub async fn call(&self, signer: &Keypair, message: &str, args: impl Encode) -> DryRun {
        self.try_call(signer, message, args)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Contract::try_call_fails`] for tests: panics unless the call fails with `expected`.
    pub async fn call_fails(&self, signer: &Keypair, message: &str, args: impl Encode, expected: &str) {
        self.try_call_fails(signer, message, args, expected)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// `submit_epoch` / `submit_month` answer `Ok(finalized)`.
pub fn finalized(dry: &DryRun) -> Result<bool> {
    match dry.output.as_slice() {
        [0, 0, b @ (0 | 1)] => Ok(*b == 1),
        other => Err(ScenarioError::Unexpected(format!(
            "unexpected vote output {other:?}"
        ))),
    }
}

/// Moves chain time to `unix_s` and builds a block there.
pub async fn travel(chain: &Chain, unix_s: i64) -> Result<()> {
    let ms = u64::try_from(unix_s)
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .ok_or_else(|| ScenarioError::Unexpected(format!("cannot travel to {unix_s}")))?;
    flex_chain::dev::time_travel(chain.rpc(), ms)
        .await
        .map_err(chain_err("time travel"))?;
    flex_chain::dev::new_blocks(chain.rpc(), 1)
        .await
        .map_err(chain_err("new block"))
}

/// The five sample wallets: private keys `[i; 32]` for `i` in 1..=5.
pub fn evm_wallets() -> Result<Vec<EvmKey>> {
    (1u8..=5)
        .map(|i| {
            Ok(EvmKey::from_hex(
                &flex_types::hex::encode_digits([i; 32]),
                "sample wallet",
            )?)
        })
        .collect()
}

/// The month's activity as the engine takes it.
pub struct Activity {
    pub table: WeightTable,
    /// Each kind's index in the table and its name.
    pub kinds: Vec<(u16, &'static str)>,
    pub wallets: Vec<Wallet>,
    pub actions: Vec<Action>,
}

/// The sample month as a keeper reads it, written to `dir`: `pool.json` (the docs' transaction
/// pool shape; the wallets' connections and on-chain actions `act-<n>` of the keeper tests) and
/// `weights.toml` ([`SAMPLE_KINDS`]).
pub fn write_sample_pool(dir: &Path, wallets: &[EvmKey]) -> Result<()> {
    let connected = [
        GENESIS + 100,
        GENESIS + 300,
        GENESIS + DAY + 5,
        GENESIS + 2 * DAY + 1,
        GENESIS + 500,
    ];
    let acts: [(usize, &str, i64); 13] = [
        (0, "swap", GENESIS + 200),
        (1, "post", GENESIS + 400),
        (0, "stake", GENESIS + DAY + 50),
        (0, "swap", GENESIS + DAY + 60),
        (1, "swap", GENESIS + DAY + 70),
        (2, "swap", GENESIS + DAY + 80),
        (0, "post", GENESIS + 2 * DAY + 10),
        (1, "stake", GENESIS + 2 * DAY + 20),
        (1, "stake", GENESIS + 2 * DAY + 30),
        (2, "swap", GENESIS + 2 * DAY + 40),
        (2, "post", GENESIS + 2 * DAY + 50),
        (3, "stake", GENESIS + 2 * DAY + 60),
        (4, "post", GENESIS + 2 * DAY + 70),
    ];
    let list: Vec<serde_json::Value> = wallets
        .iter()
        .zip(connected)
        .enumerate()
        .map(|(i, (k, at))| {
            let onchain: Vec<serde_json::Value> = acts
                .iter()
                .enumerate()
                .filter(|(_, a)| a.0 == i)
                .map(|(j, a)| serde_json::json!({"action_id": format!("act-{j}"), "kind": a.1, "timestamp": a.2}))
                .collect();
            serde_json::json!({"address": k.address().to_string(), "connected_at": at, "actions": {"onchain": onchain}})
        })
        .collect();
    let weights: String = SAMPLE_KINDS
        .iter()
        .map(|(kind, weight)| format!("{kind} = \"{weight}\"\n"))
        .collect();
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| ScenarioError::Unexpected(format!("{}: {e}", dir.join(name).display())))
    };
    write("pool.json", serde_json::json!({ "wallets": list }).to_string())?;
    write("weights.toml", weights)
}

/// The sample month: wallets join over the three days and the active count grows each day, so the
/// wallet index rises to 1 and then 2.
pub fn sample_activity(wallets: &[EvmKey]) -> Result<Activity> {
    let mut table = WeightTable::new();
    let mut kinds = Vec::new();
    for (kind, weight) in SAMPLE_KINDS {
        kinds.push((table.insert_str(kind, weight)?, kind));
    }
    let (swap, stake, post) = (kinds[0].0, kinds[1].0, kinds[2].0);
    let connected = [
        GENESIS + 100,
        GENESIS + 300,
        GENESIS + DAY + 5,
        GENESIS + 2 * DAY + 1,
        GENESIS + 500,
    ];
    let pool: Vec<Wallet> = wallets
        .iter()
        .zip(connected)
        .map(|(k, at)| Wallet {
            address: k.address(),
            connected_at: at,
        })
        .collect();
    let act = |wallet: u32, kind: u16, at: i64| Action {
        wallet,
        kind,
        timestamp: at,
    };
    let actions = vec![
        act(0, swap, GENESIS + 200),
        act(1, post, GENESIS + 400),
        act(0, stake, GENESIS + DAY + 50),
        act(0, swap, GENESIS + DAY + 60),
        act(1, swap, GENESIS + DAY + 70),
        act(2, swap, GENESIS + DAY + 80),
        act(0, post, GENESIS + 2 * DAY + 10),
        act(1, stake, GENESIS + 2 * DAY + 20),
        act(1, stake, GENESIS + 2 * DAY + 30),
        act(2, swap, GENESIS + 2 * DAY + 40),
        act(2, post, GENESIS + 2 * DAY + 50),
        act(3, stake, GENESIS + 2 * DAY + 60),
        act(4, post, GENESIS + 2 * DAY + 70),
    ];
    Ok(Activity {
        table,
        kinds,
        wallets: pool,
        actions,
    })
}

/// The engine's three epochs of the activity, with [`DEPOSIT`] as the genesis balance.
pub fn replay(activity: &Activity) -> Result<Vec<EpochReport>> {
    let config = ReplayConfig {
        genesis: Genesis::new(GENESIS)?,
        balance: DEPOSIT,
        bonus: ConnectionBonus::Active,
        epochs: Some(3),
    };
    let mut replay = Replay::new(&activity.wallets, &activity.actions, &activity.table, config)?;
    Ok(std::iter::from_fn(|| replay.next_epoch()).collect())
}

/// [`sample_activity`] replayed by the engine.
pub fn sample_replay(wallets: &[EvmKey]) -> Result<Vec<EpochReport>> {
    replay(&sample_activity(wallets)?)
}

/// The epoch's scores tree (one leaf per listed wallet).
pub fn scores_tree(report: &EpochReport) -> Result<StandardMerkleTree<ScoreLeaf>> {
    let leaves: Vec<ScoreLeaf> = report
        .wallets
        .iter()
        .zip(&report.scores)
        .zip(&report.weights)
        .zip(&report.rewards)
        .map(|(((wallet, score), weight), reward)| ScoreLeaf {
            epoch: report.epoch,
            wallet: *wallet,
            score: *score,
            weight_bits: *weight,
            reward: *reward,
        })
        .collect();
    Ok(StandardMerkleTree::of(leaves)?)
}

/// What every keeper submits for the epoch of `report`.
pub fn commitment_of(report: &EpochReport) -> Result<EpochCommitment> {
    Ok(EpochCommitment {
        epoch: report.epoch,
        scores_root: scores_tree(report)?.root(),
        active_count: report.active,
        total_weight_bits: report.total_weight,
        multiplier_sum: u128::from(report.multiplier_sum),
        pool: report.pool,
        forecast: 0,
    })
}

/// Each wallet's total over the reports' epochs.
pub fn month_totals(reports: &[EpochReport]) -> BTreeMap<Address, u128> {
    let mut totals: BTreeMap<Address, u128> = BTreeMap::new();
    for report in reports {
        for (w, r) in report.wallets.iter().zip(&report.rewards) {
            *totals.entry(*w).or_default() += r;
        }
    }
    totals
}

/// The month's claim tree: one leaf per wallet that earned something in the reports' epochs.
pub fn claim_tree(reports: &[EpochReport], month_index: u32) -> Result<StandardMerkleTree<ClaimLeaf>> {
    let leaves: Vec<ClaimLeaf> = month_totals(reports)
        .into_iter()
        .filter(|(_, amount)| *amount > 0)
        .map(|(wallet, amount)| ClaimLeaf {
            month_index,
            wallet,
            amount,
        })
        .collect();
    Ok(StandardMerkleTree::of(leaves)?)
}

/// The arguments of the pool's `claim`: month index, wallet, amount, proof, signature, beneficiary.
pub type ClaimArgs = (u32, [u8; 20], u128, Vec<[u8; 32]>, [u8; 65], AccountId32);

/// A wallet's signed authorisation to claim its leaf of a month's claim tree.
#[derive(Debug, Clone)]
pub struct SignedClaim {
    pub month_index: u32,
    pub wallet: Address,
    pub amount: u128,
    pub proof: Vec<[u8; 32]>,
    /// The claim message the wallet signed (`docs/PROTOCOL.md`).
    pub message: String,
    pub signature: [u8; 65],
    pub beneficiary: AccountId32,
}

impl SignedClaim {
    /// The wallet `key` signs its leaf of `tree` for the pool at `pool` on the chain whose genesis
    /// hash is `chain`, paying `beneficiary`.
    pub fn sign(
        chain: &[u8; 32],
        pool: &AccountId32,
        tree: &StandardMerkleTree<ClaimLeaf>,
        key: &EvmKey,
        beneficiary: &AccountId32,
    ) -> Result<Self> {
        let wallet = key.address();
        let index = tree
            .values()
            .iter()
            .position(|l| l.wallet == wallet)
            .ok_or_else(|| {
                ScenarioError::Unexpected(format!("wallet {wallet} has no leaf in the claim tree"))
            })?;
        let leaf = &tree.values()[index];
        let message = flex_evm::claim_message(
            chain,
            &pool.0,
            leaf.month_index,
            &wallet,
            leaf.amount,
            &beneficiary.0,
        );
        Ok(Self {
            month_index: leaf.month_index,
            wallet,
            amount: leaf.amount,
            proof: tree.get_proof(index)?,
            signature: key.sign_personal(message.as_bytes())?,
            message,
            beneficiary: beneficiary.clone(),
        })
    }

    /// The arguments of the pool's `claim` sending the tokens to `beneficiary` (the signed one, or
    /// another to show that the signature binds it).
    pub fn args(&self, beneficiary: &AccountId32) -> ClaimArgs {
        (
            self.month_index,
            self.wallet.0,
            self.amount,
            self.proof.clone(),
            self.signature,
            beneficiary.clone(),
        )
    }
}
