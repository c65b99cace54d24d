//! [`Limits`]: what one client, or many, may take from the API: connections, time, bodies and
//! cache memory. Every figure has a default and a key of the `[api]` config section (README.md,
//! "API limits").

use std::time::Duration;

/// File descriptors kept for the keeper itself (store, chain and follower connections, logs)
/// when the connection cap is derived from `RLIMIT_NOFILE`.
pub const RESERVED_FDS: u64 = 256;
/// The default connection cap when the file-descriptor limit allows more.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The API's limits; [`Limits::default`] holds the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// From a connection's start (or the end of its previous answer) to the end of the request's
    /// headers (`api.header_read_timeout_ms`, default 10 s). Closed when over.
    pub header_read_timeout: Duration,
    /// A connection on which no byte moves either way for this long is closed once its
    /// request in flight (if any) is answered (`api.idle_timeout_ms`, default 60 s).
    pub idle_timeout: Duration,
    /// Reading a request's body and answering it (`api.request_timeout_ms`, default 30 s):
    /// answered 408 when over. The claim relay has its own bound (180 s, on chain).
    pub request_timeout: Duration,
    /// Open connections at once (`api.max_connections`); `None`: [`DEFAULT_MAX_CONNECTIONS`],
    /// or fewer when `RLIMIT_NOFILE` minus [`RESERVED_FDS`] is lower. One more is answered 503
    /// and closed.
    pub max_connections: Option<usize>,
    /// Requests handled at once (`api.max_in_flight`, default 256); one more is answered 503
    /// `busy` with `Retry-After: 1`.
    pub max_in_flight: usize,
    /// Claim trees kept in memory, bytes (`api.month_cache_bytes`, default 256 MiB): the least
    /// recently used months are dropped beyond it (the latest one loaded always stays).
    pub month_cache_bytes: usize,
    /// Claim statuses read from the chain kept in memory (`api.claimed_cache_entries`, default
    /// 100,000).
    pub claimed_cache_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
            max_connections: None,
            max_in_flight: 256,
            month_cache_bytes: 256 << 20,
            claimed_cache_entries: 100_000,
        }
    }
}

/// A limit that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error(
        "api.max_connections = {asked} leaves too few file descriptors: the keeper's limit (RLIMIT_NOFILE) is {nofile} \
         and {RESERVED_FDS} are kept for its store and chain connections; use at most {max} or raise the limit (ulimit -n)"
    )]
    TooManyConnections { asked: usize, nofile: u64, max: u64 },
    #[error("api.{key} must be at least 1")]
    Zero { key: &'static str },
}

/// The soft `RLIMIT_NOFILE` of this process; `None` when it cannot be read or is unlimited.
pub fn fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given and reads nothing else.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if rc != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    // rlim_t is u64 on Linux, not everywhere.
    #[allow(clippy::unnecessary_cast)]
    Some(lim.rlim_cur as u64)
}

impl Limits {
    /// The connection cap for a file-descriptor limit of `nofile` (`None`: unknown): the
    /// configured one, checked against it, or the default.
    pub fn connection_cap(&self, nofile: Option<u64>) -> Result<usize, LimitError> {
        let usable = nofile.map(|n| n.saturating_sub(RESERVED_FDS));
        match (self.max_connections, usable) {
            (Some(0), _) => Err(LimitError::Zero {
                key: "max_connections",
            }),
            (Some(asked), Some(max)) if asked as u64 > max => Err(LimitError::TooManyConnections {
                asked,
                nofile: nofile.unwrap_or(0),
                max,
            }),
            (Some(asked), _) => Ok(asked),
            (None, Some(max)) => Ok(DEFAULT_MAX_CONNECTIONS.min(max.max(1) as usize)),
            (None, None) => Ok(DEFAULT_MAX_CONNECTIONS),
        }
    }

    /// Checks the limits that must not be zero.
    pub fn check(&self) -> Result<(), LimitError> {
        for (key, v) in [
            ("max_in_flight", self.max_in_flight),
            ("month_cache_bytes", self.month_cache_bytes),
            ("claimed_cache_entries", self.claimed_cache_entries),
        ] {
            if v == 0 {
                return Err(LimitError::Zero { key });
            }
        }
        for (key, d) in [
            ("header_read_timeout_ms", self.header_read_timeout),
            ("idle_timeout_ms", self.idle_timeout),
            ("request_timeout_ms", self.request_timeout),
        ] {
            if d.is_zero() {
                return Err(LimitError::Zero { key });
            }
        }
        self.connection_cap(fd_limit()).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_stays_below_the_file_descriptor_limit() {
        let l = Limits::default();
        assert_eq!(l.connection_cap(Some(1024)).unwrap(), 1024 - 256);
        assert_eq!(l.connection_cap(Some(1 << 20)).unwrap(), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(l.connection_cap(None).unwrap(), DEFAULT_MAX_CONNECTIONS);
        let asked = Limits {
            max_connections: Some(900),
            ..Limits::default()
        };
        let e = asked.connection_cap(Some(1024)).unwrap_err().to_string();
        assert!(
            e.contains("api.max_connections = 900") && e.contains("at most 768"),
            "{e}"
        );
        assert_eq!(asked.connection_cap(Some(4096)).unwrap(), 900);
        assert!(fd_limit().is_some_and(|n| n > 0));
    }
}
