//! `flex-keeper follow-evm --config keeper.toml [--once] [--name NAME]`: the `[[evm]]` followers
//! alone, into the keeper's store (the same followers `flex-keeper run` starts in the background).
//! Prints one JSON summary line per follower when it stops.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use flex_evm::follow::{Cursor, Until};
use flex_service::evm_source::{self, FollowSummary};
use flex_service::Config;
use flex_store::SqliteStore;

#[derive(Debug, Args)]
pub struct FollowEvmArgs {
    /// The keeper's configuration (its `[[evm]]` sections, weight tables and `store.path`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Stop once every confirmed block is read (instead of following the head until Ctrl-C).
    #[arg(long)]
    once: bool,
    /// Only the `[[evm]]` sections with these names (repeatable; default: all).
    #[arg(long, value_name = "NAME")]
    name: Vec<String>,
}

fn cursor_json(c: Option<Cursor>) -> serde_json::Value {
    match c {
        None => serde_json::Value::Null,
        Some(c) => serde_json::json!({ "block": c.block, "hash": format!("0x{}", hex::encode(c.hash)) }),
    }
}

fn summary_json(s: &FollowSummary) -> serde_json::Value {
    serde_json::json!({
        "name": s.name,
        "resumed_from": cursor_json(s.resumed_from),
        "cursor": cursor_json(s.cursor),
        "head": s.head,
        "batches": s.batches,
        "logs": s.logs,
        "actions_new": s.actions_new,
        "actions_known": s.actions_known,
        "retries": s.retries,
    })
}

pub fn run(args: FollowEvmArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    // A kind of any weight table version may be mapped.
    let table = config.known_kinds()?;
    let mut sources = evm_source::sources(&config, &table)?;
    for n in &args.name {
        anyhow::ensure!(
            sources.iter().any(|s| &s.config.name == n),
            "{}: no [[evm]] section named {n:?}",
            config.file
        );
    }
    if !args.name.is_empty() {
        sources.retain(|s| args.name.contains(&s.config.name));
    }
    anyhow::ensure!(!sources.is_empty(), "{}: no [[evm]] section", config.file);
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
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        });
        let mut tasks = Vec::new();
        for source in sources {
            let store = store.clone();
            let mut rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                let name = source.config.name.clone();
                (name, source.follow(store, None, until, stop).await)
            }));
        }
        let mut failed = Vec::new();
        for t in tasks {
            let (name, result) = t.await.context("follower task")?;
            match result {
                Ok(summary) => println!("{}", summary_json(&summary)),
                Err(e) => failed.push(format!("evm {name}: {e}")),
            }
        }
        anyhow::ensure!(failed.is_empty(), "{}", failed.join("\n"));
        Ok(())
    })
}
