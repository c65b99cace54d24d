//! Wallet addresses: 20 bytes, written `0x` + 40 hex digits; any case in, lowercase out.

use std::fmt;
use std::str::FromStr;

use crate::hex;

/// A 20-byte wallet address (an EVM account, a merkle leaf's wallet, a store row's wallet). Orders
/// by its bytes, which is the order of its lowercase hex form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 20]);

/// Why a string is not an address.
pub type AddressError = hex::HexError;

impl Address {
    /// The address's bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl From<[u8; 20]> for Address {
    fn from(bytes: [u8; 20]) -> Self {
        Address(bytes)
    }
}

impl From<Address> for [u8; 20] {
    fn from(a: Address) -> Self {
        a.0
    }
}

impl AsRef<[u8]> for Address {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for Address {
    type Err = AddressError;

    /// `0x` (or `0X`) + 40 hex digits of any case; no checksum check.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        hex::decode(s).map(Address)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 42];
        buf[..2].copy_from_slice(b"0x");
        hex::encode_to_slice(&self.0, &mut buf[2..]);
        // Only ASCII was written.
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HexError;

    #[test]
    fn any_case_in_lowercase_out() {
        let a: Address = "0xABCDEFabcdef0123456789000000000000000001".parse().unwrap();
        assert_eq!(a.to_string(), "0xabcdefabcdef0123456789000000000000000001");
        let b: Address = "0XABCDEFABCDEF0123456789000000000000000001".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string().parse::<Address>(), Ok(a));
    }

    #[test]
    fn round_trips_every_byte() {
        let mut bytes = [0u8; 20];
        for start in [0u8, 20, 40, 236] {
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = start.wrapping_add(i as u8);
            }
            let a = Address(bytes);
            assert_eq!(a.to_string().parse::<Address>(), Ok(a));
            assert_eq!(
                a.to_string().to_uppercase().replace('X', "x").parse::<Address>(),
                Ok(a)
            );
            assert_eq!(<[u8; 20]>::from(a), bytes);
            assert_eq!(Address::from(bytes), a);
            assert_eq!(a.as_ref(), &bytes[..]);
        }
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            "0x12".parse::<Address>(),
            Err(HexError::Length { digits: 40, len: 4 })
        );
        assert_eq!(
            "0x12".parse::<Address>().unwrap_err().to_string(),
            "expected 0x followed by 40 hex digits, found 4 characters"
        );
        assert_eq!(
            "1x0000000000000000000000000000000000000000".parse::<Address>(),
            Err(HexError::Prefix)
        );
        assert_eq!(
            "0x000000000000000000000000000000000000000g".parse::<Address>(),
            Err(HexError::Digit('g'))
        );
        // 21 bytes and 19 bytes.
        assert!("0x000000000000000000000000000000000000000000"
            .parse::<Address>()
            .is_err());
        assert!("0x00000000000000000000000000000000000000"
            .parse::<Address>()
            .is_err());
        // Non-ASCII of the right byte length is rejected, never panics.
        assert!("0x00000000000000000000000000000000000000é"
            .parse::<Address>()
            .is_err());
    }
}
