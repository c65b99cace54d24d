//! The claim price table: each month's claim price, keyed by month.
//!
//! The spec prices month m's claims by the trailing average price of the reward token in the
//! payment token over the previous month; no chain or feed in this system holds that average, so
//! the operators publish it in a small TOML file that every keeper reads the same way:
//!
//! ```toml
//! # month = price, 18-decimal fixed point as a decimal string (or a non-negative integer)
//! "2026-01" = "500000000000000000"
//! "2026-02" = "0"        # free
//! ```
//!
//! Keys are months written `YYYY-MM` (one spelling per month, so TOML's own duplicate-key rule
//! refuses a month priced twice); a value must be a non-negative integer below 2^128. The keeper reads the file again when it closes a month,
//! so next month's price is added without a restart; a month missing from the file holds that
//! month's root (never a default price).

use std::collections::BTreeMap;
use std::path::Path;

use flex_engine::calendar::Month;

/// Why a price table or one of its prices is refused. Every message names the file and, where
/// known, the line.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("{file}: cannot read: {error}")]
    Io { file: String, error: std::io::Error },
    #[error("{file}: not a TOML table of \"YYYY-MM\" = \"price\": {message}")]
    Toml { file: String, message: String },
    #[error("{file}:{line}: key {key:?}: {message}")]
    Entry {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{file}: no claim price for month {month} (add \"{month}\" = \"PRICE\" to the file; the month's root waits for it)")]
    Missing { file: String, month: Month },
}

/// A read price table: month index -> price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimPriceTable {
    file: String,
    prices: BTreeMap<u32, u128>,
}

impl ClaimPriceTable {
    /// Reads and checks the file.
    pub fn read(path: &Path) -> Result<Self, PriceError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| PriceError::Io {
            file: file.clone(),
            error,
        })?;
        Self::parse(&file, &text)
    }

    /// Parses the text of the file `file` (named in errors).
    pub fn parse(file: &str, text: &str) -> Result<Self, PriceError> {
        let table: BTreeMap<toml::Spanned<String>, toml::Spanned<toml::Value>> = toml::from_str(text)
            .map_err(|e| PriceError::Toml {
                file: file.to_string(),
                message: e.to_string().replace('\n', " "),
            })?;
        let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
        let mut prices = BTreeMap::new();
        for (key, value) in &table {
            let line = line_of(key.span().start);
            let bad = |message: String| PriceError::Entry {
                file: file.to_string(),
                line,
                key: key.get_ref().clone(),
                message,
            };
            let k = key.get_ref();
            let is_yyyy_mm = k.len() == 7 && k.as_bytes()[4] == b'-';
            let month = match k.parse::<Month>() {
                Ok(m) if is_yyyy_mm => m,
                _ => return Err(bad("not a month written YYYY-MM (such as 2026-01)".into())),
            };
            let price = match value.get_ref() {
                toml::Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                    s.parse::<u128>().map_err(|_| bad(format!("{s:?} does not fit 128 bits")))?
                }
                toml::Value::Integer(i) if *i >= 0 => *i as u128,
                other => {
                    return Err(bad(format!(
                        "the price must be a non-negative integer (18-decimal fixed point), as a decimal string; found {other}"
                    )))
                }
            };
            prices.insert(month.0, price);
        }
        Ok(Self {
            file: file.to_string(),
            prices,
        })
    }

    /// Month `m`'s price, or the error that names the month and the file.
    pub fn price(&self, m: u32) -> Result<u128, PriceError> {
        self.prices.get(&m).copied().ok_or_else(|| PriceError::Missing {
            file: self.file.clone(),
            month: Month(m),
        })
    }

    /// The priced months, ascending.
    pub fn months(&self) -> impl Iterator<Item = (u32, u128)> + '_ {
        self.prices.iter().map(|(m, p)| (*m, *p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prices_by_month() {
        let t = ClaimPriceTable::parse(
            "prices.toml",
            "# January and February\n\"2026-01\" = \"500000000000000000\"\n2026-02 = 0\n\"2025-12\" = \"340282366920938463463374607431768211455\"\n",
        )
        .unwrap();
        assert_eq!(t.price(24312).unwrap(), 500_000_000_000_000_000);
        assert_eq!(t.price(24313).unwrap(), 0);
        assert_eq!(t.price(24311).unwrap(), u128::MAX);
        let missing = t.price(24314).unwrap_err().to_string();
        assert!(
            missing.contains("prices.toml") && missing.contains("2026-03"),
            "{missing}"
        );
    }

    #[test]
    fn bad_entries_name_file_line_and_key() {
        for (text, line, says) in [
            ("\"2026-01\" = \"1\"\n\"2026-13\" = \"1\"\n", 2, "not a month"),
            ("\"24312\" = \"1\"\n", 1, "not a month"),
            ("\"2026-01\" = \"-1\"\n", 1, "non-negative integer"),
            ("\"2026-01\" = -1\n", 1, "non-negative integer"),
            ("\n\"2026-01\" = 0.5\n", 2, "non-negative integer"),
            ("\"2026-01\" = \"1e18\"\n", 1, "non-negative integer"),
            ("\"2026-01\" = \"\"\n", 1, "non-negative integer"),
            (
                "\"2026-01\" = \"340282366920938463463374607431768211456\"\n",
                1,
                "128 bits",
            ),
            ("\"2026-1\" = \"1\"\n", 1, "not a month"),
        ] {
            let err = ClaimPriceTable::parse("p.toml", text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("p.toml:{line}: key")), "{text:?}: {err}");
            assert!(err.contains(says), "{text:?}: {err}");
        }
        let dup = ClaimPriceTable::parse("p.toml", "\"2026-01\" = \"1\"\n\"2026-01\" = \"2\"\n")
            .unwrap_err()
            .to_string();
        assert!(dup.starts_with("p.toml") && dup.contains("2026-01"), "{dup}");
        let nested = ClaimPriceTable::parse("p.toml", "[prices]\n\"2026-01\" = \"1\"\n")
            .unwrap_err()
            .to_string();
        assert!(nested.contains("p.toml:1: key \"prices\""), "{nested}");
    }
}
