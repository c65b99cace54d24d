//! The keeper's loop and the state machine of each epoch and month.
//!
//! Each tick: import changed input files (each on its own: a failing file is reported, never
//! fails the tick), connect if needed (backoff), read chain time, the contract's `next_epoch` and
//! this account's keeper membership, drive every epoch the store holds that is not done, close
//! new epochs, read the votes on the next epoch (a split that no commitment can win is reported),
//! then months.
//!
//! Epoch `e` is closed once `chain time >= end(e) + grace`, `e <= next_epoch` (the contract
//! takes `P_t` from the snapshot at `e-1`'s finalisation, so `P_e` is known only then; it is read
//! with `expected_epoch(active)`, whose answer must be for `e`) and its inputs are complete: every
//! input file imported cleanly and every chain follower's cursor block at or after `end(e)`
//! ([`Keeper::holding_source`]); otherwise the keeper waits and says which source holds it back
//! (`Status::hold`). Epochs the chain finalised without us (a keeper that was down or joined late)
//! are computed too, from the finalised figures, and compared; one that differs is reported
//! (`Status::disagree`) and recomputed by [`Keeper::resync`] (`flex-keeper resync`, or on its
//! own once new input arrives).
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

use flex_engine::calendar::{month_index_of, Month};

use crate::compute::{self, epoch_bounds, PoolFigures};
use crate::forecast::{self, EpochFigures};
use flex_sources::files::{InputFile, InputFiles};
use flex_sources::offchain::{Intake, Policy, SignedFiles};
use flex_sources::{Disagreement, DisagreementKind, Hold, MonthHold, SourceKind, Status};

use crate::{Config, ServiceError};
use flex_pool::{CallError, EpochCommitment, MonthRoot, PoolClient};

/// Loads the keeper's signing key: `FLEX_KEEPER_KEY`, else the file `chain.key_file`. The value is
/// a secret URI (`//Alice`, a `0x` hex seed, or a mnemonic with an optional `//path`). Never logged.
pub fn load_signer(config: &Config) -> Result<Keypair, ServiceError> {
    let (secret, origin) = match std::env::var("FLEX_KEEPER_KEY") {
        Ok(v) if !v.trim().is_empty() => (v, "environment FLEX_KEEPER_KEY".to_string()),
        _ => match &config.key_file {
            Some(path) => (
                flex_types::secret::read_secret_file(path)
                    .map_err(|e| ServiceError::Key(format!("chain.key_file {e}")))?,
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
/// can `kill -9` it exactly there. Compiled into debug builds only (the tests'); a release build
/// ignores the variable.
#[cfg(not(debug_assertions))]
async fn pause_point(_point: &str) {}

/// See the release build's `pause_point`.
#[cfg(debug_assertions)]
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
    /// The chain followers (`[[evm]]`, `[[substrate]]`) whose cursor must pass an epoch's end
    /// before it closes.
    followers: Vec<(String, SourceKind)>,
    /// `Status::imported_actions` (every source, the API's intake included) when the epochs that
    /// differ from the chain's were last recomputed: new input since then recomputes them.
    imported_at_resync: u64,
    /// `false` while resyncing: recompute and compare, never vote.
    voting: bool,
}

/// What [`Keeper::resync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResyncReport {
    /// Epochs recomputed.
    pub epochs: Vec<u64>,
    /// Of those, the ones that now match the chain.
    pub epochs_matching: Vec<u64>,
    /// Months whose root was rebuilt.
    pub months: Vec<u32>,
    pub months_matching: Vec<u32>,
    /// Epochs and months that still differ from the chain (their inputs differ).
    pub still_differing: Vec<String>,
}

impl Keeper {
    pub fn new(config: Config, store: Arc<dyn Store>, status: Arc<Status>) -> Result<Self, ServiceError> {
        let weights: Arc<dyn WeightSchedule> = Arc::new(config.weight_schedule()?);
        let table = weights.all_kinds();
        let bundle = ContractBundle::load(&config.bundle)?;
        let signer = load_signer(&config)?;
        let poll = Duration::from_millis(config.poll_ms);
        let files = InputFiles::new(
            (config.pool_files.iter().cloned().map(InputFile::pool))
                .chain(config.action_files.iter().cloned().map(InputFile::lines))
                .collect(),
            table.clone(),
            poll,
        );
        for f in &files.files {
            status.register_source(&f.name(), SourceKind::File);
        }
        let followers: Vec<(String, SourceKind)> = config
            .chain_followers()?
            .iter()
            .map(|f| (f.name(), f.kind()))
            .collect();
        for (name, kind) in &followers {
            status.register_source(name, *kind);
        }
        let genesis = config.genesis.map(Genesis::new).transpose()?;
        // The database belongs to one deployment.
        let contract = flex_types::hex::encode(config.contract);
        match store.meta("contract")? {
            Some(c) if c != contract => {
                return Err(ServiceError::OtherContract {
                    path: config.store_path.display().to_string(),
                    found: c,
                    expected: contract,
                })
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
        .map_err(|source| ServiceError::OffchainPolicy {
            file: config.file.clone(),
            source,
        })?;
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
        let keeper = Self {
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
            followers,
            imported_at_resync: 0,
            voting: true,
        };
        keeper.report_stored_disagreements()?;
        Ok(keeper)
    }

    /// Reports the epochs and months stored as `mismatch` (a restart keeps saying so).
    fn report_stored_disagreements(&self) -> Result<(), ServiceError> {
        for e in 0..=self.store.last_epoch()?.unwrap_or(0) {
            if let Some(r) = self.store.epoch(e)? {
                if r.phase == Phase::Mismatch {
                    self.status.disagree(mismatch(
                        DisagreementKind::EpochMismatch,
                        e,
                        &r.commitment_hash,
                        &r.note,
                    ));
                }
            }
        }
        for m in self.store.months()? {
            if m.phase == Phase::Mismatch {
                self.status.disagree(mismatch(
                    DisagreementKind::MonthMismatch,
                    u64::from(m.month_index),
                    &m.root_hash,
                    &m.note,
                ));
            }
        }
        Ok(())
    }

    /// The intake of signed off-chain batches, for the API (`POST /v1/actions`).
    pub fn offchain_intake(&self) -> Intake {
        self.offchain.intake.clone()
    }

    /// Imports the configured sources now (also done on every tick for changed files), each on
    /// its own: a failing file is reported in the status and skipped until it changes. Returns
    /// whether every file and the signed off-chain files imported cleanly.
    pub fn import(&mut self) -> bool {
        let files = tokio::task::block_in_place(|| self.files.import_each(&*self.store, &self.status));
        self.status
            .imported_actions
            .fetch_add(files.stats.actions_new, Ordering::Relaxed);
        let offchain = tokio::task::block_in_place(|| self.offchain.import_changed(Some(&self.status)));
        let offchain_ok = match offchain {
            Ok(_) => {
                if !self.offchain.paths.is_empty() {
                    self.status.source_ok(OFFCHAIN_FILES, SourceKind::Offchain);
                }
                true
            }
            Err(e) => {
                self.status
                    .source_failed(OFFCHAIN_FILES, SourceKind::Offchain, &e.to_string());
                false
            }
        };
        files.complete && offchain_ok
    }

    /// The source holding back epoch `e` (ending at `end`), if any: [`holding_source`].
    pub fn holding_source(&self, e: u64, end: i64) -> Option<Hold> {
        holding_source(&self.status, &self.followers, e, end)
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
                Err(e) if e.is_fatal() => return Err(e),
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
                url: flex_types::url::redact(&url),
                message: "timed out".into(),
            })?
            .map_err(|e| ServiceError::Connect {
                url: flex_types::url::redact(&url),
                message: e.to_string(),
            })?;
        let client = PoolClient {
            chain,
            bundle: self.bundle.clone(),
            address: AccountId32(self.config.contract.0),
            signer: self.signer.clone(),
        };
        // The bundle decodes every call and event: it must be the deployed code's.
        let contract = flex_types::hex::encode(self.config.contract.0);
        match client
            .chain
            .contract_code_hash(&client.address)
            .await
            .map_err(|e| ServiceError::Connect {
                url: flex_types::url::redact(&url),
                message: e.to_string(),
            })? {
            None => return Err(ServiceError::NoContract { contract }),
            Some(deployed) if deployed != self.bundle.code_hash => {
                return Err(ServiceError::CodeMismatch {
                    contract,
                    bundle: self.config.bundle.display().to_string(),
                    deployed: flex_types::hex::encode(deployed),
                    expected: flex_types::hex::encode(self.bundle.code_hash),
                })
            }
            Some(_) => {}
        }
        let on_chain = client.genesis().await?;
        let on_chain = i64::try_from(on_chain).map_err(|_| ServiceError::GenesisOutOfRange(on_chain))?;
        match self.genesis {
            Some(g) if g.unix_seconds() != on_chain => {
                return Err(ServiceError::GenesisMismatch {
                    file: self.config.file.clone(),
                    configured: g.unix_seconds(),
                    chain: on_chain,
                })
            }
            Some(_) => {}
            None => self.genesis = Some(Genesis::new(on_chain)?),
        }
        match self.store.meta("genesis")? {
            Some(g) if g != on_chain.to_string() => {
                return Err(ServiceError::DatabaseGenesis {
                    stored: g,
                    chain: on_chain,
                })
            }
            Some(_) => {}
            None => self.store.set_meta("genesis", &on_chain.to_string())?,
        }
        // The chain half of the off-chain signatures' domain.
        flex_sources::offchain::record_chain(&*self.store, client.chain.api().genesis_hash().0)?;
        self.is_keeper = client.is_keeper().await?;
        self.status.is_keeper.store(self.is_keeper, Ordering::Relaxed);
        if !self.is_keeper {
            tracing::warn!(keeper = %client.me(), "this account is not a keeper of the contract: computing and serving only, no votes");
        }
        tracing::info!(url = %flex_types::url::redact(&url), "connected to the chain");
        self.client = Some(client.clone());
        self.status.set_client(Some(client.clone()));
        Ok(client)
    }

    fn genesis(&self) -> Result<Genesis, ServiceError> {
        self.genesis.ok_or(ServiceError::GenesisUnknown)
    }

    /// Re-reads whether this account is a keeper (the owner may add or remove it while the
    /// keeper runs): an added keeper starts voting without a restart.
    async fn refresh_membership(&mut self, pool: &PoolClient) -> Result<(), ServiceError> {
        let now = pool.is_keeper().await?;
        if now != self.is_keeper {
            if now {
                tracing::info!(keeper = %pool.me(), "this account is now a keeper of the contract: voting");
            } else {
                tracing::warn!(keeper = %pool.me(), "this account is no longer a keeper of the contract: no votes");
            }
            self.is_keeper = now;
            self.status.is_keeper.store(now, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Re-reads the pool's pending governance changes for `/health` and the metrics; a newly
    /// announced one is logged at warn level ([`flex_sources::Status::set_governance`]).
    async fn refresh_governance(&mut self, pool: &PoolClient) -> Result<(), ServiceError> {
        let me = pool.me().0;
        let pending = pool.pending_changes().await?;
        self.status.set_governance(
            pending
                .iter()
                .map(|(id, change)| flex_sources::PendingGovernance::new(*id, change, &me))
                .collect(),
        );
        Ok(())
    }

    /// One pass of the loop.
    pub async fn tick(&mut self) -> Result<(), ServiceError> {
        let check = Instant::now();
        let inputs_clean = self.import();
        let mut check_us = check.elapsed().as_micros() as u64;
        let pool = self.connect().await?;
        let g = self.genesis()?;
        let now_ms = pool.timestamp_ms().await?;
        self.status.chain_time_ms.store(now_ms, Ordering::Relaxed);
        let now = (now_ms / 1000) as i64;
        let next = pool.next_epoch().await?;
        self.status.next_epoch.store(next, Ordering::Relaxed);
        self.refresh_membership(&pool).await?;
        self.refresh_governance(&pool).await?;
        let free = pool
            .chain
            .native_free(&pool.me())
            .await
            .map_err(|source| CallError::Chain {
                message: "reading the keeper key's balance".into(),
                source,
            })?;
        self.status.set_key_balance(free, self.config.min_balance);

        // New input while some epoch differs from the chain's: recompute those (automatic resync).
        let imported = self.status.imported_actions.load(Ordering::Relaxed);
        let differing = self.status.disagreements().iter().any(|d| {
            matches!(
                d.kind,
                DisagreementKind::EpochMismatch | DisagreementKind::MonthMismatch
            )
        });
        if imported != self.imported_at_resync && inputs_clean && differing {
            self.imported_at_resync = imported;
            let report = self.resync_differing(&pool, next).await?;
            tracing::info!(report = ?report, "recomputed the epochs and months that differed from the chain");
        }

        for e in self.store.open_epochs()? {
            self.drive_epoch(&pool, e, next).await?;
        }
        let mut e = self.store.last_epoch()?.map_or(0, |l| l + 1);
        let grace = i64::try_from(self.config.grace_seconds).unwrap_or(i64::MAX);
        let mut hold = None;
        while e <= next {
            let (_, end) = epoch_bounds(g, e)?;
            if now < end.saturating_add(grace) {
                break;
            }
            let t = Instant::now();
            let blocked = self.holding_source(e, end);
            check_us += t.elapsed().as_micros() as u64;
            if blocked.is_some() {
                hold = blocked;
                break;
            }
            self.close_epoch(&pool, e, next).await?;
            self.drive_epoch(&pool, e, next).await?;
            e += 1;
        }
        self.status.set_hold(hold);
        self.status.last_check_us.store(check_us, Ordering::Relaxed);
        self.check_votes(&pool, next).await?;
        self.months(&pool, next, now).await?;
        self.check_month_votes(&pool).await
    }

    /// Reads the votes on the next epoch once this keeper has its commitment: when they are split
    /// so that no commitment can reach the quorum any more (the keepers who have not voted could
    /// not make up the difference), it is reported (`epoch_split`, with every hash and its votes).
    async fn check_votes(&mut self, pool: &PoolClient, next: u64) -> Result<(), ServiceError> {
        let Some(rec) = self.store.epoch(next)? else {
            return Ok(());
        };
        if rec.phase.is_done() {
            return Ok(());
        }
        let votes = pool.epoch_votes(next).await?;
        let split = if votes.len() < 2 {
            None
        } else {
            let keepers = pool.keepers().await?;
            let threshold = pool.threshold().await?;
            split_disagreement(
                DisagreementKind::EpochSplit,
                next,
                &rec.commitment_hash,
                &votes,
                &keepers,
                threshold,
            )
        };
        match split {
            Some(d) => {
                self.status.disagree(d);
            }
            None => self.status.resolve(DisagreementKind::EpochSplit, next),
        }
        Ok(())
    }

    /// Like [`Keeper::check_votes`] for months: reads the votes on every month this keeper has a
    /// root for that the chain has not finalised; a split that no root can win is reported
    /// (`month_split`). Until now a month's disagreement was seen only after its finalisation, and
    /// a split month never finalises.
    async fn check_month_votes(&mut self, pool: &PoolClient) -> Result<(), ServiceError> {
        let mut keeper_set: Option<(Vec<AccountId32>, u32)> = None;
        for m in self.store.months()? {
            if m.phase.is_done() {
                continue;
            }
            let index = u64::from(m.month_index);
            let votes = pool.month_votes(m.month_index).await?;
            let split = if votes.len() < 2 {
                None
            } else {
                let (keepers, threshold) = match &keeper_set {
                    Some(set) => set.clone(),
                    None => {
                        let set = (pool.keepers().await?, pool.threshold().await?);
                        keeper_set = Some(set.clone());
                        set
                    }
                };
                split_disagreement(
                    DisagreementKind::MonthSplit,
                    index,
                    &m.root_hash,
                    &votes,
                    &keepers,
                    threshold,
                )
            };
            match split {
                Some(d) => {
                    self.status.disagree(d);
                }
                None => self.status.resolve(DisagreementKind::MonthSplit, index),
            }
        }
        Ok(())
    }

    /// Recomputes every stored epoch and month that differs from the chain (`mismatch`), from
    /// the store's inputs and the chain's figures, and compares again.
    async fn resync_differing(&mut self, pool: &PoolClient, next: u64) -> Result<ResyncReport, ServiceError> {
        let mut epochs = Vec::new();
        for e in 0..self.store.last_epoch()?.map_or(0, |l| l + 1).min(next) {
            if self.store.epoch(e)?.is_some_and(|r| r.phase == Phase::Mismatch) {
                epochs.push(e);
            }
        }
        self.recompute(pool, next, &epochs).await
    }

    /// `flex-keeper resync`: imports the inputs, then recomputes from the store's inputs and the
    /// chain's figures every epoch the chain has finalised from `from` on (by default the epochs
    /// whose record is missing or not the chain's: `mismatch`, or never compared), then rebuilds
    /// the stored months they touch; each is compared with the chain again. Never votes. The keeper converges
    /// without a fresh database once its inputs are the others'.
    pub async fn resync(&mut self, from: Option<u64>) -> Result<ResyncReport, ServiceError> {
        if !self.import() {
            tracing::warn!("some inputs failed to import (see above): recomputing from what the store holds");
        }
        let pool = self.connect().await?;
        let next = pool.next_epoch().await?;
        let mut epochs = Vec::new();
        for e in 0..next {
            let redo = match from {
                Some(f) => e >= f,
                None => self.store.epoch(e)?.is_none_or(|r| r.phase != Phase::Finalized),
            };
            if redo {
                epochs.push(e);
            }
        }
        self.voting = false;
        let report = self.recompute(&pool, next, &epochs).await;
        self.voting = true;
        report
    }

    /// Recomputes `epochs` (all finalised on chain: `< next`), then the months that hold any of
    /// them or differ from the chain.
    async fn recompute(
        &mut self,
        pool: &PoolClient,
        next: u64,
        epochs: &[u64],
    ) -> Result<ResyncReport, ServiceError> {
        let mut report = ResyncReport::default();
        for &e in epochs {
            self.close_epoch(pool, e, next).await?;
            self.drive_epoch(pool, e, next).await?;
            report.epochs.push(e);
            match self.store.epoch(e)?.map(|r| r.phase) {
                Some(Phase::Finalized) => report.epochs_matching.push(e),
                _ => report.still_differing.push(format!("epoch {e}")),
            }
        }
        for m in self.store.months()? {
            let touched = epochs.iter().any(|e| (m.first_epoch..m.end_epoch).contains(e));
            if !(touched || m.phase == Phase::Mismatch) {
                continue;
            }
            let mut complete = true;
            for e in m.first_epoch..m.end_epoch {
                complete &= self.store.epoch(e)?.is_some_and(|r| r.phase == Phase::Finalized);
            }
            if !complete {
                report
                    .still_differing
                    .push(format!("month {} (an epoch differs)", m.month_index));
                continue;
            }
            let store = self.store.clone();
            let price = self
                .config
                .claim_prices
                .price(m.month_index)
                .map_err(ServiceError::ClaimPrice)?;
            let closed = tokio::task::block_in_place(|| {
                compute::close_month(&*store, m.month_index, m.first_epoch, m.end_epoch, price)
            })?;
            tokio::task::block_in_place(|| self.store.save_month(&closed.record, &closed.tree))?;
            let now = (pool.timestamp_ms().await? / 1000) as i64;
            self.drive_month(pool, m.month_index, now).await?;
            report.months.push(m.month_index);
            match self.store.month(m.month_index)?.map(|r| r.phase) {
                Some(Phase::Mismatch) => report.still_differing.push(format!("month {}", m.month_index)),
                _ => report.months_matching.push(m.month_index),
            }
        }
        Ok(report)
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
        let figures = self.pool_figures(pool, e, next, active).await?;
        let t = Instant::now();
        let closed =
            tokio::task::block_in_place(|| compute::close_epoch(e, g, &inputs, figures, self.config.bonus))?;
        let compute_ms = t.elapsed().as_millis() as u64;
        // The next epoch's forecast from the stored history and this epoch (forecast module).
        let t = Instant::now();
        let mut closed = closed;
        let history = self.forecast_history(pool, &closed.record).await?;
        tokio::task::block_in_place(|| {
            closed.set_forecast(&forecast::forecast(&forecast::history_of(&history), true))
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
            commitment = %flex_types::hex::encode(record.commitment_hash),
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

    /// The chain's view of epoch `e`'s pool, read fresh: a finalised epoch's figures from the
    /// chain (`epoch`); otherwise the preview (`expected_epoch`), which must answer for `e`. If
    /// other keepers finalised `e` meanwhile (the preview is for a later epoch), the finalised
    /// figures are read instead.
    async fn pool_figures(
        &self,
        pool: &PoolClient,
        e: u64,
        next: u64,
        active: u64,
    ) -> Result<PoolFigures, ServiceError> {
        let finalized = |info: flex_pool::EpochInfo| PoolFigures {
            wallet_index: info.wallet_index,
            halving: info.halving,
            snapshot: info.snapshot,
            pool: info.commitment.pool,
        };
        if e < next {
            if let Some(info) = pool.epoch(e).await? {
                return Ok(finalized(info));
            }
        }
        let p = pool.expected_epoch(active).await?;
        if p.epoch == e {
            return Ok(PoolFigures {
                wallet_index: p.wallet_index,
                halving: p.halving,
                snapshot: p.snapshot,
                pool: p.pool,
            });
        }
        match pool.epoch(e).await? {
            Some(info) if p.epoch > e => {
                tracing::info!(
                    epoch = e,
                    "finalised by the other keepers while its inputs were read: using the chain's figures"
                );
                Ok(finalized(info))
            }
            _ => Err(ServiceError::StalePreview {
                epoch: e,
                preview: p.epoch,
            }),
        }
    }

    /// The forecast history ending with `current`: each earlier epoch's figures as the chain
    /// finalised them (this keeper's record where it is the chain's commitment, else the chain's
    /// `EpochInfo`), at most `MAX_HISTORY` rows, oldest first.
    async fn forecast_history(
        &self,
        pool: &PoolClient,
        current: &flex_store::EpochRecord,
    ) -> Result<Vec<EpochFigures>, ServiceError> {
        let mut rows = vec![EpochFigures::from(current)];
        let mut e = current.epoch;
        while rows.len() < forecast::MAX_HISTORY && e > 0 {
            e -= 1;
            match self.store.epoch(e)? {
                Some(r) if r.phase == Phase::Finalized => rows.push((&r).into()),
                _ => match pool.epoch(e).await? {
                    Some(info) => rows.push(EpochFigures::from_chain(&info)),
                    None => break,
                },
            }
        }
        rows.reverse();
        Ok(rows)
    }

    async fn drive_epoch(&mut self, pool: &PoolClient, e: u64, next: u64) -> Result<(), ServiceError> {
        let Some(rec) = self.store.epoch(e)? else {
            return Ok(());
        };
        if rec.phase.is_done() {
            return Ok(());
        }
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
                self.status.disagree(Disagreement {
                    index: e,
                    kind: DisagreementKind::EpochMismatch,
                    ours: hex32(&rec.commitment_hash),
                    chain: vec![hex32(&info.commitment_hash)],
                    note,
                });
            } else {
                self.status.resolve(DisagreementKind::EpochMismatch, e);
                tracing::info!(epoch = e, voted = mine.is_some(), "epoch finalised");
            }
            self.status.resolve(DisagreementKind::EpochSplit, e);
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
        if e != next || !self.is_keeper || !self.voting {
            return Ok(());
        }
        let commitment = EpochCommitment::decode(&mut rec.commitment.as_slice()).map_err(|_| {
            ServiceError::Undecodable {
                what: "commitment of epoch",
                index: e,
            }
        })?;
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
            Err(err) => match not_landed(&err) {
                // AlreadyVoted / EpochAlreadyFinalized (refused in the dry run, or in the block
                // when another keeper's vote finalised the epoch in between) resolve on the next
                // tick from the chain's view; the connection is fine.
                Some(note) => {
                    self.store.set_epoch_phase(e, Phase::Computed, false, &note)?;
                    self.vote_not_landed(&err);
                    tracing::warn!(epoch = e, error = %err, "vote did not land: the chain's state is read again");
                    Ok(())
                }
                // Unknown whether the vote landed: stay `submitting`; the next tick asks the chain.
                None => Err(err.into()),
            },
        }
    }

    /// Counts a vote that the chain refused or that failed in its block (not a chain outage).
    fn vote_not_landed(&self, err: &CallError) {
        if matches!(err, CallError::FailedInBlock { .. }) {
            self.status.errors.fetch_add(1, Ordering::Relaxed);
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
        let mut held = None;
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
            let price = match self.config.claim_prices.price(m) {
                Ok(p) => p,
                Err(e) => {
                    // Never a default price: the month's root waits, loudly, until the table has it.
                    held.get_or_insert(MonthHold {
                        month: Month(m).to_string(),
                        month_index: m,
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            let store = self.store.clone();
            let closed = tokio::task::block_in_place(|| compute::close_month(&*store, m, first, end, price))?;
            tokio::task::block_in_place(|| self.store.save_month(&closed.record, &closed.tree))?;
            tracing::info!(
                month = m,
                claims = closed.record.claims,
                total = %closed.record.total,
                root = %flex_types::hex::encode(closed.record.root_hash),
                "month closed"
            );
            self.drive_month(pool, m, now).await?;
        }
        self.status.set_month_hold(held);
        Ok(())
    }

    async fn drive_month(&mut self, pool: &PoolClient, m: u32, _now: i64) -> Result<(), ServiceError> {
        let Some(rec) = self.store.month(m)? else {
            return Ok(());
        };
        let mine = pool.month_vote_of(m).await?;
        if let Some(info) = pool.month(m).await? {
            if info.commitment_hash == rec.root_hash {
                self.store
                    .set_month_phase(m, Phase::Finalized, mine.is_some(), "")?;
                self.status.resolve(DisagreementKind::MonthMismatch, u64::from(m));
                self.status.resolve(DisagreementKind::MonthSplit, u64::from(m));
                tracing::info!(month = m, "month finalised");
            } else {
                let note = format!(
                    "the chain finalised {}, ours is {}",
                    hex32(&info.commitment_hash),
                    hex32(&rec.root_hash)
                );
                self.store
                    .set_month_phase(m, Phase::Mismatch, mine.is_some(), &note)?;
                self.status.disagree(Disagreement {
                    index: u64::from(m),
                    kind: DisagreementKind::MonthMismatch,
                    ours: hex32(&rec.root_hash),
                    chain: vec![hex32(&info.commitment_hash)],
                    note,
                });
                self.status.resolve(DisagreementKind::MonthSplit, u64::from(m));
            }
            return Ok(());
        }
        if mine.is_some() {
            if rec.phase != Phase::Voted {
                self.store.set_month_phase(m, Phase::Voted, true, "")?;
            }
            return Ok(());
        }
        if !self.is_keeper || !self.voting {
            return Ok(());
        }
        let root = MonthRoot::decode(&mut rec.root.as_slice()).map_err(|_| ServiceError::Undecodable {
            what: "root of month",
            index: u64::from(m),
        })?;
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
            Err(err) => match not_landed(&err) {
                Some(note) => {
                    self.store.set_month_phase(m, Phase::Computed, false, &note)?;
                    self.vote_not_landed(&err);
                    tracing::warn!(month = m, error = %err, "month vote did not land: the chain's state is read again");
                    Ok(())
                }
                None => Err(err.into()),
            },
        }
    }
}

/// The note of a vote that certainly did not land, or `None` when it may have: the contract
/// refused it in the dry run (nothing was sent), or it was included and failed in its block
/// (`ContractReverted`: the state changed between the dry run and the block, e.g. another
/// keeper's vote finalised the item; a failed extrinsic changes nothing). Either way the chain is
/// reachable: the keeper keeps its connection and reads the chain's state again on the next tick,
/// instead of backing off as if the chain were down.
fn not_landed(err: &CallError) -> Option<String> {
    match err {
        CallError::Contract { error, .. } => Some(format!("refused: {error}")),
        CallError::FailedInBlock { block, error, .. } => Some(format!("failed in block {block}: {error}")),
        CallError::Chain { .. } | CallError::Bundle(_) => None,
    }
}

/// The status entry name of the signed off-chain files.
const OFFCHAIN_FILES: &str = "offchain.files";

fn hex32(h: &[u8; 32]) -> String {
    flex_types::hex::encode(h)
}

/// A stored `mismatch` as a disagreement (the chain's hash is in the record's note).
fn mismatch(kind: DisagreementKind, index: u64, ours: &[u8; 32], note: &str) -> Disagreement {
    let chain = note
        .split_whitespace()
        .map(|w| w.trim_end_matches(','))
        .filter(|w| w.starts_with("0x") && w.len() == 66 && *w != hex32(ours))
        .map(str::to_string)
        .collect();
    Disagreement {
        index,
        kind,
        ours: hex32(ours),
        chain,
        note: note.to_string(),
    }
}

/// Whether the votes on an epoch (or a month) are split beyond repair: `Some(votes per
/// commitment, current keepers only)` when no commitment voted, nor a new one, can reach
/// `threshold` with the votes of the current keepers who have not voted yet; `None` while one
/// still can.
pub fn split_verdict<C>(
    votes: &[([u8; 32], flex_pool::Proposal<C>)],
    keepers: &[flex_chain::AccountId32],
    threshold: u32,
) -> Option<Vec<([u8; 32], u32)>> {
    let counts: Vec<([u8; 32], u32)> = votes
        .iter()
        .map(|(h, p)| {
            let n = p.voters.iter().filter(|v| keepers.contains(v)).count();
            (*h, u32::try_from(n).unwrap_or(u32::MAX))
        })
        .collect();
    let voted: u32 = counts.iter().map(|(_, n)| *n).sum();
    let left = u32::try_from(keepers.len())
        .unwrap_or(u32::MAX)
        .saturating_sub(voted);
    let reachable = left >= threshold || counts.iter().any(|(_, n)| n.saturating_add(left) >= threshold);
    (!reachable).then_some(counts)
}

/// The `epoch_split` or `month_split` disagreement of item `index` (this keeper's hash `ours`)
/// when its votes are split beyond repair ([`split_verdict`]); `None` while a commitment can
/// still win.
pub fn split_disagreement<C>(
    kind: DisagreementKind,
    index: u64,
    ours: &[u8; 32],
    votes: &[([u8; 32], flex_pool::Proposal<C>)],
    keepers: &[flex_chain::AccountId32],
    threshold: u32,
) -> Option<Disagreement> {
    let counts = split_verdict(votes, keepers, threshold)?;
    Some(Disagreement {
        index,
        kind,
        ours: hex32(ours),
        chain: counts.iter().map(|(h, n)| format!("{}:{n}", hex32(h))).collect(),
        note: format!(
            "no commitment can reach the quorum of {threshold} of {} keepers",
            keepers.len()
        ),
    })
}

/// The first source that has not provably passed `end` (unix seconds), as the hold on epoch
/// `e`: a file or the signed files not imported cleanly (it could hold actions of any epoch
/// not closed yet), or a chain follower whose cursor block's time is before `end` (behind,
/// its node down, or stopped). `None`: the inputs of `e` are complete.
pub fn holding_source(status: &Status, followers: &[(String, SourceKind)], e: u64, end: i64) -> Option<Hold> {
    let hold = |source: &str, reason: String| {
        Some(Hold {
            epoch: e,
            reason,
            source: source.to_string(),
        })
    };
    for s in status.sources() {
        if matches!(s.kind, SourceKind::File | SourceKind::Offchain) && s.state != "ok" {
            let error = s.error.unwrap_or_default();
            return hold(&s.name, format!("not imported cleanly: {error}"));
        }
    }
    for (name, kind) in followers {
        let Some(s) = status.source(name) else {
            return hold(name, "not started".into());
        };
        let stopped = match (&s.error, s.state) {
            (Some(err), "stopped") => format!("; stopped: {err}"),
            _ => String::new(),
        };
        match (s.cursor_block, s.cursor_time) {
            (Some(_), Some(t)) if t >= end => {}
            (Some(b), Some(t)) => {
                let kind = match kind {
                    SourceKind::Evm => "EVM",
                    SourceKind::Substrate => "Substrate",
                    SourceKind::File | SourceKind::Offchain => "the",
                };
                return hold(
                    name,
                    format!("{kind} follower's cursor block {b} has time {t}, before the epoch's end {end}{stopped}"),
                );
            }
            (Some(b), None) => {
                return hold(
                    name,
                    format!("no block time vouches for its cursor block {b}{stopped}"),
                )
            }
            _ => return hold(name, format!("no block read yet{stopped}")),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use flex_chain::AccountId32;
    use flex_pool::{EpochCommitment, MonthRoot, Proposal};

    fn followers() -> Vec<(String, SourceKind)> {
        vec![
            ("evm:main".to_string(), SourceKind::Evm),
            ("substrate:dev".to_string(), SourceKind::Substrate),
        ]
    }

    /// An epoch waits for every follower's cursor to reach its end and for every file to import
    /// cleanly, and names the source that holds it back.
    #[test]
    fn an_epoch_waits_for_every_source_to_pass_its_end() {
        let st = Status::default();
        let end = 1_000;
        st.register_source("a.jsonl", SourceKind::File);
        let h = holding_source(&st, &followers(), 3, end).unwrap();
        assert_eq!(
            (h.epoch, h.source.as_str(), h.reason.as_str()),
            (3, "evm:main", "not started")
        );
        st.source_cursor("evm:main", SourceKind::Evm, 10, 999);
        st.source_cursor("substrate:dev", SourceKind::Substrate, 4, 1_000);
        let h = holding_source(&st, &followers(), 3, end).unwrap();
        assert_eq!(h.source, "evm:main");
        assert!(
            h.reason
                .contains("cursor block 10 has time 999, before the epoch's end 1000"),
            "{}",
            h.reason
        );
        st.source_cursor("evm:main", SourceKind::Evm, 11, 1_012);
        assert_eq!(holding_source(&st, &followers(), 3, end), None);
        // A stopped follower holds only the epochs after its cursor.
        st.source_stopped("substrate:dev", SourceKind::Substrate, "deep reorganisation");
        assert_eq!(holding_source(&st, &followers(), 3, end), None);
        st.source_cursor("evm:main", SourceKind::Evm, 20, 2_500);
        let h = holding_source(&st, &followers(), 4, 2_000).unwrap();
        assert_eq!(h.source, "substrate:dev");
        assert!(h.reason.ends_with("stopped: deep reorganisation"), "{}", h.reason);
        // A failing file holds every epoch not closed yet, first.
        st.source_failed("a.jsonl", SourceKind::File, "line 9: bad wallet");
        let h = holding_source(&st, &followers(), 3, end).unwrap();
        assert_eq!(
            (h.source.as_str(), h.reason.as_str()),
            ("a.jsonl", "not imported cleanly: line 9: bad wallet")
        );
        st.source_ok("a.jsonl", SourceKind::File);
        assert_eq!(holding_source(&st, &followers(), 3, end), None);
        // A follower stopped by a reorganisation deeper than its confirmations: what it read
        // after the fork is not the chain's, so its cursor's time (past this end) proves nothing.
        st.source_cursor("substrate:dev", SourceKind::Substrate, 30, 3_000);
        assert_eq!(holding_source(&st, &followers(), 4, 2_000), None);
        st.source_stopped(
            "evm:main",
            SourceKind::Evm,
            "reorganisation deeper than the confirmation depth",
        );
        st.forget_cursor_time("evm:main");
        let h = holding_source(&st, &followers(), 4, 2_000).unwrap();
        assert_eq!(h.source, "evm:main");
        assert!(
            h.reason
                .starts_with("no block time vouches for its cursor block 20; stopped: "),
            "{}",
            h.reason
        );
        assert_eq!(st.source("evm:main").unwrap().cursor_block, Some(20));
    }

    fn votes(split: &[(u8, &[u8])]) -> flex_pool::EpochVotes {
        split
            .iter()
            .map(|(h, voters)| {
                (
                    [*h; 32],
                    Proposal {
                        commitment: EpochCommitment {
                            epoch: 0,
                            scores_root: [*h; 32],
                            active_count: 0,
                            total_weight_bits: 0,
                            multiplier_sum: 0,
                            pool: 0,
                            forecast: 0,
                        },
                        voters: voters.iter().map(|v| AccountId32([*v; 32])).collect(),
                    },
                )
            })
            .collect()
    }

    /// Four keepers, quorum 3: 2 + 1 can still finalise the first (one keeper left); 2 + 2 or
    /// 1 + 1 + 1 with nobody able to tip it cannot; votes of removed keepers do not count.
    #[test]
    fn a_split_is_reported_only_when_no_commitment_can_win() {
        let keepers: Vec<AccountId32> = (1..=4).map(|i| AccountId32([i; 32])).collect();
        assert_eq!(
            split_verdict(&votes(&[(0xa, &[1, 2]), (0xb, &[3])]), &keepers, 3),
            None
        );
        let split = split_verdict(&votes(&[(0xa, &[1, 2]), (0xb, &[3, 4])]), &keepers, 3).unwrap();
        assert_eq!(split, vec![([0xa; 32], 2), ([0xb; 32], 2)]);
        assert!(split_verdict(&votes(&[(0xa, &[1]), (0xb, &[2]), (0xc, &[3])]), &keepers, 3).is_some());
        // Keeper 9 was removed: its vote does not count, and 4 has not voted: 2 + 1 can win.
        assert_eq!(
            split_verdict(&votes(&[(0xa, &[1, 2]), (0xb, &[3, 9])]), &keepers, 3),
            None
        );
    }

    fn month_votes(split: &[(u8, &[u8])]) -> flex_pool::MonthVotes {
        split
            .iter()
            .map(|(h, voters)| {
                (
                    [*h; 32],
                    Proposal {
                        commitment: MonthRoot {
                            month_index: 24_312,
                            claims_root: [*h; 32],
                            total: 1_000,
                            claim_price: 0,
                        },
                        voters: voters.iter().map(|v| AccountId32([*v; 32])).collect(),
                    },
                )
            })
            .collect()
    }

    /// A month's votes are read like an epoch's: 2 + 2 of four keepers (quorum 3) is a
    /// `month_split` naming this keeper's root and every root with its votes; 2 + 1 with one
    /// keeper left, or one root only, is not.
    #[test]
    fn a_month_split_is_reported_with_every_root_and_its_votes() {
        let keepers: Vec<AccountId32> = (1..=4).map(|i| AccountId32([i; 32])).collect();
        let ours = [0xa; 32];
        let split = |v: &[(u8, &[u8])]| {
            split_disagreement(
                DisagreementKind::MonthSplit,
                24_312,
                &ours,
                &month_votes(v),
                &keepers,
                3,
            )
        };
        assert_eq!(split(&[(0xa, &[1, 2]), (0xb, &[3])]), None);
        assert_eq!(split(&[(0xa, &[1, 2, 3])]), None);
        let d = split(&[(0xa, &[1, 2]), (0xb, &[3, 4])]).unwrap();
        assert_eq!(d.kind, DisagreementKind::MonthSplit);
        assert_eq!(d.kind.as_str(), "month_split");
        assert_eq!(d.index, 24_312);
        assert_eq!(d.ours, format!("0x{}", "0a".repeat(32)));
        assert_eq!(
            d.chain,
            vec![
                format!("0x{}:2", "0a".repeat(32)),
                format!("0x{}:2", "0b".repeat(32))
            ]
        );
        assert_eq!(d.note, "no commitment can reach the quorum of 3 of 4 keepers");
        // Reported once in the status (logged once), shown until resolved.
        let st = Status::default();
        assert!(st.disagree(d.clone()));
        assert!(!st.disagree(d));
        assert_eq!(st.disagreements().len(), 1);
        st.resolve(DisagreementKind::MonthSplit, 24_312);
        assert!(st.disagreements().is_empty());
    }

    /// A vote refused in the dry run or failed in its block did not land: the keeper re-reads
    /// the chain (phase back to `computed`, with why) and keeps its connection; a chain error
    /// leaves it unknown (stay `submitting`, reconnect with backoff).
    #[test]
    fn a_vote_failed_in_its_block_is_not_a_chain_outage() {
        let failed = CallError::FailedInBlock {
            message: "submit_epoch".into(),
            block: "0x01".into(),
            error: "Pallet error: Contracts::ContractReverted".into(),
        };
        assert_eq!(
            not_landed(&failed).as_deref(),
            Some("failed in block 0x01: Pallet error: Contracts::ContractReverted")
        );
        let refused = CallError::Contract {
            message: "submit_epoch".into(),
            error: "AlreadyVoted".into(),
        };
        assert_eq!(not_landed(&refused).as_deref(), Some("refused: AlreadyVoted"));
        let down = CallError::Chain {
            message: "submit_epoch".into(),
            source: flex_chain::ChainError::Rpc("connection closed".into()),
        };
        assert_eq!(not_landed(&down), None);
        assert!(ServiceError::Chain(down).is_transient());
        assert!(!ServiceError::Chain(failed).is_transient());
    }

    #[test]
    fn a_stored_mismatch_names_both_hashes() {
        let ours = [3u8; 32];
        let note = format!(
            "the chain finalised 0x{}, ours is 0x{}",
            "04".repeat(32),
            "03".repeat(32)
        );
        let d = mismatch(DisagreementKind::EpochMismatch, 5, &ours, &note);
        assert_eq!(d.ours, format!("0x{}", "03".repeat(32)));
        assert_eq!(d.chain, vec![format!("0x{}", "04".repeat(32))]);
        assert_eq!(d.index, 5);
    }
}
