//! Genesis and epochs (SPEC section 1): epoch `e` is `[genesis + e*86400, genesis + (e+1)*86400)`.

use crate::EngineError;

/// Seconds in an epoch (one UTC day).
pub const EPOCH_SECONDS: i64 = 86_400;

/// The genesis instant: 00:00:00 UTC of a day, as unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Genesis(i64);

impl Genesis {
    /// Checks that `unix_seconds` is 00:00:00 UTC of some day.
    pub fn new(unix_seconds: i64) -> Result<Self, EngineError> {
        let past_midnight = unix_seconds.rem_euclid(EPOCH_SECONDS);
        if past_midnight != 0 {
            return Err(EngineError::GenesisNotMidnight(unix_seconds, past_midnight));
        }
        Ok(Genesis(unix_seconds))
    }

    /// Unix seconds of genesis.
    pub fn unix_seconds(self) -> i64 {
        self.0
    }

    /// The epoch containing `ts` (unix seconds), or `None` when `ts` is before genesis.
    pub fn epoch_of(self, ts: i64) -> Option<u64> {
        let d = i128::from(ts) - i128::from(self.0);
        if d < 0 {
            return None;
        }
        // d < 2^64, so the quotient fits u64.
        u64::try_from(d / i128::from(EPOCH_SECONDS)).ok()
    }

    /// A wallet's connection epoch: the epoch containing `connected_at`, or 0 when it connected
    /// before genesis (decision recorded in docs/PROTOCOL.md).
    pub fn connection_epoch(self, connected_at: i64) -> u64 {
        self.epoch_of(connected_at).unwrap_or(0)
    }

    /// Unix seconds at which epoch `e` starts (saturating far beyond any real date).
    pub fn epoch_start(self, e: u64) -> i128 {
        i128::from(self.0) + i128::from(e) * i128::from(EPOCH_SECONDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_must_be_midnight() {
        assert!(Genesis::new(1_767_225_600).is_ok()); // 2026-01-01T00:00:00Z
        assert!(Genesis::new(0).is_ok());
        assert!(Genesis::new(-86_400).is_ok());
        let e = Genesis::new(1_767_225_601).unwrap_err();
        assert_eq!(e, EngineError::GenesisNotMidnight(1_767_225_601, 1));
        assert!(e.to_string().contains("00:00:00 UTC"));
        assert!(Genesis::new(-1).is_err());
    }

    #[test]
    fn half_open_epochs() {
        let g = Genesis::new(86_400 * 10).unwrap();
        assert_eq!(g.epoch_of(86_400 * 10 - 1), None);
        assert_eq!(g.epoch_of(86_400 * 10), Some(0));
        assert_eq!(g.epoch_of(86_400 * 11 - 1), Some(0));
        assert_eq!(g.epoch_of(86_400 * 11), Some(1));
        assert_eq!(g.epoch_of(i64::MAX), Some((i64::MAX as u64 - 864_000) / 86_400));
        assert_eq!(g.connection_epoch(i64::MIN), 0);
        assert_eq!(g.connection_epoch(86_400 * 12 + 5), 2);
        assert_eq!(g.epoch_start(2), 86_400 * 12);
    }
}
