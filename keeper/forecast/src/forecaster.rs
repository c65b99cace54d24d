//! Training, held-out evaluation and the published forecast.
//!
//! One network per target column (the seed's Dense(1) has one output): by default the next
//! epoch's reward per active wallet (the "task reward") and the next epoch's active count. After
//! training, the model and every baseline are scored by mean squared error, in the target's own
//! units, on the held-out samples; the keeper publishes the model's forecast only when its error
//! is strictly below the best baseline's, and otherwise publishes that baseline's forecast and
//! says so ([`Source`]).
//!
//! Consensus boundary: everything here is floating point and off consensus. The published value
//! is converted once, by [`to_fixed_bits`], to `U64F64` raw bits for the epoch commitment's
//! `forecast: u128`: NaN and negative values become 0, values above `u64::MAX` saturate, the rest
//! round to the nearest multiple of 2^-64 (ties to even), exactly as `fixed` converts an `f64`.
//! Other keepers need not reproduce the float computation; they commit the bits they publish.

use std::time::Instant;

use fixed::types::U64F64;
use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;
use crate::history::History;
use crate::nn::{Adam, Network, Shape, Workspace};
use crate::prep::{gather, Normaliser, Split, Transform};
use crate::rng::Rng;
use crate::ForecastError;

/// Training and evaluation settings (all of them stored with the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastConfig {
    /// Past epochs per sample.
    pub window: usize,
    pub epochs: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub seed: u64,
    /// Share of samples (oldest first) used for training; the rest are held out.
    pub train_fraction: f64,
    /// Season of the seasonal-naive baseline (7: weekly for daily epochs).
    pub season: usize,
    /// Span of the moving-average baseline.
    pub moving_average: usize,
    pub hidden1: usize,
    pub hidden2: usize,
    /// Transform before the z-score (absent in older model files: none).
    #[serde(default)]
    pub transform: Transform,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        Self {
            window: 14,
            epochs: 50,
            batch: 32,
            learning_rate: 1e-3,
            seed: 1,
            train_fraction: 0.8,
            season: 7,
            moving_average: 7,
            hidden1: 64,
            hidden2: 32,
            transform: Transform::None,
        }
    }
}

impl ForecastConfig {
    pub fn baselines(&self) -> Vec<Baseline> {
        vec![
            Baseline::LastValue,
            Baseline::MovingAverage(self.moving_average),
            Baseline::SeasonalNaive(self.season),
        ]
    }
}

/// Where a published value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Model,
    Baseline(Baseline),
}

/// A baseline's held-out error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineScore {
    pub baseline: Baseline,
    pub name: String,
    /// `None` when the baseline could not predict every held-out sample (too little history).
    pub mse: Option<f64>,
}

/// How a training run went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainStats {
    pub samples: usize,
    pub epochs: usize,
    pub seconds: f64,
    pub seconds_per_epoch: f64,
    /// Mean batch loss (normalised units) of the last epoch.
    pub final_loss: f64,
}

/// Held-out scores for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub target: String,
    pub test_samples: usize,
    /// First and last index value of the held-out targets.
    pub test_from: i64,
    pub test_to: i64,
    /// Mean squared error in the target's units.
    pub model_mse: f64,
    /// The same in normalised units (what training minimises; comparable with Keras' test loss).
    pub model_mse_normalised: f64,
    pub baselines: Vec<BaselineScore>,
    /// The model when it beats the best baseline, else that baseline.
    pub published: Source,
}

impl Evaluation {
    pub fn best_baseline(&self) -> Option<&BaselineScore> {
        best_baseline(&self.baselines)
    }

    pub fn published_mse(&self) -> f64 {
        match self.published {
            Source::Model => self.model_mse,
            Source::Baseline(b) => self
                .baselines
                .iter()
                .find(|s| s.baseline == b)
                .and_then(|s| s.mse)
                .unwrap_or(f64::NAN),
        }
    }
}

/// One target's network and its scores.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetModel {
    pub target: String,
    pub column: usize,
    pub net: Network<f32>,
    pub train: TrainStats,
    pub evaluation: Evaluation,
}

/// Trained networks for every target, with the normalisation they were trained under.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecaster {
    pub config: ForecastConfig,
    pub index_name: String,
    pub columns: Vec<String>,
    pub norm: Normaliser,
    pub models: Vec<TargetModel>,
}

/// The forecast for the row after the history's last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub target: String,
    /// Index value of the forecast row (last index + 1).
    pub index: i64,
    pub model: f64,
    pub baselines: Vec<(String, Option<f64>)>,
    pub published: Source,
    pub value: f64,
    /// `value` as `U64F64` raw bits (see the module docs).
    pub fixed_bits: u128,
    /// Held-out MSE of what is published, and of the model and the best baseline.
    pub published_mse: f64,
    pub model_mse: f64,
    pub best_baseline_mse: Option<f64>,
}

/// The published float as `U64F64` raw bits: NaN and negatives to 0, saturating above, nearest
/// otherwise.
pub fn to_fixed_bits(v: f64) -> u128 {
    if v.is_nan() || v <= 0.0 {
        return 0;
    }
    U64F64::saturating_from_num(v).to_bits()
}

fn check_config(c: &ForecastConfig) -> Result<(), ForecastError> {
    if c.batch == 0 || c.hidden1 == 0 || c.hidden2 == 0 {
        return Err(ForecastError::Config(
            "batch and layer widths must be at least 1".into(),
        ));
    }
    if !(c.learning_rate > 0.0 && c.learning_rate.is_finite()) {
        return Err(ForecastError::Config(format!(
            "learning rate {} must be positive",
            c.learning_rate
        )));
    }
    Ok(())
}

/// The generator that shuffles the training samples before each epoch of a run with `seed`
/// (the network's initialisation draws from `Rng::new(seed)`).
pub fn shuffle_rng(seed: u64) -> Rng {
    Rng::new(seed ^ 0x5EED_5EED_5EED_5EED)
}

/// Trains one network on the training samples. Deterministic for a given seed.
pub fn train_network(
    norm: &[Vec<f64>],
    target: usize,
    split: &Split,
    config: &ForecastConfig,
    seed: u64,
) -> (Network<f32>, TrainStats) {
    let shape = Shape {
        input: norm.len(),
        hidden1: config.hidden1,
        hidden2: config.hidden2,
    };
    let mut net = Network::<f32>::new(shape, seed);
    let mut rng = shuffle_rng(seed);
    let mut adam = Adam::new(net.params.len(), config.learning_rate);
    let mut ws = Workspace::default();
    let mut grad = vec![0.0f32; net.params.len()];
    let mut order: Vec<usize> = (0..split.train).collect();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut final_loss = f64::NAN;
    for _ in 0..config.epochs {
        rng.shuffle(&mut order);
        let (mut sum, mut n) = (0.0f64, 0usize);
        for chunk in order.chunks(config.batch) {
            gather(norm, split.window, chunk, &mut x);
            y.clear();
            #[allow(clippy::cast_possible_truncation)]
            y.extend(chunk.iter().map(|&s| norm[target][s + split.window] as f32));
            let loss = net.loss_and_grad(&x, &y, split.window, chunk.len(), &mut ws, &mut grad);
            adam.step(&mut net.params, &grad);
            sum += f64::from(loss);
            n += 1;
        }
        final_loss = sum / n.max(1) as f64;
    }
    let seconds = start.elapsed().as_secs_f64();
    let stats = TrainStats {
        samples: split.train,
        epochs: config.epochs,
        seconds,
        seconds_per_epoch: seconds / config.epochs.max(1) as f64,
        final_loss,
    };
    (net, stats)
}

/// Model outputs (normalised units) for samples starting at `starts`.
fn predict_normalised(net: &Network<f32>, norm: &[Vec<f64>], window: usize, starts: &[usize]) -> Vec<f64> {
    let mut ws = Workspace::default();
    let mut x = Vec::new();
    let mut out = Vec::with_capacity(starts.len());
    for chunk in starts.chunks(256) {
        gather(norm, window, chunk, &mut x);
        out.extend(
            net.forward(&x, window, chunk.len(), &mut ws)
                .iter()
                .map(|&v| f64::from(v)),
        );
    }
    out
}

/// Each baseline's mean squared error over the held-out targets of `split` (rows
/// `split.train + split.window..split.samples + split.window` of `series`), accumulated in `f64`
/// in row order: plain IEEE additions, subtractions, multiplications and divisions only, so the
/// same series gives the same bits on every machine (the keeper's published baseline relies on
/// this, `docs/PROTOCOL.md`).
pub fn baseline_scores(series: &[f64], split: &Split, baselines: &[Baseline]) -> Vec<BaselineScore> {
    let n = split.test().len() as f64;
    baselines
        .iter()
        .map(|&b| {
            let mut acc = Some(0.0);
            for s in split.test() {
                let at = s + split.window;
                acc = match (acc, b.predict(series, at), series.get(at)) {
                    (Some(a), Some(p), Some(&y)) => Some(a + (p - y) * (p - y) / n),
                    _ => None,
                };
            }
            BaselineScore {
                baseline: b,
                name: b.name(),
                mse: acc,
            }
        })
        .collect()
}

/// The baseline with the lowest held-out error (the first of equals, in `scores` order), if any
/// could predict every held-out target.
pub fn best_baseline(scores: &[BaselineScore]) -> Option<&BaselineScore> {
    scores.iter().filter(|b| b.mse.is_some()).min_by(|a, b| {
        a.mse
            .unwrap_or(f64::INFINITY)
            .total_cmp(&b.mse.unwrap_or(f64::INFINITY))
    })
}

/// Scores a network and the baselines on the held-out samples of `h`.
pub fn evaluate_target(
    h: &History,
    norm_stats: &Normaliser,
    norm: &[Vec<f64>],
    net: &Network<f32>,
    target: usize,
    split: &Split,
    config: &ForecastConfig,
) -> Evaluation {
    let starts: Vec<usize> = split.test().collect();
    let pred = predict_normalised(net, norm, split.window, &starts);
    let series = &h.data[target];
    let n = starts.len() as f64;
    let (mut mse, mut mse_n) = (0.0, 0.0);
    for (&s, &p) in starts.iter().zip(&pred) {
        let at = s + split.window;
        let e = norm_stats.invert(target, p) - series[at];
        mse += e * e / n;
        let en = p - norm[target][at];
        mse_n += en * en / n;
    }
    let baselines = baseline_scores(series, split, &config.baselines());
    let mut ev = Evaluation {
        target: h.columns[target].clone(),
        test_samples: starts.len(),
        test_from: h.index[split.train + split.window],
        test_to: h.index[split.samples - 1 + split.window],
        model_mse: mse,
        model_mse_normalised: mse_n,
        baselines,
        published: Source::Model,
    };
    if let Some(best) = ev.best_baseline() {
        // The model must be strictly better (a NaN error never is).
        let model_wins =
            mse.partial_cmp(&best.mse.unwrap_or(f64::INFINITY)) == Some(std::cmp::Ordering::Less);
        if !model_wins {
            ev.published = Source::Baseline(best.baseline);
        }
    }
    ev
}

impl Forecaster {
    /// Trains one network per target on the oldest samples and scores it on the rest.
    pub fn train(h: &History, targets: &[String], config: &ForecastConfig) -> Result<Self, ForecastError> {
        check_config(config)?;
        if targets.is_empty() {
            return Err(ForecastError::Config("no target column".into()));
        }
        let cols: Vec<usize> = targets.iter().map(|t| h.column(t)).collect::<Result<_, _>>()?;
        let split = Split::new(h.rows(), config.window, config.train_fraction)?;
        let norm_stats = Normaliser::fit_with(h, split.train_rows(), config.transform);
        let norm = norm_stats.transform(h);
        let mut models = Vec::new();
        for (k, &col) in cols.iter().enumerate() {
            let seed = config.seed.wrapping_add(k as u64);
            let (net, train) = train_network(&norm, col, &split, config, seed);
            let evaluation = evaluate_target(h, &norm_stats, &norm, &net, col, &split, config);
            models.push(TargetModel {
                target: h.columns[col].clone(),
                column: col,
                net,
                train,
                evaluation,
            });
        }
        Ok(Self {
            config: config.clone(),
            index_name: h.index_name.clone(),
            columns: h.columns.clone(),
            norm: norm_stats,
            models,
        })
    }

    fn check_columns(&self, h: &History) -> Result<(), ForecastError> {
        if h.columns != self.columns {
            return Err(ForecastError::ColumnsMismatch {
                expected: self.columns.clone(),
                found: h.columns.clone(),
            });
        }
        Ok(())
    }

    /// Re-scores the stored networks on the held-out part of `h` (same split rule, stored
    /// normalisation).
    pub fn evaluate(&self, h: &History) -> Result<Vec<Evaluation>, ForecastError> {
        self.check_columns(h)?;
        let split = Split::new(h.rows(), self.config.window, self.config.train_fraction)?;
        let norm = self.norm.transform(h);
        Ok(self
            .models
            .iter()
            .map(|m| evaluate_target(h, &self.norm, &norm, &m.net, m.column, &split, &self.config))
            .collect())
    }

    /// Forecasts the row after the last one of `h`, publishing model or baseline as the
    /// held-out evaluation on `h` decides.
    pub fn predict(&self, h: &History) -> Result<Vec<Prediction>, ForecastError> {
        let evals = self.evaluate(h)?;
        let norm = self.norm.transform(h);
        let w = self.config.window;
        let last = h.rows() - w;
        let next_index = h.index[h.rows() - 1] + 1;
        let mut out = Vec::new();
        for (m, ev) in self.models.iter().zip(evals) {
            let p = predict_normalised(&m.net, &norm, w, &[last]);
            let model = self.norm.invert(m.column, p[0]);
            let series = &h.data[m.column];
            let baselines: Vec<(String, Option<f64>)> = self
                .config
                .baselines()
                .iter()
                .map(|b| (b.name(), b.predict(series, h.rows())))
                .collect();
            let value = match ev.published {
                Source::Model => model,
                Source::Baseline(b) => b.predict(series, h.rows()).unwrap_or(model),
            };
            out.push(Prediction {
                target: m.target.clone(),
                index: next_index,
                model,
                baselines,
                published: ev.published,
                value,
                fixed_bits: to_fixed_bits(value),
                published_mse: ev.published_mse(),
                model_mse: ev.model_mse,
                best_baseline_mse: ev.best_baseline().and_then(|b| b.mse),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ForecastConfig {
        ForecastConfig {
            window: 7,
            epochs: 3,
            hidden1: 8,
            hidden2: 4,
            ..ForecastConfig::default()
        }
    }

    #[test]
    fn fixed_point_boundary() {
        assert_eq!(to_fixed_bits(1.0), 1u128 << 64);
        assert_eq!(to_fixed_bits(0.5), 1u128 << 63);
        assert_eq!(to_fixed_bits(-3.0), 0);
        assert_eq!(to_fixed_bits(f64::NAN), 0);
        assert_eq!(to_fixed_bits(1e30), u128::MAX);
        assert_eq!(to_fixed_bits(1234.25), (1234u128 << 64) | (1u128 << 62));
        // 2^-65 is halfway between 0 and 2^-64: ties to even gives 0; just above rounds up.
        assert_eq!(to_fixed_bits(2f64.powi(-65)), 0);
        assert_eq!(to_fixed_bits(2f64.powi(-65) * 1.5), 1);
    }

    #[test]
    fn training_is_deterministic_with_a_seed() {
        let h = History::synthetic(120, 4);
        let targets = vec!["reward_per_active".to_owned(), "active".to_owned()];
        let a = Forecaster::train(&h, &targets, &small()).unwrap();
        let b = Forecaster::train(&h, &targets, &small()).unwrap();
        assert_eq!(a.models.len(), 2);
        for (x, y) in a.models.iter().zip(&b.models) {
            assert_eq!(x.net, y.net);
            assert_eq!(x.evaluation, y.evaluation);
        }
        let c = Forecaster::train(&h, &targets, &ForecastConfig { seed: 2, ..small() }).unwrap();
        assert_ne!(a.models[0].net, c.models[0].net);
        assert_eq!(a.predict(&h).unwrap(), b.predict(&h).unwrap());
    }

    #[test]
    fn publishes_the_baseline_when_it_wins() {
        // A pure weekly cycle: seasonal naive is exact, so an untrained-ish model cannot beat it.
        let mut h = History::synthetic(100, 1);
        for (t, v) in h.data[3].iter_mut().enumerate() {
            *v = [5.0, 7.0, 9.0, 4.0, 3.0, 8.0, 6.0][t % 7];
        }
        let f = Forecaster::train(
            &h,
            &["reward_per_active".to_owned()],
            &ForecastConfig { epochs: 1, ..small() },
        )
        .unwrap();
        let ev = &f.models[0].evaluation;
        assert_eq!(ev.published, Source::Baseline(Baseline::SeasonalNaive(7)));
        let p = &f.predict(&h).unwrap()[0];
        assert_eq!(p.value, [5.0, 7.0, 9.0, 4.0, 3.0, 8.0, 6.0][100 % 7]);
        assert_eq!(p.fixed_bits, to_fixed_bits(p.value));
        assert_eq!(p.index, 100);
    }

    #[test]
    fn errors_name_the_problem() {
        let h = History::synthetic(10, 1);
        let e = Forecaster::train(&h, &["nope".into()], &small())
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope"), "{e}");
        let e = Forecaster::train(&h, &["active".into()], &ForecastConfig { window: 9, ..small() })
            .unwrap_err()
            .to_string();
        assert!(e.contains("10 rows"), "{e}");
    }
}
