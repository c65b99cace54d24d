//! Substrate events as activity: `[[substrate]]` sections of `keeper.toml` name a node and map
//! events of its finalized blocks to action kinds of the weight table.
//!
//! ```toml
//! [[substrate]]
//! name = "devnet"                # names the follower in logs, the store and FLEX_SUBSTRATE_<NAME>_*
//! url = "ws://127.0.0.1:9944"
//! start_block = 0                # first block when nothing was read yet
//! poll_ms = 6000                 # longest wait for a finalized-head notification
//! backoff_max_ms = 30000         # longest pause after RPC errors (doubling from 250 ms)
//!
//! [[substrate.map]]              # a pallet event: the wallet is a field, by name
//! pallet = "Balances"
//! event = "Transfer"
//! wallet = "from"
//! kind = "transfer"
//!
//! [[substrate.map]]              # an ink! contract event, by its signature topic
//! contract = "5F..."             # SS58 or 0x + 64 hex digits
//! topic = "0x99..."              # topic 0; or bundle + event, which also give the field layout
//! bundle = "flex_token.contract"
//! event = "Transfer"
//! wallet = "to"                  # a field (needs the bundle) or a topic index (1, 2, ...)
//! kind = "token_transfer"
//! ```
//!
//! Each matching event of a finalized block becomes one action
//! `sub:0x{genesis hash}:{block number}:{event index}`, side `onchain`, at the block's
//! `Timestamp::set` (seconds). Accounts map to wallets as pallet-revive's `AccountId32Mapper` does
//! ([`wallet_of_account`]); `H160` fields are taken as they are. The follower
//! ([`flex_chain::follow`]) stores its cursor (block number and hash) in the store's meta table after
//! each import and checks it against the chain on every connection (`docs/PROTOCOL.md`, "Ingestion:
//! Substrate").

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use flex_chain::{
    address_in, AccountId32, BlockHandler, ChainAddress, ContractBundle, Cursor, FinalizedBlock, FollowError,
    FollowOptions, FollowProgress, Follower, InkEventDecoder,
};
use flex_engine::WeightTable;
use flex_store::{ActionRow, Store};

use crate::config::ConfigError;
use crate::{Config, ServiceError, Status};

/// Which events a `[[substrate.map]]` takes.
#[derive(Debug, Clone)]
pub enum EventMatch {
    /// A pallet's event, by pallet and variant name.
    Pallet { pallet: String, event: String },
    /// A contract's event (`Contracts::ContractEmitted` from `contract` whose topic 0 is `topic`).
    Contract {
        contract: [u8; 32],
        topic: [u8; 32],
        /// The event's layout from its bundle, when one is given.
        decoder: Option<Box<InkEventDecoder>>,
    },
}

/// Where the wallet is in a matching event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletField {
    /// A field by name (pallet events: from the chain's metadata; contract events: from the bundle).
    Field(String),
    /// A contract event's topic (1 is the first after the signature topic), holding an account.
    Topic(usize),
}

/// One `[[substrate.map]]`.
#[derive(Debug, Clone)]
pub struct SubstrateMap {
    /// `substrate[i].map[j]` in messages.
    pub key: String,
    pub event: EventMatch,
    pub wallet: WalletField,
    pub kind: String,
}

impl SubstrateMap {
    fn describe(&self) -> String {
        let what = match &self.event {
            EventMatch::Pallet { pallet, event } => format!("{pallet}.{event}"),
            EventMatch::Contract { contract, topic, .. } => {
                format!("0x{}:0x{}", hex::encode(contract), hex::encode(topic))
            }
        };
        let wallet = match &self.wallet {
            WalletField::Field(f) => format!("field={f}"),
            WalletField::Topic(i) => format!("topic={i}"),
        };
        format!("{what}:{wallet}:{}", self.kind)
    }
}

/// One `[[substrate]]` section.
#[derive(Debug, Clone)]
pub struct SubstrateConfig {
    /// `substrate[i]` in messages.
    pub key: String,
    pub name: String,
    pub url: String,
    pub start_block: u64,
    pub poll_ms: u64,
    pub backoff_max_ms: u64,
    pub maps: Vec<SubstrateMap>,
}

const SECTION_KEYS: &[&str] = &["name", "url", "start_block", "poll_ms", "backoff_max_ms", "map"];
const MAP_KEYS: &[&str] = &["pallet", "event", "contract", "topic", "bundle", "wallet", "kind"];

/// The environment variable overriding a section's key (`url`, `start_block`):
/// `FLEX_SUBSTRATE_<NAME>_<KEY>` (name upper-cased, `-` as `_`).
pub fn env_var(name: &str, key: &str) -> String {
    format!(
        "FLEX_SUBSTRATE_{}_{}",
        name.to_uppercase().replace('-', "_"),
        key.to_uppercase()
    )
}

/// Parses the `substrate` array of tables; relative bundle paths are relative to `base` (the config
/// file's folder); `env` holds the `FLEX_*` overrides.
pub fn parse_config(
    file: &str,
    base: &Path,
    value: &toml::Value,
    env: &BTreeMap<String, String>,
) -> Result<Vec<SubstrateConfig>, ConfigError> {
    let err = |key: &str, message: String| ConfigError::Key {
        file: file.to_string(),
        key: key.to_string(),
        message,
    };
    let sections = value.as_array().ok_or_else(|| {
        err(
            "substrate",
            "expected [[substrate]] sections (an array of tables)".into(),
        )
    })?;
    let mut out: Vec<SubstrateConfig> = Vec::new();
    for (i, section) in sections.iter().enumerate() {
        let key = format!("substrate[{i}]");
        let t = section
            .as_table()
            .ok_or_else(|| err(&key, "expected a table".into()))?;
        check_keys(file, &key, t, SECTION_KEYS)?;
        let k = |name: &str| format!("{key}.{name}");
        let name = req_str(file, t, &k("name"))?;
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
        let url_var = env_var(&name, "url");
        let url = match env.get(&url_var) {
            Some(v) => v.trim().to_string(),
            None => req_str(file, t, &k("url"))?,
        };
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            let key = if env.contains_key(&url_var) {
                format!("{} (environment {url_var})", k("url"))
            } else {
                k("url")
            };
            return Err(err(&key, format!("{url:?} is not a ws:// or wss:// URL")));
        }
        let start_var = env_var(&name, "start_block");
        let start_block = match env.get(&start_var) {
            Some(v) => v.trim().parse::<u64>().map_err(|_| {
                err(
                    &format!("{} (environment {start_var})", k("start_block")),
                    format!("{v:?} is not a block number"),
                )
            })?,
            None => opt_u64(file, t, &k("start_block"))?.unwrap_or(0),
        };
        let poll_ms = opt_u64(file, t, &k("poll_ms"))?.unwrap_or(6000).max(10);
        let backoff_max_ms = opt_u64(file, t, &k("backoff_max_ms"))?.unwrap_or(30_000).max(100);
        let maps_a = t
            .get("map")
            .ok_or_else(|| err(&k("map"), "missing: at least one [[substrate.map]]".into()))?
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                err(
                    &k("map"),
                    "expected [[substrate.map]] sections (at least one)".into(),
                )
            })?;
        let mut maps: Vec<SubstrateMap> = Vec::new();
        for (j, m) in maps_a.iter().enumerate() {
            let map = parse_map(file, base, &format!("{key}.map[{j}]"), m)?;
            if let Some(other) = maps.iter().find(|o| same_events(&o.event, &map.event)) {
                return Err(err(
                    &map.key,
                    format!(
                        "the same events are already mapped by {} (one action per event)",
                        other.key
                    ),
                ));
            }
            maps.push(map);
        }
        out.push(SubstrateConfig {
            key,
            name,
            url,
            start_block,
            poll_ms,
            backoff_max_ms,
            maps,
        });
    }
    Ok(out)
}

fn same_events(a: &EventMatch, b: &EventMatch) -> bool {
    match (a, b) {
        (
            EventMatch::Pallet { pallet, event },
            EventMatch::Pallet {
                pallet: p2,
                event: e2,
            },
        ) => pallet == p2 && event == e2,
        (
            EventMatch::Contract { contract, topic, .. },
            EventMatch::Contract {
                contract: c2,
                topic: t2,
                ..
            },
        ) => contract == c2 && topic == t2,
        _ => false,
    }
}

fn parse_map(file: &str, base: &Path, key: &str, m: &toml::Value) -> Result<SubstrateMap, ConfigError> {
    let err = |k: &str, message: String| ConfigError::Key {
        file: file.to_string(),
        key: k.to_string(),
        message,
    };
    let mk = |name: &str| format!("{key}.{name}");
    let t = m.as_table().ok_or_else(|| err(key, "expected a table".into()))?;
    check_keys(file, key, t, MAP_KEYS)?;
    let kind = req_str(file, t, &mk("kind"))?;
    let wallet = match t.get("wallet") {
        None => {
            return Err(err(
                &mk("wallet"),
                "missing (a field name, or a contract event's topic index 1, 2, ...)".into(),
            ))
        }
        Some(toml::Value::String(f)) if !f.trim().is_empty() => WalletField::Field(f.trim().to_string()),
        Some(toml::Value::Integer(i)) if *i >= 1 => WalletField::Topic(*i as usize),
        Some(other) => {
            return Err(err(
                &mk("wallet"),
                format!("{other} is neither a field name nor a topic index (1, 2, ...)"),
            ))
        }
    };
    let event = if t.contains_key("pallet") {
        for extra in ["contract", "topic", "bundle"] {
            if t.contains_key(extra) {
                return Err(err(
                    &mk(extra),
                    "not with pallet (a map is either a pallet event or a contract event)".into(),
                ));
            }
        }
        if let WalletField::Topic(_) = wallet {
            return Err(err(
                &mk("wallet"),
                "a pallet event's wallet is a field name".into(),
            ));
        }
        EventMatch::Pallet {
            pallet: req_str(file, t, &mk("pallet"))?,
            event: req_str(file, t, &mk("event"))?,
        }
    } else if t.contains_key("contract") {
        let contract_s = req_str(file, t, &mk("contract"))?;
        let contract = parse_contract(&contract_s).map_err(|m| err(&mk("contract"), m))?;
        let decoder = match t.get("bundle") {
            None => None,
            Some(_) => {
                let path: PathBuf = base.join(req_str(file, t, &mk("bundle"))?);
                let bundle = ContractBundle::load(&path).map_err(|e| err(&mk("bundle"), e.to_string()))?;
                let label = req_str(file, t, &mk("event"))
                    .map_err(|_| err(&mk("event"), "missing: the event's label in the bundle".into()))?;
                let d =
                    InkEventDecoder::new(&bundle, &label).map_err(|e| err(&mk("event"), e.to_string()))?;
                Some(Box::new(d))
            }
        };
        if decoder.is_none() && t.contains_key("event") {
            return Err(err(
                &mk("event"),
                "a contract event is named by topic; event (a label) needs bundle".into(),
            ));
        }
        let topic = match (t.get("topic"), &decoder) {
            (Some(_), _) => {
                let s = req_str(file, t, &mk("topic"))?;
                let topic = parse_hash(&s).map_err(|m| err(&mk("topic"), m))?;
                if let Some(d) = &decoder {
                    if d.signature_topic != topic {
                        return Err(err(
                            &mk("topic"),
                            format!(
                                "{s} is not the signature topic of {} in the bundle (0x{})",
                                d.label,
                                hex::encode(d.signature_topic)
                            ),
                        ));
                    }
                }
                topic
            }
            (None, Some(d)) => d.signature_topic,
            (None, None) => {
                return Err(err(
                    &mk("topic"),
                    "missing: the event's signature topic (0x + 64 hex digits), or bundle + event".into(),
                ))
            }
        };
        match (&wallet, &decoder) {
            (WalletField::Field(f), None) => {
                return Err(err(
                    &mk("wallet"),
                    format!(
                        "field {f:?} of a contract event needs bundle (its layout); or use a topic index"
                    ),
                ))
            }
            (WalletField::Field(f), Some(d)) if !d.fields().contains(&f.as_str()) => {
                return Err(err(
                    &mk("wallet"),
                    format!(
                        "{} has no field {f:?} (fields: {})",
                        d.label,
                        d.fields().join(", ")
                    ),
                ))
            }
            (WalletField::Topic(i), Some(d)) => {
                let indexed = d.args.iter().filter(|a| a.2).count();
                if *i > indexed {
                    return Err(err(
                        &mk("wallet"),
                        format!("{} has {indexed} topic fields, not {i}", d.label),
                    ));
                }
            }
            _ => {}
        }
        EventMatch::Contract {
            contract,
            topic,
            decoder,
        }
    } else {
        return Err(err(
            key,
            "needs pallet + event (a pallet event) or contract + topic (a contract event)".into(),
        ));
    };
    Ok(SubstrateMap {
        key: key.to_string(),
        event,
        wallet,
        kind,
    })
}

/// A contract account: SS58 or `0x` + 64 hex digits.
pub fn parse_contract(s: &str) -> Result<[u8; 32], String> {
    let s = s.trim();
    if s.starts_with("0x") {
        return parse_hash(s).map_err(|_| format!("{s:?} is not 0x + 64 hex digits"));
    }
    s.parse::<AccountId32>()
        .map(|a| a.0)
        .map_err(|e| format!("{s:?} is neither an SS58 address nor 0x + 64 hex digits ({e})"))
}

fn parse_hash(s: &str) -> Result<[u8; 32], String> {
    let bad = || format!("{s:?} is not 0x + 64 hex digits");
    let digits = s.trim().strip_prefix("0x").ok_or_else(bad)?;
    let bytes = hex::decode(digits).map_err(|_| bad())?;
    <[u8; 32]>::try_from(bytes).map_err(|_| bad())
}

fn check_keys(file: &str, key: &str, t: &toml::Table, known: &[&str]) -> Result<(), ConfigError> {
    match t.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ConfigError::Unknown {
            file: file.to_string(),
            key: format!("{key}.{k}"),
            known: known.join(", "),
        }),
        None => Ok(()),
    }
}

fn req_str(file: &str, t: &toml::Table, key: &str) -> Result<String, ConfigError> {
    let err = |message: String| ConfigError::Key {
        file: file.to_string(),
        key: key.to_string(),
        message,
    };
    let name = key.rsplit('.').next().unwrap_or(key);
    match t.get(name) {
        None => Err(err("missing (required)".into())),
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(toml::Value::String(_)) => Err(err("empty".into())),
        Some(other) => Err(err(format!("expected a string, found {}", other.type_str()))),
    }
}

fn opt_u64(file: &str, t: &toml::Table, key: &str) -> Result<Option<u64>, ConfigError> {
    let err = |message: String| ConfigError::Key {
        file: file.to_string(),
        key: key.to_string(),
        message,
    };
    let name = key.rsplit('.').next().unwrap_or(key);
    match t.get(name) {
        None => Ok(None),
        Some(toml::Value::Integer(i)) if *i >= 0 => Ok(Some(*i as u64)),
        Some(toml::Value::Integer(i)) => Err(err(format!("{i} is negative"))),
        Some(other) => Err(err(format!("expected an integer, found {}", other.type_str()))),
    }
}

/// The Flex wallet of a Substrate account, as pallet-revive's `AccountId32Mapper::to_address`: an
/// account whose last 12 bytes are `0xEE` is an Ethereum address padded (its first 20 bytes);
/// any other is `keccak256(account)[12..]`.
pub fn wallet_of_account(account: &[u8; 32]) -> [u8; 20] {
    let mut wallet = [0u8; 20];
    if account[20..] == [0xEE; 12] {
        wallet.copy_from_slice(&account[..20]);
    } else {
        wallet.copy_from_slice(&flex_evm::keccak256(account)[12..]);
    }
    wallet
}

/// The wallet of an address found in an event.
pub fn wallet_of(address: ChainAddress) -> [u8; 20] {
    match address {
        ChainAddress::Account(a) => wallet_of_account(&a),
        ChainAddress::H160(h) => h,
    }
}

/// What a follower did (the `flex-keeper follow-substrate` summary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowSummary {
    pub name: String,
    /// The cursor when it started.
    pub resumed_from: Option<Cursor>,
    /// The cursor when it stopped.
    pub cursor: Option<Cursor>,
    /// The latest finalized head seen.
    pub head: u64,
    /// The first block handled by this run.
    pub first_block: Option<u64>,
    pub blocks: u64,
    pub events: u64,
    pub actions_new: u64,
    pub actions_known: u64,
    /// RPC failures retried after a backoff.
    pub rpc_errors: u64,
    pub connections: u64,
}

/// A configured Substrate follower.
#[derive(Debug, Clone)]
pub struct SubstrateSource {
    pub config: SubstrateConfig,
}

impl SubstrateSource {
    /// Every mapped kind must be in the weight table.
    pub fn new(config: SubstrateConfig, table: &WeightTable, file: &str) -> Result<Self, ServiceError> {
        for m in &config.maps {
            if table.kind(&m.kind).is_none() {
                return Err(ServiceError::Config(ConfigError::Key {
                    file: file.to_string(),
                    key: format!("{}.kind", m.key),
                    message: format!("{:?} is not in the weight table", m.kind),
                }));
            }
        }
        Ok(Self { config })
    }

    /// The store's source name for imports.
    pub fn source_name(&self) -> String {
        format!("substrate:{}", self.config.name)
    }

    /// The meta key of the chain's genesis hash (a database follows one chain per name).
    pub fn genesis_key(&self) -> String {
        format!("substrate:{}:genesis", self.config.name)
    }

    /// The meta key of the cursor: per name and what is followed (maps, start block), so a changed
    /// mapping reads again from `start_block` (what was imported before is known by its action id).
    pub fn cursor_key(&self) -> String {
        let mut maps: Vec<String> = self.config.maps.iter().map(SubstrateMap::describe).collect();
        maps.sort();
        let what = format!("start={};{}", self.config.start_block, maps.join(";"));
        let fp = flex_evm::keccak256(what.as_bytes());
        format!("substrate:{}:{}:cursor", self.config.name, hex::encode(&fp[..8]))
    }

    pub fn options(&self, once: bool) -> FollowOptions {
        FollowOptions {
            start_block: self.config.start_block,
            poll: Duration::from_millis(self.config.poll_ms),
            backoff_max: Duration::from_millis(self.config.backoff_max_ms),
            once,
            ..FollowOptions::default()
        }
    }

    /// The stored cursor, if any.
    pub fn stored_cursor(&self, store: &dyn Store) -> Result<Option<Cursor>, ServiceError> {
        let key = self.cursor_key();
        match store.meta(&key)? {
            None => Ok(None),
            Some(v) => Cursor::parse(&v)
                .map(Some)
                .map_err(|m| ServiceError::Invalid(format!("store meta {key}: {m}"))),
        }
    }

    /// Checks the pallet maps against the chain's metadata: the event and the wallet field exist.
    pub fn check_metadata(&self, chain: &Follower) -> Result<(), String> {
        for m in &self.config.maps {
            let (EventMatch::Pallet { pallet, event }, WalletField::Field(f)) = (&m.event, &m.wallet) else {
                continue;
            };
            let fields = chain
                .event_fields(pallet, event)
                .ok_or_else(|| format!("{}: the chain has no event {pallet}.{event}", m.key))?;
            if !fields.iter().any(|n| n == f) {
                return Err(format!(
                    "{}.wallet: {pallet}.{event} has no field {f:?} (fields: {})",
                    m.key,
                    fields.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The actions of one block's events.
    pub fn actions(&self, genesis: &[u8; 32], block: &FinalizedBlock) -> Result<Vec<ActionRow>, String> {
        let mut out = Vec::new();
        let timestamp = i64::try_from(block.timestamp_ms / 1000).unwrap_or(i64::MAX);
        for ev in &block.events {
            let Some(m) = self.config.maps.iter().find(|m| matches(m, ev)) else {
                continue;
            };
            let at = || {
                format!(
                    "block {} (0x{}) event {} ({}.{}), {}",
                    block.number,
                    hex::encode(block.hash),
                    ev.index,
                    ev.pallet,
                    ev.variant,
                    m.key
                )
            };
            let address = match (&m.wallet, &ev.contract, &m.event) {
                (WalletField::Field(f), None, _) => {
                    let v = ev.field(f).ok_or_else(|| {
                        format!(
                            "{}: no field {f:?} (fields: {})",
                            at(),
                            ev.field_names().join(", ")
                        )
                    })?;
                    address_in(v).map_err(|e| format!("{}: field {f:?}: {e}", at()))?
                }
                (WalletField::Field(f), Some(c), EventMatch::Contract { decoder: Some(d), .. }) => {
                    let v = d.field(&c.data, f).map_err(|e| format!("{}: {e}", at()))?;
                    address_in(&v).map_err(|e| format!("{}: field {f:?}: {e}", at()))?
                }
                (WalletField::Topic(i), Some(c), _) => {
                    let t = c
                        .topics
                        .get(*i)
                        .ok_or_else(|| format!("{}: no topic {i} ({} topics)", at(), c.topics.len()))?;
                    Some(ChainAddress::Account(*t))
                }
                _ => return Err(format!("{}: the wallet cannot be read from this event", at())),
            };
            // No account (a mint's `from: None`): nobody acted.
            let Some(address) = address else {
                continue;
            };
            out.push(ActionRow {
                action_id: format!("sub:0x{}:{}:{}", hex::encode(genesis), block.number, ev.index),
                wallet: wallet_of(address),
                kind: m.kind.clone(),
                side: "onchain".into(),
                timestamp,
            });
        }
        Ok(out)
    }

    /// Follows the node, importing each chunk of finalized blocks' actions and then the cursor,
    /// until `stop` (or, with `once`, the finalized head seen on connecting).
    pub async fn follow(
        &self,
        store: Arc<dyn Store>,
        status: Option<Arc<Status>>,
        progress: Arc<FollowProgress>,
        once: bool,
        stop: impl Future<Output = ()>,
    ) -> Result<FollowSummary, ServiceError> {
        let resumed_from = self.stored_cursor(&*store)?;
        tracing::info!(
            substrate = %self.config.name,
            url = %self.config.url,
            resume = %resumed_from.map_or_else(|| format!("start block {}", self.config.start_block), |c| c.encode()),
            "Substrate follower started"
        );
        let mut handler = Importer {
            source: self,
            store: store.clone(),
            status,
            genesis: None,
            summary: FollowSummary {
                name: self.config.name.clone(),
                resumed_from,
                ..FollowSummary::default()
            },
        };
        let result = flex_chain::follow(
            &self.config.url,
            &self.options(once),
            &mut handler,
            &progress,
            stop,
        )
        .await;
        let mut summary = handler.summary;
        summary.cursor = self.stored_cursor(&*store)?;
        summary.head = progress.head.load(Ordering::Relaxed);
        let first = progress.first.load(Ordering::Relaxed);
        summary.first_block = (first != u64::MAX).then_some(first);
        summary.blocks = progress.blocks.load(Ordering::Relaxed);
        summary.rpc_errors = progress.rpc_errors.load(Ordering::Relaxed);
        summary.connections = progress.connections.load(Ordering::Relaxed);
        result.map_err(|e| match e {
            FollowError::Handler(m) => ServiceError::Fatal(format!("substrate {}: {m}", self.config.name)),
            other => ServiceError::Fatal(format!("substrate {}: {other}", self.config.name)),
        })?;
        Ok(summary)
    }
}

fn matches(m: &SubstrateMap, ev: &flex_chain::BlockEvent) -> bool {
    match (&m.event, &ev.contract) {
        (EventMatch::Pallet { pallet, event }, _) => ev.pallet == *pallet && ev.variant == *event,
        (EventMatch::Contract { contract, topic, .. }, Some(c)) => {
            c.contract.0 == *contract && c.topics.first() == Some(topic)
        }
        (EventMatch::Contract { .. }, None) => false,
    }
}

/// The follower's [`BlockHandler`]: maps, imports, then moves the cursor.
struct Importer<'a> {
    source: &'a SubstrateSource,
    store: Arc<dyn Store>,
    status: Option<Arc<Status>>,
    genesis: Option<[u8; 32]>,
    summary: FollowSummary,
}

impl BlockHandler for Importer<'_> {
    fn on_connect(&mut self, genesis: [u8; 32], chain: &Follower) -> Result<(), FollowError> {
        let key = self.source.genesis_key();
        let hex_genesis = format!("0x{}", hex::encode(genesis));
        let stored = self
            .store
            .meta(&key)
            .map_err(|e| FollowError::Handler(e.to_string()))?;
        match stored {
            Some(g) if g != hex_genesis => {
                return Err(FollowError::Handler(format!(
                    "the database followed the chain with genesis {g}; {} has genesis {hex_genesis}",
                    chain.url()
                )))
            }
            Some(_) => {}
            None => self
                .store
                .set_meta(&key, &hex_genesis)
                .map_err(|e| FollowError::Handler(e.to_string()))?,
        }
        self.source.check_metadata(chain).map_err(FollowError::Handler)?;
        self.genesis = Some(genesis);
        Ok(())
    }

    fn cursor(&mut self) -> Result<Option<Cursor>, FollowError> {
        self.source
            .stored_cursor(&*self.store)
            .map_err(|e| FollowError::Handler(e.to_string()))
    }

    fn handle(&mut self, blocks: &[FinalizedBlock]) -> Result<(), FollowError> {
        let (Some(genesis), Some(last)) = (self.genesis, blocks.last()) else {
            return Ok(());
        };
        let mut actions = Vec::new();
        for b in blocks {
            actions.extend(self.source.actions(&genesis, b).map_err(FollowError::Handler)?);
        }
        let source = self.source.source_name();
        let key = self.source.cursor_key();
        let store = &*self.store;
        let stats = tokio::task::block_in_place(|| -> Result<_, flex_store::StoreError> {
            let stats = store.import(&source, &[], &actions)?;
            // After the import: a crash in between handles these blocks again, which is harmless.
            store.set_meta(&key, &last.cursor().encode())?;
            Ok(stats)
        })
        .map_err(|e| FollowError::Handler(e.to_string()))?;
        if let Some(s) = &self.status {
            s.imported_actions.fetch_add(stats.actions_new, Ordering::Relaxed);
        }
        self.summary.events += actions.len() as u64;
        self.summary.actions_new += stats.actions_new;
        self.summary.actions_known += stats.actions_known;
        let (from, to) = (blocks[0].number, last.number);
        if stats.actions_new > 0 || stats.actions_known > 0 {
            tracing::info!(
                substrate = %self.source.config.name,
                from,
                to,
                actions_new = stats.actions_new,
                actions_known = stats.actions_known,
                "imported Substrate events"
            );
        } else {
            tracing::debug!(substrate = %self.source.config.name, from, to, "Substrate blocks read");
        }
        Ok(())
    }
}

/// The configured Substrate sources (kinds checked against the weight table).
pub fn sources(config: &Config, table: &WeightTable) -> Result<Vec<SubstrateSource>, ServiceError> {
    config
        .substrate
        .iter()
        .map(|c| SubstrateSource::new(c.clone(), table, &config.file))
        .collect()
}

/// The configured Substrate sources, their kinds checked against every weight table version (the
/// epoch close decides per version what an action counts).
pub fn configured_sources(config: &Config) -> Result<Vec<SubstrateSource>, ServiceError> {
    sources(config, &config.known_kinds()?)
}

/// Starts one background follower per `[[substrate]]` section; each stops when `stop` turns true,
/// or on its own fatal error (logged and counted in `Status::errors`; the keeper goes on without it).
pub fn spawn_followers(
    config: &Config,
    store: Arc<dyn Store>,
    status: Arc<Status>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, ServiceError> {
    if config.substrate.is_empty() {
        return Ok(Vec::new());
    }
    let mut handles = Vec::new();
    for source in configured_sources(config)? {
        let store = store.clone();
        let status = status.clone();
        let mut rx = stop.clone();
        handles.push(tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            let progress = Arc::new(FollowProgress::new());
            match source
                .follow(store, Some(status.clone()), progress, false, stop)
                .await
            {
                Ok(s) => tracing::info!(
                    substrate = %s.name,
                    cursor = ?s.cursor.map(|c| c.number),
                    "Substrate follower stopped"
                ),
                Err(e) => {
                    status.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(substrate = %source.config.name, error = %e, "Substrate follower stopped on an error");
                }
            }
        }));
    }
    Ok(handles)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLE_ENV: &str = "FLEX_INK_DIR";

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Vec<SubstrateConfig>, ConfigError> {
        let v: toml::Table = text.parse().unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse_config("keeper.toml", Path::new("/etc/flex"), &v["substrate"], &env)
    }

    const GOOD: &str = r#"
[[substrate]]
name = "dev-net"
url = "ws://127.0.0.1:9944"
start_block = 3
[[substrate.map]]
pallet = "Balances"
event = "Transfer"
wallet = "from"
kind = "transfer"
[[substrate.map]]
contract = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
topic = "0x990df076cb1e9527aa102cd100c1481efe393eeabb5825f9af1f5e58221864de"
wallet = 2
kind = "token"
"#;

    #[test]
    fn parses_sections_maps_and_env() {
        let c = parse(GOOD, &[("FLEX_SUBSTRATE_DEV_NET_URL", "ws://node:1")]).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].url, "ws://node:1");
        assert_eq!(c[0].start_block, 3);
        assert_eq!(c[0].maps.len(), 2);
        assert!(
            matches!(&c[0].maps[0].event, EventMatch::Pallet { pallet, event } if pallet == "Balances" && event == "Transfer")
        );
        assert_eq!(c[0].maps[0].wallet, WalletField::Field("from".into()));
        match &c[0].maps[1].event {
            EventMatch::Contract {
                contract,
                topic,
                decoder,
            } => {
                // Alice's SS58 address.
                assert_eq!(
                    hex::encode(contract),
                    "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
                );
                assert_eq!(topic[0], 0x99);
                assert!(decoder.is_none());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c[0].maps[1].wallet, WalletField::Topic(2));
        let c = parse(GOOD, &[("FLEX_SUBSTRATE_DEV_NET_START_BLOCK", "9")]).unwrap();
        assert_eq!(c[0].start_block, 9);
    }

    #[test]
    fn errors_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            ("name = \"dev-net\"", "name = \"dev net\"", "substrate[0].name"),
            ("ws://127.0.0.1:9944", "http://127.0.0.1:9944", "substrate[0].url"),
            ("start_block = 3", "start_block = -3", "substrate[0].start_block"),
            ("start_block = 3", "start = 3", "unknown key substrate[0].start"),
            ("wallet = \"from\"", "wallet = 0", "substrate[0].map[0].wallet"),
            ("wallet = \"from\"", "wallet = 1", "substrate[0].map[0].wallet"),
            (
                "event = \"Transfer\"\nwallet",
                "wallet",
                "substrate[0].map[0].event: missing",
            ),
            ("kind = \"token\"", "", "substrate[0].map[1].kind: missing"),
            (
                "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
                "5Grw",
                "substrate[0].map[1].contract",
            ),
            ("0x990df076", "0x990d", "substrate[0].map[1].topic"),
            ("wallet = 2", "wallet = \"to\"", "substrate[0].map[1].wallet"),
            (
                "topic = ",
                "event = \"Transfer\"\ntopic = ",
                "substrate[0].map[1].event",
            ),
        ];
        for (from, to, expected) in cases {
            assert!(GOOD.contains(from), "{from}");
            let e = parse(&GOOD.replacen(from, to, 1), &[]).unwrap_err().to_string();
            assert!(e.contains(expected), "{from} -> {to}: {e}");
            assert!(e.starts_with("keeper.toml: "), "{e}");
        }
        let e = parse(GOOD, &[("FLEX_SUBSTRATE_DEV_NET_START_BLOCK", "soon")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("FLEX_SUBSTRATE_DEV_NET_START_BLOCK"), "{e}");
        // The same event twice.
        let twice = GOOD.replace(
            "kind = \"transfer\"",
            "kind = \"transfer\"\n[[substrate.map]]\npallet = \"Balances\"\nevent = \"Transfer\"\nwallet = \"to\"\nkind = \"x\"",
        );
        let e = parse(&twice, &[]).unwrap_err().to_string();
        assert!(
            e.contains("substrate[0].map[1]") && e.contains("already mapped by substrate[0].map[0]"),
            "{e}"
        );
        // Two sections with one name.
        let e = parse(&format!("{GOOD}{GOOD}"), &[]).unwrap_err().to_string();
        assert!(e.contains("substrate[1].name"), "{e}");
    }

    #[test]
    fn bundle_gives_topic_and_fields() {
        // The token bundle, when built (scripts/build-contracts.sh); the e2e tests use it for real.
        let Some(dir) = std::env::var_os(BUNDLE_ENV) else {
            return;
        };
        let bundle = PathBuf::from(dir).join("flex_token/flex_token.contract");
        if !bundle.exists() {
            return;
        }
        let text = GOOD
            .replace(
                "topic = \"0x990df076cb1e9527aa102cd100c1481efe393eeabb5825f9af1f5e58221864de\"",
                &format!(
                    "bundle = {:?}\nevent = \"Transfer\"",
                    bundle.display().to_string()
                ),
            )
            .replace("wallet = 2", "wallet = \"to\"");
        let c = parse(&text, &[]).unwrap();
        match &c[0].maps[1].event {
            EventMatch::Contract { topic, decoder, .. } => {
                assert_eq!(topic[0], 0x99);
                assert_eq!(decoder.as_ref().unwrap().fields(), vec!["from", "to", "value"]);
            }
            other => panic!("{other:?}"),
        }
        let e = parse(&text.replace("wallet = \"to\"", "wallet = \"towards\""), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("substrate[0].map[1].wallet") && e.contains("fields: from, to, value"),
            "{e}"
        );
        let e = parse(&text.replace("wallet = \"to\"", "wallet = 3"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("has 2 topic fields"), "{e}");
    }

    #[test]
    fn a_kind_of_any_weight_version_may_be_mapped() {
        // "token" only exists from epoch 10 on: the follower must accept it (the epoch close
        // decides per version what an action counts), and a kind of no version is refused.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("w0.toml"), "transfer = \"1\"\n").unwrap();
        std::fs::write(dir.path().join("w1.toml"), "transfer = \"1\"\ntoken = \"2\"\n").unwrap();
        let text = format!(
            "[chain]\ncontract = \"0x{}\"\nbundle = \"pool.contract\"\n[protocol]\ngenesis = 1769644800\n\
             [[protocol.weight_versions]]\nfrom_epoch = 0\nfile = \"w0.toml\"\n\
             [[protocol.weight_versions]]\nfrom_epoch = 10\nfile = \"w1.toml\"\n{GOOD}",
            "11".repeat(32)
        );
        let config = Config::parse(&text, &dir.path().join("keeper.toml"), &BTreeMap::new()).unwrap();
        let sources = configured_sources(&config).unwrap();
        assert_eq!(sources[0].config.maps.len(), 2);
        let first = flex_ingest::read_weight_table(&config.weights).unwrap();
        let e = sources_err(&config, &first);
        assert!(
            e.contains("substrate[0].map[1].kind") && e.contains("\"token\""),
            "{e}"
        );
        let mut token_only = WeightTable::new();
        token_only.insert_str("token", "2").unwrap();
        let e = sources_err(&config, &token_only);
        assert!(e.contains("substrate[0].map[0].kind"), "{e}");
    }

    fn sources_err(config: &Config, table: &WeightTable) -> String {
        match sources(config, table) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn wallet_mapping_is_pallet_revive_s() {
        // Alice (sr25519 //Alice): keccak256(account)[12..], the H160 pallet-revive gives her.
        let alice = hex::decode("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d").unwrap();
        let alice: [u8; 32] = alice.try_into().unwrap();
        assert_eq!(
            hex::encode(wallet_of_account(&alice)),
            "9621dde636de098b43efb0fa9b61facfe328f99d"
        );
        // An Ethereum-derived account: 20 bytes then 12 x 0xEE.
        let mut eth = [0xEE; 32];
        eth[..20].copy_from_slice(&[0x11; 20]);
        assert_eq!(wallet_of_account(&eth), [0x11; 20]);
        // 11 x 0xEE is not enough.
        eth[20] = 0xEF;
        assert_ne!(wallet_of_account(&eth), [0x11; 20]);
        assert_eq!(wallet_of(ChainAddress::H160([5; 20])), [5; 20]);
    }
}
