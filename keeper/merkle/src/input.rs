//! The keeper's input: a JSON array of leaf objects (`{"month_index":…,"wallet":"0x…",…}`),
//! read element by element so only the parsed leaves stay in memory.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::ValueError;
use crate::leaf::Leaf;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("not a JSON array of objects: {0}")]
    Json(serde_json::Error),
    #[error(transparent)]
    Value(#[from] ValueError),
}

struct Leaves<'a, L> {
    failure: &'a RefCell<Option<ValueError>>,
    _leaf: PhantomData<L>,
}

impl<'de, L: Leaf> DeserializeSeed<'de> for Leaves<'_, L> {
    type Value = Vec<L>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<L>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, L: Leaf> Visitor<'de> for Leaves<'_, L> {
    type Value = Vec<L>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of objects with fields {}", L::FIELDS.join(", "))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<L>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element::<Value>()? {
            match L::from_json_object(&v, out.len()) {
                Ok(leaf) => out.push(leaf),
                Err(e) => {
                    let msg = e.to_string();
                    *self.failure.borrow_mut() = Some(e);
                    return Err(serde::de::Error::custom(msg));
                }
            }
        }
        Ok(out)
    }
}

/// Reads a JSON array of leaf objects; an error names the array index and the field.
pub fn read_leaves<L: Leaf>(reader: impl Read) -> Result<Vec<L>, InputError> {
    let failure = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_reader(io::BufReader::with_capacity(1 << 20, reader));
    let result = Leaves::<L> {
        failure: &failure,
        _leaf: PhantomData,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|_| v));
    match result {
        Ok(v) => Ok(v),
        Err(e) => Err(match failure.into_inner() {
            Some(ve) => InputError::Value(ve),
            None => InputError::Json(e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf::{ClaimLeaf, ScoreLeaf};

    #[test]
    fn reads_arrays_and_names_the_bad_field() {
        let ok = r#"[{"month_index":24311,"wallet":"0xAA00000000000000000000000000000000000001","amount":"123"},
                     {"month_index":"1","wallet":"0xaa00000000000000000000000000000000000002","amount":5}]"#;
        let v = read_leaves::<ClaimLeaf>(ok.as_bytes()).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].amount, 123);
        assert_eq!(v[1].month_index, 1);
        let bad = r#"[{"epoch":1,"wallet":"0xaa00000000000000000000000000000000000001","score":1,"weight_bits":"1","reward":"1"},
                      {"epoch":1,"wallet":"0xaa00000000000000000000000000000000000001","score":1,"weight_bits":"x","reward":"1"}]"#;
        match read_leaves::<ScoreLeaf>(bad.as_bytes()) {
            Err(InputError::Value(e)) => assert_eq!((e.index, e.field), (1, "weight_bits")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_leaves::<ClaimLeaf>(&b"{}"[..]),
            Err(InputError::Json(_))
        ));
        assert!(matches!(
            read_leaves::<ClaimLeaf>(&b"[] x"[..]),
            Err(InputError::Json(_))
        ));
        assert!(matches!(
            read_leaves::<ClaimLeaf>(&b"[1,"[..]),
            Err(InputError::Value(_)) | Err(InputError::Json(_))
        ));
        assert_eq!(read_leaves::<ClaimLeaf>(&b"[]"[..]).unwrap(), vec![]);
    }
}
