//! A typed client of the reward pool over `flex-chain`: read-only queries (dry runs from the
//! signer's account) and votes/calls submitted and followed to finalisation.

use codec::{Decode, Encode};
use flex_chain::scale_value::{Value, ValueDef};
use flex_chain::{AccountId32, Chain, ChainError, ContractBundle, Keypair};

use crate::types::{ClaimRequest, EpochInfo, EpochPreview, EpochVotes, MonthInfo, MonthVotes, PendingChange};

/// A failed contract call: the contract's error by name, or the chain's.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{message} was refused by the contract: {error}")]
    Contract { message: String, error: String },
    /// The call passed its dry run, was included in a finalized block and failed there (the
    /// state changed in between, e.g. another keeper's vote finalised the epoch): it changed
    /// nothing. The chain is reachable.
    #[error("{message} failed in finalized block {block}: {error}")]
    FailedInBlock {
        message: String,
        block: String,
        error: String,
    },
    #[error("{message}: {source}")]
    Chain {
        message: String,
        #[source]
        source: ChainError,
    },
    #[error("unknown message {0} in the contract bundle")]
    Bundle(String),
}

impl CallError {
    /// The contract error's name, if the contract refused.
    pub fn contract_error(&self) -> Option<&str> {
        match self {
            CallError::Contract { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// One item of a `claim_batch`: paid (`Ok`), or skipped with the contract error's name.
pub type ItemOutcome = Result<(), String>;

/// A finalised `claim_batch`.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub block: String,
    /// Each item's outcome, in item order, as the block's `Claimed`/`ClaimSkipped` events say.
    pub items: Vec<ItemOutcome>,
    /// The transaction fee the submitter paid.
    pub fee: u128,
}

/// The outcome of a finalised vote.
#[derive(Debug, Clone)]
pub struct Vote {
    /// The vote finalised the commitment.
    pub finalized: bool,
    pub block: String,
}

/// The reward pool at `address`, called as `signer`.
#[derive(Clone)]
pub struct PoolClient {
    pub chain: Chain,
    pub bundle: ContractBundle,
    pub address: AccountId32,
    pub signer: Keypair,
}

impl std::fmt::Debug for PoolClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PoolClient(0x{})",
            flex_types::hex::encode_digits(self.address.0)
        )
    }
}

impl PoolClient {
    pub fn me(&self) -> AccountId32 {
        flex_chain::account_of(&self.signer)
    }

    fn data(&self, message: &str, args: impl Encode) -> Result<Vec<u8>, CallError> {
        let mut data = self
            .bundle
            .message(message)
            .map_err(|_| CallError::Bundle(message.to_string()))?
            .to_vec();
        args.encode_to(&mut data);
        Ok(data)
    }

    fn error_name(&self, output: &[u8]) -> String {
        self.bundle
            .error_variant("Error", output)
            .unwrap_or_else(|| format!("undecodable error 0x{}", flex_types::hex::encode_digits(output)))
    }

    /// A read-only message (a dry run from the keeper's account).
    pub async fn query<T: Decode>(&self, message: &str, args: impl Encode) -> Result<T, CallError> {
        let data = self.data(message, args)?;
        self.chain
            .query(&self.me(), &self.address, &data)
            .await
            .map_err(|source| CallError::Chain {
                message: message.to_string(),
                source,
            })
    }

    /// Calls a state-changing message returning `Result<bool, Error>` (`submit_epoch`,
    /// `submit_month`): dry run, submit, wait for finalisation.
    pub async fn vote(&self, message: &str, args: impl Encode) -> Result<Vote, CallError> {
        let data = self.data(message, args)?;
        match self.chain.call(&self.signer, &self.address, 0, &data).await {
            Ok(outcome) => {
                let finalized = matches!(outcome.dry_run.output.as_slice(), [0, 0, 1]);
                Ok(Vote {
                    finalized,
                    block: format!("{:?}", outcome.block_hash),
                })
            }
            Err(ChainError::Reverted { output, .. }) => Err(CallError::Contract {
                message: message.to_string(),
                error: self.error_name(&output),
            }),
            Err(ChainError::Dispatch { block, error, .. }) => Err(CallError::FailedInBlock {
                message: message.to_string(),
                block: format!("{block:?}"),
                error,
            }),
            Err(source) => Err(CallError::Chain {
                message: message.to_string(),
                source,
            }),
        }
    }

    /// Any other call returning `Result<_, Error>`.
    pub async fn call(&self, message: &str, args: impl Encode) -> Result<String, CallError> {
        self.vote(message, args).await.map(|v| v.block)
    }

    /// `claim_batch`'s call data.
    pub fn claim_batch_data(&self, claims: &[ClaimRequest]) -> Result<Vec<u8>, CallError> {
        self.data("claim_batch", claims)
    }

    /// Each item's outcome from `claim_batch`'s output (a dry run's): `Ok(Ok(items))`. A refused
    /// batch (`Ok(Err(e))`) is [`CallError::Contract`] naming `e`.
    pub fn claim_batch_results(&self, output: &[u8], items: usize) -> Result<Vec<ItemOutcome>, CallError> {
        let bad = |what: String| CallError::Chain {
            message: "claim_batch".into(),
            source: ChainError::Missing(what),
        };
        let value = self
            .bundle
            .decode_output("claim_batch", output)
            .map_err(|e| bad(e.to_string()))?;
        let inner = match variant(&value) {
            Some(("Ok", Some(inner))) => inner,
            _ => return Err(bad(format!("the contract could not read the call: {value}"))),
        };
        let list = match variant(inner) {
            Some(("Ok", Some(list))) => list,
            Some(("Err", Some(e))) => {
                return Err(CallError::Contract {
                    message: "claim_batch".into(),
                    error: variant(e).map_or_else(|| e.to_string(), |(name, _)| name.to_string()),
                })
            }
            _ => return Err(bad(format!("unexpected output {inner}"))),
        };
        let ValueDef::Composite(list) = &list.value else {
            return Err(bad(format!("not a list of results: {list}")));
        };
        let results: Vec<ItemOutcome> = list
            .values()
            .map(|r| match variant(r) {
                Some(("Ok", _)) => Ok(Ok(())),
                Some(("Err", Some(e))) => Ok(Err(
                    variant(e).map_or_else(|| e.to_string(), |(name, _)| name.to_string())
                )),
                _ => Err(bad(format!("not a result: {r}"))),
            })
            .collect::<Result<_, _>>()?;
        if results.len() != items {
            return Err(bad(format!("{} results for {items} claims", results.len())));
        }
        Ok(results)
    }

    /// Each item's outcome from a finalised `claim_batch`'s events: the pool emits one `Claimed`
    /// or `ClaimSkipped` per item, in item order.
    pub fn claim_batch_events(
        &self,
        events: &[flex_chain::ContractEvent],
        items: usize,
    ) -> Result<Vec<ItemOutcome>, CallError> {
        let bad = |what: String| CallError::Chain {
            message: "claim_batch".into(),
            source: ChainError::Missing(what),
        };
        let topic = |label: &str| {
            self.bundle
                .event_topic(label)
                .map_err(|_| CallError::Bundle(label.to_string()))
        };
        let (claimed, skipped) = (topic("Claimed")?, topic("ClaimSkipped")?);
        let decoder =
            flex_chain::InkEventDecoder::new(&self.bundle, "ClaimSkipped").map_err(|e| bad(e.to_string()))?;
        let mut out = Vec::with_capacity(items);
        for ev in events.iter().filter(|e| e.contract == self.address) {
            match ev.topics.first() {
                Some(t) if *t == claimed => out.push(Ok(())),
                Some(t) if *t == skipped => {
                    let reason = decoder
                        .field(&ev.data, "reason")
                        .map_err(|e| bad(e.to_string()))?;
                    out.push(Err(
                        variant(&reason).map_or_else(|| reason.to_string(), |(name, _)| name.to_string())
                    ));
                }
                _ => {}
            }
        }
        if out.len() != items {
            return Err(bad(format!(
                "{} Claimed/ClaimSkipped events for {items} claims",
                out.len()
            )));
        }
        Ok(out)
    }

    /// Each item's outcome if `claim_batch` ran now (a dry run; nothing is submitted).
    pub async fn claim_batch_dry_run(&self, claims: &[ClaimRequest]) -> Result<Vec<ItemOutcome>, CallError> {
        let data = self.claim_batch_data(claims)?;
        let dry = self
            .chain
            .dry_run_call(&self.me(), &self.address, 0, &data)
            .await
            .map_err(|source| CallError::Chain {
                message: "claim_batch".into(),
                source,
            })?;
        self.claim_batch_results(&dry.output, claims.len())
    }

    /// Submits `claim_batch` (dry run first: a refused batch is not submitted) and reads each
    /// item's outcome from the finalised block.
    pub async fn claim_batch(&self, claims: &[ClaimRequest]) -> Result<BatchOutcome, CallError> {
        let data = self.claim_batch_data(claims)?;
        let message = "claim_batch";
        match self.chain.call(&self.signer, &self.address, 0, &data).await {
            Ok(outcome) => Ok(BatchOutcome {
                block: format!("{:?}", outcome.block_hash),
                items: self.claim_batch_events(&outcome.events, claims.len())?,
                fee: outcome.fee,
            }),
            Err(ChainError::Reverted { output, .. }) => Err(CallError::Contract {
                message: message.into(),
                error: self.error_name(&output),
            }),
            Err(ChainError::Dispatch { block, error, .. }) => Err(CallError::FailedInBlock {
                message: message.into(),
                block: format!("{block:?}"),
                error,
            }),
            Err(source) => Err(CallError::Chain {
                message: message.into(),
                source,
            }),
        }
    }

    pub async fn timestamp_ms(&self) -> Result<u64, CallError> {
        self.chain
            .timestamp_ms()
            .await
            .map_err(|source| CallError::Chain {
                message: "Timestamp::Now".into(),
                source,
            })
    }

    pub async fn genesis(&self) -> Result<u64, CallError> {
        self.query("genesis", ()).await
    }

    pub async fn next_epoch(&self) -> Result<u64, CallError> {
        self.query("next_epoch", ()).await
    }

    pub async fn epoch(&self, e: u64) -> Result<Option<EpochInfo>, CallError> {
        self.query("epoch", e).await
    }

    pub async fn expected_epoch(&self, active: u64) -> Result<EpochPreview, CallError> {
        self.query("expected_epoch", active).await
    }

    pub async fn epoch_vote_of(&self, e: u64) -> Result<Option<[u8; 32]>, CallError> {
        self.query("epoch_vote_of", (e, self.me())).await
    }

    pub async fn month(&self, m: u32) -> Result<Option<MonthInfo>, CallError> {
        self.query("month", m).await
    }

    pub async fn month_vote_of(&self, m: u32) -> Result<Option<[u8; 32]>, CallError> {
        self.query("month_vote_of", (m, self.me())).await
    }

    /// Epochs `[first, end)` of month `m`, or `None` before genesis.
    pub async fn month_epochs(&self, m: u32) -> Result<Option<(u64, u64)>, CallError> {
        self.query("month_epochs", m).await
    }

    pub async fn is_keeper(&self) -> Result<bool, CallError> {
        self.query("is_keeper", self.me()).await
    }

    /// The commitments voted for epoch `e` (finalised or not), each with its voters.
    pub async fn epoch_votes(&self, e: u64) -> Result<EpochVotes, CallError> {
        self.query("epoch_votes", e).await
    }

    /// The roots voted for month `m`, each with its voters.
    pub async fn month_votes(&self, m: u32) -> Result<MonthVotes, CallError> {
        self.query("month_votes", m).await
    }

    /// The current keeper set.
    pub async fn keepers(&self) -> Result<Vec<AccountId32>, CallError> {
        self.query("keepers", ()).await
    }

    /// The votes a commitment needs now (`max(bft_threshold(n), min_threshold)`).
    pub async fn threshold(&self) -> Result<u32, CallError> {
        self.query("threshold", ()).await
    }

    pub async fn is_claimed(&self, m: u32, wallet: [u8; 20]) -> Result<bool, CallError> {
        self.query("is_claimed", (m, wallet)).await
    }

    pub async fn claim_window(&self, m: u32) -> Result<Option<(u64, u64)>, CallError> {
        self.query("claim_window", m).await
    }

    /// The announced governance changes not yet executed or cancelled, by id: what a keeper
    /// watches (a change of the keeper set, the threshold or the treasury takes effect once its
    /// delay has passed).
    pub async fn pending_changes(&self) -> Result<Vec<(u64, PendingChange)>, CallError> {
        self.query("pending_changes", ()).await
    }
}

/// A variant's name and its one value (if it has exactly one).
fn variant(value: &Value<()>) -> Option<(&str, Option<&Value<()>>)> {
    match &value.value {
        ValueDef::Variant(v) => {
            let mut values = v.values.values();
            let one = match (values.next(), values.next()) {
                (Some(x), None) => Some(x),
                _ => None,
            };
            Some((v.name.as_str(), one))
        }
        _ => None,
    }
}
