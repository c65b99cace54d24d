//! The two leaf kinds of SPEC section 6, their `abi.encode` and their JSON forms.
//!
//! `abi.encode` of static types is each value left-padded to 32 bytes; it is written straight into
//! a fixed array, so hashing a leaf allocates nothing.

use std::io::{self, Write};

use serde_json::Value;

use crate::error::ValueError;
use crate::hash::{leaf_hash, Hash};
use crate::value::{parse_address, parse_uint, write_address, IntForm, ScalarError};

pub use flex_types::Address;

/// A leaf kind: its Solidity types, its encoding and its JSON forms.
pub trait Leaf: Clone + PartialEq + std::fmt::Debug + Send + Sync + Sized + 'static {
    /// The `leafEncoding` of the dump, e.g. `["uint32", "address", "uint128"]`.
    const ENCODING: &'static [&'static str];
    /// The field names, in encoding order (also the keys of the CLI input objects).
    const FIELDS: &'static [&'static str];
    /// `abi.encode` of the value.
    type Encoded: AsRef<[u8]>;

    fn abi_encode(&self) -> Self::Encoded;
    fn wallet(&self) -> &Address;

    /// OZ's `standardLeafHash`.
    #[inline]
    fn leaf_hash(&self) -> Hash {
        leaf_hash(self.abi_encode().as_ref())
    }

    /// The dump form: an array with every integer as a decimal string and the address lowercase.
    fn write_json(&self, out: &mut impl Write) -> io::Result<()>;

    /// Reads field `i` (in encoding order) from JSON; `form` says which integer forms are accepted.
    fn from_fields(fields: &[&Value], form: IntForm, index: usize) -> Result<Self, ValueError>;

    /// The dump form (`["24311", "0x…", "123"]`), as OZ's `load` sees it.
    fn from_json_array(v: &Value, index: usize) -> Result<Self, ValueError> {
        let items = v.as_array().ok_or_else(|| ValueError {
            index,
            field: "value",
            reason: format!("expected an array of {} items", Self::FIELDS.len()),
        })?;
        if items.len() != Self::FIELDS.len() {
            return Err(ValueError {
                index,
                field: "value",
                reason: format!("expected {} items, got {}", Self::FIELDS.len(), items.len()),
            });
        }
        let fields: Vec<&Value> = items.iter().collect();
        Self::from_fields(&fields, IntForm::DecimalOrHex, index)
    }

    /// The CLI input form: an object keyed by [`Leaf::FIELDS`], integers as JSON numbers or
    /// decimal strings; unknown keys are refused (they usually are typos).
    fn from_json_object(v: &Value, index: usize) -> Result<Self, ValueError> {
        let obj = v.as_object().ok_or_else(|| ValueError {
            index,
            field: "(object)",
            reason: format!("expected an object with fields {}", Self::FIELDS.join(", ")),
        })?;
        if let Some(k) = obj.keys().find(|k| !Self::FIELDS.contains(&k.as_str())) {
            return Err(ValueError {
                index,
                field: "(object)",
                reason: format!("unknown field `{k}` (expected {})", Self::FIELDS.join(", ")),
            });
        }
        let mut fields = Vec::with_capacity(Self::FIELDS.len());
        for &f in Self::FIELDS {
            fields.push(obj.get(f).ok_or_else(|| ValueError {
                index,
                field: f,
                reason: "missing".into(),
            })?);
        }
        Self::from_fields(&fields, IntForm::Decimal, index)
    }
}

/// Monthly claim leaf `(uint32 month_index, address wallet, uint128 amount)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimLeaf {
    pub month_index: u32,
    pub wallet: Address,
    pub amount: u128,
}

/// Epoch score leaf `(uint64 epoch, address wallet, uint8 score, uint128 weight_bits, uint128 reward)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScoreLeaf {
    pub epoch: u64,
    pub wallet: Address,
    pub score: u8,
    /// The raw bits of the U64F64 weight.
    pub weight_bits: u128,
    pub reward: u128,
}

fn field<T>(r: Result<T, ScalarError>, index: usize, field: &'static str) -> Result<T, ValueError> {
    r.map_err(|e| ValueError {
        index,
        field,
        reason: e.to_string(),
    })
}

impl Leaf for ClaimLeaf {
    const ENCODING: &'static [&'static str] = &["uint32", "address", "uint128"];
    const FIELDS: &'static [&'static str] = &["month_index", "wallet", "amount"];
    type Encoded = [u8; 96];

    #[inline]
    fn abi_encode(&self) -> [u8; 96] {
        let mut b = [0u8; 96];
        b[28..32].copy_from_slice(&self.month_index.to_be_bytes());
        b[44..64].copy_from_slice(&self.wallet.0);
        b[80..96].copy_from_slice(&self.amount.to_be_bytes());
        b
    }

    fn wallet(&self) -> &Address {
        &self.wallet
    }

    fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        write!(out, "[\"{}\",", self.month_index)?;
        write_address(out, &self.wallet)?;
        write!(out, ",\"{}\"]", self.amount)
    }

    fn from_fields(f: &[&Value], form: IntForm, index: usize) -> Result<Self, ValueError> {
        Ok(ClaimLeaf {
            month_index: field(parse_uint(f[0], 32, form), index, "month_index")? as u32,
            wallet: field(parse_address(f[1]), index, "wallet")?,
            amount: field(parse_uint(f[2], 128, form), index, "amount")?,
        })
    }
}

impl Leaf for ScoreLeaf {
    const ENCODING: &'static [&'static str] = &["uint64", "address", "uint8", "uint128", "uint128"];
    const FIELDS: &'static [&'static str] = &["epoch", "wallet", "score", "weight_bits", "reward"];
    type Encoded = [u8; 160];

    #[inline]
    fn abi_encode(&self) -> [u8; 160] {
        let mut b = [0u8; 160];
        b[24..32].copy_from_slice(&self.epoch.to_be_bytes());
        b[44..64].copy_from_slice(&self.wallet.0);
        b[95] = self.score;
        b[112..128].copy_from_slice(&self.weight_bits.to_be_bytes());
        b[144..160].copy_from_slice(&self.reward.to_be_bytes());
        b
    }

    fn wallet(&self) -> &Address {
        &self.wallet
    }

    fn write_json(&self, out: &mut impl Write) -> io::Result<()> {
        write!(out, "[\"{}\",", self.epoch)?;
        write_address(out, &self.wallet)?;
        write!(
            out,
            ",\"{}\",\"{}\",\"{}\"]",
            self.score, self.weight_bits, self.reward
        )
    }

    fn from_fields(f: &[&Value], form: IntForm, index: usize) -> Result<Self, ValueError> {
        Ok(ScoreLeaf {
            epoch: field(parse_uint(f[0], 64, form), index, "epoch")? as u64,
            wallet: field(parse_address(f[1]), index, "wallet")?,
            score: field(parse_uint(f[2], 8, form), index, "score")? as u8,
            weight_bits: field(parse_uint(f[3], 128, form), index, "weight_bits")?,
            reward: field(parse_uint(f[4], 128, form), index, "reward")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{keccak256, to_hex};
    use serde_json::json;

    #[test]
    fn claim_encoding_is_left_padded_words() {
        let c = ClaimLeaf {
            month_index: 24311,
            wallet: Address([0xab; 20]),
            amount: 123,
        };
        let e = c.abi_encode();
        let mut expected = vec![0u8; 96];
        expected[30] = (24311u32 >> 8) as u8;
        expected[31] = (24311u32 & 0xff) as u8;
        expected[44..64].fill(0xab);
        expected[95] = 123;
        assert_eq!(e.to_vec(), expected);
        assert_eq!(c.leaf_hash(), keccak256(&keccak256(&expected)));
    }

    #[test]
    fn score_encoding_is_left_padded_words() {
        let s = ScoreLeaf {
            epoch: u64::MAX,
            wallet: Address([1; 20]),
            score: 15,
            weight_bits: 1 << 64,
            reward: u128::MAX,
        };
        let e = s.abi_encode();
        assert_eq!(&e[..24], &[0u8; 24]);
        assert_eq!(&e[24..32], &[0xff; 8]);
        assert_eq!(&e[32..44], &[0u8; 12]);
        assert_eq!(&e[44..64], &[1u8; 20]);
        assert_eq!(&e[64..95], &[0u8; 31]);
        assert_eq!(e[95], 15);
        assert_eq!(&e[96..119], &[0u8; 23]);
        assert_eq!(e[119], 1);
        assert_eq!(&e[120..144], &[0u8; 24]);
        assert_eq!(&e[144..160], &[0xff; 16]);
    }

    /// Solidity: `keccak256(bytes.concat(keccak256(abi.encode(uint32(1), address(0x…01), uint128(1)))))`,
    /// computed here from the spelled-out encoding, so a slip in `abi_encode` shows.
    #[test]
    fn claim_leaf_hash_from_spelled_out_encoding() {
        let c = ClaimLeaf {
            month_index: 1,
            wallet: {
                let mut a = [0u8; 20];
                a[19] = 1;
                Address(a)
            },
            amount: 1,
        };
        let words = format!("{:064x}{:064x}{:064x}", 1, 1, 1);
        let bytes = flex_types::hex::decode_vec(&format!("0x{words}")).unwrap();
        assert_eq!(to_hex(&c.leaf_hash()), to_hex(&keccak256(&keccak256(&bytes))));
    }

    #[test]
    fn json_forms() {
        let c = ClaimLeaf::from_json_object(
            &json!({"month_index": 24311, "wallet": "0xABcdef0000000000000000000000000000000001", "amount": "123"}),
            0,
        )
        .unwrap();
        let mut out = Vec::new();
        c.write_json(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"["24311","0xabcdef0000000000000000000000000000000001","123"]"#
        );
        let back = ClaimLeaf::from_json_array(
            &json!(["24311", "0xabcdef0000000000000000000000000000000001", "0x7b"]),
            0,
        )
        .unwrap();
        assert_eq!(back, c);
        let err = ClaimLeaf::from_json_object(
            &json!({"month_index": "24311", "wallet": "0x01", "amount": "1"}),
            7,
        )
        .unwrap_err();
        assert_eq!((err.index, err.field), (7, "wallet"));
        let err = ClaimLeaf::from_json_object(
            &json!({"month_index": 1, "wallet": "0xabcdef0000000000000000000000000000000001"}),
            2,
        )
        .unwrap_err();
        assert_eq!(
            (err.index, err.field, err.reason.as_str()),
            (2, "amount", "missing")
        );
        let err = ClaimLeaf::from_json_object(
            &json!({"month_index": 1, "wallet": "0xabcdef0000000000000000000000000000000001", "amount": "0x10"}),
            0,
        )
        .unwrap_err();
        assert_eq!(err.field, "amount");
        let err = ScoreLeaf::from_json_object(
            &json!({"epoch": 1, "wallet": "0xabcdef0000000000000000000000000000000001", "score": 256, "weight_bits": "1", "reward": "1"}),
            0,
        )
        .unwrap_err();
        assert_eq!(err.field, "score");
    }
}
