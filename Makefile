# Build, test and try the instance scheduler. `make demo` and `make test` are all a
# newcomer needs: both install what they use into .venv (moto, cfn-lint).
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
MOTO := $(VENV)/bin/moto_server

.PHONY: build test lint demo simulate bench bench-aws venv package deploy destroy aws-ready bench-coldstart clean

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
	$(VENV)/bin/cfn-lint infra/template.yaml

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

bench-aws:
	bench/aws_requests.sh

## Binary size, cold start and memory of the package (after make package).
bench-coldstart: venv
	bench/coldstart.sh

## The deployment zip: target/lambda/instance-scheduler/bootstrap.zip. ARCH=arm64
## builds for Graviton where that Rust target is installed (rustup target add
## aarch64-unknown-linux-gnu; cargo-lambda cross-compiles with zig).
ARCH ?= x86_64
STACK ?= instance-scheduler
package: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release \
	  $(if $(filter arm64,$(ARCH)),--arm64,--x86-64) --output-format zip --bin instance-scheduler
	@ls -l target/lambda/instance-scheduler/bootstrap.zip

## sam deploy of infra/template.yaml (guided the first time). Needs AWS credentials
## and the SAM CLI; fails early and clearly without them.
deploy: aws-ready package
	if [ -f samconfig.toml ]; then \
	  sam deploy --template-file infra/template.yaml --stack-name $(STACK) --capabilities CAPABILITY_IAM --parameter-overrides Architecture=$(ARCH); \
	else \
	  sam deploy --guided --template-file infra/template.yaml --stack-name $(STACK) --capabilities CAPABILITY_IAM --parameter-overrides Architecture=$(ARCH); \
	fi

## Checked before anything is built: the tools and credentials deploy needs.
aws-ready:
	@command -v aws >/dev/null || { echo "deploy needs the AWS CLI (pip install awscli)"; exit 1; }
	@command -v sam >/dev/null || { echo "deploy needs the AWS SAM CLI (pip install aws-sam-cli)"; exit 1; }
	@aws sts get-caller-identity >/dev/null 2>&1 || { echo "deploy needs AWS credentials: none are configured (aws configure, or AWS_PROFILE)"; exit 1; }

## Deletes the stack; the schedule tables are retained (DeletionPolicy: Retain).
destroy: aws-ready
	sam delete --stack-name $(STACK)

clean:
	$(CARGO) clean
	rm -rf $(VENV)
