//! A subxt client for ink! contracts on pallet-contracts.
//!
//! Every state-changing call is dry-run first through the `ContractsApi` runtime API (that gives the
//! weight and storage deposit to submit with, and the contract's typed error without paying for a
//! failing transaction), then submitted and followed until its block is finalized.

use codec::{Decode, Encode, Input};
use subxt::{
    backend::rpc::RpcClient,
    blocks::ExtrinsicEvents,
    dynamic::Value,
    utils::{AccountId32, H256},
    OnlineClient, PolkadotConfig,
};

use crate::bundle::ContractBundle;

pub type Keypair = subxt_signer::sr25519::Keypair;
type Config = PolkadotConfig;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("cannot connect to the chain at {url}: {source}")]
    Connect { url: String, source: Box<subxt::Error> },
    #[error("chain RPC failed: {0}")]
    Rpc(String),
    #[error(transparent)]
    Subxt(#[from] Box<subxt::Error>),
    #[error("cannot decode {what}: {source}")]
    Decode {
        what: &'static str,
        source: codec::Error,
    },
    #[error("{what} failed in the dry run: {error}{debug}")]
    DryRunFailed {
        what: String,
        error: String,
        debug: String,
    },
    /// The contract returned an error: `output` is its SCALE-encoded return value, for the caller to
    /// decode into the contract's typed error.
    #[error("{what} reverted (output 0x{})", flex_types::hex::encode_digits(output))]
    Reverted { what: String, output: Vec<u8> },
    /// The extrinsic was included in a finalized block and failed there (e.g. `ContractReverted`
    /// when the state changed between the dry run and the block): it changed nothing but its fee.
    /// Not a sign that the chain is unavailable.
    #[error("the extrinsic failed in finalized block {block:?}: {error}")]
    Dispatch {
        block: H256,
        error: String,
        /// The fee the signer paid for it anyway (`TransactionPayment::TransactionFeePaid`).
        fee: u128,
    },
    #[error("{0}")]
    Missing(String),
}

impl From<subxt::Error> for ChainError {
    fn from(e: subxt::Error) -> Self {
        ChainError::Subxt(Box::new(e))
    }
}

/// Weight as pallet-contracts reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode)]
pub struct Weight {
    #[codec(compact)]
    pub ref_time: u64,
    #[codec(compact)]
    pub proof_size: u64,
}

/// The storage deposit a call charges (positive) or refunds (negative), in base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum StorageDeposit {
    Refund(u128),
    Charge(u128),
}

/// What a dry run of a contract call or instantiation reported.
#[derive(Debug, Clone)]
pub struct DryRun {
    pub gas_consumed: Weight,
    pub gas_required: Weight,
    pub storage_deposit: StorageDeposit,
    pub debug_message: String,
    /// The contract set the revert flag (ink!: the message returned `Err`).
    pub reverted: bool,
    /// The contract's SCALE-encoded output: for ink! messages `Result<T, LangError>`.
    pub output: Vec<u8>,
    /// The new contract's address, for instantiations.
    pub account: Option<AccountId32>,
}

impl DryRun {
    /// Decodes an ink! message's output `Result<T, LangError>` into `T`.
    pub fn decode<T: Decode>(&self) -> Result<T, ChainError> {
        decode_message_output(&self.output)
    }
}

/// Decodes an ink! message's output `Result<T, LangError>` into `T`.
pub fn decode_message_output<T: Decode>(output: &[u8]) -> Result<T, ChainError> {
    let mut input = output;
    match input.first() {
        Some(0) => {
            input = &input[1..];
            T::decode(&mut input).map_err(|source| ChainError::Decode {
                what: "message output",
                source,
            })
        }
        Some(_) => Err(ChainError::Missing(format!(
            "the contract could not read the call (ink! LangError, output 0x{})",
            flex_types::hex::encode_digits(output)
        ))),
        None => Err(ChainError::Missing("empty message output".into())),
    }
}

/// One event a contract emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractEvent {
    pub contract: AccountId32,
    pub topics: Vec<[u8; 32]>,
    pub data: Vec<u8>,
}

/// A finalized contract call.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub block_hash: H256,
    /// The extrinsic's hash (what explorers and `author_*` RPCs know it by).
    pub extrinsic_hash: H256,
    pub dry_run: DryRun,
    pub events: Vec<ContractEvent>,
    /// The transaction fee the signer paid, tip included (`TransactionPayment::TransactionFeePaid`).
    pub fee: u128,
}

/// A finalized instantiation.
#[derive(Debug, Clone)]
pub struct Instantiated {
    pub address: AccountId32,
    pub block_hash: H256,
    pub extrinsic_hash: H256,
    pub dry_run: DryRun,
    pub events: Vec<ContractEvent>,
}

/// A connection to a chain with pallet-contracts.
#[derive(Clone)]
pub struct Chain {
    api: OnlineClient<Config>,
    rpc: RpcClient,
}

impl Chain {
    /// Connects over WebSocket (`ws://127.0.0.1:9944` for the devnet).
    pub async fn connect(url: &str) -> Result<Self, ChainError> {
        let connect_err = |e: subxt::Error| ChainError::Connect {
            url: flex_types::url::redact(url),
            source: Box::new(e),
        };
        let rpc = RpcClient::from_insecure_url(url).await.map_err(connect_err)?;
        let api = OnlineClient::<Config>::from_rpc_client(rpc.clone())
            .await
            .map_err(connect_err)?;
        Ok(Self { api, rpc })
    }

    pub fn api(&self) -> &OnlineClient<Config> {
        &self.api
    }

    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    /// The latest block's timestamp (unix milliseconds), from `Timestamp::Now`.
    pub async fn timestamp_ms(&self) -> Result<u64, ChainError> {
        let addr = subxt::dynamic::storage("Timestamp", "Now", ());
        let now = self.api.storage().at_latest().await?.fetch(&addr).await?;
        match now {
            Some(v) => v
                .as_type::<u64>()
                .map_err(|e| ChainError::Missing(format!("Timestamp::Now: {e}"))),
            None => Ok(0),
        }
    }

    /// The free native balance of an account.
    pub async fn native_free(&self, who: &AccountId32) -> Result<u128, ChainError> {
        let addr = subxt::dynamic::storage("System", "Account", vec![Value::from_bytes(who.0)]);
        let info = self
            .api
            .storage()
            .at_latest()
            .await?
            .fetch_or_default(&addr)
            .await?;
        // AccountInfo { nonce, consumers, providers, sufficients, data: AccountData { free, .. } }
        let bytes = info.encoded();
        let mut input = bytes.get(16..).unwrap_or_default();
        u128::decode(&mut input).map_err(|source| ChainError::Decode {
            what: "account data",
            source,
        })
    }

    /// Dry-runs a contract call as `origin`.
    pub async fn dry_run_call(
        &self,
        origin: &AccountId32,
        contract: &AccountId32,
        value: u128,
        data: &[u8],
    ) -> Result<DryRun, ChainError> {
        let args = (origin, contract, value, None::<Weight>, None::<u128>, data).encode();
        let raw: RawBytes = self
            .api
            .runtime_api()
            .at_latest()
            .await?
            .call_raw("ContractsApi_call", Some(&args))
            .await?;
        self.decode_dry_run(&raw.0, false, "contract call")
    }

    /// Reads a message's return value (a dry run; nothing is submitted).
    pub async fn query<T: Decode>(
        &self,
        origin: &AccountId32,
        contract: &AccountId32,
        data: &[u8],
    ) -> Result<T, ChainError> {
        self.dry_run_call(origin, contract, 0, data).await?.decode()
    }

    /// Calls a contract: dry run, then submit with the weight and deposit the dry run asked for.
    /// A reverting call is reported as [`ChainError::Reverted`] without being submitted.
    pub async fn call(
        &self,
        signer: &Keypair,
        contract: &AccountId32,
        value: u128,
        data: &[u8],
    ) -> Result<CallOutcome, ChainError> {
        let origin = account_of(signer);
        let dry_run = self.dry_run_call(&origin, contract, value, data).await?;
        if dry_run.reverted {
            return Err(ChainError::Reverted {
                what: "contract call".into(),
                output: dry_run.output,
            });
        }
        let tx = call_tx(
            contract,
            value,
            data,
            gas_limit(&dry_run),
            deposit_limit(&dry_run),
        );
        let (block_hash, events, fee) = self.submit_paid(&tx, signer).await?;
        Ok(CallOutcome {
            block_hash,
            extrinsic_hash: events.extrinsic_hash(),
            dry_run,
            events: contract_events(&events)?,
            fee,
        })
    }

    /// Submits a contract call as given, without a dry run, and waits for it to be finalized.
    pub async fn submit_call(
        &self,
        signer: &Keypair,
        contract: &AccountId32,
        value: u128,
        data: &[u8],
        gas_limit: Weight,
        storage_deposit_limit: Option<u128>,
    ) -> Result<(H256, Vec<ContractEvent>), ChainError> {
        let tx = call_tx(contract, value, data, gas_limit, storage_deposit_limit);
        let (block_hash, events) = self.submit(&tx, signer).await?;
        Ok((block_hash, contract_events(&events)?))
    }

    /// Instantiates a contract from its bundle: uploads the code with it unless the chain has it.
    pub async fn instantiate(
        &self,
        signer: &Keypair,
        bundle: &ContractBundle,
        data: &[u8],
        salt: &[u8],
    ) -> Result<Instantiated, ChainError> {
        let origin = account_of(signer);
        let have_code = self.code_exists(&bundle.code_hash).await?;
        let code = if have_code {
            CodeArg::Existing(bundle.code_hash)
        } else {
            CodeArg::Upload(bundle.wasm.clone())
        };
        let args = (&origin, 0u128, None::<Weight>, None::<u128>, &code, data, salt).encode();
        let raw: RawBytes = self
            .api
            .runtime_api()
            .at_latest()
            .await?
            .call_raw("ContractsApi_instantiate", Some(&args))
            .await?;
        let what = format!("instantiating {}", bundle.name);
        let dry_run = self.decode_dry_run(&raw.0, true, &what)?;
        if dry_run.reverted {
            return Err(ChainError::Reverted {
                what,
                output: dry_run.output,
            });
        }
        let common = [
            Value::u128(0),
            weight_value(gas_limit(&dry_run)),
            option_u128(deposit_limit(&dry_run)),
        ];
        let tx = match code {
            CodeArg::Upload(wasm) => subxt::dynamic::tx(
                "Contracts",
                "instantiate_with_code",
                common
                    .into_iter()
                    .chain([
                        Value::from_bytes(wasm),
                        Value::from_bytes(data),
                        Value::from_bytes(salt),
                    ])
                    .collect::<Vec<_>>(),
            ),
            CodeArg::Existing(hash) => subxt::dynamic::tx(
                "Contracts",
                "instantiate",
                common
                    .into_iter()
                    .chain([
                        Value::from_bytes(hash),
                        Value::from_bytes(data),
                        Value::from_bytes(salt),
                    ])
                    .collect::<Vec<_>>(),
            ),
        };
        let (block_hash, events) = self.submit(&tx, signer).await?;
        let mut address = None;
        for ev in events.iter() {
            let ev = ev?;
            if ev.pallet_name() == "Contracts" && ev.variant_name() == "Instantiated" {
                // Instantiated { deployer, contract }
                let mut bytes = ev.field_bytes();
                let (_deployer, contract) =
                    <(AccountId32, AccountId32)>::decode(&mut bytes).map_err(|source| {
                        ChainError::Decode {
                            what: "Instantiated event",
                            source,
                        }
                    })?;
                address = Some(contract);
            }
        }
        let address = address
            .ok_or_else(|| ChainError::Missing(format!("{what}: no Contracts::Instantiated event")))?;
        Ok(Instantiated {
            address,
            block_hash,
            extrinsic_hash: events.extrinsic_hash(),
            dry_run,
            events: contract_events(&events)?,
        })
    }

    /// Signs and submits an extrinsic, waits for its block to be finalized, and fails if it failed.
    pub async fn submit<Call: subxt::tx::Payload>(
        &self,
        tx: &Call,
        signer: &Keypair,
    ) -> Result<(H256, ExtrinsicEvents<Config>), ChainError> {
        self.submit_paid(tx, signer)
            .await
            .map(|(block, events, _)| (block, events))
    }

    /// [`Chain::submit`], also returning the fee the signer paid (tip included), read from the
    /// extrinsic's `TransactionPayment::TransactionFeePaid` event (0 without one). A failed
    /// extrinsic pays too: its fee is in [`ChainError::Dispatch`].
    pub async fn submit_paid<Call: subxt::tx::Payload>(
        &self,
        tx: &Call,
        signer: &Keypair,
    ) -> Result<(H256, ExtrinsicEvents<Config>, u128), ChainError> {
        let progress = self
            .api
            .tx()
            .sign_and_submit_then_watch_default(tx, signer)
            .await?;
        let in_block = progress.wait_for_finalized().await?;
        let block_hash = in_block.block_hash();
        let fee = fee_paid(&in_block.fetch_events().await?)?;
        let events = in_block.wait_for_success().await.map_err(|e| match e {
            subxt::Error::Runtime(error) => ChainError::Dispatch {
                block: block_hash,
                error: error.to_string(),
                fee,
            },
            other => other.into(),
        })?;
        Ok((block_hash, events, fee))
    }

    /// The code hash of the contract at `contract` (`Contracts::ContractInfoOf`), `None` when no
    /// contract lives there. `ContractInfo` starts with the trie id (a byte vector) and the code
    /// hash, in every pallet-contracts release this chain can run.
    pub async fn contract_code_hash(&self, contract: &AccountId32) -> Result<Option<[u8; 32]>, ChainError> {
        let addr =
            subxt::dynamic::storage("Contracts", "ContractInfoOf", vec![Value::from_bytes(contract.0)]);
        let Some(info) = self.api.storage().at_latest().await?.fetch(&addr).await? else {
            return Ok(None);
        };
        let mut input = info.encoded();
        let dec = |source| ChainError::Decode {
            what: "the contract's info",
            source,
        };
        let _trie_id = Vec::<u8>::decode(&mut input).map_err(dec)?;
        <[u8; 32]>::decode(&mut input).map(Some).map_err(dec)
    }

    /// The number of block `hash`.
    pub async fn block_number(&self, hash: H256) -> Result<u64, ChainError> {
        let block = self.api.blocks().at(hash).await?;
        Ok(u64::from(block.number()))
    }

    /// The hash of the first extrinsic in block `hash` whose bytes contain `needle` (e.g. a
    /// signature only one transaction carries); `None` when none does.
    pub async fn find_extrinsic(&self, hash: H256, needle: &[u8]) -> Result<Option<H256>, ChainError> {
        if needle.is_empty() {
            return Ok(None);
        }
        let block = self.api.blocks().at(hash).await?;
        let extrinsics = block.extrinsics().await?;
        for ext in extrinsics.iter() {
            if ext.bytes().windows(needle.len()).any(|w| w == needle) {
                return Ok(Some(ext.hash()));
            }
        }
        Ok(None)
    }

    /// Whether the chain stores code with this hash (`Contracts::PristineCode`).
    pub async fn code_exists(&self, code_hash: &[u8; 32]) -> Result<bool, ChainError> {
        let addr = subxt::dynamic::storage("Contracts", "PristineCode", vec![Value::from_bytes(code_hash)]);
        Ok(self
            .api
            .storage()
            .at_latest()
            .await?
            .fetch(&addr)
            .await?
            .is_some())
    }

    /// Decodes `ContractResult<Result<ExecReturnValue | InstantiateReturnValue, DispatchError>, ..>`.
    fn decode_dry_run(&self, raw: &[u8], instantiate: bool, what: &str) -> Result<DryRun, ChainError> {
        let mut input = raw;
        let dec = |source| ChainError::Decode {
            what: "dry-run result",
            source,
        };
        let gas_consumed = Weight::decode(&mut input).map_err(dec)?;
        let gas_required = Weight::decode(&mut input).map_err(dec)?;
        let storage_deposit = StorageDeposit::decode(&mut input).map_err(dec)?;
        let debug_message =
            String::from_utf8_lossy(&Vec::<u8>::decode(&mut input).map_err(dec)?).into_owned();
        match input.read_byte().map_err(dec)? {
            0 => {
                let flags = u32::decode(&mut input).map_err(dec)?;
                let output = Vec::<u8>::decode(&mut input).map_err(dec)?;
                let account = if instantiate {
                    Some(AccountId32::decode(&mut input).map_err(dec)?)
                } else {
                    None
                };
                Ok(DryRun {
                    gas_consumed,
                    gas_required,
                    storage_deposit,
                    debug_message,
                    reverted: flags & 1 == 1,
                    output,
                    account,
                })
            }
            _ => {
                let error = match subxt::error::DispatchError::decode_from(input, self.api.metadata()) {
                    Ok(e) => e.to_string(),
                    Err(_) => format!(
                        "undecodable dispatch error 0x{}",
                        flex_types::hex::encode_digits(input)
                    ),
                };
                let debug = if debug_message.is_empty() {
                    String::new()
                } else {
                    format!(" (contract debug output: {debug_message})")
                };
                Err(ChainError::DryRunFailed {
                    what: what.to_string(),
                    error,
                    debug,
                })
            }
        }
    }
}

/// `Contracts::call` with explicit limits.
fn call_tx(
    contract: &AccountId32,
    value: u128,
    data: &[u8],
    gas_limit: Weight,
    storage_deposit_limit: Option<u128>,
) -> subxt::tx::DynamicPayload {
    subxt::dynamic::tx(
        "Contracts",
        "call",
        vec![
            Value::unnamed_variant("Id", [Value::from_bytes(contract.0)]),
            Value::u128(value),
            weight_value(gas_limit),
            option_u128(storage_deposit_limit),
            Value::from_bytes(data),
        ],
    )
}

/// The chain account of a keypair.
pub fn account_of(signer: &Keypair) -> AccountId32 {
    AccountId32(signer.public_key().0)
}

/// The fee an extrinsic's signer paid: `actual_fee + tip` of its
/// `TransactionPayment::TransactionFeePaid { who, actual_fee, tip }` event (0 without one).
fn fee_paid(events: &ExtrinsicEvents<Config>) -> Result<u128, ChainError> {
    let mut fee = 0u128;
    for ev in events.iter() {
        let ev = ev?;
        if ev.pallet_name() == "TransactionPayment" && ev.variant_name() == "TransactionFeePaid" {
            let mut bytes = ev.field_bytes();
            let (_who, actual_fee, tip) =
                <(AccountId32, u128, u128)>::decode(&mut bytes).map_err(|source| ChainError::Decode {
                    what: "TransactionFeePaid event",
                    source,
                })?;
            fee = fee.saturating_add(actual_fee).saturating_add(tip);
        }
    }
    Ok(fee)
}

/// The contract events among a finalized extrinsic's events.
fn contract_events(events: &ExtrinsicEvents<Config>) -> Result<Vec<ContractEvent>, ChainError> {
    let mut out = Vec::new();
    for ev in events.iter() {
        let ev = ev?;
        if ev.pallet_name() == "Contracts" && ev.variant_name() == "ContractEmitted" {
            let mut bytes = ev.field_bytes();
            let (contract, data) =
                <(AccountId32, Vec<u8>)>::decode(&mut bytes).map_err(|source| ChainError::Decode {
                    what: "ContractEmitted event",
                    source,
                })?;
            let topics = ev.topics().iter().map(|t| t.0).collect();
            out.push(ContractEvent {
                contract,
                topics,
                data,
            });
        }
    }
    Ok(out)
}

/// The dry run measures the call in the state it saw; by the time the transaction lands the state
/// may differ (another keeper's vote makes ours the finalising one, which does more work and stores
/// more). Unused weight is refunded and the deposit limit is only a cap, so both get headroom.
const HEADROOM_PERCENT: u64 = 50;

fn with_headroom(v: u64) -> u64 {
    v.saturating_add(v / 100 * HEADROOM_PERCENT)
}

fn gas_limit(dry_run: &DryRun) -> Weight {
    Weight {
        ref_time: with_headroom(dry_run.gas_required.ref_time),
        proof_size: with_headroom(dry_run.gas_required.proof_size),
    }
}

fn deposit_limit(dry_run: &DryRun) -> Option<u128> {
    match dry_run.storage_deposit {
        StorageDeposit::Charge(c) => Some(c.saturating_add(c / 100 * u128::from(HEADROOM_PERCENT))),
        // A refund in the dry run gives no amount to scale: no cap (the signer's balance bounds it).
        StorageDeposit::Refund(_) => None,
    }
}

fn weight_value(w: Weight) -> Value {
    Value::named_composite([
        ("ref_time", Value::u128(u128::from(w.ref_time))),
        ("proof_size", Value::u128(u128::from(w.proof_size))),
    ])
}

fn option_u128(v: Option<u128>) -> Value {
    match v {
        Some(v) => Value::unnamed_variant("Some", [Value::u128(v)]),
        None => Value::unnamed_variant("None", []),
    }
}

/// pallet-contracts' `Code<Hash>` argument.
#[derive(Encode)]
enum CodeArg {
    Upload(Vec<u8>),
    Existing([u8; 32]),
}

/// A runtime API answer kept as raw bytes (we decode its prefix ourselves).
struct RawBytes(Vec<u8>);

impl Decode for RawBytes {
    fn decode<I: Input>(input: &mut I) -> Result<Self, codec::Error> {
        let len = input.remaining_len()?.ok_or("unknown length")?;
        let mut buf = vec![0u8; len];
        input.read(&mut buf)?;
        Ok(RawBytes(buf))
    }
}
