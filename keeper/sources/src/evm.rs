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
use flex_evm::follow::{self, Cursor, EventSpec, FollowOptions, LogBatch, LogFilter, LogFollower};
use flex_ingest::section::{self, KeyError, WalletRef};
use flex_store::{ActionRow, Store};
use flex_types::{hex, Address};
use serde::Deserialize;

use crate::follower::BoxFuture;
use crate::{FollowSummary, Follower, Position, SourceError, SourceKind, Status, Until};

/// One `[[evm.map]]`: which logs count as which action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmMap {
    pub contract: Address,
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

/// One `[[evm]]` section as written (every key checked by [`configs`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmSection {
    pub name: Option<String>,
    pub url: Option<String>,
    pub chain_id: Option<i64>,
    pub confirmations: Option<i64>,
    pub start_block: Option<i64>,
    pub poll_ms: Option<i64>,
    pub batch_blocks: Option<i64>,
    pub backoff_max_ms: Option<i64>,
    pub map: Option<Vec<EvmMapSection>>,
}

/// One `[[evm.map]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvmMapSection {
    pub contract: Option<String>,
    pub event: Option<String>,
    pub wallet: Option<WalletRef>,
    pub kind: Option<String>,
}

/// The environment variable overriding a section's `url`: `FLEX_EVM_<NAME>_URL` (name upper-cased,
/// `-` as `_`).
pub fn url_env_var(name: &str) -> String {
    section::env_var("evm", name, "url")
}

/// Checks the `[[evm]]` sections; `env` holds the `FLEX_*` overrides. Errors name the key
/// (`evm[1].map[0].wallet`).
pub fn configs(sections: &[EvmSection], env: &BTreeMap<String, String>) -> Result<Vec<EvmConfig>, KeyError> {
    let mut out: Vec<EvmConfig> = Vec::new();
    for (i, t) in sections.iter().enumerate() {
        let key = format!("evm[{i}]");
        let k = |name: &str| format!("{key}.{name}");
        let err = |name: &str, message: String| KeyError::new(k(name), message);
        let taken: Vec<(String, String)> = out.iter().map(|c| (c.name.clone(), c.key.clone())).collect();
        let name = section::source_name(&k("name"), t.name.as_ref(), &taken)?;
        let var = url_env_var(&name);
        let url = match env.get(&var) {
            Some(v) => v.trim().to_string(),
            None => section::required(&k("url"), t.url.as_ref())?,
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err(
                "url",
                format!("{url:?} is not an http:// or https:// JSON-RPC URL"),
            ));
        }
        let int = |name: &str, v: Option<i64>| section::non_negative(&k(name), v);
        let chain_id = int("chain_id", t.chain_id)?
            .ok_or_else(|| err("chain_id", "missing (required: the node's eth_chainId)".into()))?;
        let confirmations = int("confirmations", t.confirmations)?.unwrap_or(12);
        let start_block = int("start_block", t.start_block)?.unwrap_or(0);
        let poll_ms = int("poll_ms", t.poll_ms)?.unwrap_or(2000).max(10);
        let batch_blocks = int("batch_blocks", t.batch_blocks)?.unwrap_or(1000);
        if batch_blocks == 0 {
            return Err(err("batch_blocks", "must be at least 1".into()));
        }
        let backoff_max_ms = int("backoff_max_ms", t.backoff_max_ms)?
            .unwrap_or(30_000)
            .max(100);
        let maps_a = match &t.map {
            None => return Err(err("map", "missing: at least one [[evm.map]]".into())),
            Some(m) if m.is_empty() => {
                return Err(err("map", "expected [[evm.map]] sections (at least one)".into()))
            }
            Some(m) => m,
        };
        let mut maps: Vec<EvmMap> = Vec::new();
        for (j, mt) in maps_a.iter().enumerate() {
            let mkey = format!("{key}.map[{j}]");
            let mk = |name: &str| format!("{mkey}.{name}");
            let merr = |name: &str, message: String| KeyError::new(mk(name), message);
            let contract_s = section::required(&mk("contract"), mt.contract.as_ref())?;
            let contract = section::address(&mk("contract"), &contract_s)?;
            let event_s = section::required(&mk("event"), mt.event.as_ref())?;
            let event = EventSpec::parse(&event_s).map_err(|e| merr("event", e.to_string()))?;
            let wallet_topic = match &mt.wallet {
                None => {
                    return Err(merr(
                        "wallet",
                        "missing (a parameter name or a topic index 1-3)".into(),
                    ))
                }
                Some(WalletRef::Name(p)) => event
                    .address_topic(p)
                    .map_err(|e| merr("wallet", e.to_string()))?,
                Some(WalletRef::Index(i)) if (1..=3).contains(i) => {
                    let i = *i as usize;
                    let declared = event.indexed_count();
                    if declared > 0 {
                        // The declaration says which parameters are indexed: check the topic's type.
                        let p = event.params.iter().filter(|p| p.2).nth(i - 1).ok_or_else(|| {
                            merr(
                                "wallet",
                                format!("{} has {declared} indexed parameters, not {i}", event.signature),
                            )
                        })?;
                        if p.1 != "address" {
                            return Err(merr(
                                "wallet",
                                format!("topic {i} of {} is a {}, not an address", event.signature, p.1),
                            ));
                        }
                    }
                    i
                }
                Some(other) => {
                    return Err(merr(
                        "wallet",
                        format!("{other} is neither a parameter name nor a topic index 1-3"),
                    ))
                }
            };
            let kind = section::required(&mk("kind"), mt.kind.as_ref())?;
            if let Some((n, _)) = maps
                .iter()
                .enumerate()
                .find(|(_, o)| o.contract == contract && o.event.topic0 == event.topic0)
            {
                return Err(KeyError::new(
                    mkey.clone(),
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

/// A configured EVM follower.
#[derive(Debug, Clone)]
pub struct EvmSource {
    pub config: EvmConfig,
}

impl EvmSource {
    /// Every mapped kind must be in the weight table.
    pub fn new(config: EvmConfig, table: &WeightTable) -> Result<Self, KeyError> {
        for (j, m) in config.maps.iter().enumerate() {
            if table.kind(&m.kind).is_none() {
                return Err(KeyError::new(
                    format!("{}.map[{j}].kind", config.key),
                    format!("{:?} is not in the weight table", m.kind),
                ));
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
                    hex::encode_digits(m.contract),
                    hex::encode_digits(m.event.topic0),
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
            hex::encode_digits(&fp[..8])
        )
    }

    pub fn filter(&self) -> LogFilter {
        let addresses: BTreeSet<Address> = self.config.maps.iter().map(|m| m.contract).collect();
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
    pub fn actions(&self, batch: &LogBatch) -> Result<Vec<ActionRow>, SourceError> {
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
                    hex::encode_digits(log.tx),
                    log.log_index,
                    m.event.signature,
                    m.contract
                )
            };
            let topic = log.topics.get(m.wallet_topic).ok_or_else(|| SourceError::Mapping {
                at: at(),
                message: format!(
                    "has {} topics, {}.map[{j}].wallet wants topic {} (the declaration does not match the contract)",
                    log.topics.len(),
                    c.key,
                    m.wallet_topic
                ),
            })?;
            if topic[..12].iter().any(|b| *b != 0) {
                return Err(SourceError::Mapping {
                    at: at(),
                    message: format!(
                        "topic {} (0x{}) is not an address ({}.map[{j}].wallet)",
                        m.wallet_topic,
                        hex::encode_digits(topic),
                        c.key
                    ),
                });
            }
            let mut wallet = Address::default();
            wallet.0.copy_from_slice(&topic[12..]);
            out.push(ActionRow {
                action_id: format!(
                    "evm:{}:0x{}:{}",
                    c.chain_id,
                    hex::encode_digits(log.tx),
                    log.index_in_tx
                ),
                wallet,
                kind: m.kind.clone(),
                side: "onchain".into(),
                timestamp: log.timestamp,
            });
        }
        Ok(out)
    }

    /// The meta key set when the follower met a reorganisation deeper than its confirmations:
    /// the store then holds actions of blocks that are no longer the chain's, and nothing deletes
    /// them. Per name and chain, not per cursor: a new `start_block` does not clear it; only a
    /// rebuilt database does.
    pub fn untrusted_key(&self) -> String {
        format!("evm:{}:{}:untrusted", self.config.name, self.config.chain_id)
    }

    /// The stored cursor, if any.
    pub fn stored_cursor(&self, store: &dyn Store) -> Result<Option<Cursor>, SourceError> {
        let key = self.cursor_key();
        match store.meta(&key)? {
            None => Ok(None),
            Some(v) => v.parse::<Cursor>().map(Some).map_err(|e| SourceError::Cursor {
                key,
                message: e.to_string(),
            }),
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
    ) -> Result<FollowSummary, SourceError> {
        let source = self.source_name();
        let untrusted_key = self.untrusted_key();
        if let Some(why) = store.meta(&untrusted_key)? {
            // No cursor time is published: its block time vouches for nothing any more.
            return Err(SourceError::Untrusted {
                name: format!("evm {}", self.config.name),
                message: format!(
                    "this database holds actions of blocks that a reorganisation replaced ({why}); \
                     rebuild it: stop the keeper, raise `confirmations`, delete the database, start again"
                ),
            });
        }
        let resumed_from = self.stored_cursor(&*store)?;
        let mut follower = LogFollower::new(&self.config.url, self.filter(), self.options(), resumed_from)?;
        let key = self.cursor_key();
        let time_key = crate::follower::cursor_time_key(&key);
        if let (Some(s), Some(c)) = (&status, resumed_from) {
            // The stored cursor's block time: epochs before it may close before the first batch.
            if let Some(t) = crate::follower::stored_cursor_time(&*store, &time_key, c.block)? {
                s.source_cursor(&source, SourceKind::Evm, c.block, t);
            }
        }
        let mut summary = FollowSummary {
            name: self.config.name.clone(),
            resumed_from: resumed_from.map(position),
            ..FollowSummary::default()
        };
        tracing::info!(
            evm = %self.config.name,
            url = %flex_types::url::redact(&self.config.url),
            chain_id = self.config.chain_id,
            confirmations = self.config.confirmations,
            resume = %resumed_from.map_or_else(|| format!("start block {}", self.config.start_block), |c| c.to_string()),
            "EVM follower started"
        );
        let confirmations = self.config.confirmations;
        let retry_status = status.clone();
        let retry_source = source.clone();
        let on_retry = move |e: Option<&follow::FollowError>| {
            if let Some(s) = &retry_status {
                match e {
                    // One message per outage (the error's text changes with every attempt).
                    Some(_) => s.source_failed(
                        &retry_source,
                        SourceKind::Evm,
                        "EVM node unavailable; retrying with backoff",
                    ),
                    None => s.source_ok(&retry_source, SourceKind::Evm),
                };
            }
        };
        let result = follower
            .run_observed(
                Some(self.config.chain_id),
                match until {
                    Until::CaughtUp => follow::Until::CaughtUp,
                    Until::Stopped => follow::Until::Stopped,
                },
                |batch, progress| {
                    let actions = self.actions(batch)?;
                    let stats = tokio::task::block_in_place(|| -> Result<_, SourceError> {
                        let stats = store.import(&source, &[], &actions)?;
                        // After the import: a crash in between re-reads the batch, which is harmless.
                        store.set_meta(&key, &batch.cursor.to_string())?;
                        store.set_meta(&time_key, &format!("{}:{}", batch.cursor.block, batch.cursor_time))?;
                        Ok(stats)
                    })?;
                    if let Some(s) = &status {
                        s.imported_actions.fetch_add(stats.actions_new, Ordering::Relaxed);
                        s.source_cursor(&source, SourceKind::Evm, batch.cursor.block, batch.cursor_time);
                    }
                    summary.batches += 1;
                    summary.first_block.get_or_insert(batch.from);
                    summary.blocks += (batch.to + 1).saturating_sub(batch.from);
                    summary.events += batch.logs.len() as u64;
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
                    Ok::<(), SourceError>(())
                },
                on_retry,
                stop,
            )
            .await;
        summary.cursor = follower.cursor().map(position);
        summary.head = follower.progress().head;
        summary.retries = follower.progress().retries;
        if let Err(e @ follow::FollowError::DeepReorg { .. }) = &result {
            // What was read after the (unknown) fork point is not the chain's: the cursor's time no
            // longer proves that an epoch's inputs are complete, now or after a restart.
            if let Some(s) = &status {
                s.forget_cursor_time(&source);
            }
            tokio::task::block_in_place(|| store.set_meta(&untrusted_key, &e.to_string()))?;
        }
        result?;
        tracing::info!(evm = %self.config.name, cursor = ?summary.cursor.map(|c| c.block), "EVM follower stopped");
        Ok(summary)
    }
}

fn position(c: Cursor) -> Position {
    Position {
        block: c.block,
        hash: c.hash,
    }
}

impl Follower for EvmSource {
    fn name(&self) -> String {
        self.source_name()
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Evm
    }

    fn follow<'a>(
        &'a self,
        store: Arc<dyn Store>,
        status: Option<Arc<Status>>,
        until: Until,
        stop: BoxFuture<'a, ()>,
    ) -> BoxFuture<'a, Result<FollowSummary, SourceError>> {
        Box::pin(EvmSource::follow(self, store, status, until, stop))
    }
}

/// The configured EVM sources, their kinds checked against `table` (every kind of every weight
/// table version may be mapped).
pub fn sources(configs: &[EvmConfig], table: &WeightTable) -> Result<Vec<EvmSource>, KeyError> {
    configs.iter().map(|c| EvmSource::new(c.clone(), table)).collect()
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

    #[derive(serde::Deserialize)]
    struct Root {
        evm: Vec<EvmSection>,
    }

    /// As the keeper's config reads it: the section, then the checks; the config names the file.
    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Vec<EvmConfig>, String> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let root: Root = section::deserialize(toml::Value::Table(text.parse().unwrap()))
            .map_err(|e| format!("keeper.toml: {e}"))?;
        configs(&root.evm, &env).map_err(|e| format!("keeper.toml: {e}"))
    }

    fn table() -> WeightTable {
        flex_ingest::parse_weight_table("swap = \"2\"\nstake = \"3\"\n", flex_ingest::WeightFormat::Toml)
            .unwrap()
    }

    /// Once a reorganisation deeper than the confirmations was met, the store is marked: the
    /// follower refuses to read on (also from another `start_block`, a new cursor key), before
    /// any RPC call, and publishes no cursor time; the status keeps no time that could let an
    /// epoch close.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_store_marked_by_a_deep_reorg_is_not_followed_again() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(flex_store::SqliteStore::open(dir.path().join("k.db")).unwrap());
        let mut c = parse(GOOD, &[]).unwrap().remove(0);
        c.url = "http://127.0.0.1:9".into(); // nothing listens: any call would fail otherwise
        let first = EvmSource::new(c.clone(), &table()).unwrap();
        store
            .set_meta(&first.cursor_key(), &format!("8:0x{}", "ab".repeat(32)))
            .unwrap();
        store
            .set_meta(&crate::follower::cursor_time_key(&first.cursor_key()), "8:2000")
            .unwrap();
        store
            .set_meta(&first.untrusted_key(), "block 8 was 0xab.. when read")
            .unwrap();
        c.start_block = 5;
        let again = EvmSource::new(c, &table()).unwrap();
        assert_ne!(again.cursor_key(), first.cursor_key());
        assert_eq!(again.untrusted_key(), first.untrusted_key());
        for source in [&first, &again] {
            let status = Arc::new(Status::default());
            let err = source
                .follow(
                    store.clone(),
                    Some(status.clone()),
                    Until::CaughtUp,
                    std::future::pending(),
                )
                .await
                .unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, SourceError::Untrusted { .. }), "{text}");
            assert!(
                text.starts_with("evm local: this database holds actions of blocks that a reorganisation replaced (block 8 was")
                    && text.contains("delete the database"),
                "{text}"
            );
            assert_eq!(status.source("evm:local").and_then(|s| s.cursor_time), None);
        }
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
        assert_eq!(c.maps[0].contract.0[0], 0x5f);
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
        let e = EvmSource::new(c[0].clone(), &table()).unwrap_err().to_string();
        assert!(
            e.contains("evm[0].map[1].kind") && e.contains("\"farm\" is not in the weight table"),
            "{e}"
        );
    }

    fn log(topics: Vec<[u8; 32]>, tx: u8, index_in_tx: u64, address: Address) -> FollowedLog {
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
        let src = EvmSource::new(c.clone(), &table()).unwrap();
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
            cursor_time: 1_700_000_000,
            logs: vec![
                log(vec![swapped, wallet(0xaa)], 0x11, 1, contract),
                log(vec![staked, wallet(0xbb), wallet(0xcc)], 0x22, 0, contract),
                // The same event from a contract not mapped: not an action.
                log(vec![swapped, wallet(0xdd)], 0x33, 0, Address([9; 20])),
            ],
        };
        let a = src.actions(&batch).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].action_id, format!("evm:31337:0x{}:1", "11".repeat(32)));
        assert_eq!(
            (a[0].wallet, a[0].kind.as_str(), a[0].side.as_str()),
            (Address([0xaa; 20]), "swap", "onchain")
        );
        assert_eq!(a[0].timestamp, 1_700_000_000);
        // Staked maps its second topic (the pool).
        assert_eq!((a[1].wallet, a[1].kind.as_str()), (Address([0xcc; 20]), "stake"));

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
        let a = EvmSource::new(c.clone(), &table()).unwrap();
        let mut moved = c.clone();
        moved.url = "http://elsewhere:8545".into();
        moved.confirmations = 20;
        assert_eq!(
            a.cursor_key(),
            EvmSource::new(moved, &table()).unwrap().cursor_key()
        );
        let mut other = c.clone();
        other.maps[0].kind = "stake".into();
        assert_ne!(
            a.cursor_key(),
            EvmSource::new(other, &table()).unwrap().cursor_key()
        );
        assert!(a.cursor_key().starts_with("evm:local:31337:"));
    }
}
