# Build, test and try the instance scheduler. `make demo` and `make test` are all a
# newcomer needs: both install what they use into .venv (moto, cfn-lint, the SAM CLI).
SHELL := /bin/bash
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
MOTO := $(VENV)/bin/moto_server
SAM := $(VENV)/bin/sam
# The SAM CLI sends no usage data from here.
export SAM_CLI_TELEMETRY := 0

.PHONY: build test lint demo simulate bench bench-aws bench-targets bench-scale venv package deploy destroy aws-ready bench-coldstart clean

build:
	$(CARGO) build --workspace --all-targets

## The local AWS emulator, the template linters and the SAM CLI, in a project
## virtualenv (requirements-dev.txt pins them).
venv: $(MOTO)
$(MOTO): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(MOTO)

## Everything CI checks: formatting, lints, unit, property and integration tests
## (the integration tests start their own emulator on 127.0.0.1; tests/template.rs
## reads the templates' IAM policies through tests/iam/policy.py), then both templates
## through cfn-lint and `sam validate --lint`, offline (a Region is all they need).
test: lint venv
	$(CARGO) test --workspace --all-targets
	./target/debug/schedctl validate schedules
	$(VENV)/bin/cfn-lint infra/template.yaml infra/spoke.yaml
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint --template infra/template.yaml
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint --template infra/spoke.yaml

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## The real Lambda binary through a working day on the local emulator, then a chain
## of more kinds, a chain across accounts and Regions, and schedctl simulate's pacing.
demo: venv
	$(CARGO) build --bin instance-scheduler --bin schedctl --example demo
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

## Requests and wall time per run at 1, 10 and 50 targets (accounts and Regions).
bench-targets: venv
	$(CARGO) run --quiet --example bench_targets

## The scale fleet on the emulator (1,000 schedules, each an RDS → EC2 chain of one
## database and three servers): all up within two runs of the default budget, with
## each run's wall time, AWS requests and listing pages. Minutes; `make test` runs
## the same with 200 schedules.
bench-scale: venv
	$(CARGO) test --test scale -- --ignored --nocapture

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

## sam deploy of infra/template.yaml. The first time (no samconfig.toml yet) it is
## guided: it asks for the stack's parameters and saves the answers to samconfig.toml
## in this folder. Later deploys read samconfig.toml and ask nothing; the stack keeps
## its parameter values except Architecture (from ARCH, to match the package) and
## whatever PARAMS sets, e.g. make deploy PARAMS="DryRun=false WarnMinutes=15".
## Needs AWS credentials; fails early and clearly without them.
SAMCONFIG := $(CURDIR)/samconfig.toml
PARAMS ?=
deploy: aws-ready package
	if [ -f "$(SAMCONFIG)" ]; then \
	  $(SAM) deploy --config-file "$(SAMCONFIG)" --template-file infra/template.yaml \
	    --stack-name $(STACK) --capabilities CAPABILITY_IAM --no-confirm-changeset \
	    --parameter-overrides Architecture=$(ARCH) $(PARAMS); \
	else \
	  $(SAM) deploy --guided --config-file "$(SAMCONFIG)" --template-file infra/template.yaml \
	    --stack-name $(STACK) --capabilities CAPABILITY_IAM \
	    --parameter-overrides Architecture=$(ARCH) $(PARAMS); \
	fi

## Checked before anything is built: the tools and credentials deploy needs.
aws-ready: venv
	@command -v aws >/dev/null || { echo "deploy needs the AWS CLI (pip install awscli)"; exit 1; }
	@test -x $(SAM) || { echo "deploy needs the AWS SAM CLI in $(VENV) (make venv)"; exit 1; }
	@aws sts get-caller-identity >/dev/null 2>&1 || { echo "deploy needs AWS credentials: none are configured (aws configure, or AWS_PROFILE)"; exit 1; }

## Deletes the stack: the functions, rules, wake-up schedules, roles, log groups,
## alarms, the alarm topic it created and the state table. The three schedule tables
## are retained (DeletionPolicy: Retain), with their deletion protection.
destroy: aws-ready
	$(SAM) delete --stack-name $(STACK) --no-prompts \
	  $(if $(wildcard $(SAMCONFIG)),--config-file "$(SAMCONFIG)")
	@echo "Deleted $(STACK). Kept: the schedule tables (DeletionPolicy: Retain; by default"
	@echo "$(STACK)-Schedule, $(STACK)-ScheduleServerGroup, $(STACK)-ScheduleException)."
	@echo "Delete them by hand if wanted, after turning their deletion protection off."

clean:
	$(CARGO) clean
	rm -rf $(VENV)
