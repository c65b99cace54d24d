//! # Flex token: a PSP22 fungible token with owner minting
//!
//! One contract, deployed twice: once for FLEXE (the reward token) and once for the
//! payment token.
//!
//! The interface follows the PSP22 standard
//! (<https://github.com/w3f/PSPs/blob/master/PSPs/psp-22.md>, reference implementation
//! Cardinal-Cryptography/PSP22 for ink! 5): the trait names are exactly `PSP22` and
//! `PSP22Metadata`, so every message selector is `blake2b_256("PSP22::<method>")[..4]`
//! (`PSP22Metadata::<method>` for the metadata), the error enum [`PSP22Error`] has the
//! standard variant order (it crosses contract boundaries SCALE-encoded), and the events
//! `Transfer` and `Approval` have the standard fields, field types and topics, hence the
//! standard signature topics.
//!
//! On top of the standard: [`token::Token::mint`] (owner only) and [`token::Token::owner`].
//!
//! ## Decisions where the standard leaves room
//!
//! - `transfer` / `transfer_from` with `value == 0`, or with sender == recipient, succeed
//!   and change nothing: no storage write, no event, no allowance spent, and no balance or
//!   allowance check.
//! - `transfer_from` called by `from` itself is a plain `transfer`: it needs no allowance,
//!   spends none and emits no `Approval`.
//! - `transfer_from` by a third party: when both the allowance and the balance are too
//!   small, `InsufficientAllowance` wins (the standard's order). On success it emits
//!   `Approval` with the *remaining* allowance first, then `Transfer`. An allowance of
//!   `u128::MAX` is not "infinite": it is decreased like any other.
//! - `approve` to oneself is a no-op (`Ok`, no event). `approve(spender, 0)` clears the
//!   allowance and emits `Approval { amount: 0 }`.
//! - `increase_allowance` saturates at `u128::MAX` instead of failing; zero delta or
//!   oneself as spender is a no-op (`Ok`, no event).
//! - `decrease_allowance` below zero fails with `InsufficientAllowance` and changes
//!   nothing; zero delta or oneself as spender is a no-op.
//! - The `data` argument of `transfer`/`transfer_from` is accepted and ignored.
//! - There is no zero-address check (the standard deprecates `ZeroRecipientAddress` and
//!   `ZeroSenderAddress`), no receiver callback (`SafeTransferCheckFailed` is never
//!   returned), and this contract never returns `PSP22Error::Custom`.
//! - Balances and allowances that reach zero are removed from storage.
//! - The constructor mints `initial_supply` to the caller and, when it is non-zero, emits
//!   `Transfer { from: None, to: Some(caller), value }` like any other mint, so an indexer
//!   sees the whole supply arrive through `Transfer` events.
//! - Owner-only messages return their own error type, [`TokenError`], rather than
//!   `PSP22Error::Custom(String)`: the failure is a matchable variant (`NotOwner`,
//!   `Overflow`), not a string to compare. The owner is the instantiating account and
//!   cannot change. The owner check comes first: a non-owner gets `NotOwner` even for a
//!   zero or overflowing amount. Minting zero is a no-op (`Ok`, no event).
//! - No burn, no pause, no ownership transfer.
//!
//! ## Event topics (ink! 5, for off-chain filters)
//!
//! Topic 0 is the signature topic:
//! `blake2b_256("Transfer(Option<AccountId>,Option<AccountId>,u128)")` or
//! `blake2b_256("Approval(AccountId,AccountId,u128)")`. A field topic is the value's
//! SCALE encoding zero-padded to 32 bytes (hashed with Blake2x256 only when longer); for
//! an `Option` field ink! uses the inner value, so `Some(account)` is the raw 32-byte
//! account id and `None` is 32 zero bytes.
//!
//! Other contracts can call this one through `ink::contract_ref!(flex_token::PSP22)` with
//! the crate as an `ink-as-dependency` dependency; [`PSP22`], [`PSP22Metadata`],
//! [`PSP22Error`] and [`TokenError`] live at the crate root for that.
#![cfg_attr(not(feature = "std"), no_std, no_main)]

use ink::prelude::{string::String, vec::Vec};
use ink::primitives::AccountId;

pub use errors::{PSP22Error, TokenError};

/// The error types. `parity-scale-codec-derive` 3.7 encodes enum variant indexes with `as u8`
/// casts that clippy attributes to this file, and cargo-contract denies
/// `cast_possible_truncation`; the allow is scoped to these derives.
mod errors {
    #![allow(clippy::cast_possible_truncation)]
    use ink::prelude::string::String;

    /// Errors of the PSP22 messages, exactly as in the PSP22 standard (variant order matters:
    /// it is the SCALE encoding other contracts decode).
    #[derive(Debug, PartialEq, Eq, Clone, scale::Encode, scale::Decode)]
    #[cfg_attr(feature = "std", derive(scale_info::TypeInfo))]
    pub enum PSP22Error {
        /// Custom error type for implementation-based errors (never returned by this contract).
        Custom(String),
        /// The account does not have enough tokens to complete the operation.
        InsufficientBalance,
        /// There is not enough allowance to complete the operation.
        InsufficientAllowance,
        /// The recipient's address is zero (deprecated in the standard; never returned here).
        ZeroRecipientAddress,
        /// The sender's address is zero (deprecated in the standard; never returned here).
        ZeroSenderAddress,
        /// A safe transfer check failed (deprecated in the standard; never returned here).
        SafeTransferCheckFailed(String),
    }

    /// Errors of the owner-only messages (not part of PSP22).
    #[derive(Debug, PartialEq, Eq, Clone, Copy, scale::Encode, scale::Decode)]
    #[cfg_attr(feature = "std", derive(scale_info::TypeInfo))]
    pub enum TokenError {
        /// The caller is not the owner (the account that instantiated the contract).
        NotOwner,
        /// The total supply would exceed `u128::MAX`.
        Overflow,
    }
}

/// The PSP22 fungible token interface. The trait name is part of every selector:
/// `blake2b_256("PSP22::<method>")[..4]`.
#[ink::trait_definition]
pub trait PSP22 {
    /// Returns the total token supply.
    #[ink(message)]
    fn total_supply(&self) -> u128;

    /// Returns the balance of `owner` (`0` for an unknown account).
    #[ink(message)]
    fn balance_of(&self, owner: AccountId) -> u128;

    /// Returns how much `spender` may still withdraw from `owner` (`0` if none).
    #[ink(message)]
    fn allowance(&self, owner: AccountId, spender: AccountId) -> u128;

    /// Transfers `value` tokens from the caller to `to`; `data` is ignored.
    ///
    /// Emits `Transfer`. No-op (`Ok`, no event) if `to` is the caller or `value` is zero.
    ///
    /// # Errors
    /// `InsufficientBalance` if `value` exceeds the caller's balance.
    #[ink(message)]
    fn transfer(&mut self, to: AccountId, value: u128, data: Vec<u8>) -> Result<(), PSP22Error>;

    /// Transfers `value` tokens from `from` to `to` using the allowance `from` granted to
    /// the caller; `data` is ignored.
    ///
    /// Emits `Approval` (the remaining allowance) and `Transfer`. No-op if `from == to` or
    /// `value` is zero. If the caller is `from`, behaves exactly like `transfer`.
    ///
    /// # Errors
    /// `InsufficientAllowance` if `value` exceeds the allowance (checked first), then
    /// `InsufficientBalance` if `value` exceeds the balance of `from`.
    #[ink(message)]
    fn transfer_from(
        &mut self,
        from: AccountId,
        to: AccountId,
        value: u128,
        data: Vec<u8>,
    ) -> Result<(), PSP22Error>;

    /// Sets the allowance of `spender` over the caller's tokens to `value`, overwriting it.
    ///
    /// Emits `Approval`. No-op if `spender` is the caller.
    #[ink(message)]
    fn approve(&mut self, spender: AccountId, value: u128) -> Result<(), PSP22Error>;

    /// Increases the allowance of `spender` by `delta_value` (saturating at `u128::MAX`).
    ///
    /// Emits `Approval` with the new amount. No-op if `spender` is the caller or
    /// `delta_value` is zero.
    #[ink(message)]
    fn increase_allowance(&mut self, spender: AccountId, delta_value: u128) -> Result<(), PSP22Error>;

    /// Decreases the allowance of `spender` by `delta_value`.
    ///
    /// Emits `Approval` with the new amount. No-op if `spender` is the caller or
    /// `delta_value` is zero.
    ///
    /// # Errors
    /// `InsufficientAllowance` if `delta_value` exceeds the current allowance.
    #[ink(message)]
    fn decrease_allowance(&mut self, spender: AccountId, delta_value: u128) -> Result<(), PSP22Error>;
}

/// The optional PSP22 metadata extension: `blake2b_256("PSP22Metadata::<method>")[..4]`.
#[ink::trait_definition]
pub trait PSP22Metadata {
    /// Returns the token name.
    #[ink(message)]
    fn token_name(&self) -> Option<String>;

    /// Returns the token symbol.
    #[ink(message)]
    fn token_symbol(&self) -> Option<String>;

    /// Returns the number of decimals of the token's base unit.
    #[ink(message)]
    fn token_decimals(&self) -> u8;
}

#[ink::contract]
pub mod token {
    use super::{PSP22Error, PSP22Metadata, TokenError, PSP22};
    use ink::prelude::{string::String, vec::Vec};
    use ink::storage::Mapping;

    /// Tokens moved, minted (`from: None`) or burned (`to: None`; never emitted here).
    #[ink(event)]
    pub struct Transfer {
        #[ink(topic)]
        pub from: Option<AccountId>,
        #[ink(topic)]
        pub to: Option<AccountId>,
        pub value: u128,
    }

    /// The allowance of `spender` over `owner`'s tokens is now `amount`.
    #[ink(event)]
    pub struct Approval {
        #[ink(topic)]
        pub owner: AccountId,
        #[ink(topic)]
        pub spender: AccountId,
        pub amount: u128,
    }

    #[ink(storage)]
    pub struct Token {
        /// The account that instantiated the contract; the only one allowed to mint.
        owner: AccountId,
        total_supply: u128,
        /// Non-zero balances only.
        balances: Mapping<AccountId, u128>,
        /// `(owner, spender) -> allowance`, non-zero allowances only.
        allowances: Mapping<(AccountId, AccountId), u128>,
        name: Option<String>,
        symbol: Option<String>,
        decimals: u8,
    }

    impl Token {
        /// Creates the token with `initial_supply` minted to the caller, who becomes the
        /// owner. Emits `Transfer { from: None, to: Some(caller), value: initial_supply }`
        /// unless the supply is zero.
        #[ink(constructor)]
        pub fn new(initial_supply: u128, name: Option<String>, symbol: Option<String>, decimals: u8) -> Self {
            let caller = Self::env().caller();
            let mut token = Self {
                owner: caller,
                total_supply: 0,
                balances: Mapping::default(),
                allowances: Mapping::default(),
                name,
                symbol,
                decimals,
            };
            // Cannot overflow: the supply starts at zero.
            token.mint_unchecked(caller, initial_supply);
            token
        }

        /// Mints `value` new tokens to `to`. Owner only.
        ///
        /// Emits `Transfer { from: None, to: Some(to), value }`. Minting zero is a no-op.
        ///
        /// # Errors
        /// `NotOwner` if the caller is not the owner (checked first); `Overflow` if the
        /// total supply would exceed `u128::MAX` (nothing changes).
        #[ink(message)]
        pub fn mint(&mut self, to: AccountId, value: u128) -> Result<(), TokenError> {
            if self.env().caller() != self.owner {
                return Err(TokenError::NotOwner);
            }
            if self.total_supply.checked_add(value).is_none() {
                return Err(TokenError::Overflow);
            }
            self.mint_unchecked(to, value);
            Ok(())
        }

        /// The owner: the account that instantiated the contract.
        #[ink(message)]
        pub fn owner(&self) -> AccountId {
            self.owner
        }

        /// Adds `value` to the supply and to `to`'s balance; the caller has checked that
        /// the supply does not overflow (then no balance can either).
        fn mint_unchecked(&mut self, to: AccountId, value: u128) {
            if value == 0 {
                return;
            }
            self.total_supply = self.total_supply.saturating_add(value);
            let balance = self.balance_of(to).saturating_add(value);
            self.balances.insert(to, &balance);
            self.env().emit_event(Transfer {
                from: None,
                to: Some(to),
                value,
            });
        }

        /// Moves `value` from `from` to `to` (distinct accounts, `value > 0`) and emits
        /// `Transfer`.
        fn move_tokens(&mut self, from: AccountId, to: AccountId, value: u128) -> Result<(), PSP22Error> {
            let from_balance = self.balance_of(from);
            let rest = from_balance
                .checked_sub(value)
                .ok_or(PSP22Error::InsufficientBalance)?;
            self.set_balance(from, rest);
            // Cannot overflow: the sum of all balances is the total supply, a u128.
            let to_balance = self.balance_of(to).saturating_add(value);
            self.set_balance(to, to_balance);
            self.env().emit_event(Transfer {
                from: Some(from),
                to: Some(to),
                value,
            });
            Ok(())
        }

        fn set_balance(&mut self, account: AccountId, value: u128) {
            if value == 0 {
                self.balances.remove(account);
            } else {
                self.balances.insert(account, &value);
            }
        }

        /// Stores the allowance and emits `Approval` with it.
        fn set_allowance(&mut self, owner: AccountId, spender: AccountId, amount: u128) {
            if amount == 0 {
                self.allowances.remove((owner, spender));
            } else {
                self.allowances.insert((owner, spender), &amount);
            }
            self.env().emit_event(Approval {
                owner,
                spender,
                amount,
            });
        }
    }

    impl PSP22 for Token {
        #[ink(message)]
        fn total_supply(&self) -> u128 {
            self.total_supply
        }

        #[ink(message)]
        fn balance_of(&self, owner: AccountId) -> u128 {
            self.balances.get(owner).unwrap_or_default()
        }

        #[ink(message)]
        fn allowance(&self, owner: AccountId, spender: AccountId) -> u128 {
            self.allowances.get((owner, spender)).unwrap_or_default()
        }

        #[ink(message)]
        fn transfer(&mut self, to: AccountId, value: u128, _data: Vec<u8>) -> Result<(), PSP22Error> {
            let caller = self.env().caller();
            if caller == to || value == 0 {
                return Ok(());
            }
            self.move_tokens(caller, to, value)
        }

        #[ink(message)]
        fn transfer_from(
            &mut self,
            from: AccountId,
            to: AccountId,
            value: u128,
            _data: Vec<u8>,
        ) -> Result<(), PSP22Error> {
            if from == to || value == 0 {
                return Ok(());
            }
            let caller = self.env().caller();
            if caller == from {
                return self.move_tokens(from, to, value);
            }
            let remaining = self
                .allowance(from, caller)
                .checked_sub(value)
                .ok_or(PSP22Error::InsufficientAllowance)?;
            if self.balance_of(from) < value {
                return Err(PSP22Error::InsufficientBalance);
            }
            self.set_allowance(from, caller, remaining);
            self.move_tokens(from, to, value)
        }

        #[ink(message)]
        fn approve(&mut self, spender: AccountId, value: u128) -> Result<(), PSP22Error> {
            let owner = self.env().caller();
            if owner == spender {
                return Ok(());
            }
            self.set_allowance(owner, spender, value);
            Ok(())
        }

        #[ink(message)]
        fn increase_allowance(&mut self, spender: AccountId, delta_value: u128) -> Result<(), PSP22Error> {
            let owner = self.env().caller();
            if owner == spender || delta_value == 0 {
                return Ok(());
            }
            let amount = self.allowance(owner, spender).saturating_add(delta_value);
            self.set_allowance(owner, spender, amount);
            Ok(())
        }

        #[ink(message)]
        fn decrease_allowance(&mut self, spender: AccountId, delta_value: u128) -> Result<(), PSP22Error> {
            let owner = self.env().caller();
            if owner == spender || delta_value == 0 {
                return Ok(());
            }
            let amount = self
                .allowance(owner, spender)
                .checked_sub(delta_value)
                .ok_or(PSP22Error::InsufficientAllowance)?;
            self.set_allowance(owner, spender, amount);
            Ok(())
        }
    }

    impl PSP22Metadata for Token {
        #[ink(message)]
        fn token_name(&self) -> Option<String> {
            self.name.clone()
        }

        #[ink(message)]
        fn token_symbol(&self) -> Option<String> {
            self.symbol.clone()
        }

        #[ink(message)]
        fn token_decimals(&self) -> u8 {
            self.decimals
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use ink::env::hash::{Blake2x256, CryptoHash, HashOutput};
        use ink::env::test::{self, DefaultAccounts, EmittedEvent};
        use ink::env::{DefaultEnvironment, Event as _};
        use scale::{Decode, Encode};

        const SUPPLY: u128 = 1_000;

        fn accounts() -> DefaultAccounts<DefaultEnvironment> {
            test::default_accounts::<DefaultEnvironment>()
        }

        fn set_caller(account: AccountId) {
            test::set_caller::<DefaultEnvironment>(account);
        }

        /// A token with `SUPPLY` held by alice, its owner. The constructor's `Transfer`
        /// is the first recorded event; tests skip it with [`events_since`].
        fn token() -> Token {
            set_caller(accounts().alice);
            Token::new(SUPPLY, Some("Flex".into()), Some("FLEXE".into()), 12)
        }

        fn events() -> Vec<EmittedEvent> {
            test::recorded_events().collect()
        }

        /// Events recorded after the first `skip` ones.
        fn events_since(skip: usize) -> Vec<EmittedEvent> {
            events().into_iter().skip(skip).collect()
        }

        /// A field topic as ink! 5 computes it (the same on chain and off chain): the
        /// SCALE encoding zero-padded to 32 bytes, or its Blake2x256 hash when longer.
        /// An `Option` topic is that of the inner value, and `None` is 32 zero bytes
        /// (ink! pushes `0u8` for it), so `Some(account)` gives the raw account id.
        fn topic<T: Encode>(value: Option<&T>) -> Vec<u8> {
            let encoded = value.map_or_else(|| 0u8.encode(), Encode::encode);
            if encoded.len() <= 32 {
                let mut out = encoded;
                out.resize(32, 0);
                out
            } else {
                blake2_256(&encoded).to_vec()
            }
        }

        fn blake2_256(bytes: &[u8]) -> [u8; 32] {
            let mut out = <Blake2x256 as HashOutput>::Type::default();
            <Blake2x256 as CryptoHash>::hash(bytes, &mut out);
            out
        }

        fn assert_transfer(
            event: &EmittedEvent,
            from: Option<AccountId>,
            to: Option<AccountId>,
            value: u128,
        ) {
            let signature = Transfer::SIGNATURE_TOPIC.expect("Transfer is not anonymous");
            assert_eq!(event.topics.len(), 3, "Transfer has signature + 2 topics");
            assert_eq!(event.topics[0], signature.to_vec(), "not a Transfer event");
            assert_eq!(event.topics[1], topic(from.as_ref()), "from topic");
            assert_eq!(event.topics[2], topic(to.as_ref()), "to topic");
            let decoded = Transfer::decode(&mut &event.data[..]).expect("decodes as Transfer");
            assert_eq!(decoded.from, from, "from");
            assert_eq!(decoded.to, to, "to");
            assert_eq!(decoded.value, value, "value");
        }

        fn assert_approval(event: &EmittedEvent, owner: AccountId, spender: AccountId, amount: u128) {
            let signature = Approval::SIGNATURE_TOPIC.expect("Approval is not anonymous");
            assert_eq!(event.topics.len(), 3, "Approval has signature + 2 topics");
            assert_eq!(event.topics[0], signature.to_vec(), "not an Approval event");
            assert_eq!(event.topics[1], topic(Some(&owner)), "owner topic");
            assert_eq!(event.topics[2], topic(Some(&spender)), "spender topic");
            let decoded = Approval::decode(&mut &event.data[..]).expect("decodes as Approval");
            assert_eq!(decoded.owner, owner, "owner");
            assert_eq!(decoded.spender, spender, "spender");
            assert_eq!(decoded.amount, amount, "amount");
        }

        // ---- interface: selectors, signature topics, error encoding ----

        #[test]
        fn event_signature_topics_are_the_standard_ones() {
            assert_eq!(
                Transfer::SIGNATURE_TOPIC,
                Some(blake2_256(b"Transfer(Option<AccountId>,Option<AccountId>,u128)"))
            );
            assert_eq!(
                Approval::SIGNATURE_TOPIC,
                Some(blake2_256(b"Approval(AccountId,AccountId,u128)"))
            );
        }

        #[test]
        fn psp22_error_encoding_is_the_standard_one() {
            assert_eq!(PSP22Error::Custom("x".into()).encode(), vec![0, 4, b'x']);
            assert_eq!(PSP22Error::InsufficientBalance.encode(), vec![1]);
            assert_eq!(PSP22Error::InsufficientAllowance.encode(), vec![2]);
            assert_eq!(PSP22Error::ZeroRecipientAddress.encode(), vec![3]);
            assert_eq!(PSP22Error::ZeroSenderAddress.encode(), vec![4]);
            assert_eq!(
                PSP22Error::SafeTransferCheckFailed(String::new()).encode(),
                vec![5, 0]
            );
            assert_eq!(TokenError::NotOwner.encode(), vec![0]);
            assert_eq!(TokenError::Overflow.encode(), vec![1]);
        }

        // ---- constructor, getters, metadata ----

        #[ink::test]
        fn new_mints_initial_supply_to_caller_and_emits_transfer() {
            let acc = accounts();
            let token = token();
            assert_eq!(token.total_supply(), SUPPLY);
            assert_eq!(token.balance_of(acc.alice), SUPPLY);
            assert_eq!(token.balance_of(acc.bob), 0);
            assert_eq!(token.allowance(acc.alice, acc.bob), 0);
            assert_eq!(token.owner(), acc.alice);
            let events = events();
            assert_eq!(events.len(), 1);
            assert_transfer(&events[0], None, Some(acc.alice), SUPPLY);
        }

        #[ink::test]
        fn new_with_zero_supply_emits_nothing() {
            set_caller(accounts().bob);
            let token = Token::new(0, None, None, 0);
            assert_eq!(token.total_supply(), 0);
            assert_eq!(token.balance_of(accounts().bob), 0);
            assert_eq!(token.owner(), accounts().bob);
            assert!(events().is_empty());
        }

        #[ink::test]
        fn new_with_max_supply() {
            set_caller(accounts().alice);
            let token = Token::new(u128::MAX, None, None, 0);
            assert_eq!(token.total_supply(), u128::MAX);
            assert_eq!(token.balance_of(accounts().alice), u128::MAX);
        }

        #[ink::test]
        fn metadata_is_returned() {
            let token = token();
            assert_eq!(token.token_name(), Some("Flex".into()));
            assert_eq!(token.token_symbol(), Some("FLEXE".into()));
            assert_eq!(token.token_decimals(), 12);
            set_caller(accounts().alice);
            let bare = Token::new(0, None, None, 0);
            assert_eq!(bare.token_name(), None);
            assert_eq!(bare.token_symbol(), None);
            assert_eq!(bare.token_decimals(), 0);
        }

        // ---- transfer ----

        #[ink::test]
        fn transfer_moves_tokens_and_emits_transfer() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.transfer(acc.bob, 300, vec![1, 2, 3]), Ok(()));
            assert_eq!(token.balance_of(acc.alice), 700);
            assert_eq!(token.balance_of(acc.bob), 300);
            assert_eq!(token.total_supply(), SUPPLY);
            let events = events_since(1);
            assert_eq!(events.len(), 1);
            assert_transfer(&events[0], Some(acc.alice), Some(acc.bob), 300);
        }

        #[ink::test]
        fn transfer_of_whole_balance_empties_sender() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.transfer(acc.bob, SUPPLY, vec![]), Ok(()));
            assert_eq!(token.balance_of(acc.alice), 0);
            assert_eq!(token.balance_of(acc.bob), SUPPLY);
            assert_eq!(token.balances.get(acc.alice), None, "zero balance is removed");
        }

        #[ink::test]
        fn transfer_insufficient_balance_fails_and_changes_nothing() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(
                token.transfer(acc.bob, SUPPLY + 1, vec![]),
                Err(PSP22Error::InsufficientBalance)
            );
            set_caller(acc.bob);
            assert_eq!(
                token.transfer(acc.charlie, 1, vec![]),
                Err(PSP22Error::InsufficientBalance)
            );
            assert_eq!(token.balance_of(acc.alice), SUPPLY);
            assert_eq!(token.balance_of(acc.bob), 0);
            assert_eq!(token.balance_of(acc.charlie), 0);
            assert!(events_since(1).is_empty());
        }

        #[ink::test]
        fn transfer_of_zero_is_a_silent_no_op() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.transfer(acc.bob, 0, vec![]), Ok(()));
            // Even from an account with no balance.
            set_caller(acc.bob);
            assert_eq!(token.transfer(acc.charlie, 0, vec![]), Ok(()));
            assert_eq!(token.balance_of(acc.alice), SUPPLY);
            assert!(events_since(1).is_empty());
        }

        #[ink::test]
        fn transfer_to_self_is_a_silent_no_op() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.transfer(acc.alice, 10, vec![]), Ok(()));
            // Even above the balance: no check is made.
            assert_eq!(token.transfer(acc.alice, SUPPLY + 1, vec![]), Ok(()));
            assert_eq!(token.balance_of(acc.alice), SUPPLY);
            assert!(events_since(1).is_empty());
        }

        // ---- approve / allowance ----

        #[ink::test]
        fn approve_sets_and_overwrites_allowance_and_emits_approval() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, 50), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), 50);
            assert_eq!(token.allowance(acc.bob, acc.alice), 0, "allowance is directed");
            assert_eq!(token.approve(acc.bob, 20), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), 20);
            let events = events_since(1);
            assert_eq!(events.len(), 2);
            assert_approval(&events[0], acc.alice, acc.bob, 50);
            assert_approval(&events[1], acc.alice, acc.bob, 20);
        }

        #[ink::test]
        fn approve_zero_clears_allowance_and_emits_approval() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, 50), Ok(()));
            assert_eq!(token.approve(acc.bob, 0), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), 0);
            assert_eq!(token.allowances.get((acc.alice, acc.bob)), None);
            let events = events_since(1);
            assert_eq!(events.len(), 2);
            assert_approval(&events[1], acc.alice, acc.bob, 0);
        }

        #[ink::test]
        fn approve_above_balance_is_allowed() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, u128::MAX), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), u128::MAX);
        }

        #[ink::test]
        fn approve_self_is_a_silent_no_op() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.alice, 50), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.alice), 0);
            assert!(events_since(1).is_empty());
        }

        // ---- transfer_from ----

        #[ink::test]
        fn transfer_from_spends_allowance_and_emits_approval_then_transfer() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, 100), Ok(()));
            set_caller(acc.bob);
            assert_eq!(token.transfer_from(acc.alice, acc.charlie, 60, vec![9]), Ok(()));
            assert_eq!(token.balance_of(acc.alice), SUPPLY - 60);
            assert_eq!(token.balance_of(acc.charlie), 60);
            assert_eq!(token.balance_of(acc.bob), 0);
            assert_eq!(token.allowance(acc.alice, acc.bob), 40);
            let events = events_since(2);
            assert_eq!(events.len(), 2);
            assert_approval(&events[0], acc.alice, acc.bob, 40);
            assert_transfer(&events[1], Some(acc.alice), Some(acc.charlie), 60);
        }

        #[ink::test]
        fn transfer_from_whole_allowance_clears_it() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, 100), Ok(()));
            set_caller(acc.bob);
            assert_eq!(token.transfer_from(acc.alice, acc.bob, 100, vec![]), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), 0);
            assert_eq!(token.allowances.get((acc.alice, acc.bob)), None);
            assert_eq!(token.balance_of(acc.bob), 100);
            let events = events_since(2);
            assert_approval(&events[0], acc.alice, acc.bob, 0);
            assert_transfer(&events[1], Some(acc.alice), Some(acc.bob), 100);
        }

        #[ink::test]
        fn transfer_from_max_allowance_is_decreased_too() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, u128::MAX), Ok(()));
            set_caller(acc.bob);
            assert_eq!(token.transfer_from(acc.alice, acc.bob, 1, vec![]), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), u128::MAX - 1);
        }

        #[ink::test]
        fn transfer_from_insufficient_allowance_fails_and_changes_nothing() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, 10), Ok(()));
            set_caller(acc.bob);
            assert_eq!(
                token.transfer_from(acc.alice, acc.charlie, 11, vec![]),
                Err(PSP22Error::InsufficientAllowance)
            );
            // No allowance at all.
            set_caller(acc.charlie);
            assert_eq!(
                token.transfer_from(acc.alice, acc.charlie, 1, vec![]),
                Err(PSP22Error::InsufficientAllowance)
            );
            assert_eq!(token.allowance(acc.alice, acc.bob), 10);
            assert_eq!(token.balance_of(acc.alice), SUPPLY);
            assert_eq!(token.balance_of(acc.charlie), 0);
            assert_eq!(events_since(2).len(), 0);
        }

        #[ink::test]
        fn transfer_from_insufficient_balance_fails_and_changes_nothing() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, SUPPLY + 10), Ok(()));
            set_caller(acc.bob);
            assert_eq!(
                token.transfer_from(acc.alice, acc.charlie, SUPPLY + 1, vec![]),
                Err(PSP22Error::InsufficientBalance)
            );
            assert_eq!(token.allowance(acc.alice, acc.bob), SUPPLY + 10);
            assert_eq!(token.balance_of(acc.alice), SUPPLY);
            assert_eq!(token.balance_of(acc.charlie), 0);
            assert_eq!(events_since(2).len(), 0);
        }

        #[ink::test]
        fn transfer_from_reports_allowance_before_balance() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, 5), Ok(()));
            set_caller(acc.bob);
            assert_eq!(
                token.transfer_from(acc.alice, acc.charlie, SUPPLY + 1, vec![]),
                Err(PSP22Error::InsufficientAllowance)
            );
        }

        #[ink::test]
        fn transfer_from_by_owner_of_funds_is_a_plain_transfer() {
            let acc = accounts();
            let mut token = token();
            // No allowance needed, none spent, no Approval event.
            assert_eq!(token.transfer_from(acc.alice, acc.bob, 70, vec![]), Ok(()));
            assert_eq!(token.balance_of(acc.bob), 70);
            assert_eq!(token.allowance(acc.alice, acc.alice), 0);
            let events = events_since(1);
            assert_eq!(events.len(), 1);
            assert_transfer(&events[0], Some(acc.alice), Some(acc.bob), 70);
            // And it still checks the balance.
            assert_eq!(
                token.transfer_from(acc.alice, acc.bob, SUPPLY, vec![]),
                Err(PSP22Error::InsufficientBalance)
            );
        }

        #[ink::test]
        fn transfer_from_of_zero_is_a_silent_no_op() {
            let acc = accounts();
            let mut token = token();
            set_caller(acc.bob);
            // No allowance, yet Ok: nothing moves.
            assert_eq!(token.transfer_from(acc.alice, acc.charlie, 0, vec![]), Ok(()));
            assert_eq!(token.balance_of(acc.alice), SUPPLY);
            assert!(events_since(1).is_empty());
        }

        #[ink::test]
        fn transfer_from_to_same_account_is_a_silent_no_op() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, 10), Ok(()));
            set_caller(acc.bob);
            assert_eq!(token.transfer_from(acc.alice, acc.alice, 5, vec![]), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), 10, "allowance not spent");
            assert_eq!(token.balance_of(acc.alice), SUPPLY);
            assert!(events_since(2).is_empty());
        }

        // ---- increase_allowance ----

        #[ink::test]
        fn increase_allowance_adds_and_emits_new_amount() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.increase_allowance(acc.bob, 30), Ok(()));
            assert_eq!(token.increase_allowance(acc.bob, 12), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), 42);
            let events = events_since(1);
            assert_eq!(events.len(), 2);
            assert_approval(&events[0], acc.alice, acc.bob, 30);
            assert_approval(&events[1], acc.alice, acc.bob, 42);
        }

        #[ink::test]
        fn increase_allowance_saturates_at_max() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, u128::MAX - 1), Ok(()));
            assert_eq!(token.increase_allowance(acc.bob, 5), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), u128::MAX);
            let events = events_since(1);
            assert_approval(&events[1], acc.alice, acc.bob, u128::MAX);
        }

        #[ink::test]
        fn increase_allowance_by_zero_or_for_self_is_a_silent_no_op() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.increase_allowance(acc.bob, 0), Ok(()));
            assert_eq!(token.increase_allowance(acc.alice, 10), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), 0);
            assert_eq!(token.allowance(acc.alice, acc.alice), 0);
            assert!(events_since(1).is_empty());
        }

        // ---- decrease_allowance ----

        #[ink::test]
        fn decrease_allowance_subtracts_and_emits_new_amount() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, 50), Ok(()));
            assert_eq!(token.decrease_allowance(acc.bob, 20), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), 30);
            assert_eq!(token.decrease_allowance(acc.bob, 30), Ok(()));
            assert_eq!(token.allowance(acc.alice, acc.bob), 0);
            assert_eq!(token.allowances.get((acc.alice, acc.bob)), None);
            let events = events_since(2);
            assert_eq!(events.len(), 2);
            assert_approval(&events[0], acc.alice, acc.bob, 30);
            assert_approval(&events[1], acc.alice, acc.bob, 0);
        }

        #[ink::test]
        fn decrease_allowance_below_zero_fails_and_changes_nothing() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.approve(acc.bob, 10), Ok(()));
            assert_eq!(
                token.decrease_allowance(acc.bob, 11),
                Err(PSP22Error::InsufficientAllowance)
            );
            assert_eq!(
                token.decrease_allowance(acc.charlie, 1),
                Err(PSP22Error::InsufficientAllowance)
            );
            assert_eq!(token.allowance(acc.alice, acc.bob), 10);
            assert!(events_since(2).is_empty());
        }

        #[ink::test]
        fn decrease_allowance_by_zero_or_for_self_is_a_silent_no_op() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.decrease_allowance(acc.bob, 0), Ok(()));
            // For oneself not even the (absent) allowance is checked.
            assert_eq!(token.decrease_allowance(acc.alice, 10), Ok(()));
            assert!(events_since(1).is_empty());
        }

        // ---- mint / owner ----

        #[ink::test]
        fn owner_mints_to_anyone_and_emits_transfer_from_none() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.mint(acc.bob, 500), Ok(()));
            assert_eq!(token.mint(acc.alice, 1), Ok(()));
            assert_eq!(token.total_supply(), SUPPLY + 501);
            assert_eq!(token.balance_of(acc.bob), 500);
            assert_eq!(token.balance_of(acc.alice), SUPPLY + 1);
            let events = events_since(1);
            assert_eq!(events.len(), 2);
            assert_transfer(&events[0], None, Some(acc.bob), 500);
            assert_transfer(&events[1], None, Some(acc.alice), 1);
        }

        #[ink::test]
        fn mint_by_non_owner_fails_and_changes_nothing() {
            let acc = accounts();
            let mut token = token();
            set_caller(acc.bob);
            assert_eq!(token.mint(acc.bob, 500), Err(TokenError::NotOwner));
            // The owner check comes before the zero and overflow checks.
            assert_eq!(token.mint(acc.bob, 0), Err(TokenError::NotOwner));
            assert_eq!(token.mint(acc.bob, u128::MAX), Err(TokenError::NotOwner));
            assert_eq!(token.total_supply(), SUPPLY);
            assert_eq!(token.balance_of(acc.bob), 0);
            assert_eq!(token.owner(), acc.alice);
            assert!(events_since(1).is_empty());
        }

        #[ink::test]
        fn mint_overflowing_total_supply_fails_and_changes_nothing() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(
                token.mint(acc.bob, u128::MAX - SUPPLY + 1),
                Err(TokenError::Overflow)
            );
            assert_eq!(token.total_supply(), SUPPLY);
            assert_eq!(token.balance_of(acc.bob), 0);
            assert!(events_since(1).is_empty());
            // Up to exactly u128::MAX is fine.
            assert_eq!(token.mint(acc.bob, u128::MAX - SUPPLY), Ok(()));
            assert_eq!(token.total_supply(), u128::MAX);
            assert_eq!(token.mint(acc.alice, 1), Err(TokenError::Overflow));
            assert_eq!(token.balance_of(acc.alice), SUPPLY);
        }

        #[ink::test]
        fn mint_of_zero_is_a_silent_no_op() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.mint(acc.bob, 0), Ok(()));
            assert_eq!(token.total_supply(), SUPPLY);
            assert!(events_since(1).is_empty());
        }

        #[ink::test]
        fn minted_tokens_are_transferable() {
            let acc = accounts();
            let mut token = token();
            assert_eq!(token.mint(acc.bob, 5), Ok(()));
            set_caller(acc.bob);
            assert_eq!(token.transfer(acc.charlie, 5, vec![]), Ok(()));
            assert_eq!(token.balance_of(acc.charlie), 5);
            assert_eq!(token.total_supply(), SUPPLY + 5);
        }
    }
}

/// Checks the ABI that other contracts and the keeper rely on, from the same metadata that
/// cargo-contract writes to `flex_token.json`. It lives outside the `#[ink::contract]`
/// module, which rejects identifiers starting with `__ink_`.
#[cfg(test)]
mod abi_tests {
    use crate::token::{Approval, Transfer};
    use ink::env::hash::{Blake2x256, CryptoHash, HashOutput};
    use ink::env::Event as _;

    fn blake2_256(bytes: &[u8]) -> [u8; 32] {
        let mut out = <Blake2x256 as HashOutput>::Type::default();
        <Blake2x256 as CryptoHash>::hash(bytes, &mut out);
        out
    }

    #[test]
    fn selectors_are_the_standard_ones() {
        extern "Rust" {
            // Defined by `#[ink::contract]` (with `std`); cargo-contract calls the
            // same function to write the `.json` metadata.
            fn __ink_generate_metadata() -> ink::metadata::InkProject;
        }
        // SAFETY: the symbol is generated in this crate with exactly this signature.
        let project = unsafe { __ink_generate_metadata() };
        let spec = project.spec();
        let selector = |label: &str| blake2_256(label.as_bytes())[..4].to_vec();

        let constructors: Vec<_> = spec
            .constructors()
            .iter()
            .map(|c| (c.label().clone(), c.selector().to_bytes().to_vec()))
            .collect();
        assert_eq!(constructors, vec![("new".to_string(), selector("new"))]);

        let mut messages: Vec<_> = spec
            .messages()
            .iter()
            .map(|m| (m.label().clone(), m.selector().to_bytes().to_vec()))
            .collect();
        messages.sort();
        let mut expected: Vec<_> = [
            "PSP22::total_supply",
            "PSP22::balance_of",
            "PSP22::allowance",
            "PSP22::transfer",
            "PSP22::transfer_from",
            "PSP22::approve",
            "PSP22::increase_allowance",
            "PSP22::decrease_allowance",
            "PSP22Metadata::token_name",
            "PSP22Metadata::token_symbol",
            "PSP22Metadata::token_decimals",
            "mint",
            "owner",
        ]
        .iter()
        .map(|label| (label.to_string(), selector(label)))
        .collect();
        expected.sort();
        assert_eq!(messages, expected);
        // Two well-known values, as a check on the hashing above.
        assert_eq!(selector("PSP22::transfer"), [0xdb, 0x20, 0xf9, 0xf5]);
        assert_eq!(selector("PSP22::transfer_from"), [0x54, 0xb3, 0xc7, 0x6e]);

        let events: Vec<_> = spec
            .events()
            .iter()
            .map(|e| {
                (
                    e.label().clone(),
                    e.signature_topic().map(|t| t.as_bytes().to_vec()),
                )
            })
            .collect();
        assert_eq!(events.len(), 2);
        for (label, topic) in events {
            let expected = match label.as_str() {
                "Transfer" => Transfer::SIGNATURE_TOPIC,
                "Approval" => Approval::SIGNATURE_TOPIC,
                other => panic!("unexpected event {other}"),
            };
            assert_eq!(topic, expected.map(|t| t.to_vec()), "{label}");
        }
    }
}
