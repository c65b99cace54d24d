//! The reward pool's time-locked governance on a real local chain (issue 15): the owner (Alice,
//! the deployer) tries the takeover: adds Eve's key and removes honest keepers. Each change is
//! announced with an event that keepers see (`pending_changes`, the event's topic and fields),
//! is refused before the delay fixed at deployment (two days of chain time) and by anyone but the
//! owner, can be cancelled, and takes effect once the delay has passed. The pool's own account is
//! refused as treasury. A pause across a claim window extends it by the paused time: the sweep
//! waits, claims in the extension succeed.

use flex_chain::{ContractEvent, Keypair};
use flex_e2e::{
    account,
    deploy::{deploy, DeployOptions, Deployment},
    dev,
    scenario::{
        claim_tree, commitment_of, evm_wallets, finalized, sample_replay, travel, Contract, MonthRoot,
        SignedClaim, CLAIM_PRICE, DAY, DEPOSIT, FEB_1, GENESIS, GOVERNANCE_DELAY, JANUARY_2026, MAR_1,
    },
    AccountId32, Decode, Devnet, Encode,
};
use flex_pool::{GovernanceAction, PendingChange};

#[derive(Debug, PartialEq, Eq, Decode)]
struct GovernanceAnnounced {
    id: u64,
    action: GovernanceAction,
    executable_at: u64,
    expires_at: u64,
}

#[derive(Debug, PartialEq, Eq, Decode)]
struct GovernanceExecuted {
    id: u64,
    action: GovernanceAction,
}

#[derive(Debug, PartialEq, Eq, Decode)]
struct GovernanceCancelled {
    id: u64,
    action: GovernanceAction,
}

#[derive(Debug, PartialEq, Eq, Decode)]
struct KeeperAdded {
    keeper: AccountId32,
    keepers: u32,
    threshold: u32,
}

/// The weight of `message` from a dry run by `signer` (nothing submitted), printed as a `figure:`
/// line like `reward_pool.rs`'s.
async fn figure(pool: &Contract, signer: &Keypair, message: &str, args: impl Encode) {
    let data = pool.data(message, args).expect("message in metadata");
    let dry = pool
        .chain
        .dry_run_call(&account(signer), &pool.address, 0, &data)
        .await
        .expect("dry run");
    assert!(!dry.reverted, "{message} reverted in its dry run");
    eprintln!(
        "figure: {message}: ref_time {} proof_size {} storage deposit {:?}",
        dry.gas_required.ref_time, dry.gas_required.proof_size, dry.storage_deposit
    );
}

/// Submits `message` and decodes the pool's events labelled `label` from its block.
async fn call_events<E: Decode>(
    pool: &Contract,
    signer: &Keypair,
    message: &str,
    args: impl Encode,
    label: &str,
) -> Vec<E> {
    let data = pool.data(message, args).expect("message in metadata");
    let outcome = pool
        .chain
        .call(signer, &pool.address, 0, &data)
        .await
        .unwrap_or_else(|e| panic!("{message}: {e}"));
    decode_events(pool, &outcome.events, label)
}

fn decode_events<E: Decode>(pool: &Contract, events: &[ContractEvent], label: &str) -> Vec<E> {
    let topic = pool.bundle.event_topic(label).expect("event in metadata");
    events
        .iter()
        .filter(|e| e.contract == pool.address && e.topics.first() == Some(&topic))
        .map(|e| E::decode(&mut &e.data[..]).expect("event data decodes"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn keeper_set_changes_wait_for_the_governance_delay() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let (alice, bob, eve) = (dev("alice"), dev("bob"), dev("eve"));
    let Deployment { pool, keepers, .. } = deploy(&chain, &DeployOptions::default()).await.expect("deploy");
    assert_eq!(pool.query::<u64>("governance_delay", ()).await, GOVERNANCE_DELAY);
    assert_eq!(
        pool.query::<[u8; 32]>("chain_genesis_hash", ()).await,
        chain.api().genesis_hash().0,
        "the fixture binds the devnet"
    );
    assert_eq!(pool.query::<AccountId32>("owner", ()).await, account(&alice));

    // Epoch 0 has ended: keepers may vote; Eve may not.
    travel(&chain, GENESIS + DAY + 60).await.unwrap();
    let reports = sample_replay(&evm_wallets().unwrap()).unwrap();
    let commitment = commitment_of(&reports[0]).unwrap();
    pool.call_fails(&eve, "submit_epoch", &commitment, "NotKeeper")
        .await;

    // The takeover: Eve's key in, Bob and Charlie out. Only the owner announces.
    let (eve_acc, bob_acc, charlie_acc) = (account(&eve), account(&bob), account(&dev("charlie")));
    let add_eve = GovernanceAction::AddKeeper(eve_acc.0);
    pool.call_fails(&bob, "announce", &add_eve, "NotOwner").await;
    figure(&pool, &alice, "announce", &add_eve).await;
    let announced: Vec<GovernanceAnnounced> =
        call_events(&pool, &alice, "announce", &add_eve, "GovernanceAnnounced").await;
    assert_eq!(announced.len(), 1, "the announcement is an event");
    let first = &announced[0];
    assert_eq!(first.action, add_eve);
    let now_ms = chain.timestamp_ms().await.unwrap();
    assert!(
        first.executable_at >= now_ms + GOVERNANCE_DELAY * 1000 - 60_000,
        "executable two days after the announcement"
    );
    assert_eq!(first.expires_at, first.executable_at + 14 * DAY as u64 * 1000);
    let mut ids = vec![first.id];
    for who in [&bob_acc, &charlie_acc] {
        let e: Vec<GovernanceAnnounced> = call_events(
            &pool,
            &alice,
            "announce",
            GovernanceAction::RemoveKeeper(who.0),
            "GovernanceAnnounced",
        )
        .await;
        ids.push(e[0].id);
    }

    // The keepers' view: every pending change, with when it can take effect.
    let pending: Vec<(u64, PendingChange)> = pool.query("pending_changes", ()).await;
    assert_eq!(pending.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
    assert_eq!(pending[0].1.action, add_eve);
    assert_eq!(pending[0].1.executable_at, first.executable_at);
    assert_eq!(pending[2].1.action, GovernanceAction::RemoveKeeper(charlie_acc.0));

    // Not before the delay, and never by anyone but the owner; the set is unchanged.
    for id in &ids {
        pool.call_fails(&alice, "execute", id, "ChangeNotReady").await;
        pool.call_fails(&bob, "execute", id, "NotOwner").await;
        pool.call_fails(&bob, "cancel", id, "NotOwner").await;
    }
    travel(&chain, (first.executable_at / 1000) as i64 - 120)
        .await
        .unwrap();
    pool.call_fails(&alice, "execute", ids[0], "ChangeNotReady").await;
    assert_eq!(pool.query::<Vec<AccountId32>>("keepers", ()).await, keepers);
    pool.call_fails(&eve, "submit_epoch", &commitment, "NotKeeper")
        .await;

    // The owner cancels Charlie's removal (e.g. a multisig co-signer objected).
    figure(&pool, &alice, "cancel", ids[2]).await;
    let cancelled: Vec<GovernanceCancelled> =
        call_events(&pool, &alice, "cancel", ids[2], "GovernanceCancelled").await;
    assert_eq!(
        cancelled,
        vec![GovernanceCancelled {
            id: ids[2],
            action: GovernanceAction::RemoveKeeper(charlie_acc.0)
        }]
    );

    // Once the delay has passed, the changes take effect when the owner executes them.
    travel(&chain, (first.executable_at / 1000) as i64 + 60)
        .await
        .unwrap();
    figure(&pool, &alice, "execute", ids[0]).await;
    let data = pool.data("execute", ids[0]).unwrap();
    let outcome = chain
        .call(&alice, &pool.address, 0, &data)
        .await
        .expect("execute");
    assert_eq!(
        decode_events::<KeeperAdded>(&pool, &outcome.events, "KeeperAdded"),
        vec![KeeperAdded {
            keeper: eve_acc.clone(),
            keepers: 5,
            threshold: 4
        }]
    );
    assert_eq!(
        decode_events::<GovernanceExecuted>(&pool, &outcome.events, "GovernanceExecuted"),
        vec![GovernanceExecuted {
            id: ids[0],
            action: add_eve
        }]
    );
    pool.call(&alice, "execute", ids[1]).await;
    pool.call_fails(&alice, "execute", ids[2], "UnknownChange").await;
    let now: Vec<AccountId32> = pool.query("keepers", ()).await;
    assert_eq!(
        now,
        vec![
            account(&alice),
            charlie_acc.clone(),
            account(&dev("dave")),
            eve_acc.clone()
        ]
    );
    assert!(pool
        .query::<Vec<(u64, PendingChange)>>("pending_changes", ())
        .await
        .is_empty());
    // Eve is a keeper now; Bob is not.
    pool.call(&eve, "submit_epoch", &commitment).await;
    pool.call_fails(&bob, "submit_epoch", &commitment, "NotKeeper")
        .await;

    // The pool's own account is never the treasury.
    pool.call_fails(
        &alice,
        "announce",
        GovernanceAction::SetTreasury(pool.address.0),
        "InvalidTreasury",
    )
    .await;
}

/// One pause as the pool records it (`pauses`): block times in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Decode)]
struct PauseRecord {
    start: u64,
    end: Option<u64>,
    paused_before: u64,
}

/// A pause across January's claim window (issue 15: "a pause across a claim window hands the month
/// to the treasury"). The owner pauses two days before the window closes and unpauses ten days
/// after the original close. While paused, claims and sweeps are refused; afterwards the window
/// stays open for the paused time: a claim inside the extension succeeds, the sweep is refused
/// until the extended close (original close + paused time, to the millisecond of the pause
/// record), a claim after it is refused, and the sweep then moves only the unclaimed rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_pause_extends_the_claim_window_and_delays_the_sweep() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let (alice, bob, eve, ferdie) = (dev("alice"), dev("bob"), dev("eve"), dev("ferdie"));
    // One keeper (quorum 1): the votes are not under test here.
    let Deployment {
        flexe,
        pay,
        pool,
        treasury,
        ..
    } = deploy(
        &chain,
        &DeployOptions {
            keepers: vec![account(&alice)],
            ..DeployOptions::default()
        },
    )
    .await
    .expect("deploy");

    // January's epochs and claim root.
    let wallets = evm_wallets().unwrap();
    let reports = sample_replay(&wallets).unwrap();
    for report in &reports {
        travel(&chain, GENESIS + (report.epoch as i64 + 1) * DAY + 60)
            .await
            .unwrap();
        let done = pool
            .call(&alice, "submit_epoch", commitment_of(report).unwrap())
            .await;
        assert!(finalized(&done).unwrap());
    }
    let tree = claim_tree(&reports, JANUARY_2026).unwrap();
    let distributed: u128 = tree.values().iter().map(|l| l.amount).sum();
    let root = MonthRoot {
        month_index: JANUARY_2026,
        claims_root: tree.root(),
        total: distributed,
        claim_price: CLAIM_PRICE,
    };
    assert!(finalized(&pool.call(&alice, "submit_month", &root).await).unwrap());
    let window = |pool: Contract| async move {
        pool.query::<Option<(u64, u64)>>("claim_window", JANUARY_2026)
            .await
    };
    assert_eq!(window(pool.clone()).await, Some((FEB_1 as u64, MAR_1 as u64)));

    // Claims are paid by Eve (approving the cost), to Ferdie.
    let genesis_hash = chain.api().genesis_hash().0;
    let (eve_acc, ferdie_acc) = (account(&eve), account(&ferdie));
    let first = SignedClaim::sign(&genesis_hash, &pool.address, &tree, &wallets[0], &ferdie_acc).unwrap();
    let second = SignedClaim::sign(&genesis_hash, &pool.address, &tree, &wallets[1], &ferdie_acc).unwrap();
    let third = SignedClaim::sign(&genesis_hash, &pool.address, &tree, &wallets[2], &ferdie_acc).unwrap();
    pay.call(
        &alice,
        "PSP22::transfer",
        (&eve_acc, 10 * DEPOSIT / 1000, Vec::<u8>::new()),
    )
    .await;
    pay.call(&eve, "PSP22::approve", (&pool.address, 10 * DEPOSIT / 1000))
        .await;

    // The owner pauses two days before the window closes: claims and sweeps stop.
    travel(&chain, MAR_1 - 2 * DAY).await.unwrap();
    pool.call(&alice, "pause", ()).await;
    pool.call_fails(&eve, "claim", first.args(&ferdie_acc), "Paused")
        .await;
    // Past the original close, still paused: no sweep, and the getter already counts the pause.
    travel(&chain, MAR_1 + DAY).await.unwrap();
    pool.call_fails(&bob, "sweep", JANUARY_2026, "Paused").await;
    let (_, close_now) = window(pool.clone()).await.unwrap();
    assert!(
        close_now > MAR_1 as u64 + 2 * DAY as u64,
        "a running pause counts as ending now: close {close_now}"
    );

    // Unpaused ten days after the original close.
    travel(&chain, MAR_1 + 10 * DAY).await.unwrap();
    pool.call(&alice, "unpause", ()).await;
    let pauses: Vec<PauseRecord> = pool.query("pauses", ()).await;
    assert_eq!(pauses.len(), 1);
    let pause = &pauses[0];
    let end = pause.end.expect("the pause has ended");
    assert_eq!(pause.paused_before, 0);
    assert!(pause.start >= (MAR_1 - 2 * DAY) as u64 * 1000 && pause.start < MAR_1 as u64 * 1000);
    assert!(end >= (MAR_1 + 10 * DAY) as u64 * 1000);
    // The window is open for February's length of unpaused time: the close moves by the pause.
    let close_ms = MAR_1 as u64 * 1000 + (end - pause.start);
    assert_eq!(
        window(pool.clone()).await,
        Some((FEB_1 as u64, close_ms / 1000)),
        "close = original close + paused time"
    );
    assert!(close_ms > (MAR_1 + 11 * DAY) as u64 * 1000);

    // Inside the extension: the original close has passed, yet a claim succeeds and the sweep
    // is refused.
    pool.call_fails(&bob, "sweep", JANUARY_2026, "SweepTooEarly")
        .await;
    let before = flexe.balance_of(&ferdie_acc).await.unwrap();
    pool.call(&eve, "claim", first.args(&ferdie_acc)).await;
    assert_eq!(
        flexe.balance_of(&ferdie_acc).await.unwrap(),
        before + first.amount
    );

    // A minute before the extended close: a claim still succeeds, the sweep is still early.
    travel(&chain, (close_ms / 1000) as i64 - 60).await.unwrap();
    pool.call_fails(&bob, "sweep", JANUARY_2026, "SweepTooEarly")
        .await;
    pool.call(&eve, "claim", second.args(&ferdie_acc)).await;

    // After it: claims are refused, the sweep moves the unclaimed rest, once.
    travel(&chain, (close_ms / 1000) as i64 + 60).await.unwrap();
    pool.call_fails(&eve, "claim", third.args(&ferdie_acc), "ClaimWindowClosed")
        .await;
    let treasury_before = flexe.balance_of(&treasury).await.unwrap();
    pool.call(&bob, "sweep", JANUARY_2026).await;
    let rest = distributed - first.amount - second.amount;
    assert_eq!(
        pool.query::<Option<u128>>("swept", JANUARY_2026).await,
        Some(rest)
    );
    assert_eq!(
        flexe.balance_of(&treasury).await.unwrap(),
        treasury_before + rest,
        "only the unclaimed rest reaches the treasury"
    );
    assert_eq!(
        flexe.balance_of(&ferdie_acc).await.unwrap(),
        before + first.amount + second.amount
    );
    pool.call_fails(&bob, "sweep", JANUARY_2026, "AlreadySwept").await;
}
