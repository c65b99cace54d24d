//! Follows a Substrate chain's finalized blocks, in order, from a cursor.
//!
//! [`follow`] connects, checks that the handler's cursor (last block handled: number and hash) is
//! still the block at that number (finalized blocks never reorg, so a different hash means another
//! chain or a wiped node: a [`FollowError::CursorMismatch`], never silently skipped), then handles
//! every block from cursor + 1 (or the configured start block) up to the finalized head, fetched by
//! number (`chain_getBlockHash`), and keeps following new finalized heads
//! (`chain_subscribeFinalizedHeads` wakes it; a poll interval covers a missed notification). Blocks
//! are handed over in order, in chunks of consecutive blocks; the handler persists what it derives
//! and then the new cursor, so a restart resumes where it stopped and a crash between the two only
//! repeats blocks the handler already has (its import must be idempotent).
//!
//! RPC failures (node down, connection dropped, timeouts) are retried on a fresh connection after an
//! exponential backoff (`backoff_min` doubling to `backoff_max`, reset once a connection works).
//! Handler errors and a cursor that is not on the chain end the follow with the error.
//!
//! Events are decoded dynamically with the chain's current metadata (scale-value), so a block from
//! before a runtime upgrade that changed an event's layout would decode wrongly: the dev runtime has
//! no upgrades; a chain with them needs the metadata of each block's runtime version.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use scale_info::PortableRegistry;
use subxt::{
    backend::{legacy::LegacyRpcMethods, rpc::RpcClient},
    config::Header,
    ext::{
        futures::{stream, StreamExt},
        scale_value::{self, Composite, Primitive, Value, ValueDef},
    },
    utils::{AccountId32, H256},
    OnlineClient, PolkadotConfig,
};

use crate::bundle::{BundleError, ContractBundle};
use crate::client::ContractEvent;

type Config = PolkadotConfig;

/// A dynamically decoded event field (scale-value, without type ids).
pub type FieldValue = Value<()>;

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The node could not be reached or answered badly: retried after a backoff.
    #[error("chain RPC at {url} failed: {message}")]
    Rpc { url: String, message: String },
    /// The stored cursor is not a block of this chain.
    #[error(
        "the cursor says block {number} is 0x{}, but {url} has {} at that height: the database \
         followed another chain (or this node was reset); use a fresh database or remove the cursor",
        flex_types::hex::encode_digits(stored),
        chain.map_or_else(|| "no block".to_string(), flex_types::hex::encode)
    )]
    CursorMismatch {
        url: String,
        number: u64,
        stored: [u8; 32],
        chain: Option<[u8; 32]>,
    },
    /// The handler failed: the follow stops.
    #[error("{0}")]
    Handler(String),
}

impl FollowError {
    pub fn is_transient(&self) -> bool {
        matches!(self, FollowError::Rpc { .. })
    }
}

/// The last block a handler has handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub number: u64,
    pub hash: [u8; 32],
}

impl Cursor {
    /// `NUMBER:0xHASH`, as stored.
    pub fn encode(&self) -> String {
        format!("{}:0x{}", self.number, flex_types::hex::encode_digits(self.hash))
    }

    /// Reads [`Cursor::encode`]'s form.
    pub fn parse(s: &str) -> Result<Self, CursorError> {
        let bad = || CursorError(s.to_string());
        let (n, h) = s.split_once(':').ok_or_else(bad)?;
        let number = n.parse().map_err(|_| bad())?;
        if !h.starts_with("0x") {
            return Err(bad());
        }
        let hash = flex_types::hex::decode(h).map_err(|_| bad())?;
        Ok(Cursor { number, hash })
    }
}

/// A stored string that is not a [`Cursor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor {0:?} is not NUMBER:0x<32-byte hash>")]
pub struct CursorError(pub String);

/// Why an event field holds no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressInError {
    #[error("variant {0} is not an address")]
    Variant(String),
    #[error("{0} bytes is not an address (32 or 20 bytes)")]
    Length(usize),
    /// The value as written.
    #[error("{0} is not an address")]
    Value(String),
}

/// Why an event field cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventFieldError {
    #[error("{event}.{field} does not decode: {reason}")]
    Decode {
        event: String,
        field: String,
        reason: String,
    },
    #[error("{event} has no field {name:?} (fields: {fields})")]
    NoField {
        event: String,
        name: String,
        fields: String,
    },
}

/// A finalized block with its events.
#[derive(Debug, Clone)]
pub struct FinalizedBlock {
    pub number: u64,
    pub hash: [u8; 32],
    /// The block's `Timestamp::set` (unix milliseconds; 0 if the chain has no timestamp pallet).
    pub timestamp_ms: u64,
    pub events: Vec<BlockEvent>,
}

impl FinalizedBlock {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            number: self.number,
            hash: self.hash,
        }
    }
}

/// One event of a block, its fields decoded dynamically.
#[derive(Debug, Clone)]
pub struct BlockEvent {
    /// The event's index in the block's `System::Events`.
    pub index: u32,
    pub pallet: String,
    pub variant: String,
    /// Field name (or position, for unnamed fields) and value.
    pub fields: Vec<(String, FieldValue)>,
    /// The event record's topics.
    pub topics: Vec<[u8; 32]>,
    /// For `Contracts::ContractEmitted`: the contract, its event data and the record's topics.
    pub contract: Option<ContractEvent>,
}

impl BlockEvent {
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn field_names(&self) -> Vec<&str> {
        self.fields.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// An account as it appears in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainAddress {
    /// A 32-byte `AccountId32`.
    Account([u8; 32]),
    /// A 20-byte `H160`.
    H160([u8; 20]),
}

/// The address in a decoded value: an `AccountId32`/`[u8; 32]`, an `H160`/`[u8; 20]`, either one in
/// a newtype, `Some(..)`, or `MultiAddress::Id`/`Address20`. `Ok(None)` for `None` (a mint has no
/// sender); an error saying what was found otherwise.
pub fn address_in(value: &FieldValue) -> Result<Option<ChainAddress>, AddressInError> {
    match &value.value {
        ValueDef::Variant(v) => match (v.name.as_str(), single(&v.values)) {
            ("None", _) if v.values.is_empty() => Ok(None),
            ("Some" | "Id" | "Address20" | "Address32", Some(inner)) => address_in(inner),
            (name, _) => Err(AddressInError::Variant(name.to_string())),
        },
        ValueDef::Composite(c) => {
            if let Some(bytes) = byte_array(c) {
                return match bytes.len() {
                    32 => Ok(Some(ChainAddress::Account(bytes.try_into().unwrap_or([0; 32])))),
                    20 => Ok(Some(ChainAddress::H160(bytes.try_into().unwrap_or([0; 20])))),
                    n => Err(AddressInError::Length(n)),
                };
            }
            match single(c) {
                Some(inner) => address_in(inner),
                None => Err(AddressInError::Value(value.to_string())),
            }
        }
        _ => Err(AddressInError::Value(value.to_string())),
    }
}

fn single<T>(c: &Composite<T>) -> Option<&Value<T>> {
    let mut values = c.values();
    match (values.next(), values.next()) {
        (Some(v), None) => Some(v),
        _ => None,
    }
}

/// The bytes of a composite of `u8`s (an array), if it is one with at least 2 items.
fn byte_array<T>(c: &Composite<T>) -> Option<Vec<u8>> {
    if c.len() < 2 {
        return None;
    }
    c.values()
        .map(|v| match &v.value {
            ValueDef::Primitive(Primitive::U128(b)) => u8::try_from(*b).ok(),
            _ => None,
        })
        .collect()
}

/// Decodes the data of one ink! event from its `.contract` bundle: the fields in order, with the
/// bundle's type registry.
#[derive(Debug, Clone)]
pub struct InkEventDecoder {
    pub contract: String,
    pub label: String,
    /// Topic 0 of the event (its signature topic).
    pub signature_topic: [u8; 32],
    /// Field labels, their type ids and whether they are topics.
    pub args: Vec<(String, u32, bool)>,
    registry: PortableRegistry,
}

impl InkEventDecoder {
    pub fn new(bundle: &ContractBundle, label: &str) -> Result<Self, BundleError> {
        let meta = bundle.metadata();
        let invalid = |what: String| BundleError::Invalid {
            path: bundle.name.clone().into(),
            what,
        };
        let signature_topic = bundle.event_topic(label)?;
        let event = meta["spec"]["events"]
            .as_array()
            .and_then(|es| es.iter().find(|e| e["label"].as_str() == Some(label)))
            .ok_or_else(|| BundleError::Unknown {
                contract: bundle.name.clone(),
                kind: "event",
                label: label.to_string(),
            })?;
        let mut args = Vec::new();
        for a in event["args"].as_array().into_iter().flatten() {
            let name = a["label"]
                .as_str()
                .ok_or_else(|| invalid(format!("event {label}: an argument has no label")))?;
            let ty = a["type"]["type"]
                .as_u64()
                .and_then(|t| u32::try_from(t).ok())
                .ok_or_else(|| invalid(format!("event {label}.{name}: no type id")))?;
            args.push((name.to_string(), ty, a["indexed"].as_bool().unwrap_or(false)));
        }
        let registry: PortableRegistry =
            serde_json::from_value(serde_json::json!({ "types": meta["types"] }))
                .map_err(|e| invalid(format!("the type registry does not parse: {e}")))?;
        Ok(Self {
            contract: bundle.name.clone(),
            label: label.to_string(),
            signature_topic,
            args,
            registry,
        })
    }

    /// The field labels, in order.
    pub fn fields(&self) -> Vec<&str> {
        self.args.iter().map(|a| a.0.as_str()).collect()
    }

    /// Decodes the event data and returns the field `name`.
    pub fn field(&self, data: &[u8], name: &str) -> Result<FieldValue, EventFieldError> {
        let mut input = data;
        for (label, ty, _) in &self.args {
            let v = scale_value::scale::decode_as_type(&mut input, *ty, &self.registry).map_err(|e| {
                EventFieldError::Decode {
                    event: self.label.clone(),
                    field: label.clone(),
                    reason: e.to_string(),
                }
            })?;
            if label == name {
                return Ok(v.remove_context());
            }
        }
        Err(EventFieldError::NoField {
            event: self.label.clone(),
            name: name.to_string(),
            fields: self.fields().join(", "),
        })
    }
}

/// How to follow.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// The first block handled when the handler has no cursor.
    pub start_block: u64,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// The longest wait for a finalized-head notification before asking for the head again.
    pub poll: Duration,
    /// Each RPC request's time limit.
    pub request_timeout: Duration,
    /// At most this many blocks are fetched concurrently and handed over as one chunk.
    pub chunk: usize,
    /// Stop once the finalized head seen after connecting is handled.
    pub once: bool,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            start_block: 0,
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            poll: Duration::from_secs(6),
            request_timeout: Duration::from_secs(30),
            chunk: 32,
            once: false,
        }
    }
}

/// Where a follow stands; shared with whoever watches it.
#[derive(Debug, Default)]
pub struct FollowProgress {
    pub connected: AtomicBool,
    /// The latest finalized head seen.
    pub head: AtomicU64,
    /// The last block handled (meaningful once `blocks > 0`).
    pub last: AtomicU64,
    /// Blocks handled since the follow started.
    pub blocks: AtomicU64,
    /// The first block handled since the follow started (`u64::MAX` before any).
    pub first: AtomicU64,
    /// Failed connections or sessions (each followed by a backoff).
    pub rpc_errors: AtomicU64,
    /// Connections made.
    pub connections: AtomicU64,
}

impl FollowProgress {
    pub fn new() -> Self {
        Self {
            first: AtomicU64::new(u64::MAX),
            ..Self::default()
        }
    }
}

/// What [`follow`] hands blocks to.
pub trait BlockHandler: Send {
    /// Called on each connection with the chain's genesis hash: refuse (an error) a chain other
    /// than the one the handler's data came from.
    fn on_connect(&mut self, genesis: [u8; 32], follower: &Follower) -> Result<(), FollowError>;
    /// The last block handled, if any.
    fn cursor(&mut self) -> Result<Option<Cursor>, FollowError>;
    /// Handles consecutive blocks (the first one follows the cursor), then stores the last one's
    /// cursor. Must be idempotent: after a crash the same blocks may come again.
    fn handle(&mut self, blocks: &[FinalizedBlock]) -> Result<(), FollowError>;
}

/// A connection to a chain, for reading finalized blocks.
#[derive(Clone)]
pub struct Follower {
    url: String,
    api: OnlineClient<Config>,
    legacy: LegacyRpcMethods<Config>,
    timeout: Duration,
}

impl Follower {
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, FollowError> {
        let rpc_err = |e: String| FollowError::Rpc {
            url: flex_types::url::redact(url),
            message: e,
        };
        let connect = async {
            let rpc = RpcClient::from_insecure_url(url).await?;
            let api = OnlineClient::<Config>::from_rpc_client(rpc.clone()).await?;
            Ok::<_, subxt::Error>((rpc, api))
        };
        let (rpc, api) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| rpc_err(format!("connecting timed out after {timeout:?}")))?
            .map_err(|e| rpc_err(format!("cannot connect: {e}")))?;
        Ok(Self {
            url: flex_types::url::redact(url),
            api,
            legacy: LegacyRpcMethods::new(rpc),
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn genesis_hash(&self) -> [u8; 32] {
        self.api.genesis_hash().0
    }

    /// The field names of a pallet's event in the chain's metadata (`None`: no such event).
    pub fn event_fields(&self, pallet: &str, event: &str) -> Option<Vec<String>> {
        let metadata = self.api.metadata();
        let p = metadata.pallet_by_name(pallet)?;
        let v = p.event_variants()?.iter().find(|v| v.name == event)?;
        Some(
            v.fields
                .iter()
                .enumerate()
                .map(|(i, f)| f.name.clone().unwrap_or_else(|| i.to_string()))
                .collect(),
        )
    }

    async fn rpc<T>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, subxt::Error>>,
    ) -> Result<T, FollowError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.err(format!("{what}: {e}"))),
            Err(_) => Err(self.err(format!("{what}: no answer within {:?}", self.timeout))),
        }
    }

    fn err(&self, message: String) -> FollowError {
        FollowError::Rpc {
            url: self.url.clone(),
            message,
        }
    }

    /// The finalized head: number and hash.
    pub async fn finalized_head(&self) -> Result<(u64, [u8; 32]), FollowError> {
        let hash = self
            .rpc("chain_getFinalizedHead", self.legacy.chain_get_finalized_head())
            .await?;
        let header = self
            .rpc("chain_getHeader", self.legacy.chain_get_header(Some(hash)))
            .await?
            .ok_or_else(|| self.err(format!("no header for the finalized head {hash:?}")))?;
        Ok((header.number().into(), hash.0))
    }

    /// The hash of the block at `number` on the node's chain (`None` above its head).
    pub async fn block_hash(&self, number: u64) -> Result<Option<[u8; 32]>, FollowError> {
        let hash = self
            .rpc(
                "chain_getBlockHash",
                self.legacy.chain_get_block_hash(Some(number.into())),
            )
            .await?;
        Ok(hash.map(|h| h.0))
    }

    /// The block at `number` (at or below the finalized head) with its events and timestamp.
    pub async fn block(&self, number: u64) -> Result<FinalizedBlock, FollowError> {
        let hash = self
            .block_hash(number)
            .await?
            .ok_or_else(|| self.err(format!("no block {number}")))?;
        self.block_at(number, hash).await
    }

    async fn block_at(&self, number: u64, hash: [u8; 32]) -> Result<FinalizedBlock, FollowError> {
        let at = H256(hash);
        let block = self.rpc("chain_getHeader", self.api.blocks().at(at)).await?;
        let extrinsics = self.rpc("chain_getBlock", block.extrinsics()).await?;
        // The block's own `Timestamp::set` inherent: part of the block, unlike the state at it (which
        // a dev node may rewrite: chopsticks' `dev_timeTravel` sets `Timestamp::Now` at its head).
        let mut timestamp_ms = 0;
        for ext in extrinsics.iter() {
            if ext.pallet_name().ok() == Some("Timestamp") && ext.variant_name().ok() == Some("set") {
                let now = <codec::Compact<u64> as codec::Decode>::decode(&mut ext.field_bytes())
                    .map_err(|e| self.err(format!("block {number}: Timestamp::set does not decode: {e}")))?;
                timestamp_ms = now.0;
            }
        }
        let events = self.rpc("System::Events", block.events()).await?;
        let mut out = Vec::new();
        for ev in events.iter() {
            let ev = ev.map_err(|e| self.err(format!("block {number}: an event does not decode: {e}")))?;
            let pallet = ev.pallet_name().to_string();
            let variant = ev.variant_name().to_string();
            let values = ev.field_values().map_err(|e| {
                self.err(format!(
                    "block {number} event {} ({pallet}.{variant}): fields do not decode: {e}",
                    ev.index()
                ))
            })?;
            let fields = match values {
                Composite::Named(named) => named.into_iter().map(|(n, v)| (n, v.remove_context())).collect(),
                Composite::Unnamed(unnamed) => unnamed
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (i.to_string(), v.remove_context()))
                    .collect(),
            };
            let topics: Vec<[u8; 32]> = ev.topics().iter().map(|t| t.0).collect();
            let contract = if pallet == "Contracts" && variant == "ContractEmitted" {
                let mut bytes = ev.field_bytes();
                let (contract, data) = <(AccountId32, Vec<u8>) as codec::Decode>::decode(&mut bytes)
                    .map_err(|e| self.err(format!("block {number}: ContractEmitted does not decode: {e}")))?;
                Some(ContractEvent {
                    contract,
                    topics: topics.clone(),
                    data,
                })
            } else {
                None
            };
            out.push(BlockEvent {
                index: ev.index(),
                pallet,
                variant,
                fields,
                topics,
                contract,
            });
        }
        Ok(FinalizedBlock {
            number,
            hash,
            timestamp_ms,
            events: out,
        })
    }
}

/// Follows `url` until `shutdown` resolves (or, with `options.once`, until the finalized head seen
/// on connecting is handled). See the module docs.
pub async fn follow<H: BlockHandler>(
    url: &str,
    options: &FollowOptions,
    handler: &mut H,
    progress: &FollowProgress,
    shutdown: impl Future<Output = ()>,
) -> Result<(), FollowError> {
    tokio::pin!(shutdown);
    let mut backoff = options.backoff_min;
    loop {
        let mut connected = false;
        let session = session(url, options, handler, progress, &mut connected);
        let result = tokio::select! {
            r = session => r,
            _ = &mut shutdown => return Ok(()),
        };
        progress.connected.store(false, Ordering::Relaxed);
        match result {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() => {
                if connected {
                    backoff = options.backoff_min;
                }
                progress.rpc_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(url, error = %e, retry_in_ms = backoff.as_millis() as u64, "substrate follower: chain unavailable");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = &mut shutdown => return Ok(()),
                }
                backoff = (backoff * 2).min(options.backoff_max);
            }
            Err(e) => return Err(e),
        }
    }
}

/// One connection: check the cursor, catch up, follow. Returns only on an error, or in `once` mode.
async fn session<H: BlockHandler>(
    url: &str,
    options: &FollowOptions,
    handler: &mut H,
    progress: &FollowProgress,
    connected: &mut bool,
) -> Result<(), FollowError> {
    let chain = Follower::connect(url, options.request_timeout).await?;
    handler.on_connect(chain.genesis_hash(), &chain)?;
    let mut next = match handler.cursor()? {
        Some(c) => {
            let on_chain = chain.block_hash(c.number).await?;
            if on_chain != Some(c.hash) {
                return Err(FollowError::CursorMismatch {
                    url: flex_types::url::redact(url),
                    number: c.number,
                    stored: c.hash,
                    chain: on_chain,
                });
            }
            c.number + 1
        }
        None => options.start_block,
    };
    // Subscribe before reading the head so no finalization falls between the two.
    let mut heads = if options.once {
        None
    } else {
        Some(
            chain
                .rpc(
                    "chain_subscribeFinalizedHeads",
                    chain.legacy.chain_subscribe_finalized_heads(),
                )
                .await?,
        )
    };
    *connected = true;
    progress.connected.store(true, Ordering::Relaxed);
    progress.connections.fetch_add(1, Ordering::Relaxed);
    tracing::info!(url, next_block = next, "substrate follower connected");
    loop {
        let (head, _) = chain.finalized_head().await?;
        progress.head.fetch_max(head, Ordering::Relaxed);
        if next <= head {
            next = catch_up(&chain, options, handler, progress, next, head).await?;
        }
        let Some(heads) = heads.as_mut() else {
            return Ok(());
        };
        // Wait for the next finalized head (or the poll interval).
        match tokio::time::timeout(options.poll, heads.next()).await {
            Err(_) => {}
            Ok(Some(Ok(h))) => {
                progress.head.fetch_max(h.number().into(), Ordering::Relaxed);
            }
            Ok(Some(Err(e))) => return Err(chain.err(format!("finalized heads subscription: {e}"))),
            Ok(None) => return Err(chain.err("finalized heads subscription ended".into())),
        }
    }
}

/// Handles blocks `next..=head` in chunks; returns the next block to handle.
async fn catch_up<H: BlockHandler>(
    chain: &Follower,
    options: &FollowOptions,
    handler: &mut H,
    progress: &FollowProgress,
    mut next: u64,
    head: u64,
) -> Result<u64, FollowError> {
    let started = Instant::now();
    let from = next;
    let chunk = options.chunk.max(1) as u64;
    while next <= head {
        let end = head.min(next + chunk - 1);
        let blocks: Vec<FinalizedBlock> = stream::iter(next..=end)
            .map(|n| chain.block(n))
            .buffered(chunk as usize)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        handler.handle(&blocks)?;
        progress.first.fetch_min(next, Ordering::Relaxed);
        progress.last.store(end, Ordering::Relaxed);
        progress.blocks.fetch_add(blocks.len() as u64, Ordering::Relaxed);
        next = end + 1;
    }
    let n = next - from;
    let secs = started.elapsed().as_secs_f64();
    tracing::debug!(
        from,
        to = next - 1,
        blocks = n,
        ms = (secs * 1000.0) as u64,
        blocks_per_s = if secs > 0.0 { n as f64 / secs } else { 0.0 },
        "substrate follower: caught up"
    );
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(b: &[u8]) -> FieldValue {
        Value::unnamed_composite(b.iter().map(|x| Value::u128(u128::from(*x))))
    }

    #[test]
    fn cursor_round_trip_and_errors() {
        let c = Cursor {
            number: 42,
            hash: [0xab; 32],
        };
        assert_eq!(Cursor::parse(&c.encode()), Ok(c));
        for bad in ["42", "x:0xab", "42:ab", "42:0xabcd"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_in_values() {
        let acc = [7u8; 32];
        let h160 = [9u8; 20];
        // AccountId32([u8; 32]) as scale-value decodes it: a newtype around the array.
        let account = Value::unnamed_composite([bytes(&acc)]);
        assert_eq!(address_in(&account), Ok(Some(ChainAddress::Account(acc))));
        assert_eq!(address_in(&bytes(&h160)), Ok(Some(ChainAddress::H160(h160))));
        let some = Value::unnamed_variant("Some", [account.clone()]);
        assert_eq!(address_in(&some), Ok(Some(ChainAddress::Account(acc))));
        assert_eq!(address_in(&Value::unnamed_variant("None", [])), Ok(None));
        let id = Value::unnamed_variant("Id", [account]);
        assert_eq!(address_in(&id), Ok(Some(ChainAddress::Account(acc))));
        assert!(address_in(&Value::u128(5)).is_err());
        assert_eq!(address_in(&bytes(&[1; 16])), Err(AddressInError::Length(16)));
        assert_eq!(
            Cursor::parse("7:0x12").unwrap_err().to_string(),
            "cursor \"7:0x12\" is not NUMBER:0x<32-byte hash>"
        );
        assert!(address_in(&Value::unnamed_variant("Index", [Value::u128(1)])).is_err());
    }
}
