//! `flex-keeper resync --config keeper.toml [--from-epoch N]`: rebuilds this keeper's results
//! from its inputs and the chain, so a keeper whose epochs or months differ from the chain's
//! (`mismatch`, reported in `/health`) converges without a fresh database. Run it with the keeper
//! stopped; it never votes. Prints a JSON report.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use flex_service::{Config, Keeper};
use flex_sources::Status;
use flex_store::SqliteStore;

#[derive(Debug, Args)]
pub struct ResyncArgs {
    /// The keeper's configuration (as for `run`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Recompute every finalised epoch from this one on (default: the epochs whose record is
    /// not the chain's commitment).
    #[arg(long, value_name = "EPOCH")]
    from_epoch: Option<u64>,
}

pub fn run(args: ResyncArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = Arc::new(
            SqliteStore::open(&config.store_path).with_context(|| format!("{}: store.path", config.file))?,
        );
        let status = Arc::new(Status::default());
        let mut keeper = Keeper::new(config, store, status)?;
        let report = keeper.resync(args.from_epoch).await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        if !report.still_differing.is_empty() {
            anyhow::bail!(
                "still differing from the chain (the inputs differ): {}",
                report.still_differing.join(", ")
            );
        }
        Ok(())
    })
}
