//! OZ's `standard-v1` dump: `{"format","leafEncoding","tree","values":[{"value","treeIndex"}]}`.
//!
//! Written byte for byte as `JSON.stringify(tree.dump())` prints it for the same values given
//! as decimal strings and lowercase addresses (streamed, so a 10M-leaf dump never sits in memory).

use std::io::{self, Read, Write};

use serde::Deserialize;
use serde_json::Value;

use crate::error::MerkleError;
use crate::hash::{parse_hash, Hash};
use crate::leaf::{ClaimLeaf, Leaf, ScoreLeaf};
use crate::tree::StandardMerkleTree;

pub const FORMAT: &str = "standard-v1";

pub(crate) fn write_dump<L: Leaf>(t: &StandardMerkleTree<L>, out: impl Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    write!(out, "{{\"format\":\"{FORMAT}\",\"leafEncoding\":[")?;
    for (i, e) in L::ENCODING.iter().enumerate() {
        write!(out, "{}\"{e}\"", if i > 0 { "," } else { "" })?;
    }
    out.write_all(b"],\"tree\":[")?;
    let mut node = *b",\"0x0000000000000000000000000000000000000000000000000000000000000000\"";
    for (i, h) in t.tree().iter().enumerate() {
        flex_types::hex::encode_to_slice(h, &mut node[4..68]);
        out.write_all(if i == 0 { &node[1..] } else { &node[..] })?;
    }
    out.write_all(b"],\"values\":[")?;
    for (i, v) in t.values().iter().enumerate() {
        out.write_all(if i == 0 { b"{\"value\":" } else { b",{\"value\":" })?;
        v.write_json(&mut out)?;
        write!(out, ",\"treeIndex\":{}}}", t.tree_index(i).unwrap_or_default())?;
    }
    out.write_all(b"]}")?;
    out.flush()
}

#[derive(Deserialize)]
struct RawDump {
    format: String,
    #[serde(rename = "leafEncoding")]
    leaf_encoding: Option<Vec<String>>,
    tree: Vec<String>,
    values: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    value: Value,
    #[serde(rename = "treeIndex")]
    tree_index: usize,
}

/// A loaded dump of either leaf kind (told apart by `leafEncoding`).
#[derive(Debug, Clone, PartialEq)]
pub enum AnyTree {
    Claim(StandardMerkleTree<ClaimLeaf>),
    Score(StandardMerkleTree<ScoreLeaf>),
}

impl AnyTree {
    pub fn root(&self) -> Hash {
        match self {
            AnyTree::Claim(t) => t.root(),
            AnyTree::Score(t) => t.root(),
        }
    }
}

fn parse(reader: impl Read) -> Result<RawDump, MerkleError> {
    let raw: RawDump = serde_json::from_reader(io::BufReader::with_capacity(1 << 20, reader))
        .map_err(|e| MerkleError::InvalidDump(e.to_string()))?;
    if raw.format != FORMAT {
        return Err(MerkleError::InvalidDump(format!(
            "unknown format {:?}",
            raw.format
        )));
    }
    Ok(raw)
}

fn encoding_is<L: Leaf>(enc: &[String]) -> bool {
    enc.len() == L::ENCODING.len() && enc.iter().zip(L::ENCODING).all(|(a, b)| a == b)
}

fn build<L: Leaf>(raw: RawDump) -> Result<StandardMerkleTree<L>, MerkleError> {
    let tree = raw
        .tree
        .iter()
        .enumerate()
        .map(|(i, s)| {
            parse_hash(s).ok_or_else(|| {
                MerkleError::InvalidDump(format!("tree[{i}] is not a 32-byte hex hash: {s:?}"))
            })
        })
        .collect::<Result<Vec<Hash>, _>>()?;
    let mut values = Vec::with_capacity(raw.values.len());
    let mut tree_index = Vec::with_capacity(raw.values.len());
    for (i, e) in raw.values.iter().enumerate() {
        values.push(L::from_json_array(&e.value, i)?);
        tree_index.push(e.tree_index);
    }
    StandardMerkleTree::from_parts(tree, values, tree_index)
}

/// OZ's `StandardMerkleTree.load(dump)` (which validates) for a known leaf kind.
pub fn load<L: Leaf>(reader: impl Read) -> Result<StandardMerkleTree<L>, MerkleError> {
    let raw = parse(reader)?;
    match &raw.leaf_encoding {
        Some(enc) if encoding_is::<L>(enc) => build(raw),
        other => Err(MerkleError::InvalidDump(format!(
            "leafEncoding {other:?} is not {:?}",
            L::ENCODING
        ))),
    }
}

/// Loads a dump of either leaf kind.
pub fn load_any(reader: impl Read) -> Result<AnyTree, MerkleError> {
    let raw = parse(reader)?;
    match &raw.leaf_encoding {
        Some(enc) if encoding_is::<ClaimLeaf>(enc) => Ok(AnyTree::Claim(build(raw)?)),
        Some(enc) if encoding_is::<ScoreLeaf>(enc) => Ok(AnyTree::Score(build(raw)?)),
        other => Err(MerkleError::InvalidDump(format!(
            "leafEncoding {other:?} is neither the claim leaf {:?} nor the score leaf {:?}",
            ClaimLeaf::ENCODING,
            ScoreLeaf::ENCODING
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf::{Address, ClaimLeaf};

    fn tree(n: usize) -> StandardMerkleTree<ClaimLeaf> {
        let values = (0..n)
            .map(|i| ClaimLeaf {
                month_index: 24311 + i as u32,
                wallet: Address([i as u8; 20]),
                amount: u128::MAX - i as u128,
            })
            .collect();
        StandardMerkleTree::of(values).unwrap()
    }

    fn dump_string(t: &StandardMerkleTree<ClaimLeaf>) -> String {
        let mut out = Vec::new();
        t.write_dump(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dump_roundtrip_and_shape() {
        for n in [1, 2, 5] {
            let t = tree(n);
            let s = dump_string(&t);
            let v: Value = serde_json::from_str(&s).unwrap();
            assert_eq!(v["format"], "standard-v1");
            assert_eq!(
                v["leafEncoding"],
                serde_json::json!(["uint32", "address", "uint128"])
            );
            assert_eq!(v["tree"].as_array().unwrap().len(), 2 * n - 1);
            assert_eq!(v["values"][0]["value"][0], "24311");
            assert_eq!(load::<ClaimLeaf>(s.as_bytes()).unwrap(), t);
            assert_eq!(load_any(s.as_bytes()).unwrap(), AnyTree::Claim(t));
        }
    }

    #[test]
    fn tampered_dumps_are_refused() {
        let t = tree(5);
        let s = dump_string(&t);
        let mut v: Value = serde_json::from_str(&s).unwrap();
        let tamper = |f: &dyn Fn(&mut Value)| {
            let mut w = v.clone();
            f(&mut w);
            load::<ClaimLeaf>(w.to_string().as_bytes())
        };
        assert!(tamper(&|w| w["format"] = "standard-v2".into()).is_err());
        assert!(tamper(&|w| w["leafEncoding"][2] = "uint256".into()).is_err());
        assert!(tamper(&|w| w["values"][1]["value"][2] = "1".into()).is_err());
        assert!(tamper(&|w| w["values"][1]["treeIndex"] = 0.into()).is_err());
        assert!(tamper(&|w| {
            let ti = w["values"][0]["treeIndex"].clone();
            w["values"][1]["treeIndex"] = ti;
        })
        .is_err());
        assert!(tamper(&|w| w["tree"][0] = format!("0x{}", "00".repeat(32)).into()).is_err());
        assert!(tamper(&|w| {
            w["values"].as_array_mut().unwrap().pop();
        })
        .is_err());
        assert!(load::<ScoreLeaf>(s.as_bytes()).is_err());
        // Uppercase hex and hex integers are what OZ's loader would accept too.
        v["tree"][0] = v["tree"][0]
            .as_str()
            .unwrap()
            .to_uppercase()
            .replacen("0X", "0x", 1)
            .into();
        v["values"][0]["value"][2] = format!("0x{:x}", u128::MAX).into();
        assert_eq!(load::<ClaimLeaf>(v.to_string().as_bytes()).unwrap(), t);
    }
}
