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

/// Why a weight table, or a list of weight table versions, is refused.
#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    #[error("invalid JSON weight table: {0}")]
    Json(serde_json::Error),
    #[error("invalid TOML weight table: {0}")]
    Toml(toml::de::Error),
    /// A value that is neither a decimal string nor an integer.
    #[error(
        "weight of kind {kind:?}: expected a decimal string such as \"2.5\" (or an integer), \
         found {found}; unquoted non-integer numbers are read as binary floating point and \
         are not accepted"
    )]
    NotDecimal { kind: String, found: String },
    /// A weight the engine refuses (syntax, range); names the kind.
    #[error(transparent)]
    Weight(#[from] flex_engine::EngineError),
    #[error("no weight table version")]
    NoVersion,
    #[error("version 0 ({origin}) starts at epoch {from_epoch}: the first version must start at epoch 0")]
    FirstNotAtZero { origin: String, from_epoch: u64 },
    #[error(
        "version {index} ({origin}) starts at epoch {from_epoch}, not after version {}'s epoch {previous}: versions must \
         be listed by strictly ascending from_epoch", index - 1
    )]
    NotAscending {
        index: usize,
        origin: String,
        from_epoch: u64,
        previous: u64,
    },
}

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
        .map_err(|source| IngestError::Weights { file, source })
}

/// Which weight table applies to which epoch (SPEC section 2: "a weight table is versioned: a
/// change takes effect from the next epoch").
///
/// The keeper computes epoch `e` with [`WeightSchedule::table_for_epoch`] and accepts at import
/// any kind of any version ([`WeightSchedule::all_kinds`]); an action whose kind is absent from its
/// epoch's table counts for nothing in that epoch (`docs/PROTOCOL.md`, "Weight table versions").
/// [`WeightVersions`] implements it from configuration files; an on-chain governance source
/// implements the same trait over the versions it reads from chain state (a change enacted
/// during epoch `e` listed with `from_epoch = e + 1`), so the keeper's epoch close does not change.
pub trait WeightSchedule: Send + Sync {
    /// The versions by strictly ascending first epoch; the first starts at epoch 0.
    fn versions(&self) -> &[WeightVersion];

    /// The table in force in epoch `epoch`: the last version starting at or before it.
    fn table_for_epoch(&self, epoch: u64) -> Option<&WeightTable> {
        let v = self.versions();
        let i = v.partition_point(|v| v.from_epoch <= epoch);
        i.checked_sub(1).and_then(|i| v.get(i)).map(|v| &v.table)
    }

    /// Every kind named by any version, for validating inputs (each with the weight of the first
    /// version naming it; the weights of this table are not used for scoring).
    fn all_kinds(&self) -> WeightTable {
        let mut all = WeightTable::new();
        for v in self.versions() {
            for i in 0..v.table.len() {
                let Ok(id) = u16::try_from(i) else { break };
                if let (Some(kind), Some(w)) = (v.table.name(id), v.table.weight(id)) {
                    if all.kind(kind).is_none() {
                        // Both tables hold at most u16::MAX - 1 kinds of valid weights.
                        let _ = all.insert(kind, w);
                    }
                }
            }
        }
        all
    }
}

/// One version of the weight table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightVersion {
    /// The first epoch it applies to.
    pub from_epoch: u64,
    pub table: WeightTable,
    /// Where it came from (a file), for messages.
    pub origin: String,
}

/// Weight table versions from configuration ([`WeightSchedule`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightVersions {
    versions: Vec<WeightVersion>,
}

impl WeightVersions {
    /// One table for every epoch.
    pub fn single(table: WeightTable, origin: impl Into<String>) -> Self {
        Self {
            versions: vec![WeightVersion {
                from_epoch: 0,
                table,
                origin: origin.into(),
            }],
        }
    }

    /// Checks the list: not empty, the first from epoch 0, first epochs strictly ascending. The
    /// error names the version (its index and origin).
    pub fn new(versions: Vec<WeightVersion>) -> Result<Self, WeightError> {
        let Some(first) = versions.first() else {
            return Err(WeightError::NoVersion);
        };
        if first.from_epoch != 0 {
            return Err(WeightError::FirstNotAtZero {
                origin: first.origin.clone(),
                from_epoch: first.from_epoch,
            });
        }
        for (i, w) in versions.windows(2).enumerate() {
            if w[1].from_epoch <= w[0].from_epoch {
                return Err(WeightError::NotAscending {
                    index: i + 1,
                    origin: w[1].origin.clone(),
                    from_epoch: w[1].from_epoch,
                    previous: w[0].from_epoch,
                });
            }
        }
        Ok(Self { versions })
    }

    /// Reads each `(from_epoch, file)` table ([`read_weight_table`]) and checks the list
    /// ([`WeightVersions::new`]).
    pub fn read(files: &[(u64, &Path)]) -> Result<Self, IngestError> {
        let mut versions = Vec::with_capacity(files.len());
        for (from_epoch, path) in files {
            versions.push(WeightVersion {
                from_epoch: *from_epoch,
                table: read_weight_table(path)?,
                origin: path.display().to_string(),
            });
        }
        let first = files
            .first()
            .map_or_else(String::new, |(_, p)| p.display().to_string());
        Self::new(versions).map_err(|source| IngestError::Weights { file: first, source })
    }
}

impl WeightSchedule for WeightVersions {
    fn versions(&self) -> &[WeightVersion] {
        &self.versions
    }
}

/// A weight as written: a string, or an integer.
enum Raw {
    Str(String),
    Int(i128),
    Other(String),
}

/// Parses a weight table; the error message names the kind at fault.
pub fn parse_weight_table(text: &str, format: WeightFormat) -> Result<WeightTable, WeightError> {
    let entries: Vec<(String, Raw)> = match format {
        WeightFormat::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let v = de.deserialize_map(JsonTable).map_err(WeightError::Json)?;
            de.end().map_err(WeightError::Json)?;
            v
        }
        WeightFormat::Toml => {
            let t: toml::Table = toml::from_str(text).map_err(WeightError::Toml)?;
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
            Raw::Other(found) => return Err(WeightError::NotDecimal { kind, found }),
        };
        result?;
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
            let e = parse_weight_table(text, format).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert!(parse_weight_table("{", WeightFormat::Json).is_err());
        assert!(parse_weight_table("[1]", WeightFormat::Json).is_err());
        assert!(parse_weight_table("a = ", WeightFormat::Toml).is_err());
    }

    fn version(from_epoch: u64, text: &str) -> WeightVersion {
        WeightVersion {
            from_epoch,
            table: parse_weight_table(text, WeightFormat::Toml).unwrap(),
            origin: format!("w{from_epoch}.toml"),
        }
    }

    #[test]
    fn versions_apply_from_their_first_epoch() {
        let v = WeightVersions::new(vec![
            version(0, "swap = \"2.5\"\npost = 1"),
            version(10, "swap = 5\nvote = 3"),
        ])
        .unwrap();
        let w = |e: u64, k: &str| {
            let t = v.table_for_epoch(e).unwrap();
            t.kind(k).and_then(|i| t.weight(i))
        };
        assert_eq!(w(0, "swap"), Some(Weight::from_num(2.5)));
        assert_eq!(w(9, "swap"), Some(Weight::from_num(2.5)));
        assert_eq!(w(10, "swap"), Some(Weight::from_num(5)));
        assert_eq!(w(u64::MAX, "swap"), Some(Weight::from_num(5)));
        assert_eq!((w(9, "post"), w(10, "post")), (Some(Weight::from_num(1)), None));
        assert_eq!((w(9, "vote"), w(10, "vote")), (None, Some(Weight::from_num(3))));
        let all = v.all_kinds();
        assert_eq!(all.len(), 3);
        assert!(["swap", "post", "vote"].iter().all(|k| all.kind(k).is_some()));
        let one = WeightVersions::single(version(0, "swap = 2").table, "w.toml");
        assert_eq!(one.table_for_epoch(1234).and_then(|t| t.kind("swap")), Some(0));
    }

    #[test]
    fn bad_version_lists_are_refused() {
        let e = WeightVersions::new(vec![]).unwrap_err().to_string();
        assert!(e.contains("no weight table version"), "{e}");
        let e = WeightVersions::new(vec![version(1, "a = 1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("w1.toml") && e.contains("epoch 0"), "{e}");
        let e = WeightVersions::new(vec![
            version(0, "a = 1"),
            version(5, "a = 2"),
            version(5, "a = 3"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("version 2 (w5.toml)") && e.contains("ascending"),
            "{e}"
        );
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
