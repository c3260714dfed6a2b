#!/usr/bin/env bash
# Benchmark: AWS requests per run (counted by moto's recorder) and wall time per run,
# for 40 schedules x 4 groups on the local emulator; see examples/bench_aws.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
make --quiet venv
cargo run --quiet --example bench_aws
