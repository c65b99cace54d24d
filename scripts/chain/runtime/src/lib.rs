//! Flex dev runtime: the smallest FRAME runtime that runs ink! 5 contracts, for local tests only.
//!
//! System, timestamp, balances (u128, as ink!'s default environment expects), sudo, transaction
//! payment, insecure randomness (pallet-contracts wants a source) and pallet-contracts. It has no
//! consensus pallets: chopsticks builds its blocks. It is built straight to Wasm by
//! `scripts/build-runtime.sh`; the `std` build exists only for `cargo check`.

#![cfg_attr(not(feature = "std"), no_std)]
// The runtime macros expand to code that trips these; nothing here is hand-written unsafely.
#![allow(clippy::new_without_default, clippy::too_many_arguments)]

extern crate alloc;

use alloc::vec::Vec;
use pallet_transaction_payment::{FeeDetails, RuntimeDispatchInfo};
use polkadot_sdk::{
    polkadot_sdk_frame::{
        self as frame,
        deps::sp_genesis_builder,
        runtime::{apis, prelude::*},
    },
    *,
};

/// One token = 10^12 base units, like the dev chains ink! tooling expects.
pub const UNIT: Balance = 1_000_000_000_000;
pub type Balance = u128;

/// Storage deposits: small but non-zero, so `claim` and votes show a real deposit figure.
const fn deposit(items: u32, bytes: u32) -> Balance {
    items as Balance * 15 * UNIT / 100 + (bytes as Balance) * 6 * UNIT / 100_000
}

/// Genesis presets: the dev preset endows the well-known dev keys and makes Alice sudo.
pub mod genesis_config_presets {
    use super::*;
    use crate::{BalancesConfig, RuntimeGenesisConfig, SudoConfig};
    use alloc::vec::Vec;
    use alloc::vec;
    use serde_json::Value;

    /// Each dev account starts with one billion tokens.
    pub const ENDOWMENT: Balance = 1_000_000_000 * UNIT;

    /// The whole genesis config, not a patch: a full config is also a valid patch for nodes, and
    /// it lets `scripts/chain/genesis.mjs` hand it straight back to `build_state` without merging
    /// JSON in JavaScript, whose numbers would round u128 balances.
    pub fn development_config_genesis() -> Value {
        let config = RuntimeGenesisConfig {
            balances: BalancesConfig {
                balances: Sr25519Keyring::iter().map(|a| (a.to_account_id(), ENDOWMENT)).collect::<Vec<_>>(),
                ..Default::default()
            },
            sudo: SudoConfig { key: Some(Sr25519Keyring::Alice.to_account_id()) },
            ..Default::default()
        };
        serde_json::to_value(config).unwrap_or(Value::Null)
    }

    pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
        let patch = match id.as_ref() {
            sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
            _ => return None,
        };
        serde_json::to_string(&patch).ok().map(|s| s.into_bytes())
    }

    pub fn preset_names() -> Vec<PresetId> {
        vec![PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET)]
    }
}

#[runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
    spec_name: alloc::borrow::Cow::Borrowed("flex-devnet"),
    impl_name: alloc::borrow::Cow::Borrowed("flex-devnet"),
    authoring_version: 1,
    spec_version: 1,
    impl_version: 1,
    apis: RUNTIME_API_VERSIONS,
    transaction_version: 1,
    system_version: 1,
};

/// The transaction extensions, in the order every Substrate client (subxt included) knows.
type TxExtension = (
    frame_system::CheckNonZeroSender<Runtime>,
    frame_system::CheckSpecVersion<Runtime>,
    frame_system::CheckTxVersion<Runtime>,
    frame_system::CheckGenesis<Runtime>,
    frame_system::CheckEra<Runtime>,
    frame_system::CheckNonce<Runtime>,
    frame_system::CheckWeight<Runtime>,
    pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
);

#[frame_construct_runtime]
mod runtime {
    #[runtime::runtime]
    #[runtime::derive(
        RuntimeCall,
        RuntimeEvent,
        RuntimeError,
        RuntimeOrigin,
        RuntimeFreezeReason,
        RuntimeHoldReason,
        RuntimeSlashReason,
        RuntimeLockId,
        RuntimeTask,
        RuntimeViewFunction
    )]
    pub struct Runtime;

    #[runtime::pallet_index(0)]
    pub type System = frame_system::Pallet<Runtime>;

    #[runtime::pallet_index(1)]
    pub type Timestamp = pallet_timestamp::Pallet<Runtime>;

    #[runtime::pallet_index(2)]
    pub type Balances = pallet_balances::Pallet<Runtime>;

    #[runtime::pallet_index(3)]
    pub type Sudo = pallet_sudo::Pallet<Runtime>;

    #[runtime::pallet_index(4)]
    pub type TransactionPayment = pallet_transaction_payment::Pallet<Runtime>;

    #[runtime::pallet_index(5)]
    pub type RandomnessCollectiveFlip = pallet_insecure_randomness_collective_flip::Pallet<Runtime>;

    #[runtime::pallet_index(6)]
    pub type Contracts = pallet_contracts::Pallet<Runtime>;
}

parameter_types! {
    pub const Version: RuntimeVersion = VERSION;
    pub const DepositPerItem: Balance = deposit(1, 0);
    pub const DepositPerByte: Balance = deposit(0, 1);
    pub const DefaultDepositLimit: Balance = deposit(1024, 1024 * 1024);
    pub Schedule: pallet_contracts::Schedule<Runtime> = Default::default();
    pub const CodeHashLockupDepositPercent: Perbill = Perbill::from_percent(0);
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
    type Block = Block;
    type Version = Version;
    type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Runtime {
    type Balance = Balance;
    type ExistentialDeposit = ConstU128<{ UNIT / 1000 }>;
    type AccountStore = System;
}

#[derive_impl(pallet_sudo::config_preludes::TestDefaultConfig)]
impl pallet_sudo::Config for Runtime {}

#[derive_impl(pallet_timestamp::config_preludes::TestDefaultConfig)]
impl pallet_timestamp::Config for Runtime {}

#[derive_impl(pallet_transaction_payment::config_preludes::TestDefaultConfig)]
impl pallet_transaction_payment::Config for Runtime {
    type OnChargeTransaction = pallet_transaction_payment::FungibleAdapter<Balances, ()>;
    // Fees do not matter on a dev chain; a per-byte fee keeps fee logic exercised.
    type WeightToFee = NoFee<Balance>;
    type LengthToFee = FixedFee<1, Balance>;
}

impl pallet_insecure_randomness_collective_flip::Config for Runtime {}

#[derive_impl(pallet_contracts::config_preludes::TestDefaultConfig)]
impl pallet_contracts::Config for Runtime {
    type Time = Timestamp;
    type Randomness = RandomnessCollectiveFlip;
    type Currency = Balances;
    type CallFilter = frame_support::traits::Nothing;
    type Schedule = Schedule;
    type CallStack = [pallet_contracts::Frame<Self>; 5];
    type DepositPerByte = DepositPerByte;
    type DepositPerItem = DepositPerItem;
    type DefaultDepositLimit = DefaultDepositLimit;
    type CodeHashLockupDepositPercent = CodeHashLockupDepositPercent;
    // ink!'s debug messages are useful while developing contracts on this chain.
    type UnsafeUnstableInterface = ConstBool<true>;
}

type Block = frame::runtime::types_common::BlockOf<Runtime, TxExtension>;
type Header = HeaderFor<Runtime>;
type BlockNumber = frame::runtime::types_common::BlockNumber;
type Hash = <Runtime as frame_system::Config>::Hash;
type AccountId = <Runtime as frame_system::Config>::AccountId;
type Nonce = <Runtime as frame_system::Config>::Nonce;
type EventRecord = frame_system::EventRecord<RuntimeEvent, Hash>;

type RuntimeExecutive =
    Executive<Runtime, Block, frame_system::ChainContext<Runtime>, Runtime, AllPalletsWithSystem>;

/// Dry runs through the runtime API get the whole block's weight, like a real node offers.
const CONTRACTS_DEBUG: pallet_contracts::DebugInfo = pallet_contracts::DebugInfo::UnsafeDebug;
const CONTRACTS_EVENTS: pallet_contracts::CollectEvents = pallet_contracts::CollectEvents::UnsafeCollect;

fn max_weight() -> Weight {
    <<Runtime as frame_system::Config>::BlockWeights as Get<frame_system::limits::BlockWeights>>::get()
        .max_block
}

impl_runtime_apis! {
    impl apis::Core<Block> for Runtime {
        fn version() -> RuntimeVersion {
            VERSION
        }

        fn execute_block(block: <Block as frame::traits::Block>::LazyBlock) {
            RuntimeExecutive::execute_block(block)
        }

        fn initialize_block(header: &Header) -> ExtrinsicInclusionMode {
            RuntimeExecutive::initialize_block(header)
        }
    }

    impl apis::Metadata<Block> for Runtime {
        fn metadata() -> OpaqueMetadata {
            OpaqueMetadata::new(Runtime::metadata().into())
        }

        fn metadata_at_version(version: u32) -> Option<OpaqueMetadata> {
            Runtime::metadata_at_version(version)
        }

        fn metadata_versions() -> Vec<u32> {
            Runtime::metadata_versions()
        }
    }

    impl apis::BlockBuilder<Block> for Runtime {
        fn apply_extrinsic(extrinsic: ExtrinsicFor<Runtime>) -> ApplyExtrinsicResult {
            RuntimeExecutive::apply_extrinsic(extrinsic)
        }

        fn finalize_block() -> HeaderFor<Runtime> {
            RuntimeExecutive::finalize_block()
        }

        fn inherent_extrinsics(data: InherentData) -> Vec<ExtrinsicFor<Runtime>> {
            data.create_extrinsics()
        }

        fn check_inherents(
            block: <Block as frame::traits::Block>::LazyBlock,
            data: InherentData,
        ) -> CheckInherentsResult {
            data.check_extrinsics(&block)
        }
    }

    impl apis::TaggedTransactionQueue<Block> for Runtime {
        fn validate_transaction(
            source: TransactionSource,
            tx: ExtrinsicFor<Runtime>,
            block_hash: <Runtime as frame_system::Config>::Hash,
        ) -> TransactionValidity {
            RuntimeExecutive::validate_transaction(source, tx, block_hash)
        }
    }

    impl apis::OffchainWorkerApi<Block> for Runtime {
        fn offchain_worker(header: &HeaderFor<Runtime>) {
            RuntimeExecutive::offchain_worker(header)
        }
    }

    impl apis::AccountNonceApi<Block, AccountId, Nonce> for Runtime {
        fn account_nonce(account: AccountId) -> Nonce {
            System::account_nonce(account)
        }
    }

    impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentApi<Block, Balance> for Runtime {
        fn query_info(uxt: ExtrinsicFor<Runtime>, len: u32) -> RuntimeDispatchInfo<Balance> {
            TransactionPayment::query_info(uxt, len)
        }
        fn query_fee_details(uxt: ExtrinsicFor<Runtime>, len: u32) -> FeeDetails<Balance> {
            TransactionPayment::query_fee_details(uxt, len)
        }
        fn query_weight_to_fee(weight: Weight) -> Balance {
            TransactionPayment::weight_to_fee(weight)
        }
        fn query_length_to_fee(length: u32) -> Balance {
            TransactionPayment::length_to_fee(length)
        }
    }

    impl pallet_contracts::ContractsApi<Block, AccountId, Balance, BlockNumber, Hash, EventRecord>
        for Runtime
    {
        fn call(
            origin: AccountId,
            dest: AccountId,
            value: Balance,
            gas_limit: Option<Weight>,
            storage_deposit_limit: Option<Balance>,
            input_data: Vec<u8>,
        ) -> pallet_contracts::ContractExecResult<Balance, EventRecord> {
            Contracts::bare_call(
                origin,
                dest,
                value,
                gas_limit.unwrap_or_else(max_weight),
                storage_deposit_limit,
                input_data,
                CONTRACTS_DEBUG,
                CONTRACTS_EVENTS,
                pallet_contracts::Determinism::Enforced,
            )
        }

        fn instantiate(
            origin: AccountId,
            value: Balance,
            gas_limit: Option<Weight>,
            storage_deposit_limit: Option<Balance>,
            code: pallet_contracts::Code<Hash>,
            data: Vec<u8>,
            salt: Vec<u8>,
        ) -> pallet_contracts::ContractInstantiateResult<AccountId, Balance, EventRecord> {
            Contracts::bare_instantiate(
                origin,
                value,
                gas_limit.unwrap_or_else(max_weight),
                storage_deposit_limit,
                code,
                data,
                salt,
                CONTRACTS_DEBUG,
                CONTRACTS_EVENTS,
            )
        }

        fn upload_code(
            origin: AccountId,
            code: Vec<u8>,
            storage_deposit_limit: Option<Balance>,
            determinism: pallet_contracts::Determinism,
        ) -> pallet_contracts::CodeUploadResult<Hash, Balance> {
            Contracts::bare_upload_code(origin, code, storage_deposit_limit, determinism)
        }

        fn get_storage(address: AccountId, key: Vec<u8>) -> pallet_contracts::GetStorageResult {
            Contracts::get_storage(address, key)
        }
    }

    impl apis::GenesisBuilder<Block> for Runtime {
        fn build_state(config: Vec<u8>) -> sp_genesis_builder::Result {
            build_state::<RuntimeGenesisConfig>(config)
        }

        fn get_preset(id: &Option<PresetId>) -> Option<Vec<u8>> {
            get_preset::<RuntimeGenesisConfig>(id, self::genesis_config_presets::get_preset)
        }

        fn preset_names() -> Vec<PresetId> {
            self::genesis_config_presets::preset_names()
        }
    }
}
