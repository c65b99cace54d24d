//! The relay's admission and accounting: a bounded queue (429 `relay_busy` when full), one relay
//! in flight per wallet (429 `relay_in_progress`), and counts of relayed and refused claims for
//! `/metrics`.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::http::StatusCode;
use flex_types::Address;

use crate::error::ApiError;

/// Relays waiting or running at once; more are answered 429 at once instead of queueing behind
/// the relayer's one-at-a-time transactions for minutes.
pub(crate) const RELAY_QUEUE_MAX: usize = 16;

#[derive(Default)]
pub(crate) struct RelayStats {
    queued: AtomicUsize,
    wallets: Mutex<HashSet<Address>>,
    submitted: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
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

    /// `flex_relay_*` series.
    pub(crate) fn families(&self, out: &mut crate::metrics::Scrape) {
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
        let mut scrape = crate::metrics::Scrape::default();
        stats.families(&mut scrape);
        let text = scrape.text();
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
