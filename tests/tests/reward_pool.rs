//! The reward pool on a real local chain, end to end: deploy FLEXE, the payment token and the pool;
//! fund it; four keepers commit the epochs of a month computed by the keeper's engine (quorum at the
//! third vote); the month's claim root goes on chain; chain time moves into the claim window; an EVM
//! wallet claims with a proof from the keeper's merkle code and an ethers signature, paying the claim
//! cost; a second claim fails; past the window the rest is swept to the treasury. Balances are
//! checked at every step.

use std::collections::BTreeMap;

use flex_chain::{Chain, ChainError, ContractBundle, DryRun, Keypair};
use flex_e2e::{account, bundle, call_data, dev, AccountId32, Decode, Devnet, Encode};
use flex_engine::{
    Action, Address, ConnectionBonus, EpochReport, Genesis, Replay, ReplayConfig, Wallet, WeightTable,
};
use flex_evm::EvmKey;
use flex_merkle::{ClaimLeaf, ScoreLeaf, StandardMerkleTree};

const DAY: i64 = 86_400;
/// 2026-01-29 00:00:00 UTC: January then has three epochs (29th, 30th, 31st).
const GENESIS: i64 = 1_769_644_800;
const JANUARY_2026: u32 = 2026 * 12;
const FEB_1: i64 = 1_769_904_000;
const MAR_1: i64 = 1_772_323_200;
const DEPOSIT: u128 = 1_000_000_000_000_000_000;
/// 0.5 payment-token units per FLEXE unit (both tokens have 12 decimals), 18-decimal fixed point.
const CLAIM_PRICE: u128 = 500_000_000_000_000_000;
const TREASURY: [u8; 32] = [7; 32];

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
struct EpochCommitment {
    epoch: u64,
    scores_root: [u8; 32],
    active_count: u64,
    total_weight_bits: u128,
    multiplier_sum: u128,
    pool: u128,
    forecast: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
struct MonthRoot {
    month_index: u32,
    claims_root: [u8; 32],
    total: u128,
    claim_price: u128,
}

#[derive(Debug, Decode)]
struct EpochInfo {
    commitment: EpochCommitment,
    _commitment_hash: [u8; 32],
    month_index: u32,
    wallet_index: u8,
    halving: u64,
    snapshot: u128,
    distributed: u128,
    _finalized_at: u64,
}

/// A deployed contract and its bundle, with small call helpers.
struct Contract {
    chain: Chain,
    bundle: ContractBundle,
    address: AccountId32,
}

impl Contract {
    fn data(&self, message: &str, args: impl Encode) -> Vec<u8> {
        call_data(self.bundle.message(message).expect("message in metadata"), args)
    }

    async fn query<T: Decode>(&self, message: &str, args: impl Encode) -> T {
        let data = self.data(message, args);
        self.chain
            .query(&account(&dev("alice")), &self.address, &data)
            .await
            .expect(message)
    }

    /// Calls a message that returns `Result<_, Error>` and must succeed; returns its dry run.
    async fn call(&self, signer: &Keypair, message: &str, args: impl Encode) -> DryRun {
        let data = self.data(message, args);
        match self.chain.call(signer, &self.address, 0, &data).await {
            Ok(outcome) => outcome.dry_run,
            Err(ChainError::Reverted { output, .. }) => {
                panic!(
                    "{message} reverted with {:?}",
                    self.bundle.error_variant("Error", &output)
                )
            }
            Err(e) => panic!("{message}: {e}"),
        }
    }

    /// Calls a message that must fail with the contract error `expected` (nothing is submitted).
    async fn call_fails(&self, signer: &Keypair, message: &str, args: impl Encode, expected: &str) {
        let data = self.data(message, args);
        match self.chain.call(signer, &self.address, 0, &data).await {
            Err(ChainError::Reverted { output, .. }) => {
                let error = self.bundle.error_variant("Error", &output);
                assert_eq!(error.as_deref(), Some(expected), "{message}: wrong error");
            }
            Ok(_) => panic!("{message} succeeded, expected {expected}"),
            Err(e) => panic!("{message}: {e}, expected {expected}"),
        }
    }
}

/// `submit_epoch` / `submit_month` answer `Ok(finalized)`.
fn finalized(dry: &DryRun) -> bool {
    match dry.output.as_slice() {
        [0, 0, b] => *b == 1,
        other => panic!("unexpected vote output {other:?}"),
    }
}

async fn psp22_balance(token: &Contract, who: &AccountId32) -> u128 {
    token.query("PSP22::balance_of", who).await
}

/// Moves chain time to `unix_s` and builds a block there.
async fn travel(chain: &Chain, unix_s: i64) {
    flex_chain::dev::time_travel(chain.rpc(), (unix_s * 1000) as u64)
        .await
        .expect("time travel");
    flex_chain::dev::new_blocks(chain.rpc(), 1)
        .await
        .expect("new block");
}

fn evm_wallets() -> Vec<EvmKey> {
    (1u8..=5)
        .map(|i| EvmKey::from_hex(&hex::encode([i; 32]), "test wallet").unwrap())
        .collect()
}

/// The month's activity: wallets join over the three days and the active count grows each day,
/// so the wallet index rises to 1 and then 2.
fn sample_replay(wallets: &[EvmKey]) -> Vec<EpochReport> {
    let mut table = WeightTable::new();
    let swap = table.insert_str("swap", "2.5").unwrap();
    let stake = table.insert_str("stake", "4").unwrap();
    let post = table.insert_str("post", "1").unwrap();
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
            address: Address(k.address()),
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
    let config = ReplayConfig {
        genesis: Genesis::new(GENESIS).unwrap(),
        balance: DEPOSIT,
        bonus: ConnectionBonus::Active,
        epochs: Some(3),
    };
    let mut replay = Replay::new(&pool, &actions, &table, config).unwrap();
    std::iter::from_fn(|| replay.next_epoch()).collect()
}

fn commitment_of(report: &EpochReport) -> EpochCommitment {
    let leaves: Vec<ScoreLeaf> = (0..report.wallets.len())
        .map(|i| ScoreLeaf {
            epoch: report.epoch,
            wallet: report.wallets[i].0,
            score: report.scores[i],
            weight_bits: report.weights[i],
            reward: report.rewards[i],
        })
        .collect();
    let tree = StandardMerkleTree::of(leaves).unwrap();
    EpochCommitment {
        epoch: report.epoch,
        scores_root: tree.root(),
        active_count: report.active,
        total_weight_bits: report.total_weight,
        multiplier_sum: u128::from(report.multiplier_sum),
        pool: report.pool,
        forecast: 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_month_of_epochs_committed_claimed_and_swept() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let (alice, bob, charlie, dave, eve, ferdie) = (
        dev("alice"),
        dev("bob"),
        dev("charlie"),
        dev("dave"),
        dev("eve"),
        dev("ferdie"),
    );
    let treasury = AccountId32(TREASURY);
    // chopsticks starts at wall-clock time; set the clock to the day before genesis first.
    travel(&chain, GENESIS - DAY).await;

    // Deploy: FLEXE and the payment token from the same code, then the pool with four keepers.
    let token_bundle = bundle("flex_token");
    let new_token = |symbol: &str| {
        call_data(
            token_bundle.constructor("new").unwrap(),
            (
                10 * DEPOSIT,
                Some(format!("Flex {symbol}")),
                Some(symbol.to_string()),
                12u8,
            ),
        )
    };
    let flexe = chain
        .instantiate(&alice, &token_bundle, &new_token("FLEXE"), b"flexe")
        .await
        .unwrap();
    let pay = chain
        .instantiate(&alice, &token_bundle, &new_token("PAY"), b"pay")
        .await
        .unwrap();
    let flexe = Contract {
        chain: chain.clone(),
        bundle: token_bundle.clone(),
        address: flexe.address,
    };
    let pay = Contract {
        chain: chain.clone(),
        bundle: token_bundle,
        address: pay.address,
    };

    let pool_bundle = bundle("flex_reward_pool");
    let keepers: Vec<AccountId32> = [&alice, &bob, &charlie, &dave].into_iter().map(account).collect();
    let ctor = call_data(
        pool_bundle.constructor("new").unwrap(),
        (&flexe.address, &pay.address, &treasury, GENESIS as u64, &keepers),
    );
    let deployed = chain
        .instantiate(&alice, &pool_bundle, &ctor, b"pool")
        .await
        .expect("deploy pool");
    let pool = Contract {
        chain: chain.clone(),
        bundle: pool_bundle,
        address: deployed.address,
    };
    assert_eq!(pool.query::<u32>("threshold", ()).await, 3, "floor(2*4/3)+1");

    // Fund: Alice approves and deposits; the pool holds the tokens as unallocated balance.
    flexe
        .call(&alice, "PSP22::approve", (&pool.address, DEPOSIT))
        .await;
    pool.call(&alice, "deposit", DEPOSIT).await;
    assert_eq!(psp22_balance(&flexe, &pool.address).await, DEPOSIT);
    assert_eq!(pool.query::<u128>("unallocated", ()).await, DEPOSIT);

    // The keeper engine computes the month; every keeper submits the same bytes.
    let wallets = evm_wallets();
    let reports = sample_replay(&wallets);
    assert_eq!(reports.len(), 3);
    let mut figures = Vec::new();
    let mut distributed = 0u128;
    for report in &reports {
        let e = report.epoch as i64;
        let commitment = commitment_of(report);
        if e == 0 {
            // Not before the epoch has ended by block time.
            travel(&chain, GENESIS + DAY - 3600).await;
            pool.call_fails(&alice, "submit_epoch", &commitment, "EpochNotEnded")
                .await;
        }
        travel(&chain, GENESIS + (e + 1) * DAY + 60).await;
        // A wrong pool is refused: the contract recomputes P_e itself.
        let mut wrong = commitment.clone();
        wrong.pool += 1;
        pool.call_fails(&alice, "submit_epoch", &wrong, "PoolMismatch")
            .await;
        pool.call_fails(&eve, "submit_epoch", &commitment, "NotKeeper")
            .await;

        let first = pool.call(&alice, "submit_epoch", &commitment).await;
        assert!(!finalized(&first));
        pool.call_fails(&alice, "submit_epoch", &commitment, "AlreadyVoted")
            .await;
        assert!(!finalized(&pool.call(&bob, "submit_epoch", &commitment).await));
        assert_eq!(
            pool.query::<u64>("next_epoch", ()).await,
            report.epoch,
            "two votes are not a quorum"
        );
        let last = pool.call(&charlie, "submit_epoch", &commitment).await;
        assert!(finalized(&last), "the third of four keepers finalises");
        assert_eq!(pool.query::<u64>("next_epoch", ()).await, report.epoch + 1);
        if e == 1 {
            figures.push(("keeper vote (not finalising)", first.clone()));
            figures.push(("finalising vote", last.clone()));
        }

        let info = pool
            .query::<Option<EpochInfo>>("epoch", report.epoch)
            .await
            .expect("finalised epoch");
        assert_eq!(info.commitment, commitment);
        assert_eq!(info.month_index, JANUARY_2026);
        assert_eq!(
            info.wallet_index, report.wallet_index,
            "contract and engine agree on Wi"
        );
        assert_eq!(info.halving, 0);
        // P_t: the genesis snapshot is 0 on chain (P_0 = 0 either way), later the unallocated
        // balance after the previous finalisation, as in the engine.
        let p_t = if e == 0 { 0 } else { DEPOSIT - distributed };
        assert_eq!(info.snapshot, p_t);
        if e > 0 {
            assert_eq!(report.balance, p_t, "engine and contract start from the same P_t");
        }
        assert_eq!(info.distributed, report.distributed);
        distributed += report.distributed;
        assert_eq!(
            pool.query::<u128>("snapshot", ()).await,
            DEPOSIT - distributed,
            "new snapshot"
        );
        assert_eq!(pool.query::<u128>("unallocated", ()).await, DEPOSIT - distributed);
    }
    assert_eq!(
        reports.iter().map(|r| r.wallet_index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(distributed > 0);

    // The month's claim tree: each wallet's total over January's epochs.
    let mut totals: BTreeMap<[u8; 20], u128> = BTreeMap::new();
    for report in &reports {
        for (w, r) in report.wallets.iter().zip(&report.rewards) {
            *totals.entry(w.0).or_default() += r;
        }
    }
    let leaves: Vec<ClaimLeaf> = totals
        .iter()
        .filter(|(_, amount)| **amount > 0)
        .map(|(wallet, amount)| ClaimLeaf {
            month_index: JANUARY_2026,
            wallet: *wallet,
            amount: *amount,
        })
        .collect();
    let tree = StandardMerkleTree::of(leaves.clone()).unwrap();
    let root = MonthRoot {
        month_index: JANUARY_2026,
        claims_root: tree.root(),
        total: distributed,
        claim_price: CLAIM_PRICE,
    };
    let mut wrong_total = root.clone();
    wrong_total.total -= 1;
    pool.call_fails(&alice, "submit_month", &wrong_total, "MonthTotalMismatch")
        .await;
    assert!(!finalized(&pool.call(&alice, "submit_month", &root).await));
    assert!(!finalized(&pool.call(&bob, "submit_month", &root).await));
    assert!(finalized(&pool.call(&charlie, "submit_month", &root).await));

    // Into the claim window (February). Wallet 0 claims to Ferdie; Eve relays and pays the cost.
    travel(&chain, FEB_1 + 3600).await;
    let claimer = &wallets[0];
    let index = tree
        .values()
        .iter()
        .position(|l| l.wallet == claimer.address())
        .expect("wallet 0 earned");
    let amount = tree.values()[index].amount;
    let proof = tree.get_proof(index).unwrap();
    let ferdie_acc = account(&ferdie);
    let message = flex_evm::claim_message(
        &pool.address.0,
        JANUARY_2026,
        &claimer.address(),
        amount,
        &ferdie_acc.0,
    );
    let on_chain: Vec<u8> = pool
        .query(
            "claim_message",
            (JANUARY_2026, claimer.address(), amount, &ferdie_acc),
        )
        .await;
    assert_eq!(
        on_chain,
        message.as_bytes(),
        "keeper and contract build the same claim message"
    );
    let signature = claimer.sign_personal(message.as_bytes()).unwrap();

    let cost: Result<u128, ()> = pool.query("claim_cost", (JANUARY_2026, amount)).await;
    let cost = cost.unwrap();
    assert_eq!(
        cost,
        (amount * CLAIM_PRICE).div_ceil(10u128.pow(19)),
        "10% of amount * price, rounded up"
    );
    assert!(cost > 0);
    let eve_acc = account(&eve);
    pay.call(&alice, "PSP22::transfer", (&eve_acc, 10 * cost, Vec::<u8>::new()))
        .await;

    let claim_args = |beneficiary: &AccountId32| {
        (
            JANUARY_2026,
            claimer.address(),
            amount,
            proof.clone(),
            signature,
            beneficiary.clone(),
        )
    };
    // Without approving the pool to take the cost, the claim fails and pays nothing.
    pool.call_fails(&eve, "claim", claim_args(&ferdie_acc), "PaymentFailed")
        .await;
    // The signature binds the beneficiary: redirecting the tokens to Eve is refused.
    pay.call(&eve, "PSP22::approve", (&pool.address, cost)).await;
    pool.call_fails(&eve, "claim", claim_args(&eve_acc), "SignerMismatch")
        .await;

    let before = (
        psp22_balance(&flexe, &ferdie_acc).await,
        psp22_balance(&flexe, &pool.address).await,
        psp22_balance(&pay, &eve_acc).await,
        psp22_balance(&pay, &treasury).await,
    );
    let claimed = pool.call(&eve, "claim", claim_args(&ferdie_acc)).await;
    figures.push(("claim", claimed));
    assert_eq!(
        psp22_balance(&flexe, &ferdie_acc).await,
        before.0 + amount,
        "beneficiary paid"
    );
    assert_eq!(psp22_balance(&flexe, &pool.address).await, before.1 - amount);
    assert_eq!(
        psp22_balance(&pay, &eve_acc).await,
        before.2 - cost,
        "submitter pays the cost"
    );
    assert_eq!(
        psp22_balance(&pay, &treasury).await,
        before.3 + cost,
        "treasury receives it"
    );
    assert!(
        pool.query::<bool>("is_claimed", (JANUARY_2026, claimer.address()))
            .await
    );

    // A second claim fails, and changes nothing.
    pay.call(&eve, "PSP22::approve", (&pool.address, cost)).await;
    pool.call_fails(&eve, "claim", claim_args(&ferdie_acc), "AlreadyClaimed")
        .await;
    assert_eq!(psp22_balance(&flexe, &ferdie_acc).await, before.0 + amount);

    // The rest is swept to the treasury once the window (February) is over, not before.
    pool.call_fails(&bob, "sweep", JANUARY_2026, "SweepTooEarly")
        .await;
    travel(&chain, MAR_1 + 60).await;
    let late_claimer = &wallets[1];
    let late = tree
        .values()
        .iter()
        .position(|l| l.wallet == late_claimer.address())
        .expect("wallet 1 earned");
    let late_amount = tree.values()[late].amount;
    let late_msg = flex_evm::claim_message(
        &pool.address.0,
        JANUARY_2026,
        &late_claimer.address(),
        late_amount,
        &eve_acc.0,
    );
    let late_args = (
        JANUARY_2026,
        late_claimer.address(),
        late_amount,
        tree.get_proof(late).unwrap(),
        late_claimer.sign_personal(late_msg.as_bytes()).unwrap(),
        eve_acc.clone(),
    );
    pool.call_fails(&eve, "claim", late_args, "ClaimWindowClosed")
        .await;

    let treasury_before = psp22_balance(&flexe, &treasury).await;
    pool.call(&bob, "sweep", JANUARY_2026).await;
    let rest = distributed - amount;
    assert_eq!(
        psp22_balance(&flexe, &treasury).await,
        treasury_before + rest,
        "unclaimed rest swept"
    );
    assert_eq!(psp22_balance(&flexe, &pool.address).await, DEPOSIT - distributed);
    assert_eq!(
        pool.query::<Option<u128>>("swept", JANUARY_2026).await,
        Some(rest)
    );
    pool.call_fails(&bob, "sweep", JANUARY_2026, "AlreadySwept").await;

    for (what, dry) in figures {
        eprintln!(
            "figure: {what}: ref_time {} proof_size {} storage deposit {:?} (claim tree of {} leaves)",
            dry.gas_required.ref_time,
            dry.gas_required.proof_size,
            dry.storage_deposit,
            leaves.len()
        );
    }
}
