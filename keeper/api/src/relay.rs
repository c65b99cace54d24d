//! The claim relay's chain part (issue 18): claims checked offline by `web` wait here for the
//! relayer, which submits one batch at a time; the claims that arrive while a batch is on chain
//! wait and go together in the pool's `claim_batch` (at most [`RELAY_QUEUE_MAX`], within the
//! pool's `MAX_CLAIM_BATCH`). Each claim is checked on chain in the contract's order before
//! anything is paid; the batch's summed claim costs are approved on the payment token only when
//! the relayer's standing allowance to the pool is short; the batch is dry-run first, and a claim
//! the pool would skip is answered and left out, so a refused claim costs no fee. Each caller is
//! answered for its own claim, read from the block's `Claimed`/`ClaimSkipped` events. The fees
//! the relayer pays (`TransactionPayment::TransactionFeePaid`) and its balances go to
//! `/metrics` and `/health` (`relay_stats`).

use axum::http::StatusCode;
use flex_chain::AccountId32;
use flex_engine::calendar::month_name;
use flex_pool::ClaimRequest;
use flex_types::{hex, Address};

use crate::error::{ApiError, ApiResult};
use crate::relay_stats::{RelayBalances, RELAY_QUEUE_MAX};
use crate::web::RelayResult;
use crate::Api;

/// `PSP22::approve` (the PSP22 standard's selector, as `flex_token` implements it).
const PSP22_APPROVE: [u8; 4] = [0xb2, 0x0f, 0x1b, 0xbd];

/// `PSP22::allowance` (owner, spender).
const PSP22_ALLOWANCE: [u8; 4] = [0x4d, 0x47, 0xd9, 0x21];

/// `PSP22::balance_of` (owner).
const PSP22_BALANCE_OF: [u8; 4] = [0x65, 0x68, 0x38, 0x2f];

/// One relayed batch at a time: the relayer's transactions (approve, claim_batch) must not race
/// for nonces or allowance.
static RELAY_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A relay batch fits the pool's `claim_batch` (`MAX_CLAIM_BATCH`, 100).
const _: () = assert!(RELAY_QUEUE_MAX <= 100);

/// A claim whose window closes within this many seconds of the chain's latest block is not
/// relayed: its transaction could land after the close, and the relayer would pay for a refusal.
const WINDOW_MARGIN_SECS: u64 = 60;

/// How long a relayed claim may take on chain before the API answers 504.
pub(crate) const RELAY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

impl Api {
    /// The relayer's native balance (base units) below which `/health` reports `low_balance`
    /// (`api.relay_min_balance`; 0: never).
    pub fn set_relay_min_balance(&self, min: u128) {
        self.inner.relay.set_min_balance(min);
    }

    /// The relayer's balances: the last reading if it is fresh, else read from the chain (2 s at
    /// most), else the last reading however old; `None` without a relayer or any reading.
    pub(crate) async fn relay_balances(&self) -> Option<RelayBalances> {
        let relayer = self.inner.relayer.get()?;
        if let Some(b) = self.inner.relay.fresh_balances() {
            return Some(b);
        }
        let read = async {
            let client = self.inner.status.client()?;
            let me = flex_chain::account_of(relayer);
            let native = client.chain.native_free(&me).await.ok()?;
            let payment = async {
                let token: AccountId32 = client.query("payment_token", ()).await.ok()?;
                let mut ask = PSP22_BALANCE_OF.to_vec();
                codec::Encode::encode_to(&me, &mut ask);
                client.chain.query::<u128>(&me, &token, &ask).await.ok()
            }
            .await;
            Some(RelayBalances { native, payment })
        };
        match tokio::time::timeout(std::time::Duration::from_secs(2), read).await {
            Ok(Some(b)) => {
                self.inner.relay.set_balances(b);
                Some(b)
            }
            _ => self.inner.relay.last_balances(),
        }
    }
}

/// Queues `claim` for the relayer's next batch and waits for its answer (at most
/// [`RELAY_TIMEOUT`]). The caller holds its place in the relay's queue (`RelayStats::admit`).
pub(crate) async fn relay_claim(
    api: &Api,
    pool: flex_pool::PoolClient,
    claim: RelayClaim,
) -> ApiResult<RelayResult> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    let relayed = async {
        api.inner.relay.push(RelayJob { claim, reply });
        // Whoever gets the relayer next takes every claim waiting, its own included, and
        // submits them as one batch in a task of its own (so that a caller going away cannot
        // cut a batch short); the others wait for their answer.
        let guard = RELAY_LOCK.lock().await;
        let jobs = api.inner.relay.take();
        if !jobs.is_empty() {
            let api = api.clone();
            tokio::spawn(async move {
                let _guard = guard;
                relay_batch(&api, &pool, jobs).await;
            });
        }
        answer.await.unwrap_or_else(|_| {
            Err(ApiError::internal(
                "the relay's batch ended without an answer for this claim",
            ))
        })
    };
    match tokio::time::timeout(RELAY_TIMEOUT, relayed).await {
        Ok(r) => r,
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "chain_timeout",
            format!(
                "the claim did not complete within {} s; check the claim status before retrying",
                RELAY_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// A claim for the relayer, checked offline, with its proof from this keeper's tree.
pub(crate) struct RelayClaim {
    pub(crate) m: u32,
    pub(crate) wallet: Address,
    pub(crate) amount: u128,
    pub(crate) proof: Vec<[u8; 32]>,
    pub(crate) signature: [u8; 65],
    pub(crate) beneficiary: [u8; 32],
}

/// A claim waiting for the relayer's next batch, and where its answer goes.
pub(crate) struct RelayJob {
    claim: RelayClaim,
    reply: tokio::sync::oneshot::Sender<ApiResult<RelayResult>>,
}

impl RelayJob {
    /// Its caller no longer waits for the answer.
    pub(crate) fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn answer(self, result: ApiResult<RelayResult>) {
        // The caller may have gone (timed out): nobody is left to tell.
        let _ = self.reply.send(result);
    }

    fn request(&self) -> ClaimRequest {
        let c = &self.claim;
        ClaimRequest {
            month_index: c.m,
            wallet: c.wallet.0,
            amount: c.amount,
            proof: c.proof.clone(),
            signature: c.signature,
            beneficiary: AccountId32(c.beneficiary),
        }
    }
}

fn chain_err(what: &str, e: &dyn std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "relay: {what}");
    ApiError::new(StatusCode::BAD_GATEWAY, "chain_error", format!("{what}: {e}"))
}

fn refused(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

fn claim_refused(name: &str) -> ApiError {
    refused(
        "claim_refused",
        format!("the reward pool refused the claim: {name}"),
    )
}

/// The chain part of the relay for the claims waiting, at most [`RELAY_QUEUE_MAX`] (at most the
/// pool's `MAX_CLAIM_BATCH`): each claim checked on chain as the contract checks it, the sum of
/// their costs approved once, the batch dry-run (a claim the pool would skip is answered and left
/// out, so that no fee is paid for it), then one `claim_batch` for the rest; each caller gets its
/// own claim's answer, read from the block's events.
async fn relay_batch(api: &Api, pool: &flex_pool::PoolClient, jobs: Vec<RelayJob>) {
    let mut ready = Vec::new();
    for job in jobs {
        match precheck(pool, &job).await {
            Ok(cost) => ready.push((job, cost)),
            Err(e) => job.answer(Err(e)),
        }
    }
    if ready.is_empty() {
        return;
    }
    let total_cost = ready
        .iter()
        .fold(0u128, |sum, (_, cost)| sum.saturating_add(*cost));
    if let Err(e) = approve_costs(api, pool, total_cost).await {
        let message = e.to_string();
        for (job, _) in ready {
            job.answer(Err(chain_err(
                "approving the claim costs on the payment token",
                &message,
            )));
        }
        return;
    }
    // The dry run: a claim the pool would skip costs nothing when left out.
    let requests: Vec<ClaimRequest> = ready.iter().map(|(job, _)| job.request()).collect();
    let results = match pool.claim_batch_dry_run(&requests).await {
        Ok(results) => results,
        Err(e) => {
            let name = e.contract_error().map(str::to_string);
            let message = e.to_string();
            for (job, _) in ready {
                job.answer(Err(match &name {
                    Some(name) => claim_refused(name),
                    None => chain_err("claim_batch", &message),
                }));
            }
            return;
        }
    };
    let mut batch = Vec::new();
    for ((job, cost), result) in ready.into_iter().zip(results) {
        match result {
            Ok(()) => batch.push((job, cost)),
            Err(name) => job.answer(Err(claim_refused(&name))),
        }
    }
    if batch.is_empty() {
        return;
    }
    let requests: Vec<ClaimRequest> = batch.iter().map(|(job, _)| job.request()).collect();
    let submitted = match pool.claim_batch_data(&requests) {
        Ok(data) => pool
            .chain
            .call(&pool.signer, &pool.address, 0, &data)
            .await
            .map_err(|e| {
                // An extrinsic that failed in its block still paid its fee.
                if let flex_chain::ChainError::Dispatch { fee, .. } = &e {
                    api.inner.relay.fee_paid(*fee);
                }
                e.to_string()
            }),
        Err(e) => Err(e.to_string()),
    };
    let outcome = match submitted {
        Ok(outcome) => outcome,
        Err(message) => {
            api.inner.relay.balances_changed();
            for (job, _) in batch {
                job.answer(Err(chain_err("claim_batch", &message)));
            }
            return;
        }
    };
    api.inner.relay.fee_paid(outcome.fee);
    api.inner.relay.balances_changed();
    let block = format!("{:?}", outcome.block_hash);
    let items = match pool.claim_batch_events(&outcome.events, batch.len()) {
        Ok(items) => items,
        Err(e) => {
            let message = e.to_string();
            for (job, _) in batch {
                job.answer(Err(chain_err("reading the batch's events", &message)));
            }
            return;
        }
    };
    tracing::info!(claims = batch.len(), %block, fee = outcome.fee, "relayed a batch of claims");
    for ((job, cost), item) in batch.into_iter().zip(items) {
        let (m, wallet) = (job.claim.m, job.claim.wallet);
        if let Err(name) = item {
            job.answer(Err(claim_refused(&name)));
            continue;
        }
        let claimed = pool.is_claimed(m, wallet.0).await.unwrap_or(false);
        if let Ok(mut map) = api.inner.claimed.lock() {
            map.insert((m, wallet), claimed, std::time::Instant::now());
        }
        tracing::info!(month = m, wallet = %wallet.to_string(), %block, "relayed a claim");
        let result = RelayResult {
            amount: job.claim.amount.to_string(),
            beneficiary: hex::encode(job.claim.beneficiary),
            block: block.clone(),
            claim_status: if claimed { "claimed" } else { "unclaimed" },
            claimed,
            cost: cost.to_string(),
            month: month_name(m),
            month_index: m,
            submitter: hex::encode(pool.me().0),
            wallet: wallet.to_string(),
        };
        job.answer(Ok(result));
    }
}

/// The contract's checks of one claim, in its order, read from the chain before anything is
/// paid; the claim's cost.
async fn precheck(pool: &flex_pool::PoolClient, job: &RelayJob) -> ApiResult<u128> {
    let (m, wallet, amount) = (job.claim.m, job.claim.wallet, job.claim.amount);
    let paused: bool = pool
        .query("is_paused", ())
        .await
        .map_err(|e| chain_err("is_paused", &e))?;
    if paused {
        return Err(refused(
            "paused",
            "the reward pool is paused; claims wait until it is unpaused".into(),
        ));
    }
    if job.claim.beneficiary == pool.address.0 {
        return Err(ApiError::bad(
            "invalid_beneficiary",
            "the beneficiary is the reward pool itself; the pool refuses it",
        ));
    }
    let window: Option<(u64, u64)> = pool
        .query("claim_window", m)
        .await
        .map_err(|e| chain_err("claim_window", &e))?;
    let now = pool
        .chain
        .timestamp_ms()
        .await
        .map_err(|e| chain_err("the chain's time", &e))?
        / 1000;
    match window {
        None => {
            return Err(refused(
                "root_not_finalized",
                format!("month {m} has no claim window on chain (not finalised)"),
            ))
        }
        Some((open, _)) if now < open => {
            return Err(refused(
                "claim_window_not_open",
                format!("month {m}'s claim window opens at {open} (unix seconds); the chain is at {now}"),
            ))
        }
        Some((_, close)) if now.saturating_add(WINDOW_MARGIN_SECS) >= close => {
            return Err(refused(
                "claim_window_closed",
                format!(
                    "month {m}'s claim window closes at {close} (unix seconds); the chain is at {now}, \
                     within the relay's {WINDOW_MARGIN_SECS} s margin or past it"
                ),
            ))
        }
        Some(_) => {}
    }
    let month: Option<flex_pool::MonthInfo> =
        pool.query("month", m).await.map_err(|e| chain_err("month", &e))?;
    let Some(month) = month else {
        return Err(refused(
            "root_not_finalized",
            format!("month {m} is not finalised on chain"),
        ));
    };
    let claimed = pool
        .is_claimed(m, wallet.0)
        .await
        .map_err(|e| chain_err("is_claimed", &e))?;
    if claimed {
        return Err(refused(
            "already_claimed",
            format!("wallet {wallet} already claimed month {m}"),
        ));
    }
    let leaf = flex_merkle::ClaimLeaf {
        month_index: m,
        wallet,
        amount,
    };
    if !flex_merkle::verify(&month.root.claims_root, &leaf, &job.claim.proof) {
        return Err(refused(
            "root_mismatch",
            format!("this keeper's proof for month {m} does not verify against the chain's claim root"),
        ));
    }
    let cost: Result<u128, ()> = pool
        .query("claim_cost", (m, amount))
        .await
        .map_err(|e| chain_err("claim_cost", &e))?;
    cost.map_err(|_| {
        refused(
            "root_not_finalized",
            format!("month {m} is not finalised on chain"),
        )
    })
}

/// Approves `cost` on the payment token for the pool, only when the relayer's standing allowance
/// (left by an earlier approve) is short: no paid approve otherwise.
async fn approve_costs(api: &Api, pool: &flex_pool::PoolClient, cost: u128) -> Result<(), String> {
    if cost == 0 {
        return Ok(());
    }
    let token: AccountId32 = pool
        .query("payment_token", ())
        .await
        .map_err(|e| format!("payment_token: {e}"))?;
    let me = pool.me();
    let mut ask = PSP22_ALLOWANCE.to_vec();
    codec::Encode::encode_to(&(&me, &pool.address), &mut ask);
    let allowance: u128 = pool
        .chain
        .query(&me, &token, &ask)
        .await
        .map_err(|e| format!("the relayer's allowance: {e}"))?;
    if allowance >= cost {
        return Ok(());
    }
    let mut data = PSP22_APPROVE.to_vec();
    codec::Encode::encode_to(&(&pool.address, cost), &mut data);
    match pool.chain.call(&pool.signer, &token, 0, &data).await {
        Ok(outcome) => {
            api.inner.relay.fee_paid(outcome.fee);
            Ok(())
        }
        Err(e) => {
            if let flex_chain::ChainError::Dispatch { fee, .. } = &e {
                api.inner.relay.fee_paid(*fee);
            }
            Err(e.to_string())
        }
    }
}
