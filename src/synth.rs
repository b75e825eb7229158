//! Synthetic projects for tests and benchmarks.
