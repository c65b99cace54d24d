//! PSP22 tokens as a client reads them: the standard's selectors (`blake2b_256("PSP22::<m>")[..4]`,
//! so any PSP22 token answers, not only `flex_token`), balances, allowances, the metadata
//! (`PSP22Metadata`: symbol and decimals) and amounts written in the token's units.

use blake2::{digest::consts::U32, Blake2b, Digest};
use codec::Encode;
use subxt::utils::AccountId32;

use crate::client::{Chain, ChainError};

/// A PSP22 message's selector: the first four bytes of blake2b-256 of its label
/// (`PSP22::transfer`, `PSP22Metadata::token_symbol`).
pub fn selector(label: &str) -> [u8; 4] {
    let hash = Blake2b::<U32>::digest(label.as_bytes());
    [hash[0], hash[1], hash[2], hash[3]]
}

/// The call data of a PSP22 message.
pub fn call_data(label: &str, args: impl Encode) -> Vec<u8> {
    let mut data = selector(label).to_vec();
    args.encode_to(&mut data);
    data
}

/// What a token says about itself (`PSP22Metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub address: AccountId32,
    pub name: Option<String>,
    pub symbol: Option<String>,
    pub decimals: u8,
}

impl TokenInfo {
    /// `amount` base units in the token's units with its symbol: `12.5 FLEXE` (exact, trailing
    /// zeros dropped). A token without a symbol is named by its address.
    pub fn display(&self, amount: u128) -> String {
        let unit = match &self.symbol {
            Some(s) if !s.is_empty() => s.clone(),
            _ => format!(
                "units of token 0x{}",
                flex_types::hex::encode_digits(self.address.0)
            ),
        };
        format!("{} {unit}", format_units(amount, self.decimals))
    }
}

/// `amount` base units as an exact decimal with `decimals` fractional digits, trailing zeros
/// (and a bare point) dropped: `format_units(12_500, 3)` is `12.5`.
pub fn format_units(amount: u128, decimals: u8) -> String {
    let digits = amount.to_string();
    let d = usize::from(decimals);
    if d == 0 {
        return digits;
    }
    let padded = if digits.len() <= d {
        format!("{}{digits}", "0".repeat(d + 1 - digits.len()))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

impl Chain {
    /// The token's metadata, read as `origin` (a dry run; nothing is submitted).
    pub async fn token_info(
        &self,
        origin: &AccountId32,
        token: &AccountId32,
    ) -> Result<TokenInfo, ChainError> {
        let name: Option<String> = self
            .query_psp22(origin, token, "PSP22Metadata::token_name", ())
            .await?;
        let symbol: Option<String> = self
            .query_psp22(origin, token, "PSP22Metadata::token_symbol", ())
            .await?;
        let decimals: u8 = self
            .query_psp22(origin, token, "PSP22Metadata::token_decimals", ())
            .await?;
        Ok(TokenInfo {
            address: token.clone(),
            name,
            symbol,
            decimals,
        })
    }

    /// `PSP22::balance_of(owner)`.
    pub async fn token_balance(&self, token: &AccountId32, owner: &AccountId32) -> Result<u128, ChainError> {
        self.query_psp22(owner, token, "PSP22::balance_of", owner).await
    }

    /// `PSP22::allowance(owner, spender)`.
    pub async fn token_allowance(
        &self,
        token: &AccountId32,
        owner: &AccountId32,
        spender: &AccountId32,
    ) -> Result<u128, ChainError> {
        self.query_psp22(owner, token, "PSP22::allowance", (owner, spender))
            .await
    }

    async fn query_psp22<T: codec::Decode>(
        &self,
        origin: &AccountId32,
        token: &AccountId32,
        label: &'static str,
        args: impl Encode,
    ) -> Result<T, ChainError> {
        self.query(origin, token, &call_data(label, args))
            .await
            .map_err(|e| match e {
                ChainError::Decode { source, .. } => ChainError::Decode { what: label, source },
                other => other,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The selectors `flex_token` (and every ink! 5 PSP22) uses.
    #[test]
    fn standard_selectors() {
        assert_eq!(selector("PSP22::approve"), [0xb2, 0x0f, 0x1b, 0xbd]);
        assert_eq!(selector("PSP22::allowance"), [0x4d, 0x47, 0xd9, 0x21]);
        assert_eq!(selector("PSP22::transfer"), [0xdb, 0x20, 0xf9, 0xf5]);
        assert_eq!(selector("PSP22::transfer_from"), [0x54, 0xb3, 0xc7, 0x6e]);
    }

    #[test]
    fn units() {
        assert_eq!(format_units(0, 12), "0");
        assert_eq!(format_units(1, 12), "0.000000000001");
        assert_eq!(format_units(1_500_000_000_000, 12), "1.5");
        assert_eq!(format_units(2_000_000_000_000, 12), "2");
        assert_eq!(format_units(123, 0), "123");
        assert_eq!(format_units(123, 3), "0.123");
        assert_eq!(format_units(1230, 3), "1.23");
        assert_eq!(
            format_units(u128::MAX, 18),
            "340282366920938463463.374607431768211455"
        );
        assert_eq!(format_units(5, 255).len(), 2 + 254 + 1);
        let t = TokenInfo {
            address: AccountId32([1; 32]),
            name: None,
            symbol: Some("PAY".into()),
            decimals: 12,
        };
        assert_eq!(t.display(250_000_000_000), "0.25 PAY");
    }
}
