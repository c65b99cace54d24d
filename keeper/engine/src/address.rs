//! Wallet addresses: 20 bytes, written `0x` + 40 hex digits; any case in, lowercase out.

use std::fmt;
use std::str::FromStr;

/// A 20-byte wallet address. Orders by its bytes, which is the order of its lowercase hex form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 20]);

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("expected 0x followed by 40 hex digits, found {len} characters")]
    Length { len: usize },
    #[error("expected the prefix 0x")]
    Prefix,
    #[error("invalid hex digit {0:?}")]
    Digit(char),
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        if b.len() != 42 {
            return Err(AddressError::Length {
                len: s.chars().count(),
            });
        }
        if b[0] != b'0' || (b[1] != b'x' && b[1] != b'X') {
            return Err(AddressError::Prefix);
        }
        let mut out = [0u8; 20];
        for (i, pair) in b[2..].chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(Address(out))
    }
}

fn nibble(c: u8) -> Result<u8, AddressError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(AddressError::Digit(char::from(c))),
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 42];
        buf[0] = b'0';
        buf[1] = b'x';
        for (i, byte) in self.0.iter().enumerate() {
            buf[2 + 2 * i] = HEX[usize::from(byte >> 4)];
            buf[3 + 2 * i] = HEX[usize::from(byte & 15)];
        }
        // Only ASCII hex digits were written.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_case_in_lowercase_out() {
        let a: Address = "0xABCDEFabcdef0123456789000000000000000001".parse().unwrap();
        assert_eq!(a.to_string(), "0xabcdefabcdef0123456789000000000000000001");
        let b: Address = "0XABCDEFABCDEF0123456789000000000000000001".parse().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!("0x12".parse::<Address>(), Err(AddressError::Length { len: 4 }));
        assert_eq!(
            "1x0000000000000000000000000000000000000000".parse::<Address>(),
            Err(AddressError::Prefix)
        );
        assert_eq!(
            "0x000000000000000000000000000000000000000g".parse::<Address>(),
            Err(AddressError::Digit('g'))
        );
        // Non-ASCII of the right byte length is rejected, never panics.
        assert!("0x00000000000000000000000000000000000000é"
            .parse::<Address>()
            .is_err());
    }
}
