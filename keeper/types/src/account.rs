//! Chain accounts: 32 bytes, read as `0x` + 64 hex digits or as SS58 (any network prefix, checksum
//! checked), written as `0x` + lowercase hex (or SS58 for a given network with
//! [`AccountId::to_ss58`]).

use std::fmt;
use std::str::FromStr;

use blake2::{Blake2b512, Digest};

use crate::hex::{self, HexError};

/// A 32-byte chain account (a Substrate `AccountId32`: a contract, a beneficiary, a signer).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AccountId(pub [u8; 32]);

/// Why a string is not an account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountIdError {
    #[error("not 0x + 64 hex digits: {0}")]
    Hex(HexError),
    #[error("neither 0x + 64 hex digits nor SS58: {character:?} (character {index}) is not a base58 digit")]
    Base58 { character: char, index: usize },
    #[error("neither 0x + 64 hex digits nor SS58: not base58")]
    NotBase58,
    #[error("not an SS58 account: it decodes to {len} bytes (an account with its network prefix and checksum takes 35 or 36)")]
    Ss58Length { len: usize },
    #[error("not an SS58 address: its first byte {0} is no network prefix")]
    Ss58Prefix(u8),
    #[error("not an SS58 address: wrong checksum")]
    Ss58Checksum,
    #[error("SS58 network prefix {0} is above 16383")]
    PrefixTooLarge(u16),
}

/// The SS58 checksum's hash: blake2b-512 of `"SS58PRE"` and the prefixed payload.
fn ss58_hash(data: &[u8]) -> [u8; 64] {
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(data);
    h.finalize().into()
}

/// The checksum length of an SS58 address of a 32-byte account.
const CHECKSUM: usize = 2;

impl AccountId {
    /// The account's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// An SS58 address, returning the account and its network prefix.
    pub fn from_ss58(s: &str) -> Result<(AccountId, u16), AccountIdError> {
        let data = bs58::decode(s).into_vec().map_err(|e| match e {
            bs58::decode::Error::InvalidCharacter { character, index } => {
                AccountIdError::Base58 { character, index }
            }
            _ => AccountIdError::NotBase58,
        })?;
        let (prefix_len, prefix) = match data.first() {
            Some(&b @ 0..=63) => (1, u16::from(b)),
            Some(&b @ 64..=127) if data.len() > 1 => {
                // Two bytes: the 14-bit prefix's low 8 bits are split over both.
                let lower = (b << 2) | (data[1] >> 6);
                let upper = data[1] & 0b0011_1111;
                (2, u16::from(lower) | (u16::from(upper) << 8))
            }
            Some(&b) if b >= 128 => return Err(AccountIdError::Ss58Prefix(b)),
            _ => return Err(AccountIdError::Ss58Length { len: data.len() }),
        };
        if data.len() != prefix_len + 32 + CHECKSUM {
            return Err(AccountIdError::Ss58Length { len: data.len() });
        }
        let body = prefix_len + 32;
        if ss58_hash(&data[..body])[..CHECKSUM] != data[body..] {
            return Err(AccountIdError::Ss58Checksum);
        }
        let mut account = [0u8; 32];
        account.copy_from_slice(&data[prefix_len..body]);
        Ok((AccountId(account), prefix))
    }

    /// The SS58 address of this account on the network `prefix` (0 Polkadot, 2 Kusama, 42 generic
    /// Substrate; at most 16383).
    pub fn to_ss58(&self, prefix: u16) -> Result<String, AccountIdError> {
        let mut data = Vec::with_capacity(2 + 32 + CHECKSUM);
        match prefix {
            0..=63 => data.push(prefix as u8),
            64..=16383 => {
                let first = ((prefix & 0b0000_0000_1111_1100) as u8) >> 2;
                let second = ((prefix >> 8) as u8) | (((prefix & 0b11) as u8) << 6);
                data.push(first | 0b0100_0000);
                data.push(second);
            }
            _ => return Err(AccountIdError::PrefixTooLarge(prefix)),
        }
        data.extend_from_slice(&self.0);
        let checksum = ss58_hash(&data);
        data.extend_from_slice(&checksum[..CHECKSUM]);
        Ok(bs58::encode(data).into_string())
    }
}

impl From<[u8; 32]> for AccountId {
    fn from(bytes: [u8; 32]) -> Self {
        AccountId(bytes)
    }
}

impl From<AccountId> for [u8; 32] {
    fn from(a: AccountId) -> Self {
        a.0
    }
}

impl AsRef<[u8]> for AccountId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl FromStr for AccountId {
    type Err = AccountIdError;

    /// `0x` (or `0X`) + 64 hex digits of any case, or an SS58 address of any network.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with("0x") || s.starts_with("0X") {
            return hex::decode(s).map(AccountId).map_err(AccountIdError::Hex);
        }
        AccountId::from_ss58(s).map(|(account, _)| account)
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex::write(f, &self.0)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE_HEX: &str = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
    const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    #[test]
    fn alice_in_hex_and_ss58() {
        let from_hex: AccountId = ALICE_HEX.parse().unwrap();
        let from_ss58: AccountId = ALICE_SS58.parse().unwrap();
        assert_eq!(from_hex, from_ss58);
        assert_eq!(from_ss58.to_string(), ALICE_HEX);
        assert_eq!(from_hex.to_ss58(42).unwrap(), ALICE_SS58);
        assert_eq!(AccountId::from_ss58(ALICE_SS58), Ok((from_hex, 42)));
        assert_eq!(
            ALICE_HEX
                .to_uppercase()
                .replacen('X', "x", 1)
                .parse::<AccountId>(),
            Ok(from_hex)
        );
    }

    #[test]
    fn other_networks() {
        let alice: AccountId = ALICE_HEX.parse().unwrap();
        // Alice on Polkadot (0) and Kusama (2), as polkadot.js writes them.
        let polkadot = "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5";
        let kusama = "HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F";
        assert_eq!(alice.to_ss58(0).unwrap(), polkadot);
        assert_eq!(alice.to_ss58(2).unwrap(), kusama);
        assert_eq!(AccountId::from_ss58(polkadot), Ok((alice, 0)));
        assert_eq!(AccountId::from_ss58(kusama), Ok((alice, 2)));
        // Two-byte prefixes round trip with their prefix.
        for prefix in [63, 64, 255, 256, 1284, 16383] {
            let s = alice.to_ss58(prefix).unwrap();
            assert_eq!(
                AccountId::from_ss58(&s),
                Ok((alice, prefix)),
                "prefix {prefix}: {s}"
            );
            assert_eq!(s.parse::<AccountId>(), Ok(alice));
        }
        assert_eq!(alice.to_ss58(16384), Err(AccountIdError::PrefixTooLarge(16384)));
    }

    #[test]
    fn round_trips() {
        for fill in [0u8, 1, 0x7f, 0xee, 0xff] {
            let mut bytes = [fill; 32];
            bytes[0] = fill.wrapping_add(3);
            let a = AccountId(bytes);
            assert_eq!(a.to_string().parse::<AccountId>(), Ok(a));
            assert_eq!(a.to_ss58(42).unwrap().parse::<AccountId>(), Ok(a));
            assert_eq!(<[u8; 32]>::from(a), bytes);
        }
    }

    #[test]
    fn wrong_checksum_refused() {
        // Alice's address with its last character changed: same payload, another checksum.
        let mut s = ALICE_SS58.to_string();
        s.pop();
        s.push('Z');
        assert_eq!(s.parse::<AccountId>(), Err(AccountIdError::Ss58Checksum));
        // A changed payload character, checksum kept.
        let t = ALICE_SS58.replacen("Grwva", "Grwvb", 1);
        assert_eq!(t.parse::<AccountId>(), Err(AccountIdError::Ss58Checksum));
    }

    #[test]
    fn bad_length_refused() {
        // 31 and 33 bytes of hex.
        assert_eq!(
            format!("0x{}", "11".repeat(31)).parse::<AccountId>(),
            Err(AccountIdError::Hex(HexError::Length { digits: 64, len: 64 }))
        );
        assert!(format!("0x{}", "11".repeat(33)).parse::<AccountId>().is_err());
        // An SS58 string of a 20-byte payload (prefix 42 + 20 bytes + checksum).
        let mut short = vec![42u8];
        short.extend_from_slice(&[7u8; 20]);
        let sum = ss58_hash(&short);
        short.extend_from_slice(&sum[..2]);
        let short = bs58::encode(short).into_string();
        assert_eq!(
            short.parse::<AccountId>(),
            Err(AccountIdError::Ss58Length { len: 23 })
        );
        // Truncated Alice.
        assert!(ALICE_SS58[..40].parse::<AccountId>().is_err());
        assert!("".parse::<AccountId>().is_err());
    }

    #[test]
    fn other_garbage_refused() {
        assert_eq!(
            "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27g".parse::<AccountId>(),
            Err(AccountIdError::Hex(HexError::Digit('g')))
        );
        // '0', 'O', 'I' and 'l' are not base58 digits.
        assert_eq!(
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKut0Y".parse::<AccountId>(),
            Err(AccountIdError::Base58 {
                character: '0',
                index: 46
            })
        );
        // A first byte of 128 or more is no prefix.
        let mut high = vec![200u8];
        high.extend_from_slice(&[0u8; 34]);
        assert_eq!(
            bs58::encode(high).into_string().parse::<AccountId>(),
            Err(AccountIdError::Ss58Prefix(200))
        );
    }
}
