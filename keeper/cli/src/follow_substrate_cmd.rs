//! `flex-keeper follow-substrate --config keeper.toml [--once] [--name NAME]`: the `[[substrate]]`
//! followers alone, into the keeper's store (the same followers `flex-keeper run` starts in the
//! background). Prints one JSON summary line per follower when it stops (`--once`: at the finalized
//! head seen on connecting; otherwise on Ctrl-C or SIGTERM).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use flex_chain::{Cursor, FollowProgress};
use flex_service::substrate_source::{self, FollowSummary};
use flex_service::Config;
use flex_store::SqliteStore;

#[derive(Debug, Args)]
pub struct FollowSubstrateArgs {
    /// The keeper's configuration (its `[[substrate]]` sections, weight tables and `store.path`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Stop once the finalized head is read (instead of following it until Ctrl-C).
    #[arg(long)]
    once: bool,
    /// Only the `[[substrate]]` sections with these names (repeatable; default: all).
    #[arg(long, value_name = "NAME")]
    name: Vec<String>,
}

fn cursor_json(c: Option<Cursor>) -> serde_json::Value {
    match c {
        None => serde_json::Value::Null,
        Some(c) => serde_json::json!({ "block": c.number, "hash": format!("0x{}", hex::encode(c.hash)) }),
    }
}

fn summary_json(s: &FollowSummary) -> serde_json::Value {
    serde_json::json!({
        "name": s.name,
        "resumed_from": cursor_json(s.resumed_from),
        "cursor": cursor_json(s.cursor),
        "head": s.head,
        "first_block": s.first_block,
        "blocks": s.blocks,
        "events": s.events,
        "actions_new": s.actions_new,
        "actions_known": s.actions_known,
        "rpc_errors": s.rpc_errors,
        "connections": s.connections,
    })
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn run(args: FollowSubstrateArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let mut sources = substrate_source::configured_sources(&config)?;
    for n in &args.name {
        anyhow::ensure!(
            sources.iter().any(|s| &s.config.name == n),
            "{}: no [[substrate]] section named {n:?}",
            config.file
        );
    }
    if !args.name.is_empty() {
        sources.retain(|s| args.name.contains(&s.config.name));
    }
    anyhow::ensure!(!sources.is_empty(), "{}: no [[substrate]] section", config.file);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store: Arc<dyn flex_store::Store> = Arc::new(
            SqliteStore::open(&config.store_path).with_context(|| format!("{}: store.path", config.file))?,
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            stop_signal().await;
            let _ = stop_tx.send(true);
        });
        let mut tasks = Vec::new();
        for source in sources {
            let store = store.clone();
            let mut rx = stop_rx.clone();
            let once = args.once;
            tasks.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                let name = source.config.name.clone();
                let progress = Arc::new(FollowProgress::new());
                (name, source.follow(store, None, progress, once, stop).await)
            }));
        }
        let mut failed = Vec::new();
        for t in tasks {
            let (name, result) = t.await.context("follower task")?;
            match result {
                Ok(summary) => println!("{}", summary_json(&summary)),
                Err(e) => failed.push(format!("substrate {name}: {e}")),
            }
        }
        anyhow::ensure!(failed.is_empty(), "{}", failed.join("\n"));
        Ok(())
    })
}
