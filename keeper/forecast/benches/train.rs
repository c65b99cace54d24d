//! Forecaster training benchmark (not a test), the Rust side of `bench/keras_reference.py`: same
//! CSV, window, split, normalisation, batch size and epochs. Prints seconds per epoch and held-out
//! MSE (normalised and in the target's units) with the baselines.
//! Run: `cargo bench -p flex-forecast --bench train -- CSV TARGET WINDOW EPOCHS SEASON [SEED
//! [TRANSFORM]]` (TRANSFORM: `none` or `log1p`, the default).

use std::path::PathBuf;

use flex_forecast::prep::Transform;
use flex_forecast::{ForecastConfig, Forecaster, History};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let csv = args
        .first()
        .map_or_else(|| root.join("data/synthetic_epochs.csv"), PathBuf::from);
    let target = args.get(1).cloned().unwrap_or_else(|| "reward_per_active".into());
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let config = ForecastConfig {
        window: num(2, 14),
        epochs: num(3, 30),
        season: num(4, 7),
        seed: num(5, 1) as u64,
        transform: match args.get(6).map(String::as_str) {
            Some("none") => Transform::None,
            _ => Transform::Log1p,
        },
        ..Default::default()
    };
    let h = History::read(&csv).unwrap_or_else(|e| panic!("{e}"));
    let f = Forecaster::train(&h, std::slice::from_ref(&target), &config).unwrap_or_else(|e| panic!("{e}"));
    let m = &f.models[0];
    let e = &m.evaluation;
    println!(
        "rust {} target={} window={} epochs={} seed={} transform={:?} train_samples={} test_samples={}",
        csv.display(),
        target,
        config.window,
        config.epochs,
        config.seed,
        config.transform,
        m.train.samples,
        e.test_samples
    );
    println!(
        "rust seconds_per_epoch={:.4} total={:.2}s final_train_loss={:.5}",
        m.train.seconds_per_epoch, m.train.seconds, m.train.final_loss
    );
    println!(
        "rust test_mse_normalised={:.5} test_mse={:.6e}",
        e.model_mse_normalised, e.model_mse
    );
    for b in &e.baselines {
        println!("baseline {} mse={:?}", b.name, b.mse);
    }
    println!("published: {:?}", e.published);
}
