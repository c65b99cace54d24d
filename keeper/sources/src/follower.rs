//! The one interface of every activity source, and the one summary each reports.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use flex_store::Store;
use serde::{Serialize, Serializer};

use crate::{SourceError, SourceKind, Status};

/// How long a follower runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Until everything available now is read (one pass of a file; the chain's head).
    CaughtUp,
    /// Until the stop signal.
    Stopped,
}

/// A follower's position on its chain: a block and its hash (`None` for files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub block: u64,
    #[serde(serialize_with = "hex32")]
    pub hash: [u8; 32],
}

fn hex32<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&flex_types::hex::encode(h))
}

/// What a follower did in one run (printed as JSON by `flex-keeper follow-evm` and
/// `follow-substrate`; logged by `flex-keeper run`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FollowSummary {
    /// The section's name (`[[evm]] name`, `[[substrate]] name`) or the file.
    pub name: String,
    /// The position when it started.
    pub resumed_from: Option<Position>,
    /// The position when it stopped.
    pub cursor: Option<Position>,
    /// The chain's latest block seen (confirmed head, finalized head).
    pub head: u64,
    /// The first block handled by this run.
    pub first_block: Option<u64>,
    /// Reads that imported (RPC ranges, groups of blocks, files).
    pub batches: u64,
    pub blocks: u64,
    /// Logs, events or input records matched.
    pub events: u64,
    pub actions_new: u64,
    pub actions_known: u64,
    /// Failures retried after a backoff.
    pub retries: u64,
    pub connections: u64,
}

/// A boxed future, for the object-safe [`Follower`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An activity source.
pub trait Follower: Send + Sync {
    /// Names the source in logs (`evm:mainnet`, `substrate:devnet`, a file).
    fn name(&self) -> String;

    /// What kind of source it is (`/health` lists sources with their kind).
    fn kind(&self) -> SourceKind;

    /// Reads into `store` until `until` or `stop`; counts new actions in `status`.
    fn follow<'a>(
        &'a self,
        store: Arc<dyn Store>,
        status: Option<Arc<Status>>,
        until: Until,
        stop: BoxFuture<'a, ()>,
    ) -> BoxFuture<'a, Result<FollowSummary, SourceError>>;
}

impl FollowSummary {
    /// Adds a pass's counts (files and signed files are followed by repeated passes).
    pub fn add(&mut self, pass: &FollowSummary) {
        self.batches += pass.batches;
        self.events += pass.events;
        self.actions_new += pass.actions_new;
        self.actions_known += pass.actions_known;
    }
}

/// Runs `pass` (blocking I/O, off the async workers) once for `Until::CaughtUp`, or every `poll`
/// until `stop`; returns the summed summary named `name`.
pub(crate) async fn by_passes(
    name: String,
    until: Until,
    poll: std::time::Duration,
    stop: BoxFuture<'_, ()>,
    mut pass: impl FnMut() -> Result<FollowSummary, SourceError>,
) -> Result<FollowSummary, SourceError> {
    tokio::pin!(stop);
    let mut total = FollowSummary {
        name,
        ..FollowSummary::default()
    };
    loop {
        let summary = tokio::task::block_in_place(&mut pass)?;
        total.add(&summary);
        if until == Until::CaughtUp {
            return Ok(total);
        }
        tokio::select! {
            _ = &mut stop => return Ok(total),
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Starts each follower in the background until `stop` turns true. A follower that stops on an
/// error is reported in `status` (state `stopped`, its error, counted in `Status::errors`); the
/// keeper goes on without it, and the epochs after its cursor wait (the runner's completeness
/// check).
pub fn spawn(
    followers: Vec<Box<dyn Follower>>,
    store: Arc<dyn Store>,
    status: Arc<Status>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    followers
        .into_iter()
        .map(|f| {
            let (store, status, mut rx) = (store.clone(), status.clone(), stop.clone());
            tokio::spawn(async move {
                let stop = Box::pin(async move {
                    let _ = rx.wait_for(|s| *s).await;
                });
                let (name, kind) = (f.name(), f.kind());
                status.register_source(&name, kind);
                match f.follow(store, Some(status.clone()), Until::Stopped, stop).await {
                    Ok(s) => {
                        tracing::debug!(source = %name, actions_new = s.actions_new, "follower task ended")
                    }
                    Err(e) => {
                        status.source_stopped(&name, kind, &format!("follower stopped on an error: {e}"));
                    }
                }
            })
        })
        .collect()
}

/// The meta key holding a chain follower's cursor block and its time (`BLOCK:UNIX_SECONDS`),
/// written after the cursor itself.
pub fn cursor_time_key(cursor_key: &str) -> String {
    format!("{cursor_key}:time")
}

/// The stored time of the cursor's block `block`, if the stored entry is of that block (a crash
/// between the two writes leaves an older entry: then it is unknown until the next batch).
pub fn stored_cursor_time(store: &dyn Store, time_key: &str, block: u64) -> Result<Option<i64>, SourceError> {
    let Some(v) = store.meta(time_key)? else {
        return Ok(None);
    };
    let parsed = v
        .split_once(':')
        .and_then(|(b, t)| Some((b.parse::<u64>().ok()?, t.parse::<i64>().ok()?)));
    match parsed {
        Some((b, t)) => Ok((b == block).then_some(t)),
        None => Err(SourceError::Cursor {
            key: time_key.to_string(),
            message: format!("{v:?} is not BLOCK:UNIX_SECONDS"),
        }),
    }
}
