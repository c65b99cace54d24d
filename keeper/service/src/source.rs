//! Where the keeper's activity comes from: an [`ActivitySource`] yields wallets and actions, which
//! are imported into the store idempotently (by address and `action_id`).
//!
//! Two file sources today: the transaction pool JSON of the docs ([`PoolFile`], parsed by
//! `flex-ingest`) and a JSON-lines action log ([`ActionLog`]). Chain followers implement the same
//! trait later. A file whose size and modification time did not change since its last import is
//! skipped (recorded in the store's meta table).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flex_engine::{Address, WeightTable};
use flex_ingest::Side;
use flex_store::{ActionRow, ImportStats, Store, WalletRow};
use indicatif::{ProgressBar, ProgressStyle};

use crate::ServiceError;

/// A batch of activity.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub wallets: Vec<WalletRow>,
    pub actions: Vec<ActionRow>,
}

/// Something that yields activity.
pub trait ActivitySource: Send {
    /// Names the source in logs and errors.
    fn name(&self) -> String;
    /// A fingerprint of the source's current content; an unchanged fingerprint is not read again.
    fn fingerprint(&self) -> Option<String>;
    /// Reads the activity (all of it; the store drops what it already has).
    fn read(&mut self, table: &WeightTable) -> Result<Batch, ServiceError>;
}

fn file_fingerprint(path: &Path) -> Option<String> {
    let md = std::fs::metadata(path).ok()?;
    let mtime = md.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{}:{}", md.len(), mtime.as_nanos()))
}

/// The docs' transaction pool JSON.
#[derive(Debug, Clone)]
pub struct PoolFile(pub PathBuf);

impl ActivitySource for PoolFile {
    fn name(&self) -> String {
        self.0.display().to_string()
    }

    fn fingerprint(&self) -> Option<String> {
        file_fingerprint(&self.0)
    }

    fn read(&mut self, table: &WeightTable) -> Result<Batch, ServiceError> {
        let (pool, ids) = flex_ingest::read_pool_with_ids(&self.0, table)?;
        let wallets = pool
            .wallets
            .iter()
            .map(|w| WalletRow {
                address: w.address.0,
                connected_at: w.connected_at,
            })
            .collect();
        let mut actions = Vec::with_capacity(pool.actions.len());
        for ((a, id), side) in pool.actions.iter().zip(ids.ids).zip(ids.sides) {
            let wallet = pool
                .wallets
                .get(a.wallet as usize)
                .ok_or_else(|| ServiceError::Invalid("pool action names no wallet".into()))?;
            let kind = table
                .name(a.kind)
                .ok_or_else(|| ServiceError::Invalid("pool action kind not in the table".into()))?;
            actions.push(ActionRow {
                action_id: id,
                wallet: wallet.address.0,
                kind: kind.to_string(),
                side: side.name().to_string(),
                timestamp: a.timestamp,
            });
        }
        Ok(Batch { wallets, actions })
    }
}

/// A JSON-lines log, one object per line: a connection
/// `{"wallet":"0x…","connected_at":T}` or an action
/// `{"action_id":ID,"wallet":"0x…","kind":K,"side":"onchain"|"offchain","timestamp":T}`
/// (`T` RFC 3339 or unix seconds, `ID` a string or an integer; other fields ignored). Blank lines
/// are skipped. An action's wallet must be connected somewhere (in this or another source).
#[derive(Debug, Clone)]
pub struct ActionLog(pub PathBuf);

impl ActivitySource for ActionLog {
    fn name(&self) -> String {
        self.0.display().to_string()
    }

    fn fingerprint(&self) -> Option<String> {
        file_fingerprint(&self.0)
    }

    fn read(&mut self, table: &WeightTable) -> Result<Batch, ServiceError> {
        let file = self.name();
        let f = std::fs::File::open(&self.0)
            .map_err(|e| ServiceError::Input(format!("{file}: cannot read: {e}")))?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = progress(size, &format!("reading {file}"));
        let mut batch = Batch::default();
        for (n, line) in BufReader::new(f).lines().enumerate() {
            let line =
                line.map_err(|e| ServiceError::Input(format!("{file}:{}: cannot read: {e}", n + 1)))?;
            bar.inc(line.len() as u64 + 1);
            if line.trim().is_empty() {
                continue;
            }
            let at = |msg: String| ServiceError::Input(format!("{file}:{}: {msg}", n + 1));
            let v: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| at(format!("not JSON: {e}")))?;
            let obj = v.as_object().ok_or_else(|| at("not a JSON object".into()))?;
            let wallet = obj
                .get("wallet")
                .and_then(|w| w.as_str())
                .ok_or_else(|| at("field \"wallet\": missing or not a string".into()))?;
            let wallet: Address = wallet.parse().map_err(|e| at(format!("field \"wallet\": {e}")))?;
            if let Some(id) = obj.get("action_id") {
                let action_id = match id {
                    serde_json::Value::String(s) if !s.is_empty() => s.clone(),
                    serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
                    _ => {
                        return Err(at(
                            "field \"action_id\": not a non-empty string or an integer".into()
                        ))
                    }
                };
                let kind = obj
                    .get("kind")
                    .and_then(|k| k.as_str())
                    .ok_or_else(|| at("field \"kind\": missing or not a string".into()))?;
                if table.kind(kind).is_none() {
                    return Err(at(format!("field \"kind\": {kind:?} is not in the weight table")));
                }
                let side = match obj.get("side").and_then(|s| s.as_str()) {
                    Some("onchain") => Side::Onchain,
                    Some("offchain") => Side::Offchain,
                    _ => return Err(at("field \"side\": not \"onchain\" or \"offchain\"".into())),
                };
                let timestamp =
                    time_field(obj.get("timestamp")).map_err(|m| at(format!("field \"timestamp\": {m}")))?;
                batch.actions.push(ActionRow {
                    action_id,
                    wallet: wallet.0,
                    kind: kind.to_string(),
                    side: side.name().to_string(),
                    timestamp,
                });
            } else {
                let connected_at = time_field(obj.get("connected_at"))
                    .map_err(|m| at(format!("field \"connected_at\": {m}")))?;
                batch.wallets.push(WalletRow {
                    address: wallet.0,
                    connected_at,
                });
            }
        }
        bar.finish_and_clear();
        Ok(batch)
    }
}

fn time_field(v: Option<&serde_json::Value>) -> Result<i64, String> {
    match v {
        None => Err("missing".into()),
        Some(serde_json::Value::String(s)) => flex_ingest::parse_rfc3339(s),
        Some(serde_json::Value::Number(n)) => {
            n.as_i64().ok_or_else(|| format!("{n} is not whole unix seconds"))
        }
        Some(other) => Err(format!("{other} is not a time")),
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar
}

/// Imports every source whose fingerprint changed. Returns the totals.
pub fn import_sources(
    store: &dyn Store,
    sources: &mut [Box<dyn ActivitySource>],
    table: &WeightTable,
) -> Result<ImportStats, ServiceError> {
    let mut total = ImportStats::default();
    for source in sources.iter_mut() {
        let name = source.name();
        let key = format!("import:{name}");
        let fp = source.fingerprint();
        if fp.is_some() && store.meta(&key)? == fp {
            continue;
        }
        let started = std::time::Instant::now();
        let batch = source.read(table)?;
        // Connections are imported before the actions that may refer to them.
        let stats = store.import(&name, &batch.wallets, &batch.actions)?;
        if let Some(fp) = fp {
            store.set_meta(&key, &fp)?;
        }
        tracing::info!(
            source = %name,
            wallets_new = stats.wallets_new,
            actions_new = stats.actions_new,
            actions_known = stats.actions_known,
            ms = started.elapsed().as_millis() as u64,
            "imported activity"
        );
        total.wallets_new += stats.wallets_new;
        total.wallets_known += stats.wallets_known;
        total.actions_new += stats.actions_new;
        total.actions_known += stats.actions_known;
    }
    Ok(total)
}
