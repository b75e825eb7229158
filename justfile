# Development tasks. `just` lists them. Everything uses the release profile
# and the shared target directory, so DuckDB is compiled once.

export CARGO_TARGET_DIR := env_var_or_default("CARGO_TARGET_DIR", env_var("HOME") + "/.cache/shopc-target")

default:
    @just --list

# Fast loop: unit and integration tests
test:
    cargo test --release

# Everything CI runs
ci:
    bash .ci/run

# Build ShopCo on embedded DuckDB
build:
    cargo run --release -- build --project shopco_models

# Benchmark `check` on generated projects of 1,000 and 10,000 models
bench:
    cargo bench --bench check
