//! The keeper's intake of signed off-chain batches (the envelope is `flex_ingest::offchain`):
//! configured attester, signature, expiry (by epochs), a nonce the attester has not used, actions
//! valid and in an epoch this keeper has not closed, then the store write, which records the
//! batch (its envelope too, for a rebuild: [`Intake::reimport`]) and adds the actions in one
//! transaction. The stored ids are in the attester's namespace, `off:<attester>:<id>`. Batches
//! arrive over HTTP (`POST /v1/actions`, through the API) or as signed files (`offchain.files`,
//! [`Intake::import_files`]).

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flex_engine::{Genesis, WeightTable};
pub use flex_ingest::offchain::*;
use flex_store::{ActionRow, OffchainBatch, OffchainImport, Store, StoreError};
use flex_types::{hex, AccountId, Address};

use std::sync::atomic::Ordering;

use crate::follower::{self, BoxFuture};
use crate::{FollowSummary, Follower, SourceError, SourceKind, Status, Until};

/// The store's meta key holding the chain's genesis hash (`0x` + 64 hex digits), recorded by the
/// keeper when it connects ([`record_chain`]).
pub const CHAIN_META: &str = "chain_genesis_hash";

/// Who may submit, and what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The attesters' EVM addresses (`offchain.attesters`). Empty: no submissions.
    pub attesters: BTreeSet<Address>,
    /// The kinds attesters may submit (`offchain.kinds`); `None`: every kind of the weight table.
    pub kinds: Option<BTreeSet<String>>,
}

/// What an accepted batch added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub attester: Address,
    pub nonce: u64,
    pub digest: [u8; 32],
    pub actions_new: u64,
    /// Actions whose `action_id` was already stored with the same content.
    pub actions_known: u64,
}

/// The rules a batch is accepted under ([`Intake::accept_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// A batch arriving now: refused once the epoch of its `expires_at`, or of one of its actions,
    /// is closed at this keeper.
    Live,
    /// Re-importing archived batches to rebuild history (`flex-keeper offchain reimport`): the
    /// same checks without the closed-epoch ones (the batches were accepted while their epochs
    /// were open).
    Rebuild,
}

/// What [`Intake::reimport`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReimportStats {
    pub accepted: u64,
    /// Batches this keeper already held (the same bytes).
    pub known: u64,
    pub actions_new: u64,
    /// Refused batches: the line (1-based) and why.
    pub refused: Vec<(usize, String)>,
}

/// Signed files imported in one pass ([`Intake::import_files`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    pub accepted: u64,
    /// Files holding a batch this keeper accepted before (by HTTP or from another file).
    pub known: u64,
    pub rejected: u64,
    pub actions_new: u64,
}

/// Records the chain's genesis hash in the store, the chain half of the [`Domain`]. Called by
/// the keeper on every connection; a change (the keeper now follows another chain) is logged.
pub fn record_chain(store: &dyn Store, genesis_hash: [u8; 32]) -> Result<(), StoreError> {
    let hash = hex::encode(genesis_hash);
    match store.meta(CHAIN_META)? {
        Some(h) if h == hash => Ok(()),
        old => {
            if let Some(old) = old {
                tracing::warn!(old = %old, new = %hash, "the chain's genesis hash changed: off-chain batches signed for the old chain are now refused");
            }
            store.set_meta(CHAIN_META, &hash)
        }
    }
}

/// The keeper's intake of signed batches: the checks and the store write.
#[derive(Clone)]
pub struct Intake {
    store: Arc<dyn Store>,
    policy: Policy,
    table: WeightTable,
    contract: AccountId,
    genesis: Option<i64>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("policy", &self.policy)
            .field("contract", &hex::encode_digits(self.contract))
            .field("genesis", &self.genesis)
            .finish()
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// An intake that cannot be set up as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("offchain.kinds: {0:?} is not in the weight table")]
    UnknownKind(String),
}

impl Intake {
    /// `genesis` (unix seconds) when configured; otherwise the one the keeper recorded from the
    /// contract (meta `genesis`) is used. Every kind of `policy.kinds` must be in `table`.
    pub fn new(
        store: Arc<dyn Store>,
        policy: Policy,
        table: WeightTable,
        contract: AccountId,
        genesis: Option<i64>,
    ) -> Result<Self, IntakeError> {
        if let Some(kinds) = &policy.kinds {
            if let Some(k) = kinds.iter().find(|k| table.kind(k).is_none()) {
                return Err(IntakeError::UnknownKind(k.clone()));
            }
        }
        Ok(Self {
            store,
            policy,
            table,
            contract,
            genesis,
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The kinds attesters may submit.
    pub fn kinds(&self) -> Vec<String> {
        match &self.policy.kinds {
            Some(k) => k.iter().cloned().collect(),
            None => {
                let mut v: Vec<String> = (0..self.table.len())
                    .filter_map(|i| u16::try_from(i).ok().and_then(|i| self.table.name(i)))
                    .map(str::to_string)
                    .collect();
                v.sort();
                v
            }
        }
    }

    pub fn contract(&self) -> AccountId {
        self.contract
    }

    /// The chain's genesis hash, once the keeper has connected.
    pub fn chain(&self) -> Result<Option<[u8; 32]>, OffchainError> {
        let Some(h) = self.store.meta(CHAIN_META)? else {
            return Ok(None);
        };
        let b = Some(h.as_str())
            .filter(|h| h.starts_with("0x"))
            .and_then(|h| hex::decode(h).ok())
            .ok_or(StoreError::Corrupt {
                what: "meta chain_genesis_hash",
            })?;
        Ok(Some(b))
    }

    /// The domain signatures must be bound to.
    pub fn domain(&self) -> Result<Domain, OffchainError> {
        let chain = self.chain()?.ok_or_else(|| {
            OffchainError::NotReady(
                "this keeper has not connected to the chain yet, so it does not know the chain's genesis hash \
                 that signatures are bound to; try again later"
                    .into(),
            )
        })?;
        Ok(Domain {
            chain,
            contract: self.contract,
        })
    }

    /// An attester's highest accepted nonce.
    pub fn last_nonce(&self, attester: &Address) -> Result<Option<u64>, OffchainError> {
        Ok(self.store.offchain_nonce(attester)?)
    }

    fn genesis(&self) -> Result<Option<Genesis>, OffchainError> {
        let g = match self.genesis {
            Some(g) => Some(g),
            None => self.store.meta("genesis")?.and_then(|g| g.parse::<i64>().ok()),
        };
        Ok(g.and_then(|g| Genesis::new(g).ok()))
    }

    /// Checks `signed` and stores its actions under the live rules ([`Rules::Live`]); `via` says
    /// how it came (`http`, a file).
    pub fn accept(&self, signed: &SignedSubmission, via: &str) -> Result<Accepted, OffchainError> {
        self.accept_with(signed, via, Rules::Live)
    }

    /// Checks `signed` and stores its actions. Checks, in order: an attester of this keeper (403),
    /// the signature over this keeper's domain (401), not expired (the epoch holding `expires_at`
    /// not closed at this keeper, 422; live rules only), a nonce the attester has not used (409),
    /// each action's kind, and its epoch (after genesis, 422; not closed, live rules only); then
    /// the batch (its envelope too), the nonce and the actions are stored in one transaction (a
    /// conflicting `action_id` is a 422 naming the action, and nothing is stored).
    ///
    /// Whether a batch is accepted depends only on the batch, the configuration and which epochs
    /// this keeper has closed, never on the other batches or their order: keepers that receive the
    /// same batches before closing an epoch accept the same ones (`docs/PROTOCOL.md`).
    pub fn accept_with(
        &self,
        signed: &SignedSubmission,
        via: &str,
        rules: Rules,
    ) -> Result<Accepted, OffchainError> {
        let s = &signed.submission;
        if self.policy.attesters.is_empty() {
            return Err(OffchainError::Disabled);
        }
        if !self.policy.attesters.contains(&s.attester) {
            return Err(OffchainError::UnknownAttester(s.attester.to_string()));
        }
        let domain = self.domain()?;
        s.check_shape()?;
        signed.verify(&domain)?;
        let genesis = self.genesis()?;
        let last_closed = match rules {
            Rules::Live => self.store.last_epoch()?,
            Rules::Rebuild => None,
        };
        if let (Some(g), Rules::Live) = (genesis, rules) {
            let epoch = g.epoch_of(s.expires_at);
            let expired = match (epoch, last_closed) {
                (None, _) => true,
                (Some(e), Some(l)) => e <= l,
                (Some(_), None) => false,
            };
            if expired {
                return Err(OffchainError::Expired {
                    expires_at: s.expires_at,
                    epoch,
                    last_closed,
                });
            }
        }
        let digest = s.digest(&domain);
        let replay = |used_by: [u8; 32]| OffchainError::Replay {
            nonce: s.nonce,
            same_batch: used_by == digest,
        };
        if let Some(used_by) = self.store.offchain_batch(&s.attester, s.nonce)? {
            return Err(replay(used_by));
        }
        let mut rows = Vec::with_capacity(s.actions.len());
        for (index, a) in s.actions.iter().enumerate() {
            let bad = |field: &str, message: String| OffchainError::Action {
                index,
                field: field.to_string(),
                message,
            };
            if self.table.kind(&a.kind).is_none() {
                return Err(bad("kind", format!("{:?} is not in the weight table", a.kind)));
            }
            if let Some(kinds) = &self.policy.kinds {
                if !kinds.contains(&a.kind) {
                    return Err(bad(
                        "kind",
                        format!("{:?} is not a kind attesters may submit (offchain.kinds)", a.kind),
                    ));
                }
            }
            if let Some(g) = genesis {
                let Some(e) = g.epoch_of(a.timestamp) else {
                    return Err(bad(
                        "timestamp",
                        format!("{} is before genesis ({})", a.timestamp, g.unix_seconds()),
                    ));
                };
                if last_closed.is_some_and(|l| e <= l) {
                    return Err(bad(
                        "timestamp",
                        format!(
                            "{} is in epoch {e}, which this keeper has already closed",
                            a.timestamp
                        ),
                    ));
                }
            }
            rows.push(ActionRow {
                action_id: flex_ingest::ids::offchain_id(&s.attester, &a.action_id),
                wallet: a.wallet,
                kind: a.kind.clone(),
                side: "offchain".into(),
                timestamp: a.timestamp,
            });
        }
        let source = format!("offchain:{}:{}", s.attester, s.nonce);
        let envelope = signed.to_json_line();
        let batch = OffchainBatch {
            attester: s.attester,
            nonce: s.nonce,
            digest,
            source: &source,
            via,
            envelope: &envelope,
        };
        let stats = match self.store.import_offchain(&batch, &rows) {
            Ok(OffchainImport::Accepted(stats)) => stats,
            Ok(OffchainImport::Seen { digest: used_by }) => return Err(replay(used_by)),
            Err(StoreError::ActionConflict { id, field, .. }) => {
                let index = rows.iter().position(|r| r.action_id == id).unwrap_or(0);
                return Err(OffchainError::Action {
                    index,
                    field: match field {
                        "wallet" | "kind" | "timestamp" => field,
                        _ => "action_id",
                    }
                    .to_string(),
                    message: format!(
                        "action_id {:?} (stored as {id:?}) is already stored with another {field}: another \
                         batch of this attester gave it",
                        s.actions[index].action_id
                    ),
                });
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(
            attester = %s.attester,
            nonce = s.nonce,
            actions_new = stats.actions_new,
            actions_known = stats.actions_known,
            via,
            "accepted an off-chain batch"
        );
        Ok(Accepted {
            attester: s.attester,
            nonce: s.nonce,
            digest,
            actions_new: stats.actions_new,
            actions_known: stats.actions_known,
        })
    }

    /// Re-imports archived batches (JSON lines, one envelope a line, as `flex-keeper offchain
    /// archive` writes them) under [`Rules::Rebuild`]: signatures, attesters and kinds are checked
    /// as always, the closed-epoch rules are not. A batch already held counts as known; a refused
    /// one is listed with its line and reason, and the others still go in. Blank lines are skipped.
    /// The archive is read a line at a time (it may be larger than memory); `via` names it.
    pub fn reimport(&self, archive: &mut dyn BufRead, via: &str) -> Result<ReimportStats, OffchainError> {
        let mut stats = ReimportStats::default();
        for (i, line) in archive.lines().enumerate() {
            let line = line.map_err(|e| OffchainError::Field {
                field: "file".into(),
                message: format!("{via}: cannot read line {}: {e}", i + 1),
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let outcome = SignedSubmission::from_json(line.as_bytes())
                .and_then(|b| self.accept_with(&b, via, Rules::Rebuild));
            match outcome {
                Ok(a) => {
                    stats.accepted += 1;
                    stats.actions_new += a.actions_new;
                }
                Err(OffchainError::Replay { same_batch: true, .. }) => stats.known += 1,
                Err(e @ (OffchainError::Store(_) | OffchainError::NotReady(_) | OffchainError::Sign(_))) => {
                    return Err(e)
                }
                Err(e) => stats.refused.push((i + 1, e.to_string())),
            }
        }
        Ok(stats)
    }

    /// Imports signed files (`offchain.files`: files, or folders whose `*.json` files are read),
    /// with the same checks as [`Intake::accept`]. A file is read again only when its size or
    /// modification time changed. Batches are applied in nonce order per attester, whatever the
    /// file names. A refused file is logged (file and reason) and skipped until it changes; a batch
    /// this keeper already holds (the same bytes) counts as known. Nothing is read before the
    /// keeper knows its domain (its first connection to the chain).
    pub fn import_files(&self, paths: &[PathBuf]) -> Result<FileStats, SourceError> {
        let mut stats = FileStats::default();
        if paths.is_empty() || self.chain()?.is_none() {
            return Ok(stats);
        }
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                let rd = std::fs::read_dir(p).map_err(|e| SourceError::File {
                    file: format!("offchain.files: {}", p.display()),
                    message: format!("cannot read the folder: {e}"),
                })?;
                let mut found: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "json"))
                    .collect();
                found.sort();
                files.extend(found);
            } else if p.is_file() {
                files.push(p.clone());
            } else {
                // Logged on every pass, not fatal: a missing folder must not stop the keeper
                // closing epochs.
                tracing::warn!(path = %p.display(), "offchain.files: no such file or folder");
            }
        }
        let mut todo: Vec<(PathBuf, Option<String>, Result<SignedSubmission, OffchainError>)> = Vec::new();
        for f in files {
            let fp = fingerprint(&f);
            if fp.is_some() && self.store.meta(&file_key(&f))? == fp {
                continue;
            }
            todo.push((f.clone(), fp, read_signed_file(&f)));
        }
        // Per attester in nonce order; unreadable files first (they only get logged).
        todo.sort_by_key(|(f, _, r)| match r {
            Ok(s) => (1, s.submission.attester, s.submission.nonce, f.clone()),
            Err(_) => (0, Address::default(), 0, f.clone()),
        });
        for (f, fp, parsed) in todo {
            let file = f.display().to_string();
            let outcome = parsed.and_then(|s| self.accept(&s, &file));
            match outcome {
                Ok(a) => {
                    stats.accepted += 1;
                    stats.actions_new += a.actions_new;
                }
                Err(OffchainError::Replay { same_batch: true, .. }) => {
                    stats.known += 1;
                    tracing::debug!(file = %file, "signed file: batch already accepted");
                }
                Err(e @ (OffchainError::Store(_) | OffchainError::NotReady(_) | OffchainError::Sign(_))) => {
                    return Err(e.into());
                }
                Err(e) => {
                    stats.rejected += 1;
                    tracing::error!(file = %file, code = e.code(), error = %e, "signed file refused; skipped until it changes");
                }
            }
            if let Some(fp) = fp {
                self.store.set_meta(&file_key(&f), &fp)?;
            }
        }
        Ok(stats)
    }
}

/// The signed files of `offchain.files` as a follower ([`Intake::import_files`] on each pass).
#[derive(Debug, Clone)]
pub struct SignedFiles {
    pub intake: Intake,
    pub paths: Vec<PathBuf>,
    pub poll: std::time::Duration,
}

impl SignedFiles {
    /// One pass; refused files are counted in `status.errors` (each is logged once per change).
    pub fn import_changed(&self, status: Option<&Status>) -> Result<FollowSummary, SourceError> {
        let st = self.intake.import_files(&self.paths)?;
        if let Some(s) = status {
            s.imported_actions.fetch_add(st.actions_new, Ordering::Relaxed);
            s.errors.fetch_add(st.rejected, Ordering::Relaxed);
        }
        Ok(FollowSummary {
            name: self.name_of(),
            batches: st.accepted,
            events: st.accepted + st.known + st.rejected,
            actions_new: st.actions_new,
            ..FollowSummary::default()
        })
    }

    fn name_of(&self) -> String {
        "offchain.files".into()
    }
}

impl Follower for SignedFiles {
    fn name(&self) -> String {
        self.name_of()
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Offchain
    }

    fn follow<'a>(
        &'a self,
        _store: Arc<dyn Store>,
        status: Option<Arc<Status>>,
        until: Until,
        stop: BoxFuture<'a, ()>,
    ) -> BoxFuture<'a, Result<FollowSummary, SourceError>> {
        Box::pin(follower::by_passes(
            self.name_of(),
            until,
            self.poll,
            stop,
            move || self.import_changed(status.as_deref()),
        ))
    }
}

fn file_key(f: &Path) -> String {
    format!("offchain-file:{}", f.display())
}

fn fingerprint(path: &Path) -> Option<String> {
    let md = std::fs::metadata(path).ok()?;
    let mtime = md.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{}:{}", md.len(), mtime.as_nanos()))
}

#[cfg(test)]
mod tests;
