//! Shared helpers for the benchmarks (raw baselines).
