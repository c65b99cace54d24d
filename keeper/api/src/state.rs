//! [`Api`]: what every handler shares, and the caches that keep claim requests off the database
//! and off the chain.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use flex_sources::Status;
use flex_store::{MonthRecord, Store};
use flex_types::{AccountId, Address};

use crate::error::ApiError;
use crate::metrics::Metrics;

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
    months: RwLock<HashMap<u32, Arc<MonthCache>>>,
    pub(crate) claimed: Mutex<ClaimedCache>,
    /// Month -> (its claim window on chain, when asked).
    pub(crate) windows: Mutex<HashMap<u32, (ChainWindow, Instant)>>,
    pub(crate) metrics: Metrics,
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

/// `(month, wallet)` -> (claimed, when asked).
pub(crate) type ClaimedCache = HashMap<(u32, Address), (bool, Instant)>;

/// A month's claim tree, indexed by wallet, and its record (refreshed at most once a second: the
/// phase moves to finalised while the tree never changes).
pub(crate) struct MonthCache {
    pub(crate) record: RwLock<(MonthRecord, Instant)>,
    pub(crate) nodes: Vec<[u8; 32]>,
    /// Wallet -> (amount, index of its leaf in `nodes`).
    pub(crate) by_wallet: HashMap<Address, (u128, u32)>,
}

impl Api {
    /// `genesis` (unix seconds) is used for connection epochs in wallet answers.
    pub fn new(
        store: Arc<dyn Store>,
        status: Arc<Status>,
        contract: AccountId,
        genesis: Option<i64>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                status,
                contract,
                genesis,
                months: RwLock::new(HashMap::new()),
                claimed: Mutex::new(HashMap::new()),
                windows: Mutex::new(HashMap::new()),
                metrics: Metrics::default(),
                relay: Default::default(),
                started: Instant::now(),
                relayer: OnceLock::new(),
                offchain: OnceLock::new(),
                tree_downloads: crate::months::tree_downloads(),
                tokens: OnceLock::new(),
            }),
        }
    }

    /// Month `m`'s claim tree, loaded from the store on first use; `None` when the keeper has no
    /// claim root for it.
    pub(crate) fn month_cache(&self, m: u32) -> Result<Option<Arc<MonthCache>>, ApiError> {
        if let Some(c) = self.inner.months.read().ok().and_then(|map| map.get(&m).cloned()) {
            let stale = c
                .record
                .read()
                .map(|r| r.1.elapsed() > Duration::from_secs(1))
                .unwrap_or(true);
            let mut rebuilt = false;
            if stale {
                if let Some(rec) = self.inner.store.month(m).map_err(ApiError::internal)? {
                    let same_root = c
                        .record
                        .read()
                        .map(|r| r.0.root_hash == rec.root_hash)
                        .unwrap_or(false);
                    if same_root {
                        if let Ok(mut r) = c.record.write() {
                            *r = (rec, Instant::now());
                        }
                    } else {
                        // The keeper rebuilt the month (a resync): load its new tree below.
                        rebuilt = true;
                    }
                }
            }
            if !rebuilt {
                return Ok(Some(c));
            }
        }
        let Some(rec) = self.inner.store.month(m).map_err(ApiError::internal)? else {
            return Ok(None);
        };
        let tree = self.inner.store.claim_tree(m).map_err(ApiError::internal)?;
        let (nodes, leaves) = tree.map(|t| (t.nodes, t.leaves)).unwrap_or_default();
        let by_wallet = leaves
            .iter()
            .map(|l| (l.wallet, (l.amount, l.tree_index)))
            .collect();
        let cache = Arc::new(MonthCache {
            record: RwLock::new((rec, Instant::now())),
            nodes,
            by_wallet,
        });
        if let Ok(mut map) = self.inner.months.write() {
            map.insert(m, cache.clone());
        }
        Ok(Some(cache))
    }

    /// The chain's genesis hash (claim messages bind it), as the keeper recorded it when it
    /// connected (`flex_sources::offchain::record_chain`); `None` before its first connection.
    pub(crate) fn chain_genesis(&self) -> Result<Option<[u8; 32]>, ApiError> {
        let Some(h) = self
            .inner
            .store
            .meta(flex_sources::offchain::CHAIN_META)
            .map_err(ApiError::internal)?
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
    pub(crate) fn chain_genesis_for_claims(&self) -> Result<[u8; 32], ApiError> {
        self.chain_genesis()?.ok_or_else(|| {
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
        if let Ok(map) = self.inner.claimed.lock() {
            if let Some((c, at)) = map.get(&(m, wallet)) {
                if *c || at.elapsed() < Duration::from_secs(2) {
                    return Some(*c);
                }
            }
        }
        let client = self.inner.status.client()?;
        let answer = tokio::time::timeout(Duration::from_secs(2), client.is_claimed(m, wallet.0)).await;
        match answer {
            Ok(Ok(c)) => {
                if let Ok(mut map) = self.inner.claimed.lock() {
                    map.insert((m, wallet), (c, Instant::now()));
                }
                Some(c)
            }
            _ => None,
        }
    }
}
