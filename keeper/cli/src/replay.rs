//! `flex-keeper replay`: replays epochs from a pool file and a weight table and prints one JSON
//! document (format in docs/PROTOCOL.md, "Engine decisions").

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use flex_engine::score::score_char;
use flex_engine::{ConnectionBonus, Genesis, Replay, ReplayConfig};

/// Arguments of `flex-keeper replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The transaction pool JSON (`{"wallets":[...]}`), read as a stream.
    #[arg(long, value_name = "FILE")]
    pool: PathBuf,
    /// The weight table, JSON or TOML (kind -> decimal string).
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// Genesis, unix seconds; must be 00:00:00 UTC.
    #[arg(long, value_name = "UNIX_SECONDS", allow_negative_numbers = true)]
    genesis: i64,
    /// The pool's unallocated balance at genesis, in token base units.
    #[arg(long, value_name = "BASE_UNITS")]
    balance: u128,
    /// Who earns the connection F multiplier.
    #[arg(long, value_enum, default_value_t = Bonus::Active)]
    connection_bonus: Bonus,
    /// Epochs to replay (default: through the last epoch with a connection or a counted action).
    #[arg(long, value_name = "N")]
    epochs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Bonus {
    /// Only when the wallet was active in its connection epoch.
    Active,
    /// Always.
    Always,
}

/// Runs the replay and writes the JSON document to stdout.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let genesis = Genesis::new(args.genesis).context("--genesis")?;
    let table = flex_ingest::read_weight_table(&args.weights)?;
    let pool = flex_ingest::read_pool(&args.pool, &table)?;
    tracing::info!(
        wallets = pool.wallets.len(),
        actions = pool.actions.len(),
        duplicates = pool.duplicate_actions,
        "pool read"
    );
    let config = ReplayConfig {
        genesis,
        balance: args.balance,
        bonus: match args.connection_bonus {
            Bonus::Active => ConnectionBonus::Active,
            Bonus::Always => ConnectionBonus::Always,
        },
        epochs: args.epochs,
    };
    let mut replay = Replay::new(&pool.wallets, &pool.actions, &table, config)
        .with_context(|| format!("{}: replay", args.pool.display()))?;
    drop(pool);

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    out.write_all(b"{\"epochs\":[")?;
    let mut first = true;
    while let Some(e) = replay.next_epoch() {
        if !std::mem::take(&mut first) {
            out.write_all(b",")?;
        }
        write!(
            out,
            "{{\"epoch\":{},\"wallet_index\":{},\"halving\":{},\"pool\":\"{}\",\"distributed\":\"{}\",\"active\":{},\"ranked\":{},\"wallets\":{{",
            e.epoch, e.wallet_index, e.halving, e.pool, e.distributed, e.active, e.ranked
        )?;
        for (i, address) in e.wallets.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write!(
                out,
                "\"{address}\":{{\"score\":\"{}\",\"weight_bits\":\"{}\",\"reward\":\"{}\"}}",
                score_char(e.scores[i]),
                e.weights[i],
                e.rewards[i]
            )?;
        }
        out.write_all(b"}}")?;
    }
    out.write_all(b"],\"arrays\":{")?;
    for (i, (address, scores)) in replay.score_arrays().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(out, "\"{address}\":\"")?;
        let hex: Vec<u8> = scores.iter().map(|&s| score_char(s) as u8).collect();
        out.write_all(&hex)?;
        out.write_all(b"\"")?;
    }
    out.write_all(b"}}\n")?;
    out.flush()?;
    Ok(())
}
