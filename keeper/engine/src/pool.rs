//! The epoch pool (SPEC section 5): halving, wallet index and `P_e`.

/// Epochs per halving.
pub const HALVING_EPOCHS: u64 = 365;
/// The wallet index cap, in hundredths (1.00).
pub const WALLET_INDEX_CAP: u8 = 100;

/// The halving number `H = floor(e / 365)`.
pub fn halving(epoch: u64) -> u64 {
    epoch / HALVING_EPOCHS
}

/// `P_e = floor(P_t * Wi / (10000 * 2^H))`, exact for every `u128` balance.
///
/// `P_t * Wi` can exceed `u128`, so it is split: with `P_t = q*10000 + r`,
/// `floor(P_t*Wi/10000) = q*Wi + floor(r*Wi/10000)` (no term overflows, as `Wi <= 100`), and
/// `floor(floor(x/10000) / 2^H) = floor(x / (10000 * 2^H))` for integers, so the halving is a shift.
pub fn epoch_pool(balance: u128, wallet_index: u8, halving: u64) -> u128 {
    let wi = u128::from(wallet_index.min(WALLET_INDEX_CAP));
    let (q, r) = (balance / 10_000, balance % 10_000);
    let x = q * wi + r * wi / 10_000;
    if halving >= 128 {
        0
    } else {
        x >> halving
    }
}

/// The wallet index `Wi` in hundredths, epoch after epoch: 0 at epoch 0; for `e >= 1` it rises by
/// one when the epoch's active count is greater than that of every earlier epoch, capped at 100.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalletIndex {
    value: u8,
    best: Option<u64>,
}

impl WalletIndex {
    /// The index before epoch 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next epoch's active count (epochs in order from 0) and returns that epoch's `Wi`.
    pub fn advance(&mut self, active: u64) -> u8 {
        match self.best {
            None => self.value = 0,
            Some(best) if active > best => self.value = (self.value + 1).min(WALLET_INDEX_CAP),
            Some(_) => {}
        }
        self.best = Some(self.best.map_or(active, |b| b.max(active)));
        self.value
    }

    /// The current value.
    pub fn value(&self) -> u8 {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn halving_boundary() {
        assert_eq!(halving(364), 0);
        assert_eq!(halving(365), 1);
        assert_eq!(halving(729), 1);
        assert_eq!(halving(730), 2);
        // P_t = 1_000_000, Wi = 100 (1%): epoch 364 -> 10_000, epoch 365 -> 5_000.
        assert_eq!(epoch_pool(1_000_000, 100, halving(364)), 10_000);
        assert_eq!(epoch_pool(1_000_000, 100, halving(365)), 5_000);
        // Odd values floor: 1_000_100 * 37 / 10000 = 3700.37 -> 3700; / 2 -> 1850.
        assert_eq!(epoch_pool(1_000_100, 37, 1), 1850);
        assert_eq!(epoch_pool(u128::MAX, 100, 200), 0);
        assert_eq!(epoch_pool(12345, 0, 0), 0);
    }

    #[test]
    fn no_overflow_at_u128_max() {
        // floor((2^128-1) * 100 / 10000) = floor((2^128-1)/100).
        assert_eq!(epoch_pool(u128::MAX, 100, 0), u128::MAX / 100);
        assert_eq!(epoch_pool(u128::MAX, 100, 1), u128::MAX / 200);
    }

    #[test]
    fn wallet_index_rises_on_new_highs_and_caps() {
        let mut wi = WalletIndex::new();
        assert_eq!(wi.advance(5), 0); // epoch 0 is always 0
        assert_eq!(wi.advance(5), 0); // equal is not greater
        assert_eq!(wi.advance(6), 1);
        assert_eq!(wi.advance(3), 1);
        assert_eq!(wi.advance(6), 1);
        assert_eq!(wi.advance(7), 2);
        // 200 strictly rising epochs: capped at 100.
        let mut wi = WalletIndex::new();
        let mut last = 0;
        for e in 0..200u64 {
            last = wi.advance(e + 1);
            if e <= 100 {
                assert_eq!(u64::from(last), e);
            }
        }
        assert_eq!(last, 100);
    }

    proptest! {
        #[test]
        fn pool_matches_wide_arithmetic(balance in any::<u128>(), wi in 0u8..=100, h in 0u64..140) {
            // Reference: 256-bit product via two 128-bit halves.
            let (hi, lo) = mul_128_by_small(balance, u128::from(wi));
            let q = div_256_by_small(hi, lo, 10_000);
            let expect = if h >= 128 { 0 } else { q >> h };
            prop_assert_eq!(epoch_pool(balance, wi, h), expect);
        }
    }

    fn mul_128_by_small(a: u128, b: u128) -> (u128, u128) {
        let (a_hi, a_lo) = (a >> 64, a & u128::from(u64::MAX));
        let lo = a_lo * b;
        let mid = a_hi * b + (lo >> 64);
        (mid >> 64, (mid << 64) | (lo & u128::from(u64::MAX)))
    }

    fn div_256_by_small(hi: u128, lo: u128, d: u128) -> u128 {
        // Long division by 64-bit limbs; the quotient fits u128 here.
        let limbs = [
            hi >> 64,
            hi & u128::from(u64::MAX),
            lo >> 64,
            lo & u128::from(u64::MAX),
        ];
        let mut rem = 0u128;
        let mut q = [0u128; 4];
        for (i, l) in limbs.iter().enumerate() {
            let cur = (rem << 64) | l;
            q[i] = cur / d;
            rem = cur % d;
        }
        (q[2] << 64) | q[3]
    }
}
