//! Hex as the keeper writes it (`0x` + lowercase digits) and reads it (any case, fixed size).

/// Why a string is not the hex of a fixed number of bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// Wrong length; `digits` is the number of hex digits expected after `0x`, `len` the
    /// string's length in characters.
    #[error("expected 0x followed by {digits} hex digits, found {len} characters")]
    Length { digits: usize, len: usize },
    #[error("expected the prefix 0x")]
    Prefix,
    #[error("invalid hex digit {0:?}")]
    Digit(char),
}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `0x` followed by the bytes as lowercase hex.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("0x");
    push_digits(&mut s, bytes);
    s
}

/// The bytes as lowercase hex, without a prefix.
pub fn encode_digits(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut s = String::with_capacity(2 * bytes.len());
    push_digits(&mut s, bytes);
    s
}

fn push_digits(s: &mut String, bytes: &[u8]) {
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
}

/// Writes the lowercase hex digits of `bytes` into `out`, which must be twice as long (for
/// writers that fill a fixed buffer without allocating).
///
/// # Panics
/// If `out.len() != 2 * bytes.len()`.
pub fn encode_to_slice(bytes: &[u8], out: &mut [u8]) {
    assert_eq!(out.len(), 2 * bytes.len(), "hex::encode_to_slice: output length");
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
}

/// Writes `0x` and the lowercase hex of `bytes` to a formatter (no allocation).
pub fn write(f: &mut impl std::fmt::Write, bytes: &[u8]) -> std::fmt::Result {
    f.write_str("0x")?;
    for b in bytes {
        f.write_char(char::from(DIGITS[usize::from(b >> 4)]))?;
        f.write_char(char::from(DIGITS[usize::from(b & 15)]))?;
    }
    Ok(())
}

/// Exactly `N` bytes written `0x` (or `0X`) + `2N` hex digits of any case. The length is checked
/// first, then the prefix, then each digit.
pub fn decode<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let b = s.as_bytes();
    if b.len() != 2 + 2 * N {
        return Err(HexError::Length {
            digits: 2 * N,
            len: s.chars().count(),
        });
    }
    if b[0] != b'0' || (b[1] != b'x' && b[1] != b'X') {
        return Err(HexError::Prefix);
    }
    digits(&b[2..])
}

/// Exactly `N` bytes written as `2N` hex digits of any case, with or without `0x`/`0X`.
pub fn decode_prefix_optional<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let digits_str = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if digits_str.len() != 2 * N {
        return Err(HexError::Length {
            digits: 2 * N,
            len: s.chars().count(),
        });
    }
    digits(digits_str.as_bytes())
}

/// Any number of bytes written `0x` + an even number of hex digits of any case.
pub fn decode_vec(s: &str) -> Result<Vec<u8>, HexError> {
    let digits_str = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or(HexError::Prefix)?;
    if digits_str.len() % 2 != 0 {
        return Err(HexError::Length {
            digits: digits_str.len() + 1,
            len: s.chars().count(),
        });
    }
    digits_str
        .as_bytes()
        .chunks_exact(2)
        .map(|p| Ok((nibble(p[0])? << 4) | nibble(p[1])?))
        .collect()
}

fn digits<const N: usize>(b: &[u8]) -> Result<[u8; N], HexError> {
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Ok(out)
}

fn nibble(c: u8) -> Result<u8, HexError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        // A non-ASCII byte: name the character it starts (or the replacement character).
        _ => Err(HexError::Digit(char::from(c))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lowercase_with_prefix() {
        assert_eq!(encode([0xAB, 0x01, 0xff]), "0xab01ff");
        assert_eq!(encode([]), "0x");
        assert_eq!(encode_digits([0xAB, 0x01]), "ab01");
        let mut buf = [0u8; 4];
        encode_to_slice(&[0xAB, 0x01], &mut buf);
        assert_eq!(&buf, b"ab01");
        let mut s = String::new();
        write(&mut s, &[0xde, 0xad]).unwrap();
        assert_eq!(s, "0xdead");
    }

    #[test]
    fn decodes_any_case_round_trip() {
        let bytes: [u8; 4] = decode("0xDeAdBeEf").unwrap();
        assert_eq!(bytes, [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(decode::<4>(&encode(bytes)), Ok(bytes));
        assert_eq!(decode::<4>("0XDEADBEEF"), Ok(bytes));
        assert_eq!(decode_prefix_optional::<4>("deadbeef"), Ok(bytes));
        assert_eq!(decode_prefix_optional::<4>("0xdeadbeef"), Ok(bytes));
        assert_eq!(decode_vec("0xdeadbeef"), Ok(bytes.to_vec()));
        assert_eq!(decode_vec("0x"), Ok(vec![]));
    }

    #[test]
    fn typed_errors() {
        assert_eq!(decode::<4>("0xdead"), Err(HexError::Length { digits: 8, len: 6 }));
        assert_eq!(decode::<2>("1xdead"), Err(HexError::Prefix));
        assert_eq!(decode::<2>("0xdeag"), Err(HexError::Digit('g')));
        assert_eq!(decode::<2>("0x+ead"), Err(HexError::Digit('+')));
        assert_eq!(
            decode_prefix_optional::<2>("dea"),
            Err(HexError::Length { digits: 4, len: 3 })
        );
        assert_eq!(decode_vec("dead"), Err(HexError::Prefix));
        assert!(matches!(decode_vec("0xdea"), Err(HexError::Length { .. })));
        assert_eq!(decode_vec("0xzz"), Err(HexError::Digit('z')));
        // Multi-byte characters of the right byte length are refused, never split or panicking.
        assert!(decode::<2>("0xdeé").is_err());
        assert_eq!(
            HexError::Length { digits: 40, len: 4 }.to_string(),
            "expected 0x followed by 40 hex digits, found 4 characters"
        );
    }
}
