//! The epoch history the forecaster learns from.
//!
//! CSV (any columns): a header line, then one row per epoch; the first column is the index (epoch
//! number, or year for other series), strictly increasing integers; every other column is a
//! finite decimal number (integers such as pool sizes in base units are read as floats: the model
//! works in floating point). Blank lines and lines starting with `#` are skipped.
//!
//! ```text
//! epoch,pool,active,total_weight,reward_per_active
//! 0,2000000000,5012,12530.25,399042.298
//! ```
//!
//! JSON (the keeper's epoch history): `{"epochs":[{"epoch":0,"pool":"2000000000","active":5012,
//! "total_weight":"12530.25","reward_per_active":"399042.298"}, ...]}`; numbers may be JSON
//! numbers or decimal strings. Columns are `pool, active, total_weight, reward_per_active`.

use std::path::Path;

use serde::Deserialize;

use crate::rng::Rng;
use crate::ForecastError;

/// The epoch-history columns, in order.
pub const EPOCH_COLUMNS: [&str; 4] = ["pool", "active", "total_weight", "reward_per_active"];

/// A multivariate series: an integer index and numeric columns (column-major).
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub index_name: String,
    pub index: Vec<i64>,
    pub columns: Vec<String>,
    pub data: Vec<Vec<f64>>,
}

impl History {
    pub fn rows(&self) -> usize {
        self.index.len()
    }

    pub fn column(&self, name: &str) -> Result<usize, ForecastError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| ForecastError::UnknownColumn(name.to_owned(), self.columns.join(", ")))
    }

    /// Reads CSV, or JSON when the file name ends in `.json`.
    pub fn read(path: &Path) -> Result<Self, ForecastError> {
        let text = std::fs::read_to_string(path).map_err(|source| ForecastError::Io {
            file: path.to_owned(),
            source,
        })?;
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) {
            Self::parse_json(path, &text)
        } else {
            Self::parse_csv(path, &text)
        }
    }

    pub fn parse_csv(file: &Path, text: &str) -> Result<Self, ForecastError> {
        let err = |line: usize, field: &str, message: String| ForecastError::Parse {
            file: file.to_owned(),
            line,
            field: field.to_owned(),
            message,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
        let (hline, header) = lines
            .next()
            .ok_or_else(|| err(1, "header", "file is empty".into()))?;
        let names: Vec<String> = header.split(',').map(|s| s.trim().to_owned()).collect();
        if names.len() < 2 || names.iter().any(String::is_empty) {
            return Err(err(
                hline,
                "header",
                format!("need an index and at least one column, got {header:?}"),
            ));
        }
        let mut h = History {
            index_name: names[0].clone(),
            index: Vec::new(),
            columns: names[1..].to_vec(),
            data: vec![Vec::new(); names.len() - 1],
        };
        for (line, row) in lines {
            let fields: Vec<&str> = row.split(',').map(str::trim).collect();
            if fields.len() != names.len() {
                return Err(err(
                    line,
                    "row",
                    format!("{} fields, header has {}", fields.len(), names.len()),
                ));
            }
            let idx: i64 = fields[0]
                .parse()
                .map_err(|e| err(line, &names[0], format!("{:?} is not an integer: {e}", fields[0])))?;
            h.push_index(idx)
                .map_err(|e| err(line, &names[0], e.to_string()))?;
            for (k, f) in fields[1..].iter().enumerate() {
                let v = parse_number(f).map_err(|e| err(line, &names[k + 1], e.to_string()))?;
                h.data[k].push(v);
            }
        }
        if h.rows() == 0 {
            return Err(err(hline, "rows", "no data rows".into()));
        }
        Ok(h)
    }

    fn push_index(&mut self, idx: i64) -> Result<(), CellError> {
        if let Some(&prev) = self.index.last() {
            if idx <= prev {
                return Err(CellError::Decreasing { idx, prev });
            }
        }
        self.index.push(idx);
        Ok(())
    }

    pub fn parse_json(file: &Path, text: &str) -> Result<Self, ForecastError> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Num {
            N(f64),
            S(String),
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Row {
            epoch: i64,
            pool: Num,
            active: Num,
            total_weight: Num,
            reward_per_active: Num,
        }
        #[derive(Deserialize)]
        struct Doc {
            epochs: Vec<Row>,
        }
        let doc: Doc = serde_json::from_str(text).map_err(|e| ForecastError::Parse {
            file: file.to_owned(),
            line: e.line(),
            field: "epochs".into(),
            message: e.to_string(),
        })?;
        let mut h = History {
            index_name: "epoch".into(),
            index: Vec::new(),
            columns: EPOCH_COLUMNS.iter().map(|s| (*s).to_owned()).collect(),
            data: vec![Vec::new(); 4],
        };
        for (i, row) in doc.epochs.into_iter().enumerate() {
            let err = |field: &str, message: String| ForecastError::Parse {
                file: file.to_owned(),
                line: 0,
                field: format!("epochs[{i}].{field}"),
                message,
            };
            h.push_index(row.epoch).map_err(|e| err("epoch", e.to_string()))?;
            for (k, (name, v)) in EPOCH_COLUMNS
                .iter()
                .zip([row.pool, row.active, row.total_weight, row.reward_per_active])
                .enumerate()
            {
                let v = match v {
                    Num::N(n) if n.is_finite() => n,
                    Num::N(n) => return Err(err(name, format!("{n} is not finite"))),
                    Num::S(s) => parse_number(&s).map_err(|e| err(name, e.to_string()))?,
                };
                h.data[k].push(v);
            }
        }
        if h.rows() == 0 {
            return Err(ForecastError::Format {
                file: file.to_owned(),
                message: "\"epochs\" is empty".into(),
            });
        }
        Ok(h)
    }

    /// Writes the history as CSV.
    pub fn to_csv(&self) -> String {
        let mut s = String::new();
        s.push_str(&self.index_name);
        for c in &self.columns {
            s.push(',');
            s.push_str(c);
        }
        s.push('\n');
        for (r, idx) in self.index.iter().enumerate() {
            s.push_str(&idx.to_string());
            for col in &self.data {
                s.push(',');
                s.push_str(&format!("{}", col[r]));
            }
            s.push('\n');
        }
        s
    }

    /// A deterministic synthetic epoch history: logistic wallet growth with a weekly pattern and
    /// noise, a pool draining 0.2% an epoch and halving every 365 epochs, weights around 2.5 per
    /// active wallet, and `reward_per_active = pool / active`.
    pub fn synthetic(epochs: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let weekly = [1.0, 1.02, 1.03, 1.01, 0.98, 0.88, 0.85];
        let mut h = History {
            index_name: "epoch".into(),
            index: Vec::with_capacity(epochs),
            columns: EPOCH_COLUMNS.iter().map(|s| (*s).to_owned()).collect(),
            data: (0..4).map(|_| Vec::with_capacity(epochs)).collect(),
        };
        for t in 0..epochs {
            let tf = t as f64;
            let trend = 5000.0 + 15000.0 / (1.0 + (-(tf - 200.0) / 60.0).exp());
            let active = (trend * weekly[t % 7] * (1.0 + 0.03 * rng.normal()))
                .round()
                .max(1.0);
            let pool = (2e9 * 0.998f64.powf(tf) * 0.5f64.powi((t / 365) as i32)).round();
            let per = 2.5 + 0.3 * (std::f64::consts::TAU * tf / 7.0).sin() + 0.1 * rng.normal();
            let weight = (active * per * 100.0).round() / 100.0;
            h.index.push(t as i64);
            h.data[0].push(pool);
            h.data[1].push(active);
            h.data[2].push(weight);
            h.data[3].push((pool / active * 1000.0).round() / 1000.0);
        }
        h
    }
}

/// Why one cell of a history is refused (the caller names the file, line and column).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum CellError {
    #[error("{idx} does not follow {prev} (index must increase)")]
    Decreasing { idx: i64, prev: i64 },
    #[error("{0} is not finite")]
    Infinite(f64),
    #[error("{text:?} is not a number: {reason}")]
    Syntax {
        text: String,
        reason: std::num::ParseFloatError,
    },
}

fn parse_number(s: &str) -> Result<f64, CellError> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err(CellError::Infinite(v)),
        Err(reason) => Err(CellError::Syntax {
            text: s.to_string(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_errors_name_file_line_and_field() {
        let f = Path::new("h.csv");
        let e = History::parse_csv(f, "epoch,pool\n0,1\n1,x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("h.csv:3") && e.contains("\"pool\""), "{e}");
        let e = History::parse_csv(f, "epoch,pool\n1,1\n1,2\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("h.csv:3") && e.contains("must increase"), "{e}");
        let e = History::parse_csv(f, "epoch,pool\n1,1,3\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("h.csv:2") && e.contains("2 fields") || e.contains("3 fields"),
            "{e}"
        );
    }

    #[test]
    fn csv_and_json_agree() {
        let csv = "# comment\nepoch,pool,active,total_weight,reward_per_active\n0,10,2,5.5,5\n1,12,3,7,4\n";
        let json = r#"{"epochs":[{"epoch":0,"pool":"10","active":2,"total_weight":"5.5","reward_per_active":5},
            {"epoch":1,"pool":12,"active":"3","total_weight":7,"reward_per_active":"4"}]}"#;
        let a = History::parse_csv(Path::new("a.csv"), csv).unwrap();
        let b = History::parse_json(Path::new("a.json"), json).unwrap();
        assert_eq!(a, b);
        let e = History::parse_json(
            Path::new("a.json"),
            r#"{"epochs":[{"epoch":0,"pool":"x","active":1,"total_weight":1,"reward_per_active":1}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("epochs[0].pool"), "{e}");
    }

    #[test]
    fn synthetic_is_deterministic_and_round_trips_csv() {
        let a = History::synthetic(50, 3);
        assert_eq!(a, History::synthetic(50, 3));
        let back = History::parse_csv(Path::new("s.csv"), &a.to_csv()).unwrap();
        assert_eq!(a, back);
    }
}
