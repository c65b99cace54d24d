//! One epoch (SPEC sections 4 and 5): ranking, scores, multipliers and the largest-remainder split.
//!
//! Inputs are indexed by *position*: callers pass the epoch's connected wallets sorted by address,
//! so "lower address bytes first" is "lower position first". [`crate::Replay`] does this.

use crate::score::{rank_score, F, MULTIPLIERS};

/// Who earns the connection `F` multiplier (SPEC section 5, "Connection bonus").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionBonus {
    /// Default: the connection `F` earns its multiplier only when the wallet was active in that epoch.
    #[default]
    Active,
    /// The connection `F` always earns its multiplier.
    Always,
}

/// A connected wallet in one epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalletEpoch {
    /// Its epoch weight as raw `U64F64` bits; active when > 0.
    pub weight: u128,
    /// Unix seconds of its first counted action in the epoch (any value when inactive).
    pub first_action: i64,
    /// Whether it connected in this epoch (scores `F`, not ranked).
    pub connected_now: bool,
}

/// The result of one epoch, aligned with the input positions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EpochOutcome {
    /// Score `0..=15` per position.
    pub scores: Vec<u8>,
    /// Reward multiplier per position (0 for a connection `F` without the bonus).
    pub multipliers: Vec<u8>,
    /// Reward in base units per position.
    pub rewards: Vec<u128>,
    /// Active wallets, newly connected ones included.
    pub active: u64,
    /// Ranked wallets `N`.
    pub ranked: u64,
    /// `S`, the sum of the multipliers.
    pub multiplier_sum: u64,
    /// What the split paid: `pool` when `S > 0`, else 0.
    pub distributed: u128,
}

/// Ranks the active wallets that did not connect in this epoch: weight descending, then earlier
/// first action, then lower position (address). Returns their positions, rank 1 first.
pub fn rank(wallets: &[WalletEpoch]) -> Vec<u32> {
    let mut keys: Vec<RankKey> = wallets
        .iter()
        .enumerate()
        .filter(|(_, w)| w.weight > 0 && !w.connected_now)
        .map(|(i, w)| RankKey {
            neg_weight: !w.weight,
            first: w.first_action,
            pos: i as u32,
        })
        .collect();
    sort_keys(&mut keys);
    keys.into_iter().map(|k| k.pos).collect()
}

/// The sort key: ascending order of `(!weight, first, pos)` is the ranking order. All keys are
/// distinct (positions are), so an unstable sort is deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RankKey {
    neg_weight: u128,
    first: i64,
    pos: u32,
}

fn sort_keys(keys: &mut [RankKey]) {
    keys.sort_unstable();
}

/// Scores and multipliers per position, given the ranking from [`rank`].
pub fn score(wallets: &[WalletEpoch], ranking: &[u32], bonus: ConnectionBonus) -> (Vec<u8>, Vec<u8>) {
    let mut scores = vec![0u8; wallets.len()];
    let mut multipliers = vec![0u8; wallets.len()];
    for (i, w) in wallets.iter().enumerate() {
        if w.connected_now {
            scores[i] = F;
            if w.weight > 0 || bonus == ConnectionBonus::Always {
                multipliers[i] = MULTIPLIERS[usize::from(F)];
            }
        }
    }
    let n = ranking.len() as u64;
    for (r, &pos) in ranking.iter().enumerate() {
        let s = rank_score(r as u64 + 1, n);
        scores[pos as usize] = s;
        multipliers[pos as usize] = MULTIPLIERS[usize::from(s)];
    }
    (scores, multipliers)
}

/// Splits `pool` by `multipliers` (SPEC section 5): wallet `a` gets `floor(pool * M_a / S)`; the
/// units left over go one each to the largest remainders `(pool * M_a) mod S`, ties to the larger
/// multiplier, then the lower position. Returns the rewards and what was paid (`pool`, or 0 when
/// `S = 0`).
///
/// Exact for every `u128` pool without wider arithmetic: with `pool = q*S + r0` (`r0 < S < 2^64`),
/// `pool*M = q*M*S + r0*M`, so `floor(pool*M/S) = q*M + floor(r0*M/S)` and
/// `(pool*M) mod S = (r0*M) mod S`; `q*M <= pool` and `r0*M < 2^71`.
pub fn split(pool: u128, multipliers: &[u8]) -> (Vec<u128>, u128) {
    let mut rewards = vec![0u128; multipliers.len()];
    let s: u64 = multipliers.iter().map(|&m| u64::from(m)).sum();
    if s == 0 || pool == 0 {
        return (rewards, 0);
    }
    let s128 = u128::from(s);
    let (q, r0) = (pool / s128, pool % s128);
    let mut paid: u128 = 0;
    // (remainder, multiplier, position) of every wallet with a nonzero remainder.
    let mut rest: Vec<(u64, u8, u32)> = Vec::new();
    for (i, &m) in multipliers.iter().enumerate() {
        if m == 0 {
            continue;
        }
        let m128 = u128::from(m);
        let prod = r0 * m128;
        let base = q * m128 + prod / s128;
        rewards[i] = base;
        paid += base;
        let rem = (prod % s128) as u64;
        if rem > 0 {
            rest.push((rem, m, i as u32));
        }
    }
    // Sum of remainders = left * S with each remainder < S, so left < rest.len() (or both 0).
    let left = (pool - paid) as usize;
    if left > 0 {
        let order =
            |a: &(u64, u8, u32), b: &(u64, u8, u32)| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2));
        if left < rest.len() {
            rest.select_nth_unstable_by(left - 1, order);
        }
        for &(_, _, pos) in rest.iter().take(left) {
            rewards[pos as usize] += 1;
        }
    }
    (rewards, pool)
}

/// One epoch: ranking, scores, multipliers and the split of `pool`.
pub fn compute(wallets: &[WalletEpoch], pool: u128, bonus: ConnectionBonus) -> EpochOutcome {
    let ranking = rank(wallets);
    let (scores, multipliers) = score(wallets, &ranking, bonus);
    let (rewards, distributed) = split(pool, &multipliers);
    EpochOutcome {
        active: wallets.iter().filter(|w| w.weight > 0).count() as u64,
        ranked: ranking.len() as u64,
        multiplier_sum: multipliers.iter().map(|&m| u64::from(m)).sum(),
        scores,
        multipliers,
        rewards,
        distributed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn active(weight: u128, first: i64) -> WalletEpoch {
        WalletEpoch {
            weight,
            first_action: first,
            connected_now: false,
        }
    }

    #[test]
    fn tie_breaks() {
        let w = [
            active(5, 100),
            active(5, 50),
            active(7, 999),
            active(5, 50),
            active(0, 0),
        ];
        // 7 first; then weight 5: first action 50 (positions 1, 3 -> lower position first), then 100.
        assert_eq!(rank(&w), vec![2, 1, 3, 0]);
    }

    #[test]
    fn connection_bonus_switch() {
        let w = [
            WalletEpoch {
                weight: 0,
                first_action: 0,
                connected_now: true,
            },
            WalletEpoch {
                weight: 1 << 64,
                first_action: 0,
                connected_now: true,
            },
            active(1 << 64, 0),
        ];
        let o = compute(&w, 1000, ConnectionBonus::Active);
        assert_eq!(o.scores, vec![15, 15, 15]);
        assert_eq!(o.multipliers, vec![0, 100, 100]);
        assert_eq!(o.rewards, vec![0, 500, 500]);
        assert_eq!((o.active, o.ranked, o.multiplier_sum), (2, 1, 200));
        let o = compute(&w, 1000, ConnectionBonus::Always);
        assert_eq!(o.multipliers, vec![100, 100, 100]);
        // 1000/3 = 333 r 1 each; one unit left: equal remainders and multipliers -> lowest position.
        assert_eq!(o.rewards, vec![334, 333, 333]);
    }

    #[test]
    fn n_zero_nothing_distributed() {
        let w = [active(0, 0), active(0, 0)];
        let o = compute(&w, 1_000_000, ConnectionBonus::Active);
        assert_eq!(o.scores, vec![0, 0]);
        assert_eq!((o.ranked, o.multiplier_sum, o.distributed), (0, 0, 0));
        assert_eq!(o.rewards, vec![0, 0]);
        let o = compute(&[], 5, ConnectionBonus::Active);
        assert_eq!(o.distributed, 0);
    }

    #[test]
    fn n_one() {
        let o = compute(&[active(0, 0), active(3, 9)], 777, ConnectionBonus::Active);
        assert_eq!(o.scores, vec![0, 15]);
        assert_eq!(o.rewards, vec![0, 777]);
    }

    /// N wallets with distinct weights, position i having weight i + 1 (so rank r is position N - r).
    fn ladder(n: usize) -> Vec<WalletEpoch> {
        (0..n).map(|i| active(i as u128 + 1, 0)).collect()
    }

    #[test]
    fn n_70() {
        // Under 71: rank 1 F (100), the other 69 score 8 (16). S = 100 + 69*16 = 1204.
        let o = compute(&ladder(70), 1204 * 1000 + 5, ConnectionBonus::Active);
        assert_eq!(o.scores[69], 15);
        assert!(o.scores[..69].iter().all(|&s| s == 8));
        assert_eq!(o.multiplier_sum, 1204);
        // q = 1000, r0 = 5: F gets 100_000 + floor(500/1204) = 100_000 (rem 500); each 8 gets
        // 16_000 + floor(80/1204) = 16_000 (rem 80). 5 units left: F's remainder 500 is largest, then
        // four 8s with remainder 80, multiplier tie, lowest positions 0..=3.
        assert_eq!(o.rewards[69], 100_001);
        assert_eq!(&o.rewards[0..5], &[16_001, 16_001, 16_001, 16_001, 16_000]);
        assert_eq!(o.rewards.iter().sum::<u128>(), 1204 * 1000 + 5);
    }

    #[test]
    fn n_71_72_140() {
        // N = 71: r = 1 F; r = 2 section 70 -> E; r = 3..: s = 70 - floor((r-1)*70/71).
        let o = compute(&ladder(71), 0, ConnectionBonus::Active);
        let by_rank: Vec<u8> = (1..=71).map(|r| o.scores[71 - r]).collect();
        assert_eq!(&by_rank[..4], &[15, 0xE, 0xD, 0xD]); // r=3: 70-1=69 D; r=4: 70-2=68 D
        assert_eq!(by_rank[70], 1); // r = 71: 70 - floor(70*70/71) = 70 - 69 = 1
        assert_eq!(by_rank[69], 2); // r = 70: 70 - floor(69*70/71) = 70 - 68 = 2
                                    // N = 72: r = 72 -> section 1; r = 71 -> 70 - floor(70*70/72) = 70 - 68 = 2.
        let o = compute(&ladder(72), 0, ConnectionBonus::Active);
        assert_eq!((o.scores[0], o.scores[1]), (1, 2));
        // N = 140: two ranks per section; ranks 139, 140 are section 1 (score 1), 137-138 section 2.
        let o = compute(&ladder(140), 0, ConnectionBonus::Active);
        assert_eq!(&o.scores[0..4], &[1, 1, 2, 2]);
        assert_eq!(&o.scores[136..140], &[0xD, 0xD, 0xE, 15]);
    }

    #[test]
    fn split_no_overflow_near_u128_max() {
        let (r, paid) = split(u128::MAX, &[100, 70, 1]);
        assert_eq!(paid, u128::MAX);
        assert_eq!(r.iter().sum::<u128>(), u128::MAX);
        // S = 171; u128::MAX = 2^128 - 1; the F share is floor(MAX*100/171) or that + 1.
        let q = u128::MAX / 171;
        assert!(r[0] >= q * 100 && r[0] <= q * 100 + 100);
    }

    #[test]
    fn split_tie_prefers_larger_multiplier() {
        // S = 3 (2 + 1), pool = 1: remainders 2*1 mod 3 = 2 and 1 mod 3 = 1 -> the 2 gets it.
        assert_eq!(split(1, &[1, 2]).0, vec![0, 1]);
        // S = 4 (2 + 2), pool 1: remainders 2 and 2, multipliers equal -> lower position.
        assert_eq!(split(1, &[2, 2]).0, vec![1, 0]);
        // S = 3 (1 + 2), pool 2: remainders 2 and 1 (4 mod 3): the wallet with M=1 gets it.
        assert_eq!(split(2, &[1, 2]).0, vec![1, 1]);
        // S = 6 (2 + 4), pool = 1: remainders 2 and 4 -> the M=4 wallet.
        assert_eq!(split(1, &[2, 4]).0, vec![0, 1]);
        // S = 2+4+6 = 12, pool 3: remainders 6, 12 mod 12 = 0 (exact 1), 18 mod 12 = 6: tie 6/6 ->
        // larger multiplier (6) first.
        assert_eq!(split(3, &[2, 4, 6]).0, vec![0, 1, 2]);
    }

    fn arb_wallets() -> impl Strategy<Value = Vec<WalletEpoch>> {
        prop::collection::vec((0u128..6, 0i64..4, prop::bool::weighted(0.1)), 0..300).prop_map(|v| {
            v.into_iter()
                .map(|(w, f, c)| WalletEpoch {
                    weight: w << 60,
                    first_action: f,
                    connected_now: c,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn split_sums_to_pool(pool in any::<u128>(), ms in prop::collection::vec(0u8..=100, 0..200)) {
            let (r, paid) = split(pool, &ms);
            let s: u64 = ms.iter().map(|&m| u64::from(m)).sum();
            let total = r.iter().try_fold(0u128, |a, &b| a.checked_add(b));
            prop_assert_eq!(total, Some(paid));
            prop_assert_eq!(paid, if s == 0 { 0 } else { pool });
            for (i, &m) in ms.iter().enumerate() {
                if m == 0 { prop_assert_eq!(r[i], 0); }
            }
        }

        #[test]
        fn ranking_distinct_and_monotone(ws in arb_wallets(), bonus in any::<bool>()) {
            let bonus = if bonus { ConnectionBonus::Always } else { ConnectionBonus::Active };
            let ranking = rank(&ws);
            let mut seen = std::collections::HashSet::new();
            for &p in &ranking {
                prop_assert!(seen.insert(p), "position {} ranked twice", p);
            }
            for pair in ranking.windows(2) {
                let (a, b) = (ws[pair[0] as usize], ws[pair[1] as usize]);
                prop_assert!(a.weight >= b.weight);
                prop_assert!((a.weight, std::cmp::Reverse(a.first_action), std::cmp::Reverse(pair[0]))
                    > (b.weight, std::cmp::Reverse(b.first_action), std::cmp::Reverse(pair[1])));
            }
            let o = compute(&ws, 1_000_003, bonus);
            for pair in ranking.windows(2) {
                prop_assert!(o.scores[pair[0] as usize] >= o.scores[pair[1] as usize]);
            }
            // Heavier never scores lower.
            for pair in ranking.windows(2) {
                prop_assert!(o.rewards[pair[0] as usize] + 1 >= o.rewards[pair[1] as usize]);
            }
            prop_assert_eq!(o.rewards.iter().sum::<u128>(), o.distributed);
        }
    }
}
