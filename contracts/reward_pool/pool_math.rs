//! Pool maths (SPEC section 5) and the claim cost (section 7): exact integer arithmetic, no
//! floating point, no `u128` overflow for any input.

/// The wallet index is kept in hundredths: 100 means 1.00.
pub const WALLET_INDEX_CAP: u8 = 100;

/// Epochs per halving.
pub const EPOCHS_PER_HALVING: u64 = 365;

/// `claim_price` is a fixed-point number with 18 decimals.
pub const PRICE_SCALE: u128 = 1_000_000_000_000_000_000;

/// The claim cost divisor: `price / 1e18` times 10 %, i.e. `amount * price / 1e19`.
pub const COST_DIVISOR: u128 = 10 * PRICE_SCALE;

/// The halving number `H = floor(e / 365)`.
pub fn halving(epoch: u64) -> u64 {
    epoch / EPOCHS_PER_HALVING
}

/// The wallet index of epoch `epoch`, given the previous epoch's index, the largest active count of
/// all earlier epochs and this epoch's active count: 0 at epoch 0; from epoch 1 on it rises by one
/// hundredth when `active_count` beats every earlier epoch, capped at 100.
pub fn wallet_index(epoch: u64, previous: u8, max_active_before: u64, active_count: u64) -> u8 {
    if epoch == 0 {
        0
    } else if active_count > max_active_before && previous < WALLET_INDEX_CAP {
        previous.saturating_add(1)
    } else {
        previous
    }
}

/// `P_e = floor(P_t * Wi / (10000 * 2^H))`, exactly.
///
/// With `P_t = q*10000 + r`: `P_t*Wi/10000 = q*Wi + r*Wi/10000`, and `q*Wi` is an integer, so
/// `floor(P_t*Wi/10000) = q*Wi + floor(r*Wi/10000)`; neither product can overflow (`Wi <= 255`,
/// `q <= u128::MAX / 10000`, `r < 10000`). Then `floor(floor(x)/2^H) = floor(x/2^H)`, a right
/// shift, and any `H >= 128` gives 0. (The saturating operations cannot saturate; ink!'s build
/// denies plain operators that could overflow.)
pub fn epoch_pool(snapshot: u128, wallet_index: u8, halving: u64) -> u128 {
    let wi = u128::from(wallet_index);
    let (q, r) = (snapshot / 10_000, snapshot % 10_000);
    let scaled = q.saturating_mul(wi).saturating_add(r.saturating_mul(wi) / 10_000);
    u32::try_from(halving)
        .ok()
        .and_then(|h| scaled.checked_shr(h))
        .unwrap_or(0)
}

/// The claim cost `ceil(amount * price / 1e19)`: `amount` reward-token base units at `price`
/// payment-token base units per reward-token base unit (18-decimal fixed point), times 10 %,
/// rounded up in favour of the treasury. `None` only when the cost itself exceeds `u128`.
///
/// With `D = 1e19`, `a = aq*D + ar` and `b = bq*D + br`:
/// `a*b/D = a*bq + aq*br + ar*br/D`, where `aq*br < a` and `ar*br < D^2 < 2^127` cannot
/// overflow, and an overflow of `a*bq` or of the sum means the cost itself is above `u128::MAX`.
pub fn claim_cost(amount: u128, price: u128) -> Option<u128> {
    const D: u128 = COST_DIVISOR;
    let (aq, ar) = (amount / D, amount % D);
    let (bq, br) = (price / D, price % D);
    let low = ar.checked_mul(br)?;
    let round_up = u128::from(low % D != 0);
    amount
        .checked_mul(bq)?
        .checked_add(aq.checked_mul(br)?)?
        .checked_add(low / D)?
        .checked_add(round_up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wallet_index_grows_only_on_new_highs_and_caps() {
        assert_eq!(wallet_index(0, 0, 0, 1_000), 0);
        assert_eq!(wallet_index(1, 0, 10, 11), 1);
        assert_eq!(wallet_index(2, 1, 11, 11), 1); // equal is not greater
        assert_eq!(wallet_index(3, 1, 11, 5), 1);
        assert_eq!(wallet_index(4, 99, 11, 12), 100);
        assert_eq!(wallet_index(5, 100, 12, 13), 100);
    }

    #[test]
    fn pool_formula() {
        assert_eq!(halving(364), 0);
        assert_eq!(halving(365), 1);
        assert_eq!(epoch_pool(1_000_000, 0, 0), 0);
        assert_eq!(epoch_pool(1_000_000, 1, 0), 100); // 0.01 %
        assert_eq!(epoch_pool(1_000_000, 100, 0), 10_000); // 1 %
        assert_eq!(epoch_pool(1_000_000, 100, 1), 5_000);
        assert_eq!(epoch_pool(1_000_000, 37, 2), 925);
        assert_eq!(epoch_pool(9_999, 100, 0), 99); // floor
        assert_eq!(epoch_pool(u128::MAX, 100, 127), 0);
        assert_eq!(epoch_pool(u128::MAX, 100, 128), 0);
        assert_eq!(epoch_pool(u128::MAX, 100, u64::MAX), 0);
        // No overflow at the top, and equal to the wide computation.
        assert_eq!(epoch_pool(u128::MAX, 100, 0), u128::MAX / 100);
        assert_eq!(epoch_pool(u128::MAX, 3, 5), wide_reference(u128::MAX, 3, 5));
    }

    /// `floor(p*wi/(10000*2^h))` computed with a 256-bit product as two `u128` halves.
    fn wide_reference(p: u128, wi: u128, h: u32) -> u128 {
        let (p_hi, p_lo) = (p >> 64, p & u128::from(u64::MAX));
        let lo = p_lo * wi;
        let hi = p_hi * wi + (lo >> 64);
        // value = hi*2^64 + (lo mod 2^64); divide by 10000 by long division on 64-bit limbs.
        let (q_hi, rem) = (hi / 10_000, hi % 10_000);
        let q_lo = ((rem << 64) | (lo & u128::from(u64::MAX))) / 10_000;
        ((q_hi << 64) | q_lo) >> h
    }

    #[test]
    fn pool_matches_wide_reference() {
        let mut x: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834;
        for i in 0..2_000u32 {
            x = x.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(u128::from(i));
            let p = x >> (i % 128);
            let wi = (i % 101) as u8;
            let h = i % 40;
            assert_eq!(
                epoch_pool(p, wi, u64::from(h)),
                wide_reference(p, u128::from(wi), h)
            );
        }
    }

    #[test]
    fn claim_cost_rounds_up_and_never_overflows() {
        // 1000 units at 2.5 payment units each: 2500, 10 % of it 250.
        assert_eq!(claim_cost(1_000, 2_500_000_000_000_000_000), Some(250));
        assert_eq!(claim_cost(1_000, 0), Some(0));
        assert_eq!(claim_cost(0, u128::MAX), Some(0));
        // 1 unit at 1.0 costs 0.1, rounded up to 1.
        assert_eq!(claim_cost(1, PRICE_SCALE), Some(1));
        assert_eq!(claim_cost(10, PRICE_SCALE), Some(1));
        assert_eq!(claim_cost(11, PRICE_SCALE), Some(2));
        // Tiny price: 1e18 units at 1e-18 is 1 unit, 10 % rounds up to 1.
        assert_eq!(claim_cost(PRICE_SCALE, 1), Some(1));
        // Large values: exact, no overflow of the intermediate product.
        assert_eq!(claim_cost(u128::MAX, PRICE_SCALE), Some(u128::MAX / 10 + 1));
        assert_eq!(claim_cost(u128::MAX, 10 * PRICE_SCALE), Some(u128::MAX));
        assert_eq!(claim_cost(u128::MAX, 10 * PRICE_SCALE + 1), None);
        assert_eq!(claim_cost(u128::MAX, u128::MAX), None);
        assert_eq!(
            claim_cost(1 << 100, 1 << 27),
            Some(reference_cost(1 << 100, 1 << 27))
        );
    }

    /// `ceil(a*b/1e19)` for products below 2^128 * 1e19, by splitting `a` into 64-bit halves.
    fn reference_cost(a: u128, b: u128) -> u128 {
        let (a_hi, a_lo) = (a >> 64, a & u128::from(u64::MAX));
        let (hi, lo) = (a_hi * b, a_lo * b); // b < 2^64 in the callers
        let hi_full = hi + (lo >> 64);
        let (q_hi, rem) = (hi_full / COST_DIVISOR, hi_full % COST_DIVISOR);
        let low = (rem << 64) | (lo & u128::from(u64::MAX));
        let q = (q_hi << 64) + low / COST_DIVISOR;
        q + u128::from(low % COST_DIVISOR != 0)
    }

    #[test]
    fn claim_cost_matches_reference() {
        let mut x: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        for i in 0..2_000u32 {
            x = x.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(u128::from(i));
            let a = x >> (4 + i % 120);
            let b = (x as u64 >> (i % 64)) as u128;
            if (a >> 64) * b < (1u128 << 64) * 4 {
                assert_eq!(claim_cost(a, b), Some(reference_cost(a, b)), "a={a} b={b}");
            }
        }
    }
}
