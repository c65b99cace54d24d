#![cfg_attr(not(feature = "std"), no_std, no_main)]
//! # Flex reward pool
//!
//! The on-chain part of the Flex epoch rewards (`../shared/SPEC.md` section 7): a pool of the
//! reward token (PSP22) that anyone funds; keepers commit each epoch's scores and pool by a BFT
//! quorum, the contract recomputes the epoch pool itself; keepers then commit each month's claims
//! root; EVM wallets claim their monthly rewards during the following month with an EIP-191
//! signature, the submitter paying a claim cost in the payment token to the treasury; the unclaimed
//! rest is swept to the treasury afterwards.
//!
//! The decisions the spec leaves open are written down in `docs/PROTOCOL.md`, section "Reward pool
//! contract". Pure helpers live in small modules: [`calendar`] (UTC dates), [`pool_math`] (wallet
//! index, halving, epoch pool, claim cost), [`merkle`] (OpenZeppelin leaves and proofs),
//! [`claim_message`] (the signed message and signer recovery) and [`psp22`] (the token calls).

pub mod calendar;
pub mod claim_message;
pub mod merkle;
pub mod pool_math;
pub mod psp22;

pub use psp22::PSP22Error;

#[ink::contract]
mod flex_reward_pool {
    use crate::calendar::{self, SECS_PER_DAY};
    use crate::psp22::{self, CallError, PSP22Error};
    use crate::{claim_message, merkle, pool_math};
    use ink::prelude::vec::Vec;
    use ink::storage::{Lazy, Mapping};

    /// A 32-byte hash (keccak256).
    pub type Hash32 = [u8; 32];
    /// An EVM wallet address.
    pub type EthAddress = [u8; 20];

    /// The most keepers the set may hold (bounds every quorum count).
    pub const MAX_KEEPERS: u32 = 32;
    /// The shortest governance delay the constructor accepts, seconds (2 days): long enough for
    /// keepers, wallets and watchers to see an announced change and react before it binds.
    pub const MIN_GOVERNANCE_DELAY: u64 = 2 * SECS_PER_DAY;
    /// The longest governance delay the constructor accepts, seconds (90 days): a typo must not
    /// freeze the keeper set for years.
    pub const MAX_GOVERNANCE_DELAY: u64 = 90 * SECS_PER_DAY;
    /// How long an announced change stays executable once its delay has passed, seconds
    /// (14 days); after that it can only be cancelled, so a forgotten announcement cannot be
    /// executed by surprise years later.
    pub const GOVERNANCE_GRACE: u64 = 14 * SECS_PER_DAY;
    /// The most governance changes pending at once (bounds `pending_changes`).
    pub const MAX_PENDING_CHANGES: u32 = 16;
    /// The most claims one `claim_batch` takes. A full batch of deep proofs (1,000 bytes an
    /// item) must fit the call buffer (`INK_STATIC_BUFFER_SIZE`, 128 KiB in
    /// `scripts/build-contracts.sh`) and leave most of a block to others (docs/BENCHMARKS.md).
    pub const MAX_CLAIM_BATCH: u32 = 100;

    /// A keeper's commitment for one epoch (SPEC section 7).
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct EpochCommitment {
        pub epoch: u64,
        /// Root of the epoch score tree.
        pub scores_root: Hash32,
        /// Active wallets in the epoch (newly connected ones included).
        pub active_count: u64,
        /// Sum of the epoch weights, raw `U64F64` bits.
        pub total_weight_bits: u128,
        /// `S`, the sum of the epoch's reward multipliers.
        pub multiplier_sum: u128,
        /// `P_e` as the keeper computed it; must equal the contract's own value.
        pub pool: Balance,
        /// The prediction layer's next-epoch forecast, fixed-point bits (stored, not interpreted).
        pub forecast: u128,
    }

    /// A keeper's commitment for one month's claims.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct MonthRoot {
        pub month_index: u32,
        /// Root of the monthly claim tree (OpenZeppelin StandardMerkleTree).
        pub claims_root: Hash32,
        /// Sum of the month's claim amounts: what the month's epochs distributed.
        pub total: Balance,
        /// Price of one reward-token base unit in payment-token base units, times 1e18.
        pub claim_price: u128,
    }

    /// The keepers who voted for one commitment, in voting order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct Proposal<C> {
        pub commitment: C,
        pub voters: Vec<AccountId>,
    }

    pub type EpochProposal = Proposal<EpochCommitment>;
    pub type MonthProposal = Proposal<MonthRoot>;

    /// A finalised epoch.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct EpochInfo {
        pub commitment: EpochCommitment,
        pub commitment_hash: Hash32,
        /// The UTC month of the epoch's start.
        pub month_index: u32,
        /// `Wi` in hundredths.
        pub wallet_index: u8,
        /// `H`.
        pub halving: u64,
        /// `P_t`, the snapshot the pool was computed from.
        pub snapshot: Balance,
        /// `P_e` when `multiplier_sum > 0`, else 0.
        pub distributed: Balance,
        /// Block time of finalisation, milliseconds.
        pub finalized_at: u64,
    }

    /// A finalised month.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct MonthInfo {
        pub root: MonthRoot,
        pub commitment_hash: Hash32,
        /// Sum claimed so far.
        pub claimed: Balance,
        /// Number of claims so far.
        pub claims: u64,
        /// Block time of finalisation, milliseconds.
        pub finalized_at: u64,
    }

    pub use governance::GovernanceAction;

    // A module only so that this `allow` covers the SCALE derive's generated code (see `errors`).
    #[allow(clippy::cast_possible_truncation)]
    mod governance {
        use super::AccountId;

        /// A time-locked change of the keeper set, the threshold or the treasury
        /// (docs/PROTOCOL.md, "Governance").
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[ink::scale_derive(Encode, Decode, TypeInfo)]
        #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
        pub enum GovernanceAction {
            AddKeeper(AccountId),
            RemoveKeeper(AccountId),
            /// The owner's minimum threshold (0: the BFT threshold alone).
            SetMinThreshold(u32),
            SetTreasury(AccountId),
        }
    }

    /// An announced governance change.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct PendingChange {
        pub action: GovernanceAction,
        /// Block time of the announcement, milliseconds.
        pub announced_at: u64,
        /// Executable from this block time on, milliseconds (`announced_at + delay`).
        pub executable_at: u64,
        /// Executable before this block time only, milliseconds (`executable_at + grace`).
        pub expires_at: u64,
    }

    /// One pause: `[start, end)` in block time, milliseconds.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    #[cfg_attr(feature = "std", derive(ink::storage::traits::StorageLayout))]
    pub struct PauseRecord {
        pub start: u64,
        /// `None` while the pause lasts.
        pub end: Option<u64>,
        /// The paused time of all earlier pauses, milliseconds.
        pub paused_before: u64,
    }

    /// What the contract expects for the next epoch, for a given active count.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    pub struct EpochPreview {
        pub epoch: u64,
        pub wallet_index: u8,
        pub halving: u64,
        pub snapshot: Balance,
        pub pool: Balance,
    }

    /// One claim of a `claim_batch`: `claim`'s arguments, in `claim`'s order.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    pub struct ClaimRequest {
        pub month_index: u32,
        pub wallet: EthAddress,
        pub amount: Balance,
        pub proof: Vec<Hash32>,
        pub signature: [u8; 65],
        pub beneficiary: AccountId,
    }

    /// A claim that passed every check: the month's record before and after it, and its cost.
    struct CheckedClaim {
        before: MonthInfo,
        after: MonthInfo,
        cost: Balance,
    }

    #[ink(storage)]
    pub struct RewardPool {
        owner: AccountId,
        pending_owner: Option<AccountId>,
        treasury: AccountId,
        reward_token: AccountId,
        payment_token: AccountId,
        /// Unix seconds, 00:00:00 UTC.
        genesis: u64,
        paused: bool,
        keepers: Lazy<Vec<AccountId>>,
        /// The owner's minimum threshold (0: the BFT threshold alone).
        min_threshold: u32,
        /// Reward tokens deposited and not reserved for an epoch.
        unallocated: Balance,
        /// `P_t` for the next epoch: `unallocated` right after the last finalisation.
        snapshot: Balance,
        next_epoch: u64,
        /// Largest active count of the finalised epochs.
        max_active_count: u64,
        /// `Wi` of the last finalised epoch, hundredths.
        wallet_index: u8,
        epochs: Mapping<u64, EpochInfo>,
        epoch_proposals: Mapping<u64, Vec<Hash32>>,
        epoch_proposal: Mapping<(u64, Hash32), EpochProposal>,
        epoch_vote_of: Mapping<(u64, AccountId), Hash32>,
        /// Sum distributed by the finalised epochs starting in each month.
        month_distributed: Mapping<u32, Balance>,
        months: Mapping<u32, MonthInfo>,
        month_proposals: Mapping<u32, Vec<Hash32>>,
        month_proposal: Mapping<(u32, Hash32), MonthProposal>,
        month_vote_of: Mapping<(u32, AccountId), Hash32>,
        /// One entry per claimed (month, wallet).
        claimed: Mapping<(u32, EthAddress), ()>,
        /// Amount swept per month (presence means swept).
        swept: Mapping<u32, Balance>,
        /// The genesis block hash of the chain the pool was deployed on (claim messages bind it).
        chain: Hash32,
        /// Seconds between a governance announcement and its execution.
        governance_delay: u64,
        next_change_id: u64,
        pending_changes: Mapping<u64, PendingChange>,
        /// Ids of the pending changes, in announcement order.
        pending_ids: Lazy<Vec<u64>>,
        /// Every pause, in order (index `0..pause_count`).
        pauses: Mapping<u32, PauseRecord>,
        pause_count: u32,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct Deposited {
        #[ink(topic)]
        pub from: AccountId,
        pub amount: Balance,
        pub unallocated: Balance,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct KeeperAdded {
        #[ink(topic)]
        pub keeper: AccountId,
        pub keepers: u32,
        pub threshold: u32,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct KeeperRemoved {
        #[ink(topic)]
        pub keeper: AccountId,
        pub keepers: u32,
        pub threshold: u32,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct ThresholdChanged {
        pub min_threshold: u32,
        pub threshold: u32,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct EpochVoted {
        #[ink(topic)]
        pub epoch: u64,
        #[ink(topic)]
        pub keeper: AccountId,
        pub commitment_hash: Hash32,
        pub votes: u32,
        pub threshold: u32,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct EpochFinalized {
        #[ink(topic)]
        pub epoch: u64,
        pub commitment_hash: Hash32,
        pub scores_root: Hash32,
        pub wallet_index: u8,
        pub halving: u64,
        pub pool: Balance,
        pub distributed: Balance,
        /// The new snapshot, `P_t` of the next epoch.
        pub snapshot: Balance,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct MonthVoted {
        #[ink(topic)]
        pub month_index: u32,
        #[ink(topic)]
        pub keeper: AccountId,
        pub commitment_hash: Hash32,
        pub votes: u32,
        pub threshold: u32,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct MonthFinalized {
        #[ink(topic)]
        pub month_index: u32,
        pub commitment_hash: Hash32,
        pub claims_root: Hash32,
        pub total: Balance,
        pub claim_price: u128,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct Claimed {
        #[ink(topic)]
        pub month_index: u32,
        #[ink(topic)]
        pub wallet: EthAddress,
        #[ink(topic)]
        pub beneficiary: AccountId,
        pub amount: Balance,
        /// The submitter, who paid the cost.
        pub payer: AccountId,
        pub cost: Balance,
    }

    /// An item of a `claim_batch` that failed a check and was skipped (nothing changed for it).
    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct ClaimSkipped {
        #[ink(topic)]
        pub month_index: u32,
        #[ink(topic)]
        pub wallet: EthAddress,
        /// The item's position in the batch.
        pub index: u32,
        /// What `claim` would have answered.
        pub reason: Error,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct Swept {
        #[ink(topic)]
        pub month_index: u32,
        pub amount: Balance,
        pub treasury: AccountId,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct Paused {
        pub by: AccountId,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct Unpaused {
        pub by: AccountId,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct OwnershipTransferStarted {
        #[ink(topic)]
        pub previous_owner: AccountId,
        #[ink(topic)]
        pub new_owner: AccountId,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct OwnershipTransferred {
        #[ink(topic)]
        pub previous_owner: Option<AccountId>,
        #[ink(topic)]
        pub new_owner: AccountId,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct TreasuryChanged {
        pub previous: AccountId,
        pub new: AccountId,
    }

    /// A governance change was announced; the owner may execute it in
    /// `[executable_at, expires_at)` (block time, milliseconds) unless it is cancelled first.
    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct GovernanceAnnounced {
        #[ink(topic)]
        pub id: u64,
        pub action: GovernanceAction,
        pub executable_at: u64,
        pub expires_at: u64,
    }

    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct GovernanceCancelled {
        #[ink(topic)]
        pub id: u64,
        pub action: GovernanceAction,
    }

    /// Emitted after the change's own event (`KeeperAdded`, `KeeperRemoved`, `ThresholdChanged`,
    /// `TreasuryChanged`).
    #[ink(event)]
    #[derive(Debug, PartialEq)]
    pub struct GovernanceExecuted {
        #[ink(topic)]
        pub id: u64,
        pub action: GovernanceAction,
    }

    pub use errors::Error;

    // A module only so that this `allow` covers the SCALE derive's generated code:
    // parity-scale-codec-derive 3.7 casts the index of a variant with fields `as u8` without
    // allowing `cast_possible_truncation`, which ink!'s build denies (indexes are literals < 256).
    #[allow(clippy::cast_possible_truncation)]
    mod errors {
        use super::{Balance, PSP22Error};

        /// Every way a message can fail.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[ink::scale_derive(Encode, Decode, TypeInfo)]
        pub enum Error {
            /// The caller is not the owner.
            NotOwner,
            /// The caller is not the pending owner.
            NotPendingOwner,
            /// The caller is not a current keeper.
            NotKeeper,
            /// The contract is paused.
            Paused,
            /// `unpause` while not paused.
            NotPaused,
            /// Genesis is not 00:00:00 UTC.
            InvalidGenesis,
            KeeperAlreadyRegistered,
            KeeperNotRegistered,
            /// More than [`MAX_KEEPERS`].
            TooManyKeepers,
            /// A minimum threshold below the BFT threshold `floor(2n/3)+1`.
            ThresholdBelowBft {
                minimum: u32,
            },
            /// The threshold would exceed the number of keepers (or no keeper would be left).
            ThresholdUnreachable,
            ZeroAmount,
            /// An arithmetic result does not fit (never expected with real token supplies).
            Overflow,
            EpochAlreadyFinalized,
            /// Epochs finalise in order; `expected` is the next one.
            EpochOutOfOrder {
                expected: u64,
            },
            /// The epoch has not ended by block time.
            EpochNotEnded,
            /// The commitment's `pool` differs from the contract's `P_e`.
            PoolMismatch {
                expected: Balance,
                submitted: Balance,
            },
            /// The keeper already voted for this epoch or month.
            AlreadyVoted,
            QuorumNotReached,
            /// The month ends on or before genesis: it has no epoch.
            MonthBeforeGenesis,
            /// Not every epoch of the month is finalised.
            MonthNotComplete,
            MonthAlreadyFinalized,
            /// The month root's `total` differs from what the month's epochs distributed.
            MonthTotalMismatch {
                expected: Balance,
                submitted: Balance,
            },
            MonthNotFinalized,
            ClaimWindowNotOpen,
            ClaimWindowClosed,
            AlreadyClaimed,
            InvalidProof,
            /// A malformed signature (`v`, `r`, `s` out of range, high `s`) or no recoverable key.
            InvalidSignature,
            /// The signature is valid but not by the leaf's wallet over this claim's message.
            SignerMismatch,
            /// The claim would pay out more than the month's total.
            ClaimExceedsMonthTotal,
            /// The claim cost does not fit in `u128`.
            CostOverflow,
            /// The month's claim window has not ended.
            SweepTooEarly,
            AlreadySwept,
            /// The payment token refused the claim cost (e.g. insufficient allowance or balance).
            PaymentFailed(PSP22Error),
            /// The reward token refused a transfer.
            TokenTransferFailed(PSP22Error),
            /// A token call failed outright (trapped, not a contract, unknown selector).
            TokenCallFailed,
            /// The constructor's governance delay (seconds) is outside
            /// `[MIN_GOVERNANCE_DELAY, MAX_GOVERNANCE_DELAY]`.
            GovernanceDelayOutOfRange {
                minimum: u64,
                maximum: u64,
            },
            /// No pending governance change has this id (never announced, executed or cancelled).
            UnknownChange,
            /// The change's delay has not passed; `executable_at` in block time, milliseconds.
            ChangeNotReady {
                executable_at: u64,
            },
            /// The change was not executed within the grace period; it can only be cancelled.
            ChangeExpired,
            /// [`MAX_PENDING_CHANGES`] changes are pending already.
            TooManyPendingChanges,
            /// The pool's own account as treasury: tokens sent there could never move again.
            InvalidTreasury,
            /// The pool's own account as beneficiary: the claim would be booked as paid while
            /// the tokens stay in the pool, stranded.
            InvalidBeneficiary,
            /// `claim_batch` without a claim.
            EmptyBatch,
            /// `claim_batch` with more than `maximum` ([`MAX_CLAIM_BATCH`]) claims.
            BatchTooLarge {
                maximum: u32,
            },
        }
    }

    pub type Result<T> = core::result::Result<T, Error>;

    /// The BFT threshold `floor(2n/3) + 1`.
    pub fn bft_threshold(keepers: u32) -> u32 {
        (keepers.saturating_mul(2) / 3).saturating_add(1)
    }

    fn commitment_hash<T: scale::Encode>(commitment: &T) -> Hash32 {
        merkle::keccak256(&scale::Encode::encode(commitment))
    }

    fn payment_error(e: CallError) -> Error {
        match e {
            CallError::Token(e) => Error::PaymentFailed(e),
            CallError::Call => Error::TokenCallFailed,
        }
    }

    fn transfer_error(e: CallError) -> Error {
        match e {
            CallError::Token(e) => Error::TokenTransferFailed(e),
            CallError::Call => Error::TokenCallFailed,
        }
    }

    /// A length as `u32` (keeper lists hold at most [`MAX_KEEPERS`]).
    fn len_u32(len: usize) -> u32 {
        u32::try_from(len).unwrap_or(u32::MAX)
    }

    fn count_current(voters: &[AccountId], keepers: &[AccountId]) -> u32 {
        len_u32(voters.iter().filter(|v| keepers.contains(v)).count())
    }

    impl RewardPool {
        /// A pool for `reward_token`, charging claim costs in `payment_token` to `treasury`;
        /// `genesis` (unix seconds) must be 00:00:00 UTC; the caller becomes the owner.
        /// `governance_delay` (seconds, [`MIN_GOVERNANCE_DELAY`] to [`MAX_GOVERNANCE_DELAY`])
        /// separates a governance announcement from its execution, for the pool's lifetime.
        /// `chain` is the genesis block hash of the chain deployed on: claim messages bind it.
        #[ink(constructor)]
        pub fn new(
            reward_token: AccountId,
            payment_token: AccountId,
            treasury: AccountId,
            genesis: u64,
            keepers: Vec<AccountId>,
            governance_delay: u64,
            chain: Hash32,
        ) -> Result<Self> {
            if !genesis.is_multiple_of(SECS_PER_DAY) {
                return Err(Error::InvalidGenesis);
            }
            if !(MIN_GOVERNANCE_DELAY..=MAX_GOVERNANCE_DELAY).contains(&governance_delay) {
                return Err(Error::GovernanceDelayOutOfRange {
                    minimum: MIN_GOVERNANCE_DELAY,
                    maximum: MAX_GOVERNANCE_DELAY,
                });
            }
            if treasury == Self::env().account_id() {
                return Err(Error::InvalidTreasury);
            }
            if keepers.is_empty() {
                return Err(Error::ThresholdUnreachable);
            }
            if keepers.len() > MAX_KEEPERS as usize {
                return Err(Error::TooManyKeepers);
            }
            for (i, k) in keepers.iter().enumerate() {
                if keepers[..i].contains(k) {
                    return Err(Error::KeeperAlreadyRegistered);
                }
            }
            let owner = Self::env().caller();
            let mut keeper_list = Lazy::new();
            keeper_list.set(&keepers);
            Self::env().emit_event(OwnershipTransferred {
                previous_owner: None,
                new_owner: owner,
            });
            for (i, keeper) in keepers.iter().enumerate() {
                let n = len_u32(i.saturating_add(1));
                Self::env().emit_event(KeeperAdded {
                    keeper: *keeper,
                    keepers: n,
                    threshold: bft_threshold(n),
                });
            }
            Ok(Self {
                owner,
                pending_owner: None,
                treasury,
                reward_token,
                payment_token,
                genesis,
                paused: false,
                keepers: keeper_list,
                min_threshold: 0,
                unallocated: 0,
                snapshot: 0,
                next_epoch: 0,
                max_active_count: 0,
                wallet_index: 0,
                epochs: Mapping::new(),
                epoch_proposals: Mapping::new(),
                epoch_proposal: Mapping::new(),
                epoch_vote_of: Mapping::new(),
                month_distributed: Mapping::new(),
                months: Mapping::new(),
                month_proposals: Mapping::new(),
                month_proposal: Mapping::new(),
                month_vote_of: Mapping::new(),
                claimed: Mapping::new(),
                swept: Mapping::new(),
                chain,
                governance_delay,
                next_change_id: 0,
                pending_changes: Mapping::new(),
                pending_ids: Lazy::new(),
                pauses: Mapping::new(),
                pause_count: 0,
            })
        }

        // ---- pool ----------------------------------------------------------------------

        /// Pulls `amount` reward tokens from the caller (who must have approved this contract)
        /// into the unallocated balance. Counts from the next snapshot on. Allowed while paused.
        #[ink(message)]
        pub fn deposit(&mut self, amount: Balance) -> Result<()> {
            if amount == 0 {
                return Err(Error::ZeroAmount);
            }
            let unallocated = self.unallocated.checked_add(amount).ok_or(Error::Overflow)?;
            let from = self.env().caller();
            psp22::transfer_from(self.reward_token, from, self.env().account_id(), amount)
                .map_err(transfer_error)?;
            self.unallocated = unallocated;
            self.env().emit_event(Deposited {
                from,
                amount,
                unallocated,
            });
            Ok(())
        }

        // ---- epochs --------------------------------------------------------------------

        /// A keeper's vote for the next epoch's commitment. Returns whether this vote finalised
        /// the epoch.
        #[ink(message)]
        pub fn submit_epoch(&mut self, commitment: EpochCommitment) -> Result<bool> {
            self.ensure_not_paused()?;
            let keeper = self.env().caller();
            let keepers = self.keepers.get_or_default();
            if !keepers.contains(&keeper) {
                return Err(Error::NotKeeper);
            }
            let epoch = commitment.epoch;
            self.ensure_next_epoch(epoch)?;
            let ended = self
                .epoch_end_ms(epoch)
                .is_some_and(|end| self.env().block_timestamp() >= end);
            if !ended {
                return Err(Error::EpochNotEnded);
            }
            let expected = self.preview(epoch, commitment.active_count).pool;
            if commitment.pool != expected {
                return Err(Error::PoolMismatch {
                    expected,
                    submitted: commitment.pool,
                });
            }
            if self.epoch_vote_of.contains((epoch, keeper)) {
                return Err(Error::AlreadyVoted);
            }
            let hash = commitment_hash(&commitment);
            let mut proposal = match self.epoch_proposal.get((epoch, hash)) {
                Some(p) => p,
                None => {
                    let mut hashes = self.epoch_proposals.get(epoch).unwrap_or_default();
                    hashes.push(hash);
                    self.epoch_proposals.insert(epoch, &hashes);
                    Proposal {
                        commitment,
                        voters: Vec::new(),
                    }
                }
            };
            proposal.voters.push(keeper);
            self.epoch_vote_of.insert((epoch, keeper), &hash);
            self.epoch_proposal.insert((epoch, hash), &proposal);
            let votes = count_current(&proposal.voters, &keepers);
            let threshold = self.threshold_of(len_u32(keepers.len()));
            self.env().emit_event(EpochVoted {
                epoch,
                keeper,
                commitment_hash: hash,
                votes,
                threshold,
            });
            if votes < threshold {
                return Ok(false);
            }
            self.finalize_epoch_with(hash, proposal.commitment)?;
            Ok(true)
        }

        /// Re-checks the quorum of the next epoch's commitments against the current keeper set
        /// and threshold (after a keeper removal) and finalises the one that reaches it. Anyone
        /// may call it.
        #[ink(message)]
        pub fn finalize_epoch(&mut self, epoch: u64) -> Result<()> {
            self.ensure_not_paused()?;
            self.ensure_next_epoch(epoch)?;
            let keepers = self.keepers.get_or_default();
            let threshold = self.threshold_of(len_u32(keepers.len()));
            for hash in self.epoch_proposals.get(epoch).unwrap_or_default() {
                if let Some(p) = self.epoch_proposal.get((epoch, hash)) {
                    if count_current(&p.voters, &keepers) >= threshold {
                        return self.finalize_epoch_with(hash, p.commitment);
                    }
                }
            }
            Err(Error::QuorumNotReached)
        }

        // ---- months --------------------------------------------------------------------

        /// A keeper's vote for a month's claims root. Returns whether this vote finalised it.
        #[ink(message)]
        pub fn submit_month(&mut self, root: MonthRoot) -> Result<bool> {
            self.ensure_not_paused()?;
            let keeper = self.env().caller();
            let keepers = self.keepers.get_or_default();
            if !keepers.contains(&keeper) {
                return Err(Error::NotKeeper);
            }
            let month = root.month_index;
            self.ensure_month_votable(month)?;
            let expected = self.month_distributed.get(month).unwrap_or(0);
            if root.total != expected {
                return Err(Error::MonthTotalMismatch {
                    expected,
                    submitted: root.total,
                });
            }
            if self.month_vote_of.contains((month, keeper)) {
                return Err(Error::AlreadyVoted);
            }
            let hash = commitment_hash(&root);
            let mut proposal = match self.month_proposal.get((month, hash)) {
                Some(p) => p,
                None => {
                    let mut hashes = self.month_proposals.get(month).unwrap_or_default();
                    hashes.push(hash);
                    self.month_proposals.insert(month, &hashes);
                    Proposal {
                        commitment: root,
                        voters: Vec::new(),
                    }
                }
            };
            proposal.voters.push(keeper);
            self.month_vote_of.insert((month, keeper), &hash);
            self.month_proposal.insert((month, hash), &proposal);
            let votes = count_current(&proposal.voters, &keepers);
            let threshold = self.threshold_of(len_u32(keepers.len()));
            self.env().emit_event(MonthVoted {
                month_index: month,
                keeper,
                commitment_hash: hash,
                votes,
                threshold,
            });
            if votes < threshold {
                return Ok(false);
            }
            self.finalize_month_with(hash, proposal.commitment);
            Ok(true)
        }

        /// Like [`Self::finalize_epoch`], for a month root. Anyone may call it.
        #[ink(message)]
        pub fn finalize_month(&mut self, month_index: u32) -> Result<()> {
            self.ensure_not_paused()?;
            self.ensure_month_votable(month_index)?;
            let keepers = self.keepers.get_or_default();
            let threshold = self.threshold_of(len_u32(keepers.len()));
            for hash in self.month_proposals.get(month_index).unwrap_or_default() {
                if let Some(p) = self.month_proposal.get((month_index, hash)) {
                    if count_current(&p.voters, &keepers) >= threshold {
                        self.finalize_month_with(hash, p.commitment);
                        return Ok(());
                    }
                }
            }
            Err(Error::QuorumNotReached)
        }

        // ---- claims --------------------------------------------------------------------

        /// Claims `amount` of month `month_index` for EVM `wallet`, paying out to `beneficiary`.
        /// `proof` is the OpenZeppelin proof of the leaf `(month_index, wallet, amount)`;
        /// `signature` is the wallet's `personal_sign` over the claim message
        /// (`claim_message`). The caller pays the claim cost to the treasury in the payment
        /// token (approve this contract first).
        #[ink(message)]
        pub fn claim(
            &mut self,
            month_index: u32,
            wallet: EthAddress,
            amount: Balance,
            proof: Vec<Hash32>,
            signature: [u8; 65],
            beneficiary: AccountId,
        ) -> Result<()> {
            self.ensure_not_paused()?;
            let checked = self.check_claim(month_index, wallet, amount, &proof, &signature, beneficiary)?;
            let payer = self.env().caller();
            // The claim is recorded before the token calls (checks, effects, interactions):
            // whatever a token does during its call, it sees this claim as made. The calls
            // deny re-entry, and on chain an `Err` reverts everything; the explicit undo keeps
            // "a failed claim changes nothing" true without relying on that revert.
            self.record_claim(month_index, wallet, &checked.after);
            let paid = if checked.cost > 0 {
                psp22::transfer_from(self.payment_token, payer, self.treasury, checked.cost)
                    .map_err(payment_error)
            } else {
                Ok(())
            };
            if let Err(e) = paid.and_then(|()| {
                psp22::transfer(self.reward_token, beneficiary, amount).map_err(transfer_error)
            }) {
                self.undo_claim(month_index, wallet, &checked.before);
                return Err(e);
            }
            self.env().emit_event(Claimed {
                month_index,
                wallet,
                beneficiary,
                amount,
                payer,
                cost: checked.cost,
            });
            Ok(())
        }

        /// Many claims in one call, each with `claim`'s arguments and checked exactly as `claim`
        /// checks it (the same internals). An item that fails a check is skipped: it changes
        /// nothing, its error is its entry in the result and a `ClaimSkipped` event records it;
        /// the other items are paid (a `Claimed` event each). The same leaf twice in one batch
        /// pays once (`AlreadyClaimed` for the second). The caller pays the sum of the paid
        /// items' costs in one payment-token transfer. The whole batch fails, changing nothing,
        /// when paused, empty (`EmptyBatch`), longer than [`MAX_CLAIM_BATCH`]
        /// (`BatchTooLarge`), or when a token call fails (`PaymentFailed`,
        /// `TokenTransferFailed`, `TokenCallFailed`: not one item's fault, and reverting is the
        /// only way no item is left half paid). docs/PROTOCOL.md, "Batch claims".
        #[ink(message)]
        pub fn claim_batch(&mut self, claims: Vec<ClaimRequest>) -> Result<Vec<Result<()>>> {
            self.ensure_not_paused()?;
            if claims.is_empty() {
                return Err(Error::EmptyBatch);
            }
            if claims.len() > MAX_CLAIM_BATCH as usize {
                return Err(Error::BatchTooLarge {
                    maximum: MAX_CLAIM_BATCH,
                });
            }
            let payer = self.env().caller();
            let mut results = Vec::with_capacity(claims.len());
            // (item, its cost, the month's record before it), in order.
            let mut accepted: Vec<(usize, Balance, MonthInfo)> = Vec::with_capacity(claims.len());
            let mut total_cost: Balance = 0;
            for (i, c) in claims.iter().enumerate() {
                let checked = self
                    .check_claim(
                        c.month_index,
                        c.wallet,
                        c.amount,
                        &c.proof,
                        &c.signature,
                        c.beneficiary,
                    )
                    .and_then(|checked| {
                        let total = total_cost.checked_add(checked.cost).ok_or(Error::CostOverflow)?;
                        Ok((checked, total))
                    });
                match checked {
                    Ok((checked, total)) => {
                        // Recorded at once, so a later item of the same leaf (or beyond the
                        // month's total) is checked against it.
                        self.record_claim(c.month_index, c.wallet, &checked.after);
                        total_cost = total;
                        accepted.push((i, checked.cost, checked.before));
                        results.push(Ok(()));
                    }
                    Err(e) => results.push(Err(e)),
                }
            }
            let paid = if total_cost > 0 {
                psp22::transfer_from(self.payment_token, payer, self.treasury, total_cost)
                    .map_err(payment_error)
            } else {
                Ok(())
            };
            let paid = paid.and_then(|()| {
                accepted.iter().try_for_each(|(i, _, _)| {
                    let c = &claims[*i];
                    psp22::transfer(self.reward_token, c.beneficiary, c.amount).map_err(transfer_error)
                })
            });
            if let Err(e) = paid {
                // Newest first, so a month claimed twice ends at its record before the batch.
                for (i, _, before) in accepted.iter().rev() {
                    self.undo_claim(claims[*i].month_index, claims[*i].wallet, before);
                }
                return Err(e);
            }
            let mut accepted = accepted.iter().peekable();
            for (i, (c, result)) in claims.iter().zip(&results).enumerate() {
                match result {
                    Ok(()) => {
                        let cost = accepted.next().map_or(0, |a| a.1);
                        self.env().emit_event(Claimed {
                            month_index: c.month_index,
                            wallet: c.wallet,
                            beneficiary: c.beneficiary,
                            amount: c.amount,
                            payer,
                            cost,
                        });
                    }
                    Err(reason) => self.env().emit_event(ClaimSkipped {
                        month_index: c.month_index,
                        wallet: c.wallet,
                        index: len_u32(i),
                        reason: reason.clone(),
                    }),
                }
            }
            Ok(results)
        }

        /// After month `month_index`'s claim window has ended, moves its unclaimed rest to the
        /// treasury, once; anyone may call it. A month whose root was never finalised sweeps
        /// everything its epochs distributed. Returns the amount swept.
        #[ink(message)]
        pub fn sweep(&mut self, month_index: u32) -> Result<Balance> {
            self.ensure_not_paused()?;
            let (_, end) = self.month_epochs_checked(month_index)?;
            let (_, close) = self.claim_window_ms(month_index)?;
            if self.env().block_timestamp() < close {
                return Err(Error::SweepTooEarly);
            }
            if self.swept.contains(month_index) {
                return Err(Error::AlreadySwept);
            }
            if self.next_epoch < end {
                return Err(Error::MonthNotComplete);
            }
            let amount = match self.months.get(month_index) {
                Some(info) => info.root.total.saturating_sub(info.claimed),
                None => self.month_distributed.get(month_index).unwrap_or(0),
            };
            // Recorded before the transfer (see `claim`), undone if it fails.
            self.swept.insert(month_index, &amount);
            if amount > 0 {
                if let Err(e) = psp22::transfer(self.reward_token, self.treasury, amount) {
                    self.swept.remove(month_index);
                    return Err(transfer_error(e));
                }
            }
            self.env().emit_event(Swept {
                month_index,
                amount,
                treasury: self.treasury,
            });
            Ok(amount)
        }

        // ---- admin ---------------------------------------------------------------------

        /// Announces a governance change (owner only): it can be executed by the owner from
        /// `governance_delay` after now, for [`GOVERNANCE_GRACE`], unless cancelled. The change
        /// must be valid now (and is checked again on execution). Several changes may be
        /// pending at once, each with its own delay. Returns the change's id.
        #[ink(message)]
        pub fn announce(&mut self, action: GovernanceAction) -> Result<u64> {
            self.ensure_owner()?;
            self.check_action(&action)?;
            let mut ids = self.pending_ids.get_or_default();
            if ids.len() >= MAX_PENDING_CHANGES as usize {
                return Err(Error::TooManyPendingChanges);
            }
            let now = self.env().block_timestamp();
            let executable_at = now.saturating_add(self.governance_delay.saturating_mul(1000));
            let expires_at = executable_at.saturating_add(GOVERNANCE_GRACE * 1000);
            let id = self.next_change_id;
            self.next_change_id = id.saturating_add(1);
            ids.push(id);
            self.pending_ids.set(&ids);
            self.pending_changes.insert(
                id,
                &PendingChange {
                    action: action.clone(),
                    announced_at: now,
                    executable_at,
                    expires_at,
                },
            );
            self.env().emit_event(GovernanceAnnounced {
                id,
                action,
                executable_at,
                expires_at,
            });
            Ok(id)
        }

        /// Cancels a pending change (owner only), expired or not.
        #[ink(message)]
        pub fn cancel(&mut self, id: u64) -> Result<()> {
            self.ensure_owner()?;
            let change = self.take_pending(id)?;
            self.env().emit_event(GovernanceCancelled {
                id,
                action: change.action,
            });
            Ok(())
        }

        /// Executes a pending change once its delay has passed and before it expires (owner
        /// only). The change is checked against the state of now: e.g. removing a keeper is
        /// refused when the threshold would exceed the keepers left.
        #[ink(message)]
        pub fn execute(&mut self, id: u64) -> Result<()> {
            self.ensure_owner()?;
            let change = self.pending_changes.get(id).ok_or(Error::UnknownChange)?;
            let now = self.env().block_timestamp();
            if now < change.executable_at {
                return Err(Error::ChangeNotReady {
                    executable_at: change.executable_at,
                });
            }
            if now >= change.expires_at {
                return Err(Error::ChangeExpired);
            }
            self.check_action(&change.action)?;
            self.take_pending(id)?;
            self.apply(&change.action);
            self.env().emit_event(GovernanceExecuted {
                id,
                action: change.action,
            });
            Ok(())
        }

        /// Stops votes, finalisations, claims and sweeps (owner only). Deposits stay open.
        #[ink(message)]
        pub fn pause(&mut self) -> Result<()> {
            self.ensure_owner()?;
            self.ensure_not_paused()?;
            let paused_before = match self.pause_count.checked_sub(1).and_then(|i| self.pauses.get(i)) {
                Some(last) => last
                    .paused_before
                    .saturating_add(last.end.unwrap_or(last.start).saturating_sub(last.start)),
                None => 0,
            };
            self.pauses.insert(
                self.pause_count,
                &PauseRecord {
                    start: self.env().block_timestamp(),
                    end: None,
                    paused_before,
                },
            );
            self.pause_count = self.pause_count.saturating_add(1);
            self.paused = true;
            self.env().emit_event(Paused {
                by: self.env().caller(),
            });
            Ok(())
        }

        #[ink(message)]
        pub fn unpause(&mut self) -> Result<()> {
            self.ensure_owner()?;
            if !self.paused {
                return Err(Error::NotPaused);
            }
            if let Some(i) = self.pause_count.checked_sub(1) {
                if let Some(mut last) = self.pauses.get(i) {
                    last.end = Some(self.env().block_timestamp().max(last.start));
                    self.pauses.insert(i, &last);
                }
            }
            self.paused = false;
            self.env().emit_event(Unpaused {
                by: self.env().caller(),
            });
            Ok(())
        }

        /// Starts a two-step ownership transfer (owner only); `new_owner` must accept. A later
        /// call replaces the pending owner.
        #[ink(message)]
        pub fn transfer_ownership(&mut self, new_owner: AccountId) -> Result<()> {
            self.ensure_owner()?;
            self.pending_owner = Some(new_owner);
            self.env().emit_event(OwnershipTransferStarted {
                previous_owner: self.owner,
                new_owner,
            });
            Ok(())
        }

        /// Completes the ownership transfer (pending owner only).
        #[ink(message)]
        pub fn accept_ownership(&mut self) -> Result<()> {
            let caller = self.env().caller();
            if self.pending_owner != Some(caller) {
                return Err(Error::NotPendingOwner);
            }
            let previous = self.owner;
            self.owner = caller;
            self.pending_owner = None;
            self.env().emit_event(OwnershipTransferred {
                previous_owner: Some(previous),
                new_owner: caller,
            });
            Ok(())
        }

        // ---- getters -------------------------------------------------------------------

        #[ink(message)]
        pub fn owner(&self) -> AccountId {
            self.owner
        }

        #[ink(message)]
        pub fn pending_owner(&self) -> Option<AccountId> {
            self.pending_owner
        }

        #[ink(message)]
        pub fn treasury(&self) -> AccountId {
            self.treasury
        }

        #[ink(message)]
        pub fn reward_token(&self) -> AccountId {
            self.reward_token
        }

        #[ink(message)]
        pub fn payment_token(&self) -> AccountId {
            self.payment_token
        }

        /// Genesis, unix seconds.
        #[ink(message)]
        pub fn genesis(&self) -> u64 {
            self.genesis
        }

        #[ink(message)]
        pub fn is_paused(&self) -> bool {
            self.paused
        }

        /// The pauses so far, oldest first (the last one without `end` while paused).
        #[ink(message)]
        pub fn pauses(&self) -> Vec<PauseRecord> {
            (0..self.pause_count).filter_map(|i| self.pauses.get(i)).collect()
        }

        /// The genesis block hash of the chain the pool was deployed for (bound by claims).
        #[ink(message)]
        pub fn chain_genesis_hash(&self) -> Hash32 {
            self.chain
        }

        /// Seconds between a governance announcement and its execution.
        #[ink(message)]
        pub fn governance_delay(&self) -> u64 {
            self.governance_delay
        }

        #[ink(message)]
        pub fn pending_change(&self, id: u64) -> Option<PendingChange> {
            self.pending_changes.get(id)
        }

        /// Every pending (announced, neither executed nor cancelled) change, in announcement
        /// order, expired ones included: what keepers and watchers check.
        #[ink(message)]
        pub fn pending_changes(&self) -> Vec<(u64, PendingChange)> {
            self.pending_ids
                .get_or_default()
                .into_iter()
                .filter_map(|id| self.pending_changes.get(id).map(|c| (id, c)))
                .collect()
        }

        #[ink(message)]
        pub fn keepers(&self) -> Vec<AccountId> {
            self.keepers.get_or_default()
        }

        #[ink(message)]
        pub fn is_keeper(&self, account: AccountId) -> bool {
            self.keepers.get_or_default().contains(&account)
        }

        /// The effective threshold `max(floor(2n/3)+1, min_threshold)`.
        #[ink(message)]
        pub fn threshold(&self) -> u32 {
            self.threshold_of(len_u32(self.keepers.get_or_default().len()))
        }

        #[ink(message)]
        pub fn min_threshold(&self) -> u32 {
            self.min_threshold
        }

        #[ink(message)]
        pub fn unallocated(&self) -> Balance {
            self.unallocated
        }

        /// `P_t` of the next epoch.
        #[ink(message)]
        pub fn snapshot(&self) -> Balance {
            self.snapshot
        }

        /// The next epoch to finalise.
        #[ink(message)]
        pub fn next_epoch(&self) -> u64 {
            self.next_epoch
        }

        /// `Wi` (hundredths) of the last finalised epoch.
        #[ink(message)]
        pub fn wallet_index(&self) -> u8 {
            self.wallet_index
        }

        #[ink(message)]
        pub fn max_active_count(&self) -> u64 {
            self.max_active_count
        }

        /// The wallet index, halving and `P_e` the contract expects for the next epoch with
        /// `active_count` active wallets.
        #[ink(message)]
        pub fn expected_epoch(&self, active_count: u64) -> EpochPreview {
            self.preview(self.next_epoch, active_count)
        }

        #[ink(message)]
        pub fn epoch(&self, epoch: u64) -> Option<EpochInfo> {
            self.epochs.get(epoch)
        }

        /// The commitments voted for `epoch` with their voters (current or not).
        #[ink(message)]
        pub fn epoch_votes(&self, epoch: u64) -> Vec<(Hash32, EpochProposal)> {
            let hashes = self.epoch_proposals.get(epoch).unwrap_or_default();
            hashes
                .into_iter()
                .filter_map(|h| self.epoch_proposal.get((epoch, h)).map(|p| (h, p)))
                .collect()
        }

        /// The commitment hash `keeper` voted for in `epoch`.
        #[ink(message)]
        pub fn epoch_vote_of(&self, epoch: u64, keeper: AccountId) -> Option<Hash32> {
            self.epoch_vote_of.get((epoch, keeper))
        }

        #[ink(message)]
        pub fn month(&self, month_index: u32) -> Option<MonthInfo> {
            self.months.get(month_index)
        }

        #[ink(message)]
        pub fn month_votes(&self, month_index: u32) -> Vec<(Hash32, MonthProposal)> {
            let hashes = self.month_proposals.get(month_index).unwrap_or_default();
            hashes
                .into_iter()
                .filter_map(|h| self.month_proposal.get((month_index, h)).map(|p| (h, p)))
                .collect()
        }

        #[ink(message)]
        pub fn month_vote_of(&self, month_index: u32, keeper: AccountId) -> Option<Hash32> {
            self.month_vote_of.get((month_index, keeper))
        }

        /// What the finalised epochs of the month distributed (a month root's `total`).
        #[ink(message)]
        pub fn month_distributed(&self, month_index: u32) -> Balance {
            self.month_distributed.get(month_index).unwrap_or(0)
        }

        /// The epochs `[first, end)` whose start falls in the month.
        #[ink(message)]
        pub fn month_epochs(&self, month_index: u32) -> Option<(u64, u64)> {
            self.month_epochs_checked(month_index).ok()
        }

        /// The claim window `[open, close)` of the month, unix seconds.
        #[ink(message)]
        pub fn claim_window(&self, month_index: u32) -> Option<(u64, u64)> {
            self.claim_window_ms(month_index)
                .ok()
                .map(|(o, c)| (o / 1000, c / 1000))
        }

        /// The amount swept for the month, if it was swept.
        #[ink(message)]
        pub fn swept(&self, month_index: u32) -> Option<Balance> {
            self.swept.get(month_index)
        }

        #[ink(message)]
        pub fn is_claimed(&self, month_index: u32, wallet: EthAddress) -> bool {
            self.claimed.contains((month_index, wallet))
        }

        /// The exact message the wallet signs for this claim on this contract.
        #[ink(message)]
        pub fn claim_message(
            &self,
            month_index: u32,
            wallet: EthAddress,
            amount: Balance,
            beneficiary: AccountId,
        ) -> Vec<u8> {
            claim_message::claim_message(
                &self.chain,
                self.env().account_id().as_ref(),
                month_index,
                &wallet,
                amount,
                beneficiary.as_ref(),
            )
        }

        /// The cost of claiming `amount` in a finalised month, in payment-token base units.
        #[ink(message)]
        pub fn claim_cost(&self, month_index: u32, amount: Balance) -> Result<Balance> {
            let info = self.months.get(month_index).ok_or(Error::MonthNotFinalized)?;
            pool_math::claim_cost(amount, info.root.claim_price).ok_or(Error::CostOverflow)
        }

        /// keccak256 of the SCALE encoding: the hash votes are counted under.
        #[ink(message)]
        pub fn epoch_commitment_hash(&self, commitment: EpochCommitment) -> Hash32 {
            commitment_hash(&commitment)
        }

        #[ink(message)]
        pub fn month_root_hash(&self, root: MonthRoot) -> Hash32 {
            commitment_hash(&root)
        }

        // ---- internals -----------------------------------------------------------------

        fn ensure_owner(&self) -> Result<()> {
            if self.env().caller() != self.owner {
                return Err(Error::NotOwner);
            }
            Ok(())
        }

        fn ensure_not_paused(&self) -> Result<()> {
            if self.paused {
                return Err(Error::Paused);
            }
            Ok(())
        }

        /// Every check of a claim, in `claim`'s order, except the pause (a message's, not an
        /// item's); changes nothing. Shared by `claim` and `claim_batch`, so their checks
        /// cannot drift apart.
        fn check_claim(
            &self,
            month_index: u32,
            wallet: EthAddress,
            amount: Balance,
            proof: &[Hash32],
            signature: &[u8; 65],
            beneficiary: AccountId,
        ) -> Result<CheckedClaim> {
            if beneficiary == self.env().account_id() {
                return Err(Error::InvalidBeneficiary);
            }
            let (open, close) = self.claim_window_ms(month_index)?;
            let now = self.env().block_timestamp();
            if now < open {
                return Err(Error::ClaimWindowNotOpen);
            }
            if now >= close {
                return Err(Error::ClaimWindowClosed);
            }
            let before = self.months.get(month_index).ok_or(Error::MonthNotFinalized)?;
            if amount == 0 {
                return Err(Error::ZeroAmount);
            }
            if self.claimed.contains((month_index, wallet)) {
                return Err(Error::AlreadyClaimed);
            }
            let leaf = merkle::claim_leaf(month_index, &wallet, amount);
            if !merkle::verify(proof, &before.root.claims_root, leaf) {
                return Err(Error::InvalidProof);
            }
            let message = self.claim_message(month_index, wallet, amount, beneficiary);
            let signer = claim_message::recover_signer(&message, signature).ok_or(Error::InvalidSignature)?;
            if signer != wallet {
                return Err(Error::SignerMismatch);
            }
            let claimed = before
                .claimed
                .checked_add(amount)
                .ok_or(Error::ClaimExceedsMonthTotal)?;
            if claimed > before.root.total {
                return Err(Error::ClaimExceedsMonthTotal);
            }
            let cost = pool_math::claim_cost(amount, before.root.claim_price).ok_or(Error::CostOverflow)?;
            let mut after = before.clone();
            after.claimed = claimed;
            after.claims = after.claims.saturating_add(1);
            Ok(CheckedClaim { before, after, cost })
        }

        /// Books a checked claim: its flag and the month's record after it.
        fn record_claim(&mut self, month_index: u32, wallet: EthAddress, after: &MonthInfo) {
            self.claimed.insert((month_index, wallet), &());
            self.months.insert(month_index, after);
        }

        /// Takes a booked claim back (a token call failed).
        fn undo_claim(&mut self, month_index: u32, wallet: EthAddress, before: &MonthInfo) {
            self.claimed.remove((month_index, wallet));
            self.months.insert(month_index, before);
        }

        fn threshold_of(&self, keepers: u32) -> u32 {
            bft_threshold(keepers).max(self.min_threshold)
        }

        fn ensure_next_epoch(&self, epoch: u64) -> Result<()> {
            if epoch < self.next_epoch {
                return Err(Error::EpochAlreadyFinalized);
            }
            if epoch > self.next_epoch {
                return Err(Error::EpochOutOfOrder {
                    expected: self.next_epoch,
                });
            }
            Ok(())
        }

        /// End of epoch `epoch` in milliseconds, `None` beyond `u64`.
        fn epoch_end_ms(&self, epoch: u64) -> Option<u64> {
            epoch
                .checked_add(1)?
                .checked_mul(SECS_PER_DAY)?
                .checked_add(self.genesis)?
                .checked_mul(1000)
        }

        fn month_epochs_checked(&self, month_index: u32) -> Result<(u64, u64)> {
            calendar::month_epochs(self.genesis / SECS_PER_DAY, month_index).ok_or(Error::MonthBeforeGenesis)
        }

        /// Claim window of month `m`, milliseconds: opens at the start of `m+1` and closes once
        /// it has been open, unpaused, for as long as month `m+1` lasts (docs/PROTOCOL.md,
        /// "Pauses and claim windows"). A pause still running counts as ending now.
        fn claim_window_ms(&self, month_index: u32) -> Result<(u64, u64)> {
            let start_ms = |offset: u32| {
                month_index
                    .checked_add(offset)
                    .and_then(calendar::month_start_secs)
                    .and_then(|s| s.checked_mul(1000))
            };
            let (open, next) = match (start_ms(1), start_ms(2)) {
                (Some(open), Some(next)) => (open, next),
                _ => return Err(Error::MonthBeforeGenesis),
            };
            let target = self
                .unpaused_clock(open)
                .saturating_add(next.saturating_sub(open));
            Ok((open, self.unpaused_clock_reaches(target)))
        }

        /// The end of pause `p`; a pause still running ends now.
        fn pause_end(&self, p: &PauseRecord) -> u64 {
            p.end.unwrap_or_else(|| self.env().block_timestamp()).max(p.start)
        }

        /// The number of pauses `i` (a prefix: `key` is non-decreasing in `i`) for which
        /// `below(key(pause i))` holds, by binary search over the stored pauses.
        fn pauses_where(&self, below: impl Fn(&PauseRecord) -> bool) -> u32 {
            let (mut lo, mut hi) = (0u32, self.pause_count);
            while lo < hi {
                let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
                match self.pauses.get(mid) {
                    Some(p) if below(&p) => lo = mid.saturating_add(1),
                    _ => hi = mid,
                }
            }
            lo
        }

        /// `U(t)`: block time `t` (ms) less the paused time before `t`. Non-decreasing;
        /// constant during a pause.
        fn unpaused_clock(&self, t: u64) -> u64 {
            let n = self.pauses_where(|p| p.start <= t);
            match n.checked_sub(1).and_then(|i| self.pauses.get(i)) {
                None => t,
                Some(p) => {
                    let end = self.pause_end(&p);
                    let at_start = p.start.saturating_sub(p.paused_before);
                    at_start.saturating_add(t.saturating_sub(end))
                }
            }
        }

        /// The earliest block time `T` with `U(T) = target`.
        fn unpaused_clock_reaches(&self, target: u64) -> u64 {
            let n = self.pauses_where(|p| p.start.saturating_sub(p.paused_before) < target);
            match n.checked_sub(1).and_then(|i| self.pauses.get(i)) {
                None => target,
                Some(p) => {
                    let at_start = p.start.saturating_sub(p.paused_before);
                    self.pause_end(&p).saturating_add(target.saturating_sub(at_start))
                }
            }
        }

        /// Whether `action` can be applied to the state of now.
        fn check_action(&self, action: &GovernanceAction) -> Result<()> {
            let keepers = self.keepers.get_or_default();
            let n = len_u32(keepers.len());
            match action {
                GovernanceAction::AddKeeper(k) => {
                    if keepers.contains(k) {
                        return Err(Error::KeeperAlreadyRegistered);
                    }
                    if n >= MAX_KEEPERS {
                        return Err(Error::TooManyKeepers);
                    }
                }
                GovernanceAction::RemoveKeeper(k) => {
                    if !keepers.contains(k) {
                        return Err(Error::KeeperNotRegistered);
                    }
                    let left = n.saturating_sub(1);
                    if self.threshold_of(left) > left {
                        return Err(Error::ThresholdUnreachable);
                    }
                }
                GovernanceAction::SetMinThreshold(t) => {
                    let minimum = bft_threshold(n);
                    if *t != 0 && *t < minimum {
                        return Err(Error::ThresholdBelowBft { minimum });
                    }
                    if *t > n {
                        return Err(Error::ThresholdUnreachable);
                    }
                }
                GovernanceAction::SetTreasury(t) => {
                    if *t == self.env().account_id() {
                        return Err(Error::InvalidTreasury);
                    }
                }
            }
            Ok(())
        }

        /// Applies a checked action and emits its event.
        fn apply(&mut self, action: &GovernanceAction) {
            match action {
                GovernanceAction::AddKeeper(keeper) => {
                    let mut keepers = self.keepers.get_or_default();
                    keepers.push(*keeper);
                    self.keepers.set(&keepers);
                    let n = len_u32(keepers.len());
                    self.env().emit_event(KeeperAdded {
                        keeper: *keeper,
                        keepers: n,
                        threshold: self.threshold_of(n),
                    });
                }
                GovernanceAction::RemoveKeeper(keeper) => {
                    let mut keepers = self.keepers.get_or_default();
                    keepers.retain(|k| k != keeper);
                    self.keepers.set(&keepers);
                    let n = len_u32(keepers.len());
                    self.env().emit_event(KeeperRemoved {
                        keeper: *keeper,
                        keepers: n,
                        threshold: self.threshold_of(n),
                    });
                }
                GovernanceAction::SetMinThreshold(min_threshold) => {
                    self.min_threshold = *min_threshold;
                    let n = len_u32(self.keepers.get_or_default().len());
                    self.env().emit_event(ThresholdChanged {
                        min_threshold: *min_threshold,
                        threshold: self.threshold_of(n),
                    });
                }
                GovernanceAction::SetTreasury(treasury) => {
                    let previous = self.treasury;
                    self.treasury = *treasury;
                    self.env().emit_event(TreasuryChanged {
                        previous,
                        new: *treasury,
                    });
                }
            }
        }

        /// Removes a pending change from the pending set and returns it.
        fn take_pending(&mut self, id: u64) -> Result<PendingChange> {
            let change = self.pending_changes.get(id).ok_or(Error::UnknownChange)?;
            self.pending_changes.remove(id);
            let mut ids = self.pending_ids.get_or_default();
            ids.retain(|i| *i != id);
            self.pending_ids.set(&ids);
            Ok(change)
        }

        /// Month roots are voted and finalised only for a complete, not yet finalised month
        /// whose claim window has not closed.
        fn ensure_month_votable(&self, month_index: u32) -> Result<()> {
            if self.months.contains(month_index) {
                return Err(Error::MonthAlreadyFinalized);
            }
            let (_, end) = self.month_epochs_checked(month_index)?;
            if self.next_epoch < end {
                return Err(Error::MonthNotComplete);
            }
            let (_, close) = self.claim_window_ms(month_index)?;
            if self.env().block_timestamp() >= close {
                return Err(Error::ClaimWindowClosed);
            }
            Ok(())
        }

        fn preview(&self, epoch: u64, active_count: u64) -> EpochPreview {
            let wallet_index =
                pool_math::wallet_index(epoch, self.wallet_index, self.max_active_count, active_count);
            let halving = pool_math::halving(epoch);
            EpochPreview {
                epoch,
                wallet_index,
                halving,
                snapshot: self.snapshot,
                pool: pool_math::epoch_pool(self.snapshot, wallet_index, halving),
            }
        }

        /// Finalises the next epoch with `commitment` (quorum and pool already checked): reserves
        /// `P_e` when `multiplier_sum > 0`, books it to the epoch's month, takes the snapshot.
        fn finalize_epoch_with(&mut self, hash: Hash32, commitment: EpochCommitment) -> Result<()> {
            let epoch = commitment.epoch;
            let p = self.preview(epoch, commitment.active_count);
            let distributed = if commitment.multiplier_sum > 0 { p.pool } else { 0 };
            let unallocated = self.unallocated.checked_sub(distributed).ok_or(Error::Overflow)?;
            let month_index = (self.genesis / SECS_PER_DAY)
                .checked_add(epoch)
                .and_then(calendar::month_index_of_day)
                .ok_or(Error::Overflow)?;
            let month_total = self
                .month_distributed(month_index)
                .checked_add(distributed)
                .ok_or(Error::Overflow)?;
            if distributed > 0 {
                self.month_distributed.insert(month_index, &month_total);
            }
            self.unallocated = unallocated;
            self.snapshot = unallocated;
            self.wallet_index = p.wallet_index;
            self.max_active_count = self.max_active_count.max(commitment.active_count);
            self.next_epoch = epoch.saturating_add(1);
            let scores_root = commitment.scores_root;
            self.epochs.insert(
                epoch,
                &EpochInfo {
                    commitment,
                    commitment_hash: hash,
                    month_index,
                    wallet_index: p.wallet_index,
                    halving: p.halving,
                    snapshot: p.snapshot,
                    distributed,
                    finalized_at: self.env().block_timestamp(),
                },
            );
            self.env().emit_event(EpochFinalized {
                epoch,
                commitment_hash: hash,
                scores_root,
                wallet_index: p.wallet_index,
                halving: p.halving,
                pool: p.pool,
                distributed,
                snapshot: unallocated,
            });
            Ok(())
        }

        fn finalize_month_with(&mut self, hash: Hash32, root: MonthRoot) {
            let month_index = root.month_index;
            self.env().emit_event(MonthFinalized {
                month_index,
                commitment_hash: hash,
                claims_root: root.claims_root,
                total: root.total,
                claim_price: root.claim_price,
            });
            self.months.insert(
                month_index,
                &MonthInfo {
                    root,
                    commitment_hash: hash,
                    claimed: 0,
                    claims: 0,
                    finalized_at: self.env().block_timestamp(),
                },
            );
        }
    }

    /// Unit tests in the off-chain environment. Token calls go to the in-test ledger
    /// (`psp22::ledger`); signatures are made with real secp256k1 keys.
    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::merkle::claim_leaf;
        use crate::psp22::ledger;
        use ink::env::test;
        use ink::env::DefaultEnvironment as Env;
        use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};

        /// 2025-12-01 00:00:00 UTC: epoch 0 is December 1st, month 24311 (2025-12).
        const GENESIS: u64 = 1_764_547_200;
        const DAY: u64 = 86_400;
        const DEC: u32 = 24_311;
        const JAN: u32 = 24_312;
        const JAN_START: u64 = 1_767_225_600;
        const FEB_START: u64 = 1_769_904_000;
        const FUNDS: Balance = 1_000_000_000_000;
        /// The governance delay of the test pool: the minimum, two days.
        const DELAY: u64 = MIN_GOVERNANCE_DELAY;
        /// The test chain's genesis block hash.
        const CHAIN: Hash32 = [0x33; 32];
        /// 2.5 payment units per reward unit: a claim of `a` costs `ceil(a / 4)`.
        const PRICE: u128 = 2_500_000_000_000_000_000;

        fn acc(b: u8) -> AccountId {
            AccountId::from([b; 32])
        }
        fn this() -> AccountId {
            acc(0xc0)
        }
        fn owner() -> AccountId {
            acc(0x01)
        }
        fn keeper(i: u8) -> AccountId {
            acc(0x10 + i)
        }
        fn funder() -> AccountId {
            acc(0x30)
        }
        fn relayer() -> AccountId {
            acc(0x31)
        }
        fn beneficiary() -> AccountId {
            acc(0x32)
        }
        fn stranger() -> AccountId {
            acc(0x33)
        }
        fn reward() -> AccountId {
            acc(0x70)
        }
        fn payment() -> AccountId {
            acc(0x71)
        }
        fn treasury() -> AccountId {
            acc(0x7e)
        }

        fn set_caller(who: AccountId) {
            test::set_caller::<Env>(who);
        }
        fn set_now(secs: u64) {
            test::set_block_timestamp::<Env>(secs * 1000);
        }
        fn now_secs() -> u64 {
            ink::env::block_timestamp::<Env>() / 1000
        }

        /// The events of type `E` emitted so far, decoded.
        fn events<E: ink::env::Event + scale::Decode>() -> Vec<E> {
            let topic = E::SIGNATURE_TOPIC.map(|t| t.to_vec());
            test::recorded_events()
                .filter(|e| e.topics.first().cloned() == topic)
                .map(|e| E::decode(&mut &e.data[..]).unwrap())
                .collect()
        }

        /// A pool at genesis with keepers 0..4 (threshold 3), owned by `owner()`.
        fn setup() -> RewardPool {
            ledger::reset();
            test::set_callee::<Env>(this());
            set_caller(owner());
            set_now(GENESIS);
            RewardPool::new(
                reward(),
                payment(),
                treasury(),
                GENESIS,
                (0..4).map(keeper).collect(),
                DELAY,
                CHAIN,
            )
            .unwrap()
        }

        /// The owner announces `action`, waits out the delay and executes it; returns its id.
        fn govern(pool: &mut RewardPool, action: GovernanceAction) -> u64 {
            set_caller(owner());
            let id = pool.announce(action).unwrap();
            set_now(now_secs() + DELAY);
            assert_eq!(pool.execute(id), Ok(()));
            id
        }

        fn deposit(pool: &mut RewardPool, amount: Balance) {
            ledger::mint(reward(), funder(), amount);
            ledger::approve(reward(), funder(), this(), amount);
            set_caller(funder());
            pool.deposit(amount).unwrap();
        }

        fn funded() -> RewardPool {
            let mut pool = setup();
            deposit(&mut pool, FUNDS);
            pool
        }

        /// The commitment an honest keeper sends for the next epoch.
        fn commitment(pool: &RewardPool, active_count: u64, multiplier_sum: u128) -> EpochCommitment {
            let preview = pool.expected_epoch(active_count);
            EpochCommitment {
                epoch: preview.epoch,
                scores_root: [preview.epoch as u8; 32],
                active_count,
                total_weight_bits: 3 << 64,
                multiplier_sum,
                pool: preview.pool,
                forecast: 7 << 32,
            }
        }

        /// Moves block time to the end of `epoch` unless it is already later.
        fn after_epoch(epoch: u64) {
            let end = GENESIS + (epoch + 1) * DAY;
            if now_secs() < end {
                set_now(end);
            }
        }

        fn vote(pool: &mut RewardPool, k: u8, c: &EpochCommitment) -> Result<bool> {
            set_caller(keeper(k));
            pool.submit_epoch(c.clone())
        }

        /// Keepers 0, 1, 2 commit the next epoch; the third vote finalises it.
        fn finalize_next(pool: &mut RewardPool, active_count: u64, multiplier_sum: u128) -> EpochCommitment {
            let c = commitment(pool, active_count, multiplier_sum);
            after_epoch(c.epoch);
            for k in 0..3 {
                assert_eq!(vote(pool, k, &c), Ok(k == 2));
            }
            c
        }

        /// Finalises December (epochs 0..31) with a new activity high every day.
        fn finalize_december(pool: &mut RewardPool) {
            for e in 0..31 {
                finalize_next(pool, 10 + e, 100);
            }
            assert_eq!(now_secs(), JAN_START);
        }

        fn vote_month(pool: &mut RewardPool, k: u8, root: &MonthRoot) -> Result<bool> {
            set_caller(keeper(k));
            pool.submit_month(root.clone())
        }

        struct Wallet {
            key: SecretKey,
            address: EthAddress,
        }

        fn wallet(seed: u8) -> Wallet {
            let key = SecretKey::from_slice(&[seed; 32]).unwrap();
            let public = PublicKey::from_secret_key(SECP256K1, &key).serialize_uncompressed();
            let mut address = [0u8; 20];
            address.copy_from_slice(&merkle::keccak256(&public[1..])[12..]);
            Wallet { key, address }
        }

        /// `personal_sign` of `message`, `r || s || v` with v in {27, 28}.
        fn sign(w: &Wallet, message: &[u8]) -> [u8; 65] {
            let digest = claim_message::eth_signed_message_hash(message);
            let msg = Message::from_digest_slice(&digest).unwrap();
            let (rid, rs) = SECP256K1.sign_ecdsa_recoverable(&msg, &w.key).serialize_compact();
            let mut sig = [0u8; 65];
            sig[..64].copy_from_slice(&rs);
            sig[64] = 27 + rid.to_i32() as u8;
            sig
        }

        /// A sorted-pair merkle tree (any layout verifies; the OpenZeppelin layout itself is
        /// checked against OpenZeppelin's vectors in `merkle`): the root and each leaf's proof.
        fn tree(leaves: &[Hash32]) -> (Hash32, Vec<Vec<Hash32>>) {
            let mut proofs = vec![Vec::new(); leaves.len()];
            let mut layer: Vec<(Hash32, Vec<usize>)> =
                leaves.iter().enumerate().map(|(i, l)| (*l, vec![i])).collect();
            while layer.len() > 1 {
                let mut next = Vec::new();
                for pair in layer.chunks(2) {
                    match pair {
                        [(a, ia), (b, ib)] => {
                            ia.iter().for_each(|&i| proofs[i].push(*b));
                            ib.iter().for_each(|&i| proofs[i].push(*a));
                            next.push((merkle::hash_pair(a, b), [ia.clone(), ib.clone()].concat()));
                        }
                        [single] => next.push(single.clone()),
                        _ => unreachable!(),
                    }
                }
                layer = next;
            }
            (layer[0].0, proofs)
        }

        /// A finalised December whose claims tree pays `total/3` to wallet 1 and the rest to
        /// wallet 2 (plus a wallet 3 leaf of `extra` when `extra > 0`, which overfills the tree).
        struct Fixture {
            pool: RewardPool,
            wallets: Vec<(Wallet, Balance, Vec<Hash32>)>,
            total: Balance,
        }

        /// December's claim root over `wallets`, voted to quorum by three keepers, with each
        /// wallet's proof.
        fn claims_finalized(
            mut pool: RewardPool,
            wallets: Vec<(Wallet, Balance)>,
            total: Balance,
            price: u128,
        ) -> Fixture {
            let leaves: Vec<Hash32> = wallets
                .iter()
                .map(|(w, a)| claim_leaf(DEC, &w.address, *a))
                .collect();
            let (claims_root, proofs) = tree(&leaves);
            let root = MonthRoot {
                month_index: DEC,
                claims_root,
                total,
                claim_price: price,
            };
            for k in 0..3 {
                assert_eq!(vote_month(&mut pool, k, &root), Ok(k == 2));
            }
            let wallets = wallets
                .into_iter()
                .zip(proofs)
                .map(|((w, a), p)| (w, a, p))
                .collect();
            Fixture { pool, wallets, total }
        }

        fn december_with_extra(price: u128, extra: Balance) -> Fixture {
            let mut pool = funded();
            finalize_december(&mut pool);
            let total = pool.month_distributed(DEC);
            let mut wallets = vec![(wallet(1), total / 3), (wallet(2), total - total / 3)];
            if extra > 0 {
                wallets.push((wallet(3), extra));
            }
            claims_finalized(pool, wallets, total, price)
        }

        fn december(price: u128) -> Fixture {
            december_with_extra(price, 0)
        }

        /// Gives `payer` payment tokens and approves the pool for them.
        fn fund_payer(payer: AccountId, amount: Balance) {
            ledger::mint(payment(), payer, amount);
            ledger::approve(payment(), payer, this(), amount);
        }

        impl Fixture {
            /// Wallet `i` signs for `beneficiary()`; `caller` submits.
            fn claim(&mut self, i: usize, caller: AccountId) -> Result<()> {
                let (w, amount, proof) = &self.wallets[i];
                let message = self.pool.claim_message(DEC, w.address, *amount, beneficiary());
                let sig = sign(w, &message);
                set_caller(caller);
                self.pool
                    .claim(DEC, w.address, *amount, proof.clone(), sig, beneficiary())
            }

            /// Wallet `i`'s claim for `to`, signed, as a batch item.
            fn request(&self, i: usize, to: AccountId) -> ClaimRequest {
                let (w, amount, proof) = &self.wallets[i];
                let message = self.pool.claim_message(DEC, w.address, *amount, to);
                ClaimRequest {
                    month_index: DEC,
                    wallet: w.address,
                    amount: *amount,
                    proof: proof.clone(),
                    signature: sign(w, &message),
                    beneficiary: to,
                }
            }

            fn batch(&mut self, claims: Vec<ClaimRequest>, caller: AccountId) -> Result<Vec<Result<()>>> {
                set_caller(caller);
                self.pool.claim_batch(claims)
            }
        }

        /// December with `n` wallets (seeds 1..=n) sharing the month's total.
        fn december_of(n: u8, price: u128) -> Fixture {
            let mut pool = funded();
            finalize_december(&mut pool);
            let total = pool.month_distributed(DEC);
            let share = total / Balance::from(n);
            let wallets: Vec<(Wallet, Balance)> = (1..=n)
                .map(|seed| {
                    let amount = if seed == n {
                        total - share * Balance::from(n - 1)
                    } else {
                        share
                    };
                    (wallet(seed), amount)
                })
                .collect();
            claims_finalized(pool, wallets, total, price)
        }

        // ---- constructor ---------------------------------------------------------------

        #[ink::test]
        fn constructor_sets_state_and_emits() {
            let pool = setup();
            assert_eq!(pool.owner(), owner());
            assert_eq!(pool.pending_owner(), None);
            assert_eq!(pool.treasury(), treasury());
            assert_eq!(pool.reward_token(), reward());
            assert_eq!(pool.payment_token(), payment());
            assert_eq!(pool.genesis(), GENESIS);
            assert!(!pool.is_paused());
            assert_eq!(pool.keepers(), (0..4).map(keeper).collect::<Vec<_>>());
            assert!(pool.is_keeper(keeper(3)) && !pool.is_keeper(stranger()));
            assert_eq!(pool.threshold(), 3);
            assert_eq!(pool.min_threshold(), 0);
            assert_eq!(
                (pool.unallocated(), pool.snapshot(), pool.next_epoch()),
                (0, 0, 0)
            );
            assert_eq!((pool.wallet_index(), pool.max_active_count()), (0, 0));
            assert_eq!(pool.chain_genesis_hash(), CHAIN);
            assert_eq!(pool.governance_delay(), DELAY);
            assert_eq!(pool.pending_changes(), vec![]);
            assert_eq!(pool.pauses(), vec![]);
            assert_eq!(
                events::<OwnershipTransferred>(),
                vec![OwnershipTransferred {
                    previous_owner: None,
                    new_owner: owner()
                }]
            );
            let added = events::<KeeperAdded>();
            assert_eq!(added.len(), 4);
            assert_eq!(
                added[3],
                KeeperAdded {
                    keeper: keeper(3),
                    keepers: 4,
                    threshold: 3
                }
            );
        }

        #[ink::test]
        fn constructor_rejects_bad_arguments() {
            test::set_callee::<Env>(this());
            let new = |genesis, keepers: Vec<AccountId>| {
                RewardPool::new(reward(), payment(), treasury(), genesis, keepers, DELAY, CHAIN).map(|_| ())
            };
            assert_eq!(new(GENESIS + 1, vec![keeper(0)]), Err(Error::InvalidGenesis));
            assert_eq!(new(GENESIS, vec![]), Err(Error::ThresholdUnreachable));
            assert_eq!(
                new(GENESIS, vec![keeper(0), keeper(1), keeper(0)]),
                Err(Error::KeeperAlreadyRegistered)
            );
            assert_eq!(
                new(GENESIS, (0..33).map(acc).collect()),
                Err(Error::TooManyKeepers)
            );
            assert_eq!(new(GENESIS, (0..32).map(acc).collect()), Ok(()));
            // The governance delay: from two to ninety days.
            let with_delay = |delay| {
                RewardPool::new(
                    reward(),
                    payment(),
                    treasury(),
                    GENESIS,
                    vec![keeper(0)],
                    delay,
                    CHAIN,
                )
                .map(|p| p.governance_delay())
            };
            let out_of_range = Err(Error::GovernanceDelayOutOfRange {
                minimum: 2 * DAY,
                maximum: 90 * DAY,
            });
            assert_eq!(with_delay(0), out_of_range);
            assert_eq!(with_delay(2 * DAY - 1), out_of_range);
            assert_eq!(with_delay(2 * DAY), Ok(2 * DAY));
            assert_eq!(with_delay(90 * DAY), Ok(90 * DAY));
            assert_eq!(with_delay(90 * DAY + 1), out_of_range);
            // The pool's own account is never the treasury.
            assert_eq!(
                RewardPool::new(
                    reward(),
                    payment(),
                    this(),
                    GENESIS,
                    vec![keeper(0)],
                    DELAY,
                    CHAIN
                )
                .map(|_| ()),
                Err(Error::InvalidTreasury)
            );
        }

        // ---- deposits ------------------------------------------------------------------

        #[ink::test]
        fn deposit_pulls_tokens_and_counts_from_the_next_snapshot() {
            let mut pool = setup();
            deposit(&mut pool, 600);
            deposit(&mut pool, 400);
            assert_eq!(pool.unallocated(), 1_000);
            assert_eq!(
                pool.snapshot(),
                0,
                "the genesis snapshot is 0: deposits count from the next one"
            );
            assert_eq!(ledger::balance_of(reward(), this()), 1_000);
            assert_eq!(ledger::balance_of(reward(), funder()), 0);
            assert_eq!(
                events::<Deposited>()[1],
                Deposited {
                    from: funder(),
                    amount: 400,
                    unallocated: 1_000
                }
            );
            // Epoch 0 pays nothing (Wi = 0) and takes the snapshot.
            finalize_next(&mut pool, 5, 10);
            assert_eq!((pool.snapshot(), pool.unallocated()), (1_000, 1_000));
            // A deposit now does not change P_t of epoch 1, only the next snapshot.
            deposit(&mut pool, 9_000_000);
            assert_eq!(pool.expected_epoch(6).pool, 0); // floor(1000 * 1 / 10000)
            finalize_next(&mut pool, 6, 10);
            assert_eq!(pool.snapshot(), 9_001_000);
            assert_eq!(pool.expected_epoch(7).pool, 1_800); // 9_001_000 * 2 / 10000
        }

        #[ink::test]
        fn deposit_failures() {
            let mut pool = setup();
            set_caller(funder());
            assert_eq!(pool.deposit(0), Err(Error::ZeroAmount));
            assert_eq!(
                pool.deposit(5),
                Err(Error::TokenTransferFailed(PSP22Error::InsufficientAllowance))
            );
            ledger::approve(reward(), funder(), this(), 5);
            assert_eq!(
                pool.deposit(5),
                Err(Error::TokenTransferFailed(PSP22Error::InsufficientBalance))
            );
            ledger::break_token(reward());
            assert_eq!(pool.deposit(5), Err(Error::TokenCallFailed));
            assert_eq!(pool.unallocated(), 0);
            assert!(events::<Deposited>().is_empty());
        }

        // ---- epochs --------------------------------------------------------------------

        #[ink::test]
        fn epoch_finalises_at_the_third_of_four_keepers() {
            let mut pool = funded();
            let c = commitment(&pool, 10, 100);
            after_epoch(0);
            assert_eq!(vote(&mut pool, 0, &c), Ok(false));
            assert_eq!(vote(&mut pool, 1, &c), Ok(false));
            assert_eq!(pool.epoch(0), None);
            assert_eq!(vote(&mut pool, 2, &c), Ok(true));
            let hash = pool.epoch_commitment_hash(c.clone());
            assert_eq!(hash, merkle::keccak256(&scale::Encode::encode(&c)));
            let info = pool.epoch(0).unwrap();
            assert_eq!(info.commitment, c);
            assert_eq!(
                (info.commitment_hash, info.month_index, info.wallet_index),
                (hash, DEC, 0)
            );
            assert_eq!((info.halving, info.snapshot, info.distributed), (0, 0, 0));
            assert_eq!(info.finalized_at, (GENESIS + DAY) * 1000);
            assert_eq!(pool.next_epoch(), 1);
            assert_eq!(pool.snapshot(), FUNDS);
            assert_eq!(pool.max_active_count(), 10);
            assert_eq!(pool.epoch_vote_of(0, keeper(1)), Some(hash));
            assert_eq!(
                pool.epoch_votes(0),
                vec![(
                    hash,
                    Proposal {
                        commitment: c.clone(),
                        voters: (0..3).map(keeper).collect()
                    }
                )]
            );
            let voted = events::<EpochVoted>();
            assert_eq!(voted.len(), 3);
            assert_eq!(
                voted[2],
                EpochVoted {
                    epoch: 0,
                    keeper: keeper(2),
                    commitment_hash: hash,
                    votes: 3,
                    threshold: 3
                }
            );
            assert_eq!(
                events::<EpochFinalized>(),
                vec![EpochFinalized {
                    epoch: 0,
                    commitment_hash: hash,
                    scores_root: c.scores_root,
                    wallet_index: 0,
                    halving: 0,
                    pool: 0,
                    distributed: 0,
                    snapshot: FUNDS,
                }]
            );
            // The fourth keeper is too late.
            assert_eq!(vote(&mut pool, 3, &c), Err(Error::EpochAlreadyFinalized));
        }

        #[ink::test]
        fn epoch_vote_failures() {
            let mut pool = funded();
            let c = commitment(&pool, 10, 100);
            // Unauthorised caller.
            set_caller(stranger());
            after_epoch(0);
            assert_eq!(pool.submit_epoch(c.clone()), Err(Error::NotKeeper));
            set_caller(owner());
            assert_eq!(pool.submit_epoch(c.clone()), Err(Error::NotKeeper));
            // Wrong order.
            let mut later = c.clone();
            later.epoch = 1;
            assert_eq!(
                vote(&mut pool, 0, &later),
                Err(Error::EpochOutOfOrder { expected: 0 })
            );
            // Pool mismatch: epoch 0 must have pool 0.
            let mut greedy = c.clone();
            greedy.pool = 1;
            assert_eq!(
                vote(&mut pool, 0, &greedy),
                Err(Error::PoolMismatch {
                    expected: 0,
                    submitted: 1
                })
            );
            // Double vote, for the same or for another commitment.
            assert_eq!(vote(&mut pool, 0, &c), Ok(false));
            assert_eq!(vote(&mut pool, 0, &c), Err(Error::AlreadyVoted));
            let mut other = c.clone();
            other.scores_root = [9; 32];
            assert_eq!(vote(&mut pool, 0, &other), Err(Error::AlreadyVoted));
            assert_eq!(events::<EpochVoted>().len(), 1);
            assert_eq!(pool.next_epoch(), 0);
            // Once finalised, the epoch is closed.
            assert_eq!(vote(&mut pool, 1, &c), Ok(false));
            assert_eq!(vote(&mut pool, 2, &c), Ok(true));
            assert_eq!(vote(&mut pool, 3, &c), Err(Error::EpochAlreadyFinalized));
        }

        #[ink::test]
        fn epoch_only_after_it_ended_by_block_time() {
            let mut pool = funded();
            let c = commitment(&pool, 10, 100);
            let end_ms = (GENESIS + DAY) * 1000;
            test::set_block_timestamp::<Env>(end_ms - 1);
            assert_eq!(vote(&mut pool, 0, &c), Err(Error::EpochNotEnded));
            test::set_block_timestamp::<Env>(end_ms);
            assert_eq!(vote(&mut pool, 0, &c), Ok(false));
            // Epoch 1 (ending a day later) cannot be voted yet even though it is next.
            assert_eq!(vote(&mut pool, 1, &c), Ok(false));
            assert_eq!(vote(&mut pool, 2, &c), Ok(true));
            let c1 = commitment(&pool, 11, 100);
            assert_eq!(vote(&mut pool, 0, &c1), Err(Error::EpochNotEnded));
        }

        #[ink::test]
        fn split_votes_do_not_finalise_and_finalize_epoch_needs_quorum() {
            let mut pool = funded();
            let a = commitment(&pool, 10, 100);
            let mut b = a.clone();
            b.forecast += 1;
            after_epoch(0);
            assert_eq!(vote(&mut pool, 0, &a), Ok(false));
            assert_eq!(vote(&mut pool, 1, &a), Ok(false));
            assert_eq!(vote(&mut pool, 2, &b), Ok(false));
            assert_eq!(vote(&mut pool, 3, &b), Ok(false));
            assert_eq!(pool.epoch_votes(0).len(), 2);
            set_caller(stranger());
            assert_eq!(pool.finalize_epoch(0), Err(Error::QuorumNotReached));
            assert_eq!(
                pool.finalize_epoch(1),
                Err(Error::EpochOutOfOrder { expected: 0 })
            );
            assert_eq!(pool.next_epoch(), 0);
        }

        #[ink::test]
        fn keeper_removal_mid_epoch() {
            let mut pool = funded();
            let c = commitment(&pool, 10, 100);
            after_epoch(0);
            assert_eq!(vote(&mut pool, 0, &c), Ok(false));
            assert_eq!(vote(&mut pool, 1, &c), Ok(false));
            // Keeper 1 is removed: its vote stops counting (n = 3, q = 3).
            govern(&mut pool, GovernanceAction::RemoveKeeper(keeper(1)));
            assert_eq!(vote(&mut pool, 1, &c), Err(Error::NotKeeper));
            assert_eq!(vote(&mut pool, 2, &c), Ok(false)); // 2 current votes of 3 needed
            set_caller(stranger());
            assert_eq!(pool.finalize_epoch(0), Err(Error::QuorumNotReached));
            // Re-added, its recorded vote counts again; it still cannot vote twice.
            govern(&mut pool, GovernanceAction::AddKeeper(keeper(1)));
            assert_eq!(vote(&mut pool, 1, &c), Err(Error::AlreadyVoted));
            set_caller(stranger());
            assert_eq!(pool.finalize_epoch(0), Ok(()));
            assert_eq!(pool.next_epoch(), 1);
            assert_eq!(pool.epoch(0).unwrap().commitment, c);
        }

        #[ink::test]
        fn keeper_removal_lowering_the_threshold_lets_anyone_finalise() {
            let mut pool = funded();
            govern(&mut pool, GovernanceAction::AddKeeper(keeper(4))); // n = 5, q = 4
            assert_eq!(pool.threshold(), 4);
            let c = commitment(&pool, 10, 100);
            after_epoch(0);
            for k in 0..3 {
                assert_eq!(vote(&mut pool, k, &c), Ok(false));
            }
            govern(&mut pool, GovernanceAction::RemoveKeeper(keeper(4))); // n = 4, q = 3: already reached
            assert_eq!(pool.threshold(), 3);
            set_caller(stranger());
            assert_eq!(pool.finalize_epoch(0), Ok(()));
            assert_eq!(pool.finalize_epoch(0), Err(Error::EpochAlreadyFinalized));
            assert_eq!(events::<EpochFinalized>().len(), 1);
        }

        #[ink::test]
        fn pool_reserves_p_e_and_takes_the_snapshot() {
            let mut pool = funded();
            finalize_next(&mut pool, 10, 100); // epoch 0: Wi 0
            let c = finalize_next(&mut pool, 12, 100); // epoch 1: Wi 0.01
            let p1 = FUNDS / 10_000;
            assert_eq!(c.pool, p1);
            let info = pool.epoch(1).unwrap();
            assert_eq!(
                (info.wallet_index, info.snapshot, info.distributed),
                (1, FUNDS, p1)
            );
            assert_eq!(pool.unallocated(), FUNDS - p1);
            assert_eq!(pool.snapshot(), FUNDS - p1);
            assert_eq!(pool.month_distributed(DEC), p1);
            // multiplier_sum == 0: the pool is computed and checked but stays unallocated.
            let c = finalize_next(&mut pool, 13, 0);
            assert_eq!(c.pool, (FUNDS - p1) * 2 / 10_000);
            let info = pool.epoch(2).unwrap();
            assert_eq!((info.wallet_index, info.distributed), (2, 0));
            assert_eq!(pool.unallocated(), FUNDS - p1);
            assert_eq!(pool.month_distributed(DEC), p1);
        }

        #[ink::test]
        fn wallet_index_growth_cap_and_halving() {
            let mut pool = funded();
            let mut unallocated = FUNDS;
            let mut snapshot = 0u128;
            let mut wi = 0u128;
            let mut max_active = 0u64;
            for e in 0..=366u64 {
                // Activity: a new high except on every 7th epoch, where it dips.
                let active = if e % 7 == 3 { 1 } else { 10 + e };
                if e > 0 && active > max_active && wi < 100 {
                    wi += 1;
                }
                max_active = max_active.max(active);
                let expected = snapshot * wi / (10_000 << (e / 365));
                let c = finalize_next(&mut pool, active, 1);
                assert_eq!(c.pool, expected, "epoch {e}");
                let info = pool.epoch(e).unwrap();
                assert_eq!(u128::from(info.wallet_index), wi, "epoch {e}");
                assert_eq!(info.halving, e / 365);
                unallocated -= expected;
                snapshot = unallocated;
                assert_eq!(pool.unallocated(), unallocated);
            }
            assert_eq!(pool.wallet_index(), 100);
            // The first halving: epoch 365 pays half of what Wi = 1.00 pays on the same snapshot.
            let e365 = pool.epoch(365).unwrap();
            assert_eq!((e365.wallet_index, e365.halving), (100, 1));
            assert_eq!(e365.distributed, e365.snapshot * 100 / 10_000 / 2);
            // Wi stops at 100.
            assert_eq!(pool.expected_epoch(u64::MAX).wallet_index, 100);
        }

        // ---- months --------------------------------------------------------------------

        #[ink::test]
        fn month_root_finalises_and_checks_total() {
            let mut pool = funded();
            let root = |pool: &RewardPool, total: Option<Balance>| MonthRoot {
                month_index: DEC,
                claims_root: [0xab; 32],
                total: total.unwrap_or(pool.month_distributed(DEC)),
                claim_price: PRICE,
            };
            // Not complete until epoch 30 is final.
            for e in 0..30 {
                finalize_next(&mut pool, 10 + e, 100);
            }
            let complete_early = root(&pool, None);
            assert_eq!(
                vote_month(&mut pool, 0, &complete_early),
                Err(Error::MonthNotComplete)
            );
            finalize_next(&mut pool, 40, 100);
            // Unauthorised caller, total mismatch.
            set_caller(stranger());
            assert_eq!(pool.submit_month(root(&pool, None)), Err(Error::NotKeeper));
            let expected = pool.month_distributed(DEC);
            assert!(expected > 0);
            let too_much = root(&pool, Some(expected + 1));
            assert_eq!(
                vote_month(&mut pool, 0, &too_much),
                Err(Error::MonthTotalMismatch {
                    expected,
                    submitted: expected + 1
                })
            );
            // Votes, double vote, finalisation at the third.
            let r = root(&pool, None);
            assert_eq!(vote_month(&mut pool, 0, &r), Ok(false));
            assert_eq!(vote_month(&mut pool, 0, &r), Err(Error::AlreadyVoted));
            let mut other = r.clone();
            other.claim_price = 0;
            assert_eq!(vote_month(&mut pool, 0, &other), Err(Error::AlreadyVoted));
            assert_eq!(vote_month(&mut pool, 1, &r), Ok(false));
            assert_eq!(pool.month(DEC), None);
            assert_eq!(vote_month(&mut pool, 2, &r), Ok(true));
            let hash = pool.month_root_hash(r.clone());
            let info = pool.month(DEC).unwrap();
            assert_eq!(
                (info.root.clone(), info.commitment_hash, info.claimed, info.claims),
                (r.clone(), hash, 0, 0)
            );
            assert_eq!(pool.month_vote_of(DEC, keeper(2)), Some(hash));
            assert_eq!(pool.month_votes(DEC)[0].1.voters.len(), 3);
            assert_eq!(events::<MonthVoted>().len(), 3);
            assert_eq!(
                events::<MonthFinalized>(),
                vec![MonthFinalized {
                    month_index: DEC,
                    commitment_hash: hash,
                    claims_root: r.claims_root,
                    total: expected,
                    claim_price: PRICE,
                }]
            );
            assert_eq!(vote_month(&mut pool, 3, &r), Err(Error::MonthAlreadyFinalized));
            set_caller(stranger());
            assert_eq!(pool.finalize_month(DEC), Err(Error::MonthAlreadyFinalized));
        }

        #[ink::test]
        fn month_calendar_rules() {
            let mut pool = funded();
            // November 2025 ends before genesis: no epoch, nothing to vote or sweep.
            let nov = MonthRoot {
                month_index: DEC - 1,
                claims_root: [0; 32],
                total: 0,
                claim_price: 0,
            };
            assert_eq!(vote_month(&mut pool, 0, &nov), Err(Error::MonthBeforeGenesis));
            assert_eq!(pool.month_epochs(DEC - 1), None);
            assert_eq!(pool.month_epochs(DEC), Some((0, 31)));
            assert_eq!(pool.month_epochs(JAN), Some((31, 62)));
            assert_eq!(pool.claim_window(DEC), Some((JAN_START, FEB_START)));
            // A month root is refused once its claim window has closed.
            finalize_december(&mut pool);
            set_now(FEB_START);
            let r = MonthRoot {
                month_index: DEC,
                claims_root: [1; 32],
                total: pool.month_distributed(DEC),
                claim_price: 0,
            };
            assert_eq!(vote_month(&mut pool, 0, &r), Err(Error::ClaimWindowClosed));
            set_now(FEB_START - 1);
            assert_eq!(vote_month(&mut pool, 0, &r), Ok(false));
        }

        #[ink::test]
        fn month_epoch_boundaries_follow_utc_months() {
            let mut pool = funded();
            finalize_december(&mut pool);
            // Epoch 31 starts on 2026-01-01: it books to January, not December.
            let dec_total = pool.month_distributed(DEC);
            finalize_next(&mut pool, 100, 100);
            assert_eq!(pool.epoch(31).unwrap().month_index, JAN);
            assert_eq!(pool.month_distributed(DEC), dec_total);
            assert_eq!(pool.month_distributed(JAN), pool.epoch(31).unwrap().distributed);
        }

        #[ink::test]
        fn finalize_month_after_keeper_removal() {
            let mut pool = funded();
            finalize_december(&mut pool);
            govern(&mut pool, GovernanceAction::AddKeeper(keeper(4))); // q = 4
            let r = MonthRoot {
                month_index: DEC,
                claims_root: [1; 32],
                total: pool.month_distributed(DEC),
                claim_price: 0,
            };
            for k in 0..3 {
                assert_eq!(vote_month(&mut pool, k, &r), Ok(false));
            }
            set_caller(stranger());
            assert_eq!(pool.finalize_month(DEC), Err(Error::QuorumNotReached));
            govern(&mut pool, GovernanceAction::RemoveKeeper(keeper(4)));
            set_caller(stranger());
            assert_eq!(pool.finalize_month(DEC), Ok(()));
            assert_eq!(pool.month(DEC).unwrap().root, r);
        }

        // ---- claims --------------------------------------------------------------------

        #[ink::test]
        fn claim_pays_the_beneficiary_and_charges_the_submitter() {
            let mut f = december(PRICE);
            let amount = f.wallets[0].1;
            let cost = amount.div_ceil(4);
            assert_eq!(f.pool.claim_cost(DEC, amount), Ok(cost));
            fund_payer(relayer(), cost);
            let pool_before = ledger::balance_of(reward(), this());
            assert_eq!(f.claim(0, relayer()), Ok(()));
            assert_eq!(ledger::balance_of(reward(), beneficiary()), amount);
            assert_eq!(ledger::balance_of(reward(), this()), pool_before - amount);
            assert_eq!(ledger::balance_of(payment(), treasury()), cost);
            assert_eq!(ledger::balance_of(payment(), relayer()), 0);
            assert_eq!(ledger::allowance(payment(), relayer(), this()), 0);
            let address = f.wallets[0].0.address;
            assert!(f.pool.is_claimed(DEC, address));
            assert!(!f.pool.is_claimed(DEC, f.wallets[1].0.address));
            let info = f.pool.month(DEC).unwrap();
            assert_eq!((info.claimed, info.claims), (amount, 1));
            assert_eq!(
                events::<Claimed>(),
                vec![Claimed {
                    month_index: DEC,
                    wallet: address,
                    beneficiary: beneficiary(),
                    amount,
                    payer: relayer(),
                    cost,
                }]
            );
            // The second wallet claims too; the month is then fully paid out.
            fund_payer(relayer(), f.wallets[1].1);
            assert_eq!(f.claim(1, relayer()), Ok(()));
            assert_eq!(ledger::balance_of(reward(), beneficiary()), f.total);
            assert_eq!(f.pool.month(DEC).unwrap().claimed, f.total);
        }

        #[ink::test]
        fn claim_with_zero_price_is_free() {
            let mut f = december(0);
            assert_eq!(f.claim(0, relayer()), Ok(()));
            assert_eq!(events::<Claimed>()[0].cost, 0);
            assert_eq!(ledger::balance_of(payment(), treasury()), 0);
        }

        #[ink::test]
        fn double_claim_is_rejected() {
            let mut f = december(0);
            assert_eq!(f.claim(0, relayer()), Ok(()));
            assert_eq!(f.claim(0, relayer()), Err(Error::AlreadyClaimed));
            assert_eq!(f.claim(0, stranger()), Err(Error::AlreadyClaimed));
            assert_eq!(events::<Claimed>().len(), 1);
        }

        #[ink::test]
        fn claim_with_bad_proof_or_amount_is_rejected() {
            let mut f = december(0);
            let (w, amount, proof) = &f.wallets[0];
            let (address, amount, proof) = (w.address, *amount, proof.clone());
            let mut bad_proof = proof.clone();
            bad_proof[0][0] ^= 1;
            let sig = sign(
                &f.wallets[0].0,
                &f.pool.claim_message(DEC, address, amount, beneficiary()),
            );
            set_caller(relayer());
            assert_eq!(
                f.pool.claim(DEC, address, amount, bad_proof, sig, beneficiary()),
                Err(Error::InvalidProof)
            );
            assert_eq!(
                f.pool.claim(DEC, address, amount, vec![], sig, beneficiary()),
                Err(Error::InvalidProof)
            );
            // A larger amount, even signed by the wallet, is not in the tree.
            let sig_more = sign(
                &f.wallets[0].0,
                &f.pool.claim_message(DEC, address, amount + 1, beneficiary()),
            );
            assert_eq!(
                f.pool
                    .claim(DEC, address, amount + 1, proof.clone(), sig_more, beneficiary()),
                Err(Error::InvalidProof)
            );
            assert_eq!(
                f.pool.claim(DEC, address, 0, proof, sig, beneficiary()),
                Err(Error::ZeroAmount)
            );
            assert!(!f.pool.is_claimed(DEC, address));
        }

        #[ink::test]
        fn claim_with_bad_signature_is_rejected() {
            let mut f = december(0);
            let (w, amount, proof) = &f.wallets[0];
            let (address, amount, proof) = (w.address, *amount, proof.clone());
            let message = f.pool.claim_message(DEC, address, amount, beneficiary());
            let good = sign(&f.wallets[0].0, &message);
            set_caller(relayer());
            // Malformed: bad v, zero r.
            let mut bad_v = good;
            bad_v[64] = 29;
            assert_eq!(
                f.pool
                    .claim(DEC, address, amount, proof.clone(), bad_v, beneficiary()),
                Err(Error::InvalidSignature)
            );
            let mut zero_r = good;
            zero_r[..32].fill(0);
            assert_eq!(
                f.pool
                    .claim(DEC, address, amount, proof.clone(), zero_r, beneficiary()),
                Err(Error::InvalidSignature)
            );
            // Signed by another wallet's key.
            let other = sign(&f.wallets[1].0, &message);
            assert_eq!(
                f.pool
                    .claim(DEC, address, amount, proof.clone(), other, beneficiary()),
                Err(Error::SignerMismatch)
            );
            // A tampered signature recovers some other address.
            let mut tampered = good;
            tampered[40] ^= 1;
            assert!(matches!(
                f.pool
                    .claim(DEC, address, amount, proof.clone(), tampered, beneficiary()),
                Err(Error::SignerMismatch | Error::InvalidSignature)
            ));
            // v as 0/1 is accepted like 27/28.
            let mut v01 = good;
            v01[64] -= 27;
            assert_eq!(
                f.pool.claim(DEC, address, amount, proof, v01, beneficiary()),
                Ok(())
            );
        }

        #[ink::test]
        fn claim_to_another_beneficiary_is_rejected() {
            let mut f = december(0);
            let (w, amount, proof) = &f.wallets[0];
            let (address, amount, proof) = (w.address, *amount, proof.clone());
            // Signed for beneficiary(), submitted for the relayer's own account.
            let sig = sign(
                &f.wallets[0].0,
                &f.pool.claim_message(DEC, address, amount, beneficiary()),
            );
            set_caller(relayer());
            assert_eq!(
                f.pool.claim(DEC, address, amount, proof.clone(), sig, relayer()),
                Err(Error::SignerMismatch)
            );
            // A signature for another deployment (contract account) does not work either.
            let foreign = claim_message::claim_message(
                &CHAIN,
                &[0xee; 32],
                DEC,
                &address,
                amount,
                beneficiary().as_ref(),
            );
            let sig_foreign = sign(&f.wallets[0].0, &foreign);
            assert_eq!(
                f.pool
                    .claim(DEC, address, amount, proof.clone(), sig_foreign, beneficiary()),
                Err(Error::SignerMismatch)
            );
            // Nor one for the same contract account on another chain (an identical deployment
            // elsewhere).
            let other_chain = claim_message::claim_message(
                &[0x44; 32],
                this().as_ref(),
                DEC,
                &address,
                amount,
                beneficiary().as_ref(),
            );
            let sig_other_chain = sign(&f.wallets[0].0, &other_chain);
            assert_eq!(
                f.pool
                    .claim(DEC, address, amount, proof, sig_other_chain, beneficiary()),
                Err(Error::SignerMismatch)
            );
            assert_eq!(ledger::balance_of(reward(), relayer()), 0);
        }

        #[ink::test]
        fn claim_window_not_open_before_the_next_month() {
            let mut pool = funded();
            // During December (not complete, window not open).
            for e in 0..5 {
                finalize_next(&mut pool, 10 + e, 100);
            }
            let w = wallet(1);
            let sig = sign(&w, &pool.claim_message(DEC, w.address, 1, beneficiary()));
            set_caller(relayer());
            assert_eq!(
                pool.claim(DEC, w.address, 1, vec![], sig, beneficiary()),
                Err(Error::ClaimWindowNotOpen)
            );
            // Window open but no root yet.
            set_now(JAN_START);
            assert_eq!(
                pool.claim(DEC, w.address, 1, vec![], sig, beneficiary()),
                Err(Error::MonthNotFinalized)
            );
        }

        #[ink::test]
        fn claim_window_closes_at_the_end_of_the_next_month() {
            let mut f = december(0);
            set_now(FEB_START);
            assert_eq!(f.claim(0, relayer()), Err(Error::ClaimWindowClosed));
            // The last millisecond of the window still works.
            test::set_block_timestamp::<Env>(FEB_START * 1000 - 1);
            assert_eq!(f.claim(0, relayer()), Ok(()));
        }

        #[ink::test]
        fn claim_with_insufficient_payment_fails_and_changes_nothing() {
            let mut f = december(PRICE);
            let cost = f.wallets[0].1.div_ceil(4);
            // No allowance.
            ledger::mint(payment(), relayer(), cost);
            assert_eq!(
                f.claim(0, relayer()),
                Err(Error::PaymentFailed(PSP22Error::InsufficientAllowance))
            );
            // Allowance but one unit short of balance.
            ledger::approve(payment(), relayer(), this(), cost);
            ledger::mint(payment(), stranger(), cost - 1);
            ledger::approve(payment(), stranger(), this(), cost);
            assert_eq!(
                f.claim(0, stranger()),
                Err(Error::PaymentFailed(PSP22Error::InsufficientBalance))
            );
            // Payment token broken.
            ledger::break_token(payment());
            assert_eq!(f.claim(0, relayer()), Err(Error::TokenCallFailed));
            assert!(!f.pool.is_claimed(DEC, f.wallets[0].0.address));
            assert_eq!(f.pool.month(DEC).unwrap().claimed, 0);
            assert_eq!(ledger::balance_of(reward(), beneficiary()), 0);
            assert_eq!(ledger::balance_of(payment(), treasury()), 0);
            assert!(events::<Claimed>().is_empty());
        }

        #[ink::test]
        fn claim_cannot_exceed_the_month_total() {
            // A (faulty) tree whose leaves sum above the total: the excess is refused, so other
            // months' funds stay safe.
            let mut f = december_with_extra(0, 1);
            assert_eq!(f.claim(0, relayer()), Ok(()));
            assert_eq!(f.claim(1, relayer()), Ok(()));
            assert_eq!(f.claim(2, relayer()), Err(Error::ClaimExceedsMonthTotal));
            assert_eq!(ledger::balance_of(reward(), beneficiary()), f.total);
        }

        #[ink::test]
        fn claim_with_reward_transfer_failure() {
            let mut f = december(0);
            ledger::break_token(reward());
            assert_eq!(f.claim(0, relayer()), Err(Error::TokenCallFailed));
            assert!(!f.pool.is_claimed(DEC, f.wallets[0].0.address));
        }

        // ---- batch claims --------------------------------------------------------------

        #[ink::test]
        fn batch_pays_every_good_claim_and_charges_the_sum_once() {
            let mut f = december_of(4, PRICE);
            let requests: Vec<ClaimRequest> = (0..4).map(|i| f.request(i, acc(0x40 + i as u8))).collect();
            let costs: Vec<Balance> = f.wallets.iter().map(|w| w.1.div_ceil(4)).collect();
            let total_cost: Balance = costs.iter().sum();
            fund_payer(relayer(), total_cost);
            let pool_before = ledger::balance_of(reward(), this());
            assert_eq!(f.batch(requests, relayer()), Ok(vec![Ok(()); 4]));
            for (i, (w, amount, _)) in f.wallets.iter().enumerate() {
                assert_eq!(ledger::balance_of(reward(), acc(0x40 + i as u8)), *amount);
                assert!(f.pool.is_claimed(DEC, w.address));
            }
            assert_eq!(ledger::balance_of(reward(), this()), pool_before - f.total);
            assert_eq!(ledger::balance_of(payment(), treasury()), total_cost);
            assert_eq!(ledger::balance_of(payment(), relayer()), 0);
            let info = f.pool.month(DEC).unwrap();
            assert_eq!((info.claimed, info.claims), (f.total, 4));
            // One event per claim, as for single claims, each with its own cost.
            let expected: Vec<Claimed> = f
                .wallets
                .iter()
                .enumerate()
                .map(|(i, (w, amount, _))| Claimed {
                    month_index: DEC,
                    wallet: w.address,
                    beneficiary: acc(0x40 + i as u8),
                    amount: *amount,
                    payer: relayer(),
                    cost: costs[i],
                })
                .collect();
            assert_eq!(events::<Claimed>(), expected);
            assert!(events::<ClaimSkipped>().is_empty());
        }

        #[ink::test]
        fn batch_skips_bad_items_and_pays_the_rest() {
            let mut f = december_of(6, 0);
            // Item 0 is claimed beforehand by a single claim.
            let first = f.request(0, beneficiary());
            set_caller(relayer());
            assert_eq!(
                f.pool.claim(
                    DEC,
                    first.wallet,
                    first.amount,
                    first.proof.clone(),
                    first.signature,
                    first.beneficiary
                ),
                Ok(())
            );
            let already = first;
            let mut bad_signature = f.request(1, beneficiary());
            bad_signature.signature[64] = 29;
            let mut wrong_signer = f.request(2, beneficiary());
            wrong_signer.signature = f.request(3, beneficiary()).signature;
            let mut bad_proof = f.request(3, beneficiary());
            bad_proof.proof[0][0] ^= 1;
            let mut zero = f.request(4, beneficiary());
            zero.amount = 0;
            let mut to_pool = f.request(4, this());
            to_pool.beneficiary = this();
            let good = f.request(5, acc(0x45));
            let results = f
                .batch(
                    vec![
                        already.clone(),
                        bad_signature,
                        good.clone(),
                        wrong_signer,
                        bad_proof,
                        zero,
                        to_pool,
                    ],
                    relayer(),
                )
                .unwrap();
            assert_eq!(
                results,
                vec![
                    Err(Error::AlreadyClaimed),
                    Err(Error::InvalidSignature),
                    Ok(()),
                    Err(Error::SignerMismatch),
                    Err(Error::InvalidProof),
                    Err(Error::ZeroAmount),
                    Err(Error::InvalidBeneficiary),
                ]
            );
            assert_eq!(ledger::balance_of(reward(), acc(0x45)), good.amount);
            for i in 1..5 {
                assert!(!f.pool.is_claimed(DEC, f.wallets[i].0.address), "item {i}");
            }
            let info = f.pool.month(DEC).unwrap();
            assert_eq!((info.claimed, info.claims), (already.amount + good.amount, 2));
            // The single claim and the batch's one good item.
            assert_eq!(events::<Claimed>().len(), 2);
            let skipped = events::<ClaimSkipped>();
            assert_eq!(
                skipped
                    .iter()
                    .map(|e| (e.index, e.reason.clone()))
                    .collect::<Vec<_>>(),
                vec![
                    (0, Error::AlreadyClaimed),
                    (1, Error::InvalidSignature),
                    (3, Error::SignerMismatch),
                    (4, Error::InvalidProof),
                    (5, Error::ZeroAmount),
                    (6, Error::InvalidBeneficiary),
                ]
            );
            assert_eq!((skipped[0].month_index, skipped[0].wallet), (DEC, already.wallet));
            // The skipped items are still claimable on their own.
            assert_eq!(f.claim(1, relayer()), Ok(()));
        }

        #[ink::test]
        fn batch_with_the_same_leaf_twice_pays_once() {
            let mut f = december(PRICE);
            let item = f.request(0, beneficiary());
            let cost = item.amount.div_ceil(4);
            // The payer could afford it twice: the contract, not the allowance, stops the second.
            fund_payer(relayer(), 2 * cost);
            // Even signed for another beneficiary, the wallet's leaf pays once.
            let other = f.request(0, acc(0x46));
            assert_eq!(
                f.batch(vec![item.clone(), item.clone(), other], relayer()),
                Ok(vec![
                    Ok(()),
                    Err(Error::AlreadyClaimed),
                    Err(Error::AlreadyClaimed)
                ])
            );
            assert_eq!(ledger::balance_of(reward(), beneficiary()), item.amount);
            assert_eq!(ledger::balance_of(reward(), acc(0x46)), 0);
            assert_eq!(ledger::balance_of(payment(), treasury()), cost);
            assert_eq!(ledger::balance_of(payment(), relayer()), cost);
            let info = f.pool.month(DEC).unwrap();
            assert_eq!((info.claimed, info.claims), (item.amount, 1));
            assert_eq!(events::<Claimed>().len(), 1);
            assert_eq!(events::<ClaimSkipped>().len(), 2);
        }

        #[ink::test]
        fn batch_cannot_exceed_the_month_total() {
            // The faulty tree overfilled by wallet 3's leaf: within one batch the excess is
            // refused as it is across single claims.
            let mut f = december_with_extra(0, 1);
            let requests = (0..3).map(|i| f.request(i, beneficiary())).collect();
            assert_eq!(
                f.batch(requests, relayer()),
                Ok(vec![Ok(()), Ok(()), Err(Error::ClaimExceedsMonthTotal)])
            );
            assert_eq!(ledger::balance_of(reward(), beneficiary()), f.total);
            assert_eq!(f.pool.month(DEC).unwrap().claimed, f.total);
        }

        #[ink::test]
        fn empty_too_large_and_paused_batches_are_refused_whole() {
            let mut f = december(0);
            assert_eq!(f.batch(vec![], relayer()), Err(Error::EmptyBatch));
            let item = f.request(0, beneficiary());
            let too_many = vec![item.clone(); MAX_CLAIM_BATCH as usize + 1];
            assert_eq!(
                f.batch(too_many, relayer()),
                Err(Error::BatchTooLarge {
                    maximum: MAX_CLAIM_BATCH
                })
            );
            // Exactly the maximum is taken (the copies are skipped as already claimed).
            let full = vec![item.clone(); MAX_CLAIM_BATCH as usize];
            let results = f.batch(full, relayer()).unwrap();
            assert_eq!(results.len(), MAX_CLAIM_BATCH as usize);
            assert_eq!(results[0], Ok(()));
            assert!(results[1..].iter().all(|r| *r == Err(Error::AlreadyClaimed)));
            set_caller(owner());
            assert_eq!(f.pool.pause(), Ok(()));
            let second = f.request(1, beneficiary());
            assert_eq!(f.batch(vec![second.clone()], relayer()), Err(Error::Paused));
            assert!(!f.pool.is_claimed(DEC, second.wallet));
            assert_eq!(events::<Claimed>().len(), 1);
        }

        #[ink::test]
        fn batch_items_outside_the_window_are_skipped() {
            let mut f = december(0);
            let items: Vec<ClaimRequest> = (0..2).map(|i| f.request(i, beneficiary())).collect();
            set_now(FEB_START);
            assert_eq!(
                f.batch(items.clone(), relayer()),
                Ok(vec![Err(Error::ClaimWindowClosed); 2])
            );
            // A month whose window is not open (January has not ended) and one whose window
            // closed before genesis (November), beside a good item.
            let mut january = items[0].clone();
            january.month_index = JAN;
            let mut november = items[0].clone();
            november.month_index = DEC - 1;
            test::set_block_timestamp::<Env>(FEB_START * 1000 - 1);
            assert_eq!(
                f.batch(vec![january, november, items[1].clone()], relayer()),
                Ok(vec![
                    Err(Error::ClaimWindowNotOpen),
                    Err(Error::ClaimWindowClosed),
                    Ok(())
                ])
            );
            assert_eq!(ledger::balance_of(reward(), beneficiary()), items[1].amount);
        }

        #[ink::test]
        fn batch_with_a_token_failure_fails_whole_and_changes_nothing() {
            let mut f = december(PRICE);
            let items: Vec<ClaimRequest> = (0..2).map(|i| f.request(i, beneficiary())).collect();
            let total_cost = f.wallets[0].1.div_ceil(4) + f.wallets[1].1.div_ceil(4);
            // The allowance covers one claim, not both: the batch's one payment fails.
            fund_payer(relayer(), total_cost);
            ledger::approve(payment(), relayer(), this(), total_cost - 1);
            assert_eq!(
                f.batch(items.clone(), relayer()),
                Err(Error::PaymentFailed(PSP22Error::InsufficientAllowance))
            );
            let unchanged = |f: &Fixture| {
                assert!(items.iter().all(|c| !f.pool.is_claimed(DEC, c.wallet)));
                let info = f.pool.month(DEC).unwrap();
                assert_eq!((info.claimed, info.claims), (0, 0));
                assert_eq!(ledger::balance_of(reward(), beneficiary()), 0);
                assert_eq!(ledger::balance_of(payment(), treasury()), 0);
            };
            unchanged(&f);
            // The reward token breaks: the payout fails, the batch with it.
            ledger::approve(payment(), relayer(), this(), total_cost);
            ledger::break_token(reward());
            assert_eq!(f.batch(items, relayer()), Err(Error::TokenCallFailed));
            assert!(events::<Claimed>().is_empty() && events::<ClaimSkipped>().is_empty());
            let info = f.pool.month(DEC).unwrap();
            assert_eq!((info.claimed, info.claims), (0, 0));
            assert!(!f.pool.is_claimed(DEC, f.wallets[0].0.address));
        }

        #[ink::test]
        fn claim_message_getter_matches_the_protocol() {
            let pool = setup();
            let w = wallet(1);
            let m = pool.claim_message(DEC, w.address, 1_000, beneficiary());
            let text = String::from_utf8(m).unwrap();
            let mut hex_wallet = String::new();
            for b in w.address {
                hex_wallet.push_str(&format!("{b:02x}"));
            }
            assert_eq!(
                text,
                format!(
                    "Flex reward claim\nchain: 0x{}\ncontract: 0x{}\nmonth: 24311 (2025-12)\nwallet: 0x{}\n\
                     amount: 1000\nbeneficiary: 0x{}",
                    "33".repeat(32),
                    "c0".repeat(32),
                    hex_wallet,
                    "32".repeat(32)
                )
            );
        }

        #[ink::test]
        fn rust_signing_matches_the_independent_js_vector() {
            // The same key and message as `claim_message::tests` (vectors/oz_vectors.js): RFC 6979
            // nonces make the signature deterministic, so Rust and JS must agree byte for byte.
            let key: [u8; 32] = [
                0x4c, 0x08, 0x83, 0xa6, 0x91, 0x02, 0x93, 0x7d, 0x62, 0x31, 0x47, 0x1b, 0x5d, 0xbb, 0x62,
                0x04, 0xfe, 0x51, 0x29, 0x61, 0x70, 0x82, 0x79, 0x2a, 0xe4, 0x68, 0xd0, 0x1a, 0x3f, 0x36,
                0x23, 0x18,
            ];
            let key = SecretKey::from_slice(&key).unwrap();
            let public = PublicKey::from_secret_key(SECP256K1, &key).serialize_uncompressed();
            let mut address = [0u8; 20];
            address.copy_from_slice(&merkle::keccak256(&public[1..])[12..]);
            let w = Wallet { key, address };
            let message =
                claim_message::claim_message(&[0x33; 32], &[0x11; 32], DEC, &[0xaa; 20], 1_000, &[0x22; 32]);
            let sig = sign(&w, &message);
            assert_eq!(sig[..4], [0xd4, 0x19, 0x0c, 0x49]);
            assert_eq!(sig[32..36], [0x4c, 0x9a, 0xe0, 0x90]);
            assert_eq!(sig[64], 27);
            assert_eq!(address[..4], [0x2c, 0x75, 0x36, 0xe3]);
            assert_eq!(claim_message::recover_signer(&message, &sig), Some(address));
        }

        // ---- sweep ---------------------------------------------------------------------

        #[ink::test]
        fn sweep_moves_the_unclaimed_rest_once_after_the_window() {
            let mut f = december(0);
            assert_eq!(f.claim(0, relayer()), Ok(()));
            let rest = f.total - f.wallets[0].1;
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Err(Error::SweepTooEarly));
            test::set_block_timestamp::<Env>(FEB_START * 1000 - 1);
            assert_eq!(f.pool.sweep(DEC), Err(Error::SweepTooEarly));
            set_now(FEB_START);
            assert_eq!(f.pool.sweep(DEC), Ok(rest));
            assert_eq!(ledger::balance_of(reward(), treasury()), rest);
            assert_eq!(f.pool.swept(DEC), Some(rest));
            assert_eq!(
                events::<Swept>(),
                vec![Swept {
                    month_index: DEC,
                    amount: rest,
                    treasury: treasury()
                }]
            );
            assert_eq!(f.pool.sweep(DEC), Err(Error::AlreadySwept));
            assert_eq!(ledger::balance_of(reward(), treasury()), rest);
            // The pool still holds exactly the unallocated balance.
            assert_eq!(ledger::balance_of(reward(), this()), f.pool.unallocated());
        }

        #[ink::test]
        fn sweep_without_a_month_root_and_incomplete_months() {
            let mut pool = funded();
            finalize_december(&mut pool);
            let distributed = pool.month_distributed(DEC);
            set_caller(stranger());
            assert_eq!(pool.sweep(DEC - 1), Err(Error::MonthBeforeGenesis));
            // January is not complete (no January epoch finalised) even after its window.
            set_now(FEB_START + 31 * DAY + 28 * DAY);
            assert_eq!(pool.sweep(JAN), Err(Error::MonthNotComplete));
            // December never got a root: everything its epochs distributed goes back.
            assert_eq!(pool.sweep(DEC), Ok(distributed));
            assert_eq!(ledger::balance_of(reward(), treasury()), distributed);
            // No root can be finalised any more.
            let r = MonthRoot {
                month_index: DEC,
                claims_root: [1; 32],
                total: distributed,
                claim_price: 0,
            };
            assert_eq!(vote_month(&mut pool, 0, &r), Err(Error::ClaimWindowClosed));
        }

        // ---- admin ---------------------------------------------------------------------

        #[ink::test]
        fn pause_stops_commits_claims_and_sweeps_but_not_deposits() {
            let mut f = december(0);
            set_caller(stranger());
            assert_eq!(f.pool.pause(), Err(Error::NotOwner));
            set_caller(owner());
            assert_eq!(f.pool.unpause(), Err(Error::NotPaused));
            assert_eq!(f.pool.pause(), Ok(()));
            assert_eq!(f.pool.pause(), Err(Error::Paused));
            assert!(f.pool.is_paused());
            assert_eq!(f.claim(0, relayer()), Err(Error::Paused));
            let c = commitment(&f.pool, 1, 1);
            after_epoch(c.epoch);
            assert_eq!(vote(&mut f.pool, 0, &c), Err(Error::Paused));
            set_caller(stranger());
            assert_eq!(f.pool.finalize_epoch(c.epoch), Err(Error::Paused));
            assert_eq!(f.pool.finalize_month(JAN), Err(Error::Paused));
            let r = MonthRoot {
                month_index: JAN,
                claims_root: [0; 32],
                total: 0,
                claim_price: 0,
            };
            assert_eq!(vote_month(&mut f.pool, 0, &r), Err(Error::Paused));
            set_now(FEB_START);
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Err(Error::Paused));
            deposit(&mut f.pool, 5);
            set_caller(stranger());
            assert_eq!(f.pool.unpause(), Err(Error::NotOwner));
            set_caller(owner());
            assert_eq!(f.pool.unpause(), Ok(()));
            assert_eq!(events::<Paused>(), vec![Paused { by: owner() }]);
            assert_eq!(events::<Unpaused>(), vec![Unpaused { by: owner() }]);
            // The pause covered the whole window (January): it is open again for 31 days.
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Err(Error::SweepTooEarly));
            set_now(FEB_START + 31 * DAY);
            assert!(f.pool.sweep(DEC).is_ok());
        }

        #[ink::test]
        fn ownership_is_two_step() {
            let mut pool = setup();
            let new_owner = acc(0x02);
            set_caller(stranger());
            assert_eq!(pool.transfer_ownership(stranger()), Err(Error::NotOwner));
            assert_eq!(pool.accept_ownership(), Err(Error::NotPendingOwner));
            set_caller(owner());
            assert_eq!(pool.transfer_ownership(new_owner), Ok(()));
            assert_eq!(pool.pending_owner(), Some(new_owner));
            // Pending is not owner yet.
            set_caller(new_owner);
            assert_eq!(pool.pause(), Err(Error::NotOwner));
            set_caller(stranger());
            assert_eq!(pool.accept_ownership(), Err(Error::NotPendingOwner));
            set_caller(new_owner);
            assert_eq!(pool.accept_ownership(), Ok(()));
            assert_eq!((pool.owner(), pool.pending_owner()), (new_owner, None));
            assert_eq!(pool.accept_ownership(), Err(Error::NotPendingOwner));
            set_caller(owner());
            assert_eq!(
                pool.announce(GovernanceAction::SetTreasury(owner())),
                Err(Error::NotOwner)
            );
            assert_eq!(
                events::<OwnershipTransferStarted>(),
                vec![OwnershipTransferStarted {
                    previous_owner: owner(),
                    new_owner
                }]
            );
            assert_eq!(
                events::<OwnershipTransferred>()[1],
                OwnershipTransferred {
                    previous_owner: Some(owner()),
                    new_owner
                }
            );
        }

        #[ink::test]
        fn treasury_change_is_time_locked_then_redirects_costs_and_sweeps() {
            let mut f = december(PRICE);
            let new_treasury = acc(0x7f);
            set_caller(stranger());
            assert_eq!(
                f.pool.announce(GovernanceAction::SetTreasury(new_treasury)),
                Err(Error::NotOwner)
            );
            set_caller(owner());
            assert_eq!(
                f.pool.announce(GovernanceAction::SetTreasury(this())),
                Err(Error::InvalidTreasury)
            );
            let id = f
                .pool
                .announce(GovernanceAction::SetTreasury(new_treasury))
                .unwrap();
            // Announced, not applied: costs still go to the old treasury.
            assert_eq!(f.pool.treasury(), treasury());
            fund_payer(relayer(), f.total);
            assert_eq!(f.claim(0, relayer()), Ok(()));
            assert_eq!(
                ledger::balance_of(payment(), treasury()),
                f.wallets[0].1.div_ceil(4)
            );
            set_now(now_secs() + DELAY);
            set_caller(owner());
            assert_eq!(f.pool.execute(id), Ok(()));
            assert_eq!(f.pool.treasury(), new_treasury);
            assert_eq!(
                events::<TreasuryChanged>(),
                vec![TreasuryChanged {
                    previous: treasury(),
                    new: new_treasury
                }]
            );
            assert_eq!(f.claim(1, relayer()), Ok(()));
            assert_eq!(
                ledger::balance_of(payment(), new_treasury),
                f.wallets[1].1.div_ceil(4)
            );
            set_now(FEB_START);
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Ok(0), "everything was claimed");
        }

        #[ink::test]
        fn keeper_management() {
            let mut pool = setup();
            set_caller(stranger());
            assert_eq!(
                pool.announce(GovernanceAction::AddKeeper(keeper(4))),
                Err(Error::NotOwner)
            );
            set_caller(owner());
            assert_eq!(
                pool.announce(GovernanceAction::AddKeeper(keeper(0))),
                Err(Error::KeeperAlreadyRegistered)
            );
            assert_eq!(
                pool.announce(GovernanceAction::RemoveKeeper(stranger())),
                Err(Error::KeeperNotRegistered)
            );
            govern(&mut pool, GovernanceAction::AddKeeper(keeper(4)));
            assert_eq!(
                events::<KeeperAdded>().last(),
                Some(&KeeperAdded {
                    keeper: keeper(4),
                    keepers: 5,
                    threshold: 4
                })
            );
            govern(&mut pool, GovernanceAction::RemoveKeeper(keeper(0)));
            assert_eq!(
                events::<KeeperRemoved>(),
                vec![KeeperRemoved {
                    keeper: keeper(0),
                    keepers: 4,
                    threshold: 3
                }]
            );
            assert_eq!(pool.keepers(), (1..5).map(keeper).collect::<Vec<_>>());
            // Down to one keeper (q = 1), but never to none.
            for k in 1..4 {
                govern(&mut pool, GovernanceAction::RemoveKeeper(keeper(k)));
            }
            assert_eq!(pool.threshold(), 1);
            assert_eq!(
                pool.announce(GovernanceAction::RemoveKeeper(keeper(4))),
                Err(Error::ThresholdUnreachable)
            );
            // At most MAX_KEEPERS.
            for b in 0..(MAX_KEEPERS as u8 - 1) {
                govern(&mut pool, GovernanceAction::AddKeeper(acc(0x80 + b)));
            }
            assert_eq!(
                pool.announce(GovernanceAction::AddKeeper(acc(0xff))),
                Err(Error::TooManyKeepers)
            );
        }

        #[ink::test]
        fn threshold_can_be_raised_never_lowered_below_bft() {
            let mut pool = funded();
            set_caller(owner());
            assert_eq!(
                pool.announce(GovernanceAction::SetMinThreshold(2)),
                Err(Error::ThresholdBelowBft { minimum: 3 })
            );
            assert_eq!(
                pool.announce(GovernanceAction::SetMinThreshold(5)),
                Err(Error::ThresholdUnreachable)
            );
            govern(&mut pool, GovernanceAction::SetMinThreshold(4));
            assert_eq!((pool.min_threshold(), pool.threshold()), (4, 4));
            assert_eq!(
                events::<ThresholdChanged>(),
                vec![ThresholdChanged {
                    min_threshold: 4,
                    threshold: 4
                }]
            );
            // Now all four are needed.
            let c = commitment(&pool, 10, 100);
            after_epoch(0);
            for k in 0..3 {
                assert_eq!(vote(&mut pool, k, &c), Ok(false));
            }
            assert_eq!(vote(&mut pool, 3, &c), Ok(true));
            // A keeper cannot be removed while the minimum needs all of them.
            set_caller(owner());
            assert_eq!(
                pool.announce(GovernanceAction::RemoveKeeper(keeper(0))),
                Err(Error::ThresholdUnreachable)
            );
            // Back to the BFT threshold is allowed (it is not below it), or to 0: BFT alone.
            govern(&mut pool, GovernanceAction::SetMinThreshold(3));
            govern(&mut pool, GovernanceAction::SetMinThreshold(0));
            govern(&mut pool, GovernanceAction::RemoveKeeper(keeper(0)));
            assert_eq!((pool.min_threshold(), pool.threshold()), (0, 3));
        }

        #[ink::test]
        fn governance_changes_wait_for_the_delay_and_expire() {
            let mut pool = setup();
            let t0 = now_secs() * 1000;
            set_caller(owner());
            let id = pool.announce(GovernanceAction::AddKeeper(keeper(4))).unwrap();
            let executable_at = t0 + DELAY * 1000;
            let expires_at = executable_at + GOVERNANCE_GRACE * 1000;
            let change = PendingChange {
                action: GovernanceAction::AddKeeper(keeper(4)),
                announced_at: t0,
                executable_at,
                expires_at,
            };
            assert_eq!(pool.pending_change(id), Some(change.clone()));
            assert_eq!(pool.pending_changes(), vec![(id, change)]);
            assert_eq!(
                events::<GovernanceAnnounced>(),
                vec![GovernanceAnnounced {
                    id,
                    action: GovernanceAction::AddKeeper(keeper(4)),
                    executable_at,
                    expires_at
                }]
            );
            // Nobody else executes or cancels; not before the delay, to the millisecond.
            set_caller(stranger());
            assert_eq!(pool.execute(id), Err(Error::NotOwner));
            assert_eq!(pool.cancel(id), Err(Error::NotOwner));
            set_caller(owner());
            assert_eq!(pool.execute(id), Err(Error::ChangeNotReady { executable_at }));
            test::set_block_timestamp::<Env>(executable_at - 1);
            assert_eq!(pool.execute(id), Err(Error::ChangeNotReady { executable_at }));
            assert!(!pool.is_keeper(keeper(4)));
            // Past the grace period it can only be cancelled.
            test::set_block_timestamp::<Env>(expires_at);
            assert_eq!(pool.execute(id), Err(Error::ChangeExpired));
            assert_eq!(pool.cancel(id), Ok(()));
            assert_eq!(pool.cancel(id), Err(Error::UnknownChange));
            assert_eq!(pool.execute(id), Err(Error::UnknownChange));
            assert_eq!(pool.pending_changes(), vec![]);
            assert_eq!(
                events::<GovernanceCancelled>(),
                vec![GovernanceCancelled {
                    id,
                    action: GovernanceAction::AddKeeper(keeper(4))
                }]
            );
            // A new announcement gets a new id; its last executable millisecond works.
            let id2 = pool.announce(GovernanceAction::AddKeeper(keeper(4))).unwrap();
            assert_eq!(id2, id + 1);
            let c = pool.pending_change(id2).unwrap();
            test::set_block_timestamp::<Env>(c.expires_at - 1);
            assert_eq!(pool.execute(id2), Ok(()));
            assert!(pool.is_keeper(keeper(4)));
            assert_eq!(pool.execute(id2), Err(Error::UnknownChange));
            assert_eq!(
                events::<GovernanceExecuted>(),
                vec![GovernanceExecuted {
                    id: id2,
                    action: GovernanceAction::AddKeeper(keeper(4))
                }]
            );
            assert_eq!(pool.pending_changes(), vec![]);
        }

        #[ink::test]
        fn stacked_changes_are_each_checked_when_executed() {
            let mut pool = setup();
            set_caller(owner());
            // Changes may stack; each waits for its own delay and is checked on execution.
            let add = pool.announce(GovernanceAction::AddKeeper(keeper(4))).unwrap();
            let add_again = pool.announce(GovernanceAction::AddKeeper(keeper(4))).unwrap();
            let removals: Vec<u64> = (0..3)
                .map(|k| pool.announce(GovernanceAction::RemoveKeeper(keeper(k))).unwrap())
                .collect();
            assert_eq!(pool.pending_changes().len(), 5);
            set_now(now_secs() + DELAY);
            assert_eq!(pool.execute(add), Ok(()));
            assert_eq!(pool.execute(add_again), Err(Error::KeeperAlreadyRegistered));
            // n = 5 -> 4 -> 3 -> 2: each removal keeps q reachable.
            for id in &removals {
                assert_eq!(pool.execute(*id), Ok(()));
            }
            assert_eq!(pool.keepers(), vec![keeper(3), keeper(4)]);
            // A refused execution leaves the change pending (it may become valid later).
            assert_eq!(pool.pending_changes().len(), 1);
            assert_eq!(pool.cancel(add_again), Ok(()));
            // At most MAX_PENDING_CHANGES at once.
            for i in 0..MAX_PENDING_CHANGES {
                assert!(pool
                    .announce(GovernanceAction::SetTreasury(acc(0x90 + i as u8)))
                    .is_ok());
            }
            assert_eq!(
                pool.announce(GovernanceAction::SetTreasury(acc(0xfe))),
                Err(Error::TooManyPendingChanges)
            );
        }

        /// The issue's attack: the owner adds its own key, removes the honest keepers and
        /// finalises a month root paying itself. Within the delay nothing of it takes effect;
        /// the honest keepers finalise the month and the wallets claim; the owner cancels.
        #[ink::test]
        fn owner_cannot_take_over_the_quorum_within_the_delay() {
            let mut pool = funded();
            finalize_december(&mut pool);
            let total = pool.month_distributed(DEC);
            set_caller(owner());
            let mut ids = vec![pool.announce(GovernanceAction::AddKeeper(owner())).unwrap()];
            for k in 0..4 {
                ids.push(pool.announce(GovernanceAction::RemoveKeeper(keeper(k))).unwrap());
            }
            for id in &ids {
                assert!(matches!(pool.execute(*id), Err(Error::ChangeNotReady { .. })));
            }
            assert_eq!(pool.keepers(), (0..4).map(keeper).collect::<Vec<_>>());
            // The owner's root paying itself the month is not a keeper's vote.
            let thief = wallet(9);
            let greedy = MonthRoot {
                month_index: DEC,
                claims_root: claim_leaf(DEC, &thief.address, total),
                total,
                claim_price: 0,
            };
            set_caller(owner());
            assert_eq!(pool.submit_month(greedy.clone()), Err(Error::NotKeeper));
            // A day later (still inside the delay): the same.
            set_now(now_secs() + DAY);
            for id in &ids {
                set_caller(owner());
                assert!(matches!(pool.execute(*id), Err(Error::ChangeNotReady { .. })));
            }
            assert_eq!(pool.submit_month(greedy), Err(Error::NotKeeper));
            // The honest quorum finalises the real root in the meantime.
            let w = wallet(1);
            let honest = MonthRoot {
                month_index: DEC,
                claims_root: claim_leaf(DEC, &w.address, total),
                total,
                claim_price: 0,
            };
            for k in 0..3 {
                assert_eq!(vote_month(&mut pool, k, &honest), Ok(k == 2));
            }
            let sig = sign(&w, &pool.claim_message(DEC, w.address, total, beneficiary()));
            set_caller(relayer());
            assert_eq!(
                pool.claim(DEC, w.address, total, vec![], sig, beneficiary()),
                Ok(())
            );
            assert_eq!(ledger::balance_of(reward(), beneficiary()), total);
            assert_eq!(ledger::balance_of(reward(), owner()), 0);
            // Everyone saw the announcements; the owner (a multisig) cancels them.
            assert_eq!(events::<GovernanceAnnounced>().len(), 5);
            set_caller(owner());
            for id in &ids {
                assert_eq!(pool.cancel(*id), Ok(()));
            }
            set_now(now_secs() + DELAY);
            assert_eq!(pool.execute(ids[0]), Err(Error::UnknownChange));
            assert!(!pool.is_keeper(owner()));
        }

        /// The issue's second attack: pause across the claim window, point the treasury at
        /// the owner, unpause after the window, sweep. The window is extended by the pause and
        /// the treasury change waits for the delay.
        #[ink::test]
        fn owner_cannot_sweep_a_month_to_itself_with_a_pause() {
            let mut f = december(0);
            set_caller(owner());
            assert_eq!(f.pool.pause(), Ok(()));
            let id = f.pool.announce(GovernanceAction::SetTreasury(owner())).unwrap();
            // Paused through the whole window; the treasury change executes as soon as its
            // delay has passed; unpaused on the 1st of the month after.
            set_now(JAN_START + DELAY);
            assert_eq!(f.pool.execute(id), Ok(()));
            set_now(FEB_START);
            assert_eq!(f.pool.unpause(), Ok(()));
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Err(Error::SweepTooEarly));
            // The window is open again for its full length: January's 31 days.
            assert_eq!(f.pool.claim_window(DEC), Some((JAN_START, FEB_START + 31 * DAY)));
            assert_eq!(f.claim(0, relayer()), Ok(()));
            assert_eq!(f.claim(1, relayer()), Ok(()));
            assert_eq!(ledger::balance_of(reward(), beneficiary()), f.total);
            set_now(FEB_START + 31 * DAY);
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Ok(0));
            assert_eq!(ledger::balance_of(reward(), owner()), 0);
        }

        // ---- pauses and claim windows ----------------------------------------------------

        /// Pauses the pool from `from` to `to` (unix seconds) as the owner.
        fn pause_between(pool: &mut RewardPool, from: u64, to: u64) {
            set_now(from);
            set_caller(owner());
            assert_eq!(pool.pause(), Ok(()));
            set_now(to);
            set_caller(owner());
            assert_eq!(pool.unpause(), Ok(()));
        }

        #[ink::test]
        fn a_pause_inside_the_window_extends_it_by_its_length() {
            let mut f = december(0);
            // Three days paused inside January.
            pause_between(&mut f.pool, JAN_START + 10 * DAY, JAN_START + 13 * DAY);
            let close = FEB_START + 3 * DAY;
            assert_eq!(f.pool.claim_window(DEC), Some((JAN_START, close)));
            assert_eq!(
                f.pool.pauses(),
                vec![PauseRecord {
                    start: (JAN_START + 10 * DAY) * 1000,
                    end: Some((JAN_START + 13 * DAY) * 1000),
                    paused_before: 0
                }]
            );
            // Sweep: too early to the last millisecond, then allowed; claims the reverse.
            test::set_block_timestamp::<Env>(close * 1000 - 1);
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Err(Error::SweepTooEarly));
            assert_eq!(f.claim(0, relayer()), Ok(()));
            set_now(close);
            assert_eq!(f.claim(1, relayer()), Err(Error::ClaimWindowClosed));
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Ok(f.wallets[1].1));
        }

        #[ink::test]
        fn pauses_outside_the_window_do_not_move_it() {
            let mut f = december(0);
            // Before the window opens (December) and after it closed.
            let mut pool = funded();
            pause_between(&mut pool, GENESIS + DAY, GENESIS + 2 * DAY);
            assert_eq!(pool.claim_window(DEC), Some((JAN_START, FEB_START)));
            // A pause starting exactly at the close does not extend the window.
            pause_between(&mut f.pool, FEB_START, FEB_START + 5 * DAY);
            assert_eq!(f.pool.claim_window(DEC), Some((JAN_START, FEB_START)));
            set_caller(stranger());
            assert!(f.pool.sweep(DEC).is_ok());
        }

        #[ink::test]
        fn window_opening_during_a_pause_starts_at_the_unpause() {
            let mut f = december(0);
            // December's root is final; paused from Dec 31 to Jan 5, then again Jan 20-22.
            pause_between(&mut f.pool, JAN_START - DAY, JAN_START + 4 * DAY);
            pause_between(&mut f.pool, JAN_START + 19 * DAY, JAN_START + 21 * DAY);
            // Paused in the window: 4 + 2 days.
            let close = FEB_START + 6 * DAY;
            assert_eq!(f.pool.claim_window(DEC), Some((JAN_START, close)));
            // January's own window (February) is moved by neither.
            assert_eq!(f.pool.claim_window(JAN), Some((FEB_START, FEB_START + 28 * DAY)));
            test::set_block_timestamp::<Env>(close * 1000 - 1);
            assert_eq!(f.claim(0, relayer()), Ok(()));
            set_now(close);
            assert_eq!(f.claim(1, relayer()), Err(Error::ClaimWindowClosed));
            assert_eq!(
                f.pool.pauses()[1].paused_before,
                5 * DAY * 1000,
                "the first pause lasted five days"
            );
        }

        #[ink::test]
        fn a_pause_spanning_a_close_reopens_the_rest_of_the_window() {
            let mut f = december(0);
            // Paused two days before the close until two days after: two days remain.
            set_now(FEB_START - 2 * DAY);
            set_caller(owner());
            assert_eq!(f.pool.pause(), Ok(()));
            set_now(FEB_START + 2 * DAY);
            // While paused, the getter assumes the pause ends now; claims and sweeps wait.
            assert_eq!(f.pool.claim_window(DEC), Some((JAN_START, FEB_START + 4 * DAY)));
            assert_eq!(f.claim(0, relayer()), Err(Error::Paused));
            set_caller(owner());
            assert_eq!(f.pool.unpause(), Ok(()));
            // Month roots are still accepted inside the extended window too.
            assert_eq!(f.claim(0, relayer()), Ok(()));
            set_now(FEB_START + 4 * DAY);
            assert_eq!(f.claim(1, relayer()), Err(Error::ClaimWindowClosed));
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Ok(f.wallets[1].1));
        }

        #[ink::test]
        fn month_root_voting_follows_the_extended_window() {
            let mut pool = funded();
            finalize_december(&mut pool);
            pause_between(&mut pool, JAN_START + DAY, JAN_START + 2 * DAY);
            let r = MonthRoot {
                month_index: DEC,
                claims_root: [1; 32],
                total: pool.month_distributed(DEC),
                claim_price: 0,
            };
            set_now(FEB_START + DAY);
            assert_eq!(vote_month(&mut pool, 0, &r), Err(Error::ClaimWindowClosed));
            test::set_block_timestamp::<Env>((FEB_START + DAY) * 1000 - 1);
            assert_eq!(vote_month(&mut pool, 0, &r), Ok(false));
        }

        // ---- the pool's own account ------------------------------------------------------

        #[ink::test]
        fn the_pool_is_never_the_beneficiary() {
            let mut f = december(0);
            let (w, amount, proof) = &f.wallets[0];
            let (address, amount, proof) = (w.address, *amount, proof.clone());
            let sig = sign(
                &f.wallets[0].0,
                &f.pool.claim_message(DEC, address, amount, this()),
            );
            set_caller(relayer());
            assert_eq!(
                f.pool.claim(DEC, address, amount, proof, sig, this()),
                Err(Error::InvalidBeneficiary)
            );
            assert!(!f.pool.is_claimed(DEC, address));
            assert_eq!(f.pool.month(DEC).unwrap().claimed, 0);
        }

        #[ink::test]
        fn a_treasury_paying_its_own_claim_cost_is_a_no_op_as_on_the_real_token() {
            // The real token's transfer_from(x, x, ..) succeeds without any check: the treasury
            // submitting a claim pays itself, needing neither allowance nor balance.
            let mut f = december(PRICE);
            assert_eq!(f.claim(0, treasury()), Ok(()));
            assert_eq!(events::<Claimed>()[0].cost, f.wallets[0].1.div_ceil(4));
            assert_eq!(ledger::balance_of(payment(), treasury()), 0);
        }

        #[ink::test]
        fn sweep_failure_changes_nothing() {
            let mut f = december(0);
            set_now(FEB_START);
            ledger::break_token(reward());
            set_caller(stranger());
            assert_eq!(f.pool.sweep(DEC), Err(Error::TokenCallFailed));
            assert_eq!(f.pool.swept(DEC), None);
            assert!(events::<Swept>().is_empty());
        }

        #[ink::test]
        fn claim_failure_after_the_payment_changes_nothing() {
            // The cost is paid, then the reward transfer fails: the claim is undone (on chain
            // the Err reverts the payment too).
            let mut f = december(0);
            ledger::break_token(reward());
            assert_eq!(f.claim(0, relayer()), Err(Error::TokenCallFailed));
            assert!(!f.pool.is_claimed(DEC, f.wallets[0].0.address));
            let info = f.pool.month(DEC).unwrap();
            assert_eq!((info.claimed, info.claims), (0, 0));
        }

        #[ink::test]
        fn bft_threshold_values() {
            let q: Vec<u32> = (1..=10).map(bft_threshold).collect();
            assert_eq!(q, vec![1, 2, 3, 3, 4, 5, 5, 6, 7, 7]);
        }
    }
}
