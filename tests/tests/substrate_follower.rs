//! The Substrate follower (`flex_sources::substrate` over `flex_chain::follow`) on a real
//! local chain: balances transfers (a pallet event, wallet = the `from` field) and a PSP22 token's
//! `Transfer` and `Approval` (contract events by signature topic; wallet = the `to` field decoded
//! with the bundle, and topic 1) become exactly the expected actions: ids
//! `sub:0x{genesis}:{block}:{event index}`, wallets by pallet-revive's account mapping, kinds, and
//! the block's timestamp (set with `dev_timeTravel` before each transaction).
//!
//! Then: stopped and restarted, the follower resumes after its cursor (no block read twice, nothing
//! imported twice) and picks up what was produced while it was down; with the node unreachable (a
//! TCP proxy between follower and node, cut and restored by the test: a chopsticks restart does not
//! keep the chain) it backs off, reconnects and catches up; a second follower re-reading the same
//! blocks imports nothing new; a cursor or genesis that is not the chain's stops it with an error.
//!
//! `substrate_follower_figures` prints the backfill rate and the lag behind the finalized head.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flex_chain::{Chain, FollowProgress, Keypair};
use flex_e2e::deploy::{self, TokenSpec};
use flex_e2e::scenario::Contract;
use flex_e2e::{account, bundle, dev, AccountId32, Devnet};
use flex_service::Config;
use flex_sources::substrate::{wallet_of_account, SubstrateSource};
use flex_sources::{FollowSummary, SourceError};
use flex_store::{ActionRow, SqliteStore, Store};
use subxt::dynamic::Value;
use subxt::utils::H256;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// 2026-02-01 00:00:00 UTC, in milliseconds; each transaction gets its own minute after it.
const T0_MS: u64 = 1_769_904_000_000;
/// chopsticks builds a block's `Timestamp::set` as the parent's `Timestamp::Now` (what
/// `dev_timeTravel` sets) plus the slot duration, 12 s on a runtime without BABE or Aura.
const SLOT_S: i64 = 12;

/// A TCP proxy from a loopback port to the node; `down` closes the port and every connection
/// through it, `up` listens on the same port again.
struct Proxy {
    port: u16,
    target: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        let proxy = Proxy {
            port,
            target,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target;
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Stops listening and drops every connection (the follower sees its socket closed).
    async fn down(&self) {
        let tasks: Vec<_> = self.tasks.lock().unwrap().drain(..).collect();
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
    }

    async fn up(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("proxy port again");
        self.serve(listener);
    }
}

/// The keeper config (only `[[substrate]]`, the weights and the store matter here), its store and
/// the source built from it.
struct Keeper {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    store: Arc<dyn Store>,
}

impl Keeper {
    fn new() -> Keeper {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_path_buf();
        std::fs::write(
            path.join("weights.toml"),
            "transfer = \"1\"\ntoken_in = \"2.5\"\napprove = \"4\"\nunused = \"1\"\n",
        )
        .expect("weights");
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path.join("keeper.db")).expect("store"));
        Keeper {
            _dir: dir,
            dir: path,
            store,
        }
    }

    /// The `[[substrate]]` source of a config naming `url`, `token` and `start_block`.
    fn source(&self, name: &str, url: &str, token: &AccountId32, start_block: u64) -> SubstrateSource {
        let token_bundle = flex_e2e::bundle_path("flex_token");
        let approval = bundle("flex_token")
            .event_topic("Approval")
            .expect("Approval in the bundle");
        let text = format!(
            r#"
[chain]
contract = "0x{one}"
bundle = {bundle:?}
[protocol]
weights = "weights.toml"
[service]
backoff_max_ms = 1000

[[substrate]]
name = "{name}"
url = "{url}"
start_block = {start_block}
poll_ms = 2000

[[substrate.map]]
pallet = "Balances"
event = "Transfer"
wallet = "from"
kind = "transfer"

[[substrate.map]]
contract = "{token}"
bundle = {bundle:?}
event = "Transfer"
wallet = "to"
kind = "token_in"

[[substrate.map]]
contract = "0x{token_hex}"
topic = "0x{approval}"
wallet = 1
kind = "approve"
"#,
            one = "11".repeat(32),
            bundle = token_bundle.display().to_string(),
            token = token,
            token_hex = flex_types::hex::encode_digits(token.0),
            approval = flex_types::hex::encode_digits(approval),
        );
        let file = self.dir.join("keeper.toml");
        std::fs::write(&file, &text).expect("config");
        let config = Config::parse(&text, &file, &BTreeMap::new()).expect("config parses");
        let table = flex_ingest::read_weight_table(&config.weights).expect("weights");
        let mut sources = flex_sources::substrate::sources(&config.substrate, &table).expect("sources");
        assert_eq!(sources.len(), 1);
        sources.remove(0)
    }
}

/// A follower running in the background until stopped.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<Result<FollowSummary, SourceError>>,
    progress: Arc<FollowProgress>,
}

impl Running {
    fn spawn(source: &SubstrateSource, store: &Arc<dyn Store>) -> Running {
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let progress = Arc::new(FollowProgress::new());
        let (source, store, p) = (source.clone(), store.clone(), progress.clone());
        let task = tokio::spawn(async move {
            source
                .follow(store, None, p, false, async move {
                    let _ = rx.await;
                })
                .await
        });
        Running { stop, task, progress }
    }

    async fn stop(self) -> FollowSummary {
        let _ = self.stop.send(());
        self.task.await.expect("follower task").expect("follower ran")
    }
}

/// Waits for `cond` (a guard against hanging, not a timed assertion).
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn finalized_number(chain: &Chain) -> u64 {
    let block = chain.api().blocks().at_latest().await.expect("finalized head");
    block.number().into()
}

async fn block_number(chain: &Chain, hash: H256) -> u64 {
    let block = chain.api().blocks().at(hash).await.expect("block");
    block.number().into()
}

/// What the test did that the follower must report: one action each.
struct Expected {
    genesis: [u8; 32],
    rows: Vec<ActionRow>,
    clock_ms: u64,
}

impl Expected {
    /// Moves the chain clock to the next minute; returns the next block's timestamp (unix seconds).
    async fn tick(&mut self, chain: &Chain) -> i64 {
        self.clock_ms += 60_000;
        flex_chain::dev::time_travel(chain.rpc(), self.clock_ms)
            .await
            .expect("time travel");
        (self.clock_ms / 1000) as i64 + SLOT_S
    }

    async fn push(
        &mut self,
        chain: &Chain,
        block: H256,
        event_index: u32,
        who: &AccountId32,
        kind: &str,
        t: i64,
    ) {
        let number = block_number(chain, block).await;
        self.rows.push(ActionRow {
            action_id: format!(
                "sub:0x{}:{number}:{event_index}",
                flex_types::hex::encode_digits(self.genesis)
            ),
            wallet: wallet_of_account(&who.0),
            kind: kind.to_string(),
            side: "onchain".into(),
            timestamp: t,
        });
    }

    /// A balances transfer (`from` acts).
    async fn transfer(&mut self, chain: &Chain, from: &Keypair, to: &AccountId32) {
        let t = self.tick(chain).await;
        let tx = subxt::dynamic::tx(
            "Balances",
            "transfer_keep_alive",
            vec![
                Value::unnamed_variant("Id", [Value::from_bytes(to.0)]),
                Value::u128(1_000_000_000_000),
            ],
        );
        let (block, events) = chain.submit(&tx, from).await.expect("balances transfer");
        let index: Vec<u32> = events
            .iter()
            .map(|e| e.expect("event decodes"))
            .filter(|e| e.pallet_name() == "Balances" && e.variant_name() == "Transfer")
            .map(|e| e.index())
            .collect();
        assert_eq!(index.len(), 1, "one Balances.Transfer per transfer");
        self.push(chain, block, index[0], &account(from), "transfer", t)
            .await;
    }

    /// A token message; its one event `label` is an action `kind` of `who`.
    async fn token_call(
        &mut self,
        token: &Contract,
        signer: &Keypair,
        (message, args): (&str, impl codec::Encode),
        (label, who, kind): (&str, &AccountId32, &str),
    ) {
        let chain = &token.chain;
        let t = self.tick(chain).await;
        let data = token.data(message, args).expect("message");
        let out = chain
            .call(signer, &token.address, 0, &data)
            .await
            .expect("token call");
        let topic = token.bundle.event_topic(label).expect("event");
        let events = chain.api().events().at(out.block_hash).await.expect("events");
        let index: Vec<u32> = events
            .iter()
            .map(|e| e.expect("event decodes"))
            .filter(|e| {
                e.pallet_name() == "Contracts"
                    && e.variant_name() == "ContractEmitted"
                    && e.topics().first().map(|h| h.0) == Some(topic)
            })
            .map(|e| e.index())
            .collect();
        assert_eq!(index.len(), 1, "one {label} event");
        self.push(chain, out.block_hash, index[0], who, kind, t).await;
    }
}

/// The store holds exactly `rows`: as many actions, and importing them again finds each one
/// already there with the same wallet, kind, side and timestamp (a difference is an error).
fn assert_store_holds(store: &dyn Store, rows: &[ActionRow]) {
    let (_, actions) = store.input_counts().expect("counts");
    assert_eq!(actions, rows.len() as u64, "actions in the store");
    let stats = store
        .import("check", &[], rows)
        .unwrap_or_else(|e| panic!("an expected action differs from the imported one: {e}"));
    assert_eq!((stats.actions_new, stats.actions_known), (0, rows.len() as u64));
}

async fn caught_up(source: &SubstrateSource, store: &dyn Store, head: u64) {
    wait_for(&format!("the cursor at block {head}"), || {
        source
            .stored_cursor(store)
            .expect("cursor")
            .is_some_and(|c| c.number >= head)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn substrate_follower_on_the_devnet() {
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let proxy = Proxy::start(devnet.port).await;
    let (alice, bob, charlie, dave, eve, ferdie) = (
        dev("alice"),
        dev("bob"),
        dev("charlie"),
        dev("dave"),
        dev("eve"),
        dev("ferdie"),
    );
    let token = deploy::token(
        &chain,
        &alice,
        &bundle("flex_token"),
        &TokenSpec::flex("FLEXE"),
        b"follow",
    )
    .await
    .expect("deploy the token")
    .contract;
    // Follow from the block after the deployment (whose mint and endowment are not ours to count).
    let start_block = finalized_number(&chain).await + 1;
    let keeper = Keeper::new();
    let store = keeper.store.clone();
    let source = keeper.source("devnet", &proxy.url(), &token.address, start_block);
    let mut expected = Expected {
        genesis: chain.api().genesis_hash().0,
        rows: Vec::new(),
        clock_ms: T0_MS,
    };

    // Activity, then the first run up to the head.
    expected.transfer(&chain, &bob, &account(&eve)).await;
    expected.transfer(&chain, &charlie, &account(&eve)).await;
    let (d, b) = (account(&dave), account(&bob));
    expected
        .token_call(
            &token,
            &alice,
            ("PSP22::transfer", (&d, 1000u128, Vec::<u8>::new())),
            ("Transfer", &d, "token_in"),
        )
        .await;
    expected
        .token_call(
            &token,
            &alice,
            ("PSP22::approve", (&b, 50u128)),
            ("Approval", &account(&alice), "approve"),
        )
        .await;
    let head = finalized_number(&chain).await;
    let run = Running::spawn(&source, &store);
    caught_up(&source, &*store, head).await;
    let first = run.stop().await;
    assert_eq!(first.resumed_from, None);
    assert_eq!(
        first.first_block,
        Some(start_block),
        "the first run starts at start_block"
    );
    assert_eq!(first.cursor.map(|c| c.block), Some(head));
    assert_eq!(first.blocks, head - start_block + 1);
    assert_eq!(
        (first.actions_new, first.actions_known),
        (expected.rows.len() as u64, 0)
    );
    assert_store_holds(&*store, &expected.rows);
    let n1 = expected.rows.len();

    // Produced while the follower is stopped: picked up by the next run, which resumes after the
    // cursor and reads no block twice.
    expected.transfer(&chain, &dave, &account(&eve)).await;
    let c = account(&charlie);
    expected
        .token_call(
            &token,
            &dave,
            ("PSP22::transfer", (&c, 10u128, Vec::<u8>::new())),
            ("Transfer", &c, "token_in"),
        )
        .await;
    flex_chain::dev::new_blocks(chain.rpc(), 3)
        .await
        .expect("empty blocks");
    let head2 = finalized_number(&chain).await;
    let run = Running::spawn(&source, &store);
    caught_up(&source, &*store, head2).await;
    let second = run.stop().await;
    assert_eq!(second.resumed_from, first.cursor);
    assert_eq!(second.first_block, Some(head + 1), "resumed after the cursor");
    assert_eq!(second.blocks, head2 - head);
    assert_eq!(
        (second.actions_new, second.actions_known),
        ((expected.rows.len() - n1) as u64, 0)
    );
    assert_store_holds(&*store, &expected.rows);

    // The node unreachable while blocks are produced: the follower retries with backoff, then
    // reconnects and catches up.
    let run = Running::spawn(&source, &store);
    wait_for("the third run to connect", || {
        run.progress.connections.load(Ordering::Relaxed) == 1
    })
    .await;
    proxy.down().await;
    let n2 = expected.rows.len();
    expected.transfer(&chain, &eve, &account(&ferdie)).await;
    expected
        .token_call(
            &token,
            &alice,
            ("PSP22::approve", (&c, 7u128)),
            ("Approval", &account(&alice), "approve"),
        )
        .await;
    let head3 = finalized_number(&chain).await;
    wait_for("three failed attempts", || {
        run.progress.rpc_errors.load(Ordering::Relaxed) >= 3
    })
    .await;
    assert_eq!(
        source.stored_cursor(&*store).expect("cursor").map(|c| c.number),
        Some(head2),
        "nothing read while the node is unreachable"
    );
    assert!(!run.progress.connected.load(Ordering::Relaxed));
    proxy.up().await;
    caught_up(&source, &*store, head3).await;
    let third = run.stop().await;
    assert!(third.connections >= 2, "reconnected: {third:?}");
    assert!(third.retries >= 3, "{third:?}");
    assert_eq!(third.first_block, Some(head2 + 1));
    assert_eq!(
        (third.actions_new, third.actions_known),
        ((expected.rows.len() - n2) as u64, 0)
    );
    assert_store_holds(&*store, &expected.rows);

    // Another follower over the same blocks (its own name, so its own cursor) imports nothing new:
    // the same events give the same action ids.
    let again = keeper.source("devnet-again", &devnet.url, &token.address, start_block);
    let summary = again
        .follow(
            store.clone(),
            None,
            Arc::new(FollowProgress::new()),
            true,
            std::future::pending(),
        )
        .await
        .expect("once");
    assert_eq!(summary.first_block, Some(start_block));
    assert_eq!(
        (summary.actions_new, summary.actions_known),
        (0, expected.rows.len() as u64)
    );
    assert_store_holds(&*store, &expected.rows);

    // A cursor that is not this chain's block stops the follower with an error, and changes nothing.
    let key = source.cursor_key();
    let good = store.meta(&key).expect("meta").expect("cursor");
    let wrong = flex_chain::Cursor {
        number: head2,
        hash: [0xab; 32],
    };
    store.set_meta(&key, &wrong.encode()).expect("set meta");
    let err = source
        .follow(
            store.clone(),
            None,
            Arc::new(FollowProgress::new()),
            true,
            std::future::pending(),
        )
        .await
        .expect_err("a foreign cursor");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("block {head2} is 0x{}", "ab".repeat(32))),
        "{msg}"
    );
    assert_eq!(store.meta(&key).expect("meta"), Some(wrong.encode()));
    store.set_meta(&key, &good).expect("set meta");
    // And so does a database that followed another chain.
    let gkey = source.genesis_key();
    let genesis = store.meta(&gkey).expect("meta").expect("genesis stored");
    assert_eq!(genesis, flex_types::hex::encode(expected.genesis));
    store
        .set_meta(&gkey, &format!("0x{}", "00".repeat(32)))
        .expect("set meta");
    let err = source
        .follow(
            store.clone(),
            None,
            Arc::new(FollowProgress::new()),
            true,
            std::future::pending(),
        )
        .await
        .expect_err("another chain");
    assert!(err.to_string().contains("genesis"), "{err}");
    assert_store_holds(&*store, &expected.rows);
    drop(devnet);
}

/// Figures: how fast a follower reads finalized blocks it is behind on (backfill), and how far
/// behind the finalized head it is while following (time from a block's production until its
/// cursor is stored). Printed as `figure:` lines; nothing here is asserted on time.
#[tokio::test(flavor = "multi_thread")]
async fn substrate_follower_figures() {
    const BACKFILL: u32 = 200;
    const FOLLOWED: usize = 30;
    let devnet = Devnet::start();
    let chain = devnet.connect().await;
    let alice = dev("alice");
    let token = deploy::token(
        &chain,
        &alice,
        &bundle("flex_token"),
        &TokenSpec::flex("FLEXE"),
        b"figures",
    )
    .await
    .expect("deploy the token")
    .contract;
    // In small batches: one long dev_newBlock outlasts the RPC client's request timeout.
    for _ in 0..BACKFILL / 20 {
        flex_chain::dev::new_blocks(chain.rpc(), 20)
            .await
            .expect("blocks");
    }
    let head = finalized_number(&chain).await;
    let keeper = Keeper::new();
    let store = keeper.store.clone();
    let source = keeper.source("figures", &devnet.url, &token.address, 1);

    let started = Instant::now();
    let summary = source
        .follow(
            store.clone(),
            None,
            Arc::new(FollowProgress::new()),
            true,
            std::future::pending(),
        )
        .await
        .expect("backfill");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(summary.cursor.map(|c| c.block), Some(head));
    assert_eq!(summary.blocks, head);
    println!(
        "figure: backfill {} blocks in {:.2} s = {:.0} blocks/s (chunks of {}, one connection)",
        summary.blocks,
        secs,
        summary.blocks as f64 / secs,
        source.options(true).chunk
    );

    // Following: one block at a time, each with a balances transfer (an action to import).
    let run = Running::spawn(&source, &store);
    wait_for("the follower to connect", || {
        run.progress.connections.load(Ordering::Relaxed) == 1
    })
    .await;
    let mut lags_ms = Vec::new();
    let mut behind = Vec::new();
    let bob = account(&dev("bob"));
    for _ in 0..FOLLOWED {
        let tx = subxt::dynamic::tx(
            "Balances",
            "transfer_keep_alive",
            vec![
                Value::unnamed_variant("Id", [Value::from_bytes(bob.0)]),
                Value::u128(1_000_000_000),
            ],
        );
        let (hash, _) = chain.submit(&tx, &alice).await.expect("transfer");
        let produced = Instant::now();
        // Where the follower is when the submitter learns the block is finalized.
        let last = run.progress.last.load(Ordering::Relaxed);
        let number = block_number(&chain, hash).await;
        behind.push(number.saturating_sub(last));
        wait_for("the block to be handled", || {
            run.progress.last.load(Ordering::Relaxed) >= number
        })
        .await;
        lags_ms.push(produced.elapsed().as_secs_f64() * 1000.0);
    }
    let summary = run.stop().await;
    assert_eq!(summary.actions_new, FOLLOWED as u64);
    lags_ms.sort_by(f64::total_cmp);
    println!(
        "figure: follow lag behind the finalized head: median {:.1} ms, max {:.1} ms over {FOLLOWED} blocks \
         (from the transfer's finalization reported to the submitter until its block is imported); \
         blocks not yet handled when the submitter saw its block finalized: max {}",
        lags_ms[FOLLOWED / 2],
        lags_ms[FOLLOWED - 1],
        behind.iter().max().copied().unwrap_or(0)
    );
}
