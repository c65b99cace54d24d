//! How the API reads its inputs (addresses, accounts, month indexes) and writes values (hex,
//! exact decimals). Amounts are written as decimal strings: u128 does not fit a JSON number.

use flex_types::{AccountId, Address};

use crate::ApiError;

/// At most `max` characters of `s`, with `…` when cut: what an error or a log line may quote of
/// a client's input.
pub(crate) fn prefix(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((at, _)) => format!("{}…", &s[..at]),
    }
}

/// `s` quoted for an error message: at most 48 characters of it, and its length when cut.
pub(crate) fn quote(s: &str) -> String {
    let n = s.chars().count();
    if n <= 48 {
        format!("{s:?}")
    } else {
        format!("{:?} ({n} characters)", prefix(s, 48))
    }
}

/// 415 unless the request says its body is JSON (`application/json`, parameters allowed): a
/// web page's form or `text/plain` post is not read.
pub(crate) fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ))
    }
}

/// A wallet address from a path segment.
pub(crate) fn parse_address(s: &str) -> Result<Address, ApiError> {
    s.parse().map_err(|_| {
        ApiError::bad(
            "bad_address",
            format!("{} is not an address (0x followed by 40 hex digits)", quote(s)),
        )
    })
}

/// A beneficiary account: `0x` + 64 hex digits or SS58 (any network).
pub(crate) fn parse_account(s: &str) -> Result<[u8; 32], ApiError> {
    s.parse::<AccountId>().map(|a| a.0).map_err(|e| {
        ApiError::bad(
            "bad_beneficiary",
            format!(
                "{} is not an account (0x followed by 64 hex digits, or SS58): {}",
                quote(s),
                prefix(&e.to_string(), 80)
            ),
        )
    })
}

/// An unsigned number from a path segment, in its one canonical form: decimal digits, no sign,
/// no leading zero (`0` itself excepted), at most `max`. `what` names it in the error.
fn parse_canonical(s: &str, max: u64, code: &'static str, what: &str) -> Result<u64, ApiError> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits || (s.len() > 1 && s.starts_with('0')) {
        return Err(ApiError::bad(
            code,
            format!(
                "{} is not {what}: write it in decimal digits, without sign or leading zeros (0 to {max})",
                quote(s)
            ),
        ));
    }
    match s.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(ApiError::bad(
            code,
            format!("{} is out of range for {what} (0 to {max})", quote(s)),
        )),
    }
}

/// A month index (`year*12 + month-1`) from a path segment.
pub(crate) fn parse_month(s: &str) -> Result<u32, ApiError> {
    parse_canonical(
        s,
        u64::from(u32::MAX),
        "bad_month",
        "a month index (year*12 + month-1)",
    )
    .map(|n| n as u32)
}

/// An epoch number from a path segment.
pub(crate) fn parse_epoch(s: &str) -> Result<u64, ApiError> {
    parse_canonical(s, u64::MAX, "bad_epoch", "an epoch number")
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
