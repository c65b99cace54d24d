//! Benchmark of one epoch's computation: weights -> ranks -> scores -> rewards.
//!
//! A plain binary (no harness, no timed assertions). Build, then run it directly so that no cargo
//! lock is held while it runs, under `/usr/bin/time -v` for the peak RSS:
//!
//! ```text
//! cargo bench -p flex-engine --bench epoch --no-run
//! /usr/bin/time -v target/release/deps/epoch-<hash> 10000000
//! ```
//!
//! Arguments: wallet counts (default 1000000 10000000). Every wallet is active and ranked (none
//! connected in the epoch). Weights are exact sums of 1..=8 table weights, so there are many ties
//! on weight, broken by first action and address, as in a real epoch.

use std::time::Instant;

use flex_engine::epoch::{rank, score, split, ConnectionBonus, WalletEpoch};
use flex_engine::weight::{parse_weight, widen};

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000, 10_000_000]
    } else {
        sizes
    };
    let table: Vec<u128> = ["1", "1.5", "2", "2.5", "3.25", "5", "7.75", "10"]
        .iter()
        .filter_map(|s| parse_weight(s).ok())
        .map(widen)
        .collect();
    for n in sizes {
        let mut rng: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let wallets: Vec<WalletEpoch> = (0..n)
            .map(|_| {
                let actions = 1 + next() % 8;
                let weight = (0..actions).map(|_| table[(next() % 8) as usize]).sum();
                WalletEpoch {
                    weight,
                    first_action: 1_767_225_600 + (next() % 86_400) as i64,
                    connected_now: false,
                }
            })
            .collect();
        let pool: u128 = 123_456_789_012_345_678_901_234_567;

        let t0 = Instant::now();
        let ranking = rank(&wallets);
        let t1 = Instant::now();
        let (scores, multipliers) = score(&wallets, &ranking, ConnectionBonus::Active);
        let t2 = Instant::now();
        let (rewards, paid) = split(pool, &multipliers);
        let t3 = Instant::now();

        assert_eq!(rewards.iter().sum::<u128>(), paid);
        let checksum = rewards
            .iter()
            .enumerate()
            .fold(0u128, |a, (i, &r)| a.wrapping_mul(31).wrapping_add(r ^ i as u128))
            ^ u128::from(scores.iter().map(|&s| u64::from(s)).sum::<u64>());
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        println!(
            "n={n} rank={:.0}ms score={:.0}ms split={:.0}ms total={:.0}ms (paid {paid}, checksum {checksum:x})",
            ms(t0, t1),
            ms(t1, t2),
            ms(t2, t3),
            ms(t0, t3)
        );
    }
}
