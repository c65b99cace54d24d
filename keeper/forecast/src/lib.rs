//! Prediction layer (SPEC section 8), off consensus: forecasts are computed in floating point and
//! only the published value crosses into the protocol, rounded once to `U64F64` bits.
//!
//! | module | what |
//! |---|---|
//! | [`nn`] | hand-written LSTM(64, sequences) -> LSTM(32) -> Dense(1): forward, BPTT, Adam |
//! | [`rng`] | the seeded generator behind initialisation and shuffling |
//! | [`history`] | the epoch history file (CSV or JSON) and a synthetic generator |
//! | [`prep`] | windows, chronological split, z-score normalisation |
//! | [`baseline`] | last value, moving average, seasonal naive |
//! | [`forecaster`] | training, held-out evaluation, model-or-baseline choice, fixed-point output |
//! | [`store`] | the versioned, checksummed model file |
//! | [`balance`] | load balancing: batch (LPT + local search), online, bounds, baselines |

pub mod balance;
pub mod baseline;
pub mod forecaster;
pub mod history;
pub mod nn;
pub mod prep;
pub mod rng;
pub mod store;

mod error;

pub use error::ForecastError;
pub use forecaster::{Evaluation, ForecastConfig, Forecaster, Prediction, Source};
pub use history::History;
