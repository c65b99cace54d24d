//! The next-epoch forecast published with each epoch commitment (SPEC section 8,
//! `docs/PROTOCOL.md` "Forecast").
//!
//! At the close of epoch `e` the keeper builds the epoch history: epochs `e - n + 1 ..= e` (at
//! most [`MAX_HISTORY`]), each row `pool`, `active`, `total_weight` (U64F64 bits / 2^64) and
//! `reward_per_active = distributed / active` (0 when nobody was active), all as `f64` converted
//! from the integers (round to nearest: the same on every machine). Every epoch before `e` is
//! finalised on chain, and its row is the chain's figures ([`EpochFigures::from_chain`]): the
//! keeper's own record where the chain finalised that very commitment, the chain's `EpochInfo`
//! otherwise, so one epoch this keeper got wrong cannot change its later commitments.
//!
//! - Fewer than [`MIN_HISTORY`] rows: no forecast, the commitment carries 0.
//! - Otherwise the naive baselines (last value, moving average over 7, seasonal naive with a
//!   weekly season) are scored on the held-out rows (the chronological split of `flex-forecast`,
//!   window [`WINDOW`], 80% train) and the best one's forecast of the task reward (reward per
//!   active wallet) for epoch `e + 1` goes into the commitment as U64F64 bits. This is plain
//!   `f64` arithmetic in a fixed order (no transcendental function, no thread, no SIMD
//!   reassociation), so every keeper with the same store gets the same bits.
//! - With at least [`MODEL_MIN_HISTORY`] rows the LSTM is trained too (fixed seed
//!   [`MODEL_SEED`], [`MODEL_EPOCHS`] epochs, one network per target, see [`config`]) and its forecast and held-out error are reported
//!   in the API next to the baselines', with whether it beats the best one. It is never committed:
//!   its training goes through `exp` (the platform's libm for `f64`, a polynomial for `f32`) and
//!   thousands of dependent float steps, and nothing guarantees that two machines (other CPU,
//!   libm or compiler) round every step alike; one differing bit would split the keepers' votes.

use flex_forecast::baseline::Baseline;
use flex_forecast::forecaster::{baseline_scores, best_baseline, to_fixed_bits, BaselineScore};
use flex_forecast::history::EPOCH_COLUMNS;
use flex_forecast::prep::{Split, Transform};
use flex_forecast::{ForecastConfig, Forecaster, History};
use flex_store::{EpochRecord, Store};
use serde::{Deserialize, Serialize};

use crate::ServiceError;

/// Rows needed before any forecast is published (four weeks of daily epochs: 14 windowed
/// samples, 3 of them held out).
pub const MIN_HISTORY: usize = 28;
/// Rows needed before the LSTM is trained and reported (eight weeks: 42 samples, 9 held out).
pub const MODEL_MIN_HISTORY: usize = 56;
/// Most recent rows used (a year of daily epochs).
pub const MAX_HISTORY: usize = 365;
/// Past epochs per sample.
pub const WINDOW: usize = 14;
pub const MODEL_SEED: u64 = 1;
pub const MODEL_EPOCHS: usize = 30;
/// The committed target.
pub const TARGET: &str = "reward_per_active";
/// Targets reported in the API.
pub const TARGETS: [&str; 2] = ["reward_per_active", "active"];

/// The forecast settings the keeper uses for `target` (model and baselines): log1p before the
/// z-score for the task reward (its scale drifts by orders of magnitude as the pool halves and
/// wallets join; chosen on a validation slice of the training rows, `keeper/forecast/bench`),
/// plain z-score for the active count.
pub fn config(target: &str) -> ForecastConfig {
    ForecastConfig {
        window: WINDOW,
        epochs: MODEL_EPOCHS,
        seed: MODEL_SEED,
        transform: if target == TARGET {
            Transform::Log1p
        } else {
            Transform::None
        },
        ..ForecastConfig::default()
    }
}

/// A baseline's held-out error and its forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineReport {
    pub name: String,
    pub mse: Option<f64>,
    pub forecast: Option<f64>,
}

/// The LSTM's forecast and held-out error (this keeper's floats; not committed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    pub forecast: f64,
    pub mse: f64,
    pub beats_best_baseline: bool,
    pub train_samples: usize,
    pub test_samples: usize,
    pub seconds: f64,
}

/// One target's forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    pub target: String,
    pub baselines: Vec<BaselineReport>,
    /// The best baseline by held-out error, and its forecast.
    pub best_baseline: Option<String>,
    pub best_baseline_forecast: Option<f64>,
    /// `None` below [`MODEL_MIN_HISTORY`] rows or when training failed (`model_note` says why).
    pub model: Option<ModelReport>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model_note: String,
}

/// What the keeper stores with the epoch (and the API shows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochForecast {
    /// The forecast epoch (`e + 1`).
    pub epoch: u64,
    /// History rows used: epochs `first_epoch..=epoch - 1`.
    pub history_epochs: usize,
    pub first_epoch: u64,
    pub min_history: usize,
    /// The committed target.
    pub target: String,
    /// What the commitment carries: a baseline's name, or `none` (too little history).
    pub published: String,
    pub published_value: f64,
    /// `published_value` as U64F64 raw bits (the commitment's `forecast`).
    pub fixed_bits: u128,
    /// Held-out error of what is published.
    pub published_mse: Option<f64>,
    pub targets: Vec<TargetReport>,
}

fn to_f64(v: u128) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let f = v as f64;
    f
}

/// What the forecast reads of an epoch: exactly what the chain's `EpochInfo` carries, so a
/// finalised epoch's row never depends on this keeper's own computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochFigures {
    pub epoch: u64,
    pub pool: u128,
    pub active: u64,
    /// Raw `U64F64` bits.
    pub total_weight: u128,
    pub distributed: u128,
}

impl EpochFigures {
    /// The figures the chain finalised (`epoch` getter).
    pub fn from_chain(info: &flex_pool::EpochInfo) -> Self {
        Self {
            epoch: info.commitment.epoch,
            pool: info.commitment.pool,
            active: info.commitment.active_count,
            total_weight: info.commitment.total_weight_bits,
            // The contract's `distributed` is `P_e` when the multiplier sum is positive, else 0:
            // the engine's split pays exactly that (`flex_engine::epoch::split`).
            distributed: info.distributed,
        }
    }
}

impl From<&EpochRecord> for EpochFigures {
    fn from(r: &EpochRecord) -> Self {
        Self {
            epoch: r.epoch,
            pool: r.pool,
            active: r.active,
            total_weight: r.total_weight,
            distributed: r.distributed,
        }
    }
}

/// One history row: `[pool, active, total_weight, reward_per_active]`.
pub fn history_row(r: &EpochFigures) -> [f64; 4] {
    let active = to_f64(u128::from(r.active));
    let reward = if r.active == 0 {
        0.0
    } else {
        to_f64(r.distributed) / active
    };
    [
        to_f64(r.pool),
        active,
        to_f64(r.total_weight) / 18_446_744_073_709_551_616.0,
        reward,
    ]
}

/// The history ending with `current` (epoch `e`, not yet stored) from the store alone: the
/// stored epochs before it, newest first back to the first gap, at most [`MAX_HISTORY`] rows in
/// all, oldest first. The runner uses the chain's figures instead where its record is not the
/// chain's ([`EpochFigures::from_chain`]).
pub fn epoch_history(store: &dyn Store, current: &EpochRecord) -> Result<History, ServiceError> {
    let mut records = vec![EpochFigures::from(current)];
    let mut e = current.epoch;
    while records.len() < MAX_HISTORY && e > 0 {
        e -= 1;
        match store.epoch(e)? {
            Some(r) => records.push((&r).into()),
            None => break,
        }
    }
    records.reverse();
    Ok(history_of(&records))
}

/// The history of consecutive epochs' figures (oldest first).
pub fn history_of(records: &[EpochFigures]) -> History {
    let mut h = History {
        index_name: "epoch".into(),
        index: Vec::with_capacity(records.len()),
        columns: EPOCH_COLUMNS.iter().map(|s| (*s).to_owned()).collect(),
        data: vec![Vec::with_capacity(records.len()); EPOCH_COLUMNS.len()],
    };
    for r in records {
        h.index.push(i64::try_from(r.epoch).unwrap_or(i64::MAX));
        for (col, v) in h.data.iter_mut().zip(history_row(r)) {
            col.push(v);
        }
    }
    h
}

/// The deterministic part: each baseline's held-out error and forecast for `series`, and the
/// best one. `None` when the series is shorter than [`MIN_HISTORY`].
pub fn baseline_choice(
    series: &[f64],
    config: &ForecastConfig,
) -> Option<(Vec<BaselineScore>, Option<Baseline>)> {
    if series.len() < MIN_HISTORY {
        return None;
    }
    let split = Split::new(series.len(), config.window, config.train_fraction).ok()?;
    let scores = baseline_scores(series, &split, &config.baselines());
    let best = best_baseline(&scores).map(|b| b.baseline);
    Some((scores, best))
}

/// The forecast for epoch `h`'s last index + 1. `train_model` enables the LSTM (reported only).
pub fn forecast(h: &History, train_model: bool) -> EpochForecast {
    let rows = h.rows();
    let last = h.index.last().copied().unwrap_or(0);
    let mut out = EpochForecast {
        epoch: u64::try_from(last).unwrap_or(0) + 1,
        history_epochs: rows,
        first_epoch: h.index.first().and_then(|&i| u64::try_from(i).ok()).unwrap_or(0),
        min_history: MIN_HISTORY,
        target: TARGET.into(),
        published: "none".into(),
        published_value: 0.0,
        fixed_bits: 0,
        published_mse: None,
        targets: Vec::new(),
    };
    for target in TARGETS {
        let config = config(target);
        let Ok(col) = h.column(target) else { continue };
        let series = &h.data[col];
        let Some((scores, best)) = baseline_choice(series, &config) else {
            continue;
        };
        let baselines: Vec<BaselineReport> = scores
            .iter()
            .map(|s| BaselineReport {
                name: s.name.clone(),
                mse: s.mse,
                forecast: s.baseline.predict(series, rows),
            })
            .collect();
        let best_mse = best
            .and_then(|b| scores.iter().find(|s| s.baseline == b))
            .and_then(|s| s.mse);
        let best_forecast = best.and_then(|b| b.predict(series, rows));
        let mut report = TargetReport {
            target: target.to_owned(),
            baselines,
            best_baseline: best.map(|b| b.name()),
            best_baseline_forecast: best_forecast,
            model: None,
            model_note: String::new(),
        };
        let model = (train_model && rows >= MODEL_MIN_HISTORY).then(|| {
            Forecaster::train(h, &[target.to_owned()], &config).and_then(|f| Ok((f.predict(h)?, f)))
        });
        match &model {
            None => {
                report.model_note =
                    format!("the model is trained from {MODEL_MIN_HISTORY} epochs of history");
            }
            Some(Err(e)) => report.model_note = format!("training failed: {e}"),
            Some(Ok((preds, f))) => {
                if let (Some(p), Some(m)) = (preds.first(), f.models.first()) {
                    report.model = Some(ModelReport {
                        forecast: p.model,
                        mse: p.model_mse,
                        beats_best_baseline: best_mse.is_none_or(|b| p.model_mse < b),
                        train_samples: m.train.samples,
                        test_samples: m.evaluation.test_samples,
                        seconds: m.train.seconds,
                    });
                }
            }
        }
        if target == TARGET {
            if let (Some(b), Some(v)) = (best, best_forecast) {
                out.published = b.name();
                out.published_value = v;
                out.fixed_bits = to_fixed_bits(v);
                out.published_mse = best_mse;
            }
        }
        out.targets.push(report);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flex_store::{Phase, SqliteStore};

    fn record(epoch: u64, active: u64, distributed: u128) -> EpochRecord {
        EpochRecord {
            epoch,
            month_index: 0,
            phase: Phase::Finalized,
            commitment: Vec::new(),
            commitment_hash: [0; 32],
            scores_root: [0; 32],
            active,
            ranked: active,
            multiplier_sum: 0,
            total_weight: 5 << 63,
            pool: distributed + 1,
            distributed,
            wallet_index: 0,
            halving: 0,
            snapshot: 0,
            forecast: 0,
            forecast_detail: String::new(),
            wallets: active,
            voted: true,
            note: String::new(),
            updated_at: 0,
        }
    }

    const WEEK: [u128; 7] = [700, 800, 900, 1000, 600, 500, 400];

    fn weekly(epoch: u64) -> EpochRecord {
        #[allow(clippy::cast_possible_truncation)]
        let d = WEEK[(epoch % 7) as usize];
        record(epoch, 10, d * 10)
    }

    #[test]
    fn history_rows_from_the_store() {
        let r = record(3, 4, 1000);
        assert_eq!(history_row(&(&r).into()), [1001.0, 4.0, 2.5, 250.0]);
        // Nobody active: reward per active wallet 0, not a division by zero.
        assert_eq!(history_row(&(&record(3, 0, 0)).into())[3], 0.0);

        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
        // Epochs 0..=4 stored except 1: the history of epoch 5 stops at the gap.
        for e in [0, 2, 3, 4] {
            store.save_epoch(&weekly(e), &[]).unwrap();
        }
        let h = epoch_history(&store, &weekly(5)).unwrap();
        assert_eq!(h.index, vec![2, 3, 4, 5]);
        assert_eq!(h.columns, EPOCH_COLUMNS.to_vec());
        assert_eq!(h.data[3], vec![900.0, 1000.0, 600.0, 500.0]);
        assert_eq!(h.data[1], vec![10.0; 4]);
        // At most MAX_HISTORY rows, the newest.
        for e in 0..400 {
            store.save_epoch(&weekly(e), &[]).unwrap();
        }
        let h = epoch_history(&store, &weekly(400)).unwrap();
        assert_eq!(h.rows(), MAX_HISTORY);
        assert_eq!(h.index.first(), Some(&(401 - MAX_HISTORY as i64)));
        assert_eq!(h.index.last(), Some(&400));
    }

    /// The chain's `EpochInfo` gives the same row as the record of the commitment it finalised,
    /// so a keeper's history is the chain's whatever its own records of other commitments say.
    #[test]
    fn chain_figures_are_the_records_figures() {
        use flex_pool::{EpochCommitment, EpochInfo};
        let r = weekly(4);
        let info = EpochInfo {
            commitment: EpochCommitment {
                epoch: r.epoch,
                scores_root: r.scores_root,
                active_count: r.active,
                total_weight_bits: r.total_weight,
                multiplier_sum: r.multiplier_sum,
                pool: r.pool,
                forecast: r.forecast,
            },
            commitment_hash: r.commitment_hash,
            month_index: r.month_index,
            wallet_index: r.wallet_index,
            halving: r.halving,
            snapshot: r.snapshot,
            distributed: r.distributed,
            finalized_at: 0,
        };
        assert_eq!(EpochFigures::from_chain(&info), EpochFigures::from(&r));
        // One bad local epoch (twice the activity) in a history of chain figures changes nothing.
        let chain: Vec<EpochFigures> = (0..MIN_HISTORY as u64 + 3).map(|e| (&weekly(e)).into()).collect();
        let mut local = chain.clone();
        let bad = chain.len() - 7;
        local[bad] = (&record(bad as u64, 10, 50_000)).into();
        assert_ne!(
            forecast(&history_of(&local), false).fixed_bits,
            forecast(&history_of(&chain), false).fixed_bits
        );
    }

    #[test]
    fn too_little_history_publishes_nothing() {
        let recs: Vec<EpochFigures> = (0..MIN_HISTORY as u64 - 1).map(|e| (&weekly(e)).into()).collect();
        let f = forecast(&history_of(&recs), true);
        assert_eq!(
            (f.published.as_str(), f.fixed_bits, f.epoch),
            ("none", 0, MIN_HISTORY as u64 - 1)
        );
        assert!(f.targets.is_empty());
    }

    #[test]
    fn the_best_baseline_is_published_deterministically() {
        // A pure weekly cycle: seasonal naive is exact on the held-out rows.
        let recs: Vec<EpochFigures> = (0..MIN_HISTORY as u64).map(|e| (&weekly(e)).into()).collect();
        let f = forecast(&history_of(&recs), true);
        assert_eq!(f.published, "seasonal_naive_7");
        assert_eq!(f.published_mse, Some(0.0));
        let next = WEEK[MIN_HISTORY % 7] as f64;
        assert_eq!(f.published_value, next);
        assert_eq!(f.fixed_bits, (WEEK[MIN_HISTORY % 7]) << 64);
        assert_eq!(f.epoch, MIN_HISTORY as u64);
        let t = &f.targets[0];
        assert_eq!(t.target, TARGET);
        assert_eq!(t.best_baseline.as_deref(), Some("seasonal_naive_7"));
        assert!(t
            .baselines
            .iter()
            .any(|b| b.name == "last_value" && b.mse.is_some_and(|m| m > 0.0)));
        // Below MODEL_MIN_HISTORY the model is not trained, and says so.
        assert!(
            t.model.is_none() && t.model_note.contains("56"),
            "{}",
            t.model_note
        );
        // Same records, same bits.
        assert_eq!(forecast(&history_of(&recs), true), f);

        // A series rising by 1 an epoch: last value wins.
        let recs: Vec<EpochFigures> = (0..40)
            .map(|e| (&record(e, 1, u128::from(e) * 3 + 100)).into())
            .collect();
        let f = forecast(&history_of(&recs), false);
        assert_eq!(f.published, "last_value");
        assert_eq!(f.published_value, 39.0 * 3.0 + 100.0);
    }

    /// The close path: the forecast from the stored history goes into the commitment's bytes and
    /// hash; two keepers whose stores hold the same epochs (saved in another order) commit the
    /// same bytes.
    #[test]
    fn the_commitment_carries_the_forecast_and_keepers_agree() {
        use codec::Decode;
        use flex_engine::{ConnectionBonus, Genesis};

        use crate::compute::{close_epoch, EpochInputs, PoolFigures};
        use flex_pool::EpochCommitment;

        let g = Genesis::new(1_769_644_800).unwrap();
        let figures = PoolFigures {
            wallet_index: 0,
            halving: 0,
            snapshot: 0,
            pool: 0,
        };
        let e = MIN_HISTORY as u64 + 3;
        let mut commitments = Vec::new();
        for order in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path().join("k.db")).unwrap();
            let mut epochs: Vec<u64> = (0..e).collect();
            if order {
                epochs.reverse();
            }
            for k in epochs {
                store.save_epoch(&weekly(k), &[]).unwrap();
            }
            let mut closed =
                close_epoch(e, g, &EpochInputs::default(), figures, ConnectionBonus::default()).unwrap();
            assert_eq!(closed.commitment.forecast, 0);
            let h = epoch_history(&store, &closed.record).unwrap();
            // Epoch e itself (nobody active: reward 0) ends the history.
            assert_eq!((h.rows(), h.data[3].last()), (e as usize + 1, Some(&0.0)));
            let f = forecast(&h, false);
            assert!(f.fixed_bits > 0, "{f:?}");
            closed.set_forecast(&f).unwrap();
            let decoded = EpochCommitment::decode(&mut &closed.record.commitment[..]).unwrap();
            assert_eq!(decoded, closed.commitment);
            assert_eq!(decoded.forecast, f.fixed_bits);
            assert_eq!(closed.record.forecast, f.fixed_bits);
            assert_eq!(closed.record.commitment_hash, decoded.hash());
            let back: EpochForecast = serde_json::from_str(&closed.record.forecast_detail).unwrap();
            assert_eq!(back, f);
            commitments.push(closed.record.commitment);
        }
        assert_eq!(commitments[0], commitments[1]);
    }

    #[test]
    fn the_model_is_reported_beside_the_baselines() {
        let recs: Vec<EpochFigures> = (0..MODEL_MIN_HISTORY as u64)
            .map(|e| (&weekly(e)).into())
            .collect();
        let f = forecast(&history_of(&recs), true);
        // What is committed does not depend on the model.
        let g = forecast(&history_of(&recs), false);
        assert_eq!((f.fixed_bits, &f.published), (g.fixed_bits, &g.published));
        assert_eq!(f.targets.len(), 2);
        for t in &f.targets {
            let m = t.model.as_ref().expect("model trained");
            assert!(m.mse.is_finite() && m.test_samples > 0);
            // Seasonal naive is exact: the model cannot beat an error of 0.
            assert!(!m.beats_best_baseline);
        }
        assert!(g.targets.iter().all(|t| t.model.is_none()));
    }
}
