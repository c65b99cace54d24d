//! How the API reads its inputs (addresses, accounts, month indexes) and writes values (hex,
//! exact decimals). Amounts are written as decimal strings: u128 does not fit a JSON number.

use flex_types::{AccountId, Address};

use crate::ApiError;

/// A wallet address from a path segment.
pub(crate) fn parse_address(s: &str) -> Result<Address, ApiError> {
    s.parse().map_err(|_| {
        ApiError::bad(
            "bad_address",
            format!("{s:?} is not an address (0x followed by 40 hex digits)"),
        )
    })
}

/// A beneficiary account: `0x` + 64 hex digits or SS58 (any network).
pub(crate) fn parse_account(s: &str) -> Result<[u8; 32], ApiError> {
    s.parse::<AccountId>().map(|a| a.0).map_err(|e| {
        ApiError::bad(
            "bad_beneficiary",
            format!("{s:?} is not an account (0x followed by 64 hex digits, or SS58): {e}"),
        )
    })
}

/// A month index (`year*12 + month-1`) from a path segment.
pub(crate) fn parse_month(s: &str) -> Result<u32, ApiError> {
    s.parse().map_err(|_| {
        ApiError::bad(
            "bad_month",
            format!("{s:?} is not a month index (year*12 + month-1)"),
        )
    })
}

/// `U64F64` bits as an exact decimal (64 fractional bits are exactly representable in at most 64
/// decimal digits; trailing zeros dropped).
pub fn u64f64_decimal(bits: u128) -> String {
    let int = bits >> 64;
    let mut frac = bits & u128::from(u64::MAX);
    if frac == 0 {
        return int.to_string();
    }
    let mut s = format!("{int}.");
    // frac / 2^64: multiply by 10 repeatedly; frac < 2^64 so frac*10 < 2^68 fits u128.
    while frac != 0 {
        frac *= 10;
        s.push(char::from(b'0' + (frac >> 64) as u8));
        frac &= u128::from(u64::MAX);
    }
    s
}
