# Build, test and try the instance scheduler. `make demo` and `make test` are all a
# newcomer needs: both install what they use into .venv (moto, cfn-lint).
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
MOTO := $(VENV)/bin/moto_server

.PHONY: build test lint demo simulate bench bench-aws venv clean

build:
	$(CARGO) build --all-targets

## The local AWS emulator and the template linter, in a project virtualenv.
venv: $(MOTO)
$(MOTO): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(MOTO)

## Everything CI checks: formatting, lints, unit, property and integration tests
## (the integration tests start their own emulator on 127.0.0.1).
test: lint venv
	$(CARGO) test --all-targets
	./target/debug/schedctl validate schedules

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

## The real Lambda binary through a working day on the local emulator.
demo: venv
	$(CARGO) build --bin instance-scheduler --example demo
	./target/debug/examples/demo

## A week of the shipped schedules against examples/fleet.json, simulated.
simulate:
	$(CARGO) build --bin schedctl
	./target/debug/schedctl validate schedules
	./target/debug/schedctl simulate --schedules schedules --fleet examples/fleet.json \
	  --from 2026-12-21T00:00:00+09:00 --to 2026-12-28T00:00:00+09:00 --tick 5m

## Benchmarks; their figures go in the README.
bench: bench-aws
	bench/simulate.sh

bench-aws: venv
	$(CARGO) run --quiet --example bench_aws

clean:
	$(CARGO) clean
	rm -rf $(VENV)
