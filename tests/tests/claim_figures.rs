//! What a claim costs on chain as the month's claim tree grows: the weight (ref_time, proof_size)
//! and storage deposit of `claim` against claim trees of 2, 1,000 and 1,000,000 leaves, from the dry
//! run on the devnet, printed as `figure:` lines with the contracts' Wasm code sizes; and
//! (ignored by default) `claim_batch` of 1, 10 and 100 claims against `claim`, per claim and as
//! claims per block by ref_time and proof_size.
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

/// Batch sizes measured against the single `claim`.
const BATCHES: [usize; 3] = [1, 10, 100];
/// The claim tree of the batch figures: as many leaves as a month of 1,000 claimers, so proofs
/// have 9 or 10 hashes.
const BATCH_TREE: usize = 1_000;

/// Claimer `i`'s EVM key (secret `0x7a` x 30 then `i + 1` big-endian; never zero).
fn claimer(i: u16) -> flex_evm::EvmKey {
    let mut secret = [0x7a; 32];
    secret[30..].copy_from_slice(&(i + 1).to_be_bytes());
    flex_evm::EvmKey::from_hex(&flex_types::hex::encode_digits(secret), "claimer").unwrap()
}

/// The chain's block limits for normal transactions (`System::BlockWeights`): the class's
/// `max_total` and each extrinsic's `base_extrinsic`.
fn block_limits(chain: &flex_chain::Chain) -> (flex_chain::Weight, flex_chain::Weight) {
    use codec::Decode;
    use flex_chain::Weight;
    let metadata = chain.api().metadata();
    let bytes = metadata
        .pallet_by_name("System")
        .and_then(|p| p.constant_by_name("BlockWeights"))
        .expect("System::BlockWeights")
        .value()
        .to_vec();
    let mut input = &bytes[..];
    // BlockWeights { base_block, max_block, per_class: { normal: WeightsPerClass { base_extrinsic,
    // max_extrinsic, max_total, reserved }, operational, mandatory } }
    let _base_block = Weight::decode(&mut input).unwrap();
    let max_block = Weight::decode(&mut input).unwrap();
    let base_extrinsic = Weight::decode(&mut input).unwrap();
    let _max_extrinsic = Option::<Weight>::decode(&mut input).unwrap();
    let max_total = Option::<Weight>::decode(&mut input).unwrap().unwrap_or(max_block);
    (max_total, base_extrinsic)
}

/// What `claim_batch` costs per claim against `claim`: batches of 1, 10 and 100 claims of a
/// 1,000-leaf month (fresh beneficiaries, the claim cost paid by the relayer, Eve), from the dry
/// run before each is submitted, and how many claims fit a block's normal-class weight, printed as
/// `figure:` lines (docs/BENCHMARKS.md). Each batch is checked to pay every item. A figures run,
/// ignored by default: `cargo test -p flex-e2e --test claim_figures -- --ignored --nocapture
/// claim_batch`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "figures: run with --ignored --nocapture"]
async fn claim_batch_weight_per_claim_for_1_10_and_100() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let (alice, eve) = (dev("alice"), dev("eve"));
    let eve_acc = account(&eve);
    let tokens = deploy_tokens(&chain, &DeployOptions::default())
        .await
        .expect("deploy the tokens");
    let (flexe, pay, treasury) = (&tokens.flexe, &tokens.pay, &tokens.treasury);
    pay.call(&alice, "PSP22::transfer", (&eve_acc, DEPOSIT, Vec::<u8>::new()))
        .await;
    pay.call(&alice, "PSP22::transfer", (treasury, 1u128, Vec::<u8>::new()))
        .await;
    let pool = tokens
        .deploy_pool(&[account(&alice)], b"pool-batch", DEPOSIT)
        .await
        .expect("deploy pool");
    let reports = sample_replay(&evm_wallets().unwrap()).unwrap();
    let mut distributed = 0u128;
    for report in &reports {
        let commitment = commitment_of(report).unwrap();
        travel(&chain, GENESIS + (report.epoch as i64 + 1) * DAY + 60)
            .await
            .unwrap();
        assert!(finalized(&pool.call(&alice, "submit_epoch", &commitment).await).unwrap());
        distributed += report.distributed;
    }

    // 1 single claim + 1 + 10 + 100 batch items, each wallet's leaf in a 1,000-leaf tree.
    let claimers: usize = 1 + BATCHES.iter().sum::<usize>();
    let amount = distributed / BATCH_TREE as u128;
    assert!(amount > 0);
    let keys: Vec<_> = (0..claimers as u16).map(claimer).collect();
    let mut values: Vec<ClaimLeaf> = keys
        .iter()
        .map(|k| ClaimLeaf {
            month_index: JANUARY_2026,
            wallet: k.address(),
            amount,
        })
        .collect();
    values.extend((0..(BATCH_TREE - claimers) as u32).map(|i| ClaimLeaf {
        month_index: JANUARY_2026,
        wallet: flex_merkle::Address(filler(i)),
        amount: 1,
    }));
    let tree = StandardMerkleTree::of(values).unwrap();
    let root = MonthRoot {
        month_index: JANUARY_2026,
        claims_root: tree.root(),
        total: distributed,
        claim_price: CLAIM_PRICE,
    };
    assert!(finalized(&pool.call(&alice, "submit_month", &root).await).unwrap());
    travel(&chain, FEB_1 + 3600).await.unwrap();
    let cost: Result<u128, ()> = pool.query("claim_cost", (JANUARY_2026, amount)).await;
    let cost = cost.unwrap();
    assert!(cost > 0);
    pay.call(
        &eve,
        "PSP22::approve",
        (&pool.address, 2 * cost * claimers as u128),
    )
    .await;

    let genesis_hash = chain.api().genesis_hash().0;
    let request = |i: usize| {
        let key = &keys[i];
        // A fresh beneficiary per claim (its FLEXE balance cell is new, as for a first claim).
        let mut b = [0xc0; 32];
        b[30..].copy_from_slice(&(i as u16).to_be_bytes());
        let beneficiary = AccountId32(b);
        let message = flex_evm::claim_message(
            &genesis_hash,
            &pool.address.0,
            JANUARY_2026,
            &key.address(),
            amount,
            &beneficiary.0,
        );
        flex_pool::ClaimRequest {
            month_index: JANUARY_2026,
            wallet: key.address().0,
            amount,
            proof: tree.get_proof(i).unwrap(),
            signature: key.sign_personal(message.as_bytes()).unwrap(),
            beneficiary,
        }
    };
    let client = flex_pool::PoolClient {
        chain: chain.clone(),
        bundle: tokens.bundles.pool.clone(),
        address: pool.address.clone(),
        signer: eve.clone(),
    };

    // The single message, as the baseline.
    let single = request(0);
    let single_bytes = pool
        .data(
            "claim",
            (
                single.month_index,
                single.wallet,
                single.amount,
                single.proof.clone(),
                single.signature,
                single.beneficiary.clone(),
            ),
        )
        .unwrap()
        .len();
    let single_dry = pool
        .call(
            &eve,
            "claim",
            (
                single.month_index,
                single.wallet,
                single.amount,
                single.proof.clone(),
                single.signature,
                single.beneficiary.clone(),
            ),
        )
        .await;
    assert_eq!(flexe.balance_of(&single.beneficiary).await.unwrap(), amount);

    let mut next = 1;
    let mut figures = Vec::new();
    for n in BATCHES {
        let items: Vec<_> = (next..next + n).map(request).collect();
        next += n;
        let data = client.claim_batch_data(&items).unwrap();
        let dry = chain
            .dry_run_call(&eve_acc, &pool.address, 0, &data)
            .await
            .unwrap();
        assert!(!dry.reverted, "batch of {n}: {}", pool.error_name(&dry.output));
        assert_eq!(
            client.claim_batch_results(&dry.output, n).unwrap(),
            vec![Ok(()); n],
            "batch of {n}: every item passes the dry run"
        );
        let treasury_before = pay.balance_of(treasury).await.unwrap();
        let outcome = client.claim_batch(&items).await.unwrap();
        assert_eq!(outcome.items, vec![Ok(()); n], "batch of {n}: every item paid");
        assert!(outcome.fee > 0);
        for item in [&items[0], &items[n - 1]] {
            assert_eq!(flexe.balance_of(&item.beneficiary).await.unwrap(), amount);
        }
        assert_eq!(
            pay.balance_of(treasury).await.unwrap(),
            treasury_before + cost * n as u128,
            "batch of {n}: one payment of every item's cost"
        );
        figures.push((n, data.len(), dry, outcome.fee));
    }

    let (max_total, base_extrinsic) = block_limits(&chain);
    let per_block = |n: usize, w: &flex_chain::Weight| -> (u64, u64) {
        let fits = |limit: u64, base: u64, used: u64| {
            if limit == u64::MAX {
                u64::MAX
            } else {
                limit / (used + base) * n as u64
            }
        };
        (
            fits(max_total.ref_time, base_extrinsic.ref_time, w.ref_time),
            fits(max_total.proof_size, base_extrinsic.proof_size, w.proof_size),
        )
    };
    eprintln!(
        "figure: block limits (normal class): ref_time {} proof_size {}; base extrinsic ref_time {} proof_size {}",
        max_total.ref_time, max_total.proof_size, base_extrinsic.ref_time, base_extrinsic.proof_size
    );
    let (rt, ps) = per_block(1, &single_dry.gas_required);
    eprintln!(
        "figure: claim (single): call data {single_bytes} bytes; gas_required ref_time {} proof_size {}; \
         gas_consumed ref_time {} proof_size {}; storage deposit {:?}; claims per block by ref_time {rt}, by proof_size {ps}",
        single_dry.gas_required.ref_time,
        single_dry.gas_required.proof_size,
        single_dry.gas_consumed.ref_time,
        single_dry.gas_consumed.proof_size,
        single_dry.storage_deposit,
    );
    for (n, bytes, dry, fee) in &figures {
        let (rt, ps) = per_block(*n, &dry.gas_required);
        eprintln!(
            "figure: claim_batch of {n}: call data {bytes} bytes; gas_required ref_time {} proof_size {} \
             (per claim ref_time {} proof_size {}); gas_consumed ref_time {} proof_size {}; storage deposit {:?}; \
             fee {fee} ({} per claim); claims per block by ref_time {rt}, by proof_size {ps}",
            dry.gas_required.ref_time,
            dry.gas_required.proof_size,
            dry.gas_required.ref_time / *n as u64,
            dry.gas_required.proof_size / *n as u64,
            dry.gas_consumed.ref_time,
            dry.gas_consumed.proof_size,
            dry.storage_deposit,
            fee / *n as u128,
        );
    }
    // Batching shares the message's fixed part (code, root cell, the payment): per claim, 10 and
    // 100 cost less than one claim alone.
    for (n, _, dry, _) in &figures[1..] {
        assert!(
            dry.gas_required.ref_time / (*n as u64) < single_dry.gas_required.ref_time,
            "batch of {n}"
        );
    }
}
