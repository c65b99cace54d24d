//! `flex-keeper forecast train|predict|evaluate|synth`: the prediction layer's task-reward and
//! active-wallet forecasts (flex-forecast). Every command prints one JSON document.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use flex_forecast::forecaster::Source;
use flex_forecast::{store, ForecastConfig, Forecaster, History};
use serde_json::{json, Value};

#[derive(Debug, Args)]
pub struct ForecastArgs {
    #[command(subcommand)]
    command: ForecastCommand,
}

#[derive(Debug, Subcommand)]
enum ForecastCommand {
    /// Train one LSTM per target on the oldest samples, score it and the baselines on the rest,
    /// save the model file.
    Train(TrainArgs),
    /// Forecast the epoch after the history's last: model or best baseline, as held-out error decides.
    Predict(UseArgs),
    /// Re-score a saved model and the baselines on the history's held-out samples.
    Evaluate(UseArgs),
    /// Write a deterministic synthetic epoch history (CSV).
    Synth(SynthArgs),
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// Epoch history, CSV or JSON (format: flex_forecast::history).
    #[arg(long, value_name = "FILE")]
    history: PathBuf,
    /// Where to write the model file.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Target columns (repeatable); default: reward_per_active and active.
    #[arg(long = "target", value_name = "COLUMN")]
    targets: Vec<String>,
    #[arg(long, default_value_t = 14)]
    window: usize,
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of samples, oldest first, used for training.
    #[arg(long, default_value_t = 0.8)]
    train_fraction: f64,
    /// Season of the seasonal-naive baseline (7 = weekly for daily epochs).
    #[arg(long, default_value_t = 7)]
    season: usize,
    /// Span of the moving-average baseline.
    #[arg(long, default_value_t = 7)]
    moving_average: usize,
    /// Transform before the z-score: `none`, or `log1p` (ln(1 + v) for columns whose training
    /// rows are all non-negative; what the keeper uses for the task reward).
    #[arg(long, default_value = "none", value_parser = ["none", "log1p"])]
    transform: String,
}

#[derive(Debug, Args)]
struct UseArgs {
    #[arg(long, value_name = "FILE")]
    history: PathBuf,
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
}

#[derive(Debug, Args)]
struct SynthArgs {
    #[arg(long, default_value_t = 1095)]
    epochs: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Output file (default: stdout).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

fn source_name(s: &Source) -> String {
    match s {
        Source::Model => "model".into(),
        Source::Baseline(b) => b.name(),
    }
}

fn evaluation_json(e: &flex_forecast::Evaluation) -> Value {
    json!({
        "target": e.target,
        "test_samples": e.test_samples,
        "test_from": e.test_from,
        "test_to": e.test_to,
        "model_mse": e.model_mse,
        "model_mse_normalised": e.model_mse_normalised,
        "baselines": e.baselines.iter().map(|b| json!({"name": b.name, "mse": b.mse})).collect::<Vec<_>>(),
        "best_baseline": e.best_baseline().map(|b| b.name.clone()),
        "model_beats_baselines": e.published == Source::Model,
        "published": source_name(&e.published),
    })
}

fn print(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn run(args: ForecastArgs) -> anyhow::Result<()> {
    match args.command {
        ForecastCommand::Train(a) => {
            let h = History::read(&a.history)?;
            let targets = if a.targets.is_empty() {
                vec!["reward_per_active".to_owned(), "active".to_owned()]
            } else {
                a.targets
            };
            let config = ForecastConfig {
                window: a.window,
                epochs: a.epochs,
                batch: a.batch,
                learning_rate: a.learning_rate,
                seed: a.seed,
                train_fraction: a.train_fraction,
                season: a.season,
                moving_average: a.moving_average,
                transform: if a.transform == "log1p" {
                    flex_forecast::prep::Transform::Log1p
                } else {
                    flex_forecast::prep::Transform::None
                },
                ..ForecastConfig::default()
            };
            let f = Forecaster::train(&h, &targets, &config)
                .with_context(|| format!("{}: training", a.history.display()))?;
            store::save(&f, &a.model)?;
            let models: Vec<Value> = f
                .models
                .iter()
                .map(|m| {
                    let mut e = evaluation_json(&m.evaluation);
                    e["train"] = json!({
                        "samples": m.train.samples,
                        "epochs": m.train.epochs,
                        "seconds": m.train.seconds,
                        "seconds_per_epoch": m.train.seconds_per_epoch,
                        "final_loss": m.train.final_loss,
                    });
                    e
                })
                .collect();
            print(&json!({"model": a.model.display().to_string(), "targets": models}))
        }
        ForecastCommand::Evaluate(a) => {
            let f = store::load(&a.model)?;
            let h = History::read(&a.history)?;
            let evals = f
                .evaluate(&h)
                .with_context(|| format!("{}: evaluation", a.history.display()))?;
            print(&json!({"targets": evals.iter().map(evaluation_json).collect::<Vec<_>>()}))
        }
        ForecastCommand::Predict(a) => {
            let f = store::load(&a.model)?;
            let h = History::read(&a.history)?;
            let preds = f
                .predict(&h)
                .with_context(|| format!("{}: prediction", a.history.display()))?;
            let out: Vec<Value> = preds
                .iter()
                .map(|p| {
                    json!({
                        "target": p.target,
                        f.index_name.clone(): p.index,
                        "published": source_name(&p.published),
                        "value": p.value,
                        "forecast_u64f64_bits": p.fixed_bits.to_string(),
                        "forecast_u64f64_hex": format!("0x{:032x}", p.fixed_bits),
                        "model": p.model,
                        "baselines": p.baselines.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
                        "published_mse": p.published_mse,
                        "model_mse": p.model_mse,
                        "best_baseline_mse": p.best_baseline_mse,
                    })
                })
                .collect();
            print(&json!({"forecasts": out}))
        }
        ForecastCommand::Synth(a) => {
            let csv = History::synthetic(a.epochs, a.seed).to_csv();
            match a.output {
                Some(path) => {
                    std::fs::write(&path, csv).with_context(|| format!("{}: write", path.display()))
                }
                None => {
                    print!("{csv}");
                    Ok(())
                }
            }
        }
    }
}
