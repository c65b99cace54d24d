//! [`Api`]: what every handler shares, and the caches that keep claim requests off the database
//! and off the chain.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use flex_sources::Status;
use flex_store::{MonthRecord, Store};
use flex_types::{AccountId, Address};

use crate::cache::{ClaimedCache, MonthCaches};
use crate::error::ApiError;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::serve::ConnStats;

/// Shared state of the API (cheap to clone).
#[derive(Clone)]
pub struct Api {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) status: Arc<Status>,
    pub(crate) contract: AccountId,
    pub(crate) genesis: Option<i64>,
    pub(crate) limits: Limits,
    pub(crate) months: MonthCaches,
    pub(crate) claimed: Mutex<ClaimedCache>,
    /// Month -> (its claim window on chain, when asked).
    pub(crate) windows: Mutex<HashMap<u32, (ChainWindow, Instant)>>,
    pub(crate) metrics: Metrics,
    pub(crate) conns: ConnStats,
    /// Requests handled at once (`Limits::max_in_flight`).
    pub(crate) in_flight: Arc<tokio::sync::Semaphore>,
    pub(crate) relay: crate::relay_stats::RelayStats,
    pub(crate) started: Instant,
    /// Submits relayed claims and pays their cost (`web`).
    pub(crate) relayer: OnceLock<flex_chain::Keypair>,
    /// Accepts signed off-chain batches (`offchain`).
    pub(crate) offchain: OnceLock<flex_sources::offchain::Intake>,
    /// Permits for `GET /v1/months/{m}/tree` (`months`).
    pub(crate) tree_downloads: Arc<tokio::sync::Semaphore>,
    /// The pool's reward and payment tokens with their metadata, read once from the chain (both
    /// fixed at the pool's and the tokens' construction).
    pub(crate) tokens: OnceLock<PoolTokens>,
}

/// The pool's tokens as `/v1/info` shows them.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct PoolTokens {
    pub(crate) payment: TokenUnit,
    pub(crate) reward: TokenUnit,
}

/// A token's address and the units amounts are shown in (fields in alphabetical order).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct TokenUnit {
    pub(crate) address: String,
    pub(crate) decimals: u8,
    pub(crate) symbol: Option<String>,
}

/// A month's claim window as the pool computes it: pauses extend it (`docs/PROTOCOL.md`, "Pauses
/// and claim windows"). Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChainWindow {
    pub(crate) open: u64,
    pub(crate) close: u64,
    /// Whether the pool is paused now (its close then moves later as long as the pause lasts).
    pub(crate) paused: bool,
}

/// A month's claim tree, indexed by wallet, and its record (refreshed at most once a second: the
/// phase moves to finalised while the tree never changes).
pub(crate) struct MonthCache {
    pub(crate) record: RwLock<(MonthRecord, Instant)>,
    pub(crate) nodes: Vec<[u8; 32]>,
    /// Wallet -> (amount, index of its leaf in `nodes`).
    pub(crate) by_wallet: HashMap<Address, (u128, u32)>,
}

impl MonthCache {
    /// Memory held, as the month cache counts it against `Limits::month_cache_bytes`.
    pub(crate) fn bytes(&self) -> usize {
        let entry = std::mem::size_of::<(Address, (u128, u32))>() + 1;
        std::mem::size_of::<Self>()
            + self.nodes.capacity() * 32
            + self.by_wallet.capacity() * entry
            + self
                .record
                .read()
                .map(|r| r.0.note.len() + r.0.root.len())
                .unwrap_or(0)
    }
}

impl Api {
    /// `genesis` (unix seconds) is used for connection epochs in wallet answers. Default
    /// [`Limits`].
    pub fn new(
        store: Arc<dyn Store>,
        status: Arc<Status>,
        contract: AccountId,
        genesis: Option<i64>,
    ) -> Self {
        Self::with_limits(store, status, contract, genesis, Limits::default())
    }

    /// [`Api::new`] with the given limits.
    pub fn with_limits(
        store: Arc<dyn Store>,
        status: Arc<Status>,
        contract: AccountId,
        genesis: Option<i64>,
        limits: Limits,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                status,
                contract,
                genesis,
                months: MonthCaches::new(limits.month_cache_bytes),
                claimed: Mutex::new(ClaimedCache::new(limits.claimed_cache_entries)),
                in_flight: Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight.max(1))),
                limits,
                windows: Mutex::new(HashMap::new()),
                metrics: Metrics::default(),
                conns: ConnStats::default(),
                relay: Default::default(),
                started: Instant::now(),
                relayer: OnceLock::new(),
                offchain: OnceLock::new(),
                tree_downloads: crate::months::tree_downloads(),
                tokens: OnceLock::new(),
            }),
        }
    }

    /// Runs `f` on the store on a blocking thread: SQLite reads and writes stay off the async
    /// workers. A store error is an internal error (logged in full).
    pub(crate) async fn with_store<T, E>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let store = self.inner.store.clone();
        match tokio::task::spawn_blocking(move || f(&*store)).await {
            Ok(r) => r.map_err(ApiError::internal),
            Err(e) => Err(ApiError::internal(format!("the store task failed: {e}"))),
        }
    }

    /// Month `m`'s claim tree, loaded from the store on first use (once, however many ask at
    /// the same time); `None` when the keeper has no claim root for it.
    pub(crate) async fn month_cache(&self, m: u32) -> Result<Option<Arc<MonthCache>>, ApiError> {
        if let Some(c) = self.inner.months.get(m) {
            let stale = c
                .record
                .read()
                .map(|r| r.1.elapsed() > Duration::from_secs(1))
                .unwrap_or(true);
            if !stale {
                return Ok(Some(c));
            }
            match self.with_store(move |s| s.month(m)).await? {
                Some(rec)
                    if c.record
                        .read()
                        .map(|r| r.0.root_hash == rec.root_hash)
                        .unwrap_or(false) =>
                {
                    if let Ok(mut r) = c.record.write() {
                        *r = (rec, Instant::now());
                    }
                    return Ok(Some(c));
                }
                // Gone (not expected): kept as it was.
                None => return Ok(Some(c)),
                // The keeper rebuilt the month (a resync): load its new tree below.
                Some(_) => self.inner.months.remove(m),
            }
        }
        let api = self.clone();
        self.inner
            .months
            .get_or_load(m, || async move {
                api.with_store(move |s| {
                    let Some(rec) = s.month(m)? else {
                        return Ok::<_, flex_store::StoreError>(None);
                    };
                    let tree = s.claim_tree(m)?;
                    let (nodes, leaves) = tree.map(|t| (t.nodes, t.leaves)).unwrap_or_default();
                    let by_wallet = leaves
                        .iter()
                        .map(|l| (l.wallet, (l.amount, l.tree_index)))
                        .collect();
                    Ok(Some(MonthCache {
                        record: RwLock::new((rec, Instant::now())),
                        nodes,
                        by_wallet,
                    }))
                })
                .await
            })
            .await
    }

    /// The chain's genesis hash (claim messages bind it), as the keeper recorded it when it
    /// connected (`flex_sources::offchain::record_chain`); `None` before its first connection.
    pub(crate) async fn chain_genesis(&self) -> Result<Option<[u8; 32]>, ApiError> {
        let Some(h) = self
            .with_store(|s| s.meta(flex_sources::offchain::CHAIN_META))
            .await?
        else {
            return Ok(None);
        };
        flex_types::hex::decode::<32>(&h).map(Some).map_err(|e| {
            ApiError::internal(format!(
                "the stored chain genesis hash {h:?} is not 32 bytes of hex: {e}"
            ))
        })
    }

    /// The chain's genesis hash, or the 503 `not_ready` error a claim message needs it for.
    pub(crate) async fn chain_genesis_for_claims(&self) -> Result<[u8; 32], ApiError> {
        self.chain_genesis().await?.ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "this keeper has not connected to the chain yet, so it does not know the chain's genesis hash \
                 that claim messages bind; try again later",
            )
        })
    }

    /// Month `m`'s claim window as the pool answers it (`claim_window`, `is_paused`), asked at
    /// most every two seconds (a pause moves it); `None` when the chain is unreachable or the
    /// month has no window (before genesis).
    pub(crate) async fn window_on_chain(&self, m: u32) -> Option<ChainWindow> {
        if let Ok(map) = self.inner.windows.lock() {
            if let Some((w, at)) = map.get(&m) {
                if at.elapsed() < Duration::from_secs(2) {
                    return Some(*w);
                }
            }
        }
        let client = self.inner.status.client()?;
        let ask = async {
            let window = client.claim_window(m).await.ok()??;
            let paused: bool = client.query("is_paused", ()).await.ok()?;
            Some(ChainWindow {
                open: window.0,
                close: window.1,
                paused,
            })
        };
        let w = tokio::time::timeout(Duration::from_secs(2), ask).await.ok()??;
        if let Ok(mut map) = self.inner.windows.lock() {
            map.insert(m, (w, Instant::now()));
        }
        Some(w)
    }

    /// The pool's tokens and their symbols and decimals (`PSP22Metadata`), read from the chain on
    /// first success; `None` while the chain is unreachable.
    pub(crate) async fn tokens_on_chain(&self) -> Option<PoolTokens> {
        if let Some(t) = self.inner.tokens.get() {
            return Some(t.clone());
        }
        let client = self.inner.status.client()?;
        let ask = async {
            let me = client.me();
            let unit = |t: flex_chain::TokenInfo| TokenUnit {
                address: flex_types::hex::encode(t.address.0),
                decimals: t.decimals,
                symbol: t.symbol,
            };
            let reward: flex_chain::AccountId32 = client.query("reward_token", ()).await.ok()?;
            let payment: flex_chain::AccountId32 = client.query("payment_token", ()).await.ok()?;
            Some(PoolTokens {
                payment: unit(client.chain.token_info(&me, &payment).await.ok()?),
                reward: unit(client.chain.token_info(&me, &reward).await.ok()?),
            })
        };
        // Four dry runs, once per keeper run: a busy node gets more time than for the claim status.
        let tokens = tokio::time::timeout(Duration::from_secs(10), ask).await;
        match tokens {
            Ok(Some(tokens)) => Some(self.inner.tokens.get_or_init(|| tokens).clone()),
            Ok(None) => {
                tracing::warn!("cannot read the pool's tokens and their metadata from the chain");
                None
            }
            Err(_) => {
                tracing::warn!("reading the pool's tokens from the chain took over 10 s");
                None
            }
        }
    }

    /// The claim's status on chain: `Some(claimed)`, or `None` when the chain is unreachable.
    /// A `true` is kept; a `false` is asked again after two seconds.
    pub(crate) async fn claimed_on_chain(&self, m: u32, wallet: Address) -> Option<bool> {
        if let Ok(mut map) = self.inner.claimed.lock() {
            if let Some((c, at)) = map.get((m, wallet)) {
                if c || at.elapsed() < Duration::from_secs(2) {
                    return Some(c);
                }
            }
        }
        let client = self.inner.status.client()?;
        let answer = tokio::time::timeout(Duration::from_secs(2), client.is_claimed(m, wallet.0)).await;
        match answer {
            Ok(Ok(c)) => {
                if let Ok(mut map) = self.inner.claimed.lock() {
                    map.insert((m, wallet), c, Instant::now());
                }
                Some(c)
            }
            _ => None,
        }
    }
}
