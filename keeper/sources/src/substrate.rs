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
    address_in, AddressInError, BlockHandler, ChainAddress, ContractBundle, Cursor, EventFieldError,
    FinalizedBlock, FollowError, FollowOptions, FollowProgress, Follower as ChainFollower, InkEventDecoder,
};
use flex_engine::WeightTable;
use flex_store::{ActionRow, Store};
use flex_types::{hex, Address, HexError};

use flex_ingest::section::{self, KeyError, WalletRef};
use serde::Deserialize;

use crate::follower::BoxFuture;
use crate::{FollowSummary, Follower, Position, SourceError, SourceKind, Status, Until};

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
                format!(
                    "0x{}:0x{}",
                    hex::encode_digits(contract),
                    hex::encode_digits(topic)
                )
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

/// One `[[substrate]]` section as written (every key checked by [`configs`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstrateSection {
    pub name: Option<String>,
    pub url: Option<String>,
    pub start_block: Option<i64>,
    pub poll_ms: Option<i64>,
    pub backoff_max_ms: Option<i64>,
    pub map: Option<Vec<SubstrateMapSection>>,
}

/// One `[[substrate.map]]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstrateMapSection {
    pub pallet: Option<String>,
    pub event: Option<String>,
    pub contract: Option<String>,
    pub topic: Option<String>,
    pub bundle: Option<String>,
    pub wallet: Option<WalletRef>,
    pub kind: Option<String>,
}

/// The environment variable overriding a section's key (`url`, `start_block`):
/// `FLEX_SUBSTRATE_<NAME>_<KEY>` (name upper-cased, `-` as `_`).
pub fn env_var(name: &str, key: &str) -> String {
    section::env_var("substrate", name, key)
}

/// Checks the `[[substrate]]` sections; relative bundle paths are relative to `base` (the config
/// file's folder); `env` holds the `FLEX_*` overrides. Errors name the key.
pub fn configs(
    sections: &[SubstrateSection],
    base: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Vec<SubstrateConfig>, KeyError> {
    let mut out: Vec<SubstrateConfig> = Vec::new();
    for (i, t) in sections.iter().enumerate() {
        let key = format!("substrate[{i}]");
        let k = |name: &str| format!("{key}.{name}");
        let taken: Vec<(String, String)> = out.iter().map(|c| (c.name.clone(), c.key.clone())).collect();
        let name = section::source_name(&k("name"), t.name.as_ref(), &taken)?;
        let url_var = env_var(&name, "url");
        let url = match env.get(&url_var) {
            Some(v) => v.trim().to_string(),
            None => section::required(&k("url"), t.url.as_ref())?,
        };
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            let key = if env.contains_key(&url_var) {
                format!("{} (environment {url_var})", k("url"))
            } else {
                k("url")
            };
            return Err(KeyError::new(
                key,
                format!("{url:?} is not a ws:// or wss:// URL"),
            ));
        }
        let start_var = env_var(&name, "start_block");
        let int = |name: &str, v: Option<i64>| section::non_negative(&k(name), v);
        let start_block = match env.get(&start_var) {
            Some(v) => v.trim().parse::<u64>().map_err(|_| {
                KeyError::new(
                    format!("{} (environment {start_var})", k("start_block")),
                    format!("{v:?} is not a block number"),
                )
            })?,
            None => int("start_block", t.start_block)?.unwrap_or(0),
        };
        let poll_ms = int("poll_ms", t.poll_ms)?.unwrap_or(6000).max(10);
        let backoff_max_ms = int("backoff_max_ms", t.backoff_max_ms)?
            .unwrap_or(30_000)
            .max(100);
        let maps_a = match &t.map {
            None => return Err(KeyError::new(k("map"), "missing: at least one [[substrate.map]]")),
            Some(m) if m.is_empty() => {
                return Err(KeyError::new(
                    k("map"),
                    "expected [[substrate.map]] sections (at least one)",
                ))
            }
            Some(m) => m,
        };
        let mut maps: Vec<SubstrateMap> = Vec::new();
        for (j, m) in maps_a.iter().enumerate() {
            let map = map_config(base, &format!("{key}.map[{j}]"), m)?;
            if let Some(other) = maps.iter().find(|o| same_events(&o.event, &map.event)) {
                return Err(KeyError::new(
                    map.key.clone(),
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

fn map_config(base: &Path, key: &str, t: &SubstrateMapSection) -> Result<SubstrateMap, KeyError> {
    let err = |k: &str, message: String| KeyError::new(k, message);
    let mk = |name: &str| format!("{key}.{name}");
    let req = |name: &str, v: &Option<String>| section::required(&mk(name), v.as_ref());
    let kind = req("kind", &t.kind)?;
    let wallet = match &t.wallet {
        None => {
            return Err(err(
                &mk("wallet"),
                "missing (a field name, or a contract event's topic index 1, 2, ...)".into(),
            ))
        }
        Some(WalletRef::Name(f)) if !f.trim().is_empty() => WalletField::Field(f.trim().to_string()),
        Some(WalletRef::Index(i)) if *i >= 1 => WalletField::Topic(*i as usize),
        Some(other) => {
            return Err(err(
                &mk("wallet"),
                format!("{other} is neither a field name nor a topic index (1, 2, ...)"),
            ))
        }
    };
    let event = if t.pallet.is_some() {
        for (extra, given) in [
            ("contract", &t.contract),
            ("topic", &t.topic),
            ("bundle", &t.bundle),
        ] {
            if given.is_some() {
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
            pallet: req("pallet", &t.pallet)?,
            event: req("event", &t.event)?,
        }
    } else if t.contract.is_some() {
        let contract_s = req("contract", &t.contract)?;
        let contract = section::account(&mk("contract"), &contract_s)?.0;
        let decoder = match &t.bundle {
            None => None,
            Some(_) => {
                let path: PathBuf = base.join(req("bundle", &t.bundle)?);
                let bundle = ContractBundle::load(&path).map_err(|e| err(&mk("bundle"), e.to_string()))?;
                let label = req("event", &t.event)
                    .map_err(|_| err(&mk("event"), "missing: the event's label in the bundle".into()))?;
                let d =
                    InkEventDecoder::new(&bundle, &label).map_err(|e| err(&mk("event"), e.to_string()))?;
                Some(Box::new(d))
            }
        };
        if decoder.is_none() && t.event.is_some() {
            return Err(err(
                &mk("event"),
                "a contract event is named by topic; event (a label) needs bundle".into(),
            ));
        }
        let topic = match (&t.topic, &decoder) {
            (Some(_), _) => {
                let s = req("topic", &t.topic)?;
                let topic = parse_hash(&s).map_err(|e| err(&mk("topic"), e.to_string()))?;
                if let Some(d) = &decoder {
                    if d.signature_topic != topic {
                        return Err(err(
                            &mk("topic"),
                            format!(
                                "{s} is not the signature topic of {} in the bundle (0x{})",
                                d.label,
                                hex::encode_digits(d.signature_topic)
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

/// A configured 32-byte topic that is not `0x` + 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not 0x + 64 hex digits: {source}")]
pub struct TopicError {
    pub text: String,
    pub source: HexError,
}

fn parse_hash(s: &str) -> Result<[u8; 32], TopicError> {
    hex::decode(s.trim()).map_err(|source| TopicError {
        text: s.to_string(),
        source,
    })
}

/// A pallet map that the chain's metadata contradicts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("{key}: the chain has no event {pallet}.{event}")]
    NoEvent {
        key: String,
        pallet: String,
        event: String,
    },
    #[error("{key}.wallet: {pallet}.{event} has no field {field:?} (fields: {fields})")]
    NoField {
        key: String,
        pallet: String,
        event: String,
        field: String,
        fields: String,
    },
}

/// An event that matches a map but whose wallet cannot be read; `at` names the block, the event
/// and the map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventWalletError {
    #[error("{at}: no field {field:?} (fields: {fields})")]
    NoField {
        at: String,
        field: String,
        fields: String,
    },
    #[error("{at}: field {field:?}: {source}")]
    NotAddress {
        at: String,
        field: String,
        source: AddressInError,
    },
    #[error("{at}: {source}")]
    Field { at: String, source: EventFieldError },
    #[error("{at}: no topic {index} ({topics} topics)")]
    NoTopic { at: String, index: usize, topics: usize },
    #[error("{at}: the wallet cannot be read from this event")]
    Unreadable { at: String },
}

/// The Flex wallet of a Substrate account, as pallet-revive's `AccountId32Mapper::to_address`: an
/// account whose last 12 bytes are `0xEE` is an Ethereum address padded (its first 20 bytes);
/// any other is `keccak256(account)[12..]`.
pub fn wallet_of_account(account: &[u8; 32]) -> Address {
    let mut wallet = Address::default();
    if account[20..] == [0xEE; 12] {
        wallet.0.copy_from_slice(&account[..20]);
    } else {
        wallet.0.copy_from_slice(&flex_evm::keccak256(account)[12..]);
    }
    wallet
}

/// The wallet of an address found in an event.
pub fn wallet_of(address: ChainAddress) -> Address {
    match address {
        ChainAddress::Account(a) => wallet_of_account(&a),
        ChainAddress::H160(h) => Address(h),
    }
}

/// A configured Substrate follower.
#[derive(Debug, Clone)]
pub struct SubstrateSource {
    pub config: SubstrateConfig,
}

impl SubstrateSource {
    /// Every mapped kind must be in the weight table.
    pub fn new(config: SubstrateConfig, table: &WeightTable) -> Result<Self, KeyError> {
        for m in &config.maps {
            if table.kind(&m.kind).is_none() {
                return Err(KeyError::new(
                    format!("{}.kind", m.key),
                    format!("{:?} is not in the weight table", m.kind),
                ));
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
        format!(
            "substrate:{}:{}:cursor",
            self.config.name,
            hex::encode_digits(&fp[..8])
        )
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
    pub fn stored_cursor(&self, store: &dyn Store) -> Result<Option<Cursor>, SourceError> {
        let key = self.cursor_key();
        match store.meta(&key)? {
            None => Ok(None),
            Some(v) => Cursor::parse(&v).map(Some).map_err(|e| SourceError::Cursor {
                key,
                message: e.to_string(),
            }),
        }
    }

    /// Checks the pallet maps against the chain's metadata: the event and the wallet field exist.
    pub fn check_metadata(&self, chain: &ChainFollower) -> Result<(), MetadataError> {
        for m in &self.config.maps {
            let (EventMatch::Pallet { pallet, event }, WalletField::Field(f)) = (&m.event, &m.wallet) else {
                continue;
            };
            let fields = chain
                .event_fields(pallet, event)
                .ok_or_else(|| MetadataError::NoEvent {
                    key: m.key.clone(),
                    pallet: pallet.clone(),
                    event: event.clone(),
                })?;
            if !fields.iter().any(|n| n == f) {
                return Err(MetadataError::NoField {
                    key: m.key.clone(),
                    pallet: pallet.clone(),
                    event: event.clone(),
                    field: f.clone(),
                    fields: fields.join(", "),
                });
            }
        }
        Ok(())
    }

    /// The actions of one block's events.
    pub fn actions(
        &self,
        genesis: &[u8; 32],
        block: &FinalizedBlock,
    ) -> Result<Vec<ActionRow>, EventWalletError> {
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
                    hex::encode_digits(block.hash),
                    ev.index,
                    ev.pallet,
                    ev.variant,
                    m.key
                )
            };
            let address = match (&m.wallet, &ev.contract, &m.event) {
                (WalletField::Field(f), None, _) => {
                    let v = ev.field(f).ok_or_else(|| EventWalletError::NoField {
                        at: at(),
                        field: f.clone(),
                        fields: ev.field_names().join(", "),
                    })?;
                    address_in(v).map_err(|source| EventWalletError::NotAddress {
                        at: at(),
                        field: f.clone(),
                        source,
                    })?
                }
                (WalletField::Field(f), Some(c), EventMatch::Contract { decoder: Some(d), .. }) => {
                    let v = d
                        .field(&c.data, f)
                        .map_err(|source| EventWalletError::Field { at: at(), source })?;
                    address_in(&v).map_err(|source| EventWalletError::NotAddress {
                        at: at(),
                        field: f.clone(),
                        source,
                    })?
                }
                (WalletField::Topic(i), Some(c), _) => {
                    let t = c.topics.get(*i).ok_or_else(|| EventWalletError::NoTopic {
                        at: at(),
                        index: *i,
                        topics: c.topics.len(),
                    })?;
                    Some(ChainAddress::Account(*t))
                }
                _ => return Err(EventWalletError::Unreadable { at: at() }),
            };
            // No account (a mint's `from: None`): nobody acted.
            let Some(address) = address else {
                continue;
            };
            out.push(ActionRow {
                action_id: format!(
                    "sub:0x{}:{}:{}",
                    hex::encode_digits(genesis),
                    block.number,
                    ev.index
                ),
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
    ) -> Result<FollowSummary, SourceError> {
        let resumed_from = self.stored_cursor(&*store)?;
        if let (Some(s), Some(c)) = (&status, resumed_from) {
            let time_key = crate::follower::cursor_time_key(&self.cursor_key());
            if let Some(t) = crate::follower::stored_cursor_time(&*store, &time_key, c.number)? {
                s.source_cursor(&self.source_name(), SourceKind::Substrate, c.number, t);
            }
        }
        tracing::info!(
            substrate = %self.config.name,
            url = %flex_types::url::redact(&self.config.url),
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
                resumed_from: resumed_from.map(position),
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
        summary.cursor = self.stored_cursor(&*store)?.map(position);
        summary.head = progress.head.load(Ordering::Relaxed);
        let first = progress.first.load(Ordering::Relaxed);
        summary.first_block = (first != u64::MAX).then_some(first);
        summary.blocks = progress.blocks.load(Ordering::Relaxed);
        summary.retries = progress.rpc_errors.load(Ordering::Relaxed);
        summary.connections = progress.connections.load(Ordering::Relaxed);
        result.map_err(|e| match e {
            FollowError::Handler(message) => SourceError::Mapping {
                at: format!("substrate {}", self.config.name),
                message,
            },
            error => SourceError::Substrate {
                name: self.config.name.clone(),
                error: Box::new(error),
            },
        })?;
        tracing::info!(
            substrate = %self.config.name,
            cursor = ?summary.cursor.map(|c| c.block),
            "Substrate follower stopped"
        );
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
    fn on_connect(&mut self, genesis: [u8; 32], chain: &ChainFollower) -> Result<(), FollowError> {
        let key = self.source.genesis_key();
        let hex_genesis = format!("0x{}", hex::encode_digits(genesis));
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
        self.source
            .check_metadata(chain)
            .map_err(|e| FollowError::Handler(e.to_string()))?;
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
            actions.extend(
                self.source
                    .actions(&genesis, b)
                    .map_err(|e| FollowError::Handler(e.to_string()))?,
            );
        }
        let source = self.source.source_name();
        let key = self.source.cursor_key();
        let time_key = crate::follower::cursor_time_key(&key);
        let last_time = i64::try_from(last.timestamp_ms / 1000).unwrap_or(i64::MAX);
        let store = &*self.store;
        let stats = tokio::task::block_in_place(|| -> Result<_, flex_store::StoreError> {
            let stats = store.import(&source, &[], &actions)?;
            // After the import: a crash in between handles these blocks again, which is harmless.
            store.set_meta(&key, &last.cursor().encode())?;
            store.set_meta(&time_key, &format!("{}:{last_time}", last.number))?;
            Ok(stats)
        })
        .map_err(|e| FollowError::Handler(e.to_string()))?;
        if let Some(s) = &self.status {
            s.imported_actions.fetch_add(stats.actions_new, Ordering::Relaxed);
            s.source_cursor(&source, SourceKind::Substrate, last.number, last_time);
        }
        self.summary.batches += 1;
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

fn position(c: Cursor) -> Position {
    Position {
        block: c.number,
        hash: c.hash,
    }
}

impl Follower for SubstrateSource {
    fn name(&self) -> String {
        self.source_name()
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Substrate
    }

    fn follow<'a>(
        &'a self,
        store: Arc<dyn Store>,
        status: Option<Arc<Status>>,
        until: Until,
        stop: BoxFuture<'a, ()>,
    ) -> BoxFuture<'a, Result<FollowSummary, SourceError>> {
        let progress = Arc::new(FollowProgress::new());
        Box::pin(async move {
            let watched = status.clone();
            let follow = SubstrateSource::follow(
                self,
                store,
                status,
                progress.clone(),
                until == Until::CaughtUp,
                stop,
            );
            let name = self.source_name();
            match watched {
                Some(s) => {
                    tokio::select! {
                        r = follow => r,
                        never = watch_connection(&s, &name, &progress) => match never {},
                    }
                }
                None => follow.await,
            }
        })
    }
}

/// Shows in `status` whether the follower reaches its node: after a failed connection or session
/// (counted in `progress.rpc_errors`) the source is `failed` until it is connected again. Checks
/// every second; never returns.
async fn watch_connection(
    status: &Status,
    name: &str,
    progress: &FollowProgress,
) -> std::convert::Infallible {
    let mut seen = 0u64;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let errors = progress.rpc_errors.load(Ordering::Relaxed);
        if errors > seen {
            seen = errors;
            status.source_failed(
                name,
                SourceKind::Substrate,
                "Substrate node unavailable; retrying with backoff",
            );
        } else if progress.connected.load(Ordering::Relaxed) {
            status.source_ok(name, SourceKind::Substrate);
        }
    }
}

/// The configured Substrate sources, their kinds checked against `table` (every kind of every
/// weight table version: the epoch close decides per version what an action counts).
pub fn sources(configs: &[SubstrateConfig], table: &WeightTable) -> Result<Vec<SubstrateSource>, KeyError> {
    configs
        .iter()
        .map(|c| SubstrateSource::new(c.clone(), table))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLE_ENV: &str = "FLEX_INK_DIR";

    #[derive(serde::Deserialize)]
    struct Root {
        substrate: Vec<SubstrateSection>,
    }

    /// As the keeper's config reads it: the section, then the checks; the config names the file.
    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Vec<SubstrateConfig>, String> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let root: Root = section::deserialize(toml::Value::Table(text.parse().unwrap()))
            .map_err(|e| format!("keeper.toml: {e}"))?;
        configs(&root.substrate, Path::new("/etc/flex"), &env).map_err(|e| format!("keeper.toml: {e}"))
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
                    hex::encode_digits(contract),
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
    fn wallet_mapping_is_pallet_revive_s() {
        // Alice (sr25519 //Alice): keccak256(account)[12..], the H160 pallet-revive gives her.
        let alice: [u8; 32] =
            hex::decode("0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d").unwrap();
        assert_eq!(
            wallet_of_account(&alice).to_string(),
            "0x9621dde636de098b43efb0fa9b61facfe328f99d"
        );
        // An Ethereum-derived account: 20 bytes then 12 x 0xEE.
        let mut eth = [0xEE; 32];
        eth[..20].copy_from_slice(&[0x11; 20]);
        assert_eq!(wallet_of_account(&eth), Address([0x11; 20]));
        // 11 x 0xEE is not enough.
        eth[20] = 0xEF;
        assert_ne!(wallet_of_account(&eth), Address([0x11; 20]));
        assert_eq!(wallet_of(ChainAddress::H160([5; 20])), Address([5; 20]));
    }

    /// The contract account is read as subxt reads SS58 (an independent implementation), and as hex.
    #[test]
    fn contract_accounts_in_ss58_and_hex() {
        use flex_chain::AccountId32;
        use flex_types::{AccountId, AccountIdError};
        let parse_contract = |s: &str| section::account("contract", s).map(|a| a.0);
        let alice_hex = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
        let alice_ss58 = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
        let by_subxt = alice_ss58.parse::<AccountId32>().unwrap().0;
        assert_eq!(parse_contract(alice_ss58), Ok(by_subxt));
        assert_eq!(parse_contract(&format!(" {alice_hex} ")), Ok(by_subxt));
        // Another account, written by subxt, read by us; and ours read by subxt.
        let other = AccountId32([0x5a; 32]);
        assert_eq!(parse_contract(&other.to_string()), Ok(other.0));
        let ours = AccountId([0x5a; 32]).to_ss58(42).unwrap();
        assert_eq!(ours, other.to_string());
        // Polkadot's network prefix (0) is accepted too.
        assert_eq!(
            parse_contract("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"),
            Ok(by_subxt)
        );
        assert_eq!(
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ".parse::<AccountId>(),
            Err(AccountIdError::Ss58Checksum)
        );
        let e = parse_contract("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ").unwrap_err();
        assert!(e.to_string().starts_with("contract: \"5GrwvaEF"), "{e}");
        assert!(parse_contract("0x1234").is_err());
    }
}
