//! Following contract logs on an EVM JSON-RPC endpoint, behind the keeper's own types.
//!
//! [`LogFollower`] reads the logs of a [`LogFilter`] block range by block range with `eth_getLogs`,
//! and only ever reads blocks at least `confirmations` below the head, so a reorganisation shallower
//! than that never touches what it has handed out. Each range comes as a [`LogBatch`] whose
//! [`Cursor`] (last block read, number and hash) the caller stores after it has used the logs; the
//! next range must start on a block whose parent is the cursor's hash, and a resumed follower checks
//! that the cursor's block is still canonical: a reorganisation deeper than `confirmations` is
//! reported as [`FollowError::DeepReorg`] and never papered over.
//!
//! Every log carries its block's timestamp and its index in its transaction's receipt, so that the
//! pair (transaction hash, index in the receipt) names it whichever block the transaction lands in.
//!
//! JSON-RPC errors (node down, timeouts, refused ranges) are retried with exponential backoff (and a
//! refused range is halved); [`LogFollower::run`] stops when its `stop` future completes.
//!
//! ethers-rs (`ethers-providers`) is used only inside this module.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use ethers_core::abi::{HumanReadableParser, ParamType};
use ethers_core::types::{Block, BlockId, BlockNumber, Filter, Log, H160, H256, U64};
use ethers_providers::{Http, Middleware, Provider};

use flex_types::hex;

use crate::Address;

/// A 32-byte hash or topic.
pub type Bytes32 = [u8; 32];

/// Why following stopped or a step failed.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The endpoint could not be reached or answered with an error: retried with backoff.
    #[error("{url}: {message}")]
    Rpc { url: String, message: String },
    #[error("{url}: not an http(s) JSON-RPC URL: {message}")]
    BadUrl { url: String, message: String },
    #[error("{url}: the node's chain id is {found}, the configuration says {expected}")]
    ChainId { url: String, expected: u64, found: u64 },
    /// The chain changed below the confirmation depth: logs already handed out may be gone.
    #[error(
        "{url}: reorganisation deeper than the confirmation depth: block {block} was {stored} when read, \
         the node now has {found}; the follower stops rather than count twice (raise `confirmations` \
         and rebuild the database: it holds what was read from the replaced blocks)"
    )]
    DeepReorg {
        url: String,
        block: u64,
        stored: String,
        found: String,
    },
    /// The node answered something that cannot be a valid answer (a log without its block).
    #[error("{url}: {message}")]
    Node { url: String, message: String },
    /// The caller's handler refused a batch.
    #[error("{0}")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Why an event declaration cannot be followed as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("{text:?} is not an event declaration such as \"Swapped(address indexed trader, uint256 amount)\": {reason}")]
    Declaration { text: String, reason: String },
    #[error("parameter {name:?} of {signature} is not indexed")]
    NotIndexed { name: String, signature: String },
    #[error("parameter {name:?} of {signature} is a {kind}, not an address")]
    NotAddress {
        name: String,
        signature: String,
        kind: String,
    },
    #[error("{signature} declares no parameter names: name them (\"Swapped(address indexed trader, uint256 amount)\") or give the topic index (1-3)")]
    Unnamed { signature: String },
    #[error("{signature} has no parameter {name:?} (it has {names})")]
    NoParameter {
        signature: String,
        name: String,
        names: String,
    },
}

/// A string that is not a [`Cursor`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a cursor (block number:0x + 64 hex digits)")]
pub struct CursorError(pub String);

impl FollowError {
    /// Worth a retry after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(self, FollowError::Rpc { .. })
    }
}

/// An event declaration: `Swapped(address indexed trader, uint256 amount)`, with or without the
/// `event` keyword and parameter names (`Swapped(address,uint256)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub name: String,
    /// Canonical signature, `Swapped(address,uint256)`.
    pub signature: String,
    /// `keccak256(signature)`: the log's first topic.
    pub topic0: Bytes32,
    /// Parameters as declared: (name, canonical type, indexed).
    pub params: Vec<(String, String, bool)>,
}

impl EventSpec {
    pub fn parse(text: &str) -> Result<Self, EventError> {
        let t = text.trim();
        let decl = if t.starts_with("event ") {
            t.to_string()
        } else {
            format!("event {t}")
        };
        let ev = HumanReadableParser::parse_event(&decl).map_err(|e| EventError::Declaration {
            text: text.to_string(),
            reason: e.to_string(),
        })?;
        let types: Vec<String> = ev.inputs.iter().map(|p| p.kind.to_string()).collect();
        let signature = format!("{}({})", ev.name, types.join(","));
        Ok(EventSpec {
            topic0: crate::keccak256(signature.as_bytes()),
            params: ev
                .inputs
                .iter()
                .map(|p| (p.name.clone(), p.kind.to_string(), p.indexed))
                .collect(),
            name: ev.name,
            signature,
        })
    }

    /// The topic (1..=3) holding the indexed `address` parameter `name`.
    pub fn address_topic(&self, name: &str) -> Result<usize, EventError> {
        let mut topic = 0;
        for (n, kind, indexed) in &self.params {
            if *indexed {
                topic += 1;
            }
            if n == name {
                if !indexed {
                    return Err(EventError::NotIndexed {
                        name: name.to_string(),
                        signature: self.signature.clone(),
                    });
                }
                if *kind != ParamType::Address.to_string() {
                    return Err(EventError::NotAddress {
                        name: name.to_string(),
                        signature: self.signature.clone(),
                        kind: kind.clone(),
                    });
                }
                return Ok(topic);
            }
        }
        let names: Vec<&str> = self
            .params
            .iter()
            .filter(|p| !p.0.is_empty())
            .map(|p| p.0.as_str())
            .collect();
        Err(if names.is_empty() {
            EventError::Unnamed {
                signature: self.signature.clone(),
            }
        } else {
            EventError::NoParameter {
                signature: self.signature.clone(),
                name: name.to_string(),
                names: names.join(", "),
            }
        })
    }

    /// Number of indexed parameters, when the declaration says which are indexed (0 otherwise).
    pub fn indexed_count(&self) -> usize {
        self.params.iter().filter(|p| p.2).count()
    }
}

/// Which logs to follow: any of `addresses` emitting any of `topic0` (an empty list matches all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub addresses: Vec<Address>,
    pub topic0: Vec<Bytes32>,
}

/// One log of a confirmed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowedLog {
    pub block: u64,
    pub block_hash: Bytes32,
    /// The block's timestamp, unix seconds.
    pub timestamp: i64,
    pub tx: Bytes32,
    pub tx_index: u64,
    /// Index among the block's logs.
    pub log_index: u64,
    /// Index among the logs of the transaction's receipt.
    pub index_in_tx: u64,
    pub address: Address,
    pub topics: Vec<Bytes32>,
    pub data: Vec<u8>,
}

/// The last block read: number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub block: u64,
    pub hash: Bytes32,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:0x{}", self.block, hex::encode_digits(self.hash))
    }
}

impl std::str::FromStr for Cursor {
    type Err = CursorError;

    /// `NUMBER:0xHASH`, as written by `Display`.
    fn from_str(s: &str) -> Result<Self, CursorError> {
        let bad = || CursorError(s.to_string());
        let (n, h) = s.split_once(':').ok_or_else(bad)?;
        let block = n.parse().map_err(|_| bad())?;
        if !h.starts_with("0x") {
            return Err(bad());
        }
        let hash = hex::decode(h).map_err(|_| bad())?;
        Ok(Cursor { block, hash })
    }
}

/// The logs of the confirmed blocks `from..=to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBatch {
    pub from: u64,
    pub to: u64,
    /// Block `to`: store it once the logs are used, and resume from it.
    pub cursor: Cursor,
    /// The head when the range was chosen.
    pub head: u64,
    /// Block `to`'s timestamp (unix seconds): every block up to it is read, so every action
    /// before this time is known (the keeper's epoch close waits for it).
    pub cursor_time: i64,
    /// Ordered by block, then index in the block.
    pub logs: Vec<FollowedLog>,
}

/// How to follow.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Blocks kept between the head and the last block read (`head - confirmations` is read).
    pub confirmations: u64,
    /// First block to read when there is no cursor.
    pub start_block: u64,
    /// Largest `eth_getLogs` range.
    pub batch_blocks: u64,
    /// Pause when caught up.
    pub poll: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Limit of one JSON-RPC call.
    pub rpc_timeout: Duration,
    /// Receipts and headers fetched at once.
    pub concurrency: usize,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            confirmations: 12,
            start_block: 0,
            batch_blocks: 1000,
            poll: Duration::from_secs(2),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            rpc_timeout: Duration::from_secs(20),
            concurrency: 16,
        }
    }
}

/// A block header as far as following needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub number: u64,
    pub hash: Bytes32,
    pub parent: Bytes32,
    pub timestamp: i64,
}

/// A JSON-RPC endpoint.
#[derive(Debug, Clone)]
pub struct EvmRpc {
    /// Redacted ([`flex_types::url::redact`]).
    url: String,
    provider: Provider<Http>,
    timeout: Duration,
}

impl EvmRpc {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, FollowError> {
        // Only the redacted form is kept: every error and log line names the node by it.
        let provider = Provider::<Http>::try_from(url).map_err(|e| FollowError::BadUrl {
            url: flex_types::url::redact(url),
            message: e.to_string(),
        })?;
        Ok(Self {
            url: flex_types::url::redact(url),
            provider,
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn rpc_err(&self, message: impl std::fmt::Display) -> FollowError {
        FollowError::Rpc {
            url: self.url.clone(),
            message: message.to_string(),
        }
    }

    async fn call<T, E: std::fmt::Display>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, E>>,
    ) -> Result<T, FollowError> {
        match tokio::time::timeout(self.timeout, f).await {
            Err(_) => Err(self.rpc_err(format!("{what}: no answer in {:?}", self.timeout))),
            Ok(Err(e)) => Err(self.rpc_err(format!("{what}: {e}"))),
            Ok(Ok(v)) => Ok(v),
        }
    }

    /// Any JSON-RPC method (node control in tests and benches: `evm_mine`, `eth_sendTransaction`).
    pub async fn request(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, FollowError> {
        self.call(method, self.provider.request(method, params)).await
    }

    pub async fn chain_id(&self) -> Result<u64, FollowError> {
        let id = self.call("eth_chainId", self.provider.get_chainid()).await?;
        u64::try_from(id).map_err(|_| self.rpc_err(format!("eth_chainId: {id} out of range")))
    }

    pub async fn head(&self) -> Result<u64, FollowError> {
        Ok(self
            .call("eth_blockNumber", self.provider.get_block_number())
            .await?
            .as_u64())
    }

    /// The header of a block by number or hash (`None`: the node has no such block).
    pub async fn header(&self, id: HeaderId) -> Result<Option<Header>, FollowError> {
        let block_id: BlockId = match id {
            HeaderId::Number(n) => BlockId::Number(BlockNumber::Number(U64::from(n))),
            HeaderId::Hash(h) => BlockId::Hash(H256(h)),
        };
        let block: Option<Block<H256>> = self
            .call("eth_getBlockByNumber", self.provider.get_block(block_id))
            .await?;
        let Some(b) = block else {
            return Ok(None);
        };
        let (Some(number), Some(hash)) = (b.number, b.hash) else {
            return Err(FollowError::Node {
                url: self.url.clone(),
                message: format!("block {id:?} came without its number or hash (a pending block?)"),
            });
        };
        let timestamp = i64::try_from(b.timestamp).map_err(|_| FollowError::Node {
            url: self.url.clone(),
            message: format!("block {number}: timestamp {} out of range", b.timestamp),
        })?;
        Ok(Some(Header {
            number: number.as_u64(),
            hash: hash.0,
            parent: b.parent_hash.0,
            timestamp,
        }))
    }

    async fn logs(&self, filter: &LogFilter, from: u64, to: u64) -> Result<Vec<Log>, FollowError> {
        let mut f = Filter::new().from_block(from).to_block(to);
        if !filter.addresses.is_empty() {
            f = f.address(filter.addresses.iter().map(|a| H160(a.0)).collect::<Vec<_>>());
        }
        if !filter.topic0.is_empty() {
            f = f.topic0(filter.topic0.iter().map(|t| H256(*t)).collect::<Vec<_>>());
        }
        self.call("eth_getLogs", self.provider.get_logs(&f)).await
    }

    /// Block-level log indices of a transaction's receipt, in order.
    async fn receipt_log_indices(&self, tx: Bytes32) -> Result<Vec<u64>, FollowError> {
        let r = self
            .call(
                "eth_getTransactionReceipt",
                self.provider.get_transaction_receipt(H256(tx)),
            )
            .await?
            .ok_or_else(|| self.rpc_err(format!("no receipt for 0x{} (yet)", hex::encode_digits(tx))))?;
        r.logs
            .iter()
            .map(|l| {
                l.log_index.map(|i| i.low_u64()).ok_or_else(|| FollowError::Node {
                    url: self.url.clone(),
                    message: format!("receipt of 0x{}: a log without logIndex", hex::encode_digits(tx)),
                })
            })
            .collect()
    }
}

/// A block by number or by hash.
#[derive(Debug, Clone, Copy)]
pub enum HeaderId {
    Number(u64),
    Hash(Bytes32),
}

/// Where a follower stands (for logs and figures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Head seen by the last step.
    pub head: u64,
    /// Last block read.
    pub cursor: Option<u64>,
    /// RPC errors retried so far.
    pub retries: u64,
}

/// Follows the logs of one filter on one endpoint. See the module documentation.
#[derive(Debug)]
pub struct LogFollower {
    rpc: EvmRpc,
    filter: LogFilter,
    opts: FollowOptions,
    cursor: Option<Cursor>,
    /// Current `eth_getLogs` range (halved when a range is refused, grown back on success).
    span: u64,
    progress: Progress,
}

/// What [`LogFollower::run`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Return once every confirmed block is read.
    CaughtUp,
    /// Follow the head until `stop`.
    Stopped,
}

impl LogFollower {
    /// `cursor`: where a previous run stopped (from the caller's storage), if any.
    pub fn new(
        url: &str,
        filter: LogFilter,
        opts: FollowOptions,
        cursor: Option<Cursor>,
    ) -> Result<Self, FollowError> {
        let rpc = EvmRpc::new(url, opts.rpc_timeout)?;
        let span = opts.batch_blocks.max(1);
        Ok(Self {
            rpc,
            filter,
            progress: Progress {
                cursor: cursor.map(|c| c.block),
                ..Progress::default()
            },
            opts,
            cursor,
            span,
        })
    }

    pub fn rpc(&self) -> &EvmRpc {
        &self.rpc
    }

    pub fn cursor(&self) -> Option<Cursor> {
        self.cursor
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// The next block to read.
    pub fn next_block(&self) -> u64 {
        self.cursor.map_or(self.opts.start_block, |c| c.block + 1)
    }

    /// The node must be on `expected`.
    pub async fn check_chain_id(&self, expected: u64) -> Result<(), FollowError> {
        let found = self.rpc.chain_id().await?;
        if found != expected {
            return Err(FollowError::ChainId {
                url: self.rpc.url.clone(),
                expected,
                found,
            });
        }
        Ok(())
    }

    fn deep_reorg(&self, block: u64, stored: &Bytes32, found: &str) -> FollowError {
        FollowError::DeepReorg {
            url: self.rpc.url.clone(),
            block,
            stored: format!("0x{}", hex::encode_digits(stored)),
            found: found.to_string(),
        }
    }

    /// The stored cursor's block must still be canonical (on resume). A node whose head is still
    /// below it (syncing) is a transient error.
    pub async fn check_cursor(&self) -> Result<(), FollowError> {
        let Some(c) = self.cursor else {
            return Ok(());
        };
        match self.rpc.header(HeaderId::Number(c.block)).await? {
            None => Err(self.rpc.rpc_err(format!(
                "the node has no block {} yet (the cursor's block): waiting",
                c.block
            ))),
            Some(h) if h.hash != c.hash => {
                Err(self.deep_reorg(c.block, &c.hash, &format!("0x{}", hex::encode_digits(h.hash))))
            }
            Some(_) => Ok(()),
        }
    }

    /// Reads the next confirmed range, if any (`None`: caught up). The cursor does not move: call
    /// [`LogFollower::advance`] once the batch is used.
    pub async fn step(&mut self) -> Result<Option<LogBatch>, FollowError> {
        let head = self.rpc.head().await?;
        self.progress.head = head;
        let Some(safe) = head.checked_sub(self.opts.confirmations) else {
            return Ok(None);
        };
        let from = self.next_block();
        if from > safe {
            return Ok(None);
        }
        let to = safe.min(from.saturating_add(self.span - 1));
        let first = self
            .rpc
            .header(HeaderId::Number(from))
            .await?
            .ok_or_else(|| self.rpc.rpc_err(format!("block {from} not found (head {head})")))?;
        if let Some(c) = self.cursor {
            if first.parent != c.hash {
                // Block `c.block` is no longer the one read: ask for the details for the message.
                let now = match self.rpc.header(HeaderId::Number(c.block)).await? {
                    Some(h) => format!("0x{}", hex::encode_digits(h.hash)),
                    None => "no such block".into(),
                };
                return Err(self.deep_reorg(c.block, &c.hash, &now));
            }
        }
        let last = if to == from {
            first
        } else {
            self.rpc
                .header(HeaderId::Number(to))
                .await?
                .ok_or_else(|| self.rpc.rpc_err(format!("block {to} not found (head {head})")))?
        };
        let raw = match self.rpc.logs(&self.filter, from, to).await {
            Ok(raw) => {
                self.span = (self.span.saturating_mul(2)).min(self.opts.batch_blocks.max(1));
                raw
            }
            Err(e) => {
                // Perhaps a range too large for this node (or too many results): try less.
                self.span = (self.span / 2).max(1);
                return Err(e);
            }
        };
        let logs = self.complete(raw, from, to, &first, &last).await?;
        Ok(Some(LogBatch {
            from,
            to,
            cursor: Cursor {
                block: to,
                hash: last.hash,
            },
            head,
            cursor_time: last.timestamp,
            logs,
        }))
    }

    /// Adds timestamps and receipt indices; checks the logs belong to the range.
    async fn complete(
        &self,
        raw: Vec<Log>,
        from: u64,
        to: u64,
        first: &Header,
        last: &Header,
    ) -> Result<Vec<FollowedLog>, FollowError> {
        let url = &self.rpc.url;
        let node = |message: String| FollowError::Node {
            url: url.clone(),
            message,
        };
        struct Partial {
            block: u64,
            block_hash: Bytes32,
            tx: Bytes32,
            tx_index: u64,
            log_index: u64,
            tx_log_index: Option<u64>,
            log: Log,
        }
        let mut partial = Vec::with_capacity(raw.len());
        for log in raw {
            if log.removed == Some(true) {
                continue;
            }
            let (Some(block), Some(block_hash), Some(tx), Some(log_index)) = (
                log.block_number,
                log.block_hash,
                log.transaction_hash,
                log.log_index,
            ) else {
                return Err(node(format!(
                    "eth_getLogs {from}..={to}: a log without its block number, block hash, transaction hash or log index"
                )));
            };
            let block = block.as_u64();
            if block < from || block > to {
                return Err(node(format!("eth_getLogs {from}..={to}: a log of block {block}")));
            }
            // The range's ends were fetched before the logs: a log of another block at either end
            // means the chain moved meanwhile. Read again (a deep reorganisation then shows).
            let end = [first, last].into_iter().find(|h| h.number == block);
            if end.is_some_and(|h| h.hash != block_hash.0) {
                return Err(self.rpc.rpc_err(format!(
                    "block {block} changed while its logs were read; reading again"
                )));
            }
            partial.push(Partial {
                block,
                block_hash: block_hash.0,
                tx: tx.0,
                tx_index: log.transaction_index.map_or(0, |i| i.as_u64()),
                log_index: log_index.low_u64(),
                tx_log_index: log.transaction_log_index.map(|i| i.low_u64()),
                log,
            });
        }
        // Block timestamps, by hash (the logs' own blocks).
        let mut headers: BTreeMap<Bytes32, Header> = BTreeMap::new();
        headers.insert(first.hash, *first);
        headers.insert(last.hash, *last);
        let wanted: Vec<Bytes32> = partial
            .iter()
            .map(|p| p.block_hash)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|h| !headers.contains_key(h))
            .collect();
        for chunk in wanted.chunks(self.opts.concurrency.max(1)) {
            let mut set = tokio::task::JoinSet::new();
            for h in chunk {
                let rpc = self.rpc.clone();
                let h = *h;
                set.spawn(async move { (h, rpc.header(HeaderId::Hash(h)).await) });
            }
            while let Some(joined) = set.join_next().await {
                let (h, res) = joined.map_err(|e| self.rpc.rpc_err(format!("header task: {e}")))?;
                let header = res?.ok_or_else(|| {
                    self.rpc
                        .rpc_err(format!("block 0x{} of a log not found", hex::encode_digits(h)))
                })?;
                headers.insert(h, header);
            }
        }
        // Receipt indices, for transactions whose logs do not carry them.
        let mut receipts: BTreeMap<Bytes32, Vec<u64>> = BTreeMap::new();
        let txs: Vec<Bytes32> = partial
            .iter()
            .filter(|p| p.tx_log_index.is_none())
            .map(|p| p.tx)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in txs.chunks(self.opts.concurrency.max(1)) {
            let mut set = tokio::task::JoinSet::new();
            for t in chunk {
                let rpc = self.rpc.clone();
                let t = *t;
                set.spawn(async move { (t, rpc.receipt_log_indices(t).await) });
            }
            while let Some(joined) = set.join_next().await {
                let (t, res) = joined.map_err(|e| self.rpc.rpc_err(format!("receipt task: {e}")))?;
                receipts.insert(t, res?);
            }
        }
        let mut out = Vec::with_capacity(partial.len());
        for p in partial {
            let header = headers.get(&p.block_hash).ok_or_else(|| {
                node(format!(
                    "block 0x{} not fetched",
                    hex::encode_digits(p.block_hash)
                ))
            })?;
            if header.number != p.block {
                return Err(node(format!(
                    "log of block {} names block hash 0x{} which is block {}",
                    p.block,
                    hex::encode_digits(p.block_hash),
                    header.number
                )));
            }
            let index_in_tx = match p.tx_log_index {
                Some(i) => i,
                None => receipts
                    .get(&p.tx)
                    .and_then(|idx| idx.iter().position(|i| *i == p.log_index))
                    .ok_or_else(|| {
                        // The receipt is of another inclusion of the transaction: the chain moved.
                        self.rpc.rpc_err(format!(
                            "receipt of 0x{} has no log {} (chain moved while reading)",
                            hex::encode_digits(p.tx),
                            p.log_index
                        ))
                    })? as u64,
            };
            out.push(FollowedLog {
                block: p.block,
                block_hash: p.block_hash,
                timestamp: header.timestamp,
                tx: p.tx,
                tx_index: p.tx_index,
                log_index: p.log_index,
                index_in_tx,
                address: Address(p.log.address.0),
                topics: p.log.topics.iter().map(|t| t.0).collect(),
                data: p.log.data.to_vec(),
            });
        }
        out.sort_by_key(|l| (l.block, l.log_index));
        Ok(out)
    }

    /// Moves the cursor past a batch the caller has used.
    pub fn advance(&mut self, batch: &LogBatch) {
        self.cursor = Some(batch.cursor);
        self.progress.cursor = Some(batch.cursor.block);
    }

    /// Reads batch after batch and hands each to `sink` (which stores the logs and the cursor),
    /// pausing `poll` when caught up and backing off exponentially on RPC errors, until `until` is
    /// reached or `stop` completes. A sink error, a deep reorganisation or a wrong chain stop it
    /// with that error.
    pub async fn run<F, E>(
        &mut self,
        chain_id: Option<u64>,
        until: Until,
        sink: F,
        stop: impl Future<Output = ()>,
    ) -> Result<(), FollowError>
    where
        F: FnMut(&LogBatch, Progress) -> Result<(), E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.run_observed(chain_id, until, sink, |_| {}, stop).await
    }

    /// [`LogFollower::run`], telling `on_retry` about each transient error before its backoff
    /// (`Some`) and about the first successful read after them (`None`), so a watcher can show
    /// that the node is unreachable.
    pub async fn run_observed<F, E, R>(
        &mut self,
        chain_id: Option<u64>,
        until: Until,
        mut sink: F,
        mut on_retry: R,
        stop: impl Future<Output = ()>,
    ) -> Result<(), FollowError>
    where
        F: FnMut(&LogBatch, Progress) -> Result<(), E>,
        E: std::error::Error + Send + Sync + 'static,
        R: FnMut(Option<&FollowError>),
    {
        tokio::pin!(stop);
        let mut failing = false;
        let mut backoff = self.opts.backoff_min;
        let mut checked = false;
        loop {
            let attempt = async {
                if !checked {
                    if let Some(id) = chain_id {
                        self.check_chain_id(id).await?;
                    }
                    self.check_cursor().await?;
                }
                self.step().await
            };
            let result = tokio::select! {
                _ = &mut stop => return Ok(()),
                r = attempt => r,
            };
            if failing && result.is_ok() {
                failing = false;
                on_retry(None);
            }
            let wait = match result {
                Ok(Some(batch)) => {
                    checked = true;
                    backoff = self.opts.backoff_min;
                    let mut progress = self.progress;
                    progress.cursor = Some(batch.cursor.block);
                    sink(&batch, progress).map_err(|e| FollowError::Sink(Box::new(e)))?;
                    self.advance(&batch);
                    continue;
                }
                Ok(None) => {
                    checked = true;
                    backoff = self.opts.backoff_min;
                    if until == Until::CaughtUp {
                        return Ok(());
                    }
                    self.opts.poll
                }
                Err(e) if e.is_transient() => {
                    self.progress.retries += 1;
                    failing = true;
                    on_retry(Some(&e));
                    tracing::warn!(
                        url = %self.rpc.url,
                        error = %e,
                        retry_in_ms = backoff.as_millis() as u64,
                        "EVM node unavailable; backing off"
                    );
                    let w = backoff;
                    backoff = (backoff * 2).min(self.opts.backoff_max);
                    w
                }
                Err(e) => return Err(e),
            };
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_specs_give_the_topic_and_the_wallet_topic() {
        let e = EventSpec::parse("Swapped(address indexed trader, uint256 amount)").unwrap();
        assert_eq!(e.signature, "Swapped(address,uint256)");
        assert_eq!(e.topic0, crate::keccak256(b"Swapped(address,uint256)"));
        assert_eq!(e.address_topic("trader").unwrap(), 1);
        assert_eq!(
            e.address_topic("amount").unwrap_err().to_string(),
            "parameter \"amount\" of Swapped(address,uint256) is not indexed"
        );
        assert_eq!(
            e.address_topic("who").unwrap_err().to_string(),
            "Swapped(address,uint256) has no parameter \"who\" (it has trader, amount)"
        );

        // The ERC-20 Transfer topic everyone knows.
        let t = EventSpec::parse("event Transfer(address indexed from, address indexed to, uint256 value)")
            .unwrap();
        assert_eq!(
            hex::encode_digits(t.topic0),
            "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
        );
        assert_eq!(t.address_topic("to").unwrap(), 2);

        let bare = EventSpec::parse("Swapped(address,uint256)").unwrap();
        assert_eq!(bare.topic0, e.topic0);
        assert!(matches!(
            bare.address_topic("trader"),
            Err(EventError::Unnamed { .. })
        ));
        assert!(bare
            .address_topic("trader")
            .unwrap_err()
            .to_string()
            .contains("no parameter names"));
        assert!(EventSpec::parse("Swapped(address").is_err());
        assert!(EventSpec::parse("Swapped(adress x)").is_err());
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let c = Cursor {
            block: 42,
            hash: [0xab; 32],
        };
        assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
        assert!("42".parse::<Cursor>().is_err());
        assert!("x:0xab".parse::<Cursor>().is_err());
        assert!(format!("42:{}", "ab".repeat(32)).parse::<Cursor>().is_err());
        assert_eq!(
            "42:0xab".parse::<Cursor>().unwrap_err().to_string(),
            "\"42:0xab\" is not a cursor (block number:0x + 64 hex digits)"
        );
    }

    #[test]
    fn bad_urls_are_named_without_their_secrets() {
        // A bare string may be a pasted API key: it is not repeated.
        let e =
            LogFollower::new("not a url", LogFilter::default(), FollowOptions::default(), None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("<not a URL>: not an http(s) JSON-RPC URL"),
            "{e}"
        );
        // A node's errors name it by scheme, host and port only.
        let rpc = EvmRpc::new(
            "https://user:pw@node.example:8545/v3/KEY123?k=SECRET",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(rpc.url(), "https://***@node.example:8545/…");
        let e = rpc.rpc_err("down").to_string();
        assert!(
            !e.contains("KEY123") && !e.contains("SECRET") && !e.contains("pw"),
            "{e}"
        );
    }
}
