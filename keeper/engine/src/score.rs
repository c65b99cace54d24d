//! Epoch scores and reward multipliers (SPEC sections 4 and 5).

/// Score `F` (15): rank 1, and the connection epoch.
pub const F: u8 = 15;
/// Scores of rank >= 2 when fewer than 71 wallets are ranked.
pub const SMALL_EPOCH_SCORE: u8 = 8;
/// Rankings of at least this many wallets use the 70 sections.
pub const SECTIONS: u64 = 70;

/// Reward multiplier by score `0..=15` (`0:0 1:1 ... E:70 F:100`).
pub const MULTIPLIERS: [u8; 16] = [0, 1, 2, 3, 5, 7, 9, 12, 16, 18, 25, 30, 35, 50, 70, 100];

/// The section of rank `r` (1-based) among `n` ranked wallets: `70 - floor((r-1)*70/n)`, from 70
/// (top) down to 1 (bottom). Requires `1 <= r <= n`.
pub fn section(r: u64, n: u64) -> u8 {
    debug_assert!(r >= 1 && r <= n);
    // (r-1)*70 < n*70 <= 2^32 * 70 for any ranking that fits in memory; u128 keeps it exact anyway.
    let below = (u128::from(r - 1) * u128::from(SECTIONS)) / u128::from(n.max(1));
    // below <= 69 since r - 1 < n.
    70 - below as u8
}

/// The score of section `s` (1..=70), per the SPEC table.
pub fn section_score(s: u8) -> u8 {
    match s {
        0 | 1 => 1,
        2 => 2,
        3..=5 => 3,
        6..=8 => 4,
        9..=11 => 5,
        12..=13 => 6,
        14..=15 => 7,
        16..=30 => 8,
        31..=45 => 9,
        46..=55 => 0xA,
        56..=63 => 0xB,
        64..=67 => 0xC,
        68..=69 => 0xD,
        _ => 0xE,
    }
}

/// The score of rank `r` (1-based) among `n` ranked wallets.
pub fn rank_score(r: u64, n: u64) -> u8 {
    if r == 1 {
        F
    } else if n < 71 {
        SMALL_EPOCH_SCORE
    } else {
        section_score(section(r, n))
    }
}

/// The uppercase hex character of a score `0..=15`.
pub fn score_char(score: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(score & 15)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_rows() {
        // Each row of the SPEC table, both ends.
        let rows: [(u8, u8, u8); 14] = [
            (1, 1, 1),
            (2, 2, 2),
            (3, 5, 3),
            (6, 8, 4),
            (9, 11, 5),
            (12, 13, 6),
            (14, 15, 7),
            (16, 30, 8),
            (31, 45, 9),
            (46, 55, 0xA),
            (56, 63, 0xB),
            (64, 67, 0xC),
            (68, 69, 0xD),
            (70, 70, 0xE),
        ];
        for (lo, hi, score) in rows {
            for s in lo..=hi {
                assert_eq!(section_score(s), score, "section {s}");
            }
        }
        // With N = 70 * k every section holds exactly k ranks.
        let n = 140;
        let mut hits = [0u32; 16];
        for r in 2..=n {
            hits[usize::from(rank_score(r, n))] += 1;
        }
        assert_eq!(&hits[1..15], &[2, 2, 6, 6, 6, 4, 4, 30, 30, 20, 16, 8, 4, 1]);
        // E lost rank 1 to F
    }

    #[test]
    fn small_and_boundary_rankings() {
        // N = 1: the only wallet is rank 1 -> F.
        assert_eq!(rank_score(1, 1), F);
        // N = 70: under 71 -> F then 8s.
        assert_eq!(rank_score(1, 70), F);
        assert!((2..=70).all(|r| rank_score(r, 70) == 8));
        // N = 71: s(r) = 70 - floor((r-1)*70/71). r = 2 -> 70 - 0 = 70 -> E; r = 71 -> 70 - 69 = 1.
        assert_eq!(rank_score(2, 71), 0xE);
        assert_eq!(section(71, 71), 1);
        assert_eq!(rank_score(71, 71), 1);
        // sections 70 holds r = 1, 2 (floor(70/71) = 0, floor(140/71) = 1): r = 3 -> section 69 -> D.
        assert_eq!(rank_score(3, 71), 0xD);
        // N = 72: r = 72 -> 70 - floor(71*70/72) = 70 - 69 = 1; r = 37 -> 70 - floor(36*70/72) = 35 -> 9.
        assert_eq!(section(72, 72), 1);
        assert_eq!(rank_score(37, 72), 9);
    }

    proptest! {
        #[test]
        fn sections_balanced_and_monotone(n in 71u64..5000) {
            let mut sizes = [0u64; 71];
            let mut last = F;
            for r in 1..=n {
                let s = section(r, n);
                prop_assert!((1..=70).contains(&s));
                sizes[usize::from(s)] += 1;
                let sc = rank_score(r, n);
                prop_assert!(sc <= last, "score rises at rank {}", r);
                last = sc;
            }
            let min = sizes[1..].iter().min().copied().unwrap_or(0);
            let max = sizes[1..].iter().max().copied().unwrap_or(0);
            prop_assert!(max - min <= 1);
            prop_assert!(min >= 1);
        }
    }
}
