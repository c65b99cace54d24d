//! The claim message of docs/PROTOCOL.md ("Claim message"), its EIP-191 digest and the recovery
//! of the signing Ethereum address. Built byte by byte: no `format!`, no floating point.

use crate::merkle::keccak256;
use ink::prelude::vec::Vec;

/// secp256k1 group order `n`, big-endian.
const SECP256K1_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba,
    0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

/// `floor(n / 2)`, big-endian: the largest `s` of a canonical (low-s, EIP-2) signature.
const SECP256K1_HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5d,
    0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(b"0x");
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0x0f)]);
    }
}

/// `value` in decimal, at least `min_width` digits (zero-padded), no sign.
fn push_decimal(out: &mut Vec<u8>, mut value: u128, min_width: usize) {
    let mut digits = [b'0'; 39]; // u128::MAX has 39 digits
    for slot in digits.iter_mut().rev() {
        *slot = HEX[(value % 10) as usize];
        value /= 10;
    }
    let first_nonzero = digits.iter().position(|&d| d != b'0').unwrap_or(digits.len());
    let start = first_nonzero.min(digits.len().saturating_sub(min_width.max(1)));
    out.extend_from_slice(&digits[start..]);
}

/// The exact claim message bytes (seven lines joined by `\n`, no trailing newline).
pub fn claim_message(
    chain: &[u8; 32],
    contract: &[u8; 32],
    month_index: u32,
    wallet: &[u8; 20],
    amount: u128,
    beneficiary: &[u8; 32],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(350);
    m.extend_from_slice(b"Flex reward claim\nchain: ");
    push_hex(&mut m, chain);
    m.extend_from_slice(b"\ncontract: ");
    push_hex(&mut m, contract);
    m.extend_from_slice(b"\nmonth: ");
    push_decimal(&mut m, u128::from(month_index), 1);
    m.extend_from_slice(b" (");
    push_decimal(&mut m, u128::from(month_index / 12), 4);
    m.push(b'-');
    push_decimal(&mut m, u128::from((month_index % 12).saturating_add(1)), 2);
    m.extend_from_slice(b")\nwallet: ");
    push_hex(&mut m, wallet);
    m.extend_from_slice(b"\namount: ");
    push_decimal(&mut m, amount, 1);
    m.extend_from_slice(b"\nbeneficiary: ");
    push_hex(&mut m, beneficiary);
    m
}

/// The EIP-191 (version 0x45, `personal_sign`) digest:
/// `keccak256("\x19Ethereum Signed Message:\n" + len(message) + message)`.
pub fn eth_signed_message_hash(message: &[u8]) -> [u8; 32] {
    let mut data = Vec::with_capacity(message.len().saturating_add(32));
    data.extend_from_slice(b"\x19Ethereum Signed Message:\n");
    push_decimal(&mut data, message.len() as u128, 1);
    data.extend_from_slice(message);
    keccak256(&data)
}

/// Checks `r || s || v` and returns it with `v` normalised to 0 or 1. Rejects `v` outside
/// {0, 1, 27, 28}, `r` or `s` zero or not below `n`, and high `s` (above `n/2`, as
/// OpenZeppelin's `ECDSA.recover` and EIP-2 do), so every accepted signature is canonical.
pub fn normalize_signature(signature: &[u8; 65]) -> Option<[u8; 65]> {
    let v = match signature[64] {
        0 | 27 => 0,
        1 | 28 => 1,
        _ => return None,
    };
    let r: &[u8] = &signature[..32];
    let s: &[u8] = &signature[32..64];
    let zero = [0u8; 32];
    if r == zero || s == zero || r >= &SECP256K1_N[..] || s > &SECP256K1_HALF_N[..] {
        return None;
    }
    let mut out = *signature;
    out[64] = v;
    Some(out)
}

/// The Ethereum address that signed `message` with `personal_sign`, `None` for a malformed or
/// unrecoverable signature.
pub fn recover_signer(message: &[u8], signature: &[u8; 65]) -> Option<[u8; 20]> {
    let signature = normalize_signature(signature)?;
    let digest = eth_signed_message_hash(message);
    let mut pubkey = [0u8; 33];
    ink::env::ecdsa_recover(&signature, &digest, &mut pubkey).ok()?;
    let mut address = [0u8; 20];
    ink::env::ecdsa_to_eth_address(&pubkey, &mut address).ok()?;
    Some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex<const N: usize>(hex: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn message_matches_protocol_example() {
        let expected = "Flex reward claim\n\
            chain: 0x3333333333333333333333333333333333333333333333333333333333333333\n\
            contract: 0x1111111111111111111111111111111111111111111111111111111111111111\n\
            month: 24311 (2025-12)\n\
            wallet: 0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\
            amount: 1000\n\
            beneficiary: 0x2222222222222222222222222222222222222222222222222222222222222222";
        let m = claim_message(&[0x33; 32], &[0x11; 32], 24_311, &[0xaa; 20], 1_000, &[0x22; 32]);
        assert_eq!(core::str::from_utf8(&m).unwrap(), expected);
        assert_eq!(m.len(), 261 + 74);
    }

    #[test]
    fn decimal_and_padding_edges() {
        let m = claim_message(&[0x33; 32], &[0; 32], 0, &[0xAB; 20], 0, &[0xff; 32]);
        let text = core::str::from_utf8(&m).unwrap();
        assert!(text.contains("\nmonth: 0 (0000-01)\n"));
        assert!(text.contains("\nwallet: 0xabababababababababababababababababababab\n"));
        assert!(text.contains("\namount: 0\n"));
        let m = claim_message(&[0x33; 32], &[0; 32], u32::MAX, &[0; 20], u128::MAX, &[0; 32]);
        let text = core::str::from_utf8(&m).unwrap();
        assert!(text.contains("\nmonth: 4294967295 (357913941-04)\n"));
        assert!(text.contains("\namount: 340282366920938463463374607431768211455\n"));
        let m = claim_message(&[0x33; 32], &[0; 32], 12 * 987 + 8, &[0; 20], 7, &[0; 32]);
        assert!(core::str::from_utf8(&m).unwrap().contains(" (0987-09)\n"));
    }

    // Independent vectors from `vectors/oz_vectors.js` (ethereum-cryptography 3.2.0: keccak256 and
    // noble secp256k1 with RFC 6979 nonces): the EIP-191 digest of the PROTOCOL.md example and its
    // signature by the test key (chain 0x33..33) 0x4c0883a6...3f362318, whose address is 0x2c7536e3...96a65c23.
    const EXAMPLE_DIGEST: &str = "ef54db798a70717f887e0bfd2f1a596de9e184f75292d7327a2cad26ea20b2d1";
    const EXAMPLE_SIG: &str = "d4190c49e66c11030aee2a9afac1679d47646ec4eaf82daab013d3cb3ad25480\
                               4c9ae0906b8fce9cbe0a8fdc978bf3e2a3cafdeee41fd8f046e372ab4719c8051b";
    const EXAMPLE_SIGNER: &str = "2c7536e3605d9c16a7a3d7b1898e529396a65c23";

    fn example() -> Vec<u8> {
        claim_message(&[0x33; 32], &[0x11; 32], 24_311, &[0xaa; 20], 1_000, &[0x22; 32])
    }

    #[test]
    fn digest_and_recovery_match_independent_vector() {
        assert_eq!(eth_signed_message_hash(&example()), unhex::<32>(EXAMPLE_DIGEST));
        let sig = unhex::<65>(EXAMPLE_SIG);
        assert_eq!(
            recover_signer(&example(), &sig),
            Some(unhex::<20>(EXAMPLE_SIGNER))
        );
        // v as 0/1 is the same signature.
        let mut sig01 = sig;
        sig01[64] -= 27;
        assert_eq!(
            recover_signer(&example(), &sig01),
            Some(unhex::<20>(EXAMPLE_SIGNER))
        );
        // Another message recovers another address (or none), never the signer.
        let other = claim_message(&[0x33; 32], &[0x11; 32], 24_311, &[0xaa; 20], 1_001, &[0x22; 32]);
        assert_ne!(recover_signer(&other, &sig), Some(unhex::<20>(EXAMPLE_SIGNER)));
    }

    /// `docs/vectors/claim_message.json`, made by ethers.js from the documented format: the
    /// same bytes, digest, and the signature recovers the wallet.
    #[test]
    fn message_digest_and_recovery_match_the_ethers_vectors() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/vectors/claim_message.json")).unwrap();
        let vectors = doc["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 4);
        let hex = |v: &serde_json::Value| v.as_str().unwrap()[2..].to_string();
        for v in vectors {
            let m = claim_message(
                &unhex::<32>(&hex(&v["chain"])),
                &unhex::<32>(&hex(&v["contract"])),
                u32::try_from(v["month_index"].as_u64().unwrap()).unwrap(),
                &unhex::<20>(&hex(&v["wallet"])),
                v["amount"].as_str().unwrap().parse().unwrap(),
                &unhex::<32>(&hex(&v["beneficiary"])),
            );
            assert_eq!(core::str::from_utf8(&m).unwrap(), v["message"].as_str().unwrap());
            assert_eq!(eth_signed_message_hash(&m), unhex::<32>(&hex(&v["digest"])));
            assert_eq!(
                recover_signer(&m, &unhex::<65>(&hex(&v["signature"]))),
                Some(unhex::<20>(&hex(&v["wallet"])))
            );
        }
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let sig = unhex::<65>(EXAMPLE_SIG);
        for v in [2u8, 26, 29, 255] {
            let mut bad = sig;
            bad[64] = v;
            assert_eq!(normalize_signature(&bad), None, "v = {v}");
            assert_eq!(recover_signer(&example(), &bad), None);
        }
        let mut zero_r = sig;
        zero_r[..32].fill(0);
        assert_eq!(recover_signer(&example(), &zero_r), None);
        let mut zero_s = sig;
        zero_s[32..64].fill(0);
        assert_eq!(recover_signer(&example(), &zero_s), None);
        let mut big_r = sig;
        big_r[..32].copy_from_slice(&SECP256K1_N);
        assert_eq!(recover_signer(&example(), &big_r), None);
        // High s: s' = n - s with the flipped v is the same point, valid for ecrecover, rejected
        // here so that a signature has exactly one accepted encoding.
        let mut high = sig;
        let s = u256_from(&sig[32..64]);
        let n = u256_from(&SECP256K1_N);
        high[32..64].copy_from_slice(&u256_to(sub(n, s)));
        high[64] = 28;
        assert_eq!(normalize_signature(&high), None);
        // s = n/2 is the largest accepted, n/2 + 1 the smallest rejected.
        let mut edge = sig;
        edge[32..64].copy_from_slice(&SECP256K1_HALF_N);
        assert!(normalize_signature(&edge).is_some());
        edge[63] += 1;
        assert!(normalize_signature(&edge).is_none());
    }

    // Minimal 256-bit helpers for the high-s test: (hi, lo) u128 pairs.
    fn u256_from(b: &[u8]) -> (u128, u128) {
        (
            u128::from_be_bytes(b[..16].try_into().unwrap()),
            u128::from_be_bytes(b[16..32].try_into().unwrap()),
        )
    }
    fn u256_to((hi, lo): (u128, u128)) -> [u8; 32] {
        let mut out = [0u8; 32];
        out[..16].copy_from_slice(&hi.to_be_bytes());
        out[16..].copy_from_slice(&lo.to_be_bytes());
        out
    }
    fn sub(a: (u128, u128), b: (u128, u128)) -> (u128, u128) {
        let (lo, borrow) = a.1.overflowing_sub(b.1);
        (a.0 - b.0 - u128::from(borrow), lo)
    }
}
