//! The crate's error type: every variant names the file, line or field it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: field {field:?}: {message}")]
    Parse {
        file: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
    #[error("{file}: {message}")]
    Format { file: PathBuf, message: String },
    #[error("history has no column {0:?} (columns: {1})")]
    UnknownColumn(String, String),
    #[error("history has {rows} rows; window {window} with a chronological {train_fraction} split needs at least {needed}")]
    TooShort {
        rows: usize,
        window: usize,
        train_fraction: f64,
        needed: usize,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("history columns {found:?} differ from the model's {expected:?}")]
    ColumnsMismatch {
        expected: Vec<String>,
        found: Vec<String>,
    },
    #[error("{what} #{index}: {message}")]
    Input {
        what: &'static str,
        index: usize,
        message: String,
    },
    #[error("{0}")]
    Infeasible(String),
}
