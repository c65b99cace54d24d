//! The keeper's EVM edge. Everything Ethereum-specific the keeper needs sits behind these few types,
//! so replacing ethers-rs (archived upstream; alloy is its successor) touches this crate only.
//!
//! - [`EvmKey`]: a wallet's secp256k1 key; signs EIP-191 `personal_sign` messages.
//! - [`recover_personal`]: the address that signed a `personal_sign` message.
//! - [`claim_message`]: the exact claim message of `docs/PROTOCOL.md`.
//! - [`follow`]: following contract logs on a JSON-RPC endpoint with a confirmation depth.

pub mod follow;

use std::path::Path;

use ethers_core::types::{Signature, H256};
use ethers_signers::{LocalWallet, Signer};
use flex_types::hex;

pub use flex_types::Address;

#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    #[error("wallet key file: {0}")]
    KeyFile(#[from] flex_types::secret::SecretFileError),
    #[error("{origin}: not a secp256k1 private key (expected 64 hex digits, optionally 0x-prefixed)")]
    BadKey { origin: String },
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("not a valid signature: {0}")]
    BadSignature(String),
}

/// A wallet's private key.
pub struct EvmKey {
    wallet: LocalWallet,
}

impl std::fmt::Debug for EvmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "EvmKey({})", self.address())
    }
}

impl EvmKey {
    /// From 64 hex digits (optionally `0x`-prefixed); `origin` names where it came from in errors.
    pub fn from_hex(hex_key: &str, origin: &str) -> Result<Self, EvmError> {
        let bad = || EvmError::BadKey {
            origin: origin.to_string(),
        };
        let bytes: [u8; 32] = flex_types::hex::decode_prefix_optional(hex_key.trim()).map_err(|_| bad())?;
        let wallet = LocalWallet::from_bytes(&bytes).map_err(|_| bad())?;
        Ok(Self { wallet })
    }

    /// From a file holding the hex key (whitespace around it is ignored), readable by its owner
    /// only ([`flex_types::secret`]).
    pub fn from_file(path: &Path) -> Result<Self, EvmError> {
        let text = flex_types::secret::read_secret_file(path)?;
        Self::from_hex(&text, &path.display().to_string())
    }

    pub fn address(&self) -> Address {
        Address(self.wallet.address().0)
    }

    /// EIP-191 `personal_sign`: 65 bytes `r || s || v`, `v` in {27, 28}, low `s`.
    pub fn sign_personal(&self, message: &[u8]) -> Result<[u8; 65], EvmError> {
        let digest = ethers_core::utils::hash_message(message);
        let sig = self
            .wallet
            .sign_hash(digest)
            .map_err(|e| EvmError::Sign(e.to_string()))?;
        Ok(sig.into())
    }
}

/// The address that produced `signature` (65 bytes `r || s || v`) over `message` with
/// `personal_sign`.
pub fn recover_personal(message: &[u8], signature: &[u8; 65]) -> Result<Address, EvmError> {
    let sig = Signature::try_from(&signature[..]).map_err(|e| EvmError::BadSignature(e.to_string()))?;
    let digest: H256 = ethers_core::utils::hash_message(message);
    sig.recover(digest)
        .map(|a| Address(a.0))
        .map_err(|e| EvmError::BadSignature(e.to_string()))
}

/// Why a signature is not in the one form the reward pool accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureForm {
    #[error("v is {0}; the reward pool accepts 27, 28 (or 0, 1)")]
    V(u8),
    #[error("r is zero or not below the curve order n")]
    R,
    #[error("s is zero")]
    ZeroS,
    #[error("s is above n/2 (a malleable high-s signature; EIP-2 and the reward pool refuse it)")]
    HighS,
}

/// secp256k1's group order n, big-endian.
const SECP256K1_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba,
    0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];
/// n / 2 (rounded down), big-endian.
const SECP256K1_HALF_N: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5d,
    0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// The reward pool's signature rule (`contracts/reward_pool/claim_message.rs`,
/// `normalize_signature`), checked in the same order: `v` in {0, 1, 27, 28}, then `r` in
/// [1, n), then `s` in [1, n/2]. ethers' `recover` is looser (it takes high `s` and `v` of 4, 31,
/// 37…), so a relay that trusted it alone would pay fees for claims the chain refuses.
pub fn check_signature_form(signature: &[u8; 65]) -> Result<(), SignatureForm> {
    if !matches!(signature[64], 0 | 1 | 27 | 28) {
        return Err(SignatureForm::V(signature[64]));
    }
    let r = &signature[..32];
    let s = &signature[32..64];
    if r.iter().all(|b| *b == 0) || r >= &SECP256K1_N[..] {
        return Err(SignatureForm::R);
    }
    if s.iter().all(|b| *b == 0) {
        return Err(SignatureForm::ZeroS);
    }
    if s > &SECP256K1_HALF_N[..] {
        return Err(SignatureForm::HighS);
    }
    Ok(())
}

/// keccak256.
pub fn keccak256(bytes: &[u8]) -> [u8; 32] {
    ethers_core::utils::keccak256(bytes)
}

/// The claim message a wallet signs (`docs/PROTOCOL.md`, "Claim message"): seven lines,
/// `\n`-joined, no trailing newline; `chain` is the genesis block hash of the pool's chain. The
/// reward pool contract builds the same bytes on chain.
pub fn claim_message(
    chain: &[u8; 32],
    contract: &[u8; 32],
    month_index: u32,
    wallet: &Address,
    amount: u128,
    beneficiary: &[u8; 32],
) -> String {
    format!(
        "Flex reward claim\nchain: {}\ncontract: {}\nmonth: {} ({})\nwallet: {}\namount: {}\nbeneficiary: {}",
        hex::encode(chain),
        hex::encode(contract),
        month_index,
        flex_engine::Month(month_index),
        wallet,
        amount,
        hex::encode(beneficiary),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // A well-known test key (Hardhat's account #0).
    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn claim_message_matches_the_protocol_example() {
        let msg = claim_message(
            &[0x33; 32],
            &[0x11; 32],
            24311,
            &Address([0xaa; 20]),
            1000,
            &[0x22; 32],
        );
        assert_eq!(
            msg,
            "Flex reward claim\n\
             chain: 0x3333333333333333333333333333333333333333333333333333333333333333\n\
             contract: 0x1111111111111111111111111111111111111111111111111111111111111111\n\
             month: 24311 (2025-12)\n\
             wallet: 0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\
             amount: 1000\n\
             beneficiary: 0x2222222222222222222222222222222222222222222222222222222222222222"
        );
        // January is month 1 of the next year's index.
        assert!(
            claim_message(&[0; 32], &[0; 32], 24312, &Address([0; 20]), 0, &[0; 32])
                .contains("month: 24312 (2026-01)")
        );
    }

    #[test]
    fn key_address_and_personal_sign_round_trip() {
        let key = EvmKey::from_hex(KEY, "test").unwrap();
        assert_eq!(
            key.address().to_string(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        let sig = key.sign_personal(b"hello").unwrap();
        assert!(sig[64] == 27 || sig[64] == 28);
        assert_eq!(recover_personal(b"hello", &sig).unwrap(), key.address());
        assert_ne!(recover_personal(b"hellO", &sig).unwrap(), key.address());
    }

    #[test]
    fn personal_sign_matches_the_eip191_reference_vector() {
        // Computed independently with ethers.js 6.13.4: new Wallet(KEY).signMessage("hello")
        // (RFC 6979 makes the signature deterministic).
        let key = EvmKey::from_hex(KEY, "test").unwrap();
        let sig = key.sign_personal(b"hello").unwrap();
        assert_eq!(
            hex::encode(sig),
            "0xf16ea9a3478698f695fd1401bfe27e9e4a7e8e3da94aa72b021125e31fa899cc573c48ea3fe1d4ab61a9db10c19032026e3ed2dbccba5a178235ac27f94504311c"
        );
    }

    /// `docs/vectors/claim_message.json`, made by ethers.js from the documented format.
    #[test]
    fn claim_message_matches_the_ethers_vectors() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/vectors/claim_message.json")).unwrap();
        let vectors = doc["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 4);
        let bytes = |v: &serde_json::Value| hex::decode_vec(v.as_str().unwrap()).unwrap();
        for v in vectors {
            let chain: [u8; 32] = bytes(&v["chain"]).try_into().unwrap();
            let contract: [u8; 32] = bytes(&v["contract"]).try_into().unwrap();
            let wallet: Address = v["wallet"].as_str().unwrap().parse().unwrap();
            let beneficiary: [u8; 32] = bytes(&v["beneficiary"]).try_into().unwrap();
            let month = u32::try_from(v["month_index"].as_u64().unwrap()).unwrap();
            let amount: u128 = v["amount"].as_str().unwrap().parse().unwrap();
            let message = claim_message(&chain, &contract, month, &wallet, amount, &beneficiary);
            assert_eq!(message, v["message"].as_str().unwrap());
            assert_eq!(
                ethers_core::utils::hash_message(&message).0.to_vec(),
                bytes(&v["digest"])
            );
            let key = EvmKey::from_hex(v["key"].as_str().unwrap(), "vector").unwrap();
            assert_eq!(key.address(), wallet);
            let sig = key.sign_personal(message.as_bytes()).unwrap();
            assert_eq!(
                sig.to_vec(),
                bytes(&v["signature"]),
                "RFC 6979: the same signature"
            );
            assert_eq!(recover_personal(message.as_bytes(), &sig).unwrap(), wallet);
        }
    }

    /// The contract's rule: canonical low-s signatures with v 27/28 (or 0/1) pass; the forms
    /// ethers still recovers (high s, v = 4, 31, 37) do not.
    #[test]
    fn only_the_contracts_signature_form_passes() {
        let key = EvmKey::from_hex(KEY, "test").unwrap();
        let sig = key.sign_personal(b"hello").unwrap();
        assert_eq!(check_signature_form(&sig), Ok(()));
        let mut zero_one = sig;
        zero_one[64] -= 27;
        assert_eq!(check_signature_form(&zero_one), Ok(()));
        for v in [2u8, 4, 26, 29, 31, 37, 38] {
            let mut bad = sig;
            bad[64] = v;
            assert_eq!(check_signature_form(&bad), Err(SignatureForm::V(v)), "v = {v}");
        }
        // The same signature with s' = n - s and v flipped: ethers recovers the same signer, the
        // contract refuses it.
        let mut high = sig;
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(SECP256K1_N[i]) - i16::from(sig[32 + i]) - borrow;
            borrow = i16::from(d < 0);
            high[32 + i] = (d + 256 * borrow) as u8;
        }
        high[64] = if sig[64] == 27 { 28 } else { 27 };
        assert_eq!(recover_personal(b"hello", &high).unwrap(), key.address());
        assert_eq!(check_signature_form(&high), Err(SignatureForm::HighS));
        let mut r_zero = sig;
        r_zero[..32].fill(0);
        assert_eq!(check_signature_form(&r_zero), Err(SignatureForm::R));
        let mut r_n = sig;
        r_n[..32].copy_from_slice(&SECP256K1_N);
        assert_eq!(check_signature_form(&r_n), Err(SignatureForm::R));
        let mut s_zero = sig;
        s_zero[32..64].fill(0);
        assert_eq!(check_signature_form(&s_zero), Err(SignatureForm::ZeroS));
        let mut s_half = sig;
        s_half[32..64].copy_from_slice(&SECP256K1_HALF_N);
        assert_eq!(check_signature_form(&s_half), Ok(()));
    }

    #[test]
    fn bad_keys_name_their_origin() {
        let err = EvmKey::from_hex("0x1234", "wallet.key").unwrap_err();
        assert!(err.to_string().contains("wallet.key"));
        assert!(EvmKey::from_hex(&"zz".repeat(32), "k").is_err());
    }
}
