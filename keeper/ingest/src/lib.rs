//! Parsers for the keeper's inputs: the transaction pool JSON, JSON-lines action logs, signed
//! off-chain batches, the weight table (JSON or TOML), the claim price table and the keys of config
//! sections.
//!
//! - [`pool`](parse_pool): the docs' transaction pool JSON, streamed into a compact form.
//! - [`lines`]: JSON-lines logs, straight into the store's import batches.
//! - [`ids`]: the action id namespaces of the sources (`evm:`, `sub:`, `off:`, the files' ids).
//! - [`offchain`]: the signed off-chain batch: canonical bytes, signature, JSON envelope.
//! - [`weights`](parse_weight_table): weight tables and their versions by epoch.
//! - [`prices`](ClaimPriceTable): the claim price of each month.
//! - [`section`]: serde-derived config sections: one error type naming the key, one copy of the
//!   checks every section uses.
//!
//! Why a crate of its own: the engine (`flex-engine`) is pure and must stay free of files and
//! formats, and the CLI should stay a thin shell. The same parsers will be used by the keeper
//! service and by tests and tools, so they live here, between the two.
//!
//! The pool file is read as a stream (`serde_json`'s streaming deserializer with
//! `DeserializeSeed` visitors), straight into a compact form: a 20-byte address and an `i64`
//! connection time per wallet, and per action a wallet index, an interned kind (`u16`), a side, an
//! `i64` timestamp and the action id's bytes in one shared arena (for deduplication). Neither the
//! file's text nor a JSON value tree is ever held in memory. Everything is parsed and checked
//! before anything is returned, so a caller never sees half an input.
//!
//! Errors name the file and, as far as they are known, the wallet (its index and address), the
//! action (its side, index and `action_id`) and the field.

pub mod ids;
pub mod lines;
pub mod offchain;
mod pool;
mod prices;
pub mod section;
mod timestamp;
mod weights;

use std::fmt;

pub use pool::{parse_pool, parse_pool_with_ids, read_pool, read_pool_with_ids, ActionIds, ParsedPool, Side};
pub use prices::{ClaimPriceTable, PriceError};
pub use timestamp::{parse_rfc3339, TimestampError};
pub use weights::{
    parse_weight_table, read_weight_table, WeightError, WeightFormat, WeightSchedule, WeightVersion,
    WeightVersions,
};

/// Where in a pool file a problem is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// Index in `wallets`.
    pub wallet: Option<usize>,
    /// The wallet's address as written, once known.
    pub address: Option<String>,
    pub side: Option<Side>,
    /// Index in the side's action list.
    pub action: Option<usize>,
    pub action_id: Option<String>,
    pub field: Option<&'static str>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        match (&self.wallet, &self.address) {
            (Some(i), Some(a)) => parts.push(format!("wallet {a} (wallets[{i}])")),
            (Some(i), None) => parts.push(format!("wallet wallets[{i}]")),
            (None, Some(a)) => parts.push(format!("wallet {a}")),
            (None, None) => {}
        }
        if let Some(side) = self.side {
            let mut s = match self.action {
                Some(i) => format!("action actions.{}[{i}]", side.name()),
                None => format!("actions.{}", side.name()),
            };
            if let Some(id) = &self.action_id {
                s.push_str(&format!(" (action_id {id:?})"));
            }
            parts.push(s);
        }
        if let Some(field) = self.field {
            parts.push(format!("field {field:?}"));
        }
        if parts.is_empty() {
            f.write_str("top level")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// An input problem; the message names the file and where in it.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{file}: cannot read: {error}")]
    Io { file: String, error: std::io::Error },
    #[error("{file}: {location}: {message}")]
    Pool {
        file: String,
        location: Box<Location>,
        message: String,
    },
    #[error("{file}: {source}")]
    Weights {
        file: String,
        source: weights::WeightError,
    },
    /// A line of a JSON-lines file (1-based).
    #[error("{file}:{line}: {message}")]
    Line {
        file: String,
        line: u64,
        message: String,
    },
}
