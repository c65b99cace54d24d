//! Windows, the chronological split and normalisation.
//!
//! Sample `k` (for `k` in `0..rows - window`) feeds rows `k..k + window` (every column, oldest
//! first) and predicts the target column at row `k + window`. The first
//! `floor(samples * train_fraction)` samples train the model, the rest are held out: the split is
//! chronological, so every held-out target comes after every training target.
//!
//! Normalisation is a per-column z-score, `(v - mean) / std`, with `mean` and the population `std`
//! taken over the rows the training samples touch (`0..train + window`), never the held-out
//! rows; a column with zero spread gets `std = 1`. The statistics are stored with the model and
//! reused unchanged for evaluation and prediction.
//!
//! With [`Transform::Log1p`], a column whose training rows are all non-negative is first mapped
//! by `ln(1 + max(v, 0))` (deterministic, no fitted parameter) and z-scored in that space; model
//! outputs are mapped back with `exp(z * std + mean) - 1`. Series whose scale drifts by orders of
//! magnitude (a reward per wallet that falls as the pool halves and wallets join) then keep their
//! held-out range instead of being compressed by the early, large values. Columns with a negative
//! training value stay linear. Which columns are transformed is decided on the training rows only
//! and stored with the model.

use serde::{Deserialize, Serialize};

use crate::history::History;
use crate::ForecastError;

/// A deterministic per-column transform applied before the z-score.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// The raw values.
    #[default]
    None,
    /// `ln(1 + max(v, 0))` for columns whose training rows are all non-negative.
    Log1p,
}

/// Per-column z-score statistics (in the transformed space for `log1p` columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normaliser {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// Columns mapped by `ln(1 + max(v, 0))` before the z-score (absent in older model files:
    /// none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log1p: Vec<bool>,
}

impl Normaliser {
    /// Z-score over rows `0..rows`, no transform.
    pub fn fit(h: &History, rows: usize) -> Self {
        Self::fit_with(h, rows, Transform::None)
    }

    /// Z-score over rows `0..rows` after `transform` (decided per column on those rows).
    pub fn fit_with(h: &History, rows: usize, transform: Transform) -> Self {
        let mut mean = Vec::new();
        let mut std = Vec::new();
        let mut log1p = Vec::new();
        for col in &h.data {
            let xs = &col[..rows.min(col.len())];
            let log = transform == Transform::Log1p && xs.iter().all(|&x| x >= 0.0);
            let f = |x: f64| if log { x.max(0.0).ln_1p() } else { x };
            let n = xs.len().max(1) as f64;
            let m = xs.iter().map(|&x| f(x)).sum::<f64>() / n;
            let v = xs.iter().map(|&x| (f(x) - m) * (f(x) - m)).sum::<f64>() / n;
            mean.push(m);
            std.push(if v > 0.0 { v.sqrt() } else { 1.0 });
            log1p.push(log);
        }
        if transform == Transform::None {
            log1p.clear();
        }
        Self { mean, std, log1p }
    }

    fn is_log(&self, col: usize) -> bool {
        self.log1p.get(col).copied().unwrap_or(false)
    }

    pub fn apply(&self, col: usize, v: f64) -> f64 {
        let v = if self.is_log(col) { v.max(0.0).ln_1p() } else { v };
        (v - self.mean[col]) / self.std[col]
    }

    pub fn invert(&self, col: usize, v: f64) -> f64 {
        let v = v * self.std[col] + self.mean[col];
        if self.is_log(col) {
            v.exp_m1()
        } else {
            v
        }
    }

    /// The whole history, normalised, column-major.
    pub fn transform(&self, h: &History) -> Vec<Vec<f64>> {
        h.data
            .iter()
            .enumerate()
            .map(|(c, col)| col.iter().map(|&v| self.apply(c, v)).collect())
            .collect()
    }
}

/// How a history splits into training and held-out samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub window: usize,
    pub samples: usize,
    pub train: usize,
}

impl Split {
    pub fn new(rows: usize, window: usize, train_fraction: f64) -> Result<Self, ForecastError> {
        if window == 0 {
            return Err(ForecastError::Config("window must be at least 1".into()));
        }
        if !(train_fraction > 0.0 && train_fraction < 1.0) {
            return Err(ForecastError::Config(format!(
                "train fraction {train_fraction} is not in (0, 1)"
            )));
        }
        let samples = rows.saturating_sub(window);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let train = (samples as f64 * train_fraction).floor() as usize;
        if train < 1 || train >= samples {
            let needed = window + (2.0 / train_fraction.min(1.0 - train_fraction)).ceil() as usize;
            return Err(ForecastError::TooShort {
                rows,
                window,
                train_fraction,
                needed,
            });
        }
        Ok(Self {
            window,
            samples,
            train,
        })
    }

    /// Rows touched by training samples (inputs and targets).
    pub fn train_rows(&self) -> usize {
        self.train + self.window
    }

    pub fn test(&self) -> std::ops::Range<usize> {
        self.train..self.samples
    }
}

/// Gathers samples (each starting at row `start`) into a time-major `window x batch x columns`
/// `f32` buffer; `starts` may go past `samples` for the final forecast (rows must exist).
pub fn gather(norm: &[Vec<f64>], window: usize, starts: &[usize], out: &mut Vec<f32>) {
    let d = norm.len();
    let b = starts.len();
    out.clear();
    out.resize(window * b * d, 0.0);
    for (r, &s) in starts.iter().enumerate() {
        for t in 0..window {
            for (c, col) in norm.iter().enumerate() {
                #[allow(clippy::cast_possible_truncation)]
                let v = col[s + t] as f32;
                out[(t * b + r) * d + c] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(cols: Vec<Vec<f64>>) -> History {
        let n = cols[0].len();
        History {
            index_name: "t".into(),
            index: (0..n as i64).collect(),
            columns: (0..cols.len()).map(|c| format!("c{c}")).collect(),
            data: cols,
        }
    }

    #[test]
    fn log1p_by_hand_and_decided_on_the_training_rows() {
        let e = std::f64::consts::E;
        // c0 non-negative in the training rows (a negative value after them does not count);
        // c1 has a negative training value and stays linear.
        let h = history(vec![vec![0.0, e - 1.0, -5.0], vec![1.0, -1.0, 3.0]]);
        let n = Normaliser::fit_with(&h, 2, Transform::Log1p);
        assert_eq!(n.log1p, vec![true, false]);
        // ln(1 + 0) = 0 and ln(e) = 1: mean 0.5, population std 0.5.
        assert!((n.mean[0] - 0.5).abs() < 1e-15 && (n.std[0] - 0.5).abs() < 1e-15);
        assert_eq!((n.mean[1], n.std[1]), (0.0, 1.0));
        assert!((n.apply(0, e - 1.0) - 1.0).abs() < 1e-12);
        // Negative values are clamped to 0 before ln(1 + v).
        assert_eq!(n.apply(0, -5.0), -1.0);
        assert_eq!(n.apply(1, -1.0), -1.0);
        for v in [0.0, 1.5, 1e6] {
            let back = n.invert(0, n.apply(0, v));
            assert!((back - v).abs() <= 1e-9 * v.max(1.0), "{v} -> {back}");
        }
        // No transform: the plain z-score, and no flags stored (older model files read the same).
        let plain = Normaliser::fit_with(&h, 2, Transform::None);
        assert!(plain.log1p.is_empty());
        assert_eq!(plain, Normaliser::fit(&h, 2));
        assert_eq!(plain.apply(0, 0.0), (0.0 - plain.mean[0]) / plain.std[0]);
    }
}
