//! `flex-keeper import FILE... (--config keeper.toml | --store PATH --weights FILE...)`: imports
//! transaction pool JSON and JSON-lines action logs into a keeper's store, each file in one
//! transaction with a progress bar. A bad line (its file, line and field are named) or an action
//! that conflicts with a stored one rejects its file whole; the files before it stay imported and
//! the files after it are not read. Importing a file again adds nothing. Prints one JSON line per
//! file imported: what was new, what was known, and how fast.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use flex_ingest::{WeightSchedule, WeightVersion, WeightVersions};
use flex_service::Config;
use flex_sources::files::{import_file, FileFormat};
use flex_store::SqliteStore;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Pool JSON (`.json`) or JSON-lines (`.jsonl`, `.ndjson`) files, in this order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The keeper's configuration: its `store.path` and weight table versions (FLEX_* overrides
    /// apply).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["store", "weights"], required_unless_present = "store")]
    config: Option<PathBuf>,
    /// The database, without --config.
    #[arg(long, value_name = "PATH", requires = "weights")]
    store: Option<PathBuf>,
    /// A weight table (JSON or TOML) whose kinds the files may name, without --config; repeat it
    /// for the tables of several versions (any kind of any of them is accepted).
    #[arg(long, value_name = "FILE")]
    weights: Vec<PathBuf>,
    /// The files' format, when their extension does not tell.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The docs' transaction pool JSON.
    Pool,
    /// One JSON object per line: a wallet connection or an action.
    Lines,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    let (store_path, kinds) = match &args.config {
        Some(path) => {
            let config = Config::load(path)?;
            (config.store_path.clone(), config.known_kinds()?)
        }
        None => {
            let store = args
                .store
                .clone()
                .context("give --config, or --store and --weights")?;
            // Only the kinds matter here: the tables stand as versions 0, 1, ... to take their union.
            let mut versions = Vec::new();
            for (i, w) in args.weights.iter().enumerate() {
                versions.push(WeightVersion {
                    from_epoch: i as u64,
                    table: flex_ingest::read_weight_table(w)?,
                    origin: w.display().to_string(),
                });
            }
            let all = WeightVersions::new(versions)
                .map_err(|m| anyhow::anyhow!("--weights: {m}"))?
                .all_kinds();
            (store, all)
        }
    };
    let formats = args
        .files
        .iter()
        .map(|f| match args.format {
            Some(Format::Pool) => Ok(FileFormat::Pool),
            Some(Format::Lines) => Ok(FileFormat::Lines),
            None => FileFormat::detect(f).with_context(|| {
                format!(
                    "{}: unknown format: name it .json (pool) or .jsonl / .ndjson (JSON lines), or pass --format",
                    f.display()
                )
            }),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store = SqliteStore::open(&store_path).with_context(|| format!("store {}", store_path.display()))?;
    for (i, (file, format)) in args.files.iter().zip(formats).enumerate() {
        let done = import_file(&store, file, format, &kinds, !args.quiet).map_err(|e| {
            let rest = args.files.len() - i - 1;
            anyhow::anyhow!(
                "{e}\nnothing was imported from {}{}",
                file.display(),
                if rest > 0 {
                    format!("; the {rest} file(s) after it were not read")
                } else {
                    String::new()
                }
            )
        })?;
        let secs = done.elapsed.as_secs_f64();
        let actions = done.stats.actions_new + done.stats.actions_known;
        let line = serde_json::json!({
            "file": done.file,
            "format": match format { FileFormat::Pool => "pool", FileFormat::Lines => "lines" },
            "records": done.records,
            "bytes": done.bytes,
            "wallets_new": done.stats.wallets_new,
            "wallets_known": done.stats.wallets_known,
            "wallets_earlier": done.stats.wallets_earlier,
            "actions_new": done.stats.actions_new,
            "actions_known": done.stats.actions_known,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "actions_per_second": if secs > 0.0 { (actions as f64 / secs).round() } else { 0.0 },
        });
        println!("{line}");
    }
    // Copy the WAL into the database file once, after the imports.
    store.checkpoint()?;
    Ok(())
}
