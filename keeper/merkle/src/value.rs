//! Parsing and printing of the JSON scalars of leaf values.

use std::io::{self, Write};

use serde_json::Value;

use flex_types::{Address, HexError};

/// Which integer spellings a reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntForm {
    /// JSON numbers and decimal strings (the CLI input).
    Decimal,
    /// Also `0x` hex strings, as OZ's ABI encoder accepts them in a dump.
    DecimalOrHex,
}

/// Why a JSON scalar is not the integer or address a leaf field wants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScalarError {
    /// A JSON number beyond `u64` or not an integer (JSON numbers are read exactly or not at all).
    #[error(
        "{0} is not an unsigned integer that a JSON number can hold exactly; write it as a decimal string"
    )]
    InexactNumber(serde_json::Number),
    /// A string that is not an unsigned integer in the accepted forms (`what`).
    #[error("{text:?} is not a {what} unsigned integer")]
    NotUnsigned { text: String, what: &'static str },
    /// A string whose digits overflow `u128`.
    #[error("{text:?} does not fit in uint{bits}")]
    TextTooLarge { text: String, bits: u32 },
    /// A value above `2^bits - 1`.
    #[error("{value} does not fit in uint{bits}")]
    TooLarge { value: u128, bits: u32 },
    #[error("expected an integer (number or decimal string), got {0}")]
    NotInteger(Value),
    #[error("expected an address string, got {0}")]
    NotAddressString(Value),
    #[error("{text:?} is not an address (expected 0x and 40 hex digits)")]
    Address { text: String, source: HexError },
}

/// An unsigned integer of `bits` bits from a JSON number or string.
pub fn parse_uint(v: &Value, bits: u32, form: IntForm) -> Result<u128, ScalarError> {
    let n: u128 = match v {
        Value::Number(n) => match n.as_u64() {
            Some(x) => x.into(),
            None => return Err(ScalarError::InexactNumber(n.clone())),
        },
        Value::String(s) => {
            let hex = s.strip_prefix("0x").filter(|_| form == IntForm::DecimalOrHex);
            let (digits, radix) = match hex {
                Some(h) => (h, 16),
                None => (s.as_str(), 10),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                let what = if form == IntForm::DecimalOrHex {
                    "decimal or 0x-hex"
                } else {
                    "decimal"
                };
                return Err(ScalarError::NotUnsigned {
                    text: s.clone(),
                    what,
                });
            }
            u128::from_str_radix(digits, radix).map_err(|_| ScalarError::TextTooLarge {
                text: s.clone(),
                bits,
            })?
        }
        other => return Err(ScalarError::NotInteger(other.clone())),
    };
    if bits < 128 && n >> bits != 0 {
        return Err(ScalarError::TooLarge { value: n, bits });
    }
    Ok(n)
}

/// A 20-byte address: `0x` and 40 hex digits, any case (no checksum check).
pub fn parse_address(v: &Value) -> Result<Address, ScalarError> {
    let s = v
        .as_str()
        .ok_or_else(|| ScalarError::NotAddressString(v.clone()))?;
    s.parse().map_err(|source| ScalarError::Address {
        text: s.to_string(),
        source,
    })
}

/// `"0x…"` lowercase, with the quotes.
pub fn write_address(out: &mut impl Write, a: &Address) -> io::Result<()> {
    let mut buf = [0u8; 44];
    buf[..3].copy_from_slice(b"\"0x");
    flex_types::hex::encode_to_slice(&a.0, &mut buf[3..43]);
    buf[43] = b'"';
    out.write_all(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers() {
        let d = IntForm::Decimal;
        assert_eq!(parse_uint(&json!(7), 8, d), Ok(7));
        assert_eq!(
            parse_uint(&json!("256"), 8, d).unwrap_err().to_string(),
            "256 does not fit in uint8"
        );
        assert_eq!(
            parse_uint(&json!("x"), 8, d).unwrap_err().to_string(),
            "\"x\" is not a decimal unsigned integer"
        );
        assert_eq!(parse_uint(&json!("007"), 8, d), Ok(7));
        assert_eq!(parse_uint(&json!("255"), 8, d), Ok(255));
        assert!(parse_uint(&json!("256"), 8, d).is_err());
        assert!(parse_uint(&json!(256), 8, d).is_err());
        assert_eq!(parse_uint(&json!(u64::MAX), 64, d), Ok(u64::MAX as u128));
        assert_eq!(parse_uint(&json!(u128::MAX.to_string()), 128, d), Ok(u128::MAX));
        assert!(parse_uint(&json!("340282366920938463463374607431768211456"), 128, d).is_err());
        for bad in [
            json!(-1),
            json!(1.5),
            json!(""),
            json!(" 1"),
            json!("+1"),
            json!("1e3"),
            json!(null),
            json!(true),
        ] {
            assert!(parse_uint(&bad, 128, d).is_err(), "{bad}");
        }
        assert!(parse_uint(&json!("0x10"), 128, d).is_err());
        assert_eq!(parse_uint(&json!("0x10"), 128, IntForm::DecimalOrHex), Ok(16));
        assert!(parse_uint(&json!("0x"), 128, IntForm::DecimalOrHex).is_err());
    }

    #[test]
    fn addresses() {
        let a = parse_address(&json!("0xAbCdEf0123456789abcdef0123456789ABCDEF01")).unwrap();
        assert_eq!(a.to_string(), "0xabcdef0123456789abcdef0123456789abcdef01");
        let mut out = Vec::new();
        write_address(&mut out, &a).unwrap();
        assert_eq!(out, b"\"0xabcdef0123456789abcdef0123456789abcdef01\"");
        for bad in [
            json!("abcdef0123456789abcdef0123456789abcdef01"),
            json!("0x01"),
            json!(1),
            json!("0x".to_string() + &"g".repeat(40)),
        ] {
            assert!(parse_address(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_address(&json!("0x01")).unwrap_err().to_string(),
            "\"0x01\" is not an address (expected 0x and 40 hex digits)"
        );
        assert_eq!(
            parse_address(&json!(1)).unwrap_err().to_string(),
            "expected an address string, got 1"
        );
        {}
    }
}
