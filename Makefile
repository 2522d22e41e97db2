# ecs-task-history: every step a developer or CI runs. Tools install into project-local venvs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
MOTO := $(VENV)/moto/.installed
TOOLS := $(VENV)/tools/.installed
SAM_VENV := $(VENV)/sam/.installed
export PATH := $(CURDIR)/$(VENV)/tools/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help venv demo test test-unit test-integration chromium soak fuzz lint fmt build build-x86 bench deploy clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(MOTO):
	$(PYTHON) -m venv $(VENV)/moto
	$(VENV)/moto/bin/pip install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6'
	touch $@

# dynoxide (crate dynoxide-rs): the DynamoDB of the tests, the demo and the bench, because it bills
# capacity like DynamoDB (moto reports a constant). Built from crates.io with the crate's own
# Cargo.lock (--locked), ~3 min on 2 cores, in a target dir of its own (sharing target/ would make it
# and the project's builds wait on each other's lock). Its `--version` prints "1.5.0" for 3.2.0, so
# the stamp file tracks the version: changing DYNOXIDE_VERSION reinstalls.
DYNOXIDE_VERSION := 3.2.0
DYNOXIDE := $(VENV)/dynoxide/bin/dynoxide
DYNOXIDE_STAMP := $(VENV)/dynoxide/.version-$(DYNOXIDE_VERSION)

$(DYNOXIDE_STAMP):
	mkdir -p $(@D)
	rm -f $(VENV)/dynoxide/.version-*
	touch $@

$(DYNOXIDE): $(DYNOXIDE_STAMP)
	rm -rf $(VENV)/dynoxide/build
	CARGO_TARGET_DIR=$(CURDIR)/$(VENV)/dynoxide/build cargo install dynoxide-rs \
		--version =$(DYNOXIDE_VERSION) --locked --force --quiet \
		--no-default-features --features native-sqlite,http-server,cli \
		--root $(CURDIR)/$(VENV)/dynoxide
	rm -rf $(VENV)/dynoxide/build
	touch $@

$(TOOLS):
	$(PYTHON) -m venv $(VENV)/tools
	$(VENV)/tools/bin/pip install --quiet --disable-pip-version-check 'cargo-lambda>=1.8,<2'
	touch $@

# aws-sam-cli pins boto3/botocore versions that moto disagrees with: it gets a venv of its own.
$(SAM_VENV):
	$(PYTHON) -m venv $(VENV)/sam
	$(VENV)/sam/bin/pip install --quiet --disable-pip-version-check 'aws-sam-cli>=1.140,<2' 'cfn-lint>=1.30,<2'
	touch $@

venv: $(MOTO) $(DYNOXIDE) $(TOOLS) $(SAM_VENV) ## Install the emulators, cargo-lambda, SAM CLI and cfn-lint into .venv/

demo: $(MOTO) $(DYNOXIDE) ## The real function and CLI on a story of ECS task events, against local emulators (examples/demo.rs)
	cargo build --workspace --bins
	cargo run --quiet --example demo

test: lint test-unit test-integration ## The whole test suite: lint, unit, emulator and end-to-end tests

test-unit: ## Unit tests: the core, adapters on in-memory fakes, the CLI's formatting (no emulator)
	cargo test --workspace --lib --bins

test-integration: $(MOTO) $(DYNOXIDE) chromium ## Emulator and end-to-end tests: dynoxide (DynamoDB) and moto (ECS, SQS, STS, SNS), started by the tests on 127.0.0.1
	cargo test --workspace --test '*'

# The HTML report's browser test (cli/tests/report.rs) drives headless Chromium; it fails, not skips,
# without one. CHROMIUM (also read by the test) names another browser binary. Debian's package, with
# apt-get as root, else through sudo (a developer machine); nothing is installed when it is there.
CHROMIUM ?= /usr/bin/chromium
chromium: ## Install Debian's chromium for the report's browser test, unless CHROMIUM names one
	@if [ -x "$(CHROMIUM)" ] || command -v "$(CHROMIUM)" >/dev/null 2>&1; then \
		echo "chromium: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

soak: $(MOTO) $(DYNOXIDE) ## The fault suite at full size: 5,720 events per fault kind (SOAK=1; ~7 min on 2 cores)
	SOAK=1 cargo test --test faults -- --nocapture --test-threads 2

FUZZ_CASES ?= 10000
FUZZ_SECONDS ?= 900
fuzz: ## Property tests of the parser and normalizer with FUZZ_CASES cases each, at most FUZZ_SECONDS
	PROPTEST_CASES=$(FUZZ_CASES) timeout $(FUZZ_SECONDS) cargo test --test fuzz -- --nocapture

lint: $(SAM_VENV) ## rustfmt, clippy (warnings are errors), cfn-lint and sam validate
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(VENV)/sam/bin/cfn-lint template.yaml member.yaml
	$(VENV)/sam/bin/sam validate --lint --template template.yaml

fmt: ## Format the code
	cargo fmt --all

build: $(TOOLS) ## Release build for Lambda (arm64), into target/lambda-arm64/bootstrap/
	cargo lambda build --release --arm64 --bin bootstrap --lambda-dir target/lambda-arm64
	@ls -l target/lambda-arm64/bootstrap/bootstrap

build-x86: $(TOOLS) ## Release build for x86-64 Lambda, into target/lambda-x86_64/bootstrap/
	cargo lambda build --release --x86-64 --bin bootstrap --lambda-dir target/lambda-x86_64
	@ls -l target/lambda-x86_64/bootstrap/bootstrap

# The release build comes after `cargo bench --bench core`: every `cargo bench` re-links the
# bootstrap it builds for benches (with dev-dependency features) over target/release/bootstrap, and
# the function benchmark measures target/release/bootstrap. Its own harness builds with the
# bench-harness profile (no fat LTO, output in target/bench-harness/), so it leaves that file alone.
bench: $(MOTO) $(DYNOXIDE) ## Benchmark (not a test): requests, units, CPU, RSS, cold start, $ per million events → target/bench/report.json
	rm -rf target/criterion/core
	cargo bench --bench core -- --warm-up-time 1 --measurement-time 3
	cargo build --release --bin bootstrap
	cargo bench --profile bench-harness --bench function -- $(BENCH_ARGS)

deploy: $(TOOLS) $(SAM_VENV) ## sam build + sam deploy --guided (needs AWS credentials)
	$(VENV)/sam/bin/sam build --beta-features
	$(VENV)/sam/bin/sam deploy --guided

clean: ## Remove build output and venvs
	cargo clean
	rm -rf $(VENV) .aws-sam
