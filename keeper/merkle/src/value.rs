//! Parsing and printing of the JSON scalars of leaf values.

use std::io::{self, Write};

use serde_json::Value;

use crate::leaf::Address;

/// Which integer spellings a reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntForm {
    /// JSON numbers and decimal strings (the CLI input).
    Decimal,
    /// Also `0x` hex strings, as OZ's ABI encoder accepts them in a dump.
    DecimalOrHex,
}

/// An unsigned integer of `bits` bits from a JSON number or string.
pub fn parse_uint(v: &Value, bits: u32, form: IntForm) -> Result<u128, String> {
    let n: u128 = match v {
        Value::Number(n) => match n.as_u64() {
            Some(x) => x.into(),
            None => {
                return Err(format!(
                    "{n} is not an unsigned integer that a JSON number can hold exactly; write it as a decimal string"
                ))
            }
        },
        Value::String(s) => {
            let hex = s.strip_prefix("0x").filter(|_| form == IntForm::DecimalOrHex);
            let (digits, radix) = match hex {
                Some(h) => (h, 16),
                None => (s.as_str(), 10),
            };
            if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
                let what = if form == IntForm::DecimalOrHex { "decimal or 0x-hex" } else { "decimal" };
                return Err(format!("{s:?} is not a {what} unsigned integer"));
            }
            u128::from_str_radix(digits, radix).map_err(|_| format!("{s:?} does not fit in uint{bits}"))?
        }
        other => return Err(format!("expected an integer (number or decimal string), got {other}")),
    };
    if bits < 128 && n >> bits != 0 {
        return Err(format!("{n} does not fit in uint{bits}"));
    }
    Ok(n)
}

/// A 20-byte address: `0x` and 40 hex digits, any case (no checksum check).
pub fn parse_address(v: &Value) -> Result<Address, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("expected an address string, got {v}"))?;
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| format!("{s:?} is not an address (expected 0x and 40 hex digits)"))?;
    let mut a = [0u8; 20];
    if digits.len() != 40 || hex::decode_to_slice(digits, &mut a).is_err() {
        return Err(format!("{s:?} is not an address (expected 0x and 40 hex digits)"));
    }
    Ok(a)
}

/// `"0x…"` lowercase, with the quotes.
pub fn write_address(out: &mut impl Write, a: &Address) -> io::Result<()> {
    let mut buf = [0u8; 44];
    buf[0] = b'"';
    buf[1] = b'0';
    buf[2] = b'x';
    buf[43] = b'"';
    // Infallible: 40 bytes of room for 20 bytes.
    let _ = hex::encode_to_slice(a, &mut buf[3..43]);
    out.write_all(&buf)
}

/// `0x…` lowercase.
pub fn address_to_hex(a: &Address) -> String {
    format!("0x{}", hex::encode(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers() {
        let d = IntForm::Decimal;
        assert_eq!(parse_uint(&json!(7), 8, d), Ok(7));
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
        assert_eq!(address_to_hex(&a), "0xabcdef0123456789abcdef0123456789abcdef01");
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
    }
}
