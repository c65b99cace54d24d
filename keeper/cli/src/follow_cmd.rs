//! `flex-keeper follow-evm` and `follow-substrate`: a config's chain followers alone, into the
//! keeper's store (the same followers `flex-keeper run` starts in the background). Prints one JSON
//! summary line per follower when it stops (`--once`: when caught up; otherwise on Ctrl-C or
//! SIGTERM).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use flex_service::Config;
use flex_sources::{Follower, Until};
use flex_store::SqliteStore;

use crate::shutdown::shutdown_signal;

#[derive(Debug, Args)]
pub struct FollowArgs {
    /// The keeper's configuration (its follower sections, weight tables and `store.path`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Stop once caught up (EVM: every confirmed block read; Substrate: the finalized head seen on
    /// connecting) instead of following until Ctrl-C or SIGTERM.
    #[arg(long)]
    once: bool,
    /// Only the sections with these names (repeatable; default: all).
    #[arg(long, value_name = "NAME")]
    name: Vec<String>,
}

/// Which kind of section a command follows.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Evm,
    Substrate,
}

impl Kind {
    fn section(self) -> &'static str {
        match self {
            Kind::Evm => "evm",
            Kind::Substrate => "substrate",
        }
    }
}

pub fn run(kind: Kind, args: FollowArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let section = kind.section();
    let named: Vec<(String, Box<dyn Follower>)> = match kind {
        Kind::Evm => config
            .evm_sources()?
            .into_iter()
            .map(|s| (s.config.name.clone(), Box::new(s) as Box<dyn Follower>))
            .collect(),
        Kind::Substrate => config
            .substrate_sources()?
            .into_iter()
            .map(|s| (s.config.name.clone(), Box::new(s) as Box<dyn Follower>))
            .collect(),
    };
    for n in &args.name {
        anyhow::ensure!(
            named.iter().any(|(name, _)| name == n),
            "{}: no [[{section}]] section named {n:?}",
            config.file
        );
    }
    let followers: Vec<(String, Box<dyn Follower>)> = named
        .into_iter()
        .filter(|(name, _)| args.name.is_empty() || args.name.contains(name))
        .collect();
    anyhow::ensure!(!followers.is_empty(), "{}: no [[{section}]] section", config.file);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store: Arc<dyn flex_store::Store> = Arc::new(
            SqliteStore::open(&config.store_path).with_context(|| format!("{}: store.path", config.file))?,
        );
        let until = if args.once {
            Until::CaughtUp
        } else {
            Until::Stopped
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let mut tasks = Vec::new();
        for (name, follower) in followers {
            let store = store.clone();
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let stop = Box::pin(async move {
                    let _ = rx.wait_for(|s| *s).await;
                });
                let result = follower.follow(store, None, until, stop).await;
                (name, result)
            }));
        }
        let mut failed = Vec::new();
        for t in tasks {
            let (name, result) = t.await.context("follower task")?;
            match result {
                Ok(summary) => println!("{}", serde_json::to_string(&summary)?),
                Err(e) => failed.push(format!("{section} {name}: {e}")),
            }
        }
        anyhow::ensure!(failed.is_empty(), "{}", failed.join("\n"));
        Ok(())
    })
}
