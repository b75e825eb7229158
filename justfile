# Development tasks. `just` lists them.

default:
    @just --list

# Fast loop: unit and integration tests
test:
    cargo test

# Everything CI runs
ci:
    bash .ci/run

# Check the ShopCo project
check:
    cargo run -- check --project shopco_models

# Benchmark `check` on generated projects of 1,000 and 10,000 models
bench:
    cargo bench --bench check
