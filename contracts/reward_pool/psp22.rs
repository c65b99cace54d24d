//! The two PSP22 calls the pool makes, behind a minimal seam.
//!
//! On chain (`not(test)`) they are real cross-contract calls built with `build_call`. The
//! off-chain `#[ink::test]` environment cannot execute cross-contract calls, so under `cfg(test)`
//! the same two functions move balances in an in-test ledger ([`ledger`]) that tests configure and
//! inspect. The end-to-end devnet test exercises the real calls.

use ink::primitives::AccountId;

pub use error::PSP22Error;

// A module only so that this `allow` covers the SCALE derive's generated code:
// parity-scale-codec-derive 3.7 casts the index of a variant with fields `as u8` without allowing
// `cast_possible_truncation`, which ink!'s build denies (the index is a literal below 256).
#[allow(clippy::cast_possible_truncation)]
mod error {
    use ink::prelude::string::String;

    /// The PSP22 standard's error, variant order as in the standard (SCALE indexes 0..=5).
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[ink::scale_derive(Encode, Decode, TypeInfo)]
    pub enum PSP22Error {
        Custom(String),
        InsufficientBalance,
        InsufficientAllowance,
        ZeroRecipientAddress,
        ZeroSenderAddress,
        SafeTransferCheckFailed(String),
    }
}

/// Why a token call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The token returned `Err`.
    Token(PSP22Error),
    /// The call itself failed: the callee trapped, is not a contract, or does not know the
    /// selector.
    Call,
}

#[cfg(not(test))]
mod imp {
    use super::{AccountId, CallError, PSP22Error};
    use ink::env::call::{build_call, ExecutionInput, Selector};
    use ink::env::DefaultEnvironment;
    use ink::prelude::vec::Vec;

    fn finish(
        result: Result<ink::MessageResult<Result<(), PSP22Error>>, ink::env::Error>,
    ) -> Result<(), CallError> {
        match result {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(CallError::Token(e)),
            Ok(Err(_)) | Err(_) => Err(CallError::Call),
        }
    }

    /// `PSP22::transfer(to, value, [])` from this contract's balance.
    pub fn transfer(token: AccountId, to: AccountId, value: u128) -> Result<(), CallError> {
        finish(
            build_call::<DefaultEnvironment>()
                .call(token)
                .exec_input(
                    ExecutionInput::new(Selector::new(ink::selector_bytes!("PSP22::transfer")))
                        .push_arg(to)
                        .push_arg(value)
                        .push_arg(Vec::<u8>::new()),
                )
                .returns::<Result<(), PSP22Error>>()
                .try_invoke(),
        )
    }

    /// `PSP22::transfer_from(from, to, value, [])`, spending this contract's allowance.
    pub fn transfer_from(
        token: AccountId,
        from: AccountId,
        to: AccountId,
        value: u128,
    ) -> Result<(), CallError> {
        finish(
            build_call::<DefaultEnvironment>()
                .call(token)
                .exec_input(
                    ExecutionInput::new(Selector::new(ink::selector_bytes!("PSP22::transfer_from")))
                        .push_arg(from)
                        .push_arg(to)
                        .push_arg(value)
                        .push_arg(Vec::<u8>::new()),
                )
                .returns::<Result<(), PSP22Error>>()
                .try_invoke(),
        )
    }
}

#[cfg(test)]
mod imp {
    use super::{ledger, AccountId, CallError};

    fn this() -> AccountId {
        ink::env::account_id::<ink::env::DefaultEnvironment>()
    }

    pub fn transfer(token: AccountId, to: AccountId, value: u128) -> Result<(), CallError> {
        ledger::transfer(token, this(), this(), to, value)
    }

    pub fn transfer_from(
        token: AccountId,
        from: AccountId,
        to: AccountId,
        value: u128,
    ) -> Result<(), CallError> {
        ledger::transfer(token, this(), from, to, value)
    }
}

pub use imp::{transfer, transfer_from};

/// The in-test token ledger: balances and allowances per token, with the semantics of the
/// project's PSP22 token (`contracts/token`): allowance checked before balance; a zero amount or
/// a transfer to the sender itself succeeds and changes nothing, with no check at all; the
/// owner moving its own tokens needs no allowance.
#[cfg(test)]
pub mod ledger {
    use super::{AccountId, CallError, PSP22Error};
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Ledger {
        balances: BTreeMap<(AccountId, AccountId), u128>,
        allowances: BTreeMap<(AccountId, AccountId, AccountId), u128>,
        /// Tokens whose calls fail as if the callee trapped.
        broken: Vec<AccountId>,
    }

    thread_local! {
        static LEDGER: RefCell<Ledger> = RefCell::new(Ledger::default());
    }

    pub fn reset() {
        LEDGER.with(|l| *l.borrow_mut() = Ledger::default());
    }

    pub fn mint(token: AccountId, to: AccountId, value: u128) {
        LEDGER.with(|l| *l.borrow_mut().balances.entry((token, to)).or_default() += value);
    }

    pub fn approve(token: AccountId, owner: AccountId, spender: AccountId, value: u128) {
        LEDGER.with(|l| l.borrow_mut().allowances.insert((token, owner, spender), value));
    }

    pub fn balance_of(token: AccountId, who: AccountId) -> u128 {
        LEDGER.with(|l| l.borrow().balances.get(&(token, who)).copied().unwrap_or(0))
    }

    pub fn allowance(token: AccountId, owner: AccountId, spender: AccountId) -> u128 {
        LEDGER.with(|l| {
            l.borrow()
                .allowances
                .get(&(token, owner, spender))
                .copied()
                .unwrap_or(0)
        })
    }

    pub fn break_token(token: AccountId) {
        LEDGER.with(|l| l.borrow_mut().broken.push(token));
    }

    /// Moves `value` of `token` from `from` to `to` on behalf of `spender` (an allowance is
    /// needed unless the spender is the owner).
    pub(super) fn transfer(
        token: AccountId,
        spender: AccountId,
        from: AccountId,
        to: AccountId,
        value: u128,
    ) -> Result<(), CallError> {
        LEDGER.with(|l| {
            let mut l = l.borrow_mut();
            if l.broken.contains(&token) {
                return Err(CallError::Call);
            }
            if value == 0 || from == to {
                return Ok(());
            }
            let allowance = l.allowances.get(&(token, from, spender)).copied().unwrap_or(0);
            if spender != from && allowance < value {
                return Err(CallError::Token(PSP22Error::InsufficientAllowance));
            }
            let balance = l.balances.get(&(token, from)).copied().unwrap_or(0);
            if balance < value {
                return Err(CallError::Token(PSP22Error::InsufficientBalance));
            }
            if spender != from {
                l.allowances.insert((token, from, spender), allowance - value);
            }
            l.balances.insert((token, from), balance - value);
            *l.balances.entry((token, to)).or_default() += value;
            Ok(())
        })
    }
}
