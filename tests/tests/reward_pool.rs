//! The reward pool on a real local chain, end to end: deploy FLEXE, the payment token and the pool;
//! fund it; four keepers commit the epochs of a month computed by the keeper's engine (quorum at the
//! third vote); the month's claim root goes on chain; chain time moves into the claim window; an EVM
//! wallet claims with a proof from the keeper's merkle code and an ethers signature, paying the claim
//! cost; a second claim fails; past the window the rest is swept to the treasury. Balances are
//! checked at every step.

use flex_e2e::{
    account,
    deploy::{deploy, DeployOptions, Deployment},
    dev,
    scenario::{
        claim_tree, commitment_of, evm_wallets, finalized, sample_replay, travel, Contract, EpochInfo,
        MonthRoot, SignedClaim, CLAIM_PRICE, DAY, DEPOSIT, FEB_1, GENESIS, JANUARY_2026, MAR_1,
    },
    AccountId32, Devnet,
};

async fn psp22_balance(token: &Contract, who: &AccountId32) -> u128 {
    token.balance_of(who).await.expect("PSP22::balance_of")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_month_of_epochs_committed_claimed_and_swept() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let (alice, bob, charlie, eve, ferdie) = (
        dev("alice"),
        dev("bob"),
        dev("charlie"),
        dev("eve"),
        dev("ferdie"),
    );
    // chopsticks starts at wall-clock time: the fixture sets the clock to the day before genesis
    // first. FLEXE and the payment token from the same code, then the pool with four keepers,
    // funded: Alice approves and deposits.
    let Deployment {
        flexe,
        pay,
        pool,
        treasury,
        ..
    } = deploy(&chain, &DeployOptions::default()).await.expect("deploy");
    assert_eq!(flexe.query::<u128>("PSP22::total_supply", ()).await, 10 * DEPOSIT);
    assert_eq!(pool.query::<u32>("threshold", ()).await, 3, "floor(2*4/3)+1");
    // The pool holds the tokens as unallocated balance.
    assert_eq!(psp22_balance(&flexe, &pool.address).await, DEPOSIT);
    assert_eq!(pool.query::<u128>("unallocated", ()).await, DEPOSIT);

    // The keeper engine computes the month; every keeper submits the same bytes.
    let wallets = evm_wallets().unwrap();
    let reports = sample_replay(&wallets).unwrap();
    assert_eq!(reports.len(), 3);
    let mut figures = Vec::new();
    let mut distributed = 0u128;
    for report in &reports {
        let e = report.epoch as i64;
        let commitment = commitment_of(report).unwrap();
        if e == 0 {
            // Not before the epoch has ended by block time.
            travel(&chain, GENESIS + DAY - 3600).await.unwrap();
            pool.call_fails(&alice, "submit_epoch", &commitment, "EpochNotEnded")
                .await;
        }
        travel(&chain, GENESIS + (e + 1) * DAY + 60).await.unwrap();
        // A wrong pool is refused: the contract recomputes P_e itself.
        let mut wrong = commitment.clone();
        wrong.pool += 1;
        pool.call_fails(&alice, "submit_epoch", &wrong, "PoolMismatch")
            .await;
        pool.call_fails(&eve, "submit_epoch", &commitment, "NotKeeper")
            .await;

        let first = pool.call(&alice, "submit_epoch", &commitment).await;
        assert!(!finalized(&first).unwrap());
        pool.call_fails(&alice, "submit_epoch", &commitment, "AlreadyVoted")
            .await;
        assert!(!finalized(&pool.call(&bob, "submit_epoch", &commitment).await).unwrap());
        assert_eq!(
            pool.query::<u64>("next_epoch", ()).await,
            report.epoch,
            "two votes are not a quorum"
        );
        let last = pool.call(&charlie, "submit_epoch", &commitment).await;
        assert!(finalized(&last).unwrap(), "the third of four keepers finalises");
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
    let tree = claim_tree(&reports, JANUARY_2026).unwrap();
    assert_eq!(
        tree.values().iter().map(|l| l.amount).sum::<u128>(),
        distributed,
        "the claim tree holds what the epochs distributed"
    );
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
    let month_vote = pool.call(&alice, "submit_month", &root).await;
    assert!(!finalized(&month_vote).unwrap());
    figures.push(("month vote (not finalising)", month_vote));
    assert!(!finalized(&pool.call(&bob, "submit_month", &root).await).unwrap());
    let month_final = pool.call(&charlie, "submit_month", &root).await;
    assert!(finalized(&month_final).unwrap());
    figures.push(("finalising month vote", month_final));

    // Into the claim window (February). Wallet 0 claims to Ferdie; Eve relays and pays the cost.
    travel(&chain, FEB_1 + 3600).await.unwrap();
    let claimer = &wallets[0];
    let ferdie_acc = account(&ferdie);
    // Wallet 0 earned: it has a leaf in the claim tree.
    // The message binds the chain: the pool was deployed with the devnet's genesis hash.
    let genesis_hash = chain.api().genesis_hash().0;
    assert_eq!(
        pool.query::<[u8; 32]>("chain_genesis_hash", ()).await,
        genesis_hash
    );
    let signed = SignedClaim::sign(&genesis_hash, &pool.address, &tree, claimer, &ferdie_acc)
        .expect("wallet 0 earned");
    let amount = signed.amount;
    let message = flex_evm::claim_message(
        &genesis_hash,
        &pool.address.0,
        JANUARY_2026,
        &claimer.address(),
        amount,
        &ferdie_acc.0,
    );
    assert_eq!(signed.message, message);
    let on_chain: Vec<u8> = pool
        .query(
            "claim_message",
            (JANUARY_2026, claimer.address().0, amount, &ferdie_acc),
        )
        .await;
    assert_eq!(
        on_chain,
        message.as_bytes(),
        "keeper and contract build the same claim message"
    );
    assert_eq!(
        flex_evm::recover_personal(message.as_bytes(), &signed.signature).unwrap(),
        claimer.address(),
        "the claimer signed it"
    );

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

    let claim_args = |beneficiary: &AccountId32| signed.args(beneficiary);
    // Without approving the pool to take the cost, the claim fails and pays nothing.
    pool.call_fails(&eve, "claim", claim_args(&ferdie_acc), "PaymentFailed")
        .await;
    // The pool itself is never a beneficiary (the tokens would be booked as paid and stranded).
    pool.call_fails(&eve, "claim", claim_args(&pool.address), "InvalidBeneficiary")
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
        pool.query::<bool>("is_claimed", (JANUARY_2026, claimer.address().0))
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
    travel(&chain, MAR_1 + 60).await.unwrap();
    let late = SignedClaim::sign(&genesis_hash, &pool.address, &tree, &wallets[1], &eve_acc)
        .expect("wallet 1 earned");
    pool.call_fails(&eve, "claim", late.args(&eve_acc), "ClaimWindowClosed")
        .await;

    let treasury_before = psp22_balance(&flexe, &treasury).await;
    figures.push(("sweep", pool.call(&bob, "sweep", JANUARY_2026).await));
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

    // Administration and a later deposit, for their weights.
    figures.push(("pause", pool.call(&alice, "pause", ()).await));
    figures.push(("unpause", pool.call(&alice, "unpause", ()).await));
    flexe
        .call(&alice, "PSP22::approve", (&pool.address, 1_000u128))
        .await;
    figures.push(("deposit", pool.call(&alice, "deposit", 1_000u128).await));

    for (what, dry) in figures {
        eprintln!(
            "figure: {what}: ref_time {} proof_size {} storage deposit {:?} (claim tree of {} leaves)",
            dry.gas_required.ref_time,
            dry.gas_required.proof_size,
            dry.storage_deposit,
            tree.values().len()
        );
    }
}
