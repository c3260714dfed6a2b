# Build, test and try the instance scheduler. `make demo` and `make test` are all a
# newcomer needs.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: build test lint demo simulate bench clean

build:
	$(CARGO) build --all-targets

## Everything CI checks: formatting, lints, unit, property and integration tests.
test: lint
	$(CARGO) test --all-targets
	./target/debug/schedctl validate schedules

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

## A week of the shipped schedules against the example fleet, as a readable timeline.
demo simulate:
	$(CARGO) build --bin schedctl
	./target/debug/schedctl validate schedules
	./target/debug/schedctl simulate --schedules schedules --fleet examples/fleet.json \
	  --from 2026-12-21T00:00:00+09:00 --to 2026-12-28T00:00:00+09:00 --tick 5m

## Benchmarks; their figures go in the README.
bench:
	bench/simulate.sh

clean:
	$(CARGO) clean
