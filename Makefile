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

.PHONY: build test lint demo simulate bench bench-aws bench-targets bench-scale venv package deploy deploy-env destroy aws-ready bench-coldstart clean

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
LAMBDA_ZIP := target/lambda/instance-scheduler/bootstrap.zip
package: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release \
	  $(if $(filter arm64,$(ARCH)),--arm64,--x86-64) --output-format zip --bin instance-scheduler
	@ls -l $(LAMBDA_ZIP)

# A package newer than every source is deployed as it is; an older one (or none) is
# built first. SKIP_BUILD=1 deploys the package that is there without looking.
$(LAMBDA_ZIP): Cargo.toml Cargo.lock core/Cargo.toml $(shell find src core/src -name '*.rs' 2>/dev/null)
	$(MAKE) package

## make deploy: infra/template.yaml with the settings of deploy.env (cp
## deploy.env.example deploy.env; fill STACK_NAME and REGION), never a prompt. The same
## command creates the stack, updates it, and creates it again after make destroy,
## adopting the retained schedule tables. GUIDED=1 asks SAM's questions instead.
## STACK=, REGION= and PARAMS="Name=value …" override deploy.env for one deploy.
## `sam` and `aws` are the ones on PATH (the venv's sam when there is none).
DEPLOY_ENV ?= deploy.env
SAM_CLI = $(or $(shell command -v sam 2>/dev/null),$(CURDIR)/$(VENV)/bin/sam)
AWS_CLI ?= aws
STACK_SCRIPT = DEPLOY_ENV="$(DEPLOY_ENV)" SAM_CLI="$(SAM_CLI)" AWS_CLI="$(AWS_CLI)" \
  STACK="$(STACK)" REGION="$(REGION)" PARAMS="$(PARAMS)" GUIDED="$(GUIDED)" \
  RESTORE="$(RESTORE)" infra/stack.sh
deploy: aws-ready deploy-env $(if $(SKIP_BUILD),,$(LAMBDA_ZIP))
	@$(STACK_SCRIPT) deploy

# deploy.env is read (and refused with a message naming what is missing) before
# anything is built.
deploy-env:
	@$(STACK_SCRIPT) check

## Checked before anything is built: the tools and credentials deploy needs.
aws-ready:
	@command -v $(AWS_CLI) >/dev/null || { echo "deploy needs the AWS CLI (pip install awscli)"; exit 1; }
	@test -x "$(SAM_CLI)" || $(MAKE) venv
	@$(AWS_CLI) sts get-caller-identity >/dev/null 2>&1 || { echo "deploy needs AWS credentials: none are configured (aws configure, or AWS_PROFILE)"; exit 1; }

## make destroy: lists what the scheduler holds stopped or at zero (schedctl held),
## and stops there unless RESTORE=1 (start it first, through the function) or
## RESTORE=0 (delete anyway); then deletes the stack. The three schedule tables are
## retained (DeletionPolicy: Retain): make deploy adopts them again.
destroy: aws-ready
	$(CARGO) build --bin schedctl
	@$(STACK_SCRIPT) destroy

clean:
	$(CARGO) clean
	rm -rf $(VENV)
