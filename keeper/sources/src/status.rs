//! What the running keeper shares with its API: chain connection, progress, counters.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;

use flex_pool::PoolClient;

#[derive(Debug, Default)]
pub struct Status {
    pub chain_connected: AtomicBool,
    /// Latest block time seen, unix milliseconds.
    pub chain_time_ms: AtomicU64,
    /// The contract's next unfinalised epoch.
    pub next_epoch: AtomicU64,
    pub epochs_closed: AtomicU64,
    pub epoch_votes: AtomicU64,
    pub month_votes: AtomicU64,
    pub reconnects: AtomicU64,
    pub errors: AtomicU64,
    pub imported_actions: AtomicU64,
    /// Duration of the last epoch close (compute + store), milliseconds.
    pub last_close_ms: AtomicU64,
    /// The connected pool client (for the API's claim status), if any.
    pub client: RwLock<Option<PoolClient>>,
}

impl Status {
    pub fn client(&self) -> Option<PoolClient> {
        self.client.read().ok().and_then(|c| c.clone())
    }

    pub fn set_client(&self, client: Option<PoolClient>) {
        self.chain_connected.store(client.is_some(), Ordering::Relaxed);
        if let Ok(mut slot) = self.client.write() {
            *slot = client;
        }
    }
}
