//! Flex epoch engine: pure, deterministic functions from activity to scores and rewards.
//!
//! No I/O happens here; callers feed parsed inputs and persist the results.
