//! Naive forecasts the model must beat on held-out data to be published.

use serde::{Deserialize, Serialize};

/// A naive forecast of `series[at]` from `series[..at]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "span")]
pub enum Baseline {
    /// `series[at - 1]`.
    LastValue,
    /// Mean of `series[at - k..at]`.
    MovingAverage(usize),
    /// `series[at - s]`: the same point one season ago (7 for a weekly season of daily epochs).
    SeasonalNaive(usize),
}

impl Baseline {
    pub fn name(&self) -> String {
        match self {
            Baseline::LastValue => "last_value".into(),
            Baseline::MovingAverage(k) => format!("moving_average_{k}"),
            Baseline::SeasonalNaive(s) => format!("seasonal_naive_{s}"),
        }
    }

    /// `None` when `at` has too little history before it.
    pub fn predict(&self, series: &[f64], at: usize) -> Option<f64> {
        match *self {
            Baseline::LastValue => at.checked_sub(1).and_then(|i| series.get(i).copied()),
            Baseline::MovingAverage(k) => {
                if k == 0 || at < k || at > series.len() {
                    return None;
                }
                Some(series[at - k..at].iter().sum::<f64>() / k as f64)
            }
            Baseline::SeasonalNaive(s) => {
                if s == 0 {
                    return None;
                }
                at.checked_sub(s).and_then(|i| series.get(i).copied())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_by_hand() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        assert_eq!(Baseline::LastValue.predict(&s, 8), Some(8.0));
        assert_eq!(Baseline::LastValue.predict(&s, 0), None);
        assert_eq!(Baseline::MovingAverage(3).predict(&s, 8), Some(7.0));
        assert_eq!(Baseline::MovingAverage(3).predict(&s, 2), None);
        assert_eq!(Baseline::SeasonalNaive(7).predict(&s, 8), Some(2.0));
        assert_eq!(Baseline::SeasonalNaive(7).predict(&s, 6), None);
    }
}
