//! What a claim costs on chain as the month's claim tree grows: the weight (ref_time, proof_size)
//! and storage deposit of `claim` against claim trees of 2, 1,000 and 1,000,000 leaves, from the dry
//! run on the devnet, printed as `figure:` lines with the contracts' Wasm code sizes.
//!
//! One FLEXE and one payment token; three pools of the same code (different salts), each with a
//! single keeper (threshold 1) and the genesis and epochs of `reward_pool.rs`, committed from the
//! same engine replay. Each pool's month root is a claim tree of the month's real claim leaves plus
//! filler leaves (distinct made-up wallets, amount 1) up to the size: the contract checks `total`
//! against what the epochs distributed, not the sum of the leaves. In each pool the real leaf with
//! the longest proof is claimed (an EVM signature, the claim cost paid by a relayer), and the test
//! checks the claim pays the beneficiary, the proof has the length OZ's layout gives for that
//! leaf, and a shortened proof is refused.

use std::time::Instant;

use flex_e2e::deploy::{deploy_tokens, DeployOptions};
use flex_e2e::scenario::{
    commitment_of, evm_wallets, finalized, month_totals, sample_replay, travel, MonthRoot, CLAIM_PRICE, DAY,
    DEPOSIT, FEB_1, GENESIS, JANUARY_2026,
};
use flex_e2e::{account, dev, AccountId32, Devnet};
use flex_merkle::{ClaimLeaf, Hash, Leaf, StandardMerkleTree};

const SIZES: [usize; 3] = [2, 1_000, 1_000_000];

/// Filler wallet `i`: `0xf1` x 16 then `i` big-endian; no real (keccak-derived) address looks so.
fn filler(i: u32) -> [u8; 20] {
    let mut a = [0xf1; 20];
    a[16..].copy_from_slice(&i.to_be_bytes());
    a
}

/// The depth of node `tree_index` in OZ's array layout (root 0, children of `i` at `2i+1`, `2i+2`),
/// i.e. the length of its proof: `floor(log2(tree_index + 1))`.
fn depth(tree_index: usize) -> usize {
    (tree_index + 1).ilog2() as usize
}

/// The claim of one real leaf out of an `n`-leaf tree, as the keeper hands it out.
struct Prepared {
    n: usize,
    root: Hash,
    leaf: ClaimLeaf,
    proof: Vec<Hash>,
    build: std::time::Duration,
}

/// Builds the `n`-leaf claim tree (`real` plus fillers; for `n` below `real.len() + 1` only the
/// first `n - 1` real leaves) and picks the real leaf with the longest proof.
fn prepare(n: usize, real: &[ClaimLeaf]) -> Prepared {
    let real = &real[..real.len().min(n - 1)];
    let mut values = real.to_vec();
    values.extend((0..(n - real.len()) as u32).map(|i| ClaimLeaf {
        month_index: JANUARY_2026,
        wallet: flex_merkle::Address(filler(i)),
        amount: 1,
    }));
    assert_eq!(values.len(), n);
    let started = Instant::now();
    let tree = StandardMerkleTree::of(values).unwrap();
    let build = started.elapsed();
    // Real leaves come first in the values; take the deepest (first one on ties).
    let v = (0..real.len())
        .max_by_key(|&v| (depth(tree.tree_index(v).unwrap()), std::cmp::Reverse(v)))
        .expect("a real leaf");
    let proof = tree.get_proof(v).unwrap();
    assert_eq!(
        proof.len(),
        depth(tree.tree_index(v).unwrap()),
        "proof length is the leaf's depth in OZ's layout"
    );
    // OZ's layout puts the n leaves at tree indices n-1 ..= 2n-2, so every proof has
    // floor(log2 n) or ceil(log2 n) hashes (the deeper level when n is not a power of two).
    let (lo, hi) = (n.ilog2() as usize, n.next_power_of_two().ilog2() as usize);
    assert!(
        (lo..=hi).contains(&proof.len()),
        "{n} leaves: proof of {} hashes, expected {lo}..={hi}",
        proof.len()
    );
    let leaf = tree.values()[v];
    assert!(flex_merkle::verify(&tree.root(), &leaf, &proof));
    assert_eq!(tree.leaf_hash_at(v).unwrap(), leaf.leaf_hash());
    Prepared {
        n,
        root: tree.root(),
        leaf,
        proof,
        build,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn claim_weight_and_deposit_for_2_1k_and_1m_leaves() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let (alice, eve) = (dev("alice"), dev("eve"));
    let eve_acc = account(&eve);
    // The tokens once (the fixture sets the clock to the day before genesis first); Eve, the
    // relayer, gets payment tokens for the claim costs, and the treasury already holds some (as
    // after earlier claims), so no claim creates its balance cell.
    let tokens = deploy_tokens(&chain, &DeployOptions::default())
        .await
        .expect("deploy the tokens");
    let (flexe, pay, treasury) = (&tokens.flexe, &tokens.pay, &tokens.treasury);
    // A plain token transfer into a new balance cell, as a baseline for the claim's figures.
    let transfer = pay
        .call(&alice, "PSP22::transfer", (&eve_acc, DEPOSIT, Vec::<u8>::new()))
        .await;
    pay.call(&alice, "PSP22::transfer", (treasury, 1u128, Vec::<u8>::new()))
        .await;

    // Three pools of the same code, one keeper each (threshold 1), each funded with DEPOSIT.
    let keepers = vec![account(&alice)];
    let mut pools = Vec::new();
    for n in SIZES {
        let pool = tokens
            .deploy_pool(&keepers, format!("pool-{n}").as_bytes(), DEPOSIT)
            .await
            .expect("deploy pool");
        assert_eq!(pool.query::<u32>("threshold", ()).await, 1, "one keeper");
        assert_eq!(flexe.balance_of(&pool.address).await.unwrap(), DEPOSIT);
        pools.push(pool);
    }
    let addresses: Vec<_> = pools.iter().map(|p| p.address.clone()).collect();
    assert!(
        addresses[0] != addresses[1] && addresses[1] != addresses[2] && addresses[0] != addresses[2],
        "the salts give three pools"
    );

    // The engine's month, committed to every pool; the single vote finalises.
    let wallets = evm_wallets().unwrap();
    let reports = sample_replay(&wallets).unwrap();
    assert_eq!(reports.len(), 3);
    let mut distributed = 0u128;
    for report in &reports {
        let commitment = commitment_of(report).unwrap();
        travel(&chain, GENESIS + (report.epoch as i64 + 1) * DAY + 60)
            .await
            .unwrap();
        for pool in &pools {
            let vote = pool.call(&alice, "submit_epoch", &commitment).await;
            assert!(finalized(&vote).unwrap(), "one vote of one keeper finalises");
            assert_eq!(pool.query::<u64>("next_epoch", ()).await, report.epoch + 1);
        }
        distributed += report.distributed;
    }
    assert!(distributed > 0);

    // The month's real claim leaves: each wallet's total over January's epochs.
    let totals = month_totals(&reports);
    let real: Vec<ClaimLeaf> = totals
        .iter()
        .filter(|(_, amount)| **amount > 0)
        .map(|(wallet, amount)| ClaimLeaf {
            month_index: JANUARY_2026,
            wallet: *wallet,
            amount: *amount,
        })
        .collect();
    assert!(real.len() >= 2);
    assert_eq!(real.iter().map(|l| l.amount).sum::<u128>(), distributed);
    assert!(
        real.iter().all(|l| l.wallet.0[..16] != [0xf1; 16]),
        "fillers are distinct"
    );

    // Each pool's month root over its own tree; only the root and one proof are kept.
    let mut prepared = Vec::new();
    for (pool, n) in pools.iter().zip(SIZES) {
        let p = prepare(n, &real);
        eprintln!("timing: built the {n}-leaf claim tree in {:.2?}", p.build);
        let root = MonthRoot {
            month_index: JANUARY_2026,
            claims_root: p.root,
            total: distributed,
            claim_price: CLAIM_PRICE,
        };
        assert!(finalized(&pool.call(&alice, "submit_month", &root).await).unwrap());
        prepared.push(p);
    }

    // In the claim window: in each pool, the deepest real leaf claims to a fresh beneficiary (its
    // FLEXE balance cell is new, as for a first claim); Eve relays and pays the cost, with an
    // allowance left over so that the claim does not free her allowance cell. Every claim then
    // meets the same storage, whatever the tree size.
    travel(&chain, FEB_1 + 3600).await.unwrap();
    let mut figures = Vec::new();
    for (i, (pool, p)) in pools.iter().zip(&prepared).enumerate() {
        let beneficiary = AccountId32([0xb0 + i as u8; 32]);
        let ClaimLeaf { wallet, amount, .. } = p.leaf;
        let key = wallets
            .iter()
            .find(|k| k.address() == wallet)
            .expect("a real leaf's key");
        let message = flex_evm::claim_message(
            &chain.api().genesis_hash().0,
            &pool.address.0,
            JANUARY_2026,
            &wallet,
            amount,
            &beneficiary.0,
        );
        let signature = key.sign_personal(message.as_bytes()).unwrap();
        let args = |proof: Vec<Hash>| {
            (
                JANUARY_2026,
                wallet.0,
                amount,
                proof,
                signature,
                beneficiary.clone(),
            )
        };
        let cost: Result<u128, ()> = pool.query("claim_cost", (JANUARY_2026, amount)).await;
        let cost = cost.unwrap();
        assert!(cost > 0);
        pay.call(&eve, "PSP22::approve", (&pool.address, 2 * cost)).await;

        // A proof one hash short does not reach the root.
        let short = p.proof[..p.proof.len() - 1].to_vec();
        pool.call_fails(&eve, "claim", args(short), "InvalidProof").await;

        assert_eq!(flexe.balance_of(&beneficiary).await.unwrap(), 0);
        let before = (
            flexe.balance_of(&beneficiary).await.unwrap(),
            flexe.balance_of(&pool.address).await.unwrap(),
            pay.balance_of(treasury).await.unwrap(),
        );
        let call_bytes = pool.data("claim", args(p.proof.clone())).unwrap().len();
        let claimed = pool.call(&eve, "claim", args(p.proof.clone())).await;
        assert_eq!(
            flexe.balance_of(&beneficiary).await.unwrap(),
            before.0 + amount,
            "{} leaves: beneficiary paid",
            p.n
        );
        assert_eq!(flexe.balance_of(&pool.address).await.unwrap(), before.1 - amount);
        assert_eq!(pay.balance_of(treasury).await.unwrap(), before.2 + cost);
        assert!(pool.query::<bool>("is_claimed", (JANUARY_2026, wallet.0)).await);
        figures.push((p.n, p.proof.len(), call_bytes, claimed));
    }

    // The tree's size shows only in the proof: more hashes, more ref_time; same storage.
    for w in figures.windows(2) {
        assert!(w[0].3.gas_required.ref_time < w[1].3.gas_required.ref_time);
        assert_eq!(w[0].3.storage_deposit, w[1].3.storage_deposit);
    }
    for (n, proof_len, call_bytes, dry) in figures {
        eprintln!(
            "figure: claim, tree of {n} leaves: proof {proof_len} hashes, call data {call_bytes} \
             bytes; gas_required ref_time {} proof_size {}; gas_consumed ref_time {} proof_size {}; \
             storage deposit {:?}",
            dry.gas_required.ref_time,
            dry.gas_required.proof_size,
            dry.gas_consumed.ref_time,
            dry.gas_consumed.proof_size,
            dry.storage_deposit,
        );
    }
    eprintln!(
        "figure: baseline PSP22::transfer to a new holder: gas_required ref_time {} proof_size {}; \
         gas_consumed ref_time {} proof_size {}; storage deposit {:?}",
        transfer.gas_required.ref_time,
        transfer.gas_required.proof_size,
        transfer.gas_consumed.ref_time,
        transfer.gas_consumed.proof_size,
        transfer.storage_deposit,
    );
    for b in [&tokens.bundles.token, &tokens.bundles.pool] {
        eprintln!("figure: code size {}: {} bytes of Wasm", b.name, b.wasm.len());
    }
}
