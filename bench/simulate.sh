#!/usr/bin/env bash
# Benchmark: simulate 1,000 schedules x 4 groups x 5 instances for 7 days at a
# 1-minute tick with the release build, and print the CPU time it took (the figure
# issue 18's targets are in) and the wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${SCHEDULES:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/gen_sim_fleet.py "$work" "$n"
cargo build --release --quiet --bin schedctl
# bash's own `time` reports the child's user and system CPU without GNU time.
TIMEFORMAT='%U %S %R'
if ! took=$({ time ./target/release/schedctl simulate --schedules "$work/schedules" \
  --fleet "$work/fleet.json" --from 2026-12-21T00:00:00Z --to 2026-12-28T00:00:00Z \
  --tick 1m --format jsonl > "$work/out.jsonl" 2> "$work/err.log"; } 2>&1); then
  cat "$work/err.log" >&2
  exit 1
fi
read -r user sys wall <<< "$took"
echo "schedules: $n, instances: $((n * 20)), ticks: $((7 * 24 * 60 + 1))"
echo "events: $(wc -l < "$work/out.jsonl")"
echo "cpu time: $user s user, $sys s system"
echo "wall time: $wall s"
