//! Action weights: decimal strings to `U32F32`, and the weight table.
//!
//! SPEC section 2: a weight is a decimal in `[1, 10]`, converted once to `U32F32` rounding to the
//! nearest representable value, ties to even. A wallet's epoch weight is the exact sum of its
//! actions' weights, as `U64F64`. No floating point is involved anywhere.

use std::collections::HashMap;

use fixed::types::{U32F32, U64F64};

use crate::EngineError;

/// One action's weight.
pub type Weight = U32F32;
/// A wallet's weight in an epoch: the exact sum of its actions' weights.
pub type WeightTotal = U64F64;

/// The bits of `w` as a `U64F64` (exact: `U32F32` has 32 fraction bits, `U64F64` 64).
pub fn widen(w: Weight) -> u128 {
    u128::from(w.to_bits()) << 32
}

/// Why a string is not an acceptable weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not of the form `DIGITS` or `DIGITS.DIGITS`.
    Syntax,
    /// The exact decimal is below 1 or above 10.
    OutOfRange,
}

/// Parses a weight written as a plain decimal (`DIGITS` or `DIGITS.DIGITS`, no sign, no exponent,
/// any number of digits), checks that the exact decimal value lies in `[1, 10]`, and rounds it to
/// `U32F32`: to the nearest representable value, ties to even.
///
/// The range is checked on the exact decimal, before rounding: `"10.000000000001"` is rejected
/// even though it rounds to 10.
pub fn parse_weight(s: &str) -> Result<Weight, DecimalError> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (s.contains('.') && !digits(frac)) {
        return Err(DecimalError::Syntax);
    }
    let int_digits = int.trim_start_matches('0');
    let frac_digits = frac.trim_end_matches('0');
    // Exact range check: 1 <= value <= 10.
    let int_value: u32 = match int_digits.len() {
        0 => 0,
        1 | 2 => int_digits.parse().map_err(|_| DecimalError::Syntax)?,
        _ => return Err(DecimalError::OutOfRange),
    };
    if int_value == 0 || int_value > 10 || (int_value == 10 && !frac_digits.is_empty()) {
        return Err(DecimalError::OutOfRange);
    }
    // frac * 2^33, computed exactly in decimal: multiply the digit string by 2 thirty-three times,
    // collecting the carries out of the integer part. `top` = floor(frac * 2^33) (< 2^33); the digits
    // left over are the exact rest, which is zero only if every digit is 0.
    let mut ds: Vec<u8> = frac_digits.bytes().map(|b| b - b'0').collect();
    let mut top: u64 = 0;
    for _ in 0..33 {
        let mut carry = 0u8;
        for d in ds.iter_mut().rev() {
            let v = *d * 2 + carry;
            *d = v % 10;
            carry = v / 10;
        }
        top = top * 2 + u64::from(carry);
    }
    let sticky = ds.iter().any(|&d| d != 0);
    let mut frac_bits = top >> 1; // floor(frac * 2^32)
    let half = top & 1 == 1; // the next bit: the rest is >= 1/2 ulp
    if half && (sticky || frac_bits & 1 == 1) {
        frac_bits += 1; // above the half, or exactly the half and the floor is odd: round up
    }
    // frac_bits <= 2^32 (a carry into the integer part is fine); int_value <= 10.
    Ok(Weight::from_bits((u64::from(int_value) << 32) + frac_bits))
}

/// A weight table: kind names, each with its weight. Kinds are interned to small indices
/// (`u16`) in the order they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeightTable {
    names: Vec<String>,
    weights: Vec<Weight>,
    index: HashMap<String, u16>,
}

impl WeightTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `kind` with the weight written `value` (see [`parse_weight`]).
    pub fn insert_str(&mut self, kind: &str, value: &str) -> Result<u16, EngineError> {
        let w = parse_weight(value).map_err(|e| match e {
            DecimalError::Syntax => EngineError::WeightSyntax {
                kind: kind.into(),
                value: value.into(),
            },
            DecimalError::OutOfRange => EngineError::WeightOutOfRange {
                kind: kind.into(),
                value: value.into(),
            },
        })?;
        self.insert(kind, w)
    }

    /// Adds `kind` with weight `w`, which must lie in `[1, 10]`.
    pub fn insert(&mut self, kind: &str, w: Weight) -> Result<u16, EngineError> {
        if w < Weight::ONE || w > Weight::from_num(10) {
            return Err(EngineError::WeightOutOfRange {
                kind: kind.into(),
                value: w.to_string(),
            });
        }
        if self.index.contains_key(kind) {
            return Err(EngineError::DuplicateKind(kind.into()));
        }
        let id = u16::try_from(self.names.len())
            .ok()
            .filter(|&i| i < u16::MAX)
            .ok_or(EngineError::TooManyKinds(self.names.len() + 1))?;
        self.names.push(kind.into());
        self.weights.push(w);
        self.index.insert(kind.into(), id);
        Ok(id)
    }

    /// The index of `kind`, if the table has it.
    pub fn kind(&self, kind: &str) -> Option<u16> {
        self.index.get(kind).copied()
    }

    /// The weight of kind index `id`.
    pub fn weight(&self, id: u16) -> Option<Weight> {
        self.weights.get(usize::from(id)).copied()
    }

    /// The name of kind index `id`.
    pub fn name(&self, id: u16) -> Option<&str> {
        self.names.get(usize::from(id)).map(String::as_str)
    }

    /// The number of kinds.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the table has no kinds.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bits(s: &str) -> u64 {
        parse_weight(s).unwrap().to_bits()
    }

    #[test]
    fn exact_values() {
        assert_eq!(bits("1"), 1 << 32);
        assert_eq!(bits("10"), 10 << 32);
        assert_eq!(bits("10.000"), 10 << 32);
        assert_eq!(bits("2.5"), (2 << 32) + (1 << 31));
        assert_eq!(bits("001.25"), (1 << 32) + (1 << 30));
    }

    #[test]
    fn ties_to_even() {
        // 2^-33 = 0.000000000116415321826934814453125 exactly (33 fraction digits): halfway
        // between 1 + 0 ulp and 1 + 1 ulp. The even neighbour is 1 + 0 ulp.
        assert_eq!(bits("1.000000000116415321826934814453125"), 1 << 32);
        // 3 * 2^-33 = 0.000000000349245965480804443359375: halfway between 1 ulp and 2 ulp;
        // the even neighbour is 2 ulp.
        assert_eq!(bits("1.000000000349245965480804443359375"), (1 << 32) + 2);
        // Just above / below the first tie go up / down.
        assert_eq!(bits("1.0000000001164153218269348144531251"), (1 << 32) + 1);
        assert_eq!(bits("1.0000000001164153218269348144531249"), 1 << 32);
        // A tie in the last ulp below 10 rounds up to 10 exactly (10 - 2^-33: 2^32*10 - 1 is odd).
        assert_eq!(bits("9.999999999883584678173065185546875"), 10 << 32);
        // 0.1 is not representable: nearest is round(0.1 * 2^32) = 429496729.6 -> 429496730.
        assert_eq!(bits("1.1"), (1 << 32) + 429_496_730);
    }

    #[test]
    fn range_and_syntax() {
        for bad in [
            "", ".", "1.", ".5", "+1", "-1", "1e0", " 1", "1 ", "1,5", "0x1", "１",
        ] {
            assert_eq!(parse_weight(bad), Err(DecimalError::Syntax), "{bad:?}");
        }
        for out in [
            "0",
            "0.999999999999999999999",
            "10.0000000000000000001",
            "11",
            "100",
            "0000",
        ] {
            assert_eq!(parse_weight(out), Err(DecimalError::OutOfRange), "{out:?}");
        }
        // Rounds to 1.0 but the exact decimal is below 1: rejected.
        assert!(parse_weight("0.99999999999999999999").is_err());
    }

    #[test]
    fn table_errors_name_the_kind() {
        let mut t = WeightTable::new();
        t.insert_str("swap", "2.5").unwrap();
        let e = t.insert_str("mint", "11").unwrap_err();
        assert!(e.to_string().contains("\"mint\""), "{e}");
        let e = t.insert_str("swap", "3").unwrap_err();
        assert_eq!(e, EngineError::DuplicateKind("swap".into()));
        assert_eq!(t.kind("swap"), Some(0));
        assert_eq!(t.weight(0), Some(Weight::from_num(2.5)));
    }

    proptest! {
        /// Agrees with the `fixed` crate's own decimal parser, which also rounds ties to even.
        #[test]
        fn agrees_with_fixed(int in 1u32..10, frac in "[0-9]{0,40}") {
            let s = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            let ours = parse_weight(&s).unwrap();
            let theirs: Weight = s.parse().unwrap();
            prop_assert_eq!(ours, theirs);
        }

        /// Exactly representable values round-trip and every tie lands on an even value.
        #[test]
        fn ties(int in 1u64..10, k in 0u64..(1 << 32)) {
            // (2k+1) * 2^-33 written exactly with 33 decimals: (2k+1) * 5^33 / 10^33.
            let num = u128::from(2 * k + 1) * 5u128.pow(33);
            let s = format!("{int}.{num:033}");
            let b = parse_weight(&s).unwrap().to_bits();
            prop_assert_eq!(b & 1, 0);
            prop_assert!(b == (int << 32) + k || b == (int << 32) + k + 1);
        }
    }
}
