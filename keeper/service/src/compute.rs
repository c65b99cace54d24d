//! Closing an epoch and a month from what the store holds: the engine's per-epoch computation
//! (`flex_engine::epoch::compute`, the same one `Replay` uses), the scores tree, the commitment;
//! and the month's claim tree and root.

use flex_engine::epoch::{self, ConnectionBonus, WalletEpoch};
use flex_engine::weight::widen;
use flex_engine::{Genesis, WeightTable};
use flex_ingest::WeightSchedule;
use flex_merkle::{ClaimLeaf, ScoreLeaf, StandardMerkleTree};
use flex_store::{Address, ClaimRow, EpochRecord, MonthRecord, Phase, ScoreRow, Store, StoredTree};

use flex_pool::{EpochCommitment, MonthRoot};

use crate::ServiceError;

use flex_engine::calendar::month_index_of;
pub use flex_engine::calendar::DAY;

/// Epoch `e`'s inputs, by ascending address: every wallet connected at or before `e`.
#[derive(Debug, Clone, Default)]
pub struct EpochInputs {
    pub wallets: Vec<Address>,
    pub inputs: Vec<WalletEpoch>,
    /// Actions in the epoch of wallets not (yet) connected, ignored.
    pub ignored_actions: u64,
    /// Actions in the epoch whose kind is not in the epoch's weight table version, ignored
    /// (`docs/PROTOCOL.md`, "Weight table versions").
    pub unweighted_actions: u64,
}

impl EpochInputs {
    pub fn active(&self) -> u64 {
        self.inputs.iter().filter(|w| w.weight > 0).count() as u64
    }
}

/// `[start, end)` of epoch `e`, unix seconds.
pub fn epoch_bounds(genesis: Genesis, e: u64) -> Result<(i64, i64), ServiceError> {
    let start = i64::try_from(genesis.epoch_start(e)).map_err(|_| ServiceError::EpochOutOfRange(e))?;
    Ok((start, start + DAY))
}

/// Reads epoch `e`'s inputs from the store with the weight table version in force in `e`.
pub fn epoch_inputs_versioned(
    store: &dyn Store,
    genesis: Genesis,
    weights: &dyn WeightSchedule,
    e: u64,
) -> Result<EpochInputs, ServiceError> {
    let table = weights.table_for_epoch(e).ok_or(ServiceError::NoWeightTable(e))?;
    epoch_inputs(store, genesis, table, e)
}

/// Reads epoch `e`'s inputs from the store; `table` is the epoch's weight table. An action whose
/// kind is not in it counts for nothing ([`EpochInputs::unweighted_actions`]).
pub fn epoch_inputs(
    store: &dyn Store,
    genesis: Genesis,
    table: &WeightTable,
    e: u64,
) -> Result<EpochInputs, ServiceError> {
    let (start, end) = epoch_bounds(genesis, e)?;
    let wallets = store.wallets_connected_before(end)?;
    let mut inputs: Vec<WalletEpoch> = wallets
        .iter()
        .map(|w| WalletEpoch {
            weight: 0,
            first_action: 0,
            connected_now: genesis.connection_epoch(w.connected_at) == e,
        })
        .collect();
    let mut ignored = 0u64;
    let mut unweighted = 0u64;
    // Sorted by wallet, the actions meet the (address-sorted) wallets in one linear merge instead
    // of a binary search each (cache misses dominated: 4 s -> under 1 s for 1.5M actions).
    let mut actions = store.actions_between(start, end)?;
    actions.sort_unstable_by_key(|a| a.0);
    let mut pos = 0usize;
    for (wallet, kind, ts) in actions {
        while pos < wallets.len() && wallets[pos].address < wallet {
            pos += 1;
        }
        if wallets.get(pos).is_none_or(|w| w.address != wallet) {
            ignored += 1;
            continue;
        }
        let Some(weight) = table.kind(&kind).and_then(|k| table.weight(k)).map(widen) else {
            unweighted += 1;
            continue;
        };
        let w = &mut inputs[pos];
        w.first_action = if w.weight == 0 { ts } else { ts.min(w.first_action) };
        w.weight = w
            .weight
            .checked_add(weight)
            .ok_or(ServiceError::Overflow("a wallet's weight sum (U64F64)"))?;
    }
    Ok(EpochInputs {
        wallets: wallets.iter().map(|w| w.address).collect(),
        inputs,
        ignored_actions: ignored,
        unweighted_actions: unweighted,
    })
}

/// The chain's view of the epoch's pool: `Wi`, `H`, `P_t`, `P_e`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFigures {
    pub wallet_index: u8,
    pub halving: u64,
    pub snapshot: u128,
    pub pool: u128,
}

/// An epoch computed and ready to store.
#[derive(Debug, Clone)]
pub struct ClosedEpoch {
    pub record: EpochRecord,
    pub rows: Vec<ScoreRow>,
    pub commitment: EpochCommitment,
}

impl ClosedEpoch {
    /// Puts the forecast's bits in the commitment (re-encoding it and its hash) and its report
    /// in the record.
    pub fn set_forecast(&mut self, f: &crate::forecast::EpochForecast) -> Result<(), ServiceError> {
        self.commitment.forecast = f.fixed_bits;
        self.record.forecast = f.fixed_bits;
        self.record.commitment = codec::Encode::encode(&self.commitment);
        self.record.commitment_hash = self.commitment.hash();
        self.record.forecast_detail = serde_json::to_string(f)?;
        Ok(())
    }
}

/// Computes epoch `e` from its inputs and the pool `P_e` (with no forecast: see
/// [`ClosedEpoch::set_forecast`]).
pub fn close_epoch(
    e: u64,
    genesis: Genesis,
    inputs: &EpochInputs,
    figures: PoolFigures,
    bonus: ConnectionBonus,
) -> Result<ClosedEpoch, ServiceError> {
    let out = epoch::compute(&inputs.inputs, figures.pool, bonus);
    let total_weight = inputs
        .inputs
        .iter()
        .try_fold(0u128, |acc, w| acc.checked_add(w.weight));
    let total_weight = total_weight.ok_or(ServiceError::Overflow("the total weight"))?;
    let rows: Vec<ScoreRow> = inputs
        .wallets
        .iter()
        .zip(&out.scores)
        .zip(&inputs.inputs)
        .zip(&out.rewards)
        .map(|(((w, s), i), r)| ScoreRow {
            wallet: *w,
            score: *s,
            weight: i.weight,
            reward: *r,
        })
        .collect();
    let scores_root = if rows.is_empty() {
        [0u8; 32]
    } else {
        let leaves = rows
            .iter()
            .map(|r| ScoreLeaf {
                epoch: e,
                wallet: r.wallet,
                score: r.score,
                weight_bits: r.weight,
                reward: r.reward,
            })
            .collect();
        StandardMerkleTree::of(leaves)?.root()
    };
    let commitment = EpochCommitment {
        epoch: e,
        scores_root,
        active_count: out.active,
        total_weight_bits: total_weight,
        multiplier_sum: u128::from(out.multiplier_sum),
        pool: figures.pool,
        forecast: 0,
    };
    let (start, _) = epoch_bounds(genesis, e)?;
    let record = EpochRecord {
        epoch: e,
        month_index: month_index_of(start),
        phase: Phase::Computed,
        commitment: codec::Encode::encode(&commitment),
        commitment_hash: commitment.hash(),
        scores_root,
        active: out.active,
        ranked: out.ranked,
        multiplier_sum: u128::from(out.multiplier_sum),
        total_weight,
        pool: figures.pool,
        distributed: out.distributed,
        wallet_index: figures.wallet_index,
        halving: figures.halving,
        snapshot: figures.snapshot,
        forecast: 0,
        forecast_detail: String::new(),
        wallets: rows.len() as u64,
        voted: false,
        note: String::new(),
        updated_at: 0,
    };
    Ok(ClosedEpoch {
        record,
        rows,
        commitment,
    })
}

/// A month closed: its root and claim tree.
#[derive(Debug, Clone)]
pub struct ClosedMonth {
    pub record: MonthRecord,
    pub tree: StoredTree,
    pub root: MonthRoot,
}

/// A claim tree as the store keeps it: its nodes, and each leaf's wallet, amount and position.
pub fn stored_tree(tree: &StandardMerkleTree<ClaimLeaf>) -> Result<StoredTree, ServiceError> {
    let mut rows = Vec::with_capacity(tree.len());
    for (v, leaf) in tree.values().iter().enumerate() {
        rows.push(ClaimRow {
            wallet: leaf.wallet,
            amount: leaf.amount,
            tree_index: u32::try_from(tree.tree_index(v)?)
                .map_err(|_| ServiceError::ClaimTreeTooLarge(leaf.month_index))?,
        });
    }
    Ok(StoredTree {
        root: tree.root(),
        nodes: tree.tree().to_vec(),
        leaves: rows,
    })
}

/// The month's claim tree over epochs `[first, end)`: one leaf per wallet that earned something.
/// A month in which nobody earned has the zero root and total 0.
pub fn close_month(
    store: &dyn Store,
    month_index: u32,
    first: u64,
    end: u64,
    claim_price: u128,
) -> Result<ClosedMonth, ServiceError> {
    let totals: Vec<(Address, u128)> = store
        .reward_totals(first, end)?
        .into_iter()
        .filter(|(_, a)| *a > 0)
        .collect();
    let total = totals
        .iter()
        .try_fold(0u128, |acc, (_, a)| acc.checked_add(*a))
        .ok_or(ServiceError::Overflow("the month total"))?;
    let tree = if totals.is_empty() {
        StoredTree {
            root: [0; 32],
            nodes: Vec::new(),
            leaves: Vec::new(),
        }
    } else {
        let leaves: Vec<ClaimLeaf> = totals
            .iter()
            .map(|(wallet, amount)| ClaimLeaf {
                month_index,
                wallet: *wallet,
                amount: *amount,
            })
            .collect();
        stored_tree(&StandardMerkleTree::of(leaves)?)?
    };
    let root = MonthRoot {
        month_index,
        claims_root: tree.root,
        total,
        claim_price,
    };
    let record = MonthRecord {
        month_index,
        phase: Phase::Computed,
        root: codec::Encode::encode(&root),
        root_hash: root.hash(),
        claims_root: tree.root,
        total,
        claim_price,
        first_epoch: first,
        end_epoch: end,
        claims: tree.leaves.len() as u64,
        voted: false,
        note: String::new(),
        updated_at: 0,
    };
    Ok(ClosedMonth { record, tree, root })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flex_engine::{Action, Address as EAddr, Replay, ReplayConfig, Wallet};
    use flex_store::{ActionRow, SqliteStore, WalletRow};

    /// Two weight table versions: epochs before the change use the first, from the change on the
    /// second; a kind dropped by the second counts nothing there (and is reported).
    #[test]
    fn each_epoch_uses_its_weight_table_version() {
        use flex_ingest::{WeightVersion, WeightVersions};
        let g = Genesis::new(1_769_644_800).unwrap();
        let table = |pairs: &[(&str, &str)]| {
            let mut t = WeightTable::new();
            for (k, w) in pairs {
                t.insert_str(k, w).unwrap();
            }
            t
        };
        let versions = WeightVersions::new(vec![
            WeightVersion {
                from_epoch: 0,
                table: table(&[("swap", "2.5"), ("post", "1")]),
                origin: "w0".into(),
            },
            WeightVersion {
                from_epoch: 2,
                table: table(&[("swap", "4")]),
                origin: "w2".into(),
            },
        ])
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
        let a = Address([7u8; 20]);
        let mut actions = Vec::new();
        for e in 0..4i64 {
            for (i, kind) in ["swap", "post"].iter().enumerate() {
                actions.push(ActionRow {
                    action_id: format!("{e}-{kind}"),
                    wallet: a,
                    kind: kind.to_string(),
                    side: "onchain".into(),
                    timestamp: g.unix_seconds() + e * DAY + i as i64,
                });
            }
        }
        let w = [WalletRow {
            address: a,
            connected_at: g.unix_seconds() - 10,
        }];
        store.import("t", &w, &actions).unwrap();
        let bits = |x: &str| widen(flex_engine::weight::parse_weight(x).unwrap());
        let weight = |e| {
            let i = epoch_inputs_versioned(&store, g, &versions, e).unwrap();
            (i.inputs[0].weight, i.unweighted_actions)
        };
        assert_eq!(weight(0), (bits("2.5") + bits("1"), 0));
        assert_eq!(weight(1), (bits("2.5") + bits("1"), 0));
        assert_eq!(weight(2), (bits("4"), 1));
        assert_eq!(weight(3), (bits("4"), 1));
    }

    /// The store-driven epoch close gives the same figures as the engine's `Replay` over the
    /// same activity (pool taken from the replay, as the chain would give it).
    #[test]
    fn matches_the_engine_replay() {
        let g = Genesis::new(1_769_644_800).unwrap();
        let mut table = WeightTable::new();
        let swap = table.insert_str("swap", "2.5").unwrap();
        let post = table.insert_str("post", "1").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
        let mut wallets = Vec::new();
        let mut actions = Vec::new();
        let mut rows_w = Vec::new();
        let mut rows_a = Vec::new();
        // 90 wallets so that the sectioned scoring (N >= 71) is exercised.
        for i in 0..90u32 {
            let mut a = [0u8; 20];
            a[0] = (i * 37 % 251) as u8;
            a[19] = i as u8;
            let at = g.unix_seconds() - 100 + i64::from(i % 3) * DAY;
            wallets.push(Wallet {
                address: EAddr(a),
                connected_at: at,
            });
            rows_w.push(WalletRow {
                address: EAddr(a),
                connected_at: at,
            });
            for k in 0..(i % 5) {
                let ts =
                    g.unix_seconds() + i64::from((i + k) % 3) * DAY + i64::from(k) * 7000 + i64::from(i) * 13;
                let kind = if k % 2 == 0 { swap } else { post };
                actions.push(Action {
                    wallet: i,
                    kind,
                    timestamp: ts,
                });
                rows_a.push(ActionRow {
                    action_id: format!("{i}-{k}"),
                    wallet: EAddr(a),
                    kind: table.name(kind).unwrap().to_string(),
                    side: "onchain".into(),
                    timestamp: ts,
                });
            }
        }
        store.import("test", &rows_w, &rows_a).unwrap();
        let config = ReplayConfig {
            genesis: g,
            balance: 10_000_000,
            bonus: ConnectionBonus::Active,
            epochs: Some(3),
        };
        let mut replay = Replay::new(&wallets, &actions, &table, config).unwrap();
        while let Some(report) = replay.next_epoch() {
            let inputs = epoch_inputs(&store, g, &table, report.epoch).unwrap();
            let figures = PoolFigures {
                wallet_index: report.wallet_index,
                halving: report.halving,
                snapshot: report.balance,
                pool: report.pool,
            };
            let closed = close_epoch(report.epoch, g, &inputs, figures, ConnectionBonus::Active).unwrap();
            assert_eq!(closed.record.active, report.active);
            assert_eq!(closed.record.distributed, report.distributed);
            assert_eq!(closed.record.total_weight, report.total_weight);
            assert_eq!(
                closed.rows.iter().map(|r| r.wallet).collect::<Vec<_>>(),
                report.wallets.to_vec()
            );
            assert_eq!(
                closed.rows.iter().map(|r| r.score).collect::<Vec<_>>(),
                report.scores
            );
            assert_eq!(
                closed.rows.iter().map(|r| r.reward).collect::<Vec<_>>(),
                report.rewards
            );
            store.save_epoch(&closed.record, &closed.rows).unwrap();
        }
        let month = close_month(&store, 2026 * 12, 0, 3, 7).unwrap();
        assert!(month.record.total > 0);
        let tree = &month.tree;
        for leaf in &tree.leaves {
            let proof = flex_merkle::core::get_proof(&tree.nodes, leaf.tree_index as usize).unwrap();
            let l = ClaimLeaf {
                month_index: 2026 * 12,
                wallet: leaf.wallet,
                amount: leaf.amount,
            };
            assert!(flex_merkle::verify(&tree.root, &l, &proof));
        }
    }
}
