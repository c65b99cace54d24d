//! The weight table file: a JSON object or a TOML table from kind to weight.
//!
//! A weight is a decimal string such as `"2.5"`. An integer number (`2`, `10`) is also accepted,
//! since it is exact. In JSON an unquoted number (`2.5`) is read as the literal text that was
//! written (never through binary floating point) and converted like the string `"2.5"`. In TOML a
//! non-integer number is rejected: TOML defines floats as binary64, which is not the decimal that
//! was written, and SPEC section 2 rules out floating point.

use std::path::Path;

use flex_engine::WeightTable;
use serde::de::{MapAccess, Visitor};
use serde::Deserializer;

use crate::IngestError;

/// The weight table's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    Json,
    Toml,
}

impl WeightFormat {
    /// By extension (`.json`, `.toml`); otherwise JSON when the first non-blank character is `{`.
    pub fn detect(path: &Path, text: &str) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("json") => WeightFormat::Json,
            Some("toml") => WeightFormat::Toml,
            _ if text.trim_start().starts_with('{') => WeightFormat::Json,
            _ => WeightFormat::Toml,
        }
    }
}

/// Reads and checks a weight table file.
pub fn read_weight_table(path: &Path) -> Result<WeightTable, IngestError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| IngestError::Io {
        file: file.clone(),
        error,
    })?;
    parse_weight_table(&text, WeightFormat::detect(path, &text))
        .map_err(|message| IngestError::Weights { file, message })
}

/// A weight as written: a string, or an integer.
enum Raw {
    Str(String),
    Int(i128),
    Other(String),
}

/// Parses a weight table; the error message names the kind at fault.
pub fn parse_weight_table(text: &str, format: WeightFormat) -> Result<WeightTable, String> {
    let entries: Vec<(String, Raw)> = match format {
        WeightFormat::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let v = de
                .deserialize_map(JsonTable)
                .map_err(|e| format!("invalid JSON weight table: {e}"))?;
            de.end().map_err(|e| format!("invalid JSON weight table: {e}"))?;
            v
        }
        WeightFormat::Toml => {
            let t: toml::Table =
                toml::from_str(text).map_err(|e| format!("invalid TOML weight table: {e}"))?;
            t.into_iter()
                .map(|(k, v)| {
                    let raw = match v {
                        toml::Value::String(s) => Raw::Str(s),
                        toml::Value::Integer(i) => Raw::Int(i.into()),
                        toml::Value::Float(f) => Raw::Other(format!("the float {f}")),
                        other => Raw::Other(format!("a {}", other.type_str())),
                    };
                    (k, raw)
                })
                .collect()
        }
    };
    let mut table = WeightTable::new();
    for (kind, raw) in entries {
        let result = match raw {
            Raw::Str(s) => table.insert_str(&kind, &s),
            // A negative integer is a syntax error for a decimal string, but out of range here.
            Raw::Int(i) => table.insert_str(&kind, &i.to_string()).map_err(|e| match e {
                flex_engine::EngineError::WeightSyntax { kind, value } => {
                    flex_engine::EngineError::WeightOutOfRange { kind, value }
                }
                other => other,
            }),
            Raw::Other(found) => {
                return Err(format!(
                    "weight of kind {kind:?}: expected a decimal string such as \"2.5\" (or an integer), \
                     found {found}; unquoted non-integer numbers are read as binary floating point and \
                     are not accepted"
                ))
            }
        };
        result.map_err(|e| e.to_string())?;
    }
    Ok(table)
}

/// A JSON object read entry by entry, so that a kind given twice is seen (and rejected) rather than
/// silently overwritten.
struct JsonTable;

impl<'de> Visitor<'de> for JsonTable {
    type Value = Vec<(String, Raw)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object from kind to weight")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(kind) = map.next_key::<String>()? {
            // The raw JSON text of the value, so a number is read as written, not as an f64.
            let raw_value: Box<serde_json::value::RawValue> = map.next_value()?;
            let text = raw_value.get();
            let raw = if text.starts_with('-') || text.starts_with(|c: char| c.is_ascii_digit()) {
                match text.parse::<i128>() {
                    Ok(i) => Raw::Int(i),
                    Err(_) => Raw::Str(text.to_string()),
                }
            } else {
                match serde_json::from_str::<serde_json::Value>(text).map_err(serde::de::Error::custom)? {
                    serde_json::Value::String(s) => Raw::Str(s),
                    serde_json::Value::Null => Raw::Other("null".into()),
                    serde_json::Value::Bool(b) => Raw::Other(format!("{b}")),
                    serde_json::Value::Array(_) => Raw::Other("an array".into()),
                    _ => Raw::Other("an object".into()),
                }
            };
            out.push((kind, raw));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flex_engine::Weight;

    #[test]
    fn json_and_toml() {
        let j = parse_weight_table(r#"{"swap":"2.5","vote":1,"stake":"10"}"#, WeightFormat::Json).unwrap();
        assert_eq!(j.weight(j.kind("swap").unwrap()), Some(Weight::from_num(2.5)));
        assert_eq!(j.weight(j.kind("vote").unwrap()), Some(Weight::from_num(1)));
        let t = parse_weight_table("swap = \"2.5\"\nvote = 1\nstake = \"10\"\n", WeightFormat::Toml).unwrap();
        for k in ["swap", "vote", "stake"] {
            assert_eq!(j.weight(j.kind(k).unwrap()), t.weight(t.kind(k).unwrap()));
        }
    }

    #[test]
    fn json_numbers_are_read_as_the_decimal_that_was_written() {
        // A hair above 1 + 2^-33 (halfway between two U32F32 values): read as written it rounds up
        // to 1 + 2^-32; through f64 it would become exactly the halfway point and round to even (1).
        let above_half = "1.0000000001164153218269348144531250000000001";
        let j = parse_weight_table(
            &format!(r#"{{"swap":2.5,"above":{above_half},"ten":10.000}}"#),
            WeightFormat::Json,
        )
        .unwrap();
        let s = parse_weight_table(
            &format!(r#"{{"swap":"2.5","above":"{above_half}","ten":"10.000"}}"#),
            WeightFormat::Json,
        )
        .unwrap();
        for k in ["swap", "above", "ten"] {
            assert_eq!(j.weight(j.kind(k).unwrap()), s.weight(s.kind(k).unwrap()), "{k}");
        }
        assert_eq!(
            j.weight(j.kind("above").unwrap()).map(|w| w.to_bits()),
            Some((1u64 << 32) + 1)
        );
    }

    #[test]
    fn errors_name_the_kind() {
        let cases = [
            (r#"{"swap":"2.5","mint":"10.5"}"#, WeightFormat::Json, "\"mint\""),
            (r#"{"mint":0}"#, WeightFormat::Json, "\"mint\""),
            (r#"{"mint":10.5}"#, WeightFormat::Json, "\"mint\""),
            (r#"{"mint":1e1}"#, WeightFormat::Json, "\"mint\""),
            (r#"{"mint":"abc"}"#, WeightFormat::Json, "\"mint\""),
            (r#"{"mint":"2","mint":"3"}"#, WeightFormat::Json, "\"mint\" twice"),
            ("mint = 2.5", WeightFormat::Toml, "\"mint\""),
            ("mint = -3", WeightFormat::Toml, "\"mint\""),
            ("mint = \"0.5\"", WeightFormat::Toml, "\"mint\""),
            ("[mint]\na = 1", WeightFormat::Toml, "\"mint\""),
        ];
        for (text, format, needle) in cases {
            let e = parse_weight_table(text, format).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert!(parse_weight_table("{", WeightFormat::Json).is_err());
        assert!(parse_weight_table("[1]", WeightFormat::Json).is_err());
        assert!(parse_weight_table("a = ", WeightFormat::Toml).is_err());
    }

    #[test]
    fn detect_format() {
        assert_eq!(WeightFormat::detect(Path::new("w.TOML"), "{"), WeightFormat::Toml);
        assert_eq!(
            WeightFormat::detect(Path::new("w"), "  {\"a\":\"1\"}"),
            WeightFormat::Json
        );
        assert_eq!(
            WeightFormat::detect(Path::new("w.txt"), "a = \"1\""),
            WeightFormat::Toml
        );
    }
}
