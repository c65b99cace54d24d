//! The keeper's loop and the state machine of each epoch and month.
//!
//! Each tick: connect if needed (backoff), read chain time and the contract's `next_epoch`,
//! import changed sources, drive every epoch the store holds that is not done, close new epochs,
//! then months.
//!
//! Epoch `e` is closed once `chain time >= end(e) + grace` and `e <= next_epoch` (the contract
//! takes `P_t` from the snapshot at `e-1`'s finalisation, so `P_e` is known only then; it is read
//! with `expected_epoch(active)`). Epochs the chain finalised without us (a keeper that was down or
//! joined late) are computed too, from the finalised figures, and compared.
//!
//! Phases (persisted, `flex_store::Phase`): `computed` (results, tree, commitment stored in one
//! transaction) -> `submitting` (written before the vote is sent) -> `voted` -> `finalized` (or
//! `mismatch`). Before every vote the chain is asked whether the epoch is finalised (`epoch`) and
//! whether this keeper already voted (`epoch_vote_of`); so a restart after a crash anywhere
//! (while computing, between sending and recording a vote, while waiting for quorum) resumes with
//! nothing lost, no second vote and no vote after finalisation. Months follow the same machine with
//! `month`, `month_vote_of` and `submit_month`.

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codec::Decode;
use flex_chain::{AccountId32, Chain, ContractBundle, Keypair};
use flex_engine::Genesis;
use flex_ingest::WeightSchedule;
use flex_store::{Phase, Store};
use subxt_signer::SecretUri;

use flex_engine::calendar::month_index_of;

use crate::compute::{self, epoch_bounds, PoolFigures};
use crate::forecast;
use flex_sources::files::{InputFile, InputFiles};
use flex_sources::offchain::{Intake, Policy, SignedFiles};
use flex_sources::Status;

use crate::{Config, ServiceError};
use flex_pool::{CallError, EpochCommitment, MonthRoot, PoolClient};

/// Loads the keeper's signing key: `FLEX_KEEPER_KEY`, else the file `chain.key_file`. The value is
/// a secret URI (`//Alice`, a `0x` hex seed, or a mnemonic with an optional `//path`). Never logged.
pub fn load_signer(config: &Config) -> Result<Keypair, ServiceError> {
    let (secret, origin) = match std::env::var("FLEX_KEEPER_KEY") {
        Ok(v) if !v.trim().is_empty() => (v, "environment FLEX_KEEPER_KEY".to_string()),
        _ => match &config.key_file {
            Some(path) => (
                std::fs::read_to_string(path).map_err(|e| {
                    ServiceError::Key(format!("chain.key_file {}: cannot read: {e}", path.display()))
                })?,
                format!("chain.key_file {}", path.display()),
            ),
            None => {
                return Err(ServiceError::Key(
                    "no key: set chain.key_file in the config or FLEX_KEEPER_KEY".into(),
                ))
            }
        },
    };
    let uri = SecretUri::from_str(secret.trim()).map_err(|_| {
        ServiceError::Key(format!(
            "{origin}: not a secret URI (//Name, 0x seed or mnemonic)"
        ))
    })?;
    Keypair::from_uri(&uri).map_err(|_| ServiceError::Key(format!("{origin}: not a valid sr25519 secret")))
}

/// A point where the test hook `FLEX_KEEPER_PAUSE_AT` (a comma list) stops the keeper, so a test
/// can `kill -9` it exactly there. Never set in production.
async fn pause_point(point: &str) {
    let hit = std::env::var("FLEX_KEEPER_PAUSE_AT")
        .map(|v| v.split(',').any(|p| p.trim() == point))
        .unwrap_or(false);
    if hit {
        tracing::warn!(point, "pause point reached (FLEX_KEEPER_PAUSE_AT)");
        loop {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
}

/// The running keeper.
pub struct Keeper {
    config: Config,
    store: Arc<dyn Store>,
    status: Arc<Status>,
    /// The weight table versions; epoch `e` is computed with `weights.table_for_epoch(e)`.
    weights: Arc<dyn WeightSchedule>,
    bundle: ContractBundle,
    signer: Keypair,
    /// The `[input]` files, imported on every tick.
    files: InputFiles,
    genesis: Option<Genesis>,
    client: Option<PoolClient>,
    is_keeper: bool,
    /// Signed off-chain batches (`offchain.files`, and the API's `POST /v1/actions`).
    offchain: SignedFiles,
}

impl Keeper {
    pub fn new(config: Config, store: Arc<dyn Store>, status: Arc<Status>) -> Result<Self, ServiceError> {
        let weights: Arc<dyn WeightSchedule> = Arc::new(config.weight_schedule()?);
        let table = weights.all_kinds();
        let bundle = ContractBundle::load(&config.bundle)?;
        let signer = load_signer(&config)?;
        let poll = Duration::from_millis(config.poll_ms);
        let files = InputFiles {
            files: (config.pool_files.iter().cloned().map(InputFile::pool))
                .chain(config.action_files.iter().cloned().map(InputFile::lines))
                .collect(),
            kinds: table.clone(),
            poll,
        };
        let genesis = config.genesis.map(Genesis::new).transpose()?;
        // The database belongs to one deployment.
        let contract = format!("0x{}", hex::encode(config.contract));
        match store.meta("contract")? {
            Some(c) if c != contract => {
                return Err(ServiceError::Fatal(format!(
                    "the database {} belongs to the contract {c}, not {contract}",
                    config.store_path.display()
                )))
            }
            Some(_) => {}
            None => store.set_meta("contract", &contract)?,
        }
        let intake = Intake::new(
            store.clone(),
            Policy {
                attesters: config.offchain_attesters.iter().copied().collect(),
                kinds: config
                    .offchain_kinds
                    .as_ref()
                    .map(|k| k.iter().cloned().collect()),
            },
            table,
            config.contract,
            config.genesis,
        )
        .map_err(|m| ServiceError::Fatal(format!("{}: {m}", config.file)))?;
        let offchain = SignedFiles {
            intake,
            paths: config.offchain_files.clone(),
            poll,
        };
        tracing::info!(
            keeper = %AccountId32(signer.public_key().0),
            contract = %contract,
            store = %config.store_path.display(),
            "keeper ready"
        );
        Ok(Self {
            config,
            store,
            status,
            weights,
            bundle,
            signer,
            files,
            genesis,
            client: None,
            is_keeper: false,
            offchain,
        })
    }

    /// The intake of signed off-chain batches, for the API (`POST /v1/actions`).
    pub fn offchain_intake(&self) -> Intake {
        self.offchain.intake.clone()
    }

    /// Imports the configured sources now (also done on every tick for changed files).
    pub fn import(&mut self) -> Result<(), ServiceError> {
        let files = tokio::task::block_in_place(|| self.files.import_changed(&*self.store))?;
        self.status
            .imported_actions
            .fetch_add(files.actions_new, Ordering::Relaxed);
        tokio::task::block_in_place(|| self.offchain.import_changed(Some(&self.status)))?;
        Ok(())
    }

    /// Runs until `shutdown` resolves. Transient chain errors reconnect with exponential backoff;
    /// fatal ones (a database or genesis of another deployment) end the loop with the error.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) -> Result<(), ServiceError> {
        tokio::pin!(shutdown);
        let poll = Duration::from_millis(self.config.poll_ms);
        let max = Duration::from_millis(self.config.backoff_max_ms);
        let mut backoff = Duration::from_millis(500);
        loop {
            let wait = match self.tick().await {
                Ok(()) => {
                    backoff = Duration::from_millis(500);
                    poll
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "chain unavailable");
                    self.client = None;
                    self.status.set_client(None);
                    self.status.reconnects.fetch_add(1, Ordering::Relaxed);
                    let w = backoff;
                    backoff = (backoff * 2).min(max);
                    w
                }
                Err(e @ (ServiceError::Fatal(_) | ServiceError::Config(_) | ServiceError::Key(_))) => {
                    return Err(e);
                }
                Err(e) => {
                    self.status.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "keeper step failed; retrying");
                    poll.max(Duration::from_secs(1))
                }
            };
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn connect(&mut self) -> Result<PoolClient, ServiceError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let url = self.config.chain_url.clone();
        let chain = tokio::time::timeout(Duration::from_secs(20), Chain::connect(&url))
            .await
            .map_err(|_| ServiceError::Connect {
                url: url.clone(),
                message: "timed out".into(),
            })?
            .map_err(|e| ServiceError::Connect {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let client = PoolClient {
            chain,
            bundle: self.bundle.clone(),
            address: AccountId32(self.config.contract),
            signer: self.signer.clone(),
        };
        let on_chain = client.genesis().await?;
        let on_chain = i64::try_from(on_chain)
            .map_err(|_| ServiceError::Fatal("contract genesis out of range".into()))?;
        match self.genesis {
            Some(g) if g.unix_seconds() != on_chain => {
                return Err(ServiceError::Fatal(format!(
                    "{}: protocol.genesis is {} but the contract's genesis is {on_chain}",
                    self.config.file,
                    g.unix_seconds()
                )))
            }
            Some(_) => {}
            None => self.genesis = Some(Genesis::new(on_chain)?),
        }
        match self.store.meta("genesis")? {
            Some(g) if g != on_chain.to_string() => {
                return Err(ServiceError::Fatal(format!(
                    "the database was filled for genesis {g}, the contract has {on_chain}"
                )))
            }
            Some(_) => {}
            None => self.store.set_meta("genesis", &on_chain.to_string())?,
        }
        // The chain half of the off-chain signatures' domain.
        flex_sources::offchain::record_chain(&*self.store, client.chain.api().genesis_hash().0)?;
        self.is_keeper = client.is_keeper().await?;
        if !self.is_keeper {
            tracing::warn!(keeper = %client.me(), "this account is not a keeper of the contract: computing and serving only, no votes");
        }
        tracing::info!(url = %url, "connected to the chain");
        self.client = Some(client.clone());
        self.status.set_client(Some(client.clone()));
        Ok(client)
    }

    fn genesis(&self) -> Result<Genesis, ServiceError> {
        self.genesis
            .ok_or_else(|| ServiceError::Invalid("genesis unknown before the first connection".into()))
    }

    /// One pass of the loop.
    pub async fn tick(&mut self) -> Result<(), ServiceError> {
        self.import()?;
        let pool = self.connect().await?;
        let g = self.genesis()?;
        let now_ms = pool.timestamp_ms().await?;
        self.status.chain_time_ms.store(now_ms, Ordering::Relaxed);
        let now = (now_ms / 1000) as i64;
        let next = pool.next_epoch().await?;
        self.status.next_epoch.store(next, Ordering::Relaxed);

        for e in self.store.open_epochs()? {
            self.drive_epoch(&pool, e, next).await?;
        }
        let mut e = self.store.last_epoch()?.map_or(0, |l| l + 1);
        let grace = i64::try_from(self.config.grace_seconds).unwrap_or(i64::MAX);
        while e <= next {
            let (_, end) = epoch_bounds(g, e)?;
            if now < end.saturating_add(grace) {
                break;
            }
            self.close_epoch(&pool, e, next).await?;
            self.drive_epoch(&pool, e, next).await?;
            e += 1;
        }
        self.months(&pool, next, now).await
    }

    /// Computes and stores epoch `e` (`e <= next`).
    async fn close_epoch(&mut self, pool: &PoolClient, e: u64, next: u64) -> Result<(), ServiceError> {
        let started = Instant::now();
        let g = self.genesis()?;
        let store = self.store.clone();
        let weights = self.weights.clone();
        let inputs =
            tokio::task::block_in_place(|| compute::epoch_inputs_versioned(&*store, g, &*weights, e))?;
        let read_ms = started.elapsed().as_millis() as u64;
        let active = inputs.active();
        let finalized = if e < next { pool.epoch(e).await? } else { None };
        let figures = match &finalized {
            Some(info) => PoolFigures {
                wallet_index: info.wallet_index,
                halving: info.halving,
                snapshot: info.snapshot,
                pool: info.commitment.pool,
            },
            None => {
                let p = pool.expected_epoch(active).await?;
                PoolFigures {
                    wallet_index: p.wallet_index,
                    halving: p.halving,
                    snapshot: p.snapshot,
                    pool: p.pool,
                }
            }
        };
        let t = Instant::now();
        let closed =
            tokio::task::block_in_place(|| compute::close_epoch(e, g, &inputs, figures, self.config.bonus))?;
        let compute_ms = t.elapsed().as_millis() as u64;
        // The next epoch's forecast from the stored history and this epoch (forecast module).
        let t = Instant::now();
        let mut closed = closed;
        tokio::task::block_in_place(|| -> Result<(), ServiceError> {
            let h = forecast::epoch_history(&*store, &closed.record)?;
            closed.set_forecast(&forecast::forecast(&h, true))
        })?;
        let forecast_ms = t.elapsed().as_millis() as u64;
        pause_point("compute").await;
        let t = Instant::now();
        let rows = closed.rows;
        let record = closed.record;
        tokio::task::block_in_place(|| self.store.save_epoch(&record, &rows))?;
        let store_ms = t.elapsed().as_millis() as u64;
        self.status.epochs_closed.fetch_add(1, Ordering::Relaxed);
        self.status
            .last_close_ms
            .store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        tracing::info!(
            epoch = e,
            wallets = record.wallets,
            active = record.active,
            pool = %record.pool,
            distributed = %record.distributed,
            commitment = %format!("0x{}", hex::encode(record.commitment_hash)),
            ignored_actions = inputs.ignored_actions,
            unweighted_actions = inputs.unweighted_actions,
            read_ms,
            compute_ms,
            forecast_ms,
            forecast = %record.forecast,
            store_ms,
            "epoch closed"
        );
        Ok(())
    }

    async fn drive_epoch(&mut self, pool: &PoolClient, e: u64, next: u64) -> Result<(), ServiceError> {
        let Some(rec) = self.store.epoch(e)? else {
            return Ok(());
        };
        if rec.phase.is_done() {
            return Ok(());
        }
        let hex32 = |h: &[u8; 32]| format!("0x{}", hex::encode(h));
        let mine = pool.epoch_vote_of(e).await?;
        if let Some(info) = pool.epoch(e).await? {
            let (phase, note) = if info.commitment_hash == rec.commitment_hash {
                (Phase::Finalized, String::new())
            } else {
                (
                    Phase::Mismatch,
                    format!(
                        "the chain finalised {}, ours is {}",
                        hex32(&info.commitment_hash),
                        hex32(&rec.commitment_hash)
                    ),
                )
            };
            self.store.set_epoch_phase(e, phase, mine.is_some(), &note)?;
            if phase == Phase::Mismatch {
                tracing::error!(epoch = e, note = %note, "epoch finalised with another commitment");
            } else {
                tracing::info!(epoch = e, voted = mine.is_some(), "epoch finalised");
            }
            return Ok(());
        }
        if let Some(h) = mine {
            if rec.phase != Phase::Voted {
                let note = if h == rec.commitment_hash {
                    String::new()
                } else {
                    format!(
                        "voted {} earlier, ours is now {}",
                        hex32(&h),
                        hex32(&rec.commitment_hash)
                    )
                };
                self.store.set_epoch_phase(e, Phase::Voted, true, &note)?;
                tracing::info!(epoch = e, "our vote is on chain; waiting for quorum");
            }
            return Ok(());
        }
        if e != next || !self.is_keeper {
            return Ok(());
        }
        let commitment = EpochCommitment::decode(&mut rec.commitment.as_slice())
            .map_err(|_| ServiceError::Invalid(format!("stored commitment of epoch {e} does not decode")))?;
        self.store.set_epoch_phase(e, Phase::Submitting, false, "")?;
        match pool.vote("submit_epoch", &commitment).await {
            Ok(vote) => {
                pause_point("submitted").await;
                let phase = if vote.finalized {
                    Phase::Finalized
                } else {
                    Phase::Voted
                };
                self.store
                    .set_epoch_phase(e, phase, true, &format!("block {}", vote.block))?;
                self.status.epoch_votes.fetch_add(1, Ordering::Relaxed);
                tracing::info!(epoch = e, finalized = vote.finalized, block = %vote.block, "voted");
                Ok(())
            }
            Err(CallError::Contract { error, .. }) => {
                // AlreadyVoted / EpochAlreadyFinalized resolve on the next tick from the chain's view.
                self.store
                    .set_epoch_phase(e, Phase::Computed, false, &format!("refused: {error}"))?;
                tracing::warn!(epoch = e, error = %error, "vote refused by the contract");
                Ok(())
            }
            // Unknown whether the vote landed: stay `submitting`; the next tick asks the chain.
            Err(other) => Err(other.into()),
        }
    }

    async fn months(&mut self, pool: &PoolClient, next: u64, now: i64) -> Result<(), ServiceError> {
        for m in self.store.months()? {
            if !m.phase.is_done() {
                self.drive_month(pool, m.month_index, now).await?;
            }
        }
        let Some(last) = next.checked_sub(1) else {
            return Ok(());
        };
        let g = self.genesis()?;
        let first_month = month_index_of(g.unix_seconds());
        let last_month = month_index_of(epoch_bounds(g, last)?.0);
        for m in first_month..=last_month {
            if self.store.month(m)?.is_some() {
                continue;
            }
            let Some((first, end)) = pool.month_epochs(m).await? else {
                continue;
            };
            if end > next {
                continue;
            }
            if let Some((_, close)) = pool.claim_window(m).await? {
                if now >= close as i64 {
                    continue; // too late for a root: the month is swept
                }
            }
            let mut complete = true;
            for e in first..end {
                match self.store.epoch(e)? {
                    Some(r) if r.phase == Phase::Finalized => {}
                    Some(r) if r.phase == Phase::Mismatch => {
                        tracing::error!(
                            month = m,
                            epoch = e,
                            "cannot build the month root: our epoch differs from the chain's"
                        );
                        complete = false;
                    }
                    _ => complete = false,
                }
            }
            if !complete {
                continue;
            }
            let store = self.store.clone();
            let price = self.config.claim_price;
            let closed = tokio::task::block_in_place(|| compute::close_month(&*store, m, first, end, price))?;
            tokio::task::block_in_place(|| self.store.save_month(&closed.record, &closed.tree))?;
            tracing::info!(
                month = m,
                claims = closed.record.claims,
                total = %closed.record.total,
                root = %format!("0x{}", hex::encode(closed.record.root_hash)),
                "month closed"
            );
            self.drive_month(pool, m, now).await?;
        }
        Ok(())
    }

    async fn drive_month(&mut self, pool: &PoolClient, m: u32, _now: i64) -> Result<(), ServiceError> {
        let Some(rec) = self.store.month(m)? else {
            return Ok(());
        };
        let mine = pool.month_vote_of(m).await?;
        if let Some(info) = pool.month(m).await? {
            let phase = if info.commitment_hash == rec.root_hash {
                Phase::Finalized
            } else {
                Phase::Mismatch
            };
            self.store.set_month_phase(m, phase, mine.is_some(), "")?;
            tracing::info!(month = m, phase = phase.as_str(), "month finalised");
            return Ok(());
        }
        if mine.is_some() {
            if rec.phase != Phase::Voted {
                self.store.set_month_phase(m, Phase::Voted, true, "")?;
            }
            return Ok(());
        }
        if !self.is_keeper {
            return Ok(());
        }
        let root = MonthRoot::decode(&mut rec.root.as_slice())
            .map_err(|_| ServiceError::Invalid(format!("stored root of month {m} does not decode")))?;
        self.store.set_month_phase(m, Phase::Submitting, false, "")?;
        match pool.vote("submit_month", &root).await {
            Ok(vote) => {
                pause_point("month-submitted").await;
                let phase = if vote.finalized {
                    Phase::Finalized
                } else {
                    Phase::Voted
                };
                self.store
                    .set_month_phase(m, phase, true, &format!("block {}", vote.block))?;
                self.status.month_votes.fetch_add(1, Ordering::Relaxed);
                tracing::info!(month = m, finalized = vote.finalized, "month root voted");
                Ok(())
            }
            Err(CallError::Contract { error, .. }) => {
                self.store
                    .set_month_phase(m, Phase::Computed, false, &format!("refused: {error}"))?;
                tracing::warn!(month = m, error = %error, "month vote refused by the contract");
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }
}
