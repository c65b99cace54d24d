//! The keeper API (in progress).
