//! `flex-demo`: one month of Flex epoch rewards on a running local devnet, narrated.
//!
//! Deploys FLEXE, a payment token and the reward pool (four keepers), funds the pool, then starts
//! three real keeper processes (`flex-keeper run`, Alice, Bob and Charlie) over the shipped sample
//! pool (`scripts/demo/pool.json`, `weights.toml`, configs from `keeper.toml.in`). It moves chain
//! time epoch by epoch through January 2026 and narrates what the keepers did (their votes, the
//! finalisations, the month's claim root), read from the chain and the keepers' API. In February an
//! EVM wallet claims with `flex-keeper claim` against a keeper's API (a relayer pays the claim cost),
//! a second claim fails, the keepers are stopped, and after the claim window the rest is swept to
//! the treasury. Every step is printed in plain language.
//!
//! `--in-process` runs the earlier narration instead: the engine computes in this process and the
//! demo casts each keeper's vote itself (showing an early vote and a vote after quorum refused).
//!
//! The chain must be fresh (from genesis): `scripts/demo.sh` starts one and runs this.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use flex_chain::{Chain, Keypair};
use flex_e2e::{
    account, dev, repo_root,
    scenario::{
        claim_tree, commitment_of, deploy_pool, deploy_token, evm_wallets, finalized, load_bundle, replay,
        sample_activity, travel, Activity, Contract, EpochCommitment, EpochInfo, EpochPreview, MonthInfo,
        MonthRoot, Proposal, SignedClaim, CLAIM_PRICE, DAY, DEPOSIT, FEB_1, GENESIS, JANUARY_2026, MAR_1,
        TOKEN_DECIMALS, TREASURY,
    },
    AccountId32,
};
use flex_engine::calendar::{date, month_name, utc};
use flex_engine::{score::MULTIPLIERS, EpochReport, WeightTotal};
use keepers::{check_shipped_sample, KeeperPaths};

mod keepers;

/// Runs a narrated month of Flex epoch rewards against a running local devnet.
#[derive(Parser)]
#[command(name = "flex-demo", version)]
struct Args {
    /// WebSocket URL of the devnet (started fresh with `scripts/devnet start`).
    #[arg(long, default_value = "ws://127.0.0.1:9944")]
    url: String,
    /// Where `scripts/build-contracts.sh` put the bundles (`<dir>/<name>/<name>.contract`); when the
    /// default is not there, `$CARGO_TARGET_DIR/ink` and the repository's `target/ink` are tried.
    #[arg(long, env = "FLEX_INK_DIR", default_value = "target/ink")]
    contracts_dir: PathBuf,
    /// The `flex-keeper` binary the keepers run (default: next to this binary, i.e. the release
    /// build `scripts/demo.sh` makes).
    #[arg(long, value_name = "FILE")]
    keeper_bin: Option<PathBuf>,
    /// The shipped sample: `pool.json`, `weights.toml` and the keeper config template `keeper.toml.in`.
    #[arg(long, value_name = "DIR")]
    demo_dir: Option<PathBuf>,
    /// Where the keepers' configs, keys, databases and logs go (emptied first; default
    /// `<repo>/target/demo-keepers`).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Vote from inside the demo instead of running keeper processes (the earlier narration).
    #[arg(long)]
    in_process: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    run(&args).await
}

/// The dev accounts and their roles.
struct Cast {
    alice: Keypair,
    bob: Keypair,
    charlie: Keypair,
    dave: Keypair,
    eve: Keypair,
    ferdie: Keypair,
    treasury: AccountId32,
}

impl Cast {
    fn new() -> Self {
        Self {
            alice: dev("alice"),
            bob: dev("bob"),
            charlie: dev("charlie"),
            dave: dev("dave"),
            eve: dev("eve"),
            ferdie: dev("ferdie"),
            treasury: AccountId32(TREASURY),
        }
    }

    fn keepers(&self) -> [(&'static str, &Keypair); 4] {
        [
            ("Alice", &self.alice),
            ("Bob", &self.bob),
            ("Charlie", &self.charlie),
            ("Dave", &self.dave),
        ]
    }
}

struct Deployed {
    flexe: Contract,
    pay: Contract,
    pool: Contract,
}

async fn run(args: &Args) -> Result<()> {
    let cast = Cast::new();
    let contracts_dir = resolve_contracts_dir(&args.contracts_dir);
    let token_bundle = load_bundle(&contracts_dir, "flex_token")
        .context("cannot load the token bundle (build the contracts first: scripts/build-contracts.sh)")?;
    let pool_bundle = load_bundle(&contracts_dir, "flex_reward_pool").context(
        "cannot load the reward pool bundle (build the contracts first: scripts/build-contracts.sh)",
    )?;

    title("Flex epoch rewards: one month on a local devnet");
    let chain = Chain::connect(&args.url).await.with_context(|| {
        format!(
            "cannot reach the devnet at {} (start it: scripts/devnet start)",
            args.url
        )
    })?;
    say(&format!("Connected to the devnet at {}.", args.url));
    say("Cast: Alice, Bob, Charlie and Dave are the keepers (Alice also deploys and funds);");
    say("      Eve relays a claim and pays its cost; Ferdie receives the claimed tokens;");
    say(&format!("      the treasury is account {}.", cast.treasury));
    // chopsticks starts at wall-clock time; everything below happens at fixed dates.
    travel(&chain, GENESIS - DAY).await?;
    say(&format!(
        "Chain clock set to {}, the day before the pool's genesis ({}).",
        utc(GENESIS - DAY),
        utc(GENESIS)
    ));

    section("1. Deploy the contracts");
    say(&format!(
        "flex_token code: {} bytes of Wasm (code hash 0x{})",
        token_bundle.wasm.len(),
        hex::encode(token_bundle.code_hash)
    ));
    say(&format!(
        "flex_reward_pool code: {} bytes of Wasm (code hash 0x{})",
        pool_bundle.wasm.len(),
        hex::encode(pool_bundle.code_hash)
    ));
    let flexe = deploy_token(&chain, &cast.alice, &token_bundle, "FLEXE", b"flexe")
        .await
        .context("is the devnet fresh? scripts/demo.sh restarts it from genesis")?;
    let pay = deploy_token(&chain, &cast.alice, &token_bundle, "PAY", b"pay").await?;
    let supply: u128 = flexe.try_query("PSP22::total_supply", ()).await?;
    say(&format!(
        "FLEXE (the reward token) at {}; {} minted to Alice.",
        flexe.address,
        tokens(supply, "FLEXE")
    ));
    say(&format!(
        "PAY (the payment token for claim costs) at {}; {} minted to Alice.",
        pay.address,
        tokens(supply, "PAY")
    ));
    let keepers: Vec<AccountId32> = cast.keepers().iter().map(|(_, k)| account(k)).collect();
    let pool = deploy_pool(
        &chain,
        &cast.alice,
        &pool_bundle,
        &flexe.address,
        &pay.address,
        &cast.treasury,
        &keepers,
    )
    .await?;
    let threshold: u32 = pool.try_query("threshold", ()).await?;
    say(&format!("Reward pool at {}.", pool.address));
    say(&format!(
        "  genesis {}, keepers Alice, Bob, Charlie, Dave; quorum {threshold} of {} votes (floor(2n/3)+1).",
        utc(GENESIS),
        keepers.len()
    ));
    let d = Deployed { flexe, pay, pool };

    section("2. Fund the pool");
    d.flexe
        .try_call(&cast.alice, "PSP22::approve", (&d.pool.address, DEPOSIT))
        .await?;
    d.pool.try_call(&cast.alice, "deposit", DEPOSIT).await?;
    say(&format!(
        "Alice approves the pool and deposits {}.",
        tokens(DEPOSIT, "FLEXE")
    ));
    say(&format!(
        "The pool holds {}; unallocated (not yet promised to any epoch): {}.",
        tokens(d.flexe.balance_of(&d.pool.address).await?, "FLEXE"),
        tokens(d.pool.try_query("unallocated", ()).await?, "FLEXE")
    ));

    section("3. The month's activity (sample data)");
    let keys = evm_wallets()?;
    let activity = sample_activity(&keys)?;
    let demo_dir = args
        .demo_dir
        .clone()
        .unwrap_or_else(|| repo_root().join("scripts").join("demo"));
    if !args.in_process {
        check_shipped_sample(&demo_dir, &activity)?;
        say(&format!(
            "The keepers read it from the shipped sample pool {} and weights {}.",
            demo_dir.join("pool.json").display(),
            demo_dir.join("weights.toml").display()
        ));
    }
    say("Five EVM wallets connect to the app:");
    for (i, w) in activity.wallets.iter().enumerate() {
        say(&format!(
            "  W{} {} connected {}",
            i + 1,
            w.address,
            utc(w.connected_at)
        ));
    }
    let weights: Vec<String> = flex_e2e::scenario::SAMPLE_KINDS
        .iter()
        .map(|(kind, weight)| format!("{kind} {weight}"))
        .collect();
    say(&format!("Action weights: {}.", weights.join(", ")));
    let reports = replay(&activity)?;
    say(&format!(
        "The keeper engine replays the activity: {} epochs (one per UTC day) in January 2026.",
        reports.len()
    ));

    let month = if args.in_process {
        in_process_month(&chain, &cast, &d, &activity, &keys, &reports, threshold).await?
    } else {
        let paths = KeeperPaths::resolve(args, &contracts_dir, demo_dir)?;
        keepers::month(&args.url, &chain, &cast, &d, &activity, &keys, &reports, &paths).await?
    };
    sweep_and_finish(&chain, &cast, &d, &keys, &month).await
}

/// What the month left for the sweep: the claim tree, what January distributed, what W1 claimed.
struct MonthOutcome {
    tree: flex_merkle::StandardMerkleTree<flex_merkle::ClaimLeaf>,
    distributed: u128,
    claimed: u128,
}

/// Sections 4 to 7 with the votes cast from this process: each epoch computed by the engine here,
/// each keeper's vote shown (an early vote and a vote after quorum refused), the month root, W1's
/// claim signed and submitted here, a second claim refused.
async fn in_process_month(
    chain: &Chain,
    cast: &Cast,
    d: &Deployed,
    activity: &Activity,
    keys: &[flex_evm::EvmKey],
    reports: &[EpochReport],
    threshold: u32,
) -> Result<MonthOutcome> {
    section("4. Epochs: the engine computes, the keepers commit");
    let mut distributed = 0u128;
    for report in reports {
        distributed += narrate_epoch(chain, cast, d, activity, report).await?;
    }
    say(&format!(
        "January's three epochs distributed {} in total; {} stay unallocated.",
        tokens(distributed, "FLEXE"),
        tokens(d.pool.try_query("unallocated", ()).await?, "FLEXE")
    ));

    section("5. The month's claim root");
    let tree = claim_tree(reports, JANUARY_2026)?;
    say("Each wallet's January total becomes a leaf (month, wallet, amount) of the claim tree:");
    for leaf in tree.values() {
        say(&format!(
            "  {} {}  {}",
            label(activity, &leaf.wallet),
            flex_evm::address_hex(&leaf.wallet),
            tokens(leaf.amount, "FLEXE")
        ));
    }
    let root = MonthRoot {
        month_index: JANUARY_2026,
        claims_root: tree.root(),
        total: distributed,
        claim_price: CLAIM_PRICE,
    };
    say(&format!("Claims root 0x{}", hex::encode(root.claims_root)));
    say(&format!(
        "Total {}; claim price {} PAY per FLEXE (the claim cost is 10% of amount x price).",
        tokens(root.total, "FLEXE"),
        decimal(CLAIM_PRICE, 18)
    ));
    for (name, keeper) in cast.keepers().into_iter().take(3) {
        let dry = d.pool.try_call(keeper, "submit_month", &root).await?;
        let votes: Vec<([u8; 32], Proposal<MonthRoot>)> =
            d.pool.try_query("month_votes", JANUARY_2026).await?;
        let count = voters_for(&votes, &root.hash());
        if finalized(&dry)? {
            say(&format!(
                "  {name} votes: {count} of {threshold}; quorum reached, {name}'s vote finalises the month."
            ));
        } else {
            say(&format!("  {name} votes: {count} of {threshold}, pending."));
        }
    }
    let month: Option<MonthInfo> = d.pool.try_query("month", JANUARY_2026).await?;
    let month = month.context("the month is not finalised after the third vote")?;
    ensure!(
        month.root == root,
        "the finalised month root differs from the submitted one"
    );
    let (open, close): (u64, u64) = d
        .pool
        .try_query::<Option<(u64, u64)>>("claim_window", JANUARY_2026)
        .await?
        .context("no claim window for January")?;
    say(&format!(
        "Claim window: from {} until {}.",
        utc_s(open)?,
        utc_s(close)?
    ));

    section("6. A wallet claims (February)");
    travel(chain, FEB_1 + 3600).await?;
    say(&format!("Chain clock moved to {}.", utc(FEB_1 + 3600)));
    let ferdie = account(&cast.ferdie);
    let eve = account(&cast.eve);
    let claim = SignedClaim::sign(&d.pool.address, &tree, &keys[0], &ferdie)?;
    say(&format!(
        "W1 ({}) claims {} for Ferdie ({ferdie}).",
        flex_evm::address_hex(&claim.wallet),
        tokens(claim.amount, "FLEXE")
    ));
    let on_chain: Vec<u8> = d
        .pool
        .try_query(
            "claim_message",
            (JANUARY_2026, claim.wallet, claim.amount, &ferdie),
        )
        .await?;
    ensure!(
        on_chain == claim.message.as_bytes(),
        "the contract builds another claim message"
    );
    say("W1 signs this message with personal_sign (EIP-191); the contract builds the same bytes:");
    for line in claim.message.lines() {
        say(&format!("    | {line}"));
    }
    say(&format!(
        "  merkle proof: {} hashes; signature 0x{}",
        claim.proof.len(),
        hex::encode(claim.signature)
    ));
    let cost: Result<u128, ()> = d
        .pool
        .try_query("claim_cost", (JANUARY_2026, claim.amount))
        .await?;
    let cost = cost.map_err(|()| anyhow::anyhow!("claim_cost failed"))?;
    say(&format!(
        "Claim cost: {} (10% of amount x price, rounded up), paid by whoever submits the claim.",
        tokens(cost, "PAY")
    ));
    d.pay
        .try_call(
            &cast.alice,
            "PSP22::transfer",
            (&eve, 10 * cost, Vec::<u8>::new()),
        )
        .await?;
    say(&format!(
        "Alice gives Eve, the relayer, {}.",
        tokens(10 * cost, "PAY")
    ));
    let error = d.pool.call_error(&cast.eve, "claim", claim.args(&ferdie)).await?;
    say(&format!(
        "Eve submits the claim before approving the pool to take the cost: refused with {error}."
    ));
    d.pay
        .try_call(&cast.eve, "PSP22::approve", (&d.pool.address, cost))
        .await?;
    say(&format!("Eve approves the pool to take {}.", tokens(cost, "PAY")));
    let error = d.pool.call_error(&cast.eve, "claim", claim.args(&eve)).await?;
    say(&format!(
        "Eve tries to redirect the tokens to herself: refused with {error} (the signature names Ferdie)."
    ));
    let before = Balances::read(d, cast).await?;
    d.pool.try_call(&cast.eve, "claim", claim.args(&ferdie)).await?;
    let after = Balances::read(d, cast).await?;
    say("Eve submits the claim as signed: accepted.");
    say(&format!(
        "  Ferdie's FLEXE: {} -> {} (+{})",
        tokens(before.ferdie_flexe, "FLEXE"),
        tokens(after.ferdie_flexe, "FLEXE"),
        tokens(after.ferdie_flexe.saturating_sub(before.ferdie_flexe), "FLEXE")
    ));
    say(&format!(
        "  Eve's PAY: {} -> {} (she paid the cost)",
        tokens(before.eve_pay, "PAY"),
        tokens(after.eve_pay, "PAY")
    ));
    say(&format!(
        "  Treasury's PAY: {} -> {}",
        tokens(before.treasury_pay, "PAY"),
        tokens(after.treasury_pay, "PAY")
    ));
    say(&format!(
        "  Pool's FLEXE: {} -> {}",
        tokens(before.pool_flexe, "FLEXE"),
        tokens(after.pool_flexe, "FLEXE")
    ));
    ensure!(
        after.ferdie_flexe == before.ferdie_flexe + claim.amount
            && after.eve_pay + cost == before.eve_pay
            && after.treasury_pay == before.treasury_pay + cost,
        "the claim moved other amounts than expected"
    );
    let claimed: bool = d
        .pool
        .try_query("is_claimed", (JANUARY_2026, claim.wallet))
        .await?;
    ensure!(claimed, "the pool does not record W1's claim");

    section("7. A second claim of the same leaf");
    d.pay
        .try_call(&cast.eve, "PSP22::approve", (&d.pool.address, cost))
        .await?;
    let error = d.pool.call_error(&cast.eve, "claim", claim.args(&ferdie)).await?;
    say(&format!(
        "Eve submits W1's claim again: refused with {error}; nothing moves."
    ));
    ensure!(
        d.flexe.balance_of(&ferdie).await? == after.ferdie_flexe,
        "the second claim changed Ferdie's balance"
    );

    Ok(MonthOutcome {
        tree,
        distributed,
        claimed: claim.amount,
    })
}

/// Section 8 and the final balances: past the claim window a late claim is refused and Bob sweeps
/// January's unclaimed rest to the treasury.
async fn sweep_and_finish(
    chain: &Chain,
    cast: &Cast,
    d: &Deployed,
    keys: &[flex_evm::EvmKey],
    month: &MonthOutcome,
) -> Result<()> {
    let (tree, distributed) = (&month.tree, month.distributed);
    let eve = account(&cast.eve);
    section("8. Past the window: sweep the rest to the treasury");
    let error = d.pool.call_error(&cast.bob, "sweep", JANUARY_2026).await?;
    say(&format!(
        "Bob tries to sweep January during February: refused with {error}."
    ));
    travel(chain, MAR_1 + 60).await?;
    say(&format!("Chain clock moved to {}.", utc(MAR_1 + 60)));
    let late = SignedClaim::sign(&d.pool.address, tree, &keys[1], &eve)?;
    let error = d.pool.call_error(&cast.eve, "claim", late.args(&eve)).await?;
    say(&format!(
        "W2 tries to claim its {} now: refused with {error}.",
        tokens(late.amount, "FLEXE")
    ));
    let treasury_before = d.flexe.balance_of(&cast.treasury).await?;
    let dry = d.pool.try_call(&cast.bob, "sweep", JANUARY_2026).await?;
    let swept: Result<u128, ()> = dry.decode().context("cannot decode sweep's answer")?;
    let swept = swept.map_err(|()| anyhow::anyhow!("sweep answered an error"))?;
    let treasury_after = d.flexe.balance_of(&cast.treasury).await?;
    ensure!(
        treasury_after == treasury_before + swept && swept == distributed - month.claimed,
        "the sweep moved another amount than the unclaimed rest"
    );
    say(&format!(
        "Bob sweeps January: {} unclaimed (total {} minus W1's {}) goes to the treasury.",
        tokens(swept, "FLEXE"),
        tokens(distributed, "FLEXE"),
        tokens(month.claimed, "FLEXE")
    ));
    let error = d.pool.call_error(&cast.bob, "sweep", JANUARY_2026).await?;
    say(&format!("A second sweep: refused with {error}."));

    section("Final balances");
    let end = Balances::read(d, cast).await?;
    let unallocated: u128 = d.pool.try_query("unallocated", ()).await?;
    let rest = if end.pool_flexe == unallocated {
        "all unallocated, left for the coming epochs".to_string()
    } else {
        format!("of which {} unallocated", tokens(unallocated, "FLEXE"))
    };
    say(&format!("Pool:     {} ({rest})", tokens(end.pool_flexe, "FLEXE")));
    say(&format!(
        "Treasury: {} and {}",
        tokens(treasury_after, "FLEXE"),
        tokens(end.treasury_pay, "PAY")
    ));
    say(&format!("Ferdie:   {}", tokens(end.ferdie_flexe, "FLEXE")));
    say(&format!("Eve:      {}", tokens(end.eve_pay, "PAY")));
    say(&format!(
        "Alice:    {} and {}",
        tokens(d.flexe.balance_of(&account(&cast.alice)).await?, "FLEXE"),
        tokens(d.pay.balance_of(&account(&cast.alice)).await?, "PAY")
    ));
    println!();
    say("Done: a month of epochs committed by quorum, claimed with an EVM signature, and swept.");
    Ok(())
}

/// Narrates one epoch: the engine's figures, the keepers' votes, what the contract recorded.
/// Returns what the epoch distributed.
async fn narrate_epoch(
    chain: &Chain,
    cast: &Cast,
    d: &Deployed,
    activity: &Activity,
    report: &EpochReport,
) -> Result<u128> {
    let (start, end) = narrate_day(activity, report.epoch)?;
    let e = i64::try_from(report.epoch).context("epoch number")?;

    say(&format!(
        "  engine: {} active wallets, {} ranked; wallet index Wi = {} ({}% of P_t); halving H = {}",
        report.active,
        report.ranked,
        report.wallet_index,
        hundredths(report.wallet_index),
        report.halving
    ));
    say(&format!(
        "          P_t = {}, P_e = {}, multiplier sum {}",
        tokens(report.balance, "FLEXE"),
        tokens(report.pool, "FLEXE"),
        report.multiplier_sum
    ));
    narrate_wallets(activity, report, start..end);
    let commitment = commitment_of(report)?;
    let hash = commitment.hash();
    say(&format!(
        "  scores root 0x{}",
        hex::encode(commitment.scores_root)
    ));
    say(&format!("  commitment hash 0x{}", hex::encode(hash)));
    let on_chain_hash: [u8; 32] = d.pool.try_query("epoch_commitment_hash", &commitment).await?;
    ensure!(
        on_chain_hash == hash,
        "the contract hashes the commitment differently"
    );

    if e == 0 {
        travel(chain, GENESIS + DAY - 3600).await?;
        let error = d
            .pool
            .call_error(&cast.alice, "submit_epoch", &commitment)
            .await?;
        say(&format!(
            "  at {} Alice votes early: refused with {error}.",
            utc(GENESIS + DAY - 3600)
        ));
    }
    travel(chain, end + 60).await?;
    let preview: EpochPreview = d.pool.try_query("expected_epoch", report.active).await?;
    ensure!(
        preview.wallet_index == report.wallet_index && preview.pool == report.pool,
        "contract and engine disagree on Wi or P_e: contract {preview:?}"
    );
    say(&format!(
        "  at {} the epoch has ended; the contract expects Wi = {}, P_e = {}: it agrees.",
        utc(end + 60),
        preview.wallet_index,
        tokens(preview.pool, "FLEXE")
    ));
    let threshold: u32 = d.pool.try_query("threshold", ()).await?;
    let mut finaliser = None;
    for (name, keeper) in cast.keepers() {
        if let Some(by) = finaliser {
            let error = d.pool.call_error(keeper, "submit_epoch", &commitment).await?;
            say(&format!(
                "  {name} votes too: refused with {error} ({by}'s vote already finalised it)."
            ));
            break;
        }
        let dry = d.pool.try_call(keeper, "submit_epoch", &commitment).await?;
        let votes: Vec<([u8; 32], Proposal<EpochCommitment>)> =
            d.pool.try_query("epoch_votes", report.epoch).await?;
        let count = voters_for(&votes, &hash);
        if finalized(&dry)? {
            say(&format!(
                "  {name} votes: {count} of {threshold}; quorum reached, {name}'s vote finalises epoch {}.",
                report.epoch
            ));
            finaliser = Some(name);
        } else {
            say(&format!("  {name} votes: {count} of {threshold}, pending."));
        }
    }
    if finaliser.is_none() {
        bail!("epoch {} did not finalise with every keeper's vote", report.epoch);
    }
    let info: Option<EpochInfo> = d.pool.try_query("epoch", report.epoch).await?;
    let info = info.with_context(|| format!("epoch {} is not recorded as finalised", report.epoch))?;
    ensure!(
        info.commitment == commitment && info.distributed == report.distributed,
        "the contract recorded other figures for epoch {}",
        report.epoch
    );
    let unallocated: u128 = d.pool.try_query("unallocated", ()).await?;
    say(&format!(
        "  recorded: month {}, distributed {}; unallocated now {}.",
        month_name(info.month_index),
        tokens(info.distributed, "FLEXE"),
        tokens(unallocated, "FLEXE")
    ));
    Ok(report.distributed)
}

/// Prints the epoch's heading and what happened that day; returns the day's start and end.
fn narrate_day(activity: &Activity, epoch: u64) -> Result<(i64, i64)> {
    let e = i64::try_from(epoch).context("epoch number")?;
    let start = GENESIS + e * DAY;
    let end = start + DAY;
    println!();
    say(&format!("Epoch {} ({}, UTC day):", epoch, date(start)));
    // What happened that day, wallet by wallet (in the order of the wallet list).
    let mut day: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for a in activity
        .actions
        .iter()
        .filter(|a| (start..end).contains(&a.timestamp))
    {
        let kind = activity
            .kinds
            .iter()
            .find(|(id, _)| *id == a.kind)
            .map_or("?", |(_, name)| *name);
        day.entry(a.wallet as usize).or_default().push(kind);
    }
    let joined: Vec<String> = activity
        .wallets
        .iter()
        .enumerate()
        .filter(|(_, w)| (start..end).contains(&w.connected_at))
        .map(|(i, _)| format!("W{}", i + 1))
        .collect();
    if !joined.is_empty() {
        say(&format!("  connects: {}", joined.join(", ")));
    }
    let acts: Vec<String> = day
        .iter()
        .map(|(w, kinds)| format!("W{} {}", w + 1, kinds.join(" + ")))
        .collect();
    say(&format!("  activity: {}", acts.join("; ")));
    Ok((start, end))
}

/// One line per listed wallet (in the order W1, W2, ...): score, multiplier, weight, reward.
fn narrate_wallets(activity: &Activity, report: &EpochReport, day: std::ops::Range<i64>) {
    // With the default connection bonus an inactive wallet earns nothing (multiplier 0, also with
    // score F in its connection epoch); an active one gets its score's multiplier. Shown only when
    // that reproduces the engine's multiplier sum.
    let multiplier = |i: usize| {
        if report.weights[i] == 0 {
            0
        } else {
            MULTIPLIERS
                .get(usize::from(report.scores[i]))
                .copied()
                .map_or(0, u64::from)
        }
    };
    let show_multipliers = (0..report.wallets.len()).map(multiplier).sum::<u64>() == report.multiplier_sum;
    let mut rows: Vec<(String, usize)> = report
        .wallets
        .iter()
        .enumerate()
        .map(|(i, w)| (label(activity, &w.0), i))
        .collect();
    rows.sort();
    say("    wallet  score  multiplier  weight  reward");
    for (name, i) in rows {
        let connected_today = activity
            .wallets
            .iter()
            .any(|w| w.address == report.wallets[i] && day.contains(&w.connected_at));
        let note = match (connected_today, report.weights[i] == 0) {
            (true, true) => "  (connected today, inactive)",
            (true, false) => "  (connected today: score F, not ranked)",
            (false, true) => "  (inactive)",
            (false, false) => "",
        };
        let mult = if show_multipliers {
            format!("x{}", multiplier(i))
        } else {
            "-".to_string()
        };
        say(&format!(
            "    {name:<6}  {:>5X}  {mult:>10}  {:>6}  {}{note}",
            report.scores[i],
            WeightTotal::from_bits(report.weights[i]).to_string(),
            tokens(report.rewards[i], "FLEXE")
        ));
    }
}

/// Balances the claim and the sweep move.
struct Balances {
    ferdie_flexe: u128,
    pool_flexe: u128,
    eve_pay: u128,
    treasury_pay: u128,
}

impl Balances {
    async fn read(d: &Deployed, cast: &Cast) -> Result<Self> {
        Ok(Self {
            ferdie_flexe: d.flexe.balance_of(&account(&cast.ferdie)).await?,
            pool_flexe: d.flexe.balance_of(&d.pool.address).await?,
            eve_pay: d.pay.balance_of(&account(&cast.eve)).await?,
            treasury_pay: d.pay.balance_of(&cast.treasury).await?,
        })
    }
}

fn voters_for<C>(votes: &[([u8; 32], Proposal<C>)], hash: &[u8; 32]) -> usize {
    votes
        .iter()
        .find(|(h, _)| h == hash)
        .map_or(0, |(_, p)| p.voters.len())
}

/// `W<n>`: the wallet's position in the sample's wallet list.
fn label(activity: &Activity, wallet: &[u8; 20]) -> String {
    activity
        .wallets
        .iter()
        .position(|w| &w.address.0 == wallet)
        .map_or_else(|| "W?".to_string(), |i| format!("W{}", i + 1))
}

fn resolve_contracts_dir(dir: &Path) -> PathBuf {
    if dir.exists() || dir != Path::new("target/ink") {
        return dir.to_path_buf();
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("ink"));
    target_dir
        .into_iter()
        .chain([repo_root().join(dir)])
        .find(|d| d.exists())
        .unwrap_or_else(|| dir.to_path_buf())
}

fn title(text: &str) {
    println!("{text}");
    println!("{}", "=".repeat(text.chars().count()));
}

fn section(text: &str) {
    println!();
    println!("{text}");
    println!("{}", "-".repeat(text.chars().count()));
}

fn say(text: &str) {
    println!("{text}");
}

/// `amount` base units of a 12-decimal token, e.g. `1,000,000 FLEXE` or `99.99 FLEXE`.
fn tokens(amount: u128, symbol: &str) -> String {
    format!("{} {symbol}", decimal(amount, TOKEN_DECIMALS))
}

/// `value / 10^decimals` in decimal, thousands grouped, without trailing zeros.
fn decimal(value: u128, decimals: u8) -> String {
    let scale = 10u128.pow(u32::from(decimals));
    let whole = (value / scale).to_string();
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    let frac = value % scale;
    if frac > 0 {
        let digits = format!("{frac:0width$}", width = usize::from(decimals));
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// Hundredths of a percent as a percentage: 1 -> `0.01`.
fn hundredths(v: u8) -> String {
    format!("{}.{:02}", v / 100, v % 100)
}

fn utc_s(unix_s: u64) -> Result<String> {
    Ok(utc(i64::try_from(unix_s).context("timestamp out of range")?))
}
