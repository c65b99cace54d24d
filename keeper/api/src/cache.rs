//! Bounded caches: claim trees by month (least recently used dropped beyond a byte budget; one
//! load per month at a time, the others wait for it) and claim statuses read from the chain (at
//! most a fixed number of entries).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use flex_types::Address;
use tokio::sync::watch;

use crate::state::MonthCache;

/// Claim trees by month, at most `budget` bytes (the latest one loaded always stays).
pub(crate) struct MonthCaches {
    budget: usize,
    map: Mutex<MonthMap>,
    loads: AtomicU64,
}

#[derive(Default)]
struct MonthMap {
    entries: HashMap<u32, Entry>,
    bytes: usize,
    tick: u64,
    /// Months being loaded: waiters see the sender dropped when the load ends.
    loading: HashMap<u32, watch::Receiver<()>>,
}

struct Entry {
    cache: Arc<MonthCache>,
    bytes: usize,
    used: u64,
}

/// Removes its month from `loading` when the load ends, also when the loading request is dropped.
struct Loading<'a> {
    caches: &'a MonthCaches,
    month: u32,
    _done: watch::Sender<()>,
}

impl Drop for Loading<'_> {
    fn drop(&mut self) {
        self.caches.lock().loading.remove(&self.month);
    }
}

impl MonthCaches {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            budget,
            map: Mutex::new(MonthMap::default()),
            loads: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MonthMap> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many trees were loaded (`flex_api_month_loads_total`).
    pub(crate) fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// Bytes held now.
    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Month `m`'s tree if held (it becomes the most recently used).
    pub(crate) fn get(&self, m: u32) -> Option<Arc<MonthCache>> {
        let mut map = self.lock();
        map.tick += 1;
        let tick = map.tick;
        map.entries.get_mut(&m).map(|e| {
            e.used = tick;
            e.cache.clone()
        })
    }

    /// Forgets month `m` (its tree was rebuilt).
    pub(crate) fn remove(&self, m: u32) {
        let mut map = self.lock();
        if let Some(e) = map.entries.remove(&m) {
            map.bytes -= e.bytes;
        }
    }

    /// Month `m`'s tree: held, or loaded by `load` (`None`: the month has none, not kept). One
    /// load per month at a time: a request arriving during a load waits for it and shares it.
    pub(crate) async fn get_or_load<F, Fut, E>(&self, m: u32, load: F) -> Result<Option<Arc<MonthCache>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<MonthCache>, E>>,
    {
        let guard = loop {
            let waiting = {
                let mut map = self.lock();
                map.tick += 1;
                let tick = map.tick;
                if let Some(e) = map.entries.get_mut(&m) {
                    e.used = tick;
                    return Ok(Some(e.cache.clone()));
                }
                match map.loading.get(&m) {
                    Some(rx) => rx.clone(),
                    None => {
                        let (tx, rx) = watch::channel(());
                        map.loading.insert(m, rx);
                        break Loading {
                            caches: self,
                            month: m,
                            _done: tx,
                        };
                    }
                }
            };
            let mut waiting = waiting;
            // Ends when the loader drops its sender (done, failed or cancelled).
            while waiting.changed().await.is_ok() {}
        };
        let loaded = load().await;
        let cache = match loaded {
            Ok(Some(c)) => Arc::new(c),
            Ok(None) => return Ok(None),
            Err(e) => return Err(e),
        };
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.insert(m, cache.clone());
        drop(guard);
        Ok(Some(cache))
    }

    /// Keeps `cache` for month `m`, dropping the least recently used others beyond the budget.
    fn insert(&self, m: u32, cache: Arc<MonthCache>) {
        let bytes = cache.bytes();
        let mut map = self.lock();
        map.tick += 1;
        let used = map.tick;
        if let Some(old) = map.entries.insert(m, Entry { cache, bytes, used }) {
            map.bytes -= old.bytes;
        }
        map.bytes += bytes;
        while map.bytes > self.budget {
            let oldest = map
                .entries
                .iter()
                .filter(|(k, _)| **k != m)
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| *k);
            let Some(k) = oldest else { break };
            if let Some(e) = map.entries.remove(&k) {
                map.bytes -= e.bytes;
                tracing::debug!(
                    month = k,
                    bytes = e.bytes,
                    "API: month cache dropped a claim tree"
                );
            }
        }
    }
}

/// `(month, wallet)` -> (claimed, when asked), at most `cap` entries: two generations, the older
/// dropped whole when the newer fills half of `cap` (an entry read from the older moves to the
/// newer).
pub(crate) struct ClaimedCache {
    cap: usize,
    new: HashMap<(u32, Address), (bool, Instant)>,
    old: HashMap<(u32, Address), (bool, Instant)>,
}

impl ClaimedCache {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(2),
            new: HashMap::new(),
            old: HashMap::new(),
        }
    }

    pub(crate) fn get(&mut self, key: (u32, Address)) -> Option<(bool, Instant)> {
        if let Some(v) = self.new.get(&key) {
            return Some(*v);
        }
        let v = self.old.remove(&key)?;
        self.insert(key, v.0, v.1);
        Some(v)
    }

    pub(crate) fn insert(&mut self, key: (u32, Address), claimed: bool, at: Instant) {
        if !self.new.contains_key(&key) && self.new.len() >= self.cap / 2 {
            self.old = std::mem::take(&mut self.new);
        }
        self.old.remove(&key);
        self.new.insert(key, (claimed, at));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.new.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::RwLock;

    use super::*;

    /// A month's cache of `wallets` leaves.
    fn month(m: u32, wallets: u8) -> MonthCache {
        let rec = flex_store::MonthRecord {
            month_index: m,
            phase: flex_store::Phase::Finalized,
            root: vec![],
            root_hash: [0; 32],
            claims_root: [0; 32],
            total: 0,
            claim_price: 0,
            first_epoch: 0,
            end_epoch: 0,
            claims: u64::from(wallets),
            voted: true,
            note: String::new(),
            updated_at: 0,
        };
        MonthCache {
            record: RwLock::new((rec, Instant::now())),
            nodes: vec![[0; 32]; usize::from(wallets) * 2],
            by_wallet: (0..wallets).map(|w| (Address([w; 20]), (1, 0))).collect(),
        }
    }

    async fn load(c: &MonthCaches, m: u32) -> Arc<MonthCache> {
        c.get_or_load(m, || async move { Ok::<_, ()>(Some(month(m, 50))) })
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn the_least_recently_used_months_go_beyond_the_budget() {
        let one = month(0, 50).bytes();
        let c = MonthCaches::new(2 * one + one / 2);
        load(&c, 1).await;
        load(&c, 2).await;
        load(&c, 1).await; // 1 is now the most recently used
        load(&c, 3).await; // 2 goes
        assert_eq!(c.loads(), 3);
        assert!(c.get(2).is_none() && c.get(1).is_some() && c.get(3).is_some());
        assert!(c.bytes() <= 2 * one + one / 2);
        // A tree over the whole budget is still kept, alone.
        let small = MonthCaches::new(1);
        load(&small, 1).await;
        load(&small, 2).await;
        assert!(small.get(1).is_none() && small.get(2).is_some());
        assert_eq!(small.bytes(), one);
        // None (the month has no tree) is not kept.
        let r = c.get_or_load(9, || async { Ok::<_, ()>(None) }).await;
        assert!(matches!(r, Ok(None)) && c.get(9).is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn first_hits_of_a_month_share_one_load() {
        let c = Arc::new(MonthCaches::new(1 << 30));
        let calls = Arc::new(AtomicUsize::new(0));
        let (open, gate) = watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (c, calls, gate) = (c.clone(), calls.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                c.get_or_load(7, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let mut gate = gate;
                    let _ = gate.wait_for(|o| *o).await;
                    Ok::<_, ()>(Some(month(7, 3)))
                })
                .await
                .unwrap()
                .unwrap()
            }));
        }
        // One thread: every task has run up to its wait once this one yields.
        tokio::task::yield_now().await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        open.send(true).unwrap();
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(c.loads(), 1);
        assert!(got.iter().all(|g| Arc::ptr_eq(g, &got[0])));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_cancelled_load_lets_the_next_request_load() {
        let c = Arc::new(MonthCaches::new(1 << 30));
        let first = {
            let c = c.clone();
            tokio::spawn(async move {
                c.get_or_load(5, std::future::pending::<Result<Option<MonthCache>, ()>>)
                    .await
            })
        };
        tokio::task::yield_now().await;
        first.abort();
        let _ = first.await;
        let got = c
            .get_or_load(5, || async { Ok::<_, ()>(Some(month(5, 1))) })
            .await;
        assert!(matches!(got, Ok(Some(_))));
    }

    #[test]
    fn the_claimed_cache_holds_at_most_its_entries() {
        let mut c = ClaimedCache::new(10);
        let now = Instant::now();
        for i in 0..1000u32 {
            c.insert((i, Address([0; 20])), i % 2 == 0, now);
            assert!(c.len() <= 10, "{} entries", c.len());
        }
        assert_eq!(c.get((999, Address([0; 20]))).map(|v| v.0), Some(false));
        assert_eq!(c.get((998, Address([0; 20]))).map(|v| v.0), Some(true));
        assert!(c.get((0, Address([0; 20]))).is_none());
    }
}
