//! The relay's admission and accounting: a bounded queue (429 `relay_busy` when full), one relay
//! in flight per wallet (429 `relay_in_progress`), the claims waiting for the next batch, counts
//! of relayed and refused claims, the fees the relayer paid and its balances for `/metrics` and
//! `/health`.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use flex_types::Address;

use crate::error::ApiError;

/// Relays waiting or running at once; more are answered 429 at once instead of queueing behind
/// the relayer's one-at-a-time transactions for minutes.
pub(crate) const RELAY_QUEUE_MAX: usize = 16;

/// How long a reading of the relayer's balances is used before the chain is asked again.
const BALANCES_MAX_AGE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub(crate) struct RelayStats {
    queued: AtomicUsize,
    wallets: Mutex<HashSet<Address>>,
    /// Claims checked offline, waiting for the relayer's next batch.
    pending: Mutex<Vec<crate::relay::RelayJob>>,
    submitted: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// Transaction fees the relayer paid (approve and claim_batch, failed ones too), base units.
    fees: Mutex<u128>,
    /// The last reading of the relayer's balances and when it was taken.
    balances: Mutex<Option<(RelayBalances, Instant)>>,
    /// `api.relay_min_balance`: a native balance below it is reported low (0: never).
    min_balance: Mutex<u128>,
}

/// The relayer's balances, base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RelayBalances {
    pub(crate) native: u128,
    /// Of the pool's payment token (claim costs are paid in it); `None` when unreadable.
    pub(crate) payment: Option<u128>,
}

/// A place in the queue, given back when dropped (answered, timed out, or the client gone).
pub(crate) struct Admission<'a> {
    stats: &'a RelayStats,
    wallet: Address,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.stats.queued.fetch_sub(1, Ordering::AcqRel);
        self.stats
            .wallets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.wallet);
    }
}

impl RelayStats {
    /// A place for `wallet`'s relay, or the 429 that says why not.
    pub(crate) fn admit(&self, wallet: Address) -> Result<Admission<'_>, ApiError> {
        let mut wallets = self.wallets.lock().unwrap_or_else(PoisonError::into_inner);
        if wallets.contains(&wallet) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "relay_in_progress",
                format!("a relay for wallet {wallet} is already in progress; wait for its answer"),
            ));
        }
        if self.queued.load(Ordering::Acquire) >= RELAY_QUEUE_MAX {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "relay_busy",
                format!("{RELAY_QUEUE_MAX} relays are waiting; try again later"),
            ));
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        wallets.insert(wallet);
        Ok(Admission { stats: self, wallet })
    }

    /// Queues a checked claim for the next batch.
    pub(crate) fn push(&self, job: crate::relay::RelayJob) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(job);
    }

    /// Every claim waiting, oldest first, at most [`RELAY_QUEUE_MAX`] (the queue's bound). A
    /// claim whose caller has gone (timed out, disconnected) is dropped, not submitted.
    pub(crate) fn take(&self) -> Vec<crate::relay::RelayJob> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|job| !job.abandoned());
        let n = pending.len().min(RELAY_QUEUE_MAX);
        pending.drain(..n).collect()
    }

    /// Adds a transaction's fee to the fees spent.
    pub(crate) fn fee_paid(&self, fee: u128) {
        let mut fees = self.fees.lock().unwrap_or_else(PoisonError::into_inner);
        *fees = fees.saturating_add(fee);
    }

    pub(crate) fn fees_spent(&self) -> u128 {
        *self.fees.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_min_balance(&self, min: u128) {
        *self.min_balance.lock().unwrap_or_else(PoisonError::into_inner) = min;
    }

    pub(crate) fn min_balance(&self) -> u128 {
        *self.min_balance.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The relayer's last balances if read within [`BALANCES_MAX_AGE`].
    pub(crate) fn fresh_balances(&self) -> Option<RelayBalances> {
        match *self.balances.lock().unwrap_or_else(PoisonError::into_inner) {
            Some((b, at)) if at.elapsed() < BALANCES_MAX_AGE => Some(b),
            _ => None,
        }
    }

    /// The relayer's last balances, however old.
    pub(crate) fn last_balances(&self) -> Option<RelayBalances> {
        self.balances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|(b, _)| b)
    }

    pub(crate) fn set_balances(&self, b: RelayBalances) {
        *self.balances.lock().unwrap_or_else(PoisonError::into_inner) = Some((b, Instant::now()));
    }

    /// The relayer paid something: its balances are read again next time.
    pub(crate) fn balances_changed(&self) {
        if let Some((_, at)) = self
            .balances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            // Old enough to be read again (an uptime shorter than that is old enough anyway).
            *at = Instant::now().checked_sub(BALANCES_MAX_AGE).unwrap_or(*at);
        }
    }

    /// Whether `balances` are below `api.relay_min_balance`.
    pub(crate) fn is_low(&self, balances: &RelayBalances) -> bool {
        balances.native < self.min_balance()
    }

    /// Counts a relay's answer: a claim submitted, or refused by its error code.
    pub(crate) fn count(&self, result: Result<(), &ApiError>) {
        match result {
            Ok(()) => {
                self.submitted.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                *self
                    .refused
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(e.code())
                    .or_default() += 1;
            }
        }
    }

    /// `flex_relay_*` series; the balance gauges when `balances` were read.
    pub(crate) fn families(&self, out: &mut crate::metrics::Scrape, balances: Option<RelayBalances>) {
        out.counter(
            "flex_relay_fees_spent_total",
            "Transaction fees the relayer paid (approve and claim_batch, failed ones too), native base units.",
            u64::try_from(self.fees_spent()).unwrap_or(u64::MAX),
        );
        if let Some(b) = balances {
            // Base units as f64: 53 bits are plenty for a gauge and its alert threshold.
            out.gauge(
                "flex_relay_native_balance",
                "The relayer's free native balance (pays fees), base units.",
                b.native as f64,
            );
            out.gauge(
                "flex_relay_low_balance",
                "1 when the relayer's native balance is below api.relay_min_balance.",
                f64::from(u8::from(self.is_low(&b))),
            );
            if let Some(p) = b.payment {
                out.gauge(
                    "flex_relay_payment_balance",
                    "The relayer's balance of the payment token (pays claim costs), base units.",
                    p as f64,
                );
            }
        }
        out.counter(
            "flex_relay_claims_total",
            "Claims the relay submitted on chain.",
            self.submitted.load(Ordering::Relaxed),
        );
        out.gauge(
            "flex_relay_queue",
            "Relays waiting or running.",
            self.queued.load(Ordering::Relaxed) as f64,
        );
        // The two reasons that cost the relayer a fee are listed from the start (alerts rate them).
        let mut refused = self
            .refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for paid in ["chain_error", "claim_refused"] {
            refused.entry(paid).or_default();
        }
        let refused: Vec<(Vec<&str>, u64)> = refused.iter().map(|(code, n)| (vec![*code], *n)).collect();
        out.counters(
            "flex_relay_refused_total",
            "Relays refused, by error code (nothing paid unless the code is claim_refused or chain_error).",
            &["reason"],
            &refused,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_relay_per_wallet_and_a_bounded_queue() {
        let stats = RelayStats::default();
        let a = stats.admit(Address([1; 20])).unwrap();
        let again = stats.admit(Address([1; 20])).err().unwrap();
        assert_eq!(
            (again.status(), again.code()),
            (StatusCode::TOO_MANY_REQUESTS, "relay_in_progress")
        );
        let mut held: Vec<_> = (2..=RELAY_QUEUE_MAX as u8)
            .map(|i| stats.admit(Address([i; 20])).unwrap())
            .collect();
        let full = stats.admit(Address([0xee; 20])).err().unwrap();
        assert_eq!(full.code(), "relay_busy");
        // Places come back when answers are given.
        drop(a);
        held.pop();
        let _b = stats.admit(Address([1; 20])).unwrap();
        let _c = stats.admit(Address([0xee; 20])).unwrap();
        stats.count(Ok(()));
        stats.count(Err(&full));
        stats.count(Err(&full));
        stats.fee_paid(7);
        stats.fee_paid(5);
        stats.set_min_balance(100);
        let mut scrape = crate::metrics::Scrape::default();
        stats.families(
            &mut scrape,
            Some(RelayBalances {
                native: 99,
                payment: Some(3),
            }),
        );
        let text = scrape.text();
        assert!(text.contains("flex_relay_fees_spent_total 12\n"), "{text}");
        assert!(text.contains("flex_relay_native_balance 99\n"), "{text}");
        assert!(text.contains("flex_relay_low_balance 1\n"), "{text}");
        assert!(text.contains("flex_relay_payment_balance 3\n"), "{text}");
        assert!(text.contains("flex_relay_claims_total 1\n"), "{text}");
        assert!(
            text.contains("flex_relay_refused_total{reason=\"relay_busy\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!("flex_relay_queue {RELAY_QUEUE_MAX}\n")),
            "{text}"
        );
    }
}
