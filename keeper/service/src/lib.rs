//! The keeper service (in progress).
