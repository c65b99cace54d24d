//! `flex-demo`: one month of Flex epoch rewards on a running local devnet, narrated.
//!
//! Deploys FLEXE, a payment token and the reward pool (four keepers), funds the pool, then starts
//! three real keeper processes (`flex-keeper run`, Alice, Bob and Charlie) over the shipped sample
//! pool (`scripts/demo/pool.json`, `weights.toml`, configs from `keeper.toml.in`). It moves chain
//! time epoch by epoch through January 2026 and narrates what the keepers did (their votes, the
//! finalisations, the month's claim root), read from the chain and the keepers' API, checking each
//! against its own engine replay of the sample. In February an EVM wallet claims with `flex-keeper
//! claim` against a keeper's API (a relayer pays the claim cost), a second claim fails, the keepers
//! are stopped, and after the claim window the rest is swept to the treasury. Every step is printed
//! in plain language.
//!
//! The chain must be fresh (from genesis): `scripts/demo.sh` starts one and runs this.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use clap::Parser;
use flex_chain::{Chain, Keypair};
use flex_e2e::{
    account,
    deploy::{deploy, Bundles, DeployOptions, Deployment},
    dev, repo_root,
    scenario::{
        evm_wallets, replay, sample_activity, travel, SignedClaim, DAY, DEPOSIT, GENESIS, JANUARY_2026,
        MAR_1, TREASURY,
    },
    AccountId32,
};
use flex_engine::calendar::utc;
use keepers::{check_shipped_sample, KeeperPaths};
use narrate::{say, section, title, tokens, Balances};

mod keepers;
mod narrate;

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
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    run(&args).await
}

/// The dev accounts and their roles.
pub struct Cast {
    pub alice: Keypair,
    pub bob: Keypair,
    pub charlie: Keypair,
    pub dave: Keypair,
    pub eve: Keypair,
    pub ferdie: Keypair,
    pub treasury: AccountId32,
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

    pub fn keepers(&self) -> [(&'static str, &Keypair); 4] {
        [
            ("Alice", &self.alice),
            ("Bob", &self.bob),
            ("Charlie", &self.charlie),
            ("Dave", &self.dave),
        ]
    }
}

async fn run(args: &Args) -> Result<()> {
    let cast = Cast::new();
    let contracts_dir = resolve_contracts_dir(&args.contracts_dir);
    let bundles = Bundles::load(&contracts_dir).context("cannot load the contract bundles")?;

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
    // The fixture moves the clock to the day before genesis first (chopsticks starts at wall-clock
    // time; everything below happens at fixed dates), then deploys the tokens and the pool with
    // the four keepers and funds the pool.
    let options = DeployOptions {
        keepers: cast.keepers().iter().map(|(_, k)| account(k)).collect(),
        bundles: Some(bundles),
        ..DeployOptions::default()
    };
    let d = deploy(&chain, &options).await.context(
        "cannot deploy the contracts; is the devnet fresh? scripts/demo.sh restarts it from genesis",
    )?;
    ensure!(
        d.treasury == cast.treasury,
        "the pool's treasury is not the cast's"
    );
    say(&format!(
        "Chain clock set to {}, the day before the pool's genesis ({}).",
        utc(GENESIS - DAY),
        utc(GENESIS)
    ));

    section("1. Deploy the contracts");
    say(&format!(
        "flex_token code: {} bytes of Wasm (code hash 0x{})",
        d.bundles.token.wasm.len(),
        flex_types::hex::encode_digits(d.bundles.token.code_hash)
    ));
    say(&format!(
        "flex_reward_pool code: {} bytes of Wasm (code hash 0x{})",
        d.bundles.pool.wasm.len(),
        flex_types::hex::encode_digits(d.bundles.pool.code_hash)
    ));
    let supply: u128 = d.flexe.try_query("PSP22::total_supply", ()).await?;
    say(&format!(
        "FLEXE (the reward token) at {}; {} minted to Alice.",
        d.flexe.address,
        tokens(supply, "FLEXE")
    ));
    say(&format!(
        "PAY (the payment token for claim costs) at {}; {} minted to Alice.",
        d.pay.address,
        tokens(supply, "PAY")
    ));
    let threshold: u32 = d.pool.try_query("threshold", ()).await?;
    say(&format!("Reward pool at {}.", d.pool.address));
    say(&format!(
        "  genesis {}, keepers Alice, Bob, Charlie, Dave; quorum {threshold} of {} votes (floor(2n/3)+1).",
        utc(GENESIS),
        d.keepers.len()
    ));

    section("2. Fund the pool");
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
    check_shipped_sample(&demo_dir, &activity)?;
    say(&format!(
        "The keepers read it from the shipped sample pool {} and weights {}.",
        demo_dir.join("pool.json").display(),
        demo_dir.join("weights.toml").display()
    ));
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

    let paths = KeeperPaths::resolve(args, &d.bundles.pool_path, demo_dir)?;
    let month = keepers::month(&args.url, &chain, &cast, &d, &activity, &keys, &reports, &paths).await?;
    sweep_and_finish(&chain, &cast, &d, &keys, &month).await
}

/// What the month left for the sweep: the claim tree, what January distributed, what W1 claimed.
pub struct MonthOutcome {
    pub tree: flex_merkle::StandardMerkleTree<flex_merkle::ClaimLeaf>,
    pub distributed: u128,
    pub claimed: u128,
}

/// Section 8 and the final balances: past the claim window a late claim is refused and Bob sweeps
/// January's unclaimed rest to the treasury.
async fn sweep_and_finish(
    chain: &Chain,
    cast: &Cast,
    d: &Deployment,
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
    let late = SignedClaim::sign(
        &chain.api().genesis_hash().0,
        &d.pool.address,
        tree,
        &keys[1],
        &eve,
    )?;
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
