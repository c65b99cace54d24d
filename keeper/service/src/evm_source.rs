//! EVM contract logs as activity: `[[evm]]` sections of `keeper.toml` name a JSON-RPC endpoint and
//! map (contract, event, indexed wallet parameter) to an action kind of the weight table.
//!
//! ```toml
//! [[evm]]
//! name = "mainnet"              # names the follower in logs, the store and FLEX_EVM_<NAME>_URL
//! url = "http://127.0.0.1:8545"
//! chain_id = 1                  # checked against eth_chainId
//! confirmations = 12            # only blocks at least this deep are read
//! start_block = 0               # first block when nothing was read yet
//! poll_ms = 2000                # pause when caught up
//! batch_blocks = 1000           # largest eth_getLogs range
//! backoff_max_ms = 30000        # longest pause after RPC errors (doubling from 250 ms)
//!
//! [[evm.map]]
//! contract = "0x5FbDB2315678afecb367f032d93f642f64180aa3"
//! event = "Swapped(address indexed trader, uint256 amount)"
//! wallet = "trader"             # or the topic index, 1-3
//! kind = "swap"
//! ```
//!
//! Each matching log becomes one action `evm:{chain_id}:{tx hash}:{index of the log in its
//! receipt}`, side `onchain`, at its block's timestamp; the follower ([`flex_evm::follow`]) reads
//! only confirmed blocks, stores its cursor (block number and hash) in the store's meta table after
//! each import, and stops with an error on a reorganisation deeper than `confirmations`
//! (`docs/PROTOCOL.md`, "Ingestion: EVM").

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use flex_engine::WeightTable;
use flex_evm::follow::{Cursor, EventSpec, FollowOptions, LogBatch, LogFilter, LogFollower, Until};
use flex_evm::EvmAddress;
use flex_store::{ActionRow, Store};

use crate::config::ConfigError;
use crate::{Config, ServiceError, Status};

/// One `[[evm.map]]`: which logs count as which action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmMap {
    pub contract: EvmAddress,
    pub event: EventSpec,
    /// The topic (1-3) holding the wallet's address.
    pub wallet_topic: usize,
    pub kind: String,
}

/// One `[[evm]]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmConfig {
    /// `evm[i]` in messages.
    pub key: String,
    pub name: String,
    pub url: String,
    pub chain_id: u64,
    pub confirmations: u64,
    pub start_block: u64,
    pub poll_ms: u64,
    pub batch_blocks: u64,
    pub backoff_max_ms: u64,
    pub maps: Vec<EvmMap>,
}

const EVM_KEYS: &[&str] = &[
    "name",
    "url",
    "chain_id",
    "confirmations",
    "start_block",
    "poll_ms",
    "batch_blocks",
    "backoff_max_ms",
    "map",
];
const MAP_KEYS: &[&str] = &["contract", "event", "wallet", "kind"];

/// The environment variable overriding a section's `url`: `FLEX_EVM_<NAME>_URL` (name upper-cased,
/// `-` as `_`).
pub fn url_env_var(name: &str) -> String {
    format!("FLEX_EVM_{}_URL", name.to_uppercase().replace('-', "_"))
}

/// Parses the `evm` array of tables; `env` holds the `FLEX_*` overrides.
pub fn parse_config(
    file: &str,
    value: &toml::Value,
    env: &BTreeMap<String, String>,
) -> Result<Vec<EvmConfig>, ConfigError> {
    let err = |key: &str, message: String| ConfigError::Key {
        file: file.to_string(),
        key: key.to_string(),
        message,
    };
    let sections = value
        .as_array()
        .ok_or_else(|| err("evm", "expected [[evm]] sections (an array of tables)".into()))?;
    let mut out: Vec<EvmConfig> = Vec::new();
    for (i, section) in sections.iter().enumerate() {
        let key = format!("evm[{i}]");
        let t = section
            .as_table()
            .ok_or_else(|| err(&key, "expected a table".into()))?;
        check_keys(file, &key, t, EVM_KEYS)?;
        let k = |name: &str| format!("{key}.{name}");
        let name = req_str(file, t, &k("name"), "name")?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(err(&k("name"), format!("{name:?}: use letters, digits, - and _")));
        }
        if let Some(other) = out.iter().find(|c| c.name == name) {
            return Err(err(
                &k("name"),
                format!("{name:?} is also the name of {}", other.key),
            ));
        }
        let var = url_env_var(&name);
        let url = match env.get(&var) {
            Some(v) => v.trim().to_string(),
            None => req_str(file, t, &k("url"), "url")?,
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err(
                &k("url"),
                format!("{url:?} is not an http:// or https:// JSON-RPC URL"),
            ));
        }
        let chain_id = opt_u64(file, t, &k("chain_id"), "chain_id")?.ok_or_else(|| {
            err(
                &k("chain_id"),
                "missing (required: the node's eth_chainId)".into(),
            )
        })?;
        let confirmations = opt_u64(file, t, &k("confirmations"), "confirmations")?.unwrap_or(12);
        let start_block = opt_u64(file, t, &k("start_block"), "start_block")?.unwrap_or(0);
        let poll_ms = opt_u64(file, t, &k("poll_ms"), "poll_ms")?
            .unwrap_or(2000)
            .max(10);
        let batch_blocks = opt_u64(file, t, &k("batch_blocks"), "batch_blocks")?.unwrap_or(1000);
        if batch_blocks == 0 {
            return Err(err(&k("batch_blocks"), "must be at least 1".into()));
        }
        let backoff_max_ms = opt_u64(file, t, &k("backoff_max_ms"), "backoff_max_ms")?
            .unwrap_or(30_000)
            .max(100);
        let maps_v = t
            .get("map")
            .ok_or_else(|| err(&k("map"), "missing: at least one [[evm.map]]".into()))?;
        let maps_a = maps_v
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| err(&k("map"), "expected [[evm.map]] sections (at least one)".into()))?;
        let mut maps: Vec<EvmMap> = Vec::new();
        for (j, m) in maps_a.iter().enumerate() {
            let mkey = format!("{key}.map[{j}]");
            let mk = |name: &str| format!("{mkey}.{name}");
            let mt = m
                .as_table()
                .ok_or_else(|| err(&mkey, "expected a table".into()))?;
            check_keys(file, &mkey, mt, MAP_KEYS)?;
            let contract_s = req_str(file, mt, &mk("contract"), "contract")?;
            let contract = parse_evm_address(&contract_s).map_err(|m| err(&mk("contract"), m))?;
            let event_s = req_str(file, mt, &mk("event"), "event")?;
            let event = EventSpec::parse(&event_s).map_err(|m| err(&mk("event"), m))?;
            let wallet_topic = match mt.get("wallet") {
                None => {
                    return Err(err(
                        &mk("wallet"),
                        "missing (a parameter name or a topic index 1-3)".into(),
                    ))
                }
                Some(toml::Value::String(p)) => event.address_topic(p).map_err(|m| err(&mk("wallet"), m))?,
                Some(toml::Value::Integer(i)) if (1..=3).contains(i) => {
                    let i = *i as usize;
                    let declared = event.indexed_count();
                    if declared > 0 {
                        // The declaration says which parameters are indexed: check the topic's type.
                        let p = event.params.iter().filter(|p| p.2).nth(i - 1).ok_or_else(|| {
                            err(
                                &mk("wallet"),
                                format!("{} has {declared} indexed parameters, not {i}", event.signature),
                            )
                        })?;
                        if p.1 != "address" {
                            return Err(err(
                                &mk("wallet"),
                                format!("topic {i} of {} is a {}, not an address", event.signature, p.1),
                            ));
                        }
                    }
                    i
                }
                Some(other) => {
                    return Err(err(
                        &mk("wallet"),
                        format!("{other} is neither a parameter name nor a topic index 1-3"),
                    ))
                }
            };
            let kind = req_str(file, mt, &mk("kind"), "kind")?;
            if let Some((n, _)) = maps
                .iter()
                .enumerate()
                .find(|(_, o)| o.contract == contract && o.event.topic0 == event.topic0)
            {
                return Err(err(
                    &mkey,
                    format!(
                        "{} of {contract_s} is already mapped by {key}.map[{n}] (one action per log)",
                        event.signature
                    ),
                ));
            }
            maps.push(EvmMap {
                contract,
                event,
                wallet_topic,
                kind,
            });
        }
        out.push(EvmConfig {
            key,
            name,
            url,
            chain_id,
            confirmations,
            start_block,
            poll_ms,
            batch_blocks,
            backoff_max_ms,
            maps,
        });
    }
    Ok(out)
}

fn check_keys(file: &str, key: &str, t: &toml::Table, known: &[&str]) -> Result<(), ConfigError> {
    for k in t.keys() {
        if !known.contains(&k.as_str()) {
            return Err(ConfigError::Unknown {
                file: file.to_string(),
                key: format!("{key}.{k}"),
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

fn req_str(file: &str, t: &toml::Table, key: &str, name: &str) -> Result<String, ConfigError> {
    let err = |message: String| ConfigError::Key {
        file: file.to_string(),
        key: key.to_string(),
        message,
    };
    match t.get(name) {
        None => Err(err("missing (required)".into())),
        Some(toml::Value::String(s)) => Ok(s.trim().to_string()),
        Some(other) => Err(err(format!("expected a string, found {}", other.type_str()))),
    }
}

fn opt_u64(file: &str, t: &toml::Table, key: &str, name: &str) -> Result<Option<u64>, ConfigError> {
    let err = |message: String| ConfigError::Key {
        file: file.to_string(),
        key: key.to_string(),
        message,
    };
    match t.get(name) {
        None => Ok(None),
        Some(toml::Value::Integer(i)) if *i >= 0 => Ok(Some(*i as u64)),
        Some(toml::Value::Integer(i)) => Err(err(format!("{i} is negative"))),
        Some(other) => Err(err(format!("expected an integer, found {}", other.type_str()))),
    }
}

/// `0x` + 40 hex digits (any case).
pub fn parse_evm_address(s: &str) -> Result<EvmAddress, String> {
    let bad = || format!("{s:?} is not an address (0x + 40 hex digits)");
    let digits = s.trim().strip_prefix("0x").ok_or_else(bad)?;
    let bytes = hex::decode(digits).map_err(|_| bad())?;
    <EvmAddress>::try_from(bytes).map_err(|_| bad())
}

/// What a follower did (the `flex-keeper follow-evm` summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowSummary {
    pub name: String,
    /// The cursor when it started.
    pub resumed_from: Option<Cursor>,
    /// The cursor when it stopped.
    pub cursor: Option<Cursor>,
    pub head: u64,
    pub batches: u64,
    pub logs: u64,
    pub actions_new: u64,
    pub actions_known: u64,
    pub retries: u64,
}

/// A configured EVM follower.
#[derive(Debug, Clone)]
pub struct EvmSource {
    pub config: EvmConfig,
}

impl EvmSource {
    /// Every mapped kind must be in the weight table.
    pub fn new(config: EvmConfig, table: &WeightTable, file: &str) -> Result<Self, ServiceError> {
        for (j, m) in config.maps.iter().enumerate() {
            if table.kind(&m.kind).is_none() {
                return Err(ServiceError::Config(ConfigError::Key {
                    file: file.to_string(),
                    key: format!("{}.map[{j}].kind", config.key),
                    message: format!("{:?} is not in the weight table", m.kind),
                }));
            }
        }
        Ok(Self { config })
    }

    /// The store's source name for imports.
    pub fn source_name(&self) -> String {
        format!("evm:{}", self.config.name)
    }

    /// The meta key of the cursor: per name, chain and what is followed (contracts, events, wallet
    /// topics, kinds, start block), so a changed mapping reads again from `start_block` (what was
    /// imported before is recognised by its action id).
    pub fn cursor_key(&self) -> String {
        let mut what = format!("start={}", self.config.start_block);
        let mut maps: Vec<String> = self
            .config
            .maps
            .iter()
            .map(|m| {
                format!(
                    "{}:{}:{}:{}",
                    hex::encode(m.contract),
                    hex::encode(m.event.topic0),
                    m.wallet_topic,
                    m.kind
                )
            })
            .collect();
        maps.sort();
        for m in maps {
            what.push(';');
            what.push_str(&m);
        }
        let fp = flex_evm::keccak256(what.as_bytes());
        format!(
            "evm:{}:{}:{}:cursor",
            self.config.name,
            self.config.chain_id,
            hex::encode(&fp[..8])
        )
    }

    pub fn filter(&self) -> LogFilter {
        let addresses: BTreeSet<EvmAddress> = self.config.maps.iter().map(|m| m.contract).collect();
        let topics: BTreeSet<[u8; 32]> = self.config.maps.iter().map(|m| m.event.topic0).collect();
        LogFilter {
            addresses: addresses.into_iter().collect(),
            topic0: topics.into_iter().collect(),
        }
    }

    pub fn options(&self) -> FollowOptions {
        FollowOptions {
            confirmations: self.config.confirmations,
            start_block: self.config.start_block,
            batch_blocks: self.config.batch_blocks,
            poll: Duration::from_millis(self.config.poll_ms),
            backoff_max: Duration::from_millis(self.config.backoff_max_ms),
            ..FollowOptions::default()
        }
    }

    /// The actions of a batch's logs.
    pub fn actions(&self, batch: &LogBatch) -> Result<Vec<ActionRow>, ServiceError> {
        let c = &self.config;
        let mut out = Vec::with_capacity(batch.logs.len());
        for log in &batch.logs {
            let Some(topic0) = log.topics.first() else {
                continue; // anonymous events are not followed
            };
            let Some((j, m)) = c
                .maps
                .iter()
                .enumerate()
                .find(|(_, m)| m.contract == log.address && m.event.topic0 == *topic0)
            else {
                continue; // another contract's event (the filter is contracts x events)
            };
            let at = || {
                format!(
                    "{} ({}): block {} transaction 0x{} log {}: {} of {}",
                    c.key,
                    c.name,
                    log.block,
                    hex::encode(log.tx),
                    log.log_index,
                    m.event.signature,
                    flex_evm::address_hex(&m.contract)
                )
            };
            let topic = log.topics.get(m.wallet_topic).ok_or_else(|| {
                ServiceError::Input(format!(
                    "{}: has {} topics, {}.map[{j}].wallet wants topic {} (the declaration does not match the contract)",
                    at(),
                    log.topics.len(),
                    c.key,
                    m.wallet_topic
                ))
            })?;
            if topic[..12].iter().any(|b| *b != 0) {
                return Err(ServiceError::Input(format!(
                    "{}: topic {} (0x{}) is not an address ({}.map[{j}].wallet)",
                    at(),
                    m.wallet_topic,
                    hex::encode(topic),
                    c.key
                )));
            }
            let mut wallet = [0u8; 20];
            wallet.copy_from_slice(&topic[12..]);
            out.push(ActionRow {
                action_id: format!("evm:{}:0x{}:{}", c.chain_id, hex::encode(log.tx), log.index_in_tx),
                wallet,
                kind: m.kind.clone(),
                side: "onchain".into(),
                timestamp: log.timestamp,
            });
        }
        Ok(out)
    }

    /// The stored cursor, if any.
    pub fn stored_cursor(&self, store: &dyn Store) -> Result<Option<Cursor>, ServiceError> {
        let key = self.cursor_key();
        match store.meta(&key)? {
            None => Ok(None),
            Some(v) => v
                .parse::<Cursor>()
                .map(Some)
                .map_err(|m| ServiceError::Invalid(format!("store meta {key}: {m}"))),
        }
    }

    /// Follows the endpoint, importing each confirmed batch's actions and then the cursor, until
    /// `until` or `stop`.
    pub async fn follow(
        &self,
        store: Arc<dyn Store>,
        status: Option<Arc<Status>>,
        until: Until,
        stop: impl Future<Output = ()>,
    ) -> Result<FollowSummary, ServiceError> {
        let resumed_from = self.stored_cursor(&*store)?;
        let mut follower = LogFollower::new(&self.config.url, self.filter(), self.options(), resumed_from)?;
        let key = self.cursor_key();
        let source = self.source_name();
        let mut summary = FollowSummary {
            name: self.config.name.clone(),
            resumed_from,
            ..FollowSummary::default()
        };
        tracing::info!(
            evm = %self.config.name,
            url = %self.config.url,
            chain_id = self.config.chain_id,
            confirmations = self.config.confirmations,
            resume = %resumed_from.map_or_else(|| format!("start block {}", self.config.start_block), |c| c.to_string()),
            "EVM follower started"
        );
        let confirmations = self.config.confirmations;
        let result = follower
            .run(
                Some(self.config.chain_id),
                until,
                |batch, progress| {
                    let actions = self.actions(batch).map_err(|e| e.to_string())?;
                    let stats = tokio::task::block_in_place(|| -> Result<_, ServiceError> {
                        let stats = store.import(&source, &[], &actions)?;
                        // After the import: a crash in between re-reads the batch, which is harmless.
                        store.set_meta(&key, &batch.cursor.to_string())?;
                        Ok(stats)
                    })
                    .map_err(|e| e.to_string())?;
                    if let Some(s) = &status {
                        s.imported_actions.fetch_add(stats.actions_new, Ordering::Relaxed);
                    }
                    summary.batches += 1;
                    summary.logs += batch.logs.len() as u64;
                    summary.actions_new += stats.actions_new;
                    summary.actions_known += stats.actions_known;
                    summary.retries = progress.retries;
                    let lag = batch.head.saturating_sub(batch.to).saturating_sub(confirmations);
                    if stats.actions_new > 0 {
                        tracing::info!(
                            evm = %self.config.name,
                            from = batch.from,
                            to = batch.to,
                            head = batch.head,
                            lag_blocks = lag,
                            logs = batch.logs.len(),
                            actions_new = stats.actions_new,
                            actions_known = stats.actions_known,
                            "imported EVM logs"
                        );
                    } else {
                        tracing::debug!(evm = %self.config.name, from = batch.from, to = batch.to, head = batch.head, "EVM blocks read");
                    }
                    Ok(())
                },
                stop,
            )
            .await;
        summary.cursor = follower.cursor();
        summary.head = follower.progress().head;
        summary.retries = follower.progress().retries;
        result?;
        Ok(summary)
    }
}

/// The configured EVM sources (kinds checked against the weight table).
pub fn sources(config: &Config, table: &WeightTable) -> Result<Vec<EvmSource>, ServiceError> {
    config
        .evm
        .iter()
        .map(|c| EvmSource::new(c.clone(), table, &config.file))
        .collect()
}

/// Starts one background follower per `[[evm]]` section; each stops when `stop` turns true, or on
/// its own fatal error (logged; the keeper goes on without it).
pub fn spawn_followers(
    config: &Config,
    store: Arc<dyn Store>,
    status: Arc<Status>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, ServiceError> {
    if config.evm.is_empty() {
        return Ok(Vec::new());
    }
    // A kind of any weight table version may be mapped.
    let table = config.known_kinds()?;
    let mut handles = Vec::new();
    for source in sources(config, &table)? {
        let store = store.clone();
        let status = status.clone();
        let mut rx = stop.clone();
        handles.push(tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            match source.follow(store, Some(status.clone()), Until::Stopped, stop).await {
                Ok(s) => tracing::info!(evm = %s.name, cursor = ?s.cursor.map(|c| c.block), "EVM follower stopped"),
                Err(e) => {
                    status.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(evm = %source.config.name, error = %e, "EVM follower stopped on an error");
                }
            }
        }));
    }
    Ok(handles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flex_evm::follow::FollowedLog;

    const GOOD: &str = r#"
[[evm]]
name = "local"
url = "http://127.0.0.1:8545"
chain_id = 31337
confirmations = 3

[[evm.map]]
contract = "0x5FbDB2315678afecb367f032d93f642f64180aa3"
event = "Swapped(address indexed trader, uint256 amount)"
wallet = "trader"
kind = "swap"

[[evm.map]]
contract = "0x5FbDB2315678afecb367f032d93f642f64180aa3"
event = "Staked(address indexed user, address indexed pool, uint256 amount)"
wallet = 2
kind = "stake"
"#;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Vec<EvmConfig>, ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let table: toml::Table = text.parse().unwrap();
        parse_config("keeper.toml", &table["evm"], &env)
    }

    fn table() -> WeightTable {
        flex_ingest::parse_weight_table("swap = \"2\"\nstake = \"3\"\n", flex_ingest::WeightFormat::Toml)
            .unwrap()
    }

    #[test]
    fn sections_parse_with_defaults_topics_and_the_url_override() {
        let c = parse(GOOD, &[("FLEX_EVM_LOCAL_URL", "http://node:8545")]).unwrap();
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert_eq!((c.name.as_str(), c.url.as_str()), ("local", "http://node:8545"));
        assert_eq!((c.chain_id, c.confirmations, c.start_block), (31337, 3, 0));
        assert_eq!(
            (c.poll_ms, c.batch_blocks, c.backoff_max_ms),
            (2000, 1000, 30_000)
        );
        assert_eq!(c.maps[0].wallet_topic, 1);
        assert_eq!(c.maps[1].wallet_topic, 2);
        assert_eq!(c.maps[0].event.signature, "Swapped(address,uint256)");
        assert_eq!(c.maps[0].contract[0], 0x5f);
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("chain_id = 31337\n", "", "evm[0].chain_id: missing"),
            (
                "url = \"http://127.0.0.1:8545\"",
                "url = \"ws://x\"",
                "evm[0].url",
            ),
            (
                "wallet = \"trader\"",
                "wallet = \"amount\"",
                "evm[0].map[0].wallet: parameter \"amount\"",
            ),
            ("wallet = 2", "wallet = 3", "evm[0].map[1].wallet"),
            ("wallet = \"trader\"", "wallet = 4", "evm[0].map[0].wallet"),
            (
                "0x5FbDB2315678afecb367f032d93f642f64180aa3\"\nevent = \"Swapped",
                "0x5FbDB\"\nevent = \"Swapped",
                "evm[0].map[0].contract",
            ),
            (
                "Swapped(address indexed trader, uint256 amount)",
                "Swapped(address indexed trader, uint257 amount)",
                "evm[0].map[0].event",
            ),
            (
                "confirmations = 3",
                "confirmations = -3",
                "evm[0].confirmations: -3 is negative",
            ),
            (
                "confirmations = 3",
                "confirmations = 3\nsurprise = 1",
                "unknown key evm[0].surprise",
            ),
            (
                "kind = \"swap\"",
                "kind = \"swap\"\nwho = 1",
                "unknown key evm[0].map[0].who",
            ),
            ("name = \"local\"", "name = \"lo cal\"", "evm[0].name"),
            (
                "Staked(address indexed user, address indexed pool, uint256 amount)\"\nwallet = 2",
                "Swapped(address indexed trader, uint256 amount)\"\nwallet = 1",
                "already mapped by evm[0].map[0]",
            ),
        ];
        for (from, to, want) in cases {
            let text = if from.is_empty() {
                GOOD.to_string()
            } else {
                GOOD.replacen(from, to, 1)
            };
            let text = if to.is_empty() {
                text.replacen(from, "", 1)
            } else {
                text
            };
            let e = parse(&text, &[]).unwrap_err().to_string();
            assert!(
                e.contains(want) && e.starts_with("keeper.toml"),
                "{from:?} -> {to:?}: {e}"
            );
        }
        let twice = format!("{GOOD}{}", &GOOD[GOOD.find("[[evm]]").unwrap()..]);
        let e = parse(&twice, &[]).unwrap_err().to_string();
        assert!(e.contains("evm[1].name") && e.contains("evm[0]"), "{e}");
        let c = parse(&GOOD.replace("kind = \"stake\"", "kind = \"farm\""), &[]).unwrap();
        let e = EvmSource::new(c[0].clone(), &table(), "keeper.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("evm[0].map[1].kind") && e.contains("\"farm\" is not in the weight table"),
            "{e}"
        );
    }

    fn log(topics: Vec<[u8; 32]>, tx: u8, index_in_tx: u64, address: EvmAddress) -> FollowedLog {
        FollowedLog {
            block: 7,
            block_hash: [1; 32],
            timestamp: 1_700_000_000,
            tx: [tx; 32],
            tx_index: 0,
            log_index: 5,
            index_in_tx,
            address,
            topics,
            data: vec![],
        }
    }

    #[test]
    fn logs_become_actions_with_receipt_based_ids() {
        let c = parse(GOOD, &[]).unwrap().remove(0);
        let src = EvmSource::new(c.clone(), &table(), "keeper.toml").unwrap();
        let contract = c.maps[0].contract;
        let wallet = |b: u8| {
            let mut t = [0u8; 32];
            t[12..].copy_from_slice(&[b; 20]);
            t
        };
        let swapped = c.maps[0].event.topic0;
        let staked = c.maps[1].event.topic0;
        let batch = LogBatch {
            from: 7,
            to: 7,
            cursor: Cursor {
                block: 7,
                hash: [1; 32],
            },
            head: 10,
            logs: vec![
                log(vec![swapped, wallet(0xaa)], 0x11, 1, contract),
                log(vec![staked, wallet(0xbb), wallet(0xcc)], 0x22, 0, contract),
                // The same event from a contract not mapped: not an action.
                log(vec![swapped, wallet(0xdd)], 0x33, 0, [9; 20]),
            ],
        };
        let a = src.actions(&batch).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].action_id, format!("evm:31337:0x{}:1", "11".repeat(32)));
        assert_eq!(
            (a[0].wallet, a[0].kind.as_str(), a[0].side.as_str()),
            ([0xaa; 20], "swap", "onchain")
        );
        assert_eq!(a[0].timestamp, 1_700_000_000);
        // Staked maps its second topic (the pool).
        assert_eq!((a[1].wallet, a[1].kind.as_str()), ([0xcc; 20], "stake"));

        // A log whose declaration does not match (too few topics; a topic that is no address).
        let mut bad = batch.clone();
        bad.logs = vec![log(vec![staked, wallet(0xbb)], 0x44, 0, contract)];
        let e = src.actions(&bad).unwrap_err().to_string();
        assert!(
            e.contains("evm[0] (local): block 7") && e.contains("evm[0].map[1].wallet"),
            "{e}"
        );
        bad.logs = vec![log(vec![swapped, [0xff; 32]], 0x44, 0, contract)];
        assert!(src
            .actions(&bad)
            .unwrap_err()
            .to_string()
            .contains("not an address"));
    }

    #[test]
    fn the_cursor_key_follows_what_is_followed() {
        let c = parse(GOOD, &[]).unwrap().remove(0);
        let a = EvmSource::new(c.clone(), &table(), "f").unwrap();
        let mut moved = c.clone();
        moved.url = "http://elsewhere:8545".into();
        moved.confirmations = 20;
        assert_eq!(
            a.cursor_key(),
            EvmSource::new(moved, &table(), "f").unwrap().cursor_key()
        );
        let mut other = c.clone();
        other.maps[0].kind = "stake".into();
        assert_ne!(
            a.cursor_key(),
            EvmSource::new(other, &table(), "f").unwrap().cursor_key()
        );
        assert!(a.cursor_key().starts_with("evm:local:31337:"));
    }
}
