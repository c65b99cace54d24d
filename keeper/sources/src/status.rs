//! What the running keeper shares with its API: chain connection, progress, counters, each
//! source's state ([`SourceState`]), the epoch the keeper waits on ([`Hold`]), the month whose
//! root waits ([`MonthHold`]), the
//! disagreements with the chain it found ([`Disagreement`]) and the pool's pending governance
//! changes ([`PendingGovernance`]).
//!
//! A source's failure is logged here once per change (a new error, or a recovery), not on every
//! pass, and counted in [`Status::errors`] and in its own [`SourceState::failures`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use flex_pool::{GovernanceAction, PendingChange, PoolClient};
use serde::Serialize;

#[derive(Debug, Default)]
pub struct Status {
    pub chain_connected: AtomicBool,
    /// Latest block time seen, unix milliseconds.
    pub chain_time_ms: AtomicU64,
    /// The contract's next unfinalised epoch.
    pub next_epoch: AtomicU64,
    pub epochs_closed: AtomicU64,
    pub epoch_votes: AtomicU64,
    pub month_votes: AtomicU64,
    pub reconnects: AtomicU64,
    pub errors: AtomicU64,
    pub imported_actions: AtomicU64,
    /// Duration of the last epoch close (compute + store), milliseconds.
    pub last_close_ms: AtomicU64,
    /// Duration of the last completeness check (input files' fingerprints and every source's
    /// position against the epoch's end), microseconds.
    pub last_check_us: AtomicU64,
    /// Whether this account is in the contract's keeper set (re-read periodically).
    pub is_keeper: AtomicBool,
    /// The connected pool client (for the API's claim status), if any.
    pub client: RwLock<Option<PoolClient>>,
    sources: RwLock<BTreeMap<String, SourceState>>,
    hold: RwLock<Option<Hold>>,
    month_hold: RwLock<Option<MonthHold>>,
    key_balance: RwLock<Option<KeyBalance>>,
    disagreements: RwLock<BTreeMap<(DisagreementKind, u64), Disagreement>>,
    /// The pool's announced governance changes, by id (re-read every tick).
    governance: RwLock<BTreeMap<u64, PendingGovernance>>,
}

/// What a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// An `[input]` file (pool JSON or JSON lines).
    File,
    /// An `[[evm]]` log follower.
    Evm,
    /// A `[[substrate]]` finalized-block follower.
    Substrate,
    /// Signed off-chain batch files (`offchain.files`).
    Offchain,
}

/// One source as `/health` shows it (fields in alphabetical order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceState {
    /// The block the source has read up to (chain followers).
    pub cursor_block: Option<u64>,
    /// That block's time, unix seconds: every action before it is imported. An epoch closes only
    /// once every follower's cursor time is at or after its end.
    pub cursor_time: Option<i64>,
    /// The last error, while failing (or after a follower stopped).
    pub error: Option<String>,
    /// Failures reported (each change of error counts once).
    pub failures: u64,
    pub kind: SourceKind,
    pub name: String,
    /// `ok`, `failed` or `stopped` (a follower that ended).
    pub state: &'static str,
}

/// The epoch the keeper waits to close, and the source that holds it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub epoch: u64,
    pub reason: String,
    pub source: String,
}

/// The earliest month whose root the keeper cannot build yet, and why (its claim price is
/// missing from the price table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthHold {
    /// `YYYY-MM`.
    pub month: String,
    pub month_index: u32,
    pub reason: String,
}

/// The keeper key's free native balance (it pays every vote's fee) and the configured floor
/// (`chain.min_balance`, 0 = none) below which `/health` degrades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyBalance {
    /// Base units, as a decimal string (above 2^53).
    #[serde(with = "u128_string")]
    pub free: u128,
    #[serde(with = "u128_string")]
    pub floor: u128,
    /// `free < floor`.
    pub low: bool,
}

mod u128_string {
    pub fn serialize<S: serde::Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }
}

/// How this keeper disagrees with the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisagreementKind {
    /// The chain finalised another commitment than this keeper's for an epoch.
    EpochMismatch,
    /// The votes for an epoch are split so that no commitment can reach the quorum.
    EpochSplit,
    /// The chain finalised another root than this keeper's for a month.
    MonthMismatch,
    /// The votes for a month's root are split so that no root can reach the quorum.
    MonthSplit,
}

impl DisagreementKind {
    /// Every kind, in the order `/metrics` lists them.
    pub const ALL: [DisagreementKind; 4] = [
        DisagreementKind::EpochMismatch,
        DisagreementKind::EpochSplit,
        DisagreementKind::MonthMismatch,
        DisagreementKind::MonthSplit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DisagreementKind::EpochMismatch => "epoch_mismatch",
            DisagreementKind::EpochSplit => "epoch_split",
            DisagreementKind::MonthMismatch => "month_mismatch",
            DisagreementKind::MonthSplit => "month_split",
        }
    }
}

/// One disagreement (an epoch or a month, with this keeper's hash and the chain's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    /// The epoch, or the month index for a month.
    pub index: u64,
    pub kind: DisagreementKind,
    /// This keeper's commitment (or root) hash, `0x` hex.
    pub ours: String,
    /// The chain's: the finalised hash, or (a split) every hash voted, with its votes.
    pub chain: Vec<String>,
    pub note: String,
}

/// An announced governance change of the pool, not yet executed or cancelled (the contract's
/// `pending_changes`), as `/health` shows it (fields in alphabetical order). Block times are unix
/// milliseconds, like `chain.time_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingGovernance {
    /// `add_keeper`, `remove_keeper`, `set_min_threshold` or `set_treasury`.
    pub action: &'static str,
    /// When the owner announced it.
    pub announced_at: u64,
    /// From this block time on the owner can execute it (announcement + the pool's delay).
    pub eta: u64,
    /// It can be executed only before this block time; after it, only cancelled.
    pub expires: u64,
    pub id: u64,
    /// The keeper or treasury account (`0x` + 64 hex digits), or the minimum threshold (decimal).
    pub target: String,
    /// Whether the change adds or removes this keeper's own account.
    pub this_keeper: bool,
}

impl PendingGovernance {
    /// Change `id` as the pool reports it, seen by the keeper whose account is `me`.
    pub fn new(id: u64, change: &PendingChange, me: &[u8; 32]) -> Self {
        let account = |a: &[u8; 32]| flex_types::hex::encode(a);
        let (action, target, this_keeper) = match &change.action {
            GovernanceAction::AddKeeper(k) => ("add_keeper", account(k), k == me),
            GovernanceAction::RemoveKeeper(k) => ("remove_keeper", account(k), k == me),
            GovernanceAction::SetMinThreshold(t) => ("set_min_threshold", t.to_string(), false),
            GovernanceAction::SetTreasury(t) => ("set_treasury", account(t), false),
        };
        Self {
            action,
            announced_at: change.announced_at,
            eta: change.executable_at,
            expires: change.expires_at,
            id,
            target,
            this_keeper,
        }
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

impl Status {
    pub fn client(&self) -> Option<PoolClient> {
        self.client.read().ok().and_then(|c| c.clone())
    }

    pub fn set_client(&self, client: Option<PoolClient>) {
        self.chain_connected.store(client.is_some(), Ordering::Relaxed);
        if let Ok(mut slot) = self.client.write() {
            *slot = client;
        }
    }

    /// Lists a source (state `ok`, no cursor) unless it is listed already.
    pub fn register_source(&self, name: &str, kind: SourceKind) {
        write(&self.sources)
            .entry(name.to_string())
            .or_insert_with(|| SourceState {
                cursor_block: None,
                cursor_time: None,
                error: None,
                failures: 0,
                kind,
                name: name.to_string(),
                state: "ok",
            });
    }

    /// A follower's position: it has read every block up to `block`, whose time is `time`.
    pub fn source_cursor(&self, name: &str, kind: SourceKind, block: u64, time: i64) {
        self.register_source(name, kind);
        if let Some(s) = write(&self.sources).get_mut(name) {
            s.cursor_block = Some(block);
            s.cursor_time = Some(time);
        }
    }

    /// A follower's cursor time no longer proves anything (a reorganisation deeper than its
    /// confirmations replaced what it read): every epoch not closed yet waits for it.
    pub fn forget_cursor_time(&self, name: &str) {
        if let Some(s) = write(&self.sources).get_mut(name) {
            s.cursor_time = None;
        }
    }

    /// The source works (again). Returns whether it recovered from a failure (then logged).
    pub fn source_ok(&self, name: &str, kind: SourceKind) -> bool {
        self.register_source(name, kind);
        let mut sources = write(&self.sources);
        let Some(s) = sources.get_mut(name) else {
            return false;
        };
        if s.state == "ok" {
            return false;
        }
        s.state = "ok";
        s.error = None;
        tracing::info!(source = %name, "source recovered");
        true
    }

    /// The source failed with `error`. Logged at error level and counted only when it changes
    /// (a new failure, or another error than the last): a source failing on every pass logs once.
    /// Returns whether it changed.
    pub fn source_failed(&self, name: &str, kind: SourceKind, error: &str) -> bool {
        self.set_failed(name, kind, error, "failed")
    }

    /// A follower ended (`error`: why). It no longer moves; epochs after its cursor wait.
    pub fn source_stopped(&self, name: &str, kind: SourceKind, error: &str) -> bool {
        self.set_failed(name, kind, error, "stopped")
    }

    fn set_failed(&self, name: &str, kind: SourceKind, error: &str, state: &'static str) -> bool {
        self.register_source(name, kind);
        let mut sources = write(&self.sources);
        let Some(s) = sources.get_mut(name) else {
            return false;
        };
        if s.state == state && s.error.as_deref() == Some(error) {
            return false;
        }
        s.state = state;
        s.error = Some(error.to_string());
        s.failures += 1;
        self.errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(source = %name, state, error = %error, "source failed");
        true
    }

    /// Every source, by name.
    pub fn sources(&self) -> Vec<SourceState> {
        read(&self.sources).values().cloned().collect()
    }

    /// One source.
    pub fn source(&self, name: &str) -> Option<SourceState> {
        read(&self.sources).get(name).cloned()
    }

    /// Sets (or clears) the epoch the keeper waits on. Logged once per change.
    pub fn set_hold(&self, hold: Option<Hold>) {
        let mut slot = write(&self.hold);
        if *slot == hold {
            return;
        }
        match &hold {
            Some(h) => tracing::warn!(
                epoch = h.epoch,
                source = %h.source,
                reason = %h.reason,
                "epoch close waits for a source"
            ),
            None => {
                if let Some(old) = slot.as_ref() {
                    tracing::info!(epoch = old.epoch, "the sources caught up: the epoch closes");
                }
            }
        }
        *slot = hold;
    }

    pub fn hold(&self) -> Option<Hold> {
        read(&self.hold).clone()
    }

    /// Sets (or clears) the month whose root waits. Logged once per change, at error level: an
    /// operator has to act (add the month's price).
    pub fn set_month_hold(&self, hold: Option<MonthHold>) {
        let mut slot = write(&self.month_hold);
        if *slot == hold {
            return;
        }
        match &hold {
            Some(h) => tracing::error!(month = %h.month, reason = %h.reason, "the month's root waits"),
            None => {
                if let Some(old) = slot.as_ref() {
                    tracing::info!(month = %old.month, "the month's root can be built");
                }
            }
        }
        *slot = hold;
    }

    pub fn month_hold(&self) -> Option<MonthHold> {
        read(&self.month_hold).clone()
    }

    /// Records the keeper key's balance; crossing the floor is logged once each way.
    pub fn set_key_balance(&self, free: u128, floor: u128) {
        let now = KeyBalance {
            free,
            floor,
            low: free < floor,
        };
        let mut slot = write(&self.key_balance);
        let was_low = slot.is_some_and(|b| b.low);
        if now.low && !was_low {
            tracing::error!(free = %free, floor = %floor, "the keeper key's balance is below chain.min_balance: votes will fail once it cannot pay their fees");
        } else if !now.low && was_low {
            tracing::info!(free = %free, floor = %floor, "the keeper key's balance is above chain.min_balance again");
        }
        *slot = Some(now);
    }

    /// The keeper key's balance as last read; `None` before the first read.
    pub fn key_balance(&self) -> Option<KeyBalance> {
        *read(&self.key_balance)
    }

    /// Reports a disagreement with the chain: logged at error level the first time (or when it
    /// changes). Returns whether it is new.
    pub fn disagree(&self, d: Disagreement) -> bool {
        let mut map = write(&self.disagreements);
        let key = (d.kind, d.index);
        if map.get(&key) == Some(&d) {
            return false;
        }
        tracing::error!(
            kind = d.kind.as_str(),
            index = d.index,
            ours = %d.ours,
            chain = %d.chain.join(","),
            note = %d.note,
            "this keeper disagrees with the chain"
        );
        map.insert(key, d);
        true
    }

    /// The disagreement is over (resynced, or the split resolved).
    pub fn resolve(&self, kind: DisagreementKind, index: u64) {
        if write(&self.disagreements).remove(&(kind, index)).is_some() {
            tracing::info!(kind = kind.as_str(), index, "disagreement resolved");
        }
    }

    /// Every disagreement, by kind and index.
    pub fn disagreements(&self) -> Vec<Disagreement> {
        read(&self.disagreements).values().cloned().collect()
    }

    /// The pool's pending governance changes as just read from the chain. Each newly announced
    /// one is logged at warn level (every action changes the keeper set, the threshold or the
    /// treasury: operators should look before its eta); one that is gone (executed or cancelled)
    /// at info level. Returns how many are new.
    pub fn set_governance(&self, pending: Vec<PendingGovernance>) -> usize {
        let mut map = write(&self.governance);
        let mut new = 0;
        for p in &pending {
            if !map.contains_key(&p.id) {
                new += 1;
                tracing::warn!(
                    id = p.id,
                    action = p.action,
                    target = %p.target,
                    eta_ms = p.eta,
                    expires_ms = p.expires,
                    this_keeper = p.this_keeper,
                    "governance change announced: the owner can execute it from its eta on"
                );
            }
        }
        for (id, old) in map.iter() {
            if !pending.iter().any(|p| p.id == *id) {
                tracing::info!(
                    id,
                    action = old.action,
                    target = %old.target,
                    "governance change no longer pending (executed or cancelled)"
                );
            }
        }
        *map = pending.into_iter().map(|p| (p.id, p)).collect();
        new
    }

    /// The pending governance changes, by id (announcement order).
    pub fn governance(&self) -> Vec<PendingGovernance> {
        read(&self.governance).values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_counted_once_per_change() {
        let s = Status::default();
        s.register_source("a.jsonl", SourceKind::File);
        assert!(!s.source_ok("a.jsonl", SourceKind::File));
        assert!(s.source_failed("a.jsonl", SourceKind::File, "line 3: bad"));
        assert!(!s.source_failed("a.jsonl", SourceKind::File, "line 3: bad"));
        assert!(s.source_failed("a.jsonl", SourceKind::File, "line 4: bad"));
        let a = s.source("a.jsonl").unwrap();
        assert_eq!(
            (a.state, a.failures, a.error.as_deref()),
            ("failed", 2, Some("line 4: bad"))
        );
        assert_eq!(s.errors.load(Ordering::Relaxed), 2);
        assert!(s.source_ok("a.jsonl", SourceKind::File));
        assert_eq!(s.source("a.jsonl").unwrap().state, "ok");
        assert!(s.source_failed("a.jsonl", SourceKind::File, "line 4: bad"));
        assert_eq!(s.source("a.jsonl").unwrap().failures, 3);
        s.source_cursor("evm:x", SourceKind::Evm, 7, 1000);
        assert!(s.source_stopped("evm:x", SourceKind::Evm, "deep reorg"));
        let x = s.source("evm:x").unwrap();
        assert_eq!(
            (x.state, x.cursor_block, x.cursor_time),
            ("stopped", Some(7), Some(1000))
        );
        assert_eq!(s.sources().len(), 2);
    }

    #[test]
    fn disagreements_are_reported_once_and_resolved() {
        let s = Status::default();
        let d = Disagreement {
            index: 4,
            kind: DisagreementKind::EpochMismatch,
            ours: "0x01".into(),
            chain: vec!["0x02".into()],
            note: String::new(),
        };
        assert!(s.disagree(d.clone()));
        assert!(!s.disagree(d.clone()));
        assert_eq!(s.disagreements(), vec![d]);
        s.resolve(DisagreementKind::EpochMismatch, 4);
        assert!(s.disagreements().is_empty());
    }

    #[test]
    fn pending_governance_changes_are_named_and_counted_once() {
        let me = [9u8; 32];
        let change = |action, at: u64| PendingChange {
            action,
            announced_at: at,
            executable_at: at + 172_800_000,
            expires_at: at + 172_800_000 + 1_209_600_000,
        };
        let remove_me = PendingGovernance::new(3, &change(GovernanceAction::RemoveKeeper(me), 1_000), &me);
        assert_eq!(
            remove_me,
            PendingGovernance {
                action: "remove_keeper",
                announced_at: 1_000,
                eta: 172_801_000,
                expires: 1_382_401_000,
                id: 3,
                target: format!("0x{}", "09".repeat(32)),
                this_keeper: true,
            }
        );
        let add_other = PendingGovernance::new(4, &change(GovernanceAction::AddKeeper([1; 32]), 2_000), &me);
        assert_eq!((add_other.action, add_other.this_keeper), ("add_keeper", false));
        let threshold = PendingGovernance::new(5, &change(GovernanceAction::SetMinThreshold(4), 0), &me);
        assert_eq!(
            (threshold.action, threshold.target.as_str()),
            ("set_min_threshold", "4")
        );
        let treasury = PendingGovernance::new(6, &change(GovernanceAction::SetTreasury(me), 0), &me);
        assert_eq!((treasury.action, treasury.this_keeper), ("set_treasury", false));

        let s = Status::default();
        assert_eq!(s.set_governance(vec![remove_me.clone(), add_other.clone()]), 2);
        assert_eq!(
            s.set_governance(vec![remove_me.clone(), add_other.clone()]),
            0,
            "seen already"
        );
        // 3 executed or cancelled, 5 announced.
        assert_eq!(s.set_governance(vec![add_other.clone(), threshold.clone()]), 1);
        assert_eq!(s.governance(), vec![add_other, threshold]);
        assert_eq!(s.set_governance(vec![]), 0);
        assert!(s.governance().is_empty());
    }
}
