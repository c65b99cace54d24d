//! Epochs `0..n` from a wallet pool: connection epochs, epoch weights, the epoch computation, the
//! pool balance from snapshot to snapshot, and the score arrays.

use crate::epoch::{self, ConnectionBonus, WalletEpoch};
use crate::pool::{epoch_pool, halving, WalletIndex};
use crate::time::Genesis;
use crate::weight::{widen, WeightTable};
use crate::Address;
use crate::EngineError;

/// A wallet of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wallet {
    pub address: Address,
    /// Unix seconds.
    pub connected_at: i64,
}

/// An action, already deduplicated by `action_id` (see `flex-ingest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// Index into the wallet list given to [`Replay::new`].
    pub wallet: u32,
    /// Kind index in the [`WeightTable`].
    pub kind: u16,
    /// Unix seconds.
    pub timestamp: i64,
}

/// Replay settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayConfig {
    pub genesis: Genesis,
    /// The genesis snapshot of the pool's unallocated balance, in base units.
    pub balance: u128,
    pub bonus: ConnectionBonus,
    /// Epochs to replay; `None`: through the last epoch with a connection or a counted action.
    pub epochs: Option<u64>,
}

/// One replayed epoch. `wallets`, `scores`, `weights` and `rewards` are aligned: every wallet
/// connected at or before the epoch, by ascending address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochReport {
    pub epoch: u64,
    /// `Wi` in hundredths.
    pub wallet_index: u8,
    pub halving: u64,
    /// The snapshot `P_t` this epoch's pool was taken from.
    pub balance: u128,
    /// `P_e`.
    pub pool: u128,
    pub distributed: u128,
    pub active: u64,
    pub ranked: u64,
    pub multiplier_sum: u64,
    /// Sum of the epoch weights, raw `U64F64` bits.
    pub total_weight: u128,
    pub wallets: Vec<Address>,
    pub scores: Vec<u8>,
    /// Raw `U64F64` bits.
    pub weights: Vec<u128>,
    pub rewards: Vec<u128>,
}

/// A counted action, before aggregation (24 bytes).
#[derive(Debug, Clone, Copy)]
struct Counted {
    epoch: u64,
    first: i64,
    wallet: u32,
    kind: u16,
}

/// A wallet's activity in one epoch (32 bytes: the `U64F64` sum is kept as two `u64` halves so
/// that the struct needs no 16-byte alignment). Its epoch is given by `Replay::runs`.
#[derive(Debug, Clone, Copy)]
struct Activity {
    weight_hi: u64,
    weight_lo: u64,
    first: i64,
    wallet: u32,
}

impl Activity {
    fn weight(&self) -> u128 {
        (u128::from(self.weight_hi) << 64) | u128::from(self.weight_lo)
    }
}

/// A replay in progress: call [`Replay::next_epoch`] until it returns `None`. Epochs are produced
/// one at a time so that a long replay never holds more than one epoch's per-wallet results.
#[derive(Debug, Clone)]
pub struct Replay {
    addresses: Vec<Address>,
    connection: Vec<u64>,
    /// Activity by (epoch, wallet position).
    activity: Vec<Activity>,
    /// `(epoch, start in activity)` for each epoch with activity, ascending.
    runs: Vec<(u64, usize)>,
    run: usize,
    epochs: u64,
    next: u64,
    balance: u128,
    bonus: ConnectionBonus,
    wallet_index: WalletIndex,
    arrays: Vec<Vec<u8>>,
}

impl Replay {
    /// Validates the inputs and aggregates the actions into epoch weights; nothing is computed
    /// for any epoch until every input has been checked.
    ///
    /// Actions before genesis or before their wallet's connection epoch are ignored; actions in
    /// the connection epoch count. Wallets may come in any order; the same address twice is an error.
    pub fn new(
        wallets: &[Wallet],
        actions: &[Action],
        table: &WeightTable,
        config: ReplayConfig,
    ) -> Result<Self, EngineError> {
        if u32::try_from(wallets.len()).is_err() {
            return Err(EngineError::TooManyWallets(wallets.len()));
        }
        let g = config.genesis;
        // Sort by address; `slot[i]` is the sorted position of input wallet i.
        let mut order: Vec<u32> = (0..wallets.len() as u32).collect();
        order.sort_unstable_by_key(|&i| wallets[i as usize].address);
        if let Some(w) = order
            .windows(2)
            .find(|w| wallets[w[0] as usize].address == wallets[w[1] as usize].address)
        {
            return Err(EngineError::DuplicateWallet(wallets[w[0] as usize].address));
        }
        let mut slot = vec![0u32; wallets.len()];
        for (pos, &i) in order.iter().enumerate() {
            slot[i as usize] = pos as u32;
        }
        let addresses: Vec<Address> = order.iter().map(|&i| wallets[i as usize].address).collect();
        let connection: Vec<u64> = order
            .iter()
            .map(|&i| g.connection_epoch(wallets[i as usize].connected_at))
            .collect();

        let mut last = connection.iter().copied().max();
        let mut counted: Vec<Counted> = Vec::with_capacity(actions.len());
        for a in actions {
            let pos = *slot
                .get(a.wallet as usize)
                .ok_or(EngineError::UnknownWallet(a.wallet, wallets.len()))?;
            if table.weight(a.kind).is_none() {
                return Err(EngineError::UnknownKind(a.kind, table.len()));
            }
            let Some(e) = g.epoch_of(a.timestamp) else {
                continue;
            };
            if e < connection[pos as usize] {
                continue;
            }
            last = last.max(Some(e));
            counted.push(Counted {
                epoch: e,
                first: a.timestamp,
                wallet: pos,
                kind: a.kind,
            });
        }
        drop(slot);
        let epochs = config
            .epochs
            .unwrap_or_else(|| last.map_or(0, |l| l.saturating_add(1)));
        counted.retain(|a| a.epoch < epochs);
        counted.sort_unstable_by_key(|a| (a.epoch, a.wallet, a.first));
        // Merge each (epoch, wallet) run: exact weight sum, earliest action.
        let mut activity: Vec<Activity> = Vec::new();
        let mut runs: Vec<(u64, usize)> = Vec::new();
        let mut sum: u128 = 0;
        for (i, a) in counted.iter().enumerate() {
            let w = table.weight(a.kind).map_or(0, widen);
            let same = i > 0 && counted[i - 1].epoch == a.epoch && counted[i - 1].wallet == a.wallet;
            if same {
                sum = sum.checked_add(w).ok_or(EngineError::WeightOverflow)?;
            } else {
                if runs.last().is_none_or(|r| r.0 != a.epoch) {
                    runs.push((a.epoch, activity.len()));
                }
                sum = w;
                activity.push(Activity {
                    weight_hi: 0,
                    weight_lo: 0,
                    first: a.first,
                    wallet: a.wallet,
                });
            }
            if let Some(last) = activity.last_mut() {
                last.weight_hi = (sum >> 64) as u64;
                last.weight_lo = sum as u64;
            }
        }
        drop(counted);
        activity.shrink_to_fit();
        // No epoch total can overflow: each action adds at most 10 * 2^64 < 2^68 bits, and there
        // are fewer than 2^60 actions in any addressable memory.
        Ok(Replay {
            arrays: vec![Vec::new(); addresses.len()],
            addresses,
            connection,
            activity,
            runs,
            run: 0,
            epochs,
            next: 0,
            balance: config.balance,
            bonus: config.bonus,
            wallet_index: WalletIndex::new(),
        })
    }

    /// The number of epochs this replay produces.
    pub fn epochs(&self) -> u64 {
        self.epochs
    }

    /// The pool's unallocated balance: the snapshot the next epoch is taken from.
    pub fn balance(&self) -> u128 {
        self.balance
    }

    /// Computes the next epoch, or `None` when all are done.
    pub fn next_epoch(&mut self) -> Option<EpochReport> {
        if self.next >= self.epochs {
            return None;
        }
        let e = self.next;
        self.next += 1;
        let mut positions = Vec::new();
        let mut inputs = Vec::new();
        let slice: &[Activity] = match self.runs.get(self.run) {
            Some(&(epoch, start)) if epoch == e => {
                self.run += 1;
                let end = self.runs.get(self.run).map_or(self.activity.len(), |r| r.1);
                &self.activity[start..end]
            }
            _ => &[],
        };
        let mut acts = slice.iter().peekable();
        for (pos, &c) in self.connection.iter().enumerate() {
            let mut w = WalletEpoch {
                weight: 0,
                first_action: 0,
                connected_now: c == e,
            };
            if let Some(a) = acts.next_if(|a| a.wallet as usize == pos) {
                w.weight = a.weight();
                w.first_action = a.first;
            }
            if c <= e {
                positions.push(pos);
                inputs.push(w);
            }
        }

        let mut total_weight: u128 = 0;
        for w in &inputs {
            total_weight += w.weight; // cannot overflow, see `new`
        }
        let active = inputs.iter().filter(|w| w.weight > 0).count() as u64;
        let wi = self.wallet_index.advance(active);
        let h = halving(e);
        let pool = epoch_pool(self.balance, wi, h);
        let out = epoch::compute(&inputs, pool, self.bonus);
        let balance = self.balance;
        self.balance -= out.distributed;
        for (&pos, &s) in positions.iter().zip(&out.scores) {
            self.arrays[pos].push(s);
        }
        Some(EpochReport {
            epoch: e,
            wallet_index: wi,
            halving: h,
            balance,
            pool,
            distributed: out.distributed,
            active: out.active,
            ranked: out.ranked,
            multiplier_sum: out.multiplier_sum,
            total_weight,
            wallets: positions.iter().map(|&p| self.addresses[p]).collect(),
            scores: out.scores,
            weights: inputs.iter().map(|w| w.weight).collect(),
            rewards: out.rewards,
        })
    }

    /// The score arrays so far, by ascending address: each wallet connected by the last replayed
    /// epoch with its scores from its connection epoch on (index 0 is `F`).
    pub fn score_arrays(&self) -> impl Iterator<Item = (Address, &[u8])> + '_ {
        self.addresses
            .iter()
            .zip(&self.arrays)
            .zip(&self.connection)
            .filter(|(_, &c)| c < self.next)
            .map(|((a, s), _)| (*a, s.as_slice()))
    }
}

#[cfg(test)]
mod tests;
